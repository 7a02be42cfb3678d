/**
 * Test helpers for real-process tests: a temp folder and a LocalCluster on port 0, torn
 * down (processes killed, folder removed) by the returned `cleanup`; `clusterPerTest` does
 * the bookkeeping for files that start one cluster per test.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import { LocalCluster, type LocalClusterOptions } from '../../src/local/local-cluster.js';

export function tempDir(prefix = 'dfs-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function startCluster(
  options: Partial<LocalClusterOptions> = {},
): Promise<{ cluster: LocalCluster; cleanup: () => Promise<void> }> {
  const baseDir = options.baseDir ?? tempDir();
  const cluster = new LocalCluster({ baseDir, namenodePort: 0, logLevel: 'warn', ...options });
  const cleanup = async (): Promise<void> => {
    await cluster.killAll();
    fs.rmSync(baseDir, { recursive: true, force: true });
  };
  try {
    await cluster.start();
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { cluster, cleanup };
}

export interface ClusterPerTest {
  /** Starts a cluster for the current test; it is killed and its folder removed after the test. */
  start(options?: Partial<LocalClusterOptions>): Promise<LocalCluster>;
  /** A client of `cluster`, closed after the test. */
  client(cluster: LocalCluster, requestTimeoutMs?: number): DfsClient;
}

/** Call at the top of a test file: each test starts its own cluster and clients, all torn down after it. */
export function clusterPerTest(): ClusterPerTest {
  const cleanups: Array<() => Promise<void>> = [];
  const clients: DfsClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });
  return {
    async start(options = {}) {
      const { cluster, cleanup } = await startCluster(options);
      cleanups.push(cleanup);
      return cluster;
    },
    client(cluster, requestTimeoutMs = 10_000) {
      const c = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs });
      clients.push(c);
      return c;
    },
  };
}
