/**
 * Name and space quotas on directories (HDFS `DirectoryWithQuotaFeature`,
 * `FSDirectory.verifyQuota`). A directory with a quota keeps the usage of its subtree
 * (inode.ts DirQuota): names (every file and directory beneath it, itself included) and
 * space (each file's bytes times its replication, a block being written counting as a full
 * block, as HDFS reserves it at addBlock). Namespace.apply calls `check` before a change
 * that adds usage, on the live path only (a replayed op was accepted once and must replay),
 * and `charge` after every change, live or replayed, so usage is exact after any sequence.
 *
 * With no quota anywhere (the common case) every call returns at once: the walks below run
 * only when `Quotas.count` > 0, and then only up the ancestors of the changed node.
 */
import { DfsError } from '../../protocol/errors.js';
import type { ContentSummary } from '../../protocol/client-namenode-messages.js';
import type { DirNode, FileNode, INode } from './inode.js';
import { beforeWrite, pathOf } from './inode.js';

export interface Usage {
  ns: number;
  ds: number;
}

/** Space a file counts against space quotas. */
export function fileSpace(f: FileNode): number {
  const n = f.blockCount;
  if (n === 0) return 0;
  let bytes = 0;
  for (let i = 0; i < n - 1; i++) bytes += f.blockAt(i)!.numBytes;
  // The block being written is reserved whole until the file is closed.
  bytes += f.clientName !== null ? f.blockBytes : f.blockAt(n - 1)!.numBytes;
  return bytes * f.replication;
}

/** Names and space of a subtree, the node itself included. */
export function subtreeUsage(node: INode): Usage {
  const u: Usage = { ns: 0, ds: 0 };
  const stack: INode[] = [node];
  while (stack.length > 0) {
    const n = stack.pop()!;
    u.ns++;
    if (n.kind === 'dir') for (const c of n.children.values()) stack.push(c);
    else u.ds += fileSpace(n);
  }
  return u;
}

function exceeded(dir: DirNode, kind: 'name' | 'space', limit: number, wouldUse: number): DfsError {
  const what =
    kind === 'name'
      ? `name quota (files and directories) of ${pathOf(dir)} is exceeded: quota ${limit}, would use ${wouldUse}`
      : `space quota of ${pathOf(dir)} is exceeded: quota ${limit} bytes, would use ${wouldUse} bytes (replicas counted)`;
  return new DfsError('QUOTA_EXCEEDED', what);
}

export class Quotas {
  /** Directories with a quota; 0 makes every call below free. */
  count = 0;

  /**
   * Throws QUOTA_EXCEEDED when adding `add` beneath `dir` would take `dir` or an ancestor
   * below `stopAt` (exclusive: a common ancestor that already counts it) past a quota.
   * Only increases are judged: a change that frees names or space is always allowed.
   */
  check(dir: DirNode | null, add: Usage, stopAt: DirNode | null = null): void {
    if (this.count === 0 || (add.ns <= 0 && add.ds <= 0)) return;
    for (let d = dir; d !== null && d !== stopAt; d = d.parent) {
      const q = d.quota;
      if (q === null) continue;
      if (add.ns > 0 && q.nsQuota > 0 && q.nsUsed + add.ns > q.nsQuota)
        throw exceeded(d, 'name', q.nsQuota, q.nsUsed + add.ns);
      if (add.ds > 0 && q.dsQuota > 0 && q.dsUsed + add.ds > q.dsQuota)
        throw exceeded(d, 'space', q.dsQuota, q.dsUsed + add.ds);
    }
  }

  /** Adds `delta` to the usage of `dir` and its ancestors below `stopAt` that have a quota. */
  charge(dir: DirNode | null, delta: Usage, stopAt: DirNode | null = null): void {
    if (this.count === 0 || (delta.ns === 0 && delta.ds === 0)) return;
    for (let d = dir; d !== null && d !== stopAt; d = d.parent) {
      if (d.quota === null) continue;
      d.quota.nsUsed += delta.ns;
      d.quota.dsUsed += delta.ds;
    }
  }

  /** Sets (or with both 0 clears) the quotas of `dir`, measuring its subtree once. */
  set(dir: DirNode, nsQuota: number, dsQuota: number): void {
    if (nsQuota === 0 && dsQuota === 0) {
      if (dir.quota !== null) this.count--;
      dir.quota = null;
      return;
    }
    if (dir.quota === null) {
      const u = subtreeUsage(dir);
      dir.quota = { nsQuota, dsQuota, nsUsed: u.ns, dsUsed: u.ds };
      this.count++;
    } else {
      beforeWrite(dir); // in place: the image being written keeps the old limits
      dir.quota.nsQuota = nsQuota;
      dir.quota.dsQuota = dsQuota;
    }
  }

  /** After an image load: the usage of every directory with a quota, in one walk. */
  recompute(root: DirNode): void {
    this.count = 0;
    const visit = (node: INode): Usage => {
      if (node.kind === 'file') return { ns: 1, ds: fileSpace(node) };
      const u: Usage = { ns: 1, ds: 0 };
      for (const c of node.children.values()) {
        const cu = visit(c);
        u.ns += cu.ns;
        u.ds += cu.ds;
      }
      if (node.quota !== null) {
        node.quota.nsUsed = u.ns;
        node.quota.dsUsed = u.ds;
        this.count++;
      }
      return u;
    };
    visit(root);
  }

  /** The lowest directory that holds both `a` and `b`. */
  static commonAncestor(a: DirNode, b: DirNode): DirNode | null {
    const seen = new Set<DirNode>();
    for (let d: DirNode | null = a; d !== null; d = d.parent) seen.add(d);
    for (let d: DirNode | null = b; d !== null; d = d.parent) if (seen.has(d)) return d;
    return null;
  }
}

/** What is beneath `node` (HDFS getContentSummary): one walk of the subtree. */
export function contentSummary(node: INode): ContentSummary {
  const out: ContentSummary = {
    directories: 0,
    files: 0,
    length: 0,
    spaceConsumed: 0,
    nsQuota: node.kind === 'dir' ? (node.quota?.nsQuota ?? 0) : 0,
    dsQuota: node.kind === 'dir' ? (node.quota?.dsQuota ?? 0) : 0,
  };
  const stack: INode[] = [node];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n.kind === 'dir') {
      out.directories++;
      for (const c of n.children.values()) stack.push(c);
    } else {
      out.files++;
      out.length += n.length;
      out.spaceConsumed += fileSpace(n);
    }
  }
  return out;
}
