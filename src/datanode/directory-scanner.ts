/**
 * Reconciles what the DataNode believes it holds with what its disks hold (HDFS
 * `DirectoryScanner`), every `directoryScanIntervalMs`, cheaply: one readdir of each
 * volume's finalized/ directory and a stat of each replica's data and meta files, no data
 * read. Each volume is checked first (volume-monitor.ts); a failed one is not scanned.
 *
 *   | map            | disk                         | action                                       |
 *   |----------------|------------------------------|----------------------------------------------|
 *   | finalized      | no replica directory         | drop it, report it deleted                   |
 *   | (none)         | blk_<id>/ with a good header | load it, report it received                  |
 *   | finalized      | data or meta size differs    | verify its checksums (block scanner); report |
 *   |                |                              |   it corrupt if they do not match            |
 *
 * rbw/ is not scanned: replicas being written change size all the time, and unfinished
 * replicas are the business of start-up and of block reports.
 *
 * The listing and stats are asynchronous, so a replica may be finalized, recovered or
 * deleted while a volume is scanned. Each difference is therefore checked again, without
 * an await, just before it is acted on: the map must still hold the same replica in the
 * same state (or still no replica and no delete under way), and the directory must still
 * be missing (or present).
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { rethrowIfBug } from '../../protocol/errors.js';
import type { Block } from '../../protocol/shared-structures.js';
import type { DataNodeContext } from './datanode-context.js';
import { checksumOffset } from './replica-meta.js';
import type { Replica, Volume } from './storage.js';
import { osErrorCode, type VolumeMonitor } from './volume-monitor.js';

export interface ScanDifferences {
  /** Replicas in the map whose files are gone (dropped, reported deleted). */
  missing: number;
  /** Replicas on disk the map lacked (loaded, reported received). */
  added: number;
  /** Replicas whose sizes on disk differ from the map (verified). */
  mismatched: number;
  /** Volumes taken out of service by this scan's checks. */
  volumesFailed: number;
}

export class DirectoryScanner {
  private readonly controller = new AbortController();
  private stopped = false;
  scans = 0;

  constructor(
    private readonly dn: DataNodeContext,
    private readonly monitor: VolumeMonitor,
    /** Verifies a replica's checksums, reporting it corrupt if bad (block-scanner.ts). */
    private readonly verify: (blockId: number) => Promise<unknown>,
    private readonly received: (b: Block) => void,
  ) {}

  start(): void {
    if (this.dn.config.directoryScanIntervalMs > 0) void this.run();
  }

  stop(): void {
    this.stopped = true;
    this.controller.abort();
  }

  private async run(): Promise<void> {
    try {
      for (;;) {
        await sleep(this.dn.config.directoryScanIntervalMs, undefined, { signal: this.controller.signal });
        if (this.stopped) return;
        await this.scan();
      }
    } catch (err) {
      rethrowIfBug(err);
      if (!this.stopped) this.dn.log.error({ err }, 'directory scanner stopped');
    }
  }

  /** One pass over every volume in service; logs a summary line when it found differences. */
  async scan(): Promise<ScanDifferences> {
    const started = Date.now();
    const diff: ScanDifferences = { missing: 0, added: 0, mismatched: 0, volumesFailed: 0 };
    for (const v of this.dn.storage.inService()) {
      if (this.stopped) break;
      if (!(await this.monitor.check(v))) {
        diff.volumesFailed++;
        continue;
      }
      try {
        await this.scanVolume(v, diff);
      } catch (err) {
        rethrowIfBug(err);
        // The listing failed: the volume itself is suspect.
        this.dn.log.warn({ volume: v.dir, err: (err as Error).message }, 'directory scan of a volume failed');
        this.monitor.ioError(v, err);
      }
    }
    this.scans++;
    const found = diff.missing + diff.added + diff.mismatched + diff.volumesFailed;
    const fields = { ...diff, replicas: this.dn.storage.replicas.size, ms: Date.now() - started };
    if (found > 0) this.dn.log.warn(fields, 'directory scan found differences between memory and disk');
    else this.dn.log.info(fields, 'directory scan found no differences');
    return diff;
  }

  private async scanVolume(v: Volume, diff: ScanDifferences): Promise<void> {
    const { storage } = this.dn;
    const onDisk = new Set<number>();
    for (const name of await fs.promises.readdir(v.finalizedDir)) {
      const m = /^blk_(\d+)$/.exec(name);
      if (m) onDisk.add(Number(m[1]));
    }
    const inMap = [...storage.replicas.values()].filter((r) => r.volume === v && r.state === 'finalized');
    for (const r of inMap) {
      if (!onDisk.has(r.blockId)) {
        if (this.dropIfGone(r)) diff.missing++;
        continue;
      }
      const sizes = await statSizes(r);
      if (sizes === null) {
        if (this.dropIfGone(r)) diff.missing++;
      } else if (
        sizes.data !== r.numBytes ||
        sizes.meta !== checksumOffset(r.numBytes + r.chunkBytes - 1, r)
      ) {
        if (storage.replicas.get(r.blockId) !== r || r.state !== 'finalized') continue;
        diff.mismatched++;
        this.dn.log.warn(
          {
            block: r.blockId,
            volume: v.dir,
            numBytes: r.numBytes,
            dataBytes: sizes.data,
            metaBytes: sizes.meta,
          },
          'replica size on disk differs from memory; verifying it',
        );
        await this.verify(r.blockId);
      }
    }
    for (const blockId of onDisk) {
      // Checked again with no await before acting: see the header.
      if (storage.replicas.has(blockId) || storage.deleting.has(blockId)) continue;
      if (!fs.existsSync(v.replicaDir('finalized', blockId))) continue;
      const r = storage.loadFinalized(v, blockId);
      if (r === null) continue;
      diff.added++;
      this.dn.log.warn(
        { block: blockId, gen: r.genStamp, volume: v.dir },
        'replica found on disk; loaded and reported',
      );
      this.received({ blockId, genStamp: r.genStamp, numBytes: r.numBytes });
    }
  }

  /**
   * Drops `r` when its data or meta file is still gone and the map still holds it
   * finalized. What is left of its directory is removed by the next scan, which finds it
   * unreadable.
   */
  private dropIfGone(r: Replica): boolean {
    const { storage } = this.dn;
    if (storage.replicas.get(r.blockId) !== r || r.state !== 'finalized') return false;
    const dir = r.volume.replicaDir('finalized', r.blockId);
    if (fs.existsSync(path.join(dir, 'data')) && fs.existsSync(path.join(dir, 'meta'))) return false;
    const err = Object.assign(new Error(`replica directory of block ${r.blockId} is gone`), {
      code: 'ENOENT',
      errno: -2,
    });
    this.monitor.replicaUnreadable(r, err);
    return true;
  }
}

/** Sizes of a replica's data and meta files; null when either is gone. */
async function statSizes(r: Replica): Promise<{ data: number; meta: number } | null> {
  const dir = r.volume.replicaDir('finalized', r.blockId);
  try {
    const [data, meta] = await Promise.all([
      fs.promises.stat(path.join(dir, 'data')),
      fs.promises.stat(path.join(dir, 'meta')),
    ]);
    return { data: data.size, meta: meta.size };
  } catch (err) {
    rethrowIfBug(err);
    if (osErrorCode(err) === 'ENOENT') return null;
    throw err;
  }
}
