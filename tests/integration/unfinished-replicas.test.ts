/**
 * Unfinished (rbw) replicas across real processes (issue 10 item 2): a writer that vanished
 * mid-block leaves an rbw replica on every DataNode of its pipeline. They are listed in
 * block reports; the NameNode keeps them while their file is open (a block recovery uses
 * them, even ones it learnt of only from reports, after a DataNode and a NameNode restart),
 * and has them deleted once the file is deleted or closed without them, from running
 * DataNodes, without a restart. Their space counts as used in `dfs admin report` and
 * `dfs df`.
 */
import { describe, expect, it } from 'vitest';
import { clusterPerTest } from '../support/cluster.js';
import { runDfs } from '../support/dfs-cli.js';
import { getBuffer, logsMatching, nodeIdOf, testBytes, waitFor } from '../support/data-path.js';
import type { DfsClient } from '../../src/client/dfs-client.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { copyingPath, putKilledMidBlock, rbwSizes, type KilledPut } from '../support/killed-writer.js';

const clusters = clusterPerTest();

const MiB = 1024 * 1024;
const BLOCK = 4 * MiB;

/** 2.5 MiB of a 4 MiB block: two packets reach the DataNodes, half a packet dies with the writer. */
const SOURCE = testBytes(2.5 * MiB, 11);

function holders(cluster: LocalCluster, blockId: number): number[] {
  return cluster.datanodes.map((_, i) => i).filter((i) => rbwSizes(cluster.dataDir(i)).has(blockId));
}

/**
 * Three DataNodes (NameNode environment `env`) and a `dfs put` of SOURCE to `remote`
 * killed with 2 MiB of its one block in rbw on each.
 */
async function clusterWithKilledPut(
  remote: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ cluster: LocalCluster; client: DfsClient; killed: KilledPut }> {
  const cluster = await clusters.start({ datanodes: 3, namenodeEnv: env });
  await cluster.waitWritable();
  const client = clusters.client(cluster);
  const killed = await putKilledMidBlock(cluster, client, {
    remote,
    source: SOURCE,
    blockBytes: BLOCK,
    blockIndex: 0,
    rbwBytes: 2 * MiB,
  });
  return { cluster, client, killed };
}

/** The nodes whose full report the NameNode processed, keeping `kept` unfinished replicas of it. */
function reportedKeeping(cluster: LocalCluster, kept: number): string[] {
  const nodes = logsMatching(cluster.namenode, { msg: 'block report processed', unfinishedKept: kept });
  return [...new Set(nodes.map((r) => r.node as string))].sort();
}

/**
 * How long DataNodes may take to re-register and report after a NameNode restart: the next
 * heartbeat (DataNode heartbeatIntervalMs, 3 s) finds it gone, then retries back off up to
 * 10 s apart (src/datanode/namenode-link.ts BACKOFF_MAX_MS) while it starts; a loaded machine
 * starts it slowly, so the retries have backed off further.
 */
const REREGISTER_MS = 40_000;

describe('unfinished replicas', () => {
  it('left by a vanished writer on running DataNodes: reported, and deleted once the file is deleted', async () => {
    const { cluster, client, killed } = await clusterWithKilledPut('/gone');
    const { blockId } = killed;
    const allNodes = cluster.datanodes.map((_, i) => nodeIdOf(cluster, i)).sort();
    // A restarted NameNode knows the replicas only from the DataNodes' reports: wait for one
    // from every DataNode (by node: one of them may report twice, on a REREGISTER), each
    // listing the replica and the NameNode keeping it while the file is open.
    await cluster.restartNamenode();
    await waitFor(
      'a full report keeping the unfinished replica from every DataNode',
      () => (reportedKeeping(cluster, 1).join() === allNodes.join() ? true : undefined),
      REREGISTER_MS,
    );
    await cluster.waitWritable();
    expect(holders(cluster, blockId)).toEqual([0, 1, 2]);
    const pids = cluster.datanodes.map((d) => d.pid);

    await client.delete(copyingPath('/gone'));
    // The disk and the log line each say it: a DataNode logs its deletion only after the rbw
    // directory is gone, and its log reaches this process through a pipe, later still.
    const deleted = (d: LocalCluster['datanodes'][number]) =>
      logsMatching(d, { msg: 'replica deleted on NameNode request', block: blockId });
    await waitFor(
      'every unfinished replica removed, and each removal logged',
      () =>
        holders(cluster, blockId).length === 0 && cluster.datanodes.every((d) => deleted(d).length > 0)
          ? true
          : undefined,
      20_000,
    );
    // Removed by the running DataNodes on the NameNode's word, not by a restart, once each.
    expect(cluster.datanodes.map((d) => d.pid)).toEqual(pids);
    expect(cluster.datanodes.every((d) => d.running)).toBe(true);
    for (const d of cluster.datanodes) expect(deleted(d)).toHaveLength(1);
  }, 90_000);

  it('survive a DataNode restart, serve a block recovery after a NameNode restart; a stale one is deleted', async () => {
    const { cluster, client, killed } = await clusterWithKilledPut('/kept', {
      DFS_NAMENODE_LEASE_LIMIT_MS: '8000',
      DFS_NAMENODE_LEASE_CHECK_INTERVAL_MS: '300',
    });
    const { blockId } = killed;
    const writing = copyingPath('/kept');
    // DataNode 2 dies with its replica; DataNode 0 restarts and keeps its own.
    await cluster.datanodes[2]!.kill();
    await cluster.restartDatanode(0);
    expect(rbwSizes(cluster.dataDir(0)).get(blockId)).toBeGreaterThanOrEqual(2 * MiB);
    expect(
      logsMatching(cluster.datanodes[0]!, { msg: 'unfinished replicas kept for the NameNode to judge' }),
    ).toHaveLength(1);
    // The NameNode forgets the pipeline's targets: what it knows comes from reports.
    await cluster.restartNamenode();

    const closed = await waitFor(
      'lease recovery to close the file',
      async () => {
        const st = await client.stat(writing).catch(() => null);
        return st === null || st.underConstruction ? undefined : st;
      },
      40_000,
      200,
    );
    expect(closed.length).toBe(2 * MiB);
    expect((await getBuffer(client, writing)).equals(SOURCE.subarray(0, 2 * MiB))).toBe(true);
    const [commit] = logsMatching(cluster.namenode, { msg: 'block recovery committed; file closed' });
    expect((commit!.nodes as string[]).sort()).toEqual([nodeIdOf(cluster, 0), nodeIdOf(cluster, 1)].sort());

    // DataNode 2 comes back with its replica of the now closed file: reported, then deleted.
    // (At replication 2 the NameNode has no copy to send it, which would replace the stale
    // replica instead.)
    await client.setReplication(writing, 2);
    expect(rbwSizes(cluster.dataDir(2)).has(blockId)).toBe(true);
    await cluster.restartDatanode(2);
    await waitFor('the stale unfinished replica removed', () =>
      rbwSizes(cluster.dataDir(2)).has(blockId) ? undefined : true,
    );
    // (It may list one more: the empty replica of the block the writer had reserved ahead,
    // which the restarted NameNode does not know either.)
    expect(
      logsMatching(cluster.datanodes[2]!, { msg: 'full block report sent' }).some(
        (r) => (r.unfinished as number) >= 1,
      ),
    ).toBe(true);
    expect(
      logsMatching(cluster.namenode, {
        msg: 'unfinished replica of a closed or unknown block; scheduling deletion',
        node: nodeIdOf(cluster, 2),
      }).filter((r) => (r.block as { blockId: number }).blockId === blockId),
    ).toHaveLength(1);
    expect(cluster.datanodes[2]!.running).toBe(true);
  }, 120_000);

  it('their space counts as used in dfs admin report and dfs df', async () => {
    const { cluster, killed } = await clusterWithKilledPut('/space');
    const { heldBytes } = killed;
    expect(heldBytes).toBeGreaterThanOrEqual(2 * MiB);
    // Nothing is finalized anywhere: every byte counted is in an unfinished replica.
    const report = await waitFor('used bytes in the admin report', async () => {
      const r = await runDfs(cluster.namenodeAddress, ['--json', 'admin', 'report']);
      expect(r.code, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout) as { usedBytes: number; nodes: Array<{ usedBytes: number }> };
      return doc.nodes.every((n) => n.usedBytes >= heldBytes) ? doc : undefined;
    });
    expect(report.usedBytes).toBeGreaterThanOrEqual(3 * heldBytes);
    const df = await runDfs(cluster.namenodeAddress, ['--json', 'df']);
    expect(df.code, df.stderr).toBe(0);
    expect((JSON.parse(df.stdout) as { usedBytes: number }).usedBytes).toBeGreaterThanOrEqual(3 * heldBytes);
    // The text forms show it too (exact byte counts by default).
    const dfText = await runDfs(cluster.namenodeAddress, ['df']);
    const used = /^used:\s+(\d+)/m.exec(dfText.stdout);
    expect(used, dfText.stdout).not.toBeNull();
    expect(Number(used![1])).toBeGreaterThanOrEqual(3 * heldBytes);
    const reportText = await runDfs(cluster.namenodeAddress, ['admin', 'report']);
    expect(reportText.code, reportText.stderr).toBe(0);
    expect(reportText.stdout).toContain(String(report.usedBytes));
  }, 90_000);
});
