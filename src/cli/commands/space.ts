/**
 * The space commands of `dfs`: du (the bytes beneath paths, counted by walking the tree)
 * and df (the cluster's capacity, from the DataNode report).
 */
import type { Command } from 'commander';
import { FileType, type FileStatus } from '../../../protocol/shared-structures.js';
import { nodeTotals } from '../admin-format.js';
import { formatDf, formatDuRows, type ClusterUsage, type DiskUsage, type SizeStyle } from '../format.js';
import { isFatal, joinChild, runCommand, type CommandContext } from './command-context.js';
import { expandPath } from './glob.js';
import { walkTree } from './tree-walk.js';

// ---- du ---------------------------------------------------------------------------------

/**
 * The usage of one path: a file itself, or everything beneath a directory (the directory
 * counts itself). The walk (./tree-walk.ts) keeps memory at depth x page size; a
 * subdirectory that fails mid-walk (deleted meanwhile) is reported and left out.
 */
async function usageOf(ctx: CommandContext, status: FileStatus, fullPath: string): Promise<DiskUsage> {
  const usage: DiskUsage = { path: fullPath, bytes: 0, replicatedBytes: 0, files: 0, directories: 0 };
  for await (const { status: entry } of walkTree(ctx, fullPath, status)) {
    if (entry.type === FileType.DIRECTORY) {
      usage.directories++;
    } else {
      usage.files++;
      usage.bytes += entry.length;
      usage.replicatedBytes += entry.length * entry.replication;
    }
  }
  return usage;
}

async function du(ctx: CommandContext, paths: string[], summarize: boolean, sizes: SizeStyle): Promise<void> {
  let jsonCount = 0;
  const emit = async (usage: DiskUsage): Promise<void> => {
    if (ctx.json) await ctx.out.write((jsonCount++ === 0 ? '\n' : ',\n') + JSON.stringify(usage));
    else await ctx.writeLines(formatDuRows([usage], sizes));
  };
  if (ctx.json) await ctx.out.write('[');
  try {
    for (const p of paths.length === 0 ? ['/'] : paths) {
      try {
        for (const top of await expandPath(ctx, p)) {
          const status = await ctx.client.stat(top);
          if (summarize || status.type !== FileType.DIRECTORY) {
            await emit(await usageOf(ctx, status, top));
            continue;
          }
          for await (const child of ctx.client.list(top))
            await emit(await usageOf(ctx, child, joinChild(top, child.path)));
        }
      } catch (err) {
        if (isFatal(err)) throw err;
        ctx.reportError(err);
      }
    }
  } finally {
    if (ctx.json) await ctx.out.write(jsonCount === 0 ? ']\n' : '\n]\n');
  }
}

// ---- df ---------------------------------------------------------------------------------

async function df(ctx: CommandContext, sizes: SizeStyle): Promise<void> {
  const t = nodeTotals(await ctx.client.datanodeReport());
  const usage: ClusterUsage = {
    namenode: ctx.client.namenode,
    capacityBytes: t.capacityBytes,
    usedBytes: t.usedBytes,
    remainingBytes: t.remainingBytes,
    usedPercent: t.usedPercent,
    liveDataNodes: t.live + t.decommissioning + t.decommissioned,
    deadDataNodes: t.dead,
  };
  if (ctx.json) await ctx.writeJson(usage);
  else await ctx.writeLines(formatDf(usage, sizes));
}

/** `-h`: human sizes; by default exact byte counts, as `hdfs dfs -du` and `df` print them. */
export function sizeStyle(options: { humanReadable?: boolean }): SizeStyle {
  return options.humanReadable === true ? 'human' : 'exact';
}

export function registerSpaceCommands(program: Command): void {
  program
    .command('du')
    .description(
      'show the space used beneath paths: each entry of a directory, or with -s the path as a whole',
    )
    .argument('[paths...]', 'paths (default /; globs allowed)')
    .option('-s, --summarize', 'one total per path')
    .option('-h, --human-readable', 'sizes like 1.5K, 23M, 4.0G instead of byte counts')
    .addHelpText(
      'after',
      '\nColumns: size, size with all replicas (size x replication), path; sizes in bytes, or with -h' +
        '\nhuman sizes (1.5K = 1.5 KiB, rounded up).' +
        '\nWith --json: one array of {"path", "bytes", "replicatedBytes", "files", "directories"} (a directory counts itself).',
    )
    .action((paths: string[], options: { summarize?: boolean; humanReadable?: boolean }, cmd: Command) =>
      runCommand(cmd, (ctx) => du(ctx, paths, options.summarize === true, sizeStyle(options))),
    );

  program
    .command('df')
    .description('show the capacity of the cluster: size, used, remaining, use%, live and dead DataNodes')
    .option('-h, --human-readable', 'sizes like 1.5K, 23M, 4.0G instead of byte counts')
    .addHelpText(
      'after',
      '\nCapacity counts live DataNodes only. Sizes in bytes, or with -h human sizes.' +
        '\nWith --json: {"namenode", "capacityBytes", "usedBytes", "remainingBytes", "usedPercent", "liveDataNodes", "deadDataNodes"}.',
    )
    .action((options: { humanReadable?: boolean }, cmd: Command) =>
      runCommand(cmd, (ctx) => df(ctx, sizeStyle(options))),
    );
}
