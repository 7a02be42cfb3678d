/**
 * A local HA cluster of real processes (issue 14), for the HA fault tests
 * (tests/support/ha-cluster.ts puts a TCP proxy in front of etcd per NameNode) and `dfs-bench
 * ha`: NameNodes with `journal: "etcd"` on a running etcd (etcd-process.ts), optionally
 * DataNodes reporting to every one of them.
 *
 * Each NameNode keeps its RPC port across restarts (clients hold the comma list of every
 * address): it is chosen below the ephemeral range (local-cluster.ts `startOnFixedPort`),
 * its HTTP port anew each time. Everything started is killed by PID in `stop()`.
 */
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { DfsClient } from '../client/dfs-client.js';
import { formatNameDir } from '../namenode/name-dir.js';
import { DaemonProcess } from './daemon-process.js';
import { startOnFixedPort } from './local-cluster.js';
import { waitUntil } from './poll.js';

export interface HaClusterOptions {
  /**
   * The etcd client URLs NameNode `i` is given (its own proxies in the fault tests), called
   * once per NameNode.
   */
  etcdEndpoints: (i: number) => Promise<string[]>;
  namenodes?: number;
  datanodes?: number;
  ttlSeconds: number;
  /** The NameNodes' log level: info at least, which carries the line that says it is serving. */
  logLevel?: 'info' | 'debug';
  /** Copy the NameNodes' logs to stderr (debugging). */
  echoLogs?: boolean;
  /** Extra environment of every NameNode. */
  namenodeEnv?: Record<string, string>;
}

/** One NameNode's slot: its current process (replaced on restart). */
export interface NamenodeSlot {
  readonly id: string;
  readonly nameDir: string;
  readonly port: number;
  process: DaemonProcess;
  readonly etcdEndpoints: string[];
}

let clusters = 0;

/** A `dfsd namenode` with `journal: "etcd"`, as every HA test and `dfs-bench ha` start one. */
export interface HaNamenodeSpec {
  id: string;
  nameDir: string;
  /** 0: any free port (not kept across a restart: see `startOnFixedPort`). */
  port: number;
  etcdEndpoints: readonly string[];
  ttlSeconds: number;
  /** Listen address (default 127.0.0.1). */
  host?: string;
  /** Environment on top of the HA settings (DFS_NAMENODE_...). */
  env?: Record<string, string>;
  launcher?: string[];
  echoLogs?: boolean;
}

export function haNamenodeProcess(s: HaNamenodeSpec): DaemonProcess {
  return new DaemonProcess({
    name: s.id,
    args: ['namenode', '--name-dir', s.nameDir, '--host', s.host ?? '127.0.0.1', '--port', String(s.port)],
    readyMessage: 'namenode listening',
    echoLogs: s.echoLogs,
    launcher: s.launcher,
    env: {
      DFS_NAMENODE_HTTP_PORT: '0',
      DFS_NAMENODE_JOURNAL: 'etcd',
      DFS_NAMENODE_ETCD_ENDPOINTS: s.etcdEndpoints.join(','),
      DFS_NAMENODE_HA_LEASE_TTL_SECONDS: String(s.ttlSeconds),
      DFS_NAMENODE_NODE_ID: s.id,
      DFS_NAMENODE_SAFE_MODE_EXTENSION_MS: '0',
      DFS_NAMENODE_LOG_LEVEL: 'info',
      ...s.env,
    },
  });
}

/**
 * A DataNode on loopback (ports 0) reporting to every NameNode in `namenodes`
 * ("host:port,host:port"), heartbeating every 300 ms, without fsync at finalize (these runs
 * are about the NameNodes).
 */
export function haDatanodeProcess(s: {
  name: string;
  namenodes: string;
  dataDir: string;
  env?: Record<string, string>;
}): DaemonProcess {
  return new DaemonProcess({
    name: s.name,
    args: ['datanode', '--namenode', s.namenodes, '--data-dir', s.dataDir],
    readyMessage: 'datanode listening',
    env: {
      DFS_DATANODE_PORT: '0',
      DFS_DATANODE_HTTP_PORT: '0',
      DFS_DATANODE_HOST: '127.0.0.1',
      DFS_DATANODE_HEARTBEAT_INTERVAL_MS: '300',
      DFS_DATANODE_SYNC_ON_FINALIZE: 'false',
      ...s.env,
    },
  });
}

export class HaCluster {
  readonly slots: NamenodeSlot[] = [];
  readonly datanodes: DaemonProcess[] = [];
  /** Every process ever started (restarts included), for log checks and cleanup. */
  readonly processes: DaemonProcess[] = [];
  private readonly clients: DfsClient[] = [];

  private constructor(
    private readonly options: HaClusterOptions,
    readonly dir: string,
    readonly clusterId: string,
  ) {}

  /** The first NameNode becomes active, the others standbys; then the DataNodes start. */
  static async start(options: HaClusterOptions): Promise<HaCluster> {
    const clusterId = `CID-hac-${process.pid}-${++clusters}`;
    const cluster = new HaCluster(options, fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-hac-')), clusterId);
    try {
      for (let i = 0; i < (options.namenodes ?? 2); i++) {
        await cluster.addNamenode(i);
        if (i === 0) await cluster.untilActive(0, 20_000);
      }
      for (let i = 0; i < (options.datanodes ?? 0); i++) await cluster.addDatanode(i);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** Every NameNode's address, as clients and DataNodes are given them. */
  get addresses(): string {
    return this.slots.map((s) => `127.0.0.1:${s.port}`).join(',');
  }

  /** A client of every NameNode (failing over), closed in `stop()`. */
  client(clientName?: string): DfsClient {
    const c = new DfsClient({ namenode: this.addresses, requestTimeoutMs: 10_000, clientName });
    this.clients.push(c);
    return c;
  }

  private async addNamenode(i: number): Promise<void> {
    const id = `nn${i}`;
    const nameDir = path.join(this.dir, id);
    await formatNameDir(nameDir, { force: false, clusterId: this.clusterId });
    const etcdEndpoints = await this.options.etcdEndpoints(i);
    const daemon = await startOnFixedPort((port) => this.namenodeProcess(id, nameDir, port, etcdEndpoints));
    this.processes.push(daemon);
    this.slots.push({ id, nameDir, port: daemon.port, process: daemon, etcdEndpoints });
  }

  private namenodeProcess(id: string, nameDir: string, port: number, etcdEndpoints: string[]): DaemonProcess {
    return haNamenodeProcess({
      id,
      nameDir,
      port,
      etcdEndpoints,
      ttlSeconds: this.options.ttlSeconds,
      echoLogs: this.options.echoLogs,
      env: { DFS_NAMENODE_LOG_LEVEL: this.options.logLevel ?? 'info', ...this.options.namenodeEnv },
    });
  }

  private async addDatanode(i: number): Promise<void> {
    const dn = haDatanodeProcess({
      name: `dn${i}`,
      namenodes: this.addresses,
      dataDir: path.join(this.dir, `dn${i}`),
    });
    this.processes.push(dn);
    this.datanodes.push(dn);
    await dn.start();
  }

  /** Starts slot `i`'s NameNode again (after it was killed or exited) on its port. */
  async restart(i: number): Promise<void> {
    const slot = this.slots[i]!;
    if (slot.process.running) throw new Error(`${slot.id} is still running`);
    slot.process = this.namenodeProcess(slot.id, slot.nameDir, slot.port, slot.etcdEndpoints);
    this.processes.push(slot.process);
    await slot.process.start();
  }

  /** 200 from /isActive on the active, 405 on a standby, 0 when it does not answer. */
  async isActive(i: number): Promise<number> {
    const p = this.slots[i]!.process;
    if (!p.running || p.httpPort === 0) return 0;
    // A paused process accepts but never answers: ask with a short timeout.
    return fetch(`http://127.0.0.1:${p.httpPort}/isActive`, { signal: AbortSignal.timeout(500) }).then(
      async (res) => (await res.arrayBuffer(), res.status),
      () => 0,
    );
  }

  untilActive(i: number, timeoutMs: number): Promise<true> {
    return waitUntil(`${this.slots[i]!.id} active`, timeoutMs, async () =>
      (await this.isActive(i)) === 200 ? true : undefined,
    );
  }

  /** The slot whose NameNode answers /isActive 200 (other than `except`), waiting up to `timeoutMs`. */
  activeIndex(timeoutMs: number, except = -1): Promise<number> {
    return waitUntil('an active NameNode', timeoutMs, async () => {
      for (let i = 0; i < this.slots.length; i++)
        if (i !== except && (await this.isActive(i)) === 200) return i;
      return undefined;
    });
  }

  /** Waits until slot `i` answers as a standby (405): started, caught up, campaigning. */
  untilStandby(i: number, timeoutMs: number): Promise<true> {
    return waitUntil(`${this.slots[i]!.id} standby`, timeoutMs, async () =>
      (await this.isActive(i)) === 405 ? true : undefined,
    );
  }

  /** The `time` (ms) of the first log line `msg` of `process`, if it logged one. */
  static logTime(daemon: DaemonProcess, msg: string): number | undefined {
    const rec = daemon.logs.find((r) => r.msg === msg);
    return rec === undefined ? undefined : Date.parse(String(rec.time));
  }

  async stop(): Promise<void> {
    for (const c of this.clients.splice(0)) c.close();
    await Promise.all(this.processes.map((p) => p.kill()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
