/**
 * The edit log writer: appends records to the current segment and makes them durable with
 * group commit (HDFS `FSEditLog.logSync`). `append` assigns the next txid synchronously and
 * queues the record with its callback; one flush writes the queued records (up to
 * FLUSH_BYTES_MAX of them) and syncs them with one fdatasync, then calls their callbacks. A
 * reply must only be sent from there.
 *
 * Two state variables, each one union with checked transitions (HDFS `FSEditLog.State` and
 * `checkState`):
 *
 *   lifecycle:  open ──close()──> closing ──queue drained, segment sealed──> closed
 *                 └──────────────────┴── write/fsync/roll error ──> failed
 *   io:         idle ──append/roll──> scheduled ──next tick──> idle ──pump──> writing | rolling
 *               writing | rolling ──done──> idle ──pump──> ...
 *               idle ──closing, queue drained──> sealing (the segment cut to its records)
 *
 * `io` is the one flusher: at most one write+fdatasync, segment roll or final seal runs at a
 * time, and it starts only from `idle`, so records reach the disk strictly in queue order.
 *
 * Invariants (asserted):
 * - txids are contiguous: `append` hands out last + 1, and a flush writes records whose
 *   txids are exactly durable + 1, durable + 2, ... (the pair of the assignment). A gap is a
 *   bug, and crashes before the record reaches the disk.
 * - A callback runs only after every record up to its own is durable.
 * - A roll is an entry in the same queue: records before it go to the old segment, records
 *   after it to a new one, whose file (and directory entry) is durable before any of its
 *   records are acknowledged. So the segments on disk never have a txid gap.
 * - After a clean close, durable == last: nothing appended was left behind.
 * - The queue is bounded by the callers (each connection bounds its requests in flight).
 * - A failed write or fsync is fatal: memory is ahead of the disk, so the log refuses all
 *   further appends and `onFatal` tells the NameNode to stop (HDFS does the same).
 *
 * Preallocation (HDFS `EditLogFileOutputStream.preallocate`): a segment is created as
 * PREALLOCATE_BYTES of zeros after its header, made durable with its size under a temporary
 * name and then linked in (so no segment with a lost header can appear), and records are
 * written over the zeros at `written`; a flush that would pass the end also extends it by
 * whole chunks of zeros, made durable by the same fdatasync. So only a flush that crosses
 * into a new MiB has a file size to commit; the others have data only to write, and need not
 * wait for the file system's journal to commit (the DataNodes' writes share that journal;
 * under load a commit took tens of milliseconds). A segment is cut back to its records
 * before the next one is created (a roll) and at close: only the newest segment may end in
 * zeros, which a load cuts (name-dir.ts). A flush holds at most FLUSH_BYTES_MAX bytes, which
 * is what lets the decoder tell the torn last flush of a power loss from corruption
 * (edit-log-format.ts).
 *
 * A flush slower than `slowSyncMs` (write plus fdatasync) is logged with its duration, as
 * etcd's WAL warns on a slow fdatasync: it is the first thing to look at when creates slow.
 * Every sync goes through the `sync` option (src/common/file-sync.ts), so tests can see that
 * no callback runs before the fdatasync covering its record completed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { assert, DfsError, rethrowIfBug } from '../../protocol/errors.js';
import { osFileSync, type FileSync } from '../common/file-sync.js';
import { fsyncDir } from '../common/fs-util.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { EditOp } from './edit-ops.js';
import {
  encodeRecord,
  encodeSegmentHeader,
  FLUSH_BYTES_MAX,
  SEGMENT_HEADER_BYTES,
} from './edit-log-format.js';
import type { AppendCallback, Journal } from './journal.js';

export type { AppendCallback };

export type EditLogState = 'open' | 'closing' | 'closed' | 'failed';
type IoState = 'idle' | 'scheduled' | 'writing' | 'rolling' | 'sealing';

const LIFECYCLE: Record<EditLogState, readonly EditLogState[]> = {
  open: ['closing', 'failed'],
  closing: ['closed', 'failed'],
  closed: [],
  failed: [],
};
const IO: Record<IoState, readonly IoState[]> = {
  idle: ['scheduled', 'writing', 'rolling', 'sealing'],
  scheduled: ['writing', 'rolling', 'idle'],
  writing: ['idle'],
  rolling: ['idle'],
  sealing: [],
};

/** Zeros written ahead of the records, at a segment's creation and in chunks of this as it grows. */
export const PREALLOCATE_BYTES = 1024 * 1024;
let zeros: Buffer | null = null;

type QueueEntry =
  | { kind: 'record'; txid: number; bytes: Buffer; done: AppendCallback }
  | { kind: 'roll'; firstTxid: number; done: (err: Error | null) => void };

export interface EditLogOptions {
  log?: Logger;
  /** A flush (write + fdatasync) slower than this is logged at warn; default 1000. */
  slowSyncMs?: number;
  /** Fault hook for tests: the append that would get this txid gets the next one (a bug). */
  skipTxidAt?: number;
  /** How records, segments and the directory are synced (file-sync.ts); the OS's by default. */
  sync?: FileSync;
  /** After each flush: its write + fdatasync seconds and the records it made durable (metrics). */
  onFlush?: (seconds: number, records: number) => void;
}

export function segmentFileName(firstTxid: number): string {
  return `edits_${String(firstTxid).padStart(16, '0')}`;
}

/** The local file implementation of the journal (journal.ts). */
export class EditLog implements Journal {
  private state: EditLogState = 'open';
  private io: IoState = 'idle';
  private fd = -1;
  private segmentFirstTxid = 0;
  /** The current segment's bytes of header and records; where the next flush writes. */
  private written = 0;
  /** The current segment's size: `written` and the zeros after it. */
  private allocated = 0;
  private lastTxid: number;
  private durableTxid: number;
  private readonly queue: QueueEntry[] = [];
  private failure: DfsError | null = null;
  /** Resolves close() once the queue is drained and the file closed. */
  private onClosed: (() => void) | null = null;
  private readonly log: Logger;
  private readonly slowSyncMs: number;
  private readonly skipTxidAt: number;
  private readonly sync: FileSync;
  private readonly onFlush: ((seconds: number, records: number) => void) | undefined;
  /** Operations per flush, for metrics and the benchmark's explanation of throughput. */
  flushCount = 0;
  recordCount = 0;

  private constructor(
    private readonly dir: string,
    lastTxid: number,
    private readonly onFatal: (err: Error) => void,
    options: EditLogOptions,
  ) {
    this.lastTxid = lastTxid;
    this.durableTxid = lastTxid;
    this.log = options.log ?? silentLogger();
    this.slowSyncMs = options.slowSyncMs ?? 1000;
    this.skipTxidAt = options.skipTxidAt ?? 0;
    this.sync = options.sync ?? osFileSync;
    this.onFlush = options.onFlush;
  }

  /** Opens a new segment starting after `lastTxid` (the state replayed at start-up). */
  static async open(
    dir: string,
    lastTxid: number,
    onFatal: (err: Error) => void,
    options: EditLogOptions = {},
  ): Promise<EditLog> {
    const log = new EditLog(dir, lastTxid, onFatal, options);
    log.useSegment(await log.createSegment(lastTxid + 1), lastTxid + 1);
    return log;
  }

  get lastWrittenTxid(): number {
    return this.lastTxid;
  }

  get lastDurableTxid(): number {
    return this.durableTxid;
  }

  get lifecycle(): EditLogState {
    return this.state;
  }

  /** Queues `op` as txid lastTxid+1; `done` runs once it is durable (or the log failed). */
  append(op: EditOp, done: AppendCallback): number {
    if (this.state !== 'open') {
      done(this.failure ?? new DfsError('SHUTTING_DOWN', 'the NameNode is shutting down'));
      return -1;
    }
    let txid = ++this.lastTxid;
    if (txid === this.skipTxidAt) txid = ++this.lastTxid;
    const bytes = encodeRecord(txid, op);
    // The RPCs bound every path and name an op carries (protocol/limits.ts, client-rpc.ts).
    assert(bytes.length <= FLUSH_BYTES_MAX, `edit log record of ${bytes.length} bytes (${op.op})`);
    this.queue.push({ kind: 'record', txid, bytes, done });
    this.schedule();
    return txid;
  }

  /** Starts a new segment after every record appended so far; resolves with its last txid. */
  roll(): Promise<number> {
    const lastOfOld = this.lastTxid;
    return new Promise<number>((resolve, reject) => {
      if (this.state !== 'open')
        return reject(this.failure ?? new DfsError('SHUTTING_DOWN', 'the edit log is closed'));
      const done = (err: Error | null): void => (err ? reject(err) : resolve(lastOfOld));
      this.queue.push({ kind: 'roll', firstTxid: lastOfOld + 1, done });
      this.schedule();
    });
  }

  /** Flushes what is queued, then closes the segment. Appends after this fail. */
  close(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    if (this.state === 'failed') return Promise.resolve();
    if (this.state === 'closing') return new Promise((resolve) => this.whenClosed(resolve));
    this.enter('closing');
    return new Promise((resolve) => {
      this.whenClosed(resolve);
      if (this.io === 'idle') this.pump();
    });
  }

  private whenClosed(resolve: () => void): void {
    const previous = this.onClosed;
    this.onClosed = () => {
      previous?.();
      resolve();
    };
  }

  private enter(next: EditLogState): void {
    assert(LIFECYCLE[this.state].includes(next), `edit log: ${this.state} -> ${next}`);
    this.state = next;
  }

  private setIo(next: IoState): void {
    assert(IO[this.io].includes(next), `edit log io: ${this.io} -> ${next}`);
    this.io = next;
  }

  private schedule(): void {
    if (this.io !== 'idle') return;
    this.setIo('scheduled');
    // Let every append made in this tick (one socket read can hold many requests) join.
    process.nextTick(() => {
      this.setIo('idle');
      this.pump();
    });
  }

  /** The flusher: starts the next write or roll, or finishes a close; only from `idle`. */
  private pump(): void {
    assert(this.io === 'idle', `edit log pump while ${this.io}`);
    if (this.state === 'failed') return;
    const head = this.queue[0];
    if (head === undefined) {
      if (this.state === 'closing') this.finishClose();
      return;
    }
    if (head.kind === 'roll') {
      this.queue.shift();
      this.setIo('rolling');
      this.doRoll(head.firstTxid, head.done);
      return;
    }
    // At most FLUSH_BYTES_MAX: the bound the decoder's torn-flush rule relies on.
    let n = 1;
    let bytes = head.bytes.length;
    for (; n < this.queue.length; n++) {
      const next = this.queue[n]!;
      if (next.kind !== 'record' || bytes + next.bytes.length > FLUSH_BYTES_MAX) break;
      bytes += next.bytes.length;
    }
    const batch = this.queue.splice(0, n) as Array<Extract<QueueEntry, { kind: 'record' }>>;
    // The pair of append's txid assignment: what goes to disk is contiguous and in order.
    for (let i = 0; i < batch.length; i++) {
      const expected = this.durableTxid + 1 + i;
      assert(batch[i]!.txid === expected, `edit log txid ${batch[i]!.txid} queued, expected ${expected}`);
    }
    this.setIo('writing');
    this.write(batch);
  }

  private write(batch: Array<Extract<QueueEntry, { kind: 'record' }>>): void {
    const data = batch.length === 1 ? batch[0]!.bytes : Buffer.concat(batch.map((e) => e.bytes));
    const started = performance.now();
    const at = this.written;
    const end = at + data.length;
    const allocated = Math.max(this.allocated, Math.ceil(end / PREALLOCATE_BYTES) * PREALLOCATE_BYTES);
    writeAllAt(this.fd, data, at, (err) => {
      if (err) return this.fail(err, batch);
      // Past the zeros written ahead: more of them, made durable (with the size) by this fdatasync.
      writeZeros(this.fd, Math.max(end, this.allocated), allocated, (zerosErr) => {
        if (zerosErr) return this.fail(zerosErr, batch);
        this.syncAndReply(batch, data.length, started, end, allocated);
      });
    });
  }

  /** The flush's bytes are written: its fdatasync, then its replies. */
  private syncAndReply(
    batch: Array<Extract<QueueEntry, { kind: 'record' }>>,
    bytes: number,
    started: number,
    written: number,
    allocated: number,
  ): void {
    this.sync.fdatasync(this.fd).then(
      () => {
        const ms = performance.now() - started;
        if (ms > this.slowSyncMs)
          this.log.warn(
            { ms: Math.round(ms), records: batch.length, bytes },
            'slow edit log write and fdatasync',
          );
        this.flushCount++;
        this.recordCount += batch.length;
        this.onFlush?.(ms / 1000, batch.length);
        this.written = written;
        this.allocated = allocated;
        this.durableTxid = batch[batch.length - 1]!.txid;
        this.setIo('idle');
        for (const e of batch) e.done(null);
        // A callback may have appended (and scheduled a flush) already.
        if (this.io === 'idle') this.pump();
      },
      (syncErr: Error) => this.fail(syncErr, batch),
    );
  }

  private doRoll(firstTxid: number, done: (err: Error | null) => void): void {
    assert(firstTxid === this.durableTxid + 1, `edit log roll at ${firstTxid}, durable ${this.durableTxid}`);
    if (firstTxid === this.segmentFirstTxid) {
      // Nothing was logged since the last roll: the current segment already starts there.
      this.setIo('idle');
      done(null);
      if (this.io === 'idle') this.pump();
      return;
    }
    const oldFd = this.fd;
    // The old segment is cut to its records first: only the newest may end in zeros.
    this.seal(oldFd)
      .then(() => this.createSegment(firstTxid))
      .then(
        (fd) => {
          this.useSegment(fd, firstTxid);
          fs.close(oldFd, () => {});
          this.setIo('idle');
          done(null);
          if (this.io === 'idle') this.pump();
        },
        (err: Error) => {
          rethrowIfBug(err);
          this.fail(err, [], done);
        },
      );
  }

  private finishClose(): void {
    // The pair of append: a clean close leaves nothing appended and not durable.
    assert(
      this.durableTxid === this.lastTxid,
      `edit log closed with txid ${this.lastTxid} appended, ${this.durableTxid} durable`,
    );
    this.setIo('sealing');
    this.seal(this.fd).then(
      () => this.finishClosed(),
      (err: Error) => {
        rethrowIfBug(err);
        // Nothing acknowledged is at risk: a load cuts the zeros of the newest segment.
        this.log.warn({ err: err.message }, 'could not cut the edit log segment to its records at close');
        this.finishClosed();
      },
    );
  }

  private finishClosed(): void {
    this.enter('closed');
    this.closeFd();
    const resolve = this.onClosed;
    this.onClosed = null;
    resolve?.();
  }

  /** Cuts the current segment's zeros written ahead, durably (a roll, a close). */
  private async seal(fd: number): Promise<void> {
    await promisify(fs.ftruncate)(fd, this.written);
    await this.sync.fsync(fd);
  }

  private useSegment(fd: number, firstTxid: number): void {
    this.fd = fd;
    this.segmentFirstTxid = firstTxid;
    this.written = SEGMENT_HEADER_BYTES;
    this.allocated = PREALLOCATE_BYTES;
  }

  private closeFd(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    fs.close(fd, () => {});
  }

  /**
   * Creates a segment: its header and zeros to PREALLOCATE_BYTES, durable with its size
   * under a temporary name (a load removes those), then linked in, which fails rather than
   * replace a segment, and made durable with its directory entry. A plain fd (no
   * FileHandle, which closes itself when collected).
   */
  private async createSegment(firstTxid: number): Promise<number> {
    const file = path.join(this.dir, segmentFileName(firstTxid));
    const temp = `${file}.tmp-${process.pid}`;
    const fd = await promisify(fs.open)(temp, 'w', 0o644);
    try {
      await promisify(writeAllAt)(fd, encodeSegmentHeader(firstTxid), 0);
      await promisify(writeZeros)(fd, SEGMENT_HEADER_BYTES, PREALLOCATE_BYTES);
      await this.sync.fsync(fd);
      await fs.promises.link(temp, file);
      await fs.promises.unlink(temp);
      await fsyncDir(this.dir, this.sync);
    } catch (err) {
      fs.closeSync(fd);
      await fs.promises.rm(temp, { force: true });
      throw err;
    }
    return fd;
  }

  /** The one teardown path after an I/O error: every waiter hears of it, nothing more is written. */
  private fail(
    err: Error,
    batch: ReadonlyArray<{ done: AppendCallback }>,
    rollDone?: (err: Error | null) => void,
  ): void {
    const failure = new DfsError('INTERNAL', `edit log write failed: ${err.message}`, { cause: err });
    this.failure = failure;
    this.enter('failed');
    this.setIo('idle');
    this.closeFd();
    rollDone?.(failure);
    for (const e of batch) e.done(failure);
    for (const e of this.queue.splice(0)) e.done(failure);
    const resolve = this.onClosed;
    this.onClosed = null;
    resolve?.();
    this.onFatal(failure);
  }
}

function writeAllAt(fd: number, data: Buffer, position: number, cb: (err: Error | null) => void): void {
  if (data.length === 0) return cb(null);
  fs.write(fd, data, 0, data.length, position, (err, written) => {
    if (err) return cb(err);
    if (written < data.length) return writeAllAt(fd, data.subarray(written), position + written, cb);
    cb(null);
  });
}

/** Writes zeros over [from, to) (preallocation), in chunks of one shared zero buffer. */
function writeZeros(fd: number, from: number, to: number, cb: (err: Error | null) => void): void {
  if (from >= to) return cb(null);
  zeros ??= Buffer.alloc(PREALLOCATE_BYTES);
  const n = Math.min(to - from, zeros.length);
  writeAllAt(fd, zeros.subarray(0, n), from, (err) => (err ? cb(err) : writeZeros(fd, from + n, to, cb)));
}
