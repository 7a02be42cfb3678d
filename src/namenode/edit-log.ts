/**
 * The edit log writer: appends records to the current segment and makes them durable with
 * group commit (HDFS `FSEditLog.logSync`). `append` assigns the next txid synchronously and
 * queues the record; one flush writes every queued record with a single write and one
 * fdatasync, then calls every waiter. A reply must only be sent from that callback.
 *
 * Invariants:
 * - Records reach the disk in txid order, and a waiter is called only after every record
 *   up to its own is durable (flushes are strictly sequential).
 * - A roll is a marker in the same queue: records before it go to the old segment, records
 *   after it to a new one, whose file (and directory entry) is durable before any of its
 *   records are acknowledged. So the segments on disk never have a txid gap.
 * - The queue is bounded by the callers (each connection bounds its requests in flight).
 * - A failed write or fsync is fatal: memory is ahead of the disk, so the log refuses all
 *   further appends and `onFatal` tells the NameNode to stop (HDFS does the same).
 */
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { DfsError } from '../../protocol/errors.js';
import { fsyncDir } from '../common/fs-util.js';
import type { EditOp } from './edit-ops.js';
import { encodeRecord, encodeSegmentHeader } from './edit-log-format.js';

export type AppendCallback = (err: Error | null) => void;

interface RollMarker {
  roll: true;
  firstTxid: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

export function segmentFileName(firstTxid: number): string {
  return `edits_${String(firstTxid).padStart(16, '0')}`;
}

export class EditLog {
  private fd = -1;
  private segmentFirstTxid = 0;
  private lastTxid: number;
  private durableTxid: number;
  private queue: Array<Buffer | RollMarker> = [];
  private waiters: AppendCallback[] = [];
  private flushing = false;
  private scheduled = false;
  private failure: Error | null = null;
  private closed = false;
  /** Operations per flush, for metrics and the benchmark's explanation of throughput. */
  flushCount = 0;
  recordCount = 0;

  private constructor(
    private readonly dir: string,
    lastTxid: number,
    private readonly onFatal: (err: Error) => void,
  ) {
    this.lastTxid = lastTxid;
    this.durableTxid = lastTxid;
  }

  /** Opens a new segment starting after `lastTxid` (the state replayed at start-up). */
  static async open(dir: string, lastTxid: number, onFatal: (err: Error) => void): Promise<EditLog> {
    const log = new EditLog(dir, lastTxid, onFatal);
    log.fd = await log.createSegment(lastTxid + 1);
    log.segmentFirstTxid = lastTxid + 1;
    return log;
  }

  get lastWrittenTxid(): number {
    return this.lastTxid;
  }

  get lastDurableTxid(): number {
    return this.durableTxid;
  }

  /** Queues `op` as txid lastTxid+1; `done` runs once it is durable (or the log failed). */
  append(op: EditOp, done: AppendCallback): number {
    if (this.failure) {
      done(this.failure);
      return -1;
    }
    if (this.closed) {
      done(new DfsError('SHUTTING_DOWN', 'the NameNode is shutting down'));
      return -1;
    }
    const txid = ++this.lastTxid;
    this.queue.push(encodeRecord(txid, op));
    this.waiters.push(done);
    this.schedule();
    return txid;
  }

  /** Starts a new segment after every record appended so far; resolves once it exists. */
  roll(): Promise<number> {
    const lastOfOld = this.lastTxid;
    return new Promise<void>((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.queue.push({ roll: true, firstTxid: lastOfOld + 1, resolve, reject });
      this.waiters.push(() => {});
      this.schedule();
    }).then(() => lastOfOld);
  }

  /** Flushes what is queued, then closes the segment. Appends after this fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.flushing || this.queue.length > 0) {
      await new Promise<void>((resolve) => {
        this.waiters.push(() => resolve());
        this.queue.push(Buffer.alloc(0));
        this.schedule();
      });
      if (this.failure) break;
    }
    if (this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      await new Promise<void>((resolve) => fs.close(fd, () => resolve()));
    }
  }

  private schedule(): void {
    if (this.flushing || this.scheduled) return;
    this.scheduled = true;
    // Let every append made in this tick (one socket read can hold many requests) join.
    process.nextTick(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.flushing || this.queue.length === 0 || this.failure) return;
    this.flushing = true;
    // Take records up to (not including) the first roll marker.
    let n = 0;
    while (n < this.queue.length && !isRoll(this.queue[n]!)) n++;
    if (n === 0) {
      const marker = this.queue.shift() as RollMarker;
      this.waiters.shift();
      this.doRoll(marker);
      return;
    }
    const records = this.queue.splice(0, n) as Buffer[];
    const waiters = this.waiters.splice(0, n);
    const data = records.length === 1 ? records[0]! : Buffer.concat(records);
    writeAll(this.fd, data, (err) => {
      if (err) return this.fatal(err, waiters);
      fs.fdatasync(this.fd, (syncErr) => {
        if (syncErr) return this.fatal(syncErr, waiters);
        this.flushCount++;
        this.recordCount += records.length;
        this.durableTxid += records.filter((r) => r.length > 0).length;
        this.flushing = false;
        for (const w of waiters) w(null);
        this.flush();
      });
    });
  }

  private doRoll(marker: RollMarker): void {
    if (marker.firstTxid === this.segmentFirstTxid) {
      // Nothing was logged since the last roll: the current segment already starts there.
      this.flushing = false;
      marker.resolve();
      this.flush();
      return;
    }
    const oldFd = this.fd;
    this.createSegment(marker.firstTxid).then(
      (fd) => {
        this.fd = fd;
        this.segmentFirstTxid = marker.firstTxid;
        fs.close(oldFd, () => {});
        this.flushing = false;
        marker.resolve();
        this.flush();
      },
      (err: Error) => {
        marker.reject(err);
        this.fatal(err, []);
      },
    );
  }

  /** Creates a segment with its header, durable with its directory entry; a plain fd (no FileHandle, which closes itself when collected). */
  private async createSegment(firstTxid: number): Promise<number> {
    const file = path.join(this.dir, segmentFileName(firstTxid));
    const fd = await promisify(fs.open)(file, 'wx', 0o644);
    try {
      const header = encodeSegmentHeader(firstTxid);
      await promisify(writeAll)(fd, header);
      await promisify(fs.fsync)(fd);
      await fsyncDir(this.dir);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    return fd;
  }

  private fatal(err: Error, waiters: AppendCallback[]): void {
    const failure = new DfsError('INTERNAL', `edit log write failed: ${err.message}`, { cause: err });
    this.failure = failure;
    this.flushing = false;
    for (const w of waiters) w(failure);
    for (const w of this.waiters.splice(0)) w(failure);
    for (const q of this.queue.splice(0)) if (isRoll(q)) q.reject(failure);
    this.onFatal(failure);
  }
}

function isRoll(item: Buffer | RollMarker): item is RollMarker {
  return !Buffer.isBuffer(item);
}

function writeAll(fd: number, data: Buffer, cb: (err: Error | null) => void): void {
  if (data.length === 0) return cb(null);
  fs.write(fd, data, 0, data.length, null, (err, written) => {
    if (err) return cb(err);
    if (written < data.length) return writeAll(fd, data.subarray(written), cb);
    cb(null);
  });
}
