/**
 * PartialFrameBudget (src/common/partial-frame-budget.ts) against fake connections, and the
 * FrameDecoder getters it is fed from: admission by declared size, waiting in order with
 * connections that delivered a frame first, stalled admitted frames dropped only while
 * others wait, and every counter back to zero when the connections go.
 */
import { describe, expect, it } from 'vitest';
import { encodeFrameHeader, FrameDecoder, FrameKind, FRAME_HEADER_BYTES } from '../../protocol/index.js';
import type { DfsError } from '../../protocol/errors.js';
import { silentLogger } from '../../src/common/logger.js';
import { PartialFrameBudget, type MidFrameConnection } from '../../src/common/partial-frame-budget.js';

class FakeConn implements MidFrameConnection {
  partialBytes = 0;
  partialReservedBytes = 0;
  partialWaitBytes = 0;
  lastReadMs = 0;
  delivered = false;
  closed = false;
  waitingOnUs = false;
  closedWith: DfsError | null = null;
  get paused(): boolean {
    return this.partialWaitBytes !== 0;
  }
  close(err: DfsError): void {
    this.closed = true;
    this.closedWith = err;
  }
  updateFlow(): void {}
}

const KiB = 1024;

describe('FrameDecoder partial-frame getters', () => {
  it('report the bytes held for an incomplete frame and its declared size', () => {
    const d = new FrameDecoder({ bodyBytesMax: 1 << 20 });
    const frame = Buffer.concat([encodeFrameHeader(FrameKind.REQUEST, 1, 7, 100), Buffer.alloc(100)]);
    const frames: unknown[] = [];
    d.push(frame.subarray(0, 5), (f) => frames.push(f));
    expect([d.partialFrameBytes, d.pendingFrameBytes]).toEqual([5, 0]);
    d.push(frame.subarray(5, 40), (f) => frames.push(f));
    expect([d.partialFrameBytes, d.pendingFrameBytes]).toEqual([40, FRAME_HEADER_BYTES + 100]);
    d.push(frame.subarray(40), (f) => frames.push(f));
    expect([d.partialFrameBytes, d.pendingFrameBytes, frames.length]).toEqual([0, 0, 1]);
  });
});

describe('PartialFrameBudget', () => {
  it('admits by declared size, queues the rest with delivered connections first, and gives all back', () => {
    let now = 0;
    const b = new PartialFrameBudget({ bytesMax: 300 * KiB, logger: silentLogger(), now: () => now });
    const [a, x, y, z] = [new FakeConn(), new FakeConn(), new FakeConn(), new FakeConn()];
    z.delivered = true;
    b.afterRead(a, 64 * KiB, 200 * KiB); // admitted
    b.afterRead(x, 64 * KiB, 200 * KiB); // does not fit: waits (never delivered)
    b.afterRead(y, 10 * KiB, 90 * KiB); // would fit, but x waits ahead of it
    b.afterRead(z, 64 * KiB, 190 * KiB); // delivered before: ahead of x and y
    expect([a.partialReservedBytes, x.partialWaitBytes, y.partialWaitBytes, z.partialWaitBytes]).toEqual([
      200 * KiB,
      200 * KiB,
      90 * KiB,
      190 * KiB,
    ]);
    // A small frame needs no admission.
    const s = new FakeConn();
    b.afterRead(s, 30 * KiB, 60 * KiB);
    expect([s.partialReservedBytes, s.partialWaitBytes]).toEqual([0, 0]);
    expect(b.bytes).toBe(64 * KiB * 3 + 10 * KiB + 30 * KiB);

    // a stalls while others wait: dropped after stallMs; its going admits z, then y (x does not fit).
    now = 999;
    b.afterRead(s, 0, 0);
    now = 1000;
    (b as unknown as { check(): void }).check();
    expect(a.closedWith?.code).toBe('TIMEOUT');
    b.remove(a);
    expect([z.partialReservedBytes, x.partialWaitBytes, y.partialWaitBytes]).toEqual([
      190 * KiB,
      200 * KiB,
      90 * KiB,
    ]);
    b.frameDone(z);
    b.afterRead(z, 0, 0);
    expect([x.partialReservedBytes, y.partialReservedBytes]).toEqual([200 * KiB, 90 * KiB]);
    for (const c of [x, y, z, s]) b.remove(c);
    expect([b.bytes, b.reservedBytes]).toEqual([0, 0]);
    expect(b.peakBytes).toBe(64 * KiB * 3 + 10 * KiB + 30 * KiB);
    b.stop();
  });

  it('judges silence only by looks on time: after the event loop was held up, it looks again first', () => {
    let now = 0;
    const b = new PartialFrameBudget({ bytesMax: 300 * KiB, logger: silentLogger(), now: () => now });
    const check = (at: number): void => {
      now = at;
      (b as unknown as { check(): void }).check();
    };
    const [a, x] = [new FakeConn(), new FakeConn()];
    x.delivered = true;
    b.afterRead(a, 64 * KiB, 200 * KiB); // admitted
    b.afterRead(x, 64 * KiB, 200 * KiB); // waits: checks start
    check(500);
    // The loop is held for 4.5 s (a full report of millions of replicas): a's bytes wait in
    // the kernel. The late look closes nothing; the loop then reads them.
    check(5000);
    expect(a.closed).toBe(false);
    now = 5001;
    a.lastReadMs = now; // (the FrameServer stamps each read)
    b.afterRead(a, 128 * KiB, 200 * KiB);
    check(5500);
    check(6000);
    expect(a.closed).toBe(false);
    // Silent for 1.6 s as seen by looks on time: stalled.
    check(6600);
    expect(a.closedWith?.code).toBe('TIMEOUT');
    b.stop();
  });
});
