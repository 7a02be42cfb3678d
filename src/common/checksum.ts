/**
 * Chunk checksums: xxh3 (XXH3's 64-bit hash), xxh64 and xxh32, seed 0, stored big-endian,
 * one per chunk (native where the addons load, WebAssembly elsewhere; see nativeHashes).
 * New blocks are written with xxh3 by default: every chunk of every transfer is hashed by the
 * writer, the last DataNode of the pipeline and the reader, and on two busy cores that CPU
 * is throughput. Measured here on 64 KiB chunks already in cache: xxh3 0.035 CPU-s per GiB,
 * xxh64 0.085, xxh32 0.15. Replicas written with xxh64 or xxh32 stay readable, since every
 * replica records its algorithm (its meta file, src/datanode/replica-meta.ts) and every
 * message that carries checksums names it (protocol/PROTOCOL.md section 10). xxh32 also
 * checksums the NameNode's edit log and image.
 *
 * The modules load asynchronously once per process: daemons and the client
 * `await initChecksum()` at start-up, after which hashing is a plain synchronous call on
 * the hot path.
 */
import xxhash from 'xxhash-wasm';
import { checksumBytes, checksumCount, ChecksumType } from '../../protocol/data-messages.js';
import { assert, AssertionFailure } from '../../protocol/errors.js';

type Hash32 = (input: Uint8Array) => number;
type Hash64 = (input: Uint8Array) => bigint;
/** XXH3_64bits of the input as its 8 canonical (big-endian) bytes, as stored. */
type Hash3 = (input: Uint8Array) => Uint8Array;
/** xxh32 over bytes given piece by piece (a checkpoint image as it is written). */
export interface Xxh32Stream {
  update(input: Uint8Array): unknown;
  digest(): number;
}

interface Hashes {
  h32: Hash32;
  h64: Hash64;
  stream32: () => Xxh32Stream;
}

let h32: Hash32 | null = null;
let h64: Hash64 | null = null;
let h3: Hash3 | null = null;
let stream32: (() => Xxh32Stream) | null = null;
let loading: Promise<void> | null = null;

/**
 * xxh32 and xxh64 from @node-rs/xxhash (a native module, prebuilt for the common platforms)
 * when it loads: it hashes the bytes where they are, where the wasm functions first copy
 * them into their own memory, and xxh64 measured 0.11-0.13 CPU-s per GiB in 64 KiB chunks
 * against 0.22-0.25 for xxhash-wasm's (the same values: XXH32 and XXH64, seed 0). Every
 * chunk of every transfer is hashed once or twice (the writer, the last DataNode, the
 * reader), so on a CPU-bound machine this is throughput.
 */
async function nativeHashes(): Promise<Hashes | null> {
  try {
    const native = await import('@node-rs/xxhash');
    return {
      h32: (b) => native.xxh32(b, 0),
      h64: (b) => native.xxh64(b, 0n),
      stream32: () => new native.Xxh32(0),
    };
  } catch {
    return null;
  }
}

/**
 * xxh3 from xxhash-addon (the xxHash C library behind N-API, prebuilt for the common
 * platforms, which picks its SSE2, AVX2 or AVX-512 code at run time): 0.035 CPU-s per GiB in
 * 64 KiB chunks here, against 0.085 for @node-rs/xxhash's xxh64 (whose own xxh3 measured
 * 0.47: a scalar build). Its hash() checks no argument types (the addon is built without
 * them): anything but a byte view would crash the process without a word, so a wrong
 * argument (our bug) is an assertion here instead.
 */
async function nativeXxh3(): Promise<Hash3 | null> {
  try {
    const addon = (await import('xxhash-addon')).default;
    return (b) => {
      assert(b instanceof Uint8Array, 'xxh3 of something that is not a Uint8Array');
      return addon.XXHash3.hash(b as Buffer);
    };
  } catch {
    return null;
  }
}

/**
 * xxh3 from hash-wasm where the addon does not load (0.19 CPU-s per GiB: it copies its input
 * into wasm memory). Exported for tests: it must agree with the native one.
 */
export async function wasmXxh3(): Promise<Hash3> {
  const hasher = await (await import('hash-wasm')).createXXHash3();
  return (b) => {
    hasher.init();
    hasher.update(b);
    return hasher.digest('binary');
  };
}

/**
 * The wasm module copies its input into its own memory, which grows to the largest input
 * and never shrinks: one whole-image hash at a NameNode start (780 MB at ten million files)
 * kept that much for the process's life. Inputs past this many bytes go through its
 * streaming API in pieces of this size.
 */
const WASM_PIECE_BYTES = 1024 * 1024;

/** The wasm functions (exported for tests: they must agree with the native ones). */
export function wasmHashes(api: Awaited<ReturnType<typeof xxhash>>): Hashes {
  return {
    h32: (b) => (b.length <= WASM_PIECE_BYTES ? api.h32Raw(b, 0) : hashInPieces(api.create32(0), b)),
    h64: (b) => (b.length <= WASM_PIECE_BYTES ? api.h64Raw(b, 0n) : hashInPieces(api.create64(0n), b)),
    stream32: () => {
      const hasher = api.create32(0);
      return { update: (b) => feedInPieces(hasher, b), digest: () => hasher.digest() };
    },
  };
}

/** Feeds `bytes` to a wasm hasher a piece at a time. */
function feedInPieces(hasher: { update(b: Uint8Array): unknown }, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; at += WASM_PIECE_BYTES)
    hasher.update(bytes.subarray(at, Math.min(bytes.length, at + WASM_PIECE_BYTES)));
}

function hashInPieces<T>(hasher: { update(b: Uint8Array): unknown; digest(): T }, bytes: Uint8Array): T {
  feedInPieces(hasher, bytes);
  return hasher.digest();
}

/** Where each family of hash functions comes from: xxh3, and xxh64 with xxh32. */
export interface HashSources {
  xxh3: 'native' | 'wasm';
  xxh64: 'native' | 'wasm';
}

let source: HashSources | null = null;

/** Loads the hash functions: the native ones, or the wasm ones (compiled only then) where those do not load. */
export function initChecksum(): Promise<void> {
  loading ??= (async () => {
    const [native, native3] = await Promise.all([nativeHashes(), nativeXxh3()]);
    const hashes = native ?? wasmHashes(await xxhash());
    h32 = hashes.h32;
    h64 = hashes.h64;
    stream32 = hashes.stream32;
    h3 = native3 ?? (await wasmXxh3());
    source = { xxh3: native3 === null ? 'wasm' : 'native', xxh64: native === null ? 'wasm' : 'native' };
  })();
  return loading;
}

/**
 * Where the hash functions come from in this process (null before initChecksum): xxh3 from
 * xxhash-addon or hash-wasm; xxh64 and xxh32 from @node-rs/xxhash or xxhash-wasm.
 */
export function hashSource(): HashSources | null {
  return source;
}

/** A hash function initChecksum loaded: using one before is our bug. */
function loaded<F>(f: F | null): F {
  assert(f !== null, 'checksum module used before initChecksum()');
  return f;
}

export function xxh32(bytes: Uint8Array): number {
  return loaded(h32)(bytes) >>> 0;
}

export function xxh64(bytes: Uint8Array): bigint {
  return loaded(h64)(bytes);
}

/** XXH3_64bits (seed 0) of `bytes` as its 8 canonical, big-endian bytes: the stored form. */
export function xxh3(bytes: Uint8Array): Uint8Array {
  return loaded(h3)(bytes);
}

/** A new streaming xxh32 (seed 0), equal to `xxh32` of the bytes it was given in order. */
export function createXxh32(): Xxh32Stream {
  return loaded(stream32)();
}

/** Writes the `type` checksum of `bytes` into `out` at `at` (checksumBytes(type) bytes). */
export function writeChunkChecksum(type: ChecksumType, bytes: Uint8Array, out: Buffer, at: number): void {
  switch (type) {
    case ChecksumType.XXH3:
      out.set(xxh3(bytes), at);
      return;
    case ChecksumType.XXH64:
      out.writeBigUInt64BE(xxh64(bytes), at);
      return;
    case ChecksumType.XXH32:
      out.writeUInt32BE(xxh32(bytes), at);
      return;
  }
  unknownType(type);
}

/** Whether the `type` checksum of `bytes` equals the one stored in `sums` at `at`. */
export function chunkMatches(type: ChecksumType, bytes: Uint8Array, sums: Buffer, at: number): boolean {
  switch (type) {
    case ChecksumType.XXH3: {
      const sum = xxh3(bytes);
      for (let i = 0; i < 8; i++) if (sum[i] !== sums[at + i]) return false;
      return true;
    }
    case ChecksumType.XXH64:
      return xxh64(bytes) === sums.readBigUInt64BE(at);
    case ChecksumType.XXH32:
      return xxh32(bytes) === sums.readUInt32BE(at);
  }
  return unknownType(type);
}

/** A type outside ChecksumType reached the hashing (a cast or a plain-JS caller): our bug. */
function unknownType(type: never): never {
  throw new AssertionFailure(`unknown checksum type ${String(type)}`);
}

/** The `type` checksum of `bytes` as stored (a new small buffer: for the cold paths). */
export function chunkChecksum(type: ChecksumType, bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(checksumBytes(type));
  writeChunkChecksum(type, bytes, out, 0);
  return out;
}

/** Index of the first chunk whose checksum differs from the sent one, or -1. */
export function firstBadChunk(
  payload: Buffer,
  checksums: Buffer,
  chunkBytes: number,
  type: ChecksumType,
): number {
  const n = checksumCount(payload.length, chunkBytes);
  const size = checksumBytes(type);
  for (let i = 0; i < n; i++) {
    const chunk = payload.subarray(i * chunkBytes, Math.min(payload.length, (i + 1) * chunkBytes));
    if (!chunkMatches(type, chunk, checksums, i * size)) return i;
  }
  return -1;
}

/**
 * `firstBadChunk` over a payload kept in the pieces it arrived in: a chunk inside one
 * piece is hashed in place; one straddling pieces is gathered into a scratch buffer
 * (reused, hashing only: the pieces themselves go to disk and downstream untouched) and
 * hashed whole, which measured faster than xxhash-wasm's streaming API.
 */
export function firstBadChunkInPieces(
  pieces: readonly Buffer[],
  checksums: Buffer,
  chunkBytes: number,
  type: ChecksumType,
): number {
  if (pieces.length === 1) return firstBadChunk(pieces[0]!, checksums, chunkBytes, type);
  const size = checksumBytes(type);
  let chunk = 0;
  let inChunk = 0;
  let gather: Buffer | null = null;
  const check = (bytes: Buffer): boolean => chunkMatches(type, bytes, checksums, chunk * size);
  for (const piece of pieces) {
    let at = 0;
    while (at < piece.length) {
      const take = Math.min(chunkBytes - inChunk, piece.length - at);
      if (inChunk === 0 && take === chunkBytes) {
        if (!check(piece.subarray(at, at + take))) return chunk;
        chunk++;
        at += take;
        continue;
      }
      gather ??= scratch(chunkBytes);
      piece.copy(gather, inChunk, at, at + take);
      at += take;
      inChunk += take;
      if (inChunk === chunkBytes) {
        if (!check(gather.subarray(0, chunkBytes))) return chunk;
        inChunk = 0;
        chunk++;
      }
    }
  }
  // The last, shorter chunk.
  if (inChunk > 0 && !check(gather!.subarray(0, inChunk))) return chunk;
  return -1;
}

let scratchBuffer: Buffer | null = null;

/** A process-wide buffer of at least `bytes` for gathering one chunk (calls are synchronous). */
function scratch(bytes: number): Buffer {
  if (scratchBuffer === null || scratchBuffer.length < bytes) scratchBuffer = Buffer.allocUnsafe(bytes);
  return scratchBuffer;
}

/** One big-endian checksum of `type` per chunk of `payload`, as packets and meta files carry them. */
export function computeChecksums(payload: Buffer, chunkBytes: number, type: ChecksumType): Buffer {
  const n = checksumCount(payload.length, chunkBytes);
  const size = checksumBytes(type);
  const out = Buffer.allocUnsafe(n * size);
  for (let i = 0; i < n; i++) {
    const chunk = payload.subarray(i * chunkBytes, Math.min(payload.length, (i + 1) * chunkBytes));
    writeChunkChecksum(type, chunk, out, i * size);
  }
  return out;
}
