/**
 * The HTTP endpoints every daemon serves (README.md, "HTTP endpoints"):
 *
 *   | path     | answer                                                                 |
 *   |----------|------------------------------------------------------------------------|
 *   | /metrics | Prometheus text (the daemon's own registry, default metrics included)  |
 *   | /healthz | 200 {"status":"ok"} while the process serves                           |
 *   | /readyz  | 200 when ready, else 503, with the reason (NameNode: out of safe mode; |
 *   |          | DataNode: registered with its NameNode)                                |
 *
 * `startDaemonHttp` builds the router with these and whatever the daemon adds (the web UI
 * and WebHDFS come here later), and starts the server unless `httpPort` is -1 (HTTP off).
 */
import type { Registry } from 'prom-client';
import { DfsError } from '../../protocol/errors.js';
import { HTTP_OFF, type HttpConfig } from './config.js';
import { HttpRouter, sendBody, sendJson } from './http-router.js';
import { HttpServer } from './http-server.js';
import type { Logger } from './logger.js';

export interface Readiness {
  ready: boolean;
  /** Why not ready, or what ready means, for people reading /readyz. */
  detail: string;
}

/**
 * Routes a launcher adds to a daemon's HTTP server (WebHDFS: src/webhdfs/, wired by
 * src/cli/dfsd.ts, so a daemon never imports the client it uses), closed with the daemon.
 */
export interface HttpExtension {
  addRoutes(router: HttpRouter): void;
  close(): void;
}

export interface DaemonHttpOptions {
  registry: Registry;
  readiness: () => Readiness;
  /** Adds the daemon's own routes. */
  extraRoutes?: (router: HttpRouter) => void;
}

const GET = ['GET'] as const;

export function daemonRouter(options: DaemonHttpOptions): HttpRouter {
  const router = new HttpRouter()
    .route('/metrics', {
      methods: GET,
      handler: async ({ res }) => {
        const text = await options.registry.metrics();
        sendBody(res, 200, options.registry.contentType, text);
      },
    })
    .route('/healthz', { methods: GET, handler: ({ res }) => sendJson(res, 200, { status: 'ok' }) })
    .route('/readyz', {
      methods: GET,
      handler: ({ res }) => {
        const r = options.readiness();
        sendJson(res, r.ready ? 200 : 503, { ready: r.ready, detail: r.detail });
      },
    });
  options.extraRoutes?.(router);
  return router;
}

/** Starts the daemon's HTTP server, or returns null when `httpPort` is -1. */
export async function startDaemonHttp(
  config: HttpConfig,
  log: Logger,
  options: DaemonHttpOptions,
): Promise<HttpServer | null> {
  if (config.httpPort === HTTP_OFF) {
    log.info('http off (httpPort -1)');
    return null;
  }
  if (!Number.isInteger(config.httpPort) || config.httpPort < 0 || config.httpPort > 65535)
    throw new DfsError('INVALID_ARGUMENT', `httpPort ${config.httpPort}: expected 0-65535, or -1 for off`);
  const server = new HttpServer(config, daemonRouter(options), log.child({ component: 'http' }));
  await server.listen(config.httpHost, config.httpPort);
  return server;
}
