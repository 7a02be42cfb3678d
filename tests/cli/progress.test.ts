/**
 * Unit tests of the transfer progress bar (src/cli/progress.ts) with a fake clock and a fake
 * terminal: what a redraw looks like, how often it happens, speed and ETA over the sliding
 * window, unknown totals, narrow terminals, and the final summary.
 */
import { describe, expect, it } from 'vitest';
import {
  ProgressBar,
  formatClock,
  formatRate,
  formatSeconds,
  type ProgressOptions,
} from '../../src/cli/progress.js';

const MIB = 1024 * 1024;

class FakeTerminal {
  writes: string[] = [];
  constructor(readonly columns?: number) {}
  write(text: string): boolean {
    this.writes.push(text);
    return true;
  }
  get last(): string {
    return this.writes[this.writes.length - 1] ?? '';
  }
}

function setup(options: Partial<ProgressOptions> & { columns?: number } = {}): {
  bar: ProgressBar;
  term: FakeTerminal;
  clock: { ms: number };
} {
  const clock = { ms: 1000 };
  const term = new FakeTerminal(options.columns ?? 80);
  const bar = new ProgressBar({
    label: 'put big.iso',
    totalBytes: 100 * MIB,
    output: term,
    nowMs: () => clock.ms,
    ...options,
  });
  return { bar, term, clock };
}

/** A redraw: carriage return, the line, erase to the end of the line. */
function lineOf(write: string): string {
  expect(write.startsWith('\r')).toBe(true);
  expect(write.endsWith('\x1b[K')).toBe(true);
  return write.slice(1, -3);
}

describe('ProgressBar', () => {
  it('draws bytes, percent, a bar, MiB/s and ETA in place', () => {
    const { bar, term, clock } = setup();
    bar.update(0);
    expect(lineOf(term.last)).toMatch(
      /^put big\.iso {2}\[\.{21}\] {4}0% {6}0\/100M {4}--\.- MiB\/s {2}ETA --:--$/,
    );
    clock.ms += 1000;
    bar.update(10 * MIB);
    const line = lineOf(term.last);
    expect(line).toContain(`[##${'.'.repeat(19)}]`); // 10% of 21 cells, rounded down
    expect(line).toContain(' 10% ');
    expect(line).toContain('10M/100M');
    expect(line).toContain('10.0 MiB/s');
    expect(line).toContain('ETA  0:09');
    expect(line.length).toBeLessThan(80);
    expect(term.writes.every((w) => !w.includes('\n'))).toBe(true); // a redraw never scrolls
  });

  it('redraws at most once per interval however often it is updated (~10 per second)', () => {
    const { bar, term, clock } = setup();
    for (let t = 0; t <= 1000; t += 5) {
      clock.ms = 1000 + t;
      bar.update(t * 1000);
    }
    expect(term.writes.length).toBe(11); // t = 0, 100, ..., 1000
    clock.ms += 50;
    bar.update(2 * MIB);
    expect(term.writes.length).toBe(11);
  });

  it('computes speed and ETA over a sliding window, so a stall shows', () => {
    const { bar, clock } = setup({ rateWindowMs: 2000 });
    for (let s = 1; s <= 5; s++) {
      clock.ms = 1000 + s * 1000;
      bar.update(s * 8 * MIB);
    }
    expect(bar.rate()).toBeCloseTo(8 * MIB, 0);
    // Stalled for 3 s: the window holds no progress, so the speed is 0 and the ETA unknown.
    for (let s = 6; s <= 8; s++) {
      clock.ms = 1000 + s * 1000;
      bar.update(40 * MIB);
    }
    expect(bar.rate()).toBe(0);
    expect(bar.render(clock.ms, 40 * MIB)).toContain('ETA --:--');
    expect(bar.render(clock.ms, 40 * MIB)).toContain(' 0.0 MiB/s');
  });

  it('without a known total shows bytes, speed and elapsed time, but no bar, percent or ETA', () => {
    const { bar, term, clock } = setup({ label: 'put -', totalBytes: null });
    bar.update(0);
    clock.ms += 2500;
    bar.update(5 * MIB);
    const line = lineOf(term.last);
    expect(line).toMatch(/^put - {3}5\.0M {4}2\.0 MiB\/s {3}0:03$/);
    expect(line).not.toContain('%');
    expect(line).not.toContain('ETA');
  });

  it('fits a narrow terminal: drops the bar, shortens the label from the left, never wraps', () => {
    const label = 'put a-very-long-directory-name/with-a-long-file-name.tar.gz';
    for (const columns of [20, 40, 60, 200]) {
      const { bar, term } = setup({ label, columns });
      bar.update(3 * MIB);
      const line = lineOf(term.last);
      expect(line.length, `columns ${columns}: ${line}`).toBeLessThanOrEqual(Math.max(20, columns) - 1);
    }
    const { bar, term } = setup({ label, columns: 50 });
    bar.update(3 * MIB);
    const line = lineOf(term.last);
    expect(line).not.toContain('[');
    expect(line).toMatch(/^…[^ ]*\.gz {4}3%/);
    // Unknown width: 80 columns.
    const wide = setup({ label, columns: undefined as unknown as number });
    wide.bar.update(0);
    expect(lineOf(wide.term.last).length).toBeLessThanOrEqual(79);
  });

  it('keeps the rate and the time left on a narrow terminal, or one that reports no width', () => {
    for (const columns of [0, 32, 40, 60]) {
      const { bar, term, clock } = setup({ columns });
      bar.update(0);
      clock.ms += 2000;
      bar.update(4 * MIB);
      const line = lineOf(term.last);
      expect(line, `columns ${columns}`).toContain('  2.0 MiB/s  ETA  0:48');
      expect(line).toMatch(/^.* {2}4%/);
      expect(line.length).toBeLessThanOrEqual((columns === 0 ? 80 : columns) - 1);
    }
    // Wide enough: the byte counts too.
    const { bar, term } = setup({ columns: 0 });
    bar.update(4 * MIB);
    expect(lineOf(term.last)).toContain('4.0M/100M');
  });

  it('finish replaces the bar with a summary line; clear erases it; later updates draw nothing', () => {
    const { bar, term, clock } = setup();
    bar.update(0);
    clock.ms += 4000;
    bar.finish(100 * MIB);
    expect(term.last).toBe('\rput big.iso: 100M (104857600 bytes) in 4.00 s, 25.0 MiB/s\x1b[K\n');
    const count = term.writes.length;
    clock.ms += 1000;
    bar.update(1);
    bar.finish(1);
    bar.clear();
    expect(term.writes.length).toBe(count);

    const other = setup();
    other.bar.update(5);
    other.bar.clear();
    expect(other.term.last).toBe('\r\x1b[K');
    // Nothing drawn yet: clear writes nothing, finish writes just the summary.
    const quiet = setup();
    quiet.bar.clear();
    expect(quiet.term.writes).toEqual([]);
    const instant = setup();
    instant.bar.finish(0, 'done');
    expect(instant.term.writes).toEqual(['done\x1b[K\n']);
  });

  it('shows 100% and ETA 0:00 at the end, and an empty total as complete', () => {
    const { bar, clock } = setup();
    clock.ms += 1000;
    expect(bar.render(clock.ms, 100 * MIB)).toMatch(/\[#{21}\] {2}100% +100M\/100M .* ETA {2}0:00$/);
    const empty = setup({ totalBytes: 0 });
    expect(empty.bar.render(1000, 0)).toMatch(/\[#+\] {2}100% .* ETA {2}0:00$/);
  });
});

describe('progress formatting', () => {
  it('formats rates, clocks and durations', () => {
    expect(formatRate(null)).toBe('--.- MiB/s');
    expect(formatRate(1.5 * MIB)).toBe('1.5 MiB/s');
    expect(formatRate(Number.POSITIVE_INFINITY)).toBe('--.- MiB/s');
    expect(formatClock(null)).toBe('--:--');
    expect(formatClock(0)).toBe('0:00');
    expect(formatClock(0.2)).toBe('0:01'); // rounded up: never optimistic
    expect(formatClock(65)).toBe('1:05');
    expect(formatClock(3 * 3600 + 7 * 60 + 9)).toBe('3:07:09');
    expect(formatClock(-1)).toBe('--:--');
    expect(formatSeconds(0.0421)).toBe('0.042 s');
    expect(formatSeconds(3.214)).toBe('3.21 s');
    expect(formatSeconds(95.44)).toBe('95.4 s');
  });
});
