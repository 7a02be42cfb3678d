/**
 * Replica reports a standby NameNode cannot judge yet (issue 14; HDFS's
 * `PendingDataNodeMessages`). DataNodes report to every NameNode (src/datanode/
 * namenode-links.ts), and a standby applies the journal a little after the active wrote it,
 * so a DataNode may report a replica of a block the standby has not seen yet (its addBlock
 * is still on its way from etcd), or at a newer generation stamp than it knows. The block
 * manager would call such a replica invalid and schedule its deletion: on a standby the
 * report is held back instead, and offered again after each journal batch it applies and,
 * for whatever is left, once more when it becomes the active (then it is at the head, and
 * the block manager's verdict is right).
 *
 * Bounded: at most HELD_MAX replicas are held; past that the oldest is dropped with a
 * warning (the DataNode's next full report brings it again).
 */
import { BlockColumns, type Block, type BlockList } from '../../protocol/shared-structures.js';
import type { Logger } from '../common/logger.js';
import type { BlockManager } from './block-manager.js';

export const HELD_MAX = 100_000;

export class StandbyReports {
  /** Held replicas by "nodeId blockId", in arrival order. */
  private readonly held = new Map<string, { nodeId: string; block: Block }>();
  private warned = false;

  constructor(
    private readonly blocks: BlockManager,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.held.size;
  }

  /** True when the namespace does not know the block at this stamp yet (a report from the future). */
  private isAhead(b: Block): boolean {
    const entry = this.blocks.map.entry(b.blockId);
    return entry === undefined || b.genStamp > entry.meta.genStamp;
  }

  /** The replicas of `blocks` the namespace can judge now; the others are held. */
  judgeable(nodeId: string, blocks: BlockList): Block[] {
    const now: Block[] = [];
    const list = blocks instanceof BlockColumns ? blocks.toArray() : blocks;
    for (const b of list) {
      if (!this.isAhead(b)) now.push(b);
      else this.hold(nodeId, b);
    }
    return now;
  }

  /** Unfinished replicas the namespace does not know yet are left out (not deleted); the rest. */
  knownUnfinished(blocks: readonly Block[]): Block[] {
    return blocks.filter((b) => !this.isAhead(b));
  }

  private hold(nodeId: string, block: Block): void {
    const key = `${nodeId} ${block.blockId}`;
    this.held.delete(key);
    this.held.set(key, { nodeId, block });
    if (this.held.size > HELD_MAX) {
      const oldest = this.held.keys().next().value!;
      this.held.delete(oldest);
      if (!this.warned)
        this.log.warn(
          { held: HELD_MAX },
          'standby: too many replica reports ahead of the journal; dropping the oldest',
        );
      this.warned = true;
    }
  }

  /**
   * Offers the held replicas again: after a journal batch, those now known (`all` false), or
   * every one once the NameNode is active and at the journal's head (`all` true).
   */
  replay(all: boolean): void {
    for (const [key, { nodeId, block }] of this.held) {
      if (!all && this.isAhead(block)) continue;
      this.held.delete(key);
      // A node that went away meanwhile: its next registration reports again.
      if (this.blocks.registry.get(nodeId) === undefined) continue;
      this.blocks.blockReceived(nodeId, [block], []);
    }
  }
}
