/**
 * Routing and replies for the daemons' HTTP servers (http-server.ts): a table of exact
 * paths and path prefixes, each route with the methods it serves and the request body it
 * accepts, and the helpers every handler answers with. No framework: the surface is small
 * and every byte of it is ours to bound.
 *
 * Errors. A handler throws a `DfsError` (a fault of the world: its code maps to a status,
 * `statusOf`) or an `HttpError` (a status of HTTP's own: 405, 413...). The server turns
 * either into one typed JSON body and one log line; a route may give its own body shape
 * (`errorBody`, e.g. WebHDFS's `RemoteException`). An `AssertionFailure` is never turned
 * into a reply (protocol/errors.ts `rethrowIfBug`).
 *
 *   | thrown                      | status | body                                          |
 *   |-----------------------------|--------|-----------------------------------------------|
 *   | HttpError(status, code)     | status | {"error":{"status","code","message"}}         |
 *   | DfsError(code)              | table  | same shape, the DfsError's code               |
 *   | anything else               | 500    | code INTERNAL, logged at error with its stack |
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DfsError, type ErrorCode } from '../../protocol/errors.js';
import type { Logger } from './logger.js';

/** A refusal with a status of HTTP's own (not a DfsError code). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra response headers (e.g. Allow on a 405). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** What a handler gets: the request, its parsed URL and a logger bound to it. */
export interface HttpExchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly log: Logger;
}

export type RouteHandler = (ex: HttpExchange) => void | Promise<void>;

export interface Route {
  /** Methods served; HEAD is served wherever GET is. */
  methods: readonly string[];
  handler: RouteHandler;
  /** Request body bytes accepted (default 0: a request that declares a body is refused 413). */
  bodyBytesMax?: number;
  /**
   * The route answers without reading a body (WebHDFS's NameNode redirects CREATE to a
   * DataNode): a client that sent `Expect: 100-continue` gets the final answer instead of
   * 100 Continue and never sends its body, whatever its size (http-server.ts).
   */
  answersBeforeBody?: boolean;
  /** The JSON body of an error on this route; default `{error: {status, code, message}}`. */
  errorBody?: (f: HttpFailure) => unknown;
}

export interface HttpFailure {
  status: number;
  code: string;
  message: string;
  headers: Readonly<Record<string, string>>;
}

const STATUS_OF_CODE: Partial<Record<ErrorCode, number>> = {
  NOT_FOUND: 404,
  INVALID_ARGUMENT: 400,
  INVALID_PATH: 400,
  MALFORMED: 400,
  PROTOCOL: 400,
  ACCESS_DENIED: 403,
  ALREADY_EXISTS: 409,
  NOT_A_DIRECTORY: 409,
  IS_A_DIRECTORY: 409,
  NOT_EMPTY: 409,
  LEASE_CONFLICT: 409,
  FRAME_TOO_LARGE: 413,
  SAFE_MODE: 503,
  SHUTTING_DOWN: 503,
  TIMEOUT: 504,
  NO_SPACE: 507,
};

/** The HTTP status a DfsError answers with; 500 for codes that are the server's fault. */
export function statusOf(code: ErrorCode): number {
  return STATUS_OF_CODE[code] ?? 500;
}

/** Any thrown value as a status, code and message (callers rethrow bugs first). */
export function failureOf(err: unknown): HttpFailure {
  if (err instanceof HttpError)
    return { status: err.status, code: err.code, message: err.message, headers: err.headers };
  if (err instanceof DfsError)
    return { status: statusOf(err.code), code: err.code, message: err.message, headers: {} };
  return { status: 500, code: 'INTERNAL', message: 'internal error', headers: {} };
}

export function defaultErrorBody(f: HttpFailure): unknown {
  return { error: { status: f.status, code: f.code, message: f.message } };
}

/** Headers every answer carries: nothing cached, nothing sniffed. */
const COMMON_HEADERS = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' } as const;

/** Sends `body` with its length (no chunked encoding); HEAD gets the headers alone (node:http). */
export function sendBody(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  headers: Readonly<Record<string, string>> = {},
): void {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, {
    ...COMMON_HEADERS,
    ...headers,
    'Content-Type': contentType,
    'Content-Length': String(bytes.length),
  });
  res.end(bytes);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  sendBody(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value)}\n`, headers);
}

/** Exact paths and path prefixes; the longest matching prefix wins. */
export class HttpRouter {
  private readonly exact = new Map<string, Route>();
  private readonly prefixes: Array<{ prefix: string; route: Route }> = [];

  /** Serves `path` exactly (no trailing-slash variants). */
  route(path: string, route: Route): this {
    if (this.exact.has(path)) throw new DfsError('INVALID_ARGUMENT', `HTTP route ${path} defined twice`);
    this.exact.set(path, route);
    return this;
  }

  /** Serves every path that starts with `prefix` (e.g. `/webhdfs/v1/`). */
  routePrefix(prefix: string, route: Route): this {
    if (this.prefixes.some((p) => p.prefix === prefix))
      throw new DfsError('INVALID_ARGUMENT', `HTTP prefix ${prefix} defined twice`);
    this.prefixes.push({ prefix, route });
    this.prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
    return this;
  }

  match(path: string): Route | undefined {
    const r = this.exact.get(path);
    if (r !== undefined) return r;
    for (const p of this.prefixes) if (path.startsWith(p.prefix)) return p.route;
    return undefined;
  }

  /** The route for a request, or the HttpError that refuses it (404, 405). */
  resolve(method: string, path: string): Route {
    const route = this.match(path);
    if (route === undefined) throw new DfsError('NOT_FOUND', `no such HTTP resource: ${path.slice(0, 200)}`);
    const allowed = allowedMethods(route);
    if (!allowed.includes(method))
      throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${path.slice(0, 200)}`, {
        Allow: allowed.join(', '),
      });
    return route;
  }
}

export function allowedMethods(route: Route): string[] {
  const m = [...route.methods];
  if (m.includes('GET') && !m.includes('HEAD')) m.push('HEAD');
  return m;
}
