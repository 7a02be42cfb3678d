/**
 * The NameNode's JSON API and static UI files against real processes, without a browser
 * (issue 13 sections 2 and 4; src/namenode/web-api.ts, web-transfer.ts, web-static.ts):
 * a 100,000-entry directory pages quickly with a capped limit; bad paths and queries are
 * 400 with a typed JSON body and no stack; static files carry their type, an ETag (304 on
 * revalidation) and refuse traversal; changes need the CSRF header; an upload round-trips
 * byte for byte with the client; an upload cut off half-way leaves no visible file.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { startCluster } from '../support/cluster.js';
import { getBuffer, putBuffer, testBytes, waitFor } from '../support/data-path.js';
import { httpRequest } from '../support/http.js';

let cluster: LocalCluster;
let cleanup: () => Promise<void>;
let client: DfsClient;
const port = (): number => cluster.namenode.httpPort;

beforeAll(async () => {
  ({ cluster, cleanup } = await startCluster({ datanodes: 1 }));
  await cluster.waitWritable();
  client = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 30_000 });
  // The API acts as dr.who here (no user.name): an operator opens the root to it, as on a fresh HDFS.
  await client.setPermission('/', 0o777);
}, 60_000);

afterAll(async () => {
  client?.close();
  await cleanup?.();
});

async function getJson(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await httpRequest(port(), path);
  return { status: r.status, body: JSON.parse(r.body) as Record<string, unknown> };
}

interface ListPage {
  entries: Array<{ name: string; type: string }>;
  hasMore: boolean;
  startAfter: string | null;
}

/**
 * Sends a PUT that declares `declared` bytes, sends `sent` of them, waits until the upload's
 * `._COPYING_` file exists (the bytes are flowing into DFS), then cuts the connection.
 */
async function cutUpload(path: string, declared: number, sent: number): Promise<void> {
  const s = net.connect(port(), '127.0.0.1');
  s.on('error', () => {});
  const closed = new Promise<void>((resolve) => s.on('close', () => resolve()));
  await new Promise<void>((resolve) => s.once('connect', () => resolve()));
  s.write(
    `PUT /api/v1/content?path=${encodeURIComponent(path)} HTTP/1.1\r\nHost: x\r\n` +
      `X-XSRF-HEADER: 1\r\nContent-Length: ${declared}\r\n\r\n`,
  );
  s.write(testBytes(sent, 7));
  await waitFor('the upload to be under way', async () =>
    (await client.exists(`${path}._COPYING_`)) ? true : undefined,
  );
  s.destroy();
  await closed;
}

describe('web API', () => {
  it('pages a 100,000-entry directory quickly, with a capped limit', async () => {
    const N = 100_000;
    await client.mkdir('/big');
    const WINDOW = 256;
    let next = 0;
    await Promise.all(
      Array.from({ length: WINDOW }, async () => {
        while (next < N) {
          const i = next++;
          await client.mkdir(`/big/d${String(i).padStart(6, '0')}`);
        }
      }),
    );
    let cursor = '';
    let seen = 0;
    let pages = 0;
    let slowestMs = 0;
    for (;;) {
      const started = performance.now();
      const q = cursor === '' ? '' : `&startAfter=${encodeURIComponent(cursor)}`;
      const { status, body } = await getJson(`/api/v1/list?path=/big&limit=10000${q}`);
      slowestMs = Math.max(slowestMs, performance.now() - started);
      expect(status).toBe(200);
      const page = body as unknown as ListPage;
      expect(page.entries.length).toBeLessThanOrEqual(10_000);
      expect(page.entries[0]?.name).toBe(`d${String(seen).padStart(6, '0')}`);
      seen += page.entries.length;
      pages++;
      if (!page.hasMore) break;
      cursor = page.startAfter!;
    }
    expect(seen).toBe(N);
    expect(pages).toBe(10);
    expect(slowestMs).toBeLessThan(2000);
    // The default page is small; the cap is enforced.
    const first = (await getJson('/api/v1/list?path=/big')).body as unknown as ListPage;
    expect(first.entries).toHaveLength(500);
    const over = await getJson('/api/v1/list?path=/big&limit=10001');
    expect(over.status).toBe(400);
    expect(over.body).toMatchObject({ error: { status: 400, code: 'BAD_QUERY' } });
    const overview = (await getJson('/api/v1/overview')).body;
    expect(overview.directories).toBeGreaterThanOrEqual(N + 2);
  }, 180_000);

  it('answers bad paths and queries 400 with a typed JSON error, never a stack', async () => {
    const cases: Array<[string, string]> = [
      ['/api/v1/list?path=relative', 'INVALID_PATH'],
      ['/api/v1/list?path=/a/../b', 'INVALID_PATH'],
      ['/api/v1/list?path=/a/%2e%2e/b', 'INVALID_PATH'],
      ['/api/v1/list?path=/a//b', 'INVALID_PATH'],
      ['/api/v1/file?path=/x%00y', 'INVALID_PATH'],
      ['/api/v1/list', 'BAD_QUERY'],
      ['/api/v1/list?path=/&limit=ten', 'BAD_QUERY'],
      ['/api/v1/list?path=/&limit=-1', 'BAD_QUERY'],
      ['/api/v1/list?path=/&limit=0', 'BAD_QUERY'],
      ['/api/v1/list?path=/&path=/big', 'BAD_QUERY'],
      ['/api/v1/list?path=/&sneaky=1', 'BAD_QUERY'],
      ['/api/v1/file?path=/&startBlock=1e9', 'BAD_QUERY'],
      ['/api/v1/health?offset=x', 'BAD_QUERY'],
      ['/api/v1/overview?x=1', 'BAD_QUERY'],
      ['/ui/..%2f..%2fpackage.json', 'BAD_PATH'],
      ['/ui/..%5cpackage.json', 'BAD_PATH'],
      ['/ui/%E0%A4%A', 'BAD_PATH'],
    ];
    for (const [path, code] of cases) {
      const r = await httpRequest(port(), path);
      expect(r.status, path).toBe(400);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(r.body), path).toMatchObject({ error: { status: 400, code } });
      expect(r.body, path).not.toMatch(/\bat .*\.(ts|js):\d+/);
    }
    const missing = await getJson('/api/v1/list?path=/no/such');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('serves the UI files with their type and ETag, and refuses to reach outside them', async () => {
    const index = await httpRequest(port(), '/');
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['content-security-policy']).toMatch(/default-src 'self'/);
    expect(index.body).toContain('/ui/app.js');
    const js = await httpRequest(port(), '/ui/app.js');
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    const css = await httpRequest(port(), '/ui/style.css');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    const etag = js.headers.etag!;
    expect(etag).toMatch(/^".+"$/);
    expect(js.headers['cache-control']).toBe('no-cache');
    const again = await httpRequest(port(), '/ui/app.js', { headers: { 'If-None-Match': etag } });
    expect(again.status).toBe(304);
    expect(again.body).toBe('');
    // The URL parser resolves plain and encoded dot segments before routing: never into the disk.
    for (const p of [
      '/ui/../package.json',
      '/ui/%2e%2e/%2e%2e/package.json',
      '/ui/nope.js',
      '/ui/web/app.js',
    ]) {
      const r = await httpRequest(port(), p);
      expect(r.status, p).toBe(404);
      expect(r.body).not.toContain('"name": "dfs"');
    }
  });

  it('needs the CSRF header for changes; mkdir, upload, download, rename and delete work', async () => {
    const refused = await httpRequest(port(), '/api/v1/mkdir?path=/w', { method: 'POST' });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'CSRF_HEADER_REQUIRED' } });
    const h = { 'X-XSRF-HEADER': '1' };
    expect(
      (await httpRequest(port(), '/api/v1/mkdir?path=/w/in', { method: 'POST', headers: h })).status,
    ).toBe(201);
    const data = testBytes(3 * 1024 * 1024 + 17, 3);
    const put = await new Promise<number>((resolve, reject) => {
      const s = net.connect(port(), '127.0.0.1', () => {
        s.write(
          `PUT /api/v1/content?path=/w/in/f.bin HTTP/1.1\r\nHost: x\r\nX-XSRF-HEADER: 1\r\n` +
            `Connection: close\r\nContent-Length: ${data.length}\r\n\r\n`,
        );
        s.write(data);
      });
      let text = '';
      s.on('data', (b: Buffer) => (text += b.toString('latin1')));
      s.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1])));
      s.on('error', reject);
    });
    expect(put).toBe(201);
    expect((await getBuffer(client, '/w/in/f.bin')).equals(data)).toBe(true);
    const exists = await httpRequest(port(), '/api/v1/content?path=/w/in/f.bin', {
      method: 'PUT',
      headers: h,
    });
    expect(exists.status).toBe(409);
    const other = testBytes(1000, 4);
    await putBuffer(client, '/w/put.bin', other);
    const down = await fetch(`http://127.0.0.1:${port()}/api/v1/content?path=/w/put.bin`);
    expect(down.headers.get('content-length')).toBe('1000');
    expect(down.headers.get('content-disposition')).toContain('filename="put.bin"');
    expect(Buffer.from(await down.arrayBuffer()).equals(other)).toBe(true);
    const ren = await httpRequest(port(), '/api/v1/rename?path=/w/put.bin&to=/w/moved.bin', {
      method: 'POST',
      headers: h,
    });
    expect(ren.status).toBe(200);
    expect((await client.stat('/w/moved.bin')).length).toBe(1000);
    const notEmpty = await httpRequest(port(), '/api/v1/file?path=/w', { method: 'DELETE', headers: h });
    expect(notEmpty.status).toBe(409);
    const del = await httpRequest(port(), '/api/v1/file?path=/w&recursive=true', {
      method: 'DELETE',
      headers: h,
    });
    expect(del.status).toBe(200);
    expect(await client.exists('/w')).toBeNull();
  });

  it('an upload cut off half-way leaves no visible file', async () => {
    await client.mkdir('/cut');
    await client.setPermission('/cut', 0o777);
    await cutUpload('/cut/half.bin', 8 * 1024 * 1024, 4 * 1024 * 1024);
    await waitFor(
      'the cut-off upload to be cleaned up',
      async () => {
        const names: string[] = [];
        for await (const s of client.list('/cut')) names.push(s.path);
        return names.length === 0 ? true : undefined;
      },
      15_000,
    );
    expect(await client.exists('/cut/half.bin')).toBeNull();
    // The NameNode still serves.
    expect((await httpRequest(port(), '/api/v1/overview')).status).toBe(200);
  });
});
