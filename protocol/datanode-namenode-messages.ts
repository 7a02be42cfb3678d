/**
 * The DataNode's conversation with its NameNode (PROTOCOL.md section 6, opcodes 0x20-0x27):
 * register, heartbeat and its commands, the incremental and full block reports, unregister,
 * the report of a replica copy that failed, the outcome of a block recovery, and the
 * commandsPending NOTICE the NameNode sends unasked. Only a connection with handshake role
 * DATANODE may send the RPCs (namenode-messages.ts `DATANODE_RPCS`).
 *
 * A command's `type` stays a number on purpose: PROTOCOL.md section 11 lets a NameNode add
 * command types that older DataNodes ignore (`src/datanode/namenode-link.ts` logs and skips
 * them), so the codec must carry an unknown type rather than fail the whole heartbeat answer.
 *
 * The table is checked with `satisfies CodecTable<DatanodeRpcMessages, ...>` (codec.ts).
 */
import {
  emptyCodec,
  listCodec,
  stringListCodec,
  u64ListCodec,
  type CodecTable,
  type Empty,
} from './codec.js';
import { DfsError } from './errors.js';
import { FrameKind, frameWriter, sealFrame, type Frame } from './frame.js';
import {
  blockCodec,
  blockColumnsCodec,
  blockListCodec,
  datanodeListCodec,
  type Block,
  type BlockList,
  type DatanodeInfo,
} from './shared-structures.js';
import { WireReader } from './wire-reader.js';

/** What a DataNode tells about itself when it registers and in every heartbeat. */
export interface DatanodeStorageReport {
  nodeId: string;
  capacityBytes: number;
  usedBytes: number;
  remainingBytes: number;
  /** Volumes taken out of service after an I/O failure (not counted in the bytes above). */
  failedVolumes: number;
}
export interface RegisterRequest extends DatanodeStorageReport {
  clusterId: string;
  host: string;
  port: number;
  /** The node's HTTP port (WebHDFS OPEN and CREATE are redirected there); 0 = HTTP off. */
  httpPort: number;
}
export interface HeartbeatRequest extends DatanodeStorageReport {
  activeTransfers: number;
  /** Every data directory of the node, failed ones included, in its configured order. */
  volumes: VolumeReport[];
}
/** One data directory (volume) of a DataNode, as its heartbeat reports it. */
export interface VolumeReport {
  /** Its path on the node: the volume's id there. */
  path: string;
  /** The size of its file system (0 while the volume is failed or its space cannot be read). */
  capacityBytes: number;
  /** Bytes of the replicas on it, finalized and unfinished (0 while failed). */
  usedBytes: number;
  /** Taken out of service after an I/O failure. */
  failed: boolean;
}
/** Smallest encoded VolumeReport (empty path): 2 + 8 + 8 + 1. */
const VOLUME_REPORT_BYTES_MIN = 19;
const volumeReportListCodec = listCodec<VolumeReport>(
  {
    encode(w, v) {
      w.str(v.path).u64(v.capacityBytes).u64(v.usedBytes).bool(v.failed);
    },
    decode(r) {
      const path = r.str('path');
      const capacityBytes = r.u64('capacityBytes');
      const usedBytes = r.u64('usedBytes');
      return { path, capacityBytes, usedBytes, failed: r.bool('failed') };
    },
  },
  VOLUME_REPORT_BYTES_MIN,
);

export const CommandType = {
  /** Delete these replicas. */
  DELETE_BLOCKS: 1,
  /** Copy each block to the given targets (re-replication). */
  REPLICATE: 2,
  /** The NameNode does not know this node (it restarted): register again. */
  REREGISTER: 3,
  /** Send a full block report now. */
  BLOCK_REPORT: 4,
  /**
   * Block recovery (lease recovery of a crashed writer's last block): this node is the
   * primary. `blocks` holds one block, its genStamp the new stamp (the recovery id);
   * `targets` the nodes that may hold a replica of it, this one included.
   */
  RECOVER_BLOCK: 5,
} as const;

export interface DatanodeCommand {
  /** A CommandType, or one from a newer NameNode, which the DataNode ignores (see the header). */
  type: number;
  blocks: Block[];
  targets: DatanodeInfo[];
}
/**
 * What a NameNode answers a registration with: its HA epoch (issue 14), so the DataNode
 * learns the highest epoch before any command arrives.
 */
export interface RegisterResponse {
  epoch: number;
}
export interface HeartbeatResponse {
  /**
   * The answering NameNode's HA epoch: the active's leader-key create revision
   * (src/ha/election.ts); 0 from a standby and from a NameNode with the local edit log. A
   * DataNode carries out DELETE_BLOCKS, REPLICATE and RECOVER_BLOCK only from the highest
   * epoch it has seen (src/datanode/namenode-epoch.ts).
   */
  epoch: number;
  commands: DatanodeCommand[];
}
export interface BlockReceivedRequest {
  nodeId: string;
  received: Block[];
  deleted: number[];
}
export interface BlockReportRequest {
  nodeId: string;
  /** Finalized replicas. */
  blocks: BlockList;
  /**
   * Unfinished replicas (rbw: being written, or left by a write that never finished), with
   * the bytes on disk so far: kept while their block is under construction, else deleted.
   */
  unfinished: Block[];
}
/** A DataNode stopping on purpose: its replicas stop counting now, not after the dead-node timeout. */
export interface UnregisterRequest {
  nodeId: string;
}
/**
 * A REPLICATE copy that failed: the NameNode drops it from the copies under way and schedules
 * it again at once, not on the targets named (one may still hold a replica being deleted).
 */
export interface ReplicaCopyFailedRequest {
  /** The source: the node that was told to copy. */
  nodeId: string;
  block: Block;
  /** The targets to blame; empty when the source itself failed (e.g. its replica is gone). */
  failedTargets: string[];
  reason: string;
}

/**
 * The primary of a block recovery reports its outcome (HDFS `commitBlockSynchronization`):
 * the NameNode closes the file with its last block at `block` (genStamp = the recovery id,
 * numBytes = the agreed length) held by `nodes`; no node (or length 0): the block is dropped.
 */
export interface CommitBlockSynchronizationRequest {
  /** The primary. */
  nodeId: string;
  block: Block;
  /** Node ids whose replica now holds `block`, finalized. */
  nodes: string[];
}

/** Request and response type of each DataNode RPC: what `datanodeRpcCodecs` must cover. */
export interface DatanodeRpcMessages {
  register: { req: RegisterRequest; res: RegisterResponse };
  heartbeat: { req: HeartbeatRequest; res: HeartbeatResponse };
  blockReceived: { req: BlockReceivedRequest; res: Empty };
  blockReport: { req: BlockReportRequest; res: Empty };
  unregister: { req: UnregisterRequest; res: Empty };
  replicaCopyFailed: { req: ReplicaCopyFailedRequest; res: Empty };
  commitBlockSynchronization: { req: CommitBlockSynchronizationRequest; res: Empty };
}

/** Smallest command: the type byte and two empty lists. */
const DATANODE_COMMAND_BYTES_MIN = 9;

const commandListCodec = listCodec<DatanodeCommand>(
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
  DATANODE_COMMAND_BYTES_MIN,
);

export const datanodeRpcCodecs = {
  register: {
    opcode: 0x20,
    mutates: false,
    req: {
      encode(w, v) {
        w.str(v.clusterId).str(v.nodeId).str(v.host).u16(v.port).u16(v.httpPort);
        w.u64(v.capacityBytes).u64(v.usedBytes).u64(v.remainingBytes).u32(v.failedVolumes);
      },
      decode: (r) => ({
        clusterId: r.str('clusterId'),
        nodeId: r.str('nodeId'),
        host: r.str('host'),
        port: r.u16('port'),
        httpPort: r.u16('httpPort'),
        capacityBytes: r.u64('capacityBytes'),
        usedBytes: r.u64('usedBytes'),
        remainingBytes: r.u64('remainingBytes'),
        failedVolumes: r.u32('failedVolumes'),
      }),
    },
    res: {
      encode: (w, v) => void w.u64(v.epoch),
      decode: (r) => ({ epoch: r.u64('epoch') }),
    },
  },
  heartbeat: {
    opcode: 0x21,
    mutates: false,
    req: {
      encode(w, v) {
        w.str(v.nodeId)
          .u64(v.capacityBytes)
          .u64(v.usedBytes)
          .u64(v.remainingBytes)
          .u32(v.failedVolumes)
          .u32(v.activeTransfers);
        volumeReportListCodec.encode(w, v.volumes);
      },
      decode: (r) => ({
        nodeId: r.str('nodeId'),
        capacityBytes: r.u64('capacityBytes'),
        usedBytes: r.u64('usedBytes'),
        remainingBytes: r.u64('remainingBytes'),
        failedVolumes: r.u32('failedVolumes'),
        activeTransfers: r.u32('activeTransfers'),
        volumes: volumeReportListCodec.decode(r),
      }),
    },
    res: {
      encode(w, v) {
        w.u64(v.epoch);
        commandListCodec.encode(w, v.commands);
      },
      decode: (r) => ({ epoch: r.u64('epoch'), commands: commandListCodec.decode(r) }),
    },
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
    },
    res: emptyCodec,
  },
  blockReport: {
    opcode: 0x23,
    mutates: false,
    req: {
      encode(w, v) {
        w.str(v.nodeId);
        blockColumnsCodec.encode(w, v.blocks);
        blockListCodec.encode(w, v.unfinished);
      },
      decode: (r) => ({
        nodeId: r.str('nodeId'),
        blocks: blockColumnsCodec.decode(r),
        unfinished: blockListCodec.decode(r),
      }),
    },
    res: emptyCodec,
  },
  unregister: {
    opcode: 0x25,
    mutates: false,
    req: {
      encode: (w, v) => void w.str(v.nodeId),
      decode: (r) => ({ nodeId: r.str('nodeId') }),
    },
    res: emptyCodec,
  },
  replicaCopyFailed: {
    opcode: 0x26,
    mutates: false,
    req: {
      encode(w, v) {
        w.str(v.nodeId);
        blockCodec.encode(w, v.block);
        stringListCodec.encode(w, v.failedTargets);
        w.str(v.reason);
      },
      decode: (r) => ({
        nodeId: r.str('nodeId'),
        block: blockCodec.decode(r),
        failedTargets: stringListCodec.decode(r),
        reason: r.str('reason'),
      }),
    },
    res: emptyCodec,
  },
  commitBlockSynchronization: {
    opcode: 0x27,
    // It closes a file (an edit), so safe mode refuses it; no recovery starts in safe mode.
    mutates: true,
    req: {
      encode(w, v) {
        w.str(v.nodeId);
        blockCodec.encode(w, v.block);
        stringListCodec.encode(w, v.nodes);
      },
      decode: (r) => ({
        nodeId: r.str('nodeId'),
        block: blockCodec.decode(r),
        nodes: stringListCodec.decode(r),
      }),
    },
    res: emptyCodec,
  },
} satisfies CodecTable<DatanodeRpcMessages, { opcode: number; mutates: boolean }>;

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
