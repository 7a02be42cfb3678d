/**
 * The depth-first walk of a DFS tree that ls, du, setrep -R and fsck share: the top path,
 * then everything beneath it in pre-order (an entry, then everything beneath it), with full
 * paths, like `hdfs dfs -ls -R`.
 *
 * Memory is depth x page size however wide the tree: the walk keeps one cursor per directory
 * level (the current page of entries and the name to continue after), never a list of
 * directories still to visit. The top directory failing to list is the caller's error (it is
 * thrown); a subdirectory failing mid-walk (deleted meanwhile) is reported on stderr through
 * the command context and skipped, unless the failure is fatal (the NameNode is gone).
 */
import { LIST_LIMIT_DEFAULT } from '../../../protocol/limits.js';
import { FileType, type FileStatus } from '../../../protocol/shared-structures.js';
import { isFatal, joinChild, type CommandContext } from './command-context.js';

export interface TreeEntry {
  path: string;
  status: FileStatus;
}

interface DirCursor {
  dir: string;
  entries: FileStatus[];
  next: number;
  startAfter: string;
  hasMore: boolean;
}

export interface WalkOptions {
  /** Entries fetched per NameNode call. */
  pageSize?: number;
  /** Descend into subdirectories (default); false: the top directory's entries only. */
  recursive?: boolean;
}

/** Yields `top` (whose status the caller has) and every entry beneath it, in pre-order. */
export async function* walkTree(
  ctx: CommandContext,
  top: string,
  topStatus: FileStatus,
  options: WalkOptions = {},
): AsyncGenerator<TreeEntry> {
  const pageSize = options.pageSize ?? LIST_LIMIT_DEFAULT;
  const recursive = options.recursive ?? true;
  yield { path: top, status: topStatus };
  if (topStatus.type !== FileType.DIRECTORY) return;
  const stack: DirCursor[] = [{ dir: top, entries: [], next: 0, startAfter: '', hasMore: true }];
  while (stack.length > 0) {
    const cur = stack[stack.length - 1]!;
    if (cur.next >= cur.entries.length) {
      if (!cur.hasMore) {
        stack.pop();
        continue;
      }
      try {
        const page = await ctx.client.listPage(cur.dir, cur.startAfter, pageSize);
        cur.entries = page.entries;
        cur.next = 0;
        cur.hasMore = page.hasMore && page.entries.length > 0;
      } catch (err) {
        if (stack.length === 1 || isFatal(err)) throw err;
        ctx.reportError(err);
        stack.pop();
      }
      continue;
    }
    const entry = cur.entries[cur.next++]!;
    cur.startAfter = entry.path;
    const full = joinChild(cur.dir, entry.path);
    yield { path: full, status: entry };
    if (recursive && entry.type === FileType.DIRECTORY)
      stack.push({ dir: full, entries: [], next: 0, startAfter: '', hasMore: true });
  }
}
