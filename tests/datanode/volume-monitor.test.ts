/**
 * The volume monitor's decisions in one process (src/datanode/volume-monitor.ts): which
 * errors drop a replica, which check the volume, what a failed check does. EIO cannot be
 * caused on a real disk here, so it is handed in as the error Node's fs would give; the
 * ENOENT, ENOTDIR and full-disk paths are also tested across real processes
 * (tests/faults/disk-failures.test.ts, tests/faults/disk-full.test.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChecksumType } from '../../protocol/data-messages.js';
import { enospcError } from '../../src/common/fault-injector.js';
import { osFileSync } from '../../src/common/file-sync.js';
import { silentLogger } from '../../src/common/logger.js';
import { encodeMetaHeader } from '../../src/datanode/replica-meta.js';
import { Storage } from '../../src/datanode/storage.js';
import { osErrorCode, VolumeMonitor } from '../../src/datanode/volume-monitor.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A storage of two volumes holding one finalized replica each (blocks 1 and 2), and its monitor. */
async function setup(): Promise<{
  storage: Storage;
  monitor: VolumeMonitor;
  dropped: number[];
  fatal: Error[];
}> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-volume-monitor-'));
  dirs.push(base);
  const volumes = [path.join(base, 'a'), path.join(base, 'b')];
  for (const [i, v] of volumes.entries()) {
    const dir = path.join(v, 'current', 'finalized', `blk_${i + 1}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'data'), Buffer.alloc(10));
    fs.writeFileSync(
      path.join(dir, 'meta'),
      Buffer.concat([
        encodeMetaHeader({ chunkBytes: 512, checksumType: ChecksumType.XXH32, genStamp: 7 }),
        Buffer.alloc(4),
      ]),
    );
  }
  const log = silentLogger();
  const storage = new Storage(volumes, 0, log);
  await storage.open();
  const dropped: number[] = [];
  const fatal: Error[] = [];
  const monitor = new VolumeMonitor(storage, log, osFileSync, {
    replicaDropped: (id) => dropped.push(id),
    allVolumesFailed: (err) => fatal.push(err),
  });
  return { storage, monitor, dropped, fatal };
}

const osError = (code: string, errno: number): Error => Object.assign(new Error(code), { code, errno });

describe('VolumeMonitor', () => {
  it('an EIO read drops the replica, reports it, quarantines its files and checks the volume (which passes)', async () => {
    const { storage, monitor, dropped } = await setup();
    const r = storage.replicas.get(1)!;
    const err = monitor.replicaUnreadable(r, osError('EIO', -5));
    expect(err.code).toBe('INTERNAL');
    expect(storage.replicas.has(1)).toBe(false);
    expect(dropped).toEqual([1]);
    await monitor.checkAll();
    expect(monitor.volumeChecks).toBeGreaterThan(0);
    expect(fs.existsSync(r.volume.replicaDir('finalized', 1))).toBe(false);
    // Kept aside, not deleted: it may have been the last good copy.
    const quarantine = path.join(r.volume.dir, 'current', 'quarantine');
    expect(fs.readdirSync(quarantine).filter((n) => n.startsWith('blk_1_7-'))).toHaveLength(1);
    expect(storage.report().failedVolumes).toBe(0);
  });

  it('a transient shortage (EMFILE, ENOMEM, ...) never takes a volume out of service', async () => {
    const { storage, monitor, dropped } = await setup();
    for (const [code, errno] of [
      ['EMFILE', -24],
      ['ENFILE', -23],
      ['ENOMEM', -12],
      ['EAGAIN', -11],
    ] as const) {
      expect(monitor.replicaUnreadable(storage.replicas.get(1)!, osError(code, errno)).code).toBe('INTERNAL');
      monitor.ioError(storage.volumes[0]!, osError(code, errno));
    }
    expect(monitor.volumeChecks).toBe(0);
    expect(dropped).toEqual([]);
    expect(storage.replicas.has(1)).toBe(true);
    expect(storage.report().failedVolumes).toBe(0);
  });

  it('ENOENT drops without a volume check; ENOSPC neither drops nor checks', async () => {
    const { storage, monitor, dropped } = await setup();
    expect(monitor.replicaUnreadable(storage.replicas.get(1)!, osError('ENOENT', -2)).code).toBe('NOT_FOUND');
    monitor.ioError(storage.volumes[1]!, enospcError());
    expect(osErrorCode(enospcError())).toBe('ENOSPC');
    expect(dropped).toEqual([1]);
    expect(storage.replicas.has(2)).toBe(true);
    expect(monitor.volumeChecks).toBe(0);
  });

  it('a volume whose directory became a file fails its check: out of service, replicas dropped; the last one is fatal', async () => {
    const { storage, monitor, dropped, fatal } = await setup();
    const [a, b] = storage.volumes;
    fs.rmSync(b!.dir, { recursive: true });
    fs.writeFileSync(b!.dir, 'x');
    monitor.ioError(b!, osError('ENOTDIR', -20));
    expect(await monitor.check(b!)).toBe(false);
    expect(b!.state).toBe('failed');
    expect(dropped).toEqual([2]);
    expect(storage.report().failedVolumes).toBe(1);
    expect(() => storage.chooseVolume(1)).not.toThrow();
    expect(storage.chooseVolume(1)).toBe(a);
    expect(fatal).toEqual([]);
    // A volume whose directory is gone: its space cannot be read; the report goes on without it.
    fs.rmSync(a!.dir, { recursive: true });
    const unreadable: string[] = [];
    storage.onVolumeError = (v) => unreadable.push(v.dir);
    expect(storage.report()).toMatchObject({ capacityBytes: 0, failedVolumes: 1 });
    expect(unreadable).toEqual([a!.dir]);
    expect(await monitor.check(a!)).toBe(false);
    expect(fatal).toHaveLength(1);
    expect(() => storage.chooseVolume(1)).toThrow(/no volume in service/);
  });
});
