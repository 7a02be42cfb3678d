/**
 * When a free list of reusable memory lets go of what it no longer needs: the process-wide
 * lists of page-aligned buffers (page-aligned.ts) and of read slabs (read-slabs.ts).
 *
 * Why: a list that keeps only a small fixed amount drops the buffers of every burst larger
 * than that (four uploads at once, a DataNode receiving from several writers), and the next
 * burst makes them again: each new 1 MiB of memory costs its pages' faults and zeroing, more
 * on a VM that hands freed memory back to its host (0.57-0.63 ms of CPU per MiB measured
 * here, against 0.025 ms to refill a reused buffer), and the garbage collector's work for
 * the memory dropped. A list that keeps all it is given holds a burst's memory forever.
 *
 * So a list may hold up to its own bound, and every `intervalMs`, while it holds more than
 * `kept`, what sat on it the whole interval above `kept` (its low-water mark since the last
 * trim) is let go. Bursts that come back within an interval reuse their memory; an idle
 * process is back to `kept` within two intervals. The timer does not keep a process alive.
 * (jemalloc decays its unused pages for the same reason, gradually rather than in one step.)
 */
import { assert } from '../../protocol/errors.js';

/** How often a list lets go of what sat unused (page-aligned buffers, read slabs). */
export const FREE_LIST_TRIM_INTERVAL_MS = 30_000;

export interface FreeListTrimOptions {
  /** What the list may keep however long it sits unused (bytes or items, as `size`). */
  kept: number;
  intervalMs: number;
  /** What the list holds now. */
  size(): number;
  /** Lets go of at least `excess` of what the list holds (never all of it is asked). */
  drop(excess: number): void;
}

export class FreeListTrim {
  /** The least the list held since the last trim (or since the timer started). */
  private low = 0;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly o: FreeListTrimOptions) {
    assert(o.kept >= 0 && o.intervalMs > 0, `free list trim: kept ${o.kept}, every ${o.intervalMs} ms`);
  }

  /** The list gave something out. */
  taken(): void {
    this.low = Math.min(this.low, this.o.size());
  }

  /** The list was given something: past `kept`, the trims start. */
  given(): void {
    if (this.timer !== null || this.o.size() <= this.o.kept) return;
    this.low = this.o.size();
    this.timer = setInterval(() => this.trim(), this.o.intervalMs);
    this.timer.unref();
  }

  private trim(): void {
    const before = this.o.size();
    const excess = Math.min(this.low, before) - this.o.kept;
    if (excess > 0) {
      this.o.drop(excess);
      assert(this.o.size() <= before - excess, `free list dropped less than ${excess} of ${before}`);
    }
    this.low = this.o.size();
    if (this.low <= this.o.kept && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}
