/**
 * A node-wide bound on the bytes held in partial frames: frames whose first bytes arrived
 * and whose last have not, summed over every connection of one FrameServer
 * (`partialFrameBytesMax` on both daemons). Without it, peers that each send half of a
 * large frame cost half a frame apiece and need no valid request to do it (issue 10,
 * item 4: 600 such connections took a DataNode from 358 to 661 MiB).
 *
 * Admission, so the bound holds without deadlock. The FrameServer reports each connection
 * once per socket read (FrameDecoder.partialFrameBytes and pendingFrameBytes); nothing
 * here runs per byte and no payload is copied.
 * - A frame that arrives within one read holds nothing between reads. One no larger than a
 *   socket read (`smallFrameBytes`, 64 KiB) needs no admission either: it can hold no more
 *   than the read every connection is allowed anyway, and small requests and small packets
 *   split by TCP at a read boundary must not queue behind large frames. Its bytes still
 *   count as held.
 * - A frame that spans reads is admitted when its whole declared size fits beside the
 *   frames already admitted (`reservedBytes <= bytesMax`), first come first served. An
 *   admitted frame can always be finished, so admitted frames never wait on each other.
 * - A frame that does not fit waits: its connection stops being read (updateFlow) until
 *   enough admitted frames finish or go. It holds only the read that began it.
 * - Waiting frames of connections that already delivered a frame (a DataNode pipeline
 *   after its WRITE_BLOCK, a client after its first RPC) are admitted before those of
 *   connections that never did: a peer needs no valid request to cost memory, but then it
 *   is the last to be given any.
 * So the bytes held stay under bytesMax plus one socket read per waiting connection, and
 * a connection between frames is read as usual: requests that arrive whole are served.
 * - While a frame waits, an admitted connection that sent nothing for `stallMs` (and is
 *   not held back by our own side) is closed with a TIMEOUT error: a peer parked on half a
 *   frame gives its share to one that sends. Silence is judged only by a look that came on
 *   time: after the event loop was held up, the bytes are in the kernel, not missing.
 *
 * Decision table, per report of a connection that is mid-frame after a read:
 *   admitted       -> nothing (its frame is finishing)
 *   waiting        -> nothing (it is not read; a stray read changes nothing)
 *   header not yet -> nothing (fewer than 12 bytes: size unknown)
 *   small frame    -> nothing (no more than one socket read)
 *   fits, nothing waits ahead of it -> admitted
 *   otherwise      -> waits (its class's queue); warn line if none was logged lately
 *
 * Log lines: a warn when frames start to wait (at most one per `warnIntervalMs`, counting
 * the times in between) and, after such a line, an info once nothing is held any more.
 * Both carry the bytes held and their peak since start, so an operator (and the tests) can
 * see how far the bound was exceeded and that everything was given back.
 *
 * Counters are asserted in pairs: held and reserved bytes never go negative, reserved
 * never exceeds the bound, and each is zero once no connection holds or reserves any.
 */
import { assert, DfsError } from '../../protocol/errors.js';
import type { Logger } from './logger.js';

/** What the budget needs of a connection; ServerConnection implements it. */
export interface MidFrameConnection {
  /** Bytes of its current frame received so far (0 between frames). Written here only. */
  partialBytes: number;
  /** Declared size of its admitted frame, 0 when none. Written here only. */
  partialReservedBytes: number;
  /** Declared size of the frame it waits to have admitted, 0 when not waiting. Written here only. */
  partialWaitBytes: number;
  /** When a read last left this connection mid-frame. */
  lastReadMs: number;
  /** True once it delivered a complete frame. */
  readonly delivered: boolean;
  readonly closed: boolean;
  readonly paused: boolean;
  /** Not being read for a reason of ours other than this bound (write blocked, in flight, held). */
  readonly waitingOnUs: boolean;
  close(err: DfsError): void;
  updateFlow(): void;
}

export interface PartialFrameBudgetOptions {
  bytesMax: number;
  logger: Logger;
  /** Frames up to this size (header included) need no admission; default one socket read, 64 KiB. */
  smallFrameBytes?: number;
  /** An admitted frame silent this long while others wait is dropped with its connection. */
  stallMs?: number;
  warnIntervalMs?: number;
  now?: () => number;
}

export class PartialFrameBudget {
  /** Bytes held in partial frames by every connection together. */
  bytes = 0;
  /** Highest `bytes` ever seen (log lines and tests). */
  peakBytes = 0;
  /** Declared sizes of the admitted frames. */
  reservedBytes = 0;
  private holders = 0;
  private readonly admitted = new Set<MidFrameConnection>();
  /** Waiting frames in arrival order (a Set iterates in insertion order), delivered connections first. */
  private readonly waitingDelivered = new Set<MidFrameConnection>();
  private readonly waitingNew = new Set<MidFrameConnection>();
  private timer: NodeJS.Timeout | null = null;
  private lastCheckMs = -Infinity;
  private lastWarnMs = -Infinity;
  private waitsSinceWarn = 0;
  private warned = false;
  private readonly smallFrameBytes: number;
  private readonly stallMs: number;
  private readonly warnIntervalMs: number;
  private readonly now: () => number;

  constructor(private readonly options: PartialFrameBudgetOptions) {
    this.smallFrameBytes = options.smallFrameBytes ?? 64 * 1024;
    this.stallMs = options.stallMs ?? 1000;
    this.warnIntervalMs = options.warnIntervalMs ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  get bytesMax(): number {
    return this.options.bytesMax;
  }

  /** After a read: `partialBytes` held for a frame of `frameBytes` declared (0: header not yet here). */
  afterRead(conn: MidFrameConnection, partialBytes: number, frameBytes: number): void {
    this.setHeld(conn, partialBytes);
    if (partialBytes === 0 || frameBytes <= this.smallFrameBytes) return; // (0: header not yet here)
    if (conn.partialReservedBytes !== 0 || conn.partialWaitBytes !== 0) return;
    const ahead = this.waitingDelivered.size + (conn.delivered ? 0 : this.waitingNew.size);
    if (ahead === 0 && this.reservedBytes + frameBytes <= this.options.bytesMax) {
      this.admit(conn, frameBytes);
      return;
    }
    conn.partialWaitBytes = frameBytes;
    (conn.delivered ? this.waitingDelivered : this.waitingNew).add(conn);
    this.noteWait();
    if (this.timer === null) this.check();
  }

  /** A frame of `conn` was completed: its reservation (or its wait) ends. */
  frameDone(conn: MidFrameConnection): void {
    if (conn.partialWaitBytes !== 0) {
      conn.partialWaitBytes = 0;
      this.waitingDelivered.delete(conn);
      this.waitingNew.delete(conn);
    }
    if (conn.partialReservedBytes !== 0) this.release(conn);
  }

  /** A connection went: give back what it held and reserved. */
  remove(conn: MidFrameConnection): void {
    this.frameDone(conn);
    this.setHeld(conn, 0);
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private setHeld(conn: MidFrameConnection, partialBytes: number): void {
    const delta = partialBytes - conn.partialBytes;
    if (delta === 0) return;
    if (conn.partialBytes === 0) this.holders++;
    else if (partialBytes === 0) this.holders--;
    conn.partialBytes = partialBytes;
    this.bytes += delta;
    assert(
      this.bytes >= 0 && this.holders >= 0,
      `partial frames hold ${this.bytes} bytes in ${this.holders}`,
    );
    if (this.holders === 0) assert(this.bytes === 0, `no frame in progress, yet ${this.bytes} bytes held`);
    if (this.bytes > this.peakBytes) this.peakBytes = this.bytes;
    if (this.bytes === 0 && this.warned) {
      this.warned = false;
      this.options.logger.info(
        { partialFrameBytes: 0, partialFrameBytesPeak: this.peakBytes },
        'partial frames given back',
      );
    }
  }

  private admit(conn: MidFrameConnection, frameBytes: number): void {
    this.reservedBytes += frameBytes;
    assert(this.reservedBytes <= this.options.bytesMax, `reserved ${this.reservedBytes} bytes`);
    conn.partialReservedBytes = frameBytes;
    this.admitted.add(conn);
  }

  private release(conn: MidFrameConnection): void {
    this.reservedBytes -= conn.partialReservedBytes;
    conn.partialReservedBytes = 0;
    this.admitted.delete(conn);
    assert(this.reservedBytes >= 0, `reserved ${this.reservedBytes} bytes after a release`);
    if (this.admitted.size === 0) assert(this.reservedBytes === 0, `${this.reservedBytes} bytes reserved`);
    // Admit waiting frames in order while they fit, and read their connections again.
    if (this.admitFrom(this.waitingDelivered)) this.admitFrom(this.waitingNew);
  }

  /** Admits from the front of `queue` while frames fit; true when the queue is empty after. */
  private admitFrom(queue: Set<MidFrameConnection>): boolean {
    for (const c of queue) {
      if (this.reservedBytes + c.partialWaitBytes > this.options.bytesMax) return false;
      queue.delete(c);
      const frameBytes = c.partialWaitBytes;
      c.partialWaitBytes = 0;
      if (c.closed) continue;
      this.admit(c, frameBytes);
      c.lastReadMs = this.now(); // its silence so far was ours
      c.updateFlow();
    }
    return true;
  }

  private get waitingCount(): number {
    return this.waitingDelivered.size + this.waitingNew.size;
  }

  private noteWait(): void {
    this.waitsSinceWarn++;
    const now = this.now();
    if (now - this.lastWarnMs < this.warnIntervalMs) return;
    this.options.logger.warn(
      {
        partialFrameBytes: this.bytes,
        partialFrameBytesMax: this.options.bytesMax,
        partialFrameBytesPeak: this.peakBytes,
        reservedBytes: this.reservedBytes,
        framesAdmitted: this.admitted.size,
        framesWaiting: this.waitingCount,
        waitsSinceLastLine: this.waitsSinceWarn,
      },
      'partial frames at their bound; connections wait before reading more',
    );
    this.lastWarnMs = now;
    this.waitsSinceWarn = 0;
    this.warned = true;
  }

  /** While frames wait: closes admitted connections that stalled, and looks again later. */
  private check(): void {
    if (this.waitingCount === 0) return;
    const now = this.now();
    const interval = Math.max(50, this.stallMs / 2);
    // Looked at late, the event loop was held up (a long request such as a full block report
    // of millions of replicas, a collection): what peers sent meanwhile is still unread in
    // the kernel, so their silence says nothing yet. Judged at the next look instead, after
    // the loop has read again. (Closing them here dropped healthy DataNodes' reports.)
    const late = now - this.lastCheckMs > 2 * interval;
    this.lastCheckMs = now;
    const stalled: MidFrameConnection[] = [];
    for (const c of late ? [] : this.admitted) {
      if (!c.closed && !c.waitingOnUs && now - c.lastReadMs >= this.stallMs) stalled.push(c);
    }
    for (const c of stalled) {
      c.close(
        new DfsError(
          'TIMEOUT',
          `nothing received for ${now - c.lastReadMs} ms in the middle of a frame while ` +
            `${this.waitingCount} others wait for partialFrameBytesMax (${this.options.bytesMax})`,
        ),
      );
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.check();
    }, interval);
    this.timer.unref();
  }
}
