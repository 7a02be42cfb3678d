/**
 * Hostile HTTP clients against real daemons (issue 13 section 1: HTTP held to the binary
 * ports' standard, tests/faults/malicious-client.test.ts): a huge header, headers sent one
 * byte at a time, a garbage request line, methods other than GET and HEAD, a body where
 * none is taken, an unknown path, and more connections than the cap. Each gets its 4xx
 * with a typed JSON body or is cut, each refusal is logged, and afterwards the daemon still
 * serves RPC and HTTP. Run against the NameNode and a DataNode alike (src/common/http-server.ts).
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import type { DaemonProcess } from '../../src/local/daemon-process.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { startCluster } from '../support/cluster.js';
import { logsMatching, sleep, waitFor } from '../support/data-path.js';
import { httpRequest } from '../support/http.js';

const HEADERS_TIMEOUT_MS = 1000;
const CONNECTIONS_MAX = 16;
const HEADER_BYTES_MAX = 4096;

function httpLimits(section: 'NAMENODE' | 'DATANODE'): NodeJS.ProcessEnv {
  return {
    [`DFS_${section}_HTTP_HEADERS_TIMEOUT_MS`]: String(HEADERS_TIMEOUT_MS),
    [`DFS_${section}_HTTP_REQUEST_TIMEOUT_MS`]: String(2 * HEADERS_TIMEOUT_MS),
    [`DFS_${section}_HTTP_CONNECTIONS_MAX`]: String(CONNECTIONS_MAX),
    [`DFS_${section}_HTTP_HEADER_BYTES_MAX`]: String(HEADER_BYTES_MAX),
  };
}

let cluster: LocalCluster;
let cleanup: () => Promise<void>;
let client: DfsClient;

beforeAll(async () => {
  ({ cluster, cleanup } = await startCluster({
    datanodes: 1,
    namenodeEnv: httpLimits('NAMENODE'),
    datanodeEnv: () => httpLimits('DATANODE'),
  }));
  client = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 10_000 });
}, 60_000);

afterAll(async () => {
  client?.close();
  await cleanup?.();
});

interface RawOutcome {
  text: string;
  closed: boolean;
  ms: number;
}

/** Sends `bytes` (then `drip`, one byte every `dripMs`) and collects the answer until the server closes or `waitMs` passes. */
function raw(port: number, bytes: string, options: { drip?: string; dripMs?: number; waitMs?: number } = {}) {
  return new Promise<RawOutcome>((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    const finish = (closed: boolean): void => {
      clearTimeout(timer);
      clearInterval(dripper);
      socket.destroy();
      resolve({ text, closed, ms: Date.now() - started });
    };
    let i = 0;
    const drip = options.drip ?? '';
    const dripper = setInterval(() => {
      if (i < drip.length && socket.writable) socket.write(drip[i++]!);
    }, options.dripMs ?? 100);
    socket.on('connect', () => socket.write(bytes));
    socket.setEncoding('latin1');
    socket.on('data', (s: string) => (text += s));
    socket.on('error', () => {});
    socket.on('close', () => finish(true));
    const timer = setTimeout(() => finish(false), options.waitMs ?? 10_000);
  });
}

/** The status line's code and the JSON error body of a raw answer. */
function parsed(text: string): { status: number; code: string } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  const code = (JSON.parse(body) as { error: { code: string } }).error.code;
  return { status, code };
}

describe.each([
  ['NameNode', () => cluster.namenode],
  ['DataNode', () => cluster.datanodes[0]!],
])('%s HTTP under hostile clients', (_name, daemon: () => DaemonProcess) => {
  const port = (): number => daemon().httpPort;

  /** The refusal's log line (it may reach us a moment after the answer). */
  async function refusedLogged(status: number): Promise<void> {
    await waitFor(`a log line for the ${status}`, () =>
      logsMatching(daemon(), { msg: 'http request refused', status }).length > 0 ? true : undefined,
    );
  }

  it('a header larger than the limit: 431, typed, closed', async () => {
    const r = await raw(
      port(),
      `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`,
    );
    expect(parsed(r.text)).toEqual({ status: 431, code: 'HEADERS_TOO_LARGE' });
    expect(r.closed).toBe(true);
    await refusedLogged(431);
  });

  it('headers dripped a byte at a time: 408 within the headers timeout, closed', async () => {
    const r = await raw(port(), 'GET /healthz HTTP/1.1\r\nHost: x\r\n', {
      drip: 'X-Slow: '.repeat(100),
      dripMs: 100,
    });
    expect(r.closed).toBe(true);
    expect(r.ms).toBeLessThan(HEADERS_TIMEOUT_MS + 4000);
    expect(parsed(r.text)).toEqual({ status: 408, code: 'TIMEOUT' });
    await refusedLogged(408);
  });

  it('a connection that never sends a byte is closed too', async () => {
    const r = await raw(port(), '');
    expect(r.closed).toBe(true);
    expect(r.ms).toBeLessThan(HEADERS_TIMEOUT_MS + 4000);
  });

  it('a garbage request line: 400, typed, closed', async () => {
    const r = await raw(port(), '\u0001\u0002GARBAGE \u00ff\r\n\r\n');
    expect(parsed(r.text)).toEqual({ status: 400, code: 'BAD_REQUEST' });
    expect(r.closed).toBe(true);
    await refusedLogged(400);
  });

  it('POST, PUT, DELETE, OPTIONS: 405 with Allow; a body on GET: 413; an unknown path: 404', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const r = await httpRequest(port(), '/metrics', {
        method,
        body: 'x',
        headers: { 'Content-Length': '1' },
      });
      expect(r.status).toBe(405);
      expect(r.headers.allow).toBe('GET, HEAD');
      expect(JSON.parse(r.body)).toMatchObject({ error: { status: 405, code: 'METHOD_NOT_ALLOWED' } });
    }
    const withBody = await httpRequest(port(), '/healthz', {
      body: 'x'.repeat(10),
      headers: { 'Content-Length': '10' },
    });
    expect(withBody.status).toBe(413);
    expect(JSON.parse(withBody.body)).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
    const unknown = await httpRequest(port(), '/../../etc/passwd');
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body)).toMatchObject({ error: { status: 404, code: 'NOT_FOUND' } });
    const head = await httpRequest(port(), '/healthz', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    await refusedLogged(405);
    await refusedLogged(413);
    await refusedLogged(404);
  });

  it('more connections than the cap: the extra ones are cut, the held ones time out, then it serves again', async () => {
    const sockets: net.Socket[] = [];
    const closed = new Set<net.Socket>();
    for (let i = 0; i < CONNECTIONS_MAX * 4; i++) {
      const s = net.connect(port(), '127.0.0.1');
      s.on('error', () => {});
      s.on('close', () => closed.add(s));
      s.resume(); // read what the server sends, so its close is seen
      sockets.push(s);
    }
    try {
      // Past the cap, connections are cut at once.
      await waitFor('the connections past the cap to be cut', () =>
        closed.size >= CONNECTIONS_MAX * 3 ? true : undefined,
      );
      // The ones admitted but silent are closed by the headers timeout.
      await waitFor(
        'every hostile connection closed',
        () => (closed.size === sockets.length ? true : undefined),
        10_000,
      );
      await waitFor('the connection limit logged', () =>
        logsMatching(daemon(), { msg: 'http connection limit reached; refusing' }).length > 0
          ? true
          : undefined,
      );
    } finally {
      for (const s of sockets) s.destroy();
    }
    await sleep(100);
    expect((await httpRequest(port(), '/healthz')).status).toBe(200);
  });

  it('still serves RPC and HTTP afterwards', async () => {
    expect(daemon().running).toBe(true);
    await client.mkdir(`/after-${_name}`);
    expect(await client.exists(`/after-${_name}`)).not.toBeNull();
    const m = await httpRequest(port(), '/metrics');
    expect(m.status).toBe(200);
    expect(m.body).toContain('process_resident_memory_bytes');
  });
});
