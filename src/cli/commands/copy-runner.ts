/**
 * `SRC... DST` for put, get and cp (and their aliases), one set of rules whatever the
 * direction, as `hdfs dfs` has them:
 *
 *   one source file          DST a file path: that file; DST an existing directory: DST/name
 *   one source directory     DST an existing directory: the tree goes to DST/name; DST
 *                            missing: the tree becomes DST; DST a file: NOT_A_DIRECTORY
 *   several sources          DST must be an existing directory; each goes to DST/name
 *   DST/ (a trailing slash)  DST must be an existing directory
 *
 * A tree is copied in pre-order: each directory is made before what it holds; a target
 * directory that already exists is ALREADY_EXISTS unless -f, which merges into it (and
 * overwrites its files). A source that fails (missing, unreadable, a file that cannot be
 * copied) is reported and the others go on, as for every multi-path command; CONNECTION or
 * TIMEOUT end the command, and so does an interruption (SIGINT, SIGTERM, SIGHUP), reported
 * once with what the file being copied was left as.
 *
 * One source file gives the `--json` document of a single transfer (as before trees were
 * supported); anything else gives {"files": [{path, bytes}], "bytes", "seconds",
 * "mibPerSecond"} for what was copied.
 */
import { DfsError } from '../../../protocol/errors.js';
import { isFatal, type CommandContext } from './command-context.js';
import { reportInterrupted, transferResult, type Interruption } from './transfer-support.js';

export type EntryKind = 'file' | 'directory' | 'other';

/** An entry of a source tree: its path relative to the tree's root ('' is the root). */
export interface SourceEntry {
  rel: string;
  kind: EntryKind;
}

/** One side's file system, as the runner needs it. */
export interface CopySide {
  /** How paths on this side are shown in messages (`local x` or `x`). */
  show(path: string): string;
  /** What is at `path`: null when missing. */
  kind(path: string): Promise<EntryKind | null>;
  join(dir: string, name: string): string;
  basename(path: string): string;
}

export interface CopyDirection {
  from: CopySide;
  to: CopySide;
  /** Every entry beneath the source directory `root`, in pre-order, the root first. */
  walk(root: string): AsyncIterable<SourceEntry>;
  /** Makes the target directory (its parent exists); ALREADY_EXISTS when it does. */
  mkdir(path: string): Promise<void>;
  /**
   * Copies one file; returns its bytes. Throws ALREADY_EXISTS for an existing target without
   * -f. On interruption it throws after its clean-up; `interruptedOutcome` says what is left.
   */
  copyFile(src: string, target: string): Promise<number>;
  /** What an interrupted copy of `target` left there (for the INTERRUPTED line). */
  interruptedOutcome(target: string): string;
  /** Called after a whole source was copied without any failure (moveFromLocal deletes it). */
  sourceDone?(src: string, kind: EntryKind): Promise<void>;
}

interface CopiedFile {
  path: string;
  bytes: number;
}

/** Runs `SRC... DST` in `direction`. Sources are already expanded (globs) by the caller. */
export async function runCopy(
  ctx: CommandContext,
  direction: CopyDirection,
  sources: readonly string[],
  dstArg: string,
  dst: string,
  force: boolean,
  intr: Interruption,
): Promise<void> {
  const { from, to } = direction;
  const startedMs = performance.now();
  const copied: CopiedFile[] = [];
  let current: string | null = null;
  let singleFile = false;

  const dstKind = await to.kind(dst);
  const wantsDir = sources.length > 1 || (dstArg.endsWith('/') && dst !== '/' && dstArg !== '/');
  if (wantsDir && dstKind !== 'directory') {
    const why = sources.length > 1 ? ' (several sources need an existing directory)' : '';
    if (dstKind === null) throw new DfsError('NOT_FOUND', `${to.show(dstArg)}: no such directory${why}`);
    throw new DfsError('NOT_A_DIRECTORY', `${to.show(dst)} is not a directory${why}`);
  }

  const copyOne = async (src: string, target: string): Promise<void> => {
    current = target;
    copied.push({ path: target, bytes: await direction.copyFile(src, target) });
    current = null;
  };

  const copyTree = async (src: string, root: string): Promise<void> => {
    // Only within one file system (cp): a local /tmp/x and a DFS /tmp/x are different trees.
    const sameSide = from === to;
    if (sameSide && (root === src || root.startsWith(src.endsWith('/') ? src : `${src}/`)))
      throw new DfsError('INVALID_ARGUMENT', `cannot copy ${from.show(src)} into itself (${to.show(root)})`);
    for await (const entry of direction.walk(src)) {
      const target = entry.rel === '' ? root : to.join(root, entry.rel);
      const source = entry.rel === '' ? src : from.join(src, entry.rel);
      try {
        if (entry.kind === 'directory') {
          const existing = await to.kind(target);
          if (existing === 'directory' && !force)
            throw new DfsError(
              'ALREADY_EXISTS',
              `${to.show(target)} already exists (use -f to merge into it)`,
            );
          if (existing === null) await direction.mkdir(target);
          else if (existing !== 'directory')
            throw new DfsError('NOT_A_DIRECTORY', `${to.show(target)} exists and is not a directory`);
        } else if (entry.kind === 'file') {
          await copyOne(source, target);
        } else {
          throw new DfsError('INVALID_ARGUMENT', `${from.show(source)} is not a regular file or directory`);
        }
      } catch (err) {
        if (intr.received !== null || isFatal(err)) throw err;
        // The root failing means nothing beneath it can be copied.
        if (entry.rel === '') throw err;
        ctx.reportError(err);
      }
    }
  };

  try {
    for (const src of sources) {
      const errorsBefore = ctx.errorCount;
      try {
        const kind = await from.kind(src);
        if (kind === null) throw new DfsError('NOT_FOUND', `${from.show(src)}: no such file or directory`);
        const target = dstKind === 'directory' ? to.join(dst, from.basename(src)) : dst;
        if (kind === 'directory') {
          if (dstKind !== 'directory' && dstKind !== null)
            throw new DfsError(
              'NOT_A_DIRECTORY',
              `${to.show(dst)} is a file: a directory cannot be copied onto it`,
            );
          await copyTree(src, target);
        } else if (kind === 'file') {
          singleFile = sources.length === 1;
          await copyOne(src, target);
        } else {
          throw new DfsError('INVALID_ARGUMENT', `${from.show(src)} is not a regular file or directory`);
        }
        // Only a source copied whole (nothing beneath it failed) is done with.
        if (ctx.errorCount === errorsBefore) await direction.sourceDone?.(src, kind);
      } catch (err) {
        if (intr.received !== null || isFatal(err)) throw err;
        ctx.reportError(err);
      }
    }
  } catch (err) {
    if (intr.received === null) throw err;
    const outcome = current === null ? 'stopped between files' : direction.interruptedOutcome(current);
    reportInterrupted(ctx, intr, outcome);
    return;
  }
  if (!ctx.json) return;
  const bytes = copied.reduce((sum, f) => sum + f.bytes, 0);
  if (singleFile && copied.length === 1) {
    await ctx.writeJson(transferResult(copied[0]!.path, bytes, startedMs));
  } else {
    const { seconds, mibPerSecond } = transferResult('', bytes, startedMs);
    await ctx.writeJson({ files: copied, bytes, seconds, mibPerSecond });
  }
}
