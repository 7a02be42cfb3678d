/**
 * Namespace semantics, one op at a time through the single mutation path `apply`: what each
 * op does, every error it can give (with its code), and the all-or-nothing rule: a failed op
 * leaves the tree byte-for-byte as it was (compared through a full serialization that also
 * covers the counters and the id allocators). A seeded random workload checks the same rule,
 * the counters and deterministic replay over thousands of ops.
 */
import { describe, expect, it } from 'vitest';
import { DfsError, type ErrorCode } from '../../protocol/errors.js';
import { FileType } from '../../protocol/shared-structures.js';
import { NONE, type EditOp } from '../../src/namenode/edit-ops.js';
import { blockOf, pathOf, type BlockMeta, type FileNode, type INode } from '../../src/namenode/inode.js';
import {
  BLOCK_BYTES_MAX,
  BLOCK_BYTES_MIN,
  Namespace,
  REPLICATION_MAX,
  type NamespaceListener,
} from '../../src/namenode/namespace.js';

// ---- helpers ---------------------------------------------------------------------------

const T0 = 1_000;
const BLOCK = 1024 * 1024;

const mkdir = (path: string, parents = false, mtimeMs = T0): EditOp => ({
  op: 'mkdir',
  path,
  parents,
  mtimeMs,
});
const create = (path: string, o: Partial<Extract<EditOp, { op: 'create' }>> = {}): EditOp => ({
  op: 'create',
  path,
  clientName: 'c1',
  overwrite: false,
  createParent: false,
  replication: 3,
  blockBytes: BLOCK,
  mtimeMs: T0,
  ...o,
});
const addBlock = (
  path: string,
  blockId: number,
  o: { clientName?: string; previousNumBytes?: number; genStamp?: number } = {},
): EditOp => ({
  op: 'addBlock',
  path,
  clientName: o.clientName ?? 'c1',
  previousNumBytes: o.previousNumBytes ?? NONE,
  blockId,
  genStamp: o.genStamp ?? 1,
});
const complete = (path: string, lastNumBytes = NONE, clientName = 'c1', mtimeMs = T0): EditOp => ({
  op: 'complete',
  path,
  clientName,
  lastNumBytes,
  mtimeMs,
});
const abandon = (path: string, blockId: number, clientName = 'c1'): EditOp => ({
  op: 'abandonBlock',
  path,
  clientName,
  blockId,
});
const del = (path: string, recursive = false, mtimeMs = T0): EditOp => ({
  op: 'delete',
  path,
  recursive,
  mtimeMs,
});
const rename = (src: string, dst: string, mtimeMs = T0): EditOp => ({ op: 'rename', src, dst, mtimeMs });
const closeFile = (path: string, keepBlocks: number, lastNumBytes = NONE, mtimeMs = T0): EditOp => ({
  op: 'closeFile',
  path,
  keepBlocks,
  lastNumBytes,
  mtimeMs,
});
const updateBlock = (path: string, blockId: number, genStamp: number, numBytes = NONE): EditOp => ({
  op: 'updateBlock',
  path,
  blockId,
  genStamp,
  numBytes,
});

/** A canonical serialization of everything a namespace holds (tree, counters, allocators). */
function dump(ns: Namespace): string {
  const walk = (n: INode): unknown =>
    n.kind === 'dir'
      ? { d: n.name, m: n.mtimeMs, c: [...n.children.keys()].sort().map((k) => walk(n.children.get(k)!)) }
      : {
          f: n.name,
          m: n.mtimeMs,
          r: n.replication,
          bb: n.blockBytes,
          cl: n.clientName,
          b: n.blocks.map((b) => [b.blockId, b.genStamp, b.numBytes]),
        };
  return JSON.stringify({
    root: walk(ns.root),
    nextBlockId: ns.nextBlockId,
    nextGenStamp: ns.nextGenStamp,
    fileCount: ns.fileCount,
    dirCount: ns.dirCount,
    blockCount: ns.blockCount,
  });
}

/** Recounts the tree and checks the counters and parent links against it. */
function checkInvariants(ns: Namespace): void {
  let files = 0;
  let dirs = 0;
  let blocks = 0;
  const stack: INode[] = [ns.root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n.kind === 'dir') {
      dirs++;
      for (const [name, child] of n.children) {
        expect(child.name).toBe(name);
        expect(child.parent).toBe(n);
        stack.push(child);
      }
    } else {
      files++;
      blocks += n.blocks.length;
    }
  }
  expect({ files: ns.fileCount, dirs: ns.dirCount, blocks: ns.blockCount }).toEqual({ files, dirs, blocks });
}

function codeOf(fn: () => unknown): ErrorCode | 'none' {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof DfsError)) throw err;
    return err.code;
  }
  return 'none';
}

/** Applies `op`, expects `code`, and checks the namespace did not change at all. */
function expectRefused(ns: Namespace, op: EditOp, code: ErrorCode): void {
  const before = dump(ns);
  expect(codeOf(() => ns.apply(op))).toBe(code);
  expect(dump(ns)).toBe(before);
}

function fresh(...ops: EditOp[]): Namespace {
  const ns = new Namespace();
  for (const op of ops) ns.apply(op);
  return ns;
}

function fileAt(ns: Namespace, path: string): FileNode {
  return ns.file(path);
}

// ---- mkdir -----------------------------------------------------------------------------

describe('mkdir', () => {
  it('creates one directory under an existing parent and stamps the parent', () => {
    const ns = fresh(mkdir('/a'));
    ns.apply(mkdir('/a/b', false, 5_000));
    expect(ns.stat('/a/b')).toMatchObject({
      path: '/a/b',
      type: FileType.DIRECTORY,
      childCount: 0,
      mtimeMs: 5_000,
    });
    expect(ns.stat('/a')).toMatchObject({ childCount: 1, mtimeMs: 5_000 });
    expect(ns.dirCount).toBe(3);
    checkInvariants(ns);
  });

  it('with parents creates every missing level, and is a no-op on an existing directory', () => {
    const ns = fresh(mkdir('/a'));
    ns.apply(mkdir('/a/b/c/d', true));
    expect(ns.stat('/a/b/c/d').type).toBe(FileType.DIRECTORY);
    expect(ns.dirCount).toBe(5);
    const before = dump(ns);
    ns.apply(mkdir('/a/b/c/d', true, 99_999));
    ns.apply(mkdir('/a/b', true, 99_999));
    ns.apply(mkdir('/', true, 99_999));
    expect(dump(ns)).toBe(before);
    checkInvariants(ns);
  });

  it('without parents: ALREADY_EXISTS for an existing directory (and for the root)', () => {
    const ns = fresh(mkdir('/a'));
    expectRefused(ns, mkdir('/a'), 'ALREADY_EXISTS');
    expectRefused(ns, mkdir('/'), 'ALREADY_EXISTS');
  });

  it('without parents: NOT_FOUND when the parent is missing, and nothing is half-created', () => {
    const ns = fresh(mkdir('/a'));
    expectRefused(ns, mkdir('/a/x/y'), 'NOT_FOUND');
    expectRefused(ns, mkdir('/x/y/z'), 'NOT_FOUND');
  });

  it('NOT_A_DIRECTORY through a file, with or without parents; a file in the way of the leaf too', () => {
    const ns = fresh(mkdir('/a'), create('/a/f'));
    expectRefused(ns, mkdir('/a/f/x'), 'NOT_A_DIRECTORY');
    expectRefused(ns, mkdir('/a/f/x/y', true), 'NOT_A_DIRECTORY');
    expectRefused(ns, mkdir('/a/f'), 'NOT_A_DIRECTORY');
    expectRefused(ns, mkdir('/a/f', true), 'NOT_A_DIRECTORY');
  });

  it('INVALID_PATH for a malformed path', () => {
    const ns = fresh();
    expectRefused(ns, mkdir('a'), 'INVALID_PATH');
    expectRefused(ns, mkdir('/a/'), 'INVALID_PATH');
    expectRefused(ns, mkdir('/a/../b', true), 'INVALID_PATH');
  });
});

// ---- create ----------------------------------------------------------------------------

describe('create', () => {
  it('creates an open file owned by the client', () => {
    const ns = fresh(mkdir('/d'));
    ns.apply(create('/d/f', { replication: 2, blockBytes: 4096, mtimeMs: 7_000 }));
    expect(ns.stat('/d/f')).toEqual({
      path: '/d/f',
      type: FileType.FILE,
      length: 0,
      replication: 2,
      blockBytes: 4096,
      mtimeMs: 7_000,
      blockCount: 0,
      underConstruction: true,
      childCount: 0,
      // A record without an owner (as written before owners) makes a node of the defaults.
      owner: ns.owners.superuser,
      group: ns.owners.supergroup,
      permission: 0o644,
    });
    expect(fileAt(ns, '/d/f').clientName).toBe('c1');
    expect(ns.stat('/d').mtimeMs).toBe(7_000);
    expect(ns.fileCount).toBe(1);
    checkInvariants(ns);
  });

  it('NOT_FOUND for a missing parent unless createParent, which makes every level', () => {
    const ns = fresh();
    expectRefused(ns, create('/x/y/f'), 'NOT_FOUND');
    ns.apply(create('/x/y/f', { createParent: true }));
    expect(ns.stat('/x/y').type).toBe(FileType.DIRECTORY);
    expect(ns.stat('/x/y/f').type).toBe(FileType.FILE);
    expect({ files: ns.fileCount, dirs: ns.dirCount }).toEqual({ files: 1, dirs: 3 });
    checkInvariants(ns);
  });

  it('NOT_A_DIRECTORY through a file, with createParent too, and creates no directory on the way', () => {
    const ns = fresh(mkdir('/a'), create('/a/f'));
    expectRefused(ns, create('/a/f/g'), 'NOT_A_DIRECTORY');
    expectRefused(ns, create('/a/f/g', { createParent: true }), 'NOT_A_DIRECTORY');
    expectRefused(ns, create('/a/f/x/g', { createParent: true }), 'NOT_A_DIRECTORY');
  });

  it('IS_A_DIRECTORY on a directory or the root, even with overwrite', () => {
    const ns = fresh(mkdir('/a'));
    expectRefused(ns, create('/a'), 'IS_A_DIRECTORY');
    expectRefused(ns, create('/a', { overwrite: true }), 'IS_A_DIRECTORY');
    expectRefused(ns, create('/'), 'IS_A_DIRECTORY');
  });

  it('ALREADY_EXISTS on an existing file without overwrite', () => {
    const ns = fresh(create('/f'), complete('/f'));
    expectRefused(ns, create('/f'), 'ALREADY_EXISTS');
    expectRefused(ns, create('/f', { clientName: 'c2' }), 'ALREADY_EXISTS');
  });

  it('overwrite replaces a closed file and drops its blocks (listeners hear of it)', () => {
    const removed: string[] = [];
    const ns = fresh(
      create('/f'),
      addBlock('/f', 1),
      addBlock('/f', 2, { previousNumBytes: BLOCK }),
      complete('/f', 10),
    );
    ns.addListener(listener({ fileRemoved: (f) => removed.push(`${f.name}:${f.blocks.length}`) }));
    expect(ns.blockCount).toBe(2);
    ns.apply(create('/f', { overwrite: true, clientName: 'c2', mtimeMs: 9_000 }));
    expect(removed).toEqual(['f:2']);
    expect(ns.stat('/f')).toMatchObject({
      length: 0,
      blockCount: 0,
      underConstruction: true,
      mtimeMs: 9_000,
    });
    expect({ files: ns.fileCount, blocks: ns.blockCount }).toEqual({ files: 1, blocks: 0 });
    checkInvariants(ns);
  });

  it("LEASE_CONFLICT for another client's open file, even with overwrite; the holder may overwrite", () => {
    const ns = fresh(create('/f'));
    expectRefused(ns, create('/f', { clientName: 'c2' }), 'LEASE_CONFLICT');
    expectRefused(ns, create('/f', { clientName: 'c2', overwrite: true }), 'LEASE_CONFLICT');
    expectRefused(ns, create('/f'), 'ALREADY_EXISTS');
    ns.apply(create('/f', { overwrite: true }));
    expect(ns.fileCount).toBe(1);
  });

  it('INVALID_ARGUMENT for replication or block size out of range; the bounds themselves are accepted', () => {
    const ns = fresh();
    expectRefused(ns, create('/f', { replication: 0 }), 'INVALID_ARGUMENT');
    expectRefused(ns, create('/f', { replication: REPLICATION_MAX + 1 }), 'INVALID_ARGUMENT');
    expectRefused(ns, create('/f', { blockBytes: BLOCK_BYTES_MIN - 1 }), 'INVALID_ARGUMENT');
    expectRefused(ns, create('/f', { blockBytes: BLOCK_BYTES_MAX + 1 }), 'INVALID_ARGUMENT');
    // Checked before createParent makes any directory.
    expectRefused(ns, create('/p/q/f', { replication: 0, createParent: true }), 'INVALID_ARGUMENT');
    ns.apply(create('/r1', { replication: 1, blockBytes: BLOCK_BYTES_MIN }));
    ns.apply(create('/rmax', { replication: REPLICATION_MAX, blockBytes: BLOCK_BYTES_MAX }));
    expect(ns.fileCount).toBe(2);
  });
});

// ---- addBlock / complete / abandonBlock -------------------------------------------------

describe('addBlock, complete, abandonBlock', () => {
  it('addBlock appends blocks, commits the previous length and advances the id allocators', () => {
    const added: number[] = [];
    const ns = fresh(create('/f', { blockBytes: 4096 }));
    ns.addListener(listener({ blockAdded: (_f, b) => added.push(b.blockId) }));
    ns.apply(addBlock('/f', 10, { genStamp: 100 }));
    ns.apply(addBlock('/f', 11, { previousNumBytes: 4096, genStamp: 101 }));
    const f = fileAt(ns, '/f');
    expect(f.blocks.map(blockOf)).toEqual([
      { blockId: 10, genStamp: 100, numBytes: 4096 },
      { blockId: 11, genStamp: 101, numBytes: 0 },
    ]);
    expect(added).toEqual([10, 11]);
    expect(ns.nextBlockId).toBe(12);
    expect(ns.nextGenStamp).toBe(102);
    expect(ns.allocateBlockId()).toBe(12);
    expect(ns.allocateGenStamp()).toBe(102);
    expect(ns.blockCount).toBe(2);
    checkInvariants(ns);
  });

  it('complete commits the last length, closes the file and stamps it', () => {
    const closed: string[] = [];
    const ns = fresh(
      create('/f', { blockBytes: 4096 }),
      addBlock('/f', 1),
      addBlock('/f', 2, { previousNumBytes: 4096 }),
    );
    ns.addListener(listener({ fileClosed: (f, c) => closed.push(`${f.name}:${c}`) }));
    ns.apply(complete('/f', 123, 'c1', 8_000));
    expect(ns.stat('/f')).toMatchObject({
      length: 4096 + 123,
      blockCount: 2,
      underConstruction: false,
      mtimeMs: 8_000,
    });
    expect(closed).toEqual(['f:c1']);
    // A second complete: the file is no longer open.
    expectRefused(ns, complete('/f', 123), 'NO_LEASE');
  });

  it('complete of an empty file with no length', () => {
    const ns = fresh(create('/f'));
    ns.apply(complete('/f'));
    expect(ns.stat('/f')).toMatchObject({ length: 0, blockCount: 0, underConstruction: false });
  });

  it('NO_LEASE when the file is not open; LEASE_CONFLICT for the wrong client; NOT_FOUND / IS_A_DIRECTORY', () => {
    const ns = fresh(
      mkdir('/d'),
      create('/closed'),
      complete('/closed'),
      create('/open'),
      addBlock('/open', 1),
    );
    for (const op of [addBlock('/closed', 5), complete('/closed'), abandon('/closed', 1)])
      expectRefused(ns, op, 'NO_LEASE');
    for (const op of [
      addBlock('/open', 5, { clientName: 'c2' }),
      complete('/open', NONE, 'c2'),
      abandon('/open', 1, 'c2'),
    ]) {
      expectRefused(ns, op, 'LEASE_CONFLICT');
    }
    for (const op of [addBlock('/nope', 5), complete('/nope'), abandon('/nope', 1)])
      expectRefused(ns, op, 'NOT_FOUND');
    for (const op of [addBlock('/d', 5), complete('/d'), abandon('/d', 1)])
      expectRefused(ns, op, 'IS_A_DIRECTORY');
  });

  it('INVALID_ARGUMENT for a length without a block, or a length above the block size', () => {
    const ns = fresh(create('/f', { blockBytes: 4096 }));
    expectRefused(ns, addBlock('/f', 1, { previousNumBytes: 0 }), 'INVALID_ARGUMENT');
    expectRefused(ns, complete('/f', 10), 'INVALID_ARGUMENT');
    ns.apply(addBlock('/f', 1));
    expectRefused(ns, addBlock('/f', 2, { previousNumBytes: 4097 }), 'INVALID_ARGUMENT');
    expectRefused(ns, complete('/f', 4097), 'INVALID_ARGUMENT');
  });

  it('abandonBlock removes only the last block', () => {
    const removed: number[] = [];
    const ns = fresh(
      create('/f', { blockBytes: 4096 }),
      addBlock('/f', 1),
      addBlock('/f', 2, { previousNumBytes: 4096 }),
    );
    ns.addListener(listener({ blocksRemoved: (bs) => removed.push(...bs.map((b) => b.blockId)) }));
    expectRefused(ns, abandon('/f', 1), 'INVALID_ARGUMENT');
    expectRefused(ns, abandon('/f', 99), 'INVALID_ARGUMENT');
    ns.apply(abandon('/f', 2));
    expect(fileAt(ns, '/f').blocks.map((b) => b.blockId)).toEqual([1]);
    expect(removed).toEqual([2]);
    expect(ns.blockCount).toBe(1);
    ns.apply(abandon('/f', 1));
    expectRefused(ns, abandon('/f', 1), 'INVALID_ARGUMENT');
    expect(ns.blockCount).toBe(0);
    checkInvariants(ns);
  });
});

// ---- delete ----------------------------------------------------------------------------

describe('delete', () => {
  it('deletes a file and stamps the parent', () => {
    const ns = fresh(mkdir('/d'), create('/d/f'), addBlock('/d/f', 1));
    ns.apply(del('/d/f', false, 6_000));
    expect(ns.lookup('/d/f')).toBeNull();
    expect(ns.stat('/d').mtimeMs).toBe(6_000);
    expect({ files: ns.fileCount, blocks: ns.blockCount }).toEqual({ files: 0, blocks: 0 });
  });

  it('deletes an empty directory without recursive; NOT_EMPTY for a non-empty one', () => {
    const ns = fresh(mkdir('/e'), mkdir('/d'), create('/d/f'));
    ns.apply(del('/e'));
    expect(ns.lookup('/e')).toBeNull();
    expectRefused(ns, del('/d'), 'NOT_EMPTY');
  });

  it('recursive removes the subtree, fixes every counter and reports every file', () => {
    const removed: string[] = [];
    const ns = fresh(
      mkdir('/d/x/y', true),
      create('/d/f1'),
      addBlock('/d/f1', 1),
      create('/d/x/f2'),
      addBlock('/d/x/f2', 2),
      addBlock('/d/x/f2', 3, { previousNumBytes: 5 }),
      create('/d/x/y/f3'),
      create('/keep'),
      addBlock('/keep', 4),
    );
    ns.addListener(listener({ fileRemoved: (f) => removed.push(f.name) }));
    ns.apply(del('/d', true));
    expect(removed.sort()).toEqual(['f1', 'f2', 'f3']);
    expect({ files: ns.fileCount, dirs: ns.dirCount, blocks: ns.blockCount }).toEqual({
      files: 1,
      dirs: 1,
      blocks: 1,
    });
    checkInvariants(ns);
  });

  it('NOT_FOUND for a missing path; the root is refused', () => {
    const ns = fresh(mkdir('/d'));
    expectRefused(ns, del('/nope'), 'NOT_FOUND');
    expectRefused(ns, del('/d/nope/deeper'), 'NOT_FOUND');
    expectRefused(ns, del('/', true), 'INVALID_ARGUMENT');
    expectRefused(ns, del('/'), 'INVALID_ARGUMENT');
  });
});

// ---- rename ----------------------------------------------------------------------------

describe('rename', () => {
  it('renames a file within and across directories, stamping both parents', () => {
    const ns = fresh(mkdir('/a'), mkdir('/b'), create('/a/f'), addBlock('/a/f', 1));
    const node = fileAt(ns, '/a/f');
    ns.apply(rename('/a/f', '/a/g', 2_000));
    ns.apply(rename('/a/g', '/b/h', 3_000));
    expect(ns.lookup('/a/f')).toBeNull();
    expect(ns.lookup('/a/g')).toBeNull();
    expect(ns.lookup('/b/h')).toBe(node);
    expect(pathOf(node)).toBe('/b/h');
    expect(ns.stat('/a').mtimeMs).toBe(3_000);
    expect(ns.stat('/b').mtimeMs).toBe(3_000);
    // Still open, still its writer's: blocks can be added at the new path.
    ns.apply(addBlock('/b/h', 2, { previousNumBytes: 10 }));
    checkInvariants(ns);
  });

  it('renames a directory with its subtree', () => {
    const ns = fresh(mkdir('/a/b/c', true), create('/a/b/c/f'), mkdir('/z'));
    ns.apply(rename('/a/b', '/z/bb'));
    expect(ns.stat('/z/bb/c/f').type).toBe(FileType.FILE);
    expect(ns.lookup('/a/b')).toBeNull();
    expect(pathOf(ns.lookup('/z/bb/c/f')!)).toBe('/z/bb/c/f');
    expect(ns.dirCount).toBe(5);
    checkInvariants(ns);
  });

  it('onto an existing directory moves the source inside it (HDFS semantics)', () => {
    const ns = fresh(mkdir('/a'), mkdir('/dst'), create('/f'), mkdir('/a/sub'));
    ns.apply(rename('/f', '/dst'));
    ns.apply(rename('/a', '/dst'));
    expect(ns.stat('/dst/f').type).toBe(FileType.FILE);
    expect(ns.stat('/dst/a/sub').type).toBe(FileType.DIRECTORY);
    expect(ns.list('/', '', 100).entries.map((e) => e.path)).toEqual(['dst']);
    checkInvariants(ns);
  });

  it('ALREADY_EXISTS when the destination (or the name inside a destination directory) exists', () => {
    const ns = fresh(mkdir('/a'), mkdir('/d'), create('/f'), create('/g'), create('/d/f'), mkdir('/d/a'));
    expectRefused(ns, rename('/f', '/g'), 'ALREADY_EXISTS');
    expectRefused(ns, rename('/a', '/g'), 'ALREADY_EXISTS');
    expectRefused(ns, rename('/f', '/d'), 'ALREADY_EXISTS');
    expectRefused(ns, rename('/a', '/d'), 'ALREADY_EXISTS');
  });

  it('NOT_FOUND for a missing source or a missing destination parent', () => {
    const ns = fresh(mkdir('/a'), create('/f'));
    expectRefused(ns, rename('/nope', '/x'), 'NOT_FOUND');
    expectRefused(ns, rename('/nope', '/nope'), 'NOT_FOUND');
    expectRefused(ns, rename('/f', '/missing/x'), 'NOT_FOUND');
    expectRefused(ns, rename('/a', '/missing/deeper/x'), 'NOT_FOUND');
  });

  it('NOT_A_DIRECTORY when the destination parent is a file', () => {
    const ns = fresh(create('/f'), create('/g'));
    expectRefused(ns, rename('/g', '/f/x'), 'NOT_A_DIRECTORY');
    expectRefused(ns, rename('/f', '/f/x'), 'NOT_A_DIRECTORY');
  });

  it('INVALID_ARGUMENT for a directory into itself or a descendant, and for the root', () => {
    const ns = fresh(mkdir('/a/b/c', true));
    expectRefused(ns, rename('/a', '/a/x'), 'INVALID_ARGUMENT');
    expectRefused(ns, rename('/a', '/a/b'), 'INVALID_ARGUMENT'); // /a/b exists: would become /a/b/a
    expectRefused(ns, rename('/a', '/a/b/c/d'), 'INVALID_ARGUMENT');
    expectRefused(ns, rename('/a/b', '/a/b/c'), 'INVALID_ARGUMENT');
    expectRefused(ns, rename('/', '/x'), 'INVALID_ARGUMENT');
    // Component-wise, not by string prefix: /ab is not beneath /a.
    ns.apply(rename('/a', '/ab'));
    expect(ns.stat('/ab/b/c').type).toBe(FileType.DIRECTORY);
  });

  it('rename to itself is a successful no-op, for a file and a directory', () => {
    const ns = fresh(mkdir('/a/b', true), create('/a/f'));
    const before = dump(ns);
    ns.apply(rename('/a/f', '/a/f', 50_000));
    ns.apply(rename('/a/b', '/a/b', 50_000));
    expect(dump(ns)).toBe(before);
  });

  it('rename into the directory that already holds the source is a no-op (it resolves to itself), for files and directories', () => {
    const ns = fresh(mkdir('/a/b', true), create('/a/f'), mkdir('/top'));
    const before = dump(ns);
    ns.apply(rename('/a/f', '/a', 50_000));
    ns.apply(rename('/a/b', '/a', 50_000));
    ns.apply(rename('/top', '/', 50_000));
    expect(dump(ns)).toBe(before);
  });
});

// ---- list and stat ---------------------------------------------------------------------

describe('list and stat', () => {
  it('pages 2,500 children in sorted order with startAfter / limit / hasMore', () => {
    const ns = fresh(mkdir('/big'));
    const names: string[] = [];
    for (let i = 0; i < 2500; i++) names.push(`n${((i * 7919) % 2500).toString().padStart(4, '0')}`);
    for (const [i, name] of names.entries()) {
      ns.apply(i % 3 === 0 ? mkdir(`/big/${name}`) : create(`/big/${name}`));
    }
    const expected = [...names].sort();
    const seen: string[] = [];
    let startAfter = '';
    let pages = 0;
    for (;;) {
      const page = ns.list('/big', startAfter, 1000);
      pages++;
      seen.push(...page.entries.map((e) => e.path));
      if (!page.hasMore) break;
      expect(page.entries).toHaveLength(1000);
      startAfter = page.entries[page.entries.length - 1]!.path;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(expected);

    // startAfter need not be a present name: the page starts at the first greater name.
    const mid = ns.list('/big', 'n1234x', 3);
    expect(mid.entries.map((e) => e.path)).toEqual(['n1235', 'n1236', 'n1237']);
    expect(mid.hasMore).toBe(true);
    const tail = ns.list('/big', 'n2497', 10);
    expect(tail).toMatchObject({ hasMore: false });
    expect(tail.entries.map((e) => e.path)).toEqual(['n2498', 'n2499']);
    expect(ns.list('/big', 'zzz', 10)).toEqual({ entries: [], hasMore: false });
    expect(ns.list('/big', '', 2500).hasMore).toBe(false);
    expect(ns.list('/big', '', 2499).hasMore).toBe(true);

    // The sorted view follows changes.
    ns.apply(create('/big/a-first'));
    ns.apply(del('/big/n0000'));
    expect(ns.list('/big', '', 2).entries.map((e) => e.path)).toEqual(['a-first', 'n0001']);
    expect(ns.stat('/big').childCount).toBe(2500);
  });

  it('entries carry child names and full status; a file lists as itself', () => {
    const ns = fresh(
      mkdir('/d'),
      mkdir('/d/sub'),
      create('/d/f', { blockBytes: 4096 }),
      addBlock('/d/f', 1),
      complete('/d/f', 100),
    );
    expect(ns.list('/d', '', 10).entries).toEqual([
      { ...ns.stat('/d/f'), path: 'f' },
      { ...ns.stat('/d/sub'), path: 'sub' },
    ]);
    expect(ns.list('/d/f', '', 10)).toEqual({ entries: [{ ...ns.stat('/d/f'), path: 'f' }], hasMore: false });
  });

  it('stat of the root, a directory and a file; NOT_FOUND otherwise; INVALID_PATH for a bad path', () => {
    const ns = fresh(mkdir('/d'), create('/d/f'));
    expect(ns.stat('/')).toMatchObject({ path: '/', type: FileType.DIRECTORY, childCount: 1 });
    expect(ns.stat('/d/f')).toMatchObject({ path: '/d/f', type: FileType.FILE, underConstruction: true });
    expect(codeOf(() => ns.stat('/nope'))).toBe('NOT_FOUND');
    expect(codeOf(() => ns.stat('/d/f/x'))).toBe('NOT_FOUND');
    expect(codeOf(() => ns.list('/nope', '', 10))).toBe('NOT_FOUND');
    expect(codeOf(() => ns.stat('d'))).toBe('INVALID_PATH');
  });
});

// ---- closeFile and updateBlock (recovery) ---------------------------------------------------

describe('closeFile (lease recovery) and updateBlock (pipeline recovery)', () => {
  it('closeFile keeps the first blocks, fixes the last length, closes, and reports dropped blocks', () => {
    const events: string[] = [];
    const ns = fresh(
      create('/f', { blockBytes: 4096 }),
      addBlock('/f', 1),
      addBlock('/f', 2, { previousNumBytes: 4096 }),
      addBlock('/f', 3, { previousNumBytes: 4096 }),
    );
    ns.addListener(
      listener({
        blocksRemoved: (bs) => events.push(`removed:${bs.map((b) => b.blockId).join(',')}`),
        fileClosed: (f, c) => events.push(`closed:${f.name}:${c}`),
      }),
    );
    ns.apply(closeFile('/f', 2, 777, 4_000));
    expect(fileAt(ns, '/f').blocks.map(blockOf)).toEqual([
      { blockId: 1, genStamp: 1, numBytes: 4096 },
      { blockId: 2, genStamp: 1, numBytes: 777 },
    ]);
    expect(ns.stat('/f')).toMatchObject({ underConstruction: false, mtimeMs: 4_000, length: 4096 + 777 });
    expect(events).toEqual(['removed:3', 'closed:f:c1']);
    expect(ns.blockCount).toBe(2);
    checkInvariants(ns);
  });

  it('closeFile with no length keeps the lengths; keeping zero blocks empties the file', () => {
    const ns = fresh(create('/f'), addBlock('/f', 1), create('/g'), addBlock('/g', 2));
    ns.apply(closeFile('/f', 1));
    expect(fileAt(ns, '/f').blocks[0]!.numBytes).toBe(0);
    ns.apply(closeFile('/g', 0, 5));
    expect(ns.stat('/g')).toMatchObject({ blockCount: 0, length: 0, underConstruction: false });
    expect(ns.blockCount).toBe(1);
  });

  it('closeFile refuses a closed file, too many blocks, a directory and a missing path', () => {
    const ns = fresh(mkdir('/d'), create('/f'), addBlock('/f', 1), create('/done'), complete('/done'));
    expectRefused(ns, closeFile('/done', 0), 'INVALID_ARGUMENT');
    expectRefused(ns, closeFile('/f', 2), 'INVALID_ARGUMENT');
    expectRefused(ns, closeFile('/d', 0), 'IS_A_DIRECTORY');
    expectRefused(ns, closeFile('/nope', 0), 'NOT_FOUND');
  });

  it('updateBlock bumps the generation stamp (and the allocator), optionally the length', () => {
    const ns = fresh(
      create('/f'),
      addBlock('/f', 1, { genStamp: 5 }),
      addBlock('/f', 2, { previousNumBytes: 100, genStamp: 6 }),
    );
    ns.apply(updateBlock('/f', 2, 20, 50));
    ns.apply(updateBlock('/f', 1, 21));
    expect(fileAt(ns, '/f').blocks.map(blockOf)).toEqual([
      { blockId: 1, genStamp: 21, numBytes: 100 },
      { blockId: 2, genStamp: 20, numBytes: 50 },
    ]);
    expect(ns.nextGenStamp).toBe(22);
    // Works on a closed file too (a late recovery of a replica); the allocator only grows.
    ns.apply(complete('/f', 60));
    ns.apply(updateBlock('/f', 2, 21));
    expect(ns.nextGenStamp).toBe(22);
  });

  it('updateBlock refuses a stale or equal stamp, an unknown block, a directory and a missing path', () => {
    const ns = fresh(mkdir('/d'), create('/f'), addBlock('/f', 1, { genStamp: 5 }));
    expectRefused(ns, updateBlock('/f', 1, 5), 'STALE_GENERATION');
    expectRefused(ns, updateBlock('/f', 1, 4, 10), 'STALE_GENERATION');
    expectRefused(ns, updateBlock('/f', 2, 9), 'NOT_FOUND');
    expectRefused(ns, updateBlock('/d', 1, 9), 'IS_A_DIRECTORY');
    expectRefused(ns, updateBlock('/nope', 1, 9), 'NOT_FOUND');
  });
});

// ---- a seeded random workload ------------------------------------------------------------

describe('random workload (seeded)', () => {
  it('keeps the counters right, leaves the tree unchanged on every refusal, and replays deterministically', () => {
    const rand = mulberry32(0x5eed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const paths = [
      '/',
      '/a',
      '/a/b',
      '/a/b/c',
      '/a/f',
      '/a/b/f',
      '/b',
      '/b/f',
      '/f',
      '/g',
      '/a/b/c/f',
      '/b/a',
    ];
    const clients = ['c1', 'c2'];
    const ns = new Namespace();
    const applied: EditOp[] = [];
    const codes = new Map<string, number>();
    let t = T0;
    for (let i = 0; i < 4000; i++) {
      t += 1;
      const path = pick(paths);
      const node = path === '/' ? ns.root : ns.lookup(path);
      const last = node?.kind === 'file' ? node.blocks[node.blocks.length - 1] : undefined;
      let op: EditOp;
      switch (Math.floor(rand() * 9)) {
        case 0:
          op = mkdir(path, rand() < 0.5, t);
          break;
        case 1:
          op = create(path, {
            clientName: pick(clients),
            overwrite: rand() < 0.3,
            createParent: rand() < 0.5,
            mtimeMs: t,
            replication: rand() < 0.05 ? 0 : 3,
            blockBytes: 4096,
          });
          break;
        case 2:
          op = addBlock(path, ns.nextBlockId, {
            clientName: pick(clients),
            genStamp: ns.nextGenStamp,
            previousNumBytes: rand() < 0.5 ? NONE : Math.floor(rand() * 5000),
          });
          break;
        case 3:
          op = abandon(path, last !== undefined && rand() < 0.8 ? last.blockId : 12345, pick(clients));
          break;
        case 4:
          op = complete(path, rand() < 0.5 ? NONE : Math.floor(rand() * 5000), pick(clients), t);
          break;
        case 5:
          op = del(path, rand() < 0.5, t);
          break;
        case 6:
          op = rename(path, pick(paths), t);
          break;
        case 7:
          op = closeFile(path, Math.floor(rand() * 3), rand() < 0.5 ? NONE : 7, t);
          break;
        default:
          op = updateBlock(path, last?.blockId ?? 1, (last?.genStamp ?? 0) + (rand() < 0.8 ? 1 : 0), NONE);
          break;
      }
      const before = dump(ns);
      const code = codeOf(() => ns.apply(op));
      codes.set(`${op.op}:${code}`, (codes.get(`${op.op}:${code}`) ?? 0) + 1);
      if (code === 'none') applied.push(op);
      else expect(dump(ns), `${JSON.stringify(op)} failed with ${code} but changed the tree`).toBe(before);
      checkInvariants(ns);
    }
    // Every op kind both succeeded and failed at least once: the workload exercised both sides.
    for (const kind of [
      'mkdir',
      'create',
      'addBlock',
      'abandonBlock',
      'complete',
      'delete',
      'rename',
      'closeFile',
      'updateBlock',
    ]) {
      const ok = codes.get(`${kind}:none`) ?? 0;
      const failed = [...codes].filter(([k]) => k.startsWith(`${kind}:`) && !k.endsWith(':none')).length;
      expect(ok, kind).toBeGreaterThan(0);
      expect(failed, kind).toBeGreaterThan(0);
    }
    // Replaying what succeeded (as the edit log would) rebuilds exactly the same namespace.
    const replayed = new Namespace();
    for (const op of applied) replayed.apply(op);
    expect(dump(replayed)).toBe(dump(ns));
  });
});

// ---- small utilities ---------------------------------------------------------------------

describe('append, visible length', () => {
  const append = (path: string, genStamp: number, clientName = 'c2'): EditOp => ({
    op: 'append',
    path,
    clientName,
    genStamp,
  });

  it('reopens the file for the appender and its partial last block under the new stamp', () => {
    const opened: string[] = [];
    const bumped: number[] = [];
    const ns = fresh(
      create('/f', { blockBytes: 4096 }),
      addBlock('/f', 1, { genStamp: 5 }),
      complete('/f', 1000),
    );
    ns.addListener(
      listener({
        fileOpened: (f) => opened.push(`${f.name}:${f.clientName}`),
        genStampBumped: (b) => bumped.push(b.genStamp),
      }),
    );
    ns.apply(append('/f', 9));
    expect(ns.stat('/f')).toMatchObject({ length: 1000, underConstruction: true });
    expect(fileAt(ns, '/f').blocks.map(blockOf)).toEqual([{ blockId: 1, genStamp: 9, numBytes: 1000 }]);
    expect(ns.nextGenStamp).toBe(10);
    expect(opened).toEqual(['f:c2']);
    expect(bumped).toEqual([9]);
    // Open: a second appender (or the same one) conflicts; the holder's hflush shows more.
    expectRefused(ns, append('/f', 11, 'c3'), 'LEASE_CONFLICT');
    expectRefused(ns, append('/f', 11, 'c2'), 'LEASE_CONFLICT');
    ns.setVisibleLength('/f', 'c2', 1, 3000);
    ns.setVisibleLength('/f', 'c2', 1, 2000); // late answers never shrink it
    expect(ns.stat('/f').length).toBe(3000);
    expect(() => ns.setVisibleLength('/f', 'c3', 1, 3000)).toThrow(/another client/);
    expect(() => ns.setVisibleLength('/f', 'c2', 2, 3000)).toThrow(/not the last block/);
    expect(() => ns.setVisibleLength('/f', 'c2', 1, 5000)).toThrow(/exceeds the block size/);
    ns.apply(complete('/f', 3500, 'c2'));
    expect(ns.stat('/f')).toMatchObject({ length: 3500, underConstruction: false });
  });

  it('without a stamp (empty file, full last block) only takes the lease; refusals leave the tree as it was', () => {
    const ns = fresh(
      create('/full', { blockBytes: 4096 }),
      addBlock('/full', 1, { genStamp: 5 }),
      complete('/full', 4096),
      create('/empty'),
      complete('/empty'),
    );
    expectRefused(ns, append('/full', 9), 'INVALID_ARGUMENT');
    expectRefused(ns, append('/empty', 9), 'INVALID_ARGUMENT');
    ns.apply(append('/full', NONE));
    ns.apply(append('/empty', NONE));
    expect(fileAt(ns, '/full').blocks.map(blockOf)).toEqual([{ blockId: 1, genStamp: 5, numBytes: 4096 }]);
    expect(ns.stat('/empty').underConstruction).toBe(true);
    const partial = fresh(
      create('/p', { blockBytes: 4096 }),
      addBlock('/p', 1, { genStamp: 5 }),
      complete('/p', 10),
    );
    expectRefused(partial, append('/p', 5), 'STALE_GENERATION');
    expectRefused(partial, append('/missing', 9), 'NOT_FOUND');
    partial.apply(mkdir('/dir'));
    expectRefused(partial, append('/dir', 9), 'IS_A_DIRECTORY');
  });

  it('a reopened block counts whole against a space quota, as a block being written does', () => {
    const ns = fresh(mkdir('/q'), create('/q/f', { blockBytes: 4096, replication: 1 }), addBlock('/q/f', 1));
    ns.apply(complete('/q/f', 1000));
    ns.apply({ op: 'setQuota', path: '/q', nsQuota: 0, dsQuota: 4000 });
    expectRefused(ns, append('/q/f', 9), 'QUOTA_EXCEEDED');
    ns.apply({ op: 'setQuota', path: '/q', nsQuota: 0, dsQuota: 4096 });
    ns.apply(append('/q/f', 9));
    ns.apply(complete('/q/f', 2000, 'c2'));
    expect(ns.lookup('/q')).toMatchObject({ quota: { dsUsed: 2000 } });
  });
});

function listener(part: Partial<NamespaceListener>): NamespaceListener {
  return {
    fileRemoved: () => {},
    fileOpened: () => {},
    fileClosed: () => {},
    blocksRemoved: (_b: BlockMeta[]) => {},
    ...part,
  };
}

/** Small seeded PRNG (mulberry32): replayable randomness. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
