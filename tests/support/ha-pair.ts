/**
 * Real HA NameNodes on a real etcd for tests (issue 14): name directories formatted with one
 * cluster id, `dfsd namenode` processes with `journal: "etcd"`, DataNodes given every
 * NameNode, and the waits on /isActive. Every process started here is killed by the
 * cleanup the caller runs in `afterEach` (`HaPair.cleanup`). The caller starts and stops
 * etcd (tests/support/etcd.ts) and skips without it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DaemonProcess } from '../../src/local/daemon-process.js';
import { formatNameDir } from '../../src/namenode/name-dir.js';
import { tempDir } from './cluster.js';
import { waitFor } from './data-path.js';
import { httpRequest } from './http.js';

let clusters = 0;

export interface HaNamenodeOptions {
  /** etcd client URLs (default: the pair's). */
  endpoints?: string[];
  ttlSeconds?: number;
}

export class HaPair {
  readonly base = tempDir('dfs-ha-pair-');
  readonly clusterId = `CID-hap-${process.pid}-${++clusters}`;
  readonly nameDirs: string[] = [];
  private readonly cleanups: Array<() => Promise<void> | void> = [];

  constructor(
    readonly endpoints: string[],
    readonly ttlSeconds: number,
  ) {}

  /** The etcd key prefix of this cluster (ha-node.ts default). */
  get prefix(): string {
    return `/dfs/${this.clusterId}/`;
  }

  /** Runs at cleanup, after what was added before it (last in, first out). */
  onCleanup(fn: () => Promise<void> | void): void {
    this.cleanups.push(fn);
  }

  async cleanup(): Promise<void> {
    for (const c of this.cleanups.splice(0).reverse()) await c();
    fs.rmSync(this.base, { recursive: true, force: true });
  }

  /** Formats name directory `index` (once) and starts a NameNode on it named `id`. */
  async namenode(index: number, id: string, options: HaNamenodeOptions = {}): Promise<DaemonProcess> {
    while (this.nameDirs.length <= index) {
      const dir = path.join(this.base, `nn${this.nameDirs.length}`);
      await formatNameDir(dir, { force: false, clusterId: this.clusterId });
      this.nameDirs.push(dir);
    }
    const d = new DaemonProcess({
      name: id,
      args: [
        'namenode',
        '--name-dir',
        this.nameDirs[index]!,
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--http-port',
        '0',
      ],
      readyMessage: 'namenode listening',
      env: {
        DFS_NAMENODE_JOURNAL: 'etcd',
        DFS_NAMENODE_ETCD_ENDPOINTS: (options.endpoints ?? this.endpoints).join(','),
        DFS_NAMENODE_HA_LEASE_TTL_SECONDS: String(options.ttlSeconds ?? this.ttlSeconds),
        DFS_NAMENODE_NODE_ID: id,
        DFS_NAMENODE_SAFE_MODE_EXTENSION_MS: '0',
        DFS_NAMENODE_LOG_LEVEL: 'info',
      },
    });
    this.onCleanup(() => d.kill());
    await d.start();
    return d;
  }

  /** A DataNode reporting to every address in `namenodes` ("host:port,host:port"). */
  async datanode(name: string, namenodes: string): Promise<{ dn: DaemonProcess; dataDir: string }> {
    const dataDir = path.join(this.base, name);
    const dn = new DaemonProcess({
      name,
      args: ['datanode', '--namenode', namenodes, '--data-dir', dataDir],
      readyMessage: 'datanode listening',
      env: {
        DFS_DATANODE_PORT: '0',
        DFS_DATANODE_HTTP_PORT: '0',
        DFS_DATANODE_HOST: '127.0.0.1',
        DFS_DATANODE_HEARTBEAT_INTERVAL_MS: '300',
        DFS_DATANODE_SYNC_ON_FINALIZE: 'false',
      },
    });
    this.onCleanup(() => dn.kill());
    await dn.start();
    return { dn, dataDir };
  }
}

/** The status /isActive answers: 200 on the active, 405 on any other NameNode. */
export async function isActive(nn: DaemonProcess): Promise<number> {
  return (await httpRequest(nn.httpPort, '/isActive')).status;
}

export function untilActive(nn: DaemonProcess, timeoutMs = 15_000): Promise<true> {
  return waitFor(
    `${nn.options.name} active`,
    async () => ((await isActive(nn)) === 200 ? true : undefined),
    timeoutMs,
  );
}

/** Resolves with the first log line of `d` that `match` accepts, waiting up to `timeoutMs`. */
export function untilLogged(
  d: DaemonProcess,
  what: string,
  match: (line: Record<string, unknown>) => boolean,
  timeoutMs = 15_000,
): Promise<Record<string, unknown>> {
  return waitFor(what, () => Promise.resolve(d.logs.find(match)), timeoutMs);
}
