/**
 * Writing a file: a Node `Writable` that cuts the bytes into blocks and packets, computes
 * a checksum per chunk once (xxh3 by default; xxh64 or xxh32 if asked, and an appended block's own), and streams packets down a DataNode pipeline without waiting
 * for acks, within a bounded window of unacknowledged bytes (backpressure: the write
 * callback is held while the window is full, so memory stays bounded whatever the
 * producer does). Unacknowledged packets are kept until acked so they can be resent.
 *
 *   create (in _construct) -> [addBlock -> pipeline -> packets ... last packet]* -> all acked -> complete
 *                               (or: reserveBlock + pipeline while the block before streams,
 *                                then packets while addBlock attaches it)
 *
 * Block boundaries do not drain the pipeline: once a block's last packet is sent, the
 * next block is allocated and its pipeline filled while the previous block's last acks
 * (which wait for its replicas to be finalized) are still coming; at most two blocks are
 * in flight, both within the one window. Nor do they wait for the NameNode or a new
 * pipeline: the next block is reserved at the NameNode and its pipeline set up while the
 * current one streams (`ahead`, block-writer.ts ReadyBlock); at the boundary its packets
 * stream at once while the NameNode attaches it, and only its last packet (or an hflush)
 * waits for that answer (BlockWriter.whenAttached). The first block's successor is
 * reserved once the first is half written (a small file reserves nothing), each later one
 * right after the attach of the one before it is sent (usually answered by the same
 * journal sync), and none past the end of an upload of known size (`dueToReserve`). Each
 * block's pipeline, acks and recovery are a BlockWriter's (block-writer.ts); any block's
 * unrecoverable failure fails the stream.
 * A destroyed stream (error, abort signal, Ctrl-C) stops renewing the lease; the NameNode
 * recovers the file when the lease expires. `complete` is retried while the NameNode waits
 * for block reports.
 *
 * Append (`append` option): the NameNode reopens the file for this client; a last block
 * with room is continued at once (BlockWriter.reopen, before any byte is written, so its
 * replicas take the new stamp even if nothing follows), else blocks are added after it.
 *
 * hflush()/hsync() (HDFS `DFSOutputStream.hflush`/`hsync`): queued behind the writes before
 * them (a zero-length marker write), they send what is buffered as a packet flagged FLUSH
 * (SYNC), wait until every packet sent is acknowledged by every node, then tell the NameNode
 * the block's length (fsync), after which new readers see every byte written. The packet
 * after a flush that ended mid-chunk continues that chunk: it ends at the chunk boundary,
 * and the DataNodes recompute the chunk's stored checksum (replica-writer.ts).
 *
 * Producers: `write` (any chunks; a whole packet in one is adopted with `adoptChunks`), or
 * `writeFrom(file)`, which reads a local file straight into the recycled packet buffers (no
 * buffer per read for V8 to collect: ./local-transfer.ts). Both fill packets through the one
 * loop, `fillPackets`.
 *
 * The stream sees its client only through OutputStreamClient (./output-stream-options.ts:
 * the NameNode calls it makes and the lease), so tests drive it against a fake NameNode.
 * Invariant, asserted in pairs: the unacknowledged bytes stay within the window when a
 * packet is sent, never go below zero when one is acknowledged, and are exactly zero when
 * the file is completed.
 */
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CHECKSUM_TYPE_DEFAULT,
  CHUNK_BYTES_DEFAULT,
  PACKET_PAYLOAD_BYTES_DEFAULT,
  PACKET_PAYLOAD_BYTES_MAX,
  type ChecksumType,
} from '../../protocol/data-messages.js';
import { assert, DfsError } from '../../protocol/errors.js';
import type { Block } from '../../protocol/shared-structures.js';
import { computeChecksums, initChecksum } from '../common/checksum.js';
import { givePageAligned, madePageAligned, takePageAligned } from '../common/page-aligned.js';
import { BlockWriter, ReadyBlock, type BlockWriterHost, type OutPacket } from './block-writer.js';
import type { LocalFirstHop } from '../common/pipeline-connect.js';
import {
  createRequest,
  type OutputStreamClient,
  type OutputStreamNamenode,
  type OutputStreamOptions,
  WINDOW_BYTES_DEFAULT,
} from './output-stream-options.js';

export {
  createRequest,
  DEFAULT_UMASK,
  WINDOW_BYTES_DEFAULT,
  type CreateOptions,
  type OutputStreamClient,
  type OutputStreamNamenode,
  type OutputStreamOptions,
} from './output-stream-options.js';

/** A block is reserved ahead only if the rest of the one before should be written within this. */
const RESERVE_LEAD_MS = 10_000;
/** How long the file's end waits for an unused reservation's set-up before completing. */
const AHEAD_CLOSE_WAIT_MS = 1_000;

export class DfsOutputStream extends Writable implements BlockWriterHost {
  readonly chunkBytes: number;
  readonly checksumType: ChecksumType;
  private blockBytes = 0;
  private readonly packetBytes: number;
  /**
   * This stream's acknowledged packet buffers, the next ones filled (at most a window's
   * worth): writers at once outran the process-wide free list (page-aligned.ts), and two
   * rounds of four concurrent 1 GiB uploads made 390-489 buffers instead of 224, each new
   * one's pages faulted in and zeroed by the kernel. Given back to that list when the
   * stream ends.
   */
  private readonly spareBuffers: Buffer[] = [];
  private readonly windowBytes: number;
  /** The block being filled, and the one before it while its last acks are on their way. */
  private current: BlockWriter | null = null;
  private tail: BlockWriter | null = null;
  /** The block after `current`, being reserved or reserved (null: not asked for, or taken). */
  private ahead: Promise<ReadyBlock | null> | null = null;
  /** The most bytes `bytesWritten` will reach before the stream ends, when told (`endsWithin`). */
  private endBound: number | null = null;
  /** The packet being filled: page-aligned, so a local file is read into it at full speed (src/common/page-aligned.ts). */
  private buf: Buffer;
  private fill = 0;
  private unackedBytes = 0;
  private waiters: Array<() => void> = [];
  private failure: Error | null = null;
  private completed = false;
  /** The file's last block before this stream's first (append: a full one; the next addBlock names it). */
  private appendedAfter: Block | null = null;
  /**
   * Markers queued among the writes (zero-length buffers, told apart by identity): an
   * hflush/hsync, or a writeFrom's file to read at that point.
   */
  private readonly markers = new WeakMap<Buffer, 'flush' | 'sync' | FileHandle>();
  /** Bytes acknowledged by the pipeline, for progress reporting. */
  bytesAcked = 0;
  bytesWritten = 0;

  constructor(
    private readonly client: OutputStreamClient,
    readonly path: string,
    private readonly options: OutputStreamOptions = {},
  ) {
    super({ highWaterMark: 1024 * 1024, signal: options.signal });
    this.chunkBytes = options.chunkBytes ?? CHUNK_BYTES_DEFAULT;
    this.checksumType = options.checksumType ?? client.checksumType ?? CHECKSUM_TYPE_DEFAULT;
    const packetBytes = Math.min(
      options.packetBytes ?? PACKET_PAYLOAD_BYTES_DEFAULT,
      PACKET_PAYLOAD_BYTES_MAX,
    );
    this.packetBytes = Math.max(this.chunkBytes, Math.floor(packetBytes / this.chunkBytes) * this.chunkBytes);
    this.windowBytes = Math.max(this.packetBytes * 2, options.windowBytes ?? WINDOW_BYTES_DEFAULT);
    this.buf = takePageAligned(this.packetBytes);
  }

  override _construct(callback: (err?: Error | null) => void): void {
    initChecksum()
      .then(() => (this.options.append === true ? this.openForAppend() : this.openForCreate()))
      .then(() => callback(), callback);
  }

  private async openForCreate(): Promise<void> {
    const status = await this.namenode.create(createRequest(this.client, this.path, this.options));
    this.client.beginFileLease(this.path);
    this.blockBytes = status.blockBytes;
  }

  private async openForAppend(): Promise<void> {
    const { status, lastBlock, reopened } = await this.namenode.append({
      path: this.path,
      clientName: this.clientName,
    });
    this.client.beginFileLease(this.path);
    this.blockBytes = status.blockBytes;
    if (reopened && lastBlock !== null) this.current = await BlockWriter.reopen(this, lastBlock);
    else this.appendedAfter = lastBlock === null ? null : { ...lastBlock.block };
  }

  /**
   * Resolves once the file is open (its create or append answered), or rejects with why not,
   * before a byte is written: callers refuse a whole request rather than fail it half-way.
   * The failure is reported here, so the stream's 'error' event is not left unheard.
   */
  opened(): Promise<void> {
    this.on('error', () => {});
    return new Promise((resolve, reject) =>
      this.write(Buffer.alloc(0), (err) => (err ? reject(err) : resolve())),
    );
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    const marker = this.markers.get(chunk);
    const done =
      marker === undefined
        ? this.writeChunk(chunk)
        : typeof marker === 'string'
          ? this.flushOut(marker)
          : this.readFile(marker);
    done.then(() => callback(), callback);
  }

  /**
   * Every byte written before this call is acknowledged by every DataNode of its pipeline
   * and visible to new readers (HDFS hflush): on their disks' page caches, not necessarily
   * on the platters (hsync is).
   */
  hflush(): Promise<void> {
    return this.queueFlush('flush');
  }

  /** hflush, and every DataNode fdatasynced the replica's data and checksums before acknowledging. */
  hsync(): Promise<void> {
    return this.queueFlush('sync');
  }

  private queueFlush(kind: 'flush' | 'sync'): Promise<void> {
    const marker = Buffer.alloc(0);
    this.markers.set(marker, kind);
    return new Promise((resolve, reject) => {
      this.write(marker, (err) => (err ? reject(err) : resolve()));
    });
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.finish().then(() => callback(), callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    // Acknowledged, so nothing reads them, whether the stream completed or failed.
    for (const b of this.spareBuffers.splice(0)) givePageAligned(b);
    if (!this.completed) {
      this.failure ??= err ?? new DfsError('CONNECTION', 'write aborted');
      this.current?.close();
      this.tail?.close();
      this.dropAhead();
      this.client.endFileLease(this.path);
      this.wake();
    }
    callback(err);
  }

  // ---- filling packets -------------------------------------------------------------

  private writeChunk(chunk: Buffer): Promise<void> {
    let off = 0;
    return this.fillPackets((room, packetMax) => {
      const n = Math.min(room, chunk.length - off);
      const at = off;
      off += n;
      // A whole packet in one chunk the producer hands over (adoptChunks) goes out as it is.
      if (this.options.adoptChunks === true && this.fill === 0 && n === packetMax)
        return chunk.subarray(at, at + n);
      chunk.copy(this.buf, this.fill, at, at + n);
      return n;
    });
  }

  /**
   * The stream will end after at most `bytes` more (a local file's size, ./local-transfer.ts
   * `uploadFile`): no block is reserved ahead past them, so an upload of a known size
   * leaves no unused reservation behind. More bytes are still taken; past the bound, each
   * block is added at its boundary.
   */
  endsWithin(bytes: number): void {
    this.endBound = this.bytesWritten + bytes;
  }

  /**
   * The rest of `file`, from its current position to its end, read straight into the
   * recycled packet buffers: no buffer per read, no copy (DfsClient.put, `dfs put`). Queued
   * among the writes like a flush marker; resolves with the bytes read once the last of them
   * is in a packet (sent, or buffered for the next write or the end).
   */
  writeFrom(file: FileHandle): Promise<number> {
    const marker = Buffer.alloc(0);
    this.markers.set(marker, file);
    const before = this.bytesWritten;
    return new Promise((resolve, reject) => {
      this.write(marker, (err) => (err ? reject(err) : resolve(this.bytesWritten - before)));
    });
  }

  private readFile(file: FileHandle): Promise<void> {
    return this.fillPackets(async (room) => (await file.read(this.buf, this.fill, room, null)).bytesRead);
  }

  /**
   * Fills packets from a producer until it has nothing more (0). `take(room, packetMax)`
   * puts up to `room` bytes into `this.buf` at `this.fill` and says how many, or hands over
   * a whole packet of `packetMax` bytes (adoptChunks). A block is allocated only once there
   * are bytes for it (a producer that ends on a block boundary adds no empty block).
   */
  private async fillPackets(
    take: (room: number, packetMax: number) => number | Buffer | Promise<number>,
  ): Promise<void> {
    for (;;) {
      this.check();
      let writer = this.current;
      const sent = writer?.bytesSent ?? 0;
      // A packet that starts mid-chunk (after an hflush, or appending to a partial chunk)
      // ends at that chunk's boundary: the DataNodes recompute the chunk's checksum from it.
      const inChunk = sent % this.chunkBytes;
      const packetMax = inChunk === 0 ? this.packetBytes : this.chunkBytes - inChunk;
      const room = Math.min(packetMax - this.fill, this.blockBytes - sent - this.fill);
      assert(
        room > 0,
        `no room in packet (${this.fill} of ${packetMax}, ${sent} of ${this.blockBytes} sent)`,
      );
      const got = await take(room, packetMax);
      this.check(); // destroyed while a file read was under way
      const whole = typeof got === 'number' ? undefined : got;
      const n = whole?.length ?? (got as number);
      if (n === 0) return;
      if (whole === undefined) this.fill += n;
      this.bytesWritten += n;
      const opened = writer === null;
      writer ??= await this.nextBlock();
      const filled = whole?.length ?? this.fill;
      const inBlock = writer.bytesSent + filled;
      const endsBlock = inBlock === this.blockBytes;
      // Checked as a block opens and as each packet goes.
      if ((opened || filled === packetMax) && !endsBlock && this.dueToReserve(writer, inBlock, opened))
        this.reserveAhead(writer, opened);
      if (filled === packetMax || endsBlock) {
        await this.emitPacket(writer, endsBlock, undefined, whole);
        if (endsBlock) await this.endBlock(writer);
      }
    }
  }

  /**
   * hflush/hsync in the write order: the buffered bytes go out flagged (an empty packet when
   * nothing is buffered, so each node still flushes or syncs), every packet sent so far is
   * acknowledged, then the NameNode learns the length readers may see.
   */
  private async flushOut(kind: 'flush' | 'sync'): Promise<void> {
    this.check();
    const writer = this.current;
    if (writer !== null) await this.emitPacket(writer, false, kind);
    await this.until(() => (writer === null || writer.idle) && (this.tail === null || this.tail.done));
    // The file's last block at the NameNode: the one being filled, else the one just ended
    // (its replicas are finalized, its length not yet committed by the next addBlock).
    const last = writer ?? this.tail;
    if (last === null) return;
    await this.namenode.fsync({
      path: this.path,
      clientName: this.clientName,
      blockId: last.block.blockId,
      lastBlockLength: last.bytesSent,
    });
  }

  private async finish(): Promise<void> {
    this.check();
    if (this.current !== null) {
      const writer = this.current;
      await this.emitPacket(writer, true);
      await this.endBlock(writer);
    }
    // Closed before complete, so no DataNode still writes its replica when the NameNode's
    // delete of the discarded reservation comes (a DataNode skips a block being written);
    // a set-up still under way (a node not answering) is not waited for long, and the timer
    // does not keep a process that has finished its work alive (`dfs put`).
    const ahead = this.ahead;
    if (ahead !== null) await Promise.race([ahead, sleep(AHEAD_CLOSE_WAIT_MS, undefined, { ref: false })]);
    this.dropAhead();
    await this.until(() => this.tail === null || this.tail.done);
    assert(this.unackedBytes === 0, `${this.unackedBytes} bytes unacknowledged after the last ack`);
    const last = this.tail?.finished ?? this.appendedAfter;
    const deadline = Date.now() + (this.options.completeTimeoutMs ?? 60_000);
    for (let wait = 20; ; wait = Math.min(wait * 2, 500)) {
      const { completed } = await this.namenode.complete({
        path: this.path,
        clientName: this.clientName,
        last,
      });
      if (completed) break;
      if (Date.now() > deadline) {
        throw new DfsError(
          'NOT_REPLICATED',
          `${this.path}: blocks not reported by enough DataNodes in time; the file stays open`,
        );
      }
      await sleep(wait);
    }
    this.completed = true;
    this.client.endFileLease(this.path);
    // The next packet's buffer, never filled. (A stream that fails keeps its buffers: a file
    // read may still be going into one; the GC takes them.)
    givePageAligned(this.buf);
  }

  /** Sends the buffered bytes as a packet, or `whole`, a packet's bytes the producer handed over (adoptChunks). */
  private async emitPacket(
    writer: BlockWriter,
    last: boolean,
    flush?: 'flush' | 'sync',
    whole?: Buffer,
  ): Promise<void> {
    // A reserved block's replicas are finalized, or its length published, only once the
    // NameNode has attached it (block-writer.ts `attach`).
    if (last || flush !== undefined) {
      await writer.whenAttached();
      this.check();
    }
    const payload = whole ?? this.buf.subarray(0, this.fill);
    // The block's algorithm: the stream's for a new block, the replicas' own for an appended one.
    assert(writer.checksumType !== null, `block ${writer.block.blockId}: no pipeline set up before a packet`);
    const checksums = computeChecksums(payload, this.chunkBytes, writer.checksumType);
    const packet: OutPacket = {
      seqno: 0,
      offsetInBlock: writer.bytesSent,
      buffer: whole ?? this.buf,
      payload,
      checksums,
      last,
      ...(flush === undefined ? {} : { flush }),
      sentAt: 0,
    };
    if (whole === undefined) this.fill = 0;
    assert(
      this.unackedBytes + payload.length <= this.windowBytes,
      `${this.unackedBytes} unacknowledged bytes leave no room for ${payload.length} in the window`,
    );
    this.unackedBytes += payload.length;
    writer.send(packet);
    // The next packet's buffer: a recycled one, once the window has room.
    await this.until(() => this.unackedBytes + this.packetBytes <= this.windowBytes);
    if (whole === undefined) this.buf = this.spareBuffers.pop() ?? takePageAligned(this.packetBytes);
    await new Promise<void>((resolve) => writer.whenDrained(resolve));
  }

  // ---- blocks ----------------------------------------------------------------------

  /** The block after the tail (the last block sent): the one reserved ahead, else a new one. */
  private async nextBlock(): Promise<BlockWriter> {
    const started = performance.now();
    const ahead = this.ahead;
    this.ahead = null;
    const reserved = ahead === null ? null : await ahead;
    this.current = await BlockWriter.open(this, this.tail?.finished ?? this.appendedAfter, reserved);
    this.options.onBlockWait?.((performance.now() - started) * 1000);
    return this.current;
  }

  /**
   * Reserves the block after `writer` and sets up its pipeline while `writer` streams on.
   * Nothing waits for it but the next boundary; a failure there means the usual addBlock.
   */
  private reserveAhead(writer: BlockWriter, atStart: boolean): void {
    // After the block as the NameNode will have it: a reserved block's attach, still under
    // way, was sent first; refused, the block was not added and this reservation is refused
    // too (the boundary then adds a block as usual).
    if (writer.failure !== null || this.destroyed) return;
    const ahead = ReadyBlock.reserve(this, writer.block);
    this.ahead = ahead;
    // Made at the block's start and refused or broken (its attach refused, say): tried once
    // more at half the block (`dueToReserve`), after the block as the NameNode has it then.
    if (atStart)
      void ahead.then((ready) => {
        if (ready === null && this.ahead === ahead) this.ahead = null;
      });
  }

  /**
   * Time to reserve the block after `writer`, `inBlock` bytes of it taken, unless the
   * stream ends within it (`endsWithin`). A block opened on a reservation (`opened`)
   * reserves its successor at once, if the block before it took at most RESERVE_LEAD_MS:
   * that reserveBlock follows the attach's addBlock on the NameNode connection, so the
   * NameNode has the block to reserve after (usually one journal sync answers both), and
   * the reservation has the whole block's time to be ready. Any other block reserves once
   * half of it is written, its attach answered, and the rest should come within
   * RESERVE_LEAD_MS at the pace so far. (A slow writer's reserved pipeline would sit idle,
   * and its DataNodes drop a silent pipeline.)
   */
  private dueToReserve(writer: BlockWriter, inBlock: number, opened: boolean): boolean {
    if (this.ahead !== null || this.options.reserveAhead === false) return false;
    const blockEnd = this.bytesWritten - inBlock + this.blockBytes;
    if (this.endBound !== null && this.endBound <= blockEnd) return false;
    const previous = this.tail;
    const previousQuick = previous !== null && performance.now() - previous.openedAt <= RESERVE_LEAD_MS;
    if (opened && writer.reserved && previousQuick) return true;
    // Else by the half-block rule, from the block's first packet on: it may be half the block.
    if (writer.attachPending || inBlock < this.blockBytes / 2) return false;
    const elapsedMs = performance.now() - writer.openedAt;
    return (this.blockBytes - inBlock) * elapsedMs <= RESERVE_LEAD_MS * inBlock;
  }

  /** The file ends (or failed) before the block reserved ahead: its pipeline closes, the NameNode discards it. */
  private dropAhead(): void {
    void this.ahead?.then((r) => r?.close());
    this.ahead = null;
  }

  /**
   * The writer's last packet is sent: it becomes the tail, its acks still to come, once
   * the tail before it is fully acknowledged (at most two blocks in flight).
   */
  private async endBlock(writer: BlockWriter): Promise<void> {
    await this.until(() => this.tail === null || this.tail.done);
    this.tail = writer;
    this.current = null;
  }

  // ---- BlockWriterHost -------------------------------------------------------------

  get namenode(): OutputStreamNamenode {
    return this.client.namenodeClient;
  }

  get clientName(): string {
    return this.client.clientName;
  }

  get localFirstHop(): LocalFirstHop | undefined {
    return this.client.localFirstHop;
  }

  onPacketAcked(packet: OutPacket): void {
    assert(
      packet.payload.length <= this.unackedBytes,
      `ack for ${packet.payload.length} bytes with ${this.unackedBytes} unacknowledged`,
    );
    this.unackedBytes -= packet.payload.length;
    this.bytesAcked += packet.payload.length;
    this.options.onPacketAcked?.((performance.now() - packet.sentAt) * 1000);
    // Acknowledged by every node, so no socket write reads it any more (a producer's own
    // chunk, adopted whole, stays the producer's).
    if (!madePageAligned(packet.buffer)) return;
    if (this.destroyed) givePageAligned(packet.buffer);
    else this.spareBuffers.push(packet.buffer);
  }

  onRecovered(message: string): void {
    this.emit('recovery', message);
  }

  wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  // ---- waiting ---------------------------------------------------------------------

  private check(): void {
    const failure = this.failure ?? this.current?.failure ?? this.tail?.failure ?? null;
    if (failure !== null) throw failure;
  }

  private async until(pred: () => boolean): Promise<void> {
    for (;;) {
      this.check();
      if (pred()) return;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }
}
