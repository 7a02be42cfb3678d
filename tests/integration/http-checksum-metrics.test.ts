/**
 * Checksum failures in /metrics across real processes (issue 13 section 1): a replica
 * corrupted on disk is found by a reader (the client verifies every chunk, reports the bad
 * replica and reads another) and, on a node whose scanner runs, by the block scanner. The
 * NameNode counts the reports by finder, the DataNode counts what its scanner found.
 * DataNode 0 runs no scanner, so only the reader can find its corrupt replica.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { clusterPerTest } from '../support/cluster.js';
import {
  finalizedBlockIds,
  getBuffer,
  putBuffer,
  replicaDir,
  testBytes,
  waitFor,
  waitForDatanodes,
} from '../support/data-path.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { sample, scrape } from '../support/http.js';

const per = clusterPerTest();

/** Inverts 16 bytes in the middle of a replica's data file (same length, checksums untouched). */
function corrupt(cluster: LocalCluster, index: number, blockId: number): void {
  const file = path.join(replicaDir(cluster, index, 'finalized', blockId), 'data');
  const bytes = fs.readFileSync(file);
  bytes.fill(0xa5, 50_000, 50_016);
  fs.writeFileSync(file, bytes);
}

describe('checksum failures in /metrics', () => {
  it('counts a corrupt replica found by a reader and one found by the scanner', async () => {
    const cluster = await per.start({
      datanodes: 2,
      datanodeEnv: (i) =>
        i === 0
          ? { DFS_DATANODE_SCAN_BYTES_PER_SECOND: '0' }
          : { DFS_DATANODE_SCAN_INTERVAL_MS: '300', DFS_DATANODE_SCAN_BYTES_PER_SECOND: String(64 << 20) },
    });
    const client = per.client(cluster);
    await waitForDatanodes(client, 2);
    const nn = cluster.namenode.httpPort;
    const readerReports = async (): Promise<number> =>
      sample(await scrape(nn), 'dfs_namenode_corrupt_replica_reports_total{found_by="reader"}') ?? -1;
    expect(await readerReports()).toBe(0);

    // A reader finds the replica corrupted on DataNode 0 (reads rotate over the replicas).
    const a = testBytes(200_000, 1);
    await putBuffer(client, '/a', a, { replication: 2 });
    const [blockA] = finalizedBlockIds(cluster, 0);
    corrupt(cluster, 0, blockA!);
    for (let i = 0; i < 6 && (await readerReports()) === 0; i++)
      expect((await getBuffer(client, '/a')).equals(a)).toBe(true);
    expect(await readerReports()).toBe(1);

    // DataNode 1's scanner finds the replica corrupted there.
    await putBuffer(client, '/b', testBytes(200_000, 2), { replication: 2 });
    const blockB = finalizedBlockIds(cluster, 1).find((id) => id !== blockA)!;
    corrupt(cluster, 1, blockB);
    const dn1 = cluster.datanodes[1]!.httpPort;
    await waitFor('the scanner count on DataNode 1', async () =>
      (sample(await scrape(dn1), 'dfs_datanode_checksum_failures_total{found_by="scanner"}') ?? 0) >= 1
        ? true
        : undefined,
    );
    await waitFor('the scanner report counted by the NameNode', async () =>
      (sample(await scrape(nn), 'dfs_namenode_corrupt_replica_reports_total{found_by="scanner"}') ?? 0) >= 1
        ? true
        : undefined,
    );
    expect(
      sample(
        await scrape(cluster.datanodes[0]!.httpPort),
        'dfs_datanode_checksum_failures_total{found_by="scanner"}',
      ),
    ).toBe(0);
  });
});
