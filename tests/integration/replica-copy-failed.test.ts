/**
 * A replica copy its target refuses (issue 10 item 9: a target still holding a surplus
 * replica being deleted answers ALREADY_EXISTS) is reported by its source (PROTOCOL.md 0x26
 * replicaCopyFailed), and the NameNode schedules it again at once on another node, not on
 * the one that refused. The pending-copy timeout is a minute here: only the report can make
 * the copy happen within seconds.
 *
 * Deterministic placement: the file is written to DataNodes 0 and 1 (steered pipeline), so
 * when its replication goes to 3 the only possible target is DataNode 2, which refuses
 * every incoming copy (fault hook refuseTransfers). DataNode 3 joins after the refusal; the
 * block must land there, and DataNode 2 must not be asked again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { startCluster } from '../support/cluster.js';
import {
  datanodeInfo,
  getBuffer,
  nodeIdOf,
  putBuffer,
  steerPlacement,
  testBytes,
  waitFor,
  waitForDatanodes,
} from '../support/data-path.js';
import {
  HEALING_DATANODE_ENV,
  HEALING_NAMENODE_ENV,
  KiB,
  blocksOf,
  waitForReplicas,
} from '../support/healing.js';

const REFUSER = 2;
const NAMENODE_ENV = { ...HEALING_NAMENODE_ENV, DFS_NAMENODE_REPLICATION_PENDING_TIMEOUT_MS: '60000' };

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

function logged(cluster: LocalCluster, msg: string): Array<Record<string, unknown>> {
  return cluster.namenode.logs.filter((l) => l.msg === msg);
}

describe('a replica copy refused by its target', () => {
  it('is reported and copied to another node within seconds, not after the pending timeout', async () => {
    const started = await startCluster({
      datanodes: 3,
      logLevel: 'info',
      namenodeEnv: NAMENODE_ENV,
      datanodeEnv: (i) => ({
        ...HEALING_DATANODE_ENV,
        ...(i === REFUSER ? { DFS_FAULTS: JSON.stringify({ refuseTransfers: true }) } : {}),
      }),
    });
    const { cluster } = started;
    const client = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 15_000 });
    cleanup = async () => {
      client.close();
      await started.cleanup();
    };
    await waitForDatanodes(client, 3);

    const file = '/refused/f';
    const data = testBytes(100 * KiB, 77);
    const undo = steerPlacement(client, (_locations, exclude) =>
      [datanodeInfo(cluster, 0), datanodeInfo(cluster, 1)].filter((n) => !exclude.includes(n.nodeId)),
    );
    await putBuffer(client, file, data, { replication: 2 });
    undo();
    await waitForReplicas(cluster, client, [file], 2);
    const [block] = await blocksOf(client, [file]);
    const blockId = block!.block.blockId;

    await client.setReplication(file, 3);
    const refuser = nodeIdOf(cluster, REFUSER);
    await waitFor(
      'the NameNode to log the failed copy report',
      () =>
        logged(cluster, 'replica copy failure reported; rescheduling elsewhere').find(
          (l) => l.block === blockId && (l.failedTargets as string[]).includes(refuser),
        ),
      10_000,
    );

    const t0 = Date.now();
    const joined = await cluster.addDatanode();
    await waitForReplicas(cluster, client, [file], 3, { ignore: [REFUSER], timeoutMs: 10_000 });
    expect(Date.now() - t0).toBeLessThan(10_000);
    const copiesToRefuser = logged(cluster, 'replica copy scheduled').filter(
      (l) => l.block === blockId && (l.targets as string[]).includes(refuser),
    );
    expect(copiesToRefuser).toHaveLength(1);
    expect(
      logged(cluster, 'replica copy scheduled').some(
        (l) => l.block === blockId && (l.targets as string[]).includes(nodeIdOf(cluster, joined)),
      ),
    ).toBe(true);
    expect((await getBuffer(client, file)).equals(data)).toBe(true);
  });
});
