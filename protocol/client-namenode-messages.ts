/**
 * The namespace and write-path RPCs a client sends a NameNode (PROTOCOL.md section 6,
 * opcodes 0x01-0x0E, 0x17-0x1A, 0x1E-0x1F): the messages behind HDFS's `ClientProtocol`.
 * One request codec and one response codec per opcode, the encoder and decoder of each
 * written side by side so they mirror each other field for field.
 *
 * The table is checked with `satisfies CodecTable<ClientRpcMessages, ...>`: a message the
 * map names but the table lacks, or a decoder whose object drops a field, does not compile.
 * namenode-messages.ts joins this table with the admin and DataNode ones.
 */
import {
  emptyCodec,
  listCodec,
  optionalCodec,
  stringListCodec,
  type Codec,
  type CodecTable,
  type Empty,
} from './codec.js';
import {
  BLOCK_BYTES,
  blockCodec,
  FILE_STATUS_BYTES_MIN,
  fileStatusCodec,
  LOCATED_BLOCK_BYTES_MIN,
  locatedBlockCodec,
  readPermission,
  type Block,
  type FileStatus,
  type LocatedBlock,
} from './shared-structures.js';

export interface LocatedBlocks {
  fileLength: number;
  underConstruction: boolean;
  blocks: LocatedBlock[];
}
export interface ServerInfo {
  clusterId: string;
  version: string;
  safeMode: boolean;
  lastTxid: number;
  fileCount: number;
  directoryCount: number;
  blockCount: number;
  /** How long `dfs rm` keeps a path in trash (config trashIntervalMinutes); 0: trash is off. */
  trashIntervalMs: number;
}

export interface MkdirRequest {
  path: string;
  parents: boolean;
  /** Mode of the new directories, the client's umask already applied (HDFS `masked`). */
  permission: number;
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
  /** Mode of the new file, the client's umask already applied (HDFS `masked`). */
  permission: number;
}
/** chmod: the new mode bits (rwx x 3 and sticky). */
export interface SetPermissionRequest {
  path: string;
  permission: number;
}
/** chown / chgrp: '' leaves that one as it is. */
export interface SetOwnerRequest {
  path: string;
  owner: string;
  group: string;
}
export interface AddBlockRequest {
  path: string;
  clientName: string;
  /** The block before the new one, with its final length; null for the first block. */
  previous: Block | null;
  /** Node ids the writer could not reach, to avoid as targets. */
  excludeNodes: string[];
  /**
   * The block reserveBlock gave this writer for after `previous`, whose pipeline it has
   * built already: the file gets that block (targets as reserved), not a new one. 0: none.
   */
  reservedBlockId: number;
}
/** The writer's next block, asked for while `afterBlockId` (the file's last) is still being written. */
export interface ReserveBlockRequest {
  path: string;
  clientName: string;
  afterBlockId: number;
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
export interface AppendRequest {
  path: string;
  clientName: string;
}
export interface AppendResponse {
  /** The file as it stands, now under construction by the caller. */
  status: FileStatus;
  /** The file's last block (null: the file has none); the next addBlock names it as previous. */
  lastBlock: LocatedBlock | null;
  /**
   * True when the last block had room and was reopened: its new generation stamp, `numBytes`
   * its length, `locations` its replicas, over which the writer builds the pipeline (stage
   * APPEND). False: the writer adds a new block.
   */
  reopened: boolean;
}
export interface FsyncRequest {
  path: string;
  clientName: string;
  /** The block being written (the file's last). */
  blockId: number;
  /** Bytes of it every node of the pipeline acknowledged (hflush): readers see this many. */
  lastBlockLength: number;
}

/** Request and response type of each client RPC: what `clientRpcCodecs` must cover. */
/** What is beneath a path (HDFS ContentSummary): a directory counts itself. */
export interface ContentSummary {
  directories: number;
  files: number;
  /** Bytes of the files. */
  length: number;
  /** Bytes with replicas, a block being written counted whole (what space quotas count). */
  spaceConsumed: number;
  /** The path's own quotas (0: none); a file has none. */
  nsQuota: number;
  dsQuota: number;
}

export interface ClientRpcMessages {
  mkdir: { req: MkdirRequest; res: Empty };
  list: { req: ListRequest; res: ListResponse };
  stat: { req: PathRequest; res: FileStatus };
  delete: { req: DeleteRequest; res: Empty };
  rename: { req: RenameRequest; res: Empty };
  setPermission: { req: SetPermissionRequest; res: Empty };
  setOwner: { req: SetOwnerRequest; res: Empty };
  create: { req: CreateRequest; res: FileStatus };
  addBlock: { req: AddBlockRequest; res: LocatedBlock };
  reserveBlock: { req: ReserveBlockRequest; res: LocatedBlock };
  complete: { req: CompleteRequest; res: CompleteResponse };
  abandonBlock: { req: AbandonBlockRequest; res: Empty };
  renewLease: { req: RenewLeaseRequest; res: Empty };
  getBlockLocations: { req: GetBlockLocationsRequest; res: LocatedBlocks };
  serverInfo: { req: Empty; res: ServerInfo };
  reportBadBlocks: { req: ReportBadBlocksRequest; res: Empty };
  bumpGenStamp: { req: BumpGenStampRequest; res: BumpGenStampResponse };
  contentSummary: { req: PathRequest; res: ContentSummary };
  fsync: { req: FsyncRequest; res: Empty };
  append: { req: AppendRequest; res: AppendResponse };
}

const optionalBlockCodec = optionalCodec(blockCodec);
const optionalLocatedBlockCodec = optionalCodec(locatedBlockCodec);
const fileStatusListCodec = listCodec(fileStatusCodec, FILE_STATUS_BYTES_MIN);
const locatedBlockListCodec = listCodec(locatedBlockCodec, LOCATED_BLOCK_BYTES_MIN);
/** Smallest BadReplica: a block and an empty node id. */
const BAD_REPLICA_BYTES_MIN = BLOCK_BYTES + 2;
const badReplicaListCodec = listCodec<BadReplica>(
  {
    encode(w, v) {
      blockCodec.encode(w, v.block);
      w.str(v.nodeId);
    },
    decode: (r) => ({ block: blockCodec.decode(r), nodeId: r.str('nodeId') }),
  },
  BAD_REPLICA_BYTES_MIN,
);

/** abandonBlock and bumpGenStamp ask the same thing of a block: | path | clientName | blockId |. */
const leaseBlockCodec: Codec<AbandonBlockRequest> = {
  encode: (w, v) => void w.str(v.path).str(v.clientName).u64(v.blockId),
  decode: (r) => ({ path: r.str('path'), clientName: r.str('clientName'), blockId: r.u64('blockId') }),
};

export const clientRpcCodecs = {
  mkdir: {
    opcode: 0x01,
    mutates: true,
    req: {
      encode: (w, v) => void w.str(v.path).bool(v.parents).u16(v.permission),
      decode: (r) => ({
        path: r.str('path'),
        parents: r.bool('parents'),
        permission: readPermission(r, 'permission'),
      }),
    },
    res: emptyCodec,
  },
  list: {
    opcode: 0x02,
    mutates: false,
    req: {
      encode: (w, v) => void w.str(v.path).str(v.startAfter).u32(v.limit),
      decode: (r) => ({ path: r.str('path'), startAfter: r.str('startAfter'), limit: r.u32('limit') }),
    },
    res: {
      encode(w, v) {
        fileStatusListCodec.encode(w, v.entries);
        w.bool(v.hasMore);
      },
      decode: (r) => ({ entries: fileStatusListCodec.decode(r), hasMore: r.bool('hasMore') }),
    },
  },
  stat: {
    opcode: 0x03,
    mutates: false,
    req: {
      encode: (w, v) => void w.str(v.path),
      decode: (r) => ({ path: r.str('path') }),
    },
    res: fileStatusCodec,
  },
  delete: {
    opcode: 0x04,
    mutates: true,
    req: {
      encode: (w, v) => void w.str(v.path).bool(v.recursive),
      decode: (r) => ({ path: r.str('path'), recursive: r.bool('recursive') }),
    },
    res: emptyCodec,
  },
  rename: {
    opcode: 0x05,
    mutates: true,
    req: {
      encode: (w, v) => void w.str(v.src).str(v.dst),
      decode: (r) => ({ src: r.str('src'), dst: r.str('dst') }),
    },
    res: emptyCodec,
  },
  setPermission: {
    opcode: 0x18,
    mutates: true,
    req: {
      encode: (w, v) => void w.str(v.path).u16(v.permission),
      decode: (r) => ({ path: r.str('path'), permission: readPermission(r, 'permission') }),
    },
    res: emptyCodec,
  },
  setOwner: {
    opcode: 0x19,
    mutates: true,
    req: {
      encode: (w, v) => void w.str(v.path).str(v.owner).str(v.group),
      decode: (r) => ({ path: r.str('path'), owner: r.str('owner'), group: r.str('group') }),
    },
    res: emptyCodec,
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
          .u64(v.blockBytes)
          .u16(v.permission),
      decode: (r) => ({
        path: r.str('path'),
        clientName: r.str('clientName'),
        overwrite: r.bool('overwrite'),
        createParent: r.bool('createParent'),
        replication: r.u16('replication'),
        blockBytes: r.u64('blockBytes'),
        permission: readPermission(r, 'permission'),
      }),
    },
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
        w.u64(v.reservedBlockId);
      },
      decode: (r) => ({
        path: r.str('path'),
        clientName: r.str('clientName'),
        previous: optionalBlockCodec.decode(r),
        excludeNodes: stringListCodec.decode(r),
        reservedBlockId: r.u64('reservedBlockId'),
      }),
    },
    res: locatedBlockCodec,
  },
  reserveBlock: {
    opcode: 0x1a,
    mutates: true,
    req: {
      encode(w, v) {
        w.str(v.path).str(v.clientName).u64(v.afterBlockId);
        stringListCodec.encode(w, v.excludeNodes);
      },
      decode: (r) => ({
        path: r.str('path'),
        clientName: r.str('clientName'),
        afterBlockId: r.u64('afterBlockId'),
        excludeNodes: stringListCodec.decode(r),
      }),
    },
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
    },
    res: {
      encode: (w, v) => void w.bool(v.completed),
      decode: (r) => ({ completed: r.bool('completed') }),
    },
  },
  abandonBlock: { opcode: 0x09, mutates: true, req: leaseBlockCodec, res: emptyCodec },
  renewLease: {
    opcode: 0x0a,
    mutates: false,
    req: {
      encode: (w, v) => void w.str(v.clientName),
      decode: (r) => ({ clientName: r.str('clientName') }),
    },
    res: emptyCodec,
  },
  getBlockLocations: {
    opcode: 0x0b,
    mutates: false,
    req: {
      encode: (w, v) => void w.str(v.path).u64(v.offset).u64(v.length),
      decode: (r) => ({ path: r.str('path'), offset: r.u64('offset'), length: r.u64('length') }),
    },
    res: {
      encode(w, v) {
        w.u64(v.fileLength).bool(v.underConstruction);
        locatedBlockListCodec.encode(w, v.blocks);
      },
      decode: (r) => ({
        fileLength: r.u64('fileLength'),
        underConstruction: r.bool('underConstruction'),
        blocks: locatedBlockListCodec.decode(r),
      }),
    },
  },
  serverInfo: {
    opcode: 0x0c,
    mutates: false,
    req: emptyCodec,
    res: {
      encode: (w, v) =>
        void w
          .str(v.clusterId)
          .str(v.version)
          .bool(v.safeMode)
          .u64(v.lastTxid)
          .u64(v.fileCount)
          .u64(v.directoryCount)
          .u64(v.blockCount)
          .u64(v.trashIntervalMs),
      decode: (r) => ({
        clusterId: r.str('clusterId'),
        version: r.str('version'),
        safeMode: r.bool('safeMode'),
        lastTxid: r.u64('lastTxid'),
        fileCount: r.u64('fileCount'),
        directoryCount: r.u64('directoryCount'),
        blockCount: r.u64('blockCount'),
        trashIntervalMs: r.u64('trashIntervalMs'),
      }),
    },
  },
  reportBadBlocks: {
    opcode: 0x0d,
    mutates: false,
    req: {
      encode: (w, v) => badReplicaListCodec.encode(w, v.replicas),
      decode: (r) => ({ replicas: badReplicaListCodec.decode(r) }),
    },
    res: emptyCodec,
  },
  bumpGenStamp: {
    opcode: 0x0e,
    mutates: true,
    req: leaseBlockCodec,
    res: {
      encode: (w, v) => void w.u64(v.genStamp),
      decode: (r) => ({ genStamp: r.u64('genStamp') }),
    },
  },
  contentSummary: {
    opcode: 0x17,
    mutates: false,
    req: {
      encode: (w, v) => void w.str(v.path),
      decode: (r) => ({ path: r.str('path') }),
    },
    res: {
      encode: (w, v) =>
        void w
          .u64(v.directories)
          .u64(v.files)
          .u64(v.length)
          .u64(v.spaceConsumed)
          .u64(v.nsQuota)
          .u64(v.dsQuota),
      decode: (r) => ({
        directories: r.u64('directories'),
        files: r.u64('files'),
        length: r.u64('length'),
        spaceConsumed: r.u64('spaceConsumed'),
        nsQuota: r.u64('nsQuota'),
        dsQuota: r.u64('dsQuota'),
      }),
    },
  },
  // Append and fsync take opcodes from 0x1F down (0x18 up is for the permission RPCs).
  fsync: {
    opcode: 0x1e,
    mutates: false,
    req: {
      encode: (w, v) => void w.str(v.path).str(v.clientName).u64(v.blockId).u64(v.lastBlockLength),
      decode: (r) => ({
        path: r.str('path'),
        clientName: r.str('clientName'),
        blockId: r.u64('blockId'),
        lastBlockLength: r.u64('lastBlockLength'),
      }),
    },
    res: emptyCodec,
  },
  append: {
    opcode: 0x1f,
    mutates: true,
    req: {
      encode: (w, v) => void w.str(v.path).str(v.clientName),
      decode: (r) => ({ path: r.str('path'), clientName: r.str('clientName') }),
    },
    res: {
      encode(w, v) {
        fileStatusCodec.encode(w, v.status);
        optionalLocatedBlockCodec.encode(w, v.lastBlock);
        w.bool(v.reopened);
      },
      decode: (r) => ({
        status: fileStatusCodec.decode(r),
        lastBlock: optionalLocatedBlockCodec.decode(r),
        reopened: r.bool('reopened'),
      }),
    },
  },
} satisfies CodecTable<ClientRpcMessages, { opcode: number; mutates: boolean }>;
