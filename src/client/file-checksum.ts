/**
 * `DfsClient.checksum`: a whole-file checksum computed from what the DataNodes store, as
 * HDFS's `getFileChecksum` (MD5-of-MD5-of-CRC32), with DFS's hashes. Each block's digest is
 * asked of one replica (BLOCK_CHECKSUM, PROTOCOL.md section 10: SHA-256 of the block's
 * stored chunk checksums), the next replica on failure; the file checksum is SHA-256 of the
 * block digests in order. No data is read: the DataNodes hash a few KiB of checksums per
 * block, so the checksum of a terabyte costs the same as a listing of its blocks.
 *
 * Identical content written with the same block and chunk sizes and the same checksum
 * algorithm gives the same checksum whichever replicas answer; the algorithm is in its name
 * (SHA256-OF-SHA256-OF-XXH3, -XXH64 or -XXH32), as HDFS names its CRC type (MD5-of-MD5-of-CRC32C).
 * A file whose blocks mix algorithms (an xxh64 file appended to by a client writing xxh3)
 * has no comparable checksum: INVALID_ARGUMENT, as for mixed chunk sizes. HDFS does the
 * same in spirit: its MD5-of-MD5-of-CRC mode turns mixed CRC types into the type MIXED and
 * returns no checksum (null), its COMPOSITE_CRC mode fails ("MIXED is not supported").
 * Rewriting the file (`dfs cp`) gives it one algorithm again.
 */
import { createHash } from 'node:crypto';
import {
  CHECKSUM_TYPE_DEFAULT,
  checksumTypeName,
  dataCodecs,
  decodeDataBody,
  encodeDataRequest,
  type BlockChecksumResponse,
  type ChecksumType,
  type ChecksumTypeName,
} from '../../protocol/data-messages.js';
import { decodeError } from '../../protocol/error-frame.js';
import { DfsError, rethrowIfBug } from '../../protocol/errors.js';
import { FrameKind } from '../../protocol/frame.js';
import { Role } from '../../protocol/handshake.js';
import { FileType, type Block, type DatanodeInfo } from '../../protocol/shared-structures.js';
import { DataConnection } from '../common/data-connection.js';
import type { LocatedBlocks } from '../../protocol/client-namenode-messages.js';
import type { FileStatus } from '../../protocol/shared-structures.js';

export type FileChecksumAlgorithm = `SHA256-OF-SHA256-OF-${Uppercase<ChecksumTypeName>}`;

/** The file checksum's name for blocks whose chunk checksums are of `type`. */
export function fileChecksumAlgorithm(type: ChecksumType): FileChecksumAlgorithm {
  return `SHA256-OF-SHA256-OF-${checksumTypeName(type).toUpperCase() as Uppercase<ChecksumTypeName>}`;
}

export interface FileChecksum {
  /** Named after the blocks' chunk checksum algorithm (an empty file: the client's for new blocks). */
  algorithm: FileChecksumAlgorithm;
  /** Bytes per checksum chunk the blocks were written with (0 for an empty file). */
  chunkBytes: number;
  /** The file's block size, on which the checksum depends. */
  blockBytes: number;
  length: number;
  /** 64 hex digits. */
  checksum: string;
}

const BLOCK_CHECKSUM_TIMEOUT_MS = 30_000;

/** One replica's digest of `block`. */
export function blockDigest(replica: DatanodeInfo, block: Block): Promise<BlockChecksumResponse> {
  return DataConnection.open({
    host: replica.host,
    port: replica.port,
    role: Role.CLIENT,
    label: replica.nodeId,
    idleTimeoutMs: BLOCK_CHECKSUM_TIMEOUT_MS,
  }).then(
    (conn) =>
      new Promise<BlockChecksumResponse>((resolve, reject) => {
        conn.onFrame = (f) => {
          try {
            if (f.kind === FrameKind.ERROR) throw decodeError(f);
            if (f.kind !== FrameKind.RESPONSE)
              throw new DfsError('PROTOCOL', `unexpected frame kind ${f.kind} from ${replica.nodeId}`);
            resolve(decodeDataBody(dataCodecs.blockChecksum.res, f, 'block checksum response'));
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          } finally {
            conn.close();
          }
        };
        conn.onClose = (err) =>
          reject(err ?? new DfsError('CONNECTION', `${replica.nodeId} closed before answering`));
        conn.send(encodeDataRequest('blockChecksum', 1, { block }));
      }),
  );
}

/** What the checksum needs of the client (DfsClient has it). */
export interface BlockLocator {
  stat(path: string): Promise<FileStatus>;
  getBlockLocations(path: string): Promise<LocatedBlocks>;
  /** The algorithm this client writes new blocks with: an empty file's checksum is named after it. */
  readonly checksumType?: ChecksumType;
}

export async function fileChecksum(client: BlockLocator, path: string): Promise<FileChecksum> {
  const status = await client.stat(path);
  if (status.type === FileType.DIRECTORY)
    throw new DfsError('IS_A_DIRECTORY', `${path} is a directory (checksum is of a file)`);
  const located = await client.getBlockLocations(path);
  if (located.underConstruction)
    throw new DfsError('INVALID_ARGUMENT', `${path} is open for writing: its checksum is not final yet`);
  const fileHash = createHash('sha256');
  let chunkBytes = 0;
  let type: ChecksumType | null = null;
  for (const lb of located.blocks) {
    let answer: BlockChecksumResponse | null = null;
    let lastErr: unknown = null;
    for (const replica of lb.locations) {
      try {
        answer = await blockDigest(replica, lb.block);
        break;
      } catch (err) {
        rethrowIfBug(err);
        lastErr = err;
      }
    }
    if (answer === null) {
      const why = lastErr instanceof Error ? `: ${lastErr.message}` : ' (no live replica)';
      throw new DfsError(
        'BLOCK_UNAVAILABLE',
        `no replica of block ${lb.block.blockId} of ${path} answered${why}`,
      );
    }
    if (answer.numBytes !== lb.block.numBytes)
      throw new DfsError(
        'CHECKSUM',
        `replica of block ${lb.block.blockId} holds ${answer.numBytes} bytes, the file says ${lb.block.numBytes}`,
      );
    if (chunkBytes !== 0 && answer.chunkBytes !== chunkBytes)
      throw new DfsError(
        'INVALID_ARGUMENT',
        `${path} mixes chunk sizes ${chunkBytes} and ${answer.chunkBytes}`,
      );
    if (type !== null && answer.checksumType !== type)
      throw new DfsError(
        'INVALID_ARGUMENT',
        `${path} mixes checksum algorithms ${checksumTypeName(type)} and ${checksumTypeName(answer.checksumType)} (block ${lb.block.blockId}): it has no comparable checksum; a copy of it has one`,
      );
    chunkBytes = answer.chunkBytes;
    type = answer.checksumType;
    fileHash.update(answer.digest);
  }
  return {
    algorithm: fileChecksumAlgorithm(type ?? client.checksumType ?? CHECKSUM_TYPE_DEFAULT),
    chunkBytes,
    blockBytes: status.blockBytes,
    length: located.fileLength,
    checksum: fileHash.digest('hex'),
  };
}
