/**
 * Helpers shared by the protocol tests: a seeded PRNG, reference xxh32 and xxh64 (and xxh3
 * from hash-wasm, a build independent of the native one the data path uses), frame building
 * and decoding utilities, and the golden-vector loader with a decoder that turns a vector's
 * frame into the JSON shape stored in `protocol/golden-vectors.json`.
 */
import { readFileSync } from 'node:fs';
import { createXXHash3 } from 'hash-wasm';
import {
  BlockColumns,
  checksumBytes,
  ChecksumType,
  dataCodecs,
  decodeAck,
  decodeNotice,
  decodeDataBody,
  decodeError,
  decodeHello,
  decodeHelloReply,
  decodePacket,
  decodeRequest,
  decodeResponse,
  encodeAck,
  encodeCommandsPending,
  encodeDataRequest,
  encodeDataResponse,
  encodeError,
  encodeHello,
  encodeHelloReply,
  encodePacketHeader,
  encodeRequest,
  encodeResponse,
  DfsError,
  ERROR_CODES,
  FRAME_HEADER_BYTES,
  rpcCodecs,
  BlockHealthState,
  DatanodeReportState,
  ReplicaState,
  FrameDecoder,
  writeFrameHeader,
  type Ack,
  type BadReplica,
  type Block,
  type BlockHealth,
  type DatanodeCommand,
  type VolumeReport,
  type DatanodeInfo,
  type DatanodeReportEntry,
  type FileStatus,
  type LocatedBlock,
  type ReadBlockRequest,
  type ReadBlockResponse,
  type BlockChecksumResponse,
  BLOCK_DIGEST_BYTES,
  type WriteBlockRequest,
  type WriteBlockResponse,
  type InitReplicaRecoveryRequest,
  type InitReplicaRecoveryResponse,
  type UpdateReplicaUnderRecoveryRequest,
  type UpdateReplicaUnderRecoveryResponse,
  type DataRpcName,
  type DataMessages,
  type ErrorCode,
  type Frame,
  type FrameDecoderOptions,
  type FrameKind,
  type HandshakeStatus,
  type Role,
  type RpcName,
  type RpcRequest,
  type RpcResponse,
} from '../../protocol/index.js';

// ---- randomness --------------------------------------------------------------------------

/** mulberry32: a tiny, fast, seedable PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  readonly next: () => number;
  constructor(readonly seed: number) {
    this.next = mulberry32(seed);
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  bool(): boolean {
    return this.next() < 0.5;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  /** A u64 that fits in 2^53-1, biased towards edge values. */
  u64(): number {
    switch (this.int(6)) {
      case 0:
        return 0;
      case 1:
        return Number.MAX_SAFE_INTEGER;
      case 2:
        return 0xffffffff;
      case 3:
        return 0x1_0000_0000;
      case 4:
        return this.int(1000);
      default:
        return Math.floor(this.next() * Number.MAX_SAFE_INTEGER);
    }
  }
  u32(): number {
    return this.pick([0, 1, 0xffffffff, this.int(0x1_0000_0000)]);
  }
  u16(): number {
    return this.pick([0, 1, 0xffff, this.int(0x10000)]);
  }
  /** A well-formed string: empty, ASCII, or mixed 1- to 4-byte UTF-8. */
  str(maxChars = 12): string {
    const alphabet = ['a', 'Z', '/', '.', ' ', 'é', 'ß', '日', '本', '€', '😀', '\u0000', '\uffff'];
    const n = this.int(maxChars + 1);
    let s = '';
    for (let i = 0; i < n; i++) s += this.pick(alphabet);
    return s;
  }
  /** Splits `buf` into random pieces (some empty), covering it exactly. */
  split(buf: Buffer, piecesMax = 8): Buffer[] {
    const pieces: Buffer[] = [];
    let at = 0;
    while (at < buf.length) {
      const n = this.int(Math.min(buf.length - at, Math.ceil(buf.length / piecesMax) * 2) + 1);
      pieces.push(buf.subarray(at, at + n));
      at += n;
    }
    return pieces;
  }
}

/** A seed from DFS_FUZZ_SEED (to replay a failure) or a fresh random one. */
export function fuzzSeed(): number {
  const fromEnv = process.env['DFS_FUZZ_SEED'];
  if (fromEnv !== undefined && fromEnv !== '') return Number(fromEnv) >>> 0;
  return (Math.random() * 0x1_0000_0000) >>> 0;
}

// ---- reference xxh32 (independent of xxhash-wasm, used to check the golden packets) ------

const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;

const rotl = (x: number, r: number): number => ((x << r) | (x >>> (32 - r))) >>> 0;
const round = (acc: number, lane: number): number =>
  Math.imul(rotl((acc + Math.imul(lane, P2)) >>> 0, 13), P1) >>> 0;

export function xxh32Reference(input: Uint8Array, seed = 0): number {
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const len = input.length;
  let i = 0;
  let h: number;
  if (len >= 16) {
    let v1 = (seed + P1 + P2) >>> 0;
    let v2 = (seed + P2) >>> 0;
    let v3 = seed >>> 0;
    let v4 = (seed - P1) >>> 0;
    for (; i <= len - 16; i += 16) {
      v1 = round(v1, view.getUint32(i, true));
      v2 = round(v2, view.getUint32(i + 4, true));
      v3 = round(v3, view.getUint32(i + 8, true));
      v4 = round(v4, view.getUint32(i + 12, true));
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) >>> 0;
  } else {
    h = (seed + P5) >>> 0;
  }
  h = (h + len) >>> 0;
  for (; i + 4 <= len; i += 4) {
    h = (h + Math.imul(view.getUint32(i, true), P3)) >>> 0;
    h = Math.imul(rotl(h, 17), P4) >>> 0;
  }
  for (; i < len; i++) {
    h = (h + Math.imul(input[i]!, P5)) >>> 0;
    h = Math.imul(rotl(h, 11), P1) >>> 0;
  }
  h ^= h >>> 15;
  h = Math.imul(h, P2) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, P3) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

// ---- reference xxh64 (BigInt, independent of xxhash-wasm, for the xxh64 golden packets) ---

const M64 = (1n << 64n) - 1n;
const Q1 = 0x9e3779b185ebca87n;
const Q2 = 0xc2b2ae3d27d4eb4fn;
const Q3 = 0x165667b19e3779f9n;
const Q4 = 0x85ebca77c2b2ae63n;
const Q5 = 0x27d4eb2f165667c5n;

const rotl64 = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & M64;
const round64 = (acc: bigint, lane: bigint): bigint => (rotl64((acc + lane * Q2) & M64, 31n) * Q1) & M64;
const merge64 = (acc: bigint, v: bigint): bigint => ((acc ^ round64(0n, v)) * Q1 + Q4) & M64;

export function xxh64Reference(input: Uint8Array, seed = 0n): bigint {
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const len = input.length;
  let i = 0;
  let h: bigint;
  if (len >= 32) {
    let v1 = (seed + Q1 + Q2) & M64;
    let v2 = (seed + Q2) & M64;
    let v3 = seed & M64;
    let v4 = (seed - Q1) & M64;
    for (; i <= len - 32; i += 32) {
      v1 = round64(v1, view.getBigUint64(i, true));
      v2 = round64(v2, view.getBigUint64(i + 8, true));
      v3 = round64(v3, view.getBigUint64(i + 16, true));
      v4 = round64(v4, view.getBigUint64(i + 24, true));
    }
    h = (rotl64(v1, 1n) + rotl64(v2, 7n) + rotl64(v3, 12n) + rotl64(v4, 18n)) & M64;
    for (const v of [v1, v2, v3, v4]) h = merge64(h, v);
  } else {
    h = (seed + Q5) & M64;
  }
  h = (h + BigInt(len)) & M64;
  for (; i + 8 <= len; i += 8) {
    h ^= round64(0n, view.getBigUint64(i, true));
    h = (rotl64(h, 27n) * Q1 + Q4) & M64;
  }
  if (i + 4 <= len) {
    h ^= (BigInt(view.getUint32(i, true)) * Q1) & M64;
    h = (rotl64(h, 23n) * Q2 + Q3) & M64;
    i += 4;
  }
  for (; i < len; i++) {
    h ^= (BigInt(input[i]!) * Q5) & M64;
    h = (rotl64(h, 11n) * Q1) & M64;
  }
  h ^= h >> 33n;
  h = (h * Q2) & M64;
  h ^= h >> 29n;
  h = (h * Q3) & M64;
  h ^= h >> 32n;
  return h;
}

const xxh3Hasher = await createXXHash3();

/** XXH3_64bits (seed 0) as its 8 big-endian bytes, from hash-wasm (not the native addon the data path uses). */
export function xxh3Reference(input: Uint8Array): Buffer {
  xxh3Hasher.init();
  xxh3Hasher.update(input);
  return Buffer.from(xxh3Hasher.digest('binary'));
}

/**
 * The checksums of a payload, as the packet format lays them out: xxh32 (with `h32`, the
 * reference by default) or, for ChecksumType.XXH64 and XXH3, the reference xxh64 and xxh3.
 */
export function packetChecksums(
  payload: Buffer,
  chunkBytes: number,
  h32 = xxh32Reference,
  type: ChecksumType = ChecksumType.XXH32,
): Buffer {
  const n = Math.ceil(payload.length / chunkBytes);
  const size = checksumBytes(type);
  const out = Buffer.alloc(n * size);
  for (let i = 0; i < n; i++) {
    const chunk = payload.subarray(i * chunkBytes, (i + 1) * chunkBytes);
    if (type === ChecksumType.XXH3) out.set(xxh3Reference(chunk), i * size);
    else if (type === ChecksumType.XXH64) out.writeBigUInt64BE(xxh64Reference(chunk), i * size);
    else out.writeUInt32BE(h32(chunk, 0) >>> 0, i * size);
  }
  return out;
}

// ---- frames ------------------------------------------------------------------------------

/** A frame with any header values, for tests that need bytes the encoders refuse to make. */
export function rawFrame(kind: number, opcode: number, requestId: number, body: Buffer, flags = 0): Buffer {
  const out = Buffer.alloc(FRAME_HEADER_BYTES + body.length);
  writeFrameHeader(out, 0, kind as FrameKind, opcode, requestId, body.length);
  out.writeUInt16BE(flags, 6);
  body.copy(out, FRAME_HEADER_BYTES);
  return out;
}

/** The body of an encoded frame (a copy). */
export function bodyOf(frame: Buffer): Buffer {
  return Buffer.from(frame.subarray(FRAME_HEADER_BYTES));
}

/** Re-seals `body` under the header of `frame` (new length). */
export function withBody(frame: Buffer, body: Buffer): Buffer {
  return rawFrame(frame.readUInt8(4), frame.readUInt8(5), frame.readUInt32BE(8), body, frame.readUInt16BE(6));
}

export interface FrameSnapshot {
  kind: number;
  opcode: number;
  flags: number;
  requestId: number;
  bodyHex: string;
}

export function snapshot(f: Frame): FrameSnapshot {
  return {
    kind: f.kind,
    opcode: f.opcode,
    flags: f.flags,
    requestId: f.requestId,
    bodyHex: f.body.toString('hex'),
  };
}

/** Feeds `pieces` to a fresh decoder and returns every frame (snapshotted at delivery). */
export function decodePieces(pieces: readonly Buffer[], options: FrameDecoderOptions): FrameSnapshot[] {
  const decoder = new FrameDecoder(options);
  const out: FrameSnapshot[] = [];
  for (const p of pieces) decoder.push(p, (f) => out.push(snapshot(f)));
  expectIdle(decoder);
  return out;
}

export function expectIdle(decoder: FrameDecoder): void {
  if (!decoder.idle) throw new Error(`decoder holds ${decoder.buffered} bytes of an unfinished frame`);
}

/** Decodes exactly one frame from `bytes`, delivered whole. */
export function decodeOne(bytes: Buffer, options: FrameDecoderOptions = { bodyBytesMax: 1 << 24 }): Frame {
  const frames: Frame[] = [];
  new FrameDecoder(options).push(bytes, (f) => frames.push(f));
  if (frames.length !== 1) throw new Error(`expected one frame, got ${frames.length}`);
  return frames[0]!;
}

/** Runs `fn` and returns the DfsError it throws (fails if it throws anything else or nothing). */
export function dfsErrorOf(fn: () => unknown): DfsError {
  try {
    fn();
  } catch (err) {
    if (err instanceof DfsError) return err;
    throw new Error(`expected a DfsError, got ${String(err)}`, { cause: err });
  }
  throw new Error('expected a DfsError, nothing was thrown');
}

// ---- golden vectors ----------------------------------------------------------------------

export type VectorType =
  | 'hello'
  | 'helloReply'
  | 'request'
  | 'response'
  | 'error'
  | 'dataRequest'
  | 'dataResponse'
  | 'packet'
  | 'ack'
  | 'notice';

export interface GoldenVector {
  name: string;
  type: VectorType;
  rpc?: string;
  /** Packet vectors: the block's chunk size and ChecksumType, which the packet layout needs. */
  chunkBytes?: number;
  checksumType?: number;
  hex: string;
  decoded: Record<string, unknown>;
}

export interface DecodedFrameJson {
  frame: { kind: number; opcode: number; flags: number; requestId: number; bodyBytes: number };
  message: Record<string, unknown>;
}

export function loadGoldenVectors(): GoldenVector[] {
  const url = new URL('../../protocol/golden-vectors.json', import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as GoldenVector[];
}

export const isFrameVector = (v: GoldenVector): boolean => v.type !== 'hello' && v.type !== 'helloReply';

interface PacketJson {
  blockId: number;
  offsetInBlock: number;
  seqno: number;
  last: boolean;
  /** Present on hflush ('flush') and hsync ('sync') packets only. */
  flush?: 'flush' | 'sync';
  payloadBytes: number;
  checksums: string[];
  payloadHex: string;
}

/** Raw byte fields (a BLOCK_CHECKSUM digest) appear in the vectors as {"hex": "..."}. */
function bytesAsHex(m: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) out[k] = Buffer.isBuffer(v) ? { hex: v.toString('hex') } : v;
  return out;
}

function hexAsBytes(m: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) {
    const hex = typeof v === 'object' && v !== null ? (v as { hex?: unknown }).hex : undefined;
    out[k] = typeof hex === 'string' ? Buffer.from(hex, 'hex') : v;
  }
  return out;
}

/** Decodes a vector's frame into the JSON shape of `decoded.message`. */
/** A block report's blocks decode as columns (BlockColumns): compared as the list they encode. */
export function asLists(value: unknown): unknown {
  if (value instanceof BlockColumns) return value.toArray();
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asLists(v)]));
}

export function decodeVectorMessage(v: GoldenVector, frame: Frame): Record<string, unknown> {
  switch (v.type) {
    case 'request':
      return asLists(decodeRequest(v.rpc as RpcName, frame)) as Record<string, unknown>;
    case 'response':
      return decodeResponse(v.rpc as RpcName, frame) as Record<string, unknown>;
    case 'dataRequest':
      return decodeDataBody<unknown>(
        dataCodecs[v.rpc as DataRpcName].req,
        frame,
        `${v.rpc} request`,
      ) as Record<string, unknown>;
    case 'dataResponse':
      return bytesAsHex(
        decodeDataBody<unknown>(dataCodecs[v.rpc as DataRpcName].res, frame, `${v.rpc} response`) as Record<
          string,
          unknown
        >,
      );
    case 'error': {
      const e = decodeError(frame);
      return { code: e.code, message: e.message };
    }
    case 'packet': {
      const type = v.checksumType as ChecksumType;
      const p = decodePacket(frame, v.chunkBytes!, type);
      const size = checksumBytes(type);
      const checksums: string[] = [];
      for (let i = 0; i < p.checksums.length; i += size)
        checksums.push(p.checksums.subarray(i, i + size).toString('hex'));
      const out: PacketJson = {
        blockId: p.blockId,
        offsetInBlock: p.offsetInBlock,
        seqno: p.seqno,
        last: p.last,
        ...(p.flush === undefined ? {} : { flush: p.flush }),
        payloadBytes: p.payloadBytes,
        checksums,
        payloadHex: Buffer.concat(p.payload).toString('hex'),
      };
      return out as unknown as Record<string, unknown>;
    }
    case 'ack':
      return decodeAck(frame) as unknown as Record<string, unknown>;
    case 'notice':
      decodeNotice(frame);
      return {};
    default:
      throw new Error(`not a frame vector: ${v.type}`);
  }
}

/** Decodes a handshake vector. */
export function decodeVectorHandshake(v: GoldenVector, bytes: Buffer): Record<string, unknown> {
  return (v.type === 'hello' ? decodeHello(bytes) : decodeHelloReply(bytes)) as unknown as Record<
    string,
    unknown
  >;
}

/** Encodes a vector's decoded values with the codecs (the encoder direction of the vector). */
export function encodeVector(v: GoldenVector): Buffer {
  if (v.type === 'hello')
    return encodeHello(
      v.decoded['role'] as Role,
      v.decoded['version'] as number,
      v.decoded['user'] as string,
      v.decoded['clientId'] as string,
    );
  if (v.type === 'helloReply')
    return encodeHelloReply(v.decoded['status'] as HandshakeStatus, v.decoded['version'] as number);
  const d = v.decoded as unknown as DecodedFrameJson;
  const id = d.frame.requestId;
  const m = d.message;
  switch (v.type) {
    case 'request':
      return encodeRequest(v.rpc as RpcName, id, m as RpcRequest<RpcName>);
    case 'response':
      return encodeResponse(v.rpc as RpcName, id, m as RpcResponse<RpcName>);
    case 'dataRequest':
      return encodeDataRequest(v.rpc as DataRpcName, id, m as never);
    case 'dataResponse':
      return encodeDataResponse(v.rpc as DataRpcName, id, hexAsBytes(m) as never);
    case 'error':
      return encodeError(d.frame.opcode, id, new DfsError(m['code'] as ErrorCode, m['message'] as string));
    case 'packet': {
      const p = m as unknown as PacketJson;
      const payload = Buffer.from(p.payloadHex, 'hex');
      const sums = Buffer.from(p.checksums.join(''), 'hex');
      const head = encodePacketHeader(
        id,
        {
          blockId: p.blockId,
          offsetInBlock: p.offsetInBlock,
          seqno: p.seqno,
          last: p.last,
          ...(p.flush === undefined ? {} : { flush: p.flush }),
          payloadBytes: p.payloadBytes,
        },
        sums,
      );
      return Buffer.concat([head, payload]);
    }
    case 'ack':
      return encodeAck(id, m as unknown as Ack);
    case 'notice':
      return encodeCommandsPending();
  }
}

// ---- random messages ---------------------------------------------------------------------

export function randomBlock(rng: Rng): Block {
  return { blockId: rng.u64(), genStamp: rng.u64(), numBytes: rng.u64() };
}

export function randomDatanode(rng: Rng): DatanodeInfo {
  return { nodeId: rng.str(), host: rng.str(), port: rng.u16() };
}

export function randomList<T>(rng: Rng, make: (rng: Rng) => T, max = 3): T[] {
  const n = rng.int(max + 1);
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(make(rng));
  return out;
}

export function randomFileStatus(rng: Rng): FileStatus {
  return {
    path: rng.str(),
    type: rng.pick([1, 2] as const),
    length: rng.u64(),
    replication: rng.u16(),
    blockBytes: rng.u64(),
    mtimeMs: rng.u64(),
    blockCount: rng.u32(),
    underConstruction: rng.bool(),
    childCount: rng.u32(),
    owner: rng.str(),
    group: rng.str(),
    permission: rng.int(0o2000),
  };
}

export function randomLocatedBlock(rng: Rng): LocatedBlock {
  return { block: randomBlock(rng), offset: rng.u64(), locations: randomList(rng, randomDatanode) };
}

const maybe = <T>(rng: Rng, make: (rng: Rng) => T): T | null => (rng.bool() ? make(rng) : null);

/** A u8 enum value the codec carries without judging: mostly known values, sometimes any byte. */
function enumU8(rng: Rng, known: readonly number[]): number {
  return rng.int(4) === 0 ? rng.int(256) : rng.pick(known);
}

export function randomBadReplica(rng: Rng): BadReplica {
  return { block: randomBlock(rng), nodeId: rng.str() };
}

/** A DataNode's storage figures (register, heartbeat). */
function randomStorage(rng: Rng): {
  nodeId: string;
  capacityBytes: number;
  usedBytes: number;
  remainingBytes: number;
  failedVolumes: number;
} {
  return {
    nodeId: rng.str(),
    capacityBytes: rng.u64(),
    usedBytes: rng.u64(),
    remainingBytes: rng.u64(),
    failedVolumes: rng.u32(),
  };
}

export function randomVolumeReport(rng: Rng): VolumeReport {
  return { path: rng.str(), capacityBytes: rng.u64(), usedBytes: rng.u64(), failed: rng.bool() };
}

export function randomDatanodeCommand(rng: Rng): DatanodeCommand {
  // CommandType 1-4; the codec does not judge the type (the DataNode ignores unknown ones).
  return {
    type: enumU8(rng, [1, 2, 3, 4]),
    blocks: randomList(rng, randomBlock),
    targets: randomList(rng, randomDatanode),
  };
}

export function randomDatanodeReportEntry(rng: Rng): DatanodeReportEntry {
  return {
    nodeId: rng.str(),
    host: rng.str(),
    port: rng.u16(),
    // Checked on decode (a value outside DatanodeReportState is MALFORMED): known values only.
    state: rng.pick(Object.values(DatanodeReportState)),
    capacityBytes: rng.u64(),
    usedBytes: rng.u64(),
    remainingBytes: rng.u64(),
    failedVolumes: rng.u32(),
    blockCount: rng.u32(),
    activeTransfers: rng.u32(),
    lastHeartbeatAgoMs: rng.u64(),
    lastBlockReportMs: rng.u64(),
    lastBlockReportBlocks: rng.u32(),
    drainBlocks: rng.u32(),
    drainStuckBlocks: rng.u32(),
  };
}

export function randomBlockHealth(rng: Rng): BlockHealth {
  // Health and replica states are checked on decode (others are MALFORMED): known values only.
  return {
    block: randomBlock(rng),
    offset: rng.u64(),
    health: rng.pick(Object.values(BlockHealthState)),
    replicas: randomList(
      rng,
      (r) => ({ node: randomDatanode(r), state: r.pick(Object.values(ReplicaState)) }),
      4,
    ),
  };
}

/** A random, valid request for every NameNode RPC. */
export function randomRequest<N extends RpcName>(rng: Rng, name: N): RpcRequest<N> {
  const s = (): string => rng.str();
  const all: { [K in RpcName]: () => RpcRequest<K> } = {
    mkdir: () => ({ path: s(), parents: rng.bool(), permission: rng.int(0o2000) }),
    setPermission: () => ({ path: s(), permission: rng.int(0o2000) }),
    setOwner: () => ({ path: s(), owner: s(), group: s() }),
    list: () => ({ path: s(), startAfter: s(), limit: rng.u32() }),
    stat: () => ({ path: s() }),
    delete: () => ({ path: s(), recursive: rng.bool() }),
    rename: () => ({ src: s(), dst: s() }),
    create: () => ({
      path: s(),
      clientName: s(),
      overwrite: rng.bool(),
      createParent: rng.bool(),
      replication: rng.u16(),
      blockBytes: rng.u64(),
      permission: rng.int(0o2000),
    }),
    addBlock: () => ({
      path: s(),
      clientName: s(),
      previous: maybe(rng, randomBlock),
      excludeNodes: randomList(rng, (r) => r.str()),
      // Often 0 (none), as most addBlocks carry; otherwise a reserved block's id.
      reservedBlockId: rng.bool() ? 0 : rng.u64(),
    }),
    reserveBlock: () => ({
      path: s(),
      clientName: s(),
      afterBlockId: rng.u64(),
      excludeNodes: randomList(rng, (r) => r.str()),
    }),
    complete: () => ({ path: s(), clientName: s(), last: maybe(rng, randomBlock) }),
    abandonBlock: () => ({ path: s(), clientName: s(), blockId: rng.u64() }),
    renewLease: () => ({ clientName: s() }),
    getBlockLocations: () => ({ path: s(), offset: rng.u64(), length: rng.u64() }),
    serverInfo: () => ({}),
    reportBadBlocks: () => ({ replicas: randomList(rng, randomBadReplica) }),
    bumpGenStamp: () => ({ path: s(), clientName: s(), blockId: rng.u64() }),
    datanodeReport: () => ({}),
    safeMode: () => ({ action: enumU8(rng, [0, 1, 2]) }),
    setReplication: () => ({ path: s(), replication: rng.u16() }),
    decommission: () => ({ node: s(), action: enumU8(rng, [1, 2]) }),
    replicationStats: () => ({}),
    triggerBlockReport: () => ({ node: s() }),
    haStatus: () => ({}),
    haFailover: () => ({ target: s() }),
    setQuota: () => ({ path: s(), nsQuota: rng.u64(), dsQuota: rng.u64() }),
    contentSummary: () => ({ path: s() }),
    fsync: () => ({ path: s(), clientName: s(), blockId: rng.u64(), lastBlockLength: rng.u64() }),
    append: () => ({ path: s(), clientName: s() }),
    blockHealth: () => ({ path: s(), startBlock: rng.u32(), limit: rng.u32() }),
    register: () => ({
      clusterId: s(),
      host: s(),
      port: rng.u16(),
      httpPort: rng.u16(),
      ...randomStorage(rng),
    }),
    heartbeat: () => ({
      ...randomStorage(rng),
      activeTransfers: rng.u32(),
      volumes: randomList(rng, randomVolumeReport),
    }),
    blockReceived: () => ({
      nodeId: s(),
      received: randomList(rng, randomBlock),
      deleted: randomList(rng, (r) => r.u64()),
    }),
    blockReport: () => ({
      nodeId: s(),
      blocks: randomList(rng, randomBlock, 6),
      unfinished: randomList(rng, randomBlock, 3),
    }),
    unregister: () => ({ nodeId: s() }),
    replicaCopyFailed: () => ({
      nodeId: s(),
      block: randomBlock(rng),
      failedTargets: randomList(rng, () => s()),
      reason: s(),
    }),
    commitBlockSynchronization: () => ({
      nodeId: s(),
      block: randomBlock(rng),
      nodes: randomList(rng, () => s()),
    }),
  };
  return all[name]();
}

/** A random, valid response for every NameNode RPC. */
export function randomResponse<N extends RpcName>(rng: Rng, name: N): RpcResponse<N> {
  const all: { [K in RpcName]: () => RpcResponse<K> } = {
    mkdir: () => ({}),
    setPermission: () => ({}),
    setOwner: () => ({}),
    list: () => ({ entries: randomList(rng, randomFileStatus), hasMore: rng.bool() }),
    stat: () => randomFileStatus(rng),
    delete: () => ({}),
    rename: () => ({}),
    create: () => randomFileStatus(rng),
    addBlock: () => randomLocatedBlock(rng),
    reserveBlock: () => randomLocatedBlock(rng),
    complete: () => ({ completed: rng.bool() }),
    abandonBlock: () => ({}),
    renewLease: () => ({}),
    getBlockLocations: () => ({
      fileLength: rng.u64(),
      underConstruction: rng.bool(),
      blocks: randomList(rng, randomLocatedBlock),
    }),
    serverInfo: () => ({
      clusterId: rng.str(),
      version: rng.str(),
      safeMode: rng.bool(),
      lastTxid: rng.u64(),
      fileCount: rng.u64(),
      directoryCount: rng.u64(),
      blockCount: rng.u64(),
      trashIntervalMs: rng.u64(),
    }),
    reportBadBlocks: () => ({}),
    bumpGenStamp: () => ({ genStamp: rng.u64() }),
    datanodeReport: () => ({ nodes: randomList(rng, randomDatanodeReportEntry) }),
    safeMode: () => ({
      on: rng.bool(),
      manual: rng.bool(),
      reportedBlocks: rng.u64(),
      totalBlocks: rng.u64(),
      status: rng.str(40),
    }),
    setReplication: () => ({}),
    decommission: () => ({}),
    triggerBlockReport: () => ({ nodeId: rng.str(), lastBlockReportMs: rng.u64() }),
    haStatus: () => ({
      role: rng.int(256),
      nodeId: rng.str(),
      epoch: rng.u64(),
      lastAppliedTxid: rng.u64(),
      journalHeadTxid: rng.u64(),
      activeId: rng.str(),
      activeAddress: rng.str(),
      activeEpoch: rng.u64(),
    }),
    haFailover: () => ({}),
    setQuota: () => ({}),
    fsync: () => ({}),
    append: () => ({
      status: randomFileStatus(rng),
      lastBlock: maybe(rng, randomLocatedBlock),
      reopened: rng.bool(),
    }),
    contentSummary: () => ({
      directories: rng.u64(),
      files: rng.u64(),
      length: rng.u64(),
      spaceConsumed: rng.u64(),
      nsQuota: rng.u64(),
      dsQuota: rng.u64(),
    }),
    replicationStats: () => ({
      underReplicated: rng.u64(),
      corrupt: rng.u64(),
      missing: rng.u64(),
      pendingCopies: rng.u64(),
      corruptBlockIds: randomList(rng, (r) => r.u64(), 5),
      missingBlockIds: randomList(rng, (r) => r.u64(), 5),
    }),
    blockHealth: () => ({
      fileLength: rng.u64(),
      replication: rng.u16(),
      underConstruction: rng.bool(),
      blocks: randomList(rng, randomBlockHealth),
      hasMore: rng.bool(),
    }),
    register: () => ({ epoch: rng.u64() }),
    heartbeat: () => ({ epoch: rng.u64(), commands: randomList(rng, randomDatanodeCommand) }),
    blockReceived: () => ({}),
    blockReport: () => ({}),
    unregister: () => ({}),
    replicaCopyFailed: () => ({}),
    commitBlockSynchronization: () => ({}),
  };
  return all[name]();
}

export function randomWriteBlockRequest(rng: Rng): WriteBlockRequest {
  return {
    block: randomBlock(rng),
    clientName: rng.str(),
    stage: rng.int(256),
    chunkBytes: rng.u32(),
    checksumType: randomChecksumType(rng),
    targets: randomList(rng, randomDatanode),
  };
}
export function randomChecksumType(rng: Rng): ChecksumType {
  return rng.pick([ChecksumType.XXH32, ChecksumType.XXH64, ChecksumType.XXH3]);
}
export function randomWriteBlockResponse(rng: Rng): WriteBlockResponse {
  return { firstBadLink: rng.str(), checksumType: randomChecksumType(rng) };
}
export function randomReadBlockRequest(rng: Rng): ReadBlockRequest {
  return { block: randomBlock(rng), offset: rng.u64(), length: rng.u64() };
}
export function randomReadBlockResponse(rng: Rng): ReadBlockResponse {
  return {
    chunkBytes: rng.u32(),
    checksumType: randomChecksumType(rng),
    startOffset: rng.u64(),
    length: rng.u64(),
  };
}

export function randomBlockChecksumResponse(rng: Rng): BlockChecksumResponse {
  return {
    chunkBytes: rng.u32(),
    checksumType: randomChecksumType(rng),
    numBytes: rng.u64(),
    digest: rng.bytes(BLOCK_DIGEST_BYTES),
  };
}
export function randomInitReplicaRecoveryRequest(rng: Rng): InitReplicaRecoveryRequest {
  return { blockId: rng.u64(), recoveryId: rng.u64() };
}
export function randomInitReplicaRecoveryResponse(rng: Rng): InitReplicaRecoveryResponse {
  return { genStamp: rng.u64(), numBytes: rng.u64(), state: rng.int(256) };
}
export function randomUpdateReplicaRequest(rng: Rng): UpdateReplicaUnderRecoveryRequest {
  return { blockId: rng.u64(), recoveryId: rng.u64(), newLength: rng.u64() };
}
export function randomUpdateReplicaResponse(rng: Rng): UpdateReplicaUnderRecoveryResponse {
  return { block: randomBlock(rng) };
}

export const RPC_NAMES = Object.keys(rpcCodecs) as RpcName[];

/** A random valid request and response for every data-connection RPC. */
const RANDOM_DATA: {
  [N in DataRpcName]: {
    req: (rng: Rng) => DataMessages[N]['req'];
    res: (rng: Rng) => DataMessages[N]['res'];
  };
} = {
  writeBlock: { req: randomWriteBlockRequest, res: randomWriteBlockResponse },
  readBlock: { req: randomReadBlockRequest, res: randomReadBlockResponse },
  initReplicaRecovery: { req: randomInitReplicaRecoveryRequest, res: randomInitReplicaRecoveryResponse },
  updateReplicaUnderRecovery: { req: randomUpdateReplicaRequest, res: randomUpdateReplicaResponse },
  blockChecksum: { req: (rng) => ({ block: randomBlock(rng) }), res: randomBlockChecksumResponse },
};
const DATA_RPC_NAMES = Object.keys(RANDOM_DATA) as DataRpcName[];

function randomDataFrame<N extends DataRpcName>(rng: Rng, id: number, name: N, response: boolean): Buffer {
  const gen = RANDOM_DATA[name];
  return response ? encodeDataResponse(name, id, gen.res(rng)) : encodeDataRequest(name, id, gen.req(rng));
}

/** One random valid frame of any kind (NameNode or data), for stream and mutation tests. */
export function randomValidFrame(rng: Rng): Buffer {
  const id = rng.u32();
  const kind = rng.int(8);
  switch (kind) {
    case 0: {
      const n = rng.pick(RPC_NAMES);
      return encodeRequest(n, id, randomRequest(rng, n));
    }
    case 1: {
      const n = rng.pick(RPC_NAMES);
      return encodeResponse(n, id, randomResponse(rng, n));
    }
    case 2:
      return encodeError(
        rng.int(256),
        id,
        new DfsError(rng.pick(Object.keys(ERROR_CODES) as ErrorCode[]), rng.str(40)),
      );
    case 3:
    case 4:
      return randomDataFrame(rng, id, rng.pick(DATA_RPC_NAMES), kind === 4);
    case 5:
    case 6: {
      const chunkBytes = rng.range(1, 64);
      const payload = rng.bytes(rng.int(200));
      const sums = packetChecksums(payload, chunkBytes, xxh32Reference, randomChecksumType(rng));
      const head = encodePacketHeader(
        id,
        {
          blockId: rng.u64(),
          offsetInBlock: rng.u64(),
          seqno: rng.u64(),
          last: rng.bool(),
          payloadBytes: payload.length,
        },
        sums,
      );
      return Buffer.concat([head, payload]);
    }
    default:
      return encodeAck(id, { seqno: rng.u64(), statuses: randomList(rng, (r) => r.int(256), 5) });
  }
}
