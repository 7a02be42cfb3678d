/**
 * The namespace commands of `dfs`: ls, mkdir, rm, mv, stat, info. Each is a thin loop over
 * DfsClient calls; what they print is built in ../format.ts.
 *
 * `ls -R` walks the tree depth-first and prints it in pre-order (an entry, then everything
 * beneath it), like `hdfs dfs -ls -R`. It keeps one cursor per directory level (the current
 * page of at most --page-size entries and the name to continue after), never a list of
 * directories still to visit, so memory is depth x page size however wide the tree is.
 * A directory that vanishes or fails mid-walk is reported and skipped.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX } from '../../../protocol/limits.js';
import { FileType, type FileStatus } from '../../../protocol/types.js';
import { isDfsError } from '../../../protocol/errors.js';
import { formatLsRows, formatServerInfo, formatStat, lsRow } from '../format.js';
import { isFatal, joinChild, normalizePath, runCommand, type CommandContext } from './command-context.js';

function pageSizeArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > LIST_LIMIT_MAX) throw new InvalidArgumentError(`must be an integer from 1 to ${LIST_LIMIT_MAX}`);
  return n;
}

// ---- ls ---------------------------------------------------------------------------------

interface LsOptions {
  recursive?: boolean;
  directory?: boolean;
  pageSize: number;
}

/** Where ls output goes: aligned text rows in batches, or one streamed JSON array. */
class LsSink {
  private rows: string[][] = [];
  private jsonCount = 0;

  constructor(private readonly ctx: CommandContext) {}

  async begin(): Promise<void> {
    if (this.ctx.json) await this.ctx.out.write('[');
  }

  async entry(status: FileStatus, fullPath: string): Promise<void> {
    if (this.ctx.json) {
      const sep = this.jsonCount++ === 0 ? '\n' : ',\n';
      await this.ctx.out.write(sep + JSON.stringify({ ...status, path: fullPath }));
    } else {
      this.rows.push(lsRow(status, fullPath));
    }
  }

  /** Prints the rows collected so far as one aligned batch. */
  async flushRows(): Promise<void> {
    if (this.rows.length === 0) return;
    const lines = formatLsRows(this.rows);
    this.rows = [];
    await this.ctx.writeLines(lines);
  }

  async end(): Promise<void> {
    await this.flushRows();
    if (this.ctx.json) await this.ctx.out.write(this.jsonCount === 0 ? ']\n' : '\n]\n');
  }
}

interface DirCursor {
  dir: string;
  entries: FileStatus[];
  next: number;
  startAfter: string;
  hasMore: boolean;
}

async function lsOne(ctx: CommandContext, sink: LsSink, path: string, options: LsOptions): Promise<void> {
  const top = await ctx.client.stat(path);
  if (top.type !== FileType.DIRECTORY || options.directory) {
    await sink.entry(top, path);
    return;
  }
  const stack: DirCursor[] = [{ dir: path, entries: [], next: 0, startAfter: '', hasMore: true }];
  while (stack.length > 0) {
    const cur = stack[stack.length - 1]!;
    if (cur.next >= cur.entries.length) {
      await sink.flushRows();
      if (!cur.hasMore) {
        stack.pop();
        continue;
      }
      try {
        const page = await ctx.client.listPage(cur.dir, cur.startAfter, options.pageSize);
        cur.entries = page.entries;
        cur.next = 0;
        cur.hasMore = page.hasMore && page.entries.length > 0;
      } catch (err) {
        // The top directory failing is this path's error; a subdirectory failing (deleted
        // while we walk) is reported and the walk goes on with its siblings.
        if (stack.length === 1 || isFatal(err)) throw err;
        ctx.reportError(err);
        stack.pop();
      }
      continue;
    }
    const entry = cur.entries[cur.next++]!;
    cur.startAfter = entry.path;
    const full = joinChild(cur.dir, entry.path);
    await sink.entry(entry, full);
    if (options.recursive && entry.type === FileType.DIRECTORY) {
      await sink.flushRows();
      stack.push({ dir: full, entries: [], next: 0, startAfter: '', hasMore: true });
    }
  }
}

async function ls(ctx: CommandContext, paths: string[], options: LsOptions): Promise<void> {
  const sink = new LsSink(ctx);
  await sink.begin();
  try {
    for (const p of paths.length === 0 ? ['/'] : paths) {
      try {
        await lsOne(ctx, sink, normalizePath(p), options);
      } catch (err) {
        await sink.flushRows();
        if (isFatal(err)) throw err;
        ctx.reportError(err);
      }
    }
  } finally {
    await sink.end();
  }
}

// ---- mkdir, rm --------------------------------------------------------------------------

/** Runs `op` on each path in order; JSON output lists the paths it succeeded on. */
async function eachPath(ctx: CommandContext, paths: string[], op: (path: string) => Promise<boolean>): Promise<void> {
  const done: string[] = [];
  try {
    for (const p of paths) {
      const path = normalizePath(p);
      try {
        if (await op(path)) done.push(path);
      } catch (err) {
        if (isFatal(err)) throw err;
        ctx.reportError(err);
      }
    }
  } finally {
    if (ctx.json) await ctx.writeJson({ done });
  }
}

// ---- registration -----------------------------------------------------------------------

export function registerNamespaceCommands(program: Command): void {
  program
    .command('ls')
    .description('list directories (their entries) and files (themselves), with full paths')
    .argument('[paths...]', 'paths to list (default /)')
    .option('-R, --recursive', 'list subdirectories recursively (depth-first, pre-order)')
    .option('-d, --directory', 'list directories themselves, not their entries')
    .option('--page-size <n>', 'entries fetched per NameNode call', pageSizeArg, LIST_LIMIT_DEFAULT)
    .addHelpText(
      'after',
      '\nColumns: type (d or -), replication (- for directories), size (1.5K = 1.5 KiB), mtime (local time), path.' +
        '\nWith --json: one JSON array of FileStatus objects (exact byte lengths, type 1 = directory, 2 = file), full paths.',
    )
    .action((paths: string[], options: LsOptions, cmd: Command) => runCommand(cmd, (ctx) => ls(ctx, paths, options)));

  program
    .command('mkdir')
    .description('create directories')
    .argument('<paths...>', 'directories to create')
    .option('-p, --parents', 'create missing parents; no error if the directory exists')
    .addHelpText('after', '\nWith --json: {"done": [paths created or already there with -p]}.')
    .action((paths: string[], options: { parents?: boolean }, cmd: Command) =>
      runCommand(cmd, (ctx) =>
        eachPath(ctx, paths, async (path) => {
          await ctx.client.mkdir(path, { parents: options.parents === true });
          return true;
        }),
      ),
    );

  program
    .command('rm')
    .description('delete files and directories (a non-empty directory needs -r)')
    .argument('<paths...>', 'paths to delete')
    .option('-r, --recursive', 'delete directories with everything beneath them')
    .option('-f, --force', 'ignore paths that do not exist')
    .addHelpText('after', '\nWith --json: {"done": [paths deleted]}.')
    .action((paths: string[], options: { recursive?: boolean; force?: boolean }, cmd: Command) =>
      runCommand(cmd, (ctx) =>
        eachPath(ctx, paths, async (path) => {
          try {
            await ctx.client.delete(path, { recursive: options.recursive === true });
            return true;
          } catch (err) {
            if (options.force && isDfsError(err, 'NOT_FOUND')) return false;
            throw err;
          }
        }),
      ),
    );

  program
    .command('mv')
    .description('rename SRC to DST; an existing directory DST receives SRC inside it')
    .argument('<src>', 'path to move')
    .argument('<dst>', 'new path, or an existing directory to move into')
    .addHelpText('after', '\nWith --json: {"src": SRC, "dst": DST} on success.')
    .action((src: string, dst: string, _options: unknown, cmd: Command) =>
      runCommand(cmd, async (ctx) => {
        const from = normalizePath(src);
        const to = normalizePath(dst);
        await ctx.client.rename(from, to);
        if (ctx.json) await ctx.writeJson({ src: from, dst: to });
      }),
    );

  program
    .command('stat')
    .description('show every FileStatus field of a path')
    .argument('<path>', 'file or directory')
    .addHelpText('after', '\nWith --json: the FileStatus object.')
    .action((path: string, _options: unknown, cmd: Command) =>
      runCommand(cmd, async (ctx) => {
        const status = await ctx.client.stat(normalizePath(path));
        if (ctx.json) await ctx.writeJson(status);
        else await ctx.writeLines(formatStat(status));
      }),
    );

  program
    .command('info')
    .description('show the NameNode: cluster id, version, safe mode, last txid, file/directory/block counts')
    .addHelpText('after', '\nWith --json: the ServerInfo object.')
    .action((_options: unknown, cmd: Command) =>
      runCommand(cmd, async (ctx) => {
        const info = await ctx.client.serverInfo();
        if (ctx.json) await ctx.writeJson(info);
        else await ctx.writeLines(formatServerInfo(info, ctx.client.namenode));
      }),
    );
}
