/**
 * `dfs-bench upload` and `dfs-bench download`: data-path throughput of a real local cluster
 * (one NameNode and DataNode processes on loopback, bench/../src/local/local-cluster.ts),
 * against the raw baseline of bench/baseline.ts measured in the same run, on the same
 * disk, with the same bytes.
 *
 * One round = the baseline's transfers and DFS's, in turn; `--concurrency` transfers run
 * at once in each. The order alternates between rounds (baseline first in odd rounds, DFS
 * first in even ones), and each phase starts only once what the previous one wrote is gone
 * from disk (DFS deletes replicas asynchronously, at the DataNodes' next heartbeats): on a
 * machine whose page-cache writes cost more on memory it has not touched lately (a VM whose
 * host reclaims idle guest memory), a fixed order would hand one system the other's freshly
 * freed pages in every round. `--warmup` untimed rounds of both systems come first for the
 * same reason, and before each phase the machine is left to settle (`sync`, then until it
 * is nearly idle): the previous phase's deletions (ext4 discards, freed page cache) are
 * not done on the next phase's time. The source is one
 * random file written once (read from the page cache by both). Uploads go through
 * `DfsClient.put` (the `dfs put` path); downloads through `DfsClient.get` into a local
 * file, as the baseline's client writes one. Per-packet latency: send-to-ack for uploads,
 * the wait for each packet for downloads.
 *
 * What is reported: MiB/s of each system (all transfers' bytes over the phase's wall time,
 * and over every round together), DFS as a fraction of the baseline, packet latency
 * percentiles, and CPU per process kind so a figure short of the baseline says where the
 * time went (a process near 100% of one core is bound by its event loop).
 *
 * Longer than our usual 400 lines: upload and download share one round structure (settle,
 * alternate baseline and DFS, verify, report), kept together so the two stay comparable.
 */
import { randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DfsClient } from '../src/client/index.js';
import { Volume } from '../src/datanode/storage.js';
import { LocalCluster } from '../src/local/local-cluster.js';
import { BaselineHops } from './baseline.js';
import { withTeardown } from './teardown.js';
import {
  CpuSampler,
  formatBytes,
  formatPercent,
  formatUs,
  machineHeader,
  machineInfo,
  MachineCpuSampler,
  aggregateMiBps,
  mibPerSec,
  newLatencyHistogram,
  recordUs,
  renderTable,
  settleMachine,
  summarize,
  versusBaselineLine,
  writeJson,
  writeReport,
  cpuPercent,
  type LatencySummary,
  type MachineInfo,
  type VersusBaseline,
} from './report.js';

export type DataSuite = 'upload' | 'download';
type System = 'baseline' | 'dfs';

export interface DataBenchOptions {
  suite: DataSuite;
  sizeBytes: number;
  replication: number;
  concurrency: number;
  datanodes: number;
  rounds: number;
  /** Untimed rounds of both systems before the measured ones. */
  warmupRounds: number;
  /** Longest wait for the machine to go nearly idle before each timed phase (settleMachine). */
  settleMs: number;
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

export interface PhaseFigures {
  system: System;
  round: number;
  bytes: number;
  elapsedMs: number;
  mibPerSec: number;
  /** DFS only: per-packet latency. */
  packetLatencyUs: LatencySummary | null;
  cpu: CpuFigures;
}

export interface DataReport {
  suite: DataSuite;
  startedAt: string;
  settings: {
    sizeBytes: number;
    replication: number;
    concurrency: number;
    datanodes: number;
    rounds: number;
    warmupRounds: number;
    blockBytes: number | null;
    packetBytes: number | null;
    windowBytes: number | null;
    dataDir: string;
  };
  machine: MachineInfo;
  phases: PhaseFigures[];
  summary: VersusBaseline;
  notes: string[];
}

export const DATA_TARGET = 0.9;

export async function runDataBench(o: DataBenchOptions): Promise<DataReport> {
  if (o.replication > o.datanodes)
    throw new Error(
      `--replication ${o.replication} needs at least as many DataNodes (--datanodes ${o.datanodes})`,
    );
  const startedAt = new Date().toISOString();
  fs.mkdirSync(o.dir, { recursive: true });
  const base = fs.mkdtempSync(path.join(o.dir, `dfs-bench-${o.suite}-`));
  checkFreeSpace(base, o);
  const cluster = new LocalCluster({
    baseDir: path.join(base, 'cluster'),
    datanodes: o.datanodes,
    logLevel: 'warn',
    nodeArgs: (d) => (d === 'namenode' ? [] : o.datanodeNodeArgs),
  });
  let hops: BaselineHops | null = null;
  let client: DfsClient | null = null;
  const teardown = async (): Promise<void> => {
    client?.close();
    hops?.stop();
    await cluster.stop().catch(() => {});
    fs.rmSync(base, { recursive: true, force: true });
  };
  return withTeardown(teardown, async () => {
    o.progress(`writing a ${formatBytes(o.sizeBytes)} random source file`);
    const source = path.join(base, 'source');
    writeRandomFile(source, o.sizeBytes);
    o.progress(`starting a NameNode, ${o.datanodes} DataNodes and ${o.datanodes} baseline hops in ${base}`);
    await cluster.start();
    hops = await BaselineHops.start(
      o.benchScript,
      Array.from({ length: o.datanodes }, (_, i) => path.join(base, `hop${i}`)),
    );
    client = new DfsClient({
      namenode: cluster.namenodeAddress,
      clientName: `dfs-bench-${o.suite}-${process.pid}`,
      requestTimeoutMs: 120_000,
    });
    await client.mkdir('/bench', { parents: true });
    const machine = machineInfo(base);
    const env = { o, base, source, cluster, hops, client };
    if (o.suite === 'download') await prepareDownloads(env);
    for (let w = 1; w <= o.warmupRounds; w++) {
      for (const system of roundOrder(w)) {
        o.progress(`warm-up ${w}/${o.warmupRounds}: ${system} ${o.suite} (untimed)`);
        await runPhase(env, system, 0);
      }
    }
    const phases: PhaseFigures[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      for (const system of roundOrder(round)) {
        o.progress(
          `round ${round}/${o.rounds}: ${system} ${o.suite}, ${o.concurrency} x ${formatBytes(o.sizeBytes)}`,
        );
        const p = await runPhase(env, system, round);
        o.progress(`  ${p.mibPerSec.toFixed(1)} MiB/s`);
        phases.push(p);
      }
    }
    const total = (s: System): number => aggregateMiBps(phases.filter((p) => p.system === s));
    const baselineMiBps = total('baseline');
    const dfsMiBps = total('dfs');
    const ratio = baselineMiBps > 0 ? dfsMiBps / baselineMiBps : 0;
    const report: DataReport = {
      suite: o.suite,
      startedAt,
      settings: {
        sizeBytes: o.sizeBytes,
        replication: o.replication,
        concurrency: o.concurrency,
        datanodes: o.datanodes,
        rounds: o.rounds,
        warmupRounds: o.warmupRounds,
        blockBytes: o.blockBytes ?? null,
        packetBytes: o.packetBytes ?? null,
        windowBytes: o.windowBytes ?? null,
        dataDir: base,
      },
      machine,
      phases,
      summary: { baselineMiBps, dfsMiBps, ratio, target: DATA_TARGET, met: ratio >= DATA_TARGET },
      notes: [],
    };
    report.notes = dataNotes(report);
    return report;
  });
}

interface Env {
  o: DataBenchOptions;
  base: string;
  source: string;
  cluster: LocalCluster;
  hops: BaselineHops;
  client: DfsClient;
}

function checkFreeSpace(dir: string, o: DataBenchOptions): void {
  // Source + one round's replicas of both systems (each phase's files are removed after it).
  const need =
    o.sizeBytes * (1 + o.concurrency * (o.suite === 'upload' ? o.replication : o.replication + 2) * 2);
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
  const { o } = env;
  env.o.progress(`uploading the ${o.concurrency} file(s) to read (untimed)`);
  await Promise.all(
    Array.from({ length: o.concurrency }, async (_, k) => {
      await env.hops.upload(env.source, `read-${k}`, chainOf(k, o));
      await env.client.put(env.source, `/bench/read-${k}`, createOptions(o));
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
  const { o, hops, cluster, client } = env;
  const serverPids = system === 'dfs' ? cluster.datanodes.map((d) => d.pid ?? null) : hops.pids;
  const servers = serverPids.map((pid) => new CpuSampler(pid));
  const machine = new MachineCpuSampler();
  const hist = newLatencyHistogram();
  const onLatency = (us: number): void => recordUs(hist, us);
  const localTarget = (k: number): string => path.join(env.base, `got-${system}-${k}`);
  await settleMachine(o.settleMs);
  servers.forEach((s) => s.start());
  machine.start();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: o.concurrency }, (_, k) => {
      if (o.suite === 'upload') {
        return system === 'baseline'
          ? hops.upload(env.source, `up-${k}`, chainOf(k, o))
          : client.put(env.source, `/bench/up-${k}`, { ...createOptions(o), onPacketAcked: onLatency });
      }
      return system === 'baseline'
        ? hops.download(`read-${k}`, k % o.datanodes, localTarget(k))
        : client.get(`/bench/read-${k}`, localTarget(k), { onPacket: onLatency });
    }),
  );
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const machineBusy = machine.stop();
  const serverCpu = servers.map((s) => cpuPercent(s.stop().processUs, elapsedMs));
  const latency = system === 'dfs' ? summarize(hist) : null;
  hist.destroy();
  await cleanUp(env, system);
  const bytes = o.sizeBytes * o.concurrency;
  return {
    system,
    round,
    bytes,
    elapsedMs,
    mibPerSec: mibPerSec(bytes, elapsedMs),
    packetLatencyUs: latency,
    cpu: {
      client: cpuPercent(cpu.user + cpu.system, elapsedMs),
      servers: serverCpu,
      machine: cpuPercent(machineBusy, elapsedMs),
    },
  };
}

/**
 * Removes what a phase wrote (untimed), so rounds do not fill the disk, and waits until it
 * is gone: the DataNodes delete a deleted file's replicas at their next heartbeat.
 */
async function cleanUp(env: Env, system: System): Promise<void> {
  const { o } = env;
  for (let k = 0; k < o.concurrency; k++) {
    if (o.suite === 'download') fs.rmSync(path.join(env.base, `got-${system}-${k}`), { force: true });
    else if (system === 'dfs') await env.client.delete(`/bench/up-${k}`);
    else
      for (let h = 0; h < o.datanodes; h++)
        fs.rmSync(path.join(env.base, `hop${h}`, `up-${k}`), { force: true });
  }
  if (o.suite === 'upload' && system === 'dfs') await waitReplicasDeleted(env.cluster, o.sizeBytes);
}

/** Waits (bounded) until the DataNodes hold less than one upload's bytes of replicas (what downloads read stays). */
const REPLICA_DELETE_WAIT_MS = 30_000;

async function waitReplicasDeleted(cluster: LocalCluster, sizeBytes: number): Promise<void> {
  const deadline = Date.now() + REPLICA_DELETE_WAIT_MS;
  for (;;) {
    let held = 0;
    for (let i = 0; i < cluster.datanodes.length; i++) held += finalizedBytes(cluster.dataDir(i));
    if (held < sizeBytes || Date.now() > deadline) return;
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

function dataNotes(r: DataReport): string[] {
  const s = r.settings;
  const notes: string[] = [];
  const cores = r.machine.cpuCount;
  const processes = 1 + (r.suite === 'upload' ? s.replication : 1);
  notes.push(
    `${processes} busy processes per transfer (client + ${r.suite === 'upload' ? `${s.replication} DataNodes` : 'the DataNode it reads from'}) on ${cores} core(s); both systems are bounded by the same cores, disk and loopback.`,
  );
  if (r.suite === 'upload') {
    notes.push(
      "every replica is fdatasync'ed when finalized (DataNode sync-on-finalize, the default); every baseline hop fdatasyncs its file at the end.",
    );
  } else {
    notes.push(
      "reads come from the page cache when the files fit in memory, for both systems; DFS verifies every chunk's xxh32 on the client.",
    );
  }
  const dfs = r.phases.filter((p) => p.system === 'dfs');
  const busiest = Math.max(...dfs.flatMap((p) => p.cpu.servers.map((c) => c ?? 0)));
  const clientCpu = Math.max(...dfs.map((p) => p.cpu.client ?? 0));
  if (clientCpu >= 85)
    notes.push(
      `the DFS client process used up to ${clientCpu.toFixed(0)}% of a core: its event loop bounds the transfer.`,
    );
  if (busiest >= 85)
    notes.push(`a DataNode used up to ${busiest.toFixed(0)}% of a core: its event loop bounds the transfer.`);
  const machineMax = Math.max(...r.phases.map((p) => p.cpu.machine ?? 0));
  if (machineMax >= cores * 100 * 0.85)
    notes.push(`the machine was ${machineMax.toFixed(0)}% busy (of ${cores * 100}%): CPU-bound overall.`);
  return notes;
}

export function printDataReport(r: DataReport): void {
  const s = r.settings;
  const out: string[] = [];
  out.push(
    `dfs-bench ${r.suite}: ${s.concurrency} x ${formatBytes(s.sizeBytes)}, replication ${s.replication}, ${s.datanodes} DataNodes, ${s.rounds} round(s)` +
      (s.blockBytes !== null ? `, block ${formatBytes(s.blockBytes)}` : ''),
  );
  out.push(machineHeader(r.machine));
  out.push('');
  const rows = r.phases.map((p) => [
    String(p.round),
    p.system,
    (p.elapsedMs / 1000).toFixed(2),
    p.mibPerSec.toFixed(1),
    p.packetLatencyUs === null ? '' : formatUs(p.packetLatencyUs.p50Us),
    p.packetLatencyUs === null ? '' : formatUs(p.packetLatencyUs.p99Us),
    p.packetLatencyUs === null ? '' : formatUs(p.packetLatencyUs.maxUs),
    formatPercent(p.cpu.client),
    p.cpu.servers.map((c) => formatPercent(c)).join(' '),
    formatPercent(p.cpu.machine),
  ]);
  out.push(
    renderTable(
      [
        'round',
        'system',
        'sec',
        'MiB/s',
        'pkt p50 us',
        'pkt p99 us',
        'pkt max us',
        'client CPU',
        'DataNode / hop CPU',
        'machine CPU',
      ],
      rows,
    ),
  );
  out.push('');
  out.push(versusBaselineLine(r.summary));
  writeReport(out, r.notes);
}

export function emitDataReport(r: DataReport, json: boolean): void {
  if (json) writeJson(r);
  else printDataReport(r);
}

export function defaultBenchDir(): string {
  return os.tmpdir();
}
