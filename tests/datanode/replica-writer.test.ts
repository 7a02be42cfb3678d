/**
 * The replica writer's syncs, observed through its FileSync seam (src/common/file-sync.ts):
 * sync-behind starts one background fdatasync of the data file per `syncBehindWritesBytes`
 * written (never two at once), `sync()` does not resolve before the fdatasyncs of both the
 * data and the meta file completed, and with syncOnFinalize off nothing is synced at all. And
 * how a new replica is created over what a failed create or an old copy left behind.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChecksumType } from '../../protocol/data-messages.js';
import { DATANODE_DEFAULTS, type DataNodeConfig } from '../../src/common/config.js';
import { faultsFromEnv } from '../../src/common/fault-injector.js';
import { osFileSync, type FileSync } from '../../src/common/file-sync.js';
import { silentLogger } from '../../src/common/logger.js';
import {
  TransferCount,
  WritesInProgress,
  type DataNodeContext,
} from '../../src/datanode/datanode-context.js';
import { ReplicaWriter } from '../../src/datanode/replica-writer.js';
import { VolumeMonitor } from '../../src/datanode/volume-monitor.js';
import { DatanodeMetrics } from '../../src/datanode/datanode-metrics.js';
import { Storage } from '../../src/datanode/storage.js';

const KiB = 1024;
const CHUNK = 4 * KiB;
const PACKET = 16 * KiB;
const dirs: string[] = [];

afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

interface Recorder {
  sync: FileSync;
  /** fd of every fdatasync, in call order. */
  calls: number[];
  /** fdatasyncs not yet let go. */
  held: Array<() => void>;
  /** Each fdatasync as the caller sees it: settles once let go and done, in call order. */
  done: Array<Promise<void>>;
}

function recorder(hold: boolean): Recorder {
  const r: Recorder = {
    calls: [],
    held: [],
    done: [],
    sync: {
      fdatasync: (fd) => {
        r.calls.push(fd);
        const p = hold
          ? new Promise<void>((resolve) => r.held.push(resolve)).then(() => osFileSync.fdatasync(fd))
          : osFileSync.fdatasync(fd);
        r.done.push(p);
        return p;
      },
      fsync: (fd) => osFileSync.fsync(fd),
    },
  };
  return r;
}

async function context(config: Partial<DataNodeConfig>, sync: FileSync): Promise<DataNodeContext> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-replica-writer-'));
  dirs.push(dir);
  const log = silentLogger();
  const storage = new Storage([dir], 0, log);
  await storage.open();
  return {
    config: { ...DATANODE_DEFAULTS, dataDirs: [dir], ...config },
    storage,
    log,
    self: () => ({ nodeId: storage.nodeId, host: '127.0.0.1', port: 0 }),
    blockReceived: () => {},
    faults: faultsFromEnv({}),
    sync,
    disk: new VolumeMonitor(storage, log, sync, { replicaDropped: () => {}, allVolumesFailed: () => {} }),
    transfers: new TransferCount(),
    writes: new WritesInProgress(),
    metrics: new DatanodeMetrics(),
  };
}

/** Writes `packets` full packets and a last one of `tail` bytes, one after the other. */
async function writeBlock(w: ReplicaWriter, packets: number, tail: number): Promise<void> {
  let offset = 0;
  for (let i = 0; i <= packets; i++) {
    const bytes = i < packets ? PACKET : tail;
    const payload = Buffer.alloc(bytes, i);
    const checksums = Buffer.alloc(4 * Math.ceil(bytes / CHUNK));
    await w.write([payload], bytes, checksums, offset, i === packets);
    offset += bytes;
  }
}

const owner = { stopForRecovery: () => {} };
const block = { blockId: 42, genStamp: 1, numBytes: 0 };

describe('ReplicaWriter syncs', () => {
  it('sync-behind: a background fdatasync of the data file per syncBehindWritesBytes, one at a time', async () => {
    const rec = recorder(true);
    const dn = await context({ syncOnFinalize: true, syncBehindWritesBytes: 4 * PACKET }, rec.sync);
    const w = await ReplicaWriter.create(dn, block, CHUNK, ChecksumType.XXH32, dn.log, owner);
    let offset = 0;
    const packet = async (bytes = PACKET, last = false): Promise<void> => {
      const checksums = Buffer.alloc(4 * Math.ceil(bytes / CHUNK));
      await w.write([Buffer.alloc(bytes, 7)], bytes, checksums, offset, last);
      offset += bytes;
    };
    for (let i = 0; i < 3; i++) await packet();
    expect(rec.calls).toHaveLength(0);
    await packet(); // 4 x PACKET written: the first sync starts (and is held)
    expect(rec.calls).toHaveLength(1);
    for (let i = 0; i < 8; i++) await packet();
    expect(rec.calls).toHaveLength(1); // never two at once
    rec.held.shift()!();
    // Once the released sync is done and the writer's callbacks on it have run.
    await rec.done[0];
    await new Promise((r) => setImmediate(r));
    await packet(); // far past the next threshold: the second starts at once
    expect(rec.calls).toHaveLength(2);
    const dataFd = rec.calls[0]!;
    expect(rec.calls[1]).toBe(dataFd);
    rec.held.shift()!();
    await packet(100, true);
    // The final sync waits for any sync-behind, then syncs the data and the meta file.
    const syncing = w.sync();
    for (let i = 0; i < 200 && rec.held.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    expect(rec.calls).toHaveLength(4);
    expect(new Set(rec.calls.slice(2)).size).toBe(2);
    for (const release of rec.held.splice(0)) release();
    await syncing;
    await w.close();
  });

  it('sync() resolves only after the fdatasyncs of the data and meta files completed', async () => {
    const rec = recorder(true);
    const dn = await context({ syncOnFinalize: true, syncBehindWritesBytes: 0 }, rec.sync);
    const w = await ReplicaWriter.create(dn, block, CHUNK, ChecksumType.XXH32, dn.log, owner);
    await writeBlock(w, 2, 100);
    expect(rec.calls).toEqual([]);
    let synced = false;
    const syncing = w.sync().then(() => {
      synced = true;
    });
    for (let i = 0; i < 200 && rec.held.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    expect(rec.held.length).toBe(2);
    await new Promise((r) => setTimeout(r, 30));
    expect(synced).toBe(false);
    rec.held.shift()!();
    await new Promise((r) => setTimeout(r, 30));
    expect(synced).toBe(false);
    rec.held.shift()!();
    await syncing;
    expect(synced).toBe(true);
    await w.close();
  });

  it('with syncOnFinalize off, nothing is synced', async () => {
    const rec = recorder(false);
    const dn = await context({ syncOnFinalize: false, syncBehindWritesBytes: PACKET }, rec.sync);
    const w = await ReplicaWriter.create(dn, block, CHUNK, ChecksumType.XXH32, dn.log, owner);
    await writeBlock(w, 8, 100);
    await w.sync();
    await w.close();
    expect(rec.calls).toEqual([]);
  });
});

describe('ReplicaWriter.create', () => {
  it('replaces the files of a create that failed half-way (on disk, unknown to the node) with a fresh replica', async () => {
    const dn = await context({ syncOnFinalize: false }, osFileSync);
    const dir = dn.storage.volumes[0]!.replicaDir('rbw', block.blockId);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'data'), Buffer.alloc(3 * PACKET, 0xee));
    fs.writeFileSync(path.join(dir, 'meta'), Buffer.alloc(999, 0xee));
    const w = await ReplicaWriter.create(dn, block, CHUNK, ChecksumType.XXH32, dn.log, owner);
    await writeBlock(w, 1, 100);
    await w.close();
    const data = fs.readFileSync(path.join(dir, 'data'));
    expect(data.length).toBe(PACKET + 100);
    expect(data.subarray(0, PACKET).every((b) => b === 0)).toBe(true);
    expect(data.subarray(PACKET).every((b) => b === 1)).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'meta')).includes(0xee)).toBe(false);
  });

  it('removes a left-over copy the node knows of, whatever its folder holds', async () => {
    const dn = await context({ syncOnFinalize: false }, osFileSync);
    const first = await ReplicaWriter.create(dn, block, CHUNK, ChecksumType.XXH32, dn.log, owner);
    await writeBlock(first, 1, 100);
    await first.close();
    dn.writes.release(block.blockId, owner);
    const dir = dn.storage.volumes[0]!.replicaDir('rbw', block.blockId);
    fs.writeFileSync(path.join(dir, 'stray'), 'x');
    const w = await ReplicaWriter.create(dn, block, CHUNK, ChecksumType.XXH32, dn.log, owner);
    await w.close();
    expect(fs.readdirSync(dir).sort()).toEqual(['data', 'meta']);
    expect(fs.statSync(path.join(dir, 'data')).size).toBe(0);
  });

  it('a file that cannot be opened (meta is a directory) fails the create with the other file closed and the block released', async () => {
    const dn = await context({ syncOnFinalize: false }, osFileSync);
    const dir = dn.storage.volumes[0]!.replicaDir('rbw', block.blockId);
    fs.mkdirSync(path.join(dir, 'meta'), { recursive: true });
    const fds = (): number => fs.readdirSync('/proc/self/fd').length;
    const before = fds();
    const err: unknown = await ReplicaWriter.create(dn, block, CHUNK, ChecksumType.XXH32, dn.log, owner).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'INTERNAL' });
    expect(dn.writes.isWriting(block.blockId)).toBe(false);
    expect(dn.storage.replicas.has(block.blockId)).toBe(false);
    // fs.close is asynchronous: the data file's descriptor goes within a moment.
    for (let i = 0; i < 100 && fds() > before; i++) await new Promise((r) => setTimeout(r, 5));
    expect(fds()).toBe(before);
  });

  it('refuses a block whose files are being deleted, with ALREADY_EXISTS', async () => {
    const dn = await context({ syncOnFinalize: false }, osFileSync);
    dn.storage.deleting.add(block.blockId);
    const err: unknown = await ReplicaWriter.create(dn, block, CHUNK, ChecksumType.XXH32, dn.log, owner).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'ALREADY_EXISTS' });
    expect((err as Error).message).toContain('being deleted');
    expect(dn.writes.isWriting(block.blockId)).toBe(false);
  });
});
