/**
 * Reads a replica as packets: payload and the checksums stored at write time, in
 * chunk-aligned pieces of about `packetBytes`, from a small pool of buffers (a buffer
 * returns to the pool when its consumer calls `release`). Shared by the read path
 * (block-sender.ts, and in-process readers through short-circuit-reads.ts) and
 * DataNode-to-DataNode copies (block-transfer.ts): all forward the writer's checksums
 * unchanged, so the reader or receiver verifies end to end.
 *
 * Memory, node-wide: every pooled read holds two page-aligned buffers, all reads together
 * at most `readBufferBytesMax` (a read past it waits its turn, ReadBufferBudget), and up to
 * two more each for a deeper read-ahead while an allowance of 64 lasts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { checksumBytes } from '../../protocol/data-messages.js';
import { assert, DfsError } from '../../protocol/errors.js';
import { givePageAligned, takePageAligned } from '../common/page-aligned.js';
import type { DataNodeContext } from './datanode-context.js';
import { checksumOffset } from './replica-meta.js';
import type { Replica } from './storage.js';

const open = promisify(fs.open);
const read = promisify(fs.read);
/**
 * Read packets of 1 MiB: on the machines measured, a page-cache read costs about half as
 * much CPU per byte at 1 MiB as at 256 KiB. (Writers send up to 2 MiB, PACKET_PAYLOAD_BYTES_MAX;
 * readers older than that take at most 1 MiB.)
 */
export const PACKET_TARGET_BYTES = 1024 * 1024;
/**
 * Buffers every pooled reader has: the piece the socket is sending and one read ahead (2 MiB
 * per reader at most, as each connection has one read at a time).
 */
const POOL_BUFFERS = 2;
/**
 * Buffers a reader may add for a deeper read-ahead, while the node-wide allowance lasts
 * (EXTRA_BUFFERS_MAX, 64 of them: 64 MiB at 1 MiB pieces). With three pieces read ahead
 * instead of one, the file reads in the thread pool overlap the socket writes: a 1 GiB
 * download from three DataNodes went from 0.81 of the baseline to 1.08 (4 rounds each).
 */
const EXTRA_BUFFERS = 2;
const EXTRA_BUFFERS_MAX = 64;
let extraBuffersFree = EXTRA_BUFFERS_MAX;

/**
 * The node-wide bound on what pooled replica reads hold (the DataNode's `readBufferBytesMax`,
 * set with configureReadBuffers): the bytes of every reader's base buffers, in its pool or
 * out with its consumer. A reader that would pass it waits, in arrival order, before it
 * opens anything, until readers before it are done and their pieces released; one alone is
 * always let in, however large. Without it a peer opening connections and never reading
 * the answers made the node hold 2 MiB per connection.
 */
class ReadBufferBudget {
  heldBytes = 0;
  peakBytes = 0;
  private readonly waiting: Array<{ bytes: number; admit: () => void }> = [];

  constructor(public bytesMax: number) {}

  get waitingCount(): number {
    return this.waiting.length;
  }

  /** Resolves once `bytes` are counted as held. */
  acquire(bytes: number): Promise<void> {
    if (this.waiting.length === 0 && this.fits(bytes)) {
      this.take(bytes);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push({ bytes, admit: resolve }));
  }

  release(bytes: number): void {
    this.heldBytes -= bytes;
    assert(this.heldBytes >= 0, `replica reads hold ${this.heldBytes} bytes after giving back ${bytes}`);
    while (this.waiting.length > 0 && this.fits(this.waiting[0]!.bytes)) {
      const next = this.waiting.shift()!;
      this.take(next.bytes);
      next.admit();
    }
  }

  private fits(bytes: number): boolean {
    return this.heldBytes === 0 || this.heldBytes + bytes <= this.bytesMax;
  }

  private take(bytes: number): void {
    this.heldBytes += bytes;
    if (this.heldBytes > this.peakBytes) this.peakBytes = this.heldBytes;
  }
}

const budget = new ReadBufferBudget(256 * 1024 * 1024);

/** Sets the node-wide bound on replica-read buffers (DataNode `readBufferBytesMax`; tests). */
export function configureReadBuffers(bytesMax: number): void {
  assert(bytesMax > 0, `readBufferBytesMax ${bytesMax}`);
  budget.bytesMax = bytesMax;
}

/** Bytes pooled replica reads hold now, their bound and peak, and readers waiting (metrics, tests). */
export function readBufferStats(): {
  heldBytes: number;
  bytesMax: number;
  peakBytes: number;
  waiting: number;
} {
  return {
    heldBytes: budget.heldBytes,
    bytesMax: budget.bytesMax,
    peakBytes: budget.peakBytes,
    waiting: budget.waitingCount,
  };
}

/** Pieces whose checksums one read of the meta file fetches (64 pieces of 1 MiB: 8 KiB of xxh3). */
const CHECKSUM_BATCH_PIECES = 64;

export interface ReplicaPiece {
  offset: number;
  payload: Buffer;
  checksums: Buffer;
  last: boolean;
  /** Gives the payload's buffer back to the pool once it has been written out. */
  release: () => void;
}

/**
 * Yields pieces covering [start, stop) of the replica; start and stop are chunk aligned (stop
 * may be the end). Pieces hold about `packetTargetBytes` (rounded down to whole chunks).
 * `pooled` false gives each piece a new buffer (its `release` does nothing), for a consumer
 * that hands the bytes on without learning when they are gone (a short-circuit reader,
 * short-circuit-reads.ts); the read-ahead still bounds what is read before it is asked for.
 */
export async function* readReplicaPieces(
  r: Replica,
  start: number,
  stop: number,
  packetTargetBytes = PACKET_TARGET_BYTES,
  pooled = true,
): AsyncGenerator<ReplicaPiece> {
  const chunk = r.chunkBytes;
  const packetBytes = Math.max(chunk, Math.floor(packetTargetBytes / chunk) * chunk);
  const pool = await BufferPool.open(pooled ? POOL_BUFFERS : 0, packetBytes);
  let fds: { dataFd: number; metaFd: number };
  try {
    fds = await openReplica(r);
  } catch (err) {
    pool.close();
    throw err;
  }
  const { dataFd, metaFd } = fds;
  const sums = new ChecksumBatches(metaFd, r, stop, packetBytes * CHECKSUM_BATCH_PIECES);
  // Read-ahead: up to `pool.readAhead` pieces (one, or three with the allowance) are being
  // read while the consumer sends the one before them, so the disk (or page-cache copy, in
  // the thread pool) overlaps the socket.
  const ahead: Array<Promise<ReplicaPiece>> = [];
  let next = start;
  const readPiece = async (offset: number, len: number): Promise<ReplicaPiece> => {
    const buffer = await pool.take();
    let checksums: Buffer;
    try {
      const [d, c] = await Promise.all([read(dataFd, buffer, 0, len, offset), sums.get(offset, len)]);
      if (d.bytesRead !== len) throw shorterOnDisk(r);
      checksums = c;
    } catch (err) {
      pool.give(buffer);
      throw err;
    }
    const last = offset + len >= stop;
    let released = false;
    const release = (): void => {
      // A second release would hand the buffer out twice: two reads into one buffer.
      assert(!released, `piece at ${offset} of block ${r.blockId} released twice`);
      released = true;
      pool.give(buffer);
    };
    return { offset, payload: buffer.subarray(0, len), checksums, last, release };
  };
  // An empty range still gets its one (empty, last) piece.
  let issued = false;
  const fill = (): void => {
    while (ahead.length < pool.readAhead && (next < stop || !issued)) {
      const len = Math.min(packetBytes, stop - next);
      const p = readPiece(next, len);
      p.catch(() => {}); // awaited in order below; an early failure must not be unhandled
      ahead.push(p);
      next += len;
      issued = true;
    }
  };
  try {
    for (;;) {
      fill();
      const p = ahead.shift();
      if (p === undefined) return;
      const piece = await p;
      yield piece;
      if (piece.last) return;
    }
  } finally {
    // Reads still in flight finish into their buffers before the files close; one still
    // waiting for a buffer gives up. Pieces read ahead and never handed out give their
    // buffers back.
    pool.close();
    for (const read of await Promise.allSettled(ahead)) if (read.status === 'fulfilled') read.value.release();
    fs.close(dataFd, () => {});
    fs.close(metaFd, () => {});
  }
}

function shorterOnDisk(r: Replica): DfsError {
  return new DfsError('CHECKSUM', `replica of block ${r.blockId} is shorter on disk than recorded`);
}

/**
 * The stored checksums of a read, taken from the meta file CHECKSUM_BATCH_PIECES pieces at a
 * time (one read of a few KiB for many packets, not one per packet: each is a trip through
 * the thread pool). Each batch is a buffer of its own, so a piece's checksums (a view of
 * it) stay valid while later batches are read.
 */
class ChecksumBatches {
  private from = 0;
  private to = 0;
  private batch: Promise<Buffer> | null = null;
  private readonly sumBytes: number;

  constructor(
    private readonly metaFd: number,
    private readonly r: Replica,
    private readonly stop: number,
    private readonly batchDataBytes: number,
  ) {
    this.sumBytes = checksumBytes(r.checksumType);
  }

  /** The checksums of the chunks of [offset, offset + len); offset is chunk aligned. */
  async get(offset: number, len: number): Promise<Buffer> {
    const chunk = this.r.chunkBytes;
    if (this.batch === null || offset < this.from || offset + len > this.to) {
      const from = offset;
      const to = Math.max(offset + len, Math.min(this.stop, offset + this.batchDataBytes));
      const n = Math.ceil((to - from) / chunk) * this.sumBytes;
      this.from = from;
      this.to = to;
      this.batch = read(this.metaFd, Buffer.allocUnsafe(n), 0, n, checksumOffset(from, this.r)).then((m) => {
        if (m.bytesRead !== n) throw shorterOnDisk(this.r);
        return m.buffer;
      });
    }
    const start = ((offset - this.from) / chunk) * this.sumBytes;
    const all = await this.batch;
    return all.subarray(start, start + Math.ceil(len / chunk) * this.sumBytes);
  }
}

/**
 * `readReplicaPieces` for the read and copy paths: an error reading the replica's files
 * goes to the node's volume monitor (which drops and reports a vanished replica) and is
 * rethrown as the typed error it returns.
 */
export async function* readPiecesOrReport(
  dn: DataNodeContext,
  r: Replica,
  start: number,
  stop: number,
  packetTargetBytes = PACKET_TARGET_BYTES,
  pooled = true,
): AsyncGenerator<ReplicaPiece> {
  try {
    yield* readReplicaPieces(r, start, stop, packetTargetBytes, pooled);
  } catch (err) {
    if (err instanceof DfsError) throw err;
    throw dn.disk.replicaUnreadable(r, err);
  }
}

/**
 * Opens a replica's files where its state says they are. A replica being written moves to
 * finalized/ (or, for an append, back to rbw/) in one rename; one that moved between the
 * look and the open is opened again where it went. Open fds survive later renames.
 */
async function openReplica(r: Replica): Promise<{ dataFd: number; metaFd: number }> {
  for (let attempt = 0; ; attempt++) {
    const state = r.state;
    const dir = r.volume.replicaDir(state, r.blockId);
    try {
      const dataFd = await open(path.join(dir, 'data'), 'r');
      const metaFd = await open(path.join(dir, 'meta'), 'r').catch((err: unknown) => {
        fs.close(dataFd, () => {});
        throw err;
      });
      return { dataFd, metaFd };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || r.state === state || attempt > 0) throw err;
    }
  }
}

/**
 * A fixed set of equal buffers; `take` waits when all are out, and fails once closed. With
 * no buffers (`count` 0) it is no pool: each `take` is a new buffer, each `give` drops it.
 * A pool of POOL_BUFFERS is admitted by the node-wide budget (ReadBufferBudget) and also
 * takes up to EXTRA_BUFFERS more from the node-wide allowance; both are handed back once the
 * pool is closed and every buffer is back. The pooled buffers are
 * page-aligned (src/common/page-aligned.ts: a page-cache read into one costs a fifth of a
 * read into a malloc'ed buffer) and go back to the process's free list once the reader is
 * closed and each is given back.
 */
class BufferPool {
  private readonly free: Buffer[] = [];
  private readonly waiters: Array<{ resolve: (b: Buffer) => void; reject: (e: Error) => void }> = [];
  private readonly count: number;
  /** Buffers taken from the node-wide allowance. */
  private readonly extra: number;
  /** The budget and allowance handed back (once). */
  private returned = false;
  /** Buffers taken and not given back. */
  private out = 0;
  private closed = false;

  /** A pool of `base` buffers (and extras) once the node-wide budget admits them. */
  static async open(base: number, bytes: number): Promise<BufferPool> {
    if (base > 0) await budget.acquire(base * bytes);
    return new BufferPool(base, bytes);
  }

  private constructor(
    private readonly base: number,
    private readonly bytes: number,
  ) {
    this.extra = base === 0 ? 0 : Math.min(EXTRA_BUFFERS, extraBuffersFree);
    extraBuffersFree -= this.extra;
    this.count = base + this.extra;
    for (let i = 0; i < this.count; i++) this.free.push(takePageAligned(bytes));
  }

  /** Pieces to read ahead of the one being sent: one per buffer but that one (at least one). */
  get readAhead(): number {
    return Math.max(1, this.count - 1);
  }

  take(): Promise<Buffer> {
    if (this.count === 0) return Promise.resolve(Buffer.allocUnsafe(this.bytes));
    const b = this.free.pop();
    this.out++;
    if (b !== undefined) return Promise.resolve(b);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** `b` is no longer read or written (its read settled, its consumer released it). */
  give(b: Buffer): void {
    if (this.count === 0) return;
    this.out--;
    if (this.closed) {
      givePageAligned(b);
      this.giveBackBudget();
      return;
    }
    const w = this.waiters.shift();
    if (w) {
      this.out++;
      w.resolve(b);
    } else this.free.push(b);
  }

  /**
   * Fails every waiting `take` (the reader stopped) and hands the free buffers to the
   * process; those given back later go there directly.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters.splice(0)) {
      this.out--;
      w.reject(new DfsError('CONNECTION', 'replica read stopped'));
    }
    for (const b of this.free.splice(0)) givePageAligned(b);
    this.giveBackBudget();
  }

  /** The budget and the allowance go back once nothing of this pool is out any more. */
  private giveBackBudget(): void {
    if (this.out > 0 || this.returned) return;
    this.returned = true;
    assert(extraBuffersFree + this.extra <= EXTRA_BUFFERS_MAX, 'read-ahead allowance returned twice');
    extraBuffersFree += this.extra;
    if (this.base > 0) budget.release(this.base * this.bytes);
  }
}

/** Buffers of the node-wide read-ahead allowance not taken (tests). */
export function readAheadAllowanceFree(): number {
  return extraBuffersFree;
}
