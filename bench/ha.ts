/**
 * `dfs-bench ha`: what NameNode HA on etcd (issue 14) costs and how fast it fails over.
 *
 *   journals:  the durable mutations of `dfs-bench meta` (mkdir, create + complete), run
 *              against a NameNode on its local edit log, then against an HA pair (active +
 *              standby) on an etcd of each `--etcd-members` size, in the same run: ops/s
 *              and latency side by side. Meanwhile the standby's lag behind the active is
 *              sampled from both NameNodes' `dfs_namenode_last_txid` every 100 ms.
 *   failover:  on the one-member etcd pair, `--failovers` times: kill -9 of the active, and
 *              the time until the other answers /isActive 200 and until a client's mkdir
 *              (given both addresses) succeeds; the killed one is started again as the
 *              standby before the next round.
 *
 * The NameNodes are real `dfsd namenode` processes (src/local/ha-cluster.ts) and etcd is the
 * Debian `etcd-server` binary (src/local/etcd-process.ts) on loopback, in temp folders,
 * killed at the end. The phases and their measuring are meta.ts's (`runClientPhase`).
 */
import { DfsClient } from '../src/client/dfs-client.js';
import { startEtcdCluster } from '../src/local/etcd-process.js';
import { HaCluster } from '../src/local/ha-cluster.js';
import { makeParents, runClientPhase, type PhaseResult } from './meta.js';
import { MetaRig } from './meta-rig.js';
import { parentCount, type PhaseName } from './meta-workload.js';
import {
  formatOpsPerSec,
  formatUs,
  machineHeader,
  renderTable,
  writeJson,
  type MachineInfo,
} from './report.js';

/** Issue 14's target: durable creates per second with a three-member etcd. */
export const HA_CREATE_TARGET = 10_000;
const PHASES: readonly PhaseName[] = ['mkdir', 'create'];
const LAG_SAMPLE_MS = 100;

export interface HaBenchOptions {
  ops: number;
  clients: number;
  depth: number;
  clientProcesses: number;
  /** etcd cluster sizes to run the HA pair on (1 and 3 by default). */
  etcdMembers: number[];
  ttlSeconds: number;
  failovers: number;
  workerScript: string;
  progress: (line: string) => void;
}

export interface JournalResult {
  journal: string;
  phases: PhaseResult[];
  /** The standby's lag behind the active in transactions (HA only), over the phases. */
  standbyLagTxns: { samples: number; mean: number; max: number } | null;
}

export interface HaReport {
  suite: 'ha';
  startedAt: string;
  settings: Omit<HaBenchOptions, 'workerScript' | 'progress'>;
  machine: MachineInfo | null;
  journals: JournalResult[];
  failover: FailoverResult | null;
  notes: string[];
}

export interface FailoverResult {
  /** Per round: ms from the kill to the successor's /isActive 200, and to a client's mkdir. */
  rounds: Array<{ toActiveMs: number; toMkdirMs: number }>;
  toActive: { medianMs: number; maxMs: number };
  toMkdir: { medianMs: number; maxMs: number };
}

export async function runHaBench(o: HaBenchOptions): Promise<HaReport> {
  const startedAt = new Date().toISOString();
  const journals: JournalResult[] = [];
  let machine: MachineInfo | null = null;
  o.progress('local edit log: one NameNode');
  journals.push(
    await metaPhases(o, {}, null, (m) => {
      machine = m;
    }),
  );
  let failover: HaReport['failover'] = null;
  for (const members of o.etcdMembers) {
    o.progress(`etcd journal: ${members}-member etcd, active + standby`);
    const etcd = await startEtcdCluster(members);
    let cluster: HaCluster | null = null;
    try {
      cluster = await HaCluster.start({
        etcdEndpoints: () => Promise.resolve(etcd.endpoints),
        ttlSeconds: o.ttlSeconds,
      });
      const active = cluster.slots[await cluster.activeIndex(10_000)]!.process;
      journals.push({
        ...(await metaPhases(o, { namenode: cluster.addresses, namenodePid: active.pid }, cluster)),
        journal: `etcd, ${members} member${members > 1 ? 's' : ''}`,
      });
      if (failover === null && o.failovers > 0) failover = await measureFailovers(cluster, o);
    } finally {
      await cluster?.stop();
      await etcd.stop();
    }
  }
  return {
    suite: 'ha',
    startedAt,
    settings: {
      ops: o.ops,
      clients: o.clients,
      depth: o.depth,
      clientProcesses: o.clientProcesses,
      etcdMembers: o.etcdMembers,
      ttlSeconds: o.ttlSeconds,
      failovers: o.failovers,
    },
    machine,
    journals,
    failover,
    notes: notes(journals),
  };
}

/** The durable phases against one NameNode (the bench's own, or the HA pair's active). */
async function metaPhases(
  o: HaBenchOptions,
  namenode: { namenode?: string; namenodePid?: number },
  cluster: HaCluster | null,
  onMachine?: (m: MachineInfo) => void,
): Promise<JournalResult> {
  return MetaRig.run({ ...o, ...namenode }, async (rig) => {
    const parents = parentCount(o.ops);
    const base = `/bench-ha-${Date.now().toString(36)}-${process.pid}`;
    await makeParents(rig, base, parents);
    await rig.connectClients();
    const lag = cluster === null ? null : new LagSampler(cluster);
    const phases: PhaseResult[] = [];
    for (const phase of PHASES)
      phases.push(
        await runClientPhase(
          rig,
          { phase, ops: o.ops, base, parents, totalConnections: o.clients, depth: o.depth },
          o,
          lag ?? undefined,
        ),
      );
    await rig.admin.delete(base, { recursive: true });
    await rig.stopNamenode();
    onMachine?.(rig.machine);
    return { journal: 'local edit log', phases, standbyLagTxns: lag?.summary() ?? null };
  });
}

/** Samples active minus standby `dfs_namenode_last_txid` while a phase runs. */
class LagSampler {
  private timer: NodeJS.Timeout | null = null;
  private readonly lags: number[] = [];

  constructor(private readonly cluster: HaCluster) {}

  start(): Promise<void> {
    this.timer = setInterval(() => void this.sample(), LAG_SAMPLE_MS);
    return Promise.resolve();
  }

  stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    return Promise.resolve();
  }

  private async sample(): Promise<void> {
    const txids = await Promise.all(this.cluster.slots.map((s) => lastTxid(s.process.httpPort)));
    if (txids.some((t) => t === null)) return;
    const [a, b] = txids as number[];
    this.lags.push(Math.abs(a! - b!));
  }

  summary(): { samples: number; mean: number; max: number } {
    const n = this.lags.length;
    return {
      samples: n,
      mean: n === 0 ? 0 : this.lags.reduce((x, y) => x + y, 0) / n,
      max: n === 0 ? 0 : Math.max(...this.lags),
    };
  }
}

async function lastTxid(httpPort: number): Promise<number | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(1000) });
    const m = /^dfs_namenode_last_txid (\d+)/m.exec(await res.text());
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

/** kill -9 of the active, `o.failovers` times: to the successor's /isActive 200, and to a client's mkdir. */
async function measureFailovers(cluster: HaCluster, o: HaBenchOptions): Promise<FailoverResult> {
  const client = new DfsClient({ namenode: cluster.addresses, requestTimeoutMs: 10_000 });
  const rounds: FailoverResult['rounds'] = [];
  try {
    for (let r = 0; r < o.failovers; r++) {
      const i = await cluster.activeIndex(10_000);
      await client.mkdir(`/bench-ha-failover-${r}-before`);
      o.progress(`failover ${r + 1}/${o.failovers}: kill -9 of ${cluster.slots[i]!.id}`);
      const killedAt = performance.now();
      await cluster.slots[i]!.process.kill();
      const mkdir = client.mkdir(`/bench-ha-failover-${r}-after`).then(() => performance.now() - killedAt);
      await cluster.activeIndex((o.ttlSeconds + 30) * 1000, i);
      const toActiveMs = Math.round(performance.now() - killedAt);
      rounds.push({ toActiveMs, toMkdirMs: Math.round(await mkdir) });
      await cluster.restart(i);
      await cluster.untilStandby(i, 30_000);
    }
  } finally {
    client.close();
  }
  const stats = (values: number[]): { medianMs: number; maxMs: number } => {
    const sorted = [...values].sort((a, b) => a - b);
    return { medianMs: sorted[Math.floor(sorted.length / 2)]!, maxMs: sorted[sorted.length - 1]! };
  };
  return {
    rounds,
    toActive: stats(rounds.map((x) => x.toActiveMs)),
    toMkdir: stats(rounds.map((x) => x.toMkdirMs)),
  };
}

function notes(journals: JournalResult[]): string[] {
  const out: string[] = [];
  const local = journals[0]?.phases.find((p) => p.phase === 'create');
  for (const j of journals.slice(1)) {
    const create = j.phases.find((p) => p.phase === 'create');
    if (create === undefined || local === undefined) continue;
    out.push(
      `${j.journal}: durable creates at ${(create.opsPerSec / local.opsPerSec).toFixed(2)}x the local edit log` +
        (j.journal.includes('3')
          ? `; target >= ${formatOpsPerSec(HA_CREATE_TARGET)}/s: ${create.opsPerSec >= HA_CREATE_TARGET ? 'met' : 'not met'}`
          : ''),
    );
  }
  return out;
}

export function emitHaReport(r: HaReport, json: boolean): void {
  if (json) return writeJson(r);
  const s = r.settings;
  const out: string[] = [];
  out.push(
    `dfs-bench ha: ${formatOpsPerSec(s.ops)} ops per phase, ${s.clients} connections x depth ${s.depth}; HA pairs on etcd of ${s.etcdMembers.join(' and ')} member(s), lease TTL ${s.ttlSeconds} s`,
  );
  if (r.machine !== null) out.push(machineHeader(r.machine));
  out.push('');
  const rows = r.journals.flatMap((j) =>
    j.phases.map((p) => [
      j.journal,
      p.phase,
      formatOpsPerSec(p.opsPerSec),
      formatUs(p.latencyUs.p50Us),
      formatUs(p.latencyUs.p99Us),
      formatUs(p.latencyUs.maxUs),
      p.errors > 0 ? String(p.errors) : '-',
      j.standbyLagTxns === null ? '-' : `${Math.round(j.standbyLagTxns.mean)} / ${j.standbyLagTxns.max}`,
    ]),
  );
  out.push(
    renderTable(
      ['journal', 'phase', 'ops/s', 'p50 us', 'p99 us', 'max us', 'errors', 'standby lag txns mean / max'],
      rows,
    ),
  );
  if (r.failover !== null) {
    const f = r.failover;
    out.push('');
    out.push(
      `failover after kill -9 of the active (${f.rounds.length} rounds, lease TTL ${s.ttlSeconds} s): ` +
        `to the successor's /isActive 200 median ${f.toActive.medianMs} ms, max ${f.toActive.maxMs} ms; ` +
        `to a client's mkdir median ${f.toMkdir.medianMs} ms, max ${f.toMkdir.maxMs} ms ` +
        `(target: under TTL + 2 s = ${(s.ttlSeconds + 2) * 1000} ms)`,
    );
  }
  for (const n of r.notes) out.push(`note: ${n}`);
  process.stdout.write(`${out.join('\n')}\n`);
}
