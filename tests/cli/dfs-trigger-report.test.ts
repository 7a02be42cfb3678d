/**
 * `dfs admin trigger-block-report` as an operator runs it: `node bin/dfs.js` against a real
 * NameNode and two DataNodes that heartbeat every 200 ms (their periodic full report stays
 * at 6 h, so every full report after the first is one the test asked for). A node is dead
 * after 2.5 s of silence (tests/support/healing.ts). The tests run in order on one cluster;
 * the one that kills a DataNode comes last:
 *
 *   | test          | checks                                                                  |
 *   |---------------|-------------------------------------------------------------------------|
 *   | live node     | the node's last full report (admin report) advances and lists every     |
 *   |               | replica it holds; only that node reports; --wait and the text output    |
 *   | refusals      | ACCESS_DENIED on a CLIENT connection, NOT_FOUND for an unknown node,    |
 *   |               | USAGE without a node                                                    |
 *   | dead node     | DATANODE_DEAD                                                           |
 *
 * Every wait is bounded; the cluster is killed in afterAll.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Role } from '../../protocol/handshake.js';
import type { ClusterReport, ReportNode } from '../../src/cli/admin-format.js';
import { DfsClient } from '../../src/client/dfs-client.js';
import { putBuffer, testBytes, waitFor } from '../support/data-path.js';
import { failedWith, ok, runDfs, type DfsRun } from '../support/dfs-cli.js';
import { startHealingCluster, type HealingCluster } from '../support/healing.js';

const DATANODES = 2;
const BLOCK_BYTES = 256 * 1024;
/** Two full blocks and a partial one, on both nodes (replication 2). */
const FILE_BLOCKS = 3;
const DATANODE_ENV: NodeJS.ProcessEnv = { DFS_DATANODE_HEARTBEAT_INTERVAL_MS: '200' };

let cluster: HealingCluster['cluster'];
let client: DfsClient;
let cleanup: (() => Promise<void>) | null = null;

function dfs(args: string[]): Promise<DfsRun> {
  return runDfs(cluster.namenodeAddress, args, { timeoutMs: 30_000 });
}

async function reportNodes(): Promise<ReportNode[]> {
  return (JSON.parse(ok(await dfs(['--json', 'admin', 'report'])).stdout) as ClusterReport).nodes;
}

async function nodeAt(address: string): Promise<ReportNode> {
  const n = (await reportNodes()).find((x) => x.address === address);
  expect(n, address).toBeDefined();
  return n!;
}

const addressOf = (i: number): string => `127.0.0.1:${cluster.datanodes[i]!.port}`;

beforeAll(async () => {
  ({ cluster, client, cleanup } = await startHealingCluster(DATANODES, { datanodeEnv: DATANODE_ENV }));
});

afterAll(async () => {
  await cleanup?.();
});

describe('dfs admin trigger-block-report on a live node', () => {
  it('the NameNode processes a new full report from that node, listing every replica it holds', async () => {
    await putBuffer(client, '/tr/f', testBytes(2 * BLOCK_BYTES + 1000, 7), {
      replication: DATANODES,
      blockBytes: BLOCK_BYTES,
    });
    // Both nodes hold every block (reported one by one, through blockReceived).
    await waitFor(
      'both nodes to hold every block',
      async () => ((await reportNodes()).every((n) => n.blockCount === FILE_BLOCKS) ? true : undefined),
      15_000,
      100,
    );
    const target = addressOf(0);
    const before = await nodeAt(target);
    const other = await nodeAt(addressOf(1));
    // The only full reports so far came at registration, before the file existed.
    expect(before).toMatchObject({ state: 'live', lastBlockReportBlocks: 0 });
    expect(before.lastBlockReportMs).toBeGreaterThan(0);

    const asked = JSON.parse(
      ok(await dfs(['--json', 'admin', 'trigger-block-report', target])).stdout,
    ) as Record<string, unknown>;
    expect(asked).toMatchObject({
      nodeId: before.nodeId,
      address: target,
      previousBlockReportMs: before.lastBlockReportMs,
      waited: false,
    });

    const after = await waitFor(
      `a new full report from ${target}`,
      async () => {
        const n = await nodeAt(target);
        return n.lastBlockReportMs > before.lastBlockReportMs ? n : undefined;
      },
      10_000,
      100,
    );
    expect(after).toMatchObject({
      state: 'live',
      lastBlockReportBlocks: FILE_BLOCKS,
      blockCount: FILE_BLOCKS,
    });
    // Only the node asked reported.
    expect(await nodeAt(addressOf(1))).toMatchObject({
      lastBlockReportMs: other.lastBlockReportMs,
      lastBlockReportBlocks: 0,
    });

    // By node id, with --wait: the text names the node, then the report once it is processed.
    const waited = ok(
      await dfs(['admin', 'trigger-block-report', '--wait', '--timeout', '10s', other.nodeId]),
    ).stdout;
    expect(waited).toMatch(
      new RegExp(
        `^Block report requested: ${addressOf(1)} \\(${other.nodeId}\\)\\nBlock report processed: \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ, ${FILE_BLOCKS} blocks\\n$`,
      ),
    );
    const second = await nodeAt(addressOf(1));
    expect(second.lastBlockReportMs).toBeGreaterThan(other.lastBlockReportMs);
    expect(second.lastBlockReportBlocks).toBe(FILE_BLOCKS);

    // The report shows it as a column.
    const text = ok(await dfs(['admin', 'report'])).stdout;
    expect(text).toMatch(/ LAST HEARTBEAT +LAST BLOCK REPORT$/m);
    expect(text).toMatch(
      new RegExp(
        `^${other.nodeId} +${addressOf(1)} +live .* \\d{4}-\\d\\d-\\d\\dT[\\d:]+Z, ${FILE_BLOCKS} blocks$`,
        'm',
      ),
    );
  });
});

describe('refusals', () => {
  it('ACCESS_DENIED on a CLIENT connection, NOT_FOUND for a node never registered', async () => {
    const target = addressOf(0);
    const before = await nodeAt(target);
    await expect(client.namenodeClient.triggerBlockReport({ node: target })).rejects.toMatchObject({
      code: 'ACCESS_DENIED',
    });
    // The connection still serves.
    expect((await client.datanodeReport()).length).toBe(DATANODES);

    const admin = new DfsClient({ namenode: cluster.namenodeAddress, role: Role.ADMIN });
    try {
      await expect(admin.namenodeClient.triggerBlockReport({ node: '127.0.0.1:1' })).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
      await expect(
        admin.namenodeClient.triggerBlockReport({ node: 'DN-no-such-node' }),
      ).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
    } finally {
      admin.close();
    }
    failedWith(
      await dfs(['admin', 'trigger-block-report', '127.0.0.1:1']),
      'admin trigger-block-report',
      'NOT_FOUND',
    );
    failedWith(await dfs(['admin', 'trigger-block-report']), 'admin trigger-block-report', 'USAGE', 2);
    // Nothing was asked of the node: several heartbeats later its last report is the same.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await nodeAt(target)).lastBlockReportMs).toBe(before.lastBlockReportMs);
  });
});

describe('a dead node', () => {
  it('is refused with DATANODE_DEAD', async () => {
    const victim = addressOf(1);
    await cluster.datanodes[1]!.kill();
    await waitFor(
      `${victim} to be dead`,
      async () => ((await nodeAt(victim)).state === 'dead' ? true : undefined),
      15_000,
      200,
    );
    const line = failedWith(
      await dfs(['admin', 'trigger-block-report', victim]),
      'admin trigger-block-report',
      'DATANODE_DEAD',
    );
    expect(line).toContain(victim);
  });
});
