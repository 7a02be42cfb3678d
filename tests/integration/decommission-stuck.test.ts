/**
 * A decommission that cannot finish says so while it waits (issue 10 item 9), across real
 * processes: three DataNodes, a file at replication 3, one node decommissioned. Its blocks
 * would need a third in-service node that does not exist, so the node stays
 * `decommissioning`; `dfs admin report` (text and --json) and `dfs admin decommission` show
 * how many of its blocks still need copies and how many cannot be placed at all, and the
 * NameNode warns once, then backs off (decommission-progress.ts). A file at replication 2
 * drains normally meanwhile and does not count as stuck. A fourth DataNode joining lets the
 * drain finish: the node is `decommissioned` and its counts drop to 0.
 */
import { describe, expect, it } from 'vitest';
import type { ClusterReport, ReportNode } from '../../src/cli/admin-format.js';
import { clusterPerTest } from '../support/cluster.js';
import { putBuffer, sleep, testBytes, waitFor, waitForDatanodes } from '../support/data-path.js';
import { ok, runDfs } from '../support/dfs-cli.js';
import * as healing from '../support/healing.js';

const STUCK_WARNING =
  'decommission cannot finish: files want more replicas than there are live in-service DataNodes; add DataNodes or lower their replication';

const clusters = clusterPerTest();

describe('a decommission that cannot finish', () => {
  it('is shown in admin report and decommission status, warned about with backoff, and finishes once a node joins', async () => {
    const cluster = await clusters.start({
      datanodes: 3,
      namenodeEnv: healing.HEALING_NAMENODE_ENV,
      datanodeEnv: () => healing.HEALING_DATANODE_ENV,
    });
    const client = clusters.client(cluster);
    await waitForDatanodes(client, 3);
    const layout = { blockBytes: healing.BLOCK_BYTES, chunkBytes: 16 * 1024, packetBytes: 64 * 1024 };
    const bytes = (blocks: number, seed: number): Buffer => testBytes(blocks * healing.BLOCK_BYTES + 5, seed);
    await putBuffer(client, '/d/three', bytes(2, 1), { replication: 3, ...layout });
    await putBuffer(client, '/d/two', bytes(1, 2), { replication: 2, ...layout });
    await healing.waitForReplicas(cluster, client, ['/d/three'], 3);
    await healing.waitForReplicas(cluster, client, ['/d/two'], 2);
    const stuckBlocks = (await healing.blocksOf(client, ['/d/three'])).length;
    expect(stuckBlocks).toBe(3);

    const victim = `127.0.0.1:${cluster.datanodes[0]!.port}`;
    const dfs = (args: string[]) => runDfs(cluster.namenodeAddress, args, { timeoutMs: 20_000 });
    ok(await dfs(['admin', 'decommission', victim]));

    // Once its rep-2 blocks have their copies, the victim's only blocks left are the stuck ones.
    const node = await waitFor(
      'the victim to show its stuck blocks',
      async () => {
        const r = JSON.parse(ok(await dfs(['--json', 'admin', 'report'])).stdout) as ClusterReport;
        const n = r.nodes.find((x) => x.address === victim);
        return n?.drainStuckBlocks === stuckBlocks && n.drainBlocks === stuckBlocks ? n : undefined;
      },
      15_000,
      200,
    );
    expect(node).toMatchObject<Partial<ReportNode>>({ state: 'decommissioning' });
    const text = ok(await dfs(['admin', 'report'])).stdout;
    expect(text).toContain(
      `${node.nodeId} decommissioning: 3 blocks still to copy elsewhere; 3 cannot be placed (their files want more replicas than there are live in-service DataNodes`,
    );
    const status = JSON.parse(ok(await dfs(['--json', 'admin', 'decommission', victim])).stdout) as Record<
      string,
      unknown
    >;
    expect(status).toMatchObject({ state: 'decommissioning', drainBlocks: 3, drainStuckBlocks: 3 });
    expect(ok(await dfs(['admin', 'decommission', victim])).stdout).toContain('3 cannot be placed');

    // Warned at once, then not again for 30 s although it is counted every 2 s.
    const warnings = (): Array<Record<string, unknown>> =>
      cluster.namenode.logs.filter((l) => l.msg === STUCK_WARNING);
    await waitFor('the stuck-decommission warning', () => (warnings().length > 0 ? true : undefined));
    expect(warnings()[0]).toMatchObject({
      level: 40,
      node: node.nodeId,
      drainStuckBlocks: 3,
      replicationWanted: 3,
      inServiceNodes: 2,
      nextWarningInMs: 30_000,
    });
    await sleep(5_000); // two more counts: the backoff is what keeps them quiet
    expect(warnings().length).toBe(1);

    // A fourth node makes every block placeable: the drain finishes.
    await cluster.addDatanode();
    await waitFor(
      'the victim to be decommissioned',
      async () => {
        const r = JSON.parse(ok(await dfs(['--json', 'admin', 'report'])).stdout) as ClusterReport;
        const n = r.nodes.find((x) => x.address === victim);
        return n?.state === 'decommissioned' ? n : undefined;
      },
      20_000,
      200,
    ).then((n) => expect(n).toMatchObject({ drainBlocks: 0, drainStuckBlocks: 0 }));
    expect(warnings().length).toBe(1);
  });
});
