/**
 * How far each decommissioning DataNode's draining has got, and whether it can finish (HDFS
 * `DatanodeAdminMonitor`'s count of under-replicated blocks per node). The replication
 * monitor (replication-monitor.ts) hands it the live nodes still draining on every tick; it
 * counts each one's blocks every SURVEY_INTERVAL_MS, `datanodeReport` shows the counts
 * (`drainBlocks`, `drainStuckBlocks`), and a drain that cannot finish is logged at warn with
 * a growing interval, so an operator waiting on it learns why:
 *
 *   | blocks lacking replicas elsewhere | of those, wanting more replicas than | what is said                  |
 *   |                                   | live in-service nodes exist         |                               |
 *   |-----------------------------------|-------------------------------------|-------------------------------|
 *   | none                              | -                                   | decommissioned (info, monitor)|
 *   | some                              | none                                | nothing: the copies go on     |
 *   | some                              | some                                | warn now, again after 30 s,   |
 *   |                                   |                                     | 60 s, ... every 10 min at most|
 *
 * Counted now and then rather than per tick: a count walks every block the node holds.
 */
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import type { BlockEntryView, BlockMap } from './block-map.js';
import type { DatanodeRegistry } from './datanode-registry.js';

/** How often a draining node's blocks are counted. */
export const SURVEY_INTERVAL_MS = 2_000;
const WARN_BACKOFF_FIRST_MS = 30_000;
const WARN_BACKOFF_MAX_MS = 600_000;

export interface DrainCounts {
  /** Blocks the node holds that still lack their replication on other nodes. */
  drainBlocks: number;
  /** Of those, blocks whose file wants more replicas than there are live in-service nodes. */
  drainStuckBlocks: number;
  /** The highest replication among the stuck blocks' files (0 when none is stuck). */
  replicationWanted: number;
  /** Live in-service DataNodes when counted. */
  inServiceNodes: number;
  /** One stuck block, for the log (-1 when none). */
  sampleBlockId: number;
}

interface NodeProgress {
  counts: DrainCounts;
  countedAtMs: number;
  /** When a stuck drain may next be warned about, and the wait after that. */
  nextWarnMs: number;
  backoffMs: number;
}

const NOTHING_LEFT = { drainBlocks: 0, drainStuckBlocks: 0 } as const;

export class DecommissionProgress {
  private readonly nodes = new Map<string, NodeProgress>();

  constructor(
    private readonly map: BlockMap,
    private readonly registry: DatanodeRegistry,
    /** Good live replicas of a block that count towards replication (the replication monitor's rule). */
    private readonly countedReplicas: (entry: BlockEntryView) => number,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** The live nodes still draining; any other node is forgotten (done, recommissioned or dead). */
  check(draining: ReadonlySet<string>): void {
    for (const id of this.nodes.keys()) if (!draining.has(id)) this.nodes.delete(id);
    const now = this.clock.nowMs();
    let inService = -1;
    for (const nodeId of draining) {
      const p = this.nodes.get(nodeId);
      if (p !== undefined && now - p.countedAtMs < SURVEY_INTERVAL_MS) continue;
      if (inService < 0) inService = this.inServiceNodes();
      this.counted(nodeId, this.count(nodeId, inService), now);
    }
  }

  /** What `datanodeReport` shows for the node. */
  of(nodeId: string): { drainBlocks: number; drainStuckBlocks: number } {
    const c = this.nodes.get(nodeId)?.counts;
    return c === undefined
      ? NOTHING_LEFT
      : { drainBlocks: c.drainBlocks, drainStuckBlocks: c.drainStuckBlocks };
  }

  private inServiceNodes(): number {
    let n = 0;
    for (const node of this.registry.all())
      if (node.adminState === 'normal' && this.registry.isLive(node.info.nodeId)) n++;
    return n;
  }

  /** The node's blocks still lacking replicas elsewhere, and of those the ones no placement can help. */
  private count(nodeId: string, inServiceNodes: number): DrainCounts {
    const c: DrainCounts = {
      drainBlocks: 0,
      drainStuckBlocks: 0,
      replicationWanted: 0,
      inServiceNodes,
      sampleBlockId: -1,
    };
    for (const id of this.map.heldBy(nodeId)) {
      const entry = this.map.entry(id);
      if (entry === undefined || this.countedReplicas(entry) >= entry.file.replication) continue;
      c.drainBlocks++;
      if (entry.file.replication <= inServiceNodes) continue;
      c.drainStuckBlocks++;
      c.replicationWanted = Math.max(c.replicationWanted, entry.file.replication);
      if (c.sampleBlockId < 0) c.sampleBlockId = id;
    }
    return c;
  }

  private counted(nodeId: string, counts: DrainCounts, now: number): void {
    let p = this.nodes.get(nodeId);
    if (p === undefined) {
      p = { counts, countedAtMs: now, nextWarnMs: now, backoffMs: WARN_BACKOFF_FIRST_MS };
      this.nodes.set(nodeId, p);
    }
    p.counts = counts;
    p.countedAtMs = now;
    if (counts.drainStuckBlocks === 0) {
      // Placeable again (nodes were added, replication lowered): warn at once if it sticks again.
      p.nextWarnMs = now;
      p.backoffMs = WARN_BACKOFF_FIRST_MS;
      return;
    }
    if (now < p.nextWarnMs) return;
    this.log.warn(
      {
        node: nodeId,
        drainBlocks: counts.drainBlocks,
        drainStuckBlocks: counts.drainStuckBlocks,
        replicationWanted: counts.replicationWanted,
        inServiceNodes: counts.inServiceNodes,
        block: counts.sampleBlockId,
        nextWarningInMs: p.backoffMs,
      },
      'decommission cannot finish: files want more replicas than there are live in-service DataNodes; add DataNodes or lower their replication',
    );
    p.nextWarnMs = now + p.backoffMs;
    p.backoffMs = Math.min(p.backoffMs * 2, WARN_BACKOFF_MAX_MS);
  }
}
