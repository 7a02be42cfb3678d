/**
 * Strict query strings for the NameNode's JSON API (web-api.ts, web-transfer.ts). A script
 * that misspells a parameter or sends `limit=ten` learns it at once (400 BAD_QUERY) instead
 * of getting a default it did not ask for; a path is checked by the namespace's own rules
 * (path-rules.ts), so `..`, `.`, empty components and NUL, plain or percent-encoded (the URL
 * parser decodes them first), are INVALID_PATH (400) before anything looks them up.
 *
 * Every request may name its caller in `user.name`, as WebHDFS does (HDFS simple auth,
 * src/webhdfs/webhdfs-request.ts): the API acts as that user, `dr.who` when it is absent.
 */
import { HttpError } from '../common/http-router.js';
import { ANONYMOUS_USER, userNameProblem } from '../webhdfs/webhdfs-request.js';
import { joinPath, parsePath } from './path-rules.js';

/** Longest non-path string parameter taken (a startAfter name is at most a component). */
const STRING_PARAM_CHARS_MAX = 4096;
/** The caller's name, taken by every route (HDFS simple auth's parameter). */
const USER_PARAM = 'user.name';

function badQuery(message: string): HttpError {
  return new HttpError(400, 'BAD_QUERY', message);
}

export class Query {
  private readonly params: URLSearchParams;

  /** Refuses a parameter not in `allowed`, or one given twice. */
  constructor(url: URL, allowed: readonly string[]) {
    this.params = url.searchParams;
    const seen = new Set<string>();
    for (const name of this.params.keys()) {
      if (!allowed.includes(name) && name !== USER_PARAM)
        throw badQuery(
          `unknown query parameter '${name.slice(0, 100)}' (takes: ${allowed.join(', ') || 'none'})`,
        );
      if (seen.has(name)) throw badQuery(`query parameter '${name}' given twice`);
      seen.add(name);
    }
  }

  private raw(name: string): string | null {
    return this.params.get(name);
  }

  /** An absolute DFS path, validated (INVALID_PATH) and returned as given. */
  path(name = 'path', fallback?: string): string {
    const v = this.raw(name);
    if (v === null) {
      if (fallback !== undefined) return fallback;
      throw badQuery(`query parameter '${name}' (an absolute DFS path) is required`);
    }
    return joinPath(parsePath(v));
  }

  /** The user the request acts as: `user.name`, or HDFS's static web user `dr.who`. */
  user(): string {
    const v = this.raw(USER_PARAM) ?? ANONYMOUS_USER;
    const bad = userNameProblem(v);
    if (bad !== null) throw badQuery(`query parameter '${USER_PARAM}': '${v.slice(0, 40)}' ${bad}`);
    return v;
  }

  /** A decimal integer in [min, max]; `fallback` when absent. */
  int(name: string, min: number, max: number, fallback: number): number {
    const v = this.raw(name);
    if (v === null) return fallback;
    if (!/^\d{1,15}$/.test(v))
      throw badQuery(`query parameter '${name}': '${v.slice(0, 40)}' is not a number`);
    const n = Number(v);
    if (n < min || n > max) throw badQuery(`query parameter '${name}': ${n} is outside ${min}..${max}`);
    return n;
  }

  /** true/false (also 1/0); `fallback` when absent. */
  bool(name: string, fallback: boolean): boolean {
    const v = this.raw(name);
    if (v === null) return fallback;
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    throw badQuery(`query parameter '${name}': expected true or false, not '${v.slice(0, 40)}'`);
  }

  /** A bounded string; `fallback` when absent. */
  string(name: string, fallback: string): string {
    const v = this.raw(name);
    if (v === null) return fallback;
    if (v.length > STRING_PARAM_CHARS_MAX || v.includes('\0'))
      throw badQuery(`query parameter '${name}' is too long or holds NUL`);
    return v;
  }
}
