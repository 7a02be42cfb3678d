/**
 * The namespace workload of the crash-consistency tests (tests/integration/namenode-crash.test.ts
 * kills the one NameNode, tests/ha/ha-crash.test.ts kills the active of an HA pair): clients
 * working concurrently, each sequentially (one RPC in flight) in its own subtree /cN: mkdir,
 * create + complete (empty files), create + addBlock... + complete with lengths reported by
 * a fake DataNode (when one is given), rename, delete, plus operations the NameNode must
 * refuse with a predicted code. Each worker keeps a model of what its acknowledged
 * operations did (namespace-model.ts) and remembers the one mutation in flight when the
 * connection died; `verify` then accepts the subtree with or without that mutation, and
 * nothing else.
 *
 * Seeded: a worker's choices follow its seed, which every failure message prints.
 */
import { strict as assert } from 'node:assert';
import type { DfsClient } from '../../src/client/dfs-client.js';
import type { Block } from '../../protocol/shared-structures.js';
import { NamespaceModel, sameTree, treeDiff, walkSubtree, type ModelOp } from './namespace-model.js';

export const BLOCK_BYTES = 1024 * 1024;
/** Keep each subtree small enough to walk quickly after every restart. */
const NODES_SOFT_MAX = 70;

/** What reports a replica the workload "wrote" (tests/support/fake-datanode.ts). */
export interface BlockReporter {
  received(blocks: Block[]): Promise<void>;
}

/**
 * One kill cycle as the workers see it: `killed` once the test killed the NameNode (a lost
 * connection is then expected), `stop` to end the loop after the current step (with HA
 * the calls fail over to the new active instead of failing).
 */
export interface Cycle {
  killed: boolean;
  stop?: boolean;
}

/** mulberry32: small, fast, seedable. */
export class Rng {
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

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function codeOf(err: unknown): string | undefined {
  return (err as { code?: unknown }).code as string | undefined;
}

/**
 * The NameNode went away (killed), or was deposed while the call waited on its journal
 * (FENCED, with HA): the outcome of the call in flight is unknown.
 */
export function isConnectionLoss(err: unknown): boolean {
  const code = codeOf(err);
  return code === 'CONNECTION' || code === 'TIMEOUT' || code === 'FENCED';
}

function describeOp(op: ModelOp): string {
  return JSON.stringify(op);
}

/** One client's workload, its model, and the mutation in flight when the NameNode died. */
export class Worker {
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
    /** The run's seed, printed in failures so they replay. */
    private readonly seed: number,
  ) {
    this.model = new NamespaceModel(`/c${index}`);
    this.rng = new Rng(seed + 7919 * (index + 1));
  }

  /**
   * Runs until the connection to the NameNode is lost because the test killed it; any
   * other failure (including a connection lost before the kill) rejects.
   */
  async run(client: DfsClient, dn: BlockReporter | null, cycle: Cycle): Promise<void> {
    try {
      await this.finishOpenFiles(client, dn);
      while (!cycle.stop) await this.step(client, dn);
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

  private async step(client: DfsClient, dn: BlockReporter | null): Promise<void> {
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
  private async writeFile(client: DfsClient, dn: BlockReporter | null, path: string): Promise<void> {
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
    const blocks = dn !== null && this.rng.int(3) === 0 ? this.rng.range(1, 3) : 0;
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
      await dn!.received([prev]);
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
  async finishOpenFiles(client: DfsClient, dn: BlockReporter | null): Promise<void> {
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
      assert(dn !== null, 'blocks are written only with a DataNode to report them');
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
      `seed ${this.seed}, ${when}, client ${this.index}: subtree differs from the model` +
        `${op === null ? ' (no op in flight)' : ` without and with in-flight ${describeOp(op)}`}:\n${treeDiff(without, actual)}\n` +
        `recent ops:\n${this.trace.join('\n')}`,
    );
  }
}
