/**
 * What a DataNode notices about its own disks, across real processes (issue 10 item 3;
 * src/datanode/volume-monitor.ts, src/datanode/directory-scanner.ts):
 *
 *   | the disk                                         | the cluster must                                    |
 *   |--------------------------------------------------|-----------------------------------------------------|
 *   | a replica's data file removed, then read         | the node drops and reports it at once; fsck stops   |
 *   |                                                  |   counting it; re-replicated; reads fail over       |
 *   | the same, hit by a replica copy (REPLICATE)      | reported at once: the block is missing, not "live"  |
 *   | a replica removed, one added, one truncated,     | the directory scan drops, loads and verifies them,  |
 *   |   none of them read                              |   reports each; the cluster heals                   |
 *   | one volume of two replaced by a file             | volume out of service (error line, FAILED VOLS 1 in |
 *   |                                                  |   the report), its replicas re-replicated, the node |
 *   |                                                  |   serves on; the last volume failing stops it       |
 *
 * The block scanner is off (scanBytesPerSecond 0) in every test: it would find a vanished
 * or truncated replica too, after 5 s, and hide whether the path under test did.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/cluster.js';
import { DfsError } from '../../protocol/errors.js';
import { readReplica } from '../../src/client/block-reader.js';
import {
  datanodeInfo,
  getBuffer,
  logsMatching,
  nodeIndexById,
  putBuffer,
  replicaDir,
  testBytes,
  waitFor,
  waitForLocations,
} from '../support/data-path.js';
import {
  BLOCK_BYTES,
  blockIdsOnDisk,
  blocksOf,
  expectFilesIntact,
  KiB,
  replicaCounts,
  reportOf,
  withHealingCluster,
  waitForReplicas,
  waitHealthy,
  writeFiles,
  type HealingCluster,
} from '../support/healing.js';

const NO_BLOCK_SCANNER = { DFS_DATANODE_SCAN_BYTES_PER_SECOND: '0' };
const PUT = { blockBytes: BLOCK_BYTES, chunkBytes: 16 * KiB, packetBytes: 64 * KiB };

const withCluster = withHealingCluster;

/** Writes a one-block file at `replication` and returns its block and the DataNode indexes holding it. */
async function oneBlockFile(
  h: HealingCluster,
  remote: string,
  replication: number,
  seed: number,
): Promise<{ data: Buffer; blockId: number; genStamp: number; holders: number[] }> {
  const data = testBytes(100 * KiB + 7, seed);
  await putBuffer(h.client, remote, data, { ...PUT, replication });
  // The write completes once the minimum of replicas is reported; the others follow.
  const lb = (await waitForLocations(h.client, remote, replication))[0]!;
  const byId = nodeIndexById(h.cluster);
  const holders = lb.locations.map((l) => byId.get(l.nodeId)!);
  expect(holders).toHaveLength(replication);
  return { data, blockId: lb.block.blockId, genStamp: lb.block.genStamp, holders };
}

/** The DataNode indexes the NameNode names for the first block of `remote`. */
async function named(h: HealingCluster, remote: string): Promise<number[]> {
  const byId = nodeIndexById(h.cluster);
  const lb = (await h.client.getBlockLocations(remote)).blocks[0]!;
  return lb.locations.map((l) => byId.get(l.nodeId)!).sort((a, b) => a - b);
}

/** Starts 3 DataNodes, DataNode 0 with a second volume; runs `body` with that volume's path. */
async function withTwoVolumes(
  datanodeEnv: NodeJS.ProcessEnv,
  body: (h: HealingCluster, second: string) => Promise<void>,
): Promise<void> {
  // Inside the cluster's folder, so it is removed with it.
  const baseDir = tempDir();
  const second = path.join(baseDir, 'data0-second');
  await withCluster(
    3,
    {
      baseDir,
      datanodeEnv: { ...NO_BLOCK_SCANNER, ...datanodeEnv },
      extraDataDirs: (i) => (i === 0 ? [second] : []),
    },
    (h) => body(h, second),
  );
}

/** Block ids with a finalized replica in volume `dir`. */
function blocksInVolume(dir: string): number[] {
  return fs
    .readdirSync(path.join(dir, 'current', 'finalized'))
    .map((n) => /^blk_(\d+)$/.exec(n))
    .filter((m) => m !== null)
    .map((m) => Number(m[1]));
}

/**
 * Replaces a volume's directory by a file: every I/O under it fails (ENOTDIR), even for root.
 * Moved aside first, in one rename: removing it in place raced with the DataNode's own
 * volume checks creating files in it (ENOTEMPTY from the rmdir, seen once in CI).
 */
function breakVolume(dir: string): void {
  const gone = `${dir}.gone`;
  fs.renameSync(dir, gone);
  fs.writeFileSync(dir, 'not a volume any more\n');
  fs.rmSync(gone, { recursive: true, force: true, maxRetries: 5 });
}

const VOLUME_FAILED = 'volume failed; taken out of service';

describe('a DataNode notices what happens to its disks', () => {
  it('a read that finds a replica file gone reports it at once; the read fails over; re-replicated', async () => {
    await withCluster(3, { datanodeEnv: NO_BLOCK_SCANNER }, async (h) => {
      const f = await oneBlockFile(h, '/vanish/a', 3, 1);
      const victim = f.holders[0]!;
      fs.rmSync(path.join(replicaDir(h.cluster, victim, 'finalized', f.blockId), 'data'));

      // Reads go on from the other replicas, whichever the client tries first.
      for (let i = 0; i < 3; i++) expect((await getBuffer(h.client, '/vanish/a')).equals(f.data)).toBe(true);
      // A read of the victim's replica itself fails with a typed error...
      const block = { blockId: f.blockId, genStamp: f.genStamp, numBytes: f.data.length };
      const err = await (async () => {
        for await (const _ of readReplica(datanodeInfo(h.cluster, victim), block, 0, f.data.length)) void _;
      })().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DfsError);
      // ...and the NameNode stops counting it right away, not at a scan or restart.
      await waitFor(
        'the NameNode to drop the vanished replica',
        async () => ((await named(h, '/vanish/a')).includes(victim) ? undefined : true),
        3_000,
      );
      expect(
        logsMatching(h.cluster.datanodes[victim]!, {
          msg: 'replica files unreadable; dropped and reported to the NameNode',
          block: f.blockId,
        }),
      ).toHaveLength(1);
      // Re-replicated: the only node without a copy is the victim itself.
      await waitForReplicas(h.cluster, h.client, ['/vanish/a'], 3);
      await waitHealthy(h.client);
      expect((await getBuffer(h.client, '/vanish/a')).equals(f.data)).toBe(true);
    });
  });

  it('a replica copy that finds its source file gone reports it: the block is missing, not live', async () => {
    await withCluster(2, { datanodeEnv: NO_BLOCK_SCANNER }, async (h) => {
      const f = await oneBlockFile(h, '/vanish/b', 1, 2);
      const source = f.holders[0]!;
      fs.rmSync(path.join(replicaDir(h.cluster, source, 'finalized', f.blockId), 'data'));
      // Only `source` can be asked to copy the block; its copy fails on the missing file.
      await h.client.setReplication('/vanish/b', 2);
      await waitFor(
        'the NameNode to count the block missing',
        async () => {
          const s = await h.client.replicationStats();
          return s.missing === 1 && s.missingBlockIds.includes(f.blockId) ? true : undefined;
        },
        5_000,
      );
      expect(await named(h, '/vanish/b')).toEqual([]);
    });
  });

  it('the directory scan drops a vanished replica, loads an unknown one, verifies a truncated one', async () => {
    await withCluster(
      3,
      { datanodeEnv: { ...NO_BLOCK_SCANNER, DFS_DATANODE_DIRECTORY_SCAN_INTERVAL_MS: '400' } },
      async (h) => {
        const gone = await oneBlockFile(h, '/scan/gone', 2, 3);
        const extra = await oneBlockFile(h, '/scan/extra', 2, 4);
        const short = await oneBlockFile(h, '/scan/short', 2, 5);
        const files = new Map([
          ['/scan/gone', gone.data],
          ['/scan/extra', extra.data],
          ['/scan/short', short.data],
        ]);
        // Nobody reads these replicas: only the scan can notice.
        const goneNode = gone.holders[0]!;
        fs.rmSync(replicaDir(h.cluster, goneNode, 'finalized', gone.blockId), { recursive: true });
        const extraNode = [0, 1, 2].find((i) => !extra.holders.includes(i))!;
        fs.cpSync(
          replicaDir(h.cluster, extra.holders[0]!, 'finalized', extra.blockId),
          replicaDir(h.cluster, extraNode, 'finalized', extra.blockId),
          { recursive: true },
        );
        const shortNode = short.holders[0]!;
        fs.truncateSync(
          path.join(replicaDir(h.cluster, shortNode, 'finalized', short.blockId), 'data'),
          50 * KiB,
        );

        const dn = (i: number) => h.cluster.datanodes[i]!;
        const summaries = (): Array<Record<string, unknown>> =>
          h.cluster.datanodes.flatMap((d) =>
            logsMatching(d, { msg: 'directory scan found differences between memory and disk' }),
          );
        // A scan logs each replica's difference as it meets it and its summary at the end:
        // wait for both, not only the first.
        await waitFor(
          'each scan to report its difference',
          () =>
            logsMatching(dn(goneNode), { block: gone.blockId, code: 'ENOENT' }).length > 0 &&
            logsMatching(dn(extraNode), {
              block: extra.blockId,
              msg: 'replica found on disk; loaded and reported',
            }).length > 0 &&
            logsMatching(dn(shortNode), {
              block: short.blockId,
              msg: 'block scanner found a corrupt replica',
            }).length > 0 &&
            summaries().some((s) => s['missing'] === 1) &&
            summaries().some((s) => s['added'] === 1) &&
            summaries().some((s) => s['mismatched'] === 1)
              ? true
              : undefined,
          10_000,
        );
        // Healed: two good replicas of each, named and on disk alike; the truncated copy replaced.
        await waitForReplicas(h.cluster, h.client, files.keys(), 2);
        await waitHealthy(h.client);
        await expectFilesIntact(h.client, files);
        for (const i of await named(h, '/scan/short')) {
          const onDisk = fs.statSync(path.join(replicaDir(h.cluster, i, 'finalized', short.blockId), 'data'));
          expect(onDisk.size).toBe(short.data.length);
        }
      },
    );
  });

  it('a failed volume is taken out of service, its replicas re-replicated; the last one stops the node', async () => {
    await withTwoVolumes({ DFS_DATANODE_DIRECTORY_SCAN_INTERVAL_MS: '300' }, async (h, second) => {
      const files = await writeFiles(h.client, '/vol', 2, 50);
      await waitHealthy(h.client);
      const onSecond = blocksInVolume(second);
      expect(onSecond.length, 'round robin puts some replicas on the second volume').toBeGreaterThan(0);
      const dn0 = h.cluster.datanodes[0]!;

      breakVolume(second);
      await waitFor(
        'DataNode 0 to take the volume out of service',
        () => (logsMatching(dn0, { msg: VOLUME_FAILED, volume: second }).length > 0 ? true : undefined),
        5_000,
      );
      expect(logsMatching(dn0, { msg: VOLUME_FAILED })[0]).toMatchObject({
        level: 50,
        replicasDropped: onSecond.length,
        volumesInService: 1,
        volumesFailed: 1,
      });
      await waitFor(
        'the report to show the failed volume',
        async () => ((await reportOf(h.cluster, h.client, 0)).failedVolumes === 1 ? true : undefined),
        3_000,
      );

      // Healed: the blocks of the failed volume are copied again (to DataNode 0's good
      // volume, the only node without them), and every file reads back.
      await waitForReplicas(h.cluster, h.client, files.keys(), 3);
      await waitHealthy(h.client);
      for (const n of (await replicaCounts(h.client, files.keys())).values()) expect(n).toBe(3);
      const onFirst = blockIdsOnDisk(h.cluster, 0);
      for (const lb of await blocksOf(h.client, files.keys()))
        expect(onFirst.has(lb.block.blockId)).toBe(true);
      await expectFilesIntact(h.client, files);
      expect(dn0.running).toBe(true);

      // The last volume fails too: nothing is left to serve from, so the node stops.
      breakVolume(h.cluster.dataDir(0));
      const code = await Promise.race([
        dn0.waitExit(),
        new Promise((resolve) => setTimeout(() => resolve('still running'), 5_000)),
      ]);
      expect(code).toBe(2);
      expect(logsMatching(dn0, { msg: 'no volume left in service; stopping' })).toHaveLength(1);
    });
  });

  it('an I/O error on a read checks the volume at once, without waiting for a scan', async () => {
    await withTwoVolumes({ DFS_DATANODE_DIRECTORY_SCAN_INTERVAL_MS: '0' }, async (h, second) => {
      const files = await writeFiles(h.client, '/io', 1, 60);
      await waitHealthy(h.client);
      const blockId = blocksInVolume(second)[0];
      expect(blockId, 'a replica on the second volume').toBeDefined();
      const lb = (await blocksOf(h.client, files.keys())).find((b) => b.block.blockId === blockId)!;
      breakVolume(second);
      const err = await (async () => {
        for await (const _ of readReplica(datanodeInfo(h.cluster, 0), lb.block, 0, lb.block.numBytes)) void _;
      })().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DfsError);
      const dn0 = h.cluster.datanodes[0]!;
      await waitFor(
        'the read error to fail the volume',
        () => (logsMatching(dn0, { msg: VOLUME_FAILED, volume: second }).length > 0 ? true : undefined),
        3_000,
      );
      expect(logsMatching(dn0, { msg: 'I/O error on a volume; checking it', code: 'ENOTDIR' }).length).toBe(
        1,
      );
      await waitForReplicas(h.cluster, h.client, files.keys(), 3);
      await expectFilesIntact(h.client, files);
    });
  });
});
