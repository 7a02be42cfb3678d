/**
 * The namespace tree's nodes. Directories hold children by name; files hold their block
 * list and, while open for writing, the lease holder's client name. Every node has an
 * owner, a group and mode bits (HDFS PermissionStatus; permission-checker.ts judges them). Nodes keep a parent
 * pointer and their own name so a node can tell its path (leases and block owners refer to
 * nodes, not path strings, so a rename needs no bookkeeping elsewhere).
 */
import { FileType, type FileStatus } from '../../protocol/shared-structures.js';
import { joinPath } from './path-rules.js';
import { ChildMap } from './child-map.js';

export interface BlockMeta {
  blockId: number;
  genStamp: number;
  /** Committed length; for the block being written, 0 until the next addBlock/complete. */
  numBytes: number;
}

/** The sticky bit of a directory's mode: only an entry's owner (or the dir's) removes it. */
export const STICKY_BIT = 0o1000;

/**
 * An (owner, group) pair, interned: a namespace has few distinct pairs, and ten million
 * nodes each holding its own two strings (decoded from a request or an image) would cost
 * ~50 bytes a node. Pairs are never freed; there are as many as users x groups in use.
 */
class OwnerPair {
  constructor(
    readonly owner: string,
    readonly group: string,
  ) {}
}

const PAIRS = new Map<string, Map<string, OwnerPair>>();

function pairOf(owner: string, group: string): OwnerPair {
  let byGroup = PAIRS.get(owner);
  if (byGroup === undefined) {
    byGroup = new Map();
    PAIRS.set(owner, byGroup);
  }
  let pair = byGroup.get(group);
  if (pair === undefined) {
    pair = new OwnerPair(owner, group);
    byGroup.set(group, pair);
  }
  return pair;
}

const NOBODY = pairOf('', '');
/** `bits`: the mode in the low 12 bits; a file packs its replication and recovering flag above. */
const MODE_MASK = 0o7777;
/**
 * The mtime, packed when it can be: a double in a field costs a 16-byte heap box per node,
 * so an mtime from 2000 to 2068 in whole ms is kept as seconds since 2000 (a small integer,
 * stored unboxed) plus its milliseconds in `bits`; any other value stays a plain number.
 */
const MTIME_EPOCH_MS = Date.UTC(2000, 0, 1);
const MTIME_SECONDS_MAX = 0x7fffffff;
const MTIME_MS_SHIFT = 19;
const MTIME_MS_MASK = 0x3ff;
const MTIME_PACKED_BIT = 1 << 29;

/**
 * Called with a node just before any field the checkpoint image holds changes (name,
 * mtime, owners, mode, replication, writer, blocks, quota limits, children), while a
 * checkpoint is being written (image-writer.ts keeps the node's state as of the image's
 * txid). Changes made in place to a file's BlockMeta objects are announced by namespace.ts
 * calling `beforeWrite` itself. Null, and one comparison per write, otherwise.
 */
let writeHook: ((node: INode) => void) | null = null;

export function setWriteHook(hook: ((node: INode) => void) | null): void {
  writeHook = hook;
}

/** About to change a node in place (BlockMeta fields, the blocks array). */
export function beforeWrite(node: INode): void {
  if (writeHook !== null) writeHook(node);
}

/**
 * Owner, group and mode of a node (set by namespace.ts as it creates the node). Stored as
 * one interned pair and one small integer; the accessors keep the fields' old shape.
 */
abstract class PermissionStatus {
  private pair = NOBODY;
  protected bits = 0;
  private nameValue: string;
  private mtimeValue: number;

  constructor(
    name: string,
    public parent: DirNode | null,
    mtimeMs: number,
  ) {
    this.nameValue = name;
    this.mtimeValue = 0;
    this.storeMtime(mtimeMs);
  }

  private storeMtime(ms: number): void {
    const since = ms - MTIME_EPOCH_MS;
    const seconds = Math.floor(since / 1000);
    if (Number.isInteger(ms) && since >= 0 && seconds <= MTIME_SECONDS_MAX) {
      this.mtimeValue = seconds;
      this.bits =
        (this.bits & ~(MTIME_MS_MASK << MTIME_MS_SHIFT)) |
        ((since - seconds * 1000) << MTIME_MS_SHIFT) |
        MTIME_PACKED_BIT;
    } else {
      this.mtimeValue = ms;
      this.bits &= ~MTIME_PACKED_BIT;
    }
  }

  get name(): string {
    return this.nameValue;
  }
  set name(name: string) {
    beforeWrite(this as unknown as INode);
    this.nameValue = name;
  }
  get mtimeMs(): number {
    if ((this.bits & MTIME_PACKED_BIT) === 0) return this.mtimeValue;
    return MTIME_EPOCH_MS + this.mtimeValue * 1000 + ((this.bits >>> MTIME_MS_SHIFT) & MTIME_MS_MASK);
  }
  set mtimeMs(ms: number) {
    beforeWrite(this as unknown as INode);
    this.storeMtime(ms);
  }

  get owner(): string {
    return this.pair.owner;
  }
  set owner(owner: string) {
    beforeWrite(this as unknown as INode);
    this.pair = pairOf(owner, this.pair.group);
  }
  get group(): string {
    return this.pair.group;
  }
  set group(group: string) {
    beforeWrite(this as unknown as INode);
    this.pair = pairOf(this.pair.owner, group);
  }
  /** Owner, group and mode at once (a node being made: image load). */
  setOwnership(owner: string, group: string, mode: number): void {
    beforeWrite(this as unknown as INode);
    this.pair = pairOf(owner, group);
    this.bits = (this.bits & ~MODE_MASK) | (mode & MODE_MASK);
  }

  /** rwx for user, group and other (0o777), and STICKY_BIT on a directory. */
  get mode(): number {
    return this.bits & MODE_MASK;
  }
  set mode(mode: number) {
    beforeWrite(this as unknown as INode);
    this.bits = (this.bits & ~MODE_MASK) | (mode & MODE_MASK);
  }
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
  /** On the prototype, not in each node (see the end of this file). */
  declare readonly kind: 'dir';
  /** By name: a sorted array while small, a Map when large (child-map.ts). */
  readonly children = new ChildMap<INode>();
  private quotaValue: DirQuota | null = null;
  /** Children names in sorted order, built lazily for paged listing, dropped on change. */
  private sorted: string[] | null = null;

  /** Null unless a quota is set on this directory (its limits change through `setQuotaLimits`). */
  get quota(): DirQuota | null {
    return this.quotaValue;
  }
  set quota(q: DirQuota | null) {
    beforeWrite(this);
    this.quotaValue = q;
  }

  addChild(node: INode): void {
    beforeWrite(this);
    this.children.set(node.name, node);
    node.parent = this;
    this.sorted = null;
  }

  removeChild(name: string): void {
    beforeWrite(this);
    this.children.delete(name);
    this.sorted = null;
  }

  sortedNames(): string[] {
    this.sorted ??= this.children.sortedNames();
    return this.sorted;
  }
}

/** A file's `bits` above the mode: replication (6 bits, REPLICATION_MAX is 32), then recovering (mtime's above). */
const REPLICATION_SHIFT = 12;
const REPLICATION_MASK = 0x3f;
const RECOVERING_BIT = 1 << 18;

/**
 * A file. Kept small (dfs-bench namespace measures it): the kind on the prototype, mode,
 * replication and the recovering flag packed in one integer, the owners interned, and the
 * blocks held as their own BlockMeta when there is one (most files: an array and its store
 * cost ~56 bytes a file) and as an array of exactly their length otherwise (namespace.ts
 * replaces it rather than push).
 */
export class FileNode extends PermissionStatus {
  /** On the prototype, not in each node (see the end of this file). */
  declare readonly kind: 'file';
  /** No blocks (NO_BLOCKS), the one block, or two or more. */
  private blocksValue: BlockMeta | readonly BlockMeta[] = NO_BLOCKS;
  private clientNameValue: string | null;

  constructor(
    name: string,
    parent: DirNode | null,
    mtimeMs: number,
    replication: number,
    public readonly blockBytes: number,
    clientName: string | null,
  ) {
    super(name, parent, mtimeMs);
    this.bits |= (replication & REPLICATION_MASK) << REPLICATION_SHIFT;
    this.clientNameValue = clientName;
  }

  /**
   * Its blocks, a new array per call for a one-block file: read it once, never change it
   * (assign a new array instead). BlockMeta fields change in place only after
   * `beforeWrite(file)` (namespace.ts). Hot paths use `blockCount`, `lastBlock`, `blockAt`.
   */
  get blocks(): readonly BlockMeta[] {
    const v = this.blocksValue;
    return isBlockList(v) ? v : [v];
  }
  set blocks(blocks: readonly BlockMeta[]) {
    beforeWrite(this);
    this.blocksValue = blocks.length === 0 ? NO_BLOCKS : blocks.length === 1 ? blocks[0]! : blocks;
  }

  get blockCount(): number {
    const v = this.blocksValue;
    return isBlockList(v) ? v.length : 1;
  }

  get lastBlock(): BlockMeta | undefined {
    const v = this.blocksValue;
    return isBlockList(v) ? v[v.length - 1] : v;
  }

  blockAt(i: number): BlockMeta | undefined {
    const v = this.blocksValue;
    return isBlockList(v) ? v[i] : i === 0 ? v : undefined;
  }

  /** The writer holding the lease, or null once the file is complete. */
  get clientName(): string | null {
    return this.clientNameValue;
  }
  set clientName(name: string | null) {
    beforeWrite(this);
    this.clientNameValue = name;
  }

  get replication(): number {
    return (this.bits >>> REPLICATION_SHIFT) & REPLICATION_MASK;
  }
  set replication(r: number) {
    beforeWrite(this);
    this.bits =
      (this.bits & ~(REPLICATION_MASK << REPLICATION_SHIFT)) | ((r & REPLICATION_MASK) << REPLICATION_SHIFT);
  }

  /**
   * The NameNode took the lease for a block recovery (lease-manager.ts takeForRecovery):
   * the writer's calls on the file are refused until it is closed. Not persisted: after a
   * restart the writer's lease is back and expires again.
   */
  get recovering(): boolean {
    return (this.bits & RECOVERING_BIT) !== 0;
  }
  set recovering(on: boolean) {
    this.bits = on ? this.bits | RECOVERING_BIT : this.bits & ~RECOVERING_BIT;
  }

  get length(): number {
    const v = this.blocksValue;
    if (!isBlockList(v)) return v.numBytes;
    let total = 0;
    for (const b of v) total += b.numBytes;
    return total;
  }

  get underConstruction(): boolean {
    return this.clientName !== null;
  }
}

const NO_BLOCKS: readonly BlockMeta[] = Object.freeze([]);

function isBlockList(v: BlockMeta | readonly BlockMeta[]): v is readonly BlockMeta[] {
  return Array.isArray(v);
}

Object.defineProperty(DirNode.prototype, 'kind', { value: 'dir' });
Object.defineProperty(FileNode.prototype, 'kind', { value: 'file' });

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
    blockCount: node.blockCount,
    underConstruction: node.underConstruction,
    childCount: 0,
    owner: node.owner,
    group: node.group,
    permission: node.mode,
  };
}
