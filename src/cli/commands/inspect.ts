/**
 * The `dfs` commands that ask about paths without moving bytes: test (an exit status only),
 * count (directories, files and bytes beneath paths, with -q their quotas), find (paths
 * beneath a directory whose names match a glob) and checksum (the whole-file checksum the
 * DataNodes compute, ../../client/file-checksum.ts), as `hdfs dfs -test`, `-count`, `-find`,
 * `-checksum`.
 * count walks the tree like du (./tree-walk.ts, memory depth x page size); find too.
 */
import type { Command } from 'commander';
import { FileType } from '../../../protocol/shared-structures.js';
import { formatSize, type SizeStyle } from '../format.js';
import { isFatal, normalizePath, runCommand, UsageError, type CommandContext } from './command-context.js';
import { componentMatcher, expandBraces, expandPath } from './glob.js';
import { sizeStyle } from './space.js';
import { walkTree } from './tree-walk.js';

// ---- test -------------------------------------------------------------------------------

const TESTS = {
  e: 'the path exists',
  d: 'it is a directory',
  f: 'it is a file',
  s: 'it is not empty (length > 0)',
  z: 'it has length 0',
} as const;
type TestFlag = keyof typeof TESTS;

async function test(ctx: CommandContext, path: string, flags: Partial<Record<TestFlag, boolean>>) {
  const chosen = (Object.keys(TESTS) as TestFlag[]).filter((f) => flags[f] === true);
  if (chosen.length !== 1) throw new UsageError('USAGE', 'give exactly one of -e, -d, -f, -s, -z');
  const status = await ctx.client.exists(normalizePath(path));
  let yes: boolean;
  switch (chosen[0]!) {
    case 'e':
      yes = status !== null;
      break;
    case 'd':
      yes = status?.type === FileType.DIRECTORY;
      break;
    case 'f':
      yes = status !== null && status.type !== FileType.DIRECTORY;
      break;
    case 's':
      yes = status !== null && status.length > 0;
      break;
    case 'z':
      yes = status !== null && status.length === 0;
      break;
  }
  // The answer is the exit status; nothing is printed (errors still are, with status 1).
  if (!yes) ctx.failed = true;
}

// ---- count ------------------------------------------------------------------------------

interface CountRow {
  path: string;
  directories: number;
  files: number;
  bytes: number;
  /** With -q: the quotas (null when none) and what remains of them. */
  nameQuota?: number | null;
  nameQuotaRemaining?: number | null;
  spaceQuota?: number | null;
  spaceQuotaRemaining?: number | null;
  spaceConsumed?: number;
}

function countColumns(row: CountRow, sizes: SizeStyle): string[] {
  const q: string[] = [];
  if (row.nameQuota !== undefined) {
    // HDFS prints these words for "no quota".
    q.push(row.nameQuota === null ? 'none' : String(row.nameQuota));
    q.push(row.nameQuotaRemaining === null ? 'inf' : String(row.nameQuotaRemaining));
    q.push(row.spaceQuota === null ? 'none' : formatSize(row.spaceQuota!, sizes));
    q.push(row.spaceQuotaRemaining === null ? 'inf' : formatSize(row.spaceQuotaRemaining!, sizes));
  }
  return [...q, String(row.directories), String(row.files), formatSize(row.bytes, sizes), row.path];
}

/** One NameNode call per path (contentSummary): the walk happens there. */
async function count(
  ctx: CommandContext,
  paths: string[],
  options: { quotas?: boolean; humanReadable?: boolean },
): Promise<void> {
  const rows: CountRow[] = [];
  for (const p of paths) {
    try {
      for (const path of await expandPath(ctx, p)) {
        const s = await ctx.client.contentSummary(path);
        const row: CountRow = { path, directories: s.directories, files: s.files, bytes: s.length };
        if (options.quotas === true) {
          row.nameQuota = s.nsQuota > 0 ? s.nsQuota : null;
          row.nameQuotaRemaining = s.nsQuota > 0 ? s.nsQuota - s.directories - s.files : null;
          row.spaceQuota = s.dsQuota > 0 ? s.dsQuota : null;
          row.spaceQuotaRemaining = s.dsQuota > 0 ? s.dsQuota - s.spaceConsumed : null;
          row.spaceConsumed = s.spaceConsumed;
        }
        if (ctx.json) rows.push(row);
        else await ctx.writeLines([countColumns(row, sizeStyle(options)).join('  ')]);
      }
    } catch (err) {
      if (isFatal(err)) throw err;
      ctx.reportError(err);
    }
  }
  if (ctx.json) await ctx.writeJson(rows);
}

// ---- find -------------------------------------------------------------------------------

interface FindExpression {
  /** Matchers any of which must accept the name (one per brace alternative). */
  name: ((name: string) => boolean)[] | null;
  type: 'f' | 'd' | null;
}

/** Parses `-name GLOB`, `-iname GLOB`, `-type f|d`, `-print` (hdfs dfs -find's expression). */
export function parseFindExpression(tokens: string[]): FindExpression {
  const expr: FindExpression = { name: null, type: null };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const value = (): string => {
      const v = tokens[++i];
      if (v === undefined) throw new UsageError('USAGE', `${t} needs a value`);
      return v;
    };
    if (t === '-name' || t === '-iname') {
      const fold = t === '-iname';
      const matchers = expandBraces(value()).map((g) => componentMatcher(fold ? g.toLowerCase() : g));
      expr.name = matchers.map((m) => (fold ? (n: string) => m(n.toLowerCase()) : m));
    } else if (t === '-type') {
      const v = value();
      if (v !== 'f' && v !== 'd') throw new UsageError('USAGE', `-type takes f or d, not ${v}`);
      expr.type = v;
    } else if (t !== '-print') {
      throw new UsageError('USAGE', `unknown find expression ${t} (known: -name, -iname, -type f|d, -print)`);
    }
  }
  return expr;
}

async function find(ctx: CommandContext, args: string[]): Promise<void> {
  const at = args.findIndex((a) => a.startsWith('-') && a !== '-');
  const roots = at < 0 ? args : args.slice(0, at);
  const expr = parseFindExpression(at < 0 ? [] : args.slice(at));
  const found: string[] = [];
  for (const root of roots.length === 0 ? ['/'] : roots) {
    try {
      for (const top of await expandPath(ctx, root)) {
        for await (const { path, status } of walkTree(ctx, top, await ctx.client.stat(top))) {
          const isDir = status.type === FileType.DIRECTORY;
          if (expr.type !== null && (expr.type === 'd') !== isDir) continue;
          const name = path === '/' ? '/' : path.slice(path.lastIndexOf('/') + 1);
          if (expr.name !== null && !expr.name.some((m) => m(name))) continue;
          if (ctx.json) found.push(path);
          else await ctx.out.write(`${path}\n`);
        }
      }
    } catch (err) {
      if (isFatal(err)) throw err;
      ctx.reportError(err);
    }
  }
  if (ctx.json) await ctx.writeJson(found);
}

// ---- checksum ----------------------------------------------------------------------------

async function checksum(ctx: CommandContext, paths: string[]): Promise<void> {
  const out: object[] = [];
  for (const p of paths) {
    try {
      for (const path of await expandPath(ctx, p)) {
        const sum = await ctx.client.checksum(path);
        if (ctx.json) out.push({ path, ...sum });
        else await ctx.out.write(`${path}\t${sum.algorithm}-${sum.chunkBytes}\t${sum.checksum}\n`);
      }
    } catch (err) {
      if (isFatal(err)) throw err;
      ctx.reportError(err);
    }
  }
  if (ctx.json) await ctx.writeJson(out);
}

// ---- registration -----------------------------------------------------------------------

export function registerInspectCommands(program: Command): void {
  program
    .command('test')
    .description('answer a question about a path with the exit status: 0 yes, 1 no')
    .argument('<path>', 'DFS path')
    .option('-e', TESTS.e)
    .option('-d', TESTS.d)
    .option('-f', TESTS.f)
    .option('-s', TESTS.s)
    .option('-z', TESTS.z)
    .addHelpText(
      'after',
      '\nExactly one of the flags. Nothing is printed unless the question cannot be answered.',
    )
    .action((path: string, flags: Partial<Record<TestFlag, boolean>>, cmd: Command) =>
      runCommand(cmd, (ctx) => test(ctx, path, flags)),
    );

  program
    .command('count')
    .description('count directories, files and bytes beneath paths')
    .argument('<paths...>', 'DFS paths (globs allowed)')
    .option('-q, --quotas', 'also show name and space quotas and what remains of them')
    .option('-h, --human-readable', 'sizes like 1.5K, 23M, 4.0G instead of byte counts')
    .addHelpText(
      'after',
      '\nColumns: DIR_COUNT FILE_COUNT CONTENT_SIZE PATHNAME (a directory counts itself); with -q first' +
        '\nQUOTA REM_QUOTA SPACE_QUOTA REM_SPACE_QUOTA ("none" and "inf" when no quota is set; space counts' +
        '\nreplicas, as dfs admin setSpaceQuota does).' +
        '\nWith --json: an array of {"path", "directories", "files", "bytes"}; with -q also "nameQuota",' +
        '\n"nameQuotaRemaining", "spaceQuota", "spaceQuotaRemaining" (null when none) and "spaceConsumed".',
    )
    .action((paths: string[], options: { quotas?: boolean; humanReadable?: boolean }, cmd: Command) =>
      runCommand(cmd, (ctx) => count(ctx, paths, options)),
    );

  program
    .command('checksum')
    .description('print whole-file checksums computed by the DataNodes from their stored chunk checksums')
    .argument('<paths...>', 'DFS files (globs allowed)')
    .addHelpText(
      'after',
      "\nColumns: path, algorithm-chunkBytes, checksum (SHA-256 of the blocks' SHA-256 digests of their" +
        '\nchunk checksums, xxh3, xxh64 or xxh32 as named; PROTOCOL.md section 10). Equal for' +
        '\nequal content written with the same block and chunk sizes and checksum algorithm, whichever' +
        '\nreplicas answer. No data is read. A file whose blocks mix algorithms has none (an error).' +
        '\nWith --json: an array of {"path", "algorithm", "chunkBytes", "blockBytes", "length", "checksum"}.',
    )
    .action((paths: string[], _options: unknown, cmd: Command) =>
      runCommand(cmd, (ctx) => checksum(ctx, paths)),
    );

  program
    .command('find')
    .description('print the paths beneath PATH (itself included) that match an expression')
    .argument('[args...]', 'PATH... then the expression: -name GLOB | -iname GLOB | -type f|d | -print')
    .allowUnknownOption()
    .addHelpText(
      'after',
      '\nPaths default to /; every given test must hold. GLOB matches the last path component' +
        '\n(quote it for the shell). With --json: an array of paths.',
    )
    .action((args: string[], _options: unknown, cmd: Command) => {
      // The expression's dashes reach us unparsed; a --json among them is still the global flag.
      const at = args.indexOf('--json');
      if (at >= 0) {
        args.splice(at, 1);
        cmd.parent?.setOptionValue('json', true);
      }
      return runCommand(cmd, (ctx) => find(ctx, args));
    });
}
