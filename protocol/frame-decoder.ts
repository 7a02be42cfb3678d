/**
 * Incremental frame decoder: a pure state machine, bytes in, frames or one error out. It
 * never touches a socket, so it is unit- and fuzz-tested without a network (ws
 * `lib/receiver.js`, TigerBeetle `message_buffer.zig`).
 *
 * Invariants:
 * - Received chunks are kept in a list with a byte count; no Buffer.concat per chunk. A
 *   frame body lying inside one chunk is returned as a view; one spanning chunks is copied
 *   once into a buffer of exactly its size, except for the kinds in `scatterKinds`, whose
 *   spanning bodies are returned as the views they arrived in (`Frame.parts`): the data
 *   path never copies packet payloads.
 * - The declared length is checked against `bodyBytesMax` as soon as the 12 header bytes
 *   are here, before waiting for or allocating the body. A peer cannot make us buffer more
 *   than one maximum frame plus one socket chunk.
 * - The header is validated (kind, flags, opcode when a validator is given) before the body.
 * - After the first error the decoder stays failed: every later `push` rethrows it.
 */
import { DfsError } from './errors.js';
import { FRAME_HEADER_BYTES, FRAME_HEADER_TAIL_BYTES } from './limits.js';
import { FrameKind, isFrameKind, type Frame } from './frame.js';

export interface FrameDecoderOptions {
  /** Largest body accepted; larger declared lengths fail with FRAME_TOO_LARGE. */
  bodyBytesMax: number;
  /** Returns false for (kind, opcode) pairs this endpoint does not speak. */
  isKnownOpcode?: (kind: number, opcode: number) => boolean;
  /** Largest number of buffered chunks (many tiny writes); default 1024. */
  chunksMax?: number;
  /** Frame kinds whose bodies are never copied: returned in pieces when they span chunks. */
  scatterKinds?: ReadonlySet<number>;
}

const EMPTY = Buffer.alloc(0);

export class FrameDecoder {
  private readonly chunks: Buffer[] = [];
  private bufferedBytes = 0;
  private failure: DfsError | null = null;
  private readonly bodyBytesMax: number;
  private readonly isKnownOpcode: ((kind: number, opcode: number) => boolean) | undefined;
  private readonly chunksMax: number;
  private readonly scatterKinds: ReadonlySet<number> | undefined;
  private readonly header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  // Parsed header of the frame we are waiting for, or -1 when none is parsed yet.
  private pendingBodyBytes = -1;
  private pendingKind: FrameKind = FrameKind.REQUEST;
  private pendingOpcode = 0;
  private pendingFlags = 0;
  private pendingRequestId = 0;

  constructor(options: FrameDecoderOptions) {
    this.bodyBytesMax = options.bodyBytesMax;
    this.isKnownOpcode = options.isKnownOpcode;
    this.chunksMax = options.chunksMax ?? 1024;
    this.scatterKinds = options.scatterKinds;
  }

  get failed(): DfsError | null {
    return this.failure;
  }

  /** Bytes held and not yet returned as frames. */
  get buffered(): number {
    return this.bufferedBytes;
  }

  /**
   * Bytes of the incomplete frame held between pushes: its body bytes so far plus its
   * header once parsed; 0 between frames. After `push` returns every complete frame has
   * been handed out, so this is what a stalled peer costs (FrameServer bounds its sum over
   * every connection: src/common/partial-frame-budget.ts). O(1): read once per socket read.
   */
  get partialFrameBytes(): number {
    return this.bufferedBytes + (this.pendingBodyBytes >= 0 ? FRAME_HEADER_BYTES : 0);
  }

  /** Declared size (header and body) of the incomplete frame; 0 until its header is here. */
  get pendingFrameBytes(): number {
    return this.pendingBodyBytes >= 0 ? FRAME_HEADER_BYTES + this.pendingBodyBytes : 0;
  }

  /** True when no partial frame is held (used to tell a clean close from a torn one). */
  get idle(): boolean {
    return this.bufferedBytes === 0 && this.pendingBodyBytes < 0;
  }

  /**
   * Feeds bytes; calls `onFrame` for every complete frame, in order. Throws the decoder's
   * (sticky) DfsError on bad input; frames before the bad one are still delivered.
   */
  push(chunk: Buffer, onFrame: (frame: Frame) => void): void {
    if (this.failure) throw this.failure;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.bufferedBytes += chunk.length;
    }
    try {
      for (;;) {
        if (this.pendingBodyBytes < 0) {
          if (this.bufferedBytes < FRAME_HEADER_BYTES) break;
          this.parseHeader();
        }
        if (this.bufferedBytes < this.pendingBodyBytes) break;
        const n = this.pendingBodyBytes;
        const scatter =
          n > 0 && this.scatterKinds?.has(this.pendingKind) === true && n > this.chunks[0]!.length;
        const frame: Frame = {
          kind: this.pendingKind,
          opcode: this.pendingOpcode,
          flags: this.pendingFlags,
          requestId: this.pendingRequestId,
          body: scatter ? EMPTY : this.take(n),
        };
        if (scatter) frame.parts = this.takePieces(n);
        this.pendingBodyBytes = -1;
        onFrame(frame);
      }
      if (this.chunks.length > this.chunksMax) {
        throw new DfsError('PROTOCOL', `too many pending chunks (${this.chunks.length} > ${this.chunksMax})`);
      }
    } catch (err) {
      if (
        err instanceof DfsError &&
        (err.code === 'PROTOCOL' ||
          err.code === 'FRAME_TOO_LARGE' ||
          err.code === 'UNKNOWN_OPCODE' ||
          err.code === 'MALFORMED')
      ) {
        this.fail(err);
      }
      throw err;
    }
  }

  private fail(err: DfsError): void {
    this.failure = err;
    this.chunks.length = 0;
    this.bufferedBytes = 0;
    this.pendingBodyBytes = -1;
  }

  private parseHeader(): void {
    const h = this.copyOut(this.header, FRAME_HEADER_BYTES);
    const frameBytes = h.readUInt32BE(0);
    const kind = h.readUInt8(4);
    const opcode = h.readUInt8(5);
    const flags = h.readUInt16BE(6);
    const requestId = h.readUInt32BE(8);
    if (frameBytes < FRAME_HEADER_TAIL_BYTES) {
      throw new DfsError('MALFORMED', `frame length ${frameBytes} shorter than its header`);
    }
    const bodyBytes = frameBytes - FRAME_HEADER_TAIL_BYTES;
    if (bodyBytes > this.bodyBytesMax) {
      throw new DfsError(
        'FRAME_TOO_LARGE',
        `frame body of ${bodyBytes} bytes exceeds the limit of ${this.bodyBytesMax}`,
      );
    }
    if (!isFrameKind(kind)) throw new DfsError('MALFORMED', `unknown frame kind ${kind}`);
    if (flags !== 0) throw new DfsError('MALFORMED', `reserved flags set (0x${flags.toString(16)})`);
    if (this.isKnownOpcode && !this.isKnownOpcode(kind, opcode)) {
      throw new DfsError('UNKNOWN_OPCODE', `unknown opcode 0x${opcode.toString(16)} for frame kind ${kind}`);
    }
    this.pendingBodyBytes = bodyBytes;
    this.pendingKind = kind;
    this.pendingOpcode = opcode;
    this.pendingFlags = flags;
    this.pendingRequestId = requestId;
  }

  /** Copies `n` bytes from the front of the chunk list into `target` (header only). */
  private copyOut(target: Buffer, n: number): Buffer {
    let copied = 0;
    while (copied < n) {
      const head = this.chunks[0]!;
      const take = Math.min(head.length, n - copied);
      head.copy(target, copied, 0, take);
      copied += take;
      this.consumeFront(take);
    }
    return target;
  }

  /** Removes `n` bytes from the front: a view if they lie in one chunk, else one copy. */
  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const head = this.chunks[0]!;
    if (head.length >= n) {
      const view = head.subarray(0, n);
      this.consumeFront(n);
      return view;
    }
    const out = Buffer.allocUnsafe(n);
    let copied = 0;
    while (copied < n) {
      const chunk = this.chunks[0]!;
      const part = Math.min(chunk.length, n - copied);
      chunk.copy(out, copied, 0, part);
      copied += part;
      this.consumeFront(part);
    }
    return out;
  }

  /** Removes `n` bytes from the front as views of the chunks they lie in. */
  private takePieces(n: number): Buffer[] {
    const parts: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const chunk = this.chunks[0]!;
      const part = Math.min(chunk.length, left);
      parts.push(part === chunk.length ? chunk : chunk.subarray(0, part));
      left -= part;
      this.consumeFront(part);
    }
    return parts;
  }

  private consumeFront(n: number): void {
    const head = this.chunks[0]!;
    if (n === head.length) this.chunks.shift();
    else this.chunks[0] = head.subarray(n);
    this.bufferedBytes -= n;
  }
}
