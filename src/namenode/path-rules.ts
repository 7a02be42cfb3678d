/**
 * Path validation. Every path a client sends is checked here before it touches the
 * namespace: absolute, normalized (no empty, '.' or '..' components, no trailing slash
 * except the root), no NUL, bounded length and depth, bounded name length. Anything else
 * is INVALID_PATH with the reason, so a bad path never reaches the tree or the edit log.
 * A rename is checked for every path it creates, not only its destination
 * (`checkSubtreeFits`).
 */
import { DfsError } from '../../protocol/errors.js';
import { NAME_BYTES_MAX, PATH_BYTES_MAX, PATH_DEPTH_MAX } from '../../protocol/limits.js';

/** Splits a valid absolute path into its components ([] for the root). */
export function parsePath(path: string): string[] {
  if (typeof path !== 'string' || path.length === 0) throw invalid(path, 'empty path');
  if (path.charCodeAt(0) !== 47 /* '/' */) throw invalid(path, 'not absolute');
  if (path.length === 1) return [];
  if (Buffer.byteLength(path, 'utf8') > PATH_BYTES_MAX)
    throw invalid(path, `longer than ${PATH_BYTES_MAX} bytes`);
  if (path.includes('\0')) throw invalid(path, 'contains NUL');
  const parts = path.split('/');
  parts.shift();
  if (parts.length > PATH_DEPTH_MAX) throw invalid(path, `deeper than ${PATH_DEPTH_MAX} components`);
  for (const name of parts) {
    if (name.length === 0) throw invalid(path, 'empty component (double or trailing slash)');
    if (name === '.' || name === '..') throw invalid(path, `'${name}' component`);
    if (name.length > NAME_BYTES_MAX / 4 && Buffer.byteLength(name, 'utf8') > NAME_BYTES_MAX) {
      throw invalid(path, `component longer than ${NAME_BYTES_MAX} bytes`);
    }
  }
  return parts;
}

export function joinPath(parts: readonly string[]): string {
  return parts.length === 0 ? '/' : `/${parts.join('/')}`;
}

/** True when `inner` is `outer` or lies beneath it (component-wise, not string prefix). */
export function isSameOrBeneath(outer: readonly string[], inner: readonly string[]): boolean {
  if (inner.length < outer.length) return false;
  for (let i = 0; i < outer.length; i++) if (outer[i] !== inner[i]) return false;
  return true;
}

/** A namespace subtree as the limit check sees it (DirNode and FileNode fit it). */
export interface PathSubtree {
  readonly kind: string;
  readonly children?: Iterable<[string, PathSubtree]>;
}

/**
 * Checks that every path a rename creates stays within the limits: the subtree moved to
 * `dstPath` (itself already checked) must not hold a path deeper than PATH_DEPTH_MAX
 * components or longer than PATH_BYTES_MAX bytes once beneath it. Otherwise a rename could
 * nest the tree where no walk, lease recovery or client can name it (issue 10, item 5).
 * The walk stops at the first path past a limit; it costs one visit per node moved.
 */
export function checkSubtreeFits(src: string, dstPath: string, subtree: PathSubtree): void {
  const dstDepth = dstPath === '/' ? 0 : dstPath.split('/').length - 1;
  const depthLeft = PATH_DEPTH_MAX - dstDepth;
  const bytesLeft = PATH_BYTES_MAX - Buffer.byteLength(dstPath, 'utf8');
  const stack: Array<{ node: PathSubtree; depth: number; bytes: number }> = [
    { node: subtree, depth: 0, bytes: 0 },
  ];
  while (stack.length > 0) {
    const { node, depth, bytes } = stack.pop()!;
    if (node.children === undefined) continue;
    for (const [name, child] of node.children) {
      const d = depth + 1;
      const b = bytes + 1 + Buffer.byteLength(name, 'utf8');
      if (d > depthLeft)
        throw new DfsError(
          'INVALID_PATH',
          `cannot move ${src} to ${dstPath}: a path beneath it would be ${dstDepth + d} components deep ` +
            `(limit ${PATH_DEPTH_MAX})`,
        );
      if (b > bytesLeft)
        throw new DfsError(
          'INVALID_PATH',
          `cannot move ${src} to ${dstPath}: a path beneath it would be longer than ${PATH_BYTES_MAX} bytes`,
        );
      stack.push({ node: child, depth: d, bytes: b });
    }
  }
}

function invalid(path: string, why: string): DfsError {
  const shown = typeof path === 'string' && path.length > 200 ? `${path.slice(0, 200)}...` : path;
  return new DfsError('INVALID_PATH', `invalid path '${shown}': ${why}`);
}
