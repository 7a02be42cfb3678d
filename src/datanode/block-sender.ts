/**
 * Serves one READ_BLOCK (HDFS `BlockSender`): answers with the chunk size and the aligned
 * range, then streams PACKET frames: [frame header + packet header + stored checksums] and
 * the payload read from the data file, corked together, last packet flagged.
 *
 * The stored checksums go out as they are on disk, so the reader verifies end to end what
 * the writer computed; this node does not re-verify on the read path (the block scanner
 * does, in the background). Only finalized replicas with a generation stamp at least the
 * requested one are served: a stale replica is refused, never read. Memory is bounded by
 * the reader's buffer pool and the socket's drain.
 */
import {
  encodeDataResponse,
  encodePacketHeader,
  type ReadBlockRequest,
} from '../../protocol/data-messages.js';
import { DfsError } from '../../protocol/errors.js';
import type { ServerConnection } from '../common/frame-server.js';
import type { DataNodeContext } from './datanode-context.js';
import { servableReplica } from './block-checksum.js';
import { readPiecesOrReport } from './replica-reader.js';

export async function sendBlock(
  dn: DataNodeContext,
  conn: ServerConnection,
  requestId: number,
  req: ReadBlockRequest,
): Promise<void> {
  const { blockId } = req.block;
  const r = servableReplica(dn, req.block);
  const end = req.length === 0 ? r.numBytes : req.offset + req.length;
  if (req.offset > r.numBytes || end > r.numBytes) {
    throw new DfsError(
      'INVALID_ARGUMENT',
      `range ${req.offset}+${req.length} outside block ${blockId} of ${r.numBytes} bytes`,
    );
  }
  const chunk = r.chunkBytes;
  const start = Math.floor(req.offset / chunk) * chunk;
  const stop = Math.min(r.numBytes, Math.ceil(end / chunk) * chunk);
  const endTransfer = dn.transfers.begin();
  const started = performance.now();
  try {
    conn.send(
      encodeDataResponse('readBlock', requestId, {
        chunkBytes: chunk,
        startOffset: start,
        length: stop - start,
      }),
    );
    let seqno = 0;
    for await (const piece of readPiecesOrReport(dn, r, start, stop)) {
      if (conn.closed) {
        piece.release();
        return;
      }
      const header = encodePacketHeader(
        requestId,
        {
          blockId,
          offsetInBlock: piece.offset,
          seqno: seqno++,
          last: piece.last,
          payloadBytes: piece.payload.length,
        },
        piece.checksums,
      );
      conn.send(header);
      dn.metrics.bytesRead += piece.payload.length;
      if (!conn.socket.write(piece.payload, () => piece.release())) await drained(conn);
    }
    dn.metrics.blockRead((performance.now() - started) / 1000);
  } finally {
    endTransfer();
  }
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
