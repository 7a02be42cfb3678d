/**
 * Shared reporting for every `dfs-bench` suite: what machine the numbers came from, latency
 * histograms, CPU sampling of a daemon process, a CPU-profile summary, number formatting,
 * a plain-text table, and the `--json` output.
 *
 * Why these pieces:
 * - A figure without its machine is not comparable, so every report starts with the Node
 *   version, the CPU model and count, and the disk of the directory the daemons write to,
 *   including how long one small append + fdatasync takes there: that is the floor under
 *   every durable metadata operation and every replica write.
 * - Latencies go into hdr-histograms (microseconds, 1 us .. 60 s, 3 significant digits).
 *   Histograms from several worker processes are merged by sending them in the library's
 *   compressed encoding, so percentiles are exact over all clients, not averages of
 *   per-worker percentiles.
 * - "What limits throughput" is answered with data: CPU seconds a daemon used during a
 *   phase (utime + stime from /proc/<pid>/stat), as a percentage of one core. A daemon near
 *   100% of one core is CPU-bound on its (single-threaded) event loop.
 *
 * Nothing here knows any suite; suites build their own rows and JSON documents.
 *
 * Longer than our usual 400 lines: every suite's reporting in one place (machine, latency,
 * CPU, profiles, formatting), so the suites print alike; each part is small and separate.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import hdr from 'hdr-histogram-js';

// ---- machine -------------------------------------------------------------------------

export interface DiskInfo {
  /** The directory that was examined (where the daemons keep their data). */
  path: string;
  /** Device or filesystem source from `df`, when available. */
  device: string | null;
  fsType: string | null;
  sizeBytes: number | null;
  freeBytes: number | null;
  /** Median latency of a 4 KiB append followed by fdatasync, in microseconds. */
  fdatasyncUsP50: number | null;
  fdatasyncUsP99: number | null;
}

export interface MachineInfo {
  node: string;
  platform: string;
  arch: string;
  kernel: string;
  cpuModel: string;
  cpuCount: number;
  memoryBytes: number;
  disk: DiskInfo;
}

/** Statfs magic numbers of common filesystems, for when `df` is not available. */
const FS_MAGIC: Record<number, string> = {
  0xef53: 'ext4',
  0x58465342: 'xfs',
  0x01021994: 'tmpfs',
  0x9123683e: 'btrfs',
  0x794c7630: 'overlay',
  0x2fc12fc1: 'zfs',
};

export function machineInfo(dir: string, options: { fdatasyncProbe?: boolean } = {}): MachineInfo {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    kernel: os.release(),
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpuCount: cpus.length,
    memoryBytes: os.totalmem(),
    disk: diskInfo(dir, options.fdatasyncProbe ?? true),
  };
}

export function diskInfo(dir: string, fdatasyncProbe = true): DiskInfo {
  const info: DiskInfo = {
    path: dir,
    device: null,
    fsType: null,
    sizeBytes: null,
    freeBytes: null,
    fdatasyncUsP50: null,
    fdatasyncUsP99: null,
  };
  try {
    const s = fs.statfsSync(dir);
    info.sizeBytes = s.blocks * s.bsize;
    info.freeBytes = s.bavail * s.bsize;
    info.fsType = FS_MAGIC[s.type] ?? `0x${s.type.toString(16)}`;
  } catch {
    // statfs is missing on old platforms; df below may still answer.
  }
  const df = spawnSync('df', ['-PT', dir], { encoding: 'utf8' });
  const line = df.status === 0 ? df.stdout.trim().split('\n')[1] : undefined;
  if (line !== undefined) {
    const cols = line.split(/\s+/);
    info.device = cols[0] ?? null;
    info.fsType = cols[1] ?? info.fsType;
  }
  if (fdatasyncProbe) Object.assign(info, probeFdatasync(dir));
  return info;
}

/** Appends 4 KiB and fdatasyncs, `rounds` times, in a scratch file under `dir`. */
export function probeFdatasync(
  dir: string,
  rounds = 200,
): { fdatasyncUsP50: number; fdatasyncUsP99: number } {
  const file = path.join(dir, `.fdatasync-probe-${process.pid}`);
  const fd = fs.openSync(file, 'w');
  const h = newLatencyHistogram();
  try {
    const block = Buffer.alloc(4096, 0x5a);
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      fs.writeSync(fd, block);
      fs.fdatasyncSync(fd);
      recordUs(h, (performance.now() - t0) * 1000);
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
  return { fdatasyncUsP50: h.getValueAtPercentile(50), fdatasyncUsP99: h.getValueAtPercentile(99) };
}

export function machineHeader(m: MachineInfo): string {
  const d = m.disk;
  const disk = [
    d.path,
    d.device !== null ? `on ${d.device}` : null,
    d.fsType !== null ? `(${d.fsType})` : null,
    d.freeBytes !== null && d.sizeBytes !== null
      ? `${formatBytes(d.freeBytes)} free of ${formatBytes(d.sizeBytes)}`
      : null,
    d.fdatasyncUsP50 !== null
      ? `4 KiB append+fdatasync p50 ${formatUs(d.fdatasyncUsP50)} us, p99 ${formatUs(d.fdatasyncUsP99 ?? 0)} us`
      : null,
  ]
    .filter((x) => x !== null)
    .join(' ');
  return [
    `machine: ${m.cpuCount} x ${m.cpuModel}, ${formatBytes(m.memoryBytes)} RAM, ${m.platform}/${m.arch} ${m.kernel}`,
    `node:    ${m.node}`,
    `disk:    ${disk}`,
  ].join('\n');
}

// ---- latency -------------------------------------------------------------------------

export type Histogram = ReturnType<typeof hdr.build>;

export interface LatencySummary {
  count: number;
  meanUs: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

/** Microseconds, 1 us .. 60 s at 3 significant digits (grows past 60 s rather than throw). */
export function newLatencyHistogram(): Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60e6,
    numberOfSignificantValueDigits: 3,
  });
}

/** Records a latency, rounded to whole microseconds and at least 1. */
export function recordUs(h: Histogram, us: number): void {
  h.recordValue(us < 1 ? 1 : Math.round(us));
}

export function summarize(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, meanUs: 0, p50Us: 0, p99Us: 0, p999Us: 0, maxUs: 0 };
  return {
    count: h.totalCount,
    meanUs: Math.round(h.mean),
    p50Us: h.getValueAtPercentile(50),
    p99Us: h.getValueAtPercentile(99),
    p999Us: h.getValueAtPercentile(99.9),
    maxUs: h.maxValue,
  };
}

/** For sending a histogram between processes. */
export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/** Adds every encoded histogram into a fresh one. */
export function mergeHistograms(encoded: readonly string[]): Histogram {
  const total = newLatencyHistogram();
  for (const e of encoded) {
    const h = hdr.decodeFromCompressedBase64(e);
    total.add(h);
    h.destroy();
  }
  return total;
}

// ---- process CPU ---------------------------------------------------------------------

/**
 * CPU time used so far (user + system), in microseconds, by a whole process or, with `tid`,
 * by one of its threads (tid = pid is the main thread: a Node daemon's event loop, apart
 * from the libuv pool, GC helpers and the compiler threads). Null if unreadable.
 */
export function processCpuUs(pid: number, tid?: number): number | null {
  const fields = procStatFields(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`);
  // utime and stime are fields 14 and 15.
  return fields === null ? null : ticksUs(fields, 14, 15);
}

/**
 * CPU time, in microseconds, of this process's children that have exited and been waited
 * for (cutime + cstime): a phase's short-lived client processes, read before and after.
 */
export function reapedChildrenCpuUs(): number | null {
  const fields = procStatFields('/proc/self/stat');
  // cutime and cstime are fields 16 and 17.
  return fields === null ? null : ticksUs(fields, 16, 17);
}

/** The fields of a /proc stat file from field 3 (state) on, or null if unreadable. */
function procStatFields(file: string): string[] | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  // Field 2 (comm) is in parentheses and may contain spaces: split after the last ')'.
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** Two clock-tick fields (numbered as in proc(5)) summed, in microseconds. */
function ticksUs(fields: string[], a: number, b: number): number | null {
  const x = Number(fields[a - 3]);
  const y = Number(fields[b - 3]);
  if (!Number.isFinite(x) || !Number.isFinite(y)) return null;
  return ((x + y) * 1e6) / clockTicksPerSecond();
}

let ticks: number | null = null;
function clockTicksPerSecond(): number {
  if (ticks === null) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = r.status === 0 ? Number(r.stdout.trim()) : NaN;
    ticks = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return ticks;
}

/** Percent of one core: 100 means one core fully busy for the whole interval. */
export function cpuPercent(cpuUs: number | null, elapsedMs: number): number | null {
  if (cpuUs === null) return null;
  return elapsedMs > 0 ? (cpuUs / (elapsedMs * 1000)) * 100 : 0;
}

export interface CpuSample {
  /** Whole process. */
  processUs: number | null;
  /** Main thread only (the event loop). */
  mainThreadUs: number | null;
}

/** CPU time of another process (by pid) between `start` and `stop`; nulls when unreadable. */
export class CpuSampler {
  private at: CpuSample = { processUs: null, mainThreadUs: null };

  constructor(readonly pid: number | null) {}

  private read(): CpuSample {
    if (this.pid === null) return { processUs: null, mainThreadUs: null };
    return { processUs: processCpuUs(this.pid), mainThreadUs: processCpuUs(this.pid, this.pid) };
  }

  start(): void {
    this.at = this.read();
  }

  stop(): CpuSample {
    const now = this.read();
    const diff = (a: number | null, b: number | null): number | null =>
      a === null || b === null ? null : b - a;
    return {
      processUs: diff(this.at.processUs, now.processUs),
      mainThreadUs: diff(this.at.mainThreadUs, now.mainThreadUs),
    };
  }
}

/** Busy and total CPU time of the whole machine so far (all cores), in microseconds. */
export function machineCpuUs(): { busyUs: number; totalUs: number } | null {
  let text: string;
  try {
    text = fs.readFileSync('/proc/stat', 'utf8');
  } catch {
    return null;
  }
  // "cpu  user nice system idle iowait irq softirq steal guest guest_nice" (guest is in user).
  const f = text.slice(0, text.indexOf('\n')).trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 8 || f.some((x) => !Number.isFinite(x))) return null;
  const total = f.reduce((a, b) => a + b, 0);
  const idle = f[3]! + f[4]!;
  const us = 1e6 / clockTicksPerSecond();
  return { busyUs: (total - idle) * us, totalUs: total * us };
}

/**
 * Busy CPU of the whole machine over an interval, as percent of one core (so up to 100 x
 * cores). Subtracting what the measured processes used gives the load of everything else:
 * on a shared machine, a figure taken while something else was busy is a floor.
 */
export class MachineCpuSampler {
  private at: { busyUs: number; totalUs: number } | null = null;

  start(): void {
    this.at = machineCpuUs();
  }

  /** Busy microseconds (all cores together) since `start`. */
  stop(): number | null {
    const now = machineCpuUs();
    if (this.at === null || now === null) return null;
    return now.busyUs - this.at.busyUs;
  }
}

/**
 * Lets the machine settle before a timed phase: `sync` (dirty pages and the file system's
 * pending frees, discards included, go out now rather than during the next phase), then
 * waits until the whole machine has been mostly idle (under 1/4 of one core) for half a
 * second, for at most `maxMs` (0: not at all, no sync either). Returns how long it took.
 */
export async function settleMachine(maxMs: number): Promise<number> {
  if (maxMs <= 0) return 0;
  const started = performance.now();
  spawnSync('sync');
  for (;;) {
    const sampler = new MachineCpuSampler();
    sampler.start();
    const windowStart = performance.now();
    await new Promise((r) => setTimeout(r, 500));
    const busyUs = sampler.stop();
    const elapsed = performance.now() - started;
    if (busyUs === null || busyUs < (performance.now() - windowStart) * 1000 * 0.25 || elapsed >= maxMs)
      return elapsed;
  }
}

// ---- CPU profiles --------------------------------------------------------------------

export interface HotSpot {
  functionName: string;
  /** file:line, relative to the repository when it is inside it. */
  location: string;
  selfMs: number;
  /** Share of the busy (non-idle) samples in the window. */
  selfPercent: number;
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

/** A V8 `.cpuprofile` (from `node --cpu-prof`), with each sample's time resolved. */
export interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
  /** Microseconds on the monotonic clock (the same clock as process.hrtime on Linux). */
  startTime: number;
  endTime: number;
}

export function loadCpuProfile(file: string): CpuProfile {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<CpuProfile>;
  if (!Array.isArray(p.nodes) || typeof p.startTime !== 'number')
    throw new Error(`${file} is not a V8 CPU profile`);
  return {
    nodes: p.nodes,
    samples: p.samples ?? [],
    timeDeltas: p.timeDeltas ?? [],
    startTime: p.startTime,
    endTime: p.endTime ?? p.startTime,
  };
}

/**
 * NODE_OPTIONS that make a Node process profile itself from start to exit and write
 * `<dir>/<name>.<pid>.cpuprofile` (a V8 profile, the format `--cpu-prof` writes).
 *
 * Node 20 refuses `--cpu-prof` in NODE_OPTIONS, and a daemon started through the local
 * cluster only takes environment, so the profiler is started by a tiny preload module
 * given inline (`--import` of a data: URL) that drives the in-process inspector: start at
 * load, stop and write synchronously in the 'exit' handler (inspector callbacks run
 * synchronously on the main thread, so this works inside 'exit'). Daemons exit through
 * process.exit after a clean SIGTERM stop, which fires 'exit'.
 */
export function cpuProfileNodeOptions(dir: string, name: string, samplingIntervalUs = 1000): string {
  const source = [
    "import inspector from 'node:inspector';",
    "import fs from 'node:fs';",
    'const s = new inspector.Session();',
    's.connect();',
    "s.post('Profiler.enable');",
    `s.post('Profiler.setSamplingInterval', { interval: ${Math.max(1, Math.round(samplingIntervalUs))} });`,
    "s.post('Profiler.start');",
    "process.on('exit', () => {",
    "  s.post('Profiler.stop', (err, r) => {",
    `    if (!err) fs.writeFileSync(${JSON.stringify(dir)} + '/' + ${JSON.stringify(name)} + '.' + process.pid + '.cpuprofile', JSON.stringify(r.profile));`,
    '  });',
    '});',
  ].join('\n');
  return `--import=data:text/javascript;base64,${Buffer.from(source).toString('base64')}`;
}

/** Monotonic microseconds, comparable with a CPU profile's sample times. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * Self time per function, highest first, over the samples taken in [fromUs, toUs)
 * (default: the whole profile). `(idle)` is left out of the percentages, so they describe
 * where the process spent the time it was busy.
 */
export function profileHotSpots(
  profile: CpuProfile,
  options: { fromUs?: number; toUs?: number; top?: number; repoRoot?: string } = {},
): { busyMs: number; idleMs: number; hotSpots: HotSpot[] } {
  const byId = new Map<number, CpuProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const fromUs = options.fromUs ?? -Infinity;
  const toUs = options.toUs ?? Infinity;
  const selfUs = new Map<number, number>();
  let t = profile.startTime;
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    t += timeDeltas[i] ?? 0;
    if (t < fromUs || t >= toUs) continue;
    // A sample stands for the interval until the next one.
    const dt = Math.max(0, timeDeltas[i + 1] ?? 0);
    const id = samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  }
  const byFunction = new Map<string, { functionName: string; location: string; us: number }>();
  let idleUs = 0;
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const f = byId.get(id)!.callFrame;
    if (f.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    let url = f.url.replace(/^file:\/\//, '');
    if (options.repoRoot !== undefined && url.startsWith(options.repoRoot))
      url = path.relative(options.repoRoot, url);
    const location = url === '' ? '' : `${url}:${f.lineNumber + 1}`;
    const key = `${f.functionName}@${location}`;
    const entry = byFunction.get(key) ?? { functionName: f.functionName || '(anonymous)', location, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
  }
  const hotSpots = [...byFunction.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, options.top ?? 15)
    .map((e) => ({
      functionName: e.functionName,
      location: e.location,
      selfMs: Math.round(e.us / 100) / 10,
      selfPercent: busyUs > 0 ? Math.round((e.us / busyUs) * 1000) / 10 : 0,
    }));
  return { busyMs: Math.round(busyUs / 1000), idleMs: Math.round(idleUs / 1000), hotSpots };
}

// ---- formatting ----------------------------------------------------------------------

/** 123456.7 -> "123,457". */
export function formatOpsPerSec(opsPerSec: number): string {
  return Math.round(opsPerSec).toLocaleString('en-US');
}

/** Megabytes (10^6 bytes) per second, one decimal. */
/** Throughput in MiB (2^20 bytes) per second. */
export function mibPerSec(bytes: number, elapsedMs: number): number {
  return elapsedMs > 0 ? bytes / (1024 * 1024) / (elapsedMs / 1000) : 0;
}

/** The MiB/s of timed phases taken together: all their bytes over all their time. */
export function aggregateMiBps(phases: readonly { bytes: number; elapsedMs: number }[]): number {
  return mibPerSec(
    phases.reduce((a, p) => a + p.bytes, 0),
    phases.reduce((a, p) => a + p.elapsedMs, 0),
  );
}

export function formatUs(us: number): string {
  return Math.round(us).toLocaleString('en-US');
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 10 && u > 0 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

export function formatPercent(p: number | null): string {
  return p === null ? 'n/a' : `${Math.round(p)}%`;
}

/** A plain-text table; numbers (and strings that look like them) are right-aligned. */
export function renderTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = header.map(
    (_, i) => rows.length > 0 && rows.every((r) => /^[-+~≥<>]?[\d,.]+%?[x]?$|^n\/a$|^-$/.test(r[i] ?? '')),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Rates of DFS against the raw baseline measured in the same run, and the target verdict. */
export interface VersusBaseline {
  baselineMiBps: number;
  dfsMiBps: number;
  ratio: number;
  target: number;
  met: boolean;
}

/**
 * "baseline X MiB/s, DFS Y MiB/s: Z% of the baseline (target T%: met)"; with the rounds'
 * own ratios (two or more), their range and median go before the verdict, which stays the
 * caller's (`met`).
 */
export function versusBaselineLine(
  m: VersusBaseline,
  dfsLabel = 'DFS',
  roundRatios: readonly number[] = [],
): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  const perRound =
    roundRatios.length < 2
      ? ''
      : ` over all rounds; per round ${pct(Math.min(...roundRatios))} to ${pct(Math.max(...roundRatios))}, median ${pct(median(roundRatios))}`;
  return (
    `baseline ${m.baselineMiBps.toFixed(1)} MiB/s, ${dfsLabel} ${m.dfsMiBps.toFixed(1)} MiB/s: ${pct(m.ratio)} of the baseline${perRound} ` +
    `(target ${(m.target * 100).toFixed(0)}%: ${m.met ? 'met' : 'NOT met'})`
  );
}

/** The middle value (the mean of the two middle ones for an even count); 0 for none. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? 0 : s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Ends a human report: a blank line, then the notes as a list; writes it all to stdout. */
export function writeReport(lines: readonly string[], notes: readonly string[]): void {
  const out = [...lines, '', 'notes:', ...notes.map((n) => `- ${n}`)];
  process.stdout.write(`${out.join('\n')}\n`);
}

/** The one JSON document a suite prints with --json (nothing else goes to stdout then). */
export function writeJson(doc: unknown): void {
  process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
}
