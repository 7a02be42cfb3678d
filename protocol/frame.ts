/**
 * Frame layout shared by every connection after the handshake (PROTOCOL.md, "Frames").
 *
 *   0      4      5      6        8          12
 *   +------+------+------+--------+----------+----------------------+
 *   | frameBytes  | kind |opcode| flags  | requestId | body (frameBytes - 8) |
 *   +------+------+------+--------+----------+----------------------+
 *
 * frameBytes counts every byte after itself, so a frame occupies 4 + frameBytes bytes.
 * Integers are big-endian. Flags are reserved and must be zero.
 */
import { FRAME_HEADER_BYTES, FRAME_HEADER_TAIL_BYTES } from './limits.js';
import { WireWriter } from './wire-writer.js';

export const FrameKind = {
  REQUEST: 1,
  RESPONSE: 2,
  ERROR: 3,
  PACKET: 4,
  ACK: 5,
  /** Unsolicited, answerer to requester, requestId 0, never answered (PROTOCOL.md section 4). */
  NOTICE: 6,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export const FRAME_KINDS: ReadonlySet<number> = new Set(Object.values(FrameKind));

/** Narrows a header's kind byte to the union, so the decoder needs no cast. */
export function isFrameKind(kind: number): kind is FrameKind {
  return FRAME_KINDS.has(kind);
}

export interface Frame {
  kind: FrameKind;
  opcode: number;
  flags: number;
  requestId: number;
  /** A view; it may pin the socket chunk it came from, so copy what must outlive the frame. */
  body: Buffer;
  /**
   * Set instead of `body` (then empty) when the decoder scatters this frame's kind and the
   * body arrived across socket reads: views of those reads, in order (byte-pieces.ts).
   */
  parts?: Buffer[];
  /**
   * Set on a PACKET read into recycled memory (src/common/read-slabs.ts): the frame's views
   * stay valid until this is called, once, when its bytes are written, forwarded or
   * consumed; after that the memory is reused. Not set: the views are ordinary buffers.
   */
  release?: () => void;
}

/** The body as pieces: `parts` when the decoder scattered it, else the one `body` view. */
export function bodyPieces(frame: Frame): readonly Buffer[] {
  return frame.parts ?? [frame.body];
}

/** Header bytes for a frame whose body is written separately (payloads: no concat). */
export function encodeFrameHeader(
  kind: FrameKind,
  opcode: number,
  requestId: number,
  bodyBytes: number,
): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  writeFrameHeader(header, 0, kind, opcode, requestId, bodyBytes);
  return header;
}

export function writeFrameHeader(
  target: Buffer,
  at: number,
  kind: FrameKind,
  opcode: number,
  requestId: number,
  bodyBytes: number,
): void {
  target.writeUInt32BE(FRAME_HEADER_TAIL_BYTES + bodyBytes, at);
  target.writeUInt8(kind, at + 4);
  target.writeUInt8(opcode, at + 5);
  target.writeUInt16BE(0, at + 6);
  target.writeUInt32BE(requestId >>> 0, at + 8);
}

/** A writer with room for the header reserved at the front; see `sealFrame`. */
export function frameWriter(initialBytes = 128): WireWriter {
  return new WireWriter(initialBytes, FRAME_HEADER_BYTES);
}

/** Fills the reserved header of a `frameWriter` and returns the whole frame (a view). */
export function sealFrame(writer: WireWriter, kind: FrameKind, opcode: number, requestId: number): Buffer {
  const frame = writer.finish();
  writeFrameHeader(frame, 0, kind, opcode, requestId, frame.length - FRAME_HEADER_BYTES);
  return frame;
}
