/**
 * Copying one file, the step put, get, cp and their aliases repeat for every file they move.
 * Neither side ever shows a half-written file where the user expects a whole one: the bytes
 * go to `<destination>._COPYING_`, renamed onto the destination only once all are stored
 * (for DFS: once the NameNode completed the file, every block at its minimum replicas).
 *
 *   into DFS                  decision
 *   target missing            write TARGET._COPYING_, rename to TARGET
 *   target a file, no -f      ALREADY_EXISTS before a byte is sent
 *   target a file, -f         write the copy, then delete TARGET and rename the copy onto it
 *                             (the NameNode has no rename-with-overwrite, so for a moment
 *                             TARGET is absent; it is never a partial file)
 *   target a directory        IS_A_DIRECTORY (the caller has already looked inside it)
 *
 *   to the local disk         decision (the same, on the local disk)
 *   a regular file            ALREADY_EXISTS without -f; with -f, copy then rename over it
 *   a device, FIFO or socket  written into where it is, no -f needed (`get /f /dev/null`):
 *   (not a directory)         renaming a copy over it would destroy the node, and writing
 *                             into it replaces nothing; a socket cannot be opened (error)
 *
 * Into DFS the copy dance is the client's (src/client/write-through-copy.ts: the lease on a
 * leftover copy, clean-up on failure), shared with WebHDFS CREATE. On any failure, including
 * an interruption (the AbortSignal), the copy is deleted (best effort, bounded in time) and the
 * error is rethrown without the `._COPYING_` name in it; the caller says what happened.
 */
import fs from 'node:fs';
import fsp, { type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { DfsError } from '../../../protocol/errors.js';
import { FileType, type FileStatus } from '../../../protocol/shared-structures.js';
import { downloadToFile } from '../../client/local-transfer.js';
import { writeThroughCopy } from '../../client/write-through-copy.js';
import type { CommandContext } from './command-context.js';
import {
  COPYING_SUFFIX,
  localError,
  localStat,
  NO_PROGRESS,
  startProgress,
  withoutCopyName,
  type Interruption,
} from './transfer-support.js';

export interface RemoteWriteOptions {
  force?: boolean;
  replication?: number;
  blockSize?: number;
}

/** A byte source with its size when known (null for a pipe or a terminal). */
export interface CopySource {
  /** A stream, or a local file read from its current position into packet buffers (stays open). */
  from: Readable | FileHandle;
  totalBytes: number | null;
  /** The progress line's label. */
  label: string;
}

/** What a destination holds now: null when missing. Throws when it is a directory. */
export async function remoteTargetState(
  ctx: CommandContext,
  target: string,
  force: boolean | undefined,
): Promise<FileStatus | null> {
  const existing = await ctx.client.exists(target);
  if (existing?.type === FileType.DIRECTORY) throw new DfsError('IS_A_DIRECTORY', `${target} is a directory`);
  if (existing !== null && force !== true)
    throw new DfsError('ALREADY_EXISTS', `${target} already exists (use -f to overwrite)`);
  return existing;
}

/**
 * Streams `source` into the DFS file `target` (whose state `remoteTargetState` gave) through
 * the `._COPYING_` copy. Returns the bytes written. The source is destroyed on failure.
 */
export async function writeRemoteFile(
  ctx: CommandContext,
  source: CopySource,
  target: string,
  existing: FileStatus | null,
  options: RemoteWriteOptions,
  intr: Interruption,
): Promise<number> {
  let progress = NO_PROGRESS;
  try {
    const bytes = await writeThroughCopy(ctx.client, source.from, target, {
      existing,
      replication: options.replication,
      blockBytes: options.blockSize,
      signal: intr.signal,
      onStream: (stream) => {
        progress = startProgress(ctx, source.label, source.totalBytes, () => stream.bytesAcked);
      },
    });
    progress.finish(bytes);
    return bytes;
  } catch (err) {
    progress.clear();
    throw err;
  }
}

/** How a local destination is written: through a copy renamed over it, or into it in place. */
export interface LocalTarget {
  path: string;
  existing: fs.Stats | null;
  /** An existing device, FIFO or socket: written into, never replaced. */
  inPlace: boolean;
}

/** The local destination's state; ALREADY_EXISTS for a regular file without -f. */
export async function localTargetState(dest: string, force: boolean | undefined): Promise<LocalTarget> {
  const existing = await localStat(dest);
  if (existing?.isDirectory()) throw new DfsError('IS_A_DIRECTORY', `local ${dest} is a directory`);
  const inPlace = existing !== null && !existing.isFile();
  if (existing !== null && !inPlace && force !== true)
    throw new DfsError('ALREADY_EXISTS', `local ${dest} already exists (use -f to overwrite)`);
  return { path: dest, existing, inPlace };
}

/** Copies the DFS file `src` (its `status` known) to `target`. Returns the bytes written. */
export async function writeLocalFile(
  ctx: CommandContext,
  src: string,
  status: FileStatus,
  target: LocalTarget,
  label: string,
  intr: Interruption,
): Promise<number> {
  const dest = target.path;
  const tmp = `${dest}${COPYING_SUFFIX}`;
  const input = ctx.client.open(src, { signal: intr.signal });
  const progress = startProgress(ctx, label, status.length, () => input.bytesRead);
  let file: FileHandle | null = null;
  try {
    // In place: O_WRONLY alone, never create or truncate (a node that vanished since the stat
    // is an error, not a new regular file). A FIFO's open waits for its reader.
    file = await fsp.open(target.inPlace ? dest : tmp, target.inPlace ? fs.constants.O_WRONLY : 'w');
    // Each packet written before the next is read: its memory is then reused (local-transfer.ts).
    const bytes = await downloadToFile(input, file, intr.signal);
    await file.close();
    file = null;
    if (!target.inPlace) await fsp.rename(tmp, dest);
    progress.finish(bytes);
    return bytes;
  } catch (err) {
    progress.clear();
    if (!input.destroyed) input.destroy();
    // Interrupted: a write into a FIFO may still wait for its reader; the close waits for it.
    const closing = file?.close().catch(() => {});
    if (!intr.signal.aborted) await closing;
    if (!target.inPlace) await fsp.rm(tmp, { force: true }).catch(() => {});
    throw withoutCopyName(localError(err, dest));
  }
}

/** What an interrupted copy left at its destination, for the INTERRUPTED line. */
export function interruptedOutcome(shown: string, existed: boolean, inPlace = false): string {
  if (inPlace) return `${shown} received part of the file`;
  return `the partial copy was removed; ${shown}: ${existed ? 'it is unchanged' : 'nothing was written'}`;
}
