/**
 * The permission check of one request, as HDFS's FSPermissionChecker does it
 * (`checkPermission(path, doCheckOwner, ancestorAccess, parentAccess, access, subAccess,
 * ignoreEmptyDir)`), against the caller of user-groups.ts. rpc-permissions.ts says which
 * checks each RPC needs; this file knows only how to make them.
 *
 * For a path /c1/.../cn resolved as far as it exists:
 *
 *   | check        | on                                         | needs                        |
 *   |--------------|--------------------------------------------|------------------------------|
 *   | traverse     | every existing directory before cn's        | execute (always made)        |
 *   |              | deepest existing ancestor                  |                              |
 *   | ancestor     | the deepest existing one of /c1../c(n-1)   | as asked (create, mkdir -p)  |
 *   | parent       | /c1/.../c(n-1), if it exists               | as asked (delete, rename)    |
 *   | sticky       | parent with the sticky bit, when removing  | caller owns cn or the parent |
 *   | self         | cn, if it exists                           | as asked (open, list)        |
 *   | subtree      | every directory beneath cn and cn itself,  | as asked (delete: rwx)       |
 *   |              | empty ones skipped                         |                              |
 *   | owner        | cn                                         | the caller owns it (chmod)   |
 *
 * A node's bits for the caller: the user bits if the caller owns it, else the group bits if
 * the caller is in its group, else the other bits (POSIX; HDFS). A superuser passes every
 * check. A missing node is not this file's business: the operation reports NOT_FOUND.
 * A denial is ACCESS_DENIED naming the user, the path and what was missing:
 * "alice may not write /data (owner bob, group staff, mode rwxr-xr-x)".
 */
import { DfsError } from '../../protocol/errors.js';
import { accessWords, EXECUTE, formatMode, STICKY } from '../common/mode-bits.js';
import type { DirNode, INode } from './inode.js';
import { joinPath, parsePath } from './path-rules.js';
import type { Caller } from './user-groups.js';

export interface AccessWanted {
  /** Bits wanted on the deepest existing ancestor (creating beneath it, perhaps with parents). */
  ancestor?: number;
  /** Bits wanted on the parent (removing or adding an entry). */
  parent?: number;
  /** The entry leaves its parent (delete, rename source): the parent's sticky bit applies. */
  removal?: boolean;
  /** Bits wanted on the node itself. */
  self?: number;
  /** Bits wanted on every non-empty directory of the subtree at the node. */
  subtree?: number;
  /** The caller must own the node. */
  owner?: boolean;
}

export class PermissionChecker {
  /** `caller` null: a connection that named no user (a DataNode): refused every check. */
  constructor(
    private readonly root: DirNode,
    private readonly caller: Caller | null,
  ) {}

  get user(): string {
    return this.caller?.user ?? '';
  }

  get isSuperuser(): boolean {
    return this.caller?.superuser ?? false;
  }

  /** Whether the caller is in `group` (chgrp by an owner). */
  inGroup(group: string): boolean {
    return this.caller?.groups.has(group) ?? false;
  }

  /** The node at `path`, or null (no permission check). */
  lookup(path: string): INode | null {
    const nodes = this.resolve(parsePath(path));
    return nodes[nodes.length - 1] ?? null;
  }

  check(path: string, want: AccessWanted): void {
    const caller = this.callerOrDeny(path);
    if (caller.superuser) return;
    const parts = parsePath(path);
    const nodes = this.resolve(parts);
    const last = parts.length;
    let ancestor = last - 1;
    while (ancestor >= 0 && nodes[ancestor] === null) ancestor--;
    for (let i = 0; i <= ancestor; i++) {
      const n = nodes[i]!;
      if (n.kind !== 'dir') break; // the operation reports NOT_A_DIRECTORY
      this.need(caller, n, parts, i, EXECUTE);
    }
    if (want.ancestor !== undefined && ancestor >= 0)
      this.need(caller, nodes[ancestor]!, parts, ancestor, want.ancestor);
    const parent = last >= 1 ? nodes[last - 1] : null;
    const self = nodes[last] ?? null;
    if (want.parent !== undefined && parent !== null && parent !== undefined)
      this.need(caller, parent, parts, last - 1, want.parent);
    if (want.removal && parent && self !== null && parent.mode & STICKY) {
      if (self.owner !== caller.user && parent.owner !== caller.user) {
        throw new DfsError(
          'ACCESS_DENIED',
          `${caller.user} may not remove ${path}: ${joinPath(parts.slice(0, -1))} has the sticky bit ` +
            `and ${caller.user} owns neither the entry (owner ${self.owner}) nor the directory (owner ${parent.owner})`,
        );
      }
    }
    if (self === null) return;
    if (want.self !== undefined) this.need(caller, self, parts, last, want.self);
    if (want.subtree !== undefined && self.kind === 'dir')
      this.checkSubtree(caller, self, path, want.subtree);
    if (want.owner && self.owner !== caller.user) {
      throw new DfsError(
        'ACCESS_DENIED',
        `${caller.user} is not the owner of ${path} (owner ${self.owner}) nor the superuser`,
      );
    }
  }

  /** Refuses a connection with no user; returns the caller otherwise. */
  private callerOrDeny(path: string): Caller {
    if (this.caller === null)
      throw new DfsError('ACCESS_DENIED', `${path}: this connection named no user (DataNodes are not users)`);
    return this.caller;
  }

  /** nodes[i] is the node of parts[0..i) (nodes[0] the root), null past the end of the tree. */
  private resolve(parts: readonly string[]): Array<INode | null> {
    const nodes: Array<INode | null> = [this.root];
    let node: INode | null = this.root;
    for (const name of parts) {
      node = node !== null && node.kind === 'dir' ? (node.children.get(name) ?? null) : null;
      nodes.push(node);
    }
    return nodes;
  }

  private need(caller: Caller, node: INode, parts: readonly string[], depth: number, bits: number): void {
    if ((bitsFor(caller, node) & bits) === bits) return;
    throw denied(caller, node, joinPath(parts.slice(0, depth)), bits);
  }

  private checkSubtree(caller: Caller, top: DirNode, path: string, bits: number): void {
    const stack: Array<{ dir: DirNode; path: string }> = [{ dir: top, path }];
    while (stack.length > 0) {
      const { dir, path: p } = stack.pop()!;
      if (dir.children.size === 0) continue;
      if ((bitsFor(caller, dir) & bits) !== bits) throw denied(caller, dir, p, bits);
      for (const child of dir.children.values())
        if (child.kind === 'dir')
          stack.push({ dir: child, path: p === '/' ? `/${child.name}` : `${p}/${child.name}` });
    }
  }
}

/** The rwx bits of `node` that apply to `caller`. */
function bitsFor(caller: Caller, node: INode): number {
  if (node.owner === caller.user) return (node.mode >> 6) & 7;
  if (caller.groups.has(node.group)) return (node.mode >> 3) & 7;
  return node.mode & 7;
}

function denied(caller: Caller, node: INode, path: string, bits: number): DfsError {
  const what = bits === EXECUTE && node.kind === 'dir' ? 'execute (enter)' : accessWords(bits);
  return new DfsError(
    'ACCESS_DENIED',
    `${caller.user} may not ${what} ${path} (owner ${node.owner}, group ${node.group}, mode ${formatMode(node.mode)})`,
  );
}
