/**
 * The compact node fields (inode.ts) read back exactly what was written: mtimes packed or
 * not (whole ms from 2000 to 2068 are packed; anything else is kept as it is), and the
 * mode, replication, recovering and writer flags that share one integer with the mtime's
 * ms; the block size kept with the interned owners; a file's blocks, held bare when there
 * is one, read the same through every accessor; and a file is the BlockMeta of its first
 * block once only, so a block's meta never comes to stand for another block.
 */
import { describe, expect, it } from 'vitest';
import { blockOf, DirNode, FileNode } from '../../src/namenode/inode.js';

const MTIMES = [
  0,
  -5,
  1.5,
  Date.UTC(2000, 0, 1),
  Date.UTC(2000, 0, 1) - 1,
  Date.UTC(2026, 11, 6, 12, 0, 0, 999),
  Date.UTC(2068, 0, 1),
  Date.UTC(2200, 0, 1),
  Number.MAX_SAFE_INTEGER,
];

describe('inode fields', () => {
  it('keeps every mtime exactly, packed or not, beside mode, replication and recovering', () => {
    for (const mtime of MTIMES) {
      const f = new FileNode('f', null, mtime, 32, 1024, null);
      f.mode = 0o640;
      f.recovering = true;
      expect(f.mtimeMs).toBe(mtime);
      expect([f.mode, f.replication, f.recovering]).toEqual([0o640, 32, true]);
      f.mtimeMs = mtime + 7;
      f.replication = 3;
      f.recovering = false;
      expect([f.mtimeMs, f.mode, f.replication, f.recovering]).toEqual([mtime + 7, 0o640, 3, false]);
      const d = new DirNode('d', null, mtime);
      d.mode = 0o1777;
      expect([d.mtimeMs, d.mode, d.kind, f.kind]).toEqual([mtime, 0o1777, 'dir', 'file']);
    }
  });

  it("reads a file's blocks the same whether it has none, one (held bare) or several", () => {
    const metas = [1, 2, 3].map((i) => ({ blockId: i, genStamp: 10 + i, numBytes: 100 * i }));
    const f = new FileNode('f', null, 0, 3, 1024, null);
    for (const n of [0, 1, 2, 3, 1, 0]) {
      f.blocks = metas.slice(0, n);
      expect(f.blocks).toEqual(metas.slice(0, n));
      expect([f.blockCount, f.lastBlock, f.length]).toEqual([n, metas[n - 1], (n * (n + 1) * 100) / 2]);
      for (let i = -1; i <= n; i++) expect(f.blockAt(i)).toBe(metas.slice(0, n)[i]);
      // The very objects namespace.ts changes in place after beforeWrite.
      if (n > 0) expect(f.blocks[n - 1]).toBe(metas[n - 1]);
    }
    // An array handed out cannot change the file: blocks change only through the setter.
    expect(() => (f.blocks as unknown as unknown[]).push(metas[0])).toThrow(TypeError);
  });

  it('keeps the writer and the block size apart from the owners, mode and flags', () => {
    const f = new FileNode('f', null, 5, 3, 4 * 1024 * 1024, 'client-1');
    f.setOwnership('alice', 'staff', 0o600);
    f.recovering = true;
    expect([f.clientName, f.underConstruction, f.blockBytes]).toEqual(['client-1', true, 4 * 1024 * 1024]);
    f.owner = 'bob';
    f.group = 'wheel';
    f.clientName = 'client-2';
    expect([f.owner, f.group, f.mode, f.blockBytes, f.clientName]).toEqual([
      'bob',
      'wheel',
      0o600,
      4194304,
      'client-2',
    ]);
    f.clientName = null;
    expect([f.clientName, f.underConstruction, f.recovering, f.replication, f.mtimeMs]).toEqual([
      null,
      false,
      true,
      3,
      5,
    ]);
    const g = new FileNode('g', null, 5, 1, 1024, null);
    g.setOwnership('bob', 'wheel', 0o600);
    expect([g.blockBytes, g.clientName, f.blockBytes]).toEqual([1024, null, 4194304]);
  });

  it("is its own first block's meta, once: a removed block's meta never changes for a later one", () => {
    const f = new FileNode('f', null, 0, 3, 1024, 'c');
    const first = f.newBlock(7, 70, 0);
    expect(first).toBe(f);
    f.blocks = [first];
    first.numBytes = 1024;
    const second = f.newBlock(8, 80, 0);
    expect(second).not.toBe(f);
    f.blocks = [first, second];
    expect(f.blocks.map(blockOf)).toEqual([
      { blockId: 7, genStamp: 70, numBytes: 1024 },
      { blockId: 8, genStamp: 80, numBytes: 0 },
    ]);
    expect(f.length).toBe(1024);
    // Both removed (a lease recovery dropping them, say): whoever was told keeps block 7.
    f.blocks = [];
    const again = f.newBlock(9, 90, 0);
    expect(again).not.toBe(f);
    f.blocks = [again];
    expect(blockOf(first)).toEqual({ blockId: 7, genStamp: 70, numBytes: 1024 });
    expect([f.lastBlock, f.length]).toEqual([again, 0]);
    // What leaves the NameNode is the block alone, never the file's other fields.
    expect(Object.keys(blockOf(first)).sort()).toEqual(['blockId', 'genStamp', 'numBytes']);
  });
});
