/**
 * The server-wide bound on received bytes the handlers hold (FrameServer `heldBytesMax`; the
 * DataNode's `packetBytesHeldMax`: packet payload received and not yet on disk). Its owner,
 * frame-server.ts, counts every `hold`/`unhold` here; once the total reaches the bound, each
 * connection that next checks its flow stops reading (`pause`) and all of them are read
 * again as soon as the total drops below it. A connection stops after the read that crossed
 * the bound, and reads are sized within the bound (it is also their ReadBudget,
 * read-slabs.ts), so the total can pass the bound by at most what each connection had in
 * flight: for the DataNode, a packet and a smallest read (64 KiB) each.
 *
 * `peakBytes` keeps the highest total since start. A warn line when reading stops (at most
 * one per WARN_INTERVAL_MS, counting the pauses in between) and, after such a line, an info
 * line once nothing is held carry it, as the partial-frame budget's lines do
 * (partial-frame-budget.ts), so an operator and the tests see how close to the bound it ran.
 */
import { assert } from '../../protocol/errors.js';
import type { Logger } from './logger.js';
import type { ReadBudget } from './read-slabs.js';

const WARN_INTERVAL_MS = 10_000;

/** What the budget needs of a connection: to check again whether it may read. */
export interface FlowControlled {
  updateFlow(): void;
}

export class HeldBytesBudget<C extends FlowControlled> implements ReadBudget {
  /** Bytes all connections hold. */
  bytes = 0;
  /** Highest `bytes` ever seen (log lines and tests). */
  peakBytes = 0;
  /** Connections that stopped reading while over the bound; read again once under it. */
  private readonly paused = new Set<C>();
  private lastWarnMs = -Infinity;
  private pausesSinceWarn = 0;
  private warned = false;

  constructor(
    /** No bound when undefined. */
    private readonly bytesMax: number | undefined,
    private readonly logger: Logger,
  ) {}

  /** Bytes promised to socket reads whose regions are handed out and not yet filled (ReadBudget). */
  promisedBytes = 0;

  /** Bytes under the bound neither held nor promised to a read (read-slabs.ts ReadBudget). */
  get unpromised(): number {
    if (this.bytesMax === undefined) return Infinity;
    return Math.max(0, this.bytesMax - this.bytes - this.promisedBytes);
  }

  promise(bytes: number): void {
    this.promisedBytes += bytes;
  }

  settle(bytes: number): void {
    this.promisedBytes -= bytes;
    assert(this.promisedBytes >= 0, `${this.promisedBytes} bytes promised to reads after settling ${bytes}`);
  }

  get over(): boolean {
    return this.bytesMax !== undefined && this.bytes >= this.bytesMax;
  }

  /** Held bytes went up or down by `delta`; dropping under the bound reads every paused connection again. */
  changed(delta: number): void {
    const was = this.over;
    this.bytes += delta;
    assert(this.bytes >= 0, `server holds ${this.bytes} bytes after a change of ${delta}`);
    if (this.bytes > this.peakBytes) this.peakBytes = this.bytes;
    if (this.bytes === 0 && this.warned) {
      this.warned = false;
      this.logger.info({ heldBytes: 0, heldBytesPeak: this.peakBytes }, 'held bytes given back');
    }
    if (!was || this.over) return;
    const paused = [...this.paused];
    this.paused.clear();
    for (const c of paused) c.updateFlow();
  }

  /** `conn` stops reading until held bytes are let go (called again while it waits: counted once). */
  pause(conn: C): void {
    if (this.paused.has(conn)) return;
    this.paused.add(conn);
    this.pausesSinceWarn++;
    const now = Date.now();
    if (now - this.lastWarnMs < WARN_INTERVAL_MS) return;
    this.logger.warn(
      {
        heldBytes: this.bytes,
        heldBytesMax: this.bytesMax,
        heldBytesPeak: this.peakBytes,
        connectionsPaused: this.paused.size,
        pausesSinceLastLine: this.pausesSinceWarn,
      },
      'held bytes at their bound; connections wait before reading more',
    );
    this.lastWarnMs = now;
    this.pausesSinceWarn = 0;
    this.warned = true;
  }

  /** A closed connection waits no more. */
  remove(conn: C): void {
    this.paused.delete(conn);
  }
}
