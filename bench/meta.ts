/**
 * `dfs-bench meta`: NameNode metadata throughput, in the manner of HDFS's
 * NNThroughputBenchmark but against a real `dfsd namenode` process over loopback. The
 * phases and the client connections that run them are in meta-workload.ts, the NameNode
 * and the measuring in meta-rig.ts; this file runs the phases in order and reports them.
 * With `--sim-datanodes N` the run is the simulated-DataNode mode instead (meta-sim.ts).
 *
 * What limits the figures is measured, not guessed: the NameNode's CPU time per phase
 * (process, and its main thread alone, from /proc), the CPU time of the client processes,
 * and the count of edit-log transactions (serverInfo.lastTxid before and after). With
 * `--namenode-cpu-prof DIR` the NameNode profiles itself (V8 CPU profile, as `node
 * --cpu-prof` would write; see report.ts `cpuProfileNodeOptions`), and the profile is cut
 * into the phases' time windows (same monotonic clock) to name each phase's hot spots.
 *
 * Longer than our usual 400 lines: one suite read top to bottom as its phases, each phase
 * a few lines around the shared workload driver (meta-workload.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../src/local/daemon-process.js';
import {
  cpuPercent,
  formatOpsPerSec,
  formatPercent,
  formatUs,
  loadCpuProfile,
  machineHeader,
  mergeHistograms,
  profileHotSpots,
  renderTable,
  summarize,
  writeJson,
  type HotSpot,
  type LatencySummary,
  type MachineInfo,
} from './report.js';
import { MetaRig, type Measured, type RigNamenodeInfo } from './meta-rig.js';
import {
  PHASES,
  RPCS_PER_OP,
  parentCount,
  parentDir,
  type GroupResult,
  type PhaseName,
  type PhaseSpec,
} from './meta-workload.js';

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
    namenode: RigNamenodeInfo;
  };
  machine: MachineInfo;
  phases: PhaseResult[];
  profile: NamenodeProfile | null;
  notes: string[];
}

export async function runMeta(o: MetaOptions): Promise<MetaReport> {
  const startedAt = new Date().toISOString();
  return MetaRig.run(o, async (rig) => {
    const parents = parentCount(o.ops);
    const base = `/bench-meta-${Date.now().toString(36)}-${process.pid}`;
    // Untimed set-up: the base and the parent directories.
    await makeParents(rig, base, parents);
    await rig.connectClients();
    const phases: PhaseResult[] = [];
    for (const phase of PHASES) {
      o.progress(`${phase}: ${o.ops} ops`);
      phases.push(
        await runClientPhase(
          rig,
          { phase, ops: o.ops, base, parents, totalConnections: o.clients, depth: o.depth },
          o,
        ),
      );
    }
    // Untimed clean-up of what is left (the directories and their parents).
    await rig.admin.delete(base, { recursive: true });
    await rig.stopNamenode();
    const profile = rig.profDir === null ? null : attachProfile(rig.profDir, rig.pid, phases);
    return {
      suite: 'meta',
      startedAt,
      settings: {
        ops: o.ops,
        clients: o.clients,
        depth: o.depth,
        inflight: o.clients * o.depth,
        clientProcesses: o.clientProcesses,
        clientsRun: rig.clientsRun,
        parents,
        namenode: rig.namenodeInfo,
      },
      machine: rig.machine,
      phases,
      profile,
      notes: notesFor(phases, rig.machine, o, rig.pid),
    };
  });
}

export async function makeParents(rig: MetaRig, base: string, parents: number): Promise<void> {
  await rig.admin.mkdir(base, { parents: true });
  await Promise.all(Array.from({ length: parents }, (_, p) => rig.admin.mkdir(parentDir(base, p))));
}

/**
 * One client phase, measured; `during` runs other load meanwhile (started before the
 * clients, stopped after them, inside the measured window).
 */
export async function runClientPhase(
  rig: MetaRig,
  spec: PhaseSpec,
  o: { clientProcesses: number },
  during?: { start(): Promise<void>; stop(): Promise<void> },
): Promise<PhaseResult> {
  await rig.prepareClients(spec);
  const txid0 = await rig.lastTxid();
  const m = await rig.measure(async () => {
    await during?.start();
    const results = await rig.runClients();
    await during?.stop();
    return results;
  });
  const txns = (await rig.lastTxid()) - txid0;
  return { ...phaseResult(spec.phase, m, txns, o), windowUs: m.windowUs };
}

function phaseResult(
  phase: PhaseName,
  m: Measured<GroupResult[]>,
  txns: number,
  o: { clientProcesses: number },
): PhaseResult {
  const { value: results, elapsedMs, nnCpu, machineBusyUs } = m;
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
  const otherPercent =
    machinePercent === null ? null : Math.max(0, machinePercent - (nnPercent ?? 0) - clientCpuPercent);
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
function limitOf(
  phase: PhaseName,
  nnMain: number | null,
  clientPct: number,
  machinePct: number | null,
  o: { clientProcesses: number },
): string {
  const cores = os.cpus().length;
  if (nnMain !== null && nnMain >= 90) return 'namenode-cpu';
  if (clientPct >= 90 * Math.min(o.clientProcesses, cores)) return 'client-cpu';
  if (machinePct !== null && machinePct >= 90 * cores) return 'machine-cpu';
  return phase === 'stat' || phase === 'list' ? 'latency' : 'latency/fsync';
}

export interface NamenodeProfile {
  file: string;
  busyMs: number;
  hotSpots: HotSpot[];
}

/** Reads the NameNode's CPU profile and names the hot spots of each phase's window. */
export function attachProfile(
  dir: string,
  pid: number | null,
  phases: Array<{ windowUs?: { fromUs: number; toUs: number }; hotSpots?: HotSpot[] }>,
): NamenodeProfile | null {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile') && (pid === null || f === `namenode.${pid}.cpuprofile`));
  const newest = files
    .map((f) => path.join(dir, f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
  if (newest === undefined) return null;
  const profile = loadCpuProfile(newest);
  for (const p of phases) {
    if (p.windowUs === undefined) continue;
    p.hotSpots = profileHotSpots(profile, {
      fromUs: p.windowUs.fromUs,
      toUs: p.windowUs.toUs,
      top: 12,
      repoRoot: REPO_ROOT,
    }).hotSpots;
  }
  const first = phases[0]?.windowUs;
  const last = phases[phases.length - 1]?.windowUs;
  const all = profileHotSpots(profile, {
    fromUs: first?.fromUs,
    toUs: last?.toUs,
    top: 20,
    repoRoot: REPO_ROOT,
  });
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
    notes.push(
      'NameNode CPU not sampled (external NameNode without --namenode-pid); if it runs on this machine, its CPU is inside "other CPU".',
    );
  } else {
    notes.push(
      'NN CPU = CPU time of the dfsd namenode process per wall second (100% = one core); "NN main" is its event-loop thread alone. client CPU = all bench client processes together. other CPU = the rest of the machine (other programs sharing the cores).',
    );
  }
  const capacity = phases
    .filter(
      (p) => p.namenodeMainUsPerOp !== null && p.namenodeMainUsPerOp > 0 && TARGETS[p.phase] !== undefined,
    )
    .map((p) => `${p.phase} ~${formatOpsPerSec(1e6 / p.namenodeMainUsPerOp!)}/s`);
  if (capacity.length > 0) {
    notes.push(
      `NN us/op = NameNode event-loop CPU per operation. If the NameNode had a core to itself and the clients ran elsewhere, that would allow at most: ${capacity.join(', ')} (an estimate: it assumes cost per op stays flat).`,
    );
  }
  const short = phases.filter((p) => p.elapsedMs < 500).map((p) => p.phase);
  if (short.length > 0) {
    notes.push(
      `${short.join(', ')} lasted under 0.5 s: such short phases include JIT warm-up and timer granularity (CPU% is sampled in 10 ms ticks); use more --ops for figures to compare.`,
    );
  }
  const fsyncUs = m.disk.fdatasyncUsP50;
  for (const p of phases) {
    if (p.errors > 0) notes.push(`${p.phase}: ${p.errors} operations failed; first: ${p.firstError}`);
  }
  const cpuBound = phases.filter((p) => p.limit === 'namenode-cpu').map((p) => p.phase);
  if (cpuBound.length > 0) {
    notes.push(
      `The NameNode's event loop is at ~100% of one core in: ${cpuBound.join(', ')}. Those phases are CPU-bound in the NameNode (single-threaded): more clients or depth will not raise them, a cheaper per-request path will.`,
    );
  }
  const shared = phases
    .filter((p) => p.limit === 'machine-cpu' || p.limit === 'client-cpu')
    .map((p) => p.phase);
  if (shared.length > 0) {
    notes.push(
      `In ${shared.join(', ')} the cores were all busy (NameNode, bench clients${phases.some((p) => (p.otherCpuPercent ?? 0) >= 10) ? ' and other programs' : ''}), so the figure is a floor for a NameNode with a core of its own.`,
    );
  }
  const noisy = phases.filter((p) => (p.otherCpuPercent ?? 0) >= 20);
  if (noisy.length > 0) {
    notes.push(
      `Other programs used CPU during ${noisy.map((p) => `${p.phase} (${Math.round(p.otherCpuPercent!)}%)`).join(', ')}: those figures are lower than this machine can do when quiet.`,
    );
  }
  if (fsyncUs !== null) {
    const mut = phases.filter((p) => p.phase !== 'stat' && p.phase !== 'list');
    const best = mut.reduce((b, p) => Math.max(b, p.rpcsPerSec), 0);
    notes.push(
      `One fdatasync takes ~${formatUs(fsyncUs)} us here, so one-record-per-fsync logging would cap durable mutations near ${formatOpsPerSec(1e6 / Math.max(1, fsyncUs))}/s; ${formatOpsPerSec(best)} mutations/s means group commit put ~${Math.max(1, Math.round(best / (1e6 / Math.max(1, fsyncUs))))} or more records in each fsync.`,
    );
  }
  if (o.depth > 1024)
    notes.push('a depth above the NameNode inflightMax (1024 by default) only queues in the kernel.');
  return notes;
}

// ---- output --------------------------------------------------------------------------

export function printMetaReport(r: MetaReport): void {
  const s = r.settings;
  const out: string[] = [];
  out.push(
    `dfs-bench meta: ${formatOpsPerSec(s.ops)} ops per phase, ${s.clients} connections x depth ${s.depth} = ${s.inflight} requests in flight`,
  );
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
      [
        'phase',
        'ops',
        'sec',
        'ops/s',
        'RPCs/s',
        'p50 us',
        'p99 us',
        'p999 us',
        'max us',
        'NN CPU',
        'NN main',
        'NN us/op',
        'client CPU',
        'other CPU',
        'limit',
        'target',
      ],
      rows,
    ),
  );
  const errs = r.phases.filter((p) => p.errors > 0);
  if (errs.length > 0) out.push(`\nERRORS: ${errs.map((p) => `${p.phase} ${p.errors}`).join(', ')}`);
  out.push('', ...notesAndProfileLines(r.notes, r.profile, r.phases));
  process.stdout.write(`${out.join('\n')}\n`);
}

/** The end of a meta report: the notes, then the NameNode's hot spots overall and per phase. */
export function notesAndProfileLines(
  notes: string[],
  profile: NamenodeProfile | null,
  phases: Array<{ phase: string; hotSpots?: HotSpot[] }>,
): string[] {
  const out = ['notes:', ...notes.map((n) => `- ${n}`)];
  if (profile === null) return out;
  out.push('');
  out.push(
    `NameNode CPU profile: ${profile.file} (${formatOpsPerSec(profile.busyMs)} ms busy during the phases)`,
  );
  out.push(hotSpotTable(profile.hotSpots));
  for (const p of phases) {
    if (p.hotSpots === undefined) continue;
    out.push('');
    out.push(`hot spots during ${p.phase}:`);
    out.push(hotSpotTable(p.hotSpots.slice(0, 8)));
  }
  return out;
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
