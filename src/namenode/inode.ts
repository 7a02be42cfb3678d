/**
 * The namespace tree's nodes. Directories hold children by name; files hold their block
 * list and, while open for writing, the lease holder's client name. Every node has an
 * owner, a group and mode bits (HDFS PermissionStatus; permission-checker.ts judges them). Nodes keep a parent
 * pointer and their own name so a node can tell its path (leases and block owners refer to
 * nodes, not path strings, so a rename needs no bookkeeping elsewhere).
 */
import { FileType, type FileStatus } from '../../protocol/shared-structures.js';
import { joinPath } from './path-rules.js';

export interface BlockMeta {
  blockId: number;
  genStamp: number;
  /** Committed length; for the block being written, 0 until the next addBlock/complete. */
  numBytes: number;
}

/** The sticky bit of a directory's mode: only an entry's owner (or the dir's) removes it. */
export const STICKY_BIT = 0o1000;

/** Owner, group and mode of a node (set by namespace.ts as it creates the node). */
class PermissionStatus {
  owner = '';
  group = '';
  /** rwx for user, group and other (0o777), and STICKY_BIT on a directory. */
  mode = 0;
}

/**
 * A directory's quotas (HDFS `DirectoryWithQuotaFeature`) and what its subtree uses now.
 * `nsQuota`: names (files and directories, this one included); `dsQuota`: bytes counted
 * with replication. 0 means no limit of that kind. The usage is kept up to date by
 * quota.ts on every change beneath the directory, and recomputed when an image loads.
 */
export interface DirQuota {
  nsQuota: number;
  dsQuota: number;
  nsUsed: number;
  dsUsed: number;
}

export class DirNode extends PermissionStatus {
  readonly kind = 'dir' as const;
  readonly children = new Map<string, INode>();
  /** Null unless a quota is set on this directory. */
  quota: DirQuota | null = null;
  /** Children names in sorted order, built lazily for paged listing, dropped on change. */
  private sorted: string[] | null = null;

  constructor(
    public name: string,
    public parent: DirNode | null,
    public mtimeMs: number,
  ) {
    super();
  }

  addChild(node: INode): void {
    this.children.set(node.name, node);
    node.parent = this;
    this.sorted = null;
  }

  removeChild(name: string): void {
    this.children.delete(name);
    this.sorted = null;
  }

  sortedNames(): string[] {
    this.sorted ??= [...this.children.keys()].sort();
    return this.sorted;
  }
}

export class FileNode extends PermissionStatus {
  readonly kind = 'file' as const;
  blocks: BlockMeta[] = [];
  /** The writer holding the lease, or null once the file is complete. */
  clientName: string | null;
  /**
   * The NameNode took the lease for a block recovery (lease-manager.ts takeForRecovery):
   * the writer's calls on the file are refused until it is closed. Not persisted: after a
   * restart the writer's lease is back and expires again.
   */
  recovering = false;

  constructor(
    public name: string,
    public parent: DirNode | null,
    public mtimeMs: number,
    public replication: number,
    public blockBytes: number,
    clientName: string | null,
  ) {
    super();
    this.clientName = clientName;
  }

  get length(): number {
    let total = 0;
    for (const b of this.blocks) total += b.numBytes;
    return total;
  }

  get underConstruction(): boolean {
    return this.clientName !== null;
  }
}

export type INode = DirNode | FileNode;

export function pathOf(node: INode): string {
  const parts: string[] = [];
  for (let n: INode | null = node; n !== null && n.parent !== null; n = n.parent) parts.push(n.name);
  return joinPath(parts.reverse());
}

export function statusOf(node: INode, shownPath: string): FileStatus {
  if (node.kind === 'dir') {
    return {
      path: shownPath,
      type: FileType.DIRECTORY,
      length: 0,
      replication: 0,
      blockBytes: 0,
      mtimeMs: node.mtimeMs,
      blockCount: 0,
      underConstruction: false,
      childCount: node.children.size,
      owner: node.owner,
      group: node.group,
      permission: node.mode,
    };
  }
  return {
    path: shownPath,
    type: FileType.FILE,
    length: node.length,
    replication: node.replication,
    blockBytes: node.blockBytes,
    mtimeMs: node.mtimeMs,
    blockCount: node.blocks.length,
    underConstruction: node.underConstruction,
    childCount: 0,
    owner: node.owner,
    group: node.group,
    permission: node.mode,
  };
}
