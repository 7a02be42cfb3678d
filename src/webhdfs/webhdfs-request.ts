/**
 * What a WebHDFS request says (HDFS `WebHDFS.md`, "HTTP Query Parameter Dictionary"), read
 * and checked before anything is done: the DFS path from the URL, the operation for the
 * HTTP method, and typed parameters. Everything the client got wrong is an
 * IllegalArgumentException (400) naming the parameter, as HDFS words it; nothing here
 * touches the file system.
 *
 * The path is read from the raw request target, not from the parsed URL: URL parsing folds
 * `..` and `%2e%2e` segments away, so `/webhdfs/v1/a/../b` would otherwise reach `/b`. Each
 * segment is percent-decoded once; a `.` or `..` segment, an encoded `/`, a NUL or a bad
 * escape is refused (HDFS `DFSUtil.isValidName` refuses the same names).
 *
 * Parameter names are case-insensitive and so are op names and booleans (HDFS `ParamFilter`
 * lower-cases names; enum values are upper-cased); the first of repeated parameters counts;
 * unknown parameters are ignored, as HDFS does.
 */
import type { IncomingMessage } from 'node:http';
import { PATH_BYTES_MAX, PATH_DEPTH_MAX } from '../../protocol/limits.js';
import { remoteError } from './webhdfs-errors.js';

export const WEBHDFS_PREFIX = '/webhdfs/v1';

/** Operations by HTTP method (HEAD is served as GET by the router). */
const OPS_BY_METHOD: Readonly<Record<string, readonly string[]>> = {
  GET: [
    'OPEN',
    'GETFILESTATUS',
    'LISTSTATUS',
    'LISTSTATUS_BATCH',
    'GETCONTENTSUMMARY',
    'GETFILECHECKSUM',
    'GETHOMEDIRECTORY',
    // HDFS has these; DFS has not (yet): UnsupportedOperationException.
    'GETDELEGATIONTOKEN',
    'GETXATTRS',
    'LISTXATTRS',
    'GETACLSTATUS',
    'CHECKACCESS',
    'GETTRASHROOT',
    'GETSTORAGEPOLICY',
    'GETQUOTAUSAGE',
  ],
  PUT: [
    'CREATE',
    'MKDIRS',
    'RENAME',
    'SETREPLICATION',
    'SETPERMISSION',
    'SETOWNER',
    'SETTIMES',
    'CREATESYMLINK',
    'RENEWDELEGATIONTOKEN',
    'CANCELDELEGATIONTOKEN',
    'SETXATTR',
    'REMOVEXATTR',
    'SETACL',
    'SETSTORAGEPOLICY',
    'SETQUOTA',
  ],
  POST: ['APPEND', 'CONCAT', 'TRUNCATE', 'UNSETSTORAGEPOLICY'],
  DELETE: ['DELETE', 'DELETESNAPSHOT'],
};

/** The user when `user.name` is absent: HDFS's static web user for anonymous requests. */
export const ANONYMOUS_USER = 'dr.who';
/** HDFS's default `dfs.webhdfs.user.provider.user.pattern`. */
const USER_PATTERN = /^[A-Za-z_][A-Za-z0-9._-]*[$]?$/;
const USER_BYTES_MAX = 256;

export interface WebHdfsRequest {
  /** The DFS path, absolute, checked (no `.`/`..` segments, within the path limits). */
  path: string;
  /** The operation, upper-case, valid for the request's method. */
  op: string;
  user: string;
  params: QueryParams;
}

/** Parses and checks the request; throws IllegalArgumentException (400) on anything wrong. */
export function parseWebHdfsRequest(req: IncomingMessage, url: URL): WebHdfsRequest {
  const raw = req.url ?? '';
  const q = raw.indexOf('?');
  const path = dfsPathOf(q < 0 ? raw : raw.slice(0, q));
  const params = new QueryParams(url.searchParams);
  const opValue = params.raw('op');
  if (opValue === undefined) throw illegal('op', 'null', 'no operation given');
  const op = opValue.toUpperCase();
  const method = req.method === 'HEAD' ? 'GET' : (req.method ?? '');
  if (!(OPS_BY_METHOD[method] ?? []).includes(op)) throw illegal('op', opValue, `not a ${method} operation`);
  const user = params.raw('user.name') ?? ANONYMOUS_USER;
  const bad = userNameProblem(user);
  if (bad !== null) throw illegal('user.name', user, bad);
  return { path, op, user, params };
}

/**
 * Why `user` is not a name HDFS's simple auth takes (`user.name`), or null when it is one.
 * Shared with the web UI's API (src/namenode/web-query.ts), which acts as its caller the same way.
 */
export function userNameProblem(user: string): string | null {
  if (Buffer.byteLength(user) > USER_BYTES_MAX || !USER_PATTERN.test(user))
    return `does not match ${String(USER_PATTERN)}`;
  return null;
}

/** The DFS path of a request target's path part (`/webhdfs/v1/a/b` -> `/a/b`). */
export function dfsPathOf(rawPath: string): string {
  let rest: string;
  if (rawPath === WEBHDFS_PREFIX) rest = '';
  else if (rawPath.startsWith(`${WEBHDFS_PREFIX}/`)) rest = rawPath.slice(WEBHDFS_PREFIX.length + 1);
  else throw remoteError('IllegalArgumentException', `not a WebHDFS path (${WEBHDFS_PREFIX}/...)`);
  return checkedDfsPath(rest.split('/'), 'path');
}

/** `/a/b` from its percent-encoded segments; empty segments (`a//b`, a trailing `/`) are skipped. */
function checkedDfsPath(encoded: readonly string[], name: string): string {
  const names: string[] = [];
  for (const seg of encoded) {
    let s: string;
    try {
      s = decodeURIComponent(seg);
    } catch {
      throw illegal(name, seg.slice(0, 100), 'bad percent-encoding');
    }
    if (s === '') continue;
    if (s === '.' || s === '..') throw illegal(name, seg, 'a path may not hold "." or ".." segments');
    if (s.includes('/') || s.includes('\0')) throw illegal(name, seg, 'a name may not hold "/" or NUL');
    names.push(s);
  }
  const path = `/${names.join('/')}`;
  if (names.length > PATH_DEPTH_MAX || Buffer.byteLength(path) > PATH_BYTES_MAX)
    throw illegal(
      name,
      path.slice(0, 100),
      `longer than ${PATH_BYTES_MAX} bytes or ${PATH_DEPTH_MAX} levels`,
    );
  return path;
}

/** A path given as a parameter (RENAME's destination): absolute, checked like the URL's. */
export function dfsPathParam(value: string, name: string): string {
  if (!value.startsWith('/')) throw illegal(name, value, 'not an absolute path');
  // Already decoded once by URLSearchParams: check the segments as they are.
  return checkedDfsPath(
    value.split('/').map((s) => encodeURIComponent(s)),
    name,
  );
}

/** The query, read case-insensitively by name; values are checked by the typed getters. */
export class QueryParams {
  private readonly values = new Map<string, string>();

  constructor(search: URLSearchParams) {
    for (const [k, v] of search) {
      const key = k.toLowerCase();
      if (!this.values.has(key)) this.values.set(key, v);
    }
  }

  raw(name: string): string | undefined {
    return this.values.get(name.toLowerCase());
  }

  /** Every parameter as given (lower-case names), for a redirect to pass on. */
  entries(): IterableIterator<[string, string]> {
    return this.values.entries();
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.raw(name);
    if (v === undefined || v === '') return fallback;
    const l = v.toLowerCase();
    if (l === 'true') return true;
    if (l === 'false') return false;
    throw illegal(name, v, 'Failed to parse it to Boolean');
  }

  /** An integer within [min, max]; undefined when absent (or empty, as HDFS treats it). */
  int(name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const v = this.raw(name);
    if (v === undefined || v === '') return undefined;
    if (!/^-?\d{1,16}$/.test(v)) throw illegal(name, v, 'not an integer');
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min || n > max)
      throw illegal(name, v, `outside the range ${min}..${max}`);
    return n;
  }

  /** An octal permission as HDFS's PermissionParam takes it (`[0-1]?[0-7][0-7][0-7]`: `755`, `1777`). */
  octal(name: string): number | undefined {
    const v = this.raw(name);
    if (v === undefined || v === '') return undefined;
    if (!/^[01]?[0-7]{3}$/.test(v)) throw illegal(name, v, 'not an octal permission');
    return parseInt(v, 8);
  }

  required(name: string): string {
    const v = this.raw(name);
    if (v === undefined || v === '')
      throw remoteError('IllegalArgumentException', `${name} is not specified.`);
    return v;
  }
}

/** HDFS's wording for a bad parameter value. */
function illegal(name: string, value: string, why: string) {
  return remoteError(
    'IllegalArgumentException',
    `Invalid value for webhdfs parameter "${name}": ${JSON.stringify(value.slice(0, 200))}: ${why}`,
  );
}
