/**
 * A frame body that arrived across socket reads, kept as the pieces it came in (views
 * into the received chunks) instead of being copied into one buffer: the data path writes
 * and forwards those pieces as they are (PROTOCOL.md section 4, after the frame kinds).
 * These helpers address such a body by offset: `viewOf` for a small region (a packet's
 * header and checksums; copied only if it straddles two pieces), `slicePieces` for a large
 * one (the payload; views only, never copied).
 */
import { DfsError } from './errors.js';

export type Pieces = readonly Buffer[];

export function piecesLength(pieces: Pieces): number {
  let n = 0;
  for (const p of pieces) n += p.length;
  return n;
}

/** Bytes [offset, offset + n) as one Buffer: a view when one piece holds them, else a copy. */
export function viewOf(pieces: Pieces, offset: number, n: number): Buffer {
  let at = offset;
  let i = 0;
  while (i < pieces.length && at >= pieces[i]!.length) at -= pieces[i++]!.length;
  const first = pieces[i];
  if (first === undefined) {
    if (n === 0) return Buffer.alloc(0);
    throw new DfsError('MALFORMED', `${n} bytes at offset ${offset} lie beyond the body`);
  }
  if (at + n <= first.length) return first.subarray(at, at + n);
  const out = Buffer.allocUnsafe(n);
  let copied = 0;
  for (; copied < n && i < pieces.length; i++, at = 0)
    copied += pieces[i]!.copy(out, copied, at, Math.min(pieces[i]!.length, at + n - copied));
  if (copied < n) throw new DfsError('MALFORMED', `${n} bytes at offset ${offset} lie beyond the body`);
  return out;
}

/** Bytes [offset, offset + n) as views of the pieces that hold them (empty pieces left out). */
export function slicePieces(pieces: Pieces, offset: number, n: number): Buffer[] {
  const out: Buffer[] = [];
  let at = offset;
  let left = n;
  for (const p of pieces) {
    if (left === 0) break;
    if (at >= p.length) {
      at -= p.length;
      continue;
    }
    const take = Math.min(p.length - at, left);
    out.push(p.subarray(at, at + take));
    left -= take;
    at = 0;
  }
  if (left > 0) throw new DfsError('MALFORMED', `${n} bytes at offset ${offset} lie beyond the body`);
  return out;
}
