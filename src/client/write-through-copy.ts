/**
 * Writing a DFS file so that nobody ever sees half of it: the bytes go to
 * `<target>._COPYING_`, renamed onto the target only once the NameNode completed the copy
 * (every block at its minimum replicas). `dfs put` and its aliases (src/cli/commands/file-copy.ts)
 * and WebHDFS CREATE (src/webhdfs/datanode-webhdfs.ts) both write this way, so an upload cut
 * off half-way leaves no visible file.
 *
 *   target                 decision
 *   missing                write TARGET._COPYING_, rename to TARGET
 *   a file (`existing`)    write the copy, then delete TARGET and rename the copy onto it (the
 *                          NameNode has no rename-with-overwrite, so for a moment TARGET is
 *                          absent; it is never a partial file). The caller refuses this case
 *                          when overwriting is not wanted, before a byte is sent.
 *
 * The copy is created with overwrite (a leftover from a crashed writer is replaced), but one
 * that another client is still writing is refused by its lease (LEASE_CONFLICT) and is not
 * deleted by the clean-up. On any failure, including an abort (the AbortSignal) or a source
 * that errors, the copy is deleted (best effort, bounded in time) and the error is rethrown
 * without the `._COPYING_` name in it.
 */
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { DfsError, isDfsError } from '../../protocol/errors.js';
import type { FileStatus } from '../../protocol/shared-structures.js';
import { initChecksum } from '../common/checksum.js';
import type { DfsClient } from './dfs-client.js';
import type { DfsOutputStream } from './dfs-output-stream.js';
import { uploadFile } from './local-transfer.js';

/** The copy a writer fills before renaming it onto its destination. */
export const COPYING_SUFFIX = '._COPYING_';
/** How long clean-up after a failure may take before we give up on it. */
const CLEANUP_TIMEOUT_MS = 5000;

export interface CopyWriteOptions {
  /** The target's status now (null: missing); a file here is replaced. */
  existing: FileStatus | null;
  replication?: number;
  blockBytes?: number;
  /** Mode of the new file before the client's umask (default 0666). */
  permission?: number;
  /** Unacknowledged bytes in flight (DfsOutputStream's default when absent). */
  windowBytes?: number;
  signal?: AbortSignal;
  /** Called with the output stream once it exists (progress sampling). */
  onStream?: (stream: DfsOutputStream) => void;
  /**
   * The most bytes a stream source will give (an HTTP body's Content-Length): no block is
   * reserved past them (DfsOutputStream.endsWithin). A local file's own size is used anyway.
   */
  sizeAtMost?: number;
}

/**
 * Streams `source` into the DFS file `target` through the `._COPYING_` copy; returns the bytes
 * written. A stream source is destroyed on failure; a local file (read from its current
 * position straight into packet buffers, ./local-transfer.ts) stays open, its opener's to close.
 */
export async function writeThroughCopy(
  client: DfsClient,
  source: Readable | FileHandle,
  target: string,
  options: CopyWriteOptions,
): Promise<number> {
  const tmp = `${target}${COPYING_SUFFIX}`;
  const signal = options.signal ?? new AbortController().signal;
  let out: DfsOutputStream | null = null;
  try {
    signal.throwIfAborted();
    // With the checksum module loaded, the stream sends its create RPC within this tick, so
    // a delete sent on interruption always follows it.
    await initChecksum();
    signal.throwIfAborted();
    const stream = client.create(tmp, {
      overwrite: true,
      createParent: false,
      replication: options.replication,
      blockBytes: options.blockBytes,
      permission: options.permission,
      windowBytes: options.windowBytes,
      // The stream sources are Node's own socket and stdin streams, and DFS reads not
      // borrowed: none reuses a chunk.
      adoptChunks: true,
      // A file is not piped: an abort destroys the stream itself.
      ...(source instanceof Readable ? {} : { signal }),
    });
    out = stream;
    if (options.sizeAtMost !== undefined) stream.endsWithin(options.sizeAtMost);
    options.onStream?.(stream);
    if (source instanceof Readable) await pipeline(source, stream, { signal });
    else await uploadFile(stream, source);
    signal.throwIfAborted();
    if (options.existing !== null) {
      try {
        await client.delete(target);
      } catch (err) {
        if (!isDfsError(err, 'NOT_FOUND')) throw err;
      }
    }
    await client.rename(tmp, target);
    return stream.bytesWritten;
  } catch (err) {
    if (source instanceof Readable && !source.destroyed) source.destroy();
    // A copy file that is another writer's (lease) or a directory is not ours to delete.
    const notOurs = isDfsError(err, 'LEASE_CONFLICT') || isDfsError(err, 'IS_A_DIRECTORY');
    if (out !== null && !notOurs) await bestEffort(() => client.delete(tmp));
    throw withoutCopyName(err);
  }
}

/** Runs `op` for clean-up: errors are ignored and it may take at most CLEANUP_TIMEOUT_MS. */
export async function bestEffort(op: () => Promise<unknown>): Promise<void> {
  const ac = new AbortController();
  await Promise.race([
    op().catch(() => {}),
    sleep(CLEANUP_TIMEOUT_MS, undefined, { signal: ac.signal, ref: false }).catch(() => {}),
  ]);
  ac.abort();
}

/** An error about the `._COPYING_` copy, reworded about the destination the user named. */
export function withoutCopyName(err: unknown): unknown {
  if (!(err instanceof DfsError) || !err.message.includes(COPYING_SUFFIX)) return err;
  return new DfsError(err.code, err.message.replaceAll(COPYING_SUFFIX, ''), { cause: err });
}
