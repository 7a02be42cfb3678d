/**
 * Safe mode (HDFS `BlockManagerSafeMode`): after a start the NameNode knows its files but
 * not where their blocks are. Until DataNodes have reported enough of them, answering reads
 * with "no replica" or re-replicating "missing" blocks would be wrong, so mutations are
 * refused with SAFE_MODE and the replication monitor and lease recovery wait.
 *
 *   | state                                                     | next                              |
 *   |-----------------------------------------------------------|-----------------------------------|
 *   | automatic, reported < threshold x total                   | stay                              |
 *   | automatic, reported >= threshold x total                  | leave after `extensionMs` more    |
 *   | manual (an operator entered it)                           | stay until an operator leaves it  |
 *
 * A block counts as reported once it has `minReplication` live replicas. The block being
 * written of a file still open does not count (it may never be finalized).
 *
 * An operator who leaves safe mode early makes the NameNode act on a view that may lack
 * whole nodes: a live node that has sent no full report since it registered is then asked
 * for one (BLOCK_REPORT with its next heartbeat), so its replicas are known before the
 * replication monitor copies blocks it already holds.
 */
import { MANUAL_SAFE_MODE } from '../../protocol/errors.js';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { NO_EVENTS, type NotableEvents } from './event-ring.js';

/** What safe mode reads of the block management, and asks of it (block-manager.ts). */
export interface SafeModeBlocks {
  /** Blocks whose length is final, and those of them with at least `min` readable replicas on live nodes. */
  countReplicated(min: number): { total: number; reported: number };
  /** Asks the live nodes that have not reported since registering for a full report; returns how many. */
  requestMissingBlockReports(): number;
  /**
   * Counters that only grow: `raises` by one for each change that can raise `reported` by
   * one (and nothing else raises it), `lowers` for each that can lower `total` by one.
   */
  changeCounts(): { raises: number; lowers: number };
}

/** A count at least this often while waiting, so the reported figure an operator sees is fresh. */
const RECOUNT_MS = 10_000;

export interface SafeModeOptions {
  threshold: number;
  extensionMs: number;
  minReplication: number;
}

export class SafeMode {
  on = false;
  manual = false;
  private reachedAtMs = 0;
  reported = 0;
  total = 0;
  /** When the last count was taken, and `changeCounts` then. */
  private countedAtMs = 0;
  private counted = { raises: 0, lowers: 0 };
  /** The NameNode's recent-events ring (event-ring.ts). */
  notable: NotableEvents = NO_EVENTS;

  constructor(
    private readonly blocks: SafeModeBlocks,
    private readonly options: SafeModeOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** At start-up: on when there are blocks to wait for. */
  startup(): void {
    this.count();
    this.on = this.total > 0;
    this.check();
    if (this.on)
      this.log.info(
        { blocks: this.total, threshold: this.options.threshold },
        'safe mode: waiting for block reports',
      );
  }

  enter(): void {
    this.on = true;
    this.manual = true;
    this.log.warn('safe mode entered by an operator');
    this.notable.record('safe-mode', 'safe mode entered by an operator');
  }

  leave(): void {
    if (this.on) {
      const asked = this.blocks.requestMissingBlockReports();
      this.log.warn(
        { reported: this.reported, total: this.total, reportsRequested: asked },
        'safe mode left by an operator',
      );
      this.notable.record('safe-mode', 'safe mode left by an operator');
    }
    this.on = false;
    this.manual = false;
  }

  private count(): void {
    this.counted = this.blocks.changeCounts();
    this.countedAtMs = this.clock.nowMs();
    const { total, reported } = this.blocks.countReplicated(this.options.minReplication);
    this.total = total;
    this.reported = reported;
  }

  /**
   * Whether the threshold may have been reached since the last count. The count walks every
   * block (~0.12 s at ten million), and checks come every second while a restart's full
   * reports are read: counting only once the bounds allow it kept it from taking a third
   * of the event loop. Never early: safe mode is left only on a count. Bounds that undercount
   * (see BlockManager.changeCounts) only delay a count, to the next forced one.
   */
  private mayHaveReached(): boolean {
    const now = this.blocks.changeCounts();
    const reportedMax = this.reported + (now.raises - this.counted.raises);
    const totalMin = this.total - (now.lowers - this.counted.lowers);
    return reportedMax >= this.options.threshold * totalMin;
  }

  /** Called periodically; leaves automatic safe mode once the threshold held for the extension. */
  check(): void {
    if (!this.on || this.manual) return;
    if (
      this.reachedAtMs === 0 &&
      !this.mayHaveReached() &&
      this.clock.nowMs() - this.countedAtMs < RECOUNT_MS
    )
      return;
    this.count();
    const now = this.clock.nowMs();
    if (this.reported < this.options.threshold * this.total) {
      this.reachedAtMs = 0;
      return;
    }
    if (this.reachedAtMs === 0) {
      this.reachedAtMs = now;
      this.log.info(
        { reported: this.reported, total: this.total, extensionMs: this.options.extensionMs },
        'safe mode threshold reached',
      );
    }
    if (now - this.reachedAtMs >= this.options.extensionMs) {
      this.on = false;
      this.log.info({ reported: this.reported, total: this.total }, 'safe mode off');
      this.notable.record('safe-mode', `safe mode off (${this.reported} of ${this.total} blocks reported)`);
    }
  }

  status(): string {
    if (!this.on) return 'safe mode is off';
    if (this.manual) return `safe mode is on (${MANUAL_SAFE_MODE}; leave it with "dfs admin safemode leave")`;
    const need = Math.ceil(this.options.threshold * this.total);
    return this.reachedAtMs > 0
      ? `safe mode is on: ${this.reported} of ${this.total} blocks reported; leaving after the ${this.options.extensionMs} ms extension`
      : `safe mode is on: ${this.reported} of ${this.total} blocks reported, waiting for ${need}`;
  }
}
