/**
 * The NameNode's recent-events ring (src/namenode/event-ring.ts): newest first, bounded,
 * overwriting the oldest, and `afterSeq` returning only what a poller has not seen.
 */
import { describe, expect, it } from 'vitest';
import { EventRing } from '../../src/namenode/event-ring.js';

describe('EventRing', () => {
  it('keeps the newest `capacity` events, newest first, and pages by sequence number', () => {
    let now = 1000;
    const ring = new EventRing(() => now++, 4);
    expect(ring.recent(10)).toEqual([]);
    expect(ring.lastSeq).toBe(0);
    for (let i = 1; i <= 6; i++) ring.record('checkpoint', `c${i}`);
    expect(ring.lastSeq).toBe(6);
    expect(ring.recent(10).map((e) => e.message)).toEqual(['c6', 'c5', 'c4', 'c3']);
    expect(ring.recent(2).map((e) => e.seq)).toEqual([6, 5]);
    expect(ring.recent(10, 4).map((e) => e.seq)).toEqual([6, 5]);
    expect(ring.recent(10, 6)).toEqual([]);
    expect(ring.recent(1)[0]).toEqual({ seq: 6, atMs: 1005, kind: 'checkpoint', message: 'c6' });
  });
});
