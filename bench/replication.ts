/**
 * `dfs-bench replication`: how fast a local cluster restores full replication after it
 * loses a DataNode (SIGKILL, or decommissioning), against the raw copy rate of the same
 * bytes on this machine (bench/baseline.ts `copy`), measured in the same run.
 *
 * One round, on a fresh cluster (NameNode + DataNode processes on loopback, with a short
 * dead-node timeout and heartbeat interval so detection does not dominate):
 *
 *   load      --files x --size at --replication (untimed); wait until every block is healthy
 *   plan      the victim is the node holding the most bytes; the blocks it holds are the
 *             lost bytes, each needing one new copy (bench/replication-plan.ts)
 *   (the baseline and DFS take turns going first: baseline first in odd rounds; before
 *   each, the machine settles: `sync`, then until it is nearly idle)
 *   baseline  the hops standing for the survivors send those blocks (the DataNodes' own
 *             replica files, hard-linked into the hops' dirs) to the hops standing for the
 *             targets, each target fdatasyncing its file, at most --transfers-per-node
 *             copies at once per source: the NameNode's own limit
 *   DFS       t0 = SIGKILL (or the decommission call) of the victim
 *               detection = t0 .. the NameNode declares the node dead (the time of its log
 *                           line; 0 when decommissioning)
 *               repair    = detection .. replicationStats shows nothing under-replicated or
 *                           pending, every block has its full count of live replicas, and
 *                           (decommission) the node is decommissioned
 *   verify    every file is read back: its length and SHA-256 must equal the source's
 *
 * MiB/s = lost bytes / repair time (DFS) and lost bytes / copy time (baseline). The
 * target (70% of the baseline) is judged on the median of the rounds' own ratios, so one
 * round whose baseline a busy machine slowed or sped does not decide it; the ratio over
 * all rounds together is printed beside it.
 *
 * The daemons' own log lines split the repair: waiting for the replication monitor and a
 * heartbeat to carry the first REPLICATE command, copying (first copy started .. last
 * finished, and how long each copy took), and settling (last copy finished .. the
 * NameNode no longer counts anything pending). Progress polls run every POLL_MS, so each
 * time is exact to about that.
 *
 * Longer than our usual 400 lines: one suite, read top to bottom as its scenario (place the
 * files, measure the baseline's copy rate, lose a node, time the repair, verify every byte),
 * with the two modes (kill, decommission) sharing every phase.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Role } from '../protocol/handshake.js';
import {
  BlockHealthState,
  DatanodeReportState,
  type BlockHealth,
} from '../protocol/admin-namenode-messages.js';
import type { DatanodeInfo } from '../protocol/shared-structures.js';
import { DfsClient } from '../src/client/index.js';
import { NAMENODE_DEFAULTS } from '../src/common/config.js';
import { Volume } from '../src/datanode/storage.js';
import { LocalCluster } from '../src/local/local-cluster.js';
import { BaselineHops } from './baseline.js';
import { writeRandomFile } from './data.js';
import {
  lostBlocks,
  planCopies,
  replicaLoad,
  runPerSource,
  type LossMode,
  type PlannedCopy,
} from './replication-plan.js';
import {
  CpuSampler,
  cpuPercent,
  formatBytes,
  formatPercent,
  machineHeader,
  machineInfo,
  MachineCpuSampler,
  median,
  renderTable,
  settleMachine,
  versusBaselineLine,
  writeJson,
  writeReport,
  type MachineInfo,
  type VersusBaseline,
} from './report.js';
import { withTeardown } from './teardown.js';

export interface ReplicationBenchOptions {
  mode: LossMode;
  datanodes: number;
  files: number;
  sizeBytes: number;
  replication: number;
  blockBytes: number | undefined;
  rounds: number;
  deadTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** Undefined: the NameNode's defaults. */
  transfersPerNode: number | undefined;
  replicationIntervalMs: number | undefined;
  /** Longest wait for the machine to go nearly idle before each timed phase (settleMachine). */
  settleMs: number;
  dir: string;
  benchScript: string;
  progress: (line: string) => void;
}

export interface CpuWindow {
  /** Percent of one core per DataNode (DFS) or hop (baseline); null for a killed node. */
  servers: Array<number | null>;
  namenode: number | null;
  /** Whole machine, percent of one core (up to 100 x cores). */
  machine: number | null;
}

/** Where the repair time went, from the daemons' log lines (null when they were not found). */
export interface RepairTimeline {
  /** Detection .. the first REPLICATE command scheduled by the NameNode. */
  firstScheduledMs: number | null;
  /** Detection .. the first copy started on a DataNode. */
  firstCopyStartMs: number | null;
  /** Detection .. the last copy finished. */
  lastCopyDoneMs: number | null;
  copies: number;
  copyFailures: number;
  copyMsMean: number | null;
  copyMsMax: number | null;
  /** Most copies running at once (all nodes). */
  concurrentMax: number;
}

export interface ReplicationRound {
  round: number;
  victim: { index: number; nodeId: string; blocks: number; bytes: number };
  /** Replicas of the lost blocks the NameNode counted live but that were not finalized on disk when the round was planned. */
  replicasNotFinalized: number;
  baseline: { bytes: number; copies: number; elapsedMs: number; mibPerSec: number; cpu: CpuWindow };
  dfs: {
    bytes: number;
    detectionMs: number;
    repairMs: number;
    /** Detection .. every block had its full count of live replicas (before the NameNode settled). */
    restoredMs: number;
    mibPerSec: number;
    timeline: RepairTimeline;
    cpu: CpuWindow;
  };
  verified: { files: number; bytes: number };
}

export interface ReplicationReport {
  suite: 'replication';
  startedAt: string;
  settings: {
    mode: LossMode;
    datanodes: number;
    files: number;
    sizeBytes: number;
    replication: number;
    blockBytes: number;
    rounds: number;
    deadTimeoutMs: number;
    heartbeatIntervalMs: number;
    heartbeatRecheckMs: number;
    transfersPerNode: number;
    replicationIntervalMs: number;
    dataDir: string;
  };
  machine: MachineInfo;
  rounds: ReplicationRound[];
  /**
   * `ratio` is over every round's bytes and times together; `met` is judged on
   * `ratioMedian`, the median of the rounds' own ratios, which one round with a slow or
   * fast baseline (a shared machine) does not move.
   */
  summary: VersusBaseline & { ratioMedian: number; detectionMsMean: number; repairMsMean: number };
  notes: string[];
}

export const REPLICATION_TARGET = 0.7;
const POLL_MS = 50;
const HEARTBEAT_RECHECK_MS = 100;
const LOAD_CONCURRENCY = 2;
const DEFAULT_BLOCK_BYTES = 64 * 1024 * 1024;
const MiB = 1024 * 1024;

export function mibPerSec(bytes: number, elapsedMs: number): number {
  return elapsedMs > 0 ? bytes / MiB / (elapsedMs / 1000) : 0;
}

export async function runReplicationBench(o: ReplicationBenchOptions): Promise<ReplicationReport> {
  if (o.datanodes <= o.replication) {
    throw new Error(
      `--datanodes ${o.datanodes} leaves no node to copy to: re-replication at --replication ${o.replication} needs at least ${o.replication + 1}`,
    );
  }
  const startedAt = new Date().toISOString();
  fs.mkdirSync(o.dir, { recursive: true });
  const base = fs.mkdtempSync(path.join(o.dir, 'dfs-bench-replication-'));
  let hops: BaselineHops | null = null;
  let cluster: LocalCluster | null = null;
  const teardown = async (): Promise<void> => {
    hops?.stop();
    await cluster?.stop().catch(() => {});
    fs.rmSync(base, { recursive: true, force: true });
  };
  return withTeardown(teardown, async () => {
    checkFreeSpace(base, o);
    o.progress(`writing a ${formatBytes(o.sizeBytes)} random source file`);
    const source = path.join(base, 'source');
    writeRandomFile(source, o.sizeBytes);
    const sourceSha = await sha256(fs.createReadStream(source));
    const hopDirs = Array.from({ length: o.datanodes }, (_, i) => path.join(base, `hop${i}`));
    hops = await BaselineHops.start(o.benchScript, hopDirs);
    const machine = machineInfo(base);
    const rounds: ReplicationRound[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      cluster = new LocalCluster({
        baseDir: path.join(base, `round${round}`),
        datanodes: o.datanodes,
        logLevel: 'info',
        namenodeEnv: namenodeEnv(o),
        datanodeEnv: () => ({ DFS_DATANODE_HEARTBEAT_INTERVAL_MS: String(o.heartbeatIntervalMs) }),
      });
      const r = await runRound({ o, round, cluster, hops, hopDirs, source, sourceSha });
      rounds.push(r);
      await cluster.stop();
      fs.rmSync(path.join(base, `round${round}`), { recursive: true, force: true });
      cluster = null;
    }
    const sum = (f: (r: ReplicationRound) => number): number => rounds.reduce((a, r) => a + f(r), 0);
    const baselineMiBps = mibPerSec(
      sum((r) => r.baseline.bytes),
      sum((r) => r.baseline.elapsedMs),
    );
    const dfsMiBps = mibPerSec(
      sum((r) => r.dfs.bytes),
      sum((r) => r.dfs.repairMs),
    );
    const ratio = baselineMiBps > 0 ? dfsMiBps / baselineMiBps : 0;
    const ratioMedian = median(rounds.map(roundRatio));
    const report: ReplicationReport = {
      suite: 'replication',
      startedAt,
      settings: {
        mode: o.mode,
        datanodes: o.datanodes,
        files: o.files,
        sizeBytes: o.sizeBytes,
        replication: o.replication,
        blockBytes: o.blockBytes ?? DEFAULT_BLOCK_BYTES,
        rounds: o.rounds,
        deadTimeoutMs: o.deadTimeoutMs,
        heartbeatIntervalMs: o.heartbeatIntervalMs,
        heartbeatRecheckMs: HEARTBEAT_RECHECK_MS,
        transfersPerNode: transfersPerNode(o),
        replicationIntervalMs: o.replicationIntervalMs ?? NAMENODE_DEFAULTS.replicationIntervalMs,
        dataDir: base,
      },
      machine,
      rounds,
      summary: {
        baselineMiBps,
        dfsMiBps,
        ratio,
        ratioMedian,
        target: REPLICATION_TARGET,
        met: ratioMedian >= REPLICATION_TARGET,
        detectionMsMean: sum((r) => r.dfs.detectionMs) / rounds.length,
        repairMsMean: sum((r) => r.dfs.repairMs) / rounds.length,
      },
      notes: [],
    };
    report.notes = replicationNotes(report);
    return report;
  });
}

function transfersPerNode(o: ReplicationBenchOptions): number {
  return o.transfersPerNode ?? NAMENODE_DEFAULTS.transfersPerNodeMax;
}

function namenodeEnv(o: ReplicationBenchOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    DFS_NAMENODE_DEAD_NODE_TIMEOUT_MS: String(o.deadTimeoutMs),
    DFS_NAMENODE_HEARTBEAT_RECHECK_MS: String(HEARTBEAT_RECHECK_MS),
    DFS_NAMENODE_SAFE_MODE_EXTENSION_MS: '0',
  };
  if (o.transfersPerNode !== undefined) env.DFS_NAMENODE_TRANSFERS_PER_NODE_MAX = String(o.transfersPerNode);
  if (o.replicationIntervalMs !== undefined)
    env.DFS_NAMENODE_REPLICATION_INTERVAL_MS = String(o.replicationIntervalMs);
  return env;
}

function checkFreeSpace(dir: string, o: ReplicationBenchOptions): void {
  // Source + one round's replicas + the copies of both systems (a round's files are removed after it).
  const total = o.files * o.sizeBytes;
  const need = o.sizeBytes + total * o.replication + 2 * total;
  const s = fs.statfsSync(dir);
  const free = s.bavail * s.bsize;
  if (free < need)
    throw new Error(
      `${dir} has ${formatBytes(free)} free; this run needs about ${formatBytes(need)} (--dir elsewhere, or fewer or smaller files)`,
    );
}

interface RoundEnv {
  o: ReplicationBenchOptions;
  round: number;
  cluster: LocalCluster;
  hops: BaselineHops;
  hopDirs: string[];
  source: string;
  sourceSha: string;
}

async function runRound(env: RoundEnv): Promise<ReplicationRound> {
  const { o, round, cluster } = env;
  const tag = `round ${round}/${o.rounds}`;
  o.progress(`${tag}: starting a NameNode and ${o.datanodes} DataNodes`);
  await cluster.start();
  const admin = new DfsClient({
    namenode: cluster.namenodeAddress,
    role: Role.ADMIN,
    clientName: `dfs-bench-replication-${process.pid}`,
    requestTimeoutMs: 120_000,
  });
  try {
    await waitUntil(
      async () =>
        (await admin.datanodeReport()).filter((n) => n.state === DatanodeReportState.LIVE).length ===
        o.datanodes,
      30_000,
      'every DataNode to register',
    );
    await admin.waitSafeModeOff(30_000, 100);
    const files = Array.from({ length: o.files }, (_, i) => `/bench/f${i}`);
    o.progress(`${tag}: loading ${o.files} x ${formatBytes(o.sizeBytes)} at replication ${o.replication}`);
    await admin.mkdir('/bench', { parents: true });
    await runLimited(files, LOAD_CONCURRENCY, (f) =>
      admin.put(env.source, f, { replication: o.replication, blockBytes: o.blockBytes, overwrite: true }),
    );
    // Settled: every block healthy and nothing queued or pending, so no copy scheduled during
    // the load (a file completes before all its replicas are reported) runs into the round.
    await waitUntil(
      async () => {
        const [health, stats] = await Promise.all([fileHealth(admin, files), admin.replicationStats()]);
        return allHealthy(health) && stats.underReplicated === 0 && stats.pendingCopies === 0;
      },
      120_000,
      'every block to reach its replication after the load',
    );

    const health = await fileHealth(admin, files);
    const byPort = new Map(cluster.datanodes.map((d, i) => [d.port, i]));
    const indexOf = (n: DatanodeInfo): number | undefined => byPort.get(n.port);
    const load = replicaLoad(health, indexOf, o.datanodes);
    const victim = load.reduce((best, l, i) => (l.bytes > load[best]!.bytes ? i : best), 0);
    const lost = lostBlocks(health, indexOf, victim, o.mode, o.datanodes);
    // The baseline reads the DataNodes' own files; a replica the NameNode counts but that is
    // not (yet) finalized on disk cannot be a baseline source (counted, for the report).
    let notOnDisk = 0;
    for (const b of lost) {
      const onDisk = b.sources.filter((i) => fs.existsSync(replicaDataFile(cluster, i, b.blockId)));
      notOnDisk += b.sources.length - onDisk.length;
      b.sources = onDisk;
    }
    const lostBytes = lost.reduce((a, b) => a + b.bytes, 0);
    const nodeId = health.flatMap((h) => h.replicas).find((r) => indexOf(r.node) === victim)!.node.nodeId;
    o.progress(`${tag}: DataNode ${victim} holds ${lost.length} blocks (${formatBytes(lostBytes)})`);

    const plan = planCopies(lost, o.datanodes);
    const runBaseline = async (): Promise<ReplicationRound['baseline']> => {
      o.progress(`${tag}: baseline copy of the same blocks`);
      const b = await runBaselineCopies(env, plan);
      o.progress(`${tag}:   baseline ${b.mibPerSec.toFixed(1)} MiB/s`);
      return b;
    };
    const runDfs = async (): Promise<ReplicationRound['dfs']> => {
      o.progress(`${tag}: ${o.mode === 'kill' ? 'SIGKILL' : 'decommissioning'} DataNode ${victim}`);
      const d = await loseNode(env, admin, files, victim, nodeId, lostBytes);
      o.progress(
        `${tag}:   detected in ${(d.detectionMs / 1000).toFixed(2)} s, repaired in ${(d.repairMs / 1000).toFixed(2)} s: ${d.mibPerSec.toFixed(1)} MiB/s`,
      );
      return d;
    };
    // Baseline first in odd rounds, DFS first in even ones (the survivors' replica files,
    // the baseline's sources, stay where they are through DFS's repair).
    const baseline = round % 2 === 1 ? await runBaseline() : null;
    const dfs = await runDfs();
    const baselineFigures = baseline ?? (await runBaseline());
    o.progress(`${tag}: reading every file back`);
    const verified = await verifyFiles(admin, files, o.sizeBytes, env.sourceSha);
    return {
      round,
      victim: { index: victim, nodeId, blocks: lost.length, bytes: lostBytes },
      replicasNotFinalized: notOnDisk,
      baseline: baselineFigures,
      dfs,
      verified,
    };
  } finally {
    admin.close();
  }
}

/** The baseline: the planned copies between hops, from the DataNodes' own replica files. */
async function runBaselineCopies(env: RoundEnv, plan: PlannedCopy[]): Promise<ReplicationRound['baseline']> {
  const { o, cluster, hops, hopDirs } = env;
  const fileOf = (c: PlannedCopy): string => `blk_${c.blockId}`;
  for (const c of plan) {
    fs.linkSync(replicaDataFile(cluster, c.from, c.blockId), path.join(hopDirs[c.from]!, fileOf(c)));
  }
  await settleMachine(o.settleMs);
  const cpu = startCpu(hops.pids, null);
  const t0 = performance.now();
  await runPerSource(plan, transfersPerNode(o), (c) => hops.copy(fileOf(c), c.from, c.to));
  const elapsedMs = performance.now() - t0;
  const cpuWindow = cpu.stop(elapsedMs);
  for (const dir of hopDirs)
    for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f), { force: true });
  const bytes = plan.reduce((a, c) => a + c.bytes, 0);
  return { bytes, copies: plan.length, elapsedMs, mibPerSec: mibPerSec(bytes, elapsedMs), cpu: cpuWindow };
}

function replicaDataFile(cluster: LocalCluster, index: number, blockId: number): string {
  return path.join(new Volume(cluster.dataDir(index)).replicaDir('finalized', blockId), 'data');
}

/** Kills or decommissions the victim and times detection and repair. */
async function loseNode(
  env: RoundEnv,
  admin: DfsClient,
  files: string[],
  victim: number,
  nodeId: string,
  bytes: number,
): Promise<ReplicationRound['dfs']> {
  const { o, cluster } = env;
  const pids = cluster.datanodes.map((d) => d.pid ?? null);
  const victimPort = cluster.datanodes[victim]!.port;
  const stateOfVictim = async (): Promise<number | undefined> =>
    (await admin.datanodeReport()).find((n) => n.port === victimPort)?.state;
  await settleMachine(o.settleMs);
  const t0Wall = Date.now();
  const t0 = performance.now();
  if (o.mode === 'kill') await cluster.datanodes[victim]!.kill();
  else await admin.decommission(nodeId);
  let detectedAt = t0;
  if (o.mode === 'kill') {
    await waitUntil(
      async () => (await stateOfVictim()) === DatanodeReportState.DEAD,
      o.deadTimeoutMs + 30_000,
      `DataNode ${victim} to be declared dead`,
    );
    // The poll sees the death up to POLL_MS late (and the copies may have started by then):
    // the repair is timed from the NameNode's own log line when there is one.
    const declared = cluster.namenode.logs.find(
      (r) => r.msg === 'datanode declared dead' && r.node === nodeId && logTimeMs(r) >= t0Wall,
    );
    detectedAt = Math.min(
      performance.now(),
      declared === undefined ? Infinity : t0 + (logTimeMs(declared) - t0Wall),
    );
  }
  const cpu = startCpu(
    pids.map((p, i) => (i === victim && o.mode === 'kill' ? null : p)),
    cluster.namenode.pid ?? null,
  );
  let restoredAt: number | null = null;
  await waitUntil(
    async () => {
      const [stats, health, state] = await Promise.all([
        admin.replicationStats(),
        fileHealth(admin, files),
        stateOfVictim(),
      ]);
      if (stats.missing > 0 || stats.corrupt > 0)
        throw new Error(
          `data lost while re-replicating: ${stats.missing} missing, ${stats.corrupt} corrupt blocks`,
        );
      const healthy = allHealthy(health);
      if (healthy) restoredAt ??= performance.now();
      const drained = o.mode === 'kill' || state === DatanodeReportState.DECOMMISSIONED;
      return healthy && drained && stats.underReplicated === 0 && stats.pendingCopies === 0;
    },
    30 * 60_000,
    'full replication to be restored',
  );
  const doneAt = performance.now();
  const repairMs = doneAt - detectedAt;
  await copyLogsCaughtUp(cluster, t0Wall, LOGS_CATCH_UP_MS);
  return {
    bytes,
    detectionMs: detectedAt - t0,
    repairMs,
    restoredMs: (restoredAt ?? doneAt) - detectedAt,
    mibPerSec: mibPerSec(bytes, repairMs),
    timeline: repairTimeline(cluster, t0Wall, t0Wall + (detectedAt - t0)),
    cpu: cpu.stop(repairMs),
  };
}

/** Wall-clock time of a daemon's log record. */
function logTimeMs(rec: Record<string, unknown>): number {
  return typeof rec.time === 'string' ? Date.parse(rec.time) : Number(rec.time);
}

/** How long the timeline waits for the DataNodes' copy log lines (after the timing ended). */
const LOGS_CATCH_UP_MS = 3000;

/**
 * Waits (at most `boundMs`) until the DataNodes logged the end of as many copies as the
 * NameNode logged scheduled since `t0WallMs`: a DataNode's "replica copied" line can reach us
 * after the NameNode counted the copy (pino writes asynchronously), and the timeline counts
 * the lines. A copy that ended without a line (abandoned) only makes this wait the bound.
 */
async function copyLogsCaughtUp(cluster: LocalCluster, t0WallMs: number, boundMs: number): Promise<void> {
  const since = (r: Record<string, unknown>): boolean => logTimeMs(r) >= t0WallMs;
  const deadline = Date.now() + boundMs;
  for (;;) {
    const scheduled = cluster.namenode.logs.filter((r) => r.msg === 'replica copy scheduled' && since(r));
    let ended = 0;
    for (const d of cluster.datanodes)
      ended += d.logs.filter(
        (r) => (r.msg === 'replica copied' || r.msg === 'replica copy failed') && since(r),
      ).length;
    if (ended >= scheduled.length || Date.now() >= deadline) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Reads the daemons' log lines about copies scheduled and made since the node was lost (`t0WallMs`). */
function repairTimeline(cluster: LocalCluster, t0WallMs: number, detectedWallMs: number): RepairTimeline {
  const at = logTimeMs;
  const scheduled = cluster.namenode.logs
    .filter((r) => r.msg === 'replica copy scheduled' && at(r) >= t0WallMs)
    .map(at);
  const copies: Array<{ start: number; end: number }> = [];
  let failures = 0;
  for (const d of cluster.datanodes) {
    for (const r of d.logs) {
      if (at(r) < t0WallMs) continue;
      if (r.msg === 'replica copy failed') failures++;
      if (r.msg !== 'replica copied' || typeof r.ms !== 'number') continue;
      copies.push({ start: at(r) - r.ms, end: at(r) });
    }
  }
  const rel = (t: number | undefined): number | null => (t === undefined ? null : t - detectedWallMs);
  const durations = copies.map((c) => c.end - c.start);
  const edges = copies
    .flatMap((c) => [
      { t: c.start, d: 1 },
      { t: c.end, d: -1 },
    ])
    .sort((a, b) => a.t - b.t || a.d - b.d);
  let running = 0;
  let concurrentMax = 0;
  for (const e of edges) concurrentMax = Math.max(concurrentMax, (running += e.d));
  return {
    firstScheduledMs: rel(scheduled.length > 0 ? Math.min(...scheduled) : undefined),
    firstCopyStartMs: rel(copies.length > 0 ? Math.min(...copies.map((c) => c.start)) : undefined),
    lastCopyDoneMs: rel(copies.length > 0 ? Math.max(...copies.map((c) => c.end)) : undefined),
    copies: copies.length,
    copyFailures: failures,
    copyMsMean: durations.length > 0 ? durations.reduce((a, b) => a + b, 0) / durations.length : null,
    copyMsMax: durations.length > 0 ? Math.max(...durations) : null,
    concurrentMax,
  };
}

function startCpu(
  serverPids: Array<number | null>,
  namenodePid: number | null,
): { stop: (elapsedMs: number) => CpuWindow } {
  const servers = serverPids.map((pid) => new CpuSampler(pid));
  const namenode = new CpuSampler(namenodePid);
  const machine = new MachineCpuSampler();
  for (const s of [...servers, namenode]) s.start();
  machine.start();
  return {
    stop: (elapsedMs) => ({
      servers: servers.map((s) => cpuPercent(s.stop().processUs, elapsedMs)),
      namenode: namenodePid === null ? null : cpuPercent(namenode.stop().processUs, elapsedMs),
      machine: cpuPercent(machine.stop(), elapsedMs),
    }),
  };
}

async function fileHealth(client: DfsClient, files: readonly string[]): Promise<BlockHealth[]> {
  return (await Promise.all(files.map((f) => client.blockHealth(f)))).flatMap((h) => h.blocks);
}

function allHealthy(health: readonly BlockHealth[]): boolean {
  return health.every((h) => h.health === BlockHealthState.HEALTHY);
}

/** Every file must read back whole and equal to the source. */
async function verifyFiles(
  client: DfsClient,
  files: readonly string[],
  sizeBytes: number,
  sourceSha: string,
): Promise<{ files: number; bytes: number }> {
  let bytes = 0;
  for (const f of files) {
    let n = 0;
    const sha = await sha256(client.open(f), (b) => (n += b.length));
    if (n !== sizeBytes || sha !== sourceSha)
      throw new Error(
        `${f} read back ${n} bytes (expected ${sizeBytes})${sha !== sourceSha ? ' that differ from the source' : ''}`,
      );
    bytes += n;
  }
  return { files: files.length, bytes };
}

async function sha256(stream: AsyncIterable<unknown>, onChunk?: (b: Buffer) => void): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    h.update(b);
    onChunk?.(b);
  }
  return h.digest('hex');
}

async function runLimited<T>(
  items: readonly T[],
  limit: number,
  run: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await run(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function waitUntil(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const started = performance.now();
    if (await cond()) return;
    if (performance.now() > deadline)
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, Math.max(0, POLL_MS - (performance.now() - started))));
  }
}

// ---- report ------------------------------------------------------------------------------

function replicationNotes(r: ReplicationReport): string[] {
  const s = r.settings;
  const notes: string[] = [];
  const sources = s.mode === 'kill' ? s.datanodes - 1 : s.datanodes;
  notes.push(
    `parallelism: at most ${s.transfersPerNode} copies at once per source node (the NameNode's transfersPerNodeMax), ${sources} possible sources: ` +
      `up to ${s.transfersPerNode * sources} copies at once, in both systems; the baseline assigns each block to the least-loaded holder and target.`,
  );
  notes.push(
    'a DFS copy streams the replica with its stored checksums through the WRITE_BLOCK pipeline and the target verifies them; a baseline copy streams the ' +
      'raw bytes; both targets fdatasync every copy before acknowledging it.',
  );
  if (s.mode === 'kill') {
    notes.push(
      `detection (kill to declared dead) depends on the dead-node timeout (${s.deadTimeoutMs} ms here, ${NAMENODE_DEFAULTS.deadNodeTimeoutMs} ms by default) ` +
        'and is reported apart from the repair; the MiB/s figure is over the repair time only.',
    );
  }
  for (const round of r.rounds) {
    const t = round.dfs.timeline;
    if (t.firstScheduledMs === null || t.lastCopyDoneMs === null || t.firstCopyStartMs === null) continue;
    const copying = t.lastCopyDoneMs - t.firstCopyStartMs;
    notes.push(
      `round ${round.round}: of the ${fmtS(round.dfs.repairMs)} s repair, ${fmtS(t.firstCopyStartMs)} s passed before the first copy started ` +
        `(first REPLICATE scheduled after ${fmtS(t.firstScheduledMs)} s; the NameNode tells each source to heartbeat at once, and heartbeats every ${s.heartbeatIntervalMs} ms besides), ` +
        `${fmtS(copying)} s copying (${t.copies} copies, ${t.concurrentMax} at most at once, ${fmtS(t.copyMsMean!)} s each on average, ${fmtS(t.copyMsMax!)} s at most), ` +
        `and ${fmtS(round.dfs.repairMs - t.lastCopyDoneMs)} s until the NameNode settled; every block was fully replicated after ${fmtS(round.dfs.restoredMs)} s.`,
    );
    if (t.copyFailures > 0)
      notes.push(`round ${round.round}: ${t.copyFailures} copies failed and were retried.`);
    if (round.replicasNotFinalized > 0) {
      notes.push(
        `round ${round.round}: ${round.replicasNotFinalized} replica(s) the NameNode counted live were not in finalized/ on their DataNode when the round was planned (not used as baseline sources).`,
      );
    }
  }
  const cores = r.machine.cpuCount;
  const machineMax = Math.max(
    ...r.rounds.flatMap((x) => [x.baseline.cpu.machine ?? 0, x.dfs.cpu.machine ?? 0]),
  );
  if (machineMax >= cores * 100 * 0.85)
    notes.push(
      `the machine was up to ${machineMax.toFixed(0)}% busy (of ${cores * 100}%): CPU-bound overall (other processes included).`,
    );
  const files = r.rounds.reduce((a, x) => a + x.verified.files, 0);
  notes.push(
    `every file read back after each round with the source's length and SHA-256 (${files} reads); no block was missing or corrupt.`,
  );
  return notes;
}

function roundRatio(r: ReplicationRound): number {
  return r.baseline.mibPerSec > 0 ? r.dfs.mibPerSec / r.baseline.mibPerSec : 0;
}

function fmtS(ms: number): string {
  return (ms / 1000).toFixed(2);
}

export function printReplicationReport(r: ReplicationReport): void {
  const s = r.settings;
  const out: string[] = [];
  out.push(
    `dfs-bench replication (${s.mode}): ${s.files} x ${formatBytes(s.sizeBytes)} (${formatBytes(s.files * s.sizeBytes)}), replication ${s.replication}, ` +
      `block ${formatBytes(s.blockBytes)}, ${s.datanodes} DataNodes, ${s.rounds} round(s)`,
  );
  out.push(
    `cluster: dead-node timeout ${s.deadTimeoutMs} ms (liveness checked every ${s.heartbeatRecheckMs} ms), heartbeats every ${s.heartbeatIntervalMs} ms, ` +
      `replication monitor every ${s.replicationIntervalMs} ms, ` +
      `at most ${s.transfersPerNode} copies per source node`,
  );
  out.push(machineHeader(r.machine));
  out.push('');
  const rows = r.rounds.flatMap((x) => {
    const ratio = x.baseline.mibPerSec > 0 ? roundRatio(x) * 100 : null;
    const cells = (
      system: string,
      detect: string,
      ms: number,
      rate: number,
      of: string,
      cpu: CpuWindow,
    ): string[] => [
      String(x.round),
      system,
      `dn${x.victim.index}`,
      String(x.victim.blocks),
      formatBytes(x.victim.bytes),
      detect,
      fmtS(ms),
      rate.toFixed(1),
      of,
      cpu.servers.map((c) => formatPercent(c)).join(' '),
      formatPercent(cpu.namenode),
      formatPercent(cpu.machine),
    ];
    return [
      cells('baseline', '-', x.baseline.elapsedMs, x.baseline.mibPerSec, '-', x.baseline.cpu),
      cells('dfs', fmtS(x.dfs.detectionMs), x.dfs.repairMs, x.dfs.mibPerSec, formatPercent(ratio), x.dfs.cpu),
    ];
  });
  out.push(
    renderTable(
      [
        'round',
        'system',
        'victim',
        'blocks',
        'lost',
        'detect s',
        'copy/repair s',
        'MiB/s',
        'of baseline',
        'DataNode / hop CPU',
        'NameNode CPU',
        'machine CPU',
      ],
      rows,
    ),
  );
  const m = r.summary;
  out.push('');
  out.push(
    `${versusBaselineLine(m, 'DFS re-replication', r.rounds.map(roundRatio))}; ${s.mode === 'kill' ? `detection ${fmtS(m.detectionMsMean)} s, ` : ''}repair ${fmtS(m.repairMsMean)} s (means)`,
  );
  writeReport(out, r.notes);
}

export function emitReplicationReport(r: ReplicationReport, json: boolean): void {
  if (json) writeJson(r);
  else printReplicationReport(r);
}
