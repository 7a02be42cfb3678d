/**
 * vitest's asymmetric matchers typed `unknown` instead of `any`.
 *
 * `expect.any(Number)` and `expect.stringContaining('x')` are declared to return `any`, so an
 * expected object that holds one (`{ seqno: expect.any(Number) }`) lets `any` into a typed
 * value, which typescript-eslint's no-unsafe-assignment rightly reports. These return the very
 * same matchers, so an assertion written with them checks exactly what it did before.
 */
import { expect } from 'vitest';

/** `expect.any(type)`: any value of that class (a primitive for Number, String, ...). */
export function matchAny(type: unknown): unknown {
  return expect.any(type);
}

/** `expect.stringContaining(text)`. */
export function matchStringContaining(text: string): unknown {
  return expect.stringContaining(text);
}
