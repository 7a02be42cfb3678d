/**
 * A DataNode stopped on purpose (SIGTERM) tells the NameNode it is leaving (unregister,
 * PROTOCOL.md 0x25), so its replicas are copied elsewhere at once rather than after the
 * dead-node timeout, which here is a minute: the repair must be done long before it.
 * A DataNode killed with SIGKILL cannot say so, and still waits out the timeout.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../support/data-path.js';
import {
  startHealingCluster,
  waitForReplicas,
  waitNodeState,
  writeFiles,
  expectFilesIntact,
  type HealingCluster,
} from '../support/healing.js';
import { DatanodeReportState } from '../../protocol/admin-namenode-messages.js';

/** Far longer than the test waits: only an unregister can make the node dead in time. */
const LONG_DEAD_NODE_TIMEOUT = { DFS_NAMENODE_DEAD_NODE_TIMEOUT_MS: '60000' };

let h: HealingCluster | null = null;
afterEach(async () => {
  await h?.cleanup();
  h = null;
});

describe('a DataNode stopped with SIGTERM', () => {
  it('unregisters: the NameNode holds it dead at once and its replicas are copied within seconds', async () => {
    h = await startHealingCluster(3, { namenodeEnv: LONG_DEAD_NODE_TIMEOUT });
    const { cluster, client } = h;
    const files = await writeFiles(client, '/leaving', 2, 41, 2);
    await waitForReplicas(cluster, client, files.keys(), 2);

    const leaving = cluster.datanodes[0]!;
    expect(await leaving.stop()).toBe(0);
    expect(leaving.logs.some((l) => l.msg === 'unregistered from the NameNode')).toBe(true);
    await waitNodeState(cluster, client, 0, DatanodeReportState.DEAD, 10_000);
    // Every block back at two replicas, none of them on the stopped node.
    await waitForReplicas(cluster, client, files.keys(), 2, { ignore: [0], timeoutMs: 20_000 });
    await waitFor(
      'the NameNode to log the unregister',
      () =>
        cluster.namenode.logs.some((l) => String(l.msg).startsWith('datanode unregistered'))
          ? true
          : undefined,
      5_000,
    );
    await expectFilesIntact(client, files);
  });
});
