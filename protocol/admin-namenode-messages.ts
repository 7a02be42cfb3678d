/**
 * The cluster administration RPCs (PROTOCOL.md section 6, opcodes 0x0F-0x15): the DataNode
 * report, safe mode, replication, decommissioning, block health (`dfs fsck`) and block
 * report requests that `dfs admin` and the NameNode's operators use.
 *
 * Enum-valued fields come in two kinds, and the split is PROTOCOL.md's (sections 6 and 11):
 * - the values a NameNode reports (DataNode state, block health, replica state) are literal
 *   unions checked on decode: a value outside the union is MALFORMED, so the CLI's
 *   formatters switch over closed sets;
 * - the actions a requester asks for (safe mode, decommission) stay numbers, judged by the
 *   NameNode, which answers an unknown one with INVALID_ARGUMENT on a connection it keeps
 *   open; a codec error would instead close the connection.
 *
 * The table is checked with `satisfies CodecTable<AdminRpcMessages, ...>` (codec.ts).
 */
import { emptyCodec, listCodec, u64ListCodec, type CodecTable, type Empty } from './codec.js';
import type { DatanodeStorageReport } from './datanode-namenode-messages.js';
import { blockCodec, datanodeInfoCodec, type Block, type DatanodeInfo } from './shared-structures.js';

export const SafeModeAction = { GET: 0, ENTER: 1, LEAVE: 2 } as const;
export const DecommissionAction = { DECOMMISSION: 1, RECOMMISSION: 2 } as const;

/** `DatanodeReportEntry.state`. */
export const DatanodeReportState = { LIVE: 1, DEAD: 2, DECOMMISSIONING: 3, DECOMMISSIONED: 4 } as const;
export type DatanodeReportState = (typeof DatanodeReportState)[keyof typeof DatanodeReportState];
const DATANODE_REPORT_STATES = Object.values(DatanodeReportState);

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
export type BlockHealthState = (typeof BlockHealthState)[keyof typeof BlockHealthState];
const BLOCK_HEALTH_STATES = Object.values(BlockHealthState);

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
  /**
   * Ordered deleted (a surplus or corrupt copy) and not yet confirmed gone by its node: not
   * served, not counted; `setrep -w` waits for these to go.
   */
  DELETING: 6,
} as const;
export type ReplicaState = (typeof ReplicaState)[keyof typeof ReplicaState];
const REPLICA_STATES = Object.values(ReplicaState);

/** One DataNode as the NameNode sees it (datanodeReport). */
export interface DatanodeReportEntry extends DatanodeStorageReport {
  host: string;
  port: number;
  state: DatanodeReportState;
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
  /**
   * A decommissioning node: blocks it holds that still lack their replication on other
   * nodes, as of the NameNode's last look (every few seconds); 0 for any other node.
   */
  drainBlocks: number;
  /**
   * Of `drainBlocks`, those whose file wants more replicas than there are live in-service
   * DataNodes: no copy can be placed, so the decommission cannot finish until nodes are
   * added or the replication is lowered.
   */
  drainStuckBlocks: number;
}
export interface DatanodeReportResponse {
  nodes: DatanodeReportEntry[];
}
export interface SafeModeRequest {
  /** A SafeModeAction; an unknown one is the NameNode's INVALID_ARGUMENT (see the header). */
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
/** `node` is a node id or HOST:PORT as shown by datanodeReport. */
export interface DecommissionRequest {
  node: string;
  /** A DecommissionAction; an unknown one is the NameNode's INVALID_ARGUMENT (see the header). */
  action: number;
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
export interface ReplicaHealth {
  node: DatanodeInfo;
  state: ReplicaState;
}
export interface BlockHealth {
  block: Block;
  /** Offset of the block's first byte within the file. */
  offset: number;
  health: BlockHealthState;
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

/** setQuota: leave this kind of quota as it is. */
export const QUOTA_UNCHANGED = Number.MAX_SAFE_INTEGER;
/** setQuota: remove this kind of quota (and in ContentSummary: none is set). */
export const QUOTA_NONE = 0;
export interface SetQuotaRequest {
  path: string;
  /** Names (files and directories, the directory included), QUOTA_NONE or QUOTA_UNCHANGED. */
  nsQuota: number;
  /** Bytes counted with replicas, QUOTA_NONE or QUOTA_UNCHANGED. */
  dsQuota: number;
}

/** Request and response type of each admin RPC: what `adminRpcCodecs` must cover. */
export interface AdminRpcMessages {
  datanodeReport: { req: Empty; res: DatanodeReportResponse };
  safeMode: { req: SafeModeRequest; res: SafeModeResponse };
  setReplication: { req: SetReplicationRequest; res: Empty };
  decommission: { req: DecommissionRequest; res: Empty };
  replicationStats: { req: Empty; res: ReplicationStatsResponse };
  blockHealth: { req: BlockHealthRequest; res: BlockHealthResponse };
  triggerBlockReport: { req: TriggerBlockReportRequest; res: TriggerBlockReportResponse };
  setQuota: { req: SetQuotaRequest; res: Empty };
}

/** Smallest entry (empty nodeId and host): 2 + 2 + 2 + 1 + 8 + 8 + 8 + 4 + 4 + 4 + 8 + 8 + 4 + 4 + 4. */
const DATANODE_REPORT_ENTRY_BYTES_MIN = 71;
/** Smallest ReplicaHealth: a DatanodeInfo with empty strings (6) and the state byte. */
const REPLICA_HEALTH_BYTES_MIN = 7;
/** Smallest BlockHealth: Block 24 + offset 8 + health 1 + an empty replica list 4. */
const BLOCK_HEALTH_BYTES_MIN = 37;

const datanodeReportListCodec = listCodec<DatanodeReportEntry>(
  {
    encode(w, v) {
      w.str(v.nodeId)
        .str(v.host)
        .u16(v.port)
        .u8(v.state)
        .u64(v.capacityBytes)
        .u64(v.usedBytes)
        .u64(v.remainingBytes)
        .u32(v.failedVolumes)
        .u32(v.blockCount)
        .u32(v.activeTransfers)
        .u64(v.lastHeartbeatAgoMs)
        .u64(v.lastBlockReportMs)
        .u32(v.lastBlockReportBlocks)
        .u32(v.drainBlocks)
        .u32(v.drainStuckBlocks);
    },
    decode: (r) => ({
      nodeId: r.str('nodeId'),
      host: r.str('host'),
      port: r.u16('port'),
      state: r.u8Of(DATANODE_REPORT_STATES, 'state'),
      capacityBytes: r.u64('capacityBytes'),
      usedBytes: r.u64('usedBytes'),
      remainingBytes: r.u64('remainingBytes'),
      failedVolumes: r.u32('failedVolumes'),
      blockCount: r.u32('blockCount'),
      activeTransfers: r.u32('activeTransfers'),
      lastHeartbeatAgoMs: r.u64('lastHeartbeatAgoMs'),
      lastBlockReportMs: r.u64('lastBlockReportMs'),
      lastBlockReportBlocks: r.u32('lastBlockReportBlocks'),
      drainBlocks: r.u32('drainBlocks'),
      drainStuckBlocks: r.u32('drainStuckBlocks'),
    }),
  },
  DATANODE_REPORT_ENTRY_BYTES_MIN,
);

const replicaHealthListCodec = listCodec<ReplicaHealth>(
  {
    encode(w, v) {
      datanodeInfoCodec.encode(w, v.node);
      w.u8(v.state);
    },
    decode: (r) => ({ node: datanodeInfoCodec.decode(r), state: r.u8Of(REPLICA_STATES, 'replica state') }),
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
      health: r.u8Of(BLOCK_HEALTH_STATES, 'health'),
      replicas: replicaHealthListCodec.decode(r),
    }),
  },
  BLOCK_HEALTH_BYTES_MIN,
);

export const adminRpcCodecs = {
  datanodeReport: {
    opcode: 0x0f,
    mutates: false,
    req: emptyCodec,
    res: {
      encode: (w, v) => datanodeReportListCodec.encode(w, v.nodes),
      decode: (r) => ({ nodes: datanodeReportListCodec.decode(r) }),
    },
  },
  safeMode: {
    opcode: 0x10,
    mutates: false,
    req: {
      encode: (w, v) => void w.u8(v.action),
      decode: (r) => ({ action: r.u8('action') }),
    },
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
    },
  },
  setReplication: {
    opcode: 0x11,
    mutates: true,
    req: {
      encode: (w, v) => void w.str(v.path).u16(v.replication),
      decode: (r) => ({ path: r.str('path'), replication: r.u16('replication') }),
    },
    res: emptyCodec,
  },
  decommission: {
    opcode: 0x12,
    mutates: false,
    req: {
      encode: (w, v) => void w.str(v.node).u8(v.action),
      decode: (r) => ({ node: r.str('node'), action: r.u8('action') }),
    },
    res: emptyCodec,
  },
  replicationStats: {
    opcode: 0x13,
    mutates: false,
    req: emptyCodec,
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
    },
  },
  blockHealth: {
    opcode: 0x14,
    mutates: false,
    req: {
      encode: (w, v) => void w.str(v.path).u32(v.startBlock).u32(v.limit),
      decode: (r) => ({ path: r.str('path'), startBlock: r.u32('startBlock'), limit: r.u32('limit') }),
    },
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
    },
  },
  triggerBlockReport: {
    opcode: 0x15,
    mutates: false,
    req: {
      encode: (w, v) => void w.str(v.node),
      decode: (r) => ({ node: r.str('node') }),
    },
    res: {
      encode: (w, v) => void w.str(v.nodeId).u64(v.lastBlockReportMs),
      decode: (r) => ({ nodeId: r.str('nodeId'), lastBlockReportMs: r.u64('lastBlockReportMs') }),
    },
  },
  setQuota: {
    opcode: 0x16,
    mutates: true,
    req: {
      encode: (w, v) => void w.str(v.path).u64(v.nsQuota).u64(v.dsQuota),
      decode: (r) => ({ path: r.str('path'), nsQuota: r.u64('nsQuota'), dsQuota: r.u64('dsQuota') }),
    },
    res: emptyCodec,
  },
} satisfies CodecTable<AdminRpcMessages, { opcode: number; mutates: boolean }>;
