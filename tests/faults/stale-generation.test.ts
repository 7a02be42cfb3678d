/**
 * Generation stamps after pipeline recovery, across real processes (issue 15 item 3): a
 * write at replication 3 loses one DataNode from its pipeline while that node keeps running
 * (its connection is cut by a TCP forwarder standing in for its address, tests/support/tcp-proxy.ts),
 * and the client rebuilds the pipeline from the two survivors.
 *
 *   where the cut falls                     | the dropped node is left with
 *   ----------------------------------------|-----------------------------------------------
 *   mid-block (after ~1.5 packets)          | an unfinished replica in rbw/ at the old stamp
 *   after it finalized the block, before    | a finalized replica at the old stamp, which the
 *   its (delayed) ack got back upstream     | NameNode accepted and then forgot at the bump
 *
 * Either way: the block's generation stamp went up; the dropped node, stopped and restarted
 * with that stale replica on disk, has it deleted within a bounded wait (the NameNode refuses
 * it in the node's full report; an unfinished one may also be dropped by the node itself),
 * and it is never served: the NameNode never lists the node for the block, the file reads
 * back identical throughout. The assertions do not depend on which directory the stale copy
 * is in, so they hold as rbw/ replicas come to survive restarts and be reported.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Block } from '../../protocol/shared-structures.js';
import { clusterPerTest } from '../support/cluster.js';
import {
  datanodeInfo,
  getBuffer,
  logsMatching,
  putBuffer,
  replicaDir,
  steerPlacement,
  testBytes,
  waitFor,
  waitForDatanodes,
  waitForLocations,
  withNodeAt,
  within,
} from '../support/data-path.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';

const KiB = 1024;
const LAYOUT = { blockBytes: 256 * KiB, packetBytes: 64 * KiB, chunkBytes: 4 * KiB };
const VICTIM = 3;

const clusters = clusterPerTest();
const proxies: TcpProxy[] = [];
afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close();
});

/** The node's copy of the block on disk, in either directory, with the stamp in its meta header. */
function replicaOnDisk(
  cluster: LocalCluster,
  index: number,
  blockId: number,
): { state: 'rbw' | 'finalized'; genStamp: number } | null {
  for (const state of ['rbw', 'finalized'] as const) {
    const meta = path.join(replicaDir(cluster, index, state, blockId), 'meta');
    if (!fs.existsSync(meta)) continue;
    const b = fs.readFileSync(meta);
    return { state, genStamp: b.readUInt32BE(16) * 0x1_0000_0000 + b.readUInt32BE(20) };
  }
  return null;
}

const CASES = [
  { name: 'cut mid-block: the stale replica is unfinished', finalizedFirst: false },
  { name: 'cut after the node finalized the block: the stale replica is finalized', finalizedFirst: true },
];

describe('a DataNode dropped from a pipeline (not killed) and restarted with its stale replica', () => {
  for (const { name, finalizedFirst } of CASES) {
    it(name, { timeout: 120_000 }, async () => {
      const cluster = await clusters.start({
        datanodes: 4,
        // Delayed acks hold the ack of the last packet back after the node finalized, so
        // the cut can fall between its finalize and its ack.
        datanodeEnv: (i) =>
          i === VICTIM && finalizedFirst ? { DFS_FAULTS: JSON.stringify({ ackDelayMs: 2_000 }) } : {},
      });
      const client = clusters.client(cluster);
      await waitForDatanodes(client, 4);
      const proxy = await startTcpProxy(cluster.datanodes[VICTIM]!.port);
      proxies.push(proxy);
      const victim = datanodeInfo(cluster, VICTIM);

      // The victim last in the pipeline, reached through the proxy.
      steerPlacement(client, (locations, exclude) =>
        withNodeAt(locations, victim, 2, exclude).map((l) =>
          l.nodeId === victim.nodeId ? { ...l, port: proxy.port } : l,
        ),
      );
      const allocated: Block[] = [];
      const nn = client.namenodeClient;
      const steered = nn.addBlock.bind(nn);
      nn.addBlock = async (req) => {
        const lb = await steered(req);
        allocated.push({ ...lb.block });
        return lb;
      };

      const remote = '/stale/file';
      const data = testBytes(200 * KiB + 123, finalizedFirst ? 2 : 1);
      const recoveries: string[] = [];
      let victimStopped: Promise<unknown> | null = null;
      if (!finalizedFirst) proxy.dropAfter(100 * KiB);
      const upload = putBuffer(
        client,
        remote,
        data,
        { replication: 3, ...LAYOUT },
        {
          onStream: (s) =>
            s.on('recovery', (m: string) => {
              recoveries.push(m);
              // Stopped as soon as it is out of the pipeline: whatever it holds now is what it
              // restarts with (and the NameNode cannot pick it to copy the block back).
              victimStopped ??= cluster.datanodes[VICTIM]!.stop();
            }),
        },
      );
      if (finalizedFirst) {
        await waitFor(
          'the victim to finalize the block',
          () =>
            allocated.length > 0 &&
            logsMatching(cluster.datanodes[VICTIM]!, {
              msg: 'replica finalized',
              block: allocated[0]!.blockId,
            }).length > 0
              ? true
              : undefined,
          20_000,
          5,
        );
        proxy.drop();
      }
      await within(60_000, 'upload', upload);
      await within(20_000, 'the victim to stop', victimStopped ?? Promise.reject(new Error('no recovery')));

      expect(allocated.length).toBe(1);
      const old = allocated[0]!;
      expect(recoveries.length).toBeGreaterThan(0);
      for (const m of recoveries) expect(m).toMatch(`rebuilt without ${victim.nodeId} `);
      // The stamp went up, and the victim is left with a copy at the old one.
      const [lb] = (await client.getBlockLocations(remote, 0, 0)).blocks;
      expect(lb!.block.blockId).toBe(old.blockId);
      expect(lb!.block.genStamp).toBeGreaterThan(old.genStamp);
      expect(lb!.block.numBytes).toBe(data.length);
      const stale = replicaOnDisk(cluster, VICTIM, old.blockId);
      expect(stale, 'the victim holds a stale replica before its restart').not.toBeNull();
      expect(stale!.genStamp).toBe(old.genStamp);
      if (finalizedFirst) expect(stale!.state).toBe('finalized');

      // Copied back to three replicas, on the other nodes, while the victim is down.
      const healed = await waitForLocations(client, remote, 3, 30_000);
      expect(healed[0]!.locations.map((l) => l.nodeId)).not.toContain(victim.nodeId);

      await cluster.restartDatanode(VICTIM);
      await waitForDatanodes(client, 4);
      // Until the stale copy is gone, and a while after, it is never handed to a reader.
      const neverServed = async (): Promise<void> => {
        const located = (await client.getBlockLocations(remote, 0, 0)).blocks;
        expect(located[0]!.block.genStamp).toBe(lb!.block.genStamp);
        expect(located[0]!.locations.map((l) => l.nodeId)).not.toContain(victim.nodeId);
        expect((await getBuffer(client, remote)).equals(data)).toBe(true);
      };
      await waitFor(
        'the restarted victim to delete its stale replica',
        async () => {
          await neverServed();
          return replicaOnDisk(cluster, VICTIM, old.blockId) === null ? true : undefined;
        },
        20_000,
        100,
      );
      if (finalizedFirst) {
        // The NameNode refused it from the node's full report (the forgotten finalized copy).
        const refused = logsMatching(cluster.namenode, {
          msg: 'invalid replica reported; scheduling deletion',
          node: victim.nodeId,
        });
        expect(refused.some((r) => (r.block as Block).blockId === old.blockId)).toBe(true);
      }
      for (let i = 0; i < 3; i++) await neverServed();
    });
  }
});
