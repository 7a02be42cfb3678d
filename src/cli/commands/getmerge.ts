/**
 * `dfs getmerge SRC... LOCAL`: the files named (a directory stands for the files directly in
 * it, in name order; globs allowed) concatenated into one local file, as `hdfs dfs
 * -getmerge`. `-nl` adds a newline after each file; `--skip-empty-file` leaves out empty
 * ones (and their newline). The result goes to LOCAL._COPYING_, renamed onto LOCAL at the
 * end, so LOCAL is replaced (as hdfs does) but never left half-written; any source failing
 * fails the whole command, since a merge with a hole in it is not what was asked for.
 */
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import fsp from 'node:fs/promises';
import type { Command } from 'commander';
import { DfsError } from '../../../protocol/errors.js';
import { FileType, type FileStatus } from '../../../protocol/shared-structures.js';
import { localFileWriter } from '../../client/dfs-client.js';
import { joinChild, UsageError, type CommandContext } from './command-context.js';
import { expandPaths } from './glob.js';
import {
  COPYING_SUFFIX,
  localError,
  reportInterrupted,
  runTransfer,
  transferResult,
  type Interruption,
} from './transfer-support.js';

interface GetmergeOptions {
  nl?: boolean;
  skipEmptyFile?: boolean;
}

/** The files a source argument stands for, in order. */
async function filesOf(ctx: CommandContext, src: string): Promise<{ path: string; status: FileStatus }[]> {
  const status = await ctx.client.stat(src);
  if (status.type !== FileType.DIRECTORY) return [{ path: src, status }];
  const out: { path: string; status: FileStatus }[] = [];
  for await (const entry of ctx.client.list(src))
    if (entry.type !== FileType.DIRECTORY) out.push({ path: joinChild(src, entry.path), status: entry });
  return out;
}

async function getmerge(
  ctx: CommandContext,
  args: string[],
  options: GetmergeOptions,
  intr: Interruption,
): Promise<void> {
  if (args.length < 2) throw new UsageError('USAGE', 'name at least one source and a local file');
  const local = args[args.length - 1]!;
  const sources = await expandPaths(ctx, args.slice(0, -1));
  const existing = await fsp.stat(local).catch(() => null);
  if (existing?.isDirectory()) throw new DfsError('IS_A_DIRECTORY', `local ${local} is a directory`);
  const tmp = `${local}${COPYING_SUFFIX}`;
  const startedMs = performance.now();
  const out = localFileWriter(tmp);
  // A local write error (a missing folder, a full disk) may come while a DFS read is awaited:
  // it is kept here and thrown at the next step, never left unhandled.
  const localWrite: { failure: Error | null } = { failure: null };
  out.on('error', (err) => (localWrite.failure ??= err));
  let bytes = 0;
  let files = 0;
  const write = async (chunk: Buffer): Promise<void> => {
    if (localWrite.failure !== null) throw localWrite.failure;
    bytes += chunk.length;
    if (!out.write(chunk))
      await Promise.race([once(out, 'drain', { signal: intr.signal }), once(out, 'close')]);
  };
  try {
    for (const src of sources) {
      for (const file of await filesOf(ctx, src)) {
        if (file.status.length === 0 && options.skipEmptyFile === true) continue;
        for await (const packet of ctx.client.open(file.path, { signal: intr.signal }).packets())
          for (const piece of packet) await write(piece);
        if (options.nl === true) await write(Buffer.from('\n'));
        files++;
      }
    }
    out.end();
    await finished(out);
    if (localWrite.failure !== null) throw localWrite.failure;
    await fsp.rename(tmp, local);
  } catch (err) {
    out.destroy();
    await fsp.rm(tmp, { force: true }).catch(() => {});
    if (intr.received !== null) {
      const outcome = existing === null ? 'nothing was written' : 'it is unchanged';
      return reportInterrupted(ctx, intr, `the partial merge was removed; local ${local}: ${outcome}`);
    }
    throw localError(err, local);
  }
  if (ctx.json) await ctx.writeJson({ ...transferResult(local, bytes, startedMs), files });
}

export function registerGetmergeCommand(program: Command): void {
  program
    .command('getmerge')
    .description('concatenate DFS files (a directory: the files in it) into one local file')
    .argument('<args...>', 'SRC... LOCAL: DFS files or directories (globs allowed), then the local file')
    .option('--nl', 'add a newline after each file')
    .option('--skip-empty-file', 'leave out empty files')
    .addHelpText(
      'after',
      '\nLOCAL is replaced (no -f needed, as hdfs getmerge) once the whole merge is written; on any' +
        '\nerror or Ctrl-C it is left as it was.' +
        '\nWith --json: {"path", "bytes", "seconds", "mibPerSecond", "files"}.',
    )
    .action((args: string[], options: GetmergeOptions, cmd: Command) =>
      runTransfer(cmd, (ctx, intr) => getmerge(ctx, args, options, intr)),
    );
}
