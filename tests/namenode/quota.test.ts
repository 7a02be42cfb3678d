/**
 * Quota accounting on its own (no processes): a long random sequence of namespace changes
 * under directories with quotas, each checked afterwards against a fresh count of the
 * subtree, so usage can never drift; and what the checks refuse leaves the tree unchanged.
 */
import { describe, expect, it } from 'vitest';
import { isDfsError } from '../../protocol/errors.js';
import { NONE, type EditOp } from '../../src/namenode/edit-ops.js';
import type { DirNode, INode } from '../../src/namenode/inode.js';
import { Namespace } from '../../src/namenode/namespace.js';
import { subtreeUsage } from '../../src/namenode/quota.js';
import { Rng } from '../protocol/protocol-support.js';

const KB = 1024;

function quotaDirs(node: INode, out: DirNode[] = []): DirNode[] {
  if (node.kind === 'dir') {
    if (node.quota !== null) out.push(node);
    for (const c of node.children.values()) quotaDirs(c, out);
  }
  return out;
}

function expectExact(ns: Namespace, step: string): void {
  for (const d of quotaDirs(ns.root)) {
    const u = subtreeUsage(d);
    expect({ ns: d.quota!.nsUsed, ds: d.quota!.dsUsed }, `${step}: ${d.name}`).toEqual(u);
  }
}

describe('quota usage', () => {
  it('stays exact through random creates, writes, deletes, renames and replication changes', () => {
    const rng = new Rng(0x9e07a);
    const ns = new Namespace();
    const dirs = ['/a', '/a/b', '/a/b/c', '/d', '/d/e'];
    for (const d of dirs) ns.apply({ op: 'mkdir', path: d, parents: true, mtimeMs: 1 });
    ns.apply({ op: 'setQuota', path: '/a', nsQuota: 40, dsQuota: 400 * KB });
    ns.apply({ op: 'setQuota', path: '/a/b', nsQuota: 25, dsQuota: 0 });
    ns.apply({ op: 'setQuota', path: '/d', nsQuota: 0, dsQuota: 200 * KB });
    const files: string[] = [];
    let nextId = 1;
    let refused = 0;
    for (let step = 0; step < 3000; step++) {
      const dir = rng.pick(dirs.filter((d) => ns.lookup(d) !== null).concat(['/']));
      const file = files.length > 0 ? rng.pick(files) : null;
      const open = file !== null && ns.lookup(file)?.kind === 'file' && ns.file(file).clientName !== null;
      let op: EditOp;
      switch (rng.int(8)) {
        case 0:
        case 1: {
          const path = `${dir === '/' ? '' : dir}/f${step}`;
          op = {
            op: 'create',
            path,
            clientName: 'c',
            overwrite: false,
            createParent: false,
            replication: 1 + rng.int(3),
            blockBytes: 4 * KB,
            mtimeMs: step,
          };
          files.push(path);
          break;
        }
        case 2:
          if (!open) continue;
          op = {
            op: 'addBlock',
            path: file,
            clientName: 'c',
            previousNumBytes: ns.file(file).blocks.length > 0 ? 1 + rng.int(4 * KB) : NONE,
            blockId: nextId++,
            genStamp: 1,
          };
          break;
        case 3:
          if (!open) continue;
          op = {
            op: 'complete',
            path: file,
            clientName: 'c',
            lastNumBytes: ns.file(file).blocks.length > 0 ? rng.int(4 * KB) : NONE,
            mtimeMs: step,
          };
          break;
        case 4:
          if (file === null) continue;
          op = { op: 'delete', path: file, recursive: false, mtimeMs: step };
          break;
        case 5:
          if (file === null) continue;
          op = { op: 'rename', src: file, dst: `${dir === '/' ? '' : dir}/r${step}`, mtimeMs: step };
          break;
        case 6:
          if (file === null) continue;
          op = { op: 'setReplication', path: file, replication: 1 + rng.int(4) };
          break;
        default: {
          const src = rng.pick(['/a/b/c', '/d/e']);
          if (ns.lookup(src) === null) continue;
          op = { op: 'rename', src, dst: rng.pick(['/a', '/d', '/a/b', '/d/e', '/']), mtimeMs: step };
        }
      }
      try {
        ns.apply(op);
        if (op.op === 'rename' && op.src === file)
          files[files.indexOf(file)] =
            ns.lookup(op.dst)?.kind === 'dir' ? `${op.dst}/${file.slice(file.lastIndexOf('/') + 1)}` : op.dst;
      } catch (err) {
        if (!isDfsError(err)) throw err;
        if (isDfsError(err, 'QUOTA_EXCEEDED')) refused++;
      }
      expectExact(ns, `step ${step} (${op.op})`);
      // Every quota holds (usage is never past a limit through a change that was refused).
      for (const d of quotaDirs(ns.root)) {
        const q = d.quota!;
        if (q.nsQuota > 0) expect(q.nsUsed).toBeLessThanOrEqual(q.nsQuota);
        if (q.dsQuota > 0) expect(q.dsUsed).toBeLessThanOrEqual(q.dsQuota);
      }
    }
    expect(refused, 'the quotas were reached').toBeGreaterThan(20);
  });

  it('a refused change leaves the tree as it was', () => {
    const ns = new Namespace();
    ns.apply({ op: 'mkdir', path: '/q', parents: false, mtimeMs: 1 });
    ns.apply({ op: 'setQuota', path: '/q', nsQuota: 2, dsQuota: 0 });
    expect(() => ns.apply({ op: 'mkdir', path: '/q/a/b', parents: true, mtimeMs: 2 })).toThrow(/name quota/);
    expect(ns.lookup('/q/a')).toBeNull();
    expect(() =>
      ns.apply({
        op: 'create',
        path: '/q/x/f',
        clientName: 'c',
        overwrite: false,
        createParent: true,
        replication: 1,
        blockBytes: KB,
        mtimeMs: 2,
      }),
    ).toThrow(/name quota/);
    expect(ns.lookup('/q/x')).toBeNull();
    expect(ns.dirCount).toBe(2);
    // Replayed ops are not judged: the log holds only what was accepted once.
    ns.apply({ op: 'mkdir', path: '/q/a/b', parents: true, mtimeMs: 2 }, true);
    expect(ns.lookup('/q/a/b')).not.toBeNull();
    expectExact(ns, 'replayed');
  });
});
