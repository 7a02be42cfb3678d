/**
 * WebHDFS SETPERMISSION and SETOWNER (src/webhdfs/namenode-webhdfs.ts) against a real
 * cluster, with curl and with Python fsspec's WebHDFS `chmod` / `chown`: parameters
 * `permission` (octal), `owner`, `group` as HDFS's WebHDFS.md, an empty 200 answer, the
 * change seen by the native client and in GETFILESTATUS, and the NameNode's refusals as
 * RemoteExceptions: AccessControlException (403) for a chmod by another than the owner and a
 * chown by another than the superuser. CREATE and MKDIRS give the new file or directory the
 * `permission` asked, as given (HDFS's WebHDFS applies no umask: that is its client's job),
 * else HDFS's defaults 644 and 755.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { startCluster, tempDir } from '../support/cluster.js';
import { getBuffer, putBuffer } from '../support/data-path.js';
import { curl, hasCurl, hasFsspec, remoteException, SYSTEM_PYTHON } from '../support/webhdfs.js';

/** The NameNode runs as the test's user: the superuser. */
const SUPERUSER = os.userInfo().username;
const fsspecAvailable = hasFsspec();
if (!fsspecAvailable) console.warn(`fsspec chmod/chown test skipped: ${SYSTEM_PYTHON} cannot import fsspec`);

let cluster: LocalCluster;
let cleanup: () => Promise<void>;
let client: DfsClient;
const nn = (): string => `http://${cluster.namenodeHttpAddress}/webhdfs/v1`;

beforeAll(async () => {
  expect(hasCurl()).toBe(true);
  ({ cluster, cleanup } = await startCluster({ datanodes: 1 }));
  await cluster.waitWritable();
  client = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 20_000 });
  await client.mkdir('/perm');
  for (const f of ['/perm/f.txt', '/perm/py.txt']) {
    await putBuffer(client, f, Buffer.from('hello'));
    await client.setOwner(f, { owner: 'alice', group: 'alice' });
  }
}, 60_000);

afterAll(async () => {
  client?.close();
  await cleanup?.();
});

const put = (target: string): Promise<{ status: number; body: Buffer; exitCode: number }> =>
  curl(`${nn()}${target}`, ['-X', 'PUT']);

describe('WebHDFS SETPERMISSION and SETOWNER with curl', () => {
  it('SETPERMISSION by the owner: an empty 200; the mode changes; default 755', async () => {
    const r = await put('/perm/f.txt?op=SETPERMISSION&permission=640&user.name=alice');
    expect([r.exitCode, r.status, r.body.length]).toEqual([0, 200, 0]);
    expect((await client.stat('/perm/f.txt')).permission).toBe(0o640);
    const st = (await (await fetch(`${nn()}/perm/f.txt?op=GETFILESTATUS`)).json()) as {
      FileStatus: Record<string, unknown>;
    };
    expect(st.FileStatus).toMatchObject({ owner: 'alice', group: 'alice', permission: '640' });
    expect((await put('/perm/f.txt?op=SETPERMISSION&user.name=alice')).status).toBe(200);
    expect((await client.stat('/perm/f.txt')).permission).toBe(0o755);
    // The sticky bit, on a directory.
    expect((await put(`/perm?op=SETPERMISSION&permission=1777&user.name=${SUPERUSER}`)).status).toBe(200);
    expect((await client.stat('/perm')).permission).toBe(0o1777);
    await client.setPermission('/perm', 0o755);
  });

  it('SETPERMISSION by another user or dr.who: 403 AccessControlException, nothing changed', async () => {
    await client.setPermission('/perm/f.txt', 0o644);
    for (const who of ['&user.name=bob', '']) {
      const r = await put(`/perm/f.txt?op=SETPERMISSION&permission=777${who}`);
      expect(r.status).toBe(403);
      const e = remoteException(r.body);
      expect(e.exception).toBe('AccessControlException');
      expect(e.javaClassName).toBe('org.apache.hadoop.security.AccessControlException');
      expect(e.message).toContain(who === '' ? 'dr.who' : 'bob');
    }
    expect((await client.stat('/perm/f.txt')).permission).toBe(0o644);
  });

  it('SETOWNER: the superuser changes owner and group; the owner may not give the file away', async () => {
    const mine = await put('/perm/f.txt?op=SETOWNER&owner=bob&user.name=alice');
    expect(mine.status).toBe(403);
    expect(remoteException(mine.body).exception).toBe('AccessControlException');
    expect((await client.stat('/perm/f.txt')).owner).toBe('alice');
    const r = await put(`/perm/f.txt?op=SETOWNER&owner=carol&group=staff&user.name=${SUPERUSER}`);
    expect([r.status, r.body.length]).toEqual([200, 0]);
    expect(await client.stat('/perm/f.txt')).toMatchObject({ owner: 'carol', group: 'staff' });
    // Only the group; an empty owner leaves the owner as it is.
    expect((await put(`/perm/f.txt?op=SETOWNER&owner=&group=dev&user.name=${SUPERUSER}`)).status).toBe(200);
    expect(await client.stat('/perm/f.txt')).toMatchObject({ owner: 'carol', group: 'dev' });
  });

  it('bad requests: neither owner nor group, a bad permission, a missing path', async () => {
    const neither = await put(`/perm/f.txt?op=SETOWNER&user.name=${SUPERUSER}`);
    expect([neither.status, remoteException(neither.body)]).toMatchObject([
      400,
      { exception: 'IllegalArgumentException', message: 'Both owner and group are empty.' },
    ]);
    const bad = await put('/perm/f.txt?op=SETPERMISSION&permission=8&user.name=alice');
    expect([bad.status, remoteException(bad.body).exception]).toEqual([400, 'IllegalArgumentException']);
    const missing = await put(`/perm/nope?op=SETPERMISSION&permission=700&user.name=${SUPERUSER}`);
    expect([missing.status, remoteException(missing.body).exception]).toEqual([404, 'FileNotFoundException']);
  });
});

describe('WebHDFS CREATE and MKDIRS apply `permission` (HDFS: as given, no umask; else 644 / 755)', () => {
  const mode = async (path: string): Promise<{ native: number; webhdfs: string }> => {
    const st = (await (await fetch(`${nn()}${path}?op=GETFILESTATUS`)).json()) as {
      FileStatus: { permission: string };
    };
    return { native: (await client.stat(path)).permission, webhdfs: st.FileStatus.permission };
  };

  /** Each case: the query after the op, then the mode the new entry must have. */
  const expectModes = async (
    op: (target: string, query: string) => Promise<{ status: number }>,
    status: number,
    cases: Array<[target: string, query: string, mode: number]>,
  ): Promise<void> => {
    for (const [target, query, want] of cases) {
      expect((await op(target, query)).status).toBe(status);
      expect(await mode(target)).toEqual({ native: want, webhdfs: want.toString(8) });
    }
  };

  it('CREATE with curl -L -T: the new file has the mode asked, bits a umask would clear included', async () => {
    const file = path.join(tempDir('dfs-perm-'), 'body');
    fs.writeFileSync(file, 'created through WebHDFS');
    const create = (target: string, query: string) =>
      curl(`${nn()}${target}?op=CREATE&user.name=${SUPERUSER}${query}`, ['-L', '-T', file]);
    await expectModes(create, 201, [
      ['/perm/c600', '&permission=600', 0o600],
      ['/perm/c777', '&permission=777', 0o777],
      ['/perm/cdefault', '', 0o644],
      // overwrite=true gives the replacement the mode asked now.
      ['/perm/c600', '&permission=640&overwrite=true', 0o640],
    ]);
    expect((await getBuffer(client, '/perm/c600')).toString()).toBe('created through WebHDFS');
  });

  it('MKDIRS: the new directory has the mode asked (sticky bit too), 755 without one', async () => {
    const mkdirs = (target: string, query: string) =>
      put(`${target}?op=MKDIRS&user.name=${SUPERUSER}${query}`);
    await expectModes(mkdirs, 200, [
      ['/perm/d700', '&permission=700', 0o700],
      ['/perm/d1777', '&permission=1777', 0o1777],
      ['/perm/ddefault', '', 0o755],
    ]);
  });
});

/** fsspec's chmod and chown; each step prints what it got or the Python exception's name. */
const SCRIPT = `
import json, sys
from fsspec.implementations.webhdfs import WebHDFS
host, port, superuser = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def attempt(f):
    try:
        f()
        return "ok"
    except Exception as e:
        return type(e).__name__
alice = WebHDFS(host=host, port=port, user="alice")
bob = WebHDFS(host=host, port=port, user="bob")
root = WebHDFS(host=host, port=port, user=superuser)
out = {}
out["chmod_alice"] = attempt(lambda: alice.chmod("/perm/py.txt", "600"))
out["after_chmod"] = {k: alice.info("/perm/py.txt")[k] for k in ("owner", "group", "permission")}
out["chmod_bob"] = attempt(lambda: bob.chmod("/perm/py.txt", "777"))
out["chown_alice"] = attempt(lambda: alice.chown("/perm/py.txt", owner="bob"))
out["chown_root"] = attempt(lambda: root.chown("/perm/py.txt", owner="dave", group="ops"))
out["after_chown"] = {k: root.info("/perm/py.txt")[k] for k in ("owner", "group", "permission")}
print(json.dumps(out))
`;

describe.skipIf(!fsspecAvailable)('WebHDFS SETPERMISSION and SETOWNER with fsspec', () => {
  it('chmod by the owner, chown by the superuser; PermissionError for others', async () => {
    const [host, port] = cluster.namenodeHttpAddress.split(':');
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        SYSTEM_PYTHON,
        ['-c', SCRIPT, host!, port!, SUPERUSER],
        { timeout: 60_000 },
        (err, out, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(out)),
      );
    });
    expect(JSON.parse(stdout)).toEqual({
      chmod_alice: 'ok',
      after_chmod: { owner: 'alice', group: 'alice', permission: '600' },
      chmod_bob: 'PermissionError',
      chown_alice: 'PermissionError',
      chown_root: 'ok',
      after_chown: { owner: 'dave', group: 'ops', permission: '600' },
    });
    expect(await client.stat('/perm/py.txt')).toMatchObject({
      owner: 'dave',
      group: 'ops',
      permission: 0o600,
    });
  }, 90_000);
});
