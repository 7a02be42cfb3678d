/**
 * FreeListTrim (src/common/free-list-trim.ts) on fake time, over a list that is a number:
 * what sat unused a whole interval above `kept` is let go, nothing that was taken within the
 * interval is, the timer starts only past `kept`, stops once back to it, and never keeps
 * the process alive.
 */
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { FreeListTrim } from '../../src/common/free-list-trim.js';

const INTERVAL = 1000;

/** A list of `size` items with a trim over it, recording each drop. */
function list(kept: number): { trim: FreeListTrim; size: number; drops: number[] } {
  const l = {
    size: 0,
    drops: [] as number[],
    trim: null as unknown as FreeListTrim,
  };
  l.trim = new FreeListTrim({
    kept,
    intervalMs: INTERVAL,
    size: () => l.size,
    drop: (excess) => {
      l.drops.push(excess);
      l.size -= excess;
    },
  });
  return l;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

it('lets go of what sat unused a whole interval above kept, down to kept, then stops', () => {
  const l = list(10);
  l.size = 30;
  l.trim.given();
  vi.advanceTimersByTime(INTERVAL);
  expect(l.drops).toEqual([20]);
  expect(l.size).toBe(10);
  expect(vi.getTimerCount()).toBe(0);
  vi.advanceTimersByTime(10 * INTERVAL);
  expect(l.drops).toEqual([20]);
});

it('keeps what was taken within the interval: only its low-water mark above kept goes', () => {
  const l = list(10);
  l.size = 30;
  l.trim.given();
  vi.advanceTimersByTime(INTERVAL / 2);
  l.size = 14; // 16 taken out
  l.trim.taken();
  l.size = 30; // and given back
  l.trim.given();
  vi.advanceTimersByTime(INTERVAL / 2);
  expect(l.drops).toEqual([4]);
  expect(l.size).toBe(26);
  // Taken down below kept in the next interval: nothing goes, and the timer goes on.
  l.size = 2;
  l.trim.taken();
  l.size = 26;
  l.trim.given();
  vi.advanceTimersByTime(INTERVAL);
  expect(l.drops).toEqual([4]);
  expect(vi.getTimerCount()).toBe(1);
  vi.advanceTimersByTime(INTERVAL);
  expect(l.drops).toEqual([4, 16]);
  expect(vi.getTimerCount()).toBe(0);
});

it('starts no timer while the list holds no more than kept, and its timer does not hold the process', () => {
  const l = list(10);
  l.size = 10;
  l.trim.given();
  expect(vi.getTimerCount()).toBe(0);
  vi.useRealTimers();
  const spy = vi.spyOn(globalThis, 'setInterval');
  let timer: NodeJS.Timeout | undefined;
  try {
    l.size = 11;
    l.trim.given();
    timer = spy.mock.results[0]!.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
  } finally {
    clearInterval(timer);
    spy.mockRestore();
  }
});
