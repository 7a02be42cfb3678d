/**
 * The files of one replica being written (HDFS `ReplicaOutputStreams`): the data file and
 * the meta file of checksums in rbw/, opened for a new replica or reopened for pipeline
 * recovery, written packet by packet at the offsets the block receiver checked, synced
 * behind the writes and at the end, closed once. The block receiver decides what to write
 * and when; this file decides how the bytes reach the disk.
 *
 * - A packet's payload goes to the page cache as the socket reads it arrived in, in one
 *   writev (fs-util.ts writePieces); checksums are staged and written a few KiB at a time.
 * - Sync-behind-writes: a background fdatasync every `syncBehindWritesBytes`, so the
 *   fdatasync at the end, which the last ack waits for, only has the tail left.
 * - Writes are issued one after the other by the receiver's chain; `close` waits for the
 *   background sync and flushes staged checksums, so a recovering pipeline finds the
 *   checksums of every acknowledged byte on disk.
 * - A packet's disk write or the final sync slower than `slowIoWarnMs` is logged with its
 *   duration (HDFS `BlockReceiver` "Slow BlockReceiver write data to disk").
 * - A last partial chunk (after hflush, or a reopened block for append or recovery) keeps
 *   its checksum here: a packet that continues it starts mid-chunk, carries one checksum
 *   over its own bytes (verified by the receiver), and the chunk's stored checksum is
 *   recomputed over the bytes already on disk (checked first against the kept checksum)
 *   and the new ones (HDFS `BlockReceiver.computePartialChunkCrc`).
 * - Flush packets (hflush, hsync) write staged checksums at once and publish the length to
 *   readers (`publish`); hsync also fdatasyncs both files before the ack (`syncForHsync`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { checksumBytes, type ChecksumType } from '../../protocol/data-messages.js';
import { assert, DfsError, rethrowIfBug } from '../../protocol/errors.js';
import type { Block } from '../../protocol/shared-structures.js';
import { slicePieces } from '../../protocol/byte-pieces.js';
import { chunkChecksum, chunkMatches } from '../common/checksum.js';
import { enospcError, replicaBytesFitting } from '../common/fault-injector.js';
import { writeFully, writePieces } from '../common/fs-util.js';
import type { Logger } from '../common/logger.js';
import type { DataNodeContext, WriteOwner } from './datanode-context.js';
import { checksumOffset, encodeMetaHeader } from './replica-meta.js';
import { lastPartialChecksum, recoverableReplica } from './replica-reopen.js';
import type { Replica } from './storage.js';

const META_STAGE_BYTES = 4096;

export class ReplicaWriter {
  private dataFd: number;
  private metaFd: number;
  /** A background fdatasync of the data file (sync-behind-writes), or a settled promise. */
  private syncBehind: Promise<void> = Promise.resolve();
  private syncBehindRunning = false;
  private syncBehindError: Error | null = null;
  private unsyncedBytes = 0;
  /** Checksums received and not yet written to the meta file (see stageChecksums). */
  private metaStage: Buffer | null = null;
  private metaStageFill = 0;
  private metaStageOffset = 0;

  private constructor(
    private readonly dn: DataNodeContext,
    readonly replica: Replica,
    fds: { data: number; meta: number },
    private readonly log: Logger,
    /**
     * Checksum of the bytes of a last partial chunk, as stored (a copy, never a view of a
     * socket read); null when the replica ends on a chunk boundary.
     */
    private partialChecksum: Buffer | null = null,
  ) {
    this.dataFd = fds.data;
    this.metaFd = fds.meta;
  }

  /**
   * A new, empty replica in rbw/ (replacing a left-over rbw copy of the same block),
   * claimed for `owner` in the node's writes table before the first await, so two
   * pipelines for one block cannot both get past the check.
   */
  static async create(
    dn: DataNodeContext,
    block: Block,
    chunkBytes: number,
    checksumType: ChecksumType,
    log: Logger,
    owner: WriteOwner,
  ): Promise<ReplicaWriter> {
    const { blockId, genStamp } = block;
    const existing = dn.storage.replicas.get(blockId);
    if (existing !== undefined && existing.state === 'finalized') {
      throw new DfsError(
        'ALREADY_EXISTS',
        `replica of block ${blockId} already finalized here (gen ${existing.genStamp})`,
      );
    }
    // A replica another pipeline is writing right now is not ours to replace (a copy
    // scheduled while the writer's pipeline still runs); a left-over rbw copy is.
    if (dn.writes.isWriting(blockId))
      throw new DfsError('ALREADY_EXISTS', `replica of block ${blockId} is being written here`);
    // Its files are being removed (storage.ts delete): a new copy's would go with them.
    if (dn.storage.deleting.has(blockId))
      throw new DfsError('ALREADY_EXISTS', `replica of block ${blockId} is being deleted here`);
    const volume = existing?.volume ?? dn.storage.chooseVolume(1024 * 1024);
    dn.writes.claim(blockId, owner);
    const dir = volume.replicaDir('rbw', blockId);
    const fds = { data: -1, meta: -1 };
    try {
      // Each step is a trip to the thread pool, which the node's packet writes keep busy: a
      // new pipeline waits for every one (a stream stands still meanwhile). A left-over copy
      // the node knows of is removed; any other folder here (a create that failed half-way,
      // a replica dropped whose removal or quarantine failed) holds only these two files,
      // which opening truncates. The two files are opened at once. (A quarantine of a
      // dropped replica still renaming this folder away would take the new files with it,
      // as it would have after a removal.)
      if (existing !== undefined) await fs.promises.rm(dir, { recursive: true, force: true });
      await fs.promises.mkdir(dir, { recursive: true });
      const opening = [
        // Read too: a packet continuing a partial chunk reads that chunk's bytes back.
        promisify(fs.open)(path.join(dir, 'data'), 'w+', 0o644).then((fd) => (fds.data = fd)),
        promisify(fs.open)(path.join(dir, 'meta'), 'w', 0o644).then((fd) => (fds.meta = fd)),
      ];
      // Both settled before a failure is handled, so closeFds sees every descriptor opened.
      const opened = await Promise.allSettled(opening);
      for (const r of opened) if (r.status === 'rejected') throw r.reason;
      await writeFully(fds.meta, encodeMetaHeader({ chunkBytes, checksumType, genStamp }), 0);
    } catch (err) {
      closeFds(fds);
      dn.writes.release(blockId, owner);
      dn.disk.ioError(volume, err);
      throw diskError(err, `cannot create replica of block ${blockId} in ${volume.dir}`);
    }
    const replica: Replica = {
      blockId,
      genStamp,
      numBytes: 0,
      chunkBytes,
      checksumType,
      volume,
      state: 'rbw',
      visible: { bytes: 0, lastChecksum: null },
    };
    dn.storage.replicas.set(blockId, replica);
    return new ReplicaWriter(dn, replica, fds, log);
  }

  /**
   * Pipeline recovery: keep the acknowledged prefix, take the new generation stamp. A
   * writer of the failed pipeline that has not yet seen its upstream close is stopped
   * first, and its teardown awaited (HDFS `recoverRbw` stops the writer too): none of its
   * writes may land in a file being truncated, nor may it finalize what is recovered here.
   * Append (HDFS `FsDatasetImpl.append`): the finalized replica of exactly `numBytes` goes
   * back to rbw under the new stamp, nothing cut.
   */
  static async reopen(
    dn: DataNodeContext,
    block: Block,
    chunkBytes: number,
    log: Logger,
    owner: WriteOwner,
    mode: 'recover' | 'append' = 'recover',
  ): Promise<ReplicaWriter> {
    const { blockId } = block;
    // Checked before the running writer is stopped, so a stale or malformed recovery
    // cannot break a live pipeline; checked again after the wait, which may change it.
    recoverableReplica(dn, block, chunkBytes, mode);
    dn.writes.stopWriter(blockId);
    await dn.writes.settled(blockId);
    if (dn.writes.isWriting(blockId))
      throw new DfsError(
        'ALREADY_EXISTS',
        `replica of block ${blockId} is being recovered by another pipeline`,
      );
    const r = recoverableReplica(dn, block, chunkBytes, mode);
    const { genStamp, numBytes } = block;
    let partial: Buffer | null;
    // Claimed before the next await, so two recoveries of one block cannot both get past here.
    dn.writes.claim(blockId, owner);
    const fds = { data: -1, meta: -1 };
    try {
      if (r.state === 'finalized') {
        await fs.promises.rename(
          r.volume.replicaDir('finalized', blockId),
          r.volume.replicaDir('rbw', blockId),
        );
        r.volume.usedBytes -= r.numBytes;
        r.state = 'rbw';
      }
      const dir = r.volume.replicaDir('rbw', blockId);
      const size = (await fs.promises.stat(path.join(dir, 'data'))).size;
      if (size < numBytes)
        throw new DfsError('INVALID_ARGUMENT', `replica holds ${size} bytes, recovery needs ${numBytes}`);
      fds.data = await promisify(fs.open)(path.join(dir, 'data'), 'r+');
      fds.meta = await promisify(fs.open)(path.join(dir, 'meta'), 'r+');
      await promisify(fs.ftruncate)(fds.data, numBytes);
      await promisify(fs.ftruncate)(fds.meta, checksumOffset(numBytes + r.chunkBytes - 1, r));
      partial = await lastPartialChecksum(fds, numBytes, r, mode, blockId);
      const header = { chunkBytes: r.chunkBytes, checksumType: r.checksumType, genStamp };
      await writeFully(fds.meta, encodeMetaHeader(header), 0);
    } catch (err) {
      closeFds(fds);
      dn.writes.release(blockId, owner);
      throw diskError(err, `cannot reopen replica of block ${blockId} for ${mode}`);
    }
    r.genStamp = genStamp;
    r.numBytes = numBytes;
    r.visible = { bytes: numBytes, lastChecksum: partial };
    return new ReplicaWriter(dn, r, fds, log, partial);
  }

  /**
   * Writes one packet's payload and checksums at `offset`; the caller issues packets one at a
   * time. `flush` (the last packet, or an hflush/hsync one) writes staged checksums now.
   */
  async write(
    payload: readonly Buffer[],
    payloadBytes: number,
    packetChecksums: Buffer,
    offset: number,
    flush: boolean,
  ) {
    const started = performance.now();
    const inChunk = offset % this.replica.chunkBytes;
    const checksums =
      inChunk === 0 || payloadBytes === 0
        ? packetChecksums
        : await this.continuedChunkChecksum(payload, offset, inChunk);
    const fit = replicaBytesFitting(this.dn.faults, payloadBytes);
    if (fit < payloadBytes) {
      // The enospcAfterBytes disk is full: what fits is written, then the write fails.
      await writePieces(this.dataFd, slicePieces(payload, 0, fit), offset);
      throw enospcError();
    }
    if (this.dn.faults.writeDelayMs > 0) await sleep(this.dn.faults.writeDelayMs);
    await Promise.all([
      payloadBytes > 0 ? writePieces(this.dataFd, payload, offset) : null,
      this.stageChecksums(checksums, offset, flush),
    ]);
    const end = offset + payloadBytes;
    this.replica.numBytes = Math.max(this.replica.numBytes, end);
    if (checksums.length > 0)
      this.partialChecksum =
        end % this.replica.chunkBytes === 0
          ? null
          : Buffer.from(checksums.subarray(checksums.length - checksumBytes(this.replica.checksumType)));
    const ms = performance.now() - started;
    if (ms > this.dn.config.slowIoWarnMs)
      this.log.warn({ ms: Math.round(ms), bytes: payloadBytes, offset }, 'slow write of a packet to disk');
    if (!flush) this.maybeSyncBehind(payloadBytes);
  }

  /**
   * The stored checksum for a packet that continues a partial chunk (it starts `inChunk`
   * bytes into one and, the receiver checked, ends within it): over the bytes on disk,
   * which must match the checksum kept for them, and the packet's.
   */
  private async continuedChunkChecksum(
    payload: readonly Buffer[],
    offset: number,
    inChunk: number,
  ): Promise<Buffer> {
    const { blockId } = this.replica;
    assert(
      offset === this.replica.numBytes,
      `block ${blockId}: continues at ${offset}, holds ${this.replica.numBytes}`,
    );
    assert(this.partialChecksum !== null, `block ${blockId}: no checksum kept for its partial chunk`);
    assert(this.metaStageFill === 0, `block ${blockId}: checksums staged behind a partial chunk`);
    const before = Buffer.allocUnsafe(inChunk);
    const { bytesRead } = await promisify(fs.read)(this.dataFd, before, 0, inChunk, offset - inChunk);
    const type = this.replica.checksumType;
    if (bytesRead !== inChunk || !chunkMatches(type, before, this.partialChecksum, 0))
      throw new DfsError(
        'CHECKSUM',
        `block ${blockId}: its partial last chunk on disk does not match its checksum`,
      );
    return chunkChecksum(type, Buffer.concat([before, ...payload]));
  }

  /** The bytes written so far are on disk with their checksums (a flush packet's): readers may have them. */
  publish(): void {
    this.replica.visible = { bytes: this.replica.numBytes, lastChecksum: this.partialChecksum };
  }

  /** hsync: data and checksums on disk now, whatever syncOnFinalize says (the writer asked for it). */
  async syncForHsync(): Promise<void> {
    await this.syncBehind;
    if (this.syncBehindError !== null) throw this.syncBehindError;
    const started = performance.now();
    await Promise.all([this.dn.sync.fdatasync(this.dataFd), this.dn.sync.fdatasync(this.metaFd)]);
    const ms = performance.now() - started;
    if (ms > this.dn.config.slowIoWarnMs)
      this.log.warn(
        { ms: Math.round(ms), numBytes: this.replica.numBytes, hsync: true },
        'slow fdatasync of a replica',
      );
  }

  /**
   * Sync-behind-writes: every `syncBehindWritesBytes`, an fdatasync of the data file runs
   * in the background (acks do not wait for it), so the dirty pages reach the disk while
   * the block streams and the fdatasync at finalize, which the last ack does wait for,
   * only has the tail left. One at a time; `sync` and `close` wait for it.
   */
  private maybeSyncBehind(bytes: number): void {
    const every = this.dn.config.syncBehindWritesBytes;
    if (!this.dn.config.syncOnFinalize || every <= 0) return;
    this.unsyncedBytes += bytes;
    if (this.syncBehindRunning || this.unsyncedBytes < every) return;
    this.syncBehindRunning = true;
    this.unsyncedBytes = 0;
    this.syncBehind = this.dn.sync
      .fdatasync(this.dataFd)
      // Linux reports a writeback error once: keep it, finalize must fail on it.
      .catch((err: Error) => {
        this.syncBehindError ??= err;
      })
      .finally(() => {
        this.syncBehindRunning = false;
      });
  }

  /**
   * Checksums are staged and written to the meta file a few KiB at a time (at most
   * META_STAGE_BYTES unwritten), not one small write per packet; the stage is flushed with
   * the last packet and in `close`. Returns the flush, if any.
   */
  private stageChecksums(checksums: Buffer, offset: number, last: boolean): Promise<void> | null {
    const at = checksumOffset(offset, this.replica);
    const writes: Array<Promise<void>> = [];
    if (this.metaStageFill + checksums.length > META_STAGE_BYTES) writes.push(this.flushChecksums());
    if (checksums.length > META_STAGE_BYTES) {
      writes.push(writeFully(this.metaFd, checksums, at));
    } else {
      if (this.metaStageFill === 0) this.metaStageOffset = at;
      this.metaStage ??= Buffer.allocUnsafe(META_STAGE_BYTES);
      checksums.copy(this.metaStage, this.metaStageFill);
      this.metaStageFill += checksums.length;
      if (last) writes.push(this.flushChecksums());
    }
    return writes.length === 0 ? null : Promise.all(writes).then(() => {});
  }

  private flushChecksums(): Promise<void> {
    if (this.metaStageFill === 0 || this.metaStage === null) return Promise.resolve();
    const bytes = this.metaStage.subarray(0, this.metaStageFill);
    const at = this.metaStageOffset;
    this.metaStage = null;
    this.metaStageFill = 0;
    return writeFully(this.metaFd, bytes, at);
  }

  /** With syncOnFinalize: data and checksums on disk (after any sync-behind still running). */
  async sync(): Promise<void> {
    await this.syncBehind;
    if (this.syncBehindError !== null) throw this.syncBehindError;
    if (!this.dn.config.syncOnFinalize) return;
    const started = performance.now();
    await Promise.all([this.dn.sync.fdatasync(this.dataFd), this.dn.sync.fdatasync(this.metaFd)]);
    const ms = performance.now() - started;
    if (ms > this.dn.config.slowIoWarnMs)
      this.log.warn({ ms: Math.round(ms), numBytes: this.replica.numBytes }, 'slow fdatasync of a replica');
  }

  /**
   * Closes the files after the background sync, with the staged checksums written. The
   * caller waits for every write it issued first: closing an fd under a pending write could
   * let that write land in whatever file reuses the fd number.
   */
  async close(): Promise<void> {
    await this.syncBehind;
    try {
      if (this.metaFd >= 0) await this.flushChecksums();
    } finally {
      closeFds({ data: this.dataFd, meta: this.metaFd });
      this.dataFd = -1;
      this.metaFd = -1;
    }
  }
}

function closeFds(fds: { data: number; meta: number }): void {
  if (fds.data >= 0) fs.close(fds.data, () => {});
  if (fds.meta >= 0) fs.close(fds.meta, () => {});
}

export function diskError(err: unknown, what: string): DfsError {
  rethrowIfBug(err);
  if (err instanceof DfsError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT')
    return new DfsError('NO_SPACE', `${what}: disk full`, { cause: err });
  if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM')
    return new DfsError('ACCESS_DENIED', `${what}: ${code}`, { cause: err });
  return new DfsError('INTERNAL', `${what}: ${(err as Error).message}`, { cause: err });
}
