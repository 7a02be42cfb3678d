/**
 * Human output of the cluster views: `dfs admin report`, `dfs fsck`, and the totals `dfs df`
 * shares with the report. Pure functions of their inputs, unit-tested without a cluster.
 * The names of DataNode, replica and block states are defined here once; `--json` output uses
 * the same names (lower case, hyphenated), so what a script matches is what a person reads.
 */
import {
  BlockHealthState,
  DatanodeReportState,
  ReplicaState,
  type BlockHealth,
  type DatanodeReportEntry,
  type ReplicationStatsResponse,
} from '../../protocol/admin-namenode-messages.js';
import { alignColumns, formatKeyValues, humanBytes, type Align } from './format.js';

function nameOf(names: Readonly<Record<number, string>>, value: number): string {
  return names[value] ?? `unknown(${value})`;
}

const NODE_STATE_NAMES: Readonly<Record<number, string>> = {
  [DatanodeReportState.LIVE]: 'live',
  [DatanodeReportState.DEAD]: 'dead',
  [DatanodeReportState.DECOMMISSIONING]: 'decommissioning',
  [DatanodeReportState.DECOMMISSIONED]: 'decommissioned',
};

const BLOCK_HEALTH_NAMES: Readonly<Record<number, string>> = {
  [BlockHealthState.HEALTHY]: 'healthy',
  [BlockHealthState.UNDER_REPLICATED]: 'under-replicated',
  [BlockHealthState.OVER_REPLICATED]: 'over-replicated',
  [BlockHealthState.CORRUPT]: 'corrupt',
  [BlockHealthState.MISSING]: 'missing',
  [BlockHealthState.UNDER_CONSTRUCTION]: 'under-construction',
};

const REPLICA_STATE_NAMES: Readonly<Record<number, string>> = {
  [ReplicaState.LIVE]: 'live',
  [ReplicaState.DECOMMISSIONING]: 'decommissioning',
  [ReplicaState.DECOMMISSIONED]: 'decommissioned',
  [ReplicaState.CORRUPT]: 'corrupt',
  [ReplicaState.STALE]: 'stale',
  [ReplicaState.DELETING]: 'deleting',
};

export const nodeStateName = (state: number): string => nameOf(NODE_STATE_NAMES, state);
export const blockHealthName = (health: number): string => nameOf(BLOCK_HEALTH_NAMES, health);
export const replicaStateName = (state: number): string => nameOf(REPLICA_STATE_NAMES, state);

export function blockName(blockId: number): string {
  return `blk_${blockId}`;
}

function percent(part: number, whole: number): number {
  return whole > 0 ? Number(((part / whole) * 100).toFixed(3)) : 0;
}

// ---- cluster totals (df, admin report) ------------------------------------------------

export interface NodeTotals {
  /** Nodes by state name: live (in service), dead, decommissioning, decommissioned. */
  live: number;
  dead: number;
  decommissioning: number;
  decommissioned: number;
  /** Space of the nodes that are not dead (a dead node's last report is stale). */
  capacityBytes: number;
  usedBytes: number;
  remainingBytes: number;
  /** usedBytes / capacityBytes x 100; 0 when there is no capacity. */
  usedPercent: number;
  /** Volumes taken out of service after I/O failures, on the nodes that are not dead. */
  failedVolumes: number;
}

export function nodeTotals(nodes: readonly DatanodeReportEntry[]): NodeTotals {
  const t: NodeTotals = {
    live: 0,
    dead: 0,
    decommissioning: 0,
    decommissioned: 0,
    capacityBytes: 0,
    usedBytes: 0,
    remainingBytes: 0,
    usedPercent: 0,
    failedVolumes: 0,
  };
  for (const n of nodes) {
    const state = nodeStateName(n.state);
    if (state === 'live' || state === 'dead' || state === 'decommissioning' || state === 'decommissioned')
      t[state]++;
    if (n.state === DatanodeReportState.DEAD) continue;
    t.capacityBytes += n.capacityBytes;
    t.usedBytes += n.usedBytes;
    t.remainingBytes += n.remainingBytes;
    t.failedVolumes += n.failedVolumes;
  }
  t.usedPercent = percent(t.usedBytes, t.capacityBytes);
  return t;
}

// ---- admin report ---------------------------------------------------------------------

/** One DataNode in the report's JSON: the wire entry with its state named and its address. */
export interface ReportNode extends Omit<DatanodeReportEntry, 'state'> {
  address: string;
  state: string;
  usedPercent: number;
}

export interface ClusterReport extends NodeTotals, ReplicationStatsResponse {
  namenode: string;
  safeMode: boolean;
  /** Blocks in the namespace. */
  blocks: number;
  nodes: ReportNode[];
}

export function reportNode(n: DatanodeReportEntry): ReportNode {
  return {
    ...n,
    address: `${n.host}:${n.port}`,
    state: nodeStateName(n.state),
    usedPercent: percent(n.usedBytes, n.capacityBytes),
  };
}

/** `12 (blk_1, blk_2, ...)`: a count, with up to `max` of the block ids it samples. */
function countWithSample(count: number, ids: readonly number[], max = 10): string {
  if (count === 0 || ids.length === 0) return String(count);
  const shown = ids.slice(0, max).map(blockName).join(', ');
  return `${count} (${shown}${ids.length > max || count > ids.length ? ', ...' : ''})`;
}

/**
 * A node's last full block report: `2026-11-21T19:46:43Z, 12 blocks` (UTC, the NameNode's
 * clock, so no local clock skews it), or `never` when none came since it registered.
 */
export function formatBlockReport(atMs: number, blocks: number): string {
  if (atMs === 0) return 'never';
  return `${new Date(atMs).toISOString().replace(/\.\d{3}Z$/, 'Z')}, ${blocks} block${blocks === 1 ? '' : 's'}`;
}

function withHuman(bytes: number): string {
  return bytes < 1024 ? String(bytes) : `${bytes} (${humanBytes(bytes)})`;
}

const NODE_ALIGN: readonly Align[] = [
  'left',
  'left',
  'left',
  'right',
  'right',
  'right',
  'right',
  'right',
  'right',
  'right',
  'left',
  'left',
];

export function formatReport(r: ClusterReport): string[] {
  const lines = formatKeyValues([
    ['namenode', r.namenode],
    ['safeMode', r.safeMode ? 'ON (mutations are refused)' : 'off'],
    [
      'dataNodes',
      `${r.live} live, ${r.dead} dead, ${r.decommissioning} decommissioning, ${r.decommissioned} decommissioned`,
    ],
    ['capacity', withHuman(r.capacityBytes)],
    ['used', withHuman(r.usedBytes)],
    ['remaining', withHuman(r.remainingBytes)],
    ['use%', `${r.usedPercent.toFixed(1)}%`],
    ['failedVolumes', String(r.failedVolumes)],
    ['blocks', String(r.blocks)],
    ['underReplicated', String(r.underReplicated)],
    ['corrupt', countWithSample(r.corrupt, r.corruptBlockIds)],
    ['missing', countWithSample(r.missing, r.missingBlockIds)],
    ['pendingCopies', String(r.pendingCopies)],
  ]);
  if (r.nodes.length === 0) return lines;
  const rows = [
    [
      'NODE',
      'ADDRESS',
      'STATE',
      'CAPACITY',
      'USED',
      'REMAINING',
      'USE%',
      'BLOCKS',
      'XFERS',
      'FAILED VOLS',
      'LAST HEARTBEAT',
      'LAST BLOCK REPORT',
    ],
    ...r.nodes.map((n) => [
      n.nodeId,
      n.address,
      n.state,
      humanBytes(n.capacityBytes),
      humanBytes(n.usedBytes),
      humanBytes(n.remainingBytes),
      `${n.usedPercent.toFixed(1)}%`,
      String(n.blockCount),
      String(n.activeTransfers),
      String(n.failedVolumes),
      `${(n.lastHeartbeatAgoMs / 1000).toFixed(1)}s ago`,
      formatBlockReport(n.lastBlockReportMs, n.lastBlockReportBlocks),
    ]),
  ];
  const draining = r.nodes.filter((n) => n.state === 'decommissioning').map(drainLine);
  return [...lines, '', ...alignColumns(rows, NODE_ALIGN), ...(draining.length > 0 ? ['', ...draining] : [])];
}

/** A decommissioning node's progress: what is left to copy, and what cannot be placed at all. */
export function drainLine(n: Pick<ReportNode, 'nodeId' | 'drainBlocks' | 'drainStuckBlocks'>): string {
  const left = `${n.nodeId} decommissioning: ${n.drainBlocks} block${n.drainBlocks === 1 ? '' : 's'} still to copy elsewhere`;
  if (n.drainStuckBlocks === 0) return left;
  return `${left}; ${n.drainStuckBlocks} cannot be placed (their files want more replicas than there are live in-service DataNodes: add DataNodes or lower their replication)`;
}

// ---- fsck ------------------------------------------------------------------------------

/** Worst first: a file's health is the worst of its blocks'. */
const SEVERITY: readonly number[] = [
  BlockHealthState.MISSING,
  BlockHealthState.CORRUPT,
  BlockHealthState.UNDER_REPLICATED,
  BlockHealthState.OVER_REPLICATED,
  BlockHealthState.UNDER_CONSTRUCTION,
  BlockHealthState.HEALTHY,
];

export function worstHealth(blocks: readonly BlockHealth[]): number {
  let worst = BlockHealthState.HEALTHY as number;
  for (const b of blocks) if (SEVERITY.indexOf(b.health) < SEVERITY.indexOf(worst)) worst = b.health;
  return worst;
}

/** A block's health that an operator must act on (or wait for the cluster to fix). */
export function isProblem(health: number): boolean {
  return health !== BlockHealthState.HEALTHY && health !== BlockHealthState.UNDER_CONSTRUCTION;
}

export interface FsckReplica {
  nodeId: string;
  address: string;
  state: string;
}

export interface FsckBlock {
  block: string;
  blockId: number;
  genStamp: number;
  numBytes: number;
  offset: number;
  health: string;
  /** Live, in-service good replicas (the ones that count towards replication). */
  liveReplicas: number;
  replicas: FsckReplica[];
}

export interface FsckFile {
  path: string;
  length: number;
  replication: number;
  underConstruction: boolean;
  health: string;
  blocks: FsckBlock[];
}

export function fsckBlock(b: BlockHealth): FsckBlock {
  return {
    block: blockName(b.block.blockId),
    blockId: b.block.blockId,
    genStamp: b.block.genStamp,
    numBytes: b.block.numBytes,
    offset: b.offset,
    health: blockHealthName(b.health),
    liveReplicas: b.replicas.filter((r) => r.state === ReplicaState.LIVE).length,
    replicas: b.replicas.map((r) => ({
      nodeId: r.node.nodeId,
      address: `${r.node.host}:${r.node.port}`,
      state: replicaStateName(r.state),
    })),
  };
}

export function formatFsckFile(f: FsckFile): string {
  const open = f.underConstruction ? ', open for writing' : '';
  return `${f.path} ${humanBytes(f.length)}, ${f.blocks.length} block${f.blocks.length === 1 ? '' : 's'}, replication ${f.replication}${open}: ${f.health}`;
}

/** `  blk_7 offset 0 len 1048576 live 2/3 under-replicated [127.0.0.1:9866 live, ...]`. */
export function formatFsckBlock(b: FsckBlock, replication: number, withLocations: boolean): string {
  const where = withLocations ? ` [${b.replicas.map((r) => `${r.address} ${r.state}`).join(', ')}]` : '';
  return `  ${b.block} offset ${b.offset} len ${b.numBytes} live ${b.liveReplicas}/${replication} ${b.health}${where}`;
}

export interface FsckSummary {
  path: string;
  /**
   * HEALTHY; CORRUPT when any block is missing or corrupt; FAILED when no block was found
   * bad but some paths could not be checked (`failedPaths`): never HEALTHY over a tree
   * that was not seen whole.
   */
  status: 'HEALTHY' | 'CORRUPT' | 'FAILED';
  /** Paths (directories listed, files asked about) that failed during the walk. */
  failedPaths: number;
  totalBytes: number;
  directories: number;
  files: number;
  openFiles: number;
  blocks: number;
  healthyBlocks: number;
  underReplicatedBlocks: number;
  overReplicatedBlocks: number;
  corruptBlocks: number;
  missingBlocks: number;
  underConstructionBlocks: number;
}

/** The whole `dfs fsck --json` document (streamed by fsck.ts in this shape). */
export interface FsckDocument {
  path: string;
  files: FsckFile[];
  summary: FsckSummary;
}

export function emptyFsckSummary(path: string): FsckSummary {
  return {
    path,
    status: 'HEALTHY',
    failedPaths: 0,
    totalBytes: 0,
    directories: 0,
    files: 0,
    openFiles: 0,
    blocks: 0,
    healthyBlocks: 0,
    underReplicatedBlocks: 0,
    overReplicatedBlocks: 0,
    corruptBlocks: 0,
    missingBlocks: 0,
    underConstructionBlocks: 0,
  };
}

const SUMMARY_COUNTER: Readonly<Record<number, keyof FsckSummary>> = {
  [BlockHealthState.HEALTHY]: 'healthyBlocks',
  [BlockHealthState.UNDER_REPLICATED]: 'underReplicatedBlocks',
  [BlockHealthState.OVER_REPLICATED]: 'overReplicatedBlocks',
  [BlockHealthState.CORRUPT]: 'corruptBlocks',
  [BlockHealthState.MISSING]: 'missingBlocks',
  [BlockHealthState.UNDER_CONSTRUCTION]: 'underConstructionBlocks',
};

/** Adds one file and its blocks to the summary. */
export function countFile(
  s: FsckSummary,
  length: number,
  underConstruction: boolean,
  blocks: readonly BlockHealth[],
): void {
  s.files++;
  if (underConstruction) s.openFiles++;
  s.totalBytes += length;
  s.blocks += blocks.length;
  for (const b of blocks) {
    const key = SUMMARY_COUNTER[b.health];
    if (key !== undefined) (s[key] as number)++;
  }
  if (s.corruptBlocks + s.missingBlocks > 0) s.status = 'CORRUPT';
}

export function formatFsckSummary(s: FsckSummary): string[] {
  return [
    ...formatKeyValues([
      ['status', s.status],
      ...(s.failedPaths > 0 ? [['failedPaths', String(s.failedPaths)] as [string, string]] : []),
      ['totalSize', withHuman(s.totalBytes)],
      ['directories', String(s.directories)],
      ['files', `${s.files}${s.openFiles > 0 ? ` (${s.openFiles} open for writing)` : ''}`],
      ['blocks', String(s.blocks)],
      ['healthy', String(s.healthyBlocks)],
      ['underReplicated', String(s.underReplicatedBlocks)],
      ['overReplicated', String(s.overReplicatedBlocks)],
      ['corrupt', String(s.corruptBlocks)],
      ['missing', String(s.missingBlocks)],
      ['underConstruction', String(s.underConstructionBlocks)],
    ]),
    '',
    s.status === 'FAILED'
      ? `Fsck on path '${s.path}' FAILED: ${s.failedPaths} paths could not be checked`
      : `The filesystem under path '${s.path}' is ${s.status}`,
  ];
}
