/**
 * WebHDFS on the NameNode's HTTP port (HDFS `NamenodeWebHdfsMethods`): `/webhdfs/v1/<path>?op=`
 * for the namespace operations, answered here, and the redirects of the data operations to a
 * DataNode's HTTP port (datanode-webhdfs.ts), which streams the bytes.
 *
 *   | op                 | method | answer                                                   |
 *   |--------------------|--------|----------------------------------------------------------|
 *   | GETFILESTATUS      | GET    | {"FileStatus": {...}}                                    |
 *   | LISTSTATUS         | GET    | {"FileStatuses": {"FileStatus": [...]}}, streamed page   |
 *   |                    |        | by page (a file lists itself)                            |
 *   | LISTSTATUS_BATCH   | GET    | {"DirectoryListing": ...} one page after `startAfter`    |
 *   | GETCONTENTSUMMARY  | GET    | {"ContentSummary": {...}} (RPC contentSummary)           |
 *   | GETFILECHECKSUM    | GET    | {"FileChecksum": {...}} computed here by the client      |
 *   |                    |        | (DfsClient.checksum asks the DataNodes), no redirect      |
 *   | GETHOMEDIRECTORY   | GET    | {"Path": "/user/<user.name>"}                            |
 *   | MKDIRS             | PUT    | {"boolean": true} (parents made); mode `permission`,     |
 *   |                    |        | default 755, no umask (HDFS)                             |
 *   | RENAME             | PUT    | {"boolean": ...}: false when the source is missing or    |
 *   |                    |        | the destination exists, as HDFS's rename                 |
 *   | DELETE             | DELETE | {"boolean": ...}: false when missing; never to the trash |
 *   | SETREPLICATION     | PUT    | {"boolean": ...}: false for a directory or a missing path |
 *   | OPEN               | GET    | 307 to a live DataNode holding the block at `offset`     |
 *   | CREATE             | PUT    | 307 to a live DataNode (refused here first when the file  |
 *   |                    |        | exists and overwrite is false)                           |
 *   | APPEND             | POST   | 307 to a live DataNode holding the last block (any live   |
 *   |                    |        | one for an empty file), which appends (RPC append)        |
 *   | SETPERMISSION      | PUT    | empty 200 (RPC setPermission; `permission` octal,        |
 *   |                    |        | default 755 as HDFS's PermissionParam)                   |
 *   | SETOWNER           | PUT    | empty 200 (RPC setOwner; `owner` and/or `group`)          |
 *   | others             |        | UnsupportedOperationException (400)                      |
 *
 * The redirect carries the request's parameters plus `namenoderpcaddress`; `noredirect=true`
 * answers 200 {"Location": ...} instead. Every call goes through a DfsClient on this
 * NameNode's own RPC port (client-pool.ts), one per `user.name`: the same checks, edit
 * logging and metrics as any client's call.
 */
import { DfsError, isDfsError } from '../../protocol/errors.js';
import { LIST_LIMIT_DEFAULT } from '../../protocol/limits.js';
import { FileType, type LocatedBlock } from '../../protocol/shared-structures.js';
import type { DfsClient } from '../client/dfs-client.js';
import type { HttpExtension } from '../common/daemon-http.js';
import { sendBody, sendJson, type HttpExchange } from '../common/http-router.js';
import { ClientPool, WEBHDFS_UMASK } from './client-pool.js';
import { remoteError } from './webhdfs-errors.js';
import {
  discardBody,
  redirect,
  webHdfsRoute,
  webHdfsUrl,
  writeChunk,
  WEBHDFS_ROUTE_PREFIX,
  type HostPort,
} from './webhdfs-http.js';
import { booleanJson, contentSummaryJson, fileChecksumJson, fileStatusJson } from './webhdfs-json.js';
import { dfsPathParam, parseWebHdfsRequest, type WebHdfsRequest } from './webhdfs-request.js';

/** What the gateway needs of its NameNode (namenode.ts has it). */
export interface WebHdfsNamenode {
  readonly rpcAddress: string;
  datanodeHttp(nodeId: string): HostPort | null;
  liveDatanodesHttp(): HostPort[];
}

/** A body sent to the NameNode with CREATE or APPEND (curl -T without Expect) is read and dropped up to this. */
const DISCARDED_BODY_BYTES_MAX = 1024 * 1024;
const REPLICATION_MAX = 32767;
const INT_MAX = 2 ** 31 - 1;
/** SETPERMISSION and MKDIRS without `permission`: HDFS's PermissionParam default (no umask). */
const DIR_PERMISSION_DEFAULT = 0o755;

export function namenodeWebHdfs(nn: WebHdfsNamenode): HttpExtension {
  const pool = new ClientPool(() => nn.rpcAddress, 'namenode', WEBHDFS_UMASK);
  const handler = async (ex: HttpExchange): Promise<void> => {
    const r = parseWebHdfsRequest(ex.req, ex.url);
    await discardBody(ex.req, DISCARDED_BODY_BYTES_MAX);
    await pool.use(r.user, (client) => serve(nn, client, r, ex));
  };
  return {
    addRoutes: (router) =>
      router.routePrefix(
        WEBHDFS_ROUTE_PREFIX,
        webHdfsRoute(['GET', 'PUT', 'POST', 'DELETE'], handler, {
          bodyBytesMax: DISCARDED_BODY_BYTES_MAX,
          answersBeforeBody: true,
        }),
      ),
    close: () => pool.close(),
  };
}

async function serve(nn: WebHdfsNamenode, c: DfsClient, r: WebHdfsRequest, ex: HttpExchange): Promise<void> {
  const { res } = ex;
  const p = r.params;
  switch (r.op) {
    case 'GETFILESTATUS':
      return sendJson(res, 200, { FileStatus: fileStatusJson(await c.stat(r.path), '') });
    case 'LISTSTATUS':
      return listStatus(c, r.path, ex);
    case 'LISTSTATUS_BATCH': {
      const page = await c.listPage(r.path, p.raw('startafter') ?? '', LIST_LIMIT_DEFAULT);
      return sendJson(res, 200, {
        DirectoryListing: {
          partialListing: {
            FileStatuses: { FileStatus: page.entries.map((e) => fileStatusJson(e, e.path)) },
          },
          // DFS pages tell whether more follow, not how many: 1 is a lower bound.
          remainingEntries: page.hasMore ? 1 : 0,
        },
      });
    }
    case 'GETCONTENTSUMMARY':
      return sendJson(res, 200, contentSummaryJson(await c.contentSummary(r.path)));
    case 'GETFILECHECKSUM':
      return sendJson(res, 200, fileChecksumJson(await c.checksum(r.path)));
    case 'GETHOMEDIRECTORY':
      return sendJson(res, 200, { Path: `/user/${r.user}` });
    case 'MKDIRS':
      await c.mkdir(r.path, { parents: true, permission: p.octal('permission') ?? DIR_PERMISSION_DEFAULT });
      return sendJson(res, 200, booleanJson(true));
    case 'RENAME': {
      const dst = dfsPathParam(p.required('destination'), 'destination');
      return sendJson(
        res,
        200,
        booleanJson(await falseWhen(['NOT_FOUND', 'ALREADY_EXISTS'], c.rename(r.path, dst))),
      );
    }
    case 'DELETE': {
      const recursive = p.bool('recursive', false);
      if (r.path === '/') throw remoteError('IOException', 'cannot delete the root directory');
      return sendJson(res, 200, booleanJson(await falseWhen(['NOT_FOUND'], c.delete(r.path, { recursive }))));
    }
    case 'SETREPLICATION': {
      const replication = p.int('replication', 1, REPLICATION_MAX) ?? c.defaultReplication;
      const done = falseWhen(['NOT_FOUND', 'IS_A_DIRECTORY'], c.setReplication(r.path, replication));
      return sendJson(res, 200, booleanJson(await done));
    }
    case 'SETPERMISSION':
      await c.setPermission(r.path, p.octal('permission') ?? DIR_PERMISSION_DEFAULT);
      return sendBody(res, 200, 'application/octet-stream', '');
    case 'SETOWNER': {
      const owner = p.raw('owner') || undefined;
      const group = p.raw('group') || undefined;
      if (owner === undefined && group === undefined)
        throw remoteError('IllegalArgumentException', 'Both owner and group are empty.');
      await c.setOwner(r.path, { owner, group });
      return sendBody(res, 200, 'application/octet-stream', '');
    }
    case 'OPEN':
      return open(nn, c, r, ex);
    case 'CREATE':
      return create(nn, c, r, ex);
    case 'APPEND':
      return append(nn, c, r, ex);
    default:
      throw remoteError('UnsupportedOperationException', `${r.op} is not supported by DFS`);
  }
}

/** LISTSTATUS: the JSON written page by page as the NameNode answers, at the client's pace. */
async function listStatus(c: DfsClient, path: string, ex: HttpExchange): Promise<void> {
  const s = await c.stat(path);
  if (s.type === FileType.FILE)
    return sendJson(ex.res, 200, { FileStatuses: { FileStatus: [fileStatusJson(s, '')] } });
  let page = await c.listPage(path, '', LIST_LIMIT_DEFAULT);
  ex.res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  await writeChunk(ex.res, '{"FileStatuses":{"FileStatus":[');
  let first = true;
  for (;;) {
    const parts = page.entries.map((e) => JSON.stringify(fileStatusJson(e, e.path)));
    if (parts.length > 0) await writeChunk(ex.res, (first ? '' : ',') + parts.join(','));
    first &&= parts.length === 0;
    if (!page.hasMore || page.entries.length === 0) break;
    page = await c.listPage(path, page.entries[page.entries.length - 1]!.path, LIST_LIMIT_DEFAULT);
  }
  ex.res.end(']}}\n');
}

async function open(nn: WebHdfsNamenode, c: DfsClient, r: WebHdfsRequest, ex: HttpExchange): Promise<void> {
  const offset = r.params.int('offset', 0) ?? 0;
  r.params.int('length', 0);
  r.params.int('buffersize', 1, INT_MAX);
  let located;
  try {
    located = await c.getBlockLocations(r.path, offset, 1);
  } catch (err) {
    if (isDfsError(err, 'IS_A_DIRECTORY'))
      throw remoteError('FileNotFoundException', `Path is not a file: ${r.path}`);
    throw err;
  }
  const block = located.blocks.find((b) => b.offset <= offset && offset < b.offset + b.block.numBytes);
  redirect(ex.res, dataUrl(nn, holderOrAny(nn, block), r), r.params.bool('noredirect', false));
}

async function create(nn: WebHdfsNamenode, c: DfsClient, r: WebHdfsRequest, ex: HttpExchange): Promise<void> {
  const p = r.params;
  const overwrite = p.bool('overwrite', false);
  p.int('blocksize', 1);
  p.int('replication', 1, REPLICATION_MAX);
  p.int('buffersize', 1, INT_MAX);
  p.octal('permission');
  // Refused here already, so no byte is sent for nothing; the DataNode checks again.
  const existing = await c.exists(r.path);
  if (existing?.type === FileType.DIRECTORY)
    throw remoteError('FileAlreadyExistsException', `${r.path} already exists as a directory`);
  if (existing !== null && !overwrite)
    throw remoteError('FileAlreadyExistsException', `${r.path} already exists (overwrite=false)`);
  redirect(ex.res, dataUrl(nn, anyDatanode(nn), r), p.bool('noredirect', false));
}

/** APPEND: to a DataNode of the last block, as HDFS chooses (its pipeline starts there), else any. */
async function append(nn: WebHdfsNamenode, c: DfsClient, r: WebHdfsRequest, ex: HttpExchange): Promise<void> {
  r.params.int('buffersize', 1, INT_MAX);
  const s = await c.stat(r.path);
  if (s.type !== FileType.FILE) throw remoteError('FileNotFoundException', `Path is not a file: ${r.path}`);
  const located = s.length === 0 ? null : await c.getBlockLocations(r.path, s.length - 1, 1);
  const last = located?.blocks[located.blocks.length - 1];
  redirect(ex.res, dataUrl(nn, holderOrAny(nn, last), r), r.params.bool('noredirect', false));
}

/** The first DataNode holding `block` that serves HTTP (the NameNode's order), else any live one. */
function holderOrAny(nn: WebHdfsNamenode, block: LocatedBlock | undefined): HostPort {
  for (const loc of block?.locations ?? []) {
    const to = nn.datanodeHttp(loc.nodeId);
    if (to !== null) return to;
  }
  return anyDatanode(nn);
}

function dataUrl(nn: WebHdfsNamenode, to: HostPort, r: WebHdfsRequest): string {
  return webHdfsUrl(to, r.path, r.params, { op: r.op, namenoderpcaddress: nn.rpcAddress });
}

/** A live DataNode serving HTTP, picked at random so uploads spread. */
function anyDatanode(nn: WebHdfsNamenode): HostPort {
  const nodes = nn.liveDatanodesHttp();
  if (nodes.length === 0)
    throw remoteError('IOException', 'Failed to find datanode, suggest to check cluster health.');
  return nodes[Math.floor(Math.random() * nodes.length)]!;
}

/** `op`'s outcome as HDFS's boolean: false for the given codes, true when it succeeds. */
async function falseWhen(codes: readonly DfsError['code'][], op: Promise<void>): Promise<boolean> {
  try {
    await op;
    return true;
  } catch (err) {
    if (err instanceof DfsError && codes.includes(err.code)) return false;
    throw err;
  }
}
