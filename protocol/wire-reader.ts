/**
 * Bounds-checked body decoder, the mirror of wire-writer.ts. Every read checks the bytes
 * left first and fails with a MALFORMED `DfsError`, never a RangeError; list counts are
 * checked against the bytes left before anything is allocated; `end()` rejects trailing
 * bytes. Strings must be valid UTF-8 (else MALFORMED) and are decoded (copied) so they
 * never pin the socket chunk they came from. An enum-valued byte is read with `u8Of`, which
 * returns the enum's literal union or fails MALFORMED, so no decoder needs an `as` cast and
 * a value outside the union never reaches the code that switches on it.
 */
import { isUtf8 } from 'node:buffer';
import { DfsError } from './errors.js';

const U32 = 0x1_0000_0000;

export class WireReader {
  private pos = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly what = 'frame',
  ) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(bytes: number, field: string): void {
    if (this.buf.length - this.pos < bytes) {
      throw new DfsError(
        'MALFORMED',
        `${this.what}: truncated at ${field} (need ${bytes} bytes, have ${this.buf.length - this.pos})`,
      );
    }
  }

  u8(field = 'u8'): number {
    this.need(1, field);
    const v = this.buf.readUInt8(this.pos);
    this.pos += 1;
    return v;
  }

  /** A u8 that must be one of `values` (an enum's values, PROTOCOL.md section 1); else MALFORMED. */
  u8Of<V extends number>(values: readonly V[], field: string): V {
    const v = this.u8(field);
    if (!isOneOf(values, v)) throw new DfsError('MALFORMED', `${this.what}: unknown ${field} ${v}`);
    return v;
  }

  u16(field = 'u16'): number {
    this.need(2, field);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(field = 'u32'): number {
    this.need(4, field);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(field = 'u64'): number {
    this.need(8, field);
    const hi = this.buf.readUInt32BE(this.pos);
    const lo = this.buf.readUInt32BE(this.pos + 4);
    if (hi >= 0x200000) throw new DfsError('MALFORMED', `${this.what}: ${field} exceeds 2^53-1`);
    this.pos += 8;
    return hi * U32 + lo;
  }

  bool(field = 'bool'): boolean {
    const v = this.u8(field);
    if (v > 1) throw new DfsError('MALFORMED', `${this.what}: ${field} is not a bool (${v})`);
    return v === 1;
  }

  str(field = 'string'): string {
    const len = this.u16(field);
    this.need(len, field);
    // Invalid UTF-8 would decode to U+FFFD, so two different byte strings could name the
    // same path; refuse it instead. ASCII (most names) is valid by itself and decodes as
    // latin1, cheaper than the UTF-8 check and decoder (an image load reads millions).
    const buf = this.buf;
    const end = this.pos + len;
    let ascii = true;
    for (let i = this.pos; i < end; i++) {
      if (buf[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (!ascii && !isUtf8(buf.subarray(this.pos, end))) {
      throw new DfsError('MALFORMED', `${this.what}: ${field} is not valid UTF-8`);
    }
    const s = buf.toString(ascii ? 'latin1' : 'utf8', this.pos, end);
    this.pos += len;
    return s;
  }

  /**
   * A string field that often repeats `previous` (an image's owners and groups, millions of
   * them): when its bytes are `previous` in ASCII, that very string is returned and nothing
   * is decoded or allocated; otherwise it is read as `str` reads it.
   */
  strLike(previous: string, field = 'string'): string {
    this.need(2, field);
    const buf = this.buf;
    const len = buf.readUInt16BE(this.pos);
    if (len !== previous.length || this.buf.length - this.pos - 2 < len) return this.str(field);
    const start = this.pos + 2;
    for (let i = 0; i < len; i++) {
      const b = buf[start + i]!;
      if (b >= 0x80 || b !== previous.charCodeAt(i)) return this.str(field);
    }
    this.pos = start + len;
    return previous;
  }

  /** A length-prefixed byte field, returned as a view (callers copy if it must outlive the frame). */
  bytes(field = 'bytes'): Buffer {
    const len = this.u32(field);
    this.need(len, field);
    const v = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return v;
  }

  /** `len` raw bytes as a view. */
  raw(len: number, field = 'raw'): Buffer {
    this.need(len, field);
    const v = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return v;
  }

  /** A u32 element count, refused if even `minElementBytes` per element cannot fit. */
  count(minElementBytes: number, field = 'count'): number {
    const n = this.u32(field);
    if (n * minElementBytes > this.remaining) {
      throw new DfsError('MALFORMED', `${this.what}: ${field} ${n} cannot fit in ${this.remaining} bytes`);
    }
    return n;
  }

  end(): void {
    if (this.pos !== this.buf.length) {
      throw new DfsError('MALFORMED', `${this.what}: ${this.buf.length - this.pos} trailing bytes`);
    }
  }
}

function isOneOf<V extends number>(values: readonly V[], v: number): v is V {
  return values.some((allowed) => allowed === v);
}
