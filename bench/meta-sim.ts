/**
 * `dfs-bench meta --sim-datanodes N`: how much DataNode traffic one NameNode sustains, alone
 * and while it serves clients. Thousands of simulated DataNodes (sim-datanodes.ts, in
 * forked worker processes) register with a real NameNode process, and then:
 *
 *   set-up (untimed as a phase, but reported)
 *     register      every node registers
 *     blocks        K = N x B / r blocks are created through the client RPCs: files of up
 *                   to 100 blocks each (create, then addBlock per block), replication r
 *     first report  every node sends one full report of its B blocks: all new to the
 *                   NameNode (what a restart's reports cost); then every file is completed
 *   phases
 *     heartbeats               every node heartbeats back to back (or paced, see
 *                              --heartbeat-interval) for --sim-seconds
 *     block reports            full reports of B known blocks each, back to back: the
 *                              steady state HDFS's BlockReportStats measures
 *     create, stat             the client phases of `dfs-bench meta`, alone
 *     create/stat + heartbeats the same client phases while every node heartbeats
 *     create/stat + reports    ... while the nodes send block reports
 *
 * So the report answers: heartbeats/s and reported blocks/s the NameNode sustains alone
 * and while serving clients, and how much client throughput the DataNode load costs.
 * Beside them it prints the HDFS paper's figures (300,000 heartbeats/s, 639,700 blocks/s),
 * which were taken in-process (NNThroughputBenchmark calls the NameNode's methods
 * directly, no RPC), while here every heartbeat crosses a socket.
 *
 * The NameNode the bench starts gets a dead-node timeout of a day, so nodes idle between
 * phases are never declared dead; an external NameNode (--namenode) needs the same.
 * At the end the NameNode's own view is checked: live nodes and replicas it holds.
 *
 * Longer than our usual 400 lines: one suite whose phases (reports alone, heartbeats alone,
 * each while clients create or stat) share its set-up and its report; split, each phase
 * would need the whole rig passed around.
 */
import { DfsClient, DEFAULT_BLOCK_BYTES } from '../src/client/dfs-client.js';
import type { Block } from '../protocol/shared-structures.js';
import { DatanodeReportState } from '../protocol/admin-namenode-messages.js';
import {
  cpuPercent,
  formatOpsPerSec,
  formatPercent,
  formatUs,
  machineHeader,
  mergeHistograms,
  renderTable,
  summarize,
  writeJson,
} from './report.js';
import type { HotSpot, LatencySummary, MachineInfo } from './report.js';
import { MetaRig, type Measured, type RigNamenodeInfo } from './meta-rig.js';
import {
  attachProfile,
  makeParents,
  notesAndProfileLines,
  runClientPhase,
  type MetaOptions,
  type NamenodeProfile,
  type PhaseResult,
} from './meta.js';
import { parentCount, type PhaseName } from './meta-workload.js';
import {
  type FromSimWorker,
  type SimBlocks,
  type SimGroupSpec,
  type SimResult,
  type ToSimWorker,
} from './sim-datanodes.js';
import { WorkerProcess } from './worker-channel.js';

/** The HDFS paper's NNThroughputBenchmark figures (Shvachko et al., MSST 2010, table 3). */
export const HDFS_REFERENCE = { heartbeatsPerSec: 300_000, blocksPerSec: 639_700 } as const;

const BLOCKS_PER_FILE = 100;
/** Files being filled with blocks at once during set-up. */
const FILES_IN_FLIGHT = 256;
const SETUP_CLIENTS = 8;
/** The NameNode the bench starts must not declare idle simulated nodes dead. */
const DEAD_NODE_TIMEOUT_MS = 24 * 3600 * 1000;

/** The client side is `dfs-bench meta`'s; the rest shapes the simulated nodes. */
export interface MetaSimOptions extends Omit<MetaOptions, 'json'> {
  simDatanodes: number;
  blocksPerNode: number;
  replication: number;
  /** 0: back to back; otherwise each node heartbeats this often. */
  heartbeatIntervalMs: number;
  /** Length of each DataNode-only phase. */
  simSeconds: number;
  simProcesses: number;
  nodesPerConnection: number;
  heartbeatDepth: number;
  reportDepth: number;
}

/** A load's figures, all groups together. */
export interface SimLoadSummary {
  requests: number;
  /** Sum over the groups of requests / the group's own elapsed time. */
  requestsPerSec: number;
  blocks: number;
  blocksPerSec: number;
  /** Commands in heartbeat answers, by type (counted, not carried out). */
  commands: Record<string, number>;
  errors: number;
  firstError: string | null;
  latencyUs: LatencySummary;
  /** All simulating processes together, percent of one core. */
  cpuPercent: number;
  elapsedMs: number;
}

export interface SimPhaseRow {
  phase: string;
  elapsedMs: number;
  /** What the simulated nodes did: heartbeats or block reports. */
  load: 'heartbeat' | 'report' | null;
  datanodes: SimLoadSummary | null;
  client: PhaseResult | null;
  namenodeCpuPercent: number | null;
  namenodeMainThreadCpuPercent: number | null;
  machineCpuPercent: number | null;
  /** Machine busy minus NameNode, simulated nodes and clients: other programs. */
  otherCpuPercent: number | null;
  windowUs?: { fromUs: number; toUs: number };
  hotSpots?: HotSpot[];
}

export interface MetaSimReport {
  suite: 'meta';
  mode: 'sim-datanodes';
  startedAt: string;
  settings: {
    simDatanodes: number;
    blocksPerNode: number;
    replication: number;
    blocks: number;
    heartbeatIntervalMs: number;
    simSeconds: number;
    simProcesses: number;
    nodesPerConnection: number;
    connections: number;
    heartbeatDepth: number;
    reportDepth: number;
    ops: number;
    clients: number;
    depth: number;
    clientProcesses: number;
    clientsRun: string;
    namenode: RigNamenodeInfo;
  };
  machine: MachineInfo;
  setup: {
    register: SimLoadSummary;
    files: number;
    addBlockMs: number;
    addBlocksPerSec: number;
    firstReport: SimLoadSummary;
    completeMs: number;
  };
  phases: SimPhaseRow[];
  /** The NameNode's own view at the end (datanodeReport). */
  namenodeView: { liveNodes: number; deadNodes: number; replicas: number; expectedReplicas: number };
  reference: { heartbeatsPerSec: number; blocksPerSec: number; source: string };
  profile: NamenodeProfile | null;
  notes: string[];
}

// ---- the simulating workers ----------------------------------------------------------

/** The forked groups of simulated nodes, driven together. */
class SimWorkers {
  private constructor(private readonly workers: Array<WorkerProcess<ToSimWorker, FromSimWorker>>) {}

  static async start(script: string, specs: SimGroupSpec[]): Promise<SimWorkers> {
    const workers = specs.map(() =>
      WorkerProcess.fork<ToSimWorker, FromSimWorker>(script, ['sim-datanode-worker']),
    );
    const sims = new SimWorkers(workers);
    try {
      await Promise.all(workers.map((w, i) => w.ask({ type: 'init', spec: specs[i]! }, 'ready')));
    } catch (err) {
      await sims.close();
      throw err;
    }
    return sims;
  }

  private async all(msg: ToSimWorker): Promise<SimLoadSummary> {
    const results = await Promise.all(this.workers.map(async (w) => (await w.ask(msg, 'result')).result));
    return summarizeLoad(results);
  }

  register(): Promise<SimLoadSummary> {
    return this.all({ type: 'register' });
  }

  async prepareReports(blocks: SimBlocks): Promise<void> {
    await Promise.all(this.workers.map((w) => w.ask({ type: 'blocks', blocks }, 'prepared')));
  }

  reportOnce(): Promise<SimLoadSummary> {
    return this.all({ type: 'report-once' });
  }

  async begin(load: 'heartbeat' | 'report'): Promise<void> {
    await Promise.all(this.workers.map((w) => w.ask({ type: 'start', load }, 'started')));
  }

  end(): Promise<SimLoadSummary> {
    return this.all({ type: 'stop' });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close().catch(() => {})));
  }
}

function summarizeLoad(results: SimResult[]): SimLoadSummary {
  const h = mergeHistograms(results.map((r) => r.histogram).filter((x) => x !== ''));
  const latencyUs = summarize(h);
  h.destroy();
  const elapsedMs = Math.max(...results.map((r) => r.elapsedMs));
  const sum = (f: (r: SimResult) => number): number => results.reduce((s, r) => s + f(r), 0);
  const rate = (f: (r: SimResult) => number): number =>
    Math.round(sum((r) => (r.elapsedMs > 0 ? f(r) / (r.elapsedMs / 1000) : 0)));
  return {
    requests: sum((r) => r.requests),
    requestsPerSec: rate((r) => r.requests),
    blocks: sum((r) => r.blocks),
    blocksPerSec: rate((r) => r.blocks),
    commands: mergeCounts(results.map((r) => r.commands)),
    errors: sum((r) => r.errors),
    firstError: results.find((r) => r.firstError !== null)?.firstError ?? null,
    latencyUs,
    cpuPercent:
      Math.round(
        cpuPercent(
          sum((r) => r.cpuUs),
          elapsedMs,
        )! * 10,
      ) / 10,
    elapsedMs: Math.round(elapsedMs * 10) / 10,
  };
}

function mergeCounts(counts: Array<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of counts) for (const [k, v] of Object.entries(c)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** Contiguous node ranges per process, each a whole number of connections. */
function groupSpecs(o: MetaSimOptions, namenode: string, clusterId: string): SimGroupSpec[] {
  const connections = Math.ceil(o.simDatanodes / o.nodesPerConnection);
  const processes = Math.max(1, Math.min(o.simProcesses, connections));
  const specs: SimGroupSpec[] = [];
  let first = 0;
  for (let p = 0; p < processes; p++) {
    const links = Math.floor(connections / processes) + (p < connections % processes ? 1 : 0);
    const count = Math.min(o.simDatanodes - first, links * o.nodesPerConnection);
    specs.push({
      namenode,
      clusterId,
      nodes: o.simDatanodes,
      first,
      count,
      nodesPerConnection: o.nodesPerConnection,
      heartbeatDepth: o.heartbeatDepth,
      reportDepth: Math.max(1, Math.round(o.reportDepth / processes)),
      heartbeatIntervalMs: o.heartbeatIntervalMs,
    });
    first += count;
  }
  return specs;
}

// ---- blocks the NameNode knows ---------------------------------------------------------

interface OpenFile {
  path: string;
  client: DfsClient;
  last: Block | null;
}

/**
 * Creates `count` blocks in files of up to BLOCKS_PER_FILE (create, then addBlock per
 * block; the previous block is committed at the full block size). The files stay open
 * until their blocks are reported: `complete` needs a live replica of the last block.
 */
async function createBlocks(
  address: string,
  dir: string,
  count: number,
  replication: number,
): Promise<{ blocks: SimBlocks; files: OpenFile[]; clients: DfsClient[] }> {
  const clients = Array.from(
    { length: SETUP_CLIENTS },
    (_, c) =>
      new DfsClient({
        namenode: address,
        clientName: `dfs-bench-sim-setup-${process.pid}-${c}`,
        requestTimeoutMs: 120_000,
      }),
  );
  const ids = new Array<number>(count);
  const genStamps = new Array<number>(count);
  const fileCount = Math.ceil(count / BLOCKS_PER_FILE);
  const files: OpenFile[] = Array.from({ length: fileCount }, (_, f) => ({
    path: `${dir}/f${f}`,
    client: clients[f % SETUP_CLIENTS]!,
    last: null,
  }));
  let next = 0;
  const fill = async (): Promise<void> => {
    while (next < fileCount) {
      const f = next++;
      const file = files[f]!;
      await file.client.createFile(file.path, {
        createParent: false,
        overwrite: false,
        replication,
        blockBytes: DEFAULT_BLOCK_BYTES,
      });
      for (let j = f * BLOCKS_PER_FILE; j < Math.min(count, (f + 1) * BLOCKS_PER_FILE); j++) {
        const located = await file.client.addBlock(file.path, file.last);
        ids[j] = located.block.blockId;
        genStamps[j] = located.block.genStamp;
        file.last = {
          blockId: located.block.blockId,
          genStamp: located.block.genStamp,
          numBytes: DEFAULT_BLOCK_BYTES,
        };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(FILES_IN_FLIGHT, fileCount) }, fill));
  return { blocks: { ids, genStamps, numBytes: DEFAULT_BLOCK_BYTES, replication }, files, clients };
}

async function completeFiles(files: OpenFile[]): Promise<void> {
  let next = 0;
  const finish = async (): Promise<void> => {
    while (next < files.length) {
      const file = files[next++]!;
      if (!(await file.client.completeFile(file.path, file.last))) {
        throw new Error(`${file.path} could not be completed: its last block has no reported replica`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(FILES_IN_FLIGHT, files.length) }, finish));
}

// ---- the run -------------------------------------------------------------------------

export async function runMetaSim(o: MetaSimOptions): Promise<MetaSimReport> {
  if (o.replication > o.simDatanodes)
    throw new Error(`--sim-replication ${o.replication} needs at least that many --sim-datanodes`);
  const startedAt = new Date().toISOString();
  const connections = Math.ceil(o.simDatanodes / o.nodesPerConnection);
  const namenodeEnv: NodeJS.ProcessEnv = {
    DFS_NAMENODE_DEAD_NODE_TIMEOUT_MS: String(DEAD_NODE_TIMEOUT_MS),
    DFS_NAMENODE_CONNECTIONS_MAX: String(Math.max(10_000, connections + o.clients + SETUP_CLIENTS + 100)),
  };
  return MetaRig.run({ ...o, namenodeEnv }, async (rig) => {
    const clusterId = (await rig.admin.serverInfo()).clusterId;
    const root = `/bench-sim-${Date.now().toString(36)}-${process.pid}`;
    const blockCount = Math.ceil((o.simDatanodes * o.blocksPerNode) / o.replication);

    o.progress(
      `${o.simDatanodes} simulated DataNodes: ${connections} connections from ${Math.min(o.simProcesses, connections)} worker processes`,
    );
    const sims = await SimWorkers.start(o.workerScript, groupSpecs(o, rig.address, clusterId));
    rig.onTeardown(() => sims.close());
    o.progress('registering');
    const register = await sims.register();
    checkLoad('register', register);

    o.progress(
      `creating ${formatOpsPerSec(blockCount)} blocks (replication ${o.replication}) through create + addBlock`,
    );
    await rig.admin.mkdir(`${root}/blocks`, { parents: true });
    const t0 = performance.now();
    const made = await createBlocks(rig.address, `${root}/blocks`, blockCount, o.replication);
    const addBlockMs = performance.now() - t0;
    try {
      await sims.prepareReports(made.blocks);
      o.progress(`first full block reports: ${o.blocksPerNode} blocks from each node`);
      const firstReport = await sims.reportOnce();
      checkLoad('first block report', firstReport);
      const t1 = performance.now();
      await completeFiles(made.files);
      const completeMs = performance.now() - t1;

      const parents = parentCount(o.ops);
      const phases: SimPhaseRow[] = [];
      const dnPhase = async (phase: string, load: 'heartbeat' | 'report'): Promise<void> => {
        o.progress(`${phase}: ${o.simSeconds} s`);
        const m = await rig.measure(async () => {
          await sims.begin(load);
          await sleep(o.simSeconds * 1000);
          return sims.end();
        });
        phases.push(dnRow(phase, load, m));
      };
      const clientPhase = async (
        name: PhaseName,
        base: string,
        load: 'heartbeat' | 'report' | null,
      ): Promise<void> => {
        const label =
          load === null ? name : `${name} + ${load === 'heartbeat' ? 'heartbeats' : 'block reports'}`;
        o.progress(`${label}: ${o.ops} ops`);
        let dn: SimLoadSummary | null = null;
        const during =
          load === null
            ? undefined
            : { start: () => sims.begin(load), stop: async () => void (dn = await sims.end()) };
        const r = await runClientPhase(
          rig,
          { phase: name, ops: o.ops, base, parents, totalConnections: o.clients, depth: o.depth },
          o,
          during,
        );
        phases.push(clientRow(label, load, r, dn));
      };

      await dnPhase('heartbeats', 'heartbeat');
      await dnPhase('block reports', 'report');
      await rig.connectClients();
      for (const [k, load] of [
        [0, null],
        [1, 'heartbeat'],
        [2, 'report'],
      ] as const) {
        const base = `${root}/c${k}`;
        await makeParents(rig, base, parents);
        await clientPhase('create', base, load);
        await clientPhase('stat', base, load);
      }

      const view = await namenodeView(rig.admin, blockCount * o.replication);
      await rig.admin.delete(root, { recursive: true });
      await rig.stopNamenode();
      const profile = rig.profDir === null ? null : attachProfile(rig.profDir, rig.pid, phases);
      const report: MetaSimReport = {
        suite: 'meta',
        mode: 'sim-datanodes',
        startedAt,
        settings: {
          simDatanodes: o.simDatanodes,
          blocksPerNode: o.blocksPerNode,
          replication: o.replication,
          blocks: blockCount,
          heartbeatIntervalMs: o.heartbeatIntervalMs,
          simSeconds: o.simSeconds,
          simProcesses: Math.min(o.simProcesses, connections),
          nodesPerConnection: o.nodesPerConnection,
          connections,
          heartbeatDepth: o.heartbeatDepth,
          reportDepth: o.reportDepth,
          ops: o.ops,
          clients: o.clients,
          depth: o.depth,
          clientProcesses: o.clientProcesses,
          clientsRun: rig.clientsRun,
          namenode: rig.namenodeInfo,
        },
        machine: rig.machine,
        setup: {
          register,
          files: made.files.length,
          addBlockMs: Math.round(addBlockMs),
          addBlocksPerSec: Math.round(blockCount / (addBlockMs / 1000)),
          firstReport,
          completeMs: Math.round(completeMs),
        },
        phases,
        namenodeView: view,
        reference: {
          ...HDFS_REFERENCE,
          source: 'HDFS paper (Shvachko et al. 2010), NNThroughputBenchmark: in-process calls, no RPC',
        },
        profile,
        notes: [],
      };
      report.notes = simNotes(report);
      return report;
    } finally {
      for (const c of made.clients) c.close();
    }
  });
}

function checkLoad(what: string, s: SimLoadSummary): void {
  if (s.errors > 0) throw new Error(`${what}: ${s.errors} requests failed; first: ${s.firstError}`);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function namenodeView(
  admin: DfsClient,
  expectedReplicas: number,
): Promise<MetaSimReport['namenodeView']> {
  const nodes = (await admin.datanodeReport()).filter((n) => n.nodeId.startsWith('sim-dn-'));
  return {
    liveNodes: nodes.filter((n) => n.state !== DatanodeReportState.DEAD).length,
    deadNodes: nodes.filter((n) => n.state === DatanodeReportState.DEAD).length,
    replicas: nodes.reduce((s, n) => s + n.blockCount, 0),
    expectedReplicas,
  };
}

const round1 = (x: number | null): number | null => (x === null ? null : Math.round(x * 10) / 10);

/** Machine CPU not used by the NameNode, the simulated nodes or the clients. */
function otherCpu(
  machine: number | null,
  nn: number | null,
  sim: SimLoadSummary | null,
  client: number,
): number | null {
  return machine === null ? null : round1(Math.max(0, machine - (nn ?? 0) - (sim?.cpuPercent ?? 0) - client));
}

function dnRow(phase: string, load: 'heartbeat' | 'report', m: Measured<SimLoadSummary>): SimPhaseRow {
  const nn = round1(cpuPercent(m.nnCpu.processUs, m.elapsedMs));
  const machine = round1(cpuPercent(m.machineBusyUs, m.elapsedMs));
  return {
    phase,
    elapsedMs: Math.round(m.elapsedMs * 10) / 10,
    load,
    datanodes: m.value,
    client: null,
    namenodeCpuPercent: nn,
    namenodeMainThreadCpuPercent: round1(cpuPercent(m.nnCpu.mainThreadUs, m.elapsedMs)),
    machineCpuPercent: machine,
    otherCpuPercent: otherCpu(machine, nn, m.value, 0),
    windowUs: m.windowUs,
  };
}

function clientRow(
  phase: string,
  load: 'heartbeat' | 'report' | null,
  r: PhaseResult,
  dn: SimLoadSummary | null,
): SimPhaseRow {
  return {
    phase,
    elapsedMs: r.elapsedMs,
    load,
    datanodes: dn,
    client: r,
    namenodeCpuPercent: r.namenodeCpuPercent,
    namenodeMainThreadCpuPercent: r.namenodeMainThreadCpuPercent,
    machineCpuPercent: r.machineCpuPercent,
    otherCpuPercent: otherCpu(r.machineCpuPercent, r.namenodeCpuPercent, dn, r.clientCpuPercent),
    windowUs: r.windowUs,
  };
}

// ---- notes and output ----------------------------------------------------------------

function simNotes(r: MetaSimReport): string[] {
  const s = r.settings;
  const notes: string[] = [];
  const find = (phase: string): SimPhaseRow | undefined => r.phases.find((p) => p.phase === phase);
  const hb = find('heartbeats')?.datanodes;
  const br = find('block reports')?.datanodes;
  if (hb && s.heartbeatIntervalMs > 0) {
    notes.push(
      `heartbeats: paced at one per node every ${formatOpsPerSec(s.heartbeatIntervalMs)} ms, ${formatOpsPerSec(hb.requestsPerSec)}/s were answered (offered ${formatOpsPerSec((s.simDatanodes * 1000) / s.heartbeatIntervalMs)}/s): a real cluster's load, not the NameNode's capacity (run without --heartbeat-interval for that).`,
    );
  } else if (hb) {
    notes.push(
      `heartbeats: ${formatOpsPerSec(hb.requestsPerSec)}/s with ${formatOpsPerSec(s.simDatanodes)} nodes, each one every ${formatOpsPerSec((s.simDatanodes * 1000) / Math.max(1, hb.requestsPerSec))} ms on average (${(hb.requestsPerSec / HDFS_REFERENCE.heartbeatsPerSec).toFixed(2)}x the HDFS paper's ${formatOpsPerSec(HDFS_REFERENCE.heartbeatsPerSec)}/s); at one heartbeat per node every 3 s that is room for ${formatOpsPerSec(hb.requestsPerSec * 3)} DataNodes.`,
    );
  }
  if (br) {
    notes.push(
      `block reports: ${formatOpsPerSec(br.blocksPerSec)} blocks/s in full reports of ${formatOpsPerSec(s.blocksPerNode)} known blocks (${(br.blocksPerSec / HDFS_REFERENCE.blocksPerSec).toFixed(2)}x the HDFS paper's ${formatOpsPerSec(HDFS_REFERENCE.blocksPerSec)}/s); the first reports (every block new to the NameNode) ran at ${formatOpsPerSec(r.setup.firstReport.blocksPerSec)} blocks/s.`,
    );
  }
  notes.push(
    `DN p50/p99 = latency of one heartbeat or report under the load${s.heartbeatIntervalMs > 0 ? '' : `: with ${formatOpsPerSec(s.connections * s.heartbeatDepth)} heartbeats in flight it is mostly queueing (in flight / rate, Little's law)`}. NN CPU = the NameNode process, NN main = its event loop, sim CPU = the simulating processes, other CPU = the rest of the machine; percent of one core.`,
  );
  notes.push(
    "The HDFS figures come from NNThroughputBenchmark, which calls the NameNode's methods in its own process; here every heartbeat and report is a frame over a loopback socket, decoded and answered by a separate NameNode process that shares this machine's cores with the simulated nodes and the clients.",
  );
  for (const name of ['create', 'stat'] as const) {
    const alone = find(name)?.client?.opsPerSec;
    if (alone === undefined || alone === 0) continue;
    const parts = (['heartbeats', 'block reports'] as const)
      .map((l) => {
        const row = find(`${name} + ${l}`);
        if (row?.client == null || row.datanodes === null) return null;
        const dn =
          l === 'heartbeats'
            ? `${formatOpsPerSec(row.datanodes.requestsPerSec)} heartbeats/s`
            : `${formatOpsPerSec(row.datanodes.blocksPerSec)} blocks/s`;
        return `${formatOpsPerSec(row.client.opsPerSec)}/s (${(row.client.opsPerSec / alone).toFixed(2)}x) with ${dn}`;
      })
      .filter((x) => x !== null);
    notes.push(`${name}: ${formatOpsPerSec(alone)}/s alone; ${parts.join('; ')}.`);
  }
  const v = r.namenodeView;
  notes.push(
    `The NameNode saw ${formatOpsPerSec(v.liveNodes)} live simulated nodes (${v.deadNodes} dead) holding ${formatOpsPerSec(v.replicas)} replicas (expected ${formatOpsPerSec(v.expectedReplicas)}).`,
  );
  if (s.namenode.mode === 'external') {
    notes.push(
      'External NameNode: it needs a dead-node timeout longer than the run and connectionsMax above the simulated connections, or nodes are declared dead and connections refused.',
    );
  }
  const busy = r.phases.filter((p) => (p.namenodeMainThreadCpuPercent ?? 0) >= 90).map((p) => p.phase);
  if (busy.length > 0)
    notes.push(`The NameNode's event loop was >= 90% busy in: ${busy.join(', ')} (CPU-bound there).`);
  const noisy = r.phases.filter((p) => (p.otherCpuPercent ?? 0) >= 20);
  if (noisy.length > 0) {
    notes.push(
      `Other programs used CPU during ${noisy.map((p) => `${p.phase} (${Math.round(p.otherCpuPercent!)}%)`).join(', ')}: those figures are lower than this machine can do when quiet.`,
    );
  }
  for (const p of r.phases) {
    if ((p.datanodes?.errors ?? 0) > 0)
      notes.push(
        `${p.phase}: ${p.datanodes!.errors} DataNode requests failed; first: ${p.datanodes!.firstError}`,
      );
    if ((p.client?.errors ?? 0) > 0)
      notes.push(`${p.phase}: ${p.client!.errors} client operations failed; first: ${p.client!.firstError}`);
    const commands = Object.entries(p.datanodes?.commands ?? {});
    if (commands.length > 0) {
      notes.push(
        `${p.phase}: heartbeat answers carried ${commands.map(([t, n]) => `${n} ${t}`).join(', ')} (counted, not carried out; REPLICATE and DELETE_BLOCKS come from the replication monitor seeing blocks while their first reports were still arriving).`,
      );
    }
  }
  return notes;
}

export function printMetaSimReport(r: MetaSimReport): void {
  const s = r.settings;
  const out: string[] = [];
  out.push(
    `dfs-bench meta, simulated DataNodes: ${formatOpsPerSec(s.simDatanodes)} nodes x ${formatOpsPerSec(s.blocksPerNode)} blocks (${formatOpsPerSec(s.blocks)} blocks, replication ${s.replication}), ${formatOpsPerSec(s.connections)} connections from ${s.simProcesses} processes`,
  );
  out.push(
    `heartbeats ${s.heartbeatIntervalMs === 0 ? `back to back, ${s.heartbeatDepth} in flight per connection` : `every ${s.heartbeatIntervalMs} ms per node`}; block reports ${s.reportDepth} in flight; ${s.simSeconds} s per DataNode phase`,
  );
  out.push(`clients: ${s.clientsRun}, depth ${s.depth}, ${formatOpsPerSec(s.ops)} ops per client phase`);
  out.push(
    `NameNode: ${s.namenode.mode === 'local' ? `started by the bench, pid ${s.namenode.pid}, ${s.namenode.address}` : `external at ${s.namenode.address}`}`,
  );
  out.push(machineHeader(r.machine));
  out.push('');
  const st = r.setup;
  out.push(
    `set-up: register ${formatOpsPerSec(st.register.requestsPerSec)}/s; ${formatOpsPerSec(s.blocks)} addBlocks in ${(st.addBlockMs / 1000).toFixed(1)} s (${formatOpsPerSec(st.addBlocksPerSec)}/s); first full reports ${formatOpsPerSec(st.firstReport.blocksPerSec)} blocks/s; ${st.files} files completed in ${(st.completeMs / 1000).toFixed(1)} s`,
  );
  out.push('');
  const dash = '-';
  const rows = r.phases.map((p) => {
    const d = p.datanodes;
    const c = p.client;
    return [
      p.phase,
      (p.elapsedMs / 1000).toFixed(2),
      d !== null && p.load === 'heartbeat' ? formatOpsPerSec(d.requestsPerSec) : dash,
      d !== null && p.load === 'report' ? formatOpsPerSec(d.requestsPerSec) : dash,
      d !== null && p.load === 'report' ? formatOpsPerSec(d.blocksPerSec) : dash,
      d !== null ? formatUs(d.latencyUs.p50Us) : dash,
      d !== null ? formatUs(d.latencyUs.p99Us) : dash,
      c !== null ? formatOpsPerSec(c.opsPerSec) : dash,
      c !== null ? formatUs(c.latencyUs.p99Us) : dash,
      formatPercent(p.namenodeCpuPercent),
      formatPercent(p.namenodeMainThreadCpuPercent),
      d !== null ? formatPercent(d.cpuPercent) : dash,
      c !== null ? formatPercent(c.clientCpuPercent) : dash,
      formatPercent(p.otherCpuPercent),
    ];
  });
  out.push(
    renderTable(
      [
        'phase',
        'sec',
        'heartbeats/s',
        'reports/s',
        'blocks/s',
        'DN p50 us',
        'DN p99 us',
        'client ops/s',
        'client p99 us',
        'NN CPU',
        'NN main',
        'sim CPU',
        'client CPU',
        'other CPU',
      ],
      rows,
    ),
  );
  out.push('');
  out.push(
    `reference: ${r.reference.source}: ${formatOpsPerSec(r.reference.heartbeatsPerSec)} heartbeats/s, ${formatOpsPerSec(r.reference.blocksPerSec)} reported blocks/s`,
  );
  out.push('', ...notesAndProfileLines(r.notes, r.profile, r.phases));
  process.stdout.write(`${out.join('\n')}\n`);
}

export function emitMetaSimReport(r: MetaSimReport, json: boolean): void {
  if (json) writeJson(r);
  else printMetaSimReport(r);
}
