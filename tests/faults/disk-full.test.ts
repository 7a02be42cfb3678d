/**
 * A real mid-write disk full (issue 15 item 5), across real processes: DataNode 0 runs with
 * the fault hook `enospcAfterBytes` (src/common/fault-injector.ts), so once it has written
 * 300,000 bytes of replicas every further replica write fails with a genuine ENOSPC error,
 * the bytes that still fit written first, in the middle of the second block. The client
 * puts it in the middle of every pipeline (steerPlacement) and uploads at replication 3 on
 * four DataNodes:
 *
 * - the upload completes through pipeline recovery on the other nodes, and the file reads
 *   back identical; the cluster heals to 3 good replicas per block (the fourth node);
 * - the full node finalized nothing corrupt: every replica its log says it finalized
 *   ('replica finalized' with `block`) is checked on its disk against its own checksums and
 *   against the bytes the client sent for that block;
 * - ENOSPC is not a volume failure: the volume stays in service (no 'volume failed' line,
 *   FAILED VOLS 0 in the report).
 *
 * The second test does the same with a genuinely full disk where the machine allows it
 * (root, `mount`): DataNode 0's data dir is a 1.5 MiB tmpfs, blocks are 2 MiB, so its first
 * block fills it mid-write. Its directory scan runs every 300 ms and checks the volume
 * (volume-monitor.ts), whose probe file cannot be written on the full tmpfs either: the
 * volume still stays in service. Skipped with a printed reason where tmpfs cannot be mounted.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import { computeChecksums, initChecksum } from '../../src/common/checksum.js';
import { decodeMetaHeader } from '../../src/datanode/replica-meta.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { clusterPerTest, tempDir } from '../support/cluster.js';
import {
  datanodeInfo,
  getBuffer,
  logsMatching,
  META_HEADER_BYTES,
  putBuffer,
  replicaDir,
  steerPlacement,
  testBytes,
  waitFor,
  waitForDatanodes,
  withNodeAt,
} from '../support/data-path.js';
import {
  BLOCK_BYTES,
  HEALING_DATANODE_ENV,
  HEALING_NAMENODE_ENV,
  KiB,
  reportOf,
  waitForReplicas,
  waitHealthy,
} from '../support/healing.js';

const FULL_AFTER_BYTES = 300_000;
/** The tmpfs test: a disk of 1.5 MiB (a new replica needs 1 MiB free to be placed) and 2 MiB blocks. */
const TMPFS = { bytes: 1536 * KiB, blockBytes: 2048 * KiB };
const clusters = clusterPerTest();

async function fourNodesOneFillsUp(
  options: { baseDir?: string; fullNodeEnv?: NodeJS.ProcessEnv } = {},
): Promise<{ cluster: LocalCluster; client: DfsClient }> {
  const fullNodeEnv = options.fullNodeEnv ?? {
    DFS_FAULTS: JSON.stringify({ enospcAfterBytes: FULL_AFTER_BYTES }),
  };
  const cluster = await clusters.start({
    ...(options.baseDir === undefined ? {} : { baseDir: options.baseDir }),
    datanodes: 4,
    // Info: the full node's 'replica finalized' lines are what the test checks.
    logLevel: 'info',
    namenodeEnv: HEALING_NAMENODE_ENV,
    datanodeEnv: (i) => ({
      ...HEALING_DATANODE_ENV,
      DFS_DATANODE_SCAN_BYTES_PER_SECOND: '0',
      ...(i === 0 ? fullNodeEnv : {}),
    }),
  });
  const client = clusters.client(cluster, 15_000);
  await waitForDatanodes(client, 4);
  return { cluster, client };
}

describe('a DataNode whose disk fills up mid-write', () => {
  it('the upload completes through recovery; the full node finalized nothing corrupt; its volume stays in service', async () => {
    await initChecksum();
    const { cluster, client } = await fourNodesOneFillsUp();
    const full = datanodeInfo(cluster, 0);
    steerPlacement(client, (locations, exclude) => withNodeAt(locations, full, 1, exclude));

    const data = testBytes(3 * BLOCK_BYTES + 5_000, 77);
    const recoveries: string[] = [];
    await putBuffer(
      client,
      '/full/f',
      data,
      { replication: 3, blockBytes: BLOCK_BYTES, chunkBytes: 16 * KiB, packetBytes: 64 * KiB },
      { onStream: (s) => s.on('recovery', (m: string) => recoveries.push(m)) },
    );
    expect(recoveries.length, 'the full node fails its pipeline').toBeGreaterThan(0);
    expect((await getBuffer(client, '/full/f')).equals(data)).toBe(true);

    const dn0 = cluster.datanodes[0]!;
    const enospc = logsMatching(dn0, { msg: 'local write failed' });
    expect(enospc.length).toBeGreaterThan(0);
    expect(String(enospc[0]!['err'])).toContain('disk full');

    // Healed on the other nodes: 3 good replicas of every block, named and on disk alike.
    await waitForReplicas(cluster, client, ['/full/f'], 3);
    await waitHealthy(client);
    expect((await getBuffer(client, '/full/f')).equals(data)).toBe(true);

    await expectNothingCorruptFinalized(
      cluster,
      client,
      '/full/f',
      data,
      Math.floor(FULL_AFTER_BYTES / BLOCK_BYTES),
    );
    await expectVolumeInService(cluster, client);
  });

  it('a genuinely full tmpfs data dir: the same, and the volume checks of its directory scans pass', async (ctx) => {
    // The tmpfs is mounted outside the cluster's folder, which links to it as DataNode 0's
    // data dir: removing the folder never meets a mount point, and the lazy unmount below
    // needs no order with the cluster's teardown.
    const mountPoint = tempDir('dfs-tmpfs-');
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS.bytes}`, 'tmpfs', mountPoint], {
      encoding: 'utf8',
    });
    if (mounted.status !== 0) {
      fs.rmSync(mountPoint, { recursive: true, force: true });
      console.log(
        `skipped: cannot mount a tmpfs here (${(mounted.stderr || mounted.error?.message || '').trim()})`,
      );
      ctx.skip();
      return;
    }
    onTestFinished(() => {
      spawnSync('umount', ['-l', mountPoint]);
      fs.rmSync(mountPoint, { recursive: true, force: true });
    });
    const baseDir = tempDir();
    fs.symlinkSync(mountPoint, path.join(baseDir, 'data0'));
    await initChecksum();
    const { cluster, client } = await fourNodesOneFillsUp({
      baseDir,
      fullNodeEnv: { DFS_DATANODE_DIRECTORY_SCAN_INTERVAL_MS: '300' },
    });
    const full = datanodeInfo(cluster, 0);
    steerPlacement(client, (locations, exclude) => withNodeAt(locations, full, 1, exclude));
    const data = testBytes(2 * TMPFS.blockBytes + 5_000, 78);
    await putBuffer(client, '/full/t', data, {
      replication: 3,
      blockBytes: TMPFS.blockBytes,
      chunkBytes: 16 * KiB,
      packetBytes: 64 * KiB,
    });
    expect((await getBuffer(client, '/full/t')).equals(data)).toBe(true);
    const enospc = logsMatching(cluster.datanodes[0]!, { msg: 'local write failed' });
    expect(enospc.length).toBeGreaterThan(0);
    expect(String(enospc[0]!['err'])).toContain('disk full');
    await waitForReplicas(cluster, client, ['/full/t'], 3);
    await waitHealthy(client);
    await expectNothingCorruptFinalized(cluster, client, '/full/t', data, 0);
    // Scans ran (and checked the full volume) since the disk filled.
    const scansBefore = logsMatching(cluster.datanodes[0]!, {
      msg: 'directory scan found no differences',
    }).length;
    await waitFor(
      'two more directory scans of the full node',
      () =>
        logsMatching(cluster.datanodes[0]!, { msg: 'directory scan found no differences' }).length >=
        scansBefore + 2
          ? true
          : undefined,
      3_000,
    );
    await expectVolumeInService(cluster, client);
  });
});

/**
 * Every replica DataNode 0 logged as finalized is whole: its data matches its own checksums
 * and the bytes the client sent for that block; no block from index `firstFailed` on was
 * finalized there.
 */
async function expectNothingCorruptFinalized(
  cluster: LocalCluster,
  client: DfsClient,
  remote: string,
  data: Buffer,
  firstFailed: number,
): Promise<void> {
  const dn0 = cluster.datanodes[0]!;
  {
    const located = (await client.getBlockLocations(remote)).blocks;
    const finalized = logsMatching(dn0, { msg: 'replica finalized' }).map((r) => r['block'] as number);
    if (firstFailed > 0)
      expect(finalized.length, 'the first blocks fit before the disk filled').toBeGreaterThan(0);
    for (const blockId of finalized) {
      const lb = located.find((b) => b.block.blockId === blockId);
      expect(lb, `blk_${blockId} belongs to the file`).toBeDefined();
      const dir = replicaDir(cluster, 0, 'finalized', blockId);
      if (!fs.existsSync(dir)) continue; // deleted since as a surplus copy
      const stored = fs.readFileSync(path.join(dir, 'data'));
      const meta = fs.readFileSync(path.join(dir, 'meta'));
      const { chunkBytes, checksumType } = decodeMetaHeader(meta, dir);
      expect(
        meta.subarray(META_HEADER_BYTES).equals(computeChecksums(stored, chunkBytes, checksumType)),
      ).toBe(true);
      expect(stored.equals(data.subarray(lb!.offset, lb!.offset + lb!.block.numBytes))).toBe(true);
    }
    // Every block after the disk filled was written without it.
    for (const lb of located.slice(firstFailed)) expect(finalized).not.toContain(lb.block.blockId);
  }
}

/** A full disk is not a failed one: DataNode 0 keeps its volume in service and runs on. */
async function expectVolumeInService(cluster: LocalCluster, client: DfsClient): Promise<void> {
  const dn0 = cluster.datanodes[0]!;
  expect(logsMatching(dn0, { msg: 'volume failed; taken out of service' })).toEqual([]);
  expect((await reportOf(cluster, client, 0)).failedVolumes).toBe(0);
  expect(dn0.running).toBe(true);
}
