/**
 * The shared structures of PROTOCOL.md section 5: FileStatus, DatanodeInfo, Block and
 * LocatedBlock, each a plain type and its codec. They appear inside NameNode messages and
 * data-transfer messages alike, which is why they live here and not in either message
 * module: the data path (data-messages.ts) depends on this file and never on the NameNode
 * message modules.
 *
 * Each structure has its smallest encoding beside it (`*_BYTES_MIN`), the item size a list
 * of it checks its count against before allocating (section 1, "list").
 */
import { listCodec, type Codec } from './codec.js';
import { DfsError } from './errors.js';
import type { WireReader } from './wire-reader.js';

export const FileType = { DIRECTORY: 1, FILE: 2 } as const;
export type FileType = (typeof FileType)[keyof typeof FileType];
const FILE_TYPES = Object.values(FileType);

export interface FileStatus {
  /** Full path for `stat`, the child's name for `list`. */
  path: string;
  type: FileType;
  /** Bytes in complete blocks plus the acknowledged bytes of the last one. */
  length: number;
  replication: number;
  blockBytes: number;
  mtimeMs: number;
  blockCount: number;
  /** True while a writer holds the file open (lease). */
  underConstruction: boolean;
  /** Number of children for a directory, 0 for a file. */
  childCount: number;
  /** The owning user and group (HDFS "simple" mode names, never ids). */
  owner: string;
  group: string;
  /** Mode bits: rwx for user, group and other (0o777), and the sticky bit 0o1000. */
  permission: number;
}

/** The bits a permission may hold (PROTOCOL.md section 5): rwxrwxrwx and the sticky bit. */
export const PERMISSION_BITS = 0o1777;

/** A u16 permission; other bits set are MALFORMED (codec). */
export function readPermission(r: WireReader, field: string): number {
  const v = r.u16(field);
  if ((v & ~PERMISSION_BITS) !== 0)
    throw new DfsError('MALFORMED', `${field} 0o${v.toString(8)} has bits outside 0o1777`);
  return v;
}

export interface DatanodeInfo {
  nodeId: string;
  host: string;
  port: number;
}

export interface Block {
  blockId: number;
  genStamp: number;
  numBytes: number;
}

export interface LocatedBlock {
  block: Block;
  /** Offset of the block's first byte within the file. */
  offset: number;
  /** Replicas in order of preference. */
  locations: DatanodeInfo[];
}

/** Smallest encoded FileStatus (empty path, owner, group): 2 + 1 + 8 + 2 + 8 + 8 + 4 + 1 + 4 + 2 + 2 + 2. */
export const FILE_STATUS_BYTES_MIN = 44;
/** Smallest DatanodeInfo: two empty strings and the port. */
export const DATANODE_INFO_BYTES_MIN = 6;
export const BLOCK_BYTES = 24;
/** A safe under-estimate of the smallest LocatedBlock (36: a block, offset, empty list). */
export const LOCATED_BLOCK_BYTES_MIN = 32;

export const fileStatusCodec: Codec<FileStatus> = {
  encode(w, s) {
    w.str(s.path)
      .u8(s.type)
      .u64(s.length)
      .u16(s.replication)
      .u64(s.blockBytes)
      .u64(s.mtimeMs)
      .u32(s.blockCount)
      .bool(s.underConstruction)
      .u32(s.childCount)
      .str(s.owner)
      .str(s.group)
      .u16(s.permission);
  },
  decode: (r) => ({
    path: r.str('path'),
    type: r.u8Of(FILE_TYPES, 'type'),
    length: r.u64('length'),
    replication: r.u16('replication'),
    blockBytes: r.u64('blockBytes'),
    mtimeMs: r.u64('mtimeMs'),
    blockCount: r.u32('blockCount'),
    underConstruction: r.bool('underConstruction'),
    childCount: r.u32('childCount'),
    owner: r.str('owner'),
    group: r.str('group'),
    permission: readPermission(r, 'permission'),
  }),
};

export const datanodeInfoCodec: Codec<DatanodeInfo> = {
  encode(w, d) {
    w.str(d.nodeId).str(d.host).u16(d.port);
  },
  decode(r) {
    return { nodeId: r.str('nodeId'), host: r.str('host'), port: r.u16('port') };
  },
};

export const blockCodec: Codec<Block> = {
  encode(w, b) {
    w.u64(b.blockId).u64(b.genStamp).u64(b.numBytes);
  },
  decode(r) {
    return { blockId: r.u64('blockId'), genStamp: r.u64('genStamp'), numBytes: r.u64('numBytes') };
  },
};

export const datanodeListCodec = listCodec(datanodeInfoCodec, DATANODE_INFO_BYTES_MIN);
export const blockListCodec = listCodec(blockCodec, BLOCK_BYTES);

/**
 * A list of blocks read by index, without an object per block: what a full block report
 * decodes into. A DataNode of a million replicas reports 24 MB; decoded into an object per
 * block it cost the NameNode 1.7 s and a million objects to collect (thirty such reports
 * are most of a restart at ten million files). Decoded, it reads the wire's big-endian
 * triples where they lie (`fromWire`): three Float64Arrays of the same 24 MB were external
 * memory whose every allocation brought V8 nearer a full collection of the NameNode's
 * whole heap (2.4 GB at ten million files), about one per report or two. Built by a sender,
 * it holds three columns (`fromArrays`). Same wire format as blockListCodec.
 */
export class BlockColumns {
  private constructor(
    private readonly ids: Float64Array | null,
    private readonly stamps: Float64Array | null,
    private readonly sizes: Float64Array | null,
    /**
     * The wire's n x 24 bytes (blockId, genStamp, numBytes as u64 BE), when decoded, seen
     * through a DataView: its getUint32 is inlined by V8, where Buffer's readUInt32BE is a
     * call with checks (at 90 million reads per restart at ten million files, ~4 s).
     */
    private readonly raw: DataView | null,
    readonly length: number,
  ) {}

  static fromArrays(blockIds: Float64Array, genStamps: Float64Array, numBytes: Float64Array): BlockColumns {
    return new BlockColumns(blockIds, genStamps, numBytes, null, blockIds.length);
  }

  /** `n` blocks as the wire holds them (every u64 already checked to fit 2^53-1). */
  static fromWire(raw: DataView, n: number): BlockColumns {
    return new BlockColumns(null, null, null, raw, n);
  }

  static of(blocks: readonly Block[] | BlockColumns): BlockColumns {
    if (blocks instanceof BlockColumns) return blocks;
    const n = blocks.length;
    const c = BlockColumns.fromArrays(new Float64Array(n), new Float64Array(n), new Float64Array(n));
    blocks.forEach((b, i) => {
      c.ids![i] = b.blockId;
      c.stamps![i] = b.genStamp;
      c.sizes![i] = b.numBytes;
    });
    return c;
  }

  blockId(i: number): number {
    return this.raw === null ? this.ids![i]! : u64At(this.raw, i * BLOCK_BYTES);
  }

  genStamp(i: number): number {
    return this.raw === null ? this.stamps![i]! : u64At(this.raw, i * BLOCK_BYTES + 8);
  }

  numBytes(i: number): number {
    return this.raw === null ? this.sizes![i]! : u64At(this.raw, i * BLOCK_BYTES + 16);
  }

  /** Block `i` as an object (for the few, cold uses; the hot ones read by index). */
  at(i: number): Block {
    return { blockId: this.blockId(i), genStamp: this.genStamp(i), numBytes: this.numBytes(i) };
  }

  toArray(): Block[] {
    return Array.from({ length: this.length }, (_, i) => this.at(i));
  }
}

function u64At(raw: DataView, at: number): number {
  return raw.getUint32(at) * 0x1_0000_0000 + raw.getUint32(at + 4);
}

/** A list of blocks, sent from a list or columns, always decoded as columns. */
export type BlockList = readonly Block[] | BlockColumns;

/** Encodes a list or columns, decodes columns (bounds as blockListCodec). */
export const blockColumnsCodec: Codec<BlockList> = {
  encode(w, list) {
    const c = BlockColumns.of(list);
    w.u32(c.length);
    for (let i = 0; i < c.length; i++) w.u64(c.blockId(i)).u64(c.genStamp(i)).u64(c.numBytes(i));
  },
  decode(r) {
    const n = r.count(BLOCK_BYTES, 'list count');
    // The count fits (checked above): the n x 24 bytes are read where they lie; every high
    // word is checked now, so reading them later cannot fail.
    const bytes = r.raw(n * BLOCK_BYTES, 'blocks');
    const raw = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let at = 0; at < raw.byteLength; at += 8) {
      if (raw.getUint32(at) >= 0x200000)
        throw new DfsError('MALFORMED', `block ${(at / BLOCK_BYTES) | 0}: a u64 exceeds 2^53-1`);
    }
    return BlockColumns.fromWire(raw, n);
  },
};

export const locatedBlockCodec: Codec<LocatedBlock> = {
  encode(w, b) {
    blockCodec.encode(w, b.block);
    w.u64(b.offset);
    datanodeListCodec.encode(w, b.locations);
  },
  decode(r) {
    return { block: blockCodec.decode(r), offset: r.u64('offset'), locations: datanodeListCodec.decode(r) };
  },
};
