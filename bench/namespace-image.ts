/**
 * `dfs-bench namespace --fill image`: the namespace of N one-block files made in the bench's
 * own process and handed to the NameNode as its checkpoint image, instead of N x 3 RPCs.
 * Filling ten million files over RPC takes about an hour on the 2-core machine (2,800
 * files/s); this takes a few minutes, and what the suite measures afterwards (memory after
 * a load, the full reports, the checkpoint stall, the restart) is the same NameNode code on
 * the same image format.
 *
 * The tree is the RPC fill's (namespace-fill.ts `fileOf`: `<base>/d<k>/f<i>`), built with
 * the NameNode's own Namespace and written by its ImageWriter; replica r of file i is held
 * by simulated node (i x replication + r) mod nodes, the spread the NameNode's placement
 * gives the RPC fill. The name directory keeps its VERSION (cluster id); its images and
 * edit segments are replaced by the one image, at the txid the NameNode had reached.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ImageWriter } from '../src/namenode/image-writer.js';
import { imageFileName } from '../src/namenode/fs-image.js';
import { Namespace } from '../src/namenode/namespace.js';
import { BLOCK_NUM_BYTES, dirOf, fileOf, FILES_PER_DIR, type SimNodes } from './namespace-fill.js';

/** addBlock's "no previous block" (edit-ops.ts). */
const NO_PREVIOUS = Number.MAX_SAFE_INTEGER;

export interface ImageFill {
  nameDir: string;
  /** The NameNode's last txid: the image is written as of it. */
  txid: number;
  base: string;
  files: number;
  replication: number;
  progress: (line: string) => void;
}

/** Writes the image into the (stopped) NameNode's name dir; the nodes learn their replicas. */
export async function writeFillImage(o: ImageFill, sims: SimNodes): Promise<void> {
  const ns = new Namespace();
  const mtimeMs = Date.now();
  ns.apply({ op: 'mkdir', path: o.base, parents: true, mtimeMs });
  const nodes = sims.nodes;
  const blockBytes = 128 * 1024 * 1024;
  for (let i = 0; i < o.files; i++) {
    if (i % FILES_PER_DIR === 0) ns.apply({ op: 'mkdir', path: dirOf(o.base, i), parents: false, mtimeMs });
    const file = fileOf(o.base, i);
    ns.apply({
      op: 'create',
      path: file,
      clientName: 'bench',
      overwrite: false,
      createParent: false,
      replication: o.replication,
      blockBytes,
      mtimeMs,
    });
    const blockId = ns.allocateBlockId();
    const genStamp = ns.allocateGenStamp();
    ns.apply({
      op: 'addBlock',
      path: file,
      clientName: 'bench',
      previousNumBytes: NO_PREVIOUS,
      blockId,
      genStamp,
    });
    ns.apply({ op: 'complete', path: file, clientName: 'bench', lastNumBytes: BLOCK_NUM_BYTES, mtimeMs });
    for (let r = 0; r < o.replication; r++)
      nodes[(i * o.replication + r) % nodes.length]!.replicas.push(blockId, genStamp);
    if ((i + 1) % 1_000_000 === 0) o.progress(`built ${i + 1} files in the bench`);
  }
  for (const name of fs.readdirSync(o.nameDir))
    if (name.startsWith('fsimage_') || name.startsWith('edits_')) fs.rmSync(path.join(o.nameDir, name));
  const bytes = await new ImageWriter(ns, o.txid).write(path.join(o.nameDir, imageFileName(o.txid)));
  o.progress(`wrote the image: ${bytes} bytes`);
}
