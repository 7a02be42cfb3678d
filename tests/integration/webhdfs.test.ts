/**
 * WebHDFS against a real local cluster (issue 13 section 3; src/webhdfs/), driven by the real
 * `curl` binary and by fetch: OPEN and CREATE through the NameNode's 307 to a DataNode
 * (`curl -L`, `-T file`), `noredirect=true`, every namespace operation with HDFS's JSON
 * shapes, and the RemoteException bodies and status codes of WebHDFS.md for each kind of
 * failure: missing paths, existing files, bad parameters, path traversal, operations DFS
 * does not have. What is written over HTTP is read back identical by the native client,
 * and the other way round.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BLOCK_BYTES, DfsClient } from '../../src/client/dfs-client.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { Role } from '../../protocol/handshake.js';
import { getBuffer, putBuffer, testBytes } from '../support/data-path.js';
import { curl, remoteException, startWebHdfsCluster, type WebHdfsCluster } from '../support/webhdfs.js';

let w: WebHdfsCluster;
let cluster: LocalCluster;
let client: DfsClient;
let local: string;
const nn = (): string => `http://${cluster.namenodeHttpAddress}/webhdfs/v1`;
const dnPorts = (): number[] => cluster.datanodes.map((d) => d.httpPort);

beforeAll(async () => {
  w = await startWebHdfsCluster(2);
  ({ cluster, client, local } = w);
}, 60_000);

afterAll(() => w?.cleanup());

async function json(url: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const r = await fetch(url, { redirect: 'manual', ...init });
  return { status: r.status, body: await r.json() };
}

describe('WebHDFS data operations with curl', () => {
  it('CREATE with curl -L -T: 307 to a DataNode, 201 there; the native client reads it back identical', async () => {
    const data = testBytes(3 * 1024 * 1024 + 17, 1);
    const file = path.join(local, 'up.bin');
    fs.writeFileSync(file, data);
    const r = await curl(`${nn()}/up/a.bin?op=CREATE&user.name=alice&replication=2`, ['-L', '-T', file]);
    expect(r.exitCode).toBe(0);
    expect(r.status).toBe(201);
    expect((await getBuffer(client, '/up/a.bin')).equals(data)).toBe(true);
    expect((await client.stat('/up/a.bin')).replication).toBe(2);
    // The redirect alone: a DataNode's HTTP port, the request's parameters plus namenoderpcaddress.
    const first = await fetch(`${nn()}/up/b.bin?op=CREATE&user.name=alice`, {
      method: 'PUT',
      redirect: 'manual',
    });
    expect(first.status).toBe(307);
    const loc = new URL(first.headers.get('location')!);
    expect(loc.hostname).toBe('127.0.0.1');
    expect(dnPorts()).toContain(Number(loc.port));
    expect(loc.pathname).toBe('/webhdfs/v1/up/b.bin');
    expect(loc.searchParams.get('op')).toBe('CREATE');
    expect(loc.searchParams.get('user.name')).toBe('alice');
    expect(loc.searchParams.get('namenoderpcaddress')).toBe(cluster.namenodeAddress);
    const put = await fetch(loc, { method: 'PUT', body: 'hello' });
    expect(put.status).toBe(201);
    expect(put.headers.get('location')).toBe(`hdfs://${cluster.namenodeAddress}/up/b.bin`);
    expect((await getBuffer(client, '/up/b.bin')).toString()).toBe('hello');
  });

  it('OPEN with curl -L: whole and ranged (offset, length), Content-Length, a file put natively', async () => {
    const data = testBytes(5 * 1024 * 1024 + 3, 2);
    await putBuffer(client, '/open/f.bin', data, { blockBytes: 1024 * 1024, replication: 2 });
    const whole = await curl(`${nn()}/open/f.bin?op=OPEN`, ['-L']);
    expect(whole.status).toBe(200);
    expect(whole.body.equals(data)).toBe(true);
    const ranged = await curl(`${nn()}/open/f.bin?op=OPEN&offset=1048570&length=2000000`, ['-L']);
    expect(ranged.body.equals(data.subarray(1048570, 1048570 + 2000000))).toBe(true);
    const tail = await curl(`${nn()}/open/f.bin?op=OPEN&offset=${data.length - 10}&length=100`, ['-L']);
    expect(tail.body.equals(data.subarray(data.length - 10))).toBe(true);
    const head = await fetch(`${nn()}/open/f.bin?op=OPEN&offset=100`);
    expect(head.headers.get('content-length')).toBe(String(data.length - 100));
    expect(head.headers.get('content-type')).toBe('application/octet-stream');
    await head.arrayBuffer();
    // The DataNode chosen holds the block at the offset.
    const nr = await json(`${nn()}/open/f.bin?op=OPEN&offset=4194304&noredirect=true`);
    expect(nr.status).toBe(200);
    const loc = new URL((nr.body as { Location: string }).Location);
    expect(dnPorts()).toContain(Number(loc.port));
    expect(loc.searchParams.get('offset')).toBe('4194304');
    expect(loc.searchParams.has('noredirect')).toBe(false);
  });

  it('CREATE overwrite: false (the default) on an existing file is 403 FileAlreadyExistsException, true replaces it', async () => {
    await putBuffer(client, '/ow/f', Buffer.from('old'));
    const file = path.join(local, 'new.txt');
    fs.writeFileSync(file, 'new contents');
    const refused = await curl(`${nn()}/ow/f?op=CREATE`, ['-L', '-T', file]);
    expect(refused.status).toBe(403);
    expect(remoteException(refused.body)).toMatchObject({
      exception: 'FileAlreadyExistsException',
      javaClassName: 'org.apache.hadoop.fs.FileAlreadyExistsException',
    });
    // Straight to a DataNode too (it checks again).
    const direct = await curl(
      `http://127.0.0.1:${dnPorts()[0]}/webhdfs/v1/ow/f?op=CREATE&namenoderpcaddress=${cluster.namenodeAddress}`,
      ['-T', file],
    );
    expect(direct.status).toBe(403);
    expect(remoteException(direct.body).exception).toBe('FileAlreadyExistsException');
    expect((await getBuffer(client, '/ow/f')).toString()).toBe('old');
    const replaced = await curl(`${nn()}/ow/f?op=CREATE&overwrite=true`, ['-L', '-T', file]);
    expect(replaced.status).toBe(201);
    expect((await getBuffer(client, '/ow/f')).toString()).toBe('new contents');
    expect((await client.listPage('/ow')).entries.map((e) => e.path)).toEqual(['f']);
  });
});

describe('WebHDFS CREATE refused by the NameNode while the upload worker writes', () => {
  it('no write permission: 403 AccessControlException; a quota hit mid-body: 403 QuotaExceededException; no file left', async () => {
    await client.mkdir('/locked', { permission: 0o755 });
    const small = path.join(local, 'small.txt');
    fs.writeFileSync(small, 'not allowed');
    const denied = await curl(`${nn()}/locked/f?op=CREATE&user.name=bob`, ['-L', '-T', small]);
    expect(denied.status).toBe(403);
    expect(remoteException(denied.body).exception).toBe('AccessControlException');
    expect((await client.listPage('/locked', '', 10)).entries).toEqual([]);

    // Each block being written counts whole (src/namenode/quota.ts): the 4th 1 MiB block is refused.
    await client.mkdir('/quota');
    const admin = new DfsClient({ namenode: cluster.namenodeAddress, role: Role.ADMIN });
    try {
      await admin.setQuota('/quota', { bytes: 3 * 1024 * 1024 });
    } finally {
      admin.close();
    }
    const big = path.join(local, 'big.bin');
    fs.writeFileSync(big, testBytes(12 * 1024 * 1024, 7));
    const me = `user.name=${encodeURIComponent(os.userInfo().username)}`;
    const over = await curl(`${nn()}/quota/f?op=CREATE&blocksize=1048576&replication=1&${me}`, [
      '-L',
      '-T',
      big,
    ]);
    expect(over.status).toBe(403);
    expect(remoteException(over.body).exception).toBe('QuotaExceededException');
    expect((await client.listPage('/quota', '', 10)).entries).toEqual([]);
    // The same DataNodes still take uploads.
    const ok = await curl(`${nn()}/quota/g?op=CREATE&blocksize=1048576&replication=1&${me}`, [
      '-L',
      '-T',
      small,
    ]);
    expect(ok.status).toBe(201);
    expect((await getBuffer(client, '/quota/g')).toString()).toBe('not allowed');
  });
});

describe('WebHDFS namespace operations', () => {
  it('MKDIRS, GETFILESTATUS, LISTSTATUS, LISTSTATUS_BATCH with the JSON shapes of WebHDFS.md', async () => {
    expect(await json(`${nn()}/ns/a/b?op=MKDIRS&permission=755`, { method: 'PUT' })).toEqual({
      status: 200,
      body: { boolean: true },
    });
    await putBuffer(client, '/ns/f1', Buffer.from('12345'), { replication: 2 });
    const st = await json(`${nn()}/ns/f1?op=GETFILESTATUS`);
    expect(st.body).toEqual({
      FileStatus: {
        accessTime: expect.any(Number) as number,
        blockSize: DEFAULT_BLOCK_BYTES,
        childrenNum: 0,
        fileId: 0,
        group: 'supergroup',
        length: 5,
        modificationTime: expect.any(Number) as number,
        owner: os.userInfo().username,
        pathSuffix: '',
        permission: '644',
        replication: 2,
        storagePolicy: 0,
        type: 'FILE',
      },
    });
    const dir = (await json(`${nn()}/ns?op=GETFILESTATUS`)).body as { FileStatus: Record<string, unknown> };
    expect(dir.FileStatus).toMatchObject({ type: 'DIRECTORY', childrenNum: 2, permission: '755', length: 0 });
    const ls = (await json(`${nn()}/ns?op=LISTSTATUS`)).body as {
      FileStatuses: { FileStatus: Array<{ pathSuffix: string; type: string }> };
    };
    expect(ls.FileStatuses.FileStatus.map((s) => [s.pathSuffix, s.type])).toEqual([
      ['a', 'DIRECTORY'],
      ['f1', 'FILE'],
    ]);
    // A file lists itself.
    const lsFile = (await json(`${nn()}/ns/f1?op=LISTSTATUS`)).body as typeof ls;
    expect(lsFile.FileStatuses.FileStatus.map((s) => s.pathSuffix)).toEqual(['']);
    // Batches: LISTSTATUS past one NameNode page, and LISTSTATUS_BATCH with startAfter.
    await client.mkdir('/many');
    for (let i = 0; i < 1005; i++) await client.mkdir(`/many/d${String(i).padStart(4, '0')}`);
    const all = (await json(`${nn()}/many?op=LISTSTATUS`)).body as typeof ls;
    expect(all.FileStatuses.FileStatus).toHaveLength(1005);
    type Batch = {
      DirectoryListing: { partialListing: typeof ls; remainingEntries: number };
    };
    const b1 = (await json(`${nn()}/many?op=LISTSTATUS_BATCH`)).body as Batch;
    expect(b1.DirectoryListing.partialListing.FileStatuses.FileStatus).toHaveLength(1000);
    expect(b1.DirectoryListing.remainingEntries).toBeGreaterThan(0);
    const b2 = (await json(`${nn()}/many?op=LISTSTATUS_BATCH&startAfter=d0999`)).body as Batch;
    expect(b2.DirectoryListing.partialListing.FileStatuses.FileStatus.map((s) => s.pathSuffix)).toEqual([
      'd1000',
      'd1001',
      'd1002',
      'd1003',
      'd1004',
    ]);
    expect(b2.DirectoryListing.remainingEntries).toBe(0);
  }, 60_000);

  it('GETCONTENTSUMMARY, GETFILECHECKSUM (as DfsClient.checksum), GETHOMEDIRECTORY', async () => {
    await putBuffer(client, '/cs/x/f', testBytes(1000, 3), { replication: 2 });
    await client.mkdir('/cs/y');
    expect((await json(`${nn()}/cs?op=GETCONTENTSUMMARY`)).body).toEqual({
      ContentSummary: {
        directoryCount: 3,
        fileCount: 1,
        length: 1000,
        quota: -1,
        spaceConsumed: 2000,
        spaceQuota: -1,
        typeQuota: {},
      },
    });
    const sum = await client.checksum('/cs/x/f');
    expect((await json(`${nn()}/cs/x/f?op=GETFILECHECKSUM`)).body).toEqual({
      FileChecksum: { algorithm: sum.algorithm, bytes: sum.checksum, length: 32 },
    });
    expect((await json(`${nn()}/?op=GETHOMEDIRECTORY&user.name=carol`)).body).toEqual({
      Path: '/user/carol',
    });
    expect((await json(`${nn()}/?op=GETHOMEDIRECTORY`)).body).toEqual({ Path: '/user/dr.who' });
  });

  it('RENAME, DELETE (recursive) and SETREPLICATION answer booleans as HDFS', async () => {
    await client.mkdir('/mv');
    await client.setPermission('/mv', 0o777); // the WebHDFS caller (dr.who) renames and deletes in it
    await putBuffer(client, '/mv/f', Buffer.from('x'));
    await client.setPermission('/mv/f', 0o666);
    const put = { method: 'PUT' };
    expect((await json(`${nn()}/mv/f?op=RENAME&destination=/mv/g`, put)).body).toEqual({ boolean: true });
    expect(await client.exists('/mv/f')).toBeNull();
    expect((await json(`${nn()}/mv/missing?op=RENAME&destination=/mv/h`, put)).body).toEqual({
      boolean: false,
    });
    expect((await json(`${nn()}/mv/g?op=SETREPLICATION&replication=1`, put)).body).toEqual({ boolean: true });
    expect((await client.stat('/mv/g')).replication).toBe(1);
    expect((await json(`${nn()}/mv?op=SETREPLICATION&replication=1`, put)).body).toEqual({ boolean: false });
    const del = { method: 'DELETE' };
    const notEmpty = await fetch(`${nn()}/mv?op=DELETE`, del);
    expect(notEmpty.status).toBe(403);
    expect(remoteException(await notEmpty.text()).exception).toBe('PathIsNotEmptyDirectoryException');
    expect((await json(`${nn()}/mv?op=DELETE&recursive=true`, del)).body).toEqual({ boolean: true });
    expect(await client.exists('/mv')).toBeNull();
    expect((await json(`${nn()}/mv?op=DELETE&recursive=true`, del)).body).toEqual({ boolean: false });
  });
});

describe('WebHDFS errors: RemoteException with the status of WebHDFS.md', () => {
  const cases: Array<[string, string, string, number, string]> = [
    ['a missing path', 'GET', '/nope?op=GETFILESTATUS', 404, 'FileNotFoundException'],
    ['OPEN of a directory', 'GET', '/?op=OPEN', 404, 'FileNotFoundException'],
    ['an unknown op', 'GET', '/?op=FROBNICATE', 400, 'IllegalArgumentException'],
    ['no op', 'GET', '/', 400, 'IllegalArgumentException'],
    ['a PUT op sent as GET', 'GET', '/x?op=MKDIRS', 400, 'IllegalArgumentException'],
    ['a bad number', 'GET', '/x?op=OPEN&offset=12abc', 400, 'IllegalArgumentException'],
    ['a negative offset', 'GET', '/x?op=OPEN&offset=-1', 400, 'IllegalArgumentException'],
    ['a bad boolean', 'PUT', '/x?op=CREATE&overwrite=maybe', 400, 'IllegalArgumentException'],
    ['a bad permission', 'PUT', '/x?op=MKDIRS&permission=999', 400, 'IllegalArgumentException'],
    ['RENAME without destination', 'PUT', '/x?op=RENAME', 400, 'IllegalArgumentException'],
    ['a relative destination', 'PUT', '/x?op=RENAME&destination=y', 400, 'IllegalArgumentException'],
    ['a destination with ..', 'PUT', '/x?op=RENAME&destination=/a/../etc', 400, 'IllegalArgumentException'],
    ['a bad user.name', 'GET', '/?op=GETHOMEDIRECTORY&user.name=a/b', 400, 'IllegalArgumentException'],
    ['a bad escape', 'GET', '/a%zz?op=GETFILESTATUS', 400, 'IllegalArgumentException'],
    ['.. in the path', 'GET', '/a/../etc?op=GETFILESTATUS', 400, 'IllegalArgumentException'],
    ['%2e%2e in the path', 'GET', '/a/%2e%2E/etc?op=GETFILESTATUS', 400, 'IllegalArgumentException'],
    ['an encoded slash', 'GET', '/a%2F..%2Fetc?op=GETFILESTATUS', 400, 'IllegalArgumentException'],
    ['SETTIMES', 'PUT', '/x?op=SETTIMES&modificationtime=0', 400, 'UnsupportedOperationException'],
    ['GETDELEGATIONTOKEN', 'GET', '/?op=GETDELEGATIONTOKEN', 400, 'UnsupportedOperationException'],
  ];
  it.each(cases)('%s: %s %s -> %i %s', async (_what, method, target, status, exception) => {
    // Sent raw (curl --path-as-is), so `..` reaches the server as typed.
    const r = await curl(`http://${cluster.namenodeHttpAddress}/webhdfs/v1${target}`, [
      '--path-as-is',
      '-X',
      method,
    ]);
    expect(r.status).toBe(status);
    const e = remoteException(r.body);
    expect(e.exception).toBe(exception);
    expect(e.javaClassName).toMatch(new RegExp(`\\.${exception}$`));
  });

  it('a DataNode: OPEN without namenoderpcaddress, an op it does not serve, a missing file', async () => {
    const dn = `http://127.0.0.1:${dnPorts()[0]}/webhdfs/v1`;
    const rpc = `namenoderpcaddress=${cluster.namenodeAddress}`;
    const noNn = await curl(`${dn}/x?op=OPEN`);
    expect([noNn.status, remoteException(noNn.body).message]).toEqual([
      400,
      'namenoderpcaddress is not specified.',
    ]);
    const wrongOp = await curl(`${dn}/x?op=GETFILESTATUS&${rpc}`);
    expect([wrongOp.status, remoteException(wrongOp.body).exception]).toEqual([
      400,
      'IllegalArgumentException',
    ]);
    const missing = await curl(`${dn}/nope?op=OPEN&${rpc}`);
    expect([missing.status, remoteException(missing.body).exception]).toEqual([404, 'FileNotFoundException']);
  });
});
