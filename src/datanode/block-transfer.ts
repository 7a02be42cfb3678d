/**
 * Copies a finalized replica to other DataNodes when the NameNode asks (REPLICATE): the
 * same WRITE_BLOCK pipeline a client uses (stage TRANSFER, set up by
 * src/common/pipeline-connect.ts as the client's and a receiver's mirror are), fed from disk with the
 * checksums stored at write time, so the targets verify exactly what the first writer
 * computed. A corrupt local replica therefore fails the copy at the target instead of
 * spreading. Bounded: the pipeline's window is the buffer pool of the replica reader.
 * Packets are as large as a client's (PACKET_PAYLOAD_BYTES_DEFAULT, 2 MiB) rather than the
 * readers' (1 MiB; 256 KiB when this was measured): a fraction of the per-packet work (reads, acks, thread-pool writes,
 * promise chains) in both DataNodes. With dfs-bench replication the copies of a lost
 * node's blocks finished about 30% sooner.
 *
 * A local replica whose files cannot be read is reported by the volume monitor (dropped
 * and reported deleted), so the NameNode picks another source instead of this one again.
 *
 * A failed copy says whom to blame (`TransferFailure`), so the DataNode can report it to the
 * NameNode (src/datanode/namenode-link.ts) and the copy is scheduled again elsewhere at once.
 */
import {
  AckStatus,
  decodeAck,
  encodePacketHeader,
  PACKET_PAYLOAD_BYTES_DEFAULT,
  WriteStage,
} from '../../protocol/data-messages.js';
import { DfsError } from '../../protocol/errors.js';
import { FrameKind } from '../../protocol/frame.js';
import { Role } from '../../protocol/handshake.js';
import { decodeError } from '../../protocol/error-frame.js';
import type { Block, DatanodeInfo } from '../../protocol/shared-structures.js';
import type { DataConnection } from '../common/data-connection.js';
import { connectPipeline } from '../common/pipeline-connect.js';
import type { DataNodeContext } from './datanode-context.js';
import { readPiecesOrReport } from './replica-reader.js';

/**
 * Who a failed copy is blamed on: the one target that refused or failed the pipeline's
 * setup, every target for a failure after it, none when this node cannot send the replica.
 */
export interface TransferFailure {
  failedTargets: string[];
}

export async function transferBlock(
  dn: DataNodeContext,
  block: Block,
  targets: DatanodeInfo[],
  blame: TransferFailure = { failedTargets: [] },
): Promise<void> {
  const r = dn.storage.replicas.get(block.blockId);
  if (r === undefined || r.state !== 'finalized' || r.genStamp < block.genStamp) {
    throw new DfsError('NOT_FOUND', `no current replica of block ${block.blockId} to copy`);
  }
  const first = targets[0];
  if (first === undefined) return;
  const endTransfer = dn.transfers.begin();
  let conn: DataConnection | null = null;
  try {
    const setup = await connectPipeline({
      targets,
      request: {
        block: { blockId: r.blockId, genStamp: r.genStamp, numBytes: 0 },
        clientName: `transfer-from-${dn.storage.nodeId}`,
        stage: WriteStage.TRANSFER,
        chunkBytes: r.chunkBytes,
        checksumType: r.checksumType,
      },
      requestId: 1,
      role: Role.DATANODE,
      idleTimeoutMs: dn.config.frameTimeoutMs,
    });
    if (!setup.ok) {
      blame.failedTargets = [setup.badNodeId];
      throw setup.err;
    }
    blame.failedTargets = targets.map((t) => t.nodeId);
    const pipeline = (conn = setup.conn);
    // A new replica takes the algorithm the copy names (block-receiver.ts): the copy's
    // checksums are this replica's own, never recomputed.
    if (setup.checksumType !== r.checksumType)
      throw new DfsError(
        'PROTOCOL',
        `${first.nodeId} would store block ${r.blockId} with checksum type ${setup.checksumType}, not ${r.checksumType}`,
      );
    let lastSeqno = -1;
    let acked = -1;
    // Set by the frame and close handlers: typed so the checks below are not narrowed to `null`.
    let failure = null as Error | null;
    let wake: (() => void) | null = null;
    pipeline.onFrame = (f) => {
      if (f.kind === FrameKind.ERROR) failure = decodeError(f);
      else if (f.kind === FrameKind.ACK) {
        const ack = decodeAck(f);
        if (ack.statuses.some((s) => s !== AckStatus.SUCCESS))
          failure = new DfsError(
            'CONNECTION',
            `target failed packet ${ack.seqno}: ${ack.statuses.join(',')}`,
          );
        else acked = ack.seqno;
      } else failure = new DfsError('PROTOCOL', `unexpected frame kind ${f.kind} on a transfer pipeline`);
      wake?.();
    };
    pipeline.onClose = (err) => {
      failure ??=
        err ??
        (acked === lastSeqno && lastSeqno >= 0
          ? null
          : new DfsError('CONNECTION', `${first.nodeId} closed during the transfer`));
      wake?.();
    };
    let seqno = 0;
    for await (const piece of readPiecesOrReport(dn, r, 0, r.numBytes, PACKET_PAYLOAD_BYTES_DEFAULT)) {
      if (failure) {
        piece.release();
        throw failure;
      }
      const header = encodePacketHeader(
        1,
        {
          blockId: r.blockId,
          offsetInBlock: piece.offset,
          seqno,
          last: piece.last,
          payloadBytes: piece.payload.length,
        },
        piece.checksums,
      );
      lastSeqno = seqno++;
      if (!pipeline.sendPacket(header, piece.payload, piece.release))
        await new Promise<void>((resolve) => pipeline.whenDrained(resolve));
    }
    while (acked < lastSeqno) {
      if (failure) throw failure;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    endTransfer();
    conn?.close();
  }
}
