/**
 * The workload of `dfs-bench meta` (NameNode metadata throughput, in the manner of HDFS's
 * NNThroughputBenchmark): what each phase does, the inputs of each operation, and the
 * client connections that run them, in this process or in forked worker processes.
 *
 * Phases run one after the other, each over N operations; every input (every path string)
 * is built before the clock starts:
 *
 *   mkdir    N new directories  <base>/d<p>/m<i>
 *   create   N files: createFile then completeFile(path, null) (an empty file); one op is
 *            the pair, both calls are durable mutations (edit log fsync before the answer)
 *   stat     the N files
 *   list     N pages of 100 entries from the parent directories (each holds >= 100 entries)
 *   rename   <base>/d<p>/f<i> -> <base>/d<p>/r<i>
 *   delete   the N renamed files
 *
 * with p = i mod P over P parent directories (P = N/100, capped at 100, at least 1) that are
 * created before the first phase, untimed. Operation i goes to connection i mod C; each
 * connection keeps D requests in flight (D "lanes" that each send the next operation as
 * soon as theirs is answered), so C x D requests are outstanding at any time.
 *
 * The connections live either in the bench process or in forked copies of this program in
 * worker mode (`dfs-bench meta-worker`), which get their share of the connections and are
 * driven over the IPC channel (worker-channel.ts): prepare, go, done. Latency histograms
 * come back encoded and are merged, so percentiles cover every operation.
 */
import { DfsClient } from '../src/client/dfs-client.js';
import { encodeHistogram, newLatencyHistogram, recordUs } from './report.js';
import { serveWorker, WorkerProcess } from './worker-channel.js';

export const PHASES = ['mkdir', 'create', 'stat', 'list', 'rename', 'delete'] as const;
export type PhaseName = (typeof PHASES)[number];

/** Entries per listing page. */
export const LIST_PAGE = 100;
const PARENTS_MAX = 100;

/** Everything a client process needs to build a phase's inputs for its connections. */
export interface PhaseSpec {
  phase: PhaseName;
  ops: number;
  base: string;
  parents: number;
  totalConnections: number;
  depth: number;
}

export function parentCount(ops: number): number {
  return Math.max(1, Math.min(PARENTS_MAX, Math.floor(ops / LIST_PAGE)));
}

export const parentDir = (base: string, p: number): string => `${base}/d${p}`;

/** The inputs of op i: one or two strings (source, destination / startAfter). */
function opArgs(spec: PhaseSpec, i: number, listing: ListingPlan | null): [string, string] {
  const dir = parentDir(spec.base, i % spec.parents);
  switch (spec.phase) {
    case 'mkdir':
      return [`${dir}/m${i}`, ''];
    case 'create':
    case 'stat':
      return [`${dir}/f${i}`, ''];
    case 'rename':
      return [`${dir}/f${i}`, `${dir}/r${i}`];
    case 'delete':
      return [`${dir}/r${i}`, ''];
    case 'list':
      return [dir, listing!.startAfter(i)];
  }
}

/**
 * Which page op i of the list phase reads: parent i mod P, full pages only. The names a
 * parent holds then are known (m<j> and f<j> for every j = p mod P), so the `startAfter` of
 * each page is computed here rather than learned from a previous page: every list call is
 * independent and all can be in flight at once.
 */
class ListingPlan {
  private readonly names: string[][] = [];

  constructor(private readonly spec: PhaseSpec) {
    for (let p = 0; p < spec.parents; p++) {
      const names: string[] = [];
      for (let j = p; j < spec.ops; j += spec.parents) names.push(`m${j}`, `f${j}`);
      // The NameNode orders names with JavaScript string comparison, as sort() does.
      names.sort();
      this.names.push(names);
    }
  }

  startAfter(i: number): string {
    const names = this.names[i % this.spec.parents]!;
    const pages = Math.max(1, Math.floor(names.length / LIST_PAGE));
    const page = Math.floor(i / this.spec.parents) % pages;
    return page === 0 ? '' : names[page * LIST_PAGE - 1]!;
  }
}

/**
 * The operation of each phase. Single-RPC phases return the client's promise itself (no
 * extra async layer per op: at ~100k ops/s the bench client's own overhead shows).
 * Resolves to the number of list entries returned (list), anything otherwise.
 */
type OpFn = (client: DfsClient, a: string, b: string) => Promise<unknown>;

const OPS: Record<PhaseName, OpFn> = {
  mkdir: (c, a) => c.mkdir(a),
  create: async (c, a) => {
    await c.createFile(a, { createParent: false, overwrite: false });
    await c.completeFile(a, null);
  },
  stat: (c, a) => c.stat(a),
  list: (c, a, b) => c.listPage(a, b, LIST_PAGE),
  rename: (c, a, b) => c.rename(a, b),
  delete: (c, a) => c.delete(a),
};

export const RPCS_PER_OP: Record<PhaseName, number> = {
  mkdir: 1,
  create: 2,
  stat: 1,
  list: 1,
  rename: 1,
  delete: 1,
};

/** What one client process measured in one phase. */
export interface GroupResult {
  ops: number;
  errors: number;
  firstError: string | null;
  entries: number;
  histogram: string;
  cpuUs: number;
}

/**
 * A client process's connections (global indices `first`, `first + step`, ...), each with
 * its own DfsClient (so its own socket, client name and lease).
 */
export class ClientGroup {
  private readonly clients: DfsClient[] = [];
  private readonly connectionIds: number[] = [];
  private work: Array<Array<[string, string]>> = [];
  private spec: PhaseSpec | null = null;

  constructor(namenode: string, connectionIds: readonly number[]) {
    for (const c of connectionIds) {
      this.connectionIds.push(c);
      this.clients.push(
        new DfsClient({ namenode, clientName: `dfs-bench-${process.pid}-${c}`, requestTimeoutMs: 120_000 }),
      );
    }
  }

  /** Opens every connection (handshake), untimed. */
  async connect(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.serverInfo()));
  }

  /** Builds every input of the phase for this group's connections. */
  prepare(spec: PhaseSpec): void {
    this.spec = spec;
    const listing = spec.phase === 'list' ? new ListingPlan(spec) : null;
    this.work = this.connectionIds.map((c) => {
      const items: Array<[string, string]> = [];
      for (let i = c; i < spec.ops; i += spec.totalConnections) items.push(opArgs(spec, i, listing));
      return items;
    });
  }

  async run(): Promise<GroupResult> {
    const spec = this.spec!;
    const h = newLatencyHistogram();
    const result: GroupResult = { ops: 0, errors: 0, firstError: null, entries: 0, histogram: '', cpuUs: 0 };
    const cpu0 = process.cpuUsage();
    const op = OPS[spec.phase];
    const isList = spec.phase === 'list';
    const lane = async (
      client: DfsClient,
      items: Array<[string, string]>,
      cursor: { next: number },
    ): Promise<void> => {
      while (cursor.next < items.length) {
        const [a, b] = items[cursor.next++]!;
        const t0 = performance.now();
        try {
          const answer = await op(client, a, b);
          if (isList) result.entries += (answer as { entries: unknown[] }).entries.length;
          result.ops++;
        } catch (err) {
          result.errors++;
          result.firstError ??= `${spec.phase} ${a}: ${(err as Error).message}`;
        }
        recordUs(h, (performance.now() - t0) * 1000);
      }
    };
    const lanes: Array<Promise<void>> = [];
    this.clients.forEach((client, k) => {
      const items = this.work[k]!;
      const cursor = { next: 0 };
      for (let d = 0; d < spec.depth; d++) lanes.push(lane(client, items, cursor));
    });
    await Promise.all(lanes);
    const cpu = process.cpuUsage(cpu0);
    result.cpuUs = cpu.user + cpu.system;
    result.histogram = encodeHistogram(h);
    h.destroy();
    this.work = [];
    return result;
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}

// ---- client processes ----------------------------------------------------------------

/** The coordinator's handle on a group of connections, local or in a worker process. */
export interface GroupHandle {
  prepare(spec: PhaseSpec): Promise<void>;
  run(): Promise<GroupResult>;
  close(): Promise<void>;
}

type ToWorker =
  | { type: 'init'; namenode: string; connectionIds: number[] }
  | { type: 'prepare'; spec: PhaseSpec }
  | { type: 'go' }
  | { type: 'exit' };

type FromWorker = { type: 'ready' } | { type: 'prepared' } | { type: 'done'; result: GroupResult };

export function localGroup(namenode: string, connectionIds: number[]): Promise<GroupHandle> {
  const g = new ClientGroup(namenode, connectionIds);
  return g.connect().then(() => ({
    prepare: (spec) => {
      g.prepare(spec);
      return Promise.resolve();
    },
    run: () => g.run(),
    close: () => {
      g.close();
      return Promise.resolve();
    },
  }));
}

/** Forks `dfs-bench meta-worker` and drives it over IPC (worker-channel.ts). */
export async function forkedGroup(
  script: string,
  namenode: string,
  connectionIds: number[],
): Promise<GroupHandle> {
  const worker = WorkerProcess.fork<ToWorker, FromWorker>(script, ['meta-worker']);
  await worker.ask({ type: 'init', namenode, connectionIds }, 'ready');
  return {
    prepare: async (spec) => {
      await worker.ask({ type: 'prepare', spec }, 'prepared');
    },
    run: async () => (await worker.ask({ type: 'go' }, 'done')).result,
    close: () => worker.close(),
  };
}

/** Worker mode: serves the coordinator's requests until told to exit. */
export function runMetaWorkerProcess(): void {
  let group: ClientGroup | null = null;
  serveWorker<ToWorker, FromWorker>(
    'meta-worker is started by `dfs-bench meta --client-processes N`, not by hand',
    async (m) => {
      switch (m.type) {
        case 'init':
          group = new ClientGroup(m.namenode, m.connectionIds);
          await group.connect();
          return { type: 'ready' };
        case 'prepare':
          group!.prepare(m.spec);
          return { type: 'prepared' };
        case 'go':
          return { type: 'done', result: await group!.run() };
        default:
          throw new Error(`unexpected request ${m.type}`);
      }
    },
    () => group?.close(),
  );
}

/** Spreads connections 0..C-1 over P groups: group w gets w, w+P, w+2P... */
export function splitConnections(clients: number, groups: number): number[][] {
  const out: number[][] = Array.from({ length: groups }, () => []);
  for (let c = 0; c < clients; c++) out[c % groups]!.push(c);
  return out;
}
