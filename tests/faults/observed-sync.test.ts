/**
 * The syncs that acknowledgements promise are on the reply path of real daemons: with the
 * DFS_FAULTS hook `syncDelayMs`, every fdatasync and fsync of a daemon waits first
 * (src/common/file-sync.ts). A NameNode then answers a mutation no sooner than that delay,
 * and logs the slow edit-log sync that covered it; a DataNode acknowledges a replica no
 * sooner than that delay, and logs the slow replica sync; a checkpoint pays the delay for
 * each of its image's and directories' syncs. Were a sync skipped or moved off
 * the reply path, the reply would come back at once and these tests fail. (The edit log's
 * and the replica writer's own tests hold each sync and check nothing is answered before.)
 */
import { describe, expect, it } from 'vitest';
import { clusterPerTest } from '../support/cluster.js';
import { putBuffer, testBytes, waitFor, waitForDatanodes } from '../support/data-path.js';

const DELAY_MS = 800;
const SLOW_SYNCS = { DFS_FAULTS: JSON.stringify({ syncDelayMs: DELAY_MS }) };

const per = clusterPerTest();

describe('syncs on the reply path', () => {
  it('a NameNode answers a mkdir only after the delayed fdatasync of its record', async () => {
    const cluster = await per.start({
      namenodeEnv: { ...SLOW_SYNCS, DFS_NAMENODE_SLOW_IO_WARN_MS: '100' },
    });
    const client = per.client(cluster, 20_000);
    const t0 = performance.now();
    await client.mkdir('/synced');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(DELAY_MS - 50);
    await waitFor(
      'the slow edit-log sync to be logged',
      () =>
        cluster.namenode.logs.some(
          (l) => l.msg === 'slow edit log write and fdatasync' && (l.ms as number) >= DELAY_MS - 50,
        )
          ? true
          : undefined,
      5_000,
    );
  });

  it("a NameNode's checkpoint syncs its image and the name directory through the same seam", async () => {
    const delayMs = 300;
    const cluster = await per.start({
      namenodeEnv: {
        DFS_FAULTS: JSON.stringify({ syncDelayMs: delayMs }),
        DFS_NAMENODE_CHECKPOINT_TXNS: '5',
      },
    });
    const client = per.client(cluster, 20_000);
    for (let i = 0; i < 5; i++) await client.mkdir(`/checkpointed${i}`);
    // A checkpoint: the roll fsyncs the new segment and the directory, the image is fsynced,
    // then the directory again: four delayed syncs, so no less than four delays.
    const line = await waitFor(
      'a checkpoint',
      () => cluster.namenode.logs.find((l) => l.msg === 'checkpoint written'),
      15_000,
    );
    expect(line.ms as number).toBeGreaterThanOrEqual(4 * delayMs - 50);
  });

  it('a DataNode acknowledges a replica only after the delayed fdatasync of its files', async () => {
    const cluster = await per.start({
      datanodes: 1,
      datanodeEnv: () => ({ ...SLOW_SYNCS, DFS_DATANODE_SLOW_IO_WARN_MS: '100' }),
    });
    const client = per.client(cluster, 20_000);
    await waitForDatanodes(client, 1);
    const t0 = performance.now();
    await putBuffer(client, '/synced', testBytes(100_000, 3), { replication: 1 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(DELAY_MS - 50);
    const dn = cluster.datanodes[0]!;
    expect(
      dn.logs.some((l) => l.msg === 'slow fdatasync of a replica' && (l.ms as number) >= DELAY_MS - 50),
    ).toBe(true);
  });
});
