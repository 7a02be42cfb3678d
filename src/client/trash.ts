/**
 * Trash, as HDFS's `TrashPolicyDefault`: with trash on (the NameNode's trashIntervalMinutes,
 * read from serverInfo), `dfs rm` moves a path to `/user/<user>/.Trash/Current/<path>`
 * instead of deleting it; restoring is a `mv` back. The NameNode turns `Current` into a
 * checkpoint (`.Trash/<yyMMddHHmmss>`) every checkpoint interval and deletes checkpoints
 * older than the trash interval (src/namenode/trash-emptier.ts). A path already in the
 * caller's trash is deleted for real; a path holding the trash cannot move into it.
 *
 * Everything here is ordinary rename and mkdir calls, each atomic and logged on the NameNode,
 * so a crash of either side at any moment leaves the path either where it was or in trash.
 */
import { DfsError, isDfsError } from '../../protocol/errors.js';
import type { DfsClient } from './dfs-client.js';

export const TRASH_DIR = '.Trash';
export const TRASH_CURRENT = 'Current';
/** Renames tried (a new suffix when the trash already holds the name, or again when Current moved away). */
const COLLISION_TRIES = 16;

/** `/user/<user>/.Trash` */
export function trashRoot(user: string): string {
  return `/user/${user}/${TRASH_DIR}`;
}

function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/**
 * Moves `path` to the caller's trash and returns where it went, or null when it is already
 * in the trash (the caller deletes it then, as hdfs does). `path` is absolute and normalized.
 */
export async function moveToTrash(client: DfsClient, path: string): Promise<string | null> {
  const root = trashRoot(client.user);
  if (within(path, root)) return null;
  if (within(root, path))
    throw new DfsError(
      'INVALID_ARGUMENT',
      `cannot move ${path} to the trash, as it contains the trash (${root}); use -skipTrash`,
    );
  await client.stat(path); // NOT_FOUND before anything is made
  const target = `${root}/${TRASH_CURRENT}${path}`;
  const parent = target.slice(0, target.lastIndexOf('/'));
  let candidate = target;
  for (let i = 0; i < COLLISION_TRIES; i++) {
    await client.mkdir(parent, { parents: true });
    if ((await client.exists(candidate)) !== null) {
      // As hdfs: a name the trash already holds gets the current time appended.
      candidate = `${target}${Date.now() + i}`;
      continue;
    }
    try {
      await client.rename(path, candidate);
      return candidate;
    } catch (err) {
      // Someone took the name between the check and the rename (the next try checks again),
      // or the NameNode's trash checkpoint moved Current away after the mkdir (HDFS retries
      // too: the next try makes it again, under the same name).
      if (
        !isDfsError(err, 'ALREADY_EXISTS') &&
        !(isDfsError(err, 'NOT_FOUND') && (await client.exists(path)) !== null)
      )
        throw err;
    }
  }
  throw new DfsError('ALREADY_EXISTS', `no free name for ${path} in ${root}/${TRASH_CURRENT}`);
}

/** Deletes everything in the caller's trash (`dfs expunge`); false when it had none. */
export async function expungeTrash(client: DfsClient): Promise<boolean> {
  try {
    await client.delete(trashRoot(client.user), { recursive: true });
    return true;
  } catch (err) {
    if (isDfsError(err, 'NOT_FOUND')) return false;
    throw err;
  }
}
