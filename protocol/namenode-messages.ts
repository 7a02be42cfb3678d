/**
 * Client <-> NameNode RPC messages (PROTOCOL.md, "NameNode RPCs"). One request codec and
 * one response codec per opcode, the encoder and decoder of each written side by side so
 * they mirror each other field for field. Requests travel in REQUEST frames, answers in
 * RESPONSE frames with the same opcode and request id, failures in ERROR frames.
 */
import { DfsError, errorCodeFromWire, errorCodeToWire } from './errors.js';
import { FrameKind, frameWriter, sealFrame, type Frame } from './frame.js';
import type {
  Block,
  DatanodeInfo,
  FileStatus,
  FileType,
  LocatedBlock,
  LocatedBlocks,
  ServerInfo,
} from './types.js';
import { WireReader } from './wire-reader.js';
import type { WireWriter } from './wire-writer.js';

export interface Codec<T> {
  encode(w: WireWriter, value: T): void;
  decode(r: WireReader): T;
}

// ---- shared structures ----------------------------------------------------------------

/** Smallest encoded FileStatus (empty path): 2 + 1 + 8 + 2 + 8 + 8 + 4 + 1 + 4. */
const FILE_STATUS_BYTES_MIN = 38;

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
      .u32(s.childCount);
  },
  decode(r) {
    const path = r.str('path');
    const type = r.u8('type');
    if (type !== 1 && type !== 2) throw new DfsError('MALFORMED', `file status: unknown type ${type}`);
    return {
      path,
      type: type as FileType,
      length: r.u64('length'),
      replication: r.u16('replication'),
      blockBytes: r.u64('blockBytes'),
      mtimeMs: r.u64('mtimeMs'),
      blockCount: r.u32('blockCount'),
      underConstruction: r.bool('underConstruction'),
      childCount: r.u32('childCount'),
    };
  },
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

/** A list: u32 count then the elements; the count is checked against the bytes left. */
export function listCodec<T>(item: Codec<T>, minItemBytes: number): Codec<T[]> {
  return {
    encode(w, list) {
      w.u32(list.length);
      for (const v of list) item.encode(w, v);
    },
    decode(r) {
      const n = r.count(minItemBytes, 'list count');
      const out: T[] = new Array(n);
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

const datanodeListCodec = listCodec(datanodeInfoCodec, 6);
const blockListCodec = listCodec(blockCodec, 24);
const u64ListCodec = listCodec<number>({ encode: (w, v) => void w.u64(v), decode: (r) => r.u64() }, 8);
const optionalBlockCodec = optionalCodec(blockCodec);
const stringListCodec = listCodec<string>({ encode: (w, s) => void w.str(s), decode: (r) => r.str() }, 2);

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

/** Smallest ReplicaHealth: a DatanodeInfo with empty strings (6) and the state byte. */
const REPLICA_HEALTH_BYTES_MIN = 7;
/** Smallest BlockHealth: Block 24 + offset 8 + health 1 + an empty replica list 4. */
const BLOCK_HEALTH_BYTES_MIN = 37;

const replicaHealthListCodec = listCodec<ReplicaHealth>(
  {
    encode(w, v) {
      datanodeInfoCodec.encode(w, v.node);
      w.u8(v.state);
    },
    decode: (r) => ({ node: datanodeInfoCodec.decode(r), state: r.u8('state') }),
  },
  REPLICA_HEALTH_BYTES_MIN,
);

const blockHealthListCodec = listCodec<BlockHealth>(
  {
    encode(w, v) {
      blockCodec.encode(w, v.block);
      w.u64(v.offset).u8(v.health);
      replicaHealthListCodec.encode(w, v.replicas);
    },
    decode: (r) => ({
      block: blockCodec.decode(r),
      offset: r.u64('offset'),
      health: r.u8('health'),
      replicas: replicaHealthListCodec.decode(r),
    }),
  },
  BLOCK_HEALTH_BYTES_MIN,
);

const empty: Codec<Record<string, never>> = {
  encode() {},
  decode() {
    return {};
  },
};

// ---- requests and responses ---------------------------------------------------------

export interface MkdirRequest {
  path: string;
  parents: boolean;
}
export interface ListRequest {
  path: string;
  startAfter: string;
  limit: number;
}
export interface ListResponse {
  entries: FileStatus[];
  hasMore: boolean;
}
export interface PathRequest {
  path: string;
}
export interface DeleteRequest {
  path: string;
  recursive: boolean;
}
export interface RenameRequest {
  src: string;
  dst: string;
}
export interface CreateRequest {
  path: string;
  clientName: string;
  overwrite: boolean;
  createParent: boolean;
  replication: number;
  blockBytes: number;
}
export interface AddBlockRequest {
  path: string;
  clientName: string;
  /** The block before the new one, with its final length; null for the first block. */
  previous: Block | null;
  /** Node ids the writer could not reach, to avoid as targets. */
  excludeNodes: string[];
}
export interface CompleteRequest {
  path: string;
  clientName: string;
  last: Block | null;
}
export interface CompleteResponse {
  completed: boolean;
}
export interface AbandonBlockRequest {
  path: string;
  clientName: string;
  blockId: number;
}
export interface RenewLeaseRequest {
  clientName: string;
}
export interface GetBlockLocationsRequest {
  path: string;
  offset: number;
  length: number;
}
export interface BadReplica {
  block: Block;
  nodeId: string;
}
export interface ReportBadBlocksRequest {
  replicas: BadReplica[];
}
export interface BumpGenStampRequest {
  path: string;
  clientName: string;
  blockId: number;
}
export interface BumpGenStampResponse {
  genStamp: number;
}

/** What a DataNode tells about itself when it registers and in every heartbeat. */
export interface DatanodeStorageReport {
  nodeId: string;
  capacityBytes: number;
  usedBytes: number;
  remainingBytes: number;
}
export interface RegisterRequest extends DatanodeStorageReport {
  clusterId: string;
  host: string;
  port: number;
}
export interface HeartbeatRequest extends DatanodeStorageReport {
  activeTransfers: number;
}

export const CommandType = {
  /** Delete these replicas. */
  DELETE_BLOCKS: 1,
  /** Copy each block to the given targets (re-replication). */
  REPLICATE: 2,
  /** The NameNode does not know this node (it restarted): register again. */
  REREGISTER: 3,
  /** Send a full block report now. */
  BLOCK_REPORT: 4,
} as const;

export interface DatanodeCommand {
  type: number;
  blocks: Block[];
  targets: DatanodeInfo[];
}
export interface HeartbeatResponse {
  commands: DatanodeCommand[];
}
export interface BlockReceivedRequest {
  nodeId: string;
  received: Block[];
  deleted: number[];
}
export interface BlockReportRequest {
  nodeId: string;
  blocks: Block[];
}

export const SafeModeAction = { GET: 0, ENTER: 1, LEAVE: 2 } as const;
export interface SafeModeRequest {
  action: number;
}
export interface SafeModeResponse {
  on: boolean;
  /** Entered by an operator: only an operator leaves it. */
  manual: boolean;
  reportedBlocks: number;
  totalBlocks: number;
  /** Human explanation: what it waits for. */
  status: string;
}
export interface SetReplicationRequest {
  path: string;
  replication: number;
}
export const DecommissionAction = { DECOMMISSION: 1, RECOMMISSION: 2 } as const;
/** `node` is a node id or HOST:PORT as shown by datanodeReport. */
export interface DecommissionRequest {
  node: string;
  action: number;
}
/** `node` as in DecommissionRequest. */
export interface TriggerBlockReportRequest {
  node: string;
}
export interface TriggerBlockReportResponse {
  /** The node `node` resolved to. */
  nodeId: string;
  /**
   * When its last full report was processed before this request (as in DatanodeReportEntry);
   * the requested report is the first one processed later.
   */
  lastBlockReportMs: number;
}
export interface ReplicationStatsResponse {
  underReplicated: number;
  corrupt: number;
  missing: number;
  pendingCopies: number;
  /** Up to 1000 ids of blocks whose every replica is corrupt, and of missing blocks. */
  corruptBlockIds: number[];
  missingBlockIds: number[];
}

/** One DataNode as the NameNode sees it (datanodeReport). */
export interface DatanodeReportEntry extends DatanodeStorageReport {
  host: string;
  port: number;
  /** 1 live, 2 dead, 3 decommissioning (live), 4 decommissioned (live). */
  state: number;
  blockCount: number;
  activeTransfers: number;
  lastHeartbeatAgoMs: number;
  /**
   * When the NameNode processed the node's last full block report since the node
   * (re)registered, in ms since the epoch on the NameNode's clock; 0 = none yet.
   */
  lastBlockReportMs: number;
  /** Replicas that report listed (0 when there was none). */
  lastBlockReportBlocks: number;
}
export interface DatanodeReportResponse {
  nodes: DatanodeReportEntry[];
}

/** `DatanodeReportEntry.state`. */
export const DatanodeReportState = { LIVE: 1, DEAD: 2, DECOMMISSIONING: 3, DECOMMISSIONED: 4 } as const;

/** The health of one block as the NameNode sees it (blockHealth; `dfs fsck`). */
export const BlockHealthState = {
  /** Exactly the file's replication in counted (live, in-service, good) replicas. */
  HEALTHY: 1,
  /** Fewer counted replicas than the file's replication, at least one readable. */
  UNDER_REPLICATED: 2,
  /** More counted replicas than the file's replication (the surplus is being deleted). */
  OVER_REPLICATED: 3,
  /** No readable replica, but corrupt ones: the data is damaged, never silently "fixed". */
  CORRUPT: 4,
  /** No replica at all on a live node. */
  MISSING: 5,
  /** The block a writer is still writing (the pipeline's business, not judged). */
  UNDER_CONSTRUCTION: 6,
} as const;

/** What one replica of a block is worth (blockHealth). */
export const ReplicaState = {
  /** A good replica on a live, in-service node: counts towards replication. */
  LIVE: 1,
  /** On a node being drained: serves reads, does not count. */
  DECOMMISSIONING: 2,
  /** On a drained node: serves reads, does not count. */
  DECOMMISSIONED: 3,
  /** Found corrupt by a reader or the scanner: never served, deleted once good copies suffice. */
  CORRUPT: 4,
  /** On a node silent past its heartbeats but not yet declared dead: not served. */
  STALE: 5,
} as const;

export interface ReplicaHealth {
  node: DatanodeInfo;
  state: number;
}
export interface BlockHealth {
  block: Block;
  /** Offset of the block's first byte within the file. */
  offset: number;
  health: number;
  replicas: ReplicaHealth[];
}
/** Blocks `startBlock` .. of a file, at most `limit` (0 = the default page). */
export interface BlockHealthRequest {
  path: string;
  startBlock: number;
  limit: number;
}
export interface BlockHealthResponse {
  fileLength: number;
  replication: number;
  underConstruction: boolean;
  blocks: BlockHealth[];
  /** More blocks follow: ask again from `startBlock + blocks.length`. */
  hasMore: boolean;
}

export const rpcCodecs = {
  mkdir: {
    opcode: 0x01,
    mutates: true,
    req: {
      encode: (w, v) => void w.str(v.path).bool(v.parents),
      decode: (r) => ({ path: r.str('path'), parents: r.bool('parents') }),
    } as Codec<MkdirRequest>,
    res: empty,
  },
  list: {
    opcode: 0x02,
    mutates: false,
    req: {
      encode: (w, v) => void w.str(v.path).str(v.startAfter).u32(v.limit),
      decode: (r) => ({ path: r.str('path'), startAfter: r.str('startAfter'), limit: r.u32('limit') }),
    } as Codec<ListRequest>,
    res: {
      encode(w, v) {
        listCodec(fileStatusCodec, FILE_STATUS_BYTES_MIN).encode(w, v.entries);
        w.bool(v.hasMore);
      },
      decode: (r) => ({
        entries: listCodec(fileStatusCodec, FILE_STATUS_BYTES_MIN).decode(r),
        hasMore: r.bool('hasMore'),
      }),
    } as Codec<ListResponse>,
  },
  stat: {
    opcode: 0x03,
    mutates: false,
    req: {
      encode: (w, v) => void w.str(v.path),
      decode: (r) => ({ path: r.str('path') }),
    } as Codec<PathRequest>,
    res: fileStatusCodec,
  },
  delete: {
    opcode: 0x04,
    mutates: true,
    req: {
      encode: (w, v) => void w.str(v.path).bool(v.recursive),
      decode: (r) => ({ path: r.str('path'), recursive: r.bool('recursive') }),
    } as Codec<DeleteRequest>,
    res: empty,
  },
  rename: {
    opcode: 0x05,
    mutates: true,
    req: {
      encode: (w, v) => void w.str(v.src).str(v.dst),
      decode: (r) => ({ src: r.str('src'), dst: r.str('dst') }),
    } as Codec<RenameRequest>,
    res: empty,
  },
  create: {
    opcode: 0x06,
    mutates: true,
    req: {
      encode: (w, v) =>
        void w
          .str(v.path)
          .str(v.clientName)
          .bool(v.overwrite)
          .bool(v.createParent)
          .u16(v.replication)
          .u64(v.blockBytes),
      decode: (r) => ({
        path: r.str('path'),
        clientName: r.str('clientName'),
        overwrite: r.bool('overwrite'),
        createParent: r.bool('createParent'),
        replication: r.u16('replication'),
        blockBytes: r.u64('blockBytes'),
      }),
    } as Codec<CreateRequest>,
    res: fileStatusCodec,
  },
  addBlock: {
    opcode: 0x07,
    mutates: true,
    req: {
      encode(w, v) {
        w.str(v.path).str(v.clientName);
        optionalBlockCodec.encode(w, v.previous);
        stringListCodec.encode(w, v.excludeNodes);
      },
      decode: (r) => ({
        path: r.str('path'),
        clientName: r.str('clientName'),
        previous: optionalBlockCodec.decode(r),
        excludeNodes: stringListCodec.decode(r),
      }),
    } as Codec<AddBlockRequest>,
    res: locatedBlockCodec,
  },
  complete: {
    opcode: 0x08,
    mutates: true,
    req: {
      encode(w, v) {
        w.str(v.path).str(v.clientName);
        optionalBlockCodec.encode(w, v.last);
      },
      decode: (r) => ({
        path: r.str('path'),
        clientName: r.str('clientName'),
        last: optionalBlockCodec.decode(r),
      }),
    } as Codec<CompleteRequest>,
    res: {
      encode: (w, v) => void w.bool(v.completed),
      decode: (r) => ({ completed: r.bool('completed') }),
    } as Codec<CompleteResponse>,
  },
  abandonBlock: {
    opcode: 0x09,
    mutates: true,
    req: {
      encode: (w, v) => void w.str(v.path).str(v.clientName).u64(v.blockId),
      decode: (r) => ({ path: r.str('path'), clientName: r.str('clientName'), blockId: r.u64('blockId') }),
    } as Codec<AbandonBlockRequest>,
    res: empty,
  },
  renewLease: {
    opcode: 0x0a,
    mutates: false,
    req: {
      encode: (w, v) => void w.str(v.clientName),
      decode: (r) => ({ clientName: r.str('clientName') }),
    } as Codec<RenewLeaseRequest>,
    res: empty,
  },
  getBlockLocations: {
    opcode: 0x0b,
    mutates: false,
    req: {
      encode: (w, v) => void w.str(v.path).u64(v.offset).u64(v.length),
      decode: (r) => ({ path: r.str('path'), offset: r.u64('offset'), length: r.u64('length') }),
    } as Codec<GetBlockLocationsRequest>,
    res: {
      encode(w, v) {
        w.u64(v.fileLength).bool(v.underConstruction);
        listCodec(locatedBlockCodec, 32).encode(w, v.blocks);
      },
      decode: (r) => ({
        fileLength: r.u64('fileLength'),
        underConstruction: r.bool('underConstruction'),
        blocks: listCodec(locatedBlockCodec, 32).decode(r),
      }),
    } as Codec<LocatedBlocks>,
  },
  serverInfo: {
    opcode: 0x0c,
    mutates: false,
    req: empty,
    res: {
      encode: (w, v) =>
        void w
          .str(v.clusterId)
          .str(v.version)
          .bool(v.safeMode)
          .u64(v.lastTxid)
          .u64(v.fileCount)
          .u64(v.directoryCount)
          .u64(v.blockCount),
      decode: (r) => ({
        clusterId: r.str('clusterId'),
        version: r.str('version'),
        safeMode: r.bool('safeMode'),
        lastTxid: r.u64('lastTxid'),
        fileCount: r.u64('fileCount'),
        directoryCount: r.u64('directoryCount'),
        blockCount: r.u64('blockCount'),
      }),
    } as Codec<ServerInfo>,
  },
  reportBadBlocks: {
    opcode: 0x0d,
    mutates: false,
    req: listWrapper<ReportBadBlocksRequest, BadReplica>(
      'replicas',
      {
        encode(w, v) {
          blockCodec.encode(w, v.block);
          w.str(v.nodeId);
        },
        decode: (r) => ({ block: blockCodec.decode(r), nodeId: r.str('nodeId') }),
      },
      26,
    ),
    res: empty,
  },
  bumpGenStamp: {
    opcode: 0x0e,
    mutates: true,
    req: {
      encode: (w, v) => void w.str(v.path).str(v.clientName).u64(v.blockId),
      decode: (r) => ({ path: r.str('path'), clientName: r.str('clientName'), blockId: r.u64('blockId') }),
    } as Codec<BumpGenStampRequest>,
    res: {
      encode: (w, v) => void w.u64(v.genStamp),
      decode: (r) => ({ genStamp: r.u64('genStamp') }),
    } as Codec<BumpGenStampResponse>,
  },
  datanodeReport: {
    opcode: 0x0f,
    mutates: false,
    req: empty,
    res: listWrapper<DatanodeReportResponse, DatanodeReportEntry>(
      'nodes',
      {
        encode(w, v) {
          w.str(v.nodeId)
            .str(v.host)
            .u16(v.port)
            .u8(v.state)
            .u64(v.capacityBytes)
            .u64(v.usedBytes)
            .u64(v.remainingBytes)
            .u32(v.blockCount)
            .u32(v.activeTransfers)
            .u64(v.lastHeartbeatAgoMs)
            .u64(v.lastBlockReportMs)
            .u32(v.lastBlockReportBlocks);
        },
        decode: (r) => ({
          nodeId: r.str('nodeId'),
          host: r.str('host'),
          port: r.u16('port'),
          state: r.u8('state'),
          capacityBytes: r.u64('capacityBytes'),
          usedBytes: r.u64('usedBytes'),
          remainingBytes: r.u64('remainingBytes'),
          blockCount: r.u32('blockCount'),
          activeTransfers: r.u32('activeTransfers'),
          lastHeartbeatAgoMs: r.u64('lastHeartbeatAgoMs'),
          lastBlockReportMs: r.u64('lastBlockReportMs'),
          lastBlockReportBlocks: r.u32('lastBlockReportBlocks'),
        }),
        // Smallest entry (empty nodeId and host): 2 + 2 + 2 + 1 + 8 + 8 + 8 + 4 + 4 + 8 + 8 + 4 = 59 bytes.
      },
      59,
    ),
  },
  safeMode: {
    opcode: 0x10,
    mutates: false,
    req: {
      encode: (w, v) => void w.u8(v.action),
      decode: (r) => ({ action: r.u8('action') }),
    } as Codec<SafeModeRequest>,
    res: {
      encode: (w, v) =>
        void w.bool(v.on).bool(v.manual).u64(v.reportedBlocks).u64(v.totalBlocks).str(v.status),
      decode: (r) => ({
        on: r.bool('on'),
        manual: r.bool('manual'),
        reportedBlocks: r.u64('reportedBlocks'),
        totalBlocks: r.u64('totalBlocks'),
        status: r.str('status'),
      }),
    } as Codec<SafeModeResponse>,
  },
  setReplication: {
    opcode: 0x11,
    mutates: true,
    req: {
      encode: (w, v) => void w.str(v.path).u16(v.replication),
      decode: (r) => ({ path: r.str('path'), replication: r.u16('replication') }),
    } as Codec<SetReplicationRequest>,
    res: empty,
  },
  decommission: {
    opcode: 0x12,
    mutates: false,
    req: {
      encode: (w, v) => void w.str(v.node).u8(v.action),
      decode: (r) => ({ node: r.str('node'), action: r.u8('action') }),
    } as Codec<DecommissionRequest>,
    res: empty,
  },
  replicationStats: {
    opcode: 0x13,
    mutates: false,
    req: empty,
    res: {
      encode(w, v) {
        w.u64(v.underReplicated).u64(v.corrupt).u64(v.missing).u64(v.pendingCopies);
        u64ListCodec.encode(w, v.corruptBlockIds);
        u64ListCodec.encode(w, v.missingBlockIds);
      },
      decode: (r) => ({
        underReplicated: r.u64('underReplicated'),
        corrupt: r.u64('corrupt'),
        missing: r.u64('missing'),
        pendingCopies: r.u64('pendingCopies'),
        corruptBlockIds: u64ListCodec.decode(r),
        missingBlockIds: u64ListCodec.decode(r),
      }),
    } as Codec<ReplicationStatsResponse>,
  },
  blockHealth: {
    opcode: 0x14,
    mutates: false,
    req: {
      encode: (w, v) => void w.str(v.path).u32(v.startBlock).u32(v.limit),
      decode: (r) => ({ path: r.str('path'), startBlock: r.u32('startBlock'), limit: r.u32('limit') }),
    } as Codec<BlockHealthRequest>,
    res: {
      encode(w, v) {
        w.u64(v.fileLength).u16(v.replication).bool(v.underConstruction);
        blockHealthListCodec.encode(w, v.blocks);
        w.bool(v.hasMore);
      },
      decode: (r) => ({
        fileLength: r.u64('fileLength'),
        replication: r.u16('replication'),
        underConstruction: r.bool('underConstruction'),
        blocks: blockHealthListCodec.decode(r),
        hasMore: r.bool('hasMore'),
      }),
    } as Codec<BlockHealthResponse>,
  },
  triggerBlockReport: {
    opcode: 0x15,
    mutates: false,
    req: {
      encode: (w, v) => void w.str(v.node),
      decode: (r) => ({ node: r.str('node') }),
    } as Codec<TriggerBlockReportRequest>,
    res: {
      encode: (w, v) => void w.str(v.nodeId).u64(v.lastBlockReportMs),
      decode: (r) => ({ nodeId: r.str('nodeId'), lastBlockReportMs: r.u64('lastBlockReportMs') }),
    } as Codec<TriggerBlockReportResponse>,
  },
  // ---- DataNode -> NameNode (role DATANODE only) ----
  register: {
    opcode: 0x20,
    mutates: false,
    req: {
      encode(w, v) {
        w.str(v.clusterId).str(v.nodeId).str(v.host).u16(v.port);
        w.u64(v.capacityBytes).u64(v.usedBytes).u64(v.remainingBytes);
      },
      decode: (r) => ({
        clusterId: r.str('clusterId'),
        nodeId: r.str('nodeId'),
        host: r.str('host'),
        port: r.u16('port'),
        capacityBytes: r.u64('capacityBytes'),
        usedBytes: r.u64('usedBytes'),
        remainingBytes: r.u64('remainingBytes'),
      }),
    } as Codec<RegisterRequest>,
    res: empty,
  },
  heartbeat: {
    opcode: 0x21,
    mutates: false,
    req: {
      encode: (w, v) =>
        void w
          .str(v.nodeId)
          .u64(v.capacityBytes)
          .u64(v.usedBytes)
          .u64(v.remainingBytes)
          .u32(v.activeTransfers),
      decode: (r) => ({
        nodeId: r.str('nodeId'),
        capacityBytes: r.u64('capacityBytes'),
        usedBytes: r.u64('usedBytes'),
        remainingBytes: r.u64('remainingBytes'),
        activeTransfers: r.u32('activeTransfers'),
      }),
    } as Codec<HeartbeatRequest>,
    res: listWrapper<HeartbeatResponse, DatanodeCommand>(
      'commands',
      {
        encode(w, v) {
          w.u8(v.type);
          blockListCodec.encode(w, v.blocks);
          datanodeListCodec.encode(w, v.targets);
        },
        decode: (r) => ({
          type: r.u8('type'),
          blocks: blockListCodec.decode(r),
          targets: datanodeListCodec.decode(r),
        }),
      },
      9,
    ),
  },
  blockReceived: {
    opcode: 0x22,
    mutates: false,
    req: {
      encode(w, v) {
        w.str(v.nodeId);
        blockListCodec.encode(w, v.received);
        u64ListCodec.encode(w, v.deleted);
      },
      decode: (r) => ({
        nodeId: r.str('nodeId'),
        received: blockListCodec.decode(r),
        deleted: u64ListCodec.decode(r),
      }),
    } as Codec<BlockReceivedRequest>,
    res: empty,
  },
  blockReport: {
    opcode: 0x23,
    mutates: false,
    req: {
      encode(w, v) {
        w.str(v.nodeId);
        blockListCodec.encode(w, v.blocks);
      },
      decode: (r) => ({ nodeId: r.str('nodeId'), blocks: blockListCodec.decode(r) }),
    } as Codec<BlockReportRequest>,
    res: empty,
  },
} as const;

/** A message that is one list field: `{ [field]: T[] }`. */
function listWrapper<M, T>(field: string, item: Codec<T>, minItemBytes: number): Codec<M> {
  const list = listCodec(item, minItemBytes);
  return {
    encode: (w, v) => list.encode(w, (v as Record<string, T[]>)[field]!),
    decode: (r) => ({ [field]: list.decode(r) }) as M,
  };
}

/** RPCs only a DataNode may send. */
export const DATANODE_RPCS: ReadonlySet<RpcName> = new Set([
  'register',
  'heartbeat',
  'blockReceived',
  'blockReport',
] as RpcName[]);

export type RpcName = keyof typeof rpcCodecs;
type CodecValue<C> = C extends Codec<infer T> ? T : never;
export type RpcRequest<N extends RpcName> = CodecValue<(typeof rpcCodecs)[N]['req']>;
export type RpcResponse<N extends RpcName> = CodecValue<(typeof rpcCodecs)[N]['res']>;

const RPC_BY_OPCODE = new Map<number, RpcName>(
  (Object.keys(rpcCodecs) as RpcName[]).map((name) => [rpcCodecs[name].opcode, name]),
);

export function rpcNameOf(opcode: number): RpcName | undefined {
  return RPC_BY_OPCODE.get(opcode);
}

/** Opcode check for a NameNode's client-facing decoder. */
export function isNamenodeOpcode(kind: number, opcode: number): boolean {
  return RPC_BY_OPCODE.has(opcode) && kind === FrameKind.REQUEST;
}

/** Opcode check for the client's decoder (answers and notices from a NameNode). */
export function isNamenodeReplyOpcode(kind: number, opcode: number): boolean {
  if (kind === FrameKind.ERROR) return true;
  if (kind === FrameKind.NOTICE) return opcode === NoticeOpcode.COMMANDS_PENDING;
  return kind === FrameKind.RESPONSE && RPC_BY_OPCODE.has(opcode);
}

/** What a NameNode tells a DataNode unasked, on the DataNode's own connection (PROTOCOL.md, section 6). */
export const NoticeOpcode = {
  /** Commands are queued for the node: heartbeat now rather than at the next interval. */
  COMMANDS_PENDING: 0x24,
} as const;

/** The COMMANDS_PENDING notice: kind NOTICE, request id 0, empty body. */
export function encodeCommandsPending(): Buffer {
  return sealFrame(frameWriter(0), FrameKind.NOTICE, NoticeOpcode.COMMANDS_PENDING, 0);
}

/** Checks a NOTICE frame and returns its opcode; a body where none belongs is MALFORMED. */
export function decodeNotice(frame: Frame): number {
  if (frame.opcode !== NoticeOpcode.COMMANDS_PENDING)
    throw new DfsError('UNKNOWN_OPCODE', `unknown notice 0x${frame.opcode.toString(16)}`);
  new WireReader(frame.body, 'commandsPending notice').end();
  return frame.opcode;
}

export function encodeRequest<N extends RpcName>(name: N, requestId: number, req: RpcRequest<N>): Buffer {
  const codec = rpcCodecs[name];
  const w = frameWriter();
  (codec.req as Codec<RpcRequest<N>>).encode(w, req);
  return sealFrame(w, FrameKind.REQUEST, codec.opcode, requestId);
}

export function decodeRequest<N extends RpcName>(name: N, frame: Frame): RpcRequest<N> {
  const r = new WireReader(frame.body, `${name} request`);
  const value = (rpcCodecs[name].req as Codec<RpcRequest<N>>).decode(r);
  r.end();
  return value;
}

export function encodeResponse<N extends RpcName>(name: N, requestId: number, res: RpcResponse<N>): Buffer {
  const codec = rpcCodecs[name];
  const w = frameWriter();
  (codec.res as Codec<RpcResponse<N>>).encode(w, res);
  return sealFrame(w, FrameKind.RESPONSE, codec.opcode, requestId);
}

export function decodeResponse<N extends RpcName>(name: N, frame: Frame): RpcResponse<N> {
  const r = new WireReader(frame.body, `${name} response`);
  const value = (rpcCodecs[name].res as Codec<RpcResponse<N>>).decode(r);
  r.end();
  return value;
}

// ---- errors -------------------------------------------------------------------------

/** ERROR frame body: | code u16 | message str |. The opcode echoes the failed request's. */
export function encodeError(opcode: number, requestId: number, err: DfsError): Buffer {
  const w = frameWriter(64 + err.message.length);
  w.u16(errorCodeToWire(err.code)).str(err.message.slice(0, 4096));
  return sealFrame(w, FrameKind.ERROR, opcode, requestId);
}

export function decodeError(frame: Frame): DfsError {
  const r = new WireReader(frame.body, 'error');
  const code = errorCodeFromWire(r.u16('code'));
  const message = r.str('message');
  r.end();
  return new DfsError(code, message);
}
