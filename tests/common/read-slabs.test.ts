/**
 * SlabReads (src/common/read-slabs.ts) driven by hand, as `net.Socket` drives it: a region
 * is asked of `onread().buffer()` at the start and after each read, the next read's bytes are
 * written into it and `callback(n, region)` hands them to `sink`, which feeds a FrameDecoder scattering PACKET frames and admits each
 * frame exactly as src/common/data-connection.ts does. Read sizes are seeded and random, so
 * frames straddle reads and slabs.
 *
 * What is proven: a slab is reused only once every frame read into it is released, and not
 * before (a later frame released first recycles nothing; held packets keep their bytes while
 * many MiB are read and released around them); a steady stream with prompt releases stops
 * allocating; bodies of other frames are copies that survive later reads; after `close`,
 * releases give nothing back and nothing the connection held is reused; a second release of
 * one frame is an assertion. Reads fill the rest of a slab, or, with a ReadBudget, no more
 * than it has neither held nor promised (at least 64 KiB): connections sharing one budget
 * hold regions that together stay within it, and every promise is settled by the read or
 * the close.
 *
 * Slab counts are process-wide (slabStats), so each case measures deltas: "slabs taken" is
 * how many more are out of the free list or newly allocated than at its start.
 */
import { describe, expect, it, vi } from 'vitest';
import { AssertionFailure, FrameDecoder, type Frame } from '../../protocol/index.js';
import { HeldBytesBudget } from '../../src/common/held-bytes-budget.js';
import { silentLogger } from '../../src/common/logger.js';
import {
  FREE_SLABS_KEPT,
  SLAB_BYTES,
  SlabReads,
  slabStats,
  type ReadBudget,
} from '../../src/common/read-slabs.js';
import { bodyIntact, FrameKind, frameBytesOf, seededInts, wireFrame } from '../support/slab-frames.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** One connection's reads, decoder and admitted frames, fed by hand. */
class Reads {
  readonly reads: SlabReads;
  private readonly onread: ReturnType<SlabReads['onread']>;
  /** The region the next read goes into (asked for at the start and after each read). */
  private region: Uint8Array;
  /** Lengths of the slab regions reads went into. */
  readonly regions: number[] = [];
  private readonly decoder = new FrameDecoder({
    bodyBytesMax: 4 * MiB,
    scatterKinds: new Set([FrameKind.PACKET]),
  });
  private readonly readBytes: (lo: number, hi: number) => number;
  private next = 0;

  constructor(
    seed: number,
    private readonly onFrame: (frame: Frame) => void,
    budget?: ReadBudget,
  ) {
    this.reads = new SlabReads(budget);
    this.onread = this.reads.onread();
    this.region = (this.onread.buffer as () => Uint8Array)();
    this.readBytes = seededInts(seed);
    this.reads.sink = (chunk) =>
      this.decoder.push(chunk, (f) => {
        this.reads.admit(f, this.decoder.buffered);
        this.onFrame(f);
      });
  }

  /** Feeds `wire` in reads of random sizes, each into the region the reads hand out. */
  read(wire: readonly Buffer[]): void {
    const bytes = Buffer.concat(wire);
    let at = 0;
    while (at < bytes.length) {
      const into = this.region;
      if (into.buffer.byteLength === SLAB_BYTES) this.regions.push(into.length);
      const want = this.readBytes(1, 8) === 1 ? this.readBytes(1, 4 * KiB) : this.readBytes(1, SLAB_BYTES);
      const n = Math.min(into.length, want, bytes.length - at);
      bytes.copy(into, 0, at, at + n);
      at += n;
      this.onread.callback(n, into);
      this.region = (this.onread.buffer as () => Uint8Array)();
    }
  }

  /** The length of the slab region the next read goes into (0: memory of its own). */
  get pendingRegion(): number {
    return this.region.buffer.byteLength === SLAB_BYTES ? this.region.length : 0;
  }

  /** Sends `count` frames of `kind` with the next indices, sized between lo and hi. */
  send(count: number, kind: FrameKind, lo: number, hi: number): void {
    const wire: Buffer[] = [];
    for (let k = 0; k < count; k++) wire.push(...wireFrame(kind, this.next++, this.readBytes(lo, hi)));
    this.read(wire);
  }

  /** Sends PACKET frames of 32..200 KiB until about `bytes` have gone. */
  stream(bytes: number): void {
    for (let sent = 0; sent < bytes; sent += 4 * 116 * KiB)
      this.send(4, FrameKind.PACKET, 32 * KiB, 200 * KiB);
  }
}

/** Slabs out of the free list or newly allocated since `before`. */
function taken(before: { allocated: number; free: number }): number {
  const now = slabStats();
  return now.allocated - before.allocated + (before.free - now.free);
}

function release(frame: Frame): void {
  expect(frame.release).toBeTypeOf('function');
  frame.release!();
}

describe('SlabReads', () => {
  it('reads the rest of a slab at a time, or what its budget has not promised (at least 64 KiB)', () => {
    const whole = new Reads(7, release);
    whole.stream(4 * MiB);
    expect(Math.max(...whole.regions)).toBe(SLAB_BYTES);
    const budget = { unpromised: 100 * KiB, promised: 0 } as ReadBudget & {
      unpromised: number;
      promised: number;
    };
    budget.promise = (b) => void (budget.promised += b);
    budget.settle = (b) => void (budget.promised -= b);
    const limited = new Reads(7, release, budget);
    limited.stream(2 * MiB);
    expect(Math.max(...limited.regions)).toBe(100 * KiB);
    budget.unpromised = 0;
    limited.regions.length = 0;
    limited.stream(2 * MiB);
    // (The region already handed out was sized before; every later one is the smallest.)
    expect(Math.max(...limited.regions.slice(1))).toBe(64 * KiB);
    // Only the region handed out for the next read is promised; the close settles it.
    expect(budget.promised).toBe(limited.pendingRegion);
    limited.reads.close();
    expect(budget.promised).toBe(0);
    whole.reads.close();
  });

  it('connections sharing a budget are handed regions that together stay within it', () => {
    const budget = new HeldBytesBudget(MiB, silentLogger());
    const conns = [1, 2, 3].map((seed) => new Reads(seed, release, budget));
    // A first packet each: from then on their reads go into slabs, each region promised.
    for (const c of conns) c.send(1, FrameKind.PACKET, 32 * KiB, 32 * KiB);
    const regions = conns.map((c) => c.pendingRegion);
    expect(Math.min(...regions)).toBeGreaterThanOrEqual(64 * KiB);
    expect(regions.reduce((a, b) => a + b)).toBeLessThanOrEqual(MiB + 3 * 64 * KiB);
    expect(budget.promisedBytes).toBe(regions.reduce((a, b) => a + b));
    // Held bytes leave less to promise: a read after them gets the smallest region.
    budget.changed(MiB);
    conns[0]!.send(1, FrameKind.PACKET, 32 * KiB, 32 * KiB);
    expect(conns[0]!.pendingRegion).toBe(64 * KiB);
    budget.changed(-MiB);
    for (const c of conns) c.reads.close();
    expect(budget.promisedBytes).toBe(0);
  });

  it('stops allocating once frames are released as they come: every slab is reused', () => {
    const c = new Reads(1, (f) => {
      expect(bodyIntact(f)).toBe(true);
      release(f);
    });
    c.stream(4 * MiB);
    const warm = slabStats();
    c.stream(64 * MiB);
    // The slab being read into, and the one before it while a frame straddles the two.
    expect(slabStats().allocated - warm.allocated).toBeLessThanOrEqual(2);
    expect(taken(warm)).toBeLessThanOrEqual(2);
    c.reads.close();
  });

  it('keeps a burst of slabs larger than the kept ones for the next burst', () => {
    // About 95 MiB of packets held at once (a DataNode receiving several writers' windows), then let go.
    const burst = (seed: number): void => {
      const held: Frame[] = [];
      const c = new Reads(seed, (f) => held.push(f));
      c.send(100, FrameKind.PACKET, 900 * KiB, 1000 * KiB);
      for (const f of held) release(f);
      c.reads.close();
    };
    burst(30);
    const after = slabStats();
    expect(after.free).toBeGreaterThan(FREE_SLABS_KEPT);
    burst(31);
    expect(slabStats().allocated - after.allocated).toBeLessThanOrEqual(2);
  });

  it('lets go of the slabs a whole interval left unused, down to the kept ones', async () => {
    // A fresh instance of the module (its own free list), its trim timer on fake time.
    vi.useFakeTimers();
    vi.resetModules();
    try {
      const m = await import('../../src/common/read-slabs.js');
      const { FREE_LIST_TRIM_INTERVAL_MS: interval } = await import('../../src/common/free-list-trim.js');
      // About 95 MiB held at once, then let go, through a connection of that instance.
      const burst = (seed: number): void => {
        const held: Frame[] = [];
        const reads = new m.SlabReads();
        const onread = reads.onread();
        const decoder = new FrameDecoder({
          bodyBytesMax: 4 * MiB,
          scatterKinds: new Set([FrameKind.PACKET]),
        });
        reads.sink = (chunk) =>
          decoder.push(chunk, (f) => {
            reads.admit(f, decoder.buffered);
            held.push(f);
          });
        const sizes = seededInts(seed);
        const wire = Buffer.concat(
          Array.from({ length: 100 }, (_, k) =>
            wireFrame(FrameKind.PACKET, k, sizes(900 * KiB, 1000 * KiB)),
          ).flat(),
        );
        for (let at = 0; at < wire.length;) {
          const into = (onread.buffer as () => Uint8Array)();
          const n = Math.min(into.length, wire.length - at);
          wire.copy(into, 0, at, at + n);
          at += n;
          onread.callback(n, into);
        }
        for (const f of held) release(f);
        reads.close();
      };
      burst(40);
      const first = m.slabStats();
      expect(first.free).toBeGreaterThan(m.FREE_SLABS_KEPT);
      // Bursts within each interval: all reused, none let go.
      for (let i = 0; i < 4; i++) {
        vi.advanceTimersByTime(interval / 3);
        burst(41 + i);
      }
      expect(m.slabStats()).toEqual(first);
      // A whole interval unused: down to the kept ones, no further.
      vi.advanceTimersByTime(2 * interval);
      expect(m.slabStats()).toMatchObject({ allocated: first.allocated, free: m.FREE_SLABS_KEPT });
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
      vi.resetModules();
    }
  });

  it('reuses nothing read after a held frame until it is released, then gives those slabs back', () => {
    const held: Frame[] = [];
    const c = new Reads(2, (f) => {
      if (f.requestId === 3) held.push(f);
      else release(f);
    });
    const before = slabStats();
    c.stream(10 * MiB);
    expect(held).toHaveLength(1);
    // Frame 3 is in the first slab; every slab read after it stays out of the free list.
    expect(taken(before)).toBeGreaterThanOrEqual(8);
    const pinned = slabStats();
    expect(bodyIntact(held[0]!)).toBe(true);
    release(held[0]!);
    // All but the slab still being read into are back on the free list.
    expect(slabStats().free - pinned.free).toBeGreaterThanOrEqual(7);
    const after = slabStats();
    c.stream(10 * MiB);
    expect(slabStats().allocated).toBe(after.allocated);
    c.reads.close();
  });

  it('does not recycle when a later frame is released first, only once the earlier one is', () => {
    const held = new Map<number, Frame>();
    const c = new Reads(3, (f) => {
      if (f.requestId === 0 || f.requestId === 30) held.set(f.requestId, f);
      else release(f);
    });
    c.stream(8 * MiB);
    const early = held.get(0)!;
    const late = held.get(30)!;
    const before = slabStats();
    release(late);
    expect(slabStats()).toEqual(before);
    expect(bodyIntact(early)).toBe(true);
    release(early);
    expect(slabStats().free - before.free).toBeGreaterThanOrEqual(5);
    c.reads.close();
  });

  it("keeps held packets' bytes intact while many MiB are read and released around them", () => {
    const pick = seededInts(4);
    // Held frames, each released once the frame with index `until` has arrived.
    const held: Array<{ frame: Frame; until: number }> = [];
    let corrupt = 0;
    let heldCount = 0;
    const c = new Reads(5, (f) => {
      for (let k = held.length - 1; k >= 0; k--) {
        const h = held[k]!;
        if (h.until > f.requestId) continue;
        if (!bodyIntact(h.frame)) corrupt++;
        release(h.frame);
        held.splice(k, 1);
      }
      if (pick(1, 10) === 1) {
        heldCount++;
        held.push({ frame: f, until: f.requestId + pick(1, 300) });
      } else {
        if (!bodyIntact(f)) corrupt++;
        release(f);
      }
    });
    const before = slabStats();
    c.stream(96 * MiB);
    for (const h of held) {
      if (!bodyIntact(h.frame)) corrupt++;
      release(h.frame);
    }
    expect(heldCount).toBeGreaterThan(50);
    expect(corrupt).toBe(0);
    // Held frames pin up to 300 frames of 32..200 KiB behind them (at most ~60 MiB), no more.
    expect(slabStats().allocated - before.allocated).toBeLessThan(70);
    c.reads.close();
  });

  it("copies other frames' bodies: kept ones survive later reads into the same memory", () => {
    const kept: Frame[] = [];
    const c = new Reads(6, (f) => {
      if (f.kind === FrameKind.PACKET) return release(f);
      // Let go at once: nothing for the handler to release.
      expect(f.release).toBeUndefined();
      expect(f.parts).toBeUndefined();
      kept.push(f);
    });
    for (let round = 0; round < 200; round++) {
      c.send(1, FrameKind.RESPONSE, 0, 64 * KiB);
      c.send(1, FrameKind.ACK, 12, 40);
      c.stream(256 * KiB);
    }
    expect(kept.length).toBe(400);
    expect(kept.filter((f) => !bodyIntact(f))).toEqual([]);
    c.reads.close();
  });

  it('after close, gives nothing back: releases do nothing and held bytes are never reused', () => {
    const held: Frame[] = [];
    const c = new Reads(7, (f) => {
      if (f.requestId < 3 || f.requestId % 20 === 0) held.push(f);
      else release(f);
    });
    c.stream(6 * MiB);
    const open = slabStats();
    c.reads.close();
    const closed = slabStats();
    // Nothing goes back to the free list; the held slabs leave the count in use (the GC's now).
    expect(pooled(closed)).toEqual(pooled(open));
    expect(closed.inUse).toBeLessThan(open.inUse);
    for (const f of held) release(f);
    expect(slabStats()).toEqual(closed);
    // Reads after close go to memory of their own (the socket may still deliver one).
    c.stream(2 * MiB);
    expect(slabStats()).toEqual(closed);
    // Another connection holds what it reads, more than the free list holds, so it takes
    // every slab there: none is the closed connection's memory (a write in flight may
    // still read it).
    const othersHeld: Frame[] = [];
    const other = new Reads(8, (f) => othersHeld.push(f));
    other.stream((closed.free + 8) * MiB);
    expect(slabStats().free).toBe(0);
    expect(held.filter((f) => !bodyIntact(f))).toEqual([]);
    expect(othersHeld.filter((f) => !bodyIntact(f))).toEqual([]);
    for (const f of othersHeld) release(f);
    other.reads.close();
  });

  it('asserts on a second release of one frame', () => {
    const frames: Frame[] = [];
    const c = new Reads(9, (f) => frames.push(f));
    c.send(3, FrameKind.PACKET, 1, 100 * KiB);
    release(frames[0]!);
    expect(() => frames[0]!.release!()).toThrow(AssertionFailure);
    expect(() => frames[0]!.release!()).toThrow(/released twice/);
    c.reads.close();
    // Closed, a release does nothing, but a second one is still a bug.
    release(frames[1]!);
    expect(() => frames[1]!.release!()).toThrow(AssertionFailure);
    expect(frameBytesOf(frames[2]!)).toBeGreaterThan(0);
  });
});

/** The pool's side of slabStats(): what was allocated and what sits free. */
function pooled(s: { allocated: number; free: number }): { allocated: number; free: number } {
  return { allocated: s.allocated, free: s.free };
}
