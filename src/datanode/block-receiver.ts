/**
 * Receives one block on a write pipeline (HDFS `BlockReceiver` + `PacketResponder`):
 *
 *   upstream (client or DN) --packets--> [this node] --same frames--> mirror (next DN)
 *   upstream <--acks [mine, ...mirror's]-- [this node] <--acks-- mirror
 *
 * Per packet, in order: check sequence number, offset and size; forward the frame bytes to
 * the mirror untouched (a new 12-byte frame header, the received body view); verify every
 * chunk's checksum (on the last node of a pipeline, and on the target of a copy, unless the
 * writer is in this very process: a WebHDFS CREATE's, local-first-hop.ts, whose checksums
 * were computed here from bytes that crossed no network); write payload and checksums at
 * their offsets (replica-writer.ts).
 * The ack for a packet goes upstream once it is on local disk and the mirror has acked it,
 * strictly in seqno order.
 *
 * Lifecycle, one state with checked transitions (ws `Receiver`'s named states):
 *
 *   setup ──WRITE_BLOCK answered──> receiving ──LAST packet──> lastReceived ──synced, mirror
 *     │                                │                            │          confirmed──> finalized
 *     └────────────────────────────────┴────────────┬───────────────┘                         │
 *                                                   v                   (a failure with acks owed)
 *                                                 failed <────────────────────────────────────┘
 *
 * `teardown` is the one way into `failed`, whatever the cause (a bad packet, a failed
 * mirror or disk, the upstream closing); the transfer's accounting (the node's transfer
 * count, its claim on the block) ends exactly once, on entering `finalized` or `failed`.
 *
 * Bounded memory: every packet holds an in-flight slot of the upstream connection until
 * its local write completes, and a full mirror socket holds one too; past
 * `packetsInflightMax` the upstream socket is no longer read, so the slowest disk or link
 * slows the writer down, hop by hop. Its payload counts against the node-wide
 * `packetBytesHeldMax` until written.
 *
 * Failures: a bad packet (sequence, offset, checksum) gets an error ack and the connection
 * is closed; a failed mirror is reported as ERROR at its position in the ack; a local disk
 * failure as ERROR or ERROR_NO_SPACE at ours. The replica stays in rbw/ (never finalized)
 * so the writer can recover the pipeline from the survivors with a new generation stamp.
 *
 * Longer than our usual 400 lines: the packet side and the ack side (HDFS keeps them in
 * two classes, BlockReceiver and PacketResponder) share the one lifecycle state above and
 * its teardown, and in one file every transition reads beside the others.
 */
import {
  AckStatus,
  decodeAck,
  decodePacket,
  encodeAck,
  encodeDataResponse,
  WriteStage,
  checksumTypeName,
  type ChecksumType,
  type WriteBlockRequest,
} from '../../protocol/data-messages.js';
import { assert, DfsError, rethrowIfBug } from '../../protocol/errors.js';
import { piecesLength } from '../../protocol/byte-pieces.js';
import { bodyPieces, encodeFrameHeader, FrameKind, type Frame } from '../../protocol/frame.js';
import { Role } from '../../protocol/handshake.js';
import { decodeError } from '../../protocol/error-frame.js';
import { firstBadChunkInPieces } from '../common/checksum.js';
import type { DataConnection } from '../common/data-connection.js';
import { countPacket } from '../common/fault-injector.js';
import { connectPipeline } from '../common/pipeline-connect.js';
import type { ServerConnection } from '../common/frame-server.js';
import type { Logger } from '../common/logger.js';
import type { DataNodeContext, WriteOwner } from './datanode-context.js';
import { diskError, ReplicaWriter } from './replica-writer.js';

const CHUNK_BYTES_MIN = 512;
const CHUNK_BYTES_MAX = 16 * 1024 * 1024;
const TARGETS_MAX = 32;

/**
 * The upstream a receiver reads packets from and sends acks to: a data connection
 * (ServerConnection), or the in-memory link of a writer in this very process
 * (local-first-hop.ts).
 */
export type ReceiverUpstream = Pick<
  ServerConnection,
  'log' | 'send' | 'begin' | 'release' | 'hold' | 'unhold' | 'close'
>;

export type ReceiverState = 'setup' | 'receiving' | 'lastReceived' | 'finalized' | 'failed';

const TRANSITIONS: Record<ReceiverState, readonly ReceiverState[]> = {
  setup: ['receiving', 'failed'],
  receiving: ['lastReceived', 'failed'],
  lastReceived: ['finalized', 'failed'],
  finalized: ['failed'],
  failed: [],
};

interface PendingPacket {
  seqno: number;
  last: boolean;
  localDone: boolean;
  mirrorStatuses: number[] | null;
}

export class BlockReceiver implements WriteOwner {
  private state: ReceiverState = 'setup';
  private writer: ReplicaWriter | null = null;
  private mirror: DataConnection | null = null;
  private mirrorRequestId = 1;
  /** The replica's checksum algorithm (decided at setup: see WriteBlockRequest.checksumType). */
  private checksumType: ChecksumType;
  /** Whether this node verifies checksums (decided at setup: the last node, or a copy's target). */
  private verifies = true;
  /** Resolves the wait of downstreamConfirmed (mirror acked the last packet, or failure). */
  private onMirrorSettled: (() => void) | null = null;
  /** Ends this transfer in the node's count: called once, on entering finalized or failed. */
  private readonly endTransfer: () => void;
  private nextSeqno = 0;
  /** Seqno of the last ack sent upstream (the pair of nextSeqno). */
  private lastAckedSeqno = -1;
  private bytesReceived = 0;
  private readonly pending: PendingPacket[] = [];
  private completions: Promise<void> = Promise.resolve();
  private readonly log: Logger;
  private readonly downstream: number;
  private readonly startedMs = performance.now();

  constructor(
    private readonly dn: DataNodeContext,
    private readonly conn: ReceiverUpstream,
    private readonly requestId: number,
    private readonly req: WriteBlockRequest,
    /**
     * The writer is in this process (local-first-hop.ts): its checksums were computed here
     * from bytes that crossed no network, so there is nothing to verify.
     */
    private readonly upstreamInProcess = false,
  ) {
    this.log = conn.log.child({ block: req.block.blockId, gen: req.block.genStamp });
    this.downstream = req.targets.length;
    this.checksumType = req.checksumType;
    this.endTransfer = dn.transfers.begin();
  }

  /** A method, not a field read, so checks after an await are not narrowed away by the compiler. */
  private isFailed(): boolean {
    return this.state === 'failed';
  }

  get active(): boolean {
    return this.state !== 'finalized' && this.state !== 'failed';
  }

  private enter(next: ReceiverState): void {
    assert(TRANSITIONS[this.state].includes(next), `block receiver: ${this.state} -> ${next}`);
    const ending = next === 'finalized' || (next === 'failed' && this.state !== 'finalized');
    this.state = next;
    if (ending) this.endTransfer();
  }

  /** Prepares the replica and the downstream pipeline, then answers WRITE_BLOCK. */
  async setup(): Promise<void> {
    const { req } = this;
    if (req.chunkBytes < CHUNK_BYTES_MIN || req.chunkBytes > CHUNK_BYTES_MAX) {
      throw new DfsError(
        'INVALID_ARGUMENT',
        `chunk size ${req.chunkBytes} outside ${CHUNK_BYTES_MIN}..${CHUNK_BYTES_MAX}`,
      );
    }
    if (req.targets.length > TARGETS_MAX)
      throw new DfsError('INVALID_ARGUMENT', `pipeline of ${req.targets.length} nodes is too long`);
    if (req.stage === WriteStage.RECOVER || req.stage === WriteStage.APPEND) {
      const append = req.stage === WriteStage.APPEND;
      this.writer = await ReplicaWriter.reopen(
        this.dn,
        req.block,
        req.chunkBytes,
        this.log,
        this,
        append ? 'append' : 'recover',
      );
      this.bytesReceived = req.block.numBytes;
      // A reopened replica goes on with its own algorithm, told downstream and upstream.
      this.checksumType = this.writer.replica.checksumType;
      this.log.info(
        { numBytes: req.block.numBytes, checksum: checksumTypeName(this.checksumType) },
        append ? 'finalized replica reopened for append' : 'replica recovered for a rebuilt pipeline',
      );
    } else if (req.stage === WriteStage.CREATE || req.stage === WriteStage.TRANSFER) {
      if (req.stage === WriteStage.TRANSFER && this.dn.faults.refuseTransfers)
        throw new DfsError(
          'ALREADY_EXISTS',
          `replica of block ${req.block.blockId} exists here (fault hook)`,
        );
      this.writer = await ReplicaWriter.create(
        this.dn,
        req.block,
        req.chunkBytes,
        req.checksumType,
        this.log,
        this,
      );
    } else throw new DfsError('INVALID_ARGUMENT', `unknown write stage ${req.stage}`);
    // The upstream may have gone while the replica was being prepared: the teardown found
    // no files to close then.
    if (this.state !== 'setup') return this.closeWhenSettled();

    const firstBadLink = await this.connectMirror();
    this.conn.send(
      encodeDataResponse('writeBlock', this.requestId, { firstBadLink, checksumType: this.checksumType }),
    );
    if (firstBadLink !== '') {
      this.log.warn({ firstBadLink }, 'downstream pipeline could not be built');
      this.abort(null);
      return;
    }
    if (this.state !== 'setup') {
      this.mirror?.close();
      return;
    }
    this.verifies = (this.mirror === null || req.stage === WriteStage.TRANSFER) && !this.upstreamInProcess;
    this.enter('receiving');
  }

  /** Connects to the next node; returns '' when ready, else the node id that failed. */
  private async connectMirror(): Promise<string> {
    const { targets, ...asked } = this.req;
    const next = targets[0];
    if (next === undefined) return '';
    const request = { ...asked, checksumType: this.checksumType };
    const setup = await connectPipeline({
      targets,
      request,
      requestId: this.mirrorRequestId,
      role: Role.DATANODE,
      idleTimeoutMs: this.dn.config.frameTimeoutMs,
    });
    if (!setup.ok) {
      if (setup.reason !== 'downstream')
        this.log.warn(
          { mirror: next.nodeId, err: setup.err.message },
          setup.reason === 'refused' ? 'mirror refused the block' : 'cannot reach mirror',
        );
      return setup.badNodeId;
    }
    const mirror = setup.conn;
    if (setup.checksumType !== this.checksumType) {
      // Replicas of one block share their algorithm (one pipeline wrote them, copies keep it):
      // a mirror that answers another cannot continue this one's checksums.
      this.log.warn(
        { mirror: next.nodeId, theirs: setup.checksumType, ours: this.checksumType },
        'mirror holds the replica with another checksum algorithm',
      );
      mirror.close();
      return next.nodeId;
    }
    mirror.onFrame = (f) => this.onMirrorFrame(f);
    mirror.onClose = (err) => this.onMirrorClosed(err);
    this.mirror = mirror;
    return '';
  }

  // ---- packets from upstream -------------------------------------------------------

  onPacket(frame: Frame): void {
    if (this.state === 'lastReceived')
      throw new DfsError('PROTOCOL', 'packet after the last packet of the block');
    if (this.state !== 'receiving') throw new DfsError('PROTOCOL', 'packet outside an open write pipeline');
    const writer = this.writer;
    assert(writer !== null, 'receiving without a replica');
    const { replica } = writer;
    const p = decodePacket(frame, replica.chunkBytes, replica.checksumType);
    if (p.blockId !== replica.blockId)
      throw new DfsError('PROTOCOL', `packet for block ${p.blockId} on a pipeline for ${replica.blockId}`);
    if (p.seqno !== this.nextSeqno)
      throw new DfsError('PROTOCOL', `packet seqno ${p.seqno}, expected ${this.nextSeqno}`);
    if (p.offsetInBlock !== this.bytesReceived) {
      throw new DfsError('PROTOCOL', `packet offset ${p.offsetInBlock}, expected ${this.bytesReceived}`);
    }
    // Packets end on a chunk boundary, except the last and flushed ones; the packet after
    // those starts mid-chunk and ends at the boundary at most (its one checksum covers it).
    const inChunk = p.offsetInBlock % replica.chunkBytes;
    if (inChunk !== 0 && inChunk + p.payloadBytes > replica.chunkBytes)
      throw new DfsError('PROTOCOL', `packet at ${p.offsetInBlock} continues a chunk past its end`);
    if (!p.last && p.flush === undefined && (p.offsetInBlock + p.payloadBytes) % replica.chunkBytes !== 0) {
      throw new DfsError(
        'PROTOCOL',
        `packet ending at ${p.offsetInBlock + p.payloadBytes} is not chunk aligned`,
      );
    }
    this.nextSeqno++;
    this.bytesReceived += p.payloadBytes;
    if (p.last) this.enter('lastReceived');
    const entry: PendingPacket = {
      seqno: p.seqno,
      last: p.last,
      localDone: false,
      mirrorStatuses: this.mirror ? null : [],
    };
    this.pending.push(entry);

    // The frame's memory is reused once its bytes are on their way downstream and written
    // here (read-slabs.ts); both below end in `used`, whatever happens.
    let uses = this.mirror ? 2 : 1;
    const used = (): void => {
      if (--uses === 0) frame.release?.();
    };
    // 1. Forward untouched, before our own disk write.
    if (this.mirror) this.forward(frame, used);
    // 2. Verify every chunk: the last node of a pipeline does (every node got the same
    //    bytes; its ERROR_CHECKSUM fails the pipeline before any ack), as does the target
    //    of a DataNode-to-DataNode copy. The nodes in between save that CPU, as in HDFS.
    const bad = this.verifies
      ? firstBadChunkInPieces(p.payload, p.checksums, replica.chunkBytes, replica.checksumType)
      : -1;
    if (bad >= 0) {
      this.log.warn({ seqno: p.seqno, chunk: bad }, 'checksum mismatch in received packet');
      this.dn.metrics.pipelineChecksumFailures++;
      this.fail(
        AckStatus.ERROR_CHECKSUM,
        0,
        new DfsError('CHECKSUM', `checksum mismatch in packet ${p.seqno}, chunk ${bad}`),
      );
      used();
      return;
    }
    // 3. Write locally, one packet after the other: concurrent writes to one file contend
    //    for its inode lock in the kernel (measured: twice the system CPU of sequential
    //    writes); the packets behind wait in memory, within the in-flight bound. Finalize
    //    follows every earlier write.
    this.conn.begin();
    // Counted against the DataNode-wide packetBytesHeldMax until written (or given up),
    // not through a last packet's wait for fsync and the downstream ack: a node's budget
    // must not be tied up by other nodes.
    this.conn.hold(p.payloadBytes);
    let held = p.payloadBytes;
    const letGo = (): void => {
      if (held > 0) this.conn.unhold(held + this.dn.faults.bugUnholdExtraBytes);
      held = 0;
    };
    this.completions = this.completions
      .then(() =>
        this.isFailed()
          ? undefined
          : writer.write(
              p.payload,
              p.payloadBytes,
              p.checksums,
              p.offsetInBlock,
              p.last || p.flush !== undefined,
            ),
      )
      .then(async () => {
        letGo();
        if (this.isFailed()) return;
        if (p.flush !== undefined && !p.last) {
          // hsync: on this node's disk before the ack (hflush: in its page cache, as HDFS).
          if (p.flush === 'sync') await writer.syncForHsync();
          writer.publish();
        }
        if (p.last) {
          // The flush to disk and the downstream's confirmation run at the same time.
          await Promise.all([writer.sync(), this.downstreamConfirmed(entry)]);
          if (this.isFailed()) return;
          await this.finalize(writer);
        }
        entry.localDone = true;
        this.conn.release();
        this.flushAcks();
      })
      .catch((err: unknown) => {
        rethrowIfBug(err);
        this.conn.release();
        const e = diskError(err, `write of block ${replica.blockId} failed`);
        this.log.error({ err: e.message }, 'local write failed');
        this.dn.disk.ioError(replica.volume, err);
        this.fail(e.code === 'NO_SPACE' ? AckStatus.ERROR_NO_SPACE : AckStatus.ERROR, 0, e);
      })
      .finally(() => {
        letGo();
        used();
      });
    countPacket(this.dn.faults);
  }

  /**
   * Sends the packet on to the mirror, `written` once the socket has handed its last byte to
   * the kernel (or dropped it); a full mirror socket holds an in-flight slot until it drains.
   */
  private forward(frame: Frame, written: () => void): void {
    const mirror = this.mirror;
    assert(mirror !== null, 'forward without a mirror');
    const body = bodyPieces(frame);
    const ok = mirror.sendPacket(
      encodeFrameHeader(FrameKind.PACKET, 0, this.mirrorRequestId, piecesLength(body)),
      body,
      written,
    );
    if (ok) return;
    this.conn.begin();
    const blockedAt = performance.now();
    mirror.whenDrained(() => {
      const ms = performance.now() - blockedAt;
      if (ms > this.dn.config.slowIoWarnMs)
        this.log.warn({ ms: Math.round(ms) }, 'slow mirror: waited for the next DataNode to take a packet');
      this.conn.release();
    });
  }

  /** Moves the synced replica to finalized/ and reports it to the NameNode. */
  private async finalize(writer: ReplicaWriter): Promise<void> {
    const { replica } = writer;
    // The pair of the offset check on every packet: every byte received is in the file.
    assert(
      replica.numBytes === this.bytesReceived,
      `finalizing block ${replica.blockId} of ${replica.numBytes} bytes, received ${this.bytesReceived}`,
    );
    await writer.close();
    await this.dn.storage.finalize(replica);
    // A failure while the files moved (a mirror gone after it confirmed the last packet)
    // has torn the pipeline down already, and the writer will recover it; the replica here
    // is complete and synced all the same, so it is reported as finalized.
    if (!this.isFailed()) {
      this.enter('finalized');
      this.dn.writes.release(replica.blockId, this);
    }
    // One line per block, as HDFS logs each block it received: what a node finalized is on record.
    this.log.info({ numBytes: replica.numBytes }, 'replica finalized');
    this.dn.metrics.blockWritten(replica.numBytes, (performance.now() - this.startedMs) / 1000);
    this.dn.blockReceived({
      blockId: replica.blockId,
      genStamp: replica.genStamp,
      numBytes: replica.numBytes,
    });
  }

  // ---- acks from the mirror --------------------------------------------------------

  /**
   * A node that does not verify checksums finalizes only once the mirror has acked the
   * last packet: the last node verified every packet by then, so a corrupt block is never
   * finalized (and reported) by the nodes in between (HDFS's PacketResponder does the same).
   */
  private downstreamConfirmed(entry: PendingPacket): Promise<void> {
    if (this.verifies || entry.mirrorStatuses !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.onMirrorSettled = resolve;
    });
  }

  private settleMirrorWait(): void {
    const f = this.onMirrorSettled;
    this.onMirrorSettled = null;
    f?.();
  }

  private onMirrorFrame(frame: Frame): void {
    if (frame.kind === FrameKind.ERROR) {
      this.onMirrorClosed(decodeError(frame));
      return;
    }
    if (frame.kind !== FrameKind.ACK) {
      this.onMirrorClosed(new DfsError('PROTOCOL', `unexpected frame kind ${frame.kind} from mirror`));
      return;
    }
    const ack = decodeAck(frame);
    const entry = this.pending.find((e) => e.seqno === ack.seqno);
    if (entry === undefined) return;
    entry.mirrorStatuses = ack.statuses;
    if (ack.statuses.some((s) => s !== AckStatus.SUCCESS)) {
      this.sendAck(ack.seqno, [AckStatus.SUCCESS, ...ack.statuses], true);
      this.abort(null);
      return;
    }
    if (entry.last) this.settleMirrorWait();
    this.flushAcks();
  }

  private onMirrorClosed(err: DfsError | null): void {
    if (this.state === 'failed' || (this.state === 'finalized' && this.pending.length === 0)) return;
    this.log.warn({ err: err?.message ?? 'closed' }, 'mirror failed mid-block');
    this.fail(AckStatus.ERROR, 1, err ?? new DfsError('CONNECTION', 'mirror closed'));
  }

  /** Sends every ack whose packet is on disk here and acked downstream, in order. */
  private flushAcks(): void {
    while (this.pending.length > 0) {
      const head = this.pending[0]!;
      if (!head.localDone || head.mirrorStatuses === null) return;
      this.pending.shift();
      // The pair of the seqno check on receipt: acks go up in order, none skipped.
      assert(head.seqno === this.lastAckedSeqno + 1, `ack ${head.seqno} after ${this.lastAckedSeqno}`);
      this.lastAckedSeqno = head.seqno;
      this.sendAck(head.seqno, [AckStatus.SUCCESS, ...head.mirrorStatuses]);
      if (head.last) this.mirror?.close();
    }
  }

  /**
   * `failure` acks go out at once even under the ackDelayMs fault: the connection closes
   * right after them, and a delayed one would be dropped, leaving the writer to blame the
   * first node for a failure further down.
   */
  private sendAck(seqno: number, statuses: number[], failure = false): void {
    const bytes = encodeAck(this.requestId, { seqno, statuses });
    if (this.dn.faults.ackDelayMs > 0 && !failure)
      setTimeout(() => this.conn.send(bytes), this.dn.faults.ackDelayMs);
    else this.conn.send(bytes);
  }

  // ---- failure ---------------------------------------------------------------------

  /** Reports `status` at pipeline position `position` (0 = this node) and stops. */
  private fail(status: number, position: number, err: DfsError): void {
    // Finished here (finalized) but with acks still owed: a mirror failure must still reach
    // the writer, or it waits for those acks forever.
    if (this.state === 'failed' || (this.state === 'finalized' && this.pending.length === 0)) return;
    const statuses = new Array<number>(1 + this.downstream).fill(AckStatus.SUCCESS);
    statuses[position] = status;
    const seqno = this.pending[0]?.seqno ?? this.nextSeqno;
    this.sendAck(seqno, statuses, true);
    this.abort(err);
  }

  /** Stops receiving and closes the upstream connection (with `err`, if any). */
  abort(err: DfsError | null): void {
    this.teardown(err);
  }

  /** A recovery of this block by a rebuilt pipeline takes over (WritesInProgress.stopWriter). */
  stopForRecovery(): void {
    this.log.warn(
      { received: this.bytesReceived },
      'stopped: the replica is being recovered by a new pipeline',
    );
    this.teardown(new DfsError('STALE_GENERATION', 'the replica is being recovered by a new pipeline'));
  }

  /** The upstream connection went away. */
  onUpstreamClosed(): void {
    // Before any packet: a writer that reserved this block ahead and ended its file first,
    // or let the reservation grow stale (the NameNode deletes the empty replica); not a failure.
    if (this.state !== 'finalized' && this.state !== 'failed') {
      if (this.bytesReceived === 0) this.log.info('upstream closed before any packet');
      else this.log.warn({ received: this.bytesReceived }, 'upstream closed mid-block');
    }
    this.teardown(null);
  }

  /**
   * The one teardown path: wakes a finalize waiting on the mirror, ends the transfer,
   * closes the mirror, the files (once settled; the rbw replica stays for recovery) and
   * the upstream connection (already closed when it is what went away).
   */
  private teardown(err: DfsError | null): void {
    if (this.state === 'failed') return;
    this.enter('failed');
    // Also when the replica is still being prepared (no writer yet): the claim is let go now.
    this.dn.writes.release(this.req.block.blockId, this);
    this.settleMirrorWait();
    this.mirror?.close();
    this.closeWhenSettled();
    this.conn.close(err ?? undefined);
  }

  /**
   * Lets go of the block and closes the files once every write already issued has
   * completed (and a finalize already under way has finished): closing an fd under a
   * pending write could let that write land in whatever file reuses the fd number. A
   * recovery of the block waits for this (WritesInProgress.settled).
   */
  private closeWhenSettled(): void {
    const writer = this.writer;
    if (writer === null) return;
    const blockId = writer.replica.blockId;
    this.dn.writes.release(blockId, this);
    const done = this.completions
      .then(() => writer.close())
      .catch((err: unknown) => {
        rethrowIfBug(err);
        this.log.warn({ err: (err as Error).message }, 'flushing checksums of an unfinished replica failed');
      });
    this.dn.writes.settle(blockId, done);
  }
}
