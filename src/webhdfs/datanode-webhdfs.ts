/**
 * WebHDFS on a DataNode's HTTP port (HDFS `DatanodeWebHdfsMethods`): where the NameNode
 * redirects OPEN, CREATE and APPEND (namenode-webhdfs.ts). The bytes go through the normal
 * client paths, never around them: a read is a DfsInputStream (every chunk verified, another
 * replica on failure), a write a DfsOutputStream through the replication pipeline. A block
 * whose pipeline this DataNode heads (the NameNode puts a writer's first replica on its own
 * host) reaches it without a socket (src/datanode/local-first-hop.ts, the `firstHop` the
 * DataNode hands this extension): the stream's checksums, computed once from the body, are
 * stored here as they are, and the packets go on to the rest of the pipeline over TCP. A
 * replica this DataNode holds is read the same way, short-circuit (src/datanode/
 * short-circuit-reads.ts, the `reads` it hands this extension): tried before the others, its
 * files read in-process a packet's worth at a time and every chunk verified by the reader
 * (src/client/block-reader.ts), a bad one reported and the next replica read over TCP.
 *
 *   | op     | method | answer                                                          |
 *   |--------|--------|-----------------------------------------------------------------|
 *   | OPEN   | GET    | 200 application/octet-stream with Content-Length, streamed at   |
 *   |        |        | the client's pace (`offset`, `length`)                          |
 *   | CREATE | PUT    | 201 Created, Location hdfs://<namenoderpcaddress><path>; the    |
 *   |        |        | body goes to `<path>._COPYING_`, renamed onto the path only once |
 *   |        |        | complete (src/client/write-through-copy.ts): an upload cut off   |
 *   |        |        | half-way leaves no visible file (HDFS would leave a partial one) |
 *   | APPEND | POST   | 200: the body appended through a real append (DfsClient.append, |
 *   |        |        | RPC append, src/namenode/append-op.ts): the file's lease taken,  |
 *   |        |        | its last block continued or blocks added after it; the earlier   |
 *   |        |        | blocks are untouched, so an append costs its own bytes only       |
 *
 * CREATE's `permission` is the new file's mode with no umask (as HDFS), 644 without one;
 * parents it makes get 755.
 *
 * `namenoderpcaddress` is required, as in HDFS, but the DataNode always talks to its own
 * NameNode (config `namenode`): a request cannot point it at another host. `user.name` picks
 * the client (client-pool.ts). `overwrite` defaults to false (HDFS).
 *
 * APPEND opens the file for append before it reads a byte of the body, so a file that
 * another writer holds is refused whole (AlreadyBeingCreatedException, 403, from the lease;
 * RecoveryInProgressException while an abandoned writer's lease is recovered). Appends to
 * one path through this DataNode by one user share one client (client-pool.ts), which the
 * NameNode would take for a writer reopening its own file, so they are serialized here;
 * appends through different DataNodes or users are serialized by the lease, as in HDFS. A
 * body cut off half-way leaves what the DataNodes acknowledged appended, and the file is
 * closed by lease recovery (as `dfs appendToFile` interrupted, README.md).
 */
import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { DfsError, isDfsError } from '../../protocol/errors.js';
import { FileType } from '../../protocol/shared-structures.js';
import type { DfsClient } from '../client/dfs-client.js';
import { writeThroughCopy } from '../client/write-through-copy.js';
import type { DataNodeConfig } from '../common/config.js';
import type { LocalFirstHop } from '../common/pipeline-connect.js';
import type { ShortCircuitReads } from '../common/short-circuit-read.js';
import type { HttpExtension } from '../common/daemon-http.js';
import { HttpError, sendBody, type HttpExchange } from '../common/http-router.js';
import { ClientPool, WEBHDFS_UMASK } from './client-pool.js';
import { remoteError } from './webhdfs-errors.js';
import { encodePath, webHdfsRoute, WEBHDFS_ROUTE_PREFIX, writeChunk } from './webhdfs-http.js';
import { parseWebHdfsRequest, type WebHdfsRequest } from './webhdfs-request.js';

const REPLICATION_MAX = 32767;
const INT_MAX = 2 ** 31 - 1;
/** Uploads stream through (never held whole): the file's size is the NameNode's to bound (quotas, space). */
const UPLOAD_BYTES_MAX = Number.MAX_SAFE_INTEGER;
/**
 * OPEN, CREATE and APPEND served at once; more are answered 503 (retry later). Each holds at
 * most a few MiB (a reader's queued packets, a writer's window of UPLOAD_WINDOW_BYTES), so
 * this bounds the gateway's memory whatever clients do.
 */
const TRANSFERS_MAX = 32;
const UPLOAD_WINDOW_BYTES = 8 * 1024 * 1024;
/** CREATE's modes without `permission` (HDFS's PermissionParam), applied without a umask (as HDFS). */
const FILE_PERMISSION_DEFAULT = 0o644;
const DIR_PERMISSION_DEFAULT = 0o755;

export function datanodeWebHdfs(
  config: DataNodeConfig,
  firstHop?: LocalFirstHop,
  reads?: ShortCircuitReads,
): HttpExtension {
  const pool = new ClientPool(() => config.namenode, 'datanode', WEBHDFS_UMASK, {
    localFirstHop: firstHop,
    shortCircuitReads: reads,
  });
  const appending = new Map<string, Promise<void>>();
  let transfers = 0;
  const handler = async (ex: HttpExchange): Promise<void> => {
    const r = parseWebHdfsRequest(ex.req, ex.url);
    const nn = r.params.required('namenoderpcaddress');
    if (!/^[^\s/?#]{1,300}:\d{1,5}$/.test(nn))
      throw remoteError(
        'IllegalArgumentException',
        `Invalid value for webhdfs parameter "namenoderpcaddress"`,
      );
    if (r.op !== 'OPEN' && r.op !== 'CREATE' && r.op !== 'APPEND')
      throw remoteError(
        'IllegalArgumentException',
        `Invalid value for webhdfs parameter "op": ${r.op} is not served by a DataNode`,
      );
    if (transfers >= TRANSFERS_MAX)
      throw new HttpError(
        503,
        'IOException',
        `${TRANSFERS_MAX} WebHDFS transfers under way here; retry later`,
        {
          'Retry-After': '1',
        },
      );
    transfers++;
    ex.res.once('close', () => transfers--);
    await pool.use(r.user, async (client) => {
      if (r.op === 'OPEN') return open(client, r, ex);
      if (r.op === 'CREATE') return create(client, r, ex, nn);
      return serialized(appending, r.path, () => append(client, r, ex));
    });
  };
  return {
    addRoutes: (router) =>
      router.routePrefix(
        WEBHDFS_ROUTE_PREFIX,
        webHdfsRoute(['GET', 'PUT', 'POST'], handler, { bodyBytesMax: UPLOAD_BYTES_MAX }),
      ),
    close: () => pool.close(),
  };
}

async function open(c: DfsClient, r: WebHdfsRequest, ex: HttpExchange): Promise<void> {
  const offset = r.params.int('offset', 0) ?? 0;
  const length = r.params.int('length', 0);
  r.params.int('buffersize', 1, INT_MAX);
  const input = c.open(r.path, { offset, length });
  const packets = input.packets();
  let first: IteratorResult<Buffer[], void>;
  try {
    // The first packet (or the end) is here once the length is known: errors before it are
    // whole RemoteExceptions; the answer then says how many bytes follow.
    first = await packets.next();
  } catch (err) {
    if (isDfsError(err, 'IS_A_DIRECTORY'))
      throw remoteError('FileNotFoundException', `Path is not a file: ${r.path}`);
    throw err;
  }
  const end = length === undefined ? input.fileLength : Math.min(input.fileLength, offset + length);
  ex.res.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    'Content-Length': String(Math.max(0, end - offset)),
    'Cache-Control': 'no-store',
  });
  if (ex.req.method === 'HEAD' || first.done === true) {
    await packets.return(undefined);
    ex.res.end();
    return;
  }
  // A packet's views go out under one cork (one writev), as the read gave them: no copy.
  // writeChunk waits for a full socket to drain, or fails (CONNECTION) if the client left.
  const res = ex.res;
  const send = async (packet: Buffer[]): Promise<void> => {
    res.cork();
    for (let i = 0; i < packet.length - 1; i++) res.write(packet[i]!);
    const written = writeChunk(res, packet[packet.length - 1]!);
    res.uncork();
    await written;
  };
  try {
    await send(first.value);
    for await (const packet of packets) await send(packet);
  } finally {
    await packets.return(undefined);
  }
  res.end();
}

async function create(c: DfsClient, r: WebHdfsRequest, ex: HttpExchange, nn: string): Promise<void> {
  const p = r.params;
  const overwrite = p.bool('overwrite', false);
  const blockBytes = p.int('blocksize', 1);
  const replication = p.int('replication', 1, REPLICATION_MAX);
  p.int('buffersize', 1, INT_MAX);
  const permission = p.octal('permission') ?? FILE_PERMISSION_DEFAULT;
  const existing = await c.exists(r.path);
  if (existing?.type === FileType.DIRECTORY)
    throw remoteError('FileAlreadyExistsException', `${r.path} already exists as a directory`);
  if (existing !== null && !overwrite)
    throw remoteError('FileAlreadyExistsException', `${r.path} already exists (overwrite=false)`);
  const parent = r.path.slice(0, r.path.lastIndexOf('/'));
  if (parent !== '') await c.mkdir(parent, { parents: true, permission: DIR_PERMISSION_DEFAULT });
  await upload(ex.req, () =>
    writeThroughCopy(c, ex.req, r.path, {
      existing,
      replication,
      blockBytes,
      permission,
      windowBytes: UPLOAD_WINDOW_BYTES,
      sizeAtMost: declaredLength(ex.req),
    }),
  );
  sendBody(ex.res, 201, 'application/octet-stream', '', { Location: `hdfs://${nn}${encodePath(r.path)}` });
}

/** APPEND: the body streamed into an append stream of the file (its lease taken first). */
async function append(c: DfsClient, r: WebHdfsRequest, ex: HttpExchange): Promise<void> {
  r.params.int('buffersize', 1, INT_MAX);
  const existing = await c.stat(r.path);
  if (existing.type !== FileType.FILE)
    throw remoteError('FileNotFoundException', `Path is not a file: ${r.path}`);
  const out = c.append(r.path, { windowBytes: UPLOAD_WINDOW_BYTES });
  // Opened (the NameNode granted the lease) before the body is read: a refusal is whole.
  await out.opened();
  const length = declaredLength(ex.req);
  if (length !== undefined) out.endsWithin(length);

  await upload(ex.req, async () => {
    await pipeline(ex.req, out);
    return out.bytesWritten;
  });
  sendBody(ex.res, 200, 'application/octet-stream', '');
}

/** A body's declared length (no block is reserved past it); none for a chunked body. */
function declaredLength(req: IncomingMessage): number | undefined {
  const n = Number(req.headers['content-length']);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Runs a write fed by `req`; a body cut off before its end is a CONNECTION fault, not ours. */
async function upload(req: IncomingMessage, write: () => Promise<number>): Promise<void> {
  try {
    await write();
  } catch (err) {
    if (!req.complete && !(err instanceof DfsError && err.code !== 'CONNECTION'))
      throw new DfsError(
        'CONNECTION',
        `the upload was cut off after ${req.socket?.bytesRead ?? 0} bytes read`,
      );
    throw err;
  }
  if (!req.complete) throw new DfsError('CONNECTION', 'the upload was cut off');
}

/** Runs `fn` after every earlier call for the same key has settled. */
async function serialized(
  locks: Map<string, Promise<void>>,
  key: string,
  fn: () => Promise<void>,
): Promise<void> {
  const before = locks.get(key) ?? Promise.resolve();
  const mine = before.then(fn, fn);
  const tail = mine.catch(() => {});
  locks.set(key, tail);
  try {
    await mine;
  } finally {
    if (locks.get(key) === tail) locks.delete(key);
  }
}
