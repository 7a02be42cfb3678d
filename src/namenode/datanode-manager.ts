/**
 * What the NameNode knows about DataNodes and where replicas live: the node registry
 * (health from heartbeats), the block map (block -> nodes holding a current replica),
 * replica placement for new blocks, and per-node command queues (delete these replicas,
 * send a full block report) answered in heartbeats. Block locations are never persisted:
 * they are rebuilt from block reports after every start.
 *
 * Commands ride on heartbeat answers, but a node need not wait out its interval for the
 * ones that matter now: when a copy or a full report is queued for it, the node gets a
 * COMMANDS_PENDING notice on its connection (coalesced per event-loop turn) and heartbeats
 * at once. Deletions are left to the regular heartbeats.
 *
 * A node is asked for a full report (BLOCK_REPORT) when the NameNode has reason to doubt
 * its view of it: an operator asked (`triggerBlockReport`), or an operator ended safe mode
 * while the node had not reported since it registered (safe-mode.ts). A node declared
 * dead that heartbeats again is told to REREGISTER instead, which brings a report too.
 *
 * A replica counts only if its generation stamp and length match the block's: a replica
 * of a deleted file, with an older generation stamp (left behind by pipeline recovery) or
 * of the wrong length is scheduled for deletion on its node and never handed to readers.
 *
 * Thousands of DataNodes heartbeat every few seconds and each full report lists every
 * replica a node holds, so those paths cost O(1) per heartbeat and O(1) per reported block:
 * a full report is applied as a difference (only replicas that appeared or vanished touch
 * the block map and wake the replication monitor; a steady report changes nothing), and
 * targets for new replicas are sampled (block-placement.ts) rather than chosen by
 * shuffling every node.
 */
import { DfsError } from '../../protocol/errors.js';
import type { DatanodeCommand, DatanodeStorageReport } from '../../protocol/datanode-namenode-messages.js';
import type {
  DatanodeReportEntry,
  ReplicaHealth,
  TriggerBlockReportResponse,
} from '../../protocol/admin-namenode-messages.js';
import { CommandType } from '../../protocol/datanode-namenode-messages.js';
import { DatanodeReportState, ReplicaState } from '../../protocol/admin-namenode-messages.js';
import type { Block, DatanodeInfo } from '../../protocol/shared-structures.js';
import type { Clock } from '../common/clock.js';
import { BlockPlacement } from './block-placement.js';
import type { Logger } from '../common/logger.js';
import type { BlockLocator } from './client-rpc.js';
import type { BlockMeta, FileNode, INode } from './inode.js';
import type { Namespace, NamespaceListener } from './namespace.js';

export interface DatanodeState extends DatanodeStorageReport {
  info: DatanodeInfo;
  lastHeartbeatMs: number;
  activeTransfers: number;
  /** Blocks this node holds a current replica of. */
  blocks: Set<number>;
  /** Replicas to delete, sent with the next heartbeat answer (bounded per answer). */
  pendingDeletes: Map<number, Block>;
  /** REPLICATE commands waiting for the next heartbeat answer. */
  pendingCopies: DatanodeCommand[];
  /** Copies this node was asked to make and that have not finished or expired. */
  scheduledTransfers: number;
  dead: boolean;
  /** When its last full report was processed (NameNode clock); 0 = none since it (re)registered. */
  lastBlockReportMs: number;
  /** Replicas that report listed. */
  lastBlockReportBlocks: number;
  /** Send BLOCK_REPORT with each heartbeat answer until a full report is processed. */
  blockReportRequested: boolean;
  adminState: 'normal' | 'decommissioning' | 'decommissioned';
  /** Sends the node a COMMANDS_PENDING notice on the connection it registered on. */
  notify: () => void;
}

/** What the DatanodeManager tells whoever keeps replication (the replication monitor). */
export interface ReplicaEvents {
  /** A replica of `blockId` was added to the block map. */
  replicaAdded(blockId: number): void;
  /** Nodes were declared dead: their replicas no longer count. */
  nodesDied(): void;
}

const NO_NOTIFY = (): void => {};

export interface BlockEntry {
  file: FileNode;
  meta: BlockMeta;
  replicas: Set<string>;
  /** Nodes whose replica was found corrupt; deleted once enough good replicas exist. */
  corrupt: Set<string>;
  /** Length of finalized replicas reported while the block had no committed length. */
  reportedBytes: number;
}

const DELETES_PER_HEARTBEAT = 1000;
/** The answer to almost every heartbeat (never modified). */
const NO_COMMANDS: DatanodeCommand[] = [];
/** A node just registered: no full report processed, none asked for. */
const NO_BLOCK_REPORT = {
  lastBlockReportMs: 0,
  lastBlockReportBlocks: 0,
  blockReportRequested: false,
} as const;

/** A node's state as datanodeReport shows it, and what a replica on it is worth (blockHealth). */
const NODE_STATE = {
  silent: DatanodeReportState.DEAD,
  normal: DatanodeReportState.LIVE,
  decommissioning: DatanodeReportState.DECOMMISSIONING,
  decommissioned: DatanodeReportState.DECOMMISSIONED,
} as const;
const REPLICA_STATE = {
  silent: ReplicaState.STALE,
  normal: ReplicaState.LIVE,
  decommissioning: ReplicaState.DECOMMISSIONING,
  decommissioned: ReplicaState.DECOMMISSIONED,
} as const;

/** A node an operator decommissioned; remembered across NameNode restarts (decommission-store.ts). */
export interface DecommissionedNode {
  nodeId: string;
  /** HOST:PORT when it was decommissioned, to recognise it if it comes back under a new id. */
  address: string;
}

export interface DatanodeManagerOptions {
  deadNodeTimeoutMs: number;
  minReplication: number;
}

export class DatanodeManager implements NamespaceListener, BlockLocator {
  readonly nodes = new Map<string, DatanodeState>();
  readonly blocks = new Map<number, BlockEntry>();
  private readonly placement = new BlockPlacement<DatanodeState>();
  private rotate = 0;
  /** Blocks whose replication may have changed; the replication monitor examines them. */
  readonly dirty = new Set<number>();
  /** Nodes an operator decommissioned, by node id, registered or not (yet). */
  private readonly decommissioned = new Map<string, DecommissionedNode>();
  /** Nodes to send COMMANDS_PENDING to at the end of this turn. */
  private readonly toNotify = new Set<DatanodeState>();
  events: ReplicaEvents | null = null;

  constructor(
    private readonly options: DatanodeManagerOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Indexes every block of a freshly loaded namespace (locations come from reports). */
  indexNamespace(ns: Namespace): void {
    const stack: INode[] = [ns.root];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (n.kind === 'dir') for (const c of n.children.values()) stack.push(c);
      else
        for (const b of n.blocks)
          this.blocks.set(b.blockId, {
            file: n,
            meta: b,
            replicas: new Set(),
            corrupt: new Set(),
            reportedBytes: -1,
          });
    }
  }

  // ---- namespace events ------------------------------------------------------------

  blockAdded(file: FileNode, meta: BlockMeta): void {
    this.blocks.set(meta.blockId, { file, meta, replicas: new Set(), corrupt: new Set(), reportedBytes: -1 });
  }

  fileRemoved(file: FileNode): void {
    this.blocksRemoved(file.blocks);
  }

  blocksRemoved(metas: BlockMeta[]): void {
    for (const meta of metas) {
      const entry = this.blocks.get(meta.blockId);
      if (entry === undefined) continue;
      this.blocks.delete(meta.blockId);
      for (const nodeId of [...entry.replicas, ...entry.corrupt]) {
        const node = this.nodes.get(nodeId);
        if (node === undefined) continue;
        node.blocks.delete(meta.blockId);
        this.scheduleDelete(node, { ...meta });
      }
    }
  }

  /**
   * Replicas known so far carry the old generation stamp: forget them (not deleted here,
   * the survivors of the recovery hold the same block id and report it again once they
   * finalize it with the new stamp; a stale copy left elsewhere is refused and deleted
   * when its node next reports it).
   */
  genStampBumped(meta: BlockMeta): void {
    const entry = this.blocks.get(meta.blockId);
    if (entry === undefined) return;
    for (const nodeId of [...entry.replicas, ...entry.corrupt])
      this.nodes.get(nodeId)?.blocks.delete(meta.blockId);
    entry.replicas.clear();
    entry.corrupt.clear();
  }

  fileOpened(): void {}

  fileClosed(file: FileNode): void {
    for (const b of file.blocks) this.dirty.add(b.blockId);
  }

  replicationChanged(file: FileNode): void {
    for (const b of file.blocks) this.dirty.add(b.blockId);
  }

  /** Finds a node by id or by HOST:PORT. */
  findNode(nameOrAddress: string): DatanodeState {
    const node = this.lookupNode(nameOrAddress);
    if (node === undefined) throw notRegistered(nameOrAddress);
    return node;
  }

  private lookupNode(nameOrAddress: string): DatanodeState | undefined {
    for (const n of this.nodes.values()) {
      if (n.info.nodeId === nameOrAddress || addressOf(n.info) === nameOrAddress) return n;
    }
    return undefined;
  }

  /**
   * Starts draining a node (its replicas stop counting), or returns it to service. A node
   * decommissioned before a NameNode restart that has not registered since can still be
   * recommissioned (it is forgotten); decommissioning needs a registered node.
   */
  setDecommissioning(nameOrAddress: string, on: boolean): void {
    const node = this.lookupNode(nameOrAddress);
    if (node === undefined) {
      const remembered = on ? undefined : this.findDecommissioned(nameOrAddress, nameOrAddress);
      if (remembered === undefined) throw notRegistered(nameOrAddress);
      this.decommissioned.delete(remembered.nodeId);
      this.log.info({ node: remembered.nodeId }, 'unregistered datanode recommissioned');
      return;
    }
    if (on)
      this.decommissioned.set(node.info.nodeId, { nodeId: node.info.nodeId, address: addressOf(node.info) });
    else this.decommissioned.delete(node.info.nodeId);
    // Decommissioning a node already drained keeps it drained.
    if (!on) node.adminState = 'normal';
    else if (node.adminState === 'normal') node.adminState = 'decommissioning';
    for (const id of node.blocks) this.dirty.add(id);
    this.log.info(
      { node: node.info.nodeId, state: node.adminState },
      on ? 'decommissioning datanode' : 'datanode recommissioned',
    );
  }

  /**
   * An operator asks a node for a full report (`triggerBlockReport`): BLOCK_REPORT goes out
   * with its next heartbeat answer. A node that is not live would never fetch it: refused.
   */
  requestBlockReport(nameOrAddress: string): TriggerBlockReportResponse {
    const node = this.findNode(nameOrAddress);
    const silentMs = this.clock.nowMs() - node.lastHeartbeatMs;
    if (!this.isLive(node)) {
      throw new DfsError(
        'DATANODE_DEAD',
        `DataNode ${nameOrAddress} is dead (no heartbeat for ${Math.round(silentMs / 1000)} s); it reports in full when it registers again`,
      );
    }
    node.blockReportRequested = true;
    this.notifySoon(node);
    this.log.info({ node: node.info.nodeId }, 'full block report requested by an operator');
    return { nodeId: node.info.nodeId, lastBlockReportMs: node.lastBlockReportMs };
  }

  /**
   * Asks every live node that has sent no full report since it registered for one (an
   * operator ended safe mode before they did). Returns how many were asked.
   */
  requestMissingBlockReports(): number {
    let asked = 0;
    for (const node of this.liveNodes()) {
      if (node.lastBlockReportMs !== 0 || node.blockReportRequested) continue;
      node.blockReportRequested = true;
      this.notifySoon(node);
      asked++;
    }
    return asked;
  }

  /** Nodes an operator decommissioned (to persist). */
  decommissionedNodes(): DecommissionedNode[] {
    return [...this.decommissioned.values()];
  }

  /** At start-up: nodes decommissioned before the restart drain again when they register. */
  restoreDecommissioned(nodes: readonly DecommissionedNode[]): void {
    for (const n of nodes) this.decommissioned.set(n.nodeId, { ...n });
  }

  private findDecommissioned(nodeId: string, address: string): DecommissionedNode | undefined {
    return (
      this.decommissioned.get(nodeId) ?? [...this.decommissioned.values()].find((d) => d.address === address)
    );
  }

  // ---- DataNode messages -----------------------------------------------------------

  /** `notify` sends the node a COMMANDS_PENDING notice (on the connection it registered on). */
  register(info: DatanodeInfo, report: DatanodeStorageReport, notify: () => void = NO_NOTIFY): void {
    const existing = this.nodes.get(info.nodeId);
    const now = this.clock.nowMs();
    if (existing) {
      // Re-registration (restart): forget what it held, its block report tells again.
      this.dropReplicas(existing);
      const previousHost = existing.info.host;
      existing.info = info;
      this.placement.moved(existing, previousHost);
      // It sends a full report right after registering: nothing to ask for.
      Object.assign(existing, report, { lastHeartbeatMs: now, dead: false, notify, ...NO_BLOCK_REPORT });
      this.log.info({ node: info.nodeId, addr: `${info.host}:${info.port}` }, 'datanode re-registered');
      return;
    }
    // A node decommissioned before a restart drains again: whether its blocks are all
    // elsewhere is known only once the block reports are in, so it starts as decommissioning.
    const remembered = this.findDecommissioned(info.nodeId, addressOf(info));
    if (remembered !== undefined && remembered.nodeId !== info.nodeId) {
      this.decommissioned.delete(remembered.nodeId);
      this.decommissioned.set(info.nodeId, { nodeId: info.nodeId, address: addressOf(info) });
    }
    this.nodes.set(info.nodeId, {
      ...report,
      info,
      lastHeartbeatMs: now,
      activeTransfers: 0,
      blocks: new Set(),
      pendingDeletes: new Map(),
      dead: false,
      pendingCopies: [],
      scheduledTransfers: 0,
      adminState: remembered === undefined ? 'normal' : 'decommissioning',
      notify,
      ...NO_BLOCK_REPORT,
    });
    this.placement.add(this.nodes.get(info.nodeId)!);
    this.log.info(
      {
        node: info.nodeId,
        addr: addressOf(info),
        capacity: report.capacityBytes,
        decommissioning: remembered !== undefined,
      },
      'datanode registered',
    );
  }

  private known(nodeId: string): DatanodeState {
    const node = this.nodes.get(nodeId);
    if (node === undefined) throw new DfsError('NOT_FOUND', `datanode ${nodeId} is not registered`);
    return node;
  }

  /** Returns the node's pending commands, or REREGISTER when the NameNode does not know it. */
  heartbeat(report: DatanodeStorageReport & { activeTransfers: number }): DatanodeCommand[] {
    const node = this.nodes.get(report.nodeId);
    if (node === undefined) return [{ type: CommandType.REREGISTER, blocks: [], targets: [] }];
    if (node.dead) {
      this.log.info({ node: report.nodeId }, 'dead datanode is heartbeating again; asking it to re-register');
      return [{ type: CommandType.REREGISTER, blocks: [], targets: [] }];
    }
    node.capacityBytes = report.capacityBytes;
    node.usedBytes = report.usedBytes;
    node.remainingBytes = report.remainingBytes;
    node.activeTransfers = report.activeTransfers;
    node.lastHeartbeatMs = this.clock.nowMs();
    if (node.pendingDeletes.size === 0 && node.pendingCopies.length === 0 && !node.blockReportRequested)
      return NO_COMMANDS;
    const commands: DatanodeCommand[] = [];
    if (node.pendingDeletes.size > 0) {
      const blocks: Block[] = [];
      for (const [id, b] of node.pendingDeletes) {
        blocks.push(b);
        node.pendingDeletes.delete(id);
        if (blocks.length >= DELETES_PER_HEARTBEAT) break;
      }
      commands.push({ type: CommandType.DELETE_BLOCKS, blocks, targets: [] });
    }
    commands.push(...node.pendingCopies.splice(0));
    // Last, so the report reflects the deletions just ordered. Cleared when it arrives.
    if (node.blockReportRequested) commands.push({ type: CommandType.BLOCK_REPORT, blocks: [], targets: [] });
    return commands;
  }

  /** Queues a REPLICATE command for the node's next heartbeat, which it is told to send now. */
  queueCopy(node: DatanodeState, command: DatanodeCommand): void {
    node.pendingCopies.push(command);
    this.notifySoon(node);
  }

  private notifySoon(node: DatanodeState): void {
    if (this.toNotify.size === 0) setImmediate(() => this.sendNotices());
    this.toNotify.add(node);
  }

  private sendNotices(): void {
    for (const node of this.toNotify) {
      if (this.isLive(node) && (node.pendingCopies.length > 0 || node.blockReportRequested)) node.notify();
    }
    this.toNotify.clear();
  }

  blockReceived(nodeId: string, received: Block[], deleted: number[]): void {
    const node = this.known(nodeId);
    for (const b of received) this.addReplica(node, b);
    for (const id of deleted) this.removeReplica(node, id);
  }

  /**
   * A full report replaces what we knew about the node, applied as a difference: replicas
   * it still reports stay as they are, new ones are added, and the ones it no longer
   * reports (or now reports invalid) are removed.
   */
  blockReport(nodeId: string, blocks: Block[]): { accepted: number; invalid: number } {
    const node = this.known(nodeId);
    const reported = new Set<number>();
    for (const b of blocks) if (this.addReplica(node, b)) reported.add(b.blockId);
    // Every accepted replica is in node.blocks, so equal sizes mean nothing vanished.
    if (node.blocks.size !== reported.size) {
      for (const id of node.blocks) if (!reported.has(id)) this.removeReplica(node, id);
    }
    const accepted = reported.size;
    // Strictly increasing per node, even if the clock steps back: a larger value is a later report.
    node.lastBlockReportMs = Math.max(this.clock.nowMs(), node.lastBlockReportMs + 1);
    node.lastBlockReportBlocks = blocks.length;
    node.blockReportRequested = false;
    this.log.info({ node: nodeId, reported: blocks.length, accepted }, 'block report processed');
    return { accepted, invalid: blocks.length - accepted };
  }

  private addReplica(node: DatanodeState, b: Block): boolean {
    const entry = this.blocks.get(b.blockId);
    const finalLength =
      (entry !== undefined && entry.file.clientName === null) ||
      (entry !== undefined && entry.file.blocks[entry.file.blocks.length - 1] !== entry.meta);
    const valid =
      entry !== undefined &&
      b.genStamp === entry.meta.genStamp &&
      // The block being written has no committed length yet; others must match exactly.
      (!finalLength || b.numBytes === entry.meta.numBytes);
    if (!valid) {
      this.log.info(
        { node: node.info.nodeId, block: b, known: entry?.meta ?? null },
        'invalid replica reported; scheduling deletion',
      );
      this.scheduleDelete(node, b);
      return false;
    }
    if (!finalLength)
      entry.reportedBytes = entry.reportedBytes < 0 ? b.numBytes : Math.min(entry.reportedBytes, b.numBytes);
    if (entry.corrupt.has(node.info.nodeId)) {
      // Still the corrupt copy; it stays out of the readable replicas until deleted.
      return false;
    }
    if (node.pendingDeletes.size > 0) node.pendingDeletes.delete(b.blockId);
    if (entry.replicas.has(node.info.nodeId)) return true;
    entry.replicas.add(node.info.nodeId);
    node.blocks.add(b.blockId);
    this.dirty.add(b.blockId);
    this.events?.replicaAdded(b.blockId);
    return true;
  }

  private removeReplica(node: DatanodeState, blockId: number): void {
    node.blocks.delete(blockId);
    this.blocks.get(blockId)?.replicas.delete(node.info.nodeId);
    this.dirty.add(blockId);
  }

  private scheduleDelete(node: DatanodeState, b: Block): void {
    node.pendingDeletes.set(b.blockId, b);
  }

  private dropReplicas(node: DatanodeState): void {
    for (const id of node.blocks) {
      this.blocks.get(id)?.replicas.delete(node.info.nodeId);
      this.dirty.add(id);
    }
    node.blocks.clear();
  }

  /**
   * A reader or a scanner found this replica corrupt: it stops being handed to readers at
   * once, and is deleted by the replication monitor only after the block has its full
   * count of good replicas again (a block whose every replica is corrupt keeps them).
   */
  markBad(nodeId: string, b: Block): void {
    const node = this.nodes.get(nodeId);
    const entry = this.blocks.get(b.blockId);
    if (node === undefined || entry === undefined) return;
    if (b.genStamp !== entry.meta.genStamp) return;
    entry.replicas.delete(nodeId);
    entry.corrupt.add(nodeId);
    node.blocks.delete(b.blockId);
    this.dirty.add(b.blockId);
    this.log.warn({ node: nodeId, block: b.blockId }, 'replica reported corrupt; scheduling deletion');
  }

  /** Sends a delete for `nodeId`'s copy of a block (surplus or corrupt). */
  deleteReplica(nodeId: string, entry: BlockEntry): void {
    const node = this.nodes.get(nodeId);
    entry.replicas.delete(nodeId);
    entry.corrupt.delete(nodeId);
    if (node === undefined) return;
    node.blocks.delete(entry.meta.blockId);
    this.scheduleDelete(node, { ...entry.meta });
  }

  isLiveNode(nodeId: string): boolean {
    return this.isLive(this.nodes.get(nodeId));
  }

  /** Marks nodes silent for longer than the timeout as dead; their replicas stop counting. */
  checkHeartbeats(): DatanodeState[] {
    const now = this.clock.nowMs();
    const died: DatanodeState[] = [];
    for (const node of this.nodes.values()) {
      if (!node.dead && now - node.lastHeartbeatMs > this.options.deadNodeTimeoutMs) {
        node.dead = true;
        this.dropReplicas(node);
        died.push(node);
        this.log.warn(
          { node: node.info.nodeId, silentMs: now - node.lastHeartbeatMs },
          'datanode declared dead',
        );
      }
    }
    if (died.length > 0) this.events?.nodesDied();
    return died;
  }

  // ---- BlockLocator ----------------------------------------------------------------

  private isLive(node: DatanodeState | undefined): node is DatanodeState {
    return (
      node !== undefined &&
      !node.dead &&
      this.clock.nowMs() - node.lastHeartbeatMs <= this.options.deadNodeTimeoutMs
    );
  }

  locations(blockId: number): DatanodeInfo[] {
    const entry = this.blocks.get(blockId);
    if (entry === undefined) return [];
    const live: DatanodeInfo[] = [];
    for (const id of entry.replicas) {
      const node = this.nodes.get(id);
      if (this.isLive(node)) live.push(node.info);
    }
    // Spread readers over replicas.
    if (live.length > 1) {
      const k = this.rotate++ % live.length;
      return [...live.slice(k), ...live.slice(0, k)];
    }
    return live;
  }

  /** For lease recovery: the length live finalized replicas agree on, or null. */
  recoverableLength(blockId: number): number | null {
    const entry = this.blocks.get(blockId);
    if (entry === undefined || entry.reportedBytes < 0 || this.liveReplicaCount(blockId) === 0) return null;
    return entry.reportedBytes;
  }

  liveReplicaCount(blockId: number): number {
    return this.locations(blockId).length;
  }

  chooseTargets(
    replication: number,
    writerHost: string,
    excludeNodeIds: readonly string[],
    blockBytes = 0,
  ): DatanodeInfo[] {
    const exclude = excludeNodeIds.length === 0 ? null : new Set(excludeNodeIds);
    const eligible = (node: DatanodeState): boolean =>
      this.isLive(node) &&
      node.adminState === 'normal' &&
      node.remainingBytes >= blockBytes &&
      (exclude === null || !exclude.has(node.info.nodeId));
    return this.placement.choose(replication, writerHost, eligible).map((n) => n.info);
  }

  /** True once every block of `file` has at least the minimum number of live replicas. */
  isMinimallyReplicated(blocks: readonly BlockMeta[]): BlockMeta | null {
    for (const b of blocks) if (this.liveReplicaCount(b.blockId) < this.options.minReplication) return b;
    return null;
  }

  /** Not live (silent past the timeout, or declared dead), else its admin state. */
  private stateOf(node: DatanodeState): 'silent' | DatanodeState['adminState'] {
    return this.isLive(node) ? node.adminState : 'silent';
  }

  /** Every replica of a block the NameNode knows of, with what it is worth (block-health.ts). */
  replicaStates(blockId: number): ReplicaHealth[] {
    const entry = this.blocks.get(blockId);
    if (entry === undefined) return [];
    const out: ReplicaHealth[] = [];
    for (const id of entry.replicas) {
      const node = this.nodes.get(id);
      if (node !== undefined) out.push({ node: node.info, state: REPLICA_STATE[this.stateOf(node)] });
    }
    for (const id of entry.corrupt) {
      const node = this.nodes.get(id);
      if (node !== undefined) out.push({ node: node.info, state: ReplicaState.CORRUPT });
    }
    return out;
  }

  report(): DatanodeReportEntry[] {
    const now = this.clock.nowMs();
    return [...this.nodes.values()].map((n) => ({
      nodeId: n.info.nodeId,
      host: n.info.host,
      port: n.info.port,
      state: NODE_STATE[this.stateOf(n)],
      capacityBytes: n.capacityBytes,
      usedBytes: n.usedBytes,
      remainingBytes: n.remainingBytes,
      blockCount: n.blocks.size,
      activeTransfers: n.activeTransfers,
      lastHeartbeatAgoMs: Math.max(0, now - n.lastHeartbeatMs),
      lastBlockReportMs: n.lastBlockReportMs,
      lastBlockReportBlocks: n.lastBlockReportBlocks,
    }));
  }

  liveNodes(): DatanodeState[] {
    return [...this.nodes.values()].filter((n) => this.isLive(n));
  }
}

function notRegistered(nameOrAddress: string): DfsError {
  return new DfsError('NOT_FOUND', `no DataNode ${nameOrAddress} is registered`);
}

function addressOf(info: DatanodeInfo): string {
  return `${info.host}:${info.port}`;
}
