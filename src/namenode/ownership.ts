/**
 * Who owns a node and its mode, as the namespace sets them (HDFS PermissionStatus): a new
 * node belongs to its creator and to its parent's group, with the mode its record carries
 * (the client's umask applied); directories made on the way get u+wx. What was made before
 * owners existed (an old image's nodes, old mkdir/create records: edit-ops.ts, fs-image.ts)
 * belongs to the superuser and the supergroup, 0755 or 0644, as is the root at format.
 * Who may make or change what is judged before, in permission-checker.ts; nothing here
 * needs a caller, so replay sets exactly what the live NameNode did.
 */
import os from 'node:os';
import { DfsError } from '../../protocol/errors.js';
import type { Owned } from './edit-ops.js';
import type { DirNode, INode } from './inode.js';

/** The superuser and supergroup: the root's owners at format, and the defaults above. */
export interface DefaultOwners {
  superuser: string;
  supergroup: string;
}

/** The NameNode process's user and HDFS's default supergroup. */
export function processOwners(): DefaultOwners {
  return { superuser: os.userInfo().username, supergroup: 'supergroup' };
}

/** The superuser and supergroup a NameNode's config names (superuser '' = the process's user). */
export function namenodeOwners(config: { superuser: string; supergroup: string }): DefaultOwners {
  return { superuser: config.superuser || processOwners().superuser, supergroup: config.supergroup };
}

/** Modes of what was made before owners existed (and of the root at format). */
export const LEGACY_DIR_MODE = 0o755;
export const LEGACY_FILE_MODE = 0o644;
/** HDFS: directories mkdir -p (or create) makes on the way get u+wx, so the creator can go on. */
const IMPLICIT_PARENT_BITS = 0o300;

/** The owners and mode of a node made before owners existed. */
export function legacyOwners(
  defaults: DefaultOwners,
  isDir: boolean,
): Pick<INode, 'owner' | 'group' | 'mode'> {
  return {
    owner: defaults.superuser,
    group: defaults.supergroup,
    mode: isDir ? LEGACY_DIR_MODE : LEGACY_FILE_MODE,
  };
}

/**
 * Gives a new node its owner (`owned`, or the defaults for an old record), mode and group.
 * `implicitParent`: a directory made on the way to the one asked for.
 */
export function ownNewNode(
  node: INode,
  parent: DirNode,
  owned: Owned | undefined,
  defaults: DefaultOwners,
  implicitParent = false,
): void {
  if (owned === undefined) {
    Object.assign(node, legacyOwners(defaults, node.kind === 'dir'));
    return;
  }
  node.owner = owned.owner;
  node.group = parent.group;
  node.mode = implicitParent ? (owned.mode & 0o777) | IMPLICIT_PARENT_BITS : owned.mode;
}

/** chmod: a file keeps no sticky bit. */
export function changeMode(node: INode, mode: number): void {
  node.mode = node.kind === 'dir' ? mode : mode & 0o777;
}

/** chown / chgrp: '' leaves that one unchanged. */
export function changeOwner(node: INode, owner: string, group: string): void {
  if (owner === '' && group === '') throw new DfsError('INVALID_ARGUMENT', 'neither owner nor group given');
  if (owner !== '') node.owner = owner;
  if (group !== '') node.group = group;
}
