/**
 * `dfs appendToFile LOCAL... REMOTE`: the local files (or stdin, `-`) appended to one DFS
 * file, one after the other, through one append stream (DfsClient.append), as `hdfs dfs
 * -appendToFile`. A missing REMOTE is created first (parents too), as hdfs does; a directory
 * is an error. Every local source is checked before the file is opened, so a missing one
 * appends nothing.
 *
 * Unlike put there is no `._COPYING_` name: appended bytes land in the file itself. On an
 * error or a signal the stream is abandoned: the bytes the DataNodes acknowledged stay and
 * the NameNode recovers the file (block recovery) once the lease expires; the message says
 * so. While another writer holds the file it fails with LEASE_CONFLICT, and while an
 * abandoned writer's file is being recovered with RECOVERY_IN_PROGRESS (try again).
 */
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { DfsError, isDfsError } from '../../../protocol/errors.js';
import { FileType } from '../../../protocol/shared-structures.js';
import type { DfsOutputStream } from '../../client/dfs-output-stream.js';
import { normalizePath, UsageError, type CommandContext } from './command-context.js';
import {
  localError,
  localStat,
  reportInterrupted,
  runTransfer,
  startProgress,
  transferResult,
  type Interruption,
} from './transfer-support.js';

const READ_BUFFER_BYTES = 1024 * 1024;

/** The checks hdfs makes before it opens the file: each source a readable regular file, stdin at most once. */
async function checkSources(sources: string[]): Promise<void> {
  if (sources.filter((s) => s === '-').length > 1)
    throw new UsageError('USAGE', 'stdin (-) may be named once');
  for (const src of sources) {
    if (src === '-') continue;
    const st = await localStat(src);
    if (st === null) throw new DfsError('NOT_FOUND', `local ${src}: no such file or directory`);
    if (st.isDirectory()) throw new DfsError('IS_A_DIRECTORY', `local ${src} is a directory`);
  }
}

/** The append stream for `remote`: creating the file when it does not exist yet. */
async function openRemote(
  ctx: CommandContext,
  remote: string,
): Promise<{ out: DfsOutputStream; created: boolean }> {
  const existing = await ctx.client.exists(remote);
  if (existing?.type === FileType.DIRECTORY) throw new DfsError('IS_A_DIRECTORY', `${remote} is a directory`);
  if (existing === null) {
    try {
      const out = ctx.client.create(remote, { overwrite: false, createParent: true });
      await out.opened();
      return { out, created: true };
    } catch (err) {
      // Created meanwhile by someone else: append to it like any existing file.
      if (!isDfsError(err, 'ALREADY_EXISTS')) throw err;
    }
  }
  const out = ctx.client.append(remote);
  await out.opened();
  return { out, created: false };
}

async function appendToFile(ctx: CommandContext, args: string[], intr: Interruption): Promise<void> {
  if (args.length < 2) throw new UsageError('USAGE', 'name at least one local source (or -) and a DFS file');
  const remote = normalizePath(args[args.length - 1]!);
  const sources = args.slice(0, -1);
  await checkSources(sources);
  const startedMs = performance.now();
  const { out, created } = await openRemote(ctx, remote);
  const progress = startProgress(ctx, remote, null, () => out.bytesAcked);
  let src = '';
  try {
    for (src of sources) {
      const input =
        src === '-' ? process.stdin : fs.createReadStream(src, { highWaterMark: READ_BUFFER_BYTES });
      await pipeline(input, out, { end: false, signal: intr.signal });
    }
    src = '';
    await new Promise<void>((resolve, reject) => {
      out.once('error', reject);
      out.end(resolve);
    });
  } catch (err) {
    progress.clear();
    out.destroy();
    const outcome = `the bytes the DataNodes acknowledged stay in ${remote} once the NameNode recovers it`;
    if (intr.received !== null) return reportInterrupted(ctx, intr, outcome);
    throw src !== '' && src !== '-' ? localError(err, src) : err;
  }
  progress.finish(out.bytesWritten);
  if (ctx.json) {
    const length = (await ctx.client.stat(remote)).length;
    await ctx.writeJson({ ...transferResult(remote, out.bytesWritten, startedMs), created, length });
  }
}

export function registerAppendCommand(program: Command): void {
  program
    .command('appendToFile')
    .description('append local files (or stdin: -) to a DFS file, creating it if missing')
    .argument('<args...>', 'LOCAL... REMOTE: local files or - for stdin, then the DFS file')
    .addHelpText(
      'after',
      '\nThe sources are appended in order through one write pipeline; the last block of REMOTE is' +
        '\ncontinued when it has room (HDFS append). REMOTE and its parents are created when missing.' +
        '\nOn an error or Ctrl-C the bytes already acknowledged stay; the file is closed by the NameNode' +
        '\nonce the lease expires (until then another appender gets RECOVERY_IN_PROGRESS or LEASE_CONFLICT).' +
        '\nWith --json: {"path", "bytes" (appended), "seconds", "mibPerSecond", "created", "length" (of the file)}.',
    )
    .action((args: string[], _options: unknown, cmd: Command) =>
      runTransfer(cmd, (ctx, intr) => appendToFile(ctx, args, intr)),
    );
}
