/**
 * A replica's metadata file: the checksum chunk size, the checksum algorithm, the generation
 * stamp and one checksum per chunk of the data file, computed by the writer and carried end
 * to end so a reader verifies exactly what the writer sent.
 *
 *   0        4         6      7          8            12         16         24
 *   | "DFSM" | version | type | reserved | chunkBytes | reserved | genStamp | checksum x N ... |
 *
 *   N = ceil(dataBytes / chunkBytes); checksum i covers data bytes [i*chunkBytes, (i+1)*chunkBytes),
 *   each checksumBytes(type) bytes (ChecksumType, protocol/data-messages.ts), big-endian.
 *
 *   version  type byte                     checksums
 *   1        reserved (0)                  xxh32, 4 bytes: every replica written before xxh64
 *   2        1 = xxh32, 2 = xxh64,         of that type
 *            3 = xxh3
 *
 * An xxh32 replica is still written as version 1, byte for byte what DataNodes wrote before
 * the algorithm became a choice, so a DataNode rolled back to that release reads it; an
 * xxh64 or xxh3 one is version 2, which such a DataNode does not load rather than misreads
 * (and a DataNode of a release before xxh3 does not load an xxh3 one: unknown type). Not
 * loading meant deleting before storage.ts moved unreadable replicas to quarantine/, so a
 * rollback to such a release loses those replicas (README, Checksum algorithm).
 */
import { checksumBytes, ChecksumType, isChecksumType } from '../../protocol/data-messages.js';
import { DfsError } from '../../protocol/errors.js';

export const META_MAGIC = 0x4446534d; // "DFSM"
/** The version of an xxh32 replica's meta file (no type byte). */
export const META_VERSION_XXH32 = 1;
/** The version with a checksum type byte at offset 6. */
export const META_VERSION_TYPED = 2;
export const META_HEADER_BYTES = 24;

export interface MetaHeader {
  chunkBytes: number;
  checksumType: ChecksumType;
  genStamp: number;
}

export function encodeMetaHeader(h: MetaHeader): Buffer {
  const b = Buffer.alloc(META_HEADER_BYTES);
  b.writeUInt32BE(META_MAGIC, 0);
  if (h.checksumType === ChecksumType.XXH32) b.writeUInt16BE(META_VERSION_XXH32, 4);
  else {
    b.writeUInt16BE(META_VERSION_TYPED, 4);
    b.writeUInt8(h.checksumType, 6);
  }
  b.writeUInt32BE(h.chunkBytes, 8);
  b.writeUInt32BE(Math.floor(h.genStamp / 0x1_0000_0000), 16);
  b.writeUInt32BE(h.genStamp % 0x1_0000_0000, 20);
  return b;
}

export function decodeMetaHeader(b: Buffer, file: string): MetaHeader {
  if (b.length < META_HEADER_BYTES) throw new DfsError('CHECKSUM', `${file}: metadata header truncated`);
  if (b.readUInt32BE(0) !== META_MAGIC) throw new DfsError('CHECKSUM', `${file}: bad metadata magic`);
  const version = b.readUInt16BE(4);
  let checksumType: ChecksumType;
  if (version === META_VERSION_XXH32) checksumType = ChecksumType.XXH32;
  else if (version === META_VERSION_TYPED) {
    const t = b.readUInt8(6);
    if (!isChecksumType(t)) throw new DfsError('CHECKSUM', `${file}: unknown checksum type ${t}`);
    checksumType = t;
  } else throw new DfsError('CHECKSUM', `${file}: unsupported metadata version ${version}`);
  const chunkBytes = b.readUInt32BE(8);
  if (chunkBytes === 0 || chunkBytes > 16 * 1024 * 1024)
    throw new DfsError('CHECKSUM', `${file}: bad chunk size ${chunkBytes}`);
  const genStamp = b.readUInt32BE(16) * 0x1_0000_0000 + b.readUInt32BE(20);
  return { chunkBytes, checksumType, genStamp };
}

/** Byte offset in the meta file of the checksum for data offset `dataOffset` (chunk-aligned). */
export function checksumOffset(
  dataOffset: number,
  r: { chunkBytes: number; checksumType: ChecksumType },
): number {
  return META_HEADER_BYTES + Math.floor(dataOffset / r.chunkBytes) * checksumBytes(r.checksumType);
}
