/**
 * Serves BLOCK_CHECKSUM (HDFS `BlockChecksumHelper`): the SHA-256 of a finalized replica's
 * stored chunk checksums, read from its meta file in small pieces (a block of 64 MiB at
 * 64 KiB chunks has 4 KiB of xxh32 or 8 KiB of xxh3 or xxh64 checksums); the answer names the
 * algorithm, on which the digest depends. The data file is not read: the checksums are the
 * writer's, which every reader and the block scanner verify against the data, so every
 * replica of a block gives the same digest. PROTOCOL.md section 10 defines the digest and
 * the file checksum built from it.
 */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { checksumBytes, checksumCount, type BlockChecksumResponse } from '../../protocol/data-messages.js';
import { DfsError } from '../../protocol/errors.js';
import type { Block } from '../../protocol/shared-structures.js';
import type { DataNodeContext } from './datanode-context.js';
import { META_HEADER_BYTES } from './replica-meta.js';
import type { Replica } from './storage.js';

const META_READ_BYTES = 64 * 1024;

/** The finalized replica a reader may be served for `block`: NOT_FOUND or STALE_GENERATION otherwise. */
export function servableReplica(dn: DataNodeContext, block: Block): Replica {
  const r = dn.storage.replicas.get(block.blockId);
  if (r === undefined || r.state !== 'finalized')
    throw new DfsError('NOT_FOUND', `no finalized replica of block ${block.blockId} here`);
  if (r.genStamp < block.genStamp) {
    throw new DfsError(
      'STALE_GENERATION',
      `replica of block ${block.blockId} has gen ${r.genStamp}, reader wants ${block.genStamp}`,
    );
  }
  return r;
}

export async function blockChecksum(dn: DataNodeContext, block: Block): Promise<BlockChecksumResponse> {
  const r = servableReplica(dn, block);
  const metaFile = path.join(r.volume.replicaDir('finalized', r.blockId), 'meta');
  const sumsBytes = checksumCount(r.numBytes, r.chunkBytes) * checksumBytes(r.checksumType);
  try {
    return {
      chunkBytes: r.chunkBytes,
      checksumType: r.checksumType,
      numBytes: r.numBytes,
      digest: await digestOf(metaFile, sumsBytes),
    };
  } catch (err) {
    if (err instanceof DfsError) throw err;
    // A vanished or unreadable meta file: the volume monitor drops and reports the replica.
    throw dn.disk.replicaUnreadable(r, err);
  }
}

async function digestOf(metaFile: string, sumsBytes: number): Promise<Buffer> {
  const hash = createHash('sha256');
  const handle = await fsp.open(metaFile, 'r');
  try {
    const buf = Buffer.allocUnsafe(Math.min(META_READ_BYTES, Math.max(sumsBytes, 1)));
    for (let done = 0; done < sumsBytes;) {
      const want = Math.min(buf.length, sumsBytes - done);
      const { bytesRead } = await handle.read(buf, 0, want, META_HEADER_BYTES + done);
      if (bytesRead === 0)
        throw new DfsError('CHECKSUM', `${metaFile}: ${sumsBytes - done} bytes of checksums missing`);
      hash.update(buf.subarray(0, bytesRead));
      done += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return hash.digest();
}
