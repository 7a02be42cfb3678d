/**
 * The namespace commands of `dfs`: ls, mkdir, rm (to trash when it is on), expunge, rmdir,
 * touchz, mv, stat, info. Each is a
 * thin loop over DfsClient calls; what they print is built in ../format.ts. Path arguments
 * of ls, rm, rmdir, mv and stat may be globs (./glob.ts); mkdir and touchz take names.
 *
 * `ls -R` walks the tree depth-first and prints it in pre-order (an entry, then everything
 * beneath it), like `hdfs dfs -ls -R`, with the walk of ./tree-walk.ts: memory is depth x
 * page size however wide the tree is, and a directory that vanishes or fails mid-walk is
 * reported and skipped.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX } from '../../../protocol/limits.js';
import { FileType, type FileStatus } from '../../../protocol/shared-structures.js';
import { finished } from 'node:stream/promises';
import { DfsError, isDfsError } from '../../../protocol/errors.js';
import {
  fileStatusJson,
  formatLsRows,
  formatServerInfo,
  formatStat,
  lsRow,
  type SizeStyle,
} from '../format.js';
import { isFatal, normalizePath, runCommand, UsageError, type CommandContext } from './command-context.js';
import { sizeStyle } from './space.js';
import { expungeTrash, moveToTrash } from '../../client/trash.js';
import { expandPath } from './glob.js';
import { checkStatFormat, formatStatWith, STAT_FORMAT_HELP } from './stat-format.js';
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
        for (const path of await expandPath(ctx, p)) await lsOne(ctx, sink, path, options);
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

/**
 * Runs `op` on each path in order (each glob's matches with `expand`); JSON output lists the
 * paths it succeeded on. `missing` decides about a glob that matched nothing (rm -f: fine).
 */
async function eachPath(
  ctx: CommandContext,
  paths: string[],
  op: (path: string) => Promise<boolean>,
  options: { expand?: boolean; ignoreMissing?: boolean; jsonExtra?: () => object } = {},
): Promise<void> {
  const done: string[] = [];
  try {
    for (const p of paths) {
      try {
        const expanded = options.expand === true ? await expandPath(ctx, p) : [normalizePath(p)];
        for (const path of expanded) {
          try {
            if (await op(path)) done.push(path);
          } catch (err) {
            if (isFatal(err)) throw err;
            ctx.reportError(err);
          }
        }
      } catch (err) {
        if (isFatal(err)) throw err;
        if (!(options.ignoreMissing === true && isDfsError(err, 'NOT_FOUND'))) ctx.reportError(err);
      }
    }
  } finally {
    if (ctx.json) await ctx.writeJson({ done, ...options.jsonExtra?.() });
  }
}

interface RmOptions {
  recursive?: boolean;
  force?: boolean;
  skipTrash?: boolean;
}

/** `rm`: to the caller's trash when the NameNode has trash on (./../../client/trash.ts), else deleted. */
async function rm(ctx: CommandContext, paths: string[], options: RmOptions): Promise<void> {
  const useTrash = options.skipTrash !== true && (await ctx.client.serverInfo()).trashIntervalMs > 0;
  const moved: { path: string; trashPath: string }[] = [];
  const removeOne = async (path: string): Promise<boolean> => {
    try {
      if (options.recursive !== true) {
        const st = await ctx.client.stat(path);
        if (st.type === FileType.DIRECTORY)
          throw new DfsError('IS_A_DIRECTORY', `${path} is a directory (use rm -r, or rmdir if it is empty)`);
      }
      const trashPath = useTrash ? await moveToTrash(ctx.client, path) : null;
      if (trashPath !== null) {
        moved.push({ path, trashPath });
        if (!ctx.json) await ctx.out.write(`Moved: '${path}' to trash at: ${trashPath}\n`);
      } else {
        await ctx.client.delete(path, { recursive: options.recursive === true });
      }
      return true;
    } catch (err) {
      if (options.force === true && isDfsError(err, 'NOT_FOUND')) return false;
      throw err;
    }
  };
  await eachPath(ctx, paths, removeOne, {
    expand: true,
    ignoreMissing: options.force === true,
    jsonExtra: () => (useTrash ? { movedToTrash: moved } : {}),
  });
}

// ---- mv, stat ---------------------------------------------------------------------------

async function mv(ctx: CommandContext, args: string[]): Promise<void> {
  if (args.length < 2) throw new UsageError('USAGE', 'name at least one source and a destination');
  const to = normalizePath(args[args.length - 1]!);
  const sources: string[] = [];
  for (const arg of args.slice(0, -1)) {
    try {
      sources.push(...(await expandPath(ctx, arg)));
    } catch (err) {
      if (isFatal(err)) throw err;
      ctx.reportError(err);
    }
  }
  if (args.length > 2) {
    const st = await ctx.client.exists(to);
    if (st?.type !== FileType.DIRECTORY)
      throw new DfsError(
        st === null ? 'NOT_FOUND' : 'NOT_A_DIRECTORY',
        `${to} is not an existing directory (several sources)`,
      );
  }
  const done: { src: string; dst: string }[] = [];
  for (const from of sources) {
    try {
      await ctx.client.rename(from, to);
      done.push({ src: from, dst: to });
    } catch (err) {
      if (isFatal(err)) throw err;
      ctx.reportError(err);
    }
  }
  if (!ctx.json) return;
  if (args.length === 2 && sources.length === 1) {
    if (done.length === 1) await ctx.writeJson(done[0]);
  } else {
    await ctx.writeJson({ done });
  }
}

async function stat(ctx: CommandContext, args: string[]): Promise<void> {
  const format = args.length >= 2 && args[0]!.includes('%') ? args[0]! : null;
  if (format !== null) checkStatFormat(format);
  const paths = format === null ? args : args.slice(1);
  const statuses: object[] = [];
  for (const arg of paths) {
    try {
      for (const path of await expandPath(ctx, arg)) {
        const status = await ctx.client.stat(path);
        if (ctx.json) statuses.push(fileStatusJson(status));
        else if (format !== null) await ctx.out.write(`${formatStatWith(format, status, path)}\n`);
        else await ctx.writeLines(formatStat(status));
      }
    } catch (err) {
      if (isFatal(err)) throw err;
      ctx.reportError(err);
    }
  }
  if (ctx.json && statuses.length > 0)
    await ctx.writeJson(args.length === 1 && statuses.length === 1 ? statuses[0] : statuses);
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
    .description('delete files, and directories with -r')
    .argument('<paths...>', 'paths to delete (globs allowed)')
    .option('-r, --recursive', 'delete directories with everything beneath them')
    .option('-f, --force', 'ignore paths that do not exist')
    .option(
      '--skip-trash',
      "delete at once, even when the NameNode keeps deleted paths in the caller's trash",
    )
    .addHelpText(
      'after',
      '\nA directory needs -r, even an empty one (rmdir deletes empty directories), as hdfs dfs -rm.' +
        "\nWith trash on (the NameNode's trashIntervalMinutes > 0), paths move to /user/NAME/.Trash/Current/PATH" +
        '\n(restore with mv) and the NameNode deletes them after the interval; a path already in the trash' +
        '\nis deleted. NAME is --user, else $DFS_USER, else the OS user.' +
        '\nWith --json: {"done": [paths removed]}, with trash on also "movedToTrash": [{"path", "trashPath"}].',
    )
    .action((paths: string[], options: RmOptions, cmd: Command) =>
      runCommand(cmd, (ctx) => rm(ctx, paths, options)),
    );

  program
    .command('expunge')
    .description("empty the caller's trash (/user/NAME/.Trash) now")
    .addHelpText('after', '\nWith --json: {"expunged": true|false} (false: there was no trash).')
    .action((_options: unknown, cmd: Command) =>
      runCommand(cmd, async (ctx) => {
        const expunged = await expungeTrash(ctx.client);
        if (ctx.json) await ctx.writeJson({ expunged });
      }),
    );

  program
    .command('rmdir')
    .description('delete empty directories')
    .argument('<paths...>', 'directories to delete (globs allowed)')
    .option('--ignore-fail-on-non-empty', 'say nothing about a directory that is not empty (it stays)')
    .addHelpText('after', '\nWith --json: {"done": [directories deleted]}.')
    .action((paths: string[], options: { ignoreFailOnNonEmpty?: boolean }, cmd: Command) =>
      runCommand(cmd, (ctx) =>
        eachPath(
          ctx,
          paths,
          async (path) => {
            const st = await ctx.client.stat(path);
            if (st.type !== FileType.DIRECTORY)
              throw new DfsError('NOT_A_DIRECTORY', `${path} is not a directory`);
            try {
              await ctx.client.delete(path, { recursive: false });
              return true;
            } catch (err) {
              if (options.ignoreFailOnNonEmpty === true && isDfsError(err, 'NOT_EMPTY')) return false;
              throw err;
            }
          },
          { expand: true },
        ),
      ),
    );

  program
    .command('touchz')
    .description('create empty files (an existing empty file is left as it is)')
    .argument('<paths...>', 'files to create')
    .addHelpText(
      'after',
      '\nAn existing file that is not empty is an error (ALREADY_EXISTS), as hdfs dfs -touchz.' +
        '\nWith --json: {"done": [files created]}.',
    )
    .action((paths: string[], _options: unknown, cmd: Command) =>
      runCommand(cmd, (ctx) =>
        eachPath(ctx, paths, async (path) => {
          const st = await ctx.client.exists(path);
          if (st?.type === FileType.DIRECTORY) throw new DfsError('IS_A_DIRECTORY', `${path} is a directory`);
          if (st !== null) {
            if (st.length > 0) throw new DfsError('ALREADY_EXISTS', `${path} exists and is not empty`);
            return false;
          }
          const out = ctx.client.create(path, { overwrite: false, createParent: false });
          out.end();
          await finished(out);
          return true;
        }),
      ),
    );

  program
    .command('mv')
    .description('rename SRC to DST; an existing directory DST receives each SRC inside it')
    .argument('<args...>', 'SRC... DST: paths to move (globs allowed), then the new path or a directory')
    .addHelpText(
      'after',
      '\nSeveral sources need DST to be an existing directory; a source that fails is reported and the' +
        '\nothers go on.\nWith --json: {"src": SRC, "dst": DST} for one source, else {"done": [{"src", "dst"}]}.',
    )
    .action((args: string[], _options: unknown, cmd: Command) => runCommand(cmd, (ctx) => mv(ctx, args)));

  program
    .command('stat')
    .description('show every FileStatus field of a path, or the fields FORMAT names')
    .argument('<args...>', '[FORMAT] PATH...: an optional format holding %, then paths (globs allowed)')
    .addHelpText(
      'after',
      `\nFORMAT (as hdfs dfs -stat): ${STAT_FORMAT_HELP}; \\n is a newline, %% a percent sign.` +
        '\nWith --json: the FileStatus object (type "file" or "directory"); an array for several paths.',
    )
    .action((args: string[], _options: unknown, cmd: Command) => runCommand(cmd, (ctx) => stat(ctx, args)));

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
