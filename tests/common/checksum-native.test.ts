/**
 * xxh64 comes from the native @node-rs/xxhash where it loads, from xxhash-wasm elsewhere
 * (src/common/checksum.ts): replicas written by one must verify with the other, so the two
 * must give the same value for every length and alignment, and the native one must be the
 * one in use on this platform (CI's), or the data path silently runs at the wasm's cost.
 */
import crypto from 'node:crypto';
import xxhash from 'xxhash-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { ChecksumType } from '../../protocol/index.js';
import { chunkChecksum, initChecksum, xxh64, xxh64Source } from '../../src/common/checksum.js';

describe('xxh64: native and wasm', () => {
  beforeAll(() => initChecksum());

  it('give the same value for every length and offset, as stored checksums', async () => {
    const wasm = await xxhash();
    const bytes = crypto.randomBytes(70_000);
    const lengths = [0, 1, 3, 4, 7, 8, 31, 32, 33, 63, 64, 65, 255, 4096, 65_535, 65_536, 69_990];
    for (const n of lengths) {
      for (const at of [0, 1, 5]) {
        const view = bytes.subarray(at, at + n);
        const want = wasm.h64Raw(view, 0n);
        expect(xxh64(view), `${n} bytes at ${at}`).toBe(want);
        const stored = Buffer.alloc(8);
        stored.writeBigUInt64BE(want);
        expect(chunkChecksum(ChecksumType.XXH64, view)).toEqual(stored);
      }
    }
  });

  it('is native on this platform', () => {
    expect(xxh64Source()).toBe('native');
  });
});
