/**
 * The compact storage under the block map (block-map.ts): a table of block slots in
 * struct-of-arrays form, found by block id through an open-addressing hash index in a typed
 * array. A NameNode holding ten million blocks cannot afford a JavaScript object, a Map
 * entry and three Sets per block (about 600 bytes, measured with `dfs-bench namespace`);
 * here a block costs its two pointers (file, meta: 8 bytes each in Node's V8), three 16-bit
 * replica cells and 8 to 16 bytes of index: ~38-46 bytes.
 *
 *   slot s:  files[s]   the FileNode             metas[s]  the BlockMeta (the file's own
 *                                                          object, or the FileNode itself)
 *            cells[3s .. 3s+2]  replica holders as node numbers (0: empty), in no order
 *   more than three holders: the rest in `extra` (slot -> node numbers), rare
 *   index:   Int32Array of (slot + 1), 0 empty, -1 deleted; linear probing; a quarter to
 *            half full (made at most half full; grown past half)
 *
 * Node numbers are given by the caller (block-map.ts numbers DataNodes from 1). Freed
 * slots are reused (a free list), so a slot number is only meaningful while its block is.
 */
import type { BlockMeta, FileNode } from './inode.js';

export const CELLS = 3;
const EMPTY = 0;
const DELETED = -1;

/** Block ids this many in a row (aligned) take consecutive index entries. */
const RUN_BITS = 6;

/**
 * Block ids are sequential integers below 2^53, and block reports and image loads go
 * through them in id order. So ids keep their low RUN_BITS bits and only their run (id >>
 * RUN_BITS, low and high words mixed) is scattered: 64 ids in a row sit in 256 bytes of the
 * index, next to each other, and a report walks the index nearly in order instead of one
 * cache miss per replica (ten million blocks make a 128 MiB index). A lookup of an absent
 * id still ends at the first empty entry, a few runs away at most in a half-empty table.
 */
function hashOf(id: number): number {
  const lo = id >>> 0;
  const hi = (id / 0x1_0000_0000) >>> 0;
  const run = (lo >>> RUN_BITS) | (hi << (32 - RUN_BITS));
  const mixed = Math.imul(run ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
  return ((mixed << RUN_BITS) | (lo & ((1 << RUN_BITS) - 1))) >>> 0;
}

export class BlockSlots {
  files: Array<FileNode | undefined> = [];
  metas: Array<BlockMeta | undefined> = [];
  cells = new Uint16Array(1024 * CELLS);
  /** Holders beyond the inline cells, by slot. */
  readonly extra = new Map<number, number[]>();
  private index = new Int32Array(2048);
  private used = 0;
  /** Index entries taken: live plus deleted markers. */
  private taken = 0;
  private readonly free: number[] = [];
  private top = 0;
  /**
   * Holders ever added, those that went into an empty first cell (a slot's first holder;
   * or, after a removal left a hole there, one more: a count sooner, never later), and
   * slots ever removed: what safe mode's check reads (BlockManager.changeCounts).
   */
  holderAdds = 0;
  firstHolders = 0;
  removals = 0;

  get size(): number {
    return this.used;
  }

  /** Slots ever used (live ones are those with a file); for walking every block. */
  get highWater(): number {
    return this.top;
  }

  slotOf(blockId: number): number {
    const index = this.index;
    const mask = index.length - 1;
    for (let i = hashOf(blockId) & mask; ; i = (i + 1) & mask) {
      const v = index[i]!;
      if (v === EMPTY) return -1;
      if (v > 0 && this.metas[v - 1]!.blockId === blockId) return v - 1;
    }
  }

  /**
   * Makes room for `blocks` live blocks at once (a loaded image's), so that indexing it
   * neither rehashes nor regrows the cells on the way: at ten million blocks those
   * doublings walked every block again about twice.
   */
  reserve(blocks: number): void {
    if ((blocks + this.taken - this.used) * 2 > this.index.length) this.rehash(blocks);
    if (blocks * CELLS > this.cells.length) {
      const cells = new Uint16Array(blocks * CELLS);
      cells.set(this.cells);
      this.cells = cells;
    }
  }

  add(file: FileNode, meta: BlockMeta): number {
    if ((this.taken + 1) * 2 > this.index.length) this.rehash(this.used + 1);
    const slot = this.free.length > 0 ? this.free.pop()! : this.top++;
    if ((slot + 1) * CELLS > this.cells.length) {
      const cells = new Uint16Array(this.cells.length * 2);
      cells.set(this.cells);
      this.cells = cells;
    }
    this.files[slot] = file;
    this.metas[slot] = meta;
    this.cells.fill(0, slot * CELLS, slot * CELLS + CELLS);
    const index = this.index;
    const mask = index.length - 1;
    let i = hashOf(meta.blockId) & mask;
    while (index[i]! > 0) i = (i + 1) & mask;
    if (index[i] === EMPTY) this.taken++;
    index[i] = slot + 1;
    this.used++;
    return slot;
  }

  remove(slot: number): void {
    const index = this.index;
    const mask = index.length - 1;
    for (let i = hashOf(this.metas[slot]!.blockId) & mask; ; i = (i + 1) & mask) {
      if (index[i] === slot + 1) {
        index[i] = DELETED;
        break;
      }
    }
    this.files[slot] = undefined;
    this.metas[slot] = undefined;
    this.extra.delete(slot);
    this.free.push(slot);
    this.used--;
    this.removals++;
  }

  /**
   * A new index for `live` blocks, at most half full: at ten million blocks, 128 MiB
   * (13 bytes a block) where a quarter full took 256.
   */
  private rehash(live: number): void {
    let size = 2048;
    while (size < live * 2) size *= 2;
    const index = new Int32Array(size);
    const mask = size - 1;
    for (let s = 0; s < this.top; s++) {
      const meta = this.metas[s];
      if (meta === undefined) continue;
      let i = hashOf(meta.blockId) & mask;
      while (index[i] !== EMPTY) i = (i + 1) & mask;
      index[i] = s + 1;
    }
    this.index = index;
    this.taken = this.used;
  }

  // ---- holders of a slot ------------------------------------------------------------

  hasHolder(slot: number, node: number): boolean {
    const c = this.cells;
    const at = slot * CELLS;
    if (c[at] === node || c[at + 1] === node || c[at + 2] === node) return true;
    return this.extra.get(slot)?.includes(node) ?? false;
  }

  addHolder(slot: number, node: number): void {
    this.holderAdds++;
    const c = this.cells;
    const at = slot * CELLS;
    if (c[at] === 0) this.firstHolders++;
    for (let k = at; k < at + CELLS; k++) {
      if (c[k] === 0) {
        c[k] = node;
        return;
      }
    }
    let more = this.extra.get(slot);
    if (more === undefined) this.extra.set(slot, (more = []));
    more.push(node);
  }

  /** False when `node` was not a holder. */
  removeHolder(slot: number, node: number): boolean {
    const c = this.cells;
    const at = slot * CELLS;
    const more = this.extra.get(slot);
    for (let k = at; k < at + CELLS; k++) {
      if (c[k] !== node) continue;
      // Keep the cells dense: the first extra holder moves in.
      const moved = more?.pop();
      c[k] = moved ?? 0;
      if (more?.length === 0) this.extra.delete(slot);
      return true;
    }
    const i = more?.indexOf(node) ?? -1;
    if (i < 0) return false;
    more!.splice(i, 1);
    if (more!.length === 0) this.extra.delete(slot);
    return true;
  }

  holderCount(slot: number): number {
    const c = this.cells;
    const at = slot * CELLS;
    let n = 0;
    for (let k = at; k < at + CELLS; k++) if (c[k] !== 0) n++;
    return n + (this.extra.get(slot)?.length ?? 0);
  }

  forEachHolder(slot: number, fn: (node: number) => void): void {
    const c = this.cells;
    const at = slot * CELLS;
    for (let k = at; k < at + CELLS; k++) if (c[k] !== 0) fn(c[k]!);
    const more = this.extra.get(slot);
    if (more !== undefined) for (const n of more) fn(n);
  }

  clearHolders(slot: number): void {
    this.cells.fill(0, slot * CELLS, slot * CELLS + CELLS);
    this.extra.delete(slot);
  }
}
