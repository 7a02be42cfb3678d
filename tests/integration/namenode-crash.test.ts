/**
 * Crash consistency of the NameNode across real processes: kill -9 a real process
 * mid-workload, as etcd's `tests/robustness` does.
 *
 * Four clients work concurrently, each in its own subtree (tests/support/crash-workload.ts:
 * mkdir, create, addBlock, complete, rename, delete, predicted refusals), each with a model
 * of what its acknowledged operations did and the one mutation in flight when the
 * connection died. The NameNode is killed with SIGKILL at random
 * moments, over and over, with checkpoints every 500 transactions so log rolls, image
 * writes and purges are also cut short. After every restart each subtree, walked with list
 * and stat, must equal the model either without or with the in-flight mutation: an
 * acknowledged mutation is never lost (it was fsynced before the answer), and nothing
 * that was never asked for appears. Files left open by a crash are then finished by their
 * writer (same client name, so the recovered lease is still its own).
 *
 * Seeded and replayable: DFS_CRASH_SEED=<n> replays the workload choices and kill delays
 * (not the exact interleaving, which the OS decides). DFS_CRASH_BUDGET_MS sets how long to
 * keep cycling (default 25 s, at least 6 kill/restart cycles).
 */
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import type { DaemonProcess } from '../../src/local/daemon-process.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { startCluster } from '../support/cluster.js';
import { FakeDatanode } from '../support/fake-datanode.js';
import { Rng, Worker, sleep } from '../support/crash-workload.js';

const SEED = Number(process.env.DFS_CRASH_SEED ?? randomInt(2 ** 31));
const BUDGET_MS = Number(process.env.DFS_CRASH_BUDGET_MS ?? 25_000);
const CYCLES_MIN = 6;
/**
 * Acknowledged mutations the run must cover: a slow or loaded machine runs more cycles
 * (up to ACK_GOAL_CAP_MS) instead of failing for having done less in the budget.
 */
const ACKED_MIN = 1000;
const ACK_GOAL_CAP_MS = 70_000;
const CYCLES_MAX = 200;
const CLIENTS = 4;
const CHECKPOINT_TXNS = 500;

let cleanupCluster: (() => Promise<void>) | null = null;

afterEach(async () => {
  await cleanupCluster?.();
  cleanupCluster = null;
});

describe('NameNode crash consistency (kill -9 under a concurrent workload)', () => {
  it('never loses an acknowledged mutation and never invents one', async () => {
    process.stdout.write(`namenode-crash: seed ${SEED} (replay with DFS_CRASH_SEED=${SEED})\n`);
    const started = Date.now();
    const { cluster, cleanup } = await startCluster({
      logLevel: 'info',
      namenodeEnv: {
        DFS_NAMENODE_CHECKPOINT_TXNS: String(CHECKPOINT_TXNS),
        // This test is about durability; safe mode (waiting for block reports after each
        // restart) is tested on its own.
        DFS_NAMENODE_SAFE_MODE_THRESHOLD: '0',
        DFS_NAMENODE_SAFE_MODE_EXTENSION_MS: '0',
      },
    });
    cleanupCluster = cleanup;
    const processes: DaemonProcess[] = [cluster.namenode];
    const rng = new Rng(SEED ^ 0x5bd1e995);
    const workers = Array.from({ length: CLIENTS }, (_, i) => new Worker(i, `crash-${SEED}-c${i}`, SEED));
    const address = () => ({ host: '127.0.0.1', port: cluster.namenode.port });

    const setup = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 10_000 });
    for (const w of workers) await setup.mkdir(w.model.root);
    setup.close();

    let cycles = 0;
    let aimedKills = 0;
    const ackedSoFar = (): number => workers.reduce((n, w) => n + w.acked, 0);
    const goOn = (): boolean => {
      const elapsed = Date.now() - started;
      if (cycles < CYCLES_MIN || elapsed < BUDGET_MS) return true;
      return ackedSoFar() <= ACKED_MIN && elapsed < ACK_GOAL_CAP_MS;
    };
    for (; cycles < CYCLES_MAX && goOn(); cycles++) {
      const verifier = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 10_000 });
      for (const w of workers) await w.verify(verifier, `after restart ${cycles}`);
      const clusterId = (await verifier.serverInfo()).clusterId;
      verifier.close();

      const dn = await FakeDatanode.register(address(), clusterId);
      const clients = workers.map(
        (w) =>
          new DfsClient({
            namenode: cluster.namenodeAddress,
            clientName: w.clientName,
            requestTimeoutMs: 10_000,
          }),
      );
      const cycle = { killed: false };
      const loops = workers.map((w, i) => w.run(clients[i]!, dn, cycle));
      const loopsDone = Promise.allSettled(loops);
      // Kill at a random moment, or (every third cycle) as soon as a checkpoint starts
      // touching the name directory (a new segment or image file appears), so some kills
      // land between the log roll, the image write and the purge. If a worker fails on
      // its own, stop at once.
      const aimed = cycles % 3 === 2;
      const delayMs = rng.range(150, 600);
      const trigger = aimed
        ? checkpointStarted(cluster.nameDir, 3 * delayMs)
        : sleep(delayMs).then(() => false);
      const hit = await Promise.race([
        trigger,
        Promise.race(loops).then(
          () => false,
          () => false,
        ),
      ]);
      cycle.killed = true;
      await cluster.namenode.kill();
      if (hit) aimedKills++;
      const results = await loopsDone;
      for (const c of clients) c.close();
      dn.close();
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed)
        throw new Error(`seed ${SEED}, cycle ${cycles}: ${(failed.reason as Error).message}`, {
          cause: failed.reason,
        });

      await restart(cluster, processes);
    }

    // Last check: the final state, then finish what the last crash left open and check again.
    const verifier = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 10_000 });
    const dn = await FakeDatanode.register(address(), (await verifier.serverInfo()).clusterId);
    for (const w of workers) {
      await w.verify(verifier, 'after the last restart');
      const writer = new DfsClient({
        namenode: cluster.namenodeAddress,
        clientName: w.clientName,
        requestTimeoutMs: 10_000,
      });
      await w.finishOpenFiles(writer, dn);
      writer.close();
    }
    for (const w of workers) await w.verify(verifier, 'after finishing open files');
    for (const w of workers) expect(w.model.openFiles()).toEqual([]);
    verifier.close();
    dn.close();

    const checkpoints = processes.reduce(
      (n, p) => n + p.logs.filter((r) => r.msg === 'checkpoint written').length,
      0,
    );
    const tornTails = processes.reduce(
      (n, p) => n + p.logs.filter((r) => r.msg === 'cutting torn tail of the edit log').length,
      0,
    );
    const acked = workers.reduce((n, w) => n + w.acked, 0);
    const refused = workers.reduce((n, w) => n + w.refused, 0);
    const applied = workers.reduce((n, w) => n + w.inflightApplied, 0);
    const lost = workers.reduce((n, w) => n + w.inflightLost, 0);
    process.stdout.write(
      `namenode-crash: seed ${SEED}: ${cycles} kill -9 cycles in ${Date.now() - started} ms; ${acked} acknowledged mutations, ` +
        `${refused} refused as predicted, ${workers.reduce((n, w) => n + w.reads, 0)} read checks; in-flight at the kill: ` +
        `${applied} found applied, ${lost} found not applied; ${checkpoints} checkpoints, ${aimedKills} kills aimed at a ` +
        `checkpoint in progress, ${tornTails} torn tails cut\n`,
    );
    expect(cycles).toBeGreaterThanOrEqual(CYCLES_MIN);
    expect(acked).toBeGreaterThan(ACKED_MIN);
    expect(checkpoints).toBeGreaterThan(0);
  }, 120_000);
});

/**
 * Resolves true as soon as a new edit segment or image file shows up in `nameDir` (the
 * start of a checkpoint: roll, then image), or false after `timeoutMs`.
 */
function checkpointStarted(nameDir: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const watcher = fs.watch(nameDir, (_event, file) => {
      if (file !== null && (file.startsWith('edits_') || file.startsWith('fsimage_'))) finish(true);
    });
    const timer = setTimeout(() => finish(false), timeoutMs);
    function finish(hit: boolean): void {
      clearTimeout(timer);
      watcher.close();
      resolve(hit);
    }
  });
}

async function restart(cluster: LocalCluster, processes: DaemonProcess[]): Promise<void> {
  try {
    await cluster.restartNamenode();
  } catch (err) {
    throw new Error(`seed ${SEED}: the NameNode did not come back after kill -9: ${(err as Error).message}`, {
      cause: err,
    });
  } finally {
    if (!processes.includes(cluster.namenode)) processes.push(cluster.namenode);
  }
}
