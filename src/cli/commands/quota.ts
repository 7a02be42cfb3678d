/**
 * `dfs admin setQuota | clrQuota | setSpaceQuota | clrSpaceQuota`, as `hdfs dfsadmin`: a
 * directory's name quota (files and directories beneath it, itself included) and space
 * quota (bytes counted with every replica, a block being written counting whole). The
 * NameNode enforces them (src/namenode/quota.ts); `dfs count -q` shows them.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { QUOTA_NONE } from '../../../protocol/admin-namenode-messages.js';
import { Role } from '../../../protocol/handshake.js';
import { isFatal, normalizePath, runCommand, type CommandContext } from './command-context.js';
import { sizeArg } from './data.js';

function countArg(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** One setQuota per directory, each failure reported; --json lists the directories done. */
async function setOn(
  ctx: CommandContext,
  dirs: string[],
  quotas: { names?: number; bytes?: number },
): Promise<void> {
  const done: string[] = [];
  for (const d of dirs) {
    const path = normalizePath(d);
    try {
      await ctx.client.setQuota(path, quotas);
      done.push(path);
    } catch (err) {
      if (isFatal(err)) throw err;
      ctx.reportError(err);
    }
  }
  if (ctx.json) await ctx.writeJson({ done });
}

function runQuota(cmd: Command, dirs: string[], quotas: { names?: number; bytes?: number }): Promise<void> {
  return runCommand(cmd, (ctx) => setOn(ctx, dirs, quotas), { role: Role.ADMIN });
}

export function registerQuotaCommands(admin: Command): void {
  const jsonHelp = '\nWith --json: {"done": [directories changed]}.';
  admin
    .command('setQuota')
    .description('limit the names (files and directories, itself included) beneath each directory')
    .argument('<n>', 'the name quota', countArg)
    .argument('<dirs...>', 'directories')
    .addHelpText(
      'after',
      '\nA create, mkdir or rename that would pass it fails with QUOTA_EXCEEDED; a quota below the current' +
        `\nusage is allowed (nothing new fits until enough is deleted).${jsonHelp}`,
    )
    .action((n: number, dirs: string[], _o: unknown, cmd: Command) => runQuota(cmd, dirs, { names: n }));

  admin
    .command('clrQuota')
    .description('remove the name quota of each directory')
    .argument('<dirs...>', 'directories')
    .addHelpText('after', jsonHelp)
    .action((dirs: string[], _o: unknown, cmd: Command) => runQuota(cmd, dirs, { names: QUOTA_NONE }));

  admin
    .command('setSpaceQuota')
    .description('limit the bytes beneath each directory, counted with every replica')
    .argument('<size>', 'bytes, or with a K/M/G/T suffix, e.g. 10G', sizeArg)
    .argument('<dirs...>', 'directories')
    .addHelpText(
      'after',
      '\nA block being written counts whole (block size x replication) from the moment it is added, as in' +
        '\nHDFS: a write that would pass the quota fails with QUOTA_EXCEEDED when it asks for its next block,' +
        `\nand the blocks it already completed are kept.${jsonHelp}`,
    )
    .action((size: number, dirs: string[], _o: unknown, cmd: Command) =>
      runQuota(cmd, dirs, { bytes: size }),
    );

  admin
    .command('clrSpaceQuota')
    .description('remove the space quota of each directory')
    .argument('<dirs...>', 'directories')
    .addHelpText('after', jsonHelp)
    .action((dirs: string[], _o: unknown, cmd: Command) => runQuota(cmd, dirs, { bytes: QUOTA_NONE }));
}
