/**
 * Keeps every complete block at its file's replication (HDFS `BlockManager` /
 * `RedundancyMonitor`). Blocks whose replica set changed are marked dirty in the block
 * map (block-map.ts); each tick the monitor takes them and classifies them:
 *
 *   | good live replicas vs expected          | action                                          |
 *   |-----------------------------------------|-------------------------------------------------|
 *   | 0, some corrupt                         | counted as corrupt; corrupt copies are kept     |
 *   | 0, none at all                          | counted as missing                              |
 *   | fewer (counting copies under way)       | queued by priority: 1 replica left first        |
 *   | enough, corrupt copies exist            | corrupt copies deleted                          |
 *   | more                                    | surplus deleted, fullest nodes first            |
 *
 * Replicas on decommissioning nodes serve reads and can be copy sources but do not count.
 * Scheduling takes a source holding a good replica with fewer than `transfersPerNodeMax`
 * copies under way (a decommissioning holder first, as in HDFS) and targets from the placement policy (not holding the block), queues a
 * REPLICATE command for the source (which is told to heartbeat now and fetch it), and
 * remembers the copy as pending
 * until the target reports the replica or `pendingTimeoutMs` passes. A pending copy is
 * given up at once when its source or a target stops being live (it cannot land), and
 * dropped when the block has its full count without it: a copy scheduled while a block's
 * pipeline replicas were still being reported must not keep counting as "coming" after a
 * later node loss, or that block would wait out the whole timeout before it is copied
 * again.
 *
 * A copy its source reports failed (`copyFailed`, PROTOCOL.md 0x26 replicaCopyFailed: e.g. a
 * target refused it with ALREADY_EXISTS because it still holds a surplus replica being
 * deleted) is dropped at once and scheduled again, and the targets blamed are not chosen
 * for that block again until `pendingTimeoutMs` has passed.
 *
 * Besides its interval, the monitor ticks as soon as it can (`requestTick`) when a node is
 * declared dead, when a copy it waits for lands and when one fails: the lost node's copies
 * start, and a finished copy's source gets its next one, without waiting for the interval.
 *
 * A full rescan every `rescanIntervalMs` is the safety net for any event that was missed.
 * Every tick is bounded so that with millions of blocks none stalls the NameNode's event
 * loop for long (heartbeats and clients wait on the same loop), which is what lets the
 * monitor tick several times a second (a lost node's copies start, and finished copies
 * free their source, within a fraction of a second):
 * - the rescan walks RESCAN_BLOCKS_PER_SECOND blocks per second of clock time, however
 *   often the monitor ticks, at most RESCAN_BLOCKS_PER_TICK at once;
 * - scheduling examines at most SCHEDULE_SCAN_MAX queued blocks per tick; a block that
 *   cannot be scheduled now (every holder busy, no possible target) moves to the back of
 *   its queue, so a long run of such blocks does not starve the ones behind it;
 * - a draining node's blocks are checked until the first one still lacking replicas.
 */
import { CommandType } from '../../protocol/datanode-namenode-messages.js';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import type { BlockManager, ReplicaEvents } from './block-manager.js';
import type { BlockEntryView, BlockMap } from './block-map.js';
import type { DatanodeRegistry, DatanodeView } from './datanode-registry.js';
import { DecommissionProgress } from './decommission-progress.js';
import { blockOf } from './inode.js';

export interface ReplicationMonitorOptions {
  transfersPerNodeMax: number;
  pendingTimeoutMs: number;
  rescanIntervalMs: number;
  /** Copies scheduled per tick at most. */
  scheduleMaxPerTick: number;
}

interface PendingCopy {
  targets: string[];
  source: string;
  deadlineMs: number;
}

export interface ReplicationStats {
  underReplicated: number;
  corrupt: number;
  missing: number;
  pendingCopies: number;
  copiesScheduled: number;
}

const PRIORITIES = 3;
/** Blocks the periodic rescan re-examines per second of clock time... */
const RESCAN_BLOCKS_PER_SECOND = 10_000;
/** ...and per tick at most (~10-30 ms of work). */
const RESCAN_BLOCKS_PER_TICK = 10_000;
/** Queued blocks examined per tick at most, scheduled or not. */
const SCHEDULE_SCAN_MAX = 10_000;

export class ReplicationMonitor implements ReplicaEvents {
  /** Under-replicated blocks by priority: 0 = one good replica left, 1 = at most a third, 2 = the rest. */
  private readonly queues: Array<Set<number>> = Array.from({ length: PRIORITIES }, () => new Set());
  readonly corrupt = new Set<number>();
  readonly missing = new Set<number>();
  private readonly pending = new Map<number, PendingCopy>();
  /** Targets a copy of the block failed on, not chosen for it again until the time given. */
  private readonly failedTargets = new Map<number, Map<string, number>>();
  private lastRescanMs = 0;
  /** Clock time the last tick's rescan share was taken at. */
  private lastTickMs: number | null = null;
  /** Where the rescan under way is in the block map (a live iterator), or null. */
  private rescan: Iterator<number> | null = null;
  copiesScheduled = 0;
  private readonly map: BlockMap;
  private readonly registry: DatanodeRegistry;
  private readonly drainProgress: DecommissionProgress;

  constructor(
    private readonly blocks: BlockManager,
    private readonly options: ReplicationMonitorOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** Asks for a tick soon (coalesced by the caller); a tick must not run inside the BlockManager's own calls. */
    private readonly requestTick: () => void = () => {},
  ) {
    this.map = blocks.map;
    this.registry = blocks.registry;
    this.drainProgress = new DecommissionProgress(
      this.map,
      this.registry,
      (entry) => this.counted(entry).length,
      clock,
      log,
    );
  }

  replicaAdded(blockId: number): void {
    if (this.pending.has(blockId)) this.requestTick();
  }

  nodesDied(): void {
    this.requestTick();
  }

  copyFailed(blockId: number, source: string, failedTargets: string[], reason: string): void {
    const p = this.pending.get(blockId);
    this.log.warn(
      { block: blockId, source, failedTargets, reason, pending: p !== undefined },
      'replica copy failure reported; rescheduling elsewhere',
    );
    if (failedTargets.length > 0) {
      const until = this.clock.nowMs() + this.options.pendingTimeoutMs;
      const avoid = this.failedTargets.get(blockId) ?? new Map<string, number>();
      for (const t of failedTargets) avoid.set(t, until);
      this.failedTargets.set(blockId, avoid);
    }
    // Only the copy this source was given: a report that comes after the copy was given up
    // and scheduled again (maybe from another source) must not drop the new one.
    if (p === undefined || p.source !== source) return;
    this.release(blockId, p);
    this.map.markDirty(blockId);
    this.requestTick();
  }

  /** Up to `max` ids from a set, for reports. */
  static sample(set: ReadonlySet<number>, max = 1000): number[] {
    const out: number[] = [];
    for (const id of set) {
      if (out.length >= max) break;
      out.push(id);
    }
    return out;
  }

  stats(): ReplicationStats {
    let under = 0;
    for (const q of this.queues) under += q.size;
    return {
      underReplicated: under,
      corrupt: this.corrupt.size,
      missing: this.missing.size,
      pendingCopies: this.pending.size,
      copiesScheduled: this.copiesScheduled,
    };
  }

  tick(): void {
    const now = this.clock.nowMs();
    // More blocks changed than the dirty set holds (a restart's first reports): walk them all.
    const overflowed = this.map.takeDirtyOverflow();
    if (overflowed || (this.rescan === null && now - this.lastRescanMs >= this.options.rescanIntervalMs)) {
      this.lastRescanMs = now;
      this.rescan = this.map.blockIds();
    }
    const elapsedMs = this.lastTickMs === null ? Infinity : Math.max(0, now - this.lastTickMs);
    this.lastTickMs = now;
    if (this.rescan !== null)
      this.continueRescan(
        this.rescan,
        Math.min(RESCAN_BLOCKS_PER_TICK, Math.ceil((RESCAN_BLOCKS_PER_SECOND * elapsedMs) / 1000)),
      );
    this.expirePending(now);
    for (const id of this.map.takeDirty()) this.classify(id);
    this.schedule(now);
    this.checkDecommissioning();
  }

  private continueRescan(blocks: Iterator<number>, count: number): void {
    for (let i = 0; i < count; i++) {
      const next = blocks.next();
      if (next.done === true) {
        this.rescan = null;
        return;
      }
      this.map.markDirty(next.value);
    }
  }

  /**
   * A draining node whose every block is fully replicated elsewhere is decommissioned; one
   * that is not has its progress counted now and then (decommission-progress.ts), which says
   * when it cannot finish.
   */
  private checkDecommissioning(): void {
    const draining = new Set<string>();
    for (const node of this.registry.all()) {
      if (node.adminState !== 'decommissioning' || !this.registry.isLive(node.info.nodeId)) continue;
      if (this.blocksToDrain(node, 1) === 0) {
        this.registry.markDecommissioned(node.info.nodeId);
        this.log.info(
          { node: node.info.nodeId, blocks: this.map.heldCount(node.info.nodeId) },
          'datanode decommissioned: every block is replicated elsewhere',
        );
        continue;
      }
      draining.add(node.info.nodeId);
    }
    this.drainProgress.check(draining);
  }

  /** What `datanodeReport` shows of a node's draining (zeros unless it is decommissioning). */
  drainStatus(nodeId: string): { drainBlocks: number; drainStuckBlocks: number } {
    return this.drainProgress.of(nodeId);
  }

  private expirePending(now: number): void {
    for (const [id, avoid] of this.failedTargets) {
      for (const [node, until] of avoid) if (until <= now) avoid.delete(node);
      if (avoid.size === 0 || this.map.entry(id) === undefined) this.failedTargets.delete(id);
    }
    for (const [id, p] of this.pending) {
      const entry = this.map.entry(id);
      const done = entry === undefined || p.targets.every((t) => entry.replicas.has(t));
      const lostNode = !this.registry.isLive(p.source) || p.targets.some((t) => !this.registry.isLive(t));
      if (done || lostNode || p.deadlineMs <= now) {
        if (!done)
          this.log.warn(
            { block: id, source: p.source, targets: p.targets },
            lostNode
              ? 'replica copy lost its source or a target; will retry'
              : 'replica copy timed out; will retry',
          );
        this.release(id, p);
        this.map.markDirty(id);
      }
    }
  }

  /** Forgets a pending copy and gives its source's transfer slot back. */
  private release(id: number, p: PendingCopy): void {
    this.pending.delete(id);
    this.registry.copyEnded(p.source);
  }

  private forget(id: number): void {
    for (const q of this.queues) q.delete(id);
    this.corrupt.delete(id);
    this.missing.delete(id);
  }

  /** Good live replicas that count towards replication. */
  private counted(entry: BlockEntryView): DatanodeView[] {
    const out: DatanodeView[] = [];
    for (const id of entry.replicas) {
      const n = this.registry.getLive(id);
      if (n !== undefined && n.adminState === 'normal') out.push(n);
    }
    return out;
  }

  private classify(id: number): void {
    this.forget(id);
    const entry = this.map.entry(id);
    if (entry === undefined) return;
    const file = entry.file;
    // The blocks being written are the pipeline's business until the file is complete: the
    // last one, and the one before it, whose last acks (and the replicas' finalizing) may
    // still be under way (a writer keeps two blocks in flight, src/client/block-writer.ts).
    // Judged early, a block whose replicas are not all reported yet gets copies it does not
    // need, sent to nodes that may still be writing it. The periodic rescan and the
    // file's completion bring it back.
    if (
      file.clientName !== null &&
      (file.lastBlock === entry.meta || file.blockAt(file.blockCount - 2) === entry.meta)
    )
      return;
    const expected = file.replication;
    // Counted without building lists: every block goes through here on each rescan.
    let readable = 0;
    let good = 0;
    for (const nodeId of entry.replicas) {
      const node = this.registry.getLive(nodeId);
      if (node === undefined) continue;
      readable++;
      if (node.adminState === 'normal') good++;
    }
    if (readable === 0) {
      if (entry.corrupt.size > 0) this.corrupt.add(id);
      else this.missing.add(id);
      return;
    }
    const pending = this.pending.get(id);
    if (pending !== undefined && good >= expected) this.release(id, pending);
    // Targets still to receive the copy under way (one that already holds a replica counts in `good`).
    const pendingTargets =
      pending === undefined || good >= expected
        ? 0
        : pending.targets.filter((t) => !entry.replicas.has(t)).length;
    if (good + pendingTargets < expected) {
      const priority = readable === 1 ? 0 : good * 3 <= expected ? 1 : 2;
      this.queues[priority]!.add(id);
      return;
    }
    if (good >= expected && entry.corrupt.size > 0) {
      for (const nodeId of [...entry.corrupt]) {
        this.log.info({ block: id, node: nodeId }, 'deleting corrupt replica now that good ones suffice');
        this.blocks.deleteReplica(nodeId, entry);
      }
    }
    if (good > expected && pendingTargets === 0) {
      // Remove the surplus from the fullest nodes (least space left).
      const surplus = this.counted(entry)
        .sort((a, b) => a.remainingBytes - b.remainingBytes)
        .slice(0, good - expected);
      for (const n of surplus) {
        this.log.info({ block: id, node: n.info.nodeId, expected, had: good }, 'deleting surplus replica');
        this.blocks.deleteReplica(n.info.nodeId, entry);
      }
    }
  }

  private schedule(now: number): void {
    let budget = this.options.scheduleMaxPerTick;
    let scan = SCHEDULE_SCAN_MAX;
    for (const queue of this.queues) {
      // Each block at most once per tick: one moved to the back is not reached again.
      let left = queue.size;
      for (const id of queue) {
        if (budget <= 0 || scan <= 0) return;
        if (left-- <= 0) break;
        scan--;
        queue.delete(id);
        const entry = this.map.entry(id);
        if (entry === undefined) continue;
        if (!this.pending.has(id) && this.scheduleCopy(id, entry, now)) budget--;
        else queue.add(id);
      }
    }
  }

  private scheduleCopy(id: number, entry: BlockEntryView, now: number): boolean {
    const good = this.counted(entry);
    const needed = entry.file.replication - good.length;
    if (needed <= 0) return true;
    // Sources: any live holder of a good replica, draining (decommissioning) ones first as in
    // HDFS (they take no new replicas, so their disks and links are free for this), then
    // the least busy.
    const draining = (n: DatanodeView): number => (n.adminState === 'normal' ? 1 : 0);
    const sources = [...entry.replicas]
      .map((n) => this.registry.getLive(n))
      .filter(
        (n): n is DatanodeView => n !== undefined && n.scheduledTransfers < this.options.transfersPerNodeMax,
      )
      .sort((a, b) => draining(a) - draining(b) || a.scheduledTransfers - b.scheduledTransfers);
    const source = sources[0];
    if (source === undefined) return false;
    const exclude = [...entry.replicas, ...entry.corrupt, ...(this.failedTargets.get(id)?.keys() ?? [])];
    const targets = this.registry.chooseTargets(needed, source.info.host, exclude, entry.meta.numBytes);
    if (targets.length === 0) return false;
    // Counted as a copy under way on the source until release() (registry.copyEnded).
    this.registry.queueCopy(source.info.nodeId, {
      type: CommandType.REPLICATE,
      blocks: [blockOf(entry.meta)],
      targets,
    });
    this.pending.set(id, {
      targets: targets.map((t) => t.nodeId),
      source: source.info.nodeId,
      deadlineMs: now + this.options.pendingTimeoutMs,
    });
    this.copiesScheduled++;
    this.log.info(
      {
        block: id,
        source: source.info.nodeId,
        targets: targets.map((t) => t.nodeId),
        good: good.length,
        expected: entry.file.replication,
      },
      'replica copy scheduled',
    );
    return true;
  }

  /** Blocks still held by a decommissioning node that lack enough other replicas (counting stops at `stopAt`). */
  blocksToDrain(node: DatanodeView, stopAt = Infinity): number {
    let n = 0;
    for (const id of this.map.heldBy(node.info.nodeId)) {
      const entry = this.map.entry(id);
      if (entry !== undefined && this.counted(entry).length < entry.file.replication && ++n >= stopAt) break;
    }
    return n;
  }
}
