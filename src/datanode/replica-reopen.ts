/**
 * The checks and the one disk step of reopening a replica for writing (ReplicaWriter.reopen
 * in replica-writer.ts): pipeline recovery (RECOVER) of a replica being written or
 * finalized, cut to the acknowledged length, and append (APPEND) of a finalized replica at
 * exactly its length. Either may end inside a chunk; that chunk's checksum is then
 * recomputed from the bytes kept (recovery) or checked against them (append), and kept by
 * the writer for the packet that continues the chunk.
 */
import fs from 'node:fs';
import { promisify } from 'node:util';
import { DfsError } from '../../protocol/errors.js';
import type { Block } from '../../protocol/shared-structures.js';
import { chunkChecksum } from '../common/checksum.js';
import { writeFully } from '../common/fs-util.js';
import type { DataNodeContext } from './datanode-context.js';
import { checksumOffset } from './replica-meta.js';
import type { Replica } from './storage.js';

/** The replica a recovery (or an append) of `block` would reopen, or the typed reason it cannot. */
export function recoverableReplica(
  dn: DataNodeContext,
  block: Block,
  chunkBytes: number,
  mode: 'recover' | 'append',
): Replica {
  const { blockId, genStamp, numBytes } = block;
  const r = dn.storage.replicas.get(blockId);
  // No check of the algorithm: a reopened replica continues with its own, which the
  // WRITE_BLOCK response tells the writer (block-receiver.ts).
  if (r === undefined) throw new DfsError('NOT_FOUND', `no replica of block ${blockId} to ${mode}`);
  if (r.genStamp >= genStamp)
    throw new DfsError('STALE_GENERATION', `${mode} gen ${genStamp} is not newer than ${r.genStamp}`);
  if (r.chunkBytes !== chunkBytes) throw new DfsError('INVALID_ARGUMENT', `${mode} changes the chunk size`);
  if (mode === 'append' && (r.state !== 'finalized' || r.numBytes !== numBytes))
    throw new DfsError(
      'INVALID_ARGUMENT',
      `append to block ${blockId} of ${numBytes} bytes, the replica here is ${r.state} with ${r.numBytes}`,
    );
  return r;
}

/**
 * The checksum of the last partial chunk of a reopened replica (null: it ends on a chunk
 * boundary). Recovery recomputes it from the bytes kept (the stored one may cover bytes
 * just cut); append checks the stored one against the bytes, which nothing cut.
 */
export async function lastPartialChecksum(
  fds: { data: number; meta: number },
  numBytes: number,
  r: Pick<Replica, 'chunkBytes' | 'checksumType'>,
  mode: 'recover' | 'append',
  blockId: number,
): Promise<Buffer | null> {
  const partial = numBytes % r.chunkBytes;
  if (partial === 0) return null;
  const bytes = Buffer.allocUnsafe(partial);
  const { bytesRead } = await promisify(fs.read)(fds.data, bytes, 0, partial, numBytes - partial);
  if (bytesRead !== partial)
    throw new DfsError('CHECKSUM', `block ${blockId}: data shorter than ${numBytes}`);
  const sum = chunkChecksum(r.checksumType, bytes);
  const at = checksumOffset(numBytes, r);
  if (mode === 'append') {
    const stored = Buffer.alloc(sum.length);
    await promisify(fs.read)(fds.meta, stored, 0, sum.length, at);
    if (!stored.equals(sum))
      throw new DfsError('CHECKSUM', `block ${blockId}: its last partial chunk does not match its checksum`);
  } else {
    await writeFully(fds.meta, sum, at);
  }
  return sum;
}
