/**
 * `dfs setrep [-R] [-w] N PATH`: changes the replication of a file, or with -R of every file
 * beneath a directory (HDFS `hdfs dfs -setrep`). The NameNode records the new target at once;
 * its replication monitor then copies or deletes replicas in the background.
 *
 * -w waits until every block of every changed file has exactly N live, in-service, good
 * replicas (the NameNode's blockHealth verdict HEALTHY) and no copy left that the NameNode
 * ordered deleted and its DataNode has not yet confirmed gone (replica state DELETING): a
 * lowered replication is reached when the surplus is off the disks, not when its deletion
 * is scheduled. The block still being written of an
 * open file is not waited for. Files already there are dropped from the wait, so each round
 * asks only about the files still short; a file deleted meanwhile is reported and dropped.
 * While waiting, a status line on stderr (a terminal only) says how many files are done.
 *
 * A file that fails (deleted mid-walk, say) is reported and the others go on; the exit status
 * is then 1. With --json: {"replication", "files": [changed paths], "waited"}.
 */
import type { Command } from 'commander';
import { DfsError, isDfsError } from '../../../protocol/errors.js';
import { BlockHealthState, ReplicaState } from '../../../protocol/admin-namenode-messages.js';
import { FileType } from '../../../protocol/shared-structures.js';
import { isFatal, mapInBatches, normalizePath, runCommand, type CommandContext } from './command-context.js';
import { replicationArg } from './data.js';
import { walkTree } from './tree-walk.js';
import { pollUntil, timeoutArg } from './waiting.js';

/** Files asked about at once while waiting. */
const WAIT_BATCH = 32;

interface SetrepOptions {
  recursive?: boolean;
  wait?: boolean;
  timeout?: number;
}

/** True once every block of `path` is at its replication (or being written), its surplus gone. */
async function atReplication(ctx: CommandContext, path: string): Promise<boolean> {
  const { blocks } = await ctx.client.blockHealth(path);
  return blocks.every(
    (b) =>
      b.health === BlockHealthState.UNDER_CONSTRUCTION ||
      (b.health === BlockHealthState.HEALTHY && b.replicas.every((r) => r.state !== ReplicaState.DELETING)),
  );
}

async function waitForReplication(
  ctx: CommandContext,
  replication: number,
  files: readonly string[],
  timeoutMs: number | undefined,
): Promise<void> {
  let pending = [...files];
  await pollUntil(
    `${replication} replicas per block`,
    async () => {
      const done = await mapInBatches(pending, WAIT_BATCH, async (p) => {
        try {
          return await atReplication(ctx, p);
        } catch (err) {
          if (isFatal(err) || !isDfsError(err, 'NOT_FOUND')) throw err;
          ctx.reportError(err);
          return true; // gone: nothing left to wait for
        }
      });
      pending = pending.filter((_, i) => !done[i]);
      return {
        done: pending.length === 0,
        status: `${files.length - pending.length} of ${files.length} files done, next: ${pending[0] ?? '-'}`,
      };
    },
    { timeoutMs, json: ctx.json },
  );
}

async function setrep(
  ctx: CommandContext,
  replication: number,
  target: string,
  options: SetrepOptions,
): Promise<void> {
  const top = normalizePath(target);
  const status = await ctx.client.stat(top);
  if (status.type === FileType.DIRECTORY && options.recursive !== true) {
    throw new DfsError(
      'IS_A_DIRECTORY',
      `${top} is a directory: use -R to set the replication of every file beneath it`,
    );
  }
  const changed: string[] = [];
  for await (const { path, status: entry } of walkTree(ctx, top, status)) {
    if (entry.type === FileType.DIRECTORY) continue;
    try {
      await ctx.client.setReplication(path, replication);
    } catch (err) {
      if (isFatal(err) || path === top) throw err;
      ctx.reportError(err);
      continue;
    }
    changed.push(path);
    if (!ctx.json) await ctx.writeLines([`Replication ${replication} set: ${path}`]);
  }
  if (options.wait === true && changed.length > 0) {
    await ctx.out.flush();
    await waitForReplication(ctx, replication, changed, options.timeout);
    if (!ctx.json)
      await ctx.writeLines([
        `Replication ${replication} reached: ${changed.length} file${changed.length === 1 ? '' : 's'}`,
      ]);
  }
  if (ctx.json) await ctx.writeJson({ replication, files: changed, waited: options.wait === true });
}

export function registerSetrepCommand(program: Command): void {
  program
    .command('setrep')
    .description('set the replication of a file, or with -R of every file beneath a directory')
    .argument('<replication>', 'replicas per block, 1 to 32', replicationArg)
    .argument('<path>', 'a file, or a directory with -R')
    .option('-R, --recursive', 'every file beneath a directory')
    .option(
      '-w, --wait',
      'wait until every block has exactly that many live replicas, and no surplus left on disk',
    )
    .option(
      '--timeout <duration>',
      'with -w: give up after this long (seconds, or 30s, 5m, 1h); default: no limit',
      timeoutArg,
    )
    .addHelpText(
      'after',
      '\nThe NameNode adds or removes replicas in the background; -w waits for it (a status line on stderr' +
        '\nwhen it is a terminal). A timed-out wait fails with TIMEOUT (exit status 1); the new replication stays set.' +
        '\nWith --json: {"replication": N, "files": [paths changed], "waited": true|false}.',
    )
    .action((replication: number, path: string, options: SetrepOptions, cmd: Command) =>
      runCommand(cmd, (ctx) => setrep(ctx, replication, path, options)),
    );
}
