/**
 * The checkpoint image written a slice at a time (image-writer.ts) is the namespace as of
 * the moment the writer was made, byte for byte what a synchronous serialization then gave,
 * however the tree changes while it is written: renames across directories, deletes of
 * whole subtrees, new files and directories, blocks added and completed, chmod, chown and
 * quotas. And the namespace after it is the changed one (the writer copies, never touches).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initChecksum } from '../../src/common/checksum.js';
import { NONE } from '../../src/namenode/edit-ops.js';
import { parseImage, serializeImage } from '../../src/namenode/fs-image.js';
import { ImageWriter } from '../../src/namenode/image-writer.js';
import { Namespace } from '../../src/namenode/namespace.js';

const TMP_BASE = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
let root = '';

beforeAll(async () => {
  await initChecksum();
  root = fs.mkdtempSync(path.join(TMP_BASE, 'dfs-image-writer-test-'));
});

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

const DIRS = 40;
const FILES_PER_DIR = 500;
const file = (d: number, f: number): string => `/data/d${d}/f${f}`;

/** 20,000 files of one block (image ~1.7 MB: more than one chunk, so the writer yields). */
function bigNamespace(): Namespace {
  const ns = new Namespace();
  ns.apply({ op: 'mkdir', path: '/data', parents: true, mtimeMs: 1 });
  for (let d = 0; d < DIRS; d++) {
    ns.apply({ op: 'mkdir', path: `/data/d${d}`, parents: false, mtimeMs: 2 });
    for (let f = 0; f < FILES_PER_DIR; f++) {
      const p = file(d, f);
      const open = f % 50 === 0; // some stay open for writing
      ns.apply({
        op: 'create',
        path: p,
        clientName: 'writer',
        overwrite: false,
        createParent: false,
        replication: 3,
        blockBytes: 1 << 20,
        mtimeMs: 3,
      });
      ns.apply({
        op: 'addBlock',
        path: p,
        clientName: 'writer',
        previousNumBytes: NONE,
        blockId: ns.allocateBlockId(),
        genStamp: ns.allocateGenStamp(),
      });
      if (!open) ns.apply({ op: 'complete', path: p, clientName: 'writer', lastNumBytes: 100, mtimeMs: 4 });
    }
  }
  return ns;
}

/** Changes of every kind, spread over the tree (both sides of the walk's position). */
function* changes(ns: Namespace): Generator<void> {
  for (let d = 0; d < DIRS; d += 3) {
    ns.apply({ op: 'rename', src: file(d, 1), dst: `/data/d${DIRS - 1 - d}/moved-${d}`, mtimeMs: 10 });
    yield;
    ns.apply({ op: 'setPermission', path: file(d, 2), mode: 0o600 });
    ns.apply({ op: 'setOwner', path: file(d, 3), owner: 'someone', group: 'others' });
    ns.apply({ op: 'setQuota', path: `/data/d${d}`, nsQuota: 100_000, dsQuota: 0 });
    yield;
    const open = file(d, 0);
    ns.apply({ op: 'complete', path: open, clientName: 'writer', lastNumBytes: 7, mtimeMs: 11 });
    ns.apply({
      op: 'create',
      path: `/data/d${d}/new-${d}`,
      clientName: 'writer',
      overwrite: false,
      createParent: false,
      replication: 1,
      blockBytes: 1 << 20,
      mtimeMs: 12,
    });
    ns.apply({ op: 'mkdir', path: `/data/fresh-${d}/a/b`, parents: true, mtimeMs: 13 });
    yield;
    if (d % 2 === 0) ns.apply({ op: 'delete', path: `/data/d${d + 1}`, recursive: true, mtimeMs: 14 });
    yield;
  }
}

describe('ImageWriter', () => {
  it('writes the namespace as of its start while the tree changes under it', async () => {
    const ns = bigNamespace();
    const before = serializeImage(ns, 77);
    const writer = new ImageWriter(ns, 77);
    const target = path.join(root, 'fsimage_a');
    const writing = writer.write(target);
    // Change the tree between the writer's slices until it is done.
    let finished = false;
    void writing.finally(() => (finished = true));
    const steps = changes(ns);
    let applied = 0;
    while (!finished) {
      if (!steps.next().done) applied++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    await writing;
    expect(applied).toBeGreaterThan(4); // the changes did land while it was writing
    expect(writer.keptCount).toBeGreaterThan(0);
    expect(fs.readFileSync(target).equals(before)).toBe(true);
    // The namespace itself carries the changes.
    while (!steps.next().done) applied++;
    expect(ns.lookup('/data/d1')).toBeNull();
    expect(ns.lookup(`/data/d${DIRS - 1}/moved-0`)).not.toBeNull();
    expect(serializeImage(ns, 77).equals(before)).toBe(false);
    expect(parseImage(fs.readFileSync(target), 'a').namespace.fileCount).toBe(DIRS * FILES_PER_DIR);
  });

  it('keeps nothing once done, and later changes go unrecorded', async () => {
    const ns = bigNamespace();
    const writer = new ImageWriter(ns, 5);
    await writer.write(path.join(root, 'fsimage_b'));
    ns.apply({ op: 'setPermission', path: file(0, 5), mode: 0o600 });
    expect(writer.keptCount).toBe(0);
  });
});
