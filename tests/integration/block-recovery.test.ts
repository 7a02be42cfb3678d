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
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { clusterPerTest } from '../support/cluster.js';
import { runDfs } from '../support/dfs-cli.js';
import { getBuffer, logsMatching, testBytes, waitFor } from '../support/data-path.js';
import { copyingPath, putKilledMidBlock, rbwSizes } from '../support/killed-writer.js';

const clusters = clusterPerTest();

const BLOCK = 4 * 1024 * 1024;
const CHUNK = 64 * 1024;
const WRITING = copyingPath('/crashed');

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
    const { blockId: second, heldBytes: held } = await putKilledMidBlock(cluster, client, {
      remote: '/crashed',
      source,
      blockBytes: BLOCK,
      blockIndex: 1,
      rbwBytes: 2 * 1024 * 1024,
    });

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
