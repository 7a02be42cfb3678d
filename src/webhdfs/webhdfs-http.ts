/**
 * HTTP pieces both WebHDFS gateways use: the route definition (methods, RemoteException
 * bodies), redirect answers with their `noredirect=true` JSON form, a request body the
 * NameNode does not want (drained within a bound, or never sent), and writes that wait for
 * the client (backpressure) without waiting forever on one that left.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DfsError } from '../../protocol/errors.js';
import { sendBody, sendJson, type HttpExchange, type Route } from '../common/http-router.js';
import { remoteExceptionBody, toRemoteError } from './webhdfs-errors.js';
import { WEBHDFS_PREFIX, type QueryParams } from './webhdfs-request.js';

/** Where WebHDFS is served: `/webhdfs/v1/...`, and `/webhdfs/...` so a bad prefix gets a RemoteException. */
export const WEBHDFS_ROUTE_PREFIX = '/webhdfs/';

/** A route whose every failure is a RemoteException (webhdfs-errors.ts). */
export function webHdfsRoute(
  methods: readonly string[],
  handler: (ex: HttpExchange) => Promise<void>,
  extra: Pick<Route, 'bodyBytesMax' | 'answersBeforeBody'> = {},
): Route {
  return {
    methods,
    ...extra,
    errorBody: remoteExceptionBody,
    handler: async (ex) => {
      try {
        await handler(ex);
      } catch (err) {
        throw toRemoteError(err);
      }
    },
  };
}

export interface HostPort {
  host: string;
  port: number;
}

/** `http://HOST:PORT/webhdfs/v1/PATH?QUERY` with the request's parameters and `extra`, minus noredirect. */
export function webHdfsUrl(
  to: HostPort,
  path: string,
  params: QueryParams,
  extra: Record<string, string>,
): string {
  const q = new URLSearchParams();
  for (const [k, v] of params.entries()) if (k !== 'noredirect' && !(k in extra)) q.set(k, v);
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  const host = to.host.includes(':') ? `[${to.host}]` : to.host;
  return `http://${host}:${to.port}${WEBHDFS_PREFIX}${encodePath(path)}?${q.toString()}`;
}

export function encodePath(path: string): string {
  return path
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/');
}

/** 307 to `location`, or with `noredirect=true` 200 and `{"Location": ...}` (HDFS-14063). */
export function redirect(res: ServerResponse, location: string, noredirect: boolean): void {
  if (noredirect) sendJson(res, 200, { Location: location });
  else sendBody(res, 307, 'application/octet-stream', '', { Location: location });
}

/**
 * A body sent to a route that does not use it: a client that asked `Expect: 100-continue`
 * never sends it (http-server.ts answers without 100 Continue); any other is read and thrown
 * away (at most the route's bodyBytesMax, which the server checks against Content-Length and
 * this against chunked bodies), so the answer is not cut off by a reset.
 */
export async function discardBody(req: IncomingMessage, bytesMax: number): Promise<void> {
  if (req.headers.expect?.toLowerCase() === '100-continue' || req.complete) return;
  // Events, not `for await`: leaving that loop early destroys the socket, and the refusal
  // could not be sent. Paused instead; the server closes the connection after its answer.
  await new Promise<void>((resolve, reject) => {
    let seen = 0;
    const done = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onCut);
      req.off('close', onCut);
    };
    const onData = (chunk: Buffer): void => {
      seen += chunk.length;
      if (seen <= bytesMax) return;
      done();
      req.pause();
      reject(
        new DfsError(
          'INVALID_ARGUMENT',
          `a body of more than ${bytesMax} bytes sent to the NameNode; send it to the DataNode the redirect names`,
        ),
      );
    };
    const onEnd = (): void => {
      done();
      resolve();
    };
    const onCut = (): void => {
      done();
      reject(new DfsError('CONNECTION', 'the request was cut off'));
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onCut);
    req.once('close', onCut);
  });
}

/** Writes `chunk`, and if the socket's buffer is full waits for it to drain or the client to leave. */
export async function writeChunk(res: ServerResponse, chunk: string | Buffer): Promise<void> {
  if (res.destroyed) throw new DfsError('CONNECTION', 'the HTTP client went away');
  if (res.write(chunk)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (): void => {
      res.off('drain', onDrain);
      res.off('close', onClose);
    };
    const onDrain = (): void => {
      done();
      resolve();
    };
    const onClose = (): void => {
      done();
      reject(new DfsError('CONNECTION', 'the HTTP client went away'));
    };
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}
