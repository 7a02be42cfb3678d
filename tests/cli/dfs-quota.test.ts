/**
 * Name and space quotas across real processes (`dfs` CLI, client library, NameNode,
 * DataNodes): each kind exceeded by create, mkdir, rename and a write that grows past the
 * space quota mid-file (its completed blocks are kept); the limits and the usage survive a
 * NameNode restart from its image and from its edit log after kill -9; only ADMIN sets them.
 */
import { randomBytes } from 'node:crypto';
import { finished } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { Role } from '../../protocol/handshake.js';
import { clusterPerTest } from '../support/cluster.js';
import { waitFor } from '../support/data-path.js';
import { failedWith, ok, runDfs, type DfsRun } from '../support/dfs-cli.js';

const MIB = 1024 * 1024;
const clusters = clusterPerTest();
let cluster: LocalCluster;
let client: DfsClient;

const dfs = (args: string[]): Promise<DfsRun> => runDfs(cluster.namenodeAddress, args);

async function start(env: NodeJS.ProcessEnv = {}): Promise<void> {
  cluster = await clusters.start({
    datanodes: 3,
    namenodeEnv: { DFS_NAMENODE_SAFE_MODE_EXTENSION_MS: '200', ...env },
  });
  client = clusters.client(cluster);
  await client.waitSafeModeOff(30_000, 100);
}

async function write(
  path: string,
  data: Buffer | string,
  options: { replication?: number; blockBytes?: number } = {},
) {
  const out = client.create(path, { createParent: true, ...options });
  out.end(typeof data === 'string' ? Buffer.from(data) : data);
  // finished() rejects with the stream's error (end's callback would be called with it too).
  await finished(out);
}

async function read(path: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of client.open(path) as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

interface CountQ {
  path: string;
  nameQuota: number | null;
  nameQuotaRemaining: number | null;
  spaceQuota: number | null;
  spaceQuotaRemaining: number | null;
  spaceConsumed: number;
}

async function countQ(path: string): Promise<CountQ> {
  return (JSON.parse(ok(await dfs(['--json', 'count', '-q', path])).stdout) as CountQ[])[0]!;
}

describe('name quotas', () => {
  it('refuse create, mkdir and rename past the quota; deletes make room; clrQuota removes it', async () => {
    await start();
    await client.mkdir('/q');
    expect(JSON.parse(ok(await dfs(['--json', 'admin', 'setQuota', '4', '/q'])).stdout)).toEqual({
      done: ['/q'],
    });
    for (const n of ['a', 'b', 'c']) await write(`/q/${n}`, n);
    // /q itself and three files: 4 of 4.
    expect(
      ok(await dfs(['count', '-q', '/q']))
        .stdout.trim()
        .split(/\s+/),
    ).toEqual(['4', '0', 'none', 'inf', '1', '3', '3', '/q']);
    const create = await dfs(['touchz', '/q/d']);
    expect(failedWith(create, 'touchz', 'QUOTA_EXCEEDED')).toMatch(/name quota .*\/q.*quota 4, would use 5/);
    failedWith(await dfs(['mkdir', '/q/dir']), 'mkdir', 'QUOTA_EXCEEDED');
    await write('/outside', 'x');
    failedWith(await dfs(['mv', '/outside', '/q/moved']), 'mv', 'QUOTA_EXCEEDED');
    expect(await client.exists('/outside')).not.toBeNull();
    // A rename within the directory changes nothing.
    ok(await dfs(['mv', '/q/a', '/q/a2']));
    // A delete makes room (skip the trash: it is outside /q anyway).
    ok(await dfs(['rm', '--skip-trash', '/q/b']));
    ok(await dfs(['mv', '/outside', '/q/moved']));
    failedWith(await dfs(['touchz', '/q/e']), 'touchz', 'QUOTA_EXCEEDED');
    ok(await dfs(['admin', 'clrQuota', '/q']));
    ok(await dfs(['touchz', '/q/e', '/q/f']));
    expect((await countQ('/q')).nameQuota).toBeNull();
  });

  it('are judged on every directory above, and a mkdir -p counts every directory it makes', async () => {
    await start();
    await client.mkdir('/top/mid', { parents: true });
    ok(await dfs(['admin', 'setQuota', '3', '/top']));
    // /top, /top/mid: 2 of 3; mkdir -p of two more would make 4.
    failedWith(await dfs(['mkdir', '-p', '/top/mid/x/y']), 'mkdir', 'QUOTA_EXCEEDED');
    expect(await client.exists('/top/mid/x')).toBeNull();
    ok(await dfs(['mkdir', '/top/mid/x']));
    failedWith(await dfs(['touchz', '/top/mid/x/f']), 'touchz', 'QUOTA_EXCEEDED');
  });
});

describe('space quotas', () => {
  it('count replicas and a whole block while it is written; a write past the quota fails, its completed blocks stay', async () => {
    await start({ DFS_NAMENODE_LEASE_LIMIT_MS: '2000', DFS_NAMENODE_LEASE_CHECK_INTERVAL_MS: '200' });
    await client.mkdir('/s');
    ok(await dfs(['admin', 'setSpaceQuota', '3M', '/s']));
    // Replication 3 with 1 MiB blocks: the first block alone reserves 3 MiB.
    await write('/s/small', randomBytes(MIB), { replication: 3, blockBytes: MIB });
    expect((await countQ('/s')).spaceConsumed).toBe(3 * MIB);
    // A new file's first block would reserve 3 MiB more.
    await expect(write('/s/next', 'y', { replication: 3, blockBytes: MIB })).rejects.toMatchObject({
      code: 'QUOTA_EXCEEDED',
    });
    // setrep raising the replication past the quota is refused too.
    failedWith(await dfs(['setrep', '4', '/s/small']), 'setrep', 'QUOTA_EXCEEDED');
    ok(await dfs(['admin', 'clrSpaceQuota', '/s']));

    // Mid-file: replication 1, 1 MiB blocks, quota 3 MiB: blocks 1-3 fit, the 4th does not.
    await client.mkdir('/w');
    ok(await dfs(['admin', 'setSpaceQuota', '3M', '/w']));
    const data = randomBytes(5 * MIB);
    const out = client.create('/w/big', { replication: 1, blockBytes: MIB });
    out.end(data);
    await expect(finished(out)).rejects.toMatchObject({ code: 'QUOTA_EXCEEDED' });
    const acked = out.bytesAcked;
    expect(acked).toBeGreaterThanOrEqual(2 * MIB);
    // The writer is gone; once its lease expires, the file is closed with what was acknowledged.
    const closed = await waitFor(
      'the file closed by lease recovery',
      async () => {
        const st = await client.stat('/w/big');
        return st.underConstruction ? undefined : st;
      },
      20_000,
    );
    // Every byte the pipeline acknowledged before the refused addBlock survives: blocks 1
    // and 2 committed by the addBlocks after them, the third by block recovery.
    expect(closed.length).toBeGreaterThanOrEqual(acked);
    expect((await read('/w/big')).equals(data.subarray(0, closed.length))).toBe(true);
    expect((await countQ('/w')).spaceConsumed).toBe(closed.length);
  });
});

describe('quotas are kept', () => {
  it('in the image and the edit log: limits and usage survive restarts and kill -9', async () => {
    await start({ DFS_NAMENODE_CHECKPOINT_TXNS: '5' });
    await client.mkdir('/k');
    ok(await dfs(['admin', 'setQuota', '5', '/k']));
    ok(await dfs(['admin', 'setSpaceQuota', '10M', '/k']));
    // 1 MiB blocks: a block being written reserves 2 MiB at replication 2.
    for (const n of ['1', '2']) await write(`/k/${n}`, 'abc', { replication: 2, blockBytes: MIB });
    const before = await countQ('/k');
    expect(before).toMatchObject({
      nameQuota: 5,
      nameQuotaRemaining: 2,
      spaceQuota: 10 * MIB,
      spaceConsumed: 12,
    });
    // kill -9 (the edit log replays), then a clean restart (the checkpoint image loads).
    await cluster.namenode.kill();
    await cluster.restartNamenode();
    client = clusters.client(cluster);
    await client.waitSafeModeOff(30_000, 100);
    expect(await countQ('/k')).toEqual(before);
    await cluster.restartNamenode();
    client = clusters.client(cluster);
    await client.waitSafeModeOff(30_000, 100);
    expect(await countQ('/k')).toEqual(before);
    await write('/k/3', 'x', { blockBytes: MIB });
    await write('/k/4', 'x', { blockBytes: MIB });
    await expect(write('/k/5', 'x', { blockBytes: MIB })).rejects.toMatchObject({ code: 'QUOTA_EXCEEDED' });
  });

  it('are set only over an ADMIN connection', async () => {
    await start();
    await client.mkdir('/adm');
    await expect(client.setQuota('/adm', { names: 10 })).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
    const admin = new DfsClient({ namenode: cluster.namenodeAddress, role: Role.ADMIN });
    try {
      await admin.setQuota('/adm', { names: 10 });
      await expect(admin.setQuota('/nope', { names: 10 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await write('/adm/f', 'x');
      await expect(admin.setQuota('/adm/f', { names: 10 })).rejects.toMatchObject({
        code: 'NOT_A_DIRECTORY',
      });
    } finally {
      admin.close();
    }
    expect((await client.contentSummary('/adm')).nsQuota).toBe(10);
  });
});
