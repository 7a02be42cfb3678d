/**
 * Crash consistency of the NameNode across real processes: kill -9 a real process
 * mid-workload, as etcd's `tests/robustness` does.
 *
 * Four clients work concurrently, each sequentially (one RPC in flight) in its own subtree
 * /cN: mkdir, create + complete (empty files), create + addBlock... + complete with
 * lengths, rename, delete, plus operations the NameNode must refuse with a predicted code.
 * Each client keeps a model of what its acknowledged operations did and remembers the one
 * mutation in flight when the connection died. The NameNode is killed with SIGKILL at random
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
import type { Block } from '../../protocol/shared-structures.js';
import type { DaemonProcess } from '../../src/local/daemon-process.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { startCluster } from '../support/cluster.js';
import { FakeDatanode } from '../support/fake-datanode.js';
import { NamespaceModel, sameTree, treeDiff, walkSubtree, type ModelOp } from '../support/namespace-model.js';

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
const BLOCK_BYTES = 1024 * 1024;
const CHECKPOINT_TXNS = 500;
/** Keep each subtree small enough to walk quickly after every restart. */
const NODES_SOFT_MAX = 70;

/** mulberry32: small, fast, seedable. */
class Rng {
  private a: number;
  constructor(seed: number) {
    this.a = seed >>> 0;
  }
  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)]!;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function codeOf(err: unknown): string | undefined {
  return (err as { code?: unknown }).code as string | undefined;
}

/** The NameNode went away (killed): the outcome of the call in flight is unknown. */
function isConnectionLoss(err: unknown): boolean {
  const code = codeOf(err);
  return code === 'CONNECTION' || code === 'TIMEOUT';
}

function describeOp(op: ModelOp): string {
  return JSON.stringify(op);
}

/** One client's workload, its model, and the mutation in flight when the NameNode died. */
class Worker {
  readonly model: NamespaceModel;
  readonly rng: Rng;
  inflight: ModelOp | null = null;
  private counter = 0;
  acked = 0;
  refused = 0;
  reads = 0;
  inflightApplied = 0;
  inflightLost = 0;
  /** The last operations and their outcomes, for failure messages. */
  private readonly trace: string[] = [];

  constructor(
    readonly index: number,
    readonly clientName: string,
  ) {
    this.model = new NamespaceModel(`/c${index}`);
    this.rng = new Rng(SEED + 7919 * (index + 1));
  }

  /**
   * Runs until the connection to the NameNode is lost because the test killed it; any
   * other failure (including a connection lost before the kill) rejects.
   */
  async run(client: DfsClient, dn: FakeDatanode, cycle: { killed: boolean }): Promise<void> {
    try {
      await this.finishOpenFiles(client, dn);
      for (;;) await this.step(client, dn);
    } catch (err) {
      if (isConnectionLoss(err) && cycle.killed) return;
      if (isConnectionLoss(err))
        throw new Error(
          `client ${this.index}: lost the NameNode before the kill: ${(err as Error).message}`,
          { cause: err },
        );
      throw err;
    }
  }

  /**
   * Sends one mutation. Returns true when it was applied (the model follows), false when
   * the NameNode refused it with the code the model predicted (or `complete` answered "not
   * yet"). Connection loss propagates with the op still recorded as in flight.
   */
  private async mutate(op: ModelOp, call: () => Promise<boolean>): Promise<boolean> {
    const expected = this.model.expectedError(op);
    this.inflight = op;
    let applied: boolean;
    try {
      applied = await call();
    } catch (err) {
      this.note(`${describeOp(op)} -> ${codeOf(err)}`);
      if (isConnectionLoss(err)) throw err;
      this.inflight = null;
      if (codeOf(err) !== expected) {
        throw new Error(
          `client ${this.index}: ${describeOp(op)} failed with ${codeOf(err)} (${(err as Error).message}); ` +
            `the model expected ${expected ?? 'success'}; recent ops:\n${this.trace.join('\n')}`,
          { cause: err },
        );
      }
      this.refused++;
      return false;
    }
    this.inflight = null;
    this.note(`${describeOp(op)} -> ${applied ? 'ok' : 'not yet'}`);
    if (expected !== null) {
      throw new Error(
        `client ${this.index}: ${describeOp(op)} succeeded; the model expected ${expected}; recent ops:\n${this.trace.join('\n')}`,
      );
    }
    if (applied) {
      this.model.apply(op);
      this.acked++;
    }
    return applied;
  }

  private note(line: string): void {
    this.trace.push(`  ${line}`);
    if (this.trace.length > 40) this.trace.shift();
  }

  private name(prefix: string): string {
    return `${prefix}${this.counter++}`;
  }

  private dirs(): string[] {
    return this.model.paths((_, n) => n.type === 'dir');
  }

  private nonRoot(): string[] {
    return this.model.paths((p) => p !== this.model.root);
  }

  private async step(client: DfsClient, dn: FakeDatanode): Promise<void> {
    const big = this.model.nodes.size > NODES_SOFT_MAX;
    const r = this.rng.next();
    const others = this.nonRoot();
    if (r < (big ? 0.1 : 0.22)) {
      const path = `${this.rng.pick(this.dirs())}/${this.name('d')}`;
      await this.mutate({ t: 'mkdir', path }, async () => (await client.mkdir(path), true));
    } else if (r < (big ? 0.3 : 0.5)) {
      await this.writeFile(client, dn, `${this.rng.pick(this.dirs())}/${this.name('f')}`);
    } else if (r < 0.62 && others.length > 0) {
      const src = this.rng.pick(others);
      const dstDir = this.rng.pick(this.dirs());
      // A quarter of renames name an existing directory: the source moves inside it.
      const dst = this.rng.int(4) === 0 ? dstDir : `${dstDir}/${this.name('r')}`;
      await this.mutate({ t: 'rename', src, dst }, async () => (await client.rename(src, dst), true));
    } else if (r < 0.82 && others.length > 0) {
      const path = this.rng.pick(others);
      const recursive = this.rng.int(5) !== 0;
      await this.mutate(
        { t: 'delete', path, recursive },
        async () => (await client.delete(path, { recursive }), true),
      );
    } else if (r < 0.92) {
      await this.refusedOp(client);
    } else {
      await this.readCheck(client);
    }
  }

  /** Operations the NameNode must refuse, with the code the model predicts. */
  private async refusedOp(client: DfsClient): Promise<void> {
    const all = this.model.paths();
    switch (this.rng.int(4)) {
      case 0: {
        const path = this.rng.pick(all);
        await this.mutate({ t: 'mkdir', path }, async () => (await client.mkdir(path), true));
        return;
      }
      case 1: {
        const path = this.rng.pick(all);
        await this.mutate(
          { t: 'create', path },
          async () => (
            await client.createFile(path, { createParent: false, replication: 1, blockBytes: BLOCK_BYTES }),
            true
          ),
        );
        return;
      }
      case 2: {
        const path = `${this.rng.pick(this.dirs())}/missing${this.counter++}`;
        await this.mutate(
          { t: 'delete', path, recursive: true },
          async () => (await client.delete(path, { recursive: true }), true),
        );
        return;
      }
      default: {
        const src = `${this.rng.pick(this.dirs())}/missing${this.counter++}`;
        const dst = `${this.model.root}/${this.name('r')}`;
        await this.mutate({ t: 'rename', src, dst }, async () => (await client.rename(src, dst), true));
      }
    }
  }

  /** A stat of a random known path must agree with the model (reads see acked writes). */
  private async readCheck(client: DfsClient): Promise<void> {
    const path = this.rng.pick(this.model.paths());
    const st = await client.stat(path);
    const expected = this.model.render().get(path)!;
    const actual =
      st.type === 1 ? 'dir' : `file len=${st.length} blocks=${st.blockCount} open=${st.underConstruction}`;
    if (actual !== expected)
      throw new Error(`client ${this.index}: stat ${path} gave ${actual}, the model says ${expected}`);
    this.reads++;
  }

  /** create, then 0 (two thirds of the time) or 1-3 blocks, then complete. */
  private async writeFile(client: DfsClient, dn: FakeDatanode, path: string): Promise<void> {
    const created = await this.mutate({ t: 'create', path }, async () => {
      await client.createFile(path, {
        createParent: false,
        overwrite: false,
        replication: 1,
        blockBytes: BLOCK_BYTES,
      });
      return true;
    });
    if (!created) return;
    const blocks = this.rng.int(3) === 0 ? this.rng.range(1, 3) : 0;
    let prev: Block | null = null;
    for (let i = 0; i < blocks; i++) {
      const previous: Block | null = prev;
      let located: Block | null = null;
      await this.mutate({ t: 'addBlock', path, previous: previous?.numBytes ?? null }, async () => {
        located = (await client.addBlock(path, previous)).block;
        return true;
      });
      // The bytes go to the (fake) DataNode, which reports the replica.
      prev = { ...located!, numBytes: this.rng.range(1, BLOCK_BYTES) };
      await dn.received([prev]);
    }
    await this.complete(client, path, prev);
  }

  private async complete(client: DfsClient, path: string, last: Block | null): Promise<void> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const done = await this.mutate({ t: 'complete', path, last: last?.numBytes ?? null }, () =>
        client.completeFile(path, last),
      );
      if (done) return;
      await sleep(10);
    }
    throw new Error(`client ${this.index}: complete ${path} never succeeded`);
  }

  /**
   * Finishes the files a crash left open (their lease was renewed for this client name at
   * start-up): report every block, the last one with a fresh length, then complete.
   */
  async finishOpenFiles(client: DfsClient, dn: FakeDatanode): Promise<void> {
    for (const path of this.model.openFiles()) {
      const located = await client.getBlockLocations(path);
      const blocks = located.blocks.map((b) => ({ ...b.block }));
      const node = this.model.get(path);
      if (node?.type !== 'file' || node.blocks.length !== blocks.length) {
        throw new Error(
          `client ${this.index}: ${path} has ${blocks.length} blocks, the model says ${JSON.stringify(node)}`,
        );
      }
      if (blocks.length === 0) {
        await this.complete(client, path, null);
        continue;
      }
      const last = { ...blocks[blocks.length - 1]!, numBytes: this.rng.range(1, BLOCK_BYTES) };
      await dn.received([...blocks.slice(0, -1), last]);
      await this.complete(client, path, last);
    }
  }

  /**
   * After a restart: the subtree must be the model without or with the in-flight op (when
   * the op changes nothing, e.g. a refusal, the two are the same state; otherwise exactly
   * one can match). The model then follows what really happened.
   */
  async verify(client: DfsClient, when: string): Promise<void> {
    const actual = await walkSubtree(client, this.model.root);
    const without = this.model.render();
    const op = this.inflight;
    this.inflight = null;
    this.note(
      `-- ${when}: verified ${actual.size} entries${op === null ? '' : ` (in flight: ${describeOp(op)})`}`,
    );
    if (sameTree(actual, without)) {
      if (op !== null) this.inflightLost++;
      return;
    }
    if (op !== null) {
      const withOp = this.model.clone();
      withOp.apply(op);
      if (sameTree(actual, withOp.render())) {
        this.model.nodes.clear();
        for (const [p, n] of withOp.nodes) this.model.nodes.set(p, n);
        this.inflightApplied++;
        return;
      }
    }
    throw new Error(
      `seed ${SEED}, ${when}, client ${this.index}: subtree differs from the model` +
        `${op === null ? ' (no op in flight)' : ` without and with in-flight ${describeOp(op)}`}:\n${treeDiff(without, actual)}\n` +
        `recent ops:\n${this.trace.join('\n')}`,
    );
  }
}

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
    const workers = Array.from({ length: CLIENTS }, (_, i) => new Worker(i, `crash-${SEED}-c${i}`));
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
