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
 * path (the replica is already known) costs one hash lookup and allocates nothing.
 *
 * Memory: the blocks live in block-slots.ts (struct-of-arrays, replica holders as 16-bit
 * node numbers, ~38 bytes a block); corrupt, deleting and unfinished replicas and reported
 * lengths are rare, so they sit in maps keyed by block id that hold only the blocks that
 * have any. The node -> blocks direction is not stored, only its count per node: the
 * blocks of one node are found by a scan of the slots (~20 ms per million blocks), which
 * only a node leaving, a decommission and a full report that dropped replicas need.
 * `entry` builds a snapshot view per call; `forEachBlock` hands out one reused cursor.
 */
import type { Block, BlockColumns } from '../../protocol/shared-structures.js';
import type { BlockMeta, FileNode } from './inode.js';
import { BlockSlots, CELLS } from './block-slots.js';

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

const NO_NODES: ReadonlySet<string> = new Set();
/** Dirty blocks held before the set overflows into a full rescan (`markDirty`). */
export const DIRTY_MAX = 100_000;
/** Node numbers are 16-bit cells (block-slots.ts). */
const NODES_MAX = 0xffff;

function isFinalLength(file: FileNode, meta: BlockMeta): boolean {
  return file.clientName === null || file.lastBlock !== meta;
}

/** The block is the last of a file still open for writing (its length is not committed). */
export function isUnderConstruction(entry: { file: FileNode; meta: BlockMeta }): boolean {
  return entry.file.clientName !== null && entry.file.lastBlock === entry.meta;
}

export class BlockMap {
  private readonly slots = new BlockSlots();
  /** Node id -> its number in the slots' cells (from 1), and back. */
  private readonly nodeNumbers = new Map<string, number>();
  private readonly nodeIds: string[] = [''];
  /** Current replicas each node holds, by node number. */
  private readonly heldCounts: number[] = [0];
  private lastNodeId = '';
  private lastNodeNumber = 0;
  /** Rare states, only for the blocks that have them, by block id. */
  private readonly corruptOf = new Map<number, Set<string>>();
  private readonly deletingOf = new Map<number, Set<string>>();
  private readonly unfinishedOf = new Map<number, Set<string>>();
  private readonly reportedBytesOf = new Map<number, number>();
  /** Node id -> blocks it was ordered to delete and has not confirmed gone (the reverse of `deleting`). */
  private readonly deletingBy = new Map<string, Set<number>>();
  /** Blocks whose replication may have changed; the replication monitor takes them. */
  private dirty = new Set<number>();
  private dirtyOverflowed = false;

  get size(): number {
    return this.slots.size;
  }

  /** A snapshot of what is known of the block (built per call). */
  entry(blockId: number): BlockEntryView | undefined {
    const slot = this.slots.slotOf(blockId);
    return slot < 0 ? undefined : this.snapshot(slot, blockId);
  }

  /** Every block, through one cursor object valid only during its call (no allocation per block). */
  forEachBlock(fn: (entry: BlockEntryView) => void): void {
    const cursor = new Cursor(this);
    const s = this.slots;
    for (let slot = 0; slot < s.highWater; slot++) {
      const meta = s.metas[slot];
      if (meta === undefined) continue;
      cursor.slot = slot;
      cursor.meta = meta;
      cursor.file = s.files[slot]!;
      fn(cursor);
    }
  }

  /** A live iterator over the block ids (the replication monitor's rescan walks it across ticks). */
  *blockIds(): IterableIterator<number> {
    const s = this.slots;
    for (let slot = 0; slot < s.highWater; slot++) {
      const meta = s.metas[slot];
      if (meta !== undefined) yield meta.blockId;
    }
  }

  /** How many current replicas `nodeId` holds. */
  heldCount(nodeId: string): number {
    const n = this.nodeNumbers.get(nodeId);
    return n === undefined ? 0 : this.heldCounts[n]!;
  }

  /** Blocks `nodeId` holds a current replica of (a scan of every block: for rare events). */
  heldBy(nodeId: string): ReadonlySet<number> {
    const out = new Set<number>();
    const n = this.nodeNumbers.get(nodeId);
    if (n === undefined || this.heldCounts[n] === 0) return out;
    const s = this.slots;
    for (let slot = 0; slot < s.highWater; slot++) {
      const meta = s.metas[slot];
      if (meta !== undefined && s.hasHolder(slot, n)) out.add(meta.blockId);
    }
    return out;
  }

  // ---- the namespace's blocks ------------------------------------------------------

  /** Room for `blocks` blocks in all (block-slots.ts `reserve`). */
  reserve(blocks: number): void {
    this.slots.reserve(blocks);
  }

  /** A new block of `file`, with no replica yet. */
  add(file: FileNode, meta: BlockMeta): void {
    if (this.slots.slotOf(meta.blockId) >= 0) this.remove(meta.blockId);
    this.slots.add(file, meta);
  }

  /** Forgets a deleted block; returns what was known of it (its holders get deletes), or undefined. */
  remove(blockId: number): BlockEntryView | undefined {
    const slot = this.slots.slotOf(blockId);
    if (slot < 0) return undefined;
    // Its deleting copies are forgotten with it (the view says none).
    this.clearDeleting(blockId);
    const view = this.snapshot(slot, blockId);
    this.slots.forEachHolder(slot, (n) => this.heldCounts[n]!--);
    this.corruptOf.delete(blockId);
    this.unfinishedOf.delete(blockId);
    this.reportedBytesOf.delete(blockId);
    this.slots.remove(slot);
    return view;
  }

  /**
   * The block got a new generation stamp: every replica known so far, good or corrupt, has
   * the old one and stops counting (the survivors report it again with the new stamp).
   */
  forgetReplicas(blockId: number): void {
    const slot = this.slots.slotOf(blockId);
    if (slot < 0) return;
    this.slots.forEachHolder(slot, (n) => this.heldCounts[n]!--);
    this.slots.clearHolders(slot);
    this.corruptOf.delete(blockId);
    this.clearDeleting(blockId);
  }

  // ---- replicas --------------------------------------------------------------------

  /**
   * A node reports a replica. Valid when the block is known with the same generation stamp
   * and, unless it is the block being written (no committed length yet), the same length;
   * for the block being written the shortest finalized length reported is remembered for
   * lease recovery.
   */
  addReplica(nodeId: string, b: Block): ReplicaVerdict {
    const s = this.slots;
    const slot = s.slotOf(b.blockId);
    if (slot < 0) return ReplicaVerdict.INVALID;
    const meta = s.metas[slot]!;
    const file = s.files[slot]!;
    const finalLength = file.clientName === null || file.lastBlock !== meta;
    if (!finalLength && b.genStamp > meta.genStamp) return ReplicaVerdict.PENDING;
    // A node of the block's pipeline still reporting the replica it held before an append
    // (or a pipeline recovery) gave the block a new stamp: it is about to reopen that copy
    // under the new stamp, so it is not deleted now; once the file closes, a copy still
    // older than the block is (BlockManager.fileClosed).
    if (!finalLength && b.genStamp < meta.genStamp && this.unfinishedOf.get(b.blockId)?.has(nodeId) === true)
      return ReplicaVerdict.PENDING;
    if (b.genStamp !== meta.genStamp) return ReplicaVerdict.INVALID;
    if (finalLength && b.numBytes !== meta.numBytes) return ReplicaVerdict.INVALID;
    if (!finalLength) {
      const known = this.reportedBytesOf.get(b.blockId);
      this.reportedBytesOf.set(b.blockId, known === undefined ? b.numBytes : Math.min(known, b.numBytes));
    }
    const n = this.numberOf(nodeId);
    if (s.hasHolder(slot, n)) return ReplicaVerdict.PRESENT;
    if (this.corruptOf.get(b.blockId)?.has(nodeId) === true) return ReplicaVerdict.CORRUPT;
    // Reported again before its node carried out the delete: it is a replica again.
    if (this.deletingOf.get(b.blockId)?.delete(nodeId) === true) {
      this.deletingBy.get(nodeId)?.delete(b.blockId);
      this.dropIfEmpty(this.deletingOf, b.blockId);
    }
    s.addHolder(slot, n);
    this.heldCounts[n]!++;
    this.markDirty(b.blockId);
    return ReplicaVerdict.ADDED;
  }

  /** The node no longer holds the block (it said so, or its full report left it out). */
  removeReplica(nodeId: string, blockId: number): void {
    this.dropHolder(nodeId, blockId);
    if (this.deletingOf.get(blockId)?.delete(nodeId) === true) {
      this.deletingBy.get(nodeId)?.delete(blockId);
      this.dropIfEmpty(this.deletingOf, blockId);
    }
    this.markDirty(blockId);
  }

  /**
   * The node's replica of `b` was found corrupt: it leaves the readable replicas at once.
   * False (nothing changed) for an unknown block or another generation stamp.
   */
  markCorrupt(nodeId: string, b: Block): boolean {
    const slot = this.slots.slotOf(b.blockId);
    if (slot < 0 || b.genStamp !== this.slots.metas[slot]!.genStamp) return false;
    this.dropHolder(nodeId, b.blockId);
    setOf(this.corruptOf, b.blockId).add(nodeId);
    this.markDirty(b.blockId);
    return true;
  }

  /**
   * The node's copy (good or corrupt) is ordered deleted: it stops counting and being served
   * at once, and is `deleting` until the node confirms it gone (`removeReplica`, `nodeReported`).
   */
  forgetReplica(nodeId: string, blockId: number): void {
    this.dropHolder(nodeId, blockId);
    if (this.slots.slotOf(blockId) < 0) return;
    if (this.corruptOf.get(blockId)?.delete(nodeId) === true) this.dropIfEmpty(this.corruptOf, blockId);
    setOf(this.deletingOf, blockId).add(nodeId);
    let set = this.deletingBy.get(nodeId);
    if (set === undefined) {
      set = new Set();
      this.deletingBy.set(nodeId, set);
    }
    set.add(blockId);
  }

  /**
   * A full report from the node: a copy it was ordered to delete and no longer lists is gone
   * (one it still lists, re-added by `addReplica` or not, stays as it is).
   */
  nodeReported(nodeId: string, blocks: BlockColumns): void {
    const set = this.deletingBy.get(nodeId);
    if (set === undefined || set.size === 0) return;
    const reported = new Set<number>();
    for (let i = 0; i < blocks.length; i++) reported.add(blocks.blockId(i));
    for (const blockId of set) {
      if (reported.has(blockId)) continue;
      set.delete(blockId);
      if (this.deletingOf.get(blockId)?.delete(nodeId) === true) this.dropIfEmpty(this.deletingOf, blockId);
    }
  }

  /** The node died or re-registered: none of its replicas count until it reports them again. */
  dropNode(nodeId: string): void {
    const deleting = this.deletingBy.get(nodeId);
    if (deleting !== undefined) {
      for (const id of deleting)
        if (this.deletingOf.get(id)?.delete(nodeId) === true) this.dropIfEmpty(this.deletingOf, id);
      this.deletingBy.delete(nodeId);
    }
    const n = this.nodeNumbers.get(nodeId);
    if (n === undefined || this.heldCounts[n] === 0) return;
    const s = this.slots;
    for (let slot = 0; slot < s.highWater && this.heldCounts[n]! > 0; slot++) {
      const meta = s.metas[slot];
      if (meta === undefined || !s.removeHolder(slot, n)) continue;
      this.heldCounts[n]!--;
      this.markDirty(meta.blockId);
    }
  }

  // ---- unfinished replicas --------------------------------------------------------

  /**
   * `nodeId` may hold an unfinished replica of the block (a pipeline target, or it reported
   * one). False for a block that is not the last of a file being written: such a replica is
   * garbage, and the caller deletes it.
   */
  addUnfinished(nodeId: string, blockId: number): boolean {
    const slot = this.slots.slotOf(blockId);
    if (slot < 0) return false;
    if (!isUnderConstruction({ file: this.slots.files[slot]!, meta: this.slots.metas[slot]! })) return false;
    setOf(this.unfinishedOf, blockId).add(nodeId);
    return true;
  }

  /**
   * Forgets where unfinished replicas of the block were, and the length they reported (its
   * length is final: the file closed or a block followed it); returns those nodes.
   */
  takeUnfinished(blockId: number): ReadonlySet<string> {
    const nodes = this.unfinishedOf.get(blockId) ?? NO_NODES;
    this.unfinishedOf.delete(blockId);
    this.reportedBytesOf.delete(blockId);
    return nodes;
  }

  // ---- the dirty set ---------------------------------------------------------------

  /**
   * The block's replication may have changed. Past DIRTY_MAX blocks (a restart's first
   * reports make every block dirty) the set stops growing and says it overflowed: the
   * replication monitor then walks every block at its bounded rescan pace instead, rather
   * than hold ten million ids and classify them in one tick.
   */
  markDirty(blockId: number): void {
    if (this.dirty.size >= DIRTY_MAX) this.dirtyOverflowed = true;
    else this.dirty.add(blockId);
  }

  /** True once if dirty blocks were dropped since the last call (see `markDirty`). */
  takeDirtyOverflow(): boolean {
    const overflowed = this.dirtyOverflowed;
    this.dirtyOverflowed = false;
    return overflowed;
  }

  /** Every block of `file` (closed, or its replication changed). */
  markFileDirty(file: FileNode): void {
    for (const b of file.blocks) this.markDirty(b.blockId);
  }

  /** Every block `nodeId` holds (its admin state changed). */
  markHeldDirty(nodeId: string): void {
    for (const id of this.heldBy(nodeId)) this.markDirty(id);
  }

  /** The dirty blocks, handed over: the map starts a new, empty set. */
  takeDirty(): ReadonlySet<number> {
    const taken = this.dirty;
    this.dirty = new Set();
    return taken;
  }

  /** Holders ever added (and those that were a block's first) and blocks ever removed (BlockManager.changeCounts). */
  slotCounts(): { holderAdds: number; firstHolders: number; removals: number } {
    const s = this.slots;
    return { holderAdds: s.holderAdds, firstHolders: s.firstHolders, removals: s.removals };
  }

  /**
   * Safe mode's count, in one pass with no call per block: blocks whose length is final, and
   * how many of them have at least `min` current replicas on nodes `live` accepts (asked once
   * per node, not per replica, into a byte per node number that the cells index). The
   * NameNode counts every second while in safe mode, so this pass is what a restart's
   * reports share the event loop with: at ten million blocks it took ~0.5 s (a Map lookup
   * per block for the rare extra holders, a boolean array compared per cell), a third of
   * the daemon's time while 30 full reports came in; now ~0.12 s.
   */
  countReplicated(min: number, live: (nodeId: string) => boolean): { total: number; reported: number } {
    const ids = this.nodeIds;
    const alive = new Uint8Array(ids.length);
    for (let n = 1; n < ids.length; n++) if (live(ids[n]!)) alive[n] = 1;
    const { cells, metas, files, extra } = this.slots;
    const top = this.slots.highWater;
    const anyExtra = extra.size > 0;
    let total = 0;
    let reported = 0;
    for (let slot = 0; slot < top; slot++) {
      const meta = metas[slot];
      if (meta === undefined || !isFinalLength(files[slot]!, meta)) continue;
      total++;
      let n = 0;
      for (let k = slot * CELLS; k < slot * CELLS + CELLS; k++) n += alive[cells[k]!]!;
      if (anyExtra) for (const more of extra.get(slot) ?? []) n += alive[more]!;
      if (n >= min) reported++;
    }
    return { total, reported };
  }

  /** Calls `fn` with each node holding a current replica (no allocation); false for an unknown block. */
  forEachReplica(blockId: number, fn: (nodeId: string) => void): boolean {
    const slot = this.slots.slotOf(blockId);
    if (slot < 0) return false;
    this.slots.forEachHolder(slot, (n) => fn(this.nodeIds[n]!));
    return true;
  }

  // ---- for the cursor and snapshots -------------------------------------------------

  /** The ids of the nodes holding a current replica of the block in `slot`. */
  holdersOf(slot: number): Set<string> {
    const out = new Set<string>();
    this.slots.forEachHolder(slot, (n) => out.add(this.nodeIds[n]!));
    return out;
  }

  holderCount(slot: number): number {
    return this.slots.holderCount(slot);
  }

  rareOf(blockId: number): Omit<BlockEntryView, 'file' | 'meta' | 'replicas'> {
    return {
      corrupt: this.corruptOf.get(blockId) ?? NO_NODES,
      deleting: this.deletingOf.get(blockId) ?? NO_NODES,
      reportedBytes: this.reportedBytesOf.get(blockId) ?? -1,
      unfinished: this.unfinishedOf.get(blockId) ?? null,
    };
  }

  private snapshot(slot: number, blockId: number): BlockEntryView {
    const rare = this.rareOf(blockId);
    return {
      file: this.slots.files[slot]!,
      meta: this.slots.metas[slot]!,
      replicas: this.holdersOf(slot),
      corrupt: new Set(rare.corrupt),
      deleting: new Set(rare.deleting),
      reportedBytes: rare.reportedBytes,
      unfinished: rare.unfinished === null ? null : new Set(rare.unfinished),
    };
  }

  private numberOf(nodeId: string): number {
    // A full report asks for the same node a million times in a row.
    if (nodeId === this.lastNodeId) return this.lastNodeNumber;
    let n = this.nodeNumbers.get(nodeId);
    if (n === undefined) {
      n = this.nodeIds.length;
      if (n > NODES_MAX) throw new Error(`more than ${NODES_MAX} DataNodes`);
      this.nodeNumbers.set(nodeId, n);
      this.nodeIds.push(nodeId);
      this.heldCounts.push(0);
    }
    this.lastNodeId = nodeId;
    this.lastNodeNumber = n;
    return n;
  }

  private dropHolder(nodeId: string, blockId: number): void {
    const n = this.nodeNumbers.get(nodeId);
    const slot = this.slots.slotOf(blockId);
    if (n !== undefined && slot >= 0 && this.slots.removeHolder(slot, n)) this.heldCounts[n]!--;
  }

  private clearDeleting(blockId: number): void {
    const nodes = this.deletingOf.get(blockId);
    if (nodes === undefined) return;
    for (const nodeId of nodes) this.deletingBy.get(nodeId)?.delete(blockId);
    this.deletingOf.delete(blockId);
  }

  private dropIfEmpty(map: Map<number, Set<string>>, blockId: number): void {
    if (map.get(blockId)?.size === 0) map.delete(blockId);
  }
}

function setOf(map: Map<number, Set<string>>, blockId: number): Set<string> {
  let set = map.get(blockId);
  if (set === undefined) {
    set = new Set();
    map.set(blockId, set);
  }
  return set;
}

/** `forEachBlock`'s reused view of one slot; the sets are built only when read. */
class Cursor implements BlockEntryView {
  slot = 0;
  file!: FileNode;
  meta!: BlockMeta;

  constructor(private readonly map: BlockMap) {}

  get replicas(): ReadonlySet<string> {
    return this.map.holdersOf(this.slot);
  }
  get corrupt(): ReadonlySet<string> {
    return this.map.rareOf(this.meta.blockId).corrupt;
  }
  get deleting(): ReadonlySet<string> {
    return this.map.rareOf(this.meta.blockId).deleting;
  }
  get reportedBytes(): number {
    return this.map.rareOf(this.meta.blockId).reportedBytes;
  }
  get unfinished(): ReadonlySet<string> | null {
    return this.map.rareOf(this.meta.blockId).unfinished;
  }
}
