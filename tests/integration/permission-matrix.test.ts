/**
 * Permissions across real processes (issue 11 section 2): a real NameNode and DataNode, users
 * named in the handshake by clients acting for alice (the owner), bob (in the owning group
 * through the NameNode's userGroupsFile), carol (other), root (the NameNode's user: the
 * superuser) and admin1 (in the supergroup). Every operation below is tried by every user
 * on directories of many modes, and the outcome (done, or ACCESS_DENIED) is compared with a
 * model of POSIX / HDFS permission rules written here independently of the NameNode's code:
 *
 *   | operation on /m/dMODE            | needs (besides x on / and /m)                          |
 *   |----------------------------------|--------------------------------------------------------|
 *   | list the directory               | r and x on the directory                               |
 *   | stat an entry in it              | x on the directory                                     |
 *   | read a file in it (0644)         | x on the directory, r on the file                      |
 *   | create a file in it              | w and x on the directory                               |
 *   | mkdir in it                      | w and x on the directory                               |
 *   | delete a file in it              | w and x; with the sticky bit, own the file or the dir  |
 *   | rename a file out of it          | w and x; with the sticky bit, own the file or the dir  |
 *   | rename a file into it            | w and x on the directory                               |
 *   | setReplication of a file in it   | x on the directory, w on the file                      |
 *
 * Trees: deleting a tree needs rwx on every non-empty directory of it (HDFS checks the
 * subtree), renaming one needs nothing beneath it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DfsError } from '../../protocol/errors.js';
import { DfsClient } from '../../src/client/dfs-client.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { startCluster, tempDir } from '../support/cluster.js';
import { waitFor, waitForDatanodes } from '../support/data-path.js';
import { RawPeer } from '../support/raw-peer.js';
import { Role } from '../../protocol/handshake.js';
import { encodeRequest } from '../../protocol/namenode-messages.js';

const SUPERUSER = os.userInfo().username;
const GROUPS = { alice: ['staff'], bob: ['staff', 'dev'], carol: ['other'], admin1: ['supergroup'] };
type User = 'alice' | 'bob' | 'carol' | 'admin1' | 'root';
const USERS: User[] = ['alice', 'bob', 'carol', 'admin1', 'root'];
const MODES = [0o000, 0o700, 0o500, 0o300, 0o750, 0o705, 0o070, 0o007, 0o755, 0o770, 0o777, 0o1777, 0o1770];

let cluster: LocalCluster;
let cleanup: () => Promise<void>;
let groupsDir: string;
const clients = new Map<User, DfsClient>();
const as = (u: User): DfsClient => clients.get(u)!;

beforeAll(async () => {
  groupsDir = tempDir('dfs-groups-');
  const groupsFile = path.join(groupsDir, 'groups.json');
  fs.writeFileSync(groupsFile, JSON.stringify(GROUPS));
  ({ cluster, cleanup } = await startCluster({
    datanodes: 1,
    namenodeEnv: { DFS_NAMENODE_USER_GROUPS_FILE: groupsFile },
  }));
  for (const u of USERS)
    clients.set(
      u,
      new DfsClient({
        namenode: cluster.namenodeAddress,
        user: u === 'root' ? SUPERUSER : u,
        defaultReplication: 1,
        requestTimeoutMs: 20_000,
      }),
    );
  await waitForDatanodes(as('root'), 1);
  await as('root').waitSafeModeOff(30_000, 100);
});

afterAll(async () => {
  for (const c of clients.values()) c.close();
  await cleanup?.();
  fs.rmSync(groupsDir, { recursive: true, force: true });
});

async function writeFile(client: DfsClient, p: string, data = 'x'): Promise<void> {
  const out = client.create(p, { createParent: false, replication: 1 });
  out.end(Buffer.from(data));
  await finished(out);
}

async function readFile(client: DfsClient, p: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of client.open(p) as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString();
}

/** 'ok', or the error code the NameNode answered. */
async function outcome(op: () => Promise<unknown>): Promise<string> {
  try {
    await op();
    return 'ok';
  } catch (err) {
    if (err instanceof DfsError) return err.code;
    throw err;
  }
}

// ---- the model ----------------------------------------------------------------------------

interface Node {
  owner: string;
  group: string;
  mode: number;
}

function isSuper(u: User): boolean {
  return u === 'root' || u === 'admin1';
}

function name(u: User): string {
  return u === 'root' ? SUPERUSER : u;
}

/** POSIX: the owner's bits, else the group's for a member, else other's. */
function may(u: User, n: Node, bits: number): boolean {
  if (isSuper(u)) return true;
  const groups: readonly string[] = (GROUPS as Record<string, string[]>)[u] ?? [];
  const own = n.owner === name(u) ? n.mode >> 6 : groups.includes(n.group) ? n.mode >> 3 : n.mode;
  return (own & bits) === bits;
}

function stickyAllows(u: User, dir: Node, entry: Node): boolean {
  if (isSuper(u) || (dir.mode & 0o1000) === 0) return true;
  return entry.owner === name(u) || dir.owner === name(u);
}

const R = 4;
const W = 2;
const X = 1;
const expectOk = (allowed: boolean): string => (allowed ? 'ok' : 'ACCESS_DENIED');

// ---- the matrix -----------------------------------------------------------------------------

describe('a matrix of users x operations x modes, against the model', () => {
  it('every operation is allowed exactly when the model says so', async () => {
    const root = as('root');
    await root.mkdir('/m');
    await root.setPermission('/m', 0o755);
    await root.mkdir('/m/ok');
    await root.setPermission('/m/ok', 0o777);
    const results: string[] = [];
    const wanted: string[] = [];
    for (const mode of MODES) {
      const dirPath = `/m/d${mode.toString(8)}`;
      const dir: Node = { owner: 'alice', group: 'staff', mode };
      await root.mkdir(dirPath);
      await root.setOwner(dirPath, { owner: 'alice', group: 'staff' });
      const rootFile: Node = { owner: SUPERUSER, group: 'staff', mode: 0o644 };
      await writeFile(root, `${dirPath}/f`, 'data');
      // Entries each user may remove or move: owned by root (the sticky bit protects them)
      // and by the user itself.
      for (const u of USERS) {
        for (const n of ['del', 'mvout'])
          for (const owner of ['root', 'self'] as const) {
            const p = `${dirPath}/${n}-${owner}-${u}`;
            await writeFile(root, p);
            if (owner === 'self') await root.setOwner(p, { owner: name(u) });
          }
        await writeFile(root, `/m/ok/mvin-${mode.toString(8)}-${u}`);
        await root.setOwner(`/m/ok/mvin-${mode.toString(8)}-${u}`, { owner: name(u) });
      }
      await root.setPermission(dirPath, mode);

      for (const u of USERS) {
        const c = as(u);
        const tag = (op: string): string => `${dirPath} ${u} ${op}`;
        const check = async (op: string, allowed: boolean, run: () => Promise<unknown>): Promise<void> => {
          results.push(`${tag(op)}: ${await outcome(run)}`);
          wanted.push(`${tag(op)}: ${expectOk(allowed)}`);
        };
        await check('list', may(u, dir, R | X), () => c.listPage(dirPath, '', 100));
        await check('stat', may(u, dir, X), () => c.stat(`${dirPath}/f`));
        await check('read', may(u, dir, X) && may(u, rootFile, R), () => readFile(c, `${dirPath}/f`));
        await check('create', may(u, dir, W | X), () => writeFile(c, `${dirPath}/new-${u}`));
        await check('mkdir', may(u, dir, W | X), () => c.mkdir(`${dirPath}/sub-${u}`));
        for (const owner of ['root', 'self'] as const) {
          const entry: Node = { owner: owner === 'root' ? SUPERUSER : name(u), group: 'staff', mode: 0o644 };
          const removable = may(u, dir, W | X) && stickyAllows(u, dir, entry);
          await check(`delete ${owner}'s`, removable, () =>
            c.delete(`${dirPath}/del-${owner}-${u}`, { recursive: false }),
          );
          await check(`rename ${owner}'s out`, removable, () =>
            c.rename(`${dirPath}/mvout-${owner}-${u}`, `/m/ok/out-${mode.toString(8)}-${owner}-${u}`),
          );
        }
        await check('rename in', may(u, dir, W | X), () =>
          c.rename(`/m/ok/mvin-${mode.toString(8)}-${u}`, `${dirPath}/in-${u}`),
        );
        await check('setReplication', may(u, dir, X) && may(u, rootFile, W), () =>
          c.setReplication(`${dirPath}/f`, 1),
        );
      }
    }
    expect(results).toEqual(wanted);
    // The matrix is not vacuous: both outcomes occur for every operation.
    for (const op of [
      'list',
      'stat',
      'read',
      'create',
      'mkdir',
      "delete root's",
      "rename self's out",
      'rename in',
    ]) {
      const of = results.filter((r) => r.includes(` ${op}:`));
      expect(
        of.some((r) => r.endsWith(': ok')),
        op,
      ).toBe(true);
      expect(
        of.some((r) => r.endsWith(': ACCESS_DENIED')),
        op,
      ).toBe(true);
    }
  }, 240_000);
});

describe('denials', () => {
  it('name the user, the path and the missing permission', async () => {
    const root = as('root');
    await root.mkdir('/named');
    await root.setOwner('/named', { owner: 'bob', group: 'staff' });
    await root.setPermission('/named', 0o755);
    const err = await as('carol')
      .mkdir('/named/x')
      .then(
        () => null,
        (e: unknown) => e as DfsError,
      );
    expect(err?.code).toBe('ACCESS_DENIED');
    expect(err?.message).toBe('carol may not write /named (owner bob, group staff, mode rwxr-xr-x)');
    await root.setPermission('/named', 0o700);
    const traverse = await as('carol')
      .stat('/named/x')
      .then(
        () => null,
        (e: unknown) => e as DfsError,
      );
    expect(traverse?.message).toBe(
      'carol may not execute (enter) /named (owner bob, group staff, mode rwx------)',
    );
  });
});

describe('who the caller is', () => {
  it('a user not in the mapping file gets the groups of the local OS user of that name, else none', async () => {
    const root = as('root');
    await root.mkdir('/osgroups');
    await root.setOwner('/osgroups', { owner: 'alice', group: 'daemon' });
    await root.setPermission('/osgroups', 0o070);
    const daemon = new DfsClient({ namenode: cluster.namenodeAddress, user: 'daemon' });
    const nobody = new DfsClient({ namenode: cluster.namenodeAddress, user: 'no-such-user-x' });
    try {
      expect(await outcome(() => daemon.listPage('/osgroups', '', 10))).toBe('ok'); // id -Gn daemon: daemon
      expect(await outcome(() => nobody.listPage('/osgroups', '', 10))).toBe('ACCESS_DENIED');
    } finally {
      daemon.close();
      nobody.close();
    }
  });

  it('a DataNode connection, or a hello naming no user, is refused every path RPC', async () => {
    for (const role of [Role.DATANODE, Role.CLIENT]) {
      const peer = await RawPeer.connect(cluster.namenode.port);
      try {
        await peer.handshake(undefined, role); // the raw hello names no user
        peer.write(encodeRequest('mkdir', 7, { path: '/by-nobody', parents: true, permission: 0o755 }));
        await waitFor('an answer', () => Promise.resolve(peer.firstError() ?? undefined), 5000);
        const err = peer.firstError()!.error;
        expect(err.code).toBe('ACCESS_DENIED');
        expect(err.message).toContain('this connection named no user');
      } finally {
        peer.destroy();
      }
    }
    expect(await as('root').exists('/by-nobody')).toBeNull();
  });
});

describe('trees', () => {
  it('deleting a tree needs rwx on every non-empty directory in it; empty ones and renames need none', async () => {
    const root = as('root');
    const alice = as('alice');
    await root.mkdir('/t');
    await root.setOwner('/t', { owner: 'alice' });
    await alice.mkdir('/t/top/locked', { parents: true });
    await writeFile(alice, '/t/top/locked/f');
    await alice.mkdir('/t/top/empty');
    await alice.setPermission('/t/top/empty', 0o000);
    // A non-empty directory without w (r-x) in the tree: alice may not delete the tree...
    await alice.setPermission('/t/top/locked', 0o555);
    expect(await outcome(() => alice.delete('/t/top', { recursive: true }))).toBe('ACCESS_DENIED');
    expect(await alice.exists('/t/top/locked/f')).not.toBeNull();
    // ...but may move it whole (rename checks the parents only).
    expect(await outcome(() => alice.rename('/t/top', '/t/moved'))).toBe('ok');
    // Without r on it, the same (the NameNode could not list it for her).
    await alice.setPermission('/t/moved/locked', 0o300);
    expect(await outcome(() => alice.delete('/t/moved', { recursive: true }))).toBe('ACCESS_DENIED');
    // rwx on every non-empty directory: allowed, the empty 000 one included.
    await alice.setPermission('/t/moved/locked', 0o700);
    expect(await outcome(() => alice.delete('/t/moved', { recursive: true }))).toBe('ok');
    expect(await alice.exists('/t/moved')).toBeNull();

    // The superuser deletes any tree.
    await alice.mkdir('/t/x/y', { parents: true });
    await writeFile(alice, '/t/x/y/f');
    await alice.setPermission('/t/x/y', 0o000);
    expect(await outcome(() => alice.delete('/t/x', { recursive: true }))).toBe('ACCESS_DENIED');
    expect(await outcome(() => as('admin1').delete('/t/x', { recursive: true }))).toBe('ok');
  });

  it('new nodes: the creator owns them, the parent gives the group, the umask the mode', async () => {
    const root = as('root');
    await root.mkdir('/g');
    await root.setOwner('/g', { group: 'dev' });
    await root.setPermission('/g', 0o777);
    const bob = as('bob');
    await bob.mkdir('/g/a/b', { parents: true });
    await writeFile(bob, '/g/a/b/f');
    const strict = new DfsClient({ namenode: cluster.namenodeAddress, user: 'bob', umask: 0o077 });
    try {
      await strict.mkdir('/g/private');
      await writeFile(strict, '/g/private/f');
      expect(await strict.stat('/g/private')).toMatchObject({
        owner: 'bob',
        group: 'dev',
        permission: 0o700,
      });
      expect(await strict.stat('/g/private/f')).toMatchObject({ permission: 0o600 });
    } finally {
      strict.close();
    }
    expect(await bob.stat('/g/a')).toMatchObject({ owner: 'bob', group: 'dev', permission: 0o755 });
    expect(await bob.stat('/g/a/b')).toMatchObject({ owner: 'bob', group: 'dev', permission: 0o755 });
    expect(await bob.stat('/g/a/b/f')).toMatchObject({ owner: 'bob', group: 'dev', permission: 0o644 });
    expect(await root.stat('/')).toMatchObject({ owner: SUPERUSER, group: 'supergroup', permission: 0o755 });
  });
});

describe('owners and modes', () => {
  it('only the owner or a superuser changes modes and groups; only a superuser changes owners', async () => {
    const root = as('root');
    await root.mkdir('/o');
    await root.setPermission('/o', 0o777);
    const alice = as('alice');
    await writeFile(alice, '/o/f');
    expect(await outcome(() => as('bob').setPermission('/o/f', 0o777))).toBe('ACCESS_DENIED');
    expect(await outcome(() => alice.setPermission('/o/f', 0o600))).toBe('ok');
    // The owner may not give the file away, nor to a group she is not in.
    expect(await outcome(() => alice.setOwner('/o/f', { owner: 'bob' }))).toBe('ACCESS_DENIED');
    expect(await outcome(() => alice.setOwner('/o/f', { group: 'dev' }))).toBe('ACCESS_DENIED');
    expect(await outcome(() => alice.setOwner('/o/f', { group: 'staff' }))).toBe('ok');
    expect(await outcome(() => as('bob').setOwner('/o/f', { group: 'staff' }))).toBe('ACCESS_DENIED');
    expect(await outcome(() => as('admin1').setOwner('/o/f', { owner: 'carol', group: 'any' }))).toBe('ok');
    expect(await root.stat('/o/f')).toMatchObject({ owner: 'carol', group: 'any', permission: 0o600 });
  });

  it('admin operations need a superuser', async () => {
    const admin = (user: string): DfsClient =>
      new DfsClient({ namenode: cluster.namenodeAddress, user, role: 3 /* ADMIN */ });
    const alice = admin('alice');
    const admin1 = admin('admin1');
    try {
      expect(await outcome(() => alice.safeMode('get'))).toBe('ACCESS_DENIED');
      expect(await outcome(() => admin1.safeMode('get'))).toBe('ok');
    } finally {
      alice.close();
      admin1.close();
    }
  });
});
