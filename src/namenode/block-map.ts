/**
 * The block map (HDFS `BlocksMap`): for every block of the namespace, the nodes holding a
 * current replica of it, the nodes whose replica was found corrupt, and, per node, the
 * blocks it holds; plus the dirty set, the blocks whose replication may have changed since
 * the replication monitor last looked. Block locations are never persisted: they are
 * rebuilt from block reports after every start.
 *
 * This class is the only writer of those maps. Everyone else reads through narrow methods
 * (`entry`, `forEachBlock`, `heldBy`, `takeDirty`) that hand out read-only views, and
 * changes go through the verbs below, so the two directions of the replica index
 * (block -> nodes, node -> blocks) cannot drift apart. It knows nothing of node liveness
 * or command queues: that is the DataNode registry (datanode-registry.ts), and the
 * block manager (block-manager.ts) keeps the two in step.
 *
 * A replica counts only if its generation stamp and length match the block's
 * (`addReplica`): a replica of a deleted block, with an older generation stamp (left behind
 * by pipeline recovery) or of the wrong length is refused, and the caller deletes it. The
 * one exception is a replica of a block under construction at a *newer* stamp: a block
 * recovery finalized it and has not committed yet (block-recovery.ts); it is neither
 * counted nor deleted (PENDING), and the commit adds it. So is one at an *older* stamp from
 * a node of the block's pipeline (an append or a pipeline recovery gave the block a new
 * stamp that node is about to take); it is deleted if still older once the file closes.
 *
 * Each block under construction also keeps the nodes that may hold an unfinished replica
 * of it (`unfinished`): the targets its writer was given, and the nodes that report an rbw
 * replica of it. They are where a block recovery looks; they are not readable replicas.
 *
 * A replica ordered deleted (a surplus or corrupt copy, `forgetReplica`) stops counting and
 * being served at once, but is remembered as `deleting` until its node confirms it gone (an
 * incremental report naming it deleted, a full report without it, or the node leaving), so
 * `setrep -w` can wait for surplus copies to be gone rather than merely ordered away.
 *
 * Full block reports send every replica of every node through `addReplica`, so its steady
 * path (the replica is already known) costs two hash lookups and allocates nothing; the
 * node -> blocks index is looked up only when a replica is added or removed.
 */
import type { Block } from '../../protocol/shared-structures.js';
import type { BlockMeta, FileNode } from './inode.js';

interface BlockEntry {
  file: FileNode;
  meta: BlockMeta;
  replicas: Set<string>;
  /** Nodes whose replica was found corrupt; deleted once enough good replicas exist. */
  corrupt: Set<string>;
  /** Nodes ordered to delete their copy that have not yet confirmed it gone. */
  deleting: Set<string>;
  /** Length of finalized replicas reported while the block had no committed length (-1: none). */
  reportedBytes: number;
  /** Nodes that may hold an unfinished replica (pipeline targets, rbw reports); null: none. */
  unfinished: Set<string> | null;
}

/** A block as the block map knows it (read-only: change it through the BlockMap). */
export interface BlockEntryView {
  readonly file: FileNode;
  readonly meta: BlockMeta;
  /** Nodes holding a current, valid replica. */
  readonly replicas: ReadonlySet<string>;
  /** Nodes whose replica was found corrupt; kept out of `replicas` until deleted. */
  readonly corrupt: ReadonlySet<string>;
  /** Nodes ordered to delete their copy that have not yet confirmed it gone (not counted, not served). */
  readonly deleting: ReadonlySet<string>;
  /** Length of finalized replicas reported while the block had no committed length (-1: none). */
  readonly reportedBytes: number;
  /** Nodes that may hold an unfinished replica (pipeline targets, rbw reports); null: none. */
  readonly unfinished: ReadonlySet<string> | null;
}

/** What `addReplica` made of a reported replica. */
export const ReplicaVerdict = {
  /** Unknown block, other generation stamp or wrong length: not counted, to be deleted. */
  INVALID: 0,
  /** The node's copy was found corrupt earlier: it stays out of the readable replicas. */
  CORRUPT: 1,
  /** Already known: nothing changed. */
  PRESENT: 2,
  /** A new replica: the block is dirty. */
  ADDED: 3,
  /** Of the block under construction, at a newer stamp (a recovery not committed yet): kept, not counted. */
  PENDING: 4,
} as const;
export type ReplicaVerdict = (typeof ReplicaVerdict)[keyof typeof ReplicaVerdict];

const NOTHING_HELD: ReadonlySet<number> = new Set();
const NO_NODES: ReadonlySet<string> = new Set();

/** The block is the last of a file still open for writing (its length is not committed). */
export function isUnderConstruction(entry: BlockEntryView): boolean {
  const blocks = entry.file.blocks;
  return entry.file.clientName !== null && blocks[blocks.length - 1] === entry.meta;
}

export class BlockMap {
  private readonly entries = new Map<number, BlockEntry>();
  /** Node id -> blocks it holds a current replica of (the reverse of `BlockEntry.replicas`). */
  private readonly held = new Map<string, Set<number>>();
  /** Node id -> blocks it was ordered to delete and has not confirmed gone (the reverse of `deleting`). */
  private readonly deletingBy = new Map<string, Set<number>>();
  /** Blocks whose replication may have changed; the replication monitor takes them. */
  private dirty = new Set<number>();

  get size(): number {
    return this.entries.size;
  }

  entry(blockId: number): BlockEntryView | undefined {
    return this.entries.get(blockId);
  }

  forEachBlock(fn: (entry: BlockEntryView) => void): void {
    for (const entry of this.entries.values()) fn(entry);
  }

  /** A live iterator over the block ids (the replication monitor's rescan walks it across ticks). */
  blockIds(): IterableIterator<number> {
    return this.entries.keys();
  }

  /** Blocks `nodeId` holds a current replica of (valid until the next change). */
  heldBy(nodeId: string): ReadonlySet<number> {
    return this.held.get(nodeId) ?? NOTHING_HELD;
  }

  // ---- the namespace's blocks ------------------------------------------------------

  /** A new block of `file`, with no replica yet. */
  add(file: FileNode, meta: BlockMeta): void {
    this.entries.set(meta.blockId, {
      file,
      meta,
      replicas: new Set(),
      corrupt: new Set(),
      deleting: new Set(),
      reportedBytes: -1,
      unfinished: null,
    });
  }

  /** Forgets a deleted block; returns what was known of it (its holders get deletes), or undefined. */
  remove(blockId: number): BlockEntryView | undefined {
    const entry = this.entries.get(blockId);
    if (entry === undefined) return undefined;
    this.entries.delete(blockId);
    for (const nodeId of entry.replicas) this.held.get(nodeId)?.delete(blockId);
    this.clearDeleting(entry, blockId);
    return entry;
  }

  /**
   * The block got a new generation stamp: every replica known so far, good or corrupt, has
   * the old one and stops counting (the survivors report it again with the new stamp).
   */
  forgetReplicas(blockId: number): void {
    const entry = this.entries.get(blockId);
    if (entry === undefined) return;
    for (const nodeId of entry.replicas) this.held.get(nodeId)?.delete(blockId);
    entry.replicas.clear();
    entry.corrupt.clear();
    this.clearDeleting(entry, blockId);
  }

  // ---- replicas --------------------------------------------------------------------

  /**
   * A node reports a replica. Valid when the block is known with the same generation stamp
   * and, unless it is the block being written (no committed length yet), the same length;
   * for the block being written the shortest finalized length reported is remembered for
   * lease recovery.
   */
  addReplica(nodeId: string, b: Block): ReplicaVerdict {
    const entry = this.entries.get(b.blockId);
    if (entry === undefined) return ReplicaVerdict.INVALID;
    const blocks = entry.file.blocks;
    const finalLength = entry.file.clientName === null || blocks[blocks.length - 1] !== entry.meta;
    if (!finalLength && b.genStamp > entry.meta.genStamp) return ReplicaVerdict.PENDING;
    // A node of the block's pipeline still reporting the replica it held before an append
    // (or a pipeline recovery) gave the block a new stamp: it is about to reopen that copy
    // under the new stamp, so it is not deleted now; once the file closes, a copy still
    // older than the block is (BlockManager.fileClosed).
    if (!finalLength && b.genStamp < entry.meta.genStamp && entry.unfinished?.has(nodeId) === true)
      return ReplicaVerdict.PENDING;
    if (b.genStamp !== entry.meta.genStamp) return ReplicaVerdict.INVALID;
    if (finalLength && b.numBytes !== entry.meta.numBytes) return ReplicaVerdict.INVALID;
    if (!finalLength)
      entry.reportedBytes = entry.reportedBytes < 0 ? b.numBytes : Math.min(entry.reportedBytes, b.numBytes);
    if (entry.corrupt.has(nodeId)) return ReplicaVerdict.CORRUPT;
    if (entry.replicas.has(nodeId)) return ReplicaVerdict.PRESENT;
    // Reported again before its node carried out the delete: it is a replica again.
    if (entry.deleting.delete(nodeId)) this.deletingBy.get(nodeId)?.delete(b.blockId);
    entry.replicas.add(nodeId);
    this.heldSet(nodeId).add(b.blockId);
    this.dirty.add(b.blockId);
    return ReplicaVerdict.ADDED;
  }

  /** The node no longer holds the block (it said so, or its full report left it out). */
  removeReplica(nodeId: string, blockId: number): void {
    this.held.get(nodeId)?.delete(blockId);
    const entry = this.entries.get(blockId);
    entry?.replicas.delete(nodeId);
    if (entry?.deleting.delete(nodeId) === true) this.deletingBy.get(nodeId)?.delete(blockId);
    this.dirty.add(blockId);
  }

  /**
   * The node's replica of `b` was found corrupt: it leaves the readable replicas at once.
   * False (nothing changed) for an unknown block or another generation stamp.
   */
  markCorrupt(nodeId: string, b: Block): boolean {
    const entry = this.entries.get(b.blockId);
    if (entry === undefined || b.genStamp !== entry.meta.genStamp) return false;
    entry.replicas.delete(nodeId);
    entry.corrupt.add(nodeId);
    this.held.get(nodeId)?.delete(b.blockId);
    this.dirty.add(b.blockId);
    return true;
  }

  /**
   * The node's copy (good or corrupt) is ordered deleted: it stops counting and being served
   * at once, and is `deleting` until the node confirms it gone (`removeReplica`, `nodeReported`).
   */
  forgetReplica(nodeId: string, blockId: number): void {
    const entry = this.entries.get(blockId);
    if (entry !== undefined) {
      entry.replicas.delete(nodeId);
      entry.corrupt.delete(nodeId);
      entry.deleting.add(nodeId);
      let set = this.deletingBy.get(nodeId);
      if (set === undefined) {
        set = new Set();
        this.deletingBy.set(nodeId, set);
      }
      set.add(blockId);
    }
    this.held.get(nodeId)?.delete(blockId);
  }

  /**
   * A full report from the node: a copy it was ordered to delete and no longer lists is gone
   * (one it still lists, re-added by `addReplica` or not, stays as it is).
   */
  nodeReported(nodeId: string, blocks: readonly Block[]): void {
    const set = this.deletingBy.get(nodeId);
    if (set === undefined || set.size === 0) return;
    const reported = new Set(blocks.map((b) => b.blockId));
    for (const blockId of set) {
      if (reported.has(blockId)) continue;
      set.delete(blockId);
      this.entries.get(blockId)?.deleting.delete(nodeId);
    }
  }

  /** The node died or re-registered: none of its replicas count until it reports them again. */
  dropNode(nodeId: string): void {
    const deleting = this.deletingBy.get(nodeId);
    if (deleting !== undefined) {
      for (const id of deleting) this.entries.get(id)?.deleting.delete(nodeId);
      this.deletingBy.delete(nodeId);
    }
    const blocks = this.held.get(nodeId);
    if (blocks === undefined) return;
    for (const id of blocks) {
      this.entries.get(id)?.replicas.delete(nodeId);
      this.dirty.add(id);
    }
    blocks.clear();
  }

  // ---- unfinished replicas --------------------------------------------------------

  /**
   * `nodeId` may hold an unfinished replica of the block (a pipeline target, or it reported
   * one). False for a block that is not the last of a file being written: such a replica is
   * garbage, and the caller deletes it.
   */
  addUnfinished(nodeId: string, blockId: number): boolean {
    const entry = this.entries.get(blockId);
    if (entry === undefined || !isUnderConstruction(entry)) return false;
    (entry.unfinished ??= new Set()).add(nodeId);
    return true;
  }

  /** Forgets where unfinished replicas of the block were (it was closed); returns those nodes. */
  takeUnfinished(blockId: number): ReadonlySet<string> {
    const entry = this.entries.get(blockId);
    const nodes = entry?.unfinished ?? NO_NODES;
    if (entry !== undefined) entry.unfinished = null;
    return nodes;
  }

  // ---- the dirty set ---------------------------------------------------------------

  markDirty(blockId: number): void {
    this.dirty.add(blockId);
  }

  /** Every block of `file` (closed, or its replication changed). */
  markFileDirty(file: FileNode): void {
    for (const b of file.blocks) this.dirty.add(b.blockId);
  }

  /** Every block `nodeId` holds (its admin state changed). */
  markHeldDirty(nodeId: string): void {
    for (const id of this.heldBy(nodeId)) this.dirty.add(id);
  }

  /** The dirty blocks, handed over: the map starts a new, empty set. */
  takeDirty(): ReadonlySet<number> {
    const taken = this.dirty;
    this.dirty = new Set();
    return taken;
  }

  private clearDeleting(entry: BlockEntry, blockId: number): void {
    for (const nodeId of entry.deleting) this.deletingBy.get(nodeId)?.delete(blockId);
    entry.deleting.clear();
  }

  private heldSet(nodeId: string): Set<number> {
    let blocks = this.held.get(nodeId);
    if (blocks === undefined) {
      blocks = new Set();
      this.held.set(nodeId, blocks);
    }
    return blocks;
  }
}
