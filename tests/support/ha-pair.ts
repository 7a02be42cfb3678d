/**
 * Real HA NameNodes on a real etcd for tests (issue 14): name directories formatted with one
 * cluster id, `dfsd namenode` processes with `journal: "etcd"`, DataNodes given every
 * NameNode, and the waits on /isActive. Every process started here is killed by the
 * cleanup the caller runs in `afterEach` (`HaPair.cleanup`). The caller starts and stops
 * etcd (tests/support/etcd.ts) and skips without it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DaemonProcess } from '../../src/local/daemon-process.js';
import { haDatanodeProcess, haNamenodeProcess } from '../../src/local/ha-cluster.js';
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
    const d = haNamenodeProcess({
      id,
      nameDir: this.nameDirs[index]!,
      port: 0,
      etcdEndpoints: options.endpoints ?? this.endpoints,
      ttlSeconds: options.ttlSeconds ?? this.ttlSeconds,
    });
    this.onCleanup(() => d.kill());
    await d.start();
    return d;
  }

  /** A DataNode reporting to every address in `namenodes` ("host:port,host:port"). */
  async datanode(name: string, namenodes: string): Promise<{ dn: DaemonProcess; dataDir: string }> {
    const dataDir = path.join(this.base, name);
    const dn = haDatanodeProcess({ name, namenodes, dataDir });
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
