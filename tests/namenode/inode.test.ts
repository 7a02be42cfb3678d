/**
 * The compact node fields (inode.ts) read back exactly what was written: mtimes packed or
 * not (whole ms from 2000 to 2068 are packed; anything else is kept as it is), and the
 * mode, replication and recovering flag that share one integer with the mtime's ms; a
 * file's blocks, held bare when there is one, read the same through every accessor.
 */
import { describe, expect, it } from 'vitest';
import { DirNode, FileNode } from '../../src/namenode/inode.js';

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
});
