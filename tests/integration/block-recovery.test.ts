/**
 * Block recovery across real processes (issue 10 item 2, issue 15 item 2): a `dfs put`
 * SIGKILLed in the middle of its second block leaves an open file whose last block exists
 * only as unfinished (rbw) replicas on three DataNodes. Once its lease expires the NameNode
 * runs a block recovery: a primary agrees with the others on the length they all hold, the
 * replicas are cut to it and finalized with a new stamp, and the file is closed there. What
 * the pipeline had written to every replica survives its writer, reads back equal to the
 * source, fsck is healthy, the recovery is logged on the NameNode and the primary, and
 * another client can then overwrite the file.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DFS_BIN } from '../../src/local/daemon-process.js';
import { clusterPerTest } from '../support/cluster.js';
import { runDfs } from '../support/dfs-cli.js';
import { getBuffer, logsMatching, testBytes, waitFor } from '../support/data-path.js';

const clusters = clusterPerTest();

const BLOCK = 4 * 1024 * 1024;
/** Where `dfs put - /crashed` writes until it is done (src/cli/commands/data.ts). */
const WRITING = '/crashed._COPYING_';
const CHUNK = 64 * 1024;

/** Sizes of the rbw data files of every DataNode (index -> blockId -> bytes). */
function rbwSizes(dataDir: string): Map<number, number> {
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

describe('lease recovery runs block recovery', () => {
  it('a put SIGKILLed mid-second-block: the file is closed at the length every replica holds', async () => {
    const cluster = await clusters.start({
      datanodes: 3,
      namenodeEnv: {
        DFS_NAMENODE_LEASE_LIMIT_MS: '3000',
        DFS_NAMENODE_LEASE_CHECK_INTERVAL_MS: '300',
        DFS_NAMENODE_BLOCK_RECOVERY_TIMEOUT_MS: '10000',
      },
    });
    await cluster.waitWritable();
    const client = clusters.client(cluster);
    // One full block, then two full packets (2 MiB) of the second and half a packet the
    // writer still holds when it dies.
    const source = testBytes(BLOCK + 2.5 * 1024 * 1024, 7);
    const put = spawn(
      process.execPath,
      [DFS_BIN, '--namenode', cluster.namenodeAddress, 'put', '--block-size', String(BLOCK), '-', '/crashed'],
      { stdio: ['pipe', 'ignore', 'pipe'], env: { ...process.env, DFS_NAMENODE: undefined } },
    );
    const killTimer = setTimeout(() => put.kill('SIGKILL'), 60_000);
    const exited = new Promise<void>((resolve) => put.once('exit', () => resolve()));
    put.stdin.on('error', () => {});
    put.stdin.write(source); // and never ended: the put waits for more

    // Every DataNode holds an rbw replica of the second block with the two packets.
    const second = await waitFor(
      'the second block on every DataNode',
      async () => {
        const located = await client.getBlockLocations(WRITING).catch(() => null);
        const blockId = located?.blocks[1]?.block.blockId;
        if (blockId === undefined) return undefined;
        const sizes = cluster.datanodes.map((_, i) => rbwSizes(cluster.dataDir(i)).get(blockId) ?? 0);
        return sizes.every((s) => s >= 2 * 1024 * 1024) ? blockId : undefined;
      },
      30_000,
    );
    put.kill('SIGKILL');
    await exited;
    clearTimeout(killTimer);
    const held = Math.min(...cluster.datanodes.map((_, i) => rbwSizes(cluster.dataDir(i)).get(second) ?? 0));

    const closed = await waitFor(
      'lease recovery to close the file',
      async () => {
        const st = await client.stat(WRITING);
        return st.underConstruction ? undefined : st;
      },
      30_000,
      200,
    );
    // At least the first block and what every replica of the second held (whole chunks).
    expect(closed.length).toBeGreaterThanOrEqual(BLOCK + Math.floor(held / CHUNK) * CHUNK);
    expect(closed.length).toBeGreaterThan(BLOCK);
    expect(closed.length).toBeLessThanOrEqual(source.length);
    const back = await getBuffer(client, WRITING);
    expect(back.length).toBe(closed.length);
    expect(back.equals(source.subarray(0, closed.length))).toBe(true);

    const nn = logsMatching(cluster.namenode, {
      msg: 'block recovery committed; file closed',
      path: WRITING,
    });
    expect(nn).toHaveLength(1);
    expect(nn[0]!.length).toBe(closed.length - BLOCK);
    expect((nn[0]!.nodes as string[]).length).toBe(3);
    const primaries = cluster.datanodes.filter(
      (d) => logsMatching(d, { msg: 'block recovery committed', block: second }).length > 0,
    );
    expect(primaries).toHaveLength(1);

    // Healthy: every block with its replicas, nothing corrupt, missing or under construction.
    const fsck = await runDfs(cluster.namenodeAddress, ['fsck', '/']);
    expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
    expect(fsck.stdout).toMatch(/HEALTHY/);
    // No replica of the block is left unfinished on any DataNode.
    await waitFor('no rbw replica of the recovered block', () =>
      cluster.datanodes.every((_, i) => !rbwSizes(cluster.dataDir(i)).has(second)) ? true : undefined,
    );

    // Another client can take the path over: the same put again creates the crashed file
    // anew (with overwrite), then renames it into place.
    const local = path.join(cluster.options.baseDir, 'new.bin');
    const fresh = testBytes(300_000, 8);
    fs.writeFileSync(local, fresh);
    const over = await runDfs(cluster.namenodeAddress, ['put', '-f', local, '/crashed']);
    expect(over.code, over.stderr).toBe(0);
    expect((await getBuffer(client, '/crashed')).equals(fresh)).toBe(true);
    expect(await client.exists(WRITING)).toBeNull();
  }, 120_000);
});
