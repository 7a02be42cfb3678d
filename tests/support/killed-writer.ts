/**
 * A writer that vanishes mid-block, for the block recovery and unfinished-replica tests:
 * a real `dfs put - REMOTE` child process fed bytes on stdin (never ended, so it waits for
 * more), SIGKILLed once every DataNode holds at least `rbwBytes` of the block being
 * written in rbw/. Also what the DataNodes hold there, read from their data directories.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { DfsClient } from '../../src/client/dfs-client.js';
import { DFS_BIN } from '../../src/local/daemon-process.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { waitFor } from './data-path.js';

/**
 * NameNode settings under which an abandoned file is recovered within seconds: a 3 s lease,
 * checked every 300 ms, a block recovery given 10 s.
 */
export const FAST_LEASE_RECOVERY_ENV: NodeJS.ProcessEnv = {
  DFS_NAMENODE_LEASE_LIMIT_MS: '3000',
  DFS_NAMENODE_LEASE_CHECK_INTERVAL_MS: '300',
  DFS_NAMENODE_BLOCK_RECOVERY_TIMEOUT_MS: '10000',
};

/** Where `dfs put - REMOTE` writes until it is done (src/cli/commands/data.ts). */
export function copyingPath(remote: string): string {
  return `${remote}._COPYING_`;
}

/** Block id -> bytes of the rbw data file, for every unfinished replica in a data directory. */
export function rbwSizes(dataDir: string): Map<number, number> {
  const dir = path.join(dataDir, 'current', 'rbw');
  const out = new Map<number, number>();
  if (!fs.existsSync(dir)) return out;
  for (const name of fs.readdirSync(dir)) {
    const m = /^blk_(\d+)$/.exec(name);
    if (m === null) continue;
    try {
      out.set(Number(m[1]), fs.statSync(path.join(dir, name, 'data')).size);
    } catch {
      // finalized or deleted between the listing and the stat
    }
  }
  return out;
}

export interface KilledPut {
  /** The block being written when the writer died. */
  blockId: number;
  /** The fewest bytes of it any DataNode's rbw file held after the kill. */
  heldBytes: number;
}

/**
 * Runs `dfs put --block-size blockBytes - remote`, writes `source` to its stdin, waits until
 * block number `blockIndex` of the file has at least `rbwBytes` in rbw/ on every DataNode
 * of `cluster`, then SIGKILLs the put.
 */
export async function putKilledMidBlock(
  cluster: LocalCluster,
  client: DfsClient,
  o: {
    remote: string;
    source: Buffer;
    blockBytes: number;
    blockIndex: number;
    rbwBytes: number;
    /** More environment for the put (DFS_CHECKSUM, say). */
    env?: NodeJS.ProcessEnv;
  },
): Promise<KilledPut> {
  const put = spawn(
    process.execPath,
    [
      DFS_BIN,
      '--namenode',
      cluster.namenodeAddress,
      'put',
      '--block-size',
      String(o.blockBytes),
      '-',
      o.remote,
    ],
    { stdio: ['pipe', 'ignore', 'ignore'], env: { ...process.env, DFS_NAMENODE: undefined, ...o.env } },
  );
  const killTimer = setTimeout(() => put.kill('SIGKILL'), 60_000);
  const exited = new Promise<void>((resolve) => put.once('exit', () => resolve()));
  put.stdin.on('error', () => {});
  put.stdin.write(o.source);
  try {
    const blockId = await waitFor(
      `block ${o.blockIndex} of ${o.remote} in rbw on every DataNode`,
      async () => {
        const located = await client.getBlockLocations(copyingPath(o.remote)).catch(() => null);
        const id = located?.blocks[o.blockIndex]?.block.blockId;
        if (id === undefined) return undefined;
        const sizes = cluster.datanodes.map((_, i) => rbwSizes(cluster.dataDir(i)).get(id) ?? 0);
        return sizes.every((s) => s >= o.rbwBytes) ? id : undefined;
      },
      30_000,
    );
    put.kill('SIGKILL');
    await exited;
    const heldBytes = Math.min(
      ...cluster.datanodes.map((_, i) => rbwSizes(cluster.dataDir(i)).get(blockId) ?? 0),
    );
    return { blockId, heldBytes };
  } finally {
    put.kill('SIGKILL');
    clearTimeout(killTimer);
  }
}
