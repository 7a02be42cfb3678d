/**
 * Serves one READ_BLOCK (HDFS `BlockSender`): answers with the chunk size and the aligned
 * range, then streams PACKET frames: [frame header + packet header + stored checksums] and
 * the payload read from the data file, corked together, last packet flagged.
 *
 * The stored checksums go out as they are on disk, so the reader verifies end to end what
 * the writer computed; this node does not re-verify on the read path (the block scanner
 * does, in the background). Only replicas with a generation stamp at least the requested
 * one are served: a stale replica is refused, never read. A replica being written is served
 * up to what its writer made visible (hflush, append: `Replica.visible`), the checksum of
 * a last partial chunk from that snapshot (the writer rewrites its slot on disk as the chunk
 * grows, HDFS `ReplicaBeingWritten.getLastChecksumAndDataLen`); finalized ones whole.
 * Memory is bounded by the reader's buffer pool and the socket's drain.
 *
 * What a READ_BLOCK serves (the answer and the pieces, `startBlockRead`) is apart from how it
 * is framed and sent, so that a reader in this DataNode's own process (its WebHDFS OPEN)
 * gets the same replica, range and metrics without a socket (short-circuit-reads.ts).
 */
import {
  encodeDataResponse,
  encodePacketHeader,
  type ReadBlockRequest,
  type ReadBlockResponse,
} from '../../protocol/data-messages.js';
import { DfsError } from '../../protocol/errors.js';
import type { Block } from '../../protocol/shared-structures.js';
import type { ServerConnection } from '../common/frame-server.js';
import type { DataNodeContext } from './datanode-context.js';
import { servableReplica } from './block-checksum.js';
import { PACKET_TARGET_BYTES, readPiecesOrReport, type ReplicaPiece } from './replica-reader.js';
import type { Replica } from './storage.js';

export async function sendBlock(
  dn: DataNodeContext,
  conn: ServerConnection,
  requestId: number,
  req: ReadBlockRequest,
): Promise<void> {
  const { head, pieces } = startBlockRead(dn, req);
  conn.send(encodeDataResponse('readBlock', requestId, head));
  let seqno = 0;
  for await (const piece of pieces) {
    if (conn.closed) {
      piece.release();
      return;
    }
    const header = encodePacketHeader(
      requestId,
      {
        blockId: req.block.blockId,
        offsetInBlock: piece.offset,
        seqno: seqno++,
        last: piece.last,
        payloadBytes: piece.payload.length,
      },
      piece.checksums,
    );
    conn.send(header);
    if (!conn.socket.write(piece.payload, () => piece.release())) await drained(conn);
  }
}

/**
 * A READ_BLOCK, whoever frames it (sendBlock here, or a reader in this process,
 * short-circuit-reads.ts): the answer, checked now (a DfsError for a missing, stale or too
 * short replica), and the replica's pieces over the chunk-aligned range, the snapshot's
 * partial-chunk checksum patched in. The pieces count as a transfer and in the read metrics
 * while they are pulled; nothing is opened until the first is. `pooled` false gives each piece
 * a buffer of its own, for a consumer that cannot say when it is done with one.
 */
export function startBlockRead(
  dn: DataNodeContext,
  req: ReadBlockRequest,
  pooled = true,
): { head: ReadBlockResponse; pieces: AsyncGenerator<ReplicaPiece, void, undefined> } {
  const { blockId } = req.block;
  const { r, readable, lastChecksum } = readableReplica(dn, req.block);
  const end = req.length === 0 ? readable : req.offset + req.length;
  if (req.offset > readable || end > readable) {
    throw new DfsError(
      'INVALID_ARGUMENT',
      `range ${req.offset}+${req.length} outside block ${blockId} of ${readable} readable bytes`,
    );
  }
  const chunk = r.chunkBytes;
  const start = Math.floor(req.offset / chunk) * chunk;
  const stop = Math.min(readable, Math.ceil(end / chunk) * chunk);
  // The snapshot's checksum stands for the partial chunk at `readable`, when the read reaches it.
  const tail = stop === readable && lastChecksum !== null ? lastChecksum : null;
  const head = { chunkBytes: chunk, checksumType: r.checksumType, startOffset: start, length: stop - start };
  async function* pieces(): AsyncGenerator<ReplicaPiece, void, undefined> {
    const endTransfer = dn.transfers.begin();
    const started = performance.now();
    try {
      for await (const piece of readPiecesOrReport(dn, r, start, stop, PACKET_TARGET_BYTES, pooled)) {
        if (piece.last && tail !== null) tail.copy(piece.checksums, piece.checksums.length - tail.length);
        dn.metrics.bytesRead += piece.payload.length;
        yield piece;
      }
      dn.metrics.blockRead((performance.now() - started) / 1000);
    } finally {
      endTransfer();
    }
  }
  return { head, pieces: pieces() };
}

export function drained(conn: ServerConnection): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      conn.socket.off('drain', done);
      conn.socket.off('close', done);
      resolve();
    };
    conn.socket.on('drain', done);
    conn.socket.on('close', done);
  });
}

/**
 * The replica to serve `block` from, and how far: a finalized one whole; one being written
 * up to its visible length (taken once, with its partial-chunk checksum, so both describe the
 * same bytes however the writer moves on).
 */
function readableReplica(
  dn: DataNodeContext,
  block: Block,
): { r: Replica; readable: number; lastChecksum: Buffer | null } {
  const r = dn.storage.replicas.get(block.blockId);
  if (r !== undefined && r.state === 'rbw' && r.visible !== undefined) {
    if (r.genStamp < block.genStamp)
      throw new DfsError(
        'STALE_GENERATION',
        `replica of block ${block.blockId} has gen ${r.genStamp}, reader wants ${block.genStamp}`,
      );
    return { r, readable: r.visible.bytes, lastChecksum: r.visible.lastChecksum };
  }
  const finalized = servableReplica(dn, block);
  return { r: finalized, readable: finalized.numBytes, lastChecksum: null };
}
