/**
 * The health view of the web UI (`/api/v1/health`): `dfs fsck`'s summary for a subtree and
 * its problem files, computed in the NameNode from its own namespace and block map with
 * the very verdicts fsck gets over RPC (block-health.ts) and the same summary arithmetic
 * (src/cli/admin-format.ts `countFile`), so the page and `dfs fsck --json` agree.
 *
 * Cost and bounds. A walk visits every inode under the path: it runs in slices of
 * SLICE_INODES per event-loop turn so RPCs are served between slices, one walk per path
 * at a time (callers share it), and a result younger than FRESH_MS is served again instead
 * of walking anew, so a page polling every few seconds costs one walk per FRESH_MS at most.
 * It keeps at most PROBLEM_FILES_KEPT problem files and PROBLEM_BLOCKS_PER_FILE problem
 * blocks of each (`truncated` says when more exist; the counts are always whole).
 *
 * The namespace may change between slices: a file removed meanwhile is skipped (it is no
 * longer attached to the root), one added behind the walk is missed, as with fsck over RPC.
 */
import { setImmediate as yieldTurn } from 'node:timers/promises';
import { LIST_LIMIT_MAX } from '../../protocol/limits.js';
import {
  blockHealthName,
  countFile,
  emptyFsckSummary,
  fsckBlock,
  isProblem,
  worstHealth,
  type FsckBlock,
  type FsckSummary,
} from '../cli/admin-format.js';
import { fileBlockHealth, type ReplicaView } from './block-health.js';
import { pathOf, type FileNode, type INode } from './inode.js';
import type { Namespace } from './namespace.js';

const SLICE_INODES = 2000;
export const FRESH_MS = 2000;
export const PROBLEM_FILES_KEPT = 10_000;
const PROBLEM_BLOCKS_PER_FILE = 100;
/** Blocks asked of fileBlockHealth at once (its page limit; it pages by size too). */
const BLOCKS_PER_ASK = LIST_LIMIT_MAX;

export interface ProblemFile {
  path: string;
  length: number;
  replication: number;
  underConstruction: boolean;
  /** The worst verdict among its blocks. */
  health: string;
  blockCount: number;
  /** Its blocks that are not healthy (at most PROBLEM_BLOCKS_PER_FILE). */
  problemBlocks: FsckBlock[];
}

export interface HealthSnapshot {
  path: string;
  computedAtMs: number;
  walkMs: number;
  summary: FsckSummary;
  problemFiles: ProblemFile[];
  /** More problem files exist than were kept. */
  truncated: boolean;
}

export class HealthView {
  private cached: HealthSnapshot | null = null;
  private running: { path: string; done: Promise<HealthSnapshot> } | null = null;

  constructor(
    private readonly namespace: () => Namespace,
    private readonly replicas: ReplicaView,
    private readonly nowMs: () => number,
  ) {}

  /** A snapshot of `path` no older than FRESH_MS (walking for it if needed). */
  async snapshot(path: string): Promise<HealthSnapshot> {
    const c = this.cached;
    if (c !== null && c.path === path && this.nowMs() - c.computedAtMs < FRESH_MS) return c;
    if (this.running?.path === path) return this.running.done;
    // Another path's walk in flight finishes first: one walk at a time.
    while (this.running !== null) await this.running.done.catch(() => undefined);
    const done = this.walk(path);
    this.running = { path, done };
    try {
      this.cached = await done;
      return this.cached;
    } finally {
      this.running = null;
    }
  }

  private async walk(path: string): Promise<HealthSnapshot> {
    const started = this.nowMs();
    const ns = this.namespace();
    const top = ns.lookup(path);
    if (top === null) ns.stat(path); // throws NOT_FOUND
    const summary = emptyFsckSummary(path);
    const problemFiles: ProblemFile[] = [];
    let truncated = false;
    const stack: INode[] = [top!];
    let visited = 0;
    let paused = false;
    while (stack.length > 0) {
      if (++visited % SLICE_INODES === 0) {
        await yieldTurn();
        paused = true;
      }
      const node = stack.pop()!;
      // Once the walk has paused, a stacked inode may have left the tree meanwhile.
      if (paused && !attached(node, ns.root)) continue;
      if (node.kind === 'dir') {
        summary.directories++;
        // Reverse sorted order on the stack, so files come out in path order.
        const names = node.sortedNames();
        for (let i = names.length - 1; i >= 0; i--) stack.push(node.children.get(names[i]!)!);
        continue;
      }
      const blocks = this.blocksOf(node);
      countFile(summary, node.length, node.underConstruction, blocks);
      if (!blocks.some((b) => isProblem(b.health))) continue;
      if (problemFiles.length >= PROBLEM_FILES_KEPT) {
        truncated = true;
        continue;
      }
      problemFiles.push({
        path: pathOf(node),
        length: node.length,
        replication: node.replication,
        underConstruction: node.underConstruction,
        health: blockHealthName(worstHealth(blocks)),
        blockCount: blocks.length,
        problemBlocks: blocks
          .filter((b) => isProblem(b.health))
          .slice(0, PROBLEM_BLOCKS_PER_FILE)
          .map(fsckBlock),
      });
    }
    return {
      path,
      computedAtMs: this.nowMs(),
      walkMs: this.nowMs() - started,
      summary,
      problemFiles,
      truncated,
    };
  }

  private blocksOf(file: FileNode): ReturnType<typeof fileBlockHealth>['blocks'] {
    let page = fileBlockHealth(file, this.replicas, 0, BLOCKS_PER_ASK);
    if (!page.hasMore) return page.blocks;
    const all = [...page.blocks];
    while (page.hasMore) {
      page = fileBlockHealth(file, this.replicas, all.length, BLOCKS_PER_ASK);
      all.push(...page.blocks);
    }
    return all;
  }
}

/** True while `node` still hangs from `root` (each parent still names it). */
function attached(node: INode, root: INode): boolean {
  let n: INode = node;
  while (n !== root) {
    const p = n.parent;
    if (p === null || p.children.get(n.name) !== n) return false;
    n = p;
  }
  return true;
}
