/**
 * The block manager (HDFS `BlockManager`): the thin layer that keeps the block map
 * (block-map.ts, where replicas are) and the DataNode registry (datanode-registry.ts, which
 * nodes are live and what they are told to do) in step. It owns no map of its own; every
 * change it makes goes through one of the two owners' verbs:
 *
 *   | event                                 | block map                      | registry                     |
 *   |---------------------------------------|--------------------------------|------------------------------|
 *   | block added / file closed (namespace) | add / mark dirty               |                              |
 *   | blocks deleted (namespace)            | remove                         | delete on every holder       |
 *   | generation stamp bumped (namespace)   | forget its replicas            |                              |
 *   | replica reported valid                | add                            | drop a queued delete         |
 *   | replica reported invalid              |                                | delete it                    |
 *   | full report left a replica out        | remove                         | record the report            |
 *   | replica reported corrupt              | move to corrupt                |                              |
 *   | surplus or corrupt copy deleted       | mark deleting until confirmed  | delete it                    |
 *   | pipeline targets chosen / rbw reported| add unfinished location        | (rbw of a closed or unknown  |
 *   |                                       |                                |  block: delete it)           |
 *   | block reserved (block-reservations.ts)|                                | (its rbw reported: kept)     |
 *   | reservation discarded (file closed,   |                                | delete on every target       |
 *   |  removed, or reserved again)          |                                |                              |
 *   | file closed                           | forget unfinished locations    | delete stale unfinished ones |
 *   | block recovery committed              | add the recovered replicas     | delete the stale ones        |
 *   | node (re-)registers or is found dead  | drop all its replicas          | register / mark dead         |
 *   | node starts or stops draining         | mark its blocks dirty          | change its admin state       |
 *
 * It is also what the client RPCs ask (client-rpc.ts `BlockLocator`): where a block's
 * readable replicas are, how many count, where new ones go, what each replica is worth.
 * Counting replicas (`liveReplicaCount`) neither allocates nor changes anything; only
 * `locations`, which hands replicas to a reader, rotates their order to spread readers.
 */
import type {
  DatanodeReportEntry,
  ReplicaHealth,
  TriggerBlockReportResponse,
} from '../../protocol/admin-namenode-messages.js';
import type { DatanodeStorageReport } from '../../protocol/datanode-namenode-messages.js';
import { assert } from '../../protocol/errors.js';
import { DatanodeReportState, ReplicaState } from '../../protocol/admin-namenode-messages.js';
import {
  BlockColumns,
  type Block,
  type BlockList,
  type DatanodeInfo,
} from '../../protocol/shared-structures.js';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { BlockMap, ReplicaVerdict, type BlockEntryView } from './block-map.js';
import { BlockReservations, type Reservation } from './block-reservations.js';
import { DatanodeRegistry, type DatanodeView } from './datanode-registry.js';
import { blockOf, type BlockMeta, type FileNode, type INode } from './inode.js';
import type { Namespace, NamespaceListener } from './namespace.js';

/** What the block manager tells whoever keeps replication (the replication monitor). */
export interface ReplicaEvents {
  /** A replica of `blockId` was added to the block map. */
  replicaAdded(blockId: number): void;
  /** Nodes were declared dead: their replicas no longer count. */
  nodesDied(): void;
  /** `source` could not copy `blockId` to `failedTargets` (empty: the source's own fault). */
  copyFailed(blockId: number, source: string, failedTargets: string[], reason: string): void;
}

export interface BlockManagerOptions {
  deadNodeTimeoutMs: number;
  minReplication: number;
}

/** A node's state as datanodeReport shows it. */
const NODE_STATE = {
  silent: DatanodeReportState.DEAD,
  normal: DatanodeReportState.LIVE,
  decommissioning: DatanodeReportState.DECOMMISSIONING,
  decommissioned: DatanodeReportState.DECOMMISSIONED,
} as const;
/** What a replica on a node is worth (blockHealth), by the node's state. */
const REPLICA_STATE = {
  silent: ReplicaState.STALE,
  normal: ReplicaState.LIVE,
  decommissioning: ReplicaState.DECOMMISSIONING,
  decommissioned: ReplicaState.DECOMMISSIONED,
} as const;

export class BlockManager implements NamespaceListener {
  readonly map = new BlockMap();
  readonly registry: DatanodeRegistry;
  /** Writers' next blocks, reserved and not attached yet (client-rpc.ts `reserveBlock`). */
  private readonly reservations = new BlockReservations();
  /** Where the next `locations` answer starts in the replica list. */
  private rotate = 0;
  /** Namespace events safe mode's bounds count (changeCounts). */
  private lengthsFinal = 0;
  private filesOpened = 0;
  events: ReplicaEvents | null = null;

  constructor(
    private readonly options: BlockManagerOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.registry = new DatanodeRegistry({ deadNodeTimeoutMs: options.deadNodeTimeoutMs }, clock, log);
  }

  /** Indexes every block of a freshly loaded namespace (locations come from reports). */
  indexNamespace(ns: Namespace): void {
    this.map.reserve(this.map.size + ns.blockCount);
    const stack: INode[] = [ns.root];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (n.kind === 'dir') for (const c of n.children.values()) stack.push(c);
      else for (let i = 0; i < n.blockCount; i++) this.map.add(n, n.blockAt(i)!);
    }
  }

  // ---- namespace events ------------------------------------------------------------

  /** A new last block: the one before it is committed, its unfinished locations settled. */
  blockAdded(file: FileNode, meta: BlockMeta): void {
    this.lengthsFinal++;
    this.map.add(file, meta);
    const previous = file.blockAt(file.blockCount - 2);
    if (previous !== undefined) this.settleUnfinished(previous);
  }

  fileRemoved(file: FileNode): void {
    this.discardReservation(this.reservations.drop(file));
    this.blocksRemoved(file.blocks);
  }

  blocksRemoved(metas: readonly BlockMeta[]): void {
    for (const meta of metas) {
      const entry = this.map.remove(meta.blockId);
      if (entry === undefined) continue;
      for (const nodeId of entry.replicas) this.registry.scheduleDelete(nodeId, blockOf(meta));
      for (const nodeId of entry.corrupt) this.registry.scheduleDelete(nodeId, blockOf(meta));
      // Unfinished copies of a block that is gone, whatever their stamp (a recovery's too).
      for (const nodeId of entry.unfinished ?? [])
        this.registry.scheduleDelete(nodeId, { ...blockOf(meta), genStamp: Number.MAX_SAFE_INTEGER });
    }
  }

  /**
   * Replicas known so far carry the old generation stamp: forget them (not deleted here,
   * the survivors of the recovery hold the same block id and report it again once they
   * finalize it with the new stamp; a stale copy left elsewhere is refused and deleted
   * when its node next reports it).
   */
  genStampBumped(meta: BlockMeta): void {
    this.map.forgetReplicas(meta.blockId);
  }

  fileOpened(): void {
    this.filesOpened++;
  }

  /**
   * The file's length is final: nodes that may still hold an unfinished replica of its last
   * block and hold no current one (dropped from the pipeline, or left out of a recovery)
   * hold a stale copy: deleted if older than the block (a current one, still to be reported
   * finalized, is safe: a DataNode deletes only up to the stamp it is given).
   */
  fileClosed(file: FileNode): void {
    this.discardReservation(this.reservations.drop(file));
    this.lengthsFinal++;
    this.map.markFileDirty(file);
    const last = file.lastBlock;
    if (last !== undefined) this.settleUnfinished(last);
  }

  /**
   * A block's length is final (the file closed, or a block was added after it): its
   * unfinished locations are forgotten (the map holds them only while they matter), and
   * those without a current replica get a stale delete.
   */
  private settleUnfinished(meta: BlockMeta): void {
    const entry = this.map.entry(meta.blockId);
    for (const nodeId of this.map.takeUnfinished(meta.blockId)) {
      if (entry?.replicas.has(nodeId) !== true) this.scheduleStaleDelete(nodeId, meta);
    }
  }

  /** Deletes `nodeId`'s copy of the block if its stamp is older than the block's. */
  private scheduleStaleDelete(nodeId: string, meta: BlockMeta): void {
    this.registry.scheduleDelete(nodeId, { blockId: meta.blockId, genStamp: meta.genStamp - 1, numBytes: 0 });
  }

  // ---- reservations (block-reservations.ts) ------------------------------------------

  /** Keeps a writer's next block; one it had already is discarded. */
  reserve(r: Reservation): void {
    this.discardReservation(this.reservations.put(r));
  }

  /** The reservation an addBlock names, if it is still this writer's for the block after `afterBlockId`. */
  reservation(
    file: FileNode,
    clientName: string,
    afterBlockId: number,
    blockId: number,
  ): Reservation | undefined {
    return this.reservations.find(file, clientName, afterBlockId, blockId);
  }

  /** The reservation became the file's block (the addBlock naming it was applied). */
  reservationTaken(r: Reservation): void {
    const dropped = this.reservations.drop(r.file);
    assert(dropped === r, `block ${r.block.blockId}: attached, but not its file's reservation`);
  }

  /** A reservation never attached: the empty rbw replicas its writer's pipeline may have made go. */
  private discardReservation(r: Reservation | undefined): void {
    if (r === undefined) return;
    for (const t of r.targets)
      this.registry.scheduleDelete(t.nodeId, { ...r.block, genStamp: Number.MAX_SAFE_INTEGER });
  }

  replicationChanged(file: FileNode): void {
    this.map.markFileDirty(file);
  }

  // ---- DataNode messages -----------------------------------------------------------

  /** A node registers; one registered before forgets what it held (its block report tells again). */
  register(
    info: DatanodeInfo,
    report: DatanodeStorageReport & { httpPort?: number },
    notify?: () => void,
  ): void {
    if (this.registry.get(info.nodeId) !== undefined) this.map.dropNode(info.nodeId);
    this.registry.register(info, report, notify);
  }

  blockReceived(nodeId: string, received: Block[], deleted: number[]): void {
    const node = this.registry.known(nodeId);
    const id = node.info.nodeId; // the registry's copy: see blockReport
    for (const b of received) this.addReplica(node, id, b);
    for (const blockId of deleted) this.map.removeReplica(id, blockId);
  }

  /**
   * A full report replaces what we knew about the node, applied as a difference: replicas
   * it still reports stay as they are, new ones are added, and the ones it no longer
   * reports (or now reports invalid) are removed. A steady report changes nothing.
   */
  blockReport(
    nodeId: string,
    reported: BlockList,
    unfinished: readonly Block[] = [],
  ): { accepted: number; invalid: number } {
    const node = this.registry.known(nodeId);
    // The registry's copy of the id, the very string the replica sets hold: their lookups
    // then match by identity instead of comparing characters with the id just decoded from
    // the request (measured: ~10% of a steady report's cost).
    const id = node.info.nodeId;
    // Read by index, and one block object reused for each replica: a report of a million
    // replicas allocates nothing per replica (addReplica copies the block where it keeps it).
    const blocks = BlockColumns.of(reported);
    const b: Block = { blockId: 0, genStamp: 0, numBytes: 0 };
    const ok = new Uint8Array(blocks.length);
    let accepted = 0;
    for (let i = 0; i < blocks.length; i++) {
      b.blockId = blocks.blockId(i);
      b.genStamp = blocks.genStamp(i);
      b.numBytes = blocks.numBytes(i);
      if (!this.addReplica(node, id, b)) continue;
      ok[i] = 1;
      accepted++;
    }
    // Every accepted replica is held, so equal counts mean nothing vanished: the usual case
    // builds no set of a million ids.
    if (this.map.heldCount(id) !== accepted) {
      const reportedIds = new Set<number>();
      for (let i = 0; i < blocks.length; i++) if (ok[i] === 1) reportedIds.add(blocks.blockId(i));
      for (const blockId of this.map.heldBy(id))
        if (!reportedIds.has(blockId)) this.map.removeReplica(id, blockId);
    }
    this.map.nodeReported(id, blocks);
    let unfinishedKept = 0;
    for (const b of unfinished) if (this.unfinishedReported(id, b)) unfinishedKept++;
    this.registry.blockReportProcessed(nodeId, blocks.length);
    this.log.info(
      { node: nodeId, reported: blocks.length, accepted, unfinished: unfinished.length, unfinishedKept },
      'block report processed',
    );
    return { accepted, invalid: blocks.length - accepted };
  }

  /** The block the NameNode knows by `blockId`, for a log line (null when unknown). */
  private knownBlock(blockId: number): Block | null {
    const meta = this.map.entry(blockId)?.meta;
    return meta === undefined ? null : blockOf(meta);
  }

  /**
   * A node reports an unfinished (rbw) replica: kept while its block is still being written
   * (a writer or a block recovery may use it, and it is where a recovery looks), deleted
   * when the block is unknown or closed. One at an older stamp than the block is kept until
   * the file closes too (then `fileClosed` deletes it): a writer's pipeline recovery takes
   * the new stamp from the NameNode before its DataNodes reopen their replicas with it, and
   * a report in between must not delete a replica it is about to reopen. True when kept.
   */
  private unfinishedReported(nodeId: string, b: Block): boolean {
    if (this.map.addUnfinished(nodeId, b.blockId)) return true;
    // A writer's next block, its pipeline built, not attached yet.
    if (this.reservations.has(b.blockId)) return true;
    const known = this.map.entry(b.blockId)?.meta;
    // An rbw copy of a closed block at its current stamp may be finalizing right now (a
    // report built before it finalized, processed after the file completed): a delete at
    // that stamp would take the finished replica with it. Left alone, as HDFS does; its
    // finalize reports it, and a copy at an older stamp is deleted below.
    if (known !== undefined && b.genStamp >= known.genStamp) return false;
    this.log.info(
      { node: nodeId, block: b, known: this.knownBlock(b.blockId) },
      'unfinished replica of a closed or unknown block; scheduling deletion',
    );
    this.registry.scheduleDelete(nodeId, b);
    return false;
  }

  /** The writer of a new block was given these targets: each may hold an unfinished replica. */
  pipelineTargets(blockId: number, nodeIds: readonly string[]): void {
    for (const id of nodeIds) this.map.addUnfinished(id, blockId);
  }

  /** True when the replica is held and readable (new or already known). */
  private addReplica(node: DatanodeView, nodeId: string, b: Block): boolean {
    const verdict = this.map.addReplica(nodeId, b);
    if (verdict === ReplicaVerdict.INVALID) {
      this.log.info(
        { node: nodeId, block: b, known: this.knownBlock(b.blockId) },
        'invalid replica reported; scheduling deletion',
      );
      this.registry.scheduleDelete(nodeId, { ...b });
      return false;
    }
    // Still the corrupt copy; it stays out of the readable replicas until deleted. A
    // recovered copy not committed yet is kept, and counted once the commit lands.
    if (verdict === ReplicaVerdict.CORRUPT || verdict === ReplicaVerdict.PENDING) return false;
    if (node.pendingDeletes.size > 0) this.registry.cancelDelete(nodeId, b.blockId);
    if (verdict === ReplicaVerdict.ADDED) this.events?.replicaAdded(b.blockId);
    return true;
  }

  /**
   * A reader or a scanner found this replica corrupt: it stops being handed to readers at
   * once, and is deleted by the replication monitor only after the block has its full
   * count of good replicas again (a block whose every replica is corrupt keeps them).
   */
  markBad(nodeId: string, b: Block): void {
    if (this.registry.get(nodeId) === undefined || !this.map.markCorrupt(nodeId, b)) return;
    this.log.warn({ node: nodeId, block: b.blockId }, 'replica reported corrupt; scheduling deletion');
  }

  /** Sends a delete for `nodeId`'s copy of a block (surplus or corrupt). */
  deleteReplica(nodeId: string, entry: BlockEntryView): void {
    this.map.forgetReplica(nodeId, entry.meta.blockId);
    this.registry.scheduleDelete(nodeId, blockOf(entry.meta));
  }

  /** Marks nodes silent for longer than the timeout as dead; their replicas stop counting. */
  /** A DataNode is stopping: dead now, its replicas no longer count (unknown or dead already: nothing). */
  unregister(nodeId: string): void {
    const node = this.registry.declareDead(nodeId);
    if (node === null) return;
    this.map.dropNode(nodeId);
    this.events?.nodesDied();
  }

  /** A DataNode reports a REPLICATE copy that failed: the monitor schedules it again now, elsewhere. */
  replicaCopyFailed(nodeId: string, block: Block, failedTargets: string[], reason: string): void {
    this.events?.copyFailed(block.blockId, nodeId, failedTargets, reason);
  }

  checkHeartbeats(): DatanodeView[] {
    const died = this.registry.checkHeartbeats();
    for (const node of died) this.map.dropNode(node.info.nodeId);
    if (died.length > 0) this.events?.nodesDied();
    return died;
  }

  // ---- operators -------------------------------------------------------------------

  /** Starts draining a node (its replicas stop counting), or returns it to service. */
  setDecommissioning(nameOrAddress: string, on: boolean): void {
    const node = this.registry.setDecommissioning(nameOrAddress, on);
    if (node !== null) this.map.markHeldDirty(node.info.nodeId);
  }

  /** Queues BLOCK_REPORT for a live node's next heartbeat (NOT_FOUND, DATANODE_DEAD). */
  requestBlockReport(nameOrAddress: string): TriggerBlockReportResponse {
    return this.registry.requestBlockReport(nameOrAddress);
  }

  /** Safe mode left early: live nodes that have not reported since registering are asked to. */
  requestMissingBlockReports(): number {
    return this.registry.requestMissingBlockReports();
  }

  /** The datanodeReport rows: each node as the registry knows it, with the replicas it holds. */
  report(): DatanodeReportEntry[] {
    const now = this.clock.nowMs();
    return [...this.registry.all()].map((n) => ({
      nodeId: n.info.nodeId,
      host: n.info.host,
      port: n.info.port,
      state: NODE_STATE[this.registry.stateOf(n)],
      capacityBytes: n.capacityBytes,
      usedBytes: n.usedBytes,
      remainingBytes: n.remainingBytes,
      failedVolumes: n.failedVolumes,
      blockCount: this.map.heldCount(n.info.nodeId),
      activeTransfers: n.activeTransfers,
      lastHeartbeatAgoMs: Math.max(0, now - n.lastHeartbeatMs),
      lastBlockReportMs: n.lastBlockReportMs,
      lastBlockReportBlocks: n.lastBlockReportBlocks,
      // The replication monitor's to fill in (admin-rpc.ts): it tracks the draining.
      drainBlocks: 0,
      drainStuckBlocks: 0,
    }));
  }

  // ---- what readers, writers and tools ask -----------------------------------------

  forEachBlock(fn: (entry: BlockEntryView) => void): void {
    this.map.forEachBlock(fn);
  }

  countReplicated(min: number): { total: number; reported: number } {
    return this.map.countReplicated(min, (id) => this.registry.isLive(id));
  }

  /**
   * Safe mode's bounds between counts (SafeModeBlocks): each replica added or block whose
   * length became final (a file closed, a block added after it) raises the reported count
   * by one at most; each block removed or file opened (an append's last block is no longer
   * final) lowers the total by one at most. Nothing else raises the count: a node that
   * dies or registers again loses its replicas until it reports them. With a minimum of one
   * replica only a block's first holder can raise it, which keeps the bound three times
   * tighter at replication 3 (a holder of a node that went silent and is not dropped yet
   * could hide one: that count waits for the next forced one, 10 s at most, never early).
   */
  changeCounts(): { raises: number; lowers: number } {
    const { holderAdds, firstHolders, removals } = this.map.slotCounts();
    const replicas = this.options.minReplication === 1 ? firstHolders : holderAdds;
    return { raises: replicas + this.lengthsFinal, lowers: removals + this.filesOpened };
  }

  /** The live nodes holding a readable replica, rotated on each call to spread readers. */
  locations(blockId: number): DatanodeInfo[] {
    const live: DatanodeInfo[] = [];
    this.map.forEachReplica(blockId, (id) => {
      const node = this.registry.getLive(id);
      if (node !== undefined) live.push(node.info);
    });
    if (live.length > 1) {
      const k = this.rotate++ % live.length;
      return [...live.slice(k), ...live.slice(0, k)];
    }
    return live;
  }

  /** Readable replicas on live nodes (what `locations` would list), without building or rotating a list. */
  liveReplicaCount(blockId: number): number {
    let n = 0;
    this.map.forEachReplica(blockId, (id) => {
      if (this.registry.isLive(id)) n++;
    });
    return n;
  }

  /** For block recovery: the live nodes that may hold a replica of the block, finalized or not. */
  recoveryCandidates(blockId: number): DatanodeInfo[] {
    const entry = this.map.entry(blockId);
    if (entry === undefined) return [];
    const ids = new Set([...entry.replicas, ...(entry.unfinished ?? [])]);
    const out: DatanodeInfo[] = [];
    for (const id of ids) {
      const node = this.registry.getLive(id);
      if (node !== undefined) out.push(node.info);
    }
    return out;
  }

  /**
   * A block recovery committed (the namespace has the block at its new stamp and length):
   * `nodes` hold it now; the other `candidates` hold a stale copy, deleted.
   */
  blockRecovered(blockId: number, nodes: readonly string[], candidates: readonly string[]): void {
    const entry = this.map.entry(blockId);
    if (entry === undefined) return;
    const meta = entry.meta;
    for (const nodeId of nodes) {
      const node = this.registry.get(nodeId);
      if (node !== undefined) this.addReplica(node, node.info.nodeId, blockOf(meta));
    }
    for (const nodeId of candidates) if (!nodes.includes(nodeId)) this.scheduleStaleDelete(nodeId, meta);
  }

  /** For lease recovery: the length live finalized replicas agree on, or null. */
  recoverableLength(blockId: number): number | null {
    const entry = this.map.entry(blockId);
    if (entry === undefined || entry.reportedBytes < 0 || this.liveReplicaCount(blockId) === 0) return null;
    return entry.reportedBytes;
  }

  chooseTargets(
    replication: number,
    writerHost: string,
    excludeNodeIds: readonly string[],
    blockBytes = 0,
  ): DatanodeInfo[] {
    return this.registry.chooseTargets(replication, writerHost, excludeNodeIds, blockBytes);
  }

  /** The first of `blocks` with fewer live replicas than the minimum, or null when every one has enough. */
  firstUnderMinimalReplication(blocks: readonly BlockMeta[]): BlockMeta | null {
    for (const b of blocks) if (this.liveReplicaCount(b.blockId) < this.options.minReplication) return b;
    return null;
  }

  /** Every replica of a block the NameNode knows of, with what it is worth (block-health.ts). */
  replicaStates(blockId: number): ReplicaHealth[] {
    const entry = this.map.entry(blockId);
    if (entry === undefined) return [];
    const out: ReplicaHealth[] = [];
    for (const id of entry.replicas) {
      const node = this.registry.get(id);
      if (node !== undefined)
        out.push({ node: node.info, state: REPLICA_STATE[this.registry.stateOf(node)] });
    }
    for (const id of entry.corrupt) {
      const node = this.registry.get(id);
      if (node !== undefined) out.push({ node: node.info, state: ReplicaState.CORRUPT });
    }
    for (const id of entry.deleting) {
      const node = this.registry.get(id);
      if (node !== undefined) out.push({ node: node.info, state: ReplicaState.DELETING });
    }
    return out;
  }
}
