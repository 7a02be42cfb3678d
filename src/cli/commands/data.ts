/**
 * The data commands of `dfs`: put, get, cat, tail (bytes in and out); du and df are in
 * ./space.ts.
 *
 * put and get never leave a half-written file where the user expects a whole one. Like
 * `hdfs dfs -put`, they write to `<destination>._COPYING_` and rename it to the destination
 * only once every byte is stored (for put: once the NameNode has completed the file, i.e.
 * every block has its minimum replicas). On an error, or on SIGINT / SIGTERM / SIGHUP, the
 * transfer is aborted (one AbortController for the source, the stream and the waits), the
 * `._COPYING_` file is deleted (best effort, bounded in time), and the process exits with
 * 128 + the signal number (130 for Ctrl-C). A second signal exits at once.
 *
 *   put LOCAL REMOTE          decision
 *   REMOTE missing            write REMOTE._COPYING_, rename to REMOTE
 *   REMOTE a directory        the same with REMOTE/basename(LOCAL) (stdin has no name: error)
 *   REMOTE/ (a trailing /)    REMOTE must be a directory: NOT_FOUND or NOT_A_DIRECTORY if not
 *   REMOTE a file, no -f      ALREADY_EXISTS before a byte is sent
 *   REMOTE a file, -f         write the copy, then delete REMOTE and rename the copy onto it
 *                             (the NameNode has no rename-with-overwrite, so for a moment
 *                             REMOTE is absent; it is never a partial file)
 *
 *   get REMOTE LOCAL          decision (the same, on the local disk)
 *   LOCAL a regular file      ALREADY_EXISTS without -f; with -f, copy then rename over it
 *   LOCAL/ (a trailing /)     LOCAL must be a directory: NOT_FOUND or NOT_A_DIRECTORY if not
 *   LOCAL a device, FIFO or   written into where it is, no -f needed (`get /f /dev/null`):
 *   socket (anything else     renaming a copy over it would destroy the node, and writing
 *   that is not a directory)  into it replaces nothing; a socket cannot be opened (error)
 *
 * The `._COPYING_` file is created with overwrite (a leftover from a crashed put is
 * replaced), but one that another client is still writing is refused by its lease
 * (LEASE_CONFLICT) and is not deleted by our clean-up.
 *
 * Progress: a one-line bar on stderr (./progress.ts) while bytes move, only when stderr is
 * a terminal and --json is off; a timer samples the stream's byte counter 10 times a second,
 * so the data path pays nothing for it. put counts bytes acknowledged by the DataNode
 * pipeline, get the bytes verified and handed on.
 *
 * cat, tail and `get REMOTE -` copy to stdout with backpressure (a full pipe pauses the
 * read); a reader that leaves (`dfs cat /big | head`) ends the process quietly (dfs.ts).
 * `get REMOTE -` to a terminal first warns on stderr when the file looks binary
 * (binaryToTerminalWarning in ./transfer-support.ts), then writes it as asked.
 *
 * The machinery put and get share (signals, clean-up, progress sampling, local errors) is
 * in ./transfer-support.ts.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { DfsError, isDfsError } from '../../../protocol/errors.js';
import { FileType, type FileStatus } from '../../../protocol/shared-structures.js';
import type { DfsOutputStream } from '../../client/dfs-output-stream.js';
import { localFileWriter } from '../../client/dfs-client.js';
import { initChecksum } from '../../common/checksum.js';
import { parseByteSize } from '../format.js';
import {
  isFatal,
  joinChild,
  normalizePath,
  printError,
  runCommand,
  type CommandContext,
} from './command-context.js';
import {
  COPYING_SUFFIX,
  bestEffort,
  binaryToTerminalWarning,
  copyToStdout,
  Interruption,
  localError,
  localStat,
  NO_PROGRESS,
  reportInterrupted,
  startProgress,
  transferResult,
  withoutCopyName,
} from './transfer-support.js';

const READ_CHUNK_BYTES = 1024 * 1024;
const TAIL_BYTES_DEFAULT = 1024;
const REPLICATION_ARG_MAX = 32;

// ---- argument parsers -------------------------------------------------------------------

export function replicationArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > REPLICATION_ARG_MAX)
    throw new InvalidArgumentError(`must be an integer from 1 to ${REPLICATION_ARG_MAX}`);
  return n;
}

function sizeArg(value: string): number {
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

// ---- put --------------------------------------------------------------------------------

interface PutOptions {
  replication?: number;
  blockSize?: number;
  force?: boolean;
}

interface LocalSource {
  stream: Readable;
  /** Null when unknown (a pipe or a terminal on stdin). */
  totalBytes: number | null;
}

async function openLocalSource(local: string): Promise<LocalSource> {
  if (local === '-') {
    let totalBytes: number | null = null;
    try {
      const st = fs.fstatSync(0);
      if (st.isFile()) totalBytes = st.size; // `dfs put - /x < file`
    } catch {
      // no usable fd 0: the read will say so
    }
    return { stream: process.stdin, totalBytes };
  }
  let handle: fsp.FileHandle | null = null;
  try {
    handle = await fsp.open(local, 'r');
    const st = await handle.stat();
    if (st.isDirectory())
      throw new DfsError('IS_A_DIRECTORY', `local ${local} is a directory (put copies files)`);
    return { stream: handle.createReadStream({ highWaterMark: READ_CHUNK_BYTES }), totalBytes: st.size };
  } catch (err) {
    await handle?.close();
    throw localError(err, local);
  }
}

async function put(
  ctx: CommandContext,
  local: string,
  remote: string,
  options: PutOptions,
  intr: Interruption,
): Promise<void> {
  const fromStdin = local === '-';
  let target = normalizePath(remote);
  let existing = await ctx.client.exists(target);
  // `put f /logs/` names a directory: it must exist (a missing one is not a new file `/logs`).
  if (target !== '/' && remote.endsWith('/') && existing?.type !== FileType.DIRECTORY) {
    if (existing === null) throw new DfsError('NOT_FOUND', `${remote}: no such directory`);
    throw new DfsError('NOT_A_DIRECTORY', `${remote}: ${target} is a file, not a directory`);
  }
  if (existing?.type === FileType.DIRECTORY) {
    if (fromStdin)
      throw new DfsError('IS_A_DIRECTORY', `${target} is a directory: name the file to write stdin to`);
    target = joinChild(target, path.basename(local));
    existing = await ctx.client.exists(target);
  }
  if (existing?.type === FileType.DIRECTORY) throw new DfsError('IS_A_DIRECTORY', `${target} is a directory`);
  if (existing !== null && options.force !== true)
    throw new DfsError('ALREADY_EXISTS', `${target} already exists (use -f to overwrite)`);

  const source = await openLocalSource(local);
  const tmp = `${target}${COPYING_SUFFIX}`;
  const startedMs = performance.now();
  let out: DfsOutputStream | null = null;
  let progress = NO_PROGRESS;
  let bytes: number;
  try {
    intr.signal.throwIfAborted();
    // With the checksum module loaded, the stream sends its create RPC within this tick (the
    // connection is open since exists()), so a delete sent on interruption always follows it.
    await initChecksum();
    intr.signal.throwIfAborted();
    const stream = ctx.client.create(tmp, {
      overwrite: true,
      createParent: false,
      replication: options.replication,
      blockBytes: options.blockSize,
    });
    out = stream;
    progress = startProgress(
      ctx,
      `put ${fromStdin ? '-' : path.basename(local)}`,
      source.totalBytes,
      () => stream.bytesAcked,
    );
    await pipeline(source.stream, stream, { signal: intr.signal });
    intr.signal.throwIfAborted();
    if (existing !== null) {
      try {
        await ctx.client.delete(target);
      } catch (err) {
        if (!isDfsError(err, 'NOT_FOUND')) throw err;
      }
    }
    await ctx.client.rename(tmp, target);
    bytes = stream.bytesWritten;
  } catch (err) {
    progress.clear();
    if (!source.stream.destroyed) source.stream.destroy();
    // A copy file that is another writer's (lease) or a directory is not ours to delete.
    const notOurs = isDfsError(err, 'LEASE_CONFLICT') || isDfsError(err, 'IS_A_DIRECTORY');
    if (out !== null && !notOurs) await bestEffort(() => ctx.client.delete(tmp));
    if (intr.received !== null) {
      const outcome = existing === null ? 'nothing was written' : 'it is unchanged';
      return reportInterrupted(ctx, intr, `the partial copy was removed; ${target}: ${outcome}`);
    }
    throw withoutCopyName(err);
  }
  progress.finish(bytes);
  if (ctx.json) await ctx.writeJson(transferResult(target, bytes, startedMs));
}

// ---- get, cat, tail ---------------------------------------------------------------------

async function statFile(ctx: CommandContext, remote: string, verb: string): Promise<FileStatus> {
  const status = await ctx.client.stat(remote);
  if (status.type === FileType.DIRECTORY)
    throw new DfsError('IS_A_DIRECTORY', `${remote} is a directory (${verb} reads files)`);
  return status;
}

async function get(
  ctx: CommandContext,
  remote: string,
  local: string,
  options: { force?: boolean },
  intr: Interruption,
): Promise<void> {
  const src = normalizePath(remote);
  const status = await statFile(ctx, src, 'get');
  const label = `get ${path.basename(src)}`;
  const startedMs = performance.now();

  if (local === '-') {
    const input = ctx.client.open(src, { signal: intr.signal });
    // The file itself on the terminal: a progress line drawn over it would garble both.
    const progress =
      process.stdout.isTTY === true
        ? NO_PROGRESS
        : startProgress(ctx, label, status.length, () => input.bytesRead);
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
    progress.finish(bytes);
    return; // stdout holds the data: no --json document
  }

  let dest = local;
  let existing = await localStat(dest);
  // `get /f out/` names a directory: it must exist. (`out/` on a file fails in the stat: ENOTDIR.)
  if (existing === null && local.endsWith(path.sep))
    throw new DfsError('NOT_FOUND', `local ${local}: no such directory`);
  if (existing?.isDirectory()) {
    dest = path.join(dest, path.basename(src));
    existing = await localStat(dest);
  }
  if (existing?.isDirectory()) throw new DfsError('IS_A_DIRECTORY', `local ${dest} is a directory`);
  // A character device, FIFO or socket is written into where it is (`get /f /dev/null`):
  // renaming a copy over it would destroy it, and writing into it overwrites nothing, so no
  // -f is needed. Only a regular file takes the copy-then-rename path.
  const inPlace = existing !== null && !existing.isFile();
  if (existing !== null && !inPlace && options.force !== true)
    throw new DfsError('ALREADY_EXISTS', `local ${dest} already exists (use -f to overwrite)`);

  const tmp = `${dest}${COPYING_SUFFIX}`;
  const input = ctx.client.open(src, { signal: intr.signal });
  const progress = startProgress(ctx, label, status.length, () => input.bytesRead);
  let bytes: number;
  try {
    // In place: O_WRONLY alone, never create or truncate (a node that vanished since the stat
    // above is an error, not a new regular file). A FIFO's open waits for its reader.
    const file = inPlace
      ? (await fsp.open(dest, fs.constants.O_WRONLY)).createWriteStream()
      : localFileWriter(tmp);
    await pipeline(input, file, { signal: intr.signal });
    bytes = file.bytesWritten;
    if (!inPlace) await fsp.rename(tmp, dest);
  } catch (err) {
    progress.clear();
    if (!inPlace) await fsp.rm(tmp, { force: true }).catch(() => {});
    if (intr.received !== null) {
      const outcome = inPlace
        ? `local ${dest} received part of the file`
        : `the partial copy was removed; local ${dest}: ${existing === null ? 'nothing was written' : 'it is unchanged'}`;
      return reportInterrupted(ctx, intr, outcome);
    }
    throw withoutCopyName(localError(err, dest));
  }
  progress.finish(bytes);
  if (ctx.json) await ctx.writeJson(transferResult(dest, bytes, startedMs));
}

async function cat(ctx: CommandContext, paths: string[]): Promise<void> {
  for (const p of paths) {
    try {
      const remote = normalizePath(p);
      await statFile(ctx, remote, 'cat');
      await copyToStdout(ctx.client.open(remote));
    } catch (err) {
      if (isFatal(err)) throw err;
      ctx.reportError(err);
    }
  }
}

async function tail(ctx: CommandContext, remote: string, bytes: number): Promise<void> {
  const src = normalizePath(remote);
  const status = await statFile(ctx, src, 'tail');
  const offset = Math.max(0, status.length - bytes);
  if (offset === status.length) return; // -c 0, or an empty file
  await copyToStdout(ctx.client.open(src, { offset }));
}

// ---- registration -----------------------------------------------------------------------

/**
 * Wraps a transfer command: signals abort it (instead of killing the process mid-write),
 * and an interrupted command exits with 128 + the signal number once it has cleaned up.
 */
function transfer(
  cmd: Command,
  body: (ctx: CommandContext, intr: Interruption) => Promise<void>,
): Promise<void> {
  const intr = new Interruption();
  return runCommand(cmd, (ctx) => body(ctx, intr)).finally(() => {
    intr.dispose();
    if (intr.received !== null) process.exit(intr.exitStatus);
  });
}

const TRANSFER_JSON = '{"path": destination, "bytes": N, "seconds": S, "mibPerSecond": R}';

export function registerDataCommands(program: Command): void {
  program
    .command('put')
    .description('copy a local file (or stdin: -) into DFS')
    .argument('<local>', 'local file, or - for stdin')
    .argument('<remote>', 'DFS file, or an existing directory to copy into')
    .option('--replication <n>', 'replicas of each block (default 3)', replicationArg)
    .option(
      '--block-size <size>',
      'block size: bytes, or with a K/M/G suffix, e.g. 64M (default 64M)',
      sizeArg,
    )
    .option('-f, --force', 'overwrite an existing file')
    .addHelpText(
      'after',
      '\nThe data goes to REMOTE._COPYING_, renamed to REMOTE once the file is complete; on an error or' +
        '\nCtrl-C the copy is deleted (exit status 130 for SIGINT, 143 for SIGTERM).' +
        '\nA progress bar is shown on stderr when it is a terminal (not with --json).' +
        `\nWith --json: ${TRANSFER_JSON}.`,
    )
    .action((local: string, remote: string, options: PutOptions, cmd: Command) =>
      transfer(cmd, (ctx, intr) => put(ctx, local, remote, options, intr)),
    );

  program
    .command('get')
    .description('copy a DFS file to a local file (or stdout: -)')
    .argument('<remote>', 'DFS file')
    .argument('<local>', 'local file, an existing directory to copy into, or - for stdout')
    .option('-f, --force', 'overwrite an existing local file')
    .addHelpText(
      'after',
      '\nThe data goes to LOCAL._COPYING_, renamed to LOCAL once every byte is verified; on an error or' +
        '\nCtrl-C the copy is deleted (exit status 130 for SIGINT, 143 for SIGTERM). An existing LOCAL' +
        '\nthat is not a regular file (a device such as /dev/null, a FIFO) is written into directly,' +
        '\nwithout -f, and never replaced.' +
        '\nA progress bar is shown on stderr when it is a terminal (not with --json).' +
        `\nWith --json: ${TRANSFER_JSON} (nothing when LOCAL is -: stdout holds the data).`,
    )
    .action((remote: string, local: string, options: { force?: boolean }, cmd: Command) =>
      transfer(cmd, (ctx, intr) => get(ctx, remote, local, options, intr)),
    );

  program
    .command('cat')
    .description('write DFS files to stdout, one after the other')
    .argument('<paths...>', 'DFS files')
    .action((paths: string[], _options: unknown, cmd: Command) => runCommand(cmd, (ctx) => cat(ctx, paths)));

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
    .action((p: string, options: { bytes: number }, cmd: Command) =>
      runCommand(cmd, (ctx) => tail(ctx, p, options.bytes)),
    );
}
