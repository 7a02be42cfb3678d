/**
 * A model of one client's subtree for crash-consistency tests: what the namespace must hold
 * after the acknowledged operations, and which typed error (if any) the NameNode must give
 * for the next one. It knows only what the tests generate (mkdir without parents, create
 * without overwrite or parents, addBlock, complete, delete, rename HDFS-style), and it
 * answers with the same error codes as `src/namenode/namespace.ts` for those.
 *
 * The rendering (`render`) is what a walk of the real tree with list + stat produces
 * (`walkSubtree`), so the two compare as plain maps.
 */
import type { DfsClient } from '../../src/client/dfs-client.js';
import { FileType } from '../../protocol/shared-structures.js';

export type ModelNode = { type: 'dir' } | { type: 'file'; blocks: number[]; open: boolean };

export type ModelOp =
  | { t: 'mkdir'; path: string }
  | { t: 'create'; path: string }
  /** `previous`: the committed length of the block before the new one (null for the first). */
  | { t: 'addBlock'; path: string; previous: number | null }
  | { t: 'complete'; path: string; last: number | null }
  | { t: 'delete'; path: string; recursive: boolean }
  /** `dst` as sent; when it names an existing directory the source moves inside it. */
  | { t: 'rename'; src: string; dst: string };

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function beneath(path: string, root: string): boolean {
  return path === root || path.startsWith(`${root}/`);
}

export class NamespaceModel {
  readonly nodes = new Map<string, ModelNode>();

  constructor(readonly root: string) {
    this.nodes.set(root, { type: 'dir' });
  }

  clone(): NamespaceModel {
    const m = new NamespaceModel(this.root);
    m.nodes.clear();
    for (const [p, n] of this.nodes)
      m.nodes.set(p, n.type === 'dir' ? n : { type: 'file', blocks: [...n.blocks], open: n.open });
    return m;
  }

  get(path: string): ModelNode | undefined {
    return this.nodes.get(path);
  }

  /** The parent of `path`; above the subtree root everything is an existing directory. */
  private parent(path: string): ModelNode | undefined {
    const p = parentOf(path);
    return beneath(p, this.root) ? this.get(p) : { type: 'dir' };
  }

  children(dir: string): string[] {
    const out: string[] = [];
    for (const p of this.nodes.keys()) if (p !== dir && parentOf(p) === dir) out.push(p);
    return out;
  }

  paths(filter?: (p: string, n: ModelNode) => boolean): string[] {
    return [...this.nodes.entries()].filter(([p, n]) => filter === undefined || filter(p, n)).map(([p]) => p);
  }

  openFiles(): string[] {
    return this.paths((_, n) => n.type === 'file' && n.open);
  }

  /** Where a rename ends up, HDFS-style: onto an existing directory means inside it. */
  renameTarget(src: string, dst: string): string {
    return this.get(dst)?.type === 'dir' ? `${dst}/${baseName(src)}` : dst;
  }

  /** The error code the NameNode must answer `op` with, or null when it must succeed. */
  expectedError(op: ModelOp): string | null {
    switch (op.t) {
      case 'mkdir': {
        const parent = this.parent(op.path);
        if (this.get(op.path) !== undefined)
          return this.get(op.path)!.type === 'dir' ? 'ALREADY_EXISTS' : 'NOT_A_DIRECTORY';
        if (parent === undefined) return 'NOT_FOUND';
        if (parent.type !== 'dir') return 'NOT_A_DIRECTORY';
        return null;
      }
      case 'create': {
        const parent = this.parent(op.path);
        if (parent === undefined) return 'NOT_FOUND';
        if (parent.type !== 'dir') return 'NOT_A_DIRECTORY';
        const existing = this.get(op.path);
        if (existing?.type === 'dir') return 'IS_A_DIRECTORY';
        if (existing !== undefined) return 'ALREADY_EXISTS'; // same writer, no overwrite
        return null;
      }
      case 'addBlock':
      case 'complete': {
        const f = this.get(op.path);
        if (f === undefined) return 'NOT_FOUND';
        if (f.type !== 'file') return 'IS_A_DIRECTORY';
        if (!f.open) return 'NO_LEASE';
        return null;
      }
      case 'delete': {
        const n = this.get(op.path);
        if (n === undefined) return 'NOT_FOUND';
        if (n.type === 'dir' && !op.recursive && this.children(op.path).length > 0) return 'NOT_EMPTY';
        return null;
      }
      case 'rename': {
        if (this.get(op.src) === undefined) return 'NOT_FOUND';
        if (op.src === op.dst) return null;
        const target = this.renameTarget(op.src, op.dst);
        // Moving a node into the directory that holds it is a no-op, for files and dirs.
        if (target === op.src) return null;
        if (this.get(op.src)!.type === 'dir' && beneath(target, op.src)) return 'INVALID_ARGUMENT';
        const parent = this.parent(target);
        if (parent === undefined) return 'NOT_FOUND';
        if (parent.type !== 'dir') return 'NOT_A_DIRECTORY';
        if (this.get(target) !== undefined) return 'ALREADY_EXISTS';
        return null;
      }
    }
  }

  /** Applies an operation the NameNode acknowledged (or may have applied before dying). */
  apply(op: ModelOp): void {
    if (this.expectedError(op) !== null) return; // a refused op changes nothing
    switch (op.t) {
      case 'mkdir':
        this.nodes.set(op.path, { type: 'dir' });
        return;
      case 'create':
        this.nodes.set(op.path, { type: 'file', blocks: [], open: true });
        return;
      case 'addBlock': {
        const f = this.get(op.path) as Extract<ModelNode, { type: 'file' }>;
        if (op.previous !== null) f.blocks[f.blocks.length - 1] = op.previous;
        f.blocks.push(0);
        return;
      }
      case 'complete': {
        const f = this.get(op.path) as Extract<ModelNode, { type: 'file' }>;
        if (op.last !== null) f.blocks[f.blocks.length - 1] = op.last;
        f.open = false;
        return;
      }
      case 'delete':
        for (const p of [...this.nodes.keys()]) if (beneath(p, op.path)) this.nodes.delete(p);
        return;
      case 'rename': {
        if (op.src === op.dst) return; // a no-op, even when it names a directory
        const target = this.renameTarget(op.src, op.dst);
        if (target === op.src) return;
        const moved = [...this.nodes.entries()].filter(([p]) => beneath(p, op.src));
        for (const [p] of moved) this.nodes.delete(p);
        for (const [p, n] of moved) this.nodes.set(target + p.slice(op.src.length), n);
        return;
      }
    }
  }

  /** path -> "dir" or "file len=N blocks=N open=B", sorted by path. */
  render(): Map<string, string> {
    const out = new Map<string, string>();
    for (const p of [...this.nodes.keys()].sort()) {
      const n = this.nodes.get(p)!;
      out.set(
        p,
        n.type === 'dir'
          ? 'dir'
          : describeFile(
              n.blocks.reduce((a, b) => a + b, 0),
              n.blocks.length,
              n.open,
            ),
      );
    }
    return out;
  }
}

function describeFile(length: number, blocks: number, open: boolean): string {
  return `file len=${length} blocks=${blocks} open=${open}`;
}

/**
 * Walks the real subtree under `root` with list (paged small, to exercise paging) and stat,
 * checking that both agree on every entry, and renders it like `NamespaceModel.render`.
 */
export async function walkSubtree(client: DfsClient, root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const rootStatus = await client.stat(root);
  if (rootStatus.type !== FileType.DIRECTORY) throw new Error(`${root} is not a directory`);
  out.set(root, 'dir');
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let count = 0;
    for await (const e of client.list(dir, 7)) {
      count++;
      const path = `${dir}/${e.path}`;
      const st = await client.stat(path);
      const fromList =
        e.type === FileType.DIRECTORY ? 'dir' : describeFile(e.length, e.blockCount, e.underConstruction);
      const fromStat =
        st.type === FileType.DIRECTORY ? 'dir' : describeFile(st.length, st.blockCount, st.underConstruction);
      if (fromList !== fromStat)
        throw new Error(`list and stat disagree on ${path}: ${fromList} vs ${fromStat}`);
      out.set(path, fromStat);
      if (st.type === FileType.DIRECTORY) stack.push(path);
    }
    const st = await client.stat(dir);
    if (st.childCount !== count)
      throw new Error(`${dir}: stat says ${st.childCount} children, list gave ${count}`);
  }
  return new Map([...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function sameTree(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

/** A readable difference between two renderings (for failure messages). */
export function treeDiff(expected: Map<string, string>, actual: Map<string, string>): string {
  const lines: string[] = [];
  for (const [k, v] of expected)
    if (actual.get(k) !== v) lines.push(`  ${k}: expected ${v}, got ${actual.get(k) ?? 'nothing'}`);
  for (const [k, v] of actual) if (!expected.has(k)) lines.push(`  ${k}: unexpected ${v}`);
  return lines.join('\n');
}
