/**
 * The `dfs` namespace commands as a user runs them: `node bin/dfs.js ...` as a real process
 * against a real NameNode process (no DataNodes: files here are empty, created through the
 * client library). Checks stdout, the one-line stderr error format and exit statuses.
 * One cluster serves the whole file; each test works under its own top-level directory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import type { FileStatus } from '../../protocol/shared-structures.js';
import type { ServerInfo } from '../../protocol/client-namenode-messages.js';
import type { FileStatusJson } from '../../src/cli/format.js';
import { startCluster } from '../support/cluster.js';
import { failedWith, ok, runDfs, type DfsRun as Run } from '../support/dfs-cli.js';

let namenode = '';
let cleanup: (() => Promise<void>) | null = null;
let client: DfsClient | null = null;

/** Runs `dfs` with `args` (after `--namenode <cluster>` unless `namenodeFlag` is false). */
function dfs(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; namenodeFlag?: boolean } = {},
): Promise<Run> {
  return runDfs(
    options.namenodeFlag === false ? null : namenode,
    args,
    options.env === undefined ? {} : { env: options.env },
  );
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

async function emptyFile(path: string): Promise<void> {
  await client!.createFile(path, { replication: 2 });
  expect(await client!.completeFile(path, null)).toBe(true);
}

beforeAll(async () => {
  const started = await startCluster();
  cleanup = started.cleanup;
  namenode = started.cluster.namenodeAddress;
  client = new DfsClient({ namenode });
});

afterAll(async () => {
  client?.close();
  await cleanup?.();
});

describe('dfs namespace commands', () => {
  it('mkdir -p creates parents; plain mkdir needs them and refuses an existing directory', async () => {
    ok(await dfs(['mkdir', '-p', '/mk/a/b/c', '/mk/x']));
    expect((await client!.stat('/mk/a/b/c')).type).toBe(1);
    expect((await client!.stat('/mk/x')).type).toBe(1);
    ok(await dfs(['mkdir', '-p', '/mk/a/b/c'])); // already there: fine with -p
    ok(await dfs(['mkdir', '/mk/y']));

    failedWith(await dfs(['mkdir', '/mk/no/such/parent']), 'mkdir', 'NOT_FOUND');
    failedWith(await dfs(['mkdir', '/mk/y']), 'mkdir', 'ALREADY_EXISTS');

    // One bad path among several: the others are still made, one line, exit 1; --json lists what was done.
    const r = await dfs(['--json', 'mkdir', '/mk/p1', '/mk/y', '/mk/p2']);
    expect(failedWith(r, 'mkdir', 'ALREADY_EXISTS')).toContain('/mk/y');
    expect(JSON.parse(r.stdout)).toEqual({ done: ['/mk/p1', '/mk/p2'] });
  });

  it('ls lists a directory in aligned columns, a file as itself, with full paths', async () => {
    await client!.mkdir('/ls/sub', { parents: true });
    await emptyFile('/ls/file-b');
    await emptyFile('/ls/sub/inner');

    const out = lines(ok(await dfs(['ls', '/ls'])).stdout);
    expect(out).toHaveLength(2);
    // As hdfs dfs -ls: permissions, replication, owner, group, size, date, path.
    const me = client!.user;
    expect(out[0]).toMatch(
      new RegExp(`^-rw-r--r-- +2 ${me} +supergroup +0 \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d /ls/file-b$`),
    );
    expect(out[1]).toMatch(
      new RegExp(`^drwxr-xr-x +- ${me} +supergroup +0 \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d /ls/sub$`),
    );
    expect(out[0]!.indexOf('/ls/')).toBe(out[1]!.indexOf('/ls/')); // aligned

    // The mtime column is the stat mtime in local time (TZ=UTC here).
    const st = await client!.stat('/ls/file-b');
    const when = new Date(st.mtimeMs).toISOString().slice(0, 16).replace('T', ' ');
    expect(out[0]).toContain(when);

    expect(lines(ok(await dfs(['ls', '/ls/file-b'])).stdout)).toEqual([out[0]]);
    expect(lines(ok(await dfs(['ls', '-d', '/ls/sub'])).stdout)).toEqual([out[1]]);
    // Trailing and doubled slashes are forgiven.
    expect(ok(await dfs(['ls', '/ls//sub/'])).stdout).toMatch(/ \/ls\/sub\/inner\n$/);
    // No path means the root.
    expect(ok(await dfs(['ls'])).stdout).toMatch(/^drwxr-xr-x .* \/ls$/m);
  });

  it('ls --json prints one array of FileStatus objects with full paths, exact lengths and type by name', async () => {
    await client!.mkdir('/lsj/d', { parents: true });
    await emptyFile('/lsj/f');
    const entries = JSON.parse(ok(await dfs(['ls', '--json', '/lsj'])).stdout) as FileStatusJson[];
    expect(entries.map((e) => [e.path, e.type])).toEqual([
      ['/lsj/d', 'directory'],
      ['/lsj/f', 'file'],
    ]);
    const f = entries[1]!;
    expect(f).toMatchObject({
      length: 0,
      replication: 2,
      blockCount: 0,
      underConstruction: false,
      childCount: 0,
    });
    expect(typeof f.mtimeMs).toBe('number');
    // --json before the subcommand works too; an empty directory is an empty array.
    expect(JSON.parse(ok(await dfs(['--json', 'ls', '/lsj/d'])).stdout)).toEqual([]);
  });

  it('ls -R walks depth-first in pre-order, across pages', async () => {
    // /rec/{d0,d1,d2}/{f0..f2} plus /rec/d1/deep/{g0,g1}: listed 2 entries per NameNode call.
    for (let d = 0; d < 3; d++) {
      await client!.mkdir(`/rec/d${d}`, { parents: true });
      for (let f = 0; f < 3; f++) await emptyFile(`/rec/d${d}/f${f}`);
    }
    await client!.mkdir('/rec/d1/deep');
    await emptyFile('/rec/d1/deep/g0');
    await emptyFile('/rec/d1/deep/g1');
    const expected = [
      '/rec/d0', '/rec/d0/f0', '/rec/d0/f1', '/rec/d0/f2',
      '/rec/d1', '/rec/d1/deep', '/rec/d1/deep/g0', '/rec/d1/deep/g1', '/rec/d1/f0', '/rec/d1/f1', '/rec/d1/f2',
      '/rec/d2', '/rec/d2/f0', '/rec/d2/f1', '/rec/d2/f2',
    ]; // prettier-ignore

    const [human, json, flat] = await Promise.all([
      dfs(['ls', '-R', '--page-size', '2', '/rec']),
      dfs(['ls', '-R', '--json', '--page-size', '2', '/rec']),
      dfs(['ls', '--page-size', '2', '/rec/d1']),
    ]);
    const rows = lines(ok(human).stdout);
    expect(rows.map((l) => l.split(' ').pop())).toEqual(expected);
    expect(new Set(rows.map((l) => l.indexOf('/rec')))).toHaveLength(1); // one alignment for all batches
    expect((JSON.parse(ok(json).stdout) as FileStatus[]).map((e) => e.path)).toEqual(expected);
    // Without -R, paging still yields the whole directory and nothing beneath it.
    expect(lines(ok(flat).stdout).map((l) => l.split(' ').pop())).toEqual([
      '/rec/d1/deep',
      '/rec/d1/f0',
      '/rec/d1/f1',
      '/rec/d1/f2',
    ]);
  });

  it('ls of several paths reports a missing one and still lists the others', async () => {
    await client!.mkdir('/multi/a', { parents: true });
    const r = await dfs(['ls', '--json', '/multi', '/multi/missing', '/multi/a']);
    expect(failedWith(r, 'ls', 'NOT_FOUND')).toContain('/multi/missing');
    expect((JSON.parse(r.stdout) as FileStatus[]).map((e) => e.path)).toEqual(['/multi/a']);
  });

  it('stat shows every field, human and --json', async () => {
    await client!.mkdir('/st', { parents: true });
    await emptyFile('/st/f');
    const human = lines(ok(await dfs(['stat', '/st/f'])).stdout);
    expect(human.map((l) => l.split(':')[0])).toEqual([
      'path', 'type', 'length', 'replication', 'blockBytes', 'mtimeMs', 'blockCount', 'underConstruction', 'childCount',
      'owner', 'group', 'permission',
    ]); // prettier-ignore
    expect(human).toContain('permission:        644 (rw-r--r--)');
    expect(human).toContain('path:              /st/f');
    expect(human).toContain('type:              file');
    expect(human).toContain('replication:       2');

    const json = JSON.parse(ok(await dfs(['stat', '--json', '/st'])).stdout) as FileStatusJson;
    // Every other field as is; the permission as an octal string.
    expect(json).toEqual({ ...(await client!.stat('/st')), type: 'directory', permission: '755' });
    expect(json).toMatchObject({ path: '/st', type: 'directory', childCount: 1 });
    const file = JSON.parse(ok(await dfs(['stat', '--json', '/st/f'])).stdout) as FileStatusJson;
    expect(file).toEqual({ ...(await client!.stat('/st/f')), type: 'file', permission: '644' });
  });

  it('mv renames, and moves into an existing directory', async () => {
    await client!.mkdir('/mv/dir', { parents: true });
    await emptyFile('/mv/a');
    ok(await dfs(['mv', '/mv/a', '/mv/b']));
    expect(await client!.exists('/mv/a')).toBeNull();
    expect((await client!.stat('/mv/b')).type).toBe(2);

    const r = ok(await dfs(['--json', 'mv', '/mv/b', '/mv/dir']));
    expect(JSON.parse(r.stdout)).toEqual({ src: '/mv/b', dst: '/mv/dir' });
    expect((await client!.stat('/mv/dir/b')).type).toBe(2);

    const missing = await dfs(['--json', 'mv', '/mv/nope', '/mv/x']);
    failedWith(missing, 'mv', 'NOT_FOUND');
    expect(missing.stdout).toBe(''); // errors never go to stdout
  });

  it('rm deletes files, needs -r for any directory (as hdfs dfs -rm), -f ignores missing paths', async () => {
    await client!.mkdir('/rm/full/deeper', { parents: true });
    await client!.mkdir('/rm/empty');
    await emptyFile('/rm/full/deeper/f');
    await emptyFile('/rm/file');

    ok(await dfs(['rm', '/rm/file']));
    expect(await client!.exists('/rm/file')).toBeNull();
    expect(failedWith(await dfs(['rm', '/rm/empty']), 'rm', 'IS_A_DIRECTORY')).toContain('/rm/empty');
    expect(await client!.exists('/rm/empty')).not.toBeNull();
    ok(await dfs(['rm', '-r', '/rm/empty']));
    expect(await client!.exists('/rm/empty')).toBeNull();

    expect(failedWith(await dfs(['rm', '/rm/full']), 'rm', 'IS_A_DIRECTORY')).toContain('/rm/full');
    expect(await client!.exists('/rm/full/deeper/f')).not.toBeNull();

    failedWith(await dfs(['rm', '/rm/gone']), 'rm', 'NOT_FOUND');
    const r = ok(await dfs(['rm', '-r', '-f', '--json', '/rm/gone', '/rm/full']));
    expect(JSON.parse(r.stdout)).toMatchObject({ done: ['/rm/full'] });
    expect(await client!.exists('/rm/full')).toBeNull();
  });

  it('info shows the server, human and --json', async () => {
    const human = lines(ok(await dfs(['info'])).stdout);
    expect(human[0]).toBe(`namenode:       ${namenode}`);
    expect(human.some((l) => /^clusterId: +\S/.test(l))).toBe(true);
    expect(human.some((l) => /^safeMode: +/.test(l))).toBe(true);

    const json = JSON.parse(ok(await dfs(['info', '--json'])).stdout) as ServerInfo;
    expect(Object.keys(json).sort()).toEqual([
      'blockCount',
      'clusterId',
      'directoryCount',
      'fileCount',
      'lastTxid',
      'safeMode',
      'trashIntervalMs',
      'version',
    ]);
    expect(json.directoryCount).toBeGreaterThanOrEqual(1);
  });

  it('honours DFS_NAMENODE when --namenode is absent', async () => {
    await client!.mkdir('/envtest', { parents: true });
    const r = ok(
      await dfs(['ls', '-d', '/envtest'], { namenodeFlag: false, env: { DFS_NAMENODE: namenode } }),
    );
    expect(r.stdout).toMatch(/ \/envtest\n$/);
    // --namenode wins over the environment.
    ok(
      await dfs(['--namenode', namenode, 'stat', '/envtest'], {
        namenodeFlag: false,
        env: { DFS_NAMENODE: '127.0.0.1:1' },
      }),
    );
  });
});

describe('dfs errors', () => {
  it('NOT_FOUND: stat of a missing path is one stderr line, exit 1, nothing on stdout', async () => {
    for (const json of [false, true]) {
      const r = await dfs(json ? ['--json', 'stat', '/no/such/path'] : ['stat', '/no/such/path']);
      expect(failedWith(r, 'stat', 'NOT_FOUND')).toContain('/no/such/path');
      expect(r.stdout).toBe('');
    }
  });

  it('INVALID_PATH: relative paths are refused', async () => {
    const [stat, mkdir] = await Promise.all([dfs(['stat', 'a/b']), dfs(['mkdir', '-p', 'a/b'])]);
    expect(failedWith(stat, 'stat', 'INVALID_PATH')).toContain('a/b');
    failedWith(mkdir, 'mkdir', 'INVALID_PATH');
  });

  it('CONNECTION: an unreachable NameNode is one line, not a stack trace, and the process exits promptly', async () => {
    const started = Date.now();
    const [flag, env, multi] = await Promise.all([
      dfs(['--namenode', '127.0.0.1:1', 'ls', '/'], { namenodeFlag: false }),
      dfs(['info'], { namenodeFlag: false, env: { DFS_NAMENODE: '127.0.0.1:1' } }),
      // A dead NameNode ends a multi-path command after the first error.
      dfs(['--namenode', '127.0.0.1:1', 'mkdir', '/a', '/b', '/c'], { namenodeFlag: false }),
    ]);
    expect(failedWith(flag, 'ls', 'CONNECTION')).toContain('127.0.0.1:1');
    failedWith(env, 'info', 'CONNECTION');
    failedWith(multi, 'mkdir', 'CONNECTION');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('usage errors exit 2 with one line', async () => {
    const [missingArg, unknownOption, unknownCommand, badAddress, badPageSize] = await Promise.all([
      dfs(['mv', '/only-one']),
      dfs(['ls', '--bogus']),
      dfs(['frobnicate']),
      dfs(['--namenode', '127.0.0.1:99999', 'ls'], { namenodeFlag: false }),
      dfs(['ls', '--page-size', '0']),
    ]);
    failedWith(missingArg, 'mv', 'USAGE', 2);
    failedWith(unknownOption, 'ls', 'USAGE', 2);
    expect(unknownCommand.code).toBe(2);
    expect(unknownCommand.stderr).toMatch(/^dfs: USAGE: unknown command 'frobnicate'/);
    failedWith(badAddress, 'ls', 'INVALID_ARGUMENT', 2);
    failedWith(badPageSize, 'ls', 'USAGE', 2);
  });

  it('--help documents the error and --json contract and exits 0', async () => {
    const r = ok(await dfs(['--help'], { namenodeFlag: false }));
    expect(r.stdout).toContain('dfs: <command>: <CODE>: <message>');
    expect(r.stdout).toContain('--json');
  });
});
