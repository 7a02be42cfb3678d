/**
 * Checkpoint images: a random namespace (seeded) survives serialize/parse exactly; any
 * damage (a flipped byte, a cut, a well-sealed image with impossible contents) is a typed
 * CORRUPT_LOG; and, in a real name directory, loading falls back to an older image while the
 * edits still cover it, and purgeBefore removes exactly what a newer image made useless.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DfsError } from '../../protocol/errors.js';
import { initChecksum, xxh32 } from '../../src/common/checksum.js';
import { silentLogger } from '../../src/common/logger.js';
import { EditLog, segmentFileName } from '../../src/namenode/edit-log.js';
import { decodeEditOp, encodeEditOp, NONE, type EditOp } from '../../src/namenode/edit-ops.js';
import { WireReader } from '../../protocol/wire-reader.js';
import { WireWriter } from '../../protocol/wire-writer.js';
import {
  imageFileName,
  loadImage,
  parseImage,
  saveImage,
  serializeImage,
} from '../../src/namenode/fs-image.js';
import type { INode } from '../../src/namenode/inode.js';
import { formatNameDir, loadNameDir, purgeBefore } from '../../src/namenode/name-dir.js';
import { Namespace } from '../../src/namenode/namespace.js';
import { matchStringContaining } from '../support/matchers.js';

const TMP_BASE = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
const log = silentLogger();
let root = '';
let seq = 0;

beforeAll(async () => {
  await initChecksum();
  root = fs.mkdtempSync(path.join(TMP_BASE, 'dfs-fs-image-test-'));
});

afterAll(() => {
  if (root !== '') fs.rmSync(root, { recursive: true, force: true });
});

// ---- helpers ---------------------------------------------------------------------------

/** A canonical serialization of everything a namespace holds (tree, counters, allocators). */
function dump(ns: Namespace): string {
  const walk = (n: INode): unknown =>
    n.kind === 'dir'
      ? {
          d: n.name,
          m: n.mtimeMs,
          o: [n.owner, n.group, n.mode],
          c: [...n.children.keys()].sort().map((k) => walk(n.children.get(k)!)),
        }
      : {
          f: n.name,
          m: n.mtimeMs,
          o: [n.owner, n.group, n.mode],
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

/**
 * Valid ops building a random namespace: nested directories, complete files with blocks,
 * files still open (some with blocks), renames and deletes, unicode names. Each op is applied
 * to a live namespace first, as the NameNode does, and only the ones that succeed are kept.
 */
function randomOps(seed: number, count: number): EditOp[] {
  const rand = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const names = ['a', 'b', 'data', 'logs', 'été', '日本', 'x y', 'n-1', 'n-2', 'deep'];
  const ns = new Namespace();
  const ops: EditOp[] = [];
  const dirs = ['/'];
  const files: string[] = [];
  let t = 1_700_000_000_000;
  const run = (op: EditOp): boolean => {
    try {
      ns.apply(op);
    } catch (err) {
      if (!(err instanceof DfsError)) throw err;
      return false;
    }
    ops.push(op);
    return true;
  };
  const child = (dir: string): string => `${dir === '/' ? '' : dir}/${pick(names)}${Math.floor(rand() * 5)}`;
  while (ops.length < count) {
    const r = rand();
    t += 1 + Math.floor(rand() * 1000);
    if (r < 0.25) {
      const p = child(pick(dirs));
      if (run({ op: 'mkdir', path: p, parents: false, mtimeMs: t })) dirs.push(p);
    } else if (r < 0.5) {
      const p = child(pick(dirs));
      const client = `client-${Math.floor(rand() * 3)}`;
      const blockBytes = pick([1024, 4096, 1 << 20]);
      if (
        !run({
          op: 'create',
          path: p,
          clientName: client,
          overwrite: rand() < 0.2,
          createParent: false,
          replication: 1 + Math.floor(rand() * 3),
          blockBytes,
          mtimeMs: t,
        })
      )
        continue;
      files.push(p);
      const blocks = Math.floor(rand() * 4);
      for (let i = 0; i < blocks; i++) {
        run({
          op: 'addBlock',
          path: p,
          clientName: client,
          previousNumBytes: i === 0 ? NONE : blockBytes,
          blockId: ns.nextBlockId,
          genStamp: ns.nextGenStamp,
        });
      }
      if (rand() < 0.7)
        run({
          op: 'complete',
          path: p,
          clientName: client,
          lastNumBytes: blocks > 0 ? Math.floor(rand() * blockBytes) : NONE,
          mtimeMs: t,
        });
    } else if (r < 0.6 && files.length > 0) {
      const f = pick(files);
      const file = ns.lookup(f);
      if (file?.kind === 'file' && file.blocks.length > 0) {
        const b = file.blocks[file.blocks.length - 1]!;
        run({
          op: 'updateBlock',
          path: f,
          blockId: b.blockId,
          genStamp: ns.nextGenStamp,
          numBytes: rand() < 0.5 ? NONE : 3,
        });
      }
    } else if (r < 0.7) {
      run({ op: 'rename', src: pick([...dirs, ...files]), dst: child(pick(dirs)), mtimeMs: t });
    } else if (r < 0.75) {
      run({ op: 'delete', path: pick([...dirs, ...files]), recursive: rand() < 0.5, mtimeMs: t });
    } else if (files.length > 0) {
      const f = pick(files);
      const file = ns.lookup(f);
      if (file?.kind === 'file' && file.clientName !== null && rand() < 0.3) {
        run({ op: 'closeFile', path: f, keepBlocks: file.blocks.length, lastNumBytes: 1, mtimeMs: t });
      }
    }
  }
  return ops;
}

function build(ops: readonly EditOp[]): Namespace {
  const ns = new Namespace();
  for (const op of ops) ns.apply(op);
  return ns;
}

/** Recomputes the trailer, so a test can build images that pass the checksum but lie. */
function reseal(image: Buffer): Buffer {
  const out = Buffer.from(image);
  out.writeUInt32BE(xxh32(out.subarray(0, out.length - 4)), out.length - 4);
  return out;
}

function parseCode(buf: Buffer): string {
  try {
    parseImage(buf, 'fsimage_test');
  } catch (err) {
    return err instanceof DfsError ? err.code : `non-DfsError: ${String(err)}`;
  }
  return 'none';
}

async function formattedDir(): Promise<string> {
  const dir = path.join(root, `d${seq++}`);
  await formatNameDir(dir, { force: false, clusterId: 'CID-test' });
  return dir;
}

function appendAll(editLog: EditLog, ops: readonly EditOp[]): Promise<void> {
  return Promise.all(
    ops.map(
      (op) =>
        new Promise<void>((resolve, reject) => editLog.append(op, (err) => (err ? reject(err) : resolve()))),
    ),
  ).then(() => {});
}

// ---- serialize / parse ---------------------------------------------------------------------

describe('image serialize / parse', () => {
  const ops = randomOps(0xc0ffee, 600);
  const ns = build(ops);

  it('the random namespace has what the test means to cover', () => {
    let open = 0;
    let openWithBlocks = 0;
    let closedWithBlocks = 0;
    let maxDepth = 0;
    const stack: Array<[INode, number]> = [[ns.root, 0]];
    while (stack.length > 0) {
      const [n, depth] = stack.pop()!;
      maxDepth = Math.max(maxDepth, depth);
      if (n.kind === 'dir') for (const c of n.children.values()) stack.push([c, depth + 1]);
      else if (n.clientName !== null) {
        open++;
        if (n.blocks.length > 0) openWithBlocks++;
      } else if (n.blocks.length > 0) closedWithBlocks++;
    }
    expect(ns.dirCount).toBeGreaterThan(20);
    expect(ns.fileCount).toBeGreaterThan(20);
    expect({
      open: open > 3,
      openWithBlocks: openWithBlocks > 1,
      closedWithBlocks: closedWithBlocks > 5,
      deep: maxDepth >= 3,
    }).toEqual({ open: true, openWithBlocks: true, closedWithBlocks: true, deep: true });
  });

  it('round-trips exactly: tree, open files and their holders, blocks, counters, allocators, txid', () => {
    const image = serializeImage(ns, 600);
    const loaded = parseImage(image, 'fsimage_test');
    expect(loaded.txid).toBe(600);
    expect(dump(loaded.namespace)).toBe(dump(ns));
    // Children keep their order, so a second image is byte-identical.
    expect(serializeImage(loaded.namespace, 600).equals(image)).toBe(true);
    // The loaded namespace is live: it takes further ops like the original.
    const more = randomOps(7, 50);
    const a = build([...ops]);
    for (const op of more) {
      let okA = true;
      let okB = true;
      try {
        a.apply(op);
      } catch {
        okA = false;
      }
      try {
        loaded.namespace.apply(op);
      } catch {
        okB = false;
      }
      expect(okB).toBe(okA);
    }
    expect(dump(loaded.namespace)).toBe(dump(a));
  });

  it('round-trips the empty namespace and large ids', () => {
    const empty = new Namespace();
    expect(dump(parseImage(serializeImage(empty, 0), 'e').namespace)).toBe(dump(empty));
    const big = build([
      {
        op: 'create',
        path: '/f',
        clientName: 'c',
        overwrite: false,
        createParent: false,
        replication: 3,
        blockBytes: 4096,
        mtimeMs: 2 ** 52,
      },
      {
        op: 'addBlock',
        path: '/f',
        clientName: 'c',
        previousNumBytes: NONE,
        blockId: 2 ** 40,
        genStamp: 2 ** 50,
      },
    ]);
    const loaded = parseImage(serializeImage(big, 2 ** 45), 'big');
    expect(loaded.txid).toBe(2 ** 45);
    expect(dump(loaded.namespace)).toBe(dump(big));
  });

  it('a flipped byte anywhere is CORRUPT_LOG', () => {
    const image = serializeImage(ns, 600);
    const wrong: string[] = [];
    const damaged = Buffer.from(image);
    for (let at = 0; at < image.length; at++) {
      for (const mask of [0x01, 0x80]) {
        damaged[at] = image[at]! ^ mask;
        const code = parseCode(damaged);
        if (code !== 'CORRUPT_LOG') wrong.push(`byte ${at} ^ ${mask}: ${code}`);
      }
      damaged[at] = image[at]!;
    }
    expect(wrong).toEqual([]);
  });

  it('a truncated image (every length) is CORRUPT_LOG, and so are bytes appended to it', () => {
    const image = serializeImage(ns, 600);
    const wrong: string[] = [];
    for (let len = 0; len < image.length; len++) {
      const code = parseCode(image.subarray(0, len));
      if (code !== 'CORRUPT_LOG') wrong.push(`length ${len}: ${code}`);
    }
    expect(wrong).toEqual([]);
    expect(parseCode(Buffer.concat([image, Buffer.alloc(4)]))).toBe('CORRUPT_LOG');
  });

  it('a well-sealed image with impossible contents is CORRUPT_LOG (counts are untrusted)', () => {
    const small = build([
      { op: 'mkdir', path: '/d', parents: false, mtimeMs: 1 },
      {
        op: 'create',
        path: '/d/f',
        clientName: 'c',
        overwrite: false,
        createParent: false,
        replication: 3,
        blockBytes: 4096,
        mtimeMs: 1,
      },
    ]);
    const image = serializeImage(small, 2);
    const nodeCountAt = 32; // header: magic, version, reserved, txid, nextBlockId, nextGenStamp, nodeCount
    expect(image.readUInt32BE(nodeCountAt + 4)).toBe(3);

    const wrongCount = Buffer.from(image);
    wrongCount.writeUInt32BE(4, nodeCountAt + 4);
    expect(parseCode(reseal(wrongCount))).toBe('CORRUPT_LOG');

    // Root at 40: kind u8, name str (u16 0), mtime u64, owner str, group str, mode u16,
    // nsQuota u64, dsQuota u64, then childCount u32 at 67 + the owner fields.
    const owners = 2 + Buffer.byteLength(small.root.owner) + 2 + Buffer.byteLength(small.root.group) + 2;
    expect(image[40]).toBe(1);
    expect(image.readUInt32BE(67 + owners)).toBe(1);
    const hugeChildren = Buffer.from(image);
    hugeChildren.writeUInt32BE(0xffffffff, 67 + owners);
    expect(parseCode(reseal(hugeChildren))).toBe('CORRUPT_LOG');

    const rootIsFile = Buffer.from(image);
    rootIsFile[40] = 2;
    expect(parseCode(reseal(rootIsFile))).toBe('CORRUPT_LOG');

    const badMagic = Buffer.from(image);
    badMagic[0] = 0;
    expect(parseCode(reseal(badMagic))).toBe('CORRUPT_LOG');

    const badVersion = Buffer.from(image);
    badVersion.writeUInt16BE(99, 4);
    expect(parseCode(reseal(badVersion))).toBe('CORRUPT_LOG');

    // The next node (dir 'd') gets an unknown kind.
    const badKind = Buffer.from(image);
    expect(badKind[71 + owners]).toBe(1);
    badKind[71 + owners] = 7;
    expect(parseCode(reseal(badKind))).toBe('CORRUPT_LOG');

    const trailing = reseal(
      Buffer.concat([image.subarray(0, image.length - 4), Buffer.from([0, 0, 0, 0, 0])]),
    );
    expect(parseCode(trailing)).toBe('CORRUPT_LOG');
  });

  it('duplicate or empty names in a sealed image are CORRUPT_LOG', () => {
    const two = build([
      { op: 'mkdir', path: '/a', parents: false, mtimeMs: 1 },
      { op: 'mkdir', path: '/b', parents: false, mtimeMs: 1 },
    ]);
    const image = serializeImage(two, 2);
    const at = image.indexOf(Buffer.from([0, 1, 0x62])); // str "b": u16 length 1, 'b'
    expect(at).toBeGreaterThan(0);
    const dup = Buffer.from(image);
    dup[at + 2] = 0x61;
    expect(parseCode(reseal(dup))).toBe('CORRUPT_LOG');
    const slash = Buffer.from(image);
    slash[at + 2] = 0x2f;
    expect(parseCode(reseal(slash))).toBe('CORRUPT_LOG');
  });
});

// ---- in a name directory -----------------------------------------------------------------------

describe('owners and modes', () => {
  const owned = (owner: string, mode: number): { owner: string; mode: number } => ({ owner, mode });
  const ops: EditOp[] = [
    { op: 'mkdir', path: '/a/b', parents: true, mtimeMs: 1, owned: owned('alice', 0o750) },
    {
      op: 'create',
      path: '/a/b/c/f',
      clientName: 'c',
      overwrite: false,
      createParent: true,
      replication: 1,
      blockBytes: 4096,
      mtimeMs: 2,
      owned: owned('bob', 0o640),
    },
    { op: 'setOwner', path: '/a', owner: '', group: 'staff' },
    { op: 'setPermission', path: '/a/b', mode: 0o1770 },
    { op: 'mkdir', path: '/a/old', parents: false, mtimeMs: 3 }, // a record written before owners
    { op: 'setOwner', path: '/a/b/c/f', owner: 'carol', group: 'dev' },
  ];

  it('edit records carry them (codes 14-17), and records of codes 1 and 2 replay with the defaults', () => {
    for (const op of ops) {
      const w = new WireWriter(64);
      encodeEditOp(w, op);
      const bytes = Buffer.from(w.finish());
      expect(decodeEditOp(new WireReader(bytes, 'op'))).toEqual(op);
      const code = bytes[0];
      if (op.op === 'mkdir') expect(code).toBe(op.owned === undefined ? 1 : 14);
      if (op.op === 'create') expect(code).toBe(15);
    }
    const ns = new Namespace({ superuser: 'hdfs', supergroup: 'admins' });
    for (const op of ops) ns.apply(op);
    const at = (p: string): unknown[] => {
      const n = ns.lookup(p)!;
      return [n.owner, n.group, n.mode.toString(8)];
    };
    expect(at('/')).toEqual(['hdfs', 'admins', '755']);
    // mkdir -p: the parent made on the way gets u+wx; the group is the parent's, as HDFS.
    expect(at('/a')).toEqual(['alice', 'staff', '750']);
    expect(at('/a/b')).toEqual(['alice', 'admins', '1770']);
    // create with parents: a made directory takes the deepest existing one's mode, u+wx.
    expect(at('/a/b/c')).toEqual(['bob', 'admins', '750']); // /a/b was 750 then
    expect(at('/a/b/c/f')).toEqual(['carol', 'dev', '640']);
    expect(at('/a/old')).toEqual(['hdfs', 'admins', '755']);

    // An image keeps them all.
    const image = serializeImage(ns, 9);
    expect(dump(parseImage(image, 'i').namespace)).toBe(dump(ns));
  });
});

describe('images in a name directory', () => {
  const ops = randomOps(0xbeef, 60);
  const models: string[] = [];
  beforeAll(() => {
    const ns = new Namespace();
    models.push(dump(ns));
    for (const op of ops) {
      ns.apply(op);
      models.push(dump(ns));
    }
  });

  /** fsimage_0 (format), edits 1..20, roll, fsimage_20, edits 21..60 in a second segment. */
  async function checkpointedDir(): Promise<string> {
    const dir = await formattedDir();
    const editLog = await EditLog.open(dir, 0, () => {});
    await appendAll(editLog, ops.slice(0, 20));
    expect(await editLog.roll()).toBe(20);
    await saveImage(dir, build(ops.slice(0, 20)), 20);
    await appendAll(editLog, ops.slice(20));
    await editLog.close();
    expect(fs.readdirSync(dir).sort()).toEqual(
      ['VERSION', segmentFileName(1), segmentFileName(21), imageFileName(0), imageFileName(20)].sort(),
    );
    return dir;
  }

  it('saveImage writes atomically (no temp file left) and loadImage reads it back', async () => {
    const dir = await formattedDir();
    const ns = build(ops);
    const file = await saveImage(dir, ns, 60);
    expect(path.basename(file)).toBe(imageFileName(60));
    expect(fs.readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
    expect(dump(loadImage(file).namespace)).toBe(dump(ns));
  });

  it('loads the newest image and replays only the edits after it', async () => {
    const dir = await checkpointedDir();
    const state = await loadNameDir(dir, log);
    expect({ imageTxid: state.imageTxid, lastTxid: state.lastTxid, replayed: state.replayed }).toEqual({
      imageTxid: 20,
      lastTxid: 60,
      replayed: 40,
    });
    expect(dump(state.namespace)).toBe(models[60]);
  });

  it('an image in the middle of a segment: the covered records of that segment are skipped', async () => {
    const dir = await checkpointedDir();
    await saveImage(dir, build(ops.slice(0, 35)), 35);
    const state = await loadNameDir(dir, log);
    expect({ imageTxid: state.imageTxid, lastTxid: state.lastTxid, replayed: state.replayed }).toEqual({
      imageTxid: 35,
      lastTxid: 60,
      replayed: 25,
    });
    expect(dump(state.namespace)).toBe(models[60]);
  });

  it('a corrupt newest image falls back to the older one while the edits still cover it', async () => {
    for (const damage of ['flip', 'truncate', 'empty'] as const) {
      const dir = await checkpointedDir();
      const file = path.join(dir, imageFileName(20));
      const image = fs.readFileSync(file);
      if (damage === 'flip') image[image.length >> 1] = image[image.length >> 1]! ^ 0x10;
      fs.writeFileSync(
        file,
        damage === 'flip'
          ? image
          : damage === 'truncate'
            ? image.subarray(0, image.length - 7)
            : Buffer.alloc(0),
      );
      const state = await loadNameDir(dir, log);
      expect({
        damage,
        imageTxid: state.imageTxid,
        lastTxid: state.lastTxid,
        replayed: state.replayed,
      }).toEqual({ damage, imageTxid: 0, lastTxid: 60, replayed: 60 });
      expect(dump(state.namespace)).toBe(models[60]);
    }
  });

  it('after purgeBefore, a corrupt newest image has nothing to fall back to: CORRUPT_LOG', async () => {
    const dir = await checkpointedDir();
    expect(purgeBefore(dir, 20).sort()).toEqual([segmentFileName(1), imageFileName(0)].sort());
    expect(dump((await loadNameDir(dir, log)).namespace)).toBe(models[60]);
    const file = path.join(dir, imageFileName(20));
    const image = fs.readFileSync(file);
    image[50] = image[50]! ^ 0x01;
    fs.writeFileSync(file, image);
    await expect(loadNameDir(dir, log)).rejects.toMatchObject({
      code: 'CORRUPT_LOG',
      message: matchStringContaining('no usable checkpoint image'),
    });
  });

  it('a fallback image whose edits were purged leaves a gap: CORRUPT_LOG, not a silently older namespace', async () => {
    const dir = await checkpointedDir();
    // Lose fsimage_20 and the segment before it, but keep fsimage_0 (a half-finished purge).
    fs.rmSync(path.join(dir, segmentFileName(1)));
    const file = path.join(dir, imageFileName(20));
    fs.writeFileSync(file, fs.readFileSync(file).subarray(0, 10));
    await expect(loadNameDir(dir, log)).rejects.toMatchObject({
      code: 'CORRUPT_LOG',
      message: matchStringContaining('gap'),
    });
  });

  it('purgeBefore removes the segments wholly covered and the older images, nothing else', async () => {
    const dir = await formattedDir();
    const editLog = await EditLog.open(dir, 0, () => {});
    for (const [from, to] of [
      [0, 10],
      [10, 20],
      [20, 30],
    ] as const) {
      await appendAll(editLog, ops.slice(from, to));
      await editLog.roll();
      await saveImage(dir, build(ops.slice(0, to)), to);
    }
    await appendAll(editLog, ops.slice(30, 40));
    await editLog.close();
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'operator file');
    const all = (): string[] => fs.readdirSync(dir).sort();
    expect(all()).toEqual(
      [
        'VERSION',
        segmentFileName(1),
        segmentFileName(11),
        segmentFileName(21),
        segmentFileName(31),
        imageFileName(0),
        imageFileName(10),
        imageFileName(20),
        imageFileName(30),
        'notes.txt',
      ].sort(),
    );

    // An image at 15 covers edits_1 (1..10) only; edits_11 (11..20) is still needed.
    await saveImage(dir, build(ops.slice(0, 15)), 15);
    expect(purgeBefore(dir, 15).sort()).toEqual(
      [segmentFileName(1), imageFileName(0), imageFileName(10)].sort(),
    );
    // Newer images stay.
    expect(all()).toEqual(expect.arrayContaining([imageFileName(15), imageFileName(20), imageFileName(30)]));

    expect(purgeBefore(dir, 30).sort()).toEqual(
      [segmentFileName(11), segmentFileName(21), imageFileName(15), imageFileName(20)].sort(),
    );
    expect(all()).toEqual(['VERSION', segmentFileName(31), imageFileName(30), 'notes.txt'].sort());
    // Idempotent; the newest segment (the one being written) always stays.
    expect(purgeBefore(dir, 30)).toEqual([]);
    expect(all()).toContain(segmentFileName(31));

    const state = await loadNameDir(dir, log);
    expect({ imageTxid: state.imageTxid, lastTxid: state.lastTxid }).toEqual({ imageTxid: 30, lastTxid: 40 });
    expect(dump(state.namespace)).toBe(models[40]);
  });

  it('loadNameDir removes temp files left by a crash during a checkpoint', async () => {
    const dir = await checkpointedDir();
    const tmp = path.join(dir, `${imageFileName(60)}.tmp-12345`);
    fs.writeFileSync(tmp, 'half an image');
    const state = await loadNameDir(dir, log);
    expect(state.lastTxid).toBe(60);
    expect(fs.existsSync(tmp)).toBe(false);
  });
});
