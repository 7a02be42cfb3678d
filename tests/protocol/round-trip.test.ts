/**
 * Encode -> FrameDecoder -> decode gives back the same values, for every message the
 * protocol has: handshake, every NameNode request and response, every error code, the data
 * requests and responses, packets and acks. Fixed examples cover edge values (empty
 * strings and lists, 2^53-1, multi-byte UTF-8); seeded random values cover the rest.
 */
import { describe, expect, it } from 'vitest';
import xxhash from 'xxhash-wasm';
import {
  BlockHealthState,
  CommandType,
  DATANODE_RPCS,
  DatanodeReportState,
  ReplicaState,
  DecommissionAction,
  ERROR_CODES,
  FrameDecoder,
  SafeModeAction,
  FrameKind,
  HandshakeStatus,
  HaRole,
  PROTOCOL_VERSION,
  RPC_BODY_BYTES_MAX,
  DATA_BODY_BYTES_MAX,
  Role,
  DataOp,
  RecoveryReplicaState,
  DfsError,
  checkHelloReply,
  checksumBytes,
  checksumCount,
  ChecksumType,
  dataCodecs,
  decodeAck,
  decodeDataBody,
  decodeError,
  decodeHello,
  decodeHelloReply,
  decodePacket,
  decodeRequest,
  decodeResponse,
  encodeAck,
  encodeDataRequest,
  encodeDataResponse,
  encodeError,
  encodeHello,
  NO_CLIENT_ID,
  encodeHelloReply,
  encodePacketHeader,
  encodeRequest,
  encodeResponse,
  errorCodeFromWire,
  errorCodeToWire,
  isDataOpcode,
  isNamenodeOpcode,
  isNamenodeReplyOpcode,
  rpcCodecs,
  rpcNameOf,
  type ErrorCode,
  type FileStatus,
  type Frame,
  type RpcName,
  type RpcRequest,
  type RpcResponse,
} from '../../protocol/index.js';
import {
  asLists,
  RPC_NAMES,
  Rng,
  decodeOne,
  dfsErrorOf,
  packetChecksums,
  randomReadBlockRequest,
  randomReadBlockResponse,
  randomBlockChecksumResponse,
  randomRequest,
  randomResponse,
  randomWriteBlockRequest,
  randomWriteBlockResponse,
  xxh3Reference,
} from './protocol-support.js';

const MAX = Number.MAX_SAFE_INTEGER;
const rpcOptions = { bodyBytesMax: RPC_BODY_BYTES_MAX, isKnownOpcode: isNamenodeOpcode };
const replyOptions = { bodyBytesMax: RPC_BODY_BYTES_MAX, isKnownOpcode: isNamenodeReplyOpcode };
const dataOptions = { bodyBytesMax: DATA_BODY_BYTES_MAX, isKnownOpcode: isDataOpcode };

const dirStatus: FileStatus = {
  path: 'logs',
  type: 1,
  length: 0,
  replication: 0,
  blockBytes: 0,
  mtimeMs: 1767225600000,
  blockCount: 0,
  underConstruction: false,
  childCount: 7,
  owner: 'alice',
  group: 'staff',
  permission: 0o1777,
};
const fileStatus: FileStatus = {
  path: '/données/日本/😀.bin',
  type: 2,
  length: MAX,
  replication: 65535,
  blockBytes: 134217728,
  mtimeMs: 0,
  blockCount: 0xffffffff,
  underConstruction: true,
  childCount: 0,
  owner: '',
  group: 'ŝtáff-日本',
  permission: 0,
};
const block = { blockId: MAX, genStamp: 0x1_0000_0000, numBytes: 0xffffffff };
const dn = { nodeId: 'dn-1', host: '::1', port: 65535 };
const noNode = { nodeId: '', host: '', port: 0 };
const zeroBlock = { blockId: 0, genStamp: 0, numBytes: 0 };
const storage = { capacityBytes: MAX, usedBytes: 0, remainingBytes: 0x1_0000_0000, failedVolumes: 0 };
/** The smallest datanodeReport entry: 71 bytes (empty id and host). */
const tinyReportEntry = {
  nodeId: '',
  host: '',
  port: 0,
  state: 1 as DatanodeReportState,
  capacityBytes: 0,
  usedBytes: 0,
  remainingBytes: 0,
  failedVolumes: 0,
  blockCount: 0,
  activeTransfers: 0,
  lastHeartbeatAgoMs: 0,
  lastBlockReportMs: 0,
  lastBlockReportBlocks: 0,
  drainBlocks: 0,
  drainStuckBlocks: 0,
};

/** Hand-picked examples: at least one request and one response per RPC, with edge values. */
const requests: { [K in RpcName]: RpcRequest<K>[] } = {
  mkdir: [
    { path: '/a', parents: false, permission: 0o755 },
    { path: '/', parents: true, permission: 0 },
    { path: '/t', parents: true, permission: 0o1777 },
  ],
  list: [
    { path: '/', startAfter: '', limit: 0 },
    { path: '/x', startAfter: 'é', limit: 0xffffffff },
  ],
  stat: [{ path: '' }, { path: '/' + 'n'.repeat(255) }, { path: 'x'.repeat(65535) }],
  delete: [{ path: '/a', recursive: true }],
  rename: [{ src: '/a', dst: '/données' }],
  setPermission: [
    { path: '/a', permission: 0 },
    { path: '/données', permission: 0o1777 },
  ],
  setOwner: [
    { path: '/a', owner: 'alice', group: '' },
    { path: '/a', owner: '', group: 'groupe-é' },
    { path: '/a', owner: '', group: '' },
  ],
  create: [
    {
      path: '/f',
      clientName: 'c',
      overwrite: true,
      createParent: false,
      replication: 0,
      blockBytes: MAX,
      permission: 0o644,
    },
  ],
  addBlock: [
    { path: '/f', clientName: 'c', previous: null, excludeNodes: [], reservedBlockId: 0 },
    { path: '/f', clientName: 'c', previous: block, excludeNodes: ['', 'dn-2', '日本'], reservedBlockId: 0 },
    // Attaching the block reserveBlock gave (a NameNode judges the id; the codec carries any u64).
    { path: '/f', clientName: 'c', previous: block, excludeNodes: [], reservedBlockId: MAX },
    { path: '/f', clientName: 'c', previous: block, excludeNodes: ['dn-2'], reservedBlockId: 1 },
  ],
  reserveBlock: [
    { path: '/f', clientName: 'c', afterBlockId: 1073741826, excludeNodes: [] },
    { path: '/données', clientName: 'client-42', afterBlockId: MAX, excludeNodes: ['', 'dn-2', '日本'] },
    { path: '', clientName: '', afterBlockId: 0, excludeNodes: ['dn-1'] },
  ],
  complete: [
    { path: '/f', clientName: 'c', last: null },
    { path: '/f', clientName: 'c', last: { blockId: 0, genStamp: 0, numBytes: 0 } },
  ],
  abandonBlock: [{ path: '/f', clientName: 'c', blockId: MAX }],
  renewLease: [{ clientName: '' }, { clientName: 'client-42' }],
  getBlockLocations: [{ path: '/f', offset: 0, length: MAX }],
  serverInfo: [{}],
  reportBadBlocks: [
    { replicas: [] },
    {
      replicas: [
        { block, nodeId: 'dn-1' },
        { block: zeroBlock, nodeId: '日本' },
      ],
    },
    // Smallest items (26 bytes: a block and an empty node id); the list-count check must allow them.
    {
      replicas: [
        { block: zeroBlock, nodeId: '' },
        { block: zeroBlock, nodeId: '' },
      ],
    },
  ],
  bumpGenStamp: [
    { path: '/f', clientName: 'c', blockId: MAX },
    { path: '', clientName: '', blockId: 0 },
  ],
  datanodeReport: [{}],
  safeMode: [
    { action: SafeModeAction.GET },
    { action: SafeModeAction.ENTER },
    { action: SafeModeAction.LEAVE },
    { action: 255 },
  ],
  setReplication: [
    { path: '/f', replication: 0 },
    { path: '/données', replication: 65535 },
  ],
  decommission: [
    { node: 'dn-1', action: DecommissionAction.DECOMMISSION },
    { node: '127.0.0.1:9866', action: DecommissionAction.RECOMMISSION },
    { node: '', action: 0 },
  ],
  replicationStats: [{}],
  triggerBlockReport: [{ node: 'DN-5f0c' }, { node: '127.0.0.1:9866' }, { node: '' }, { node: 'données:1' }],
  haStatus: [{}],
  // "" hands over to whichever standby wins.
  haFailover: [{ target: '' }, { target: 'nn2' }, { target: 'nœud-2' }],
  setQuota: [
    { path: '/q', nsQuota: 1000, dsQuota: MAX },
    { path: '/q', nsQuota: 0, dsQuota: 0 },
  ],
  contentSummary: [{ path: '/' }, { path: '/données' }],
  fsync: [
    { path: '/f', clientName: 'c', blockId: MAX, lastBlockLength: 0 },
    { path: '', clientName: '', blockId: 0, lastBlockLength: MAX },
  ],
  append: [
    { path: '/log', clientName: 'dfs-client-1' },
    { path: '', clientName: '' },
  ],
  blockHealth: [
    { path: '/f', startBlock: 0, limit: 0 },
    { path: '/données/日本', startBlock: 0xffffffff, limit: 0xffffffff },
  ],
  register: [
    { clusterId: 'CID-1', nodeId: 'dn-1', host: '::1', port: 65535, httpPort: 9864, ...storage },
    {
      clusterId: '',
      nodeId: '',
      host: '',
      port: 0,
      httpPort: 65535,
      capacityBytes: 0,
      usedBytes: MAX,
      remainingBytes: 0,
      failedVolumes: 0xffffffff,
    },
  ],
  heartbeat: [
    { nodeId: 'dn-1', ...storage, activeTransfers: 0, volumes: [] },
    {
      nodeId: '',
      capacityBytes: 0,
      usedBytes: 0,
      remainingBytes: MAX,
      failedVolumes: 0,
      activeTransfers: 0xffffffff,
      volumes: [
        { path: '/data/1', capacityBytes: MAX, usedBytes: 0, failed: false },
        { path: '', capacityBytes: 0, usedBytes: MAX, failed: true },
      ],
    },
  ],
  blockReceived: [
    { nodeId: 'dn-1', received: [], deleted: [] },
    { nodeId: 'dn-1', received: [block, zeroBlock], deleted: [0, MAX, 0x1_0000_0000] },
    { nodeId: '', received: [], deleted: [7] },
  ],
  blockReport: [
    { nodeId: 'dn-1', blocks: [], unfinished: [] },
    {
      nodeId: 'DN-5f0c',
      blocks: [block, zeroBlock, { blockId: 1073741825, genStamp: 1001, numBytes: 134217728 }],
      unfinished: [],
    },
    { nodeId: 'dn-2', blocks: [block], unfinished: [zeroBlock, { blockId: 9, genStamp: 3, numBytes: 21 }] },
  ],
  unregister: [{ nodeId: 'dn-1' }, { nodeId: '' }, { nodeId: 'DN-données' }],
  replicaCopyFailed: [
    { nodeId: 'dn-1', block, failedTargets: ['dn-2'], reason: 'ALREADY_EXISTS: replica exists' },
    { nodeId: '', block: zeroBlock, failedTargets: [], reason: '' },
    { nodeId: 'dn-3', block, failedTargets: ['dn-4', 'DN-données'], reason: 'x'.repeat(300) },
  ],
  commitBlockSynchronization: [
    { nodeId: 'dn-1', block, nodes: ['dn-1', 'dn-2', 'dn-3'] },
    { nodeId: '', block: zeroBlock, nodes: [] },
  ],
};

const responses: { [K in RpcName]: RpcResponse<K>[] } = {
  mkdir: [{}],
  setPermission: [{}],
  setOwner: [{}],
  list: [
    { entries: [], hasMore: false },
    { entries: [dirStatus, fileStatus], hasMore: true },
    // Empty names are the smallest FileStatus (38 bytes); the list-count check must allow them.
    {
      entries: [
        { ...dirStatus, path: '' },
        { ...dirStatus, path: '' },
        { ...dirStatus, path: '' },
      ],
      hasMore: false,
    },
  ],
  stat: [dirStatus, fileStatus],
  delete: [{}],
  rename: [{}],
  create: [fileStatus],
  fsync: [{}],
  append: [
    { status: fileStatus, lastBlock: null, reopened: false },
    { status: fileStatus, lastBlock: { block, offset: MAX, locations: [dn, noNode] }, reopened: true },
    { status: fileStatus, lastBlock: { block: zeroBlock, offset: 0, locations: [] }, reopened: false },
  ],
  addBlock: [
    { block, offset: 0, locations: [] },
    { block, offset: MAX, locations: [dn, { nodeId: '', host: '', port: 0 }] },
  ],
  reserveBlock: [
    { block: zeroBlock, offset: 0, locations: [] },
    { block: { ...block, numBytes: 0 }, offset: MAX, locations: [dn, noNode] },
  ],
  complete: [{ completed: true }, { completed: false }],
  abandonBlock: [{}],
  renewLease: [{}],
  getBlockLocations: [
    { fileLength: 0, underConstruction: false, blocks: [] },
    {
      fileLength: MAX,
      underConstruction: true,
      blocks: [
        { block, offset: 0, locations: [dn] },
        { block, offset: 5, locations: [] },
      ],
    },
  ],
  serverInfo: [
    {
      clusterId: 'CID-1',
      version: '0.1.0',
      safeMode: true,
      lastTxid: MAX,
      fileCount: 0,
      directoryCount: 1,
      blockCount: 2,
      trashIntervalMs: 86_400_000,
    },
  ],
  reportBadBlocks: [{}],
  bumpGenStamp: [{ genStamp: 0 }, { genStamp: MAX }],
  datanodeReport: [
    { nodes: [] },
    {
      nodes: [
        {
          nodeId: 'dn-1',
          host: '10.0.0.1',
          port: 9866,
          state: 1,
          ...storage,
          blockCount: 0xffffffff,
          activeTransfers: 3,
          lastHeartbeatAgoMs: 1500,
          lastBlockReportMs: 1767225600000,
          lastBlockReportBlocks: 0xffffffff,
          drainBlocks: 0,
          drainStuckBlocks: 0,
        },
        {
          nodeId: 'dn-2',
          host: 'données',
          port: 1,
          state: 2,
          ...storage,
          blockCount: 0,
          activeTransfers: 0,
          lastHeartbeatAgoMs: MAX,
          lastBlockReportMs: MAX,
          lastBlockReportBlocks: 0,
          drainBlocks: 0xffffffff,
          drainStuckBlocks: 0xffffffff,
        },
        { ...tinyReportEntry, state: 3 as const },
        { ...tinyReportEntry, state: 4 as const },
      ],
    },
    // Smallest entries (67 bytes each); the list-count check must allow them.
    { nodes: [tinyReportEntry, tinyReportEntry, tinyReportEntry] },
  ],
  safeMode: [
    { on: false, manual: false, reportedBlocks: 0, totalBlocks: 0, status: 'safe mode is off' },
    { on: true, manual: true, reportedBlocks: MAX, totalBlocks: MAX, status: '' },
    {
      on: true,
      manual: false,
      reportedBlocks: 3,
      totalBlocks: 4,
      status: 'safe mode is on: 3 of 4 blocks reported — é',
    },
  ],
  setReplication: [{}],
  decommission: [{}],
  triggerBlockReport: [
    { nodeId: 'DN-5f0c', lastBlockReportMs: 0 },
    { nodeId: '', lastBlockReportMs: MAX },
  ],
  haStatus: [
    {
      role: HaRole.ACTIVE,
      nodeId: 'nn1',
      epoch: 7,
      lastAppliedTxid: 42,
      journalHeadTxid: 42,
      activeId: 'nn1',
      activeAddress: '10.0.0.1:8020',
      activeEpoch: 7,
    },
    // Without HA; and a role a later NameNode may add (carried unjudged).
    {
      role: HaRole.SINGLE,
      nodeId: '',
      epoch: 0,
      lastAppliedTxid: 0,
      journalHeadTxid: 0,
      activeId: '',
      activeAddress: '',
      activeEpoch: 0,
    },
    {
      role: 255,
      nodeId: 'nœud',
      epoch: MAX,
      lastAppliedTxid: MAX,
      journalHeadTxid: MAX,
      activeId: 'x',
      activeAddress: '[::1]:8020',
      activeEpoch: MAX,
    },
  ],
  haFailover: [{}],
  setQuota: [{}],
  contentSummary: [
    { directories: 1, files: 0, length: 0, spaceConsumed: 0, nsQuota: 0, dsQuota: 0 },
    { directories: MAX, files: MAX, length: MAX, spaceConsumed: MAX, nsQuota: 10, dsQuota: MAX },
  ],
  replicationStats: [
    {
      underReplicated: 0,
      corrupt: 0,
      missing: 0,
      pendingCopies: 0,
      corruptBlockIds: [],
      missingBlockIds: [],
    },
    {
      underReplicated: MAX,
      corrupt: 2,
      missing: 1,
      pendingCopies: 0xffffffff,
      corruptBlockIds: [1, MAX],
      missingBlockIds: [0],
    },
  ],
  blockHealth: [
    { fileLength: 0, replication: 3, underConstruction: false, blocks: [], hasMore: false },
    {
      fileLength: MAX,
      replication: 65535,
      underConstruction: true,
      hasMore: true,
      blocks: [
        {
          block,
          offset: 0,
          health: BlockHealthState.UNDER_REPLICATED,
          replicas: [
            { node: dn, state: ReplicaState.LIVE },
            { node: { nodeId: 'dn-2', host: 'données', port: 1 }, state: ReplicaState.CORRUPT },
            { node: dn, state: ReplicaState.DELETING },
          ],
        },
        { block: zeroBlock, offset: MAX, health: BlockHealthState.MISSING, replicas: [] },
        // Values outside the unions are MALFORMED on decode: tests/protocol/enum-fields.test.ts.
      ],
    },
    // Smallest blocks (37 bytes) and replicas (7 bytes); the list-count checks must allow them.
    {
      fileLength: 0,
      replication: 0,
      underConstruction: false,
      hasMore: false,
      blocks: [
        { block: zeroBlock, offset: 0, health: BlockHealthState.HEALTHY, replicas: [] },
        {
          block: zeroBlock,
          offset: 0,
          health: BlockHealthState.HEALTHY,
          replicas: [
            { node: noNode, state: ReplicaState.LIVE },
            { node: noNode, state: ReplicaState.LIVE },
          ],
        },
      ],
    },
  ],
  // The epoch: 0 from a standby or a NameNode without HA; an etcd revision may be large.
  register: [{ epoch: 0 }, { epoch: 7 }, { epoch: MAX }],
  heartbeat: [
    { epoch: 0, commands: [] },
    { epoch: MAX, commands: [{ type: CommandType.REREGISTER, blocks: [], targets: [] }] },
    {
      epoch: 12345,
      commands: [
        { type: CommandType.DELETE_BLOCKS, blocks: [block, zeroBlock], targets: [] },
        { type: CommandType.REPLICATE, blocks: [block], targets: [dn, noNode] },
        { type: CommandType.BLOCK_REPORT, blocks: [], targets: [] },
        // Unknown types travel unjudged (the DataNode ignores them).
        { type: 255, blocks: [], targets: [] },
      ],
    },
    // Smallest commands (9 bytes: type and two empty lists); the list-count check must allow them.
    {
      epoch: 1,
      commands: [
        { type: 0, blocks: [], targets: [] },
        { type: 0, blocks: [], targets: [] },
      ],
    },
  ],
  blockReceived: [{}],
  blockReport: [{}],
  unregister: [{}],
  replicaCopyFailed: [{}],
  commitBlockSynchronization: [{}],
};

function roundTripRequest<N extends RpcName>(name: N, id: number, value: RpcRequest<N>): void {
  const frame = decodeOne(encodeRequest(name, id, value), rpcOptions);
  expect(frame.kind).toBe(FrameKind.REQUEST);
  expect(frame.opcode).toBe(rpcCodecs[name].opcode);
  expect(frame.flags).toBe(0);
  expect(frame.requestId).toBe(id);
  expect(rpcNameOf(frame.opcode)).toBe(name);
  expect(asLists(decodeRequest(name, frame))).toEqual(asLists(value));
}

function roundTripResponse<N extends RpcName>(name: N, id: number, value: RpcResponse<N>): void {
  const frame = decodeOne(encodeResponse(name, id, value), replyOptions);
  expect(frame.kind).toBe(FrameKind.RESPONSE);
  expect(frame.opcode).toBe(rpcCodecs[name].opcode);
  expect(frame.requestId).toBe(id);
  expect(decodeResponse(name, frame)).toEqual(value);
}

describe('round trip: handshake', () => {
  for (const role of Object.values(Role)) {
    it(`hello with role ${role}`, () => {
      const none = NO_CLIENT_ID;
      const bytes = encodeHello(role);
      expect(bytes.length).toBe(24);
      expect(decodeHello(bytes)).toEqual({ version: PROTOCOL_VERSION, role, user: '', clientId: none });
      expect(decodeHello(encodeHello(role, 0xffff))).toEqual({
        version: 0xffff,
        role,
        user: '',
        clientId: none,
      });
      const id = 'ff'.repeat(8) + '0123456789abcdef';
      const named = encodeHello(role, PROTOCOL_VERSION, 'ünïcode-user', id);
      expect(named.length).toBe(24 + Buffer.byteLength('ünïcode-user'));
      expect(decodeHello(named)).toEqual({
        version: PROTOCOL_VERSION,
        role,
        user: 'ünïcode-user',
        clientId: id,
      });
      expect(decodeHello(encodeHello(role, 1, 'u'.repeat(255))).user).toBe('u'.repeat(255));
    });
  }

  for (const status of Object.values(HandshakeStatus)) {
    it(`reply with status ${status}`, () => {
      expect(decodeHelloReply(encodeHelloReply(status))).toEqual({ version: PROTOCOL_VERSION, status });
      expect(decodeHelloReply(encodeHelloReply(status, 7))).toEqual({ version: 7, status });
    });
  }

  it('checkHelloReply accepts OK and turns the other statuses into typed errors', () => {
    expect(() => checkHelloReply({ version: PROTOCOL_VERSION, status: HandshakeStatus.OK })).not.toThrow();
    expect(
      dfsErrorOf(() => checkHelloReply({ version: 2, status: HandshakeStatus.VERSION_MISMATCH })).code,
    ).toBe('VERSION_MISMATCH');
    expect(dfsErrorOf(() => checkHelloReply({ version: 1, status: HandshakeStatus.ROLE_REFUSED })).code).toBe(
      'ACCESS_DENIED',
    );
    expect(dfsErrorOf(() => checkHelloReply({ version: 1, status: 99 })).code).toBe('PROTOCOL');
  });
});

describe('round trip: NameNode RPCs', () => {
  it('opcodes are unique and every RPC has hand-picked examples', () => {
    const opcodes = RPC_NAMES.map((n) => rpcCodecs[n].opcode);
    expect(new Set(opcodes).size).toBe(opcodes.length);
    for (const n of RPC_NAMES) {
      expect(requests[n].length, n).toBeGreaterThan(0);
      expect(responses[n].length, n).toBeGreaterThan(0);
    }
  });

  it('opcodes are in the NameNode range; DataNode-only RPCs are exactly 0x20-0x23', () => {
    for (const n of RPC_NAMES) {
      const op = rpcCodecs[n].opcode;
      expect(op >= 0x01 && op <= 0x3f, n).toBe(true);
      expect(isNamenodeOpcode(FrameKind.REQUEST, op), n).toBe(true);
      expect(isNamenodeReplyOpcode(FrameKind.RESPONSE, op), n).toBe(true);
      expect(isDataOpcode(FrameKind.REQUEST, op), n).toBe(false);
      // The DataNode-only RPCs are 0x20 and up; everything a client may send is below.
      expect(DATANODE_RPCS.has(n), n).toBe(op >= 0x20);
    }
    expect([...DATANODE_RPCS].sort()).toEqual([
      'blockReceived',
      'blockReport',
      'commitBlockSynchronization',
      'heartbeat',
      'register',
      'replicaCopyFailed',
      'unregister',
    ]);
    expect(
      [
        'register',
        'heartbeat',
        'blockReceived',
        'blockReport',
        'unregister',
        'replicaCopyFailed',
        'commitBlockSynchronization',
      ].map((n) => rpcCodecs[n as RpcName].opcode),
    ).toEqual([0x20, 0x21, 0x22, 0x23, 0x25, 0x26, 0x27]);
    // None of them mutates the namespace, so they are never refused in safe mode, but the
    // commit of a block recovery, which closes a file (as HDFS refuses it in safe mode).
    for (const n of DATANODE_RPCS) expect(rpcCodecs[n].mutates, n).toBe(n === 'commitBlockSynchronization');
  });

  it('enum values on the wire: CommandType, SafeModeAction, DecommissionAction, DataNode, block and replica states', () => {
    expect(CommandType).toEqual({
      DELETE_BLOCKS: 1,
      REPLICATE: 2,
      REREGISTER: 3,
      BLOCK_REPORT: 4,
      RECOVER_BLOCK: 5,
    });
    expect(SafeModeAction).toEqual({ GET: 0, ENTER: 1, LEAVE: 2 });
    expect(DecommissionAction).toEqual({ DECOMMISSION: 1, RECOMMISSION: 2 });
    expect(DatanodeReportState).toEqual({ LIVE: 1, DEAD: 2, DECOMMISSIONING: 3, DECOMMISSIONED: 4 });
    expect(BlockHealthState).toEqual({
      HEALTHY: 1,
      UNDER_REPLICATED: 2,
      OVER_REPLICATED: 3,
      CORRUPT: 4,
      MISSING: 5,
      UNDER_CONSTRUCTION: 6,
    });
    expect(Object.keys(ReplicaState).join()).toBe(
      'LIVE,DECOMMISSIONING,DECOMMISSIONED,CORRUPT,STALE,DELETING',
    );
    expect(Object.values(ReplicaState)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  for (const name of RPC_NAMES) {
    it(`${name} request`, () => {
      requests[name].forEach((v, i) => roundTripRequest(name, i + 1, v));
    });
    it(`${name} response`, () => {
      responses[name].forEach((v, i) => roundTripResponse(name, 0xffffffff - i, v));
    });
    it(`${name} random requests and responses`, () => {
      const rng = new Rng(0x5eed + rpcCodecs[name].opcode);
      for (let i = 0; i < 300; i++) {
        roundTripRequest(name, rng.u32(), randomRequest(rng, name));
        roundTripResponse(name, rng.u32(), randomResponse(rng, name));
      }
    });
  }
});

describe('round trip: errors', () => {
  const codes = Object.keys(ERROR_CODES) as ErrorCode[];

  it('error numbers are unique and map both ways', () => {
    expect(new Set(Object.values(ERROR_CODES)).size).toBe(codes.length);
    for (const c of codes) expect(errorCodeFromWire(errorCodeToWire(c))).toBe(c);
  });

  for (const code of codes) {
    it(`ERROR frame with ${code}`, () => {
      const frame = decodeOne(
        encodeError(0x03, 99, new DfsError(code, `something about ${code} — é`)),
        replyOptions,
      );
      expect(frame.kind).toBe(FrameKind.ERROR);
      expect(frame.opcode).toBe(0x03);
      expect(frame.requestId).toBe(99);
      expect(frame.body.readUInt16BE(0)).toBe(ERROR_CODES[code]);
      const err = decodeError(frame);
      expect(err).toBeInstanceOf(DfsError);
      expect(err.code).toBe(code);
      expect(err.message).toBe(`something about ${code} — é`);
    });
  }

  it('a connection-level error (opcode 0, request id 0) with an empty message', () => {
    const frame = decodeOne(encodeError(0, 0, new DfsError('MALFORMED', '')), dataOptions);
    expect([frame.opcode, frame.requestId]).toEqual([0, 0]);
    expect(decodeError(frame).code).toBe('MALFORMED');
    expect(decodeError(frame).message).toBe('');
  });

  it('a long message is cut to 4096 characters', () => {
    const err = decodeError(decodeOne(encodeError(1, 1, new DfsError('INTERNAL', 'x'.repeat(10000)))));
    expect(err.message).toBe('x'.repeat(4096));
  });
});

describe('round trip: data transfer', () => {
  it('WRITE_BLOCK request and response', () => {
    const req = {
      block,
      clientName: 'c1',
      stage: 2,
      chunkBytes: 65536,
      checksumType: ChecksumType.XXH32,
      targets: [dn, { nodeId: 'b', host: 'h', port: 1 }],
    };
    for (const checksumType of [ChecksumType.XXH32, ChecksumType.XXH64, ChecksumType.XXH3]) {
      const f = decodeOne(encodeDataRequest('writeBlock', 5, { ...req, checksumType }), dataOptions);
      expect([f.kind, f.opcode, f.requestId]).toEqual([FrameKind.REQUEST, DataOp.WRITE_BLOCK, 5]);
      expect(decodeDataBody(dataCodecs.writeBlock.req, f, 'write')).toEqual({ ...req, checksumType });
    }
    for (const res of [
      { firstBadLink: '', checksumType: ChecksumType.XXH64 },
      { firstBadLink: 'dn-3', checksumType: ChecksumType.XXH32 },
    ]) {
      const g = decodeOne(encodeDataResponse('writeBlock', 5, res), dataOptions);
      expect([g.kind, g.opcode]).toEqual([FrameKind.RESPONSE, DataOp.WRITE_BLOCK]);
      expect(decodeDataBody(dataCodecs.writeBlock.res, g, 'write')).toEqual(res);
    }
  });

  it('READ_BLOCK request and response', () => {
    const req = { block, offset: 3, length: MAX };
    const f = decodeOne(encodeDataRequest('readBlock', 6, req), dataOptions);
    expect([f.kind, f.opcode, f.requestId]).toEqual([FrameKind.REQUEST, DataOp.READ_BLOCK, 6]);
    expect(decodeDataBody(dataCodecs.readBlock.req, f, 'read')).toEqual(req);
    for (const checksumType of [ChecksumType.XXH32, ChecksumType.XXH64, ChecksumType.XXH3]) {
      const res = { chunkBytes: 512, checksumType, startOffset: 0, length: MAX };
      const g = decodeOne(encodeDataResponse('readBlock', 6, res), dataOptions);
      expect(decodeDataBody(dataCodecs.readBlock.res, g, 'read')).toEqual(res);
    }
  });

  it('a checksum type other than xxh32 (1), xxh64 (2) or xxh3 (3) is MALFORMED in every message that carries one', () => {
    const req = {
      block,
      clientName: 'c',
      stage: 0,
      chunkBytes: 512,
      checksumType: ChecksumType.XXH64,
      targets: [],
    };
    const bodies: Array<[string, Buffer, number, (f: Frame) => unknown]> = [
      [
        'WRITE_BLOCK request',
        encodeDataRequest('writeBlock', 1, req),
        24 + 2 + 1 + 1 + 4,
        (f) => decodeDataBody(dataCodecs.writeBlock.req, f, 'w'),
      ],
      [
        'WRITE_BLOCK response',
        encodeDataResponse('writeBlock', 1, { firstBadLink: '', checksumType: ChecksumType.XXH64 }),
        2,
        (f) => decodeDataBody(dataCodecs.writeBlock.res, f, 'w'),
      ],
      [
        'READ_BLOCK response',
        encodeDataResponse('readBlock', 1, {
          chunkBytes: 512,
          checksumType: ChecksumType.XXH64,
          startOffset: 0,
          length: 1,
        }),
        4,
        (f) => decodeDataBody(dataCodecs.readBlock.res, f, 'r'),
      ],
      [
        'BLOCK_CHECKSUM response',
        encodeDataResponse('blockChecksum', 1, {
          chunkBytes: 512,
          checksumType: ChecksumType.XXH64,
          numBytes: 1,
          digest: Buffer.alloc(32),
        }),
        4,
        (f) => decodeDataBody(dataCodecs.blockChecksum.res, f, 'c'),
      ],
    ];
    for (const [what, bytes, at, decode] of bodies) {
      for (const bad of [0, 4, 255]) {
        const copy = Buffer.from(bytes);
        expect(copy.readUInt8(12 + at), what).toBe(ChecksumType.XXH64);
        copy.writeUInt8(bad, 12 + at);
        const f = decodeOne(copy, dataOptions);
        expect(() => decode(f), `${what}, type ${bad}`).toThrow(
          expect.objectContaining({ code: 'MALFORMED' }),
        );
      }
    }
  });

  it('BLOCK_CHECKSUM request and response: the digest is 32 raw bytes', () => {
    const f = decodeOne(encodeDataRequest('blockChecksum', 7, { block }), dataOptions);
    expect([f.kind, f.opcode, f.requestId]).toEqual([FrameKind.REQUEST, DataOp.BLOCK_CHECKSUM, 7]);
    expect(decodeDataBody(dataCodecs.blockChecksum.req, f, 'sum')).toEqual({ block });
    const res = {
      chunkBytes: 65536,
      checksumType: ChecksumType.XXH64,
      numBytes: MAX,
      digest: Buffer.alloc(32, 0xab),
    };
    const g = decodeOne(encodeDataResponse('blockChecksum', 7, res), dataOptions);
    expect(g.body.length).toBe(45);
    expect(decodeDataBody(dataCodecs.blockChecksum.res, g, 'sum')).toEqual(res);
  });

  it('INIT_REPLICA_RECOVERY and UPDATE_REPLICA_UNDER_RECOVERY requests and responses', () => {
    const init = { blockId: MAX, recoveryId: 1002 };
    const f = decodeOne(encodeDataRequest('initReplicaRecovery', 7, init), dataOptions);
    expect([f.kind, f.opcode, f.requestId]).toEqual([FrameKind.REQUEST, DataOp.INIT_REPLICA_RECOVERY, 7]);
    expect(decodeDataBody(dataCodecs.initReplicaRecovery.req, f, 'init')).toEqual(init);
    for (const res of [
      { genStamp: 1001, numBytes: 2097152, state: RecoveryReplicaState.UNFINISHED },
      { genStamp: 0, numBytes: MAX, state: RecoveryReplicaState.FINALIZED },
    ]) {
      const g = decodeOne(encodeDataResponse('initReplicaRecovery', 7, res), dataOptions);
      expect([g.kind, g.opcode]).toEqual([FrameKind.RESPONSE, DataOp.INIT_REPLICA_RECOVERY]);
      expect(decodeDataBody(dataCodecs.initReplicaRecovery.res, g, 'init')).toEqual(res);
    }
    const update = { blockId: 9, recoveryId: 1002, newLength: 0 };
    const u = decodeOne(encodeDataRequest('updateReplicaUnderRecovery', 8, update), dataOptions);
    expect([u.opcode, u.requestId]).toEqual([DataOp.UPDATE_REPLICA_UNDER_RECOVERY, 8]);
    expect(decodeDataBody(dataCodecs.updateReplicaUnderRecovery.req, u, 'update')).toEqual(update);
    const res = { block };
    const v = decodeOne(encodeDataResponse('updateReplicaUnderRecovery', 8, res), dataOptions);
    expect(decodeDataBody(dataCodecs.updateReplicaUnderRecovery.res, v, 'update')).toEqual(res);
  });

  it('random data requests and responses', () => {
    const rng = new Rng(0xda7a);
    for (let i = 0; i < 300; i++) {
      const w = randomWriteBlockRequest(rng);
      expect(
        decodeDataBody(dataCodecs.writeBlock.req, decodeOne(encodeDataRequest('writeBlock', 1, w)), 'w'),
      ).toEqual(w);
      const wr = randomWriteBlockResponse(rng);
      expect(
        decodeDataBody(dataCodecs.writeBlock.res, decodeOne(encodeDataResponse('writeBlock', 1, wr)), 'w'),
      ).toEqual(wr);
      const r = randomReadBlockRequest(rng);
      expect(
        decodeDataBody(dataCodecs.readBlock.req, decodeOne(encodeDataRequest('readBlock', 1, r)), 'r'),
      ).toEqual(r);
      const rr = randomReadBlockResponse(rng);
      expect(
        decodeDataBody(dataCodecs.readBlock.res, decodeOne(encodeDataResponse('readBlock', 1, rr)), 'r'),
      ).toEqual(rr);
      const cr = randomBlockChecksumResponse(rng);
      expect(
        decodeDataBody(
          dataCodecs.blockChecksum.res,
          decodeOne(encodeDataResponse('blockChecksum', 1, cr)),
          'c',
        ),
      ).toEqual(cr);
    }
  });

  it.each([ChecksumType.XXH32, ChecksumType.XXH64, ChecksumType.XXH3])(
    'packets of many sizes and chunk sizes, header and payload written separately (checksum type %i)',
    async (type) => {
      const api = await xxhash();
      const h32Raw = api.h32Raw.bind(api);
      const size = checksumBytes(type);
      const hash = (b: Buffer): Buffer => {
        const out = Buffer.alloc(size);
        if (type === ChecksumType.XXH3) out.set(xxh3Reference(b));
        else if (type === ChecksumType.XXH64) out.writeBigUInt64BE(api.h64Raw(b, 0n));
        else out.writeUInt32BE(h32Raw(b, 0) >>> 0);
        return out;
      };
      const rng = new Rng(0xbacc);
      const cases: Array<[number, number]> = [
        [0, 1],
        [0, 512],
        [1, 1],
        [511, 512],
        [512, 512],
        [513, 512],
        [65536, 65536],
        [65537, 4096],
      ];
      for (let i = 0; i < 40; i++) cases.push([rng.int(3000), rng.range(1, 700)]);
      for (const [payloadBytes, chunkBytes] of cases) {
        const payload = rng.bytes(payloadBytes);
        const sums = packetChecksums(payload, chunkBytes, h32Raw, type);
        expect(sums.length).toBe(checksumCount(payloadBytes, chunkBytes) * size);
        const h = {
          blockId: MAX,
          offsetInBlock: 0x1_0000_0000,
          seqno: rng.u64(),
          last: rng.bool(),
          payloadBytes,
        };
        const head = encodePacketHeader(77, h, sums);
        expect(head.length).toBe(12 + 32 + sums.length);
        // The wire sees [head, payload] (cork/writev); deliver them as two chunks like a socket might.
        const frames: Frame[] = [];
        const decoder = new FrameDecoder(dataOptions);
        decoder.push(head, (f) => frames.push(f));
        decoder.push(payload, (f) => frames.push(f));
        expect(frames).toHaveLength(1);
        const f = frames[0]!;
        expect([f.kind, f.opcode, f.requestId]).toEqual([FrameKind.PACKET, 0, 77]);
        const p = decodePacket(f, chunkBytes, type);
        expect({
          blockId: p.blockId,
          offsetInBlock: p.offsetInBlock,
          seqno: p.seqno,
          last: p.last,
          payloadBytes: p.payloadBytes,
        }).toEqual(h);
        expect(p.checksums.equals(sums)).toBe(true);
        const got = Buffer.concat(p.payload);
        expect(got.equals(payload)).toBe(true);
        // And the receiver's check: each chunk verifies against its checksum.
        for (let c = 0; c * chunkBytes < payloadBytes; c++) {
          expect(hash(got.subarray(c * chunkBytes, (c + 1) * chunkBytes)).toString('hex')).toBe(
            p.checksums.subarray(c * size, (c + 1) * size).toString('hex'),
          );
        }
      }
    },
  );

  it('acks with 0 to 255 statuses', () => {
    const rng = new Rng(0xac);
    for (const n of [0, 1, 2, 3, 255]) {
      const ack = { seqno: rng.u64(), statuses: Array.from({ length: n }, () => rng.int(256)) };
      const f = decodeOne(encodeAck(9, ack), dataOptions);
      expect([f.kind, f.opcode, f.requestId]).toEqual([FrameKind.ACK, 0, 9]);
      expect(f.body.length).toBe(9 + n);
      expect(decodeAck(f)).toEqual(ack);
    }
  });
});

describe('encoders refuse values the wire cannot carry', () => {
  it('u64 above 2^53-1, negative or fractional is INVALID_ARGUMENT', () => {
    for (const bad of [MAX + 1, 2 ** 64, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(
        dfsErrorOf(() => encodeRequest('abandonBlock', 1, { path: '/f', clientName: 'c', blockId: bad }))
          .code,
      ).toBe('INVALID_ARGUMENT');
    }
  });

  it('packet headers and acks refuse a bad u64 the same way', () => {
    for (const bad of [MAX + 1, -1, 0.5]) {
      const h = { blockId: 1, offsetInBlock: 0, seqno: 0, last: false, payloadBytes: 0 };
      expect(dfsErrorOf(() => encodePacketHeader(1, { ...h, blockId: bad }, Buffer.alloc(0))).code).toBe(
        'INVALID_ARGUMENT',
      );
      expect(
        dfsErrorOf(() => encodePacketHeader(1, { ...h, offsetInBlock: bad }, Buffer.alloc(0))).code,
      ).toBe('INVALID_ARGUMENT');
      expect(dfsErrorOf(() => encodePacketHeader(1, { ...h, seqno: bad }, Buffer.alloc(0))).code).toBe(
        'INVALID_ARGUMENT',
      );
      expect(dfsErrorOf(() => encodeAck(1, { seqno: bad, statuses: [0] })).code).toBe('INVALID_ARGUMENT');
    }
  });

  it('a string over 65535 bytes is INVALID_ARGUMENT', () => {
    expect(dfsErrorOf(() => encodeRequest('stat', 1, { path: 'é'.repeat(32768) })).code).toBe(
      'INVALID_ARGUMENT',
    );
  });
});
