/**
 * What `dfs-bench upload` and `dfs-bench download` print (bench/data.ts measures): per
 * comparison (durable, page cache) a table of the phases, DFS against the baseline, the
 * CPU-seconds per GiB of each process kind, the yardstick's figure when it ran, and notes
 * that say what bounded the run. `--json` prints the same report as one document.
 */
import type { Comparison, CpuPerGiB, DataReport } from './data.js';
import {
  formatBytes,
  formatPercent,
  formatUs,
  machineHeader,
  renderTable,
  versusBaselineLine,
  writeJson,
  writeReport,
} from './report.js';

const LABEL: Record<Comparison['durability'], string> = {
  durable: 'durable (DFS defaults: sync-behind + fdatasync on finalize; baseline hops the same)',
  'page-cache': 'page cache (DataNodes with syncOnFinalize off; baseline hops never sync)',
};

export function emitDataReport(r: DataReport, json: boolean): void {
  r.notes = dataNotes(r);
  if (json) writeJson(r);
  else printDataReport(r);
}

function printDataReport(r: DataReport): void {
  const s = r.settings;
  const out: string[] = [];
  out.push(
    `dfs-bench ${r.suite}: ${s.clients} x ${formatBytes(s.sizeBytes)}, replication ${s.replication}, ${s.datanodes} DataNodes, ${s.rounds} round(s)` +
      (s.blockBytes !== null ? `, block ${formatBytes(s.blockBytes)}` : ''),
  );
  out.push(machineHeader(r.machine));
  for (const c of r.comparisons) {
    out.push('');
    out.push(
      r.suite === 'download'
        ? 'reads from the page cache, both clients discard the bytes'
        : LABEL[c.durability],
    );
    out.push(renderTable(PHASE_COLUMNS, c.phases.map(phaseRow)));
    out.push('');
    out.push(versusBaselineLine(c.summary, 'DFS', roundRatios(c)));
    out.push(
      `CPU-seconds per GiB: DFS ${cpuLine(c.cpuPerGiB.dfs)}; baseline ${cpuLine(c.cpuPerGiB.baseline)}`,
    );
    if (c.yardstickMiBps !== null) out.push(yardstickLine(c));
  }
  writeReport(out, r.notes);
}

const PHASE_COLUMNS = [
  'round',
  'system',
  'sec',
  'MiB/s',
  'pkt p50 us',
  'pkt p99 us',
  'blk wait p50 ms',
  'blk wait s',
  'client CPU',
  'server CPU',
  'CPU s/GiB client',
  'servers',
  'total',
];

function phaseRow(p: Comparison['phases'][number]): string[] {
  const g = p.cpuPerGiB;
  return [
    String(p.round),
    p.system,
    (p.elapsedMs / 1000).toFixed(2),
    p.mibPerSec.toFixed(1),
    p.packetLatencyUs === null ? '' : formatUs(p.packetLatencyUs.p50Us),
    p.packetLatencyUs === null ? '' : formatUs(p.packetLatencyUs.p99Us),
    p.blockWaitUs === null ? '' : (p.blockWaitUs.p50Us / 1000).toFixed(1),
    p.blockWaitUs === null ? '' : ((p.blockWaitUs.meanUs * p.blockWaitUs.count) / 1e6).toFixed(2),
    p.cpu === null ? '' : formatPercent(p.cpu.client),
    p.cpu === null ? '' : p.cpu.servers.map((c) => formatPercent(c)).join(' '),
    seconds(g?.client ?? null),
    g === null ? '' : g.perServer.map(seconds).join(' '),
    seconds(g?.total ?? null),
  ];
}

/**
 * Each round's DFS MiB/s over the baseline's in the same round: on a VM whose phases vary
 * by a fifth from one to the next, the spread says how far one run's figure can be trusted.
 */
export function roundRatios(c: Comparison): number[] {
  const ratios: number[] = [];
  for (const dfs of c.phases.filter((p) => p.system === 'dfs')) {
    const base = c.phases.find((p) => p.system === 'baseline' && p.round === dfs.round);
    if (base !== undefined && base.mibPerSec > 0) ratios.push(dfs.mibPerSec / base.mibPerSec);
  }
  return ratios;
}

function seconds(x: number | null): string {
  return x === null ? '' : x.toFixed(2);
}

function cpuLine(c: CpuPerGiB): string {
  return `client ${seconds(c.client)}, servers ${seconds(c.servers)}, total ${seconds(c.total)}`;
}

function yardstickLine(c: Comparison): string {
  const y = c.yardstickMiBps!;
  const ratio = c.summary.baselineMiBps / y;
  return (
    `yardstick ${y.toFixed(1)} MiB/s in the same rounds: the baseline is ${(ratio * 100).toFixed(0)}% of it` +
    (ratio >= 1 ? ' (at least as fast: an honest baseline)' : ' (SLOWER: the comparison flatters DFS)') +
    (c.dfsToYardstick === null ? '' : `; DFS is ${(c.dfsToYardstick * 100).toFixed(1)}% of it`)
  );
}

export function dataNotes(r: DataReport): string[] {
  const s = r.settings;
  const notes: string[] = [];
  const cores = r.machine.cpuCount;
  const processes = 1 + (r.suite === 'upload' ? s.replication : 1);
  notes.push(
    `${processes} busy processes per transfer (client + ${r.suite === 'upload' ? `${s.replication} DataNodes` : 'the DataNode it reads from'}) on ${cores} core(s); both systems are bounded by the same cores, disk and loopback.`,
  );
  if (r.suite === 'download')
    notes.push(
      "reads come from the page cache for both systems (durability does not apply to reads); DFS verifies every chunk's checksum on the client.",
    );
  if (s.cli)
    notes.push(
      `DFS ran as the dfs command, a process per transfer timed from outside: Node's start-up and the command's are in its time and its client CPU (no packet latency then); the baseline's client was already running, and the yardstick's figure is its own, from its first byte.`,
    );
  for (const c of r.comparisons) {
    const dfs = c.cpuPerGiB.dfs.total;
    const base = c.cpuPerGiB.baseline.total;
    if (dfs !== null && base !== null && base > 0)
      notes.push(
        `${c.durability}: DFS spends ${(dfs / base).toFixed(2)}x the baseline's CPU per byte (${dfs.toFixed(2)} against ${base.toFixed(2)} CPU-s/GiB).`,
      );
    const phases = c.phases.filter((p) => p.system === 'dfs' && p.cpu !== null);
    const busiest = Math.max(0, ...phases.flatMap((p) => p.cpu!.servers.map((x) => x ?? 0)));
    const clientCpu = Math.max(0, ...phases.map((p) => p.cpu!.client ?? 0));
    if (clientCpu >= 85)
      notes.push(
        `${c.durability}: the DFS client used up to ${clientCpu.toFixed(0)}% of a core: its event loop bounds the transfer.`,
      );
    if (busiest >= 85)
      notes.push(
        `${c.durability}: a DataNode used up to ${busiest.toFixed(0)}% of a core: its event loop bounds the transfer.`,
      );
    const machineMax = Math.max(0, ...c.phases.map((p) => p.cpu?.machine ?? 0));
    if (machineMax >= cores * 100 * 0.85)
      notes.push(
        `${c.durability}: the machine was up to ${machineMax.toFixed(0)}% busy (of ${cores * 100}%): CPU-bound overall.`,
      );
  }
  return notes;
}
