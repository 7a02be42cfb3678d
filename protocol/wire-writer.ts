/**
 * Body encoder: appends fixed-width big-endian integers, u64s carried as JS numbers
 * (refused above 2^53-1 so nothing is silently rounded), bools and u16-length-prefixed
 * UTF-8 strings to a growable buffer. Mirrors wire-reader.ts field for field.
 */
import { DfsError } from './errors.js';

const U32 = 0x1_0000_0000;

export class WireWriter {
  private buf: Buffer;
  private pos: number;

  /** `reserve` leaves room at the front (e.g. for the frame header) that the caller fills. */
  constructor(initialBytes = 256, reserve = 0) {
    this.buf = Buffer.allocUnsafe(Math.max(initialBytes, reserve + 16));
    this.pos = reserve;
  }

  get length(): number {
    return this.pos;
  }

  private ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + bytes) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(value: number): this {
    this.ensure(1);
    this.buf.writeUInt8(value, this.pos);
    this.pos += 1;
    return this;
  }

  u16(value: number): this {
    this.ensure(2);
    this.buf.writeUInt16BE(value, this.pos);
    this.pos += 2;
    return this;
  }

  u32(value: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(value, this.pos);
    this.pos += 4;
    return this;
  }

  u64(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new DfsError('INVALID_ARGUMENT', `u64 field out of range: ${value}`);
    }
    this.ensure(8);
    this.buf.writeUInt32BE(Math.floor(value / U32), this.pos);
    this.buf.writeUInt32BE(value % U32, this.pos + 4);
    this.pos += 8;
    return this;
  }

  bool(value: boolean): this {
    return this.u8(value ? 1 : 0);
  }

  str(value: string): this {
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes > 0xffff) throw new DfsError('INVALID_ARGUMENT', `string of ${bytes} bytes exceeds 65535`);
    this.ensure(2 + bytes);
    this.buf.writeUInt16BE(bytes, this.pos);
    this.buf.write(value, this.pos + 2, bytes, 'utf8');
    this.pos += 2 + bytes;
    return this;
  }

  bytes(value: Uint8Array): this {
    this.ensure(4 + value.length);
    this.buf.writeUInt32BE(value.length, this.pos);
    this.buf.set(value, this.pos + 4);
    this.pos += 4 + value.length;
    return this;
  }

  /** Raw bytes with no length prefix (the caller's layout knows the size). */
  raw(value: Uint8Array): this {
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
    return this;
  }

  /** Overwrite a u32 at an absolute position already written (length fields). */
  patchU32(at: number, value: number): void {
    this.buf.writeUInt32BE(value, at);
  }

  /** A view of the bytes written so far; valid until the next write. */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** Empties the writer to be filled again, in the same buffer: what `finish` returned is overwritten. */
  reset(): void {
    this.pos = 0;
  }
}
