/**
 * `dfs-bench meta`: NameNode metadata throughput, in the manner of HDFS's
 * NNThroughputBenchmark but against a real `dfsd namenode` process over loopback.
 *
 * Phases run one after the other, each over N operations, each timed on its own after its
 * inputs are prepared (every path string is built before the clock starts):
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
 * The connections live either in this process (`--client-processes 1`) or in P forked
 * copies of this program in worker mode (`dfs-bench meta-worker`), which get their share of
 * the connections and are driven over the IPC channel: prepare, go, done. Latency
 * histograms come back encoded and are merged, so percentiles cover every operation.
 *
 * What limits the figures is measured, not guessed: the NameNode's CPU time per phase
 * (process, and its main thread alone, from /proc), the CPU time of the client processes,
 * and the count of edit-log transactions (serverInfo.lastTxid before and after). With
 * `--namenode-cpu-prof DIR` the NameNode profiles itself (V8 CPU profile, as `node
 * --cpu-prof` would write; see report.ts `cpuProfileNodeOptions`), and the profile is cut
 * into the phases' time windows (same monotonic clock) to name each phase's hot spots.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DfsClient } from '../src/client/dfs-client.js';
import { LocalCluster } from '../src/local/local-cluster.js';
import { REPO_ROOT } from '../src/local/daemon-process.js';
import {
  CpuSampler,
  MachineCpuSampler,
  cpuProfileNodeOptions,
  cpuPercent,
  encodeHistogram,
  formatOpsPerSec,
  formatPercent,
  formatUs,
  loadCpuProfile,
  machineHeader,
  machineInfo,
  mergeHistograms,
  monotonicUs,
  newLatencyHistogram,
  profileHotSpots,
  recordUs,
  renderTable,
  summarize,
  writeJson,
  type HotSpot,
  type LatencySummary,
  type MachineInfo,
} from './report.js';

export const PHASES = ['mkdir', 'create', 'stat', 'list', 'rename', 'delete'] as const;
export type PhaseName = (typeof PHASES)[number];

/** Entries per listing page. */
export const LIST_PAGE = 100;
const PARENTS_MAX = 100;

/** Figures to compare against (HDFS paper, 2010: 5,600 creates/s and 126,100 opens/s). */
export const TARGETS: Partial<Record<PhaseName, { opsPerSec: number; label: string }>> = {
  create: { opsPerSec: 20_000, label: '>= 20,000 (HDFS 5,600)' },
  stat: { opsPerSec: 130_000, label: '>= 130,000 (HDFS opens 126,100)' },
};

export interface MetaOptions {
  ops: number;
  clients: number;
  depth: number;
  clientProcesses: number;
  /** HOST:PORT of a running NameNode; otherwise one is started in a temp dir. */
  namenode?: string;
  /** pid of the external NameNode, to sample its CPU (only on the same machine). */
  namenodePid?: number;
  /** Profile the bench's own NameNode (V8 CPU profile), writing the profile here. */
  namenodeCpuProf?: string;
  json: boolean;
  /** The program to fork for worker processes (this CLI); it must accept `meta-worker`. */
  workerScript: string;
  /** Progress lines (stderr). */
  progress: (line: string) => void;
}

// ---- workload ------------------------------------------------------------------------

/** Everything a client process needs to build a phase's inputs for its connections. */
interface PhaseSpec {
  phase: PhaseName;
  ops: number;
  base: string;
  parents: number;
  totalConnections: number;
  depth: number;
}

function parentCount(ops: number): number {
  return Math.max(1, Math.min(PARENTS_MAX, Math.floor(ops / LIST_PAGE)));
}

const parentDir = (base: string, p: number): string => `${base}/d${p}`;

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

const RPCS_PER_OP: Record<PhaseName, number> = { mkdir: 1, create: 2, stat: 1, list: 1, rename: 1, delete: 1 };

/** What one client process measured in one phase. */
interface GroupResult {
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
      this.clients.push(new DfsClient({ namenode, clientName: `dfs-bench-${process.pid}-${c}`, requestTimeoutMs: 120_000 }));
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
    const lane = async (client: DfsClient, items: Array<[string, string]>, cursor: { next: number }): Promise<void> => {
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
interface GroupHandle {
  prepare(spec: PhaseSpec): Promise<void>;
  run(): Promise<GroupResult>;
  close(): Promise<void>;
}

type ToWorker =
  | { type: 'init'; namenode: string; connectionIds: number[] }
  | { type: 'prepare'; spec: PhaseSpec }
  | { type: 'go' }
  | { type: 'exit' };

type FromWorker =
  | { type: 'ready' }
  | { type: 'prepared' }
  | { type: 'done'; result: GroupResult }
  | { type: 'error'; message: string };

function localGroup(namenode: string, connectionIds: number[]): Promise<GroupHandle> {
  const g = new ClientGroup(namenode, connectionIds);
  return g.connect().then(() => ({
    prepare: async (spec) => g.prepare(spec),
    run: () => g.run(),
    close: async () => g.close(),
  }));
}

/** Forks `dfs-bench meta-worker` and drives it over IPC, one request at a time. */
async function forkedGroup(script: string, namenode: string, connectionIds: number[]): Promise<GroupHandle> {
  const child: ChildProcess = fork(script, ['meta-worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let waiting: { want: FromWorker['type']; resolve: (m: FromWorker) => void; reject: (e: Error) => void } | null = null;
  let dead: Error | null = null;
  child.on('message', (m: FromWorker) => {
    const w = waiting;
    waiting = null;
    if (w === null) return;
    if (m.type === 'error') w.reject(new Error(`bench worker ${child.pid}: ${m.message}`));
    else if (m.type !== w.want) w.reject(new Error(`bench worker ${child.pid}: expected ${w.want}, got ${m.type}`));
    else w.resolve(m);
  });
  child.on('exit', (code, signal) => {
    dead = new Error(`bench worker ${child.pid} exited (${code ?? signal})`);
    waiting?.reject(dead);
    waiting = null;
  });
  const ask = (msg: ToWorker, want: FromWorker['type']): Promise<FromWorker> =>
    new Promise((resolve, reject) => {
      if (dead) return reject(dead);
      waiting = { want, resolve, reject };
      child.send(msg);
    });
  await ask({ type: 'init', namenode, connectionIds }, 'ready');
  return {
    prepare: async (spec) => {
      await ask({ type: 'prepare', spec }, 'prepared');
    },
    run: async () => ((await ask({ type: 'go' }, 'done')) as { result: GroupResult }).result,
    close: async () => {
      if (dead) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.send({ type: 'exit' } satisfies ToWorker);
      // A worker stuck on a request that never completes must not hold the bench.
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Worker mode: serves the coordinator's requests until told to exit. */
export function runMetaWorkerProcess(): void {
  if (process.send === undefined) throw new Error('meta-worker is started by `dfs-bench meta --client-processes N`, not by hand');
  const send = (m: FromWorker): void => {
    process.send!(m);
  };
  let group: ClientGroup | null = null;
  // The coordinator is gone (finished, crashed or interrupted): so is the point of this worker.
  process.on('disconnect', () => {
    group?.close();
    process.exit(0);
  });
  process.on('message', (m: ToWorker) => {
    const fail = (err: unknown): void => send({ type: 'error', message: (err as Error).message });
    switch (m.type) {
      case 'init':
        group = new ClientGroup(m.namenode, m.connectionIds);
        group.connect().then(() => send({ type: 'ready' }), fail);
        return;
      case 'prepare':
        try {
          group!.prepare(m.spec);
          send({ type: 'prepared' });
        } catch (err) {
          fail(err);
        }
        return;
      case 'go':
        group!.run().then((result) => send({ type: 'done', result }), fail);
        return;
      case 'exit':
        process.disconnect();
        return;
    }
  });
}

// ---- coordinator ---------------------------------------------------------------------

export interface PhaseResult {
  phase: PhaseName;
  ops: number;
  rpcs: number;
  errors: number;
  firstError: string | null;
  elapsedMs: number;
  opsPerSec: number;
  rpcsPerSec: number;
  latencyUs: LatencySummary;
  /** List phase: entries returned. */
  entries: number;
  /** Edit-log transactions logged during the phase (serverInfo.lastTxid delta). */
  txns: number;
  /** NameNode CPU per wall second, percent of one core: whole process, and main thread. */
  namenodeCpuPercent: number | null;
  namenodeMainThreadCpuPercent: number | null;
  /**
   * NameNode event-loop CPU per operation, in microseconds; 1e6 / this is what one core
   * could serve if the NameNode had it to itself and nothing else limited it.
   */
  namenodeMainUsPerOp: number | null;
  /** All client processes together, percent of one core. */
  clientCpuPercent: number;
  /** Whole machine busy, percent of one core (up to 100 x cores). */
  machineCpuPercent: number | null;
  /** Machine busy minus NameNode minus clients: other work sharing the machine. */
  otherCpuPercent: number | null;
  limit: string;
  target: { opsPerSec: number; label: string; ratio: number } | null;
  /** When the phase ran, in monotonic microseconds (to cut any CPU profile taken meanwhile). */
  windowUs?: { fromUs: number; toUs: number };
  hotSpots?: HotSpot[];
}

export interface MetaReport {
  suite: 'meta';
  startedAt: string;
  settings: {
    ops: number;
    clients: number;
    depth: number;
    inflight: number;
    clientProcesses: number;
    clientsRun: string;
    parents: number;
    namenode: { mode: 'local' | 'external'; address: string; pid: number | null; nameDir: string | null };
  };
  machine: MachineInfo;
  phases: PhaseResult[];
  profile: { file: string; busyMs: number; hotSpots: HotSpot[] } | null;
  notes: string[];
}

/** Spreads connections 0..C-1 over P groups: group w gets w, w+P, w+2P... */
function splitConnections(clients: number, groups: number): number[][] {
  const out: number[][] = Array.from({ length: groups }, () => []);
  for (let c = 0; c < clients; c++) out[c % groups]!.push(c);
  return out;
}

export async function runMeta(o: MetaOptions): Promise<MetaReport> {
  if (o.clientProcesses > o.clients) throw new Error(`--client-processes (${o.clientProcesses}) cannot exceed --clients (${o.clients})`);
  if (o.namenodeCpuProf !== undefined && o.namenode !== undefined) throw new Error('--namenode-cpu-prof profiles the NameNode the bench starts; it cannot be used with --namenode');
  const startedAt = new Date().toISOString();
  let cluster: LocalCluster | null = null;
  let tempDir: string | null = null;
  let address = o.namenode ?? '';
  let pid: number | null = o.namenodePid ?? null;
  let profDir: string | null = null;
  if (o.namenode === undefined) {
    tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-bench-meta-'));
    const env: NodeJS.ProcessEnv = {};
    if (o.namenodeCpuProf !== undefined) {
      profDir = path.resolve(o.namenodeCpuProf);
      fs.mkdirSync(profDir, { recursive: true });
      env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} ${cpuProfileNodeOptions(profDir, 'namenode')}`.trim();
    }
    cluster = new LocalCluster({ baseDir: tempDir, namenodePort: 0, logLevel: 'warn', namenodeEnv: env });
  }
  const groups: GroupHandle[] = [];
  let tornDown = false;
  const teardown = async (): Promise<void> => {
    if (tornDown) return;
    tornDown = true;
    await Promise.all(groups.map((g) => g.close().catch(() => {})));
    if (cluster !== null) await cluster.stop().catch(() => {});
    if (tempDir !== null) fs.rmSync(tempDir, { recursive: true, force: true });
  };
  // Ctrl-C must not leave a NameNode running or its temp dir behind.
  const onSignal = (): void => {
    void teardown().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (cluster !== null) {
      o.progress(`starting a NameNode in ${tempDir}`);
      await cluster.start();
      address = cluster.namenodeAddress;
      pid = cluster.namenode.pid ?? null;
    }
    const machine = machineInfo(tempDir ?? os.tmpdir());
    const parents = parentCount(o.ops);
    const base = `/bench-meta-${Date.now().toString(36)}-${process.pid}`;
    const admin = new DfsClient({ namenode: address, clientName: `dfs-bench-admin-${process.pid}` });
    try {
      // Untimed set-up: the base and the parent directories.
      await admin.mkdir(base, { parents: true });
      await Promise.all(Array.from({ length: parents }, (_, p) => admin.mkdir(parentDir(base, p))));

      o.progress(`connecting ${o.clients} clients in ${o.clientProcesses === 1 ? 'this process' : `${o.clientProcesses} worker processes`}`);
      const split = splitConnections(o.clients, o.clientProcesses);
      if (o.clientProcesses === 1) groups.push(await localGroup(address, split[0]!));
      else groups.push(...(await Promise.all(split.map((ids) => forkedGroup(o.workerScript, address, ids)))));

      const sampler = new CpuSampler(pid);
      const machineSampler = new MachineCpuSampler();
      const phases: PhaseResult[] = [];
      const windows: Array<{ phase: PhaseName; fromUs: number; toUs: number }> = [];
      for (const phase of PHASES) {
        const spec: PhaseSpec = { phase, ops: o.ops, base, parents, totalConnections: o.clients, depth: o.depth };
        await Promise.all(groups.map((g) => g.prepare(spec)));
        const txid0 = (await admin.serverInfo()).lastTxid;
        o.progress(`${phase}: ${o.ops} ops`);
        sampler.start();
        machineSampler.start();
        const fromUs = monotonicUs();
        const t0 = performance.now();
        const results = await Promise.all(groups.map((g) => g.run()));
        const elapsedMs = performance.now() - t0;
        const window = { fromUs, toUs: monotonicUs() };
        windows.push({ phase, ...window });
        const nnCpu = sampler.stop();
        const machineBusyUs = machineSampler.stop();
        const txns = (await admin.serverInfo()).lastTxid - txid0;
        phases.push({ ...phaseResult(phase, results, elapsedMs, nnCpu, machineBusyUs, txns, o), windowUs: window });
      }
      // Untimed clean-up of what is left (the directories and their parents).
      await admin.delete(base, { recursive: true });
      if (cluster !== null) {
        await cluster.stop();
        cluster = null;
      }
      const profile = profDir === null ? null : attachProfile(profDir, pid, phases, windows);
      return {
        suite: 'meta',
        startedAt,
        settings: {
          ops: o.ops,
          clients: o.clients,
          depth: o.depth,
          inflight: o.clients * o.depth,
          clientProcesses: o.clientProcesses,
          clientsRun:
            o.clientProcesses === 1
              ? `${o.clients} connections in the bench process`
              : `${o.clients} connections over ${o.clientProcesses} forked worker processes (${split.map((s) => s.length).join('+')})`,
          parents,
          namenode: { mode: tempDir === null ? 'external' : 'local', address, pid, nameDir: tempDir === null ? null : path.join(tempDir, 'name') },
        },
        machine,
        phases,
        profile,
        notes: notesFor(phases, machine, o, pid),
      };
    } finally {
      admin.close();
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await teardown();
  }
}

function phaseResult(
  phase: PhaseName,
  results: GroupResult[],
  elapsedMs: number,
  nnCpu: { processUs: number | null; mainThreadUs: number | null },
  machineBusyUs: number | null,
  txns: number,
  o: MetaOptions,
): PhaseResult {
  const h = mergeHistograms(results.map((r) => r.histogram));
  const latencyUs = summarize(h);
  h.destroy();
  const ops = results.reduce((s, r) => s + r.ops, 0);
  const clientCpuUs = results.reduce((s, r) => s + r.cpuUs, 0);
  const opsPerSec = ops / (elapsedMs / 1000);
  const nnMain = cpuPercent(nnCpu.mainThreadUs, elapsedMs);
  const clientCpuPercent = cpuPercent(clientCpuUs, elapsedMs)!;
  const machinePercent = cpuPercent(machineBusyUs, elapsedMs);
  const nnPercent = cpuPercent(nnCpu.processUs, elapsedMs);
  const otherPercent = machinePercent === null ? null : Math.max(0, machinePercent - (nnPercent ?? 0) - clientCpuPercent);
  const t = TARGETS[phase];
  return {
    phase,
    ops,
    rpcs: ops * RPCS_PER_OP[phase],
    errors: results.reduce((s, r) => s + r.errors, 0),
    firstError: results.find((r) => r.firstError !== null)?.firstError ?? null,
    elapsedMs: Math.round(elapsedMs * 10) / 10,
    opsPerSec: Math.round(opsPerSec),
    rpcsPerSec: Math.round(opsPerSec * RPCS_PER_OP[phase]),
    latencyUs,
    entries: results.reduce((s, r) => s + r.entries, 0),
    txns,
    namenodeCpuPercent: round1(nnPercent),
    namenodeMainThreadCpuPercent: round1(nnMain),
    namenodeMainUsPerOp: nnCpu.mainThreadUs === null || ops === 0 ? null : round1(nnCpu.mainThreadUs / ops),
    clientCpuPercent: round1(clientCpuPercent)!,
    machineCpuPercent: round1(machinePercent),
    otherCpuPercent: round1(otherPercent),
    limit: limitOf(phase, nnMain, clientCpuPercent, machinePercent, o),
    target: t === undefined ? null : { ...t, ratio: Math.round((opsPerSec / t.opsPerSec) * 100) / 100 },
  };
}

function round1(x: number | null): number | null {
  return x === null ? null : Math.round(x * 10) / 10;
}

/**
 * A one-word verdict on what held the phase back:
 * - "namenode-cpu": the NameNode's event loop (main thread) was busy >= 90% of the time;
 * - "client-cpu": the client processes used >= 90% of the cores they can use;
 * - "machine-cpu": every core was >= 90% busy (NameNode, clients and anything else running
 *   on the machine share the cores; see otherCpuPercent);
 * - "latency": none of those; a mutation phase waits on fsync rounds, so more requests in
 *   flight (clients x depth) would raise throughput.
 */
function limitOf(phase: PhaseName, nnMain: number | null, clientPct: number, machinePct: number | null, o: MetaOptions): string {
  const cores = os.cpus().length;
  if (nnMain !== null && nnMain >= 90) return 'namenode-cpu';
  if (clientPct >= 90 * Math.min(o.clientProcesses, cores)) return 'client-cpu';
  if (machinePct !== null && machinePct >= 90 * cores) return 'machine-cpu';
  return phase === 'stat' || phase === 'list' ? 'latency' : 'latency/fsync';
}

function attachProfile(dir: string, pid: number | null, phases: PhaseResult[], windows: Array<{ phase: PhaseName; fromUs: number; toUs: number }>): MetaReport['profile'] {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile') && (pid === null || f === `namenode.${pid}.cpuprofile`));
  const newest = files.map((f) => path.join(dir, f)).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
  if (newest === undefined) return null;
  const profile = loadCpuProfile(newest);
  for (const w of windows) {
    const r = phases.find((p) => p.phase === w.phase)!;
    r.hotSpots = profileHotSpots(profile, { fromUs: w.fromUs, toUs: w.toUs, top: 12, repoRoot: REPO_ROOT }).hotSpots;
  }
  const first = windows[0];
  const last = windows[windows.length - 1];
  const all = profileHotSpots(profile, { fromUs: first?.fromUs, toUs: last?.toUs, top: 20, repoRoot: REPO_ROOT });
  return { file: newest, busyMs: all.busyMs, hotSpots: all.hotSpots };
}

function notesFor(phases: PhaseResult[], m: MachineInfo, o: MetaOptions, pid: number | null): string[] {
  const notes: string[] = [];
  notes.push(
    'create = createFile + completeFile(path, null) on an empty file; both are durable (the NameNode answers after the edit-log fdatasync). ops/s counts pairs, RPCs/s counts both calls; latency is of the pair.',
  );
  notes.push(
    `Latencies are under full load: a closed loop with ${o.clients * o.depth} requests outstanding, so the mean is about in-flight / throughput (Little's law), mostly queueing. For latency without queueing run --clients 1 --depth 1.`,
  );
  if (pid === null) {
    notes.push('NameNode CPU not sampled (external NameNode without --namenode-pid); if it runs on this machine, its CPU is inside "other CPU".');
  } else {
    notes.push(
      'NN CPU = CPU time of the dfsd namenode process per wall second (100% = one core); "NN main" is its event-loop thread alone. client CPU = all bench client processes together. other CPU = the rest of the machine (other programs sharing the cores).',
    );
  }
  const capacity = phases
    .filter((p) => p.namenodeMainUsPerOp !== null && p.namenodeMainUsPerOp > 0 && TARGETS[p.phase] !== undefined)
    .map((p) => `${p.phase} ~${formatOpsPerSec(1e6 / p.namenodeMainUsPerOp!)}/s`);
  if (capacity.length > 0) {
    notes.push(
      `NN us/op = NameNode event-loop CPU per operation. If the NameNode had a core to itself and the clients ran elsewhere, that would allow at most: ${capacity.join(', ')} (an estimate: it assumes cost per op stays flat).`,
    );
  }
  const short = phases.filter((p) => p.elapsedMs < 500).map((p) => p.phase);
  if (short.length > 0) {
    notes.push(`${short.join(', ')} lasted under 0.5 s: such short phases include JIT warm-up and timer granularity (CPU% is sampled in 10 ms ticks); use more --ops for figures to compare.`);
  }
  const fsyncUs = m.disk.fdatasyncUsP50;
  for (const p of phases) {
    if (p.errors > 0) notes.push(`${p.phase}: ${p.errors} operations failed; first: ${p.firstError}`);
  }
  const cpuBound = phases.filter((p) => p.limit === 'namenode-cpu').map((p) => p.phase);
  if (cpuBound.length > 0) {
    notes.push(`The NameNode's event loop is at ~100% of one core in: ${cpuBound.join(', ')}. Those phases are CPU-bound in the NameNode (single-threaded): more clients or depth will not raise them, a cheaper per-request path will.`);
  }
  const shared = phases.filter((p) => p.limit === 'machine-cpu' || p.limit === 'client-cpu').map((p) => p.phase);
  if (shared.length > 0) {
    notes.push(`In ${shared.join(', ')} the cores were all busy (NameNode, bench clients${phases.some((p) => (p.otherCpuPercent ?? 0) >= 10) ? ' and other programs' : ''}), so the figure is a floor for a NameNode with a core of its own.`);
  }
  const noisy = phases.filter((p) => (p.otherCpuPercent ?? 0) >= 20);
  if (noisy.length > 0) {
    notes.push(`Other programs used CPU during ${noisy.map((p) => `${p.phase} (${Math.round(p.otherCpuPercent!)}%)`).join(', ')}: those figures are lower than this machine can do when quiet.`);
  }
  if (fsyncUs !== null) {
    const mut = phases.filter((p) => p.phase !== 'stat' && p.phase !== 'list');
    const best = mut.reduce((b, p) => Math.max(b, p.rpcsPerSec), 0);
    notes.push(
      `One fdatasync takes ~${formatUs(fsyncUs)} us here, so one-record-per-fsync logging would cap durable mutations near ${formatOpsPerSec(1e6 / Math.max(1, fsyncUs))}/s; ${formatOpsPerSec(best)} mutations/s means group commit put ~${Math.max(1, Math.round(best / (1e6 / Math.max(1, fsyncUs))))} or more records in each fsync.`,
    );
  }
  if (o.depth > 1024) notes.push('a depth above the NameNode inflightMax (1024 by default) only queues in the kernel.');
  return notes;
}

// ---- output --------------------------------------------------------------------------

export function printMetaReport(r: MetaReport): void {
  const s = r.settings;
  const out: string[] = [];
  out.push(`dfs-bench meta: ${formatOpsPerSec(s.ops)} ops per phase, ${s.clients} connections x depth ${s.depth} = ${s.inflight} requests in flight`);
  out.push(`clients: ${s.clientsRun}`);
  out.push(
    `NameNode: ${s.namenode.mode === 'local' ? `started by the bench, pid ${s.namenode.pid}, ${s.namenode.address}, name dir ${s.namenode.nameDir}` : `external at ${s.namenode.address}${s.namenode.pid !== null ? `, pid ${s.namenode.pid}` : ''}`}`,
  );
  out.push(machineHeader(r.machine));
  out.push('');
  const rows = r.phases.map((p) => [
    p.phase,
    formatOpsPerSec(p.ops),
    (p.elapsedMs / 1000).toFixed(2),
    formatOpsPerSec(p.opsPerSec),
    formatOpsPerSec(p.rpcsPerSec),
    formatUs(p.latencyUs.p50Us),
    formatUs(p.latencyUs.p99Us),
    formatUs(p.latencyUs.p999Us),
    formatUs(p.latencyUs.maxUs),
    formatPercent(p.namenodeCpuPercent),
    formatPercent(p.namenodeMainThreadCpuPercent),
    p.namenodeMainUsPerOp === null ? 'n/a' : p.namenodeMainUsPerOp.toFixed(1),
    formatPercent(p.clientCpuPercent),
    formatPercent(p.otherCpuPercent),
    p.limit,
    p.target === null ? '' : `${p.target.label}: ${p.target.ratio.toFixed(2)}x`,
  ]);
  out.push(
    renderTable(
      ['phase', 'ops', 'sec', 'ops/s', 'RPCs/s', 'p50 us', 'p99 us', 'p999 us', 'max us', 'NN CPU', 'NN main', 'NN us/op', 'client CPU', 'other CPU', 'limit', 'target'],
      rows,
    ),
  );
  const errs = r.phases.filter((p) => p.errors > 0);
  if (errs.length > 0) out.push(`\nERRORS: ${errs.map((p) => `${p.phase} ${p.errors}`).join(', ')}`);
  out.push('');
  out.push('notes:');
  for (const n of r.notes) out.push(`- ${n}`);
  if (r.profile !== null) {
    out.push('');
    out.push(`NameNode CPU profile: ${r.profile.file} (${formatOpsPerSec(r.profile.busyMs)} ms busy during the phases)`);
    out.push(hotSpotTable(r.profile.hotSpots));
    for (const p of r.phases) {
      if (p.hotSpots === undefined) continue;
      out.push('');
      out.push(`hot spots during ${p.phase}:`);
      out.push(hotSpotTable(p.hotSpots.slice(0, 8)));
    }
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

function hotSpotTable(spots: HotSpot[]): string {
  return renderTable(
    ['self %', 'self ms', 'function', 'where'],
    spots.map((h) => [`${h.selfPercent.toFixed(1)}%`, h.selfMs.toFixed(1), h.functionName, h.location]),
  );
}

export function emitMetaReport(r: MetaReport, json: boolean): void {
  if (json) writeJson(r);
  else printMetaReport(r);
}
