/**
 * Codec primitives (PROTOCOL.md section 1, "Conventions and primitive encodings"): the
 * `Codec<T>` pair every message module is built from, and the composite encodings of that
 * section, `list<T>` and `optional<T>`. The integer, bool and string encodings themselves
 * live in wire-writer.ts and wire-reader.ts.
 *
 * Message modules declare their per-opcode tables with `satisfies` a table type built from
 * a message map (`CodecTable`), never with `as`: a table that misses a message, or a decoder
 * whose object lacks a field of its message, then fails to compile, where an `as` cast would
 * let both through.
 */
import type { WireReader } from './wire-reader.js';
import type { WireWriter } from './wire-writer.js';

export interface Codec<T> {
  encode(w: WireWriter, value: T): void;
  decode(r: WireReader): T;
}

/**
 * One codec table entry per message of `M` (an interface naming each message's request and
 * response types), with `Extra` fields (opcode, ...) on each entry.
 */
export type CodecTable<M extends Record<keyof M, { req: unknown; res: unknown }>, Extra> = {
  [N in keyof M]: Extra & { req: Codec<M[N]['req']>; res: Codec<M[N]['res']> };
};

/** The body of a message with no fields: zero bytes. */
export type Empty = Record<string, never>;

export const emptyCodec: Codec<Empty> = {
  encode() {},
  decode() {
    return {};
  },
};

/** A list: u32 count then the elements; the count is checked against the bytes left. */
export function listCodec<T>(item: Codec<T>, minItemBytes: number): Codec<T[]> {
  return {
    encode(w, list) {
      w.u32(list.length);
      for (const v of list) item.encode(w, v);
    },
    decode(r) {
      const n = r.count(minItemBytes, 'list count');
      const out = new Array<T>(n);
      for (let i = 0; i < n; i++) out[i] = item.decode(r);
      return out;
    },
  };
}

/** An optional value: u8 presence flag (0 or 1) then the value. */
export function optionalCodec<T>(item: Codec<T>): Codec<T | null> {
  return {
    encode(w, v) {
      w.bool(v !== null);
      if (v !== null) item.encode(w, v);
    },
    decode(r) {
      return r.bool('present') ? item.decode(r) : null;
    },
  };
}

/** list<u64>: 8 bytes per item. */
export const u64ListCodec = listCodec<number>({ encode: (w, v) => void w.u64(v), decode: (r) => r.u64() }, 8);

/** list<str>: 2 bytes per item at least (an empty string). */
export const stringListCodec = listCodec<string>(
  { encode: (w, s) => void w.str(s), decode: (r) => r.str() },
  2,
);
