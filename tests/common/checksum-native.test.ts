/**
 * xxh32 and xxh64 come from the native @node-rs/xxhash where it loads, from xxhash-wasm
 * elsewhere, and xxh3 from the native xxhash-addon or hash-wasm (src/common/checksum.ts):
 * replicas, edit logs and images written by one must verify with the other, so the two must
 * give the same value for every length and alignment, and the native ones must be the ones
 * in use on this platform (CI's), or the data path silently runs at the wasm's cost. The wasm functions hash large inputs in pieces: its
 * memory grows to the largest input hashed and never shrinks.
 */
import crypto from 'node:crypto';
import xxhash from 'xxhash-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { ChecksumType } from '../../protocol/index.js';
import { AssertionFailure } from '../../protocol/errors.js';
import {
  chunkChecksum,
  chunkMatches,
  writeChunkChecksum,
  createXxh32,
  hashSource,
  initChecksum,
  wasmHashes,
  wasmXxh3,
  xxh3,
  xxh32,
  xxh64,
} from '../../src/common/checksum.js';

describe('xxh32 and xxh64: native and wasm', () => {
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
        expect(xxh32(view), `xxh32 of ${n} bytes at ${at}`).toBe(wasm.h32Raw(view, 0) >>> 0);
        const stored = Buffer.alloc(8);
        stored.writeBigUInt64BE(want);
        expect(chunkChecksum(ChecksumType.XXH64, view)).toEqual(stored);
      }
    }
  });

  it('xxh3: native and wasm give the same value for every length and offset, as stored checksums', async () => {
    const wasm = await wasmXxh3();
    const bytes = crypto.randomBytes(70_000);
    // Lengths across XXH3's code paths: 0, 1-3, 4-8, 9-16, 17-128, 129-240, then stripes and blocks.
    const lengths = [0, 1, 3, 4, 8, 9, 16, 17, 128, 129, 240, 241, 1024, 1025, 4096, 65_535, 65_536, 69_990];
    for (const n of lengths) {
      for (const at of [0, 1, 5]) {
        const view = bytes.subarray(at, at + n);
        const want = Buffer.from(wasm(view));
        expect(want.length).toBe(8);
        expect(Buffer.from(xxh3(view)), `${n} bytes at ${at}`).toEqual(want);
        expect(chunkChecksum(ChecksumType.XXH3, view)).toEqual(want);
      }
    }
  });

  it('xxh3 gives the values of the reference tool (xxhsum -H3, xxHash 0.8.1) on every code path, native and wasm', async () => {
    // Input n: bytes (i * 7 + 1) & 0xff for i < n; lengths across XXH3's paths: 0, 1-3,
    // 4-8, 9-16, 17-128, 129-240, then stripes and blocks.
    const known: Array<[number, string]> = [
      [0, '2d06800538d394c2'],
      [1, 'e12ef9d2eb86ceeb'],
      [3, '5c83885a0fb5d516'],
      [4, '244f36de481e7522'],
      [8, '96cc97a6768fd7a9'],
      [9, '4781d83b8e99d495'],
      [16, '913bd4a8038027a7'],
      [17, '2bf6f66973a6179d'],
      [128, 'c4399c7829d0628f'],
      [129, '8433489056750b32'],
      [240, '3c0bb96864e543a1'],
      [241, 'bff7215089202d8f'],
      [1024, 'ac8e32e4ea3ba062'],
      [65_536, 'cafa8d1474483c22'],
    ];
    const wasm = await wasmXxh3();
    for (const [n, hex] of known) {
      const input = Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + 1) & 0xff));
      expect(Buffer.from(xxh3(input)).toString('hex'), `native, ${n} bytes`).toBe(hex);
      expect(Buffer.from(wasm(input)).toString('hex'), `wasm, ${n} bytes`).toBe(hex);
    }
  });

  it('xxh3 of anything but bytes is an assertion, not a crash of the process (the addon checks no types)', () => {
    for (const bad of [undefined, 'abc', 42, { length: 8 }])
      expect(() => xxh3(bad as unknown as Uint8Array)).toThrow(AssertionFailure);
  });

  it('a checksum type outside ChecksumType is an assertion, not a 4-byte xxh32', () => {
    const out = Buffer.alloc(8);
    const four = 4 as ChecksumType;
    expect(() => writeChunkChecksum(four, Buffer.alloc(3), out, 0)).toThrow(AssertionFailure);
    expect(() => chunkMatches(four, Buffer.alloc(3), out, 0)).toThrow(AssertionFailure);
  });

  it('is native on this platform', () => {
    expect(hashSource()).toEqual({ xxh3: 'native', xxh64: 'native' });
  });

  it('wasm: a large input is hashed in pieces, to the same value, without growing its memory to the input', async () => {
    const wasm = wasmHashes(await xxhash());
    const big = crypto.randomBytes(48 * 1024 * 1024 + 3);
    const before = process.memoryUsage().external;
    const [v32, v64] = [wasm.h32(big) >>> 0, wasm.h64(big)];
    const grown = process.memoryUsage().external - before;
    expect(v32).toBe(xxh32(big));
    expect(v64).toBe(xxh64(big));
    expect(grown, 'external memory grown by hashing 48 MiB').toBeLessThan(8 * 1024 * 1024);
  });

  it('streaming xxh32 (a checkpoint image as it is written) equals xxh32 of the whole, native and wasm', async () => {
    const wasm = wasmHashes(await xxhash());
    const bytes = crypto.randomBytes(3 * 1024 * 1024 + 17);
    const cuts = [0, 1, 4, 100_000, 1024 * 1024 + 3, 3 * 1024 * 1024, bytes.length];
    for (const stream of [createXxh32(), wasm.stream32()]) {
      for (let i = 1; i < cuts.length; i++) stream.update(bytes.subarray(cuts[i - 1], cuts[i]));
      expect(stream.digest() >>> 0).toBe(xxh32(bytes));
    }
  });
});
