/**
 * Block recovery on one DataNode's replica (HDFS `FsDatasetImpl.initReplicaRecovery` and
 * `updateReplicaUnderRecovery`): what the primary of a recovery (block-recovery.ts) asks of
 * every node holding the block, itself included, over INIT_REPLICA_RECOVERY and
 * UPDATE_REPLICA_UNDER_RECOVERY (PROTOCOL.md section 7).
 *
 * init:   a recovery id not newer than the replica's stamp or than a recovery already under
 *         way here is refused (STALE_GENERATION: a newer recovery wins). A live writer of the
 *         block is stopped and its teardown awaited (datanode-context.ts `stopWriter`), so no
 *         write lands after the length is measured. The answer is the replica's stamp, state
 *         and the length whose bytes *and* checksums are on disk (`validLength`).
 * update: only for the recovery id of the last init. The replica is cut to the agreed
 *         length (the checksum of a last partial chunk is recomputed from the bytes kept),
 *         takes the recovery id as its stamp, is synced and finalized (rename + directory
 *         sync) before the answer, and is reported to the NameNode like any finalized one.
 *
 * Lengths read back from disk are untrusted: the data file and the checksums may disagree
 * after a crash (checksums are written a few KiB behind, replica-writer.ts), so the length
 * is the shorter of the two, and the last chunk is checked against its checksum and
 * dropped when it does not match (HDFS `validateIntegrityAndSetLength`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { checksumBytes, RecoveryReplicaState } from '../../protocol/data-messages.js';
import type { InitReplicaRecoveryResponse } from '../../protocol/data-messages.js';
import { DfsError } from '../../protocol/errors.js';
import type { Block } from '../../protocol/shared-structures.js';
import { chunkChecksum, chunkMatches } from '../common/checksum.js';
import type { FileSync } from '../common/file-sync.js';
import { writeFully } from '../common/fs-util.js';
import type { DataNodeContext } from './datanode-context.js';
import { checksumOffset, encodeMetaHeader, META_HEADER_BYTES } from './replica-meta.js';
import { diskError } from './replica-writer.js';
import type { Replica } from './storage.js';

export async function initReplicaRecovery(
  dn: DataNodeContext,
  blockId: number,
  recoveryId: number,
): Promise<InitReplicaRecoveryResponse> {
  const before = replicaOf(dn, blockId);
  if (recoveryId <= before.genStamp)
    throw new DfsError(
      'STALE_GENERATION',
      `recovery ${recoveryId} of block ${blockId} is not newer than its replica's stamp ${before.genStamp}`,
    );
  dn.writes.beginRecovery(blockId, recoveryId);
  dn.writes.stopWriter(blockId);
  await dn.writes.settled(blockId);
  if (dn.writes.recoveryOf(blockId) !== recoveryId)
    throw new DfsError('STALE_GENERATION', `recovery ${recoveryId} of block ${blockId} was overtaken`);
  if (dn.writes.isWriting(blockId))
    throw new DfsError('ALREADY_EXISTS', `block ${blockId} is being written again; recovery refused`);
  const r = replicaOf(dn, blockId);
  if (r.state === 'finalized')
    return { genStamp: r.genStamp, numBytes: r.numBytes, state: RecoveryReplicaState.FINALIZED };
  const dir = r.volume.replicaDir('rbw', blockId);
  try {
    const numBytes = await validLength(path.join(dir, 'data'), path.join(dir, 'meta'), r);
    return { genStamp: r.genStamp, numBytes, state: RecoveryReplicaState.UNFINISHED };
  } catch (err) {
    throw diskError(err, `cannot read replica of block ${blockId} for recovery`);
  }
}

export async function updateReplicaUnderRecovery(
  dn: DataNodeContext,
  blockId: number,
  recoveryId: number,
  newLength: number,
): Promise<Block> {
  if (dn.writes.recoveryOf(blockId) !== recoveryId)
    throw new DfsError(
      'STALE_GENERATION',
      `recovery ${recoveryId} of block ${blockId} is not the one under way here (${dn.writes.recoveryOf(blockId) ?? 'none'})`,
    );
  if (dn.writes.isWriting(blockId))
    throw new DfsError('ALREADY_EXISTS', `block ${blockId} is being written again; recovery refused`);
  const r = replicaOf(dn, blockId);
  const state = r.state;
  if (state === 'finalized' && r.numBytes !== newLength)
    throw new DfsError(
      'INVALID_ARGUMENT',
      `finalized replica of block ${blockId} holds ${r.numBytes} bytes, recovery wants ${newLength}`,
    );
  const dir = r.volume.replicaDir(state, blockId);
  try {
    await truncateReplica(path.join(dir, 'data'), path.join(dir, 'meta'), r, newLength, recoveryId, dn.sync);
  } catch (err) {
    throw diskError(err, `cannot update replica of block ${blockId} for recovery`);
  }
  // Another recovery may have begun while the files were cut; the replica is consistent
  // either way (it carries this recovery's stamp), and the newer one measures it again.
  r.genStamp = recoveryId;
  r.numBytes = newLength;
  if (state === 'rbw') await dn.storage.finalize(r);
  dn.writes.endRecovery(blockId, recoveryId);
  const block = { blockId, genStamp: recoveryId, numBytes: newLength };
  dn.blockReceived(block);
  return block;
}

function replicaOf(dn: DataNodeContext, blockId: number): Replica {
  const r = dn.storage.replicas.get(blockId);
  if (r === undefined) throw new DfsError('NOT_FOUND', `no replica of block ${blockId} here`);
  return r;
}

/** Opens a replica's two files; when the second open fails, the first is closed again. */
async function openPair(
  dataFile: string,
  metaFile: string,
  flags: 'r' | 'r+',
): Promise<[fs.promises.FileHandle, fs.promises.FileHandle]> {
  const dataFd = await fs.promises.open(dataFile, flags);
  try {
    return [dataFd, await fs.promises.open(metaFile, flags)];
  } catch (err) {
    await dataFd.close();
    throw err;
  }
}

/**
 * Bytes of the data file covered by checksums on disk, less a last chunk that does not
 * match its checksum (a write torn by a crash).
 */
export async function validLength(
  dataFile: string,
  metaFile: string,
  r: Pick<Replica, 'chunkBytes' | 'checksumType'>,
): Promise<number> {
  const { chunkBytes } = r;
  const sumBytes = checksumBytes(r.checksumType);
  const [data, meta] = await Promise.all([fs.promises.stat(dataFile), fs.promises.stat(metaFile)]);
  const sums = Math.max(0, Math.floor((meta.size - META_HEADER_BYTES) / sumBytes));
  const length = Math.min(data.size, sums * chunkBytes);
  if (length === 0) return 0;
  const lastStart = Math.floor((length - 1) / chunkBytes) * chunkBytes;
  const [dataFd, metaFd] = await openPair(dataFile, metaFile, 'r');
  try {
    const chunk = Buffer.alloc(length - lastStart);
    const stored = Buffer.alloc(sumBytes);
    await Promise.all([
      dataFd.read(chunk, 0, chunk.length, lastStart),
      metaFd.read(stored, 0, sumBytes, checksumOffset(lastStart, r)),
    ]);
    return chunkMatches(r.checksumType, chunk, stored, 0) ? length : lastStart;
  } finally {
    await Promise.all([dataFd.close(), metaFd.close()]);
  }
}

/**
 * Cuts a replica's files to `newLength` bytes with the new stamp in the meta header, the
 * checksum of a last partial chunk recomputed, and both files synced.
 */
export async function truncateReplica(
  dataFile: string,
  metaFile: string,
  r: Pick<Replica, 'chunkBytes' | 'checksumType'>,
  newLength: number,
  genStamp: number,
  sync: FileSync,
): Promise<void> {
  const size = (await fs.promises.stat(dataFile)).size;
  if (size < newLength)
    throw new DfsError('INVALID_ARGUMENT', `replica holds ${size} bytes, recovery wants ${newLength}`);
  const [dataFd, metaFd] = await openPair(dataFile, metaFile, 'r+');
  try {
    const chunks = Math.ceil(newLength / r.chunkBytes);
    await dataFd.truncate(newLength);
    await metaFd.truncate(META_HEADER_BYTES + chunks * checksumBytes(r.checksumType));
    const partial = newLength % r.chunkBytes;
    if (partial !== 0) {
      const lastStart = newLength - partial;
      const chunk = Buffer.alloc(partial);
      await dataFd.read(chunk, 0, partial, lastStart);
      await writeFully(metaFd.fd, chunkChecksum(r.checksumType, chunk), checksumOffset(lastStart, r));
    }
    const header = { chunkBytes: r.chunkBytes, checksumType: r.checksumType, genStamp };
    await writeFully(metaFd.fd, encodeMetaHeader(header), 0);
    await Promise.all([sync.fdatasync(dataFd.fd), sync.fdatasync(metaFd.fd)]);
  } finally {
    await Promise.all([dataFd.close(), metaFd.close()]);
  }
}
