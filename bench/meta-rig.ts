/**
 * The scaffolding of a `dfs-bench meta` run, shared by the client phases (meta.ts) and the
 * simulated-DataNode mode (meta-sim.ts): a NameNode (started by the bench in a temp dir,
 * or an external one), an admin client, the client connection groups (meta-workload.ts),
 * and the measurement of one phase: wall time, the NameNode's CPU (process and event-loop
 * thread, from /proc), the whole machine's CPU, and the phase's window on the monotonic
 * clock so a NameNode CPU profile can be cut per phase.
 *
 * Teardown is one path (`MetaRig.run`'s finally, and Ctrl-C): workers closed, the NameNode
 * stopped, the temp dir removed, so no run leaves a daemon or a directory behind.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DfsClient } from '../src/client/dfs-client.js';
import { LocalCluster } from '../src/local/local-cluster.js';
import {
  CpuSampler,
  MachineCpuSampler,
  cpuProfileNodeOptions,
  machineInfo,
  monotonicUs,
  type CpuSample,
  type MachineInfo,
} from './report.js';
import {
  forkedGroup,
  localGroup,
  splitConnections,
  type GroupHandle,
  type GroupResult,
  type PhaseSpec,
} from './meta-workload.js';

export interface RigOptions {
  clients: number;
  clientProcesses: number;
  /** HOST:PORT of a running NameNode; otherwise one is started in a temp dir. */
  namenode?: string;
  /** pid of the external NameNode, to sample its CPU (only on the same machine). */
  namenodePid?: number;
  /** Profile the bench's own NameNode (V8 CPU profile), writing the profile here. */
  namenodeCpuProf?: string;
  /** Configuration of the NameNode the bench starts (DFS_NAMENODE_* variables). */
  namenodeEnv?: NodeJS.ProcessEnv;
  /** The program to fork for worker processes (the dfs-bench CLI). */
  workerScript: string;
  progress: (line: string) => void;
}

/** What one measured stretch of time cost. */
export interface Measured<T> {
  value: T;
  elapsedMs: number;
  nnCpu: CpuSample;
  /** Busy CPU of the whole machine (all cores), microseconds. */
  machineBusyUs: number | null;
  windowUs: { fromUs: number; toUs: number };
}

export interface RigNamenodeInfo {
  mode: 'local' | 'external';
  address: string;
  pid: number | null;
  nameDir: string | null;
}

export class MetaRig {
  address: string;
  pid: number | null;
  readonly tempDir: string | null = null;
  readonly profDir: string | null = null;
  machine!: MachineInfo;
  admin!: DfsClient;
  readonly groups: GroupHandle[] = [];
  /** Connection indices per client group. */
  readonly split: number[][];
  private cluster: LocalCluster | null = null;
  private sampler = new CpuSampler(null);
  private readonly machineSampler = new MachineCpuSampler();
  private readonly cleanups: Array<() => Promise<void>> = [];

  private constructor(private readonly o: RigOptions) {
    this.address = o.namenode ?? '';
    this.pid = o.namenodePid ?? null;
    this.split = splitConnections(o.clients, o.clientProcesses);
    if (o.namenode === undefined) {
      this.tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-bench-meta-'));
      const env: NodeJS.ProcessEnv = { ...o.namenodeEnv };
      if (o.namenodeCpuProf !== undefined) {
        this.profDir = path.resolve(o.namenodeCpuProf);
        fs.mkdirSync(this.profDir, { recursive: true });
        env.NODE_OPTIONS =
          `${process.env.NODE_OPTIONS ?? ''} ${cpuProfileNodeOptions(this.profDir, 'namenode')}`.trim();
      }
      this.cluster = new LocalCluster({
        baseDir: this.tempDir,
        namenodePort: 0,
        logLevel: 'warn',
        namenodeEnv: env,
      });
    }
  }

  /** Starts everything, runs `body`, and tears everything down whatever happens. */
  static async run<T>(o: RigOptions, body: (rig: MetaRig) => Promise<T>): Promise<T> {
    if (o.clientProcesses > o.clients)
      throw new Error(`--client-processes (${o.clientProcesses}) cannot exceed --clients (${o.clients})`);
    if (o.namenodeCpuProf !== undefined && o.namenode !== undefined)
      throw new Error(
        '--namenode-cpu-prof profiles the NameNode the bench starts; it cannot be used with --namenode',
      );
    const rig = new MetaRig(o);
    // Ctrl-C must not leave a NameNode running or its temp dir behind.
    const onSignal = (): void => {
      void rig.teardown().finally(() => process.exit(130));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      await rig.start();
      return await body(rig);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await rig.teardown();
    }
  }

  private async start(): Promise<void> {
    const o = this.o;
    if (this.cluster !== null) {
      o.progress(`starting a NameNode in ${this.tempDir}`);
      await this.cluster.start();
      this.address = this.cluster.namenodeAddress;
      this.pid = this.cluster.namenode.pid ?? null;
    }
    this.sampler = new CpuSampler(this.pid);
    this.machine = machineInfo(this.tempDir ?? os.tmpdir());
    this.admin = new DfsClient({ namenode: this.address, clientName: `dfs-bench-admin-${process.pid}` });
  }

  /** Opens the client connections (in this process or in forked workers). */
  async connectClients(): Promise<void> {
    const o = this.o;
    o.progress(
      `connecting ${o.clients} clients in ${o.clientProcesses === 1 ? 'this process' : `${o.clientProcesses} worker processes`}`,
    );
    if (o.clientProcesses === 1) this.groups.push(await localGroup(this.address, this.split[0]!));
    else
      this.groups.push(
        ...(await Promise.all(this.split.map((ids) => forkedGroup(o.workerScript, this.address, ids)))),
      );
  }

  get clientsRun(): string {
    const o = this.o;
    return o.clientProcesses === 1
      ? `${o.clients} connections in the bench process`
      : `${o.clients} connections over ${o.clientProcesses} forked worker processes (${this.split.map((s) => s.length).join('+')})`;
  }

  get namenodeInfo(): RigNamenodeInfo {
    return {
      mode: this.tempDir === null ? 'external' : 'local',
      address: this.address,
      pid: this.pid,
      nameDir: this.tempDir === null ? null : path.join(this.tempDir, 'name'),
    };
  }

  /** Runs `fn` and measures it. */
  async measure<T>(fn: () => Promise<T>): Promise<Measured<T>> {
    this.sampler.start();
    this.machineSampler.start();
    const fromUs = monotonicUs();
    const t0 = performance.now();
    const value = await fn();
    const elapsedMs = performance.now() - t0;
    const windowUs = { fromUs, toUs: monotonicUs() };
    return {
      value,
      elapsedMs,
      nnCpu: this.sampler.stop(),
      machineBusyUs: this.machineSampler.stop(),
      windowUs,
    };
  }

  /** Builds the inputs of a client phase in every group (untimed). */
  async prepareClients(spec: PhaseSpec): Promise<void> {
    await Promise.all(this.groups.map((g) => g.prepare(spec)));
  }

  /** Runs the prepared client phase in every group. */
  runClients(): Promise<GroupResult[]> {
    return Promise.all(this.groups.map((g) => g.run()));
  }

  async lastTxid(): Promise<number> {
    return (await this.admin.serverInfo()).lastTxid;
  }

  /** Something else to close on teardown (before the NameNode stops), e.g. load workers. */
  onTeardown(cleanup: () => Promise<void>): void {
    this.cleanups.push(cleanup);
  }

  /** Stops the bench's NameNode now (it writes its CPU profile on exit). */
  async stopNamenode(): Promise<void> {
    const c = this.cluster;
    this.cluster = null;
    await c?.stop();
  }

  private tornDown = false;

  private async teardown(): Promise<void> {
    if (this.tornDown) return;
    this.tornDown = true;
    this.admin?.close();
    await Promise.all(
      [...this.groups.map((g) => g.close()), ...this.cleanups.map((f) => f())].map((p) => p.catch(() => {})),
    );
    await this.stopNamenode().catch(() => {});
    if (this.tempDir !== null) fs.rmSync(this.tempDir, { recursive: true, force: true });
  }
}
