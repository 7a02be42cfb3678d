/**
 * DataNode storage: one or more volumes (data directories), each laid out as
 *
 *   DIR/VERSION                          {"clusterId", "nodeId"} (JSON; cluster id learnt on first contact)
 *   DIR/current/rbw/blk_<id>/{data,meta}        replicas being written
 *   DIR/current/finalized/blk_<id>/{data,meta}  finished replicas
 *   DIR/current/quarantine/blk_<id>...          replicas this node could not read, kept for an operator
 *
 * A replica is a directory so that finalizing it is one atomic rename (data and metadata
 * move together). On start every volume is scanned: replicas with a readable meta header
 * are loaded, finalized and unfinished (rbw/: a write that had not finished) alike. An
 * unfinished replica is kept for the NameNode to judge: its block reports list it, and the
 * NameNode keeps it while its block is being written (a block recovery may need its bytes,
 * src/datanode/replica-recovery.ts) or has it deleted. The space unfinished replicas take
 * counts as used in `report`.
 *
 * A volume is `inService` or `failed` (one way: HDFS takes a failed volume out until the
 * DataNode restarts). A failed volume gets no new replica, its replicas leave the map, and
 * it no longer counts in the capacity reported; volume-monitor.ts decides when one fails.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ChecksumType } from '../../protocol/data-messages.js';
import type { VolumeReport } from '../../protocol/datanode-namenode-messages.js';
import { DfsError, rethrowIfBug } from '../../protocol/errors.js';
import type { Block } from '../../protocol/shared-structures.js';
import { fsyncDir, writeFileAtomic } from '../common/fs-util.js';
import type { Logger } from '../common/logger.js';
import { decodeMetaHeader, META_HEADER_BYTES } from './replica-meta.js';

export interface Replica {
  blockId: number;
  genStamp: number;
  numBytes: number;
  chunkBytes: number;
  /** The algorithm of its stored checksums, from its meta file (replica-meta.ts). */
  checksumType: ChecksumType;
  volume: Volume;
  state: 'rbw' | 'finalized';
  /**
   * An unfinished replica a pipeline is writing right now: what readers may be served of it
   * (hflush, append). `bytes` are on disk with their checksums; the checksum of a last
   * partial chunk is kept here (as stored: checksumBytes(checksumType) bytes), since the
   * writer rewrites that slot as the chunk grows.
   * Absent: not readable until finalized (a left-over rbw replica, found at start-up).
   */
  visible?: { bytes: number; lastChecksum: Buffer | null };
}

export type VolumeState = 'inService' | 'failed';

export class Volume {
  readonly rbwDir: string;
  readonly finalizedDir: string;
  /** Replica directories this node cannot use, kept for an operator: never served, never reported. */
  readonly quarantineDir: string;
  usedBytes = 0;
  state: VolumeState = 'inService';

  constructor(readonly dir: string) {
    this.rbwDir = path.join(dir, 'current', 'rbw');
    this.finalizedDir = path.join(dir, 'current', 'finalized');
    this.quarantineDir = path.join(dir, 'current', 'quarantine');
  }

  /** Where replica directory `name` goes when quarantined (a new name each time). */
  quarantineTarget(name: string): string {
    return path.join(this.quarantineDir, `${name}-${Date.now()}`);
  }

  replicaDir(state: 'rbw' | 'finalized', blockId: number): string {
    return path.join(state === 'rbw' ? this.rbwDir : this.finalizedDir, `blk_${blockId}`);
  }

  /** Capacity and space left for DFS on this volume's file system. */
  space(reservedBytes: number): { capacityBytes: number; remainingBytes: number } {
    const st = fs.statfsSync(this.dir);
    const capacityBytes = st.blocks * st.bsize;
    const remainingBytes = Math.max(0, st.bavail * st.bsize - reservedBytes);
    return { capacityBytes, remainingBytes };
  }
}

interface VersionFile {
  clusterId: string;
  nodeId: string;
}

export class Storage {
  readonly volumes: Volume[];
  readonly replicas = new Map<number, Replica>();
  /** Replicas whose files are being removed (a delete under way): no scan may load them back. */
  readonly deleting = new Set<number>();
  /**
   * Told when a volume's space cannot be read (its directory gone, say): the DataNode checks
   * the volume (volume-monitor.ts). Until then the volume counts for nothing and gets no replica.
   */
  onVolumeError: (v: Volume, err: unknown) => void = () => {};
  nodeId = '';
  clusterId = '';
  private nextVolume = 0;

  constructor(
    dirs: string[],
    private readonly reservedBytes: number,
    private readonly log: Logger,
  ) {
    if (dirs.length === 0) throw new DfsError('INVALID_ARGUMENT', 'a DataNode needs at least one --data-dir');
    this.volumes = dirs.map((d) => new Volume(path.resolve(d)));
  }

  /** Creates the layout where missing, checks every volume belongs to one node and cluster. */
  async open(): Promise<void> {
    const seen: VersionFile[] = [];
    for (const v of this.volumes) {
      fs.mkdirSync(v.rbwDir, { recursive: true });
      fs.mkdirSync(v.finalizedDir, { recursive: true });
      fs.accessSync(v.dir, fs.constants.W_OK);
      const file = path.join(v.dir, 'VERSION');
      if (fs.existsSync(file)) seen.push(JSON.parse(fs.readFileSync(file, 'utf8')) as VersionFile);
    }
    const ids = new Set(seen.map((s) => s.nodeId));
    const clusters = new Set(seen.map((s) => s.clusterId).filter((c) => c !== ''));
    if (ids.size > 1)
      throw new DfsError(
        'WRONG_CLUSTER',
        `data directories belong to different DataNodes: ${[...ids].join(', ')}`,
      );
    if (clusters.size > 1)
      throw new DfsError(
        'WRONG_CLUSTER',
        `data directories belong to different clusters: ${[...clusters].join(', ')}`,
      );
    this.nodeId = seen[0]?.nodeId ?? `DN-${randomUUID()}`;
    this.clusterId = [...clusters][0] ?? '';
    await this.writeVersion();
    for (const v of this.volumes) this.scanFinalized(v);
    for (const v of this.volumes) this.scanUnfinished(v);
  }

  /** Records the cluster id learnt from the NameNode (first contact only). */
  async adoptCluster(clusterId: string): Promise<void> {
    if (this.clusterId !== '' && this.clusterId !== clusterId) {
      throw new DfsError(
        'WRONG_CLUSTER',
        `this DataNode belongs to cluster ${this.clusterId}, the NameNode serves ${clusterId}`,
      );
    }
    if (this.clusterId === clusterId) return;
    this.clusterId = clusterId;
    await this.writeVersion();
  }

  private async writeVersion(): Promise<void> {
    const text = `${JSON.stringify({ clusterId: this.clusterId, nodeId: this.nodeId }, null, 2)}\n`;
    for (const v of this.inService()) await writeFileAtomic(path.join(v.dir, 'VERSION'), Buffer.from(text));
  }

  inService(): Volume[] {
    return this.volumes.filter((v) => v.state === 'inService');
  }

  private scanFinalized(v: Volume): void {
    for (const name of fs.readdirSync(v.finalizedDir)) {
      const m = /^blk_(\d+)$/.exec(name);
      if (m) this.loadReplica(v, Number(m[1]), 'finalized');
    }
  }

  /** Loads rbw/ after finalized/: a block found finalized wins over an rbw copy, which is removed. */
  private scanUnfinished(v: Volume): void {
    let unfinished = 0;
    for (const name of fs.readdirSync(v.rbwDir)) {
      const m = /^blk_(\d+)$/.exec(name);
      if (!m) continue;
      const blockId = Number(m[1]);
      if (this.replicas.has(blockId)) {
        const dir = v.replicaDir('rbw', blockId);
        fs.rmSync(dir, { recursive: true, force: true });
        this.log.info({ replica: dir }, 'unfinished copy of a finalized replica removed');
        continue;
      }
      const r = this.loadReplica(v, blockId, 'rbw');
      if (r === null) continue;
      unfinished++;
      this.log.debug(
        { replica: r.blockId, gen: r.genStamp, numBytes: r.numBytes },
        'unfinished replica found',
      );
    }
    if (unfinished > 0)
      this.log.info({ volume: v.dir, unfinished }, 'unfinished replicas kept for the NameNode to judge');
  }

  /**
   * Adds the replica found in `v` to the map when its meta header reads back (at start, and
   * for a finalized one the directory scanner found on disk but not in the map); an
   * unreadable one is moved to the volume's quarantine/. Returns the replica, or null.
   */
  loadFinalized(v: Volume, blockId: number): Replica | null {
    return this.loadReplica(v, blockId, 'finalized');
  }

  private loadReplica(v: Volume, blockId: number, state: 'rbw' | 'finalized'): Replica | null {
    const dir = v.replicaDir(state, blockId);
    try {
      const metaHead = Buffer.alloc(META_HEADER_BYTES);
      const fd = fs.openSync(path.join(dir, 'meta'), 'r');
      try {
        fs.readSync(fd, metaHead, 0, META_HEADER_BYTES, 0);
      } finally {
        fs.closeSync(fd);
      }
      const h = decodeMetaHeader(metaHead, dir);
      const numBytes = fs.statSync(path.join(dir, 'data')).size;
      const r: Replica = {
        blockId,
        genStamp: h.genStamp,
        numBytes,
        chunkBytes: h.chunkBytes,
        checksumType: h.checksumType,
        volume: v,
        state,
      };
      this.replicas.set(blockId, r);
      if (state === 'finalized') v.usedBytes += numBytes;
      return r;
    } catch (err) {
      rethrowIfBug(err);
      // Moved aside, not deleted: a replica of a format this release does not know (written
      // by a newer one, before a rollback) must survive the rollback.
      const to = v.quarantineTarget(`blk_${blockId}`);
      try {
        fs.mkdirSync(v.quarantineDir, { recursive: true });
        fs.renameSync(dir, to);
        this.log.warn(
          { replica: dir, to, err: (err as Error).message },
          'unreadable replica moved to quarantine (damaged, or of a format this release does not read)',
        );
      } catch (moveErr) {
        rethrowIfBug(moveErr);
        this.log.warn(
          { replica: dir, err: (err as Error).message, moveErr: (moveErr as Error).message },
          'unreadable replica left in place',
        );
      }
      return null;
    }
  }

  /** A volume with room for `bytes` more (round robin), or NO_SPACE. */
  chooseVolume(bytes: number): Volume {
    for (let i = 0; i < this.volumes.length; i++) {
      const v = this.volumes[(this.nextVolume + i) % this.volumes.length]!;
      if (v.state === 'inService' && (this.spaceOf(v)?.remainingBytes ?? 0) >= bytes) {
        this.nextVolume = (this.nextVolume + i + 1) % this.volumes.length;
        return v;
      }
    }
    throw new DfsError(
      'NO_SPACE',
      `no volume in service has ${bytes} bytes free (reserved ${this.reservedBytes} per volume)`,
    );
  }

  /**
   * What the NameNode hears in registrations and heartbeats: the volumes in service, how
   * many failed, and the bytes used by replicas, finalized and unfinished (being written, or
   * left by a writer that vanished), so the space the latter take is visible to operators
   * (`dfs admin report`, `dfs df`). One pass over the replicas per heartbeat (measured:
   * ~1 ms per 100,000 replicas).
   */
  report(): { capacityBytes: number; usedBytes: number; remainingBytes: number; failedVolumes: number } {
    let capacityBytes = 0;
    let remainingBytes = 0;
    let usedBytes = 0;
    for (const v of this.inService()) {
      const s = this.spaceOf(v);
      if (s === null) continue;
      capacityBytes += s.capacityBytes;
      remainingBytes += s.remainingBytes;
      usedBytes += v.usedBytes;
    }
    for (const r of this.replicas.values()) if (r.state === 'rbw') usedBytes += r.numBytes;
    return {
      capacityBytes,
      usedBytes,
      remainingBytes,
      failedVolumes: this.volumes.length - this.inService().length,
    };
  }

  /** Each volume's figures, failed ones included, for the heartbeat (the NameNode's per-volume view). */
  volumeReports(): VolumeReport[] {
    const unfinished = new Map<Volume, number>();
    for (const r of this.replicas.values())
      if (r.state === 'rbw') unfinished.set(r.volume, (unfinished.get(r.volume) ?? 0) + r.numBytes);
    return this.volumes.map((v) => {
      const s = v.state === 'inService' ? this.spaceOf(v) : null;
      return {
        path: v.dir,
        capacityBytes: s?.capacityBytes ?? 0,
        usedBytes: s === null ? 0 : v.usedBytes + (unfinished.get(v) ?? 0),
        failed: v.state === 'failed',
      };
    });
  }

  private spaceOf(v: Volume): { capacityBytes: number; remainingBytes: number } | null {
    try {
      return v.space(this.reservedBytes);
    } catch (err) {
      rethrowIfBug(err);
      this.onVolumeError(v, err);
      return null;
    }
  }

  finalizedBlocks(): Block[] {
    const out: Block[] = [];
    for (const r of this.replicas.values()) {
      if (r.state === 'finalized')
        out.push({ blockId: r.blockId, genStamp: r.genStamp, numBytes: r.numBytes });
    }
    return out;
  }

  /** Unfinished (rbw) replicas, with the bytes written so far: listed apart in block reports. */
  unfinishedBlocks(): Block[] {
    const out: Block[] = [];
    for (const r of this.replicas.values()) {
      if (r.state === 'rbw') out.push({ blockId: r.blockId, genStamp: r.genStamp, numBytes: r.numBytes });
    }
    return out;
  }

  /** Moves a replica from rbw to finalized in one rename, durably. */
  async finalize(r: Replica): Promise<void> {
    if (r.volume.state !== 'inService')
      throw new DfsError(
        'INTERNAL',
        `volume ${r.volume.dir} failed; replica of block ${r.blockId} not finalized`,
      );
    const from = r.volume.replicaDir('rbw', r.blockId);
    const to = r.volume.replicaDir('finalized', r.blockId);
    await fs.promises.rm(to, { recursive: true, force: true });
    await fs.promises.rename(from, to);
    await fsyncDir(r.volume.finalizedDir);
    r.state = 'finalized';
    r.volume.usedBytes += r.numBytes;
  }

  /** Deletes a replica if we hold it with a generation stamp no newer than `genStamp`. */
  async delete(blockId: number, genStamp: number): Promise<boolean> {
    const r = this.replicas.get(blockId);
    if (r === undefined || r.genStamp > genStamp) return false;
    this.dropReplica(r);
    this.deleting.add(blockId);
    try {
      await fs.promises.rm(r.volume.replicaDir(r.state, blockId), { recursive: true, force: true });
    } finally {
      this.deleting.delete(blockId);
    }
    return true;
  }

  /** Forgets `r` (its files are gone or unusable); false when the map holds another replica of the block. */
  dropReplica(r: Replica): boolean {
    if (this.replicas.get(r.blockId) !== r) return false;
    this.replicas.delete(r.blockId);
    if (r.state === 'finalized') r.volume.usedBytes -= r.numBytes;
    return true;
  }

  /**
   * Takes `v` out of service: no new replica is placed on it, and every replica on it
   * leaves the map. Returns the finalized replicas dropped (the NameNode must hear of them).
   */
  failVolume(v: Volume): Replica[] {
    const dropped: Replica[] = [];
    if (v.state === 'failed') return dropped;
    v.state = 'failed';
    for (const r of [...this.replicas.values()]) {
      if (r.volume === v && this.dropReplica(r) && r.state === 'finalized') dropped.push(r);
    }
    v.usedBytes = 0;
    return dropped;
  }
}
