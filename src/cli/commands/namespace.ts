/**
 * The namespace commands of `dfs`: ls, mkdir, rm, mv, stat, info. Each is a thin loop over
 * DfsClient calls; what they print is built in ../format.ts.
 *
 * `ls -R` walks the tree depth-first and prints it in pre-order (an entry, then everything
 * beneath it), like `hdfs dfs -ls -R`, with the walk of ./tree-walk.ts: memory is depth x
 * page size however wide the tree is, and a directory that vanishes or fails mid-walk is
 * reported and skipped.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX } from '../../../protocol/limits.js';
import { FileType, type FileStatus } from '../../../protocol/shared-structures.js';
import { isDfsError } from '../../../protocol/errors.js';
import {
  fileStatusJson,
  formatLsRows,
  formatServerInfo,
  formatStat,
  lsRow,
  type SizeStyle,
} from '../format.js';
import { isFatal, normalizePath, runCommand, type CommandContext } from './command-context.js';
import { sizeStyle } from './space.js';
import { walkTree } from './tree-walk.js';

function pageSizeArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > LIST_LIMIT_MAX)
    throw new InvalidArgumentError(`must be an integer from 1 to ${LIST_LIMIT_MAX}`);
  return n;
}

// ---- ls ---------------------------------------------------------------------------------

interface LsOptions {
  recursive?: boolean;
  directory?: boolean;
  humanReadable?: boolean;
  pageSize: number;
}

/** Where ls output goes: aligned text rows in batches, or one streamed JSON array. */
class LsSink {
  private rows: string[][] = [];
  private jsonCount = 0;

  /** Text rows waiting for the next flush. */
  get batched(): number {
    return this.rows.length;
  }

  constructor(
    private readonly ctx: CommandContext,
    private readonly sizes: SizeStyle,
  ) {}

  async begin(): Promise<void> {
    if (this.ctx.json) await this.ctx.out.write('[');
  }

  async entry(status: FileStatus, fullPath: string): Promise<void> {
    if (this.ctx.json) {
      const sep = this.jsonCount++ === 0 ? '\n' : ',\n';
      await this.ctx.out.write(sep + JSON.stringify(fileStatusJson(status, fullPath)));
    } else {
      this.rows.push(lsRow(status, fullPath, this.sizes));
    }
  }

  /** Prints the rows collected so far as one aligned batch. */
  async flushRows(): Promise<void> {
    if (this.rows.length === 0) return;
    const lines = formatLsRows(this.rows, this.sizes);
    this.rows = [];
    await this.ctx.writeLines(lines);
  }

  async end(): Promise<void> {
    await this.flushRows();
    if (this.ctx.json) await this.ctx.out.write(this.jsonCount === 0 ? ']\n' : '\n]\n');
  }
}

/** The directory holding `fullPath`. */
function parentOf(fullPath: string): string {
  const at = fullPath.lastIndexOf('/');
  return at <= 0 ? '/' : fullPath.slice(0, at);
}

async function lsOne(ctx: CommandContext, sink: LsSink, path: string, options: LsOptions): Promise<void> {
  const top = await ctx.client.stat(path);
  if (top.type !== FileType.DIRECTORY || options.directory) {
    await sink.entry(top, path);
    return;
  }
  // Rows are aligned per batch: the entries of one directory, at most a page of them.
  let dir = path;
  for await (const { path: full, status } of walkTree(ctx, path, top, {
    pageSize: options.pageSize,
    recursive: options.recursive === true,
  })) {
    if (full === path) continue; // the directory itself: ls lists its entries
    const parent = parentOf(full);
    if (parent !== dir || sink.batched >= options.pageSize) {
      await sink.flushRows();
      dir = parent;
    }
    await sink.entry(status, full);
  }
}

async function ls(ctx: CommandContext, paths: string[], options: LsOptions): Promise<void> {
  const sink = new LsSink(ctx, sizeStyle(options));
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
async function eachPath(
  ctx: CommandContext,
  paths: string[],
  op: (path: string) => Promise<boolean>,
): Promise<void> {
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
    .option('-h, --human-readable', 'sizes like 1.5K, 23M, 4.0G instead of byte counts')
    .option('--page-size <n>', 'entries fetched per NameNode call', pageSizeArg, LIST_LIMIT_DEFAULT)
    .addHelpText(
      'after',
      '\nColumns: type (d or -), replication (- for directories), size in bytes (with -h: 1.5K = 1.5 KiB),' +
        '\nmtime (local time), path.' +
        '\nWith --json: one JSON array of FileStatus objects (exact byte lengths, type "file" or "directory"), full paths.',
    )
    .action((paths: string[], options: LsOptions, cmd: Command) =>
      runCommand(cmd, (ctx) => ls(ctx, paths, options)),
    );

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
    .addHelpText('after', '\nWith --json: the FileStatus object (type "file" or "directory").')
    .action((path: string, _options: unknown, cmd: Command) =>
      runCommand(cmd, async (ctx) => {
        const status = await ctx.client.stat(normalizePath(path));
        if (ctx.json) await ctx.writeJson(fileStatusJson(status));
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
