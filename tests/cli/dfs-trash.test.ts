/**
 * Trash across real processes (`dfs` CLI, NameNode, DataNodes), as HDFS users know it: `rm`
 * moves paths to /user/<user>/.Trash/Current, `mv` restores them, `--skip-trash` and paths
 * already in the trash delete at once, `expunge` empties the caller's trash; the NameNode
 * turns Current into checkpoints and deletes checkpoints older than the interval; a
 * NameNode SIGKILLed again and again while it checkpoints loses no trashed file.
 */
import { randomBytes } from 'node:crypto';
import { finished } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import type { DfsClient } from '../../src/client/dfs-client.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { clusterPerTest } from '../support/cluster.js';
import { logsMatching, waitFor } from '../support/data-path.js';
import { failedWith, ok, runDfs, type DfsRun } from '../support/dfs-cli.js';
import { blockIdsOnDisk } from '../support/healing.js';

const USER = 'alice';
const TRASH = `/user/${USER}/.Trash`;
const clusters = clusterPerTest();
let cluster: LocalCluster;
let client: DfsClient;

const dfs = (args: string[], user = USER): Promise<DfsRun> =>
  runDfs(cluster.namenodeAddress, args, { env: { DFS_USER: user } });

/**
 * The test client acts as the superuser (the NameNode's user). It opens the tree to the
 * test users (`/` 0777: what it writes beneath inherits that), and with `homes` makes `/user`
 * 1777 as an operator would, so alice and bob make their homes, where their trash goes.
 */
async function start(env: NodeJS.ProcessEnv, homes = true): Promise<void> {
  cluster = await clusters.start({ datanodes: 3, logLevel: 'info', namenodeEnv: env });
  client = clusters.client(cluster);
  await client.waitSafeModeOff(30_000, 100);
  await client.setPermission('/', 0o777);
  if (!homes) return;
  await client.mkdir('/user');
  await client.setPermission('/user', 0o1777);
}

async function write(path: string, data: Buffer | string): Promise<void> {
  const out = client.create(path, { createParent: true });
  out.end(typeof data === 'string' ? Buffer.from(data) : data);
  await finished(out); // rejects with the stream's error
}

async function read(path: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of client.open(path) as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/**
 * Every file beneath `dir` (full paths), walking the namespace. The trash emptier renames
 * and deletes under the walk: a directory gone between its listing and its parent's counts
 * as empty (the callers wait for a state, and look again).
 */
async function filesBeneath(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of client.list(dir)) {
      const full = `${dir}/${e.path}`;
      if (e.type === 1) out.push(...(await filesBeneath(full)));
      else out.push(full);
    }
  } catch (err) {
    if ((err as { code?: string }).code !== 'NOT_FOUND') throw err;
  }
  return out;
}

describe('trash on (a long interval)', () => {
  it('rm moves to the caller trash, mv restores, skip-trash and rm in trash delete, expunge empties', async () => {
    await start({ DFS_NAMENODE_TRASH_INTERVAL_MINUTES: '60' });
    const info = JSON.parse(ok(await dfs(['--json', 'info'])).stdout) as { trashIntervalMs: number };
    expect(info.trashIntervalMs).toBe(3_600_000);
    const data = randomBytes(200_000);
    await write('/data/a', data);
    await write('/data/dir/b', 'b');

    const r = ok(await dfs(['rm', '/data/a']));
    expect(r.stdout).toBe(`Moved: '/data/a' to trash at: ${TRASH}/Current/data/a\n`);
    expect(await client.exists('/data/a')).toBeNull();
    expect((await read(`${TRASH}/Current/data/a`)).equals(data)).toBe(true);
    // du counts what is in the trash.
    const du = JSON.parse(ok(await dfs(['--json', 'du', '-s', `/user/${USER}`])).stdout) as {
      bytes: number;
    }[];
    expect(du[0]!.bytes).toBe(data.length);

    // Restore by mv.
    ok(await dfs(['mv', `${TRASH}/Current/data/a`, '/data/a']));
    expect((await read('/data/a')).equals(data)).toBe(true);

    // The same path trashed twice: the second gets a time suffix, as in hdfs.
    ok(await dfs(['rm', '/data/a']));
    await write('/data/a', 'second');
    const again = JSON.parse(ok(await dfs(['--json', 'rm', '/data/a'])).stdout) as {
      done: string[];
      movedToTrash: { path: string; trashPath: string }[];
    };
    expect(again.done).toEqual(['/data/a']);
    expect(again.movedToTrash[0]!.trashPath).toMatch(new RegExp(`^${TRASH}/Current/data/a\\d+$`));
    expect((await read(again.movedToTrash[0]!.trashPath)).toString()).toBe('second');

    // A directory (needs -r) goes whole; a path already in the trash is deleted for real.
    ok(await dfs(['rm', '-r', '/data/dir']));
    expect((await read(`${TRASH}/Current/data/dir/b`)).toString()).toBe('b');
    expect(ok(await dfs(['rm', `${TRASH}/Current/data/dir/b`])).stdout).toBe('');
    expect(await client.exists(`${TRASH}/Current/data/dir/b`)).toBeNull();

    // --skip-trash deletes at once.
    await write('/data/c', 'c');
    expect(ok(await dfs(['rm', '--skip-trash', '/data/c'])).stdout).toBe('');
    expect(await filesBeneath(TRASH)).not.toContain(`${TRASH}/Current/data/c`);

    // Another user's trash is its own; a path holding the trash cannot move into it.
    await write('/data/d', 'd');
    ok(await dfs(['--user', 'bob', 'rm', '/data/d']));
    expect((await read('/user/bob/.Trash/Current/data/d')).toString()).toBe('d');
    failedWith(await dfs(['rm', '-r', `/user/${USER}`]), 'rm', 'INVALID_ARGUMENT');

    // expunge empties the caller's trash only.
    expect(JSON.parse(ok(await dfs(['--json', 'expunge'])).stdout)).toEqual({ expunged: true });
    expect(await client.exists(TRASH)).toBeNull();
    expect(await client.exists('/user/bob/.Trash/Current/data/d')).not.toBeNull();
  });
});

describe('trash off', () => {
  it('rm deletes at once and info says so', async () => {
    await start({ DFS_NAMENODE_TRASH_INTERVAL_MINUTES: '0' }, false);
    await write('/x', 'x');
    expect(ok(await dfs(['rm', '/x'])).stdout).toBe('');
    expect(await client.exists('/x')).toBeNull();
    expect(await client.exists('/user')).toBeNull();
    expect(ok(await dfs(['info'])).stdout).toMatch(/^trash: +off$/m);
  });
});

describe('the NameNode empties the trash', () => {
  it('checkpoints Current and deletes checkpoints older than the interval, with their blocks', async () => {
    // Interval 3 s, a checkpoint every 0.6 s.
    await start({
      DFS_NAMENODE_TRASH_INTERVAL_MINUTES: '0.05',
      DFS_NAMENODE_TRASH_CHECKPOINT_INTERVAL_MINUTES: '0.01',
    });
    await write('/old/f', randomBytes(100_000));
    const blockId = (await client.getBlockLocations('/old/f')).blocks[0]!.block.blockId;
    ok(await dfs(['rm', '/old/f']));
    // Current becomes a checkpoint named for the time...
    const checkpoint = await waitFor(
      'a trash checkpoint',
      async () => (await filesBeneath(TRASH)).find((p) => /\/\.Trash\/\d{12}(-\d+)?\/old\/f$/.test(p)),
      10_000,
    );
    expect(checkpoint).toBeDefined();
    // Logged once the rename is durable, which may be a moment after it is visible.
    await waitFor('the checkpoint logged', () =>
      logsMatching(cluster.namenode, { msg: 'trash checkpoint created' }).length > 0 ? true : undefined,
    );
    // ...deleted once older than the interval, and its block with it.
    await waitFor(
      'the expired checkpoint deleted',
      async () => ((await filesBeneath(TRASH)).length === 0 ? true : undefined),
      15_000,
    );
    await waitFor('the expiry logged', () =>
      logsMatching(cluster.namenode, { msg: 'expired trash checkpoint deleted' }).length > 0
        ? true
        : undefined,
    );
    await waitFor(
      'the block gone from every DataNode',
      () => (cluster.datanodes.every((_, i) => !blockIdsOnDisk(cluster, i).has(blockId)) ? true : undefined),
      15_000,
    );
  });

  it('loses no trashed file when the NameNode is SIGKILLed while it checkpoints', async () => {
    // A long interval (nothing expires), a checkpoint every 0.3 s.
    const env = {
      DFS_NAMENODE_TRASH_INTERVAL_MINUTES: '60',
      DFS_NAMENODE_TRASH_CHECKPOINT_INTERVAL_MINUTES: '0.005',
      DFS_NAMENODE_SAFE_MODE_EXTENSION_MS: '200',
    };
    await start(env);
    const names = Array.from({ length: 12 }, (_, i) => `/k/f${i}`);
    for (const n of names) await write(n, n);
    for (const n of names) ok(await dfs(['rm', n]));
    for (let round = 0; round < 4; round++) {
      await new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 500)));
      await cluster.namenode.kill();
      await cluster.restartNamenode();
      client = clusters.client(cluster);
      await client.waitSafeModeOff(30_000, 100);
    }
    await waitFor(
      'a checkpoint after the restarts',
      async () => {
        const files = await filesBeneath(TRASH);
        return files.every((f) => !f.includes('/Current/')) && files.length > 0 ? files : undefined;
      },
      10_000,
    );
    const files = await filesBeneath(TRASH);
    expect(files).toHaveLength(names.length);
    for (const n of names) {
      const at = files.find((f) => f.endsWith(n));
      expect(at, n).toBeDefined();
      expect((await read(at!)).toString()).toBe(n);
    }
  });
});
