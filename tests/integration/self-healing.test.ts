/**
 * Self-healing across real processes: a NameNode and four or
 * five DataNodes on loopback with fast timings (dead after 2.5 s of silence, heartbeats and
 * the replication monitor every 300 ms, 256 KiB blocks).
 *
 *   | event                                     | the cluster must                                          |
 *   |-------------------------------------------|-----------------------------------------------------------|
 *   | one node of four dies                     | restore 3 replicas per block; trim to 3 when it returns   |
 *   | one node freezes past the dead timeout    | the same, through REREGISTER when it resumes              |
 *   | two nodes of four die, a fifth joins      | restore 3 replicas of every block from its survivor(s)    |
 *   | a replica rots on disk (never read)       | scanner finds it; re-replicate; delete the rotten copy    |
 *   | the NameNode restarts                     | stay in safe mode (mutations refused) until reports come  |
 *   | a file is deleted while a holder is down  | delete the stale replicas when the holder comes back      |
 *   | setReplication 3 -> 1 -> 3                | shrink to 1 replica, grow back to 3                       |
 *   | setReplication 1 -> 3 with 60 s heartbeats | copies fetched at once (COMMANDS_PENDING), not in 60 s     |
 *   | decommission, then recommission           | drain to 3 elsewhere before "decommissioned"; trim after  |
 *   | an operator enters safe mode              | refuse mutations until the operator leaves it             |
 *
 * Every replica count is checked in both views: the NameNode's (getBlockLocations, live
 * good replicas only) and the disks' (finalized replica directories across every data
 * dir), and a state counts only when they agree (tests/support/healing.ts). Files are read
 * back and compared byte for byte after every healing step. Each test has its own cluster,
 * killed in `finally`; every wait is bounded.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DfsError } from '../../protocol/errors.js';
import { Role } from '../../protocol/handshake.js';
import { DfsClient } from '../../src/client/dfs-client.js';
import { expectReplicasOnDisk, getBuffer, logsMatching, sleep, waitFor } from '../support/data-path.js';
import {
  blockIdsOnDisk,
  blocksOf,
  DEAD_NODE_TIMEOUT_MS,
  expectFilesIntact,
  placements,
  replicaCounts,
  replicaDataFile,
  replicaDirsOnDisk,
  reportOf,
  withHealingCluster,
  waitForReplicas,
  waitHealthy,
  waitNodeState,
  writeFiles,
  type HealingCluster,
} from '../support/healing.js';

const MiB = 1024 * 1024;

const withCluster = withHealingCluster;

/** An operator's client (role ADMIN: safe mode enter/leave and decommissioning need it), closed after `body`. */
async function asAdmin(h: HealingCluster, body: (admin: DfsClient) => Promise<void>): Promise<void> {
  const admin = new DfsClient({
    namenode: h.cluster.namenodeAddress,
    role: Role.ADMIN,
    requestTimeoutMs: 15_000,
  });
  try {
    await body(admin);
  } finally {
    admin.close();
  }
}

/** The DataNode index holding the most finalized replicas (so killing it matters most). */
function busiestNode(h: HealingCluster): number {
  let best = 0;
  for (let i = 1; i < h.cluster.datanodes.length; i++) {
    if (blockIdsOnDisk(h.cluster, i).size > blockIdsOnDisk(h.cluster, best).size) best = i;
  }
  return best;
}

async function expectRefusedInSafeMode(p: Promise<unknown>): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, 'a mutation in safe mode must fail').toBeInstanceOf(DfsError);
  expect((err as DfsError).code).toBe('SAFE_MODE');
}

describe('self-healing across real processes', () => {
  it('restores 3 replicas after a DataNode dies, and trims the surplus when it returns', async () => {
    await withCluster(4, {}, async (h) => {
      const { cluster, client } = h;
      const files = await writeFiles(client, '/dead1', 3, 100);
      await waitForReplicas(cluster, client, files.keys(), 3);
      const victim = busiestNode(h);
      const held = blockIdsOnDisk(cluster, victim);
      expect(held.size).toBeGreaterThan(0);

      await cluster.datanodes[victim]!.kill();
      await waitNodeState(cluster, client, victim, 2, DEAD_NODE_TIMEOUT_MS + 5_000);

      // Every block is back at 3 live replicas, on the three survivors (the dead node's disk still has its copies).
      const healed = await waitForReplicas(cluster, client, files.keys(), 3, { ignore: [victim] });
      for (const p of healed) expect(p.named, `blk_${p.blockId}`).not.toContain(victim);
      for (const n of (await replicaCounts(client, files.keys())).values()) expect(n).toBe(3);
      await waitHealthy(client);
      const stats = await client.replicationStats();
      expect(stats).toMatchObject({
        underReplicated: 0,
        missing: 0,
        corrupt: 0,
        missingBlockIds: [],
        corruptBlockIds: [],
      });
      await expectFilesIntact(client, files);

      // The node returns with its old replicas: each block it held has 4 copies until the surplus goes.
      await cluster.restartDatanode(victim);
      await waitNodeState(cluster, client, victim, 1);
      await waitFor(
        'the returning node to report its replicas',
        () =>
          logsMatching(cluster.namenode, { msg: 'deleting surplus replica' }).length > 0 ? true : undefined,
        10_000,
      );
      const settled = await waitForReplicas(cluster, client, files.keys(), 3);
      for (const p of settled) expect(p.onDisk, `blk_${p.blockId}`).toHaveLength(3);
      await waitHealthy(client);
      // Still exactly 3 a few heartbeats later: no copy or delete was still on its way.
      await sleep(1_000);
      await waitForReplicas(cluster, client, files.keys(), 3, { timeoutMs: 1_000 });
      for (const [remote, data] of files) await expectReplicasOnDisk(cluster, client, remote, data, 3);
      await expectFilesIntact(client, files);
    });
  });

  it('a DataNode frozen past the dead-node timeout re-registers when it resumes, and its surplus is trimmed', async () => {
    await withCluster(4, {}, async (h) => {
      const { cluster, client } = h;
      const files = await writeFiles(client, '/frozen', 2, 150);
      await waitForReplicas(cluster, client, files.keys(), 3);
      const victim = busiestNode(h);
      const pid = cluster.datanodes[victim]!.pid!;

      // SIGSTOP: the process and its NameNode connection live on, but it sends nothing.
      process.kill(pid, 'SIGSTOP');
      try {
        await waitNodeState(cluster, client, victim, 2, DEAD_NODE_TIMEOUT_MS + 5_000);
        await waitForReplicas(cluster, client, files.keys(), 3, { ignore: [victim] });
        await waitHealthy(client);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      // Its next heartbeat is answered with REREGISTER; it registers and reports its replicas again.
      await waitNodeState(cluster, client, victim, 1);
      await waitFor(
        'the NameNode to ask the resumed node to re-register',
        () =>
          logsMatching(cluster.namenode, {
            msg: 'dead datanode is heartbeating again; asking it to re-register',
          }).length > 0
            ? true
            : undefined,
        5_000,
      );
      await waitForReplicas(cluster, client, files.keys(), 3);
      await waitHealthy(client);
      await expectFilesIntact(client, files);
    });
  });

  it('restores 3 replicas after two of four DataNodes die at once, once a fifth joins', async () => {
    await withCluster(4, {}, async (h) => {
      const { cluster, client } = h;
      const files = await writeFiles(client, '/dead2', 3, 200);
      await waitForReplicas(cluster, client, files.keys(), 3);
      const victims = [1, 2];

      await Promise.all(victims.map((i) => cluster.datanodes[i]!.kill()));
      for (const i of victims) await waitNodeState(cluster, client, i, 2, DEAD_NODE_TIMEOUT_MS + 5_000);
      // With 3 replicas on 4 nodes, every block kept at least one live replica.
      for (const [id, n] of await replicaCounts(client, files.keys()))
        expect(n, `blk_${id} live replicas`).toBeGreaterThanOrEqual(1);
      // Two live nodes: blocks left with one replica get their second, but 3 is impossible yet.
      await waitForReplicas(cluster, client, files.keys(), 2, { ignore: victims });
      expect((await client.replicationStats()).missing).toBe(0);

      const added = await cluster.addDatanode();
      await waitNodeState(cluster, client, added, 1);
      const healed = await waitForReplicas(cluster, client, files.keys(), 3, { ignore: victims });
      for (const p of healed) expect(p.named).toEqual([0, 3, added]);
      await waitHealthy(client);
      await expectFilesIntact(client, files);
    });
  });

  it('replaces a replica corrupted on disk that nobody read: found by the scanner, copied, deleted', async () => {
    const scanner = {
      DFS_DATANODE_SCAN_INTERVAL_MS: '300',
      DFS_DATANODE_SCAN_BYTES_PER_SECOND: String(64 * MiB),
    };
    await withCluster(4, { datanodeEnv: scanner }, async (h) => {
      const { cluster, client } = h;
      const files = await writeFiles(client, '/rot', 2, 300);
      await waitForReplicas(cluster, client, files.keys(), 3);
      const target = (await blocksOf(client, ['/rot/f1']))[1]!.block; // a middle block: full size
      const placement = (await placements(cluster, client, ['/rot/f1'])).find(
        (p) => p.blockId === target.blockId,
      )!;
      const victim = placement.onDisk[0]!;
      const spare = [0, 1, 2, 3].find((i) => !placement.onDisk.includes(i))!;

      // Flip 16 bytes in the middle of the data file, in place (same length, meta untouched).
      const file = replicaDataFile(cluster, victim, target.blockId);
      const fd = fs.openSync(file, 'r+');
      const buf = Buffer.alloc(16);
      fs.readSync(fd, buf, 0, 16, 100_000);
      for (let i = 0; i < buf.length; i++) buf[i] = buf[i]! ^ 0xff;
      fs.writeSync(fd, buf, 0, 16, 100_000);
      fs.fsyncSync(fd);
      fs.closeSync(fd);

      await waitFor(
        `the scanner on node ${victim} to find blk_${target.blockId}`,
        () =>
          logsMatching(cluster.datanodes[victim]!, {
            msg: 'block scanner found a corrupt replica',
            block: target.blockId,
          }).length > 0
            ? true
            : undefined,
        15_000,
      );
      await waitFor(
        `the corrupt replica of blk_${target.blockId} to be deleted from node ${victim}`,
        () => (fs.existsSync(file) ? undefined : true),
        15_000,
      );
      const healed = await waitForReplicas(cluster, client, files.keys(), 3);
      const now = healed.find((p) => p.blockId === target.blockId)!;
      expect(now.named).not.toContain(victim);
      expect(now.named).toContain(spare);
      expect(replicaDirsOnDisk(cluster, target.blockId).rbw).toEqual([]);
      await waitHealthy(client);
      expect(await client.replicationStats()).toMatchObject({
        corrupt: 0,
        corruptBlockIds: [],
        missing: 0,
        underReplicated: 0,
      });
      // Every replica on disk, including the new copy, holds the writer's bytes and checksums.
      for (const [remote, data] of files) await expectReplicasOnDisk(cluster, client, remote, data, 3);
      await expectFilesIntact(client, files);
    });
  });

  it('a restarted NameNode stays in safe mode, refusing mutations, until block reports arrive', async () => {
    await withCluster(4, {}, async (h) => {
      const { cluster, client } = h;
      const files = await writeFiles(client, '/safe', 3, 400);
      await waitForReplicas(cluster, client, files.keys(), 3);
      const blockCount = (await blocksOf(client, files.keys())).length;

      // Freeze the DataNodes (SIGSTOP) across the restart so the window before their reports
      // is certain rather than a race against their reconnect; they resume unchanged after.
      await cluster.namenode.stop();
      const pids = cluster.datanodes.map((d: { pid: number | undefined }) => d.pid!);
      for (const pid of pids) process.kill(pid, 'SIGSTOP');
      try {
        await cluster.restartNamenode();
        const s = await client.safeMode('get');
        expect(s).toMatchObject({ on: true, manual: false, reportedBlocks: 0, totalBlocks: blockCount });
        await expectRefusedInSafeMode(client.mkdir('/safe/new-dir'));
        await expectRefusedInSafeMode(client.delete('/safe/f0'));
        expect((await client.serverInfo()).safeMode).toBe(true);
      } finally {
        for (const pid of pids) process.kill(pid, 'SIGCONT');
      }
      const off = await client.waitSafeModeOff(20_000, 100);
      expect(off.on).toBe(false);
      expect(off.reportedBlocks).toBe(blockCount);
      await client.mkdir('/safe/new-dir');
      expect((await client.stat('/safe/new-dir')).type).toBeDefined();
      await expectFilesIntact(client, files);
      await waitForReplicas(cluster, client, files.keys(), 3);
    });
  });

  it("a file deleted while a holder is briefly down loses that holder's replicas when it returns", async () => {
    await withCluster(4, {}, (h) =>
      deleteWhileHolderDown(h, '/del', 500, async (victim) => {
        // A crash, not a stop: a DataNode stopped with SIGTERM unregisters and is dead at once.
        await h.cluster.datanodes[victim]!.kill();
        return async () => {
          expect(
            (await reportOf(h.cluster, h.client, victim)).state,
            'the node is not yet declared dead',
          ).toBe(1);
        };
      }),
    );
  });

  it("a file deleted while a holder is dead loses that holder's replicas when it returns", async () => {
    await withCluster(4, {}, (h) =>
      deleteWhileHolderDown(h, '/deld', 600, async (victim) => {
        await h.cluster.datanodes[victim]!.kill();
        await waitNodeState(h.cluster, h.client, victim, 2, DEAD_NODE_TIMEOUT_MS + 5_000);
        return async () => {};
      }),
    );
  });

  it('setReplication shrinks a file to 1 replica and grows it back to 3', async () => {
    await withCluster(4, {}, async (h) => {
      const { cluster, client } = h;
      const files = await writeFiles(client, '/setrep', 2, 700);
      await waitForReplicas(cluster, client, files.keys(), 3);

      for (const remote of files.keys()) await client.setReplication(remote, 1);
      for (const remote of files.keys()) expect((await client.stat(remote)).replication).toBe(1);
      await waitForReplicas(cluster, client, files.keys(), 1);
      await waitHealthy(client);
      await expectFilesIntact(client, files);

      for (const remote of files.keys()) await client.setReplication(remote, 3);
      for (const remote of files.keys()) expect((await client.stat(remote)).replication).toBe(3);
      await waitForReplicas(cluster, client, files.keys(), 3);
      await waitHealthy(client);
      for (const [remote, data] of files) await expectReplicasOnDisk(cluster, client, remote, data, 3);
      await expectFilesIntact(client, files);
    });
  });

  it('copies are ordered at once: with 60 s heartbeats, replication 1 -> 3 completes long before the next one', async () => {
    // Without the COMMANDS_PENDING notice every REPLICATE would wait for a heartbeat (60 s
    // here); with it, each copy is fetched as soon as it is queued, and a source whose copy
    // finished gets its next one at once (more blocks than the 4 copies per source allowed).
    const slow = { DFS_DATANODE_HEARTBEAT_INTERVAL_MS: '60000' };
    await withCluster(
      4,
      { datanodeEnv: slow, namenodeEnv: { DFS_NAMENODE_DEAD_NODE_TIMEOUT_MS: '600000' } },
      async (h) => {
        const { cluster, client } = h;
        const files = await writeFiles(client, '/notice', 3, 900, 1);
        await waitForReplicas(cluster, client, files.keys(), 1);
        for (const remote of files.keys()) await client.setReplication(remote, 3);
        await waitForReplicas(cluster, client, files.keys(), 3, { timeoutMs: 30_000 });
        for (const [remote, data] of files) await expectReplicasOnDisk(cluster, client, remote, data, 3);
        await expectFilesIntact(client, files);
      },
    );
  });

  it('decommissioning drains a node to 3 replicas elsewhere before it is decommissioned; recommissioning trims back to 3', async () => {
    await withCluster(4, {}, async (h) => {
      const { cluster, client } = h;
      const files = await writeFiles(client, '/decom', 3, 800);
      await waitForReplicas(cluster, client, files.keys(), 3);
      const victim = busiestNode(h);
      const entry = await reportOf(cluster, client, victim);
      const address = `${entry.host}:${entry.port}`;

      // Readers run through the whole drain.
      let draining = true;
      let rounds = 0;
      const reader = (async () => {
        do {
          await expectFilesIntact(client, files);
          rounds++;
        } while (draining);
      })();
      reader.catch(() => {});

      await asAdmin(h, (admin) => admin.decommission(address, true));
      expect((await reportOf(cluster, client, victim)).state, 'draining right after the request').toBe(3);
      await waitNodeState(cluster, client, victim, 4, 20_000);
      // Decommissioned: every block has exactly 3 replicas on the other nodes, named and on disk.
      const drained = await placements(cluster, client, files.keys());
      for (const p of drained) {
        const named = p.named.filter((i) => i !== victim);
        expect(named, `blk_${p.blockId} outside node ${victim}`).toHaveLength(3);
        expect(
          p.onDisk.filter((i) => i !== victim),
          `blk_${p.blockId} on disk`,
        ).toEqual(named);
      }
      draining = false;
      await reader;
      expect(rounds).toBeGreaterThanOrEqual(1);
      await waitHealthy(client);
      // Still decommissioned a while later (it does not flap back).
      await sleep(700);
      expect((await reportOf(cluster, client, victim)).state).toBe(4);

      await asAdmin(h, (admin) => admin.decommission(address, false));
      await waitNodeState(cluster, client, victim, 1);
      await waitForReplicas(cluster, client, files.keys(), 3);
      await waitHealthy(client);
      await expectFilesIntact(client, files);
    });
  });

  it('safe mode entered by an operator blocks mutations until the operator leaves it', async () => {
    await withCluster(3, {}, async (h) => {
      const { cluster, client } = h;
      const files = await writeFiles(client, '/manual', 1, 900);
      await waitForReplicas(cluster, client, files.keys(), 3);

      await expect(
        client.safeMode('enter'),
        'a CLIENT connection may not enter safe mode',
      ).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
      await asAdmin(h, async (admin) =>
        expect(await admin.safeMode('enter')).toMatchObject({ on: true, manual: true }),
      );
      await expectRefusedInSafeMode(client.mkdir('/manual/d'));
      await expectRefusedInSafeMode(client.delete('/manual/f0'));
      await expectRefusedInSafeMode(client.rename('/manual/f0', '/manual/g0'));
      await expectRefusedInSafeMode(client.setReplication('/manual/f0', 2));
      // Every block is reported, yet manual safe mode outlasts the extension and the recheck.
      await sleep(1_200);
      expect(await client.safeMode('get')).toMatchObject({ on: true, manual: true });
      await expectRefusedInSafeMode(client.mkdir('/manual/d'));
      // Reads are not mutations.
      expect((await getBuffer(client, '/manual/f0')).equals(files.get('/manual/f0')!)).toBe(true);

      await expect(
        client.safeMode('leave'),
        'a CLIENT connection may not leave safe mode',
      ).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
      await asAdmin(h, async (admin) =>
        expect(await admin.safeMode('leave')).toMatchObject({ on: false, manual: false }),
      );
      await client.mkdir('/manual/d');
      await client.rename('/manual/f0', '/manual/g0');
      expect((await getBuffer(client, '/manual/g0')).equals(files.get('/manual/f0')!)).toBe(true);
    });
  });
});

/**
 * Deletes DIR/f0 while a node holding some of its replicas is down (`takeDown` stops it and
 * returns a check to run right after the delete); when the node returns, its stale
 * replicas are deleted and every other file keeps 3 good replicas.
 */
async function deleteWhileHolderDown(
  h: HealingCluster,
  dir: string,
  seed: number,
  takeDown: (victim: number) => Promise<() => Promise<void>>,
): Promise<void> {
  const { cluster, client } = h;
  const doomed = `${dir}/f0`;
  const files = await writeFiles(client, dir, 2, seed);
  await waitForReplicas(cluster, client, files.keys(), 3);
  const gone = [...(await replicaCounts(client, [doomed])).keys()];
  const victim = [0, 1, 2, 3].find((i) => gone.some((id) => blockIdsOnDisk(cluster, i).has(id)))!;
  const stale = gone.filter((id) => blockIdsOnDisk(cluster, victim).has(id));

  const afterDelete = await takeDown(victim);
  await client.delete(doomed);
  await afterDelete();
  // Live holders delete at once; the node that is down still has its copies.
  await waitFor(
    `live holders to delete the replicas of ${doomed}`,
    () =>
      gone.every((id) => replicaDirsOnDisk(cluster, id).finalized.every((i) => i === victim))
        ? true
        : undefined,
    10_000,
  );
  for (const id of stale) expect(blockIdsOnDisk(cluster, victim).has(id)).toBe(true);

  await cluster.restartDatanode(victim);
  await waitFor(
    `node ${victim} to delete its stale replicas`,
    () => (stale.every((id) => !blockIdsOnDisk(cluster, victim).has(id)) ? true : undefined),
    10_000,
  );
  for (const id of gone) expect(replicaDirsOnDisk(cluster, id)).toEqual({ finalized: [], rbw: [] });
  files.delete(doomed);
  await waitForReplicas(cluster, client, files.keys(), 3);
  await waitHealthy(client);
  await expectFilesIntact(client, files);
}
