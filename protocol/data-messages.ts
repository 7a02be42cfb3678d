/**
 * Data-transfer messages between clients and DataNodes and between DataNodes
 * (PROTOCOL.md, "Data transfer"). Blocks move as PACKET frames: a 32-byte packet header,
 * one checksum per chunk (xxh32, xxh64 or xxh3, per block: ChecksumType), then the payload. Payloads are never copied here: the
 * encoder returns only the header bytes (frame header + packet header + checksums) so the
 * sender writes `[header, payload]` under cork(); the decoder returns views.
 *
 *   PACKET body
 *   0        8              16       24     25   28            32
 *   | blockId | offsetInBlock | seqno | flags | 0 | payloadBytes | checksums (S x N) | payload |
 *
 *   N = ceil(payloadBytes / chunkBytes), S = checksumBytes(checksumType) (4 or 8); both
 *   chunkBytes and checksumType are fixed per block by WRITE_BLOCK/READ_BLOCK.
 *
 *   ACK body: | seqno u64 | count u8 | status u8 x count |   (count = nodes in the pipeline)
 *
 * Shared structures (Block, DatanodeInfo) come from shared-structures.ts and errors from
 * error-frame.ts: nothing here, and nothing on the data path, imports a NameNode message
 * module. The request table is checked with `satisfies CodecTable<DataMessages, ...>`.
 * The write stage and the ack statuses stay numbers: PROTOCOL.md section 10 leaves them to
 * the endpoint (a DataNode answers an unknown stage INVALID_ARGUMENT; an unknown status marks
 * that one node bad), where a codec error would fail the whole connection.
 */
import { DfsError } from './errors.js';
import { bodyPieces, FrameKind, frameWriter, sealFrame, writeFrameHeader, type Frame } from './frame.js';
import { piecesLength, slicePieces, viewOf } from './byte-pieces.js';
import { FRAME_HEADER_BYTES } from './limits.js';
import type { Codec, CodecTable } from './codec.js';
import { blockCodec, datanodeListCodec, type Block, type DatanodeInfo } from './shared-structures.js';
import { WireReader } from './wire-reader.js';

export const PACKET_HEADER_BYTES = 32;
/** The frame kinds whose bodies a data endpoint keeps in pieces (FrameDecoder `scatterKinds`). */
export const PACKET_FRAMES: ReadonlySet<number> = new Set([FrameKind.PACKET]);
export const PACKET_FLAG_LAST = 0x01;
/** hflush: ack only once on every node's disk writes (page cache), checksums included; the bytes become readable. */
export const PACKET_FLAG_FLUSH = 0x02;
/** hsync: as FLUSH, and each node fdatasyncs the replica's data and meta files before acking. */
export const PACKET_FLAG_SYNC = 0x04;
const PACKET_FLAGS_KNOWN = PACKET_FLAG_LAST | PACKET_FLAG_FLUSH | PACKET_FLAG_SYNC;
/**
 * The checksum algorithm of a block's chunks, fixed per replica (recorded in its meta file,
 * src/datanode/replica-meta.ts): seed 0, big-endian. The codec checks the value, since the
 * size of a packet's checksums depends on it.
 */
export const ChecksumType = {
  XXH32: 1,
  XXH64: 2,
  /** XXH3's 64-bit hash (XXH3_64bits, seed 0), the default for new blocks: see src/common/checksum.ts. */
  XXH3: 3,
} as const;
export type ChecksumType = (typeof ChecksumType)[keyof typeof ChecksumType];
/** The algorithm new blocks are written with unless the writer asks for another. */
export const CHECKSUM_TYPE_DEFAULT: ChecksumType = ChecksumType.XXH3;

const CHECKSUM_NAMES = {
  [ChecksumType.XXH32]: 'xxh32',
  [ChecksumType.XXH64]: 'xxh64',
  [ChecksumType.XXH3]: 'xxh3',
} as const;
export type ChecksumTypeName = (typeof CHECKSUM_NAMES)[ChecksumType];

/** Bytes of one stored checksum of `type`. */
export function checksumBytes(type: ChecksumType): number {
  return type === ChecksumType.XXH32 ? 4 : 8;
}

/** 'xxh32', 'xxh64' or 'xxh3', as configuration, logs and `dfs` output name them. */
export function checksumTypeName(type: ChecksumType): ChecksumTypeName {
  return CHECKSUM_NAMES[type];
}

/** The ChecksumType a name denotes (configuration, client options), INVALID_ARGUMENT otherwise. */
export function checksumTypeOf(name: string): ChecksumType {
  for (const type of Object.values(ChecksumType)) if (CHECKSUM_NAMES[type] === name) return type;
  throw new DfsError('INVALID_ARGUMENT', `unknown checksum algorithm '${name}' (xxh3, xxh64 or xxh32)`);
}

export function isChecksumType(v: number): v is ChecksumType {
  return Object.hasOwn(CHECKSUM_NAMES, v);
}

/** Reads a ChecksumType field: an unknown algorithm is MALFORMED (its checksums could not be framed). */
function readChecksumType(r: WireReader): ChecksumType {
  const v = r.u8('checksumType');
  if (!isChecksumType(v)) throw new DfsError('MALFORMED', `unknown checksum type ${v}`);
  return v;
}
/** Default bytes covered by one checksum. */
export const CHUNK_BYTES_DEFAULT = 64 * 1024;
/**
 * Default and largest payload of a packet a writer sends. Each packet costs its writer and
 * every DataNode a fixed amount of work whatever its size (a header, checksums handed over,
 * an ack, a disk write through the thread pool, promise chains: about 110 us on the
 * machine measured), so on a CPU-bound machine fewer, larger packets are throughput: four
 * uploads at once at replication 1 took 1.04-1.21 CPU-s per GiB with 2 MiB packets against
 * 1.22-1.36 with 1 MiB ones, the writer 0.42-0.48 against 0.50-0.57. (4 MiB ones, once
 * packets went to disk in 1 MiB spans, fs-util.ts writePieces, measured the same as 2 MiB
 * ones.) Replica reads send 1 MiB packets (replica-reader.ts PACKET_TARGET_BYTES).
 */
export const PACKET_PAYLOAD_BYTES_DEFAULT = 2 * 1024 * 1024;
export const PACKET_PAYLOAD_BYTES_MAX = 2 * 1024 * 1024;

export const DataOp = {
  WRITE_BLOCK: 0x40,
  READ_BLOCK: 0x41,
  /** Block recovery, DataNode to DataNode: stop the writer, say what replica is here. */
  INIT_REPLICA_RECOVERY: 0x42,
  /** Block recovery, DataNode to DataNode: truncate, take the new stamp, finalize. */
  UPDATE_REPLICA_UNDER_RECOVERY: 0x43,
  /** A whole-file checksum's part: SHA-256 of a replica's stored chunk checksums. */
  BLOCK_CHECKSUM: 0x44,
  PACKET: 0x00,
  ACK: 0x00,
} as const;

export const WriteStage = {
  /** A new block from a client. */
  CREATE: 0,
  /** Pipeline recovery: the replica exists; truncate to numBytes and continue. */
  RECOVER: 1,
  /** DataNode-to-DataNode copy ordered by the NameNode. */
  TRANSFER: 2,
  /**
   * Append: the finalized replica of `numBytes` bytes is reopened (back to rbw) under the
   * new generation stamp, and the writer continues at its end.
   */
  APPEND: 3,
} as const;

export const AckStatus = {
  SUCCESS: 0,
  ERROR: 1,
  ERROR_CHECKSUM: 2,
  ERROR_NO_SPACE: 3,
} as const;

export interface WriteBlockRequest {
  block: Block;
  clientName: string;
  stage: number;
  chunkBytes: number;
  /**
   * The algorithm of the block's checksums: CREATE, the writer's choice; TRANSFER, the
   * source replica's. RECOVER and APPEND continue the replica with its own algorithm,
   * whatever this says: the response tells the writer which.
   */
  checksumType: ChecksumType;
  /** The nodes after the receiver, in pipeline order. */
  targets: DatanodeInfo[];
}
export interface WriteBlockResponse {
  /** Empty when the whole downstream pipeline is ready; else the first node that failed. */
  firstBadLink: string;
  /** The algorithm the packets' checksums must use: the replica's (see WriteBlockRequest). */
  checksumType: ChecksumType;
}
export interface ReadBlockRequest {
  block: Block;
  offset: number;
  length: number;
}
export interface ReadBlockResponse {
  chunkBytes: number;
  /** The replica's algorithm, which the packets' checksums are in. */
  checksumType: ChecksumType;
  /** Offset of the first packet: `offset` rounded down to a chunk boundary. */
  startOffset: number;
  /** Bytes the packets will carry from startOffset. */
  length: number;
}

/** A replica's state as block recovery reports it (INIT_REPLICA_RECOVERY). */
export const RecoveryReplicaState = {
  /** Being written, or left by a write that never finished (rbw/). */
  UNFINISHED: 1,
  /** Finalized: every byte of the block was received, synced and the replica closed. */
  FINALIZED: 2,
} as const;

export interface InitReplicaRecoveryRequest {
  blockId: number;
  /** The new generation stamp the NameNode allocated for this recovery; a newer one wins. */
  recoveryId: number;
}
export interface InitReplicaRecoveryResponse {
  /** The replica's generation stamp (older than recoveryId). */
  genStamp: number;
  /** Bytes whose data and checksums are on disk here. */
  numBytes: number;
  /** A RecoveryReplicaState (a number: PROTOCOL.md section 10, the endpoint judges). */
  state: number;
}
export interface UpdateReplicaUnderRecoveryRequest {
  blockId: number;
  recoveryId: number;
  /** The length every participant holds: the replica is truncated to it. */
  newLength: number;
}
export interface UpdateReplicaUnderRecoveryResponse {
  /** The finalized replica: blockId, genStamp = recoveryId, numBytes = newLength. */
  block: Block;
}

export interface BlockChecksumRequest {
  block: Block;
}
/** BLOCK_DIGEST_BYTES: SHA-256 of the replica's stored chunk checksums (see PROTOCOL.md section 10). */
export const BLOCK_DIGEST_BYTES = 32;
export interface BlockChecksumResponse {
  chunkBytes: number;
  /** The algorithm of the stored chunk checksums the digest is over. */
  checksumType: ChecksumType;
  /** Bytes of the replica the digest covers (the whole finalized replica). */
  numBytes: number;
  digest: Buffer;
}

/** Request and response type of each data-connection RPC: what `dataCodecs` must cover. */
export interface DataMessages {
  writeBlock: { req: WriteBlockRequest; res: WriteBlockResponse };
  readBlock: { req: ReadBlockRequest; res: ReadBlockResponse };
  initReplicaRecovery: { req: InitReplicaRecoveryRequest; res: InitReplicaRecoveryResponse };
  updateReplicaUnderRecovery: {
    req: UpdateReplicaUnderRecoveryRequest;
    res: UpdateReplicaUnderRecoveryResponse;
  };
  blockChecksum: { req: BlockChecksumRequest; res: BlockChecksumResponse };
}
export type DataRpcName = keyof DataMessages;

const dataCodecTable = {
  writeBlock: {
    opcode: DataOp.WRITE_BLOCK,
    req: {
      encode(w, v) {
        blockCodec.encode(w, v.block);
        w.str(v.clientName).u8(v.stage).u32(v.chunkBytes).u8(v.checksumType);
        datanodeListCodec.encode(w, v.targets);
      },
      decode: (r) => ({
        block: blockCodec.decode(r),
        clientName: r.str('clientName'),
        stage: r.u8('stage'),
        chunkBytes: r.u32('chunkBytes'),
        checksumType: readChecksumType(r),
        targets: datanodeListCodec.decode(r),
      }),
    },
    res: {
      encode: (w, v) => void w.str(v.firstBadLink).u8(v.checksumType),
      decode: (r) => ({ firstBadLink: r.str('firstBadLink'), checksumType: readChecksumType(r) }),
    },
  },
  readBlock: {
    opcode: DataOp.READ_BLOCK,
    req: {
      encode(w, v) {
        blockCodec.encode(w, v.block);
        w.u64(v.offset).u64(v.length);
      },
      decode: (r) => ({ block: blockCodec.decode(r), offset: r.u64('offset'), length: r.u64('length') }),
    },
    res: {
      encode: (w, v) => void w.u32(v.chunkBytes).u8(v.checksumType).u64(v.startOffset).u64(v.length),
      decode: (r) => ({
        chunkBytes: r.u32('chunkBytes'),
        checksumType: readChecksumType(r),
        startOffset: r.u64('startOffset'),
        length: r.u64('length'),
      }),
    },
  },
  initReplicaRecovery: {
    opcode: DataOp.INIT_REPLICA_RECOVERY,
    req: {
      encode: (w, v) => void w.u64(v.blockId).u64(v.recoveryId),
      decode: (r) => ({ blockId: r.u64('blockId'), recoveryId: r.u64('recoveryId') }),
    },
    res: {
      encode: (w, v) => void w.u64(v.genStamp).u64(v.numBytes).u8(v.state),
      decode: (r) => ({ genStamp: r.u64('genStamp'), numBytes: r.u64('numBytes'), state: r.u8('state') }),
    },
  },
  updateReplicaUnderRecovery: {
    opcode: DataOp.UPDATE_REPLICA_UNDER_RECOVERY,
    req: {
      encode: (w, v) => void w.u64(v.blockId).u64(v.recoveryId).u64(v.newLength),
      decode: (r) => ({
        blockId: r.u64('blockId'),
        recoveryId: r.u64('recoveryId'),
        newLength: r.u64('newLength'),
      }),
    },
    res: {
      encode: (w, v) => blockCodec.encode(w, v.block),
      decode: (r) => ({ block: blockCodec.decode(r) }),
    },
  },
  blockChecksum: {
    opcode: DataOp.BLOCK_CHECKSUM,
    req: {
      encode: (w, v) => blockCodec.encode(w, v.block),
      decode: (r) => ({ block: blockCodec.decode(r) }),
    },
    res: {
      encode: (w, v) => void w.u32(v.chunkBytes).u8(v.checksumType).u64(v.numBytes).raw(v.digest),
      decode: (r) => ({
        chunkBytes: r.u32('chunkBytes'),
        checksumType: readChecksumType(r),
        numBytes: r.u64('numBytes'),
        digest: r.raw(BLOCK_DIGEST_BYTES, 'digest'),
      }),
    },
  },
} satisfies CodecTable<DataMessages, { opcode: number }>;

/** Typed from `DataMessages`, so a generic `name` reaches its codec without a cast. */
export const dataCodecs: CodecTable<DataMessages, { opcode: number }> = dataCodecTable;

export function encodeDataRequest<N extends DataRpcName>(
  name: N,
  requestId: number,
  value: DataMessages[N]['req'],
): Buffer {
  const c = dataCodecs[name];
  const w = frameWriter();
  c.req.encode(w, value);
  return sealFrame(w, FrameKind.REQUEST, c.opcode, requestId);
}

export function encodeDataResponse<N extends DataRpcName>(
  name: N,
  requestId: number,
  value: DataMessages[N]['res'],
): Buffer {
  const c = dataCodecs[name];
  const w = frameWriter();
  c.res.encode(w, value);
  return sealFrame(w, FrameKind.RESPONSE, c.opcode, requestId);
}

export function decodeDataBody<T>(codec: Codec<T>, frame: Frame, what: string): T {
  const r = new WireReader(frame.body, what);
  const v = codec.decode(r);
  r.end();
  return v;
}

export function isDataOpcode(kind: number, opcode: number): boolean {
  switch (kind) {
    case FrameKind.REQUEST:
    case FrameKind.RESPONSE:
      return opcode >= DataOp.WRITE_BLOCK && opcode <= DataOp.BLOCK_CHECKSUM;
    case FrameKind.PACKET:
    case FrameKind.ACK:
      return opcode === 0;
    case FrameKind.ERROR:
      return true;
    default:
      return false;
  }
}

// ---- packets ------------------------------------------------------------------------

export interface PacketHeader {
  blockId: number;
  offsetInBlock: number;
  seqno: number;
  last: boolean;
  /** hflush (PACKET_FLAG_FLUSH) or hsync (PACKET_FLAG_SYNC, which implies a flush); absent: neither. */
  flush?: 'flush' | 'sync';
  payloadBytes: number;
}

export interface Packet extends PacketHeader {
  /** N big-endian checksums of the block's type (a view, or a copy if they straddled two socket reads). */
  checksums: Buffer;
  /** The payload: views of the socket reads it arrived in, in order (payloadBytes in all). */
  payload: Buffer[];
}

export function checksumCount(payloadBytes: number, chunkBytes: number): number {
  return Math.ceil(payloadBytes / chunkBytes);
}

/**
 * Frame header + packet header + checksums, ready to be written before the payload.
 * `checksums` must hold exactly checksumCount(payloadBytes, chunkBytes) * checksumBytes(type) bytes.
 */
export function encodePacketHeader(requestId: number, h: PacketHeader, checksums: Buffer): Buffer {
  const headerBytes = FRAME_HEADER_BYTES + PACKET_HEADER_BYTES;
  const out = Buffer.allocUnsafe(headerBytes + checksums.length);
  writeFrameHeader(
    out,
    0,
    FrameKind.PACKET,
    0,
    requestId,
    PACKET_HEADER_BYTES + checksums.length + h.payloadBytes,
  );
  const at = FRAME_HEADER_BYTES;
  writeU64(out, at, h.blockId);
  writeU64(out, at + 8, h.offsetInBlock);
  writeU64(out, at + 16, h.seqno);
  const flushFlags =
    h.flush === 'sync' ? PACKET_FLAG_FLUSH | PACKET_FLAG_SYNC : h.flush === 'flush' ? PACKET_FLAG_FLUSH : 0;
  out.writeUInt8((h.last ? PACKET_FLAG_LAST : 0) | flushFlags, at + 24);
  out.fill(0, at + 25, at + 28);
  out.writeUInt32BE(h.payloadBytes, at + 28);
  checksums.copy(out, headerBytes);
  return out;
}

/**
 * Splits a PACKET frame into header fields, checksums and payload. The payload stays the
 * pieces it arrived in (views; bodyPieces), never copied; the header and checksums are
 * views too unless they straddle two pieces (then a small copy).
 */
export function decodePacket(frame: Frame, chunkBytes: number, checksumType: ChecksumType): Packet {
  const pieces = bodyPieces(frame);
  const bodyBytes = piecesLength(pieces);
  if (bodyBytes < PACKET_HEADER_BYTES)
    throw new DfsError('MALFORMED', `packet: ${bodyBytes} bytes is shorter than its header`);
  const b = viewOf(pieces, 0, PACKET_HEADER_BYTES);
  const flags = b.readUInt8(24);
  if ((flags & ~PACKET_FLAGS_KNOWN) !== 0 || b.readUInt8(25) !== 0 || b.readUInt16BE(26) !== 0) {
    throw new DfsError('MALFORMED', 'packet: reserved bits set');
  }
  const payloadBytes = b.readUInt32BE(28);
  const sums = checksumCount(payloadBytes, chunkBytes) * checksumBytes(checksumType);
  if (PACKET_HEADER_BYTES + sums + payloadBytes !== bodyBytes) {
    throw new DfsError(
      'MALFORMED',
      `packet: ${payloadBytes} payload bytes and ${sums} checksum bytes do not fill a ${bodyBytes}-byte body`,
    );
  }
  return {
    blockId: readU64(b, 0, 'blockId'),
    offsetInBlock: readU64(b, 8, 'offsetInBlock'),
    seqno: readU64(b, 16, 'seqno'),
    last: (flags & PACKET_FLAG_LAST) !== 0,
    ...((flags & (PACKET_FLAG_FLUSH | PACKET_FLAG_SYNC)) !== 0
      ? { flush: (flags & PACKET_FLAG_SYNC) !== 0 ? ('sync' as const) : ('flush' as const) }
      : {}),
    payloadBytes,
    checksums: viewOf(pieces, PACKET_HEADER_BYTES, sums),
    payload: slicePieces(pieces, PACKET_HEADER_BYTES + sums, payloadBytes),
  };
}

// ---- acks ---------------------------------------------------------------------------

export interface Ack {
  seqno: number;
  statuses: number[];
}

export function encodeAck(requestId: number, ack: Ack): Buffer {
  const bodyBytes = 9 + ack.statuses.length;
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bodyBytes);
  writeFrameHeader(out, 0, FrameKind.ACK, 0, requestId, bodyBytes);
  writeU64(out, FRAME_HEADER_BYTES, ack.seqno);
  out.writeUInt8(ack.statuses.length, FRAME_HEADER_BYTES + 8);
  for (let i = 0; i < ack.statuses.length; i++) out.writeUInt8(ack.statuses[i]!, FRAME_HEADER_BYTES + 9 + i);
  return out;
}

export function decodeAck(frame: Frame): Ack {
  const r = new WireReader(frame.body, 'ack');
  const seqno = r.u64('seqno');
  const n = r.u8('count');
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) statuses.push(r.u8('status'));
  r.end();
  return { seqno, statuses };
}

// ---- helpers ------------------------------------------------------------------------

const U32 = 0x1_0000_0000;

/** Same contract as WireWriter.u64: refuse what the decoder would refuse, never round. */
function writeU64(b: Buffer, at: number, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0)
    throw new DfsError('INVALID_ARGUMENT', `u64 field out of range: ${v}`);
  b.writeUInt32BE(Math.floor(v / U32), at);
  b.writeUInt32BE(v % U32, at + 4);
}

function readU64(b: Buffer, at: number, field: string): number {
  const hi = b.readUInt32BE(at);
  if (hi >= 0x200000) throw new DfsError('MALFORMED', `packet: ${field} exceeds 2^53-1`);
  return hi * U32 + b.readUInt32BE(at + 4);
}
