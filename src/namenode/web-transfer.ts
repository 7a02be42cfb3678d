/**
 * The web API's changes and bytes (README.md, "Web UI and JSON API"): upload, download,
 * mkdir, rename, delete. The NameNode never moves file bytes itself, so these go through an
 * ordinary DFS client (src/client/dfs-client.ts) connected to this NameNode's own RPC port:
 * the very namespace checks, edit log, safe mode, quotas and replica pipeline every other
 * client gets, with nothing special-cased for the browser.
 *
 * Upload (`PUT /api/v1/content?path=P[&overwrite=true]`) streams the request body into a
 * DFS write pipeline with backpressure (the body is read only as fast as the pipeline acks;
 * memory is the client's bounded packet window, whatever the file's size). The bytes go to
 * `P._COPYING_` and are renamed onto P once complete, as `dfs put` does
 * (src/cli/commands/file-copy.ts): a body cut off half-way (the peer closed, or fewer bytes
 * than its Content-Length) deletes the copy, so no partial file is ever visible at P. The
 * whole request must arrive within httpRequestTimeoutMs (node:http's request timeout).
 *
 * Download (`GET /api/v1/content?path=P`) streams a verified read (every chunk checked, bad
 * replicas skipped, src/client/dfs-input-stream.ts) with Content-Length and an attachment
 * Content-Disposition; a read that fails after the headers went out cuts the connection,
 * so a short file is never mistaken for a whole one.
 *
 * Every call acts as the request's caller, `user.name` (default `dr.who`), as WebHDFS does
 * (HDFS simple auth, src/webhdfs/webhdfs-request.ts), through one client per user
 * (src/webhdfs/client-pool.ts): the NameNode's permission checks apply to the browser as
 * to anyone, and reaching the HTTP port gives no more than naming a user to the RPC port.
 *
 * Changes need the header `X-XSRF-HEADER` (any value; HDFS's name for it): a page on
 * another site cannot send a custom header without a CORS preflight, which this server
 * never grants, so it cannot make a visitor's browser change the file system.
 */
import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { DfsError, isDfsError, rethrowIfBug } from '../../protocol/errors.js';
import { FileType } from '../../protocol/shared-structures.js';
import type { DfsClient } from '../client/dfs-client.js';
import { HttpError, sendJson, type HttpExchange, type HttpRouter } from '../common/http-router.js';
import { ClientPool } from '../webhdfs/client-pool.js';
import { Query } from './web-query.js';

/** The name `dfs put` writes to before its rename (src/cli/commands/transfer-support.ts). */
export const COPYING_SUFFIX = '._COPYING_';
/** No single upload is refused for its size; the DFS quotas and disks bound it. */
const UPLOAD_BYTES_MAX = Number.MAX_SAFE_INTEGER;
export const CSRF_HEADER = 'x-xsrf-header';

function requireCsrfHeader(req: IncomingMessage): void {
  if (req.headers[CSRF_HEADER] === undefined)
    throw new HttpError(
      403,
      'CSRF_HEADER_REQUIRED',
      'changes need the X-XSRF-HEADER request header (any value)',
    );
}

/** `filename*` per RFC 6266/8187, plus a plain ASCII fallback. */
export function contentDisposition(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1) || 'download';
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

export class WebTransfers {
  private readonly pool: ClientPool;
  private closed = false;

  /** `rpcAddress`: this NameNode's RPC HOST:PORT, as a client would reach it. */
  constructor(rpcAddress: () => string) {
    this.pool = new ClientPool(rpcAddress, 'web');
  }

  /** Runs `fn` with the client of the request's caller (`user.name`). */
  private as<T>(q: Query, fn: (dfs: DfsClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new DfsError('SHUTTING_DOWN', 'the NameNode is stopping');
    return this.pool.use(q.user(), fn);
  }

  close(): void {
    this.closed = true;
    this.pool.close();
  }

  addRoutes(router: HttpRouter): void {
    router.route('/api/v1/content', {
      methods: ['GET', 'PUT'],
      bodyBytesMax: UPLOAD_BYTES_MAX,
      handler: (ex) => {
        if (ex.req.method === 'PUT') return this.upload(ex);
        // Only an upload takes a body (the route's bodyBytesMax is for PUT).
        const length = ex.req.headers['content-length'];
        if ((length !== undefined && length !== '0') || ex.req.headers['transfer-encoding'] !== undefined)
          throw new HttpError(413, 'PAYLOAD_TOO_LARGE', 'a download takes no request body');
        return this.download(ex);
      },
    });
    router.route('/api/v1/mkdir', {
      methods: ['POST'],
      handler: async ({ req, res, url }) => {
        requireCsrfHeader(req);
        const q = new Query(url, ['path']);
        const path = q.path();
        await this.as(q, (dfs) => dfs.mkdir(path, { parents: true }));
        sendJson(res, 201, { path });
      },
    });
    router.route('/api/v1/rename', {
      methods: ['POST'],
      handler: async ({ req, res, url }) => {
        requireCsrfHeader(req);
        const q = new Query(url, ['path', 'to']);
        const path = q.path();
        const to = q.path('to');
        await this.as(q, (dfs) => dfs.rename(path, to));
        sendJson(res, 200, { path, to });
      },
    });
  }

  /** `DELETE /api/v1/file?path=P[&recursive=true]` (the route is web-api.ts's `file`). */
  async delete({ req, res, url }: HttpExchange): Promise<void> {
    requireCsrfHeader(req);
    const q = new Query(url, ['path', 'recursive']);
    const path = q.path();
    if (path === '/') throw new DfsError('INVALID_ARGUMENT', 'the root directory cannot be deleted');
    const recursive = q.bool('recursive', false);
    await this.as(q, (dfs) => dfs.delete(path, { recursive }));
    sendJson(res, 200, { path, deleted: true });
  }

  private download(ex: HttpExchange): Promise<void> {
    const q = new Query(ex.url, ['path']);
    const path = q.path();
    return this.as(q, (dfs) => this.streamDownload(dfs, path, ex));
  }

  private async streamDownload(dfs: DfsClient, path: string, { req, res, log }: HttpExchange): Promise<void> {
    const status = await dfs.stat(path);
    if (status.type === FileType.DIRECTORY) throw new DfsError('IS_A_DIRECTORY', `${path} is a directory`);
    // Checked first (read permission, as the caller): a file that cannot be read at all is an
    // error answer, not a cut stream. The stream asks again; a NameNode call is cheap.
    await dfs.getBlockLocations(path, 0, 1);
    const input = dfs.open(path);
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(status.length),
      'Content-Disposition': contentDisposition(path),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    });
    if (req.method === 'HEAD') {
      input.destroy();
      res.end();
      return;
    }
    try {
      await pipeline(input, res);
    } catch (err) {
      rethrowIfBug(err);
      res.destroy();
      // A read that failed is logged as the failure it is; a reader that went away is not one.
      if (err instanceof DfsError) throw err;
      log.debug({ path, err: (err as Error).message }, 'download ended early: the reader went away');
    }
  }

  private upload(ex: HttpExchange): Promise<void> {
    requireCsrfHeader(ex.req);
    const q = new Query(ex.url, ['path', 'overwrite', 'replication', 'blockBytes']);
    const path = q.path();
    if (path === '/') throw new DfsError('IS_A_DIRECTORY', '/ is a directory');
    const options = {
      overwrite: q.bool('overwrite', false),
      replication: q.int('replication', 0, 32, 0),
      blockBytes: q.int('blockBytes', 0, Number.MAX_SAFE_INTEGER, 0),
    };
    return this.as(q, (dfs) => this.streamUpload(dfs, path, options, ex));
  }

  private async streamUpload(
    dfs: DfsClient,
    path: string,
    { overwrite, replication, blockBytes }: { overwrite: boolean; replication: number; blockBytes: number },
    { req, res, log }: HttpExchange,
  ): Promise<void> {
    const existing = await dfs.exists(path);
    if (existing?.type === FileType.DIRECTORY) throw new DfsError('IS_A_DIRECTORY', `${path} is a directory`);
    if (existing !== null && !overwrite)
      throw new DfsError('ALREADY_EXISTS', `${path} already exists (overwrite=true replaces it)`);
    const tmp = `${path}${COPYING_SUFFIX}`;
    const out = dfs.create(tmp, {
      overwrite: true,
      createParent: false,
      replication: replication === 0 ? undefined : replication,
      blockBytes: blockBytes === 0 ? undefined : blockBytes,
    });
    try {
      await pipeline(req, out);
      // node:http ends the body early, without an error, when the peer half-closes.
      if (!req.complete) throw new HttpError(400, 'INCOMPLETE_BODY', 'the upload ended before its last byte');
      if (existing !== null) {
        try {
          await dfs.delete(path);
        } catch (err) {
          if (!isDfsError(err, 'NOT_FOUND')) throw err;
        }
      }
      await dfs.rename(tmp, path);
    } catch (err) {
      rethrowIfBug(err);
      if (!out.destroyed) out.destroy();
      // The copy is ours unless another writer holds it (LEASE_CONFLICT): never leave it behind.
      if (!isDfsError(err, 'LEASE_CONFLICT'))
        await dfs.delete(tmp).catch((e: unknown) => {
          rethrowIfBug(e);
          log.warn({ path: tmp, err: (e as Error).message }, 'could not remove a cut-off upload');
        });
      if (err instanceof DfsError || err instanceof HttpError) throw err;
      // The peer went away mid-body (ECONNRESET, premature close): its fault, and it is gone.
      throw new HttpError(400, 'INCOMPLETE_BODY', `the upload was cut off: ${(err as Error).message}`);
    }
    sendJson(res, 201, { path, length: out.bytesWritten });
  }
}
