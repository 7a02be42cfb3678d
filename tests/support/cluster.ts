/**
 * Test helpers for real-process tests: a temp folder and a LocalCluster on port 0, torn
 * down (processes killed, folder removed) by the returned `cleanup`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
