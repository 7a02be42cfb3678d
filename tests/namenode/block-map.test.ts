/**
 * The block map's narrow methods (src/namenode/block-map.ts), alone, without a registry:
 *
 *   | test                      | checks                                                              |
 *   |---------------------------|---------------------------------------------------------------------|
 *   | blocks                    | add, entry, forEachBlock, blockIds, remove (its holders lose it)    |
 *   | addReplica                | each verdict; lengths of the block being written; both directions   |
 *   | corrupt and forgotten     | markCorrupt, forgetReplica, removeReplica, dropNode, forgetReplicas |
 *   | copies ordered deleted    | `deleting` until confirmed gone (reports, node dropped, block gone)  |
 *   | takeDirty                 | hands the set over once; what marks a block dirty and what does not |
 */
import { describe, expect, it } from 'vitest';
import { BlockMap, ReplicaVerdict } from '../../src/namenode/block-map.js';
import { FileNode, type BlockMeta } from '../../src/namenode/inode.js';
import { BlockColumns } from '../../protocol/shared-structures.js';

/** A map holding one file with `count` blocks of 10 bytes (ids 1..count), open for writing if `open`. */
function setup(count: number, open = false) {
  const map = new BlockMap();
  const file = new FileNode('f', null, 0, 3, 100, open ? 'writer' : null);
  const metas: BlockMeta[] = [];
  for (let i = 1; i <= count; i++) {
    const meta = { blockId: i, genStamp: 5, numBytes: 10 };
    file.blocks = [...file.blocks, meta];
    metas.push(meta);
    map.add(file, meta);
  }
  map.takeDirty();
  return { map, file, metas };
}

const sorted = (ids: Iterable<number>): number[] => [...ids].sort((a, b) => a - b);

describe('BlockMap: blocks', () => {
  it('add, entry, forEachBlock, blockIds and size', () => {
    const { map, file, metas } = setup(2);
    expect(map.size).toBe(2);
    expect(map.entry(1)).toMatchObject({ file, meta: metas[0], reportedBytes: -1 });
    expect([...map.entry(1)!.replicas, ...map.entry(1)!.corrupt]).toEqual([]);
    expect(map.entry(99)).toBeUndefined();
    const seen: number[] = [];
    map.forEachBlock((e) => seen.push(e.meta.blockId));
    expect(seen).toEqual([1, 2]);
    expect([...map.blockIds()]).toEqual([1, 2]);
  });

  it('remove returns what was known, and the holders no longer hold it', () => {
    const { map, metas } = setup(2);
    map.addReplica('dn-0', { ...metas[0]! });
    map.addReplica('dn-0', { ...metas[1]! });
    map.addReplica('dn-1', { ...metas[0]! });
    map.markCorrupt('dn-1', metas[0]!);
    const removed = map.remove(1)!;
    expect([...removed.replicas]).toEqual(['dn-0']);
    expect([...removed.corrupt]).toEqual(['dn-1']);
    expect(map.entry(1)).toBeUndefined();
    expect(sorted(map.heldBy('dn-0'))).toEqual([2]);
    expect(map.remove(1)).toBeUndefined();
  });
});

describe('BlockMap.addReplica', () => {
  it('INVALID for an unknown block, another generation stamp or a wrong length; nothing changes', () => {
    const { map } = setup(1);
    expect(map.addReplica('dn-0', { blockId: 9, genStamp: 5, numBytes: 10 })).toBe(ReplicaVerdict.INVALID);
    expect(map.addReplica('dn-0', { blockId: 1, genStamp: 4, numBytes: 10 })).toBe(ReplicaVerdict.INVALID);
    expect(map.addReplica('dn-0', { blockId: 1, genStamp: 5, numBytes: 11 })).toBe(ReplicaVerdict.INVALID);
    expect(map.entry(1)!.replicas.size).toBe(0);
    expect(map.heldBy('dn-0').size).toBe(0);
    expect(map.takeDirty().size).toBe(0);
  });

  it('ADDED once, then PRESENT; both directions of the index agree', () => {
    const { map } = setup(2);
    expect(map.addReplica('dn-0', { blockId: 2, genStamp: 5, numBytes: 10 })).toBe(ReplicaVerdict.ADDED);
    expect(sorted(map.takeDirty())).toEqual([2]);
    expect(map.addReplica('dn-0', { blockId: 2, genStamp: 5, numBytes: 10 })).toBe(ReplicaVerdict.PRESENT);
    expect(map.takeDirty().size).toBe(0); // a steady report dirties nothing
    expect([...map.entry(2)!.replicas]).toEqual(['dn-0']);
    expect(sorted(map.heldBy('dn-0'))).toEqual([2]);
  });

  it('the block being written takes any length and remembers the shortest; earlier blocks must match', () => {
    const { map } = setup(2, true);
    expect(map.addReplica('dn-0', { blockId: 2, genStamp: 5, numBytes: 7 })).toBe(ReplicaVerdict.ADDED);
    expect(map.addReplica('dn-1', { blockId: 2, genStamp: 5, numBytes: 4 })).toBe(ReplicaVerdict.ADDED);
    expect(map.addReplica('dn-2', { blockId: 2, genStamp: 5, numBytes: 9 })).toBe(ReplicaVerdict.ADDED);
    expect(map.entry(2)!.reportedBytes).toBe(4);
    expect(map.addReplica('dn-0', { blockId: 1, genStamp: 5, numBytes: 7 })).toBe(ReplicaVerdict.INVALID);
    expect(map.entry(1)!.reportedBytes).toBe(-1);
  });

  it('the block being written: an older stamp is PENDING from a node of its pipeline (append, recovery), INVALID from any other', () => {
    const { map, metas } = setup(1, true);
    metas[0]!.genStamp = 9; // reopened for append under a new stamp
    map.addUnfinished('dn-0', 1);
    expect(map.addReplica('dn-0', { blockId: 1, genStamp: 5, numBytes: 10 })).toBe(ReplicaVerdict.PENDING);
    expect(map.addReplica('dn-1', { blockId: 1, genStamp: 5, numBytes: 10 })).toBe(ReplicaVerdict.INVALID);
    expect([...map.entry(1)!.replicas]).toEqual([]);
  });

  it('CORRUPT for a node whose copy was found corrupt: it stays out of the readable replicas', () => {
    const { map, metas } = setup(1);
    map.addReplica('dn-0', { ...metas[0]! });
    expect(map.markCorrupt('dn-0', metas[0]!)).toBe(true);
    expect(map.addReplica('dn-0', { ...metas[0]! })).toBe(ReplicaVerdict.CORRUPT);
    expect(map.entry(1)!.replicas.size).toBe(0);
    expect(map.heldBy('dn-0').size).toBe(0);
  });
});

describe('BlockMap: corrupt, removed and forgotten replicas', () => {
  it('markCorrupt moves the replica to the corrupt set; another generation stamp changes nothing', () => {
    const { map, metas } = setup(1);
    map.addReplica('dn-0', { ...metas[0]! });
    map.addReplica('dn-1', { ...metas[0]! });
    map.takeDirty();
    expect(map.markCorrupt('dn-1', { ...metas[0]!, genStamp: 4 })).toBe(false);
    expect(map.markCorrupt('dn-1', { blockId: 9, genStamp: 5, numBytes: 10 })).toBe(false);
    expect(map.takeDirty().size).toBe(0);
    expect(map.markCorrupt('dn-1', metas[0]!)).toBe(true);
    expect([...map.entry(1)!.replicas]).toEqual(['dn-0']);
    expect([...map.entry(1)!.corrupt]).toEqual(['dn-1']);
    expect(map.heldBy('dn-1').size).toBe(0);
    expect(sorted(map.takeDirty())).toEqual([1]);
  });

  it('forgetReplica drops a good or corrupt copy from both directions without dirtying', () => {
    const { map, metas } = setup(1);
    map.addReplica('dn-0', { ...metas[0]! });
    map.addReplica('dn-1', { ...metas[0]! });
    map.markCorrupt('dn-1', metas[0]!);
    map.takeDirty();
    map.forgetReplica('dn-0', 1);
    map.forgetReplica('dn-1', 1);
    expect(map.entry(1)!.replicas.size + map.entry(1)!.corrupt.size).toBe(0);
    expect(map.heldBy('dn-0').size).toBe(0);
    expect(map.takeDirty().size).toBe(0);
  });

  it('removeReplica and dropNode dirty what they touch, and only that node loses replicas', () => {
    const { map, metas } = setup(3);
    for (const m of metas) {
      map.addReplica('dn-0', { ...m });
      map.addReplica('dn-1', { ...m });
    }
    map.takeDirty();
    map.removeReplica('dn-0', 3);
    expect(sorted(map.heldBy('dn-0'))).toEqual([1, 2]);
    expect([...map.entry(3)!.replicas]).toEqual(['dn-1']);
    expect(sorted(map.takeDirty())).toEqual([3]);
    map.dropNode('dn-0');
    expect(map.heldBy('dn-0').size).toBe(0);
    for (const m of metas) expect([...map.entry(m.blockId)!.replicas]).toEqual(['dn-1']);
    expect(sorted(map.takeDirty())).toEqual([1, 2]);
    map.dropNode('dn-never-seen');
    expect(map.takeDirty().size).toBe(0);
  });

  it('forgetReplicas (new generation stamp) clears good and corrupt replicas', () => {
    const { map, metas } = setup(1);
    map.addReplica('dn-0', { ...metas[0]! });
    map.addReplica('dn-1', { ...metas[0]! });
    map.markCorrupt('dn-1', metas[0]!);
    map.forgetReplicas(1);
    expect(map.entry(1)!.replicas.size + map.entry(1)!.corrupt.size).toBe(0);
    expect(map.heldBy('dn-0').size).toBe(0);
  });
});

describe('BlockMap: copies ordered deleted', () => {
  const deleting = (map: BlockMap, id: number): string[] => [...map.entry(id)!.deleting].sort();

  it('stay deleting until the node says so, a full report leaves them out, or the node is dropped', () => {
    const { map, metas } = setup(2);
    for (const n of ['dn-0', 'dn-1', 'dn-2']) for (const m of metas) map.addReplica(n, { ...m });
    map.forgetReplica('dn-0', 1);
    map.forgetReplica('dn-1', 1);
    map.forgetReplica('dn-2', 2);
    expect(deleting(map, 1)).toEqual(['dn-0', 'dn-1']);
    expect([...map.entry(1)!.replicas]).toEqual(['dn-2']);
    // An incremental report naming it deleted.
    map.removeReplica('dn-0', 1);
    expect(deleting(map, 1)).toEqual(['dn-1']);
    // A full report that still lists it leaves it deleting; one without it confirms it gone.
    map.nodeReported('dn-1', reportOf(metas[0]!.blockId));
    expect(deleting(map, 1)).toEqual(['dn-1']);
    map.nodeReported('dn-1', reportOf());
    expect(deleting(map, 1)).toEqual([]);
    // The node re-registers or dies: it is not waited for.
    map.dropNode('dn-2');
    expect(deleting(map, 2)).toEqual([]);
  });

  it('a copy reported valid again before the delete ran is a replica again; removal and a new stamp clear them', () => {
    const { map, metas } = setup(2);
    map.addReplica('dn-0', { ...metas[0]! });
    map.forgetReplica('dn-0', 1);
    expect(map.addReplica('dn-0', { ...metas[0]! })).toBe(ReplicaVerdict.ADDED);
    expect(deleting(map, 1)).toEqual([]);
    map.forgetReplica('dn-0', 1);
    map.forgetReplicas(1);
    expect(deleting(map, 1)).toEqual([]);
    map.addReplica('dn-1', { ...metas[1]! });
    map.forgetReplica('dn-1', 2);
    expect([...map.remove(2)!.deleting]).toEqual([]);
    // Nothing left behind in the per-node index: a later report has nothing to confirm.
    map.nodeReported('dn-1', reportOf());
    map.nodeReported('dn-0', reportOf());
  });
});

describe('BlockMap.takeDirty', () => {
  it('hands the dirty set over once; markDirty, markFileDirty and markHeldDirty fill it', () => {
    const { map, file, metas } = setup(3);
    map.markDirty(2);
    const taken = map.takeDirty();
    expect(sorted(taken)).toEqual([2]);
    expect(map.takeDirty().size).toBe(0);
    expect(sorted(taken)).toEqual([2]); // the handed-over set is not cleared under its holder
    map.markFileDirty(file);
    expect(sorted(map.takeDirty())).toEqual([1, 2, 3]);
    map.addReplica('dn-0', { ...metas[2]! });
    map.takeDirty();
    map.markHeldDirty('dn-0');
    map.markHeldDirty('dn-none');
    expect(sorted(map.takeDirty())).toEqual([3]);
  });
});

/** A full report of these block ids (their stamps and sizes do not matter to nodeReported). */
function reportOf(...blockIds: number[]): BlockColumns {
  const n = blockIds.length;
  return BlockColumns.fromArrays(Float64Array.from(blockIds), new Float64Array(n), new Float64Array(n));
}
