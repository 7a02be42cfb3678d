/**
 * The block slots' hash index (block-slots.ts) finds every live block and no other, for
 * ids in order (as reports and image loads come), ids past 2^32 and up to 2^53 - 1, after
 * removals (deleted markers) and through growth with and without `reserve`.
 */
import { describe, expect, it } from 'vitest';
import { BlockSlots } from '../../src/namenode/block-slots.js';
import type { BlockMeta, FileNode } from '../../src/namenode/inode.js';

const FILE = {} as FileNode;
const meta = (blockId: number): BlockMeta => ({ blockId, genStamp: 1, numBytes: 0 });

function idsOf(): number[] {
  const ids: number[] = [];
  for (let i = 1; i <= 20_000; i++) ids.push(i);
  for (let i = 0; i < 3_000; i++) ids.push(2 ** 32 - 1_500 + i);
  for (let i = 0; i < 1_000; i++) ids.push(Number.MAX_SAFE_INTEGER - i * 64);
  for (let i = 0; i < 2_000; i++) ids.push(7_000_000 + i * 4_096);
  return ids;
}

describe('BlockSlots', () => {
  it.each([false, true])('finds every live id and no other (reserve first: %s)', (reserve) => {
    const s = new BlockSlots();
    const ids = idsOf();
    if (reserve) s.reserve(ids.length);
    const slotOf = new Map(ids.map((id) => [id, s.add(FILE, meta(id))]));
    for (const id of ids) expect(s.slotOf(id)).toBe(slotOf.get(id));
    // Remove every third id, then add new ones (reusing slots) and check again.
    const removed = ids.filter((_, i) => i % 3 === 0);
    for (const id of removed) s.remove(slotOf.get(id)!);
    const added = Array.from({ length: 5_000 }, (_, i) => 50_000 + i);
    for (const id of added) slotOf.set(id, s.add(FILE, meta(id)));
    const gone = new Set(removed);
    for (const [id, slot] of slotOf) {
      expect(s.slotOf(id)).toBe(gone.has(id) ? -1 : slot);
      if (!gone.has(id)) expect(s.metas[slot]!.blockId).toBe(id);
    }
    for (const absent of [0, 20_001, 2 ** 32 + 1_500, 49_999, 55_000, Number.MAX_SAFE_INTEGER - 1])
      expect(s.slotOf(absent)).toBe(-1);
    expect(s.size).toBe(ids.length - removed.length + added.length);
  });
});
