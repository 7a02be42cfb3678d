/**
 * A replica's metadata file: the checksum chunk size, the generation stamp and one xxh32
 * per chunk of the data file, computed by the writer and carried end to end so a reader
 * verifies exactly what the writer sent.
 *
 *   0        4         6          8            12          16           24
 *   | "DFSM" | version | reserved | chunkBytes | reserved   | genStamp   | xxh32 x N ... |
 *
 *   N = ceil(dataBytes / chunkBytes); checksum i covers data bytes [i*chunkBytes, (i+1)*chunkBytes).
 */
import { DfsError } from '../../protocol/errors.js';

export const META_MAGIC = 0x4446534d; // "DFSM"
export const META_VERSION = 1;
export const META_HEADER_BYTES = 24;

export interface MetaHeader {
  chunkBytes: number;
  genStamp: number;
}

export function encodeMetaHeader(h: MetaHeader): Buffer {
  const b = Buffer.alloc(META_HEADER_BYTES);
  b.writeUInt32BE(META_MAGIC, 0);
  b.writeUInt16BE(META_VERSION, 4);
  b.writeUInt32BE(h.chunkBytes, 8);
  b.writeUInt32BE(Math.floor(h.genStamp / 0x1_0000_0000), 16);
  b.writeUInt32BE(h.genStamp % 0x1_0000_0000, 20);
  return b;
}

export function decodeMetaHeader(b: Buffer, file: string): MetaHeader {
  if (b.length < META_HEADER_BYTES) throw new DfsError('CHECKSUM', `${file}: metadata header truncated`);
  if (b.readUInt32BE(0) !== META_MAGIC) throw new DfsError('CHECKSUM', `${file}: bad metadata magic`);
  if (b.readUInt16BE(4) !== META_VERSION)
    throw new DfsError('CHECKSUM', `${file}: unsupported metadata version`);
  const chunkBytes = b.readUInt32BE(8);
  if (chunkBytes === 0 || chunkBytes > 16 * 1024 * 1024)
    throw new DfsError('CHECKSUM', `${file}: bad chunk size ${chunkBytes}`);
  const genStamp = b.readUInt32BE(16) * 0x1_0000_0000 + b.readUInt32BE(20);
  return { chunkBytes, genStamp };
}

/** Byte offset in the meta file of the checksum for data offset `dataOffset` (chunk-aligned). */
export function checksumOffset(dataOffset: number, chunkBytes: number): number {
  return META_HEADER_BYTES + Math.floor(dataOffset / chunkBytes) * 4;
}
