/**
 * Edit log segment format: a header, then records, each self-describing and checksummed.
 *
 *   segment header (16 bytes): | magic "DFSE" u32 | version u16 | reserved u16 | firstTxid u64 |
 *
 *   record:  0             4              8         12       20      21
 *            | recordBytes | ~recordBytes | xxh32   | txid   | op u8 | body ... |
 *            recordBytes counts the bytes after the two length fields; the checksum
 *            covers txid..end. An op with its high bit set carries the client call
 *            that made it (client id, call id) before its body (edit-ops.ts). The complemented copy of the length lets a flipped bit in
 *            the length be told from a record cut short by a crash.
 *
 * Decoding a segment is a pure function of its bytes. What it does with a bad record
 * (etcd `decoder.go`, `repair.go`):
 *
 *   | what is found at offset X                                     | verdict          |
 *   |---------------------------------------------------------------|------------------|
 *   | fewer than 8 bytes left, or a (consistent) length running     | torn tail: cut X |
 *   |   past the end of the file                                    |                  |
 *   | all bytes from X to the end are zero (preallocated / torn)    | torn tail: cut X |
 *   | a checksum mismatch in the LAST record whose bytes contain a  | torn tail: cut X |
 *   |   zeroed 512-byte sector (a write that never reached disk)    |                  |
 *   | every byte from a 512-byte sector boundary inside the record  | torn tail: cut X |
 *   |   at X to the end of the file is zero, where X's length pair  |                  |
 *   |   is bad, or X has a checksum mismatch and is not the last    |                  |
 *   |   record (the unwritten sectors of a write of several records)|                  |
 *   | a bad length pair or checksum mismatch at X where a 512-byte  | torn tail: cut X |
 *   |   sector is zero from X or from inside the record to its end  |                  |
 *   |   (at least 4 bytes), and no byte is set FLUSH_BYTES_MAX past |                  |
 *   |   X: the last flush, written into preallocated space, with    |                  |
 *   |   some of its sectors never written                           |                  |
 *   | any other checksum mismatch, length != ~copy, txid gap, bad op| corruption:      |
 *   |   (valid bytes would be thrown away, or an acked op altered)  |   refuse to start|
 *
 * Why the last flush may have holes: the writer (edit-log.ts) writes records into space it
 * zero-filled and made durable ahead of them (HDFS `EditLogFileOutputStream.preallocate`), so
 * an fdatasync need not commit file-size metadata. An overwrite has no ordering between its
 * pages: power lost during one flush may leave any subset of its sectors written. Every
 * earlier flush was fdatasynced before its records were acknowledged, and a flush writes at
 * most FLUSH_BYTES_MAX bytes, so bytes set further than that past a damaged record are
 * acknowledged data, and the damage is corruption. A sector zeroed to its end is what an
 * unwritten sector looks like, and no single flipped byte makes one: four zero bytes at a
 * record's start are a length of 0, which no record has (a length's own high bytes are zero,
 * at most three of them; a header cut by a boundary after those, where the sector before it
 * was lost, reads as a flipped length and is refused).
 *
 * Cutting is only ever allowed in the newest segment; the caller enforces that.
 */
import { DfsError, rethrowIfBug } from '../../protocol/errors.js';
import { WireReader } from '../../protocol/wire-reader.js';
import { WireWriter } from '../../protocol/wire-writer.js';
import { xxh32 } from '../common/checksum.js';
import { decodeEditOp, encodeEditOp, type EditOp } from './edit-ops.js';

export const SEGMENT_MAGIC = 0x44465345; // "DFSE"
export const SEGMENT_VERSION = 1;
export const SEGMENT_HEADER_BYTES = 16;
export const RECORD_HEADER_BYTES = 20;
/** No single namespace op comes close; a larger length is corruption, not a big record. */
export const RECORD_BYTES_MAX = 1024 * 1024;
/**
 * The most one write + fdatasync of the writer holds, and so the most a record may take
 * (the RPCs bound every string an op carries: a rename of two longest paths is 8.3 KiB).
 */
export const FLUSH_BYTES_MAX = 256 * 1024;
/** The torn-tail reason of a segment that ends in zeros: preallocated space, the usual end after a kill. */
export const ZERO_TAIL = 'zero-filled tail';
const SECTOR_BYTES = 512;
/** The fewest bytes of a zeroed sector a record must hold to be judged unwritten there. */
const ZEROED_BYTES_MIN = 4;

export function encodeSegmentHeader(firstTxid: number): Buffer {
  const w = new WireWriter(SEGMENT_HEADER_BYTES);
  w.u32(SEGMENT_MAGIC).u16(SEGMENT_VERSION).u16(0).u64(firstTxid);
  return Buffer.from(w.finish());
}

export function encodeRecord(txid: number, op: EditOp): Buffer {
  const w = new WireWriter(128, 12);
  w.u64(txid);
  encodeEditOp(w, op);
  const rec = Buffer.from(w.finish());
  const recordBytes = rec.length - 8;
  rec.writeUInt32BE(recordBytes, 0);
  rec.writeUInt32BE(~recordBytes >>> 0, 4);
  rec.writeUInt32BE(xxh32(rec.subarray(12)), 8);
  return rec;
}

export interface LoggedOp {
  txid: number;
  op: EditOp;
}

export interface DecodedSegment {
  firstTxid: number;
  records: LoggedOp[];
  /** Bytes of the valid prefix (header + whole good records). */
  validBytes: number;
  /** Set when bytes after validBytes were judged a torn tail; the reason. */
  tornTail: string | null;
}

export function decodeSegment(buf: Buffer, name: string): DecodedSegment {
  if (buf.length < SEGMENT_HEADER_BYTES) {
    // A segment whose header never reached disk holds no acknowledged op.
    return { firstTxid: -1, records: [], validBytes: 0, tornTail: 'segment header incomplete' };
  }
  const header = new WireReader(buf.subarray(0, SEGMENT_HEADER_BYTES), `${name} header`);
  const magic = header.u32();
  const version = header.u16();
  const reserved = header.u16();
  let firstTxid: number;
  try {
    firstTxid = header.u64();
  } catch (err) {
    rethrowIfBug(err);
    throw corrupt(name, 0, (err as Error).message);
  }
  if (magic !== SEGMENT_MAGIC) throw corrupt(name, 0, `bad magic 0x${magic.toString(16)}`);
  if (version !== SEGMENT_VERSION) throw corrupt(name, 0, `unsupported segment version ${version}`);
  if (reserved !== 0) throw corrupt(name, 0, 'reserved header bytes are set');

  const records: LoggedOp[] = [];
  let at = SEGMENT_HEADER_BYTES;
  let expectTxid = firstTxid;
  let lastSet = -1; // the offset of the last non-zero byte, found when first needed
  const inLastFlush = (from: number, to: number): boolean => {
    if (lastSet < 0) lastSet = lastNonZero(buf);
    return lastSet < from + FLUSH_BYTES_MAX && hasZeroedSector(buf, from, to);
  };
  while (at < buf.length) {
    const left = buf.length - at;
    if (isAllZero(buf, at, buf.length)) return done(ZERO_TAIL);
    if (left < 8) return done(`${left} trailing bytes, shorter than a record header`);
    const recordBytes = buf.readUInt32BE(at);
    const lengthOk = ~buf.readUInt32BE(at + 4) >>> 0 === recordBytes;
    if (!lengthOk || recordBytes < RECORD_HEADER_BYTES - 8 + 1 || recordBytes > RECORD_BYTES_MAX) {
      if (zeroedFromSectorIn(buf, at, at + 8))
        return done(`unwritten sectors from inside the record header at ${at}`);
      if (inLastFlush(at, at + 8)) return done(`unwritten sectors of the last flush from ${at}`);
      if (!lengthOk) throw corrupt(name, at, 'record length and its check copy differ');
      throw corrupt(name, at, `impossible record length ${recordBytes}`);
    }
    const end = at + 8 + recordBytes;
    if (end > buf.length) return done(`record at ${at} runs ${end - buf.length} bytes past the end`);
    const stored = buf.readUInt32BE(at + 8);
    const actual = xxh32(buf.subarray(at + 12, end));
    if (stored !== actual) {
      if (end === buf.length && hasZeroSector(buf, at, end))
        return done(`checksum mismatch in a partly written last record at ${at}`);
      if (end < buf.length && zeroedFromSectorIn(buf, at, end))
        return done(`unwritten sectors from inside the record at ${at}`);
      if (inLastFlush(at, end)) return done(`unwritten sectors of the last flush in the record at ${at}`);
      throw corrupt(
        name,
        at,
        `checksum mismatch (stored 0x${stored.toString(16)}, computed 0x${actual.toString(16)})`,
      );
    }
    let decoded: LoggedOp;
    try {
      const r = new WireReader(buf.subarray(at + 12, end), `${name} record at ${at}`);
      const txid = r.u64('txid');
      const op = decodeEditOp(r);
      r.end();
      decoded = { txid, op };
    } catch (err) {
      rethrowIfBug(err);
      throw corrupt(name, at, (err as Error).message);
    }
    if (decoded.txid !== expectTxid)
      throw corrupt(name, at, `txid ${decoded.txid} where ${expectTxid} was expected`);
    records.push(decoded);
    expectTxid++;
    at = end;
  }
  return { firstTxid, records, validBytes: at, tornTail: null };

  function done(reason: string): DecodedSegment {
    return { firstTxid, records, validBytes: at, tornTail: reason };
  }
}

function isAllZero(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i] !== 0) return false;
  return true;
}

/** True when some 512-byte-aligned sector overlapping [from, to) is all zero within the range. */
function hasZeroSector(buf: Buffer, from: number, to: number): boolean {
  let sector = Math.floor(from / SECTOR_BYTES) * SECTOR_BYTES;
  for (; sector < to; sector += SECTOR_BYTES) {
    const lo = Math.max(sector, from);
    const hi = Math.min(sector + SECTOR_BYTES, to);
    if (hi - lo >= Math.min(SECTOR_BYTES, to - from) / 2 && isAllZero(buf, lo, hi)) return true;
  }
  return false;
}

function lastNonZero(buf: Buffer): number {
  let i = buf.length - 1;
  while (i >= 0 && buf[i] === 0) i--;
  return i;
}

/**
 * True when some 512-byte sector that starts before `to` is zero from `from` (or from its own
 * start, when later) to its end or the file's, over at least ZEROED_BYTES_MIN bytes: a sector
 * of the record at `from` that was never written. Its zeros run past the record, or cover its
 * length, so they are not the record's own zero bytes (a length's high bytes are).
 */
function hasZeroedSector(buf: Buffer, from: number, to: number): boolean {
  for (let sector = Math.floor(from / SECTOR_BYTES) * SECTOR_BYTES; sector < to; sector += SECTOR_BYTES) {
    const lo = Math.max(sector, from);
    const hi = Math.min(sector + SECTOR_BYTES, buf.length);
    if (hi - lo >= ZEROED_BYTES_MIN && isAllZero(buf, lo, hi)) return true;
  }
  return false;
}

/**
 * True when every byte from the last 512-byte sector boundary strictly inside (from, to) up
 * to the end of the file is zero: the record at `from` was cut by sectors of its write that
 * never reached the disk (etcd `isTornEntry`). A flipped byte cannot make the bytes after a
 * record zero, so this is never mistaken for corruption of an acknowledged record.
 */
function zeroedFromSectorIn(buf: Buffer, from: number, to: number): boolean {
  const sector = Math.floor((to - 1) / SECTOR_BYTES) * SECTOR_BYTES;
  return sector > from && isAllZero(buf, sector, buf.length);
}

function corrupt(name: string, offset: number, why: string): DfsError {
  return new DfsError('CORRUPT_LOG', `edit log ${name} is corrupt at byte ${offset}: ${why}`);
}
