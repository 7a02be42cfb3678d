/**
 * Socket reads into recycled memory, for the connections that carry block data (a DataNode
 * receiving packets, a client reading a block).
 *
 * Why: by default every socket read is a new 64 KiB ArrayBuffer. The data path keeps those
 * buffers for a while (a packet waits for its disk write, its forward, its consumer), so
 * they outlive young-generation collections, and V8 collects their memory with full
 * mark-compacts, started by the growth of external memory: measured on a DataNode receiving
 * an upload, about 44 mark-compacts per GiB, a quarter of its CPU with the marking threads.
 * Here a read goes into a region of a 1 MiB slab (`net.Socket`'s `onread` with a buffer
 * function), and a slab goes back to a process-wide free list once every byte read into
 * it has been let go, so a steady transfer allocates nothing. Reads are also larger (the
 * rest of the slab, up to 1 MiB; on a server, within its held-bytes bound: ReadBudget),
 * fewer calls into JavaScript per byte.
 *
 * Lifetime, per connection (`SlabReads`): the bytes of a connection are consumed in the
 * order they arrived. Each read is a span of the stream; each frame handed out ends at a
 * stream offset. A frame is let go with `release` (in any order); the stream is let go up to
 * the end of the oldest frame not yet released, and a slab returns to the pool when no
 * span in it is held and reads have moved past it. Only PACKET frames are held this way
 * (their payload views go to disk, downstream or to a consumer); every other frame is let go
 * when its handler returns, so its body is copied first (they are small). A frame that is
 * never released only keeps its slabs from being reused: they are dropped with the
 * connection and collected as before. After a connection closes, releases do nothing and
 * nothing it held is reused, since a write still in flight may read it.
 *
 * Memory. A connection reads into a slab only once it has carried a PACKET (a block is
 * flowing); until then, and for connections that never do (requests, a peer that sent a
 * hello and went quiet), each read is a small buffer of its own (FIRST_READ_BYTES), held by
 * the read waiting for data. Slabs in use, process-wide, are capped (SLABS_IN_USE_MAX): past
 * it a read gets a 64 KiB buffer of its own, as Node's default would, so a peer cannot make
 * us hold more than that however many connections it opens. The bytes held are bounded where
 * they were before (ServerConnection.hold, the reader's queue); slabs add at most the partly
 * used slab at each end of a connection's held bytes. The free list keeps what a burst
 * gave back while bursts keep coming (within SLABS_IN_USE_MAX with those in use), and lets
 * go of what sits unused down to FREE_SLABS_KEPT, to the GC.
 */
import net from 'node:net';
import { assert } from '../../protocol/errors.js';
import { FrameKind, type Frame } from '../../protocol/frame.js';
import { FREE_LIST_TRIM_INTERVAL_MS, FreeListTrim } from './free-list-trim.js';

export const SLAB_BYTES = 1024 * 1024;
/**
 * A bound on what a server's reads may bring in (FrameServer's held-bytes budget,
 * HeldBytesBudget). Every read of a connection that carries packets may fill up to the rest
 * of its slab (SLAB_BYTES): each read is a trip through JavaScript (the decoder, the frame
 * handlers), and a DataNode receiving uploads in 1 MiB reads spent 0.32-0.35 user CPU-s per
 * GiB against 0.35-0.38 with 256 KiB ones (5 uploads each, alternating). But the frames one
 * read completes are all held before its connection can pause, and Node asks for the next
 * read's region right after a read, long before the bytes come: so a region is *promised*
 * from the budget when handed out and settled when its read completes (or its connection
 * closes), and a region is never larger than what is neither held nor promised to another
 * read (at least READ_MIN_BYTES). Past its bound a server thus holds at most a packet and a
 * smallest read per connection, however many connections read at once. A client's reader
 * connection has no budget: its queue bounds what it holds (block-reader.ts).
 */
export interface ReadBudget {
  /** Bytes under the bound neither held nor promised to a read (Infinity with no bound). */
  readonly unpromised: number;
  /** A read may bring up to `bytes` (its region's length), until `settle`. */
  promise(bytes: number): void;
  settle(bytes: number): void;
}

/**
 * A slab with less room than this left is not read into again; also a read's size past the
 * cap, and the smallest a ReadBudget makes a read (a full budget pauses its connections).
 */
const READ_MIN_BYTES = 64 * 1024;
/** Reads before a connection's first PACKET: a hello and a request fit. */
const FIRST_READ_BYTES = 16 * 1024;
/**
 * Slabs the free list keeps however long they sit unused (64 MiB). A writer's window (32 MiB
 * by default) can be held on a DataNode at once, waiting for the disk: with 16 kept, the
 * slabs of each such burst were dropped and allocated again, 100 per GiB received and about
 * 5 mark-compacts per GiB (a tenth of a CPU-second); with 64, 35 in all over 3 GiB. But four
 * uploads at once over three DataNodes still made 30-120 slabs anew on each per round of
 * 4 GiB: so the list keeps every slab given back (slabs in use and free together stay within
 * SLABS_IN_USE_MAX, since only that many are ever taken at once), and what sits unused a
 * whole interval is let go down to these (free-list-trim.ts). The slabs of a closed
 * connection still held by a write are neither: the GC's, bounded by the budgets that
 * held them (SlabReads.close).
 */
export const FREE_SLABS_KEPT = 64;
/**
 * Slabs the process has in use at once (384 MiB): a DataNode's held-packet and partial-frame
 * budgets (256 + 64 MiB by default) plus room for each active transfer's partly used slab.
 */
export const SLABS_IN_USE_MAX = 384;

class Slab {
  readonly buf = Buffer.allocUnsafeSlow(SLAB_BYTES);
  /** Spans read into it and not yet let go, plus one while reads still go into it. */
  refs = 0;
}

const free: Slab[] = [];
let slabsAllocated = 0;
let slabsInUse = 0;
const trim = new FreeListTrim({
  kept: FREE_SLABS_KEPT,
  intervalMs: FREE_LIST_TRIM_INTERVAL_MS,
  size: () => free.length,
  drop: (excess) => void free.splice(free.length - excess, excess),
});

function takeSlab(): Slab | null {
  if (slabsInUse >= SLABS_IN_USE_MAX) return null;
  slabsInUse++;
  const s = free.pop();
  if (s !== undefined) {
    trim.taken();
    return s;
  }
  slabsAllocated++;
  return new Slab();
}

function giveSlab(s: Slab): void {
  assert(s.refs === 0, `slab given back with ${s.refs} references`);
  slabsInUse--;
  // takeSlab's cap is the bound: a slab is only ever given back after it was taken in use.
  assert(slabsInUse + free.length < SLABS_IN_USE_MAX, `${slabsInUse} slabs in use and ${free.length} free`);
  free.push(s);
  trim.given();
}

/** Slabs ever allocated by this process, in use now, and sitting free (tests, metrics). */
export function slabStats(): { allocated: number; inUse: number; free: number } {
  return { allocated: slabsAllocated, inUse: slabsInUse, free: free.length };
}

interface Span {
  slab: Slab | null;
  /** Stream offset just past the span's last byte. */
  end: number;
}

interface HeldFrame {
  end: number;
  done: boolean;
}

/**
 * The reads of one connection: hands `net.Socket` the regions to read into, and lets go of
 * them as the frames that used them are released.
 */
export class SlabReads {
  /** @param budget what this connection's reads are promised from (none: the rest of the slab each time). */
  constructor(private readonly budget: ReadBudget | null = null) {}

  /** The length of the region handed out and promised from the budget, until its read completes. */
  private promised = 0;

  private slab: Slab | null = null;
  private at = 0;
  /** Bytes of the stream seen so far (every chunk passed to `delivered`, slab or not). */
  private streamBytes = 0;
  private releasedTo = 0;
  private readonly spans: Span[] = [];
  private spanHead = 0;
  private readonly frames: HeldFrame[] = [];
  private frameHead = 0;
  private closed = false;
  /** True once a PACKET came: from the next read on, reads go into slabs. */
  private bulk = false;
  /** Where each read goes, as a view of the slab (the handshake's reader, then the decoder's). */
  sink: (chunk: Buffer) => void = () => {
    assert(false, 'a read before its connection set a sink');
  };

  /** The socket's `onread` option: reads go into this connection's slabs, then to `sink`. */
  onread(): net.OnReadOpts {
    return {
      buffer: () => this.nextRegion(),
      callback: (n: number, buf: Uint8Array) => {
        this.settle();
        const chunk = Buffer.from(buf.buffer, buf.byteOffset, n);
        const slab = this.slab !== null && buf.buffer === this.slab.buf.buffer ? this.slab : null;
        if (slab !== null) this.at += n;
        this.delivered(slab, n);
        this.sink(chunk);
        return true;
      },
    };
  }

  /**
   * Where the next read goes: the rest of this slab, or a fresh one; a buffer of its own
   * before the first packet, once closed, or when the process's slabs are all in use.
   */
  private nextRegion(): Uint8Array {
    this.settle(); // (a region handed out again before a read came)
    if (this.closed || !this.bulk) return Buffer.allocUnsafe(FIRST_READ_BYTES);
    if (this.slab === null || SLAB_BYTES - this.at < READ_MIN_BYTES) {
      this.leaveSlab();
      this.slab = takeSlab();
      this.at = 0;
      if (this.slab === null) return Buffer.allocUnsafe(READ_MIN_BYTES);
      this.slab.refs++;
    }
    const rest = SLAB_BYTES - this.at;
    if (this.budget === null) return this.slab.buf.subarray(this.at);
    const bytes = Math.min(rest, Math.max(READ_MIN_BYTES, this.budget.unpromised));
    this.budget.promise(bytes);
    this.promised = bytes;
    return this.slab.buf.subarray(this.at, this.at + bytes);
  }

  /** The region handed out is filled (or never will be): its promise ends. */
  private settle(): void {
    if (this.promised === 0) return;
    this.budget!.settle(this.promised);
    this.promised = 0;
  }

  private leaveSlab(): void {
    const s = this.slab;
    this.slab = null;
    if (s !== null && --s.refs === 0) giveSlab(s);
  }

  /** Records `n` bytes read into `slab` (null: memory of its own). */
  private delivered(slab: Slab | null, n: number): void {
    if (n === 0) return;
    this.streamBytes += n;
    if (slab !== null) slab.refs++;
    this.spans.push({ slab, end: this.streamBytes });
  }

  /**
   * A frame just decoded, ending `pendingBytes` before the end of what was read (the
   * decoder's `buffered`, which includes no handshake): its `release` lets go of its bytes
   * once every frame before it has let go too.
   */
  private hold(pendingBytes: number): () => void {
    const frame: HeldFrame = { end: this.streamBytes - pendingBytes, done: false };
    this.frames.push(frame);
    let released = false;
    return () => {
      assert(!released, 'a frame released twice');
      released = true;
      frame.done = true;
      this.advance();
    };
  }

  /**
   * Gives a frame just decoded its lifetime: a PACKET keeps its views of the slabs until its
   * `release`; any other frame's body is copied (it is small, and its handler may keep it)
   * and its bytes are let go at once.
   */
  admit(frame: Frame, pendingBytes: number): void {
    const release = this.hold(pendingBytes);
    if (frame.kind === FrameKind.PACKET) {
      this.bulk = true;
      frame.release = release;
      return;
    }
    assert(frame.parts === undefined, 'only packets are scattered');
    frame.body = Buffer.from(frame.body);
    release();
  }

  private advance(): void {
    if (this.closed) return;
    while (this.frameHead < this.frames.length && this.frames[this.frameHead]!.done) {
      this.releasedTo = this.frames[this.frameHead++]!.end;
    }
    while (this.spanHead < this.spans.length && this.spans[this.spanHead]!.end <= this.releasedTo) {
      const s = this.spans[this.spanHead++]!.slab;
      if (s !== null && --s.refs === 0) giveSlab(s);
    }
    // Compact the queues now and then, not on every release.
    if (this.frameHead > 64 && this.frameHead * 2 > this.frames.length) {
      this.frames.splice(0, this.frameHead);
      this.frameHead = 0;
    }
    if (this.spanHead > 64 && this.spanHead * 2 > this.spans.length) {
      this.spans.splice(0, this.spanHead);
      this.spanHead = 0;
    }
  }

  /**
   * The connection is gone: later releases do nothing, and no slab with a span not yet let
   * go is reused (a disk write or a consumer may still read it). The slab reads went into is
   * reused if every span in it was let go (a connection that read only requests).
   */
  close(): void {
    if (this.closed) return;
    this.settle();
    this.leaveSlab();
    this.closed = true;
    // Slabs with spans still held leave the count in use: their memory is the GC's now,
    // kept only while what reads them lasts (bounded by the budgets that held them).
    let last: Slab | null = null;
    for (let i = this.spanHead; i < this.spans.length; i++) {
      const s = this.spans[i]!.slab;
      if (s === null || s === last) continue;
      last = s;
      if (s.refs > 0) {
        s.refs = -1;
        slabsInUse--;
      }
    }
    this.spans.length = 0;
    this.frames.length = 0;
  }
}

/**
 * Re-creates an accepted socket (accepted with `pauseOnConnect`, nothing read yet) with
 * `onread`: `net.Server` has no option for it. The new socket takes over the connection's
 * handle; the accepted one is destroyed without it, so `net.Server` stops counting the
 * connection (its `close` does not wait for it): the caller tracks and closes its own.
 * Returns null when the accepted socket has no handle to take (a Node without it): the
 * caller then reads it as usual.
 */
export function withSlabReads(accepted: net.Socket, reads: SlabReads): net.Socket | null {
  const holder = accepted as unknown as { _handle: unknown };
  const handle = holder._handle;
  if (handle === null || handle === undefined) return null;
  holder._handle = null;
  accepted.destroy();
  return new net.Socket({
    handle,
    readable: true,
    writable: true,
    onread: reads.onread(),
  } as net.SocketConstructorOpts);
}
