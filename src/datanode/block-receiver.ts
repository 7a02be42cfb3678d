/**
 * Receives one block on a write pipeline (HDFS `BlockReceiver` + `PacketResponder`):
 *
 *   upstream (client or DN) --packets--> [this node] --same frames--> mirror (next DN)
 *   upstream <--acks [mine, ...mirror's]-- [this node] <--acks-- mirror
 *
 * Per packet, in order: check sequence number, offset and size; forward the frame bytes to
 * the mirror untouched (a new 12-byte frame header, the received body view); verify every
 * chunk's checksum (on the last node of a pipeline, and on the target of a copy); write
 * payload and checksums at their offsets.
 * The ack for a packet goes upstream once it is on local disk and the mirror has acked it,
 * strictly in seqno order.
 *
 * Bounded memory: every packet holds an in-flight slot of the upstream connection until
 * its local write completes, and a full mirror socket holds one too; past
 * `packetsInflightMax` the upstream socket is no longer read, so the slowest disk or link
 * slows the writer down, hop by hop.
 *
 * Failures: a bad packet (sequence, offset, checksum) gets an error ack and the connection
 * is closed; a failed mirror is reported as ERROR at its position in the ack; a local disk
 * failure as ERROR or ERROR_NO_SPACE at ours. The replica stays in rbw/ (never finalized)
 * so the writer can recover the pipeline from the survivors with a new generation stamp.
 */
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  AckStatus,
  decodeAck,
  decodePacket,
  encodeAck,
  encodeDataResponse,
  WriteStage,
  type WriteBlockRequest,
} from '../../protocol/data-messages.js';
import { DfsError } from '../../protocol/errors.js';
import { piecesLength } from '../../protocol/byte-pieces.js';
import { bodyPieces, encodeFrameHeader, FrameKind, type Frame } from '../../protocol/frame.js';
import { Role } from '../../protocol/handshake.js';
import { decodeError } from '../../protocol/namenode-messages.js';
import { firstBadChunkInPieces } from '../common/checksum.js';
import type { DataConnection } from '../common/data-connection.js';
import { writeFully, writePieces } from '../common/fs-util.js';
import { connectPipeline } from '../common/pipeline-connect.js';
import type { ServerConnection } from '../common/frame-server.js';
import type { Logger } from '../common/logger.js';
import type { DataNodeContext } from './datanode-context.js';
import { checksumOffset, encodeMetaHeader } from './replica-meta.js';
import type { Replica } from './storage.js';

const CHUNK_BYTES_MIN = 512;
const CHUNK_BYTES_MAX = 16 * 1024 * 1024;
const TARGETS_MAX = 32;
const META_STAGE_BYTES = 4096;
/**
 * A packet's payload goes to the page cache as the socket reads it arrived in (at most
 * 64 KiB each; a longer piece is written in 64 KiB slices), at whatever sizes and file
 * offsets they fall, as a raw `pipe` to a file would write it. Measured on the 1 GiB rep 3
 * upload, each run right after the baseline's: the DataNodes spent 4.6-4.7 s of system
 * time writing each socket read as it came (197-203 MiB/s), 10.2-10.9 s writing the same
 * bytes in aligned 64 KiB writes (125-129 MiB/s), and more still in aligned 128 KiB and
 * 1 MiB writes; the baseline's hops, 4.2-4.5 s. perf puts the whole difference in the
 * kernel's copy into the page cache (copy_folio_from_iter_atomic). Our reading: aligned
 * writes let the kernel allocate large page-cache folios, which come from large free
 * blocks of memory that this VM's host has reclaimed and faults back in on first touch;
 * small, unaligned writes get small folios from recently freed pages.
 */
const DATA_WRITE_SLICE_BYTES = 64 * 1024;

interface PendingPacket {
  seqno: number;
  last: boolean;
  localDone: boolean;
  mirrorStatuses: number[] | null;
}

export class BlockReceiver {
  private replica!: Replica;
  private dataFd = -1;
  private metaFd = -1;
  private mirror: DataConnection | null = null;
  private mirrorRequestId = 1;
  private ready = false;
  private verifies = true;
  /** Resolves the wait of downstreamConfirmed (mirror acked the last packet, or failure). */
  private onMirrorSettled: (() => void) | null = null;
  private finished = false;
  private failed = false;
  /** The LAST packet has arrived: any packet after it is a protocol error. */
  private lastReceived = false;
  /** True while this transfer is counted in dn.activeTransfers (it is uncounted exactly once). */
  private counted = false;
  /** True while this receiver's block is in `writing`. */
  private registered = false;
  private nextSeqno = 0;
  private bytesReceived = 0;
  private readonly pending: PendingPacket[] = [];
  private completions: Promise<void> = Promise.resolve();
  /** A background fdatasync of the data file (sync-behind-writes), or a settled promise. */
  private syncBehind: Promise<void> = Promise.resolve();
  private syncingBehind = false;
  private syncBehindError: unknown = null;
  private unsyncedBytes = 0;
  /** Checksums received and not yet written to the meta file (see stageChecksums). */
  private metaStage: Buffer | null = null;
  private metaStageFill = 0;
  private metaStageOffset = 0;
  private readonly log: Logger;
  private readonly downstream: number;

  constructor(
    private readonly dn: DataNodeContext,
    private readonly conn: ServerConnection,
    private readonly requestId: number,
    private readonly req: WriteBlockRequest,
  ) {
    this.log = conn.log.child({ block: req.block.blockId, gen: req.block.genStamp });
    this.downstream = req.targets.length;
  }

  get active(): boolean {
    return !this.finished && !this.failed;
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
    this.counted = true;
    this.dn.activeTransfers++;
    if (req.stage === WriteStage.RECOVER) await this.openForRecovery();
    else if (req.stage === WriteStage.CREATE || req.stage === WriteStage.TRANSFER) await this.openNew();
    else throw new DfsError('INVALID_ARGUMENT', `unknown write stage ${req.stage}`);

    const firstBadLink = await this.connectMirror();
    this.conn.send(encodeDataResponse('writeBlock', this.requestId, { firstBadLink }));
    if (firstBadLink !== '') {
      this.log.warn({ firstBadLink }, 'downstream pipeline could not be built');
      this.abort(null);
      return;
    }
    this.ready = true;
    this.verifies = this.mirror === null || req.stage === WriteStage.TRANSFER;
  }

  private async openNew(): Promise<void> {
    const { blockId, genStamp } = this.req.block;
    const existing = this.dn.storage.replicas.get(blockId);
    if (existing !== undefined && existing.state === 'finalized') {
      throw new DfsError(
        'ALREADY_EXISTS',
        `replica of block ${blockId} already finalized here (gen ${existing.genStamp})`,
      );
    }
    // A replica another pipeline is writing right now is not ours to replace (a copy
    // scheduled while the writer's pipeline still runs); a left-over rbw copy is.
    if (writing.has(blockId))
      throw new DfsError('ALREADY_EXISTS', `replica of block ${blockId} is being written here`);
    const volume = existing?.volume ?? this.dn.storage.chooseVolume(1024 * 1024);
    const dir = volume.replicaDir('rbw', blockId);
    await fs.promises.rm(dir, { recursive: true, force: true });
    try {
      await fs.promises.mkdir(dir, { recursive: true });
      this.dataFd = await promisify(fs.open)(path.join(dir, 'data'), 'w', 0o644);
      this.metaFd = await promisify(fs.open)(path.join(dir, 'meta'), 'w', 0o644);
      const header = encodeMetaHeader({ chunkBytes: this.req.chunkBytes, genStamp });
      await writeFully(this.metaFd, header, 0);
    } catch (err) {
      throw diskError(err, `cannot create replica of block ${blockId} in ${volume.dir}`);
    }
    this.replica = { blockId, genStamp, numBytes: 0, chunkBytes: this.req.chunkBytes, volume, state: 'rbw' };
    this.register();
    this.dn.storage.replicas.set(blockId, this.replica);
  }

  /** Pipeline recovery: keep the acknowledged prefix, take the new generation stamp. */
  private async openForRecovery(): Promise<void> {
    const { blockId, genStamp, numBytes } = this.req.block;
    // The failed receiver of this replica may still be writing or finalizing it.
    await settling.get(blockId);
    const r = this.dn.storage.replicas.get(blockId);
    if (r === undefined) throw new DfsError('NOT_FOUND', `no replica of block ${blockId} to recover`);
    if (r.genStamp >= genStamp)
      throw new DfsError('STALE_GENERATION', `recovery gen ${genStamp} is not newer than ${r.genStamp}`);
    if (r.chunkBytes !== this.req.chunkBytes)
      throw new DfsError('INVALID_ARGUMENT', 'recovery changes the chunk size');
    if (numBytes % r.chunkBytes !== 0)
      throw new DfsError('INVALID_ARGUMENT', `recovery length ${numBytes} is not chunk aligned`);
    if (r.state === 'finalized') {
      await fs.promises.rename(
        r.volume.replicaDir('finalized', blockId),
        r.volume.replicaDir('rbw', blockId),
      );
      r.volume.usedBytes -= r.numBytes;
      r.state = 'rbw';
    }
    const dir = r.volume.replicaDir('rbw', blockId);
    const size = (await fs.promises.stat(path.join(dir, 'data'))).size;
    if (size < numBytes)
      throw new DfsError('INVALID_ARGUMENT', `replica holds ${size} bytes, recovery needs ${numBytes}`);
    this.dataFd = await promisify(fs.open)(path.join(dir, 'data'), 'r+');
    this.metaFd = await promisify(fs.open)(path.join(dir, 'meta'), 'r+');
    await promisify(fs.ftruncate)(this.dataFd, numBytes);
    await promisify(fs.ftruncate)(this.metaFd, checksumOffset(numBytes, r.chunkBytes));
    const header = encodeMetaHeader({ chunkBytes: r.chunkBytes, genStamp });
    await writeFully(this.metaFd, header, 0);
    r.genStamp = genStamp;
    r.numBytes = numBytes;
    this.replica = r;
    this.register();
    this.bytesReceived = numBytes;
    this.log.info({ numBytes }, 'replica recovered for a rebuilt pipeline');
  }

  /** Connects to the next node; returns '' when ready, else the node id that failed. */
  private async connectMirror(): Promise<string> {
    const { targets, ...request } = this.req;
    const next = targets[0];
    if (next === undefined) return '';
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
    mirror.onFrame = (f) => this.onMirrorFrame(f);
    mirror.onClose = (err) => this.onMirrorClosed(err);
    this.mirror = mirror;
    return '';
  }

  // ---- packets from upstream -------------------------------------------------------

  onPacket(frame: Frame): void {
    if (!this.ready || this.finished || this.failed) {
      throw new DfsError('PROTOCOL', 'packet outside an open write pipeline');
    }
    if (this.lastReceived) throw new DfsError('PROTOCOL', 'packet after the last packet of the block');
    const p = decodePacket(frame, this.replica.chunkBytes);
    if (p.blockId !== this.replica.blockId)
      throw new DfsError(
        'PROTOCOL',
        `packet for block ${p.blockId} on a pipeline for ${this.replica.blockId}`,
      );
    if (p.seqno !== this.nextSeqno)
      throw new DfsError('PROTOCOL', `packet seqno ${p.seqno}, expected ${this.nextSeqno}`);
    if (p.offsetInBlock !== this.bytesReceived) {
      throw new DfsError('PROTOCOL', `packet offset ${p.offsetInBlock}, expected ${this.bytesReceived}`);
    }
    if (!p.last && p.payloadBytes % this.replica.chunkBytes !== 0) {
      throw new DfsError('PROTOCOL', `non-final packet of ${p.payloadBytes} bytes is not chunk aligned`);
    }
    this.nextSeqno++;
    this.bytesReceived += p.payloadBytes;
    this.lastReceived = p.last;
    const entry: PendingPacket = {
      seqno: p.seqno,
      last: p.last,
      localDone: false,
      mirrorStatuses: this.mirror ? null : [],
    };
    this.pending.push(entry);

    // 1. Forward untouched, before our own disk write.
    if (this.mirror) {
      const body = bodyPieces(frame);
      const ok = this.mirror.sendPacket(
        encodeFrameHeader(FrameKind.PACKET, 0, this.mirrorRequestId, piecesLength(body)),
        body,
      );
      if (!ok) {
        this.conn.begin();
        this.mirror.whenDrained(() => this.conn.release());
      }
    }
    // 2. Verify every chunk: the last node of a pipeline does (every node got the same
    //    bytes; its ERROR_CHECKSUM fails the pipeline before any ack), as does the target
    //    of a DataNode-to-DataNode copy. The nodes in between save that CPU, as in HDFS.
    const bad = this.verifies ? firstBadChunkInPieces(p.payload, p.checksums, this.replica.chunkBytes) : -1;
    if (bad >= 0) {
      this.log.warn({ seqno: p.seqno, chunk: bad }, 'checksum mismatch in received packet');
      this.fail(
        AckStatus.ERROR_CHECKSUM,
        0,
        new DfsError('CHECKSUM', `checksum mismatch in packet ${p.seqno}, chunk ${bad}`),
      );
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
      this.conn.unhold(held);
      held = 0;
    };
    const offset = p.offsetInBlock;
    this.completions = this.completions
      .then(() =>
        this.failed
          ? undefined
          : Promise.all([
              p.payloadBytes > 0 ? writePieces(this.dataFd, p.payload, offset, DATA_WRITE_SLICE_BYTES) : null,
              this.stageChecksums(p.checksums, offset, p.last),
            ]),
      )
      .then(async () => {
        letGo();
        if (this.failed) return;
        this.replica.numBytes = Math.max(this.replica.numBytes, offset + p.payloadBytes);
        if (p.last) {
          // The flush to disk and the downstream's confirmation run at the same time.
          await Promise.all([this.syncReplica(), this.downstreamConfirmed(entry)]);
          if (this.failed) return;
          await this.finalize();
        } else {
          this.maybeSyncBehind(p.payloadBytes);
        }
        entry.localDone = true;
        this.conn.release();
        this.flushAcks();
      })
      .catch((err: unknown) => {
        this.conn.release();
        const e = diskError(err, `write of block ${this.replica.blockId} failed`);
        this.log.error({ err: e.message }, 'local write failed');
        this.fail(e.code === 'NO_SPACE' ? AckStatus.ERROR_NO_SPACE : AckStatus.ERROR, 0, e);
      })
      .finally(letGo);
    const crashAfter = this.dn.faults.crashAfterPackets;
    if (crashAfter > 0 && ++packetsSeen >= crashAfter) process.kill(process.pid, 'SIGKILL');
  }

  /**
   * Sync-behind-writes: every `syncBehindWritesBytes`, an fdatasync of the data file runs
   * in the background (acks do not wait for it), so the dirty pages reach the disk while
   * the block streams and the fdatasync at finalize, which the last ack does wait for,
   * only has the tail left. One at a time; finalize and close wait for it.
   */
  private maybeSyncBehind(bytes: number): void {
    const every = this.dn.config.syncBehindWritesBytes;
    if (!this.dn.config.syncOnFinalize || every <= 0) return;
    this.unsyncedBytes += bytes;
    if (this.syncingBehind || this.unsyncedBytes < every) return;
    this.syncingBehind = true;
    this.unsyncedBytes = 0;
    this.syncBehind = promisify(fs.fdatasync)(this.dataFd)
      // Linux reports a writeback error once: keep it, finalize must fail on it.
      .catch((err: unknown) => {
        this.syncBehindError ??= err;
      })
      .finally(() => {
        this.syncingBehind = false;
      });
  }

  /**
   * Checksums are staged and written to the meta file a few KiB at a time (at most
   * META_STAGE_BYTES unwritten), not one small write per packet; the stage is flushed with
   * the last packet and before the files close after a failure, so a recovering pipeline
   * finds the checksums of every acknowledged byte on disk. Returns the flush, if any.
   */
  private stageChecksums(checksums: Buffer, offset: number, last: boolean): Promise<void> | null {
    const at = checksumOffset(offset, this.replica.chunkBytes);
    const writes: Array<Promise<void>> = [];
    if (this.metaStageFill + checksums.length > META_STAGE_BYTES) writes.push(this.flushChecksums());
    if (checksums.length > META_STAGE_BYTES) {
      writes.push(writeFully(this.metaFd, checksums, at));
    } else {
      if (this.metaStageFill === 0) this.metaStageOffset = at;
      this.metaStage ??= Buffer.allocUnsafe(META_STAGE_BYTES);
      checksums.copy(this.metaStage, this.metaStageFill);
      this.metaStageFill += checksums.length;
      if (last) writes.push(this.flushChecksums());
    }
    return writes.length === 0 ? null : Promise.all(writes).then(() => {});
  }

  private flushChecksums(): Promise<void> {
    if (this.metaStageFill === 0 || this.metaStage === null) return Promise.resolve();
    const bytes = this.metaStage.subarray(0, this.metaStageFill);
    const at = this.metaStageOffset;
    this.metaStage = null;
    this.metaStageFill = 0;
    return writeFully(this.metaFd, bytes, at);
  }

  /** With syncOnFinalize: data and checksums on disk (after any sync-behind still running). */
  private async syncReplica(): Promise<void> {
    await this.syncBehind;
    if (this.syncBehindError !== null) throw this.syncBehindError;
    if (this.dn.config.syncOnFinalize) {
      await Promise.all([promisify(fs.fdatasync)(this.dataFd), promisify(fs.fdatasync)(this.metaFd)]);
    }
  }

  /** Moves the synced replica to finalized/ and reports it to the NameNode. */
  private async finalize(): Promise<void> {
    this.closeFiles();
    await this.dn.storage.finalize(this.replica);
    this.finished = true;
    this.endTransfer();
    this.log.debug({ numBytes: this.replica.numBytes }, 'replica finalized');
    this.dn.blockReceived({
      blockId: this.replica.blockId,
      genStamp: this.replica.genStamp,
      numBytes: this.replica.numBytes,
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
    if (this.finished && this.pending.length === 0) return;
    if (this.failed) return;
    this.log.warn({ err: err?.message ?? 'closed' }, 'mirror failed mid-block');
    this.fail(AckStatus.ERROR, 1, err ?? new DfsError('CONNECTION', 'mirror closed'));
  }

  /** Sends every ack whose packet is on disk here and acked downstream, in order. */
  private flushAcks(): void {
    while (this.pending.length > 0) {
      const head = this.pending[0]!;
      if (!head.localDone || head.mirrorStatuses === null) return;
      this.pending.shift();
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
    if (this.failed || (this.finished && this.pending.length === 0)) return;
    const statuses = new Array<number>(1 + this.downstream).fill(AckStatus.SUCCESS);
    statuses[position] = status;
    const seqno = this.pending[0]?.seqno ?? this.nextSeqno;
    this.sendAck(seqno, statuses, true);
    this.abort(err);
  }

  /** Stops receiving: closes the mirror and files; the rbw replica stays for recovery. */
  abort(err: DfsError | null): void {
    if (this.failed) return;
    this.failed = true;
    this.settleMirrorWait();
    this.endTransfer();
    this.mirror?.close();
    this.closeFilesWhenSettled();
    this.conn.close(err ?? undefined);
  }

  /** The upstream connection went away. */
  onUpstreamClosed(): void {
    if (!this.finished && !this.failed)
      this.log.warn({ received: this.bytesReceived }, 'upstream closed mid-block');
    if (!this.failed) {
      this.failed = true;
      this.settleMirrorWait();
      this.endTransfer();
      this.mirror?.close();
      this.closeFilesWhenSettled();
    }
  }

  private register(): void {
    writing.set(this.req.block.blockId, this);
    this.registered = true;
  }

  private endTransfer(): void {
    if (this.registered) {
      this.registered = false;
      if (writing.get(this.req.block.blockId) === this) writing.delete(this.req.block.blockId);
    }
    if (!this.counted) return;
    this.counted = false;
    this.dn.activeTransfers--;
  }

  /**
   * Closes the files once every write already issued has completed (and a finalize already
   * under way has finished): closing an fd under a pending write could let that write land
   * in whatever file reuses the fd number. A recovery of the block waits for this.
   */
  private closeFilesWhenSettled(): void {
    const blockId = this.req.block.blockId;
    const done = this.completions
      .then(() => this.syncBehind)
      .then(() => (this.metaFd >= 0 ? this.flushChecksums() : undefined))
      .catch((err: unknown) =>
        this.log.warn({ err: (err as Error).message }, 'flushing checksums of an unfinished replica failed'),
      )
      .then(() => this.closeFiles());
    settling.set(blockId, done);
    void done.then(() => {
      if (settling.get(blockId) === done) settling.delete(blockId);
    });
  }

  private closeFiles(): void {
    if (this.dataFd >= 0) fs.close(this.dataFd, () => {});
    if (this.metaFd >= 0) fs.close(this.metaFd, () => {});
    this.dataFd = -1;
    this.metaFd = -1;
  }
}

let packetsSeen = 0;
/** Blocks a receiver created here and is writing (CREATE or TRANSFER, until it ends). */
const writing = new Map<number, BlockReceiver>();
/** Per block, the teardown of a failed receiver still in progress (see closeFilesWhenSettled). */
const settling = new Map<number, Promise<void>>();

function diskError(err: unknown, what: string): DfsError {
  if (err instanceof DfsError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT')
    return new DfsError('NO_SPACE', `${what}: disk full`, { cause: err });
  if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM')
    return new DfsError('ACCESS_DENIED', `${what}: ${code}`, { cause: err });
  return new DfsError('INTERNAL', `${what}: ${(err as Error).message}`, { cause: err });
}
