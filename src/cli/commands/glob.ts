/**
 * Globs in `dfs` path arguments, expanded by the client against NameNode listings, as
 * `hdfs dfs` does (Hadoop `Globber` / `GlobPattern`):
 *
 *   *        any run of characters within one path component (names starting with a dot too)
 *   ?        one character
 *   [abc]    one of the set; [a-z] a range; [^abc] or [!abc] any other character
 *   {a,b}    either alternative (alternatives may nest and hold other globs)
 *   \c       the character c itself
 *
 * A path without any of these is passed through untouched, without a NameNode call, so the
 * command's own errors (NOT_FOUND and the rest) stay what they were. A pattern is expanded
 * one component at a time: a literal component is appended, a glob component lists the
 * directories reached so far and keeps the matching children. Matches come back sorted; a
 * pattern that matches nothing is NOT_FOUND, as in `hdfs dfs -ls '/x*'`.
 */
import { DfsError } from '../../../protocol/errors.js';
import { isFatal, joinChild, normalizePath, type CommandContext } from './command-context.js';

const GLOB_CHARS = new Set(['*', '?', '[', '{']);
/** Brace alternatives one pattern may expand to: a guard against `{a,b}{c,d}...` blowing up. */
const BRACE_EXPANSIONS_MAX = 1024;

/** True when `text` holds an unescaped glob character. */
export function hasGlob(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\') i++;
    else if (GLOB_CHARS.has(c)) return true;
  }
  return false;
}

/** `text` with its escapes removed (`\*` is `*`). */
function unescape(text: string): string {
  return text.replace(/\\(.)/g, '$1');
}

/** Index of the `}` closing the `{` at `open`, or -1. */
function closingBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\') i++;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i;
  }
  return -1;
}

/** The top-level alternatives between `{` and `}` (exclusive bounds). */
function alternatives(text: string, from: number, to: number): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = from;
  for (let i = from; i < to; i++) {
    const c = text[i]!;
    if (c === '\\') i++;
    else if (c === '{') depth++;
    else if (c === '}') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start, to));
  return out;
}

/** `{a,b}` alternatives expanded into separate patterns (left to right, nested too). */
export function expandBraces(pattern: string): string[] {
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (c !== '{') continue;
    const close = closingBrace(pattern, i);
    if (close < 0) throw new DfsError('INVALID_ARGUMENT', `${pattern}: unclosed { in glob`);
    const head = pattern.slice(0, i);
    const tail = pattern.slice(close + 1);
    const out: string[] = [];
    for (const alt of alternatives(pattern, i + 1, close)) {
      for (const expanded of expandBraces(head + alt + tail)) {
        out.push(expanded);
        if (out.length > BRACE_EXPANSIONS_MAX)
          throw new DfsError(
            'INVALID_ARGUMENT',
            `${pattern}: more than ${BRACE_EXPANSIONS_MAX} alternatives`,
          );
      }
    }
    return out;
  }
  return [pattern];
}

/** A matcher for one path component holding `*`, `?`, `[...]` and escapes (no braces left). */
export function componentMatcher(component: string): (name: string) => boolean {
  let re = '^';
  for (let i = 0; i < component.length; i++) {
    const c = component[i]!;
    if (c === '\\' && i + 1 < component.length) {
      re += escapeRegExp(component[++i]!);
    } else if (c === '*') {
      re += '.*';
    } else if (c === '?') {
      re += '.';
    } else if (c === '[') {
      const close = component.indexOf(']', i + 2);
      if (close < 0) throw new DfsError('INVALID_ARGUMENT', `${component}: unclosed [ in glob`);
      let set = component.slice(i + 1, close);
      let negate = false;
      if (set.startsWith('!') || set.startsWith('^')) {
        negate = true;
        set = set.slice(1);
      }
      re += `[${negate ? '^' : ''}${set.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
      i = close;
    } else {
      re += escapeRegExp(c);
    }
  }
  let compiled: RegExp;
  try {
    compiled = new RegExp(`${re}$`, 's');
  } catch (err) {
    // A class the regular-expression engine refuses, such as the reversed range [z-a].
    throw new DfsError('INVALID_ARGUMENT', `${component}: not a valid glob (${(err as Error).message})`);
  }
  return (name) => compiled.test(name);
}

function escapeRegExp(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/-]/g, (m) => `\\${m}`);
}

/** Every existing path one brace-free absolute pattern names. */
async function expandOne(ctx: CommandContext, pattern: string): Promise<string[]> {
  let reached = ['/'];
  let globbed = false;
  for (const component of pattern.split('/').filter((c) => c.length > 0)) {
    if (!hasGlob(component)) {
      const name = unescape(component);
      reached = reached.map((dir) => joinChild(dir, name));
      continue;
    }
    globbed = true;
    const matches = componentMatcher(component);
    const next: string[] = [];
    for (const dir of reached) {
      try {
        for await (const entry of ctx.client.list(dir))
          if (matches(entry.path)) next.push(joinChild(dir, entry.path));
      } catch (err) {
        // A path reached so far that is missing or a file simply has nothing beneath it.
        if (isFatal(err)) throw err;
      }
    }
    reached = next;
    if (reached.length === 0) return [];
  }
  if (!globbed) return reached;
  // A literal tail after a glob (`/logs/*/today`): keep the paths that exist.
  const out: string[] = [];
  for (const p of reached) if ((await ctx.client.exists(p)) !== null) out.push(p);
  return out;
}

/**
 * The paths one argument names: itself (normalized) when it holds no glob, else every
 * match, sorted. NOT_FOUND when a glob matches nothing.
 */
export async function expandPath(ctx: CommandContext, arg: string): Promise<string[]> {
  const normalized = normalizePath(arg);
  if (!hasGlob(normalized)) return [normalized];
  if (!normalized.startsWith('/'))
    throw new DfsError('INVALID_PATH', `${arg}: a glob must be an absolute path`);
  const found = new Set<string>();
  for (const pattern of expandBraces(normalized)) {
    for (const p of hasGlob(pattern) ? await expandOne(ctx, pattern) : [unescape(pattern)]) {
      if (hasGlob(pattern) || (await ctx.client.exists(p)) !== null) found.add(p);
    }
  }
  if (found.size === 0) throw new DfsError('NOT_FOUND', `${arg}: no such file or directory (no glob match)`);
  return [...found].sort();
}

/** Every argument expanded, in argument order; the first failing one throws. */
export async function expandPaths(ctx: CommandContext, args: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const arg of args) out.push(...(await expandPath(ctx, arg)));
  return out;
}
