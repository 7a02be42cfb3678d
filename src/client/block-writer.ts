/**
 * One block of a file being written: its DataNode pipeline, the packets sent and not yet
 * acknowledged (kept so they can be resent), the acks, and pipeline recovery. The output
 * stream (dfs-output-stream.ts) cuts the bytes into packets and keeps up to two of these
 * going: the block being filled and the previous one whose last acks are still on their
 * way, so a block boundary does not drain the pipeline.
 *
 * Failures:
 * - setup fails: the block is abandoned and a new one asked for, excluding the bad node;
 * - a node fails mid-block: a new generation stamp from the NameNode, a pipeline rebuilt
 *   from the survivors (they truncate to the acknowledged length), unacked packets resent
 *   (a reserved block's once the NameNode has attached it);
 * - a reserved block refused by the NameNode (NOT_FOUND: it restarted or failed over): a
 *   new block, every packet of the reserved one sent into it again (`rehome`);
 * - no survivor left, or too many attempts: `failure` is set and the stream fails.
 *
 * Append (`reopen`): the file's last block had room; the NameNode gave it a new stamp and
 * its replicas, and the pipeline over them (stage APPEND) reopens each finalized replica at
 * its length. A node that fails that setup is dropped like a node failing mid-block.
 *
 * One block ahead (`ReadyBlock.reserve`): while a block streams, the stream reserves the
 * next one at the NameNode and builds its pipeline (the NameNode's block-reservations.ts);
 * at the boundary `open` returns its writer at once and the NameNode attaches the block
 * while packets stream into it (`attach`): the writer no longer stands still for addBlock's
 * edit-log sync and a new pipeline's set-up. Invariant, asserted in `send`: no last or
 * flush packet before the attach is answered (its replicas would be reported finalized, or
 * its length published, for a block the NameNode does not have). A reserved pipeline that
 * broke while it waited, or waited too long (RESERVED_IDLE_MAX_MS), is dropped and the
 * block added the usual way.
 *
 * The NameNode is reached only through BlockWriterNamenode, the calls a writer makes, so
 * tests run it against a fake NameNode and real DataNodes.
 */
import { encodePacketHeader, WriteStage, type Ack, type ChecksumType } from '../../protocol/data-messages.js';
import { assert, DfsError, rethrowIfBug } from '../../protocol/errors.js';
import type { Block, DatanodeInfo, LocatedBlock } from '../../protocol/shared-structures.js';
import type { LocalFirstHop } from '../common/pipeline-connect.js';
import type { NamenodeClient } from './namenode-client.js';
import { WritePipeline, type PipelineListener } from './write-pipeline.js';

/** The NameNode calls a block writer makes (NamenodeClient has them). */
export type BlockWriterNamenode = Pick<
  NamenodeClient,
  'addBlock' | 'reserveBlock' | 'abandonBlock' | 'bumpGenStamp'
>;

export interface OutPacket {
  seqno: number;
  offsetInBlock: number;
  buffer: Buffer;
  payload: Buffer;
  checksums: Buffer;
  last: boolean;
  /** hflush or hsync: acked once on every node's disk (hsync: synced), and readable. */
  flush?: 'flush' | 'sync';
  /** performance.now() when the packet was (last) sent. */
  sentAt: number;
}

/** What a block writer needs from its stream. */
export interface BlockWriterHost {
  readonly namenode: BlockWriterNamenode;
  /** The writer's lease holder, sent with every call and WRITE_BLOCK. */
  readonly clientName: string;
  readonly path: string;
  readonly chunkBytes: number;
  /** The checksum algorithm of new blocks (a reopened one keeps its replicas' own). */
  readonly checksumType: ChecksumType;
  /** This process's own DataNode, reached without a socket when it heads a pipeline (write-pipeline.ts). */
  readonly localFirstHop?: LocalFirstHop;
  /** A packet was acknowledged by every node of the pipeline. */
  onPacketAcked(packet: OutPacket): void;
  /** Something a waiter may be waiting for changed (ack, recovery end, failure). */
  wake(): void;
  /** A pipeline was rebuilt without a node. */
  onRecovered(message: string): void;
}

const SETUP_ATTEMPTS = 4;
const RECOVERY_ATTEMPTS = 6;
/**
 * A reserved pipeline idle longer than this is not used: a DataNode drops a pipeline silent
 * for its frameTimeoutMs (60 s by default), and one closing just as the first packets go
 * would be taken for a failed first node.
 */
const RESERVED_IDLE_MAX_MS = 20_000;

export class BlockWriter {
  /** Bytes of the block handed to `send` so far. */
  bytesSent = 0;
  /** performance.now() when the block's writer was made (the stream paces reservations by it). */
  readonly openedAt = performance.now();
  failure: Error | null = null;
  private ackedInBlock = 0;
  private readonly unacked: OutPacket[] = [];
  private seqno = 0;
  private recovering = false;
  private lastSent = false;
  private closed = false;
  /**
   * A block reserved ahead, and its attach (`attach`); null for a block the NameNode added
   * the usual way. While `pending`, its packets stream and those acknowledged wait in `held`
   * (counted in the stream's window) until the NameNode has it; `settled` resolves then
   * (attached, or refused and re-homed, or failed).
   */
  private reservation: { pending: boolean; settled: Promise<void> } | null = null;
  private readonly held: OutPacket[] = [];
  /**
   * The algorithm of this block's packets: the replicas', as the pipeline's first node
   * answered (a new block: the host's; an appended one: whatever its replicas were written
   * with). Null only while an append's first pipeline has not been set up.
   */
  checksumType: ChecksumType | null = null;

  private constructor(
    private readonly host: BlockWriterHost,
    public block: Block,
    private targets: DatanodeInfo[],
    private pipeline: WritePipeline | null,
  ) {}

  /**
   * The next block after `previous`. With `reserved` intact, its writer is returned at once
   * and starts streaming while the NameNode attaches the block (`attach`); else a new block
   * from the NameNode and its pipeline.
   */
  static async open(
    host: BlockWriterHost,
    previous: Block | null,
    reserved: ReadyBlock | null = null,
  ): Promise<BlockWriter> {
    const attach = previous !== null && reserved !== null && reserved.usable;
    if (!attach) reserved?.close();
    const ready = attach ? reserved : await ReadyBlock.allocate(host, previous);
    const writer = new BlockWriter(host, { ...ready.lb.block }, ready.lb.locations, ready.pipeline);
    writer.checksumType = ready.pipeline.checksumType;
    if (attach) {
      // Set before the attach starts: it ends by clearing `pending`.
      writer.reservation = { pending: true, settled: Promise.resolve() };
      writer.reservation.settled = writer.attach(previous, ready.lb.block);
    }
    ready.listen(writer.listener());
    return writer;
  }

  /**
   * Resolves once the NameNode has attached this block to the file (at once for a block it
   * allocated): a block's last packet and an hflush wait for it, since their replicas are
   * then reported finalized, or their length published, to the NameNode.
   */
  whenAttached(): Promise<void> {
    return this.reservation?.settled ?? Promise.resolve();
  }

  /**
   * Asks the NameNode to attach the reserved `block` after `previous` while packets stream
   * into its pipeline; acks are held meanwhile (`held`). Refused (the NameNode restarted or
   * failed over and knows no reservation): the packets move to a new block from the usual
   * path and are sent again from its start. A failure there is the stream's.
   */
  private async attach(previous: Block, block: Block): Promise<void> {
    const { host } = this;
    try {
      const got = await host.namenode.addBlock({
        path: host.path,
        clientName: host.clientName,
        previous,
        excludeNodes: [],
        reservedBlockId: block.blockId,
      });
      assert(
        got.block.blockId === block.blockId && got.block.genStamp === block.genStamp,
        `reserved block ${block.blockId}/${block.genStamp} attached as ${got.block.blockId}/${got.block.genStamp}`,
      );
    } catch (err) {
      rethrowIfBug(err);
      // Any other refusal (the lease, a quota, safe mode) would refuse a new block too.
      const unknown = err instanceof DfsError && err.code === 'NOT_FOUND';
      if (!unknown) this.failure ??= err as Error;
      else if (!this.closed) {
        try {
          await this.rehome(previous, err);
        } catch (e) {
          rethrowIfBug(e);
          this.failure ??= e as Error;
        }
      }
    }
    this.reservation!.pending = false;
    for (const p of this.held.splice(0)) this.host.onPacketAcked(p);
    this.host.wake();
  }

  /** The reservation was refused: a new block, and every packet of this one sent into it again. */
  private async rehome(previous: Block, cause: Error): Promise<void> {
    this.pipeline?.close();
    const ready = await ReadyBlock.allocate(this.host, previous);
    if (this.closed) return ready.close();
    this.checkChecksumType(ready.pipeline, ready.lb.block.blockId);
    this.host.onRecovered(
      `reserved block ${this.block.blockId} refused (${cause.message}); its packets go to block ${ready.lb.block.blockId}`,
    );
    this.block = { ...ready.lb.block };
    this.targets = ready.lb.locations;
    this.pipeline = ready.pipeline;
    // A recovery of the old pipeline waiting on the attach (`recover`) finds the pipeline
    // replaced and ends without touching the new one: every packet is resent below. It
    // resumes in the same run of microtasks as this, so no failure of the new pipeline is
    // heard in between.
    this.recovering = false;
    ready.listen(this.listener());
    const all = this.held.splice(0).concat(this.unacked.splice(0));
    this.ackedInBlock = 0;
    this.seqno = 0;
    for (const p of all) {
      p.seqno = this.seqno++;
      this.unacked.push(p);
      this.transmit(p);
    }
  }

  /** The packets carry checksums of this block's algorithm: a pipeline holding another cannot take them. */
  private checkChecksumType(pipeline: WritePipeline, blockId: number): void {
    if (this.checksumType === null || pipeline.checksumType === this.checksumType) return;
    pipeline.close();
    throw new DfsError(
      'PROTOCOL',
      `${this.host.path}: the pipeline for block ${blockId} holds checksum type ${pipeline.checksumType}, the packets were made for ${this.checksumType}`,
    );
  }

  /** A closed pipeline is silent (write-pipeline.ts), so a replaced one is not heard. */
  private listener(): PipelineListener {
    return {
      onAck: (ack) => this.onAck(ack),
      onFailure: (badIndex, err) => this.onPipelineFailure(badIndex, err),
    };
  }

  /**
   * Continues the file's last block (append): a pipeline over its replicas that reopens
   * each at its length under the new stamp the NameNode gave it (`lb.block`).
   */
  static async reopen(host: BlockWriterHost, lb: LocatedBlock): Promise<BlockWriter> {
    const pipeline = new WritePipeline(lb.locations, host.localFirstHop);
    let writer: BlockWriter | null = null;
    const bad = await pipeline.open(
      lb.block,
      WriteStage.APPEND,
      host.clientName,
      host.chunkBytes,
      host.checksumType,
      {
        onAck: (ack) => writer?.onAck(ack),
        onFailure: (badIndex, err) => writer?.onPipelineFailure(badIndex, err),
      },
    );
    writer = new BlockWriter(host, { ...lb.block }, lb.locations, bad === null ? pipeline : null);
    // The replicas' own algorithm (an append to a block written with xxh32 goes on in xxh32).
    writer.checksumType = pipeline.checksumType;
    writer.bytesSent = lb.block.numBytes;
    writer.ackedInBlock = lb.block.numBytes;
    // Without that node, over the others (each reopens its replica, finalized or not, at the
    // length), as a pipeline that failed mid-block is rebuilt.
    if (bad !== null) await writer.recover(bad.badIndex, bad.err);
    return writer;
  }

  /** The NameNode has not yet answered the attach of this reserved block. */
  get attachPending(): boolean {
    return this.reservation?.pending === true;
  }

  /** Opened on a block reserved ahead (attached, being attached, or refused and re-homed). */
  get reserved(): boolean {
    return this.reservation !== null;
  }

  /** Every packet sent so far has been acknowledged by the whole pipeline (hflush waits for it). */
  get idle(): boolean {
    return this.unacked.length === 0 && !this.recovering && !this.attachPending;
  }

  /** Every packet up to the last one has been acknowledged. */
  get done(): boolean {
    return this.lastSent && this.unacked.length === 0 && !this.recovering && !this.attachPending;
  }

  /** The block as the NameNode should record it once this writer is done. */
  get finished(): Block {
    return { ...this.block, numBytes: this.bytesSent };
  }

  send(packet: OutPacket): void {
    assert(
      !this.attachPending || (!packet.last && packet.flush === undefined),
      `block ${this.block.blockId}: a last or flush packet before the NameNode attached it`,
    );
    packet.seqno = this.seqno++;
    this.bytesSent += packet.payload.length;
    this.lastSent = packet.last;
    this.unacked.push(packet);
    if (!this.recovering) this.transmit(packet);
  }

  /** Calls back when the pipeline's socket has room (at once while recovering). */
  whenDrained(cb: () => void): void {
    if (this.pipeline === null || this.recovering) return cb();
    this.pipeline.whenDrained(cb);
  }

  close(): void {
    this.closed = true;
    this.pipeline?.close();
    this.pipeline = null;
  }

  private transmit(p: OutPacket): void {
    p.sentAt = performance.now();
    const header = encodePacketHeader(
      this.pipeline!.requestId,
      {
        blockId: this.block.blockId,
        offsetInBlock: p.offsetInBlock,
        seqno: p.seqno,
        last: p.last,
        ...(p.flush === undefined ? {} : { flush: p.flush }),
        payloadBytes: p.payload.length,
      },
      p.checksums,
    );
    this.pipeline!.sendPacket(header, p.payload);
  }

  private onAck(ack: Ack): void {
    const head = this.unacked[0];
    if (head === undefined || head.seqno !== ack.seqno) {
      this.onPipelineFailure(
        0,
        new DfsError('PROTOCOL', `ack for seqno ${ack.seqno}, expected ${head?.seqno ?? 'none'}`),
      );
      return;
    }
    this.unacked.shift();
    this.ackedInBlock = head.offsetInBlock + head.payload.length;
    if (this.attachPending) return void this.held.push(head);
    if (this.done) this.close();
    this.host.onPacketAcked(head);
    this.host.wake();
  }

  private onPipelineFailure(badIndex: number, err: DfsError): void {
    if (this.recovering || this.failure !== null || this.done) return;
    this.recovering = true;
    this.pipeline?.close();
    this.recover(badIndex, err).then(
      () => {
        this.recovering = false;
        if (this.done) this.close();
        this.host.wake();
      },
      (e: Error) => {
        rethrowIfBug(e);
        this.recovering = false;
        this.failure = e;
        this.host.wake();
      },
    );
  }

  /** Rebuilds the pipeline from the survivors and resends what was not acknowledged. */
  private async recover(badIndex: number, cause: DfsError): Promise<void> {
    const { namenode, clientName, path } = this.host;
    // A reserved block is recovered once the NameNode has it; refused, its packets went to
    // a new block and pipeline already (`rehome`), and the failure was the old one's.
    const failed = this.pipeline;
    await this.whenAttached();
    if (this.pipeline !== failed || this.failure !== null) return;
    let bad = badIndex;
    let lastErr: Error = cause;
    for (let attempt = 0; attempt < RECOVERY_ATTEMPTS; attempt++) {
      if (this.closed) return; // the stream ended meanwhile (failed, or destroyed)
      const dropped = this.targets[bad];
      this.targets = this.targets.filter((_, i) => i !== bad);
      if (this.targets.length === 0) {
        throw new DfsError(
          'BLOCK_UNAVAILABLE',
          `${path}: every DataNode in the pipeline for block ${this.block.blockId} failed (last: ${lastErr.message})`,
        );
      }
      const { genStamp } = await namenode.bumpGenStamp({ path, clientName, blockId: this.block.blockId });
      if (this.closed) return;
      this.block = { ...this.block, genStamp };
      const pipeline = new WritePipeline(this.targets, this.host.localFirstHop);
      const failed = await pipeline.open(
        { blockId: this.block.blockId, genStamp, numBytes: this.ackedInBlock },
        WriteStage.RECOVER,
        clientName,
        this.host.chunkBytes,
        this.checksumType ?? this.host.checksumType,
        this.listener(),
      );
      if (failed !== null) {
        bad = failed.badIndex;
        lastErr = failed.err;
        continue;
      }
      if (this.closed) return pipeline.close();
      // The survivors continue their replicas with the algorithm they were written with,
      // which the unacknowledged packets carry already (they are resent as they are).
      this.checkChecksumType(pipeline, this.block.blockId);
      this.checksumType = pipeline.checksumType;
      this.host.onRecovered(
        `pipeline for block ${this.block.blockId} rebuilt without ${dropped?.nodeId} (${cause.message})`,
      );
      this.pipeline = pipeline;
      this.seqno = 0;
      for (const p of this.unacked) {
        p.seqno = this.seqno++;
        this.transmit(p);
      }
      return;
    }
    throw new DfsError(
      'CONNECTION',
      `${path}: pipeline recovery failed after ${RECOVERY_ATTEMPTS} attempts: ${lastErr.message}`,
    );
  }
}

/**
 * A block with its pipeline set up and no writer yet: reserved ahead at the NameNode while
 * the block before it streams (`reserve`), or allocated at the boundary (`allocate`). A
 * failure while it waits only marks it broken; once a writer listens, it hears everything.
 */
export class ReadyBlock {
  broken = false;
  private readonly readyAt = performance.now();
  private failure: { badIndex: number; err: DfsError } | null = null;
  private listener: PipelineListener | null = null;

  private constructor(
    readonly lb: LocatedBlock,
    readonly pipeline: WritePipeline,
  ) {}

  /** Reserves the block after `after` and sets up its pipeline; null when either fails (the boundary then allocates as usual). */
  static async reserve(host: BlockWriterHost, after: Block): Promise<ReadyBlock | null> {
    let lb: LocatedBlock;
    try {
      lb = await host.namenode.reserveBlock({
        path: host.path,
        clientName: host.clientName,
        afterBlockId: after.blockId,
        excludeNodes: [],
      });
    } catch (err) {
      rethrowIfBug(err);
      return null;
    }
    const ready = new ReadyBlock(lb, new WritePipeline(lb.locations, host.localFirstHop));
    return (await ready.setUp(host)) === null ? ready : null;
  }

  /** Asks the NameNode for the block after `previous` and sets up its pipeline, avoiding nodes that fail it. */
  static async allocate(host: BlockWriterHost, previous: Block | null): Promise<ReadyBlock> {
    const exclude: string[] = [];
    let lastErr: Error | null = null;
    for (let attempt = 0; attempt < SETUP_ATTEMPTS; attempt++) {
      const lb = await host.namenode.addBlock({
        path: host.path,
        clientName: host.clientName,
        previous,
        excludeNodes: exclude,
        reservedBlockId: 0,
      });
      const ready = new ReadyBlock(lb, new WritePipeline(lb.locations, host.localFirstHop));
      const bad = await ready.setUp(host);
      if (bad === null) return ready;
      lastErr = bad.err;
      exclude.push(lb.locations[bad.badIndex]!.nodeId);
      await host.namenode.abandonBlock({
        path: host.path,
        clientName: host.clientName,
        blockId: lb.block.blockId,
      });
    }
    throw new DfsError(
      'CONNECTION',
      `${host.path}: could not build a write pipeline after ${SETUP_ATTEMPTS} attempts (excluded ${exclude.join(', ')}): ${lastErr?.message}`,
    );
  }

  private setUp(host: BlockWriterHost): Promise<{ badIndex: number; err: DfsError } | null> {
    return this.pipeline.open(
      this.lb.block,
      WriteStage.CREATE,
      host.clientName,
      host.chunkBytes,
      host.checksumType,
      {
        onAck: (ack) => this.onAck(ack),
        onFailure: (badIndex, err) => this.onFailure(badIndex, err),
      },
    );
  }

  /** Intact, and not idle so long that its DataNodes may be dropping it. */
  get usable(): boolean {
    return !this.broken && performance.now() - this.readyAt < RESERVED_IDLE_MAX_MS;
  }

  /** Its writer's from now on; a failure heard before is passed on at once. */
  listen(listener: PipelineListener): void {
    this.listener = listener;
    if (this.failure !== null) listener.onFailure(this.failure.badIndex, this.failure.err);
  }

  close(): void {
    this.broken = true;
    this.pipeline.close();
  }

  private onAck(ack: Ack): void {
    if (this.listener !== null) return this.listener.onAck(ack);
    // No packet was sent: an ack now is a DataNode's bug, and this pipeline is not used.
    this.onFailure(0, new DfsError('PROTOCOL', `ack for seqno ${ack.seqno} before any packet`));
  }

  private onFailure(badIndex: number, err: DfsError): void {
    if (this.listener !== null) return this.listener.onFailure(badIndex, err);
    this.broken = true;
    this.failure ??= { badIndex, err };
  }
}
