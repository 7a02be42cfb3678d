/**
 * The connecting side of a WRITE_BLOCK pipeline's set-up, written once for its three users:
 * the client opening a block's pipeline (src/client/write-pipeline.ts), a DataNode opening
 * the downstream half toward its mirror (src/datanode/block-receiver.ts), and a DataNode
 * copying a replica to new targets (src/datanode/block-transfer.ts). It connects to the first
 * of `targets`, sends WRITE_BLOCK naming the rest, and waits for the answer
 * (protocol/PROTOCOL.md section 10, "The write pipeline").
 *
 * Peer faults are answers, not exceptions: it resolves with the open connection, its frames from then on the
 * caller's (set `onFrame` and `onClose`), or with the node to blame and why, the connection
 * closed. Callers differ in what they do with a failure (the client rebuilds without that
 * node, a receiver reports it upstream as firstBadLink, a transfer fails), not in how it is
 * detected. Only a bug (an error that is not a DfsError) is thrown, so no caller's catch
 * turns it into a blamed node.
 *
 *   what happened                                            reason       blamed
 *   connect or handshake failed, closed before the answer,   failed       targets[0]
 *     or an answer that is not a WRITE_BLOCK response
 *   ERROR frame from the first node                          refused      targets[0]
 *   the answer names a firstBadLink further down             downstream   that node (index 1
 *                                                                           if not in targets)
 */
import {
  dataCodecs,
  decodeDataBody,
  encodeDataRequest,
  type ChecksumType,
  type WriteBlockRequest,
} from '../../protocol/data-messages.js';
import { DfsError } from '../../protocol/errors.js';
import { FrameKind, type Frame } from '../../protocol/frame.js';
import type { Role } from '../../protocol/handshake.js';
import { decodeError } from '../../protocol/error-frame.js';
import type { DatanodeInfo } from '../../protocol/shared-structures.js';
import { DataConnection } from './data-connection.js';

export interface PipelineConnectOptions {
  /** The pipeline from the node to connect to on: targets[0] is connected, the rest are named. */
  targets: readonly DatanodeInfo[];
  /** WRITE_BLOCK as the first node gets it, less its `targets`. */
  request: Omit<WriteBlockRequest, 'targets'>;
  requestId: number;
  role: Role;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
}

export type PipelineConnectResult =
  | {
      ok: true;
      conn: DataConnection;
      /** The algorithm the pipeline's packets carry: the replicas' (the answer says). */
      checksumType: ChecksumType;
    }
  | {
      ok: false;
      reason: 'failed' | 'refused' | 'downstream';
      /** Position in `targets` of the node to blame. */
      badIndex: number;
      /** Its node id, as the answer named it (it may be missing from `targets`). */
      badNodeId: string;
      err: DfsError;
    };

export async function connectPipeline(o: PipelineConnectOptions): Promise<PipelineConnectResult> {
  const first = o.targets[0];
  if (first === undefined) throw new DfsError('INVALID_ARGUMENT', 'a write pipeline needs a target');
  const failed = (reason: 'failed' | 'refused', err: DfsError): PipelineConnectResult => ({
    ok: false,
    reason,
    badIndex: 0,
    badNodeId: first.nodeId,
    err,
  });
  let conn: DataConnection;
  try {
    conn = await DataConnection.open({
      host: first.host,
      port: first.port,
      role: o.role,
      label: first.nodeId,
      ...(o.connectTimeoutMs !== undefined ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
      ...(o.idleTimeoutMs !== undefined ? { idleTimeoutMs: o.idleTimeoutMs } : {}),
    });
  } catch (err) {
    return failed('failed', asDfsError(err));
  }
  const answer = await new Promise<Frame | DfsError>((resolve) => {
    conn.onFrame = resolve;
    conn.onClose = (err) =>
      resolve(err ?? new DfsError('CONNECTION', `${first.nodeId} closed during pipeline setup`));
    conn.send(encodeDataRequest('writeBlock', o.requestId, { ...o.request, targets: o.targets.slice(1) }));
  });
  let result: PipelineConnectResult;
  try {
    result = judgeAnswer(o, answer, conn, failed);
  } catch (err) {
    // A malformed answer (an ERROR or response frame that does not decode) is the first node's fault.
    result = failed('failed', asDfsError(err));
  }
  if (!result.ok) conn.close();
  return result;
}

/** What the first node's answer to WRITE_BLOCK means; throws a DfsError on a malformed one. */
function judgeAnswer(
  o: PipelineConnectOptions,
  answer: Frame | DfsError,
  conn: DataConnection,
  failed: (reason: 'failed' | 'refused', err: DfsError) => PipelineConnectResult,
): PipelineConnectResult {
  if (answer instanceof DfsError) return failed('failed', answer);
  if (answer.kind === FrameKind.ERROR) return failed('refused', decodeError(answer));
  if (answer.kind !== FrameKind.RESPONSE)
    return failed(
      'failed',
      new DfsError('PROTOCOL', `${o.targets[0]?.nodeId} answered WRITE_BLOCK with kind ${answer.kind}`),
    );
  const res = decodeDataBody(dataCodecs.writeBlock.res, answer, 'write block response');
  const { firstBadLink } = res;
  if (firstBadLink === '') return { ok: true, conn, checksumType: res.checksumType };
  const i = o.targets.findIndex((t) => t.nodeId === firstBadLink);
  return {
    ok: false,
    reason: 'downstream',
    badIndex: i < 0 ? 1 : i,
    badNodeId: firstBadLink,
    err: new DfsError('CONNECTION', `pipeline broken at ${firstBadLink}`),
  };
}

function asDfsError(err: unknown): DfsError {
  if (err instanceof DfsError) return err;
  throw err;
}
