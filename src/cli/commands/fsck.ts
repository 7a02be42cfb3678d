/**
 * `dfs fsck [PATH]`: the health of every block beneath PATH (default /), as the NameNode
 * judges it (the blockHealth RPC; verdicts in src/namenode/block-health.ts), like `hdfs fsck`.
 *
 * Output: by default only the files with a block that is not healthy, each followed by
 * those blocks with their replicas and states; `--files` lists every file, `--blocks` every
 * block of the listed files, `--locations` the replicas of every listed block. Then a
 * summary (files, directories, blocks, size, and blocks by verdict) and the HDFS verdict
 * line "The filesystem under path '/' is HEALTHY" (or CORRUPT).
 *
 * Exit status: 1 when any block is missing or corrupt (CORRUPT; a BLOCK_UNAVAILABLE line on
 * stderr says how many), or when a path failed (FAILED, with the count, unless CORRUPT);
 * under- and over-replicated blocks are being repaired by the cluster and leave it 0.
 *
 * The tree is walked with bounded memory (./tree-walk.ts); files are asked about in batches
 * pipelined on one connection. With --json the document streams:
 *   {"path", "files": [FsckFile, ...], "summary": FsckSummary}
 * where "files" holds the files the text would list, each with all of its blocks and replicas.
 */
import type { Command } from 'commander';
import { DfsError } from '../../../protocol/errors.js';
import { FileType, type FileStatus } from '../../../protocol/shared-structures.js';
import type { BlockHealth } from '../../../protocol/admin-namenode-messages.js';
import {
  blockHealthName,
  countFile,
  emptyFsckSummary,
  formatFsckBlock,
  formatFsckFile,
  formatFsckSummary,
  fsckBlock,
  isProblem,
  worstHealth,
  type FsckFile,
  type FsckSummary,
} from '../admin-format.js';
import { isFatal, normalizePath, runCommand, type CommandContext } from './command-context.js';
import { walkTree, type TreeEntry } from './tree-walk.js';

/** Files asked about at once. */
const BATCH = 32;

interface FsckOptions {
  files?: boolean;
  blocks?: boolean;
  locations?: boolean;
}

/** Where fsck output goes: text lines, or one streamed JSON document. */
class FsckSink {
  /** Files listed so far. */
  private listed = 0;

  constructor(
    private readonly ctx: CommandContext,
    private readonly options: FsckOptions,
  ) {}

  async begin(path: string): Promise<void> {
    if (this.ctx.json) await this.ctx.out.write(`{"path":${JSON.stringify(path)},"files":[`);
  }

  async file(status: FileStatus, path: string, blocks: readonly BlockHealth[]): Promise<void> {
    const problem = blocks.some((b) => isProblem(b.health));
    if (!problem && this.options.files !== true) return;
    const file: FsckFile = {
      path,
      length: status.length,
      replication: status.replication,
      underConstruction: status.underConstruction,
      health: blockHealthName(worstHealth(blocks)),
      blocks: blocks.map(fsckBlock),
    };
    if (this.ctx.json) {
      await this.ctx.out.write((this.listed++ === 0 ? '\n' : ',\n') + JSON.stringify(file));
      return;
    }
    this.listed++;
    const lines = [formatFsckFile(file)];
    file.blocks.forEach((b, i) => {
      const bad = isProblem(blocks[i]!.health);
      if (bad || this.options.blocks === true)
        lines.push(formatFsckBlock(b, file.replication, bad || this.options.locations === true));
    });
    await this.ctx.writeLines(lines);
  }

  async end(summary: FsckSummary): Promise<void> {
    if (this.ctx.json)
      await this.ctx.out.write(`${this.listed === 0 ? '' : '\n'}],"summary":${JSON.stringify(summary)}}\n`);
    else await this.ctx.writeLines([...(this.listed === 0 ? [] : ['']), ...formatFsckSummary(summary)]);
  }
}

/** A file's blocks, or null when it vanished or failed (reported) during the walk. */
async function healthOf(ctx: CommandContext, path: string): Promise<BlockHealth[] | null> {
  try {
    return (await ctx.client.blockHealth(path)).blocks;
  } catch (err) {
    if (isFatal(err)) throw err;
    ctx.reportError(err);
    return null;
  }
}

async function checkBatch(
  ctx: CommandContext,
  sink: FsckSink,
  summary: FsckSummary,
  batch: readonly TreeEntry[],
): Promise<void> {
  const healths = await Promise.all(
    batch.map((e) => (e.status.type === FileType.DIRECTORY ? Promise.resolve(null) : healthOf(ctx, e.path))),
  );
  for (let i = 0; i < batch.length; i++) {
    const { path, status } = batch[i]!;
    const blocks = healths[i];
    if (status.type === FileType.DIRECTORY) {
      summary.directories++;
    } else if (blocks !== null && blocks !== undefined) {
      countFile(summary, status.length, status.underConstruction, blocks);
      await sink.file(status, path, blocks);
    }
  }
}

async function fsck(ctx: CommandContext, target: string, options: FsckOptions): Promise<void> {
  const top = normalizePath(target);
  const status = await ctx.client.stat(top);
  const summary = emptyFsckSummary(top);
  const sink = new FsckSink(ctx, options);
  await sink.begin(top);
  let batch: TreeEntry[] = [];
  const errorsBefore = ctx.errorCount;
  try {
    for await (const entry of walkTree(ctx, top, status)) {
      batch.push(entry);
      if (batch.length >= BATCH) {
        await checkBatch(ctx, sink, summary, batch);
        batch = [];
      }
    }
    await checkBatch(ctx, sink, summary, batch);
  } finally {
    // A tree not seen whole is never reported HEALTHY (a walk that failed beneath it).
    summary.failedPaths = ctx.errorCount - errorsBefore;
    if (summary.failedPaths > 0 && summary.status === 'HEALTHY') summary.status = 'FAILED';
    await sink.end(summary);
  }
  if (summary.status === 'CORRUPT') {
    ctx.reportError(
      new DfsError(
        'BLOCK_UNAVAILABLE',
        `${summary.missingBlocks} missing and ${summary.corruptBlocks} corrupt blocks under ${top}`,
      ),
    );
  }
}

export function registerFsckCommand(program: Command): void {
  program
    .command('fsck')
    .description(
      'check the health of every block beneath a path: replicas, their nodes, and a verdict per block',
    )
    .argument('[path]', 'file or directory (default /)', '/')
    .option('--files', 'list every file, not only those with a problem')
    .option('--blocks', 'list every block of the listed files')
    .option('--locations', 'show the replicas (address and state) of every listed block')
    .addHelpText(
      'after',
      '\nBlock verdicts: healthy, under-replicated, over-replicated (the cluster is repairing these), corrupt (no good' +
        '\nreplica left, only corrupt ones), missing (no replica on a live node), under-construction (being written).' +
        '\nReplica states: live, decommissioning, decommissioned, corrupt, stale (node silent, not yet declared dead).' +
        '\nExit status 1 when any block is corrupt or missing (the filesystem is CORRUPT), or when a path could not be' +
        '\nchecked (FAILED, with failedPaths; never HEALTHY over a tree not seen whole), else 0.' +
        '\nWith --json: {"path", "files": [{"path", "length", "replication", "underConstruction", "health",' +
        '\n"blocks": [{"block", "blockId", "genStamp", "numBytes", "offset", "health", "liveReplicas",' +
        '\n"replicas": [{"nodeId", "address", "state"}]}]}], "summary": {"path", "status", "failedPaths", "totalBytes", "directories",' +
        '\n"files", "openFiles", "blocks", "healthyBlocks", "underReplicatedBlocks", "overReplicatedBlocks", "corruptBlocks",' +
        '\n"missingBlocks", "underConstructionBlocks"}} — "files" holds the files the text output would list.',
    )
    .action((path: string, options: FsckOptions, cmd: Command) =>
      runCommand(cmd, (ctx) => fsck(ctx, path, options)),
    );
}
