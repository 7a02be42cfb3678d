/**
 * The one-line transfer progress bar of `dfs put` and `dfs get`, drawn on stderr:
 *
 *   put big.iso  [##########...........]   48%  1.2G/2.5G    87.3 MiB/s  ETA 0:15
 *   put -   1.2G   87.3 MiB/s  0:14                      (total unknown: elapsed time)
 *
 * The line is redrawn in place (`\r`, then erase-to-end-of-line `ESC[K`) at most once per
 * `minIntervalMs` (100 ms: ~10 redraws a second, however often `update` is called), so the
 * caller may poll a byte counter as often as it likes. The speed and the ETA come from a
 * sliding window of the last few seconds of samples, so they follow a transfer that speeds
 * up or stalls instead of averaging over its whole life; the final summary line uses the
 * overall average. The line is cut to the terminal width so it never wraps (a wrapped line
 * cannot be redrawn with `\r`). What gives way on a narrow terminal, in order: the bar, the
 * label (cut from the left), the byte counts; the percentage, the rate and the time left stay
 * (the line is cut only below about 30 columns). A terminal that reports no width counts as 80.
 *
 * The clock and the output stream are injected, so the renderer is unit-tested without a
 * terminal or real time. Whether to show a bar at all (stderr is a TTY, no --json) is the
 * caller's decision: this class always draws.
 */
import { humanBytes } from './format.js';

/** Where the bar is drawn: `process.stderr`, or a fake in tests. */
export interface ProgressOutput {
  write(text: string): unknown;
  /** Terminal width in characters; 80 when unknown. */
  readonly columns?: number | undefined;
}

export interface ProgressOptions {
  /** Shown first, e.g. `put big.iso`; shortened from the left when the line is too narrow. */
  label: string;
  /** Bytes expected in all, or null when unknown (stdin): no bar, percent or ETA then. */
  totalBytes: number | null;
  output: ProgressOutput;
  /** Milliseconds on a monotonic clock (default `performance.now()`). */
  nowMs?: () => number;
  minIntervalMs?: number;
  /** Width of the sliding window that speed and ETA are computed over. */
  rateWindowMs?: number;
}

const MIB = 1024 * 1024;
const COLUMNS_DEFAULT = 80;
const BAR_CELLS = 24;
const BAR_CELLS_MIN = 10;
/** Label characters kept before the bar is shortened, and before it is dropped. */
const LABEL_PREFERRED = 24;
const LABEL_MIN = 8;
/** Samples kept for the sliding window: bounded whatever the window and redraw rate. */
const SAMPLES_MAX = 64;

/** `12.3 MiB/s`, or `--.- MiB/s` when no rate is known yet. */
export function formatRate(bytesPerSecond: number | null): string {
  if (bytesPerSecond === null || !Number.isFinite(bytesPerSecond)) return '--.- MiB/s';
  return `${(bytesPerSecond / MIB).toFixed(1)} MiB/s`;
}

/** `m:ss` below an hour, `h:mm:ss` above; `--:--` when unknown. Rounded up: never optimistic. */
export function formatClock(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return '--:--';
  const total = Math.ceil(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** Seconds with a sensible precision for a summary: `0.042 s`, `3.21 s`, `95.4 s`. */
export function formatSeconds(seconds: number): string {
  if (seconds < 1) return `${seconds.toFixed(3)} s`;
  if (seconds < 10) return `${seconds.toFixed(2)} s`;
  return `${seconds.toFixed(1)} s`;
}

interface Sample {
  atMs: number;
  bytes: number;
}

export class ProgressBar {
  private readonly nowMs: () => number;
  private readonly minIntervalMs: number;
  private readonly rateWindowMs: number;
  private readonly startedMs: number;
  private lastDrawMs = Number.NEGATIVE_INFINITY;
  private readonly samples: Sample[] = [];
  /** True while a bar line is on screen (so `clear` knows whether to erase). */
  private drawn = false;
  private ended = false;

  constructor(private readonly options: ProgressOptions) {
    this.nowMs = options.nowMs ?? (() => performance.now());
    this.minIntervalMs = options.minIntervalMs ?? 100;
    this.rateWindowMs = options.rateWindowMs ?? 3000;
    this.startedMs = this.nowMs();
    this.samples.push({ atMs: this.startedMs, bytes: 0 });
  }

  /** Reports the bytes done so far; redraws unless the last redraw was too recent. */
  update(bytes: number): void {
    if (this.ended) return;
    const now = this.nowMs();
    if (now - this.lastDrawMs < this.minIntervalMs) return;
    this.lastDrawMs = now;
    this.record(now, bytes);
    this.options.output.write(`\r${this.render(now, bytes)}\x1b[K`);
    this.drawn = true;
  }

  /** Replaces the bar with a summary line (`put big.iso: 2.5G in 29.3 s, 87.3 MiB/s`). */
  finish(bytes: number, summary?: string): void {
    if (this.ended) return;
    this.ended = true;
    const seconds = Math.max(0, this.nowMs() - this.startedMs) / 1000;
    const rate = seconds > 0 ? bytes / seconds : null;
    const text =
      summary ??
      `${this.options.label}: ${humanBytes(bytes)} (${bytes} bytes) in ${formatSeconds(seconds)}, ${formatRate(rate)}`;
    this.options.output.write(`${this.drawn ? '\r' : ''}${text}\x1b[K\n`);
    this.drawn = false;
  }

  /** Erases the bar (before an error line is printed, say); further updates are ignored. */
  clear(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.drawn) this.options.output.write('\r\x1b[K');
    this.drawn = false;
  }

  /** Bytes per second over the sliding window, or null before there is any time to divide by. */
  rate(): number | null {
    const first = this.samples[0]!;
    const last = this.samples[this.samples.length - 1]!;
    const spanMs = last.atMs - first.atMs;
    return spanMs > 0 ? ((last.bytes - first.bytes) * 1000) / spanMs : null;
  }

  private record(now: number, bytes: number): void {
    this.samples.push({ atMs: now, bytes });
    // Keep one sample at or before the window start, so the window is always covered.
    while (
      this.samples.length > 2 &&
      (this.samples[1]!.atMs <= now - this.rateWindowMs || this.samples.length > SAMPLES_MAX)
    ) {
      this.samples.shift();
    }
  }

  /** The line for `bytes` done at `now`, at most `columns - 1` characters wide. */
  render(now: number, bytes: number): string {
    // A terminal that reports no size (0, as a pty nobody sized does, or none) is taken as 80
    // columns: cutting the line to the 20-column minimum would hide the rate and time left.
    const reported = this.options.output.columns;
    const columns = (reported === undefined || reported <= 0 ? COLUMNS_DEFAULT : Math.max(20, reported)) - 1;
    const total = this.options.totalBytes;
    const rate = this.rate();
    let tail: string;
    let bar = '';
    if (total !== null) {
      const fraction = total > 0 ? Math.min(1, bytes / total) : 1;
      const percent = `${String(Math.floor(fraction * 100)).padStart(3)}%`;
      const done = `${humanBytes(bytes).padStart(5)}/${humanBytes(total).padEnd(5)}`;
      const remaining = Math.max(0, total - bytes);
      const eta = remaining === 0 ? 0 : rate !== null && rate > 0 ? remaining / rate : null;
      const speed = formatRate(rate).padStart(11);
      const left = `ETA ${formatClock(eta).padStart(5)}`; // fixed width: the bar does not jitter
      tail = [percent, done, speed, left].join('  ');
      // Too narrow for everything: the byte counts go before the rate and the time left do.
      if (tail.length > columns) tail = [percent, speed, left].join('  ');
    } else {
      tail = [
        humanBytes(bytes).padStart(5),
        formatRate(rate).padStart(11),
        formatClock((now - this.startedMs) / 1000).padStart(5),
      ].join('  ');
    }
    // Room left for "label  [bar]  " once the numbers are placed.
    let room = columns - tail.length - 2;
    if (total !== null) {
      // The label first (up to LABEL_PREFERRED), then the bar; a short bar before a cut label.
      let cells = Math.min(BAR_CELLS, room - 4 - Math.min(this.options.label.length, LABEL_PREFERRED));
      if (cells < BAR_CELLS_MIN) cells = Math.min(BAR_CELLS_MIN, room - 4 - LABEL_MIN);
      if (cells >= BAR_CELLS_MIN) {
        const filled = total > 0 ? Math.min(cells, Math.floor((bytes / total) * cells)) : cells;
        bar = `[${'#'.repeat(filled)}${'.'.repeat(cells - filled)}]  `;
        room -= bar.length;
      }
    }
    const line = `${fitLeft(this.options.label, Math.max(0, room))}  ${bar}${tail}`;
    return line.length > columns ? line.slice(0, columns) : line;
  }
}

/** `text` cut to `width` characters, keeping its end (the file name) behind a leading `…`. */
function fitLeft(text: string, width: number): string {
  if (text.length <= width) return text;
  if (width <= 1) return text.slice(0, width);
  return `…${text.slice(text.length - width + 1)}`;
}
