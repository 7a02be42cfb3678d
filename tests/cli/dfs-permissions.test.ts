/**
 * `dfs chmod`, `chown`, `chgrp` (with -R, globs, --json and their errors), `ls` and `stat`
 * showing owners, `--user` / `DFS_USER` / `--umask` / `DFS_UMASK`, home directories, and
 * owners and modes surviving NameNode restarts (image and edit log) and kill -9: the `dfs`
 * CLI and a NameNode and DataNode as real processes. The NameNode's groups come from a
 * userGroupsFile: alice and bob in staff, bob also in dev, admin1 in the supergroup.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileStatusJson } from '../../src/cli/format.js';
import { DfsClient } from '../../src/client/dfs-client.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { startCluster, tempDir } from '../support/cluster.js';
import { failedWith, ok, runDfs, type DfsRun } from '../support/dfs-cli.js';

const SUPERUSER = os.userInfo().username;
let cluster: LocalCluster;
let cleanup: () => Promise<void>;
let client: DfsClient;
let groupsDir: string;

/** `dfs` as `user` (DFS_USER; null: the OS user, the superuser). */
const dfs = (args: string[], user: string | null = 'alice', env: NodeJS.ProcessEnv = {}): Promise<DfsRun> =>
  runDfs(cluster.namenodeAddress, args, { env: { DFS_USER: user ?? undefined, ...env } });
const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');

async function owners(p: string): Promise<[string, string, string]> {
  const st = await client.stat(p);
  return [st.owner, st.group, st.permission.toString(8)];
}

beforeAll(async () => {
  groupsDir = tempDir('dfs-groups-');
  const groupsFile = path.join(groupsDir, 'groups.json');
  fs.writeFileSync(
    groupsFile,
    JSON.stringify({ alice: ['staff'], bob: ['staff', 'dev'], admin1: ['supergroup'] }),
  );
  ({ cluster, cleanup } = await startCluster({
    datanodes: 1,
    namenodeEnv: {
      DFS_NAMENODE_USER_GROUPS_FILE: groupsFile,
      DFS_NAMENODE_SAFE_MODE_EXTENSION_MS: '0',
      DFS_NAMENODE_CHECKPOINT_TXNS: '1000000',
    },
  }));
  client = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 20_000 });
  await client.waitSafeModeOff(30_000, 100);
});

afterAll(async () => {
  client?.close();
  await cleanup?.();
  fs.rmSync(groupsDir, { recursive: true, force: true });
});

describe('home directories', () => {
  it('mkdir -p /user/$USER works for a user once the superuser made /user writable', async () => {
    failedWith(await dfs(['mkdir', '-p', '/user/alice']), 'mkdir', 'ACCESS_DENIED');
    ok(await dfs(['mkdir', '/user'], null));
    failedWith(await dfs(['mkdir', '-p', '/user/alice']), 'mkdir', 'ACCESS_DENIED');
    ok(await dfs(['chmod', '1777', '/user'], null));
    ok(await dfs(['mkdir', '-p', '/user/alice']));
    ok(await dfs(['--user', 'bob', 'mkdir', '-p', '/user/bob'], null));
    expect(await owners('/user')).toEqual([SUPERUSER, 'supergroup', '1777']);
    expect(await owners('/user/alice')).toEqual(['alice', 'supergroup', '755']);
    expect(await owners('/user/bob')).toEqual(['bob', 'supergroup', '755']);
    // The sticky /user: bob may not remove alice's home.
    const denied = failedWith(
      await dfs(['rm', '-r', '--skip-trash', '/user/alice'], 'bob'),
      'rm',
      'ACCESS_DENIED',
    );
    expect(denied).toContain('sticky');
    // --umask and DFS_UMASK.
    ok(await dfs(['--umask', '077', 'mkdir', '/user/alice/private']));
    ok(await dfs(['touchz', '/user/alice/private/f'], 'alice', { DFS_UMASK: '027' }));
    expect(await owners('/user/alice/private')).toEqual(['alice', 'supergroup', '700']);
    expect(await owners('/user/alice/private/f')).toEqual(['alice', 'supergroup', '640']);
    failedWith(await dfs(['--umask', '8', 'ls', '/']), 'ls', 'USAGE', 2);
  });
});

describe('chmod, chown, chgrp', () => {
  it('chmod: octal and symbolic modes, -R, globs, --json; only the owner or a superuser', async () => {
    ok(await dfs(['mkdir', '-p', '/user/alice/c/d']));
    ok(await dfs(['touchz', '/user/alice/c/f1', '/user/alice/c/d/f2']));
    ok(await dfs(['chmod', '750', '/user/alice/c']));
    expect(await owners('/user/alice/c')).toEqual(['alice', 'supergroup', '750']);
    const mode = async (spec: string, p = '/user/alice/c'): Promise<string> => {
      ok(await dfs(['chmod', spec, p]));
      return (await owners(p))[2];
    };
    expect(await mode('u-w,g+w,o=r')).toBe('574');
    expect(await mode('a+rwx')).toBe('777');
    expect(await mode('+t')).toBe('1777');
    expect(await mode('go-w,o-t')).toBe('755');
    expect(await mode('g=,o=')).toBe('700');
    expect(await mode('0640', '/user/alice/c/f1')).toBe('640');
    expect(await mode('a+X', '/user/alice/c/f1')).toBe('640'); // X: no one may execute the file yet
    expect(await mode('u+x', '/user/alice/c/f1')).toBe('740');
    expect(await mode('a+X', '/user/alice/c/f1')).toBe('751');
    expect(await mode('1644', '/user/alice/c/f1')).toBe('644'); // a file keeps no sticky bit

    // -R, pre-order; --json lists what changed.
    const r = ok(await dfs(['--json', 'chmod', '-R', '711', '/user/alice/c']));
    expect(JSON.parse(r.stdout)).toEqual({
      done: ['/user/alice/c', '/user/alice/c/d', '/user/alice/c/d/f2', '/user/alice/c/f1'],
    });
    for (const p of ['/user/alice/c', '/user/alice/c/d', '/user/alice/c/d/f2', '/user/alice/c/f1'])
      expect((await owners(p))[2], p).toBe('711');
    // Globs; a path that fails is reported and the others go on (exit 1).
    const some = await dfs([
      '--json',
      'chmod',
      '755',
      '/user/alice/c/f*',
      '/user/alice/nope',
      '/user/alice/c/d',
    ]);
    expect(failedWith(some, 'chmod', 'NOT_FOUND')).toContain('/user/alice/nope');
    expect(JSON.parse(some.stdout)).toEqual({ done: ['/user/alice/c/f1', '/user/alice/c/d'] });
    // Bad modes are usage errors; another user may not chmod, the superuser may.
    failedWith(await dfs(['chmod', '8', '/user/alice/c']), 'chmod', 'USAGE', 2);
    failedWith(await dfs(['chmod', 'u+q', '/user/alice/c']), 'chmod', 'USAGE', 2);
    const denied = failedWith(await dfs(['chmod', '777', '/user/alice/c'], 'bob'), 'chmod', 'ACCESS_DENIED');
    expect(denied).toContain('bob is not the owner of /user/alice/c (owner alice)');
    ok(await dfs(['chmod', '700', '/user/alice/c'], 'admin1'));
    expect((await owners('/user/alice/c'))[2]).toBe('700');
  });

  it('chown: the superuser only, OWNER, OWNER:GROUP, :GROUP, -R; chgrp: the owner to its own groups', async () => {
    ok(await dfs(['mkdir', '-p', '/user/alice/o/d']));
    ok(await dfs(['touchz', '/user/alice/o/f', '/user/alice/o/d/g']));
    const denied = failedWith(await dfs(['chown', 'bob', '/user/alice/o/f']), 'chown', 'ACCESS_DENIED');
    expect(denied).toContain('only the superuser changes owners');
    // An owner may "chown" to itself with a group it is in (as hdfs).
    ok(await dfs(['chown', 'alice:staff', '/user/alice/o/f']));
    expect(await owners('/user/alice/o/f')).toEqual(['alice', 'staff', '644']);

    const r = ok(await dfs(['--json', 'chown', '-R', 'bob:dev', '/user/alice/o'], null));
    expect(JSON.parse(r.stdout)).toEqual({
      done: ['/user/alice/o', '/user/alice/o/d', '/user/alice/o/d/g', '/user/alice/o/f'],
    });
    for (const p of ['/user/alice/o', '/user/alice/o/d', '/user/alice/o/d/g', '/user/alice/o/f'])
      expect(await owners(p), p).toEqual(['bob', 'dev', p.endsWith('o') || p.endsWith('d') ? '755' : '644']);
    ok(await dfs(['chown', ':staff', '/user/alice/o/f'], 'admin1'));
    expect(await owners('/user/alice/o/f')).toEqual(['bob', 'staff', '644']);

    // chgrp: bob (the owner now) to a group he is in; not to one he is not; alice not at all.
    ok(await dfs(['chgrp', '-R', 'staff', '/user/alice/o'], 'bob'));
    expect(await owners('/user/alice/o/d/g')).toEqual(['bob', 'staff', '644']);
    const notIn = failedWith(await dfs(['chgrp', 'wheel', '/user/alice/o'], 'bob'), 'chgrp', 'ACCESS_DENIED');
    expect(notIn).toContain('bob is not in it');
    failedWith(await dfs(['chgrp', 'staff', '/user/alice/o/f']), 'chgrp', 'ACCESS_DENIED');
    failedWith(await dfs(['chgrp', 'staff', '/user/alice/o/nope'], 'bob'), 'chgrp', 'NOT_FOUND');

    for (const bad of ['a:b:c', ':', 'a/b'])
      failedWith(await dfs(['chown', bad, '/user/alice/o'], null), 'chown', 'USAGE', 2);
    failedWith(await dfs(['chgrp', 'a:b', '/user/alice/o'], null), 'chgrp', 'USAGE', 2);
  });

  it('ls and stat show permissions, owner and group; --json has them, the permission in octal', async () => {
    ok(await dfs(['mkdir', '-p', '/user/alice/l/sub']));
    ok(await dfs(['touchz', '/user/alice/l/f']));
    ok(await dfs(['chmod', '1770', '/user/alice/l/sub']));
    ok(await dfs(['chgrp', 'staff', '/user/alice/l/f']));
    const out = lines(ok(await dfs(['ls', '/user/alice/l'])).stdout);
    expect(out[0]).toMatch(/^-rw-r--r-- +\d+ alice +staff +0 \S+ \S+ \/user\/alice\/l\/f$/);
    expect(out[1]).toMatch(/^drwxrwx--T +- alice +supergroup +0 \S+ \S+ \/user\/alice\/l\/sub$/);
    expect(ok(await dfs(['stat', '%u %g %a %A %n', '/user/alice/l/sub', '/user/alice/l/f'])).stdout).toBe(
      'alice supergroup 1770 rwxrwx--T sub\nalice staff 644 rw-r--r-- f\n',
    );
    const json = JSON.parse(ok(await dfs(['--json', 'ls', '/user/alice/l'])).stdout) as FileStatusJson[];
    expect(json.map((e) => [e.owner, e.group, e.permission])).toEqual([
      ['alice', 'staff', '644'],
      ['alice', 'supergroup', '1770'],
    ]);
    const st = JSON.parse(ok(await dfs(['--json', 'stat', '/user/alice/l/f'])).stdout) as FileStatusJson;
    expect(st).toMatchObject({ owner: 'alice', group: 'staff', permission: '644' });
    // Reading what one may not: ls of a directory without r is ACCESS_DENIED, naming what is missing.
    ok(await dfs(['chmod', '700', '/user/alice/l']));
    const err = failedWith(await dfs(['ls', '/user/alice/l'], 'bob'), 'ls', 'ACCESS_DENIED');
    expect(err).toContain(
      'bob may not read and execute /user/alice/l (owner alice, group supergroup, mode rwx------)',
    );
  });
});

describe('persistence', () => {
  it('owners and modes survive a NameNode restart (edit log) and a kill -9', async () => {
    ok(await dfs(['mkdir', '-p', '/user/alice/keep/d']));
    ok(await dfs(['touchz', '/user/alice/keep/d/f']));
    ok(await dfs(['chmod', '1750', '/user/alice/keep']));
    ok(await dfs(['chown', '-R', 'bob:dev', '/user/alice/keep/d'], null));
    ok(await dfs(['--umask', '000', 'mkdir', '/user/alice/keep/open']));
    const paths = [
      '/',
      '/user',
      '/user/alice',
      '/user/alice/keep',
      '/user/alice/keep/d',
      '/user/alice/keep/d/f',
      '/user/alice/keep/open',
    ];
    const before = await Promise.all(paths.map(owners));
    expect(before[3]).toEqual(['alice', 'supergroup', '1750']);
    expect(before[5]).toEqual(['bob', 'dev', '644']);
    expect(before[6]).toEqual(['alice', 'supergroup', '777']);

    await cluster.namenode.stop();
    await cluster.restartNamenode();
    await client.waitSafeModeOff(30_000, 100);
    expect(await Promise.all(paths.map(owners))).toEqual(before);

    ok(await dfs(['chmod', '750', '/user/alice/keep']));
    before[3] = ['alice', 'supergroup', '750'];
    await cluster.namenode.kill();
    await cluster.restartNamenode();
    await client.waitSafeModeOff(30_000, 100);
    expect(await Promise.all(paths.map(owners))).toEqual(before);
    // And the checks still hold: bob (other) may not list alice's 750 directory.
    failedWith(await dfs(['ls', '/user/alice/keep'], 'bob'), 'ls', 'ACCESS_DENIED');
  });
});
