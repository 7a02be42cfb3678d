/**
 * `dfs-bench upload` and `dfs-bench download`: data-path throughput of a real local cluster
 * (one NameNode and DataNode processes on loopback, src/local/local-cluster.ts), against
 * the raw baseline of bench/baseline.ts measured in the same run, on the same disk, with
 * the same bytes.
 *
 * Two comparisons for uploads, each on a cluster of its own:
 *   durable     DFS's defaults (sync-behind every 8 MiB, fdatasync when a replica is
 *               finalized) against baseline hops that do exactly that;
 *   page cache  DataNodes with `syncOnFinalize` off against hops that never sync: DFS's
 *               software cost alone, without the disk's.
 * Downloads read what was just written, from the page cache, for both systems; both
 * clients discard the bytes (DFS's after verifying every chunk), as `dfs get F - >
 * /dev/null` and the yardstick's reader do.
 *
 * One round = the baseline's transfers and DFS's, in turn; `--clients` transfers run at
 * once in each, on distinct files. The order alternates between rounds (baseline first in
 * odd rounds, DFS first in even ones; with the yardstick the three rotate), and each phase starts only once what the previous
 * one wrote is gone from disk (DFS deletes replicas asynchronously, at the DataNodes' next
 * heartbeats); before each phase the machine is left to settle (`sync`, then until nearly
 * idle), and `--warmup` untimed rounds come first. With `--yardstick FILE` (the plain-Node
 * program the data path is held to, ../shared/yardstick/raw-chain.mjs in the project's
 * workspace), each round also runs it, so the report shows the baseline is not slower.
 *
 * What is reported, per comparison: MiB/s of each system (all transfers' bytes over the
 * phase's wall time, and over every round together), DFS as a fraction of the baseline,
 * packet latency percentiles, for DFS uploads how long the streams stood still waiting for
 * new blocks (addBlock, a pipeline's set-up), and CPU-seconds per GiB moved for the client process and
 * each server process, DFS beside the baseline: on a CPU-bound machine that ratio is the
 * explanation of the throughput ratio. Printing is bench/data-report.ts.
 */
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DfsClient } from '../src/client/index.js';
import { Volume } from '../src/datanode/storage.js';
import { DFS_BIN } from '../src/local/daemon-process.js';
import { LocalCluster } from '../src/local/local-cluster.js';
import { BaselineHops } from './baseline.js';
import { withTeardown } from './teardown.js';
import {
  aggregateMiBps,
  CpuSampler,
  cpuPercent,
  formatBytes,
  machineInfo,
  MachineCpuSampler,
  mibPerSec,
  newLatencyHistogram,
  reapedChildrenCpuUs,
  recordUs,
  settleMachine,
  summarize,
  type LatencySummary,
  type MachineInfo,
  type VersusBaseline,
} from './report.js';

export type DataSuite = 'upload' | 'download';
export type Durability = 'durable' | 'page-cache';
export type System = 'baseline' | 'dfs' | 'yardstick';

export interface DataBenchOptions {
  suite: DataSuite;
  sizeBytes: number;
  replication: number;
  /** Transfers at once, each on its own file. */
  clients: number;
  datanodes: number;
  rounds: number;
  /** Untimed rounds of both systems before the measured ones. */
  warmupRounds: number;
  /** Longest wait for the machine to go nearly idle before each timed phase (settleMachine). */
  settleMs: number;
  /** Uploads: the comparisons to run, in order. Downloads always read from the page cache. */
  durability: Durability[];
  /** The yardstick program to run beside the baseline in each round, or null. */
  yardstick: string | null;
  /**
   * DFS's transfers as the `dfs` command, a process each (`dfs put`, `dfs get F - >
   * /dev/null`), timed from outside with their start-up, as a user timing the command sees
   * them; otherwise through the client library in this process.
   */
  cli: boolean;
  blockBytes: number | undefined;
  packetBytes: number | undefined;
  windowBytes: number | undefined;
  /** Where the daemons and hops keep their data (a temp dir inside it, removed at the end). */
  dir: string;
  /** Extra node flags per DataNode (profiling). */
  datanodeNodeArgs: string[];
  benchScript: string;
  progress: (line: string) => void;
}

export interface CpuFigures {
  /** Percent of one core, over the phase's wall time. */
  client: number | null;
  /** Per DataNode or hop process. */
  servers: Array<number | null>;
  /** Whole machine busy, percent of one core (up to 100 x cores). */
  machine: number | null;
}

/** CPU-seconds per GiB moved: the client process, the servers together and each, and all. */
export interface CpuPerGiB {
  client: number | null;
  servers: number | null;
  perServer: Array<number | null>;
  total: number | null;
}

export interface PhaseFigures {
  system: System;
  round: number;
  bytes: number;
  elapsedMs: number;
  mibPerSec: number;
  /** DFS only: per-packet latency. */
  packetLatencyUs: LatencySummary | null;
  /**
   * DFS uploads only: each stream's wait for each new block (addBlock and the pipeline's
   * set-up), when it sends nothing; mean x count is the phase's total over its streams.
   */
  blockWaitUs: LatencySummary | null;
  /** Null for the yardstick (its own processes, not sampled). */
  cpu: CpuFigures | null;
  cpuPerGiB: CpuPerGiB | null;
}

export interface Comparison {
  durability: Durability;
  phases: PhaseFigures[];
  summary: VersusBaseline;
  /** Over every round: CPU-seconds per GiB of each system. */
  cpuPerGiB: { baseline: CpuPerGiB; dfs: CpuPerGiB };
  /** Over every round, when --yardstick ran: its MiB/s (summed over the clients). */
  yardstickMiBps: number | null;
  /** DFS's MiB/s over the yardstick's, when it ran: the comparison an outside tester makes (with --cli). */
  dfsToYardstick: number | null;
}

export interface DataReport {
  suite: DataSuite;
  startedAt: string;
  settings: {
    sizeBytes: number;
    replication: number;
    clients: number;
    datanodes: number;
    rounds: number;
    warmupRounds: number;
    durability: Durability[];
    yardstick: string | null;
    /** DFS timed as the `dfs` command (see DataBenchOptions.cli). */
    cli: boolean;
    blockBytes: number | null;
    packetBytes: number | null;
    windowBytes: number | null;
    dataDir: string;
  };
  machine: MachineInfo;
  comparisons: Comparison[];
  notes: string[];
}

export const DATA_TARGET = 0.9;
const GiB = 1024 * 1024 * 1024;

export async function runDataBench(o: DataBenchOptions): Promise<DataReport> {
  if (o.replication > o.datanodes)
    throw new Error(
      `--replication ${o.replication} needs at least as many DataNodes (--datanodes ${o.datanodes})`,
    );
  if (o.cli && (o.packetBytes !== undefined || o.windowBytes !== undefined))
    throw new Error('--cli times the dfs command, which has no packet size or window option');
  const startedAt = new Date().toISOString();
  const modes: Durability[] = o.suite === 'download' ? ['page-cache'] : o.durability;
  fs.mkdirSync(o.dir, { recursive: true });
  const base = fs.mkdtempSync(path.join(o.dir, `dfs-bench-${o.suite}-`));
  checkFreeSpace(base, o);
  let hops: BaselineHops | null = null;
  let run: ClusterRun | null = null;
  const teardown = async (): Promise<void> => {
    await run?.stop();
    hops?.stop();
    fs.rmSync(base, { recursive: true, force: true });
  };
  return withTeardown(teardown, async () => {
    o.progress(`writing a ${formatBytes(o.sizeBytes)} random source file`);
    const source = path.join(base, 'source');
    writeRandomFile(source, o.sizeBytes);
    hops = await BaselineHops.start(
      o.benchScript,
      Array.from({ length: o.datanodes }, (_, i) => path.join(base, `hop${i}`)),
      true,
    );
    const machine = machineInfo(base);
    const comparisons: Comparison[] = [];
    for (const durability of modes) {
      o.progress(`${durability}: starting a NameNode and ${o.datanodes} DataNodes in ${base}`);
      run = await ClusterRun.start(o, path.join(base, `cluster-${durability}`), durability);
      comparisons.push(await compare({ o, base, source, hops, run, durability }));
      await run.stop();
      run = null;
    }
    const report: DataReport = {
      suite: o.suite,
      startedAt,
      settings: {
        sizeBytes: o.sizeBytes,
        replication: o.replication,
        clients: o.clients,
        datanodes: o.datanodes,
        rounds: o.rounds,
        warmupRounds: o.warmupRounds,
        durability: modes,
        yardstick: o.yardstick,
        cli: o.cli,
        blockBytes: o.blockBytes ?? null,
        packetBytes: o.packetBytes ?? null,
        windowBytes: o.windowBytes ?? null,
        dataDir: base,
      },
      machine,
      comparisons,
      notes: [],
    };
    return report;
  });
}

/** One comparison's cluster: DataNodes syncing as `durability` says, and a client. */
class ClusterRun {
  private constructor(
    readonly cluster: LocalCluster,
    readonly client: DfsClient,
  ) {}

  static async start(o: DataBenchOptions, dir: string, durability: Durability): Promise<ClusterRun> {
    const cluster = new LocalCluster({
      baseDir: dir,
      datanodes: o.datanodes,
      logLevel: 'warn',
      nodeArgs: (d) => (d === 'namenode' ? [] : o.datanodeNodeArgs),
      datanodeEnv: () => (durability === 'page-cache' ? { DFS_DATANODE_SYNC_ON_FINALIZE: 'false' } : {}),
    });
    try {
      await cluster.start();
    } catch (err) {
      await cluster.stop().catch(() => {});
      throw err;
    }
    const client = new DfsClient({
      namenode: cluster.namenodeAddress,
      clientName: `dfs-bench-${o.suite}-${process.pid}`,
      requestTimeoutMs: 120_000,
    });
    await client.mkdir('/bench', { parents: true });
    return new ClusterRun(cluster, client);
  }

  async stop(): Promise<void> {
    this.client.close();
    await this.cluster.stop().catch(() => {});
  }
}

interface Env {
  o: DataBenchOptions;
  base: string;
  source: string;
  hops: BaselineHops;
  run: ClusterRun;
  durability: Durability;
}

async function compare(env: Env): Promise<Comparison> {
  const { o } = env;
  // With the yardstick, the three take turns at each position (round r starts r-1 places
  // along), so none always runs right after another's files were freed.
  const systems = (round: number): readonly System[] => {
    if (o.yardstick === null) return roundOrder(round);
    const all: System[] = ['baseline', 'dfs', 'yardstick'];
    const k = (round - 1) % all.length;
    return [...all.slice(k), ...all.slice(0, k)];
  };
  if (o.suite === 'download') await prepareDownloads(env);
  for (let w = 1; w <= o.warmupRounds; w++) {
    for (const system of roundOrder(w)) {
      o.progress(`${env.durability} warm-up ${w}/${o.warmupRounds}: ${system} ${o.suite} (untimed)`);
      await runPhase(env, system, 0);
    }
  }
  const phases: PhaseFigures[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    for (const system of systems(round)) {
      o.progress(
        `${env.durability} round ${round}/${o.rounds}: ${system} ${o.suite}, ${o.clients} x ${formatBytes(o.sizeBytes)}`,
      );
      const p = await runPhase(env, system, round);
      o.progress(`  ${p.mibPerSec.toFixed(1)} MiB/s`);
      phases.push(p);
    }
  }
  const of = (s: System): PhaseFigures[] => phases.filter((p) => p.system === s);
  const baselineMiBps = aggregateMiBps(of('baseline'));
  const dfsMiBps = aggregateMiBps(of('dfs'));
  const ratio = baselineMiBps > 0 ? dfsMiBps / baselineMiBps : 0;
  const yardstickMiBps = o.yardstick === null ? null : aggregateMiBps(of('yardstick'));
  return {
    durability: env.durability,
    phases,
    summary: { baselineMiBps, dfsMiBps, ratio, target: DATA_TARGET, met: ratio >= DATA_TARGET },
    cpuPerGiB: { baseline: overallCpuPerGiB(of('baseline')), dfs: overallCpuPerGiB(of('dfs')) },
    yardstickMiBps,
    dfsToYardstick: yardstickMiBps === null || yardstickMiBps === 0 ? null : dfsMiBps / yardstickMiBps,
  };
}

function checkFreeSpace(dir: string, o: DataBenchOptions): void {
  // Source + one round's replicas of both systems (each phase's files are removed after it).
  const need = o.sizeBytes * (1 + o.clients * o.replication * 2);
  const s = fs.statfsSync(dir);
  const free = s.bavail * s.bsize;
  if (free < need)
    throw new Error(
      `${dir} has ${formatBytes(free)} free; this run needs about ${formatBytes(need)} (--dir elsewhere, or a smaller --size)`,
    );
}

/** Writes `bytes` random bytes to `file` (the source of the data-path suites). */
export function writeRandomFile(file: string, bytes: number): void {
  const chunk = Buffer.allocUnsafe(Math.min(bytes, 8 * 1024 * 1024));
  const fd = fs.openSync(file, 'w');
  try {
    for (let done = 0; done < bytes;) {
      const n = Math.min(chunk.length, bytes - done);
      randomFillSync(chunk, 0, n);
      fs.writeSync(fd, chunk, 0, n);
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** The pipeline of transfer k: DataNode-like hops k, k+1, ... (mod the hop count). */
function chainOf(k: number, o: DataBenchOptions): number[] {
  return Array.from({ length: o.replication }, (_, j) => (k + j) % o.datanodes);
}

/** Baseline first in odd rounds, DFS first in even ones. */
function roundOrder(round: number): readonly System[] {
  return round % 2 === 1 ? ['baseline', 'dfs'] : ['dfs', 'baseline'];
}

/** Downloads read what an untimed upload of each system put there first. */
async function prepareDownloads(env: Env): Promise<void> {
  const { o, run } = env;
  o.progress(`uploading the ${o.clients} file(s) to read (untimed)`);
  await Promise.all(
    Array.from({ length: o.clients }, async (_, k) => {
      await env.hops.upload(env.source, `read-${k}`, chainOf(k, o));
      await run.client.put(env.source, `/bench/read-${k}`, createOptions(o));
    }),
  );
}

function createOptions(o: DataBenchOptions): Parameters<DfsClient['put']>[2] {
  return {
    replication: o.replication,
    blockBytes: o.blockBytes,
    packetBytes: o.packetBytes,
    windowBytes: o.windowBytes,
    overwrite: true,
  };
}

async function runPhase(env: Env, system: System, round: number): Promise<PhaseFigures> {
  const { o } = env;
  if (system === 'yardstick') return runYardstick(env, round);
  const { hops, run } = env;
  const serverPids = system === 'dfs' ? run.cluster.datanodes.map((d) => d.pid ?? null) : hops.pids;
  const servers = serverPids.map((pid) => new CpuSampler(pid));
  // The baseline's client is a process of its own; DFS's is this one, or with --cli the
  // `dfs` processes of the phase, counted once they have exited.
  const clientSampler = system === 'baseline' ? new CpuSampler(hops.clientPid) : null;
  const commands = system === 'dfs' && o.cli;
  const machine = new MachineCpuSampler();
  const hist = newLatencyHistogram();
  const onLatency = (us: number): void => recordUs(hist, us);
  const blockHist = newLatencyHistogram();
  const onBlockWait = (us: number): void => recordUs(blockHist, us);
  await settleMachine(o.settleMs);
  servers.forEach((s) => s.start());
  clientSampler?.start();
  machine.start();
  const cpu0 = process.cpuUsage();
  const children0 = commands ? reapedChildrenCpuUs() : null;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: o.clients }, async (_, k) => {
      if (commands) return runDfsCommand(env, k);
      if (o.suite === 'upload') {
        return system === 'baseline'
          ? hops.upload(env.source, `up-${k}`, chainOf(k, o), env.durability === 'durable')
          : run.client.put(env.source, `/bench/up-${k}`, {
              ...createOptions(o),
              onPacketAcked: onLatency,
              onBlockWait,
            });
      }
      const got =
        system === 'baseline'
          ? await hops.download(`read-${k}`, k % o.datanodes)
          : await discardAll(run.client, `/bench/read-${k}`, onLatency);
      if (got !== o.sizeBytes)
        throw new Error(`${system} read ${got} bytes of read-${k}, not ${o.sizeBytes}`);
    }),
  );
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const machineBusy = machine.stop();
  const serverUs = servers.map((s) => s.stop().processUs);
  let clientUs: number | null;
  if (clientSampler !== null) clientUs = clientSampler.stop().processUs;
  else if (commands) {
    const children = reapedChildrenCpuUs();
    clientUs = children === null || children0 === null ? null : children - children0;
  } else clientUs = cpu.user + cpu.system;
  const latency = system === 'dfs' && !commands ? summarize(hist) : null;
  const blockWait = system === 'dfs' && !commands && o.suite === 'upload' ? summarize(blockHist) : null;
  hist.destroy();
  blockHist.destroy();
  await cleanUp(env, system);
  const bytes = o.sizeBytes * o.clients;
  return {
    system,
    round,
    bytes,
    elapsedMs,
    mibPerSec: mibPerSec(bytes, elapsedMs),
    packetLatencyUs: latency,
    blockWaitUs: blockWait,
    cpu: {
      client: cpuPercent(clientUs, elapsedMs),
      servers: serverUs.map((us) => cpuPercent(us, elapsedMs)),
      machine: cpuPercent(machineBusy, elapsedMs),
    },
    cpuPerGiB: cpuPerGiB(clientUs, serverUs, bytes),
  };
}

/** Reads a DFS file as `dfs get F -` does, verifying every chunk, and drops the bytes. */
async function discardAll(client: DfsClient, file: string, onPacket: (us: number) => void): Promise<number> {
  let bytes = 0;
  for await (const packet of client.open(file, { onPacket }).packets({ borrowed: true }))
    for (const piece of packet) bytes += piece.length;
  return bytes;
}

const DFS_COMMAND_TIMEOUT_MS = 600_000;

/**
 * Transfer `k` of a phase as a user runs it: `dfs put -f` of the source, or `dfs get F -`
 * with stdout on /dev/null (stdio 'ignore'). The command checks what it moved (a short read
 * is an error), so its exit status is the check here; stderr is kept for the message.
 */
function runDfsCommand(env: Env, k: number): Promise<void> {
  const { o } = env;
  const args =
    o.suite === 'upload'
      ? [
          'put',
          '-f',
          '--replication',
          String(o.replication),
          ...(o.blockBytes === undefined ? [] : ['--block-size', String(o.blockBytes)]),
          env.source,
          `/bench/up-${k}`,
        ]
      : ['get', `/bench/read-${k}`, '-'];
  const argv = [DFS_BIN, '--namenode', env.run.cluster.namenodeAddress, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString('utf8')).slice(-4096)));
    const timer = setTimeout(() => child.kill('SIGKILL'), DFS_COMMAND_TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer); // it would otherwise keep the bench alive for the whole timeout
      reject(err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`dfs ${args.join(' ')} exited ${code ?? signal}: ${stderr.trim()}`));
    });
  });
}

function cpuPerGiB(clientUs: number | null, serverUs: Array<number | null>, bytes: number): CpuPerGiB {
  const perGiB = (us: number | null): number | null => (us === null ? null : us / 1e6 / (bytes / GiB));
  const known = serverUs.filter((u): u is number => u !== null);
  const servers = known.length === serverUs.length ? known.reduce((a, b) => a + b, 0) : null;
  return {
    client: perGiB(clientUs),
    servers: perGiB(servers),
    perServer: serverUs.map(perGiB),
    total: clientUs === null || servers === null ? null : perGiB(clientUs + servers),
  };
}

/** CPU-seconds per GiB over several phases: each figure weighted by the bytes it moved. */
function overallCpuPerGiB(phases: readonly PhaseFigures[]): CpuPerGiB {
  const bytes = phases.reduce((a, p) => a + p.bytes, 0);
  const sum = (get: (c: CpuPerGiB) => number | null): number | null => {
    let s = 0;
    for (const p of phases) {
      const v = p.cpuPerGiB === null ? null : get(p.cpuPerGiB);
      if (v === null) return null;
      s += v * p.bytes;
    }
    return bytes > 0 ? s / bytes : null;
  };
  const width = Math.max(0, ...phases.map((p) => p.cpuPerGiB?.perServer.length ?? 0));
  return {
    client: sum((c) => c.client),
    servers: sum((c) => c.servers),
    perServer: Array.from({ length: width }, (_, i) => sum((c) => c.perServer[i] ?? null)),
    total: sum((c) => c.total),
  };
}

/**
 * One yardstick phase: `--clients` copies of the program at once (uploads: each with its
 * own hop directory), each printing its MiB/s; the phase's figure is their sum, its time
 * the bytes over that rate. It starts and times its own processes, so no CPU figures.
 */
async function runYardstick(env: Env, round: number): Promise<PhaseFigures> {
  const { o } = env;
  await settleMachine(o.settleMs);
  const rates = await Promise.all(
    Array.from({ length: o.clients }, async (_, k) => {
      let args: string[];
      if (o.suite === 'upload') {
        const dir = path.join(env.base, `yardstick-${k}`);
        fs.mkdirSync(dir, { recursive: true });
        args = [
          'up',
          String(o.replication),
          env.source,
          dir,
          ...(env.durability === 'durable' ? ['sync'] : []),
        ];
      } else args = ['down', env.source];
      return runYardstickOnce(o.yardstick!, args);
    }),
  );
  const bytes = o.sizeBytes * o.clients;
  const rate = rates.reduce((a, b) => a + b, 0);
  return {
    system: 'yardstick',
    round,
    bytes,
    elapsedMs: (bytes / (1024 * 1024) / rate) * 1000,
    mibPerSec: rate,
    packetLatencyUs: null,
    blockWaitUs: null,
    cpu: null,
    cpuPerGiB: null,
  };
}

const YARDSTICK_TIMEOUT_MS = 600_000;

function runYardstickOnce(program: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [program, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), YARDSTICK_TIMEOUT_MS);
    child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      const rate = Number(out.trim().split('\n').pop());
      if (code === 0 && Number.isFinite(rate) && rate > 0) resolve(rate);
      else
        reject(new Error(`yardstick ${program} ${args.join(' ')} exited ${code} printing '${out.trim()}'`));
    });
  });
}

/**
 * Removes what a phase wrote (untimed), so rounds do not fill the disk, and waits until it
 * is gone: the DataNodes delete a deleted file's replicas at their next heartbeat.
 */
async function cleanUp(env: Env, system: System): Promise<void> {
  const { o } = env;
  if (o.suite === 'download') return;
  for (let k = 0; k < o.clients; k++) {
    if (system === 'dfs') await env.run.client.delete(`/bench/up-${k}`);
    else
      for (let h = 0; h < o.datanodes; h++)
        fs.rmSync(path.join(env.base, `hop${h}`, `up-${k}`), { force: true });
  }
  if (system === 'dfs') await waitReplicasDeleted(env.run.cluster);
}

/**
 * Waits (bounded) until the DataNodes hold no replica bytes: each deletes its replicas at
 * its next heartbeat, and one still deleting when the next phase starts would charge that
 * phase with work the baseline's untimed `rmSync` does outside it. (Waiting only until
 * less than one upload's bytes were held let up to a quarter of four uploads' replicas be
 * deleted in the next timed phase.)
 */
const REPLICA_DELETE_WAIT_MS = 30_000;

async function waitReplicasDeleted(cluster: LocalCluster): Promise<void> {
  const deadline = Date.now() + REPLICA_DELETE_WAIT_MS;
  for (;;) {
    let held = 0;
    for (let i = 0; i < cluster.datanodes.length; i++) held += finalizedBytes(cluster.dataDir(i));
    if (held === 0 || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Bytes of finalized replica data files in a DataNode data dir. */
function finalizedBytes(dataDir: string): number {
  const dir = new Volume(dataDir).finalizedDir;
  if (!fs.existsSync(dir)) return 0;
  let total = 0;
  for (const blk of fs.readdirSync(dir))
    total += fs.statSync(path.join(dir, blk, 'data'), { throwIfNoEntry: false })?.size ?? 0;
  return total;
}

export function defaultBenchDir(): string {
  return os.tmpdir();
}
