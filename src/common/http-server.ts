/**
 * The HTTP server beside each daemon's binary port (node:http, no framework): Prometheus
 * `/metrics`, `/healthz`, `/readyz` (daemon-http.ts), and later the NameNode's web UI and
 * WebHDFS, all through one router (http-router.ts). It is held to the binary ports'
 * standard (frame-server.ts): bounded, typed errors, never able to take the daemon down.
 *
 * Limits, so one bad or slow client cannot hurt the others:
 * - httpConnectionsMax: further connections are cut at once (net.Server maxConnections,
 *   logged from its 'drop' event, at most once a second).
 * - httpHeaderBytesMax bounds the request line and headers together (llhttp): 431.
 * - httpHeadersTimeoutMs / httpRequestTimeoutMs: headers, then the whole request, must
 *   arrive in time, else 408 and the connection is closed (node:http checks every
 *   CHECK_INTERVAL_MS); httpKeepAliveTimeoutMs closes idle keep-alive connections.
 * - a request body over its route's bodyBytesMax (0 unless a route takes uploads) is
 *   refused 413 before a byte of it is read, and the connection is closed.
 * - a request the parser rejects (garbage request line, bad header) gets 400 and a close.
 * - `Expect: 100-continue`: the route is resolved and the body's size checked before 100
 *   Continue is sent, so a refused upload is never sent; a route that answers without the
 *   body (`answersBeforeBody`) is answered at once and the connection closed after it.
 *
 * Errors: every refusal is one JSON body (http-router.ts) and one log line: 4xx at info
 * (the client's doing), 5xx at error. A handler that throws a DfsError answers with its
 * status; an AssertionFailure is rethrown (protocol/errors.ts `rethrowIfBug`) and crashes
 * the process like everywhere else, from the request event (uncaughtException) or from a
 * handler's promise (unhandledRejection), both fatal (src/common/crash.ts).
 *
 * Lifecycle: idle -> listening -> closed, one teardown: close() stops accepting, ends
 * every connection (in-flight answers included) and resolves once the server is closed.
 */
import http from 'node:http';
import type net from 'node:net';
import { assert, rethrowIfBug } from '../../protocol/errors.js';
import type { HttpConfig } from './config.js';
import {
  defaultErrorBody,
  failureOf,
  HttpError,
  sendJson,
  type HttpExchange,
  type HttpFailure,
  type HttpRouter,
  type Route,
} from './http-router.js';
import type { Logger } from './logger.js';

/** How often node:http checks the header and request timeouts (at most). */
const CHECK_INTERVAL_MS = 1000;
/** Dropped connections are logged at most this often. */
const DROP_LOG_GAP_MS = 1000;

type State = 'idle' | 'listening' | 'closed';

export type HttpLimits = Omit<HttpConfig, 'httpPort' | 'httpHost'>;

export class HttpServer {
  private state: State = 'idle';
  private server: http.Server | null = null;
  private lastDropLogMs = 0;
  private dropped = 0;
  private open = 0;
  address = { host: '', port: 0 };

  constructor(
    private readonly limits: HttpLimits,
    private readonly router: HttpRouter,
    private readonly log: Logger,
  ) {}

  /** Open connections now (the connection cap counts these). */
  get connections(): number {
    return this.open;
  }

  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    assert(this.state === 'idle', `http server listen while ${this.state}`);
    const l = this.limits;
    const server = http.createServer({
      maxHeaderSize: l.httpHeaderBytesMax,
      headersTimeout: l.httpHeadersTimeoutMs,
      requestTimeout: l.httpRequestTimeoutMs,
      keepAliveTimeout: l.httpKeepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(CHECK_INTERVAL_MS, Math.max(50, l.httpHeadersTimeoutMs / 4)),
      noDelay: true,
    });
    server.maxConnections = l.httpConnectionsMax;
    server.on('connection', (socket: net.Socket) => {
      this.open++;
      socket.once('close', () => this.open--);
    });
    server.on('request', (req, res) => this.onRequest(req, res, false));
    server.on('checkContinue', (req, res) => this.onRequest(req, res, true));
    server.on('clientError', (err: Error & { code?: string }, socket: net.Socket) =>
      this.onClientError(err, socket),
    );
    server.on('drop', (data?: { remoteAddress?: string }) => this.onDrop(data?.remoteAddress));
    this.server = server;
    this.state = 'listening';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // A listening server's own errors (e.g. EMFILE on accept) are logged, never thrown.
    server.on('error', (err) => this.log.error({ err: err.message }, 'http server error'));
    const a = server.address() as net.AddressInfo;
    this.address = { host: a.address, port: a.port };
    this.log.info({ httpHost: a.address, httpPort: a.port }, 'http listening');
    return this.address;
  }

  /** Stops accepting and ends every connection; resolves once closed. Idempotent. */
  async close(): Promise<void> {
    const server = this.server;
    if (this.state !== 'listening' || server === null) {
      this.state = 'closed';
      return;
    }
    this.state = 'closed';
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse, expectsContinue: boolean): void {
    const started = performance.now();
    const method = req.method ?? '';
    // The parser bounds the URL with the headers (httpHeaderBytesMax).
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      this.refuse(req, res, null, new HttpError(400, 'BAD_REQUEST', 'unparsable request target'), started);
      return;
    }
    const log = this.log;
    const ex: HttpExchange = { req, res, url, log };
    res.on('error', (err) => log.debug({ err: err.message }, 'http response error'));
    req.on('error', (err) => log.debug({ err: err.message }, 'http request error'));
    let route: Route | null = null;
    try {
      route = this.router.resolve(method, url.pathname);
      if (expectsContinue && route.answersBeforeBody === true) {
        // The body will not come: nothing after this answer may be read as a next request.
        res.setHeader('Connection', 'close');
      } else {
        checkBody(req, route);
        if (expectsContinue) res.writeContinue();
      }
      const done = route.handler(ex);
      if (done instanceof Promise) {
        const r = route;
        done.then(
          () => this.served(ex, started),
          (err: unknown) => {
            rethrowIfBug(err); // unhandledRejection: fatal (crash.ts)
            this.refuse(req, res, r, err, started);
          },
        );
        return;
      }
      this.served(ex, started);
    } catch (err) {
      rethrowIfBug(err);
      this.refuse(req, res, route, err, started);
    }
  }

  private served(ex: HttpExchange, started: number): void {
    if (!this.log.isLevelEnabled('debug')) return;
    ex.log.debug(
      {
        method: ex.req.method,
        path: ex.url.pathname,
        status: ex.res.statusCode,
        ms: Math.round(performance.now() - started),
      },
      'http request',
    );
  }

  /** The one error path of a parsed request: typed JSON body, log line, close if unread bytes remain. */
  private refuse(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    route: Route | null,
    err: unknown,
    started: number,
  ): void {
    const f = failureOf(err);
    const fields = {
      method: req.method,
      path: (req.url ?? '').slice(0, 200),
      // A request whose body was cut off has lost its socket by now (null).
      remote: (req.socket as net.Socket | null)?.remoteAddress,
      status: f.status,
      code: f.code,
      ms: Math.round(performance.now() - started),
    };
    if (f.status >= 500) this.log.error({ ...fields, err }, 'http request failed');
    else this.log.info({ ...fields, err: f.message }, 'http request refused');
    if (res.headersSent) {
      // Part of an answer is out: the only honest end is a cut connection.
      res.destroy();
      return;
    }
    const headers: Record<string, string> = { ...f.headers };
    // A body we did not read must not be parsed as the next request.
    if (hasBody(req)) headers.Connection = 'close';
    sendJson(res, f.status, (route?.errorBody ?? defaultErrorBody)(f), headers);
  }

  /** Bytes the parser refused (no request object exists): a raw answer, then close. */
  private onClientError(err: Error & { code?: string }, socket: net.Socket): void {
    const f = clientErrorFailure(err);
    if (f === null || !socket.writable) {
      socket.destroy();
      return;
    }
    this.log.info(
      { remote: socket.remoteAddress, status: f.status, code: f.code, err: err.message },
      'http request refused',
    );
    const body = `${JSON.stringify(defaultErrorBody(f))}\n`;
    socket.end(
      `HTTP/1.1 ${f.status} ${http.STATUS_CODES[f.status] ?? ''}\r\n` +
        'Connection: close\r\nContent-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  private onDrop(remote: string | undefined): void {
    this.dropped++;
    const now = Date.now();
    if (now - this.lastDropLogMs < DROP_LOG_GAP_MS) return;
    this.lastDropLogMs = now;
    this.log.warn(
      { remote, httpConnectionsMax: this.limits.httpConnectionsMax, droppedSinceLastLog: this.dropped },
      'http connection limit reached; refusing',
    );
    this.dropped = 0;
  }
}

function hasBody(req: http.IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Refuses a declared body larger than the route takes, before it is read. */
function checkBody(req: http.IncomingMessage, route: Route): void {
  const max = route.bodyBytesMax ?? 0;
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max)
    throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `request body of ${declared} bytes; at most ${max} here`);
  if (max === 0 && req.headers['transfer-encoding'] !== undefined)
    throw new HttpError(413, 'PAYLOAD_TOO_LARGE', 'this resource takes no request body');
}

/** The answer to a parser error, or null when the peer is gone (nothing to answer). */
function clientErrorFailure(err: Error & { code?: string }): HttpFailure | null {
  const f = (status: number, code: string, message: string): HttpFailure => ({
    status,
    code,
    message,
    headers: {},
  });
  switch (err.code) {
    case 'ECONNRESET':
    case 'EPIPE':
    case 'HPE_INVALID_EOF_STATE':
      return null;
    case 'HPE_HEADER_OVERFLOW':
      return f(431, 'HEADERS_TOO_LARGE', 'request line and headers exceed the limit');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return f(408, 'TIMEOUT', 'request not received in time');
    default:
      return f(400, 'BAD_REQUEST', `malformed request (${err.code ?? 'parse error'})`);
  }
}
