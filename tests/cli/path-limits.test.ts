/**
 * Renames cannot nest the tree past the path limits, and a tree already past them (from an
 * edit log written before renames were checked) is never reported healthy (issue 10,
 * item 5), with the real `dfs` command against a real NameNode:
 * - `dfs mv` of a directory whose deepest path would pass 256 components, or 4096 bytes,
 *   beneath its new parent, and of a file into a directory at the depth limit, is refused
 *   with INVALID_PATH and changes nothing; a move within the limits works.
 * - A NameNode restarted on a log holding such a rename (appended here in-process, as an
 *   old NameNode would have) replays it; `ls -R`, `du` and `fsck` then fail loudly (exit 1,
 *   INVALID_PATH on stderr, fsck's verdict FAILED, never HEALTHY); the open file down there
 *   gets one warning, not an error every lease check; moving the subtree back within the
 *   limits lets lease recovery close it and fsck says HEALTHY again.
 * - The names an RPC writes into the namespace (a client name on create and append, an owner
 *   or group) are bounded too, so every edit log record is (edit-log-format.ts): one byte
 *   over IDENTITY_BYTES_MAX is INVALID_ARGUMENT, the limit itself works.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import { IDENTITY_BYTES_MAX, NAME_BYTES_MAX, PATH_DEPTH_MAX } from '../../protocol/limits.js';
import { initChecksum } from '../../src/common/checksum.js';
import { silentLogger } from '../../src/common/logger.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { EditLog } from '../../src/namenode/edit-log.js';
import type { EditOp } from '../../src/namenode/edit-ops.js';
import { loadNameDir } from '../../src/namenode/name-dir.js';
import { startCluster } from '../support/cluster.js';
import { sleep, waitFor } from '../support/data-path.js';
import { failedWith, ok, runDfs, type DfsRun } from '../support/dfs-cli.js';

let cluster: LocalCluster;
let cleanup: (() => Promise<void>) | null = null;

function dfs(args: string[]): Promise<DfsRun> {
  return runDfs(cluster.namenodeAddress, args);
}

/** `/top/<prefix>1/<prefix>2/.../<prefix>n` */
function chain(top: string, prefix: string, n: number): string {
  let p = top;
  for (let i = 1; i <= n; i++) p += `/${prefix}${i}`;
  return p;
}

beforeAll(async () => {
  ({ cluster, cleanup } = await startCluster({
    namenodeEnv: { DFS_NAMENODE_LEASE_LIMIT_MS: '1000', DFS_NAMENODE_LEASE_CHECK_INTERVAL_MS: '200' },
  }));
});

afterAll(async () => {
  await cleanup?.();
});

describe('dfs mv and the path limits', () => {
  it('refuses a move whose subtree would pass the depth limit, and changes nothing', async () => {
    const deep = chain('/a', 'd', 200); // 201 components
    const under = chain('/b', 'c', 100); // 101 components: 101 + 201 > 256
    ok(await dfs(['mkdir', '-p', deep, under]));
    const line = failedWith(await dfs(['mv', '/a', under]), 'mv', 'INVALID_PATH');
    expect(line).toMatch(new RegExp(`limit ${PATH_DEPTH_MAX}`));
    ok(await dfs(['stat', deep]));
    failedWith(await dfs(['stat', `${under}/a`]), 'stat', 'NOT_FOUND');
    // Within the limits it works: 2 + 201 components.
    ok(await dfs(['mv', '/a', '/b/c1']));
    ok(await dfs(['stat', `/b/c1/a/d1/d2`]));
  });

  it('refuses a move whose subtree would pass the length limit', async () => {
    const name = (c: string): string => c.repeat(NAME_BYTES_MAX - 5);
    let long = '/l';
    for (let i = 0; i < 14; i++) long += `/${name(String.fromCharCode(97 + i))}`; // ~3.5 KB
    let parent = '/m';
    for (let i = 0; i < 3; i++) parent += `/${name(String.fromCharCode(65 + i))}`; // ~0.75 KB
    ok(await dfs(['mkdir', '-p', long, parent]));
    const line = failedWith(await dfs(['mv', '/l', parent]), 'mv', 'INVALID_PATH');
    expect(line).toMatch(/longer than 4096 bytes/);
    ok(await dfs(['stat', long]));
  });

  it('refuses to move a file into a directory at the depth limit', async () => {
    const full = chain('/f', 'x', PATH_DEPTH_MAX - 1); // 256 components
    ok(await dfs(['mkdir', '-p', full]));
    const client = new DfsClient({ namenode: cluster.namenodeAddress });
    try {
      await client.createFile('/lone', { replication: 1 });
      expect(await client.completeFile('/lone', null)).toBe(true);
    } finally {
      client.close();
    }
    failedWith(await dfs(['mv', '/lone', full]), 'mv', 'INVALID_PATH');
    ok(await dfs(['stat', '/lone']));
  });
});

describe('a tree already past the limits (an old edit log)', () => {
  const deepParent = chain('/old', 'e', 150);
  const under = chain('/nest', 'n', 150);

  it('is replayed; ls -R, du and fsck fail loudly; its open file is warned about once; a move back heals it', async () => {
    await cluster.namenode.stop();
    await initChecksum();
    const state = await loadNameDir(cluster.nameDir, silentLogger());
    const log = await EditLog.open(cluster.nameDir, state.lastTxid, (err) => {
      throw err;
    });
    const now = Date.now();
    const ops: EditOp[] = [
      { op: 'mkdir', path: deepParent, parents: true, mtimeMs: now },
      { op: 'mkdir', path: under, parents: true, mtimeMs: now },
      {
        op: 'create',
        path: `${deepParent}/open-file`,
        clientName: 'old-writer',
        overwrite: false,
        createParent: false,
        replication: 1,
        blockBytes: 1024 * 1024,
        mtimeMs: now,
      },
      // What an old NameNode accepted: 151 + 152 components beneath /nest/n1/.../n150.
      { op: 'rename', src: '/old', dst: under, mtimeMs: now },
    ];
    await Promise.all(
      ops.map(
        (op) => new Promise<void>((resolve, reject) => log.append(op, (e) => (e ? reject(e) : resolve()))),
      ),
    );
    await log.close();
    await cluster.restartNamenode();

    const ls = await dfs(['ls', '-R', '/nest']);
    expect(ls.code).toBe(1);
    expect(ls.stderr).toMatch(/^dfs: ls: INVALID_PATH: /m);
    const du = await dfs(['du', '-s', '/nest']);
    expect(du.code).toBe(1);
    expect(du.stderr).toMatch(/^dfs: du: INVALID_PATH: /m);
    const fsck = await dfs(['fsck', '/nest']);
    expect(fsck.code).toBe(1);
    expect(fsck.stderr).toMatch(/^dfs: fsck: INVALID_PATH: /m);
    expect(fsck.stdout).not.toMatch(/HEALTHY/);
    expect(fsck.stdout).toMatch(/Fsck on path '\/nest' FAILED: \d+ paths could not be checked/);
    const json = JSON.parse((await dfs(['fsck', '--json', '/nest'])).stdout) as {
      summary: { status: string; failedPaths: number };
    };
    expect(json.summary.status).toBe('FAILED');
    expect(json.summary.failedPaths).toBeGreaterThan(0);

    // The open file's lease expires (1 s) and is checked every 200 ms: one warning, no errors,
    // also five checks after the warning came.
    const nn = cluster.namenode;
    const warnings = (): Array<Record<string, unknown>> =>
      nn.logs.filter(
        (r) => r.msg === 'lease recovery impossible until the file is moved within the path limits',
      );
    await waitFor('the lease recovery warning', () => (warnings().length > 0 ? true : undefined), 10_000);
    await sleep(1000);
    expect(nn.logs.filter((r) => r.msg === 'lease recovery failed')).toEqual([]);
    const warned = warnings();
    expect(warned).toHaveLength(1);
    expect(warned[0]!.level).toBe(40);

    // Moving the subtree somewhere shallower is allowed and heals everything.
    ok(await dfs(['mv', `${under}/old`, '/healed']));
    await waitFor('lease recovery of the open file', () =>
      nn.logs.find((r) => r.msg === 'lease expired; file recovered'),
    );
    const healed = ok(await dfs(['fsck', '/']));
    expect(healed.stdout).toMatch(/The filesystem under path '\/' is HEALTHY/);
  });
});

describe('the names a request writes into the namespace', () => {
  it('a client name, owner or group over IDENTITY_BYTES_MAX bytes is INVALID_ARGUMENT; one at the limit works', async () => {
    const admin = new DfsClient({ namenode: cluster.namenodeAddress });
    const longName = (n: number): string => 'é'.repeat(n >> 1) + 'x'.repeat(n & 1); // n UTF-8 bytes
    const over = new DfsClient({
      namenode: cluster.namenodeAddress,
      clientName: longName(IDENTITY_BYTES_MAX + 1),
    });
    const at = new DfsClient({ namenode: cluster.namenodeAddress, clientName: longName(IDENTITY_BYTES_MAX) });
    try {
      await expect(over.createFile('/names/over')).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/client name is 256 bytes, over 255/) as unknown,
      });
      await admin.mkdir('/names', { parents: true });
      // Empty (this cluster has no DataNodes): an append asks the NameNode before any byte.
      const written = admin.create('/names/f');
      written.end();
      await new Promise<void>((resolve, reject) => written.on('close', resolve).on('error', reject));
      const appending = over.append('/names/f');
      await expect(
        new Promise<void>((resolve, reject) => {
          appending.on('error', reject).on('close', resolve);
          appending.end(Buffer.from('y'));
        }),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      for (const owner of [{ owner: longName(256) }, { group: longName(256) }])
        await expect(admin.setOwner('/names/f', owner)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await at.createFile('/names/at');
      await admin.setOwner('/names/f', { owner: longName(255), group: longName(255) });
      const st = await admin.stat('/names/f');
      expect(Buffer.byteLength(st.owner)).toBe(255);
    } finally {
      for (const c of [admin, over, at]) c.close();
    }
  });
});
