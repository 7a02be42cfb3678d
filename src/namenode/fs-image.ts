/**
 * The checkpoint image: the whole namespace at one txid, written atomically (temp file,
 * fsync, rename, fsync of the directory) so a crash leaves the old image or the new one.
 *
 *   header (40 bytes): | magic "DFSI" u32 | version u16 | reserved u16 | txid u64 |
 *                      | nextBlockId u64 | nextGenStamp u64 | nodeCount u64 |
 *   nodes, preorder from the root:
 *      | kind u8 (1 dir, 2 file) | name str | mtimeMs u64 | owner str | group str | mode u16 |
 *      dir:  | nsQuota u64 | dsQuota u64 | childCount u32 |   (its children follow; quotas
 *            0 = none)
 *      file: | replication u16 | blockBytes u64 | open bool | [clientName str] |
 *            | blockCount u32 | (blockId u64, genStamp u64, numBytes u64) x blockCount |
 *   trailer: | xxh32 of every byte before it, u32 |
 *
 * Loading checks the trailer first, then parses with the bounds-checked reader; counts
 * read from disk are as untrusted as counts from the network. Images of every earlier
 * version load (tests/namenode/old-format.test.ts); checkpoints are written in the current
 * one. Quota usage is not stored: it is measured once after the load (quota.ts).
 *
 * Versions: 1 the first; 2 added the directories' quotas; 3 added owner, group and mode to
 * every node. The nodes of an image older than 3 get the superuser and the supergroup,
 * directories 0755 and files 0644 (the defaults the Namespace is given).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DfsError, rethrowIfBug } from '../../protocol/errors.js';
import { WireReader } from '../../protocol/wire-reader.js';
import { WireWriter } from '../../protocol/wire-writer.js';
import { xxh32 } from '../common/checksum.js';
import { writeFileAtomic } from '../common/fs-util.js';
import { DirNode, FileNode, type BlockMeta, type INode } from './inode.js';
import { Namespace } from './namespace.js';
import { legacyOwners, type DefaultOwners } from './ownership.js';
import { readPermission } from '../../protocol/shared-structures.js';

const IMAGE_MAGIC = 0x44465349; // "DFSI"
/** 2: directories carry their quotas; 3: every node carries owner, group and mode. */
const IMAGE_VERSION = 3;
const IMAGE_VERSION_MIN = 1;
/** The first version whose directories carry quotas. */
const IMAGE_VERSION_QUOTAS = 2;
/** The first version whose nodes carry owner, group and mode. */
const IMAGE_VERSION_OWNERS = 3;

export function imageFileName(txid: number): string {
  return `fsimage_${String(txid).padStart(16, '0')}`;
}

/** The image header; `nodeCount` is the number of node records that follow. */
export function writeImageHeader(w: WireWriter, ns: Namespace, txid: number, nodeCount: number): void {
  w.u32(IMAGE_MAGIC).u16(IMAGE_VERSION).u16(0).u64(txid).u64(ns.nextBlockId).u64(ns.nextGenStamp);
  w.u64(nodeCount);
}

/** One node's record (a directory's children follow it: `childCount` of them). */
export function writeNodeRecord(w: WireWriter, node: INode, childCount: number): void {
  w.u8(node.kind === 'dir' ? 1 : 2)
    .str(node.name)
    .u64(node.mtimeMs)
    .str(node.owner)
    .str(node.group)
    .u16(node.mode);
  if (node.kind === 'dir') {
    w.u64(node.quota?.nsQuota ?? 0).u64(node.quota?.dsQuota ?? 0);
    w.u32(childCount);
  } else {
    w.u16(node.replication)
      .u64(node.blockBytes)
      .bool(node.clientName !== null);
    if (node.clientName !== null) w.str(node.clientName);
    w.u32(node.blockCount);
    for (const b of node.blocks) w.u64(b.blockId).u64(b.genStamp).u64(b.numBytes);
  }
}

/** The whole image in one buffer, synchronously (tests, format; checkpoints use image-writer.ts). */
export function serializeImage(ns: Namespace, txid: number): Buffer {
  const w = new WireWriter(1 << 16);
  writeImageHeader(w, ns, txid, ns.fileCount + ns.dirCount);
  let nodeCount = 0;
  const stack: INode[] = [ns.root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    nodeCount++;
    if (node.kind === 'dir') {
      const children = [...node.children.values()];
      writeNodeRecord(w, node, children.length);
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
    } else {
      writeNodeRecord(w, node, 0);
    }
  }
  const out = Buffer.from(w.finish());
  // The count in the header is the namespace's; the walk must agree (our bug otherwise).
  assert.equal(nodeCount, ns.fileCount + ns.dirCount, 'image walk and namespace counts differ');
  const trailer = Buffer.allocUnsafe(4);
  trailer.writeUInt32BE(xxh32(out), 0);
  return Buffer.concat([out, trailer]);
}

export async function saveImage(dir: string, ns: Namespace, txid: number): Promise<string> {
  const file = path.join(dir, imageFileName(txid));
  await writeFileAtomic(file, serializeImage(ns, txid));
  return file;
}

export interface LoadedImage {
  namespace: Namespace;
  txid: number;
}

/** `owners`: the superuser and supergroup, who own the nodes of an image older than owners. */
export function parseImage(buf: Buffer, name: string, owners?: DefaultOwners): LoadedImage {
  if (buf.length < 48) throw corrupt(name, 'shorter than its header');
  const body = buf.subarray(0, buf.length - 4);
  if (xxh32(body) !== buf.readUInt32BE(buf.length - 4)) throw corrupt(name, 'checksum mismatch');
  try {
    const r = new WireReader(body, name);
    if (r.u32('magic') !== IMAGE_MAGIC) throw corrupt(name, 'bad magic');
    const version = r.u16('version');
    if (version < IMAGE_VERSION_MIN || version > IMAGE_VERSION)
      throw corrupt(name, `unsupported version ${version}`);
    // A node's owner, group and mode: read, or the defaults in an image older than owners.
    // Into locals, not an object per node: loading allocates only what it keeps.
    let owner = '';
    let group = '';
    let mode = 0;
    const readOwners = (isDir: boolean): void => {
      if (version < IMAGE_VERSION_OWNERS) {
        ({ owner, group, mode } = legacyOwners(ns.owners, isDir));
      } else {
        // Most nodes have the owners of the one before: reuse its strings, decode nothing.
        owner = r.strLike(owner, 'owner');
        group = r.strLike(group, 'group');
        mode = readPermission(r, 'mode');
      }
    };
    const readQuotas = (dir: DirNode): void => {
      if (version < IMAGE_VERSION_QUOTAS) return;
      const nsQuota = r.u64('nsQuota');
      const dsQuota = r.u64('dsQuota');
      if (nsQuota > 0 || dsQuota > 0) dir.quota = { nsQuota, dsQuota, nsUsed: 0, dsUsed: 0 };
    };
    r.u16('reserved');
    const txid = r.u64('txid');
    const ns = new Namespace(owners);
    ns.nextBlockId = r.u64('nextBlockId');
    ns.nextGenStamp = r.u64('nextGenStamp');
    const nodeCount = r.u64('nodeCount');
    // Root first; then a stack of (directory, children still to read).
    const rootKind = r.u8('kind');
    r.str('name');
    if (rootKind !== 1) throw corrupt(name, 'root is not a directory');
    ns.root.mtimeMs = r.u64('mtime');
    readOwners(true);
    ns.root.setOwnership(owner, group, mode);
    readQuotas(ns.root);
    const stack: Array<{ dir: DirNode; left: number }> = [{ dir: ns.root, left: r.u32('childCount') }];
    let seen = 1;
    ns.dirCount = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.left === 0) {
        stack.pop();
        continue;
      }
      top.left--;
      const kind = r.u8('kind');
      const nodeName = r.str('name');
      const mtimeMs = r.u64('mtime');
      readOwners(kind === 1);
      if (nodeName.length === 0 || nodeName.includes('/') || top.dir.children.has(nodeName)) {
        throw corrupt(name, `bad or duplicate name '${nodeName}'`);
      }
      seen++;
      if (kind === 1) {
        const dir = new DirNode(nodeName, top.dir, mtimeMs);
        dir.setOwnership(owner, group, mode);
        readQuotas(dir);
        top.dir.addChild(dir);
        ns.dirCount++;
        stack.push({ dir, left: r.u32('childCount') });
      } else if (kind === 2) {
        const replication = r.u16('replication');
        const blockBytes = r.u64('blockBytes');
        const open = r.bool('open');
        const clientName = open ? r.str('clientName') : null;
        const file = new FileNode(nodeName, top.dir, mtimeMs, replication, blockBytes, clientName);
        file.setOwnership(owner, group, mode);
        const blockCount = r.count(24, 'blockCount');
        // Sized up front: a pushed-to array keeps spare room, per file.
        const blocks = new Array<BlockMeta>(blockCount);
        for (let i = 0; i < blockCount; i++) {
          blocks[i] = file.newBlock(r.u64('blockId'), r.u64('genStamp'), r.u64('numBytes'));
        }
        file.blocks = blocks;
        top.dir.addChild(file);
        ns.fileCount++;
        ns.blockCount += blockCount;
      } else {
        throw corrupt(name, `unknown node kind ${kind}`);
      }
    }
    r.end();
    if (seen !== nodeCount) throw corrupt(name, `header says ${nodeCount} nodes, found ${seen}`);
    ns.quotas.recompute(ns.root);
    return { namespace: ns, txid };
  } catch (err) {
    rethrowIfBug(err);
    if (err instanceof DfsError && err.code === 'CORRUPT_LOG') throw err;
    throw corrupt(name, (err as Error).message);
  }
}

export function loadImage(file: string, owners?: DefaultOwners): LoadedImage {
  return parseImage(fs.readFileSync(file), path.basename(file), owners);
}

function corrupt(name: string, why: string): DfsError {
  return new DfsError('CORRUPT_LOG', `checkpoint image ${name} is corrupt: ${why}`);
}
