/**
 * Frames with distinct, checkable bodies for the slab-read tests (tests/common/read-slabs.test.ts,
 * tests/common/slab-reads-loopback.test.ts): frame `i`'s body is a function of `i` alone, so a
 * holder can check at release time that the bytes it was handed are still the bytes sent, and
 * memory reused too early shows as a mismatch.
 */
import { bodyPieces, DataOp, encodeFrameHeader, FrameKind, type Frame } from '../../protocol/index.js';
import { testBytes } from './data-path.js';

const POOL_BYTES = 512 * 1024;
const POOL = testBytes(POOL_BYTES + 256 * 1024, 0x51ab);

/** The body of frame `i`: its index, then pool bytes starting at an offset chosen by `i`. */
export function frameBody(i: number, bytes: number): Buffer {
  const body = Buffer.allocUnsafe(bytes);
  const from = (i * 40_961) % POOL_BYTES;
  POOL.copy(body, 0, from, from + bytes);
  if (bytes >= 4) body.writeUInt32BE(i >>> 0, 0);
  return body;
}

/** Header and body of frame `i` as they go on the wire (opcodes a data connection accepts). */
export function wireFrame(kind: FrameKind, i: number, bytes: number): Buffer[] {
  const opcode = kind === FrameKind.PACKET || kind === FrameKind.ACK ? 0 : DataOp.WRITE_BLOCK;
  return [encodeFrameHeader(kind, opcode, i, bytes), frameBody(i, bytes)];
}

/** True when the frame's body (whole or in pieces) is still frame `requestId`'s bytes. */
export function bodyIntact(frame: Frame, bytes = frameBytesOf(frame)): boolean {
  const expected = frameBody(frame.requestId, bytes);
  let at = 0;
  for (const piece of bodyPieces(frame)) {
    if (!piece.equals(expected.subarray(at, at + piece.length))) return false;
    at += piece.length;
  }
  return at === bytes;
}

export function frameBytesOf(frame: Frame): number {
  let n = 0;
  for (const piece of bodyPieces(frame)) n += piece.length;
  return n;
}

/** A seeded generator of integers in [lo, hi] (xorshift32), so a failure replays. */
export function seededInts(seed: number): (lo: number, hi: number) => number {
  let x = seed >>> 0 || 1;
  return (lo, hi) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return lo + (x % (hi - lo + 1));
  };
}

export { FrameKind };
