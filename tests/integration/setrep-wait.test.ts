/**
 * `dfs setrep -w` lowering the replication returns only once the surplus replicas are gone
 * (issue 10 item 9), across real processes: deleted from the DataNodes' disks and from the
 * NameNode's map, not merely ordered away. DataNodes fetch their delete orders with their
 * heartbeat (every 3 s here), so a wait that ends when the NameNode schedules the deletions
 * returns while the disks still hold every copy. While the deletions are under way, fsck
 * shows the copies being deleted as `deleting`.
 */
import { describe, expect, it } from 'vitest';
import type { FsckDocument } from '../../src/cli/admin-format.js';
import { clusterPerTest } from '../support/cluster.js';
import { putBuffer, testBytes, waitForDatanodes } from '../support/data-path.js';
import { ok, runDfs } from '../support/dfs-cli.js';
import { BLOCK_BYTES, KiB, blocksOf, replicaDirsOnDisk, waitForReplicas } from '../support/healing.js';

const clusters = clusterPerTest();

describe('dfs setrep -w lowering the replication', () => {
  it('returns once the surplus copies are off the disks and out of the NameNode map', async () => {
    const cluster = await clusters.start({
      datanodes: 3,
      // The monitor acts within 300 ms; the nodes keep the default 3 s heartbeat (and the
      // NameNode its 30 s dead-node timeout), so deletions reach them seconds later.
      namenodeEnv: { DFS_NAMENODE_REPLICATION_INTERVAL_MS: '300' },
    });
    const client = clusters.client(cluster);
    await waitForDatanodes(client, 3);
    const files = ['/s/a', '/s/b'];
    for (const [i, f] of files.entries())
      await putBuffer(client, f, testBytes(2 * BLOCK_BYTES + 99, i), {
        replication: 3,
        blockBytes: BLOCK_BYTES,
        chunkBytes: 16 * KiB,
        packetBytes: 64 * KiB,
      });
    await waitForReplicas(cluster, client, files, 3);
    const blocks = await blocksOf(client, files);

    // Watch fsck while -w waits: the surplus shows as `deleting` before it is gone.
    let sawDeleting = false;
    let waiting = true;
    const watch = (async () => {
      while (waiting) {
        const r = await runDfs(cluster.namenodeAddress, [
          '--json',
          'fsck',
          '/s',
          '--files',
          '--blocks',
          '--locations',
        ]);
        const doc = JSON.parse(r.stdout) as FsckDocument;
        const states = JSON.stringify(doc);
        if (states.includes('"deleting"')) sawDeleting = true;
      }
    })();
    const r = await runDfs(cluster.namenodeAddress, ['setrep', '-w', '-R', '1', '/s'], { timeoutMs: 30_000 });
    waiting = false;
    await watch;
    ok(r);
    expect(r.stdout).toContain('Replication 1 reached: 2 files');

    // Right as -w returns: one copy per block on disk, one in the NameNode's view, none deleting.
    for (const lb of blocks) {
      const onDisk = replicaDirsOnDisk(cluster, lb.block.blockId);
      expect(onDisk.finalized.length, `block ${lb.block.blockId} on disk`).toBe(1);
      expect(onDisk.rbw).toEqual([]);
    }
    for (const f of files) {
      const { blocks: health } = await client.blockHealth(f);
      for (const b of health) expect(b.replicas.map((x) => x.state)).toEqual([1]);
    }
    expect(sawDeleting, 'fsck showed the surplus as deleting while -w waited').toBe(true);
  });
});
