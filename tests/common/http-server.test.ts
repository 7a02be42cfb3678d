/**
 * The HTTP server in process (src/common/http-server.ts, http-router.ts): what a handler's
 * failure becomes. A DfsError is its status with a typed JSON body and no stack; anything
 * else unexpected is a 500 INTERNAL (logged with its stack, never sent); an AssertionFailure
 * is not answered at all but escapes to the process (uncaughtException from a synchronous
 * handler, unhandledRejection from an async one), which crash.ts turns into exit 70.
 * close() ends keep-alive connections too.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { AssertionFailure, DfsError } from '../../protocol/errors.js';
import { HttpRouter, sendJson, statusOf, type Route } from '../../src/common/http-router.js';
import { HttpServer } from '../../src/common/http-server.js';
import { silentLogger } from '../../src/common/logger.js';
import { httpRequest, keptAlive } from '../support/http.js';

const LIMITS = {
  httpConnectionsMax: 8,
  httpHeaderBytesMax: 4096,
  httpHeadersTimeoutMs: 2000,
  httpRequestTimeoutMs: 4000,
  httpKeepAliveTimeoutMs: 5000,
};

const servers: HttpServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function serve(router: HttpRouter): Promise<number> {
  const s = new HttpServer(LIMITS, router, silentLogger());
  servers.push(s);
  return (await s.listen('127.0.0.1', 0)).port;
}

/** Runs `act` with the process's listeners for `event` replaced by one that catches the first error. */
async function caught(event: 'uncaughtException' | 'unhandledRejection', act: () => void): Promise<unknown> {
  const saved: Array<(...args: never[]) => void> =
    event === 'uncaughtException' ? process.listeners(event) : process.listeners(event);
  process.removeAllListeners(event);
  try {
    return await new Promise<unknown>((resolve) => {
      if (event === 'uncaughtException') process.once(event, (err) => resolve(err));
      else process.once(event, (reason) => resolve(reason));
      act();
    });
  } finally {
    process.removeAllListeners(event);
    for (const l of saved) process.on(event, l as (...args: unknown[]) => void);
  }
}

/** A GET route whose handler throws what `make` returns, at once or after an await. */
function throwing(make: () => unknown, when: 'sync' | 'async'): Route {
  const handler =
    when === 'sync'
      ? (): void => {
          throw make();
        }
      : async (): Promise<void> => {
          await Promise.resolve();
          throw make();
        };
  return { methods: ['GET'], handler };
}

describe('HttpServer', () => {
  it('a DfsError from a handler, sync or async, is its status with a typed body', async () => {
    const port = await serve(
      new HttpRouter()
        .route(
          '/safe',
          throwing(() => new DfsError('SAFE_MODE', 'in safe mode'), 'sync'),
        )
        .route(
          '/gone',
          throwing(() => new DfsError('NOT_FOUND', 'no such file'), 'async'),
        ),
    );
    const safe = await httpRequest(port, '/safe');
    expect(safe.status).toBe(503);
    expect(safe.headers['content-type']).toContain('application/json');
    expect(JSON.parse(safe.body)).toEqual({
      error: { status: 503, code: 'SAFE_MODE', message: 'in safe mode' },
    });
    const gone = await httpRequest(port, '/gone');
    expect(gone.status).toBe(404);
    expect(JSON.parse(gone.body)).toEqual({
      error: { status: 404, code: 'NOT_FOUND', message: 'no such file' },
    });
    expect(statusOf('INVALID_ARGUMENT')).toBe(400);
    expect(statusOf('INTERNAL')).toBe(500);
  });

  it('an unexpected error is a 500 INTERNAL that shows no stack or message', async () => {
    const port = await serve(
      new HttpRouter().route(
        '/oops',
        throwing(() => new TypeError('secret internals at /srv/x.js:1'), 'sync'),
      ),
    );
    const r = await httpRequest(port, '/oops');
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body)).toEqual({
      error: { status: 500, code: 'INTERNAL', message: 'internal error' },
    });
    expect(r.body).not.toContain('secret');
  });

  it('an AssertionFailure is never answered: it escapes to the process (sync and async)', async () => {
    const port = await serve(
      new HttpRouter()
        .route(
          '/bug',
          throwing(() => new AssertionFailure('planted'), 'sync'),
        )
        .route(
          '/async-bug',
          throwing(() => new AssertionFailure('planted async'), 'async'),
        ),
    );
    const sockets: http.ClientRequest[] = [];
    const request = (path: string) => (): void => {
      const req = http.get({ host: '127.0.0.1', port, path, agent: false });
      req.on('error', () => {});
      sockets.push(req);
    };
    const sync = await caught('uncaughtException', request('/bug'));
    expect(sync).toBeInstanceOf(AssertionFailure);
    const async = await caught('unhandledRejection', request('/async-bug'));
    expect(async).toBeInstanceOf(AssertionFailure);
    for (const s of sockets) s.destroy();
  });

  it('HEAD gets the headers of GET and no body; a custom error body per route', async () => {
    const port = await serve(
      new HttpRouter()
        .route('/x', { methods: ['GET'], handler: ({ res }) => sendJson(res, 200, { hello: 'world' }) })
        .routePrefix('/api/', {
          methods: ['GET'],
          handler: () => {
            throw new DfsError('INVALID_ARGUMENT', 'bad query');
          },
          errorBody: (f) => ({ RemoteException: { exception: f.code, message: f.message } }),
        }),
    );
    const head = await httpRequest(port, '/x', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength('{"hello":"world"}\n')));
    expect(head.body).toBe('');
    const api = await httpRequest(port, '/api/v1/anything');
    expect(api.status).toBe(400);
    expect(JSON.parse(api.body)).toEqual({
      RemoteException: { exception: 'INVALID_ARGUMENT', message: 'bad query' },
    });
  });

  it('close() ends idle keep-alive connections and resolves', async () => {
    const router = new HttpRouter().route('/healthz', {
      methods: ['GET'],
      handler: ({ res }) => sendJson(res, 200, {}),
    });
    const s = new HttpServer(LIMITS, router, silentLogger());
    const { port } = await s.listen('127.0.0.1', 0);
    const { closed } = await keptAlive(port);
    expect(s.connections).toBe(1);
    await s.close();
    await closed;
    await s.close(); // idempotent
  });
});
