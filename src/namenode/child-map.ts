/**
 * A directory's children by name, as compact as a directory's size allows. Up to
 * ARRAY_MAX children they are one array sorted by name (8 bytes a child; a lookup is a
 * binary search); past it, a Map (~40 bytes a child, constant-time inserts), for good:
 * the array's insert moves every later child, which a directory of millions cannot afford.
 * `dfs-bench namespace` measured the Map at ~30 of the ~190 bytes a small file cost.
 *
 * It offers the part of the Map interface the namespace uses, so callers read it as one.
 * Iteration is in name order while it is an array, in insertion order once a Map; nothing
 * may rely on either (listings sort, see `sortedNames`).
 *
 * Children are keyed by their own `name`: a caller renaming a child removes it under the
 * old name first and adds it under the new one (namespace.ts rename).
 */
export interface Named {
  name: string;
}

/** Beyond this many children a directory keeps them in a Map. */
export const ARRAY_MAX = 4096;

export class ChildMap<N extends Named> {
  private list: N[] | null = [];
  private map: Map<string, N> | null = null;

  get size(): number {
    return this.list !== null ? this.list.length : this.map!.size;
  }

  get(name: string): N | undefined {
    if (this.list === null) return this.map!.get(name);
    const i = this.search(name);
    return i >= 0 ? this.list[i] : undefined;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Adds or replaces the child called `name` (which must be `node.name`). */
  set(name: string, node: N): this {
    if (name !== node.name) throw new Error(`child keyed '${name}' is named '${node.name}'`);
    const list = this.list;
    if (list === null) {
      this.map!.set(name, node);
      return this;
    }
    // Children loaded from an image come in name order: appending is the common case.
    const last = list[list.length - 1];
    if (last === undefined || last.name < name) {
      list.push(node);
    } else {
      const i = this.search(name);
      if (i >= 0) list[i] = node;
      else list.splice(-i - 1, 0, node);
    }
    if (list.length > ARRAY_MAX) {
      this.map = new Map(list.map((n) => [n.name, n]));
      this.list = null;
    }
    return this;
  }

  delete(name: string): boolean {
    if (this.list === null) return this.map!.delete(name);
    const i = this.search(name);
    if (i < 0) return false;
    this.list.splice(i, 1);
    return true;
  }

  keys(): IterableIterator<string> {
    return this.list !== null ? this.list.map((n) => n.name).values() : this.map!.keys();
  }

  values(): IterableIterator<N> {
    return this.list !== null ? this.list.values() : this.map!.values();
  }

  *entries(): IterableIterator<[string, N]> {
    for (const n of this.values()) yield [n.name, n];
  }

  [Symbol.iterator](): IterableIterator<[string, N]> {
    return this.entries();
  }

  /** The children's names in sorted order (a new array). */
  sortedNames(): string[] {
    return this.list !== null ? this.list.map((n) => n.name) : [...this.map!.keys()].sort();
  }

  /** Index of `name` in the list, or -(insertion point) - 1. */
  private search(name: string): number {
    const list = this.list!;
    let lo = 0;
    let hi = list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const m = list[mid]!.name;
      if (m < name) lo = mid + 1;
      else if (m > name) hi = mid - 1;
      else return mid;
    }
    return -lo - 1;
  }
}
