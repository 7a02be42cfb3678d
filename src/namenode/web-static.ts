/**
 * The web UI's files (the package's `web/` folder: plain HTML, CSS and ES modules, no build
 * step), served by the NameNode at `/` and `/ui/...`.
 *
 * The folder is read once at start-up into a table of name -> bytes, type and ETag: a
 * request can only ever name a file in that table, so no URL reaches the disk and no form
 * of `..` can escape the folder. Names with a `.` or `..` component, a backslash or NUL
 * (plain or percent-encoded) are refused 400 all the same, so a probe is told plainly.
 *
 * Caching: `Cache-Control: no-cache` with a strong ETag (SHA-256 of the bytes), so a browser
 * revalidates and gets 304 while the files are unchanged; a new release is seen at once.
 * Every page carries a Content-Security-Policy that allows only this origin's scripts,
 * styles and API (no inline script, no CDN).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DfsError } from '../../protocol/errors.js';
import { HttpError, sendBody, type HttpExchange, type HttpRouter } from '../common/http-router.js';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
};
/** The UI folder holds a few small files; anything bigger is not ours. */
const FILE_BYTES_MAX = 1024 * 1024;
const FILES_MAX = 100;
const CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

interface StaticFile {
  bytes: Buffer;
  type: string;
  etag: string;
}

/** The package's `web/` folder: beside package.json, from src/namenode/ and dist/src/namenode/ alike. */
export function defaultWebDir(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'web');
    const parent = path.dirname(dir);
    if (parent === dir) return '';
    dir = parent;
  }
}

/** Reads every servable file under `dir` (relative names with '/'); an empty table without the folder. */
export function loadWebFiles(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (dir === '' || !fs.existsSync(dir)) return files;
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const name = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) walk(name);
      const type = TYPES[path.extname(e.name)];
      if (!e.isFile() || type === undefined) continue;
      const bytes = fs.readFileSync(path.join(dir, name));
      if (bytes.length > FILE_BYTES_MAX || files.size >= FILES_MAX)
        throw new DfsError('INVALID_ARGUMENT', `web UI folder ${dir}: ${name} too large or too many files`);
      const etag = `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`;
      files.set(name, { bytes, type, etag });
    }
  };
  walk('');
  return files;
}

/** The file name a `/ui/...` path asks for, or a 400 for a traversal attempt. */
export function staticName(pathname: string): string {
  if (pathname === '/' || pathname === '/ui' || pathname === '/ui/') return 'index.html';
  let rel: string;
  try {
    rel = decodeURIComponent(pathname.slice('/ui/'.length));
  } catch {
    throw new HttpError(400, 'BAD_PATH', 'malformed percent-encoding in the path');
  }
  const parts = rel.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\\') || p.includes('\0')))
    throw new HttpError(400, 'BAD_PATH', 'path components may not be empty, . or .., nor hold \\ or NUL');
  return rel;
}

export function addStaticRoutes(router: HttpRouter, files: ReadonlyMap<string, StaticFile>): void {
  const serve = ({ req, res, url }: HttpExchange): void => {
    const name = staticName(url.pathname);
    const f = files.get(name);
    if (f === undefined)
      throw new DfsError(
        'NOT_FOUND',
        files.size === 0
          ? 'the web UI files are not installed (web/)'
          : `no such UI file: ${name.slice(0, 200)}`,
      );
    const headers = {
      ETag: f.etag,
      'Cache-Control': 'no-cache',
      'Content-Security-Policy': CSP,
      'Referrer-Policy': 'no-referrer',
    };
    if (req.headers['if-none-match'] === f.etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    sendBody(res, 200, f.type, f.bytes, headers);
  };
  router.route('/', { methods: ['GET'], handler: serve });
  router.route('/ui', { methods: ['GET'], handler: serve });
  router.routePrefix('/ui/', { methods: ['GET'], handler: serve });
}
