/**
 * The namespace tree's nodes. Directories hold children by name; files hold their block
 * list and, while open for writing, the lease holder's client name. Every node has an
 * owner, a group and mode bits (HDFS PermissionStatus; permission-checker.ts judges them). Nodes keep a parent
 * pointer and their own name so a node can tell its path (leases and block owners refer to
 * nodes, not path strings, so a rename needs no bookkeeping elsewhere).
 */
import { FileType, type Block, type FileStatus } from '../../protocol/shared-structures.js';
import { joinPath } from './path-rules.js';
import { ChildMap } from './child-map.js';

export interface BlockMeta {
  blockId: number;
  genStamp: number;
  /** Committed length; for the block being written, 0 until the next addBlock/complete. */
  numBytes: number;
}

/**
 * The block a BlockMeta stands for, as a plain object of its own: what messages, logs and
 * delete queues get, never the BlockMeta (a file's first block is the FileNode itself,
 * whose other fields, its parent among them, are no part of a block).
 */
export function blockOf(meta: BlockMeta): Block {
  return { blockId: meta.blockId, genStamp: meta.genStamp, numBytes: meta.numBytes };
}

/** The sticky bit of a directory's mode: only an entry's owner (or the dir's) removes it. */
export const STICKY_BIT = 0o1000;

/**
 * A node's (owner, group) pair and, for a file, its block size, interned: a namespace has
 * few distinct triples, and ten million nodes each holding its own two strings (decoded from
 * a request or an image) would cost ~50 bytes a node, and a block size field 8 more (a
 * field costs 8 bytes in Node's V8, which has no pointer compression). Triples are never
 * freed; there are as many as users x groups x block sizes in use.
 */
class NodeAttrs {
  constructor(
    readonly owner: string,
    readonly group: string,
    /** A file's block size; 0 for a directory. */
    readonly blockBytes: number,
  ) {}
}

const ATTRS = new Map<string, Map<string, Map<number, NodeAttrs>>>();
/** The last triple found: an image load asks for the same one ten million times in a row. */
let lastAttrs: NodeAttrs | null = null;

function attrsOf(owner: string, group: string, blockBytes: number): NodeAttrs {
  const last = lastAttrs;
  if (last !== null && last.owner === owner && last.group === group && last.blockBytes === blockBytes)
    return last;
  lastAttrs = findAttrs(owner, group, blockBytes);
  return lastAttrs;
}

function findAttrs(owner: string, group: string, blockBytes: number): NodeAttrs {
  let byGroup = ATTRS.get(owner);
  if (byGroup === undefined) {
    byGroup = new Map();
    ATTRS.set(owner, byGroup);
  }
  let bySize = byGroup.get(group);
  if (bySize === undefined) {
    bySize = new Map();
    byGroup.set(group, bySize);
  }
  let attrs = bySize.get(blockBytes);
  if (attrs === undefined) {
    attrs = new NodeAttrs(owner, group, blockBytes);
    bySize.set(blockBytes, attrs);
  }
  return attrs;
}

const NOBODY = attrsOf('', '', 0);
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
 * one interned NodeAttrs and one small integer; the accessors keep the fields' old shape.
 */
abstract class PermissionStatus {
  protected attrs = NOBODY;
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
    return this.attrs.owner;
  }
  set owner(owner: string) {
    beforeWrite(this as unknown as INode);
    this.attrs = attrsOf(owner, this.attrs.group, this.attrs.blockBytes);
  }
  get group(): string {
    return this.attrs.group;
  }
  set group(group: string) {
    beforeWrite(this as unknown as INode);
    this.attrs = attrsOf(this.attrs.owner, group, this.attrs.blockBytes);
  }
  /** Owner, group and mode at once (a node being made: image load). */
  setOwnership(owner: string, group: string, mode: number): void {
    beforeWrite(this as unknown as INode);
    this.attrs = attrsOf(owner, group, this.attrs.blockBytes);
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

/**
 * A file's `bits` above the mode: replication (6 bits, REPLICATION_MAX is 32), then
 * recovering (the mtime's milliseconds and packed bit above), and at the top whether it has
 * a writer (its name is in WRITERS). 2^30 is still a small integer on 64-bit V8 without
 * pointer compression (Node's), so `bits` stays an unboxed field.
 */
const REPLICATION_SHIFT = 12;
const REPLICATION_MASK = 0x3f;
const RECOVERING_BIT = 1 << 18;
const WRITER_BIT = 1 << 30;

/**
 * The writer of each file under construction, by file: a handful of files at a time, where
 * a field of its own would cost every file 8 bytes. A file's WRITER_BIT says whether to
 * look here, so a complete file's `clientName` is one bit test.
 */
const WRITERS = new WeakMap<FileNode, string>();

/**
 * A file. Kept small (dfs-bench namespace measures it; every field is 8 bytes in Node's V8):
 * the kind on the prototype; mode, replication and the recovering and writer flags packed
 * in one integer; the owners and block size interned; the writer's name, while there is
 * one, in WRITERS; the first block the file itself (`newBlock`), and the blocks held bare
 * when there is one (an array and its store cost ~56 bytes a file) and as an array of
 * exactly their length otherwise (namespace.ts replaces it rather than push).
 */
export class FileNode extends PermissionStatus implements BlockMeta {
  /** On the prototype, not in each node (see the end of this file). */
  declare readonly kind: 'file';
  /** No blocks (NO_BLOCKS), the one block, or two or more. */
  private blocksValue: BlockMeta | readonly BlockMeta[] = NO_BLOCKS;
  /**
   * The first block added to the file while it had none is the file itself (these three
   * fields, see `newBlock`), not an object of its own: 48 bytes less for most files, which
   * have one block. numBytes -1: not taken yet. Taken once only: a block removed later may
   * still be held by whoever learnt of its removal, so its fields never change for another.
   */
  blockId = 0;
  genStamp = 0;
  numBytes = -1;

  constructor(
    name: string,
    parent: DirNode | null,
    mtimeMs: number,
    replication: number,
    blockBytes: number,
    clientName: string | null,
  ) {
    super(name, parent, mtimeMs);
    this.attrs = attrsOf(this.attrs.owner, this.attrs.group, blockBytes);
    this.bits |= (replication & REPLICATION_MASK) << REPLICATION_SHIFT;
    this.setWriter(clientName);
  }

  get blockBytes(): number {
    return this.attrs.blockBytes;
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

  /**
   * The BlockMeta of a block about to be added (its `blocks` assigned next): the file itself
   * when it has no block and never had one, else an object of its own.
   */
  newBlock(blockId: number, genStamp: number, numBytes: number): BlockMeta {
    if (this.blockCount > 0 || this.numBytes !== -1) return { blockId, genStamp, numBytes };
    this.blockId = blockId;
    this.genStamp = genStamp;
    this.numBytes = numBytes;
    return this;
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
    return (this.bits & WRITER_BIT) === 0 ? null : WRITERS.get(this)!;
  }
  set clientName(name: string | null) {
    beforeWrite(this);
    this.setWriter(name);
  }

  private setWriter(name: string | null): void {
    if (name === null) {
      this.bits &= ~WRITER_BIT;
      WRITERS.delete(this);
    } else {
      this.bits |= WRITER_BIT;
      WRITERS.set(this, name);
    }
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
