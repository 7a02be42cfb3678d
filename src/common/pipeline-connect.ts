/**
 * The connecting side of a WRITE_BLOCK pipeline's set-up, written once for its three users:
 * the client opening a block's pipeline (src/client/write-pipeline.ts; over an in-memory link
 * when the first node is a DataNode in the client's own process, `setUpPipeline`), a DataNode opening
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

/**
 * What a pipeline's set-up and its user need of the connection to the first node: a
 * DataConnection over TCP, or an in-memory link to a DataNode in this very process
 * (src/datanode/local-first-hop.ts).
 */
export interface PipelineLink {
  onFrame: (frame: Frame) => void;
  onClose: (err: DfsError | null) => void;
  send(bytes: Buffer): boolean;
  sendPacket(header: Buffer, payload: Buffer | readonly Buffer[]): boolean;
  whenDrained(cb: () => void): void;
  close(): void;
}

/**
 * The DataNode of this process, when there is one (its WebHDFS CREATE: src/webhdfs/
 * datanode-webhdfs.ts): a pipeline whose first node it is reaches it through `open`, with no
 * socket and no loopback copy (src/datanode/local-first-hop.ts). Declared here, where both the
 * client that uses it and the DataNode that implements it can see it.
 */
export interface LocalFirstHop {
  /** Whether `node` is this process's DataNode. */
  isSelf(node: DatanodeInfo): boolean;
  /** A new link to it, as a connection after its handshake. */
  open(): PipelineLink;
}

export type PipelineConnectResult<L extends PipelineLink = DataConnection> =
  | {
      ok: true;
      conn: L;
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
    return blameFirst(first, 'failed', asDfsError(err));
  }
  return setUpPipeline(conn, o);
}

/** Sends WRITE_BLOCK over `conn`, a link to `o.targets[0]` just opened, and judges the answer. */
export async function setUpPipeline<L extends PipelineLink>(
  conn: L,
  o: Omit<PipelineConnectOptions, 'role'>,
): Promise<PipelineConnectResult<L>> {
  const first = o.targets[0];
  if (first === undefined) throw new DfsError('INVALID_ARGUMENT', 'a write pipeline needs a target');
  const failed = (reason: 'failed' | 'refused', err: DfsError): PipelineConnectResult<L> =>
    blameFirst(first, reason, err);
  const answer = await new Promise<Frame | DfsError>((resolve) => {
    conn.onFrame = resolve;
    conn.onClose = (err) =>
      resolve(err ?? new DfsError('CONNECTION', `${first.nodeId} closed during pipeline setup`));
    conn.send(encodeDataRequest('writeBlock', o.requestId, { ...o.request, targets: o.targets.slice(1) }));
  });
  let result: PipelineConnectResult<L>;
  try {
    result = judgeAnswer(o, answer, conn, failed);
  } catch (err) {
    // A malformed answer (an ERROR or response frame that does not decode) is the first node's fault.
    result = failed('failed', asDfsError(err));
  }
  if (!result.ok) conn.close();
  return result;
}

function blameFirst<L extends PipelineLink>(
  first: DatanodeInfo,
  reason: 'failed' | 'refused',
  err: DfsError,
): PipelineConnectResult<L> {
  return { ok: false, reason, badIndex: 0, badNodeId: first.nodeId, err };
}

/** What the first node's answer to WRITE_BLOCK means; throws a DfsError on a malformed one. */
function judgeAnswer<L extends PipelineLink>(
  o: Omit<PipelineConnectOptions, 'role'>,
  answer: Frame | DfsError,
  conn: L,
  failed: (reason: 'failed' | 'refused', err: DfsError) => PipelineConnectResult<L>,
): PipelineConnectResult<L> {
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
