/**
 * A cluster of real daemon processes on loopback: the launcher behind `npm start`, the
 * demo, the integration tests and the benchmark. The name directory is formatted on first
 * use. A started cluster serves reads at once but takes writes only once the NameNode has
 * left safe mode and its DataNodes have registered: `waitWritable` waits for both.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DatanodeReportState } from '../../protocol/admin-namenode-messages.js';
import { DfsError } from '../../protocol/errors.js';
import { DfsClient } from '../client/dfs-client.js';
import { DaemonProcess } from './daemon-process.js';
import { spawnSync } from 'node:child_process';
import { DFSD_BIN } from './daemon-process.js';
import { HTTP_OFF } from '../common/config.js';

export interface LocalClusterOptions {
  baseDir: string;
  /** 0 picks a free port. */
  namenodePort?: number;
  /** The NameNode's HTTP port: 0 (default) picks a free one, -1 turns HTTP off everywhere. */
  namenodeHttpPort?: number;
  datanodes?: number;
  echoLogs?: boolean;
  /** Extra `dfsd namenode` flags or environment (tests: short lease limits...). */
  namenodeEnv?: NodeJS.ProcessEnv;
  /** Environment for DataNode i (fault injection, reserved bytes...). */
  datanodeEnv?: (index: number) => NodeJS.ProcessEnv;
  /** More volumes for DataNode i, after its `dataDir(i)` (tests of one volume failing among several). */
  extraDataDirs?: (index: number) => string[];
  /** Extra node flags per daemon (profiling): 'namenode' or the DataNode index. */
  nodeArgs?: (daemon: 'namenode' | number) => string[];
  logLevel?: string;
  /** Each daemon in a process group of its own (daemon-process.ts): the launcher alone stops them. */
  ownProcessGroups?: boolean;
  /** How long the NameNode may take to start (a big image loads for a while); daemon-process.ts default otherwise. */
  namenodeReadyTimeoutMs?: number;
}

export class LocalCluster {
  namenode: DaemonProcess;
  readonly datanodes: DaemonProcess[] = [];
  readonly nameDir: string;

  constructor(readonly options: LocalClusterOptions) {
    this.nameDir = path.join(options.baseDir, 'name');
    this.namenode = this.makeNamenode(options.namenodePort ?? 0);
  }

  get namenodeAddress(): string {
    return `127.0.0.1:${this.namenode.port}`;
  }

  /** HTTP addresses, once started (HOST:PORT; '' with HTTP off). */
  get namenodeHttpAddress(): string {
    return this.namenode.httpPort > 0 ? `127.0.0.1:${this.namenode.httpPort}` : '';
  }

  private makeNamenode(port: number, httpPort = this.options.namenodeHttpPort ?? 0): DaemonProcess {
    return new DaemonProcess({
      name: 'namenode',
      args: [
        'namenode',
        '--name-dir',
        this.nameDir,
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--http-host',
        '127.0.0.1',
        '--http-port',
        String(httpPort),
        '--log-level',
        this.logLevel(),
      ],
      readyMessage: 'namenode listening',
      echoLogs: this.options.echoLogs ?? false,
      env: this.options.namenodeEnv ?? {},
      nodeArgs: this.options.nodeArgs?.('namenode') ?? [],
      ownProcessGroup: this.options.ownProcessGroups ?? false,
      readyTimeoutMs: this.options.namenodeReadyTimeoutMs,
    });
  }

  /** Daemons announce their port at info level, so the launcher never goes above it. */
  private logLevel(): string {
    const l = this.options.logLevel ?? 'info';
    return l === 'debug' || l === 'trace' ? l : 'info';
  }

  formatIfNeeded(): void {
    if (fs.existsSync(path.join(this.nameDir, 'VERSION'))) return;
    const r = spawnSync(
      process.execPath,
      [DFSD_BIN, 'namenode', '--format', '--name-dir', this.nameDir, '--log-level', 'warn'],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`format failed: ${r.stderr}`);
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.options.baseDir, { recursive: true });
    this.formatIfNeeded();
    if ((this.options.namenodePort ?? 0) === 0)
      this.namenode = await startOnFixedPort((port) => this.makeNamenode(port));
    else await this.namenode.start();
    for (let i = 0; i < (this.options.datanodes ?? 0); i++) this.datanodes.push(this.makeDatanode(i, 0));
    await Promise.all(this.datanodes.map((d) => d.start()));
  }

  /**
   * Resolves once writes work: safe mode is off and every DataNode started is live at the
   * NameNode. Fails with TIMEOUT after `timeoutMs`.
   */
  async waitWritable(timeoutMs = 60_000): Promise<void> {
    const client = new DfsClient({ namenode: this.namenodeAddress, requestTimeoutMs: timeoutMs });
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        const [safeMode, nodes] = await Promise.all([client.safeMode('get'), client.datanodeReport()]);
        const live = nodes.filter((n) => n.state === DatanodeReportState.LIVE).length;
        if (!safeMode.on && live >= this.datanodes.length) return;
        if (Date.now() > deadline) {
          throw new DfsError(
            'TIMEOUT',
            `cluster not writable after ${timeoutMs} ms: ${live} of ${this.datanodes.length} DataNodes live; ` +
              (safeMode.on ? `safe mode on: ${safeMode.status}` : 'safe mode off'),
          );
        }
        await sleep(100);
      }
    } finally {
      client.close();
    }
  }

  dataDir(index: number): string {
    return path.join(this.options.baseDir, `data${index}`);
  }

  private makeDatanode(index: number, port: number): DaemonProcess {
    return new DaemonProcess({
      name: `datanode${index}`,
      args: [
        'datanode',
        '--namenode',
        `127.0.0.1:${this.namenode.port}`,
        '--data-dir',
        this.dataDir(index),
        ...(this.options.extraDataDirs?.(index) ?? []).flatMap((d) => ['--data-dir', d]),
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--http-host',
        '127.0.0.1',
        '--http-port',
        String(this.options.namenodeHttpPort === HTTP_OFF ? HTTP_OFF : 0),
        '--log-level',
        this.logLevel(),
      ],
      readyMessage: 'datanode listening',
      echoLogs: this.options.echoLogs ?? false,
      env: this.options.datanodeEnv?.(index) ?? {},
      nodeArgs: this.options.nodeArgs?.(index) ?? [],
      ownProcessGroup: this.options.ownProcessGroups ?? false,
    });
  }

  /** Adds one more DataNode process; returns its index. */
  async addDatanode(): Promise<number> {
    const i = this.datanodes.length;
    this.datanodes.push(this.makeDatanode(i, 0));
    await this.datanodes[i]!.start();
    return i;
  }

  /** Restarts DataNode i on its previous port with the same data directory. */
  async restartDatanode(index: number, env?: NodeJS.ProcessEnv): Promise<void> {
    const old = this.datanodes[index]!;
    await old.stop();
    const fresh = this.makeDatanode(index, old.port);
    if (env) fresh.options.env = env;
    this.datanodes[index] = fresh;
    await fresh.start();
  }

  /** Restarts the NameNode on the same port (after a stop or a kill). */
  async restartNamenode(): Promise<void> {
    const port = this.namenode.port;
    await this.namenode.stop();
    this.namenode = this.makeNamenode(port, this.namenode.httpPort > 0 ? this.namenode.httpPort : undefined);
    await this.namenode.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.datanodes.map((d) => d.stop()));
    await this.namenode.stop();
  }

  /** SIGKILLs every process (test teardown). */
  async killAll(): Promise<void> {
    await Promise.all([...this.datanodes.map((d) => d.kill()), this.namenode.kill()]);
  }
}

/**
 * The NameNode is restarted on its port (restartNamenode), so it must be one no other
 * process takes meanwhile: a port the kernel handed out for port 0 lies in the ephemeral
 * range (Linux: 32768-60999), where any outgoing connection may be given it while the
 * NameNode is down (a CI run saw EADDRINUSE on a restart). This picks one below that range
 * at random, and another if it is taken.
 */
export async function startOnFixedPort(make: (port: number) => DaemonProcess): Promise<DaemonProcess> {
  for (let attempt = 1; ; attempt++) {
    const daemon = make(FIXED_PORT_LOW + Math.floor(Math.random() * (FIXED_PORT_HIGH - FIXED_PORT_LOW)));
    try {
      await daemon.start();
      return daemon;
    } catch (err) {
      await daemon.stop().catch(() => {});
      if (attempt >= FIXED_PORT_ATTEMPTS || !/EADDRINUSE/.test((err as Error).message)) throw err;
    }
  }
}

const FIXED_PORT_LOW = 20000;
const FIXED_PORT_HIGH = 32000;
const FIXED_PORT_ATTEMPTS = 10;
