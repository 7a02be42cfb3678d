/**
 * Waiting on a local cluster's processes (the demo, src/local/ha-cluster.ts): poll a probe
 * until it gives a value, bounded, failing with a typed TIMEOUT that names what it waited for.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DfsError } from '../../protocol/errors.js';

const POLL_MS = 50;

/** Polls `probe` every `pollMs` (50) until it returns a value, or fails with TIMEOUT naming `what`. */
export async function waitUntil<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  pollMs = POLL_MS,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (performance.now() > deadline)
      throw new DfsError('TIMEOUT', `gave up waiting for ${what} after ${timeoutMs} ms`);
    await sleep(pollMs);
  }
}
