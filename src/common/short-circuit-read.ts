/**
 * Short-circuit reads (as HDFS's): a reader in the very process of a DataNode that holds a
 * replica reads it through that DataNode's own storage, with no socket and no packet framing.
 * Used by a DataNode's WebHDFS OPEN (src/webhdfs/datanode-webhdfs.ts), whose DfsClient reads
 * each block it holds itself (src/datanode/short-circuit-reads.ts) and the others over TCP.
 *
 * The DataNode side only hands out what READ_BLOCK would send: its answer (chunk size, the
 * replica's checksum algorithm, the chunk-aligned range) and the replica's bytes with the
 * checksums stored at write time, a packet's worth at a time. Everything a reader does with
 * them stays the client's, one code path for both sources (src/client/block-reader.ts): every
 * chunk verified, the range trimmed, a mismatch failed as CHECKSUM, which the input stream
 * reports to the NameNode before it fails over to the next replica
 * (src/client/dfs-input-stream.ts). A fault on the DataNode side (no such replica, a stale
 * one, an unreadable file) is thrown as the DfsError its ERROR frame would carry.
 *
 * Declared here, where both the client that uses it and the DataNode that implements it can
 * see it (src/datanode never imports src/client), as LocalFirstHop (pipeline-connect.ts) is
 * for writes.
 */
import type { ReadBlockRequest, ReadBlockResponse } from '../../protocol/data-messages.js';
import type { DatanodeInfo } from '../../protocol/shared-structures.js';

/** One packet's worth of a replica, as a PACKET frame would carry it. */
export interface ReplicaPacket {
  offsetInBlock: number;
  /** The payload, in the pieces it is held in (one buffer when read from disk). */
  payload: readonly Buffer[];
  /** The stored checksums of the payload's chunks, in `head.checksumType`. */
  checksums: Buffer;
  last: boolean;
  /** Lets the packet's memory be reused (a packet read into recycled slabs: read-slabs.ts). */
  release?: () => void;
}

/** A READ_BLOCK answered: its head, then its packets (pulled, never read far ahead). */
export interface ReplicaStream {
  head: ReadBlockResponse;
  packets: AsyncGenerator<ReplicaPacket, void, undefined>;
}

export interface ShortCircuitReads {
  /** Whether `node` is this process's DataNode. */
  isSelf(node: DatanodeInfo): boolean;
  /**
   * READ_BLOCK served in-process; throws the DfsError the DataNode would answer with. The
   * packets hold nothing (no file, no buffer) until the first is pulled, and let go of
   * everything once they end or `return()` is called.
   */
  readBlock(req: ReadBlockRequest): ReplicaStream;
}
