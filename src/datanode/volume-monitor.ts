/**
 * What the DataNode does when its disks misbehave (HDFS `DiskChecker` and the volume
 * failure handling of `FsDatasetImpl`):
 *
 *   | event                                          | action                                               |
 *   |------------------------------------------------|------------------------------------------------------|
 *   | a replica read (client, copy, scanner): ENOENT | drop it from the map, report it deleted              |
 *   | a replica read: EIO                            | the same (files removed if they can be), check volume|
 *   | any other I/O error on read or write but       | check the volume                                     |
 *   |   ENOENT, ENOSPC, EDQUOT (EIO, EROFS, ENOTDIR) |                                                      |
 *   | every directory scan (directory-scanner.ts)    | check every volume in service                        |
 *   | a volume check fails                           | volume out of service: error line, its replicas      |
 *   |                                                |   dropped and reported deleted, no new replicas      |
 *   | no volume left in service                      | fatal line; the DataNode stops                       |
 *
 * A vanished or unreadable replica is reported through the incremental report's `deleted`
 * list (blockReceived), not reportBadBlocks: the replica is no longer held here, and the
 * NameNode forgets it at once and schedules a new copy. reportBadBlocks marks a copy that
 * still exists as corrupt and keeps it until it is deleted by command; this node has
 * nothing left to delete, and the copy would stay out of fsck's live count just the same.
 * HDFS does the same for a missing block file (`FsDatasetImpl.invalidate`,
 * `notifyNamenodeDeletedBlock`).
 *
 * ENOSPC is not a volume failure: a full disk is refused per write (NO_SPACE) and stays in
 * service, since deletes will free it. A volume check is a small file created, written,
 * fsynced and removed under the volume's current/ directory, with rbw/ and finalized/
 * still directories; checks of one volume do not overlap.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DfsError, rethrowIfBug } from '../../protocol/errors.js';
import type { FileSync } from '../common/file-sync.js';
import type { Logger } from '../common/logger.js';
import { diskError } from './replica-writer.js';
import type { Replica, Storage, Volume } from './storage.js';

/** Error codes of the OS that say nothing about the health of the volume. */
const NOT_VOLUME_FAULTS = new Set(['ENOENT', 'ENOSPC', 'EDQUOT']);
/**
 * Error codes of a process or system short of something for a moment (descriptors, memory,
 * a busy device, an interrupted call): never a reason to take a volume out of service,
 * which lasts until a restart. The operation fails; the next one may succeed.
 */
const TRANSIENT = new Set(['EMFILE', 'ENFILE', 'ENOMEM', 'EAGAIN', 'EBUSY', 'EINTR', 'ETIMEDOUT']);

/** What the monitor tells the rest of the DataNode. */
export interface VolumeEvents {
  /** The replica of this block is no longer held here (report it deleted to the NameNode). */
  replicaDropped(blockId: number): void;
  /** The volume at `dir` was taken out of service (counted for /metrics). */
  volumeFailed?(dir: string): void;
  /** No volume is left in service: the DataNode must stop. */
  allVolumesFailed(err: DfsError): void;
}

/** The OS error code of `err` or of its cause (a DfsError wrapping a disk error), if any. */
export function osErrorCode(err: unknown): string | undefined {
  for (let e = err; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof (e as NodeJS.ErrnoException).errno === 'number' && typeof code === 'string') return code;
  }
  return undefined;
}

export class VolumeMonitor {
  private readonly checking = new Map<Volume, Promise<boolean>>();
  volumeChecks = 0;

  constructor(
    private readonly storage: Storage,
    private readonly log: Logger,
    private readonly sync: FileSync,
    private readonly events: VolumeEvents,
  ) {}

  /**
   * A read of `r`'s files failed. Returns the typed error to answer with: NOT_FOUND for a
   * vanished replica, the disk error otherwise.
   */
  replicaUnreadable(r: Replica, err: unknown): DfsError {
    rethrowIfBug(err);
    const code = osErrorCode(err);
    if ((code === 'ENOENT' || code === 'EIO') && this.storage.dropReplica(r)) {
      this.log.warn(
        { block: r.blockId, gen: r.genStamp, volume: r.volume.dir, code },
        'replica files unreadable; dropped and reported to the NameNode',
      );
      // The files are kept aside, not deleted: an EIO may pass, and this may have been the
      // last good copy. The NameNode re-replicates from the others; an operator may recover it.
      if (code === 'EIO') void this.quarantine(r);
      this.events.replicaDropped(r.blockId);
    }
    this.ioError(r.volume, err);
    if (code === 'ENOENT')
      return new DfsError('NOT_FOUND', `replica of block ${r.blockId} is gone from ${r.volume.dir}`);
    return diskError(err, `cannot read replica of block ${r.blockId}`);
  }

  /** Moves an unreadable replica to `current/quarantine/` (best effort, logged). */
  private async quarantine(r: Replica): Promise<void> {
    const to = r.volume.quarantineTarget(`blk_${r.blockId}_${r.genStamp}`);
    try {
      await fs.promises.mkdir(r.volume.quarantineDir, { recursive: true });
      await fs.promises.rename(r.volume.replicaDir(r.state, r.blockId), to);
      this.log.warn(
        { block: r.blockId, to },
        'unreadable replica moved to quarantine (remove it once healed)',
      );
    } catch (err) {
      rethrowIfBug(err);
      this.log.warn({ block: r.blockId, err: (err as Error).message }, 'unreadable replica left in place');
    }
  }

  /**
   * An I/O error on `v` (read or write): anything but a missing file, a full disk or a
   * transient shortage (descriptors, memory) checks the volume.
   */
  ioError(v: Volume, err: unknown): void {
    const code = osErrorCode(err);
    if (code === undefined || NOT_VOLUME_FAULTS.has(code) || TRANSIENT.has(code) || v.state !== 'inService')
      return;
    this.log.warn({ volume: v.dir, code }, 'I/O error on a volume; checking it');
    void this.check(v);
  }

  /** Checks every volume in service; resolves once all checks are done. */
  async checkAll(): Promise<void> {
    await Promise.all(this.storage.inService().map((v) => this.check(v)));
  }

  /** Checks `v` (one check at a time per volume); false when it failed and is out of service now. */
  check(v: Volume): Promise<boolean> {
    if (v.state !== 'inService') return Promise.resolve(false);
    let running = this.checking.get(v);
    if (running === undefined) {
      running = this.probe(v).finally(() => this.checking.delete(v));
      this.checking.set(v, running);
    }
    return running;
  }

  private async probe(v: Volume): Promise<boolean> {
    this.volumeChecks++;
    const file = path.join(v.dir, 'current', `.volume-check-${process.pid}`);
    try {
      for (const dir of [v.rbwDir, v.finalizedDir]) {
        if (!(await fs.promises.stat(dir)).isDirectory())
          throw new DfsError('NOT_A_DIRECTORY', `${dir} is not a directory`);
      }
      const fh = await fs.promises.open(file, 'w');
      try {
        await fh.write(Buffer.from('dfs volume check\n'));
        await this.sync.fsync(fh.fd);
      } finally {
        await fh.close();
      }
      await fs.promises.rm(file);
      return true;
    } catch (err) {
      rethrowIfBug(err);
      // A disk full enough that the probe cannot be written is full, not failed; a process
      // short of descriptors or memory says nothing of the disk either.
      const code = osErrorCode(err);
      if (code === 'ENOSPC' || code === 'EDQUOT') return true;
      if (code !== undefined && TRANSIENT.has(code)) {
        this.log.warn(
          { volume: v.dir, code },
          'volume check could not run (transient); the volume stays in service',
        );
        return true;
      }
      this.fail(v, err as Error);
      return false;
    }
  }

  private fail(v: Volume, err: Error): void {
    if (v.state !== 'inService') return;
    const dropped = this.storage.failVolume(v);
    const left = this.storage.inService().length;
    this.log.error(
      {
        volume: v.dir,
        err: err.message,
        code: osErrorCode(err) ?? (err instanceof DfsError ? err.code : undefined),
        replicasDropped: dropped.length,
        volumesInService: left,
        volumesFailed: this.storage.volumes.length - left,
      },
      'volume failed; taken out of service',
    );
    this.events.volumeFailed?.(v.dir);
    for (const r of dropped) this.events.replicaDropped(r.blockId);
    if (left === 0)
      this.events.allVolumesFailed(
        new DfsError('INTERNAL', `every volume has failed (last: ${v.dir}: ${err.message})`),
      );
  }
}
