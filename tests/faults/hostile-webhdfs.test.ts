/**
 * Hostile clients on the WebHDFS routes (issue 13 section 4; src/webhdfs/), like
 * tests/faults/hostile-http.test.ts does for the daemons' own endpoints: uploads cut off
 * half-way (declared length and chunked) leave no visible file and keep the old one; a body
 * dripped slowly is cut by the request timeout and leaves nothing; bodies sent to the
 * NameNode are bounded; readers that never read do not grow the DataNode's memory, and past
 * 32 transfers at once a DataNode answers 503; random
 * garbage targets get a 4xx RemoteException, never a 500 or a crash. Afterwards both daemons
 * still serve.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { startCluster } from '../support/cluster.js';
import { getBuffer, putBuffer, sleep, testBytes, waitFor } from '../support/data-path.js';
import { httpRequest, samples, scrape } from '../support/http.js';
import { remoteException } from '../support/webhdfs.js';

const REQUEST_TIMEOUT_MS = 3000;

let cluster: LocalCluster;
let cleanup: () => Promise<void>;
let client: DfsClient;

beforeAll(async () => {
  ({ cluster, cleanup } = await startCluster({
    datanodes: 1,
    datanodeEnv: () => ({
      DFS_DATANODE_HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      DFS_DATANODE_HTTP_HEADERS_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS / 2),
    }),
  }));
  await cluster.waitWritable();
  // The requests here come as WebHDFS's default user (dr.who), not the NameNode's own (the
  // superuser): an operator opens the root to them, and the set-up acts as that user too.
  const operator = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 20_000 });
  await operator.setPermission('/', 0o777);
  operator.close();
  client = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 20_000, user: 'dr.who' });
}, 60_000);

afterAll(async () => {
  client?.close();
  await cleanup?.();
});

const dnPort = (): number => cluster.datanodes[0]!.httpPort;
const nnPort = (): number => cluster.namenode.httpPort;

/** The DataNode request target the NameNode redirects a CREATE of `path` to. */
async function createTarget(path: string, extra = ''): Promise<string> {
  const r = await httpRequest(nnPort(), `/webhdfs/v1${path}?op=CREATE&noredirect=true${extra}`, {
    method: 'PUT',
  });
  expect(r.status).toBe(200);
  const loc = new URL((JSON.parse(r.body) as { Location: string }).Location);
  expect(Number(loc.port)).toBe(dnPort());
  return loc.pathname + loc.search;
}

/** Sends `head` then `body`, waits until `until()` holds, then cuts the connection. */
async function cutAfter(
  port: number,
  head: string,
  body: Buffer,
  until: () => Promise<boolean>,
): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(head);
  socket.write(body);
  await waitFor('the upload to be under way', async () => ((await until()) ? true : undefined), 15_000);
  socket.destroy();
}

/** Nothing at `path` and no copy beside it, once the DataNode has cleaned up. */
async function expectNothingLeft(dir: string, expected: string[]): Promise<void> {
  await waitFor(
    `${dir} to hold only ${expected.join(', ') || 'nothing'}`,
    async () => {
      const names = (await client.listPage(dir)).entries.map((e) => e.path);
      return JSON.stringify(names) === JSON.stringify(expected) ? true : undefined;
    },
    15_000,
  );
}

describe('uploads cut off half-way', () => {
  it('a CREATE with Content-Length cut after half its body leaves no visible file; an old file stays whole', async () => {
    await client.mkdir('/cut');
    const old = testBytes(100_000, 1);
    await putBuffer(client, '/cut/keep', old);
    const half = testBytes(4 * 1024 * 1024, 2);
    const copying = async (): Promise<boolean> => (await client.exists('/cut/new._COPYING_')) !== null;
    const target = await createTarget('/cut/new');
    await cutAfter(
      dnPort(),
      `PUT ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: ${2 * half.length}\r\n\r\n`,
      half,
      copying,
    );
    await expectNothingLeft('/cut', ['keep']);
    // Overwriting an existing file: cut off, the old one is untouched.
    const keepTarget = await createTarget('/cut/keep', '&overwrite=true');
    const keepCopying = async (): Promise<boolean> => (await client.exists('/cut/keep._COPYING_')) !== null;
    await cutAfter(
      dnPort(),
      `PUT ${keepTarget} HTTP/1.1\r\nHost: x\r\nContent-Length: ${2 * half.length}\r\n\r\n`,
      half,
      keepCopying,
    );
    await expectNothingLeft('/cut', ['keep']);
    expect((await getBuffer(client, '/cut/keep')).equals(old)).toBe(true);
    await waitFor('the cut-off logged', () =>
      cluster.datanodes[0]!.logs.some(
        (l) => l.msg === 'http request refused' && String(l.err).includes('cut off'),
      )
        ? true
        : undefined,
    );
  }, 60_000);

  it('a chunked CREATE cut off mid-chunk leaves no visible file', async () => {
    await client.mkdir('/cutc');
    const target = await createTarget('/cutc/f');
    const chunk = testBytes(1024 * 1024, 3);
    const head = `PUT ${target} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const body = Buffer.concat([
      Buffer.from(`${chunk.length.toString(16)}\r\n`),
      chunk,
      Buffer.from('\r\n'),
      Buffer.from(`${(2 * chunk.length).toString(16)}\r\n`),
      chunk,
    ]);
    await cutAfter(dnPort(), head, body, async () => (await client.exists('/cutc/f._COPYING_')) !== null);
    await expectNothingLeft('/cutc', []);
  }, 60_000);

  it('a body dripped slowly is cut by the request timeout, answered 408, and leaves nothing', async () => {
    await client.mkdir('/slow');
    const target = await createTarget('/slow/f');
    const socket = net.connect(dnPort(), '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (s: string) => (text += s));
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(`PUT ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n`);
    const started = Date.now();
    const dripper = setInterval(() => socket.writable && socket.write('x'.repeat(100)), 100);
    await closed;
    clearInterval(dripper);
    expect(Date.now() - started).toBeLessThan(REQUEST_TIMEOUT_MS + 5000);
    expect(text).toMatch(/^HTTP\/1\.1 408/);
    await expectNothingLeft('/slow', []);
  }, 30_000);
});

describe('bounded bodies and readers', () => {
  it('the NameNode refuses a large CREATE body sent without Expect (413) and a large chunked one (400)', async () => {
    const declared = await httpRequest(nnPort(), '/webhdfs/v1/big?op=CREATE', {
      method: 'PUT',
      headers: { 'Content-Length': String(64 * 1024 * 1024) },
      body: '',
      timeoutMs: 10_000,
    }).catch((err: Error) => ({ status: 0, body: err.message, headers: {} }));
    expect(declared.status).toBe(413);
    expect(remoteException(declared.body).exception).toBe('IOException');
    // Chunked: read and dropped up to 1 MiB, then refused.
    const socket = net.connect(nnPort(), '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (s: string) => (text += s));
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write('PUT /webhdfs/v1/big?op=CREATE HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = Buffer.alloc(256 * 1024, 1);
    for (let i = 0; i < 8 && socket.writable; i++)
      socket.write(Buffer.concat([Buffer.from('40000\r\n'), chunk, Buffer.from('\r\n')]));
    await Promise.race([closed, sleep(10_000)]);
    socket.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 400/);
    expect(text).toContain('IllegalArgumentException');
    expect(await client.exists('/big')).toBeNull();
  });

  it('readers that never read do not grow the DataNode past a bound; past 32 transfers, 503', async () => {
    const size = 32 * 1024 * 1024;
    await putBuffer(client, '/r/big', testBytes(size, 4), { replication: 1 });
    const rss = async (): Promise<number> =>
      samples(await scrape(dnPort())).get('process_resident_memory_bytes') ?? 0;
    const before = await rss();
    const target = `/webhdfs/v1/r/big?op=OPEN&namenoderpcaddress=${cluster.namenodeAddress}`;
    const sockets: net.Socket[] = [];
    for (let i = 0; i < 32; i++) {
      const s = net.connect(dnPort(), '127.0.0.1');
      s.on('error', () => {});
      s.write(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
      s.pause(); // never read: the DataNode must stop reading the file when the socket is full
      sockets.push(s);
    }
    try {
      await sleep(3000);
      const during = await rss();
      // 32 readers of 32 MiB would be 1 GiB if buffered; each may hold a few MiB in flight
      // (110 MiB measured for all 32).
      expect(during - before).toBeLessThan(300 * 1024 * 1024);
      const busy = await httpRequest(dnPort(), target);
      expect(busy.status).toBe(503);
      expect(busy.headers['retry-after']).toBe('1');
      expect(remoteException(busy.body).exception).toBe('IOException');
    } finally {
      for (const s of sockets) s.destroy();
    }
  }, 60_000);
});

describe('garbage', () => {
  it('random request targets under /webhdfs get a 4xx RemoteException, never a 500', async () => {
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pieces = [
      '..',
      '.',
      '%2e',
      '%2F',
      '%00',
      '%zz',
      '%',
      'a',
      '/',
      '//',
      '?',
      '&',
      '=',
      'op=',
      'OPEN',
      'CREATE',
      'offset=',
      '-1',
      '99999999999999999999',
      'length=',
      'user.name=',
      'x y',
      '%ff',
      'destination=',
      'op=RENAME',
    ];
    for (let i = 0; i < 150; i++) {
      let target = '/webhdfs/v1/';
      for (let j = rnd(12); j >= 0; j--) target += pieces[rnd(pieces.length)]!;
      const port = i % 2 === 0 ? nnPort() : dnPort();
      const method = ['GET', 'PUT', 'POST', 'DELETE'][rnd(4)]!;
      const r = await httpRequest(port, encodeURI(target).replace(/%25/g, '%'), { method }).catch(() => null);
      if (r === null) continue; // refused by the client library itself
      expect(r.status, `${method} ${target} on ${port}`).toBeGreaterThanOrEqual(200);
      expect(r.status, `${method} ${target} on ${port}: ${r.body}`).toBeLessThan(500);
      if (r.status >= 400) remoteException(r.body);
    }
  }, 60_000);

  it('both daemons still serve afterwards', async () => {
    expect(cluster.namenode.running).toBe(true);
    expect(cluster.datanodes[0]!.running).toBe(true);
    await putBuffer(client, '/after', Buffer.from('fine'));
    const r = await httpRequest(nnPort(), '/webhdfs/v1/after?op=GETFILESTATUS');
    expect(r.status).toBe(200);
  });
});
