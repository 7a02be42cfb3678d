/**
 * Writing a file: a Node `Writable` that cuts the bytes into blocks and packets, computes
 * an xxh32 per chunk once, and streams packets down a DataNode pipeline without waiting
 * for acks, within a bounded window of unacknowledged bytes (backpressure: the write
 * callback is held while the window is full, so memory stays bounded whatever the
 * producer does). Unacknowledged packets are kept until acked so they can be resent.
 *
 *   create (in _construct) -> [addBlock -> pipeline -> packets ... last packet -> all acked]* -> complete
 *
 * Failures:
 * - pipeline setup fails: abandon the block, ask for a new one excluding the bad node;
 * - a node fails mid-block: new generation stamp from the NameNode, pipeline rebuilt from
 *   the survivors (they truncate to the acknowledged length), unacked packets resent;
 * - no survivor left, or too many attempts: the stream fails with a typed error.
 * A destroyed stream (error, abort signal, Ctrl-C) stops renewing the lease; the NameNode
 * recovers the file when the lease expires. `complete` is retried while the NameNode waits
 * for block reports.
 */
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CHUNK_BYTES_DEFAULT, encodePacketHeader, PACKET_PAYLOAD_BYTES_DEFAULT, WriteStage, type Ack,
} from '../../protocol/data-messages.js';
import { DfsError } from '../../protocol/errors.js';
import type { Block, DatanodeInfo } from '../../protocol/types.js';
import { computeChecksums, initChecksum } from '../common/checksum.js';
import type { CreateOptions, DfsClient } from './dfs-client.js';
import { WritePipeline } from './write-pipeline.js';

export interface OutputStreamOptions extends CreateOptions {
  chunkBytes?: number;
  packetBytes?: number;
  /** Unacknowledged bytes allowed in flight (default 16 MiB). */
  windowBytes?: number;
  signal?: AbortSignal;
  /** How long `complete` may wait for block reports (default 60 s). */
  completeTimeoutMs?: number;
  /** Called with each packet's send-to-ack time in microseconds (benchmarks). */
  onPacketAcked?: (latencyUs: number) => void;
}

interface OutPacket {
  seqno: number;
  offsetInBlock: number;
  buffer: Buffer;
  payload: Buffer;
  checksums: Buffer;
  last: boolean;
  /** performance.now() when the packet was (last) sent. */
  sentAt: number;
}

const SETUP_ATTEMPTS = 4;
const RECOVERY_ATTEMPTS = 6;

export class DfsOutputStream extends Writable {
  private blockBytes = 0;
  private readonly chunkBytes: number;
  private readonly packetBytes: number;
  private readonly windowBytes: number;
  private block: Block | null = null;
  private targets: DatanodeInfo[] = [];
  private pipeline: WritePipeline | null = null;
  private previous: Block | null = null;
  private bytesInBlock = 0;
  private ackedInBlock = 0;
  private buf: Buffer;
  private fill = 0;
  private readonly free: Buffer[] = [];
  private unacked: OutPacket[] = [];
  private unackedBytes = 0;
  private seqno = 0;
  private waiters: Array<() => void> = [];
  private failure: Error | null = null;
  private recovering = false;
  private completed = false;
  /** Bytes acknowledged by the pipeline, for progress reporting. */
  bytesAcked = 0;
  bytesWritten = 0;

  constructor(private readonly client: DfsClient, readonly path: string, private readonly options: OutputStreamOptions = {}) {
    super({ highWaterMark: 1024 * 1024, signal: options.signal });
    this.chunkBytes = options.chunkBytes ?? CHUNK_BYTES_DEFAULT;
    this.packetBytes = Math.max(this.chunkBytes, Math.floor((options.packetBytes ?? PACKET_PAYLOAD_BYTES_DEFAULT) / this.chunkBytes) * this.chunkBytes);
    this.windowBytes = Math.max(this.packetBytes * 2, options.windowBytes ?? 16 * 1024 * 1024);
    this.buf = Buffer.allocUnsafeSlow(this.packetBytes);
  }

  override _construct(callback: (err?: Error | null) => void): void {
    initChecksum()
      .then(() => this.client.createFile(this.path, this.options))
      .then((status) => {
        this.blockBytes = status.blockBytes;
        callback();
      }, callback);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.writeChunk(chunk).then(() => callback(), callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.finish().then(() => callback(), callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (!this.completed) {
      this.failure ??= err ?? new DfsError('CONNECTION', 'write aborted');
      this.pipeline?.close();
      this.client.forgetOpenFile(this.path);
      this.wake();
    }
    callback(err);
  }

  // ---- filling packets -------------------------------------------------------------

  private async writeChunk(chunk: Buffer): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      this.check();
      if (this.block === null) await this.nextBlock();
      const room = Math.min(this.packetBytes - this.fill, this.blockBytes - this.bytesInBlock - this.fill);
      const n = Math.min(room, chunk.length - off);
      chunk.copy(this.buf, this.fill, off, off + n);
      this.fill += n;
      off += n;
      this.bytesWritten += n;
      const endsBlock = this.bytesInBlock + this.fill === this.blockBytes;
      if (this.fill === this.packetBytes || endsBlock) {
        await this.emitPacket(endsBlock);
        if (endsBlock) await this.finishBlock();
      }
    }
  }

  private async finish(): Promise<void> {
    this.check();
    if (this.block !== null) {
      await this.emitPacket(true);
      await this.finishBlock();
    }
    const deadline = Date.now() + (this.options.completeTimeoutMs ?? 60_000);
    for (let wait = 20; ; wait = Math.min(wait * 2, 500)) {
      if (await this.client.completeFile(this.path, this.previous)) break;
      if (Date.now() > deadline) {
        throw new DfsError('NOT_REPLICATED', `${this.path}: blocks not reported by enough DataNodes in time; the file stays open`);
      }
      await sleep(wait);
    }
    this.completed = true;
  }

  private async emitPacket(last: boolean): Promise<void> {
    const payload = this.buf.subarray(0, this.fill);
    const checksums = computeChecksums(payload, this.chunkBytes);
    const packet: OutPacket = { seqno: this.seqno++, offsetInBlock: this.bytesInBlock, buffer: this.buf, payload, checksums, last, sentAt: 0 };
    this.bytesInBlock += this.fill;
    this.fill = 0;
    this.unacked.push(packet);
    this.unackedBytes += payload.length;
    if (!this.recovering) this.send(packet);
    // The next packet's buffer: a recycled one, once the window has room.
    await this.until(() => this.unackedBytes + this.packetBytes <= this.windowBytes);
    this.buf = this.free.pop() ?? Buffer.allocUnsafeSlow(this.packetBytes);
    if (this.pipeline !== null && !this.recovering) {
      const p = this.pipeline;
      await new Promise<void>((resolve) => p.whenDrained(resolve));
    }
  }

  private send(p: OutPacket): void {
    p.sentAt = performance.now();
    const header = encodePacketHeader(this.pipeline!.requestId, {
      blockId: this.block!.blockId, offsetInBlock: p.offsetInBlock, seqno: p.seqno, last: p.last, payloadBytes: p.payload.length,
    }, p.checksums);
    this.pipeline!.sendPacket(header, p.payload);
  }

  // ---- blocks ----------------------------------------------------------------------

  private async nextBlock(): Promise<void> {
    const exclude: string[] = [];
    let lastErr: Error | null = null;
    for (let attempt = 0; attempt < SETUP_ATTEMPTS; attempt++) {
      const lb = await this.client.addBlock(this.path, this.previous, exclude);
      const pipeline = new WritePipeline(lb.locations);
      const bad = await pipeline.open(lb.block, WriteStage.CREATE, this.client.clientName, this.chunkBytes, this.listener());
      if (bad === null) {
        this.block = { ...lb.block };
        this.targets = lb.locations;
        this.pipeline = pipeline;
        this.bytesInBlock = 0;
        this.ackedInBlock = 0;
        this.seqno = 0;
        return;
      }
      lastErr = bad.err;
      exclude.push(lb.locations[bad.badIndex]!.nodeId);
      await this.client.abandonBlock(this.path, lb.block.blockId);
    }
    throw new DfsError('CONNECTION', `${this.path}: could not build a write pipeline after ${SETUP_ATTEMPTS} attempts (excluded ${exclude.join(', ')}): ${lastErr?.message}`);
  }

  private async finishBlock(): Promise<void> {
    await this.until(() => this.unacked.length === 0 && !this.recovering);
    this.pipeline?.close();
    this.pipeline = null;
    this.previous = { ...this.block!, numBytes: this.bytesInBlock };
    this.block = null;
  }

  private listener() {
    return {
      onAck: (ack: Ack) => this.onAck(ack),
      onFailure: (badIndex: number, err: DfsError) => this.onPipelineFailure(badIndex, err),
    };
  }

  private onAck(ack: Ack): void {
    const head = this.unacked[0];
    if (head === undefined || head.seqno !== ack.seqno) {
      this.onPipelineFailure(0, new DfsError('PROTOCOL', `ack for seqno ${ack.seqno}, expected ${head?.seqno ?? 'none'}`));
      return;
    }
    this.unacked.shift();
    this.unackedBytes -= head.payload.length;
    this.ackedInBlock = head.offsetInBlock + head.payload.length;
    this.bytesAcked += head.payload.length;
    this.options.onPacketAcked?.((performance.now() - head.sentAt) * 1000);
    if (this.free.length < 4) this.free.push(head.buffer);
    this.wake();
  }

  private onPipelineFailure(badIndex: number, err: DfsError): void {
    if (this.recovering || this.failure || this.block === null) return;
    this.recovering = true;
    this.pipeline?.close();
    this.recover(badIndex, err).then(
      () => {
        this.recovering = false;
        this.wake();
      },
      (e: Error) => {
        this.recovering = false;
        this.failure = e;
        this.wake();
      },
    );
  }

  /** Rebuilds the pipeline from the survivors and resends what was not acknowledged. */
  private async recover(badIndex: number, cause: DfsError): Promise<void> {
    let bad = badIndex;
    let lastErr: Error = cause;
    for (let attempt = 0; attempt < RECOVERY_ATTEMPTS; attempt++) {
      const dropped = this.targets[bad];
      this.targets = this.targets.filter((_, i) => i !== bad);
      if (this.targets.length === 0) {
        throw new DfsError('BLOCK_UNAVAILABLE', `${this.path}: every DataNode in the pipeline for block ${this.block!.blockId} failed (last: ${lastErr.message})`);
      }
      const { genStamp } = await this.client.rpc.call('bumpGenStamp', { path: this.path, clientName: this.client.clientName, blockId: this.block!.blockId });
      this.block = { ...this.block!, genStamp };
      const pipeline = new WritePipeline(this.targets);
      const failed = await pipeline.open(
        { blockId: this.block.blockId, genStamp, numBytes: this.ackedInBlock }, WriteStage.RECOVER, this.client.clientName, this.chunkBytes, this.listener(),
      );
      if (failed !== null) {
        bad = failed.badIndex;
        lastErr = failed.err;
        continue;
      }
      this.emitWarning(`pipeline for block ${this.block.blockId} rebuilt without ${dropped?.nodeId} (${cause.message})`);
      this.pipeline = pipeline;
      this.seqno = 0;
      for (const p of this.unacked) {
        p.seqno = this.seqno++;
        this.send(p);
      }
      return;
    }
    throw new DfsError('CONNECTION', `${this.path}: pipeline recovery failed after ${RECOVERY_ATTEMPTS} attempts: ${lastErr.message}`);
  }

  private emitWarning(message: string): void {
    this.emit('recovery', message);
  }

  // ---- waiting ---------------------------------------------------------------------

  private check(): void {
    if (this.failure) throw this.failure;
  }

  private async until(pred: () => boolean): Promise<void> {
    for (;;) {
      this.check();
      if (pred()) return;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
