/**
 * One block's write pipeline as the client sees it: a data connection to the first
 * DataNode, WRITE_BLOCK with the rest of the targets (set up by src/common/pipeline-connect.ts,
 * as DataNodes do), then packets out and acks in. Setup answers `null` when ready or the
 * node that broke the pipeline; afterwards every ack and failure goes to the listener. The
 * block writer (block-writer.ts) owns retries.
 *
 * A first node that is the DataNode of this very process (a DataNode's WebHDFS CREATE,
 * `localFirstHop`) is reached over an in-memory link instead (src/datanode/local-first-hop.ts):
 * the same set-up, packets, acks and failures, without a loopback socket.
 */
import { AckStatus, decodeAck, type Ack, type ChecksumType } from '../../protocol/data-messages.js';
import { DfsError } from '../../protocol/errors.js';
import { FrameKind } from '../../protocol/frame.js';
import { Role } from '../../protocol/handshake.js';
import { decodeError } from '../../protocol/error-frame.js';
import type { Block, DatanodeInfo } from '../../protocol/shared-structures.js';
import {
  connectPipeline,
  setUpPipeline,
  type LocalFirstHop,
  type PipelineConnectOptions,
  type PipelineLink,
} from '../common/pipeline-connect.js';

/**
 * A pipeline with neither acks nor sends for this long has a stalled node: it fails and is
 * recovered without the first node. Longer than a DataNode's own timeout on its mirror
 * (frameTimeoutMs, 60 s by default), so a stall further down is reported by the node
 * above it, at its true position, before the client blames the first node.
 */
const PIPELINE_IDLE_TIMEOUT_MS = 90_000;

export interface PipelineListener {
  onAck(ack: Ack): void;
  /** The pipeline broke; `badIndex` is the position of the node to blame. */
  onFailure(badIndex: number, err: DfsError): void;
}

export class WritePipeline {
  private conn: PipelineLink | null = null;
  private done = false;
  readonly requestId = 1;
  /** The algorithm the packets must carry, from the first node's answer (set once open). */
  checksumType: ChecksumType | null = null;

  constructor(
    readonly targets: DatanodeInfo[],
    private readonly localFirstHop?: LocalFirstHop,
  ) {}

  /** Returns null when the pipeline is ready, else the index of the failed node. */
  async open(
    block: Block,
    stage: number,
    clientName: string,
    chunkBytes: number,
    checksumType: ChecksumType,
    listener: PipelineListener,
  ): Promise<{ badIndex: number; err: DfsError } | null> {
    const first = this.targets[0]!;
    const o: PipelineConnectOptions = {
      targets: this.targets,
      request: { block, clientName, stage, chunkBytes, checksumType },
      requestId: this.requestId,
      role: Role.CLIENT,
      connectTimeoutMs: 10_000,
      idleTimeoutMs: PIPELINE_IDLE_TIMEOUT_MS,
    };
    const local = this.localFirstHop;
    const setup =
      local !== undefined && local.isSelf(first)
        ? await setUpPipeline<PipelineLink>(local.open(), o)
        : await connectPipeline(o);
    if (!setup.ok) {
      this.done = true;
      return { badIndex: setup.badIndex, err: setup.err };
    }
    const conn = setup.conn;
    this.conn = conn;
    this.checksumType = setup.checksumType;
    conn.onFrame = (f) => {
      if (this.done) return;
      if (f.kind === FrameKind.ACK) {
        const ack = decodeAck(f);
        const bad = ack.statuses.findIndex((s) => s !== AckStatus.SUCCESS);
        if (bad >= 0)
          return this.fail(
            bad,
            new DfsError(
              ack.statuses[bad] === AckStatus.ERROR_CHECKSUM
                ? 'CHECKSUM'
                : ack.statuses[bad] === AckStatus.ERROR_NO_SPACE
                  ? 'NO_SPACE'
                  : 'CONNECTION',
              `${this.targets[bad]?.nodeId ?? 'a DataNode'} failed packet ${ack.seqno}`,
            ),
            listener,
          );
        return listener.onAck(ack);
      }
      if (f.kind === FrameKind.ERROR) return this.fail(0, decodeError(f), listener);
      this.fail(0, new DfsError('PROTOCOL', `unexpected frame kind ${f.kind} on a write pipeline`), listener);
    };
    conn.onClose = (err) => {
      if (!this.done)
        this.fail(0, err ?? new DfsError('CONNECTION', `${first.nodeId} closed the pipeline`), listener);
    };
    return null;
  }

  private fail(badIndex: number, err: DfsError, listener: PipelineListener): void {
    if (this.done) return;
    this.done = true;
    this.conn?.close();
    listener.onFailure(badIndex, err);
  }

  sendPacket(header: Buffer, payload: Buffer): boolean {
    return this.conn !== null && this.conn.sendPacket(header, payload);
  }

  whenDrained(cb: () => void): void {
    if (this.conn === null) return cb();
    this.conn.whenDrained(cb);
  }

  close(): void {
    this.done = true;
    this.conn?.close();
  }
}
