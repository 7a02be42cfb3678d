/**
 * The data commands of `dfs`: put, get, cp (and the aliases copyFromLocal, copyToLocal,
 * moveFromLocal), getmerge, cat, head and tail (bytes in and out); du and df are in
 * ./space.ts.
 *
 * put, get and cp take `SRC... DST` with the rules of ./copy-runner.ts (files, whole trees,
 * several sources into a directory) and copy each file with ./file-copy.ts, which never
 * leaves a half-written file where the user expects a whole one: the bytes go to
 * `<destination>._COPYING_`, renamed onto the destination once every byte is stored. DFS
 * sources may be globs (./glob.ts). On an error, or on SIGINT / SIGTERM / SIGHUP, the
 * transfer is aborted (one AbortController for the source, the stream and the waits), the
 * copy is deleted (best effort, bounded in time), and the process exits with 128 + the
 * signal number (130 for Ctrl-C). A second signal exits at once.
 *
 * `put - REMOTE` reads stdin (REMOTE names the file: an existing directory is an error), and
 * `get REMOTE -` writes stdout; with a terminal there it first warns on stderr when the file
 * looks binary (binaryToTerminalWarning in ./transfer-support.ts).
 *
 * Progress: a one-line bar on stderr (./progress.ts) while bytes move, only when stderr is
 * a terminal and --json is off; a timer samples the stream's byte counter 10 times a second,
 * so the data path pays nothing for it. put counts bytes acknowledged by the DataNode
 * pipeline, get the bytes verified and handed on.
 *
 * cat, head, tail and `get REMOTE -` copy to stdout with backpressure (a full pipe pauses
 * the read); a reader that leaves (`dfs cat /big | head`) ends the process quietly (dfs.ts).
 * `tail -f` then polls the file's length and prints what was added, until interrupted; a
 * file briefly missing (replaced by delete and rename) is waited for. For a file being
 * written that length is what its writer's last hflush made visible (the NameNode's
 * length of the block being written), so it follows a writer that hflushes.
 * appendToFile is in ./append.ts.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { DfsError, isDfsError } from '../../../protocol/errors.js';
import { FileType } from '../../../protocol/shared-structures.js';
import { DEFAULT_BLOCK_BYTES } from '../../client/dfs-client.js';
import { humanBytes, parseByteSize } from '../format.js';
import {
  isFatal,
  normalizePath,
  printError,
  runCommand,
  UsageError,
  type CommandContext,
} from './command-context.js';
import { localToRemote, remoteFile, remoteToLocal, remoteToRemote } from './copy-directions.js';
import { runCopy } from './copy-runner.js';
import { remoteTargetState, writeRemoteFile, type RemoteWriteOptions } from './file-copy.js';
import { expandPath, expandPaths } from './glob.js';
import {
  binaryToTerminalWarning,
  copyToStdout,
  Interruption,
  localError,
  NO_PROGRESS,
  reportInterrupted,
  runTransfer,
  startProgress,
  transferResult,
} from './transfer-support.js';
import { registerGetmergeCommand } from './getmerge.js';
import { registerAppendCommand } from './append.js';

const TAIL_BYTES_DEFAULT = 1024;
const HEAD_BYTES = 1024;
const TAIL_FOLLOW_INTERVAL_MS_DEFAULT = 1000;
const REPLICATION_ARG_MAX = 32;

// ---- argument parsers -------------------------------------------------------------------

export function replicationArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > REPLICATION_ARG_MAX)
    throw new InvalidArgumentError(`must be an integer from 1 to ${REPLICATION_ARG_MAX}`);
  return n;
}

/** A positive byte count: 1048576, 64M, 1G (block sizes, space quotas). */
export function sizeArg(value: string): number {
  const n = parseByteSize(value);
  if (n === null || n < 1)
    throw new InvalidArgumentError('must be a positive byte count such as 1048576, 64M or 1G');
  return n;
}

function tailBytesArg(value: string): number {
  const n = parseByteSize(value);
  if (n === null) throw new InvalidArgumentError('must be a byte count such as 1024 or 4K');
  return n;
}

function intervalArg(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0.1 || n > 3600)
    throw new InvalidArgumentError('must be a number of seconds from 0.1 to 3600');
  return Math.round(n * 1000);
}

/** The last argument is the destination; commander hands `SRC... DST` as one list. */
function splitDestination(args: string[]): { sources: string[]; dst: string } {
  if (args.length < 2) throw new UsageError('USAGE', 'name at least one source and a destination');
  return { sources: args.slice(0, -1), dst: args[args.length - 1]! };
}

// ---- put, get, cp -----------------------------------------------------------------------

interface PutOptions extends RemoteWriteOptions {
  /** moveFromLocal: delete each local source once it is copied whole. */
  deleteSource?: boolean;
}

/** `put - REMOTE`: stdin into one file (it has no name, so REMOTE cannot be a directory). */
async function putStdin(ctx: CommandContext, remote: string, options: PutOptions, intr: Interruption) {
  const target = normalizePath(remote);
  const st = await ctx.client.exists(target);
  if (remote.endsWith('/') && st === null) throw new DfsError('NOT_FOUND', `${remote}: no such directory`);
  if (st?.type === FileType.DIRECTORY || remote.endsWith('/'))
    throw new DfsError('IS_A_DIRECTORY', `${target} is a directory: name the file to write stdin to`);
  const existing = await remoteTargetState(ctx, target, options.force);
  let totalBytes: number | null = null;
  try {
    const fdStat = fs.fstatSync(0);
    if (fdStat.isFile()) totalBytes = fdStat.size; // `dfs put - /x < file`
  } catch {
    // no usable fd 0: the read will say so
  }
  const startedMs = performance.now();
  let bytes: number;
  try {
    bytes = await writeRemoteFile(
      ctx,
      { from: process.stdin, totalBytes, label: 'put -' },
      target,
      existing,
      options,
      intr,
    );
  } catch (err) {
    if (intr.received === null) throw err;
    const outcome = existing === null ? 'nothing was written' : 'it is unchanged';
    return reportInterrupted(ctx, intr, `the partial copy was removed; ${target}: ${outcome}`);
  }
  if (ctx.json) await ctx.writeJson(transferResult(target, bytes, startedMs));
}

async function put(ctx: CommandContext, args: string[], options: PutOptions, intr: Interruption) {
  const { sources, dst } = splitDestination(args);
  if (sources.includes('-')) {
    if (sources.length > 1) throw new DfsError('INVALID_ARGUMENT', 'stdin (-) must be the only source');
    return putStdin(ctx, dst, options, intr);
  }
  const direction = localToRemote(ctx, options, intr);
  if (options.deleteSource === true) {
    direction.sourceDone = async (src) => {
      await fsp.rm(src, { recursive: true }).catch((err: unknown) => {
        throw localError(err, src);
      });
    };
  }
  await runCopy(ctx, direction, sources, dst, normalizePath(dst), options.force === true, intr);
}

async function get(ctx: CommandContext, args: string[], options: { force?: boolean }, intr: Interruption) {
  const { sources, dst } = splitDestination(args);
  const expanded = await expandPaths(ctx, sources);
  if (dst === '-') {
    if (expanded.length > 1)
      throw new DfsError('INVALID_ARGUMENT', 'several sources cannot go to stdout (use cat)');
    return getToStdout(ctx, expanded[0]!, intr);
  }
  await runCopy(
    ctx,
    remoteToLocal(ctx, options.force === true, intr),
    expanded,
    dst,
    dst,
    options.force === true,
    intr,
  );
}

async function getToStdout(ctx: CommandContext, src: string, intr: Interruption): Promise<void> {
  const status = await remoteFile(ctx, src, 'get');
  const input = ctx.client.open(src, { signal: intr.signal });
  // The file itself on the terminal: a progress line drawn over it would garble both.
  const progress =
    process.stdout.isTTY === true
      ? NO_PROGRESS
      : startProgress(ctx, `get ${path.basename(src)}`, status.length, () => input.bytesRead);
  let bytes: number;
  try {
    bytes = await copyToStdout(input, intr.signal, (head) => {
      const warning = binaryToTerminalWarning(src, process.stdout.isTTY === true, head);
      if (warning !== null) printError(ctx.command, 'WARNING', warning);
    });
  } catch (err) {
    progress.clear();
    if (intr.received !== null) return reportInterrupted(ctx, intr, 'stdout holds part of the file');
    throw err;
  }
  progress.finish(bytes); // stdout holds the data: no --json document
}

async function cp(ctx: CommandContext, args: string[], options: RemoteWriteOptions, intr: Interruption) {
  const { sources, dst } = splitDestination(args);
  const expanded = await expandPaths(ctx, sources);
  const to = normalizePath(dst);
  await runCopy(ctx, remoteToRemote(ctx, options, intr), expanded, dst, to, options.force === true, intr);
}

// ---- cat, head, tail --------------------------------------------------------------------

async function cat(ctx: CommandContext, paths: string[]): Promise<void> {
  for (const p of paths) {
    try {
      for (const remote of await expandPath(ctx, p)) {
        await remoteFile(ctx, remote, 'cat');
        await copyToStdout(ctx.client.open(remote));
      }
    } catch (err) {
      if (isFatal(err)) throw err;
      ctx.reportError(err);
    }
  }
}

async function head(ctx: CommandContext, remote: string): Promise<void> {
  const [src] = await expandPath(ctx, remote);
  const status = await remoteFile(ctx, src!, 'head');
  const length = Math.min(HEAD_BYTES, status.length);
  if (length > 0) await copyToStdout(ctx.client.open(src!, { length }));
}

async function tail(
  ctx: CommandContext,
  remote: string,
  options: { bytes: number; follow?: boolean; sleepInterval: number },
): Promise<void> {
  const [src] = await expandPath(ctx, remote);
  const status = await remoteFile(ctx, src!, 'tail');
  let offset = Math.max(0, status.length - options.bytes);
  if (offset < status.length) await copyToStdout(ctx.client.open(src!, { offset }));
  if (options.follow !== true) return;
  offset = status.length;
  // Until interrupted (Ctrl-C ends dfs as it ends tail -f): poll the length, print what grew.
  for (;;) {
    await sleep(options.sleepInterval);
    let now;
    try {
      now = await remoteFile(ctx, src!, 'tail');
    } catch (err) {
      // Replaced by delete and rename (as log rotation does): wait for the new file.
      if (isDfsError(err, 'NOT_FOUND')) continue;
      throw err;
    }
    if (now.length < offset) {
      printError(
        ctx.command,
        'WARNING',
        `${src} shrank to ${now.length} bytes (replaced?); following from there`,
      );
      offset = now.length;
    } else if (now.length > offset) {
      await copyToStdout(ctx.client.open(src!, { offset, length: now.length - offset }));
      offset = now.length;
    }
  }
}

// ---- registration -----------------------------------------------------------------------

const TRANSFER_JSON =
  '{"path": destination, "bytes": N, "seconds": S, "mibPerSecond": R} for one file;' +
  '\nfor trees and several sources {"files": [{"path", "bytes"}], "bytes", "seconds", "mibPerSecond"}';

const COPY_RULES =
  '\nSeveral sources go into DST, which must be an existing directory; a directory is copied with' +
  '\neverything beneath it (into DST/NAME when DST is a directory, else as DST). An existing file or' +
  '\ndirectory at the target is an error without -f; with -f files are overwritten and directories' +
  '\nmerged. A source that fails is reported and the others go on.';

function registerPut(program: Command, name: string, description: string, deleteSource: boolean): void {
  program
    .command(name)
    .description(description)
    .argument(
      '<args...>',
      'LOCAL... REMOTE: local files or directories (or - for stdin), then the DFS destination',
    )
    .option('--replication <n>', 'replicas of each block (default 3)', replicationArg)
    .option(
      '--block-size <size>',
      `block size: bytes, or with a K/M/G suffix, e.g. 64M (default ${humanBytes(DEFAULT_BLOCK_BYTES)})`,
      sizeArg,
    )
    .option('-f, --force', 'overwrite existing files, merge into existing directories')
    .addHelpText(
      'after',
      '\nEach file goes to TARGET._COPYING_, renamed to TARGET once the file is complete; on an error or' +
        '\nCtrl-C the copy is deleted (exit status 130 for SIGINT, 143 for SIGTERM).' +
        COPY_RULES +
        (deleteSource ? '\nEach local source is deleted once it was copied whole.' : '') +
        '\nA progress bar is shown on stderr when it is a terminal (not with --json).' +
        `\nWith --json: ${TRANSFER_JSON}.`,
    )
    .action((args: string[], options: PutOptions, cmd: Command) =>
      runTransfer(cmd, (ctx, intr) => put(ctx, args, { ...options, deleteSource }, intr)),
    );
}

function registerGet(program: Command, name: string, description: string): void {
  program
    .command(name)
    .description(description)
    .argument(
      '<args...>',
      'REMOTE... LOCAL: DFS files or directories (globs allowed), then the local destination or -',
    )
    .option('-f, --force', 'overwrite existing local files, merge into existing directories')
    .addHelpText(
      'after',
      '\nEach file goes to TARGET._COPYING_, renamed to TARGET once every byte is verified; on an error' +
        '\nor Ctrl-C the copy is deleted (exit status 130 for SIGINT, 143 for SIGTERM). An existing target' +
        '\nthat is not a regular file (a device such as /dev/null, a FIFO) is written into directly,' +
        '\nwithout -f, and never replaced. LOCAL - writes one file to stdout.' +
        COPY_RULES +
        '\nA progress bar is shown on stderr when it is a terminal (not with --json).' +
        `\nWith --json: ${TRANSFER_JSON} (nothing when LOCAL is -: stdout holds the data).`,
    )
    .action((args: string[], options: { force?: boolean }, cmd: Command) =>
      runTransfer(cmd, (ctx, intr) => get(ctx, args, options, intr)),
    );
}

export function registerDataCommands(program: Command): void {
  registerPut(program, 'put', 'copy local files or directories (or stdin: -) into DFS', false);
  registerPut(program, 'copyFromLocal', 'the same as put', false);
  registerPut(program, 'moveFromLocal', 'put, then delete each local source copied whole', true);
  registerGet(program, 'get', 'copy DFS files or directories to the local disk (or one file to stdout: -)');
  registerGet(program, 'copyToLocal', 'the same as get');

  program
    .command('cp')
    .description('copy files or directories within DFS (checksums verified on read, new pipeline on write)')
    .argument('<args...>', 'SRC... DST: DFS sources (globs allowed), then the destination')
    .option('--replication <n>', 'replicas of each block of the copies (default 3)', replicationArg)
    .option(
      '--block-size <size>',
      `block size of the copies (default ${humanBytes(DEFAULT_BLOCK_BYTES)})`,
      sizeArg,
    )
    .option('-f, --force', 'overwrite existing files, merge into existing directories')
    .addHelpText('after', COPY_RULES + `\nWith --json: ${TRANSFER_JSON}.`)
    .action((args: string[], options: RemoteWriteOptions, cmd: Command) =>
      runTransfer(cmd, (ctx, intr) => cp(ctx, args, options, intr)),
    );

  registerGetmergeCommand(program);
  registerAppendCommand(program);

  program
    .command('cat')
    .description('write DFS files to stdout, one after the other')
    .argument('<paths...>', 'DFS files (globs allowed)')
    .action((paths: string[], _options: unknown, cmd: Command) => runCommand(cmd, (ctx) => cat(ctx, paths)));

  program
    .command('head')
    .description(`write the first ${HEAD_BYTES} bytes of a DFS file to stdout`)
    .argument('<path>', 'DFS file')
    .action((p: string, _options: unknown, cmd: Command) => runCommand(cmd, (ctx) => head(ctx, p)));

  program
    .command('tail')
    .description(`write the last bytes of a DFS file to stdout (default ${TAIL_BYTES_DEFAULT})`)
    .argument('<path>', 'DFS file')
    .option(
      '-c, --bytes <size>',
      'how many bytes: a count, or with a K/M/G suffix',
      tailBytesArg,
      TAIL_BYTES_DEFAULT,
    )
    .option('-f, --follow', 'then print what is added to the file, until interrupted (Ctrl-C)')
    .option(
      '-s, --sleep-interval <seconds>',
      'with -f: seconds between checks of the length',
      intervalArg,
      TAIL_FOLLOW_INTERVAL_MS_DEFAULT,
    )
    .action((p: string, options: { bytes: number; follow?: boolean; sleepInterval: number }, cmd: Command) =>
      runCommand(cmd, (ctx) => tail(ctx, p, options)),
    );
}
