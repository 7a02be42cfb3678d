/**
 * xxh32 checksums (xxhash-wasm). The wasm module loads asynchronously once per process:
 * daemons and the client `await initChecksum()` at start-up, after which `xxh32` is a plain
 * synchronous call on the hot path (about 2.4 GB/s on one core here).
 */
import xxhash from 'xxhash-wasm';
import { checksumCount, CHECKSUM_BYTES } from '../../protocol/data-messages.js';
import { DfsError } from '../../protocol/errors.js';

let h32Raw: ((input: Uint8Array, seed?: number) => number) | null = null;
let loading: Promise<void> | null = null;

export function initChecksum(): Promise<void> {
  loading ??= xxhash().then((api) => {
    h32Raw = api.h32Raw.bind(api);
  });
  return loading;
}

export function xxh32(bytes: Uint8Array): number {
  if (h32Raw === null) throw new DfsError('INTERNAL', 'checksum module used before initChecksum()');
  return h32Raw(bytes, 0) >>> 0;
}

/** Index of the first chunk whose xxh32 differs from the sent checksum, or -1. */
export function firstBadChunk(payload: Buffer, checksums: Buffer, chunkBytes: number): number {
  const n = checksumCount(payload.length, chunkBytes);
  for (let i = 0; i < n; i++) {
    const chunk = payload.subarray(i * chunkBytes, Math.min(payload.length, (i + 1) * chunkBytes));
    if (xxh32(chunk) !== checksums.readUInt32BE(i * CHECKSUM_BYTES)) return i;
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
): number {
  if (pieces.length === 1) return firstBadChunk(pieces[0]!, checksums, chunkBytes);
  let chunk = 0;
  let inChunk = 0;
  let gather: Buffer | null = null;
  const check = (bytes: Buffer): boolean => xxh32(bytes) === checksums.readUInt32BE(chunk * CHECKSUM_BYTES);
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

/** One big-endian xxh32 per chunk of `payload`, as packets and meta files carry them. */
export function computeChecksums(payload: Buffer, chunkBytes: number): Buffer {
  const n = checksumCount(payload.length, chunkBytes);
  const out = Buffer.allocUnsafe(n * CHECKSUM_BYTES);
  for (let i = 0; i < n; i++) {
    out.writeUInt32BE(
      xxh32(payload.subarray(i * chunkBytes, Math.min(payload.length, (i + 1) * chunkBytes))),
      i * CHECKSUM_BYTES,
    );
  }
  return out;
}
