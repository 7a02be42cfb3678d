/**
 * Reads a byte range of one block from one replica: READ_BLOCK, then packets whose every
 * chunk is checked against the checksums the writer stored, yielded one packet at a time as
 * the views its payload arrived in, trimmed to the range (never joined: one async step per
 * packet, not per socket read). Packets are queued only a few deep: past that the socket is paused until the
 * consumer catches up (backpressure down to the DataNode's disk reads).
 *
 * A replica held by the DataNode of this very process (a DataNode's WebHDFS OPEN) is read
 * through it instead, short-circuit (src/datanode/short-circuit-reads.ts): its answer and
 * packets come from that DataNode's storage with no socket and no framing, and are checked
 * here by the same code as those off a socket.
 */
import { piecesLength, slicePieces } from '../../protocol/byte-pieces.js';
import {
  dataCodecs,
  decodeDataBody,
  decodePacket,
  encodeDataRequest,
  type ReadBlockRequest,
  type ReadBlockResponse,
} from '../../protocol/data-messages.js';
import { DfsError } from '../../protocol/errors.js';
import { FrameKind, type Frame } from '../../protocol/frame.js';
import { Role } from '../../protocol/handshake.js';
import { decodeError } from '../../protocol/error-frame.js';
import type { Block, DatanodeInfo } from '../../protocol/shared-structures.js';
import { DataConnection } from '../common/data-connection.js';
import { firstBadChunkInPieces } from '../common/checksum.js';
import type { ReplicaPacket, ReplicaStream, ShortCircuitReads } from '../common/short-circuit-read.js';

/** Frames queued past which the socket is paused (resumed below half): at most ~2 MiB per reader. */
const QUEUE_HIGH = 8;
const QUEUE_HIGH_BYTES = 2 * 1024 * 1024;

export interface ReadReplicaOptions {
  idleTimeoutMs?: number;
  /** Called with the wait for each packet in microseconds, from the request or the previous packet (TCP only). */
  onPacket?: ((waitUs: number) => void) | undefined;
  /** This process's DataNode, when there is one: its own replicas are read through it (DfsClientOptions). */
  shortCircuit?: ShortCircuitReads | undefined;
  /**
   * The consumer is done with a yielded packet's views when it asks for the next one (or
   * stops): their memory is then reused for later reads (read-slabs.ts). Otherwise the block
   * is read into memory of its own (no slabs): views may be kept, and are collected once dropped.
   */
  borrowed?: boolean | undefined;
}

/**
 * The verified bytes [from, to) of `block` from `replica`: over its data port, or, when the
 * replica is this process's own DataNode, in-process (src/common/short-circuit-read.ts). Either
 * way the same checks below: the answer covers the range, packets follow on without a gap,
 * every chunk matches its stored checksum (CHECKSUM otherwise, for the caller to report).
 */
export async function* readReplica(
  replica: DatanodeInfo,
  block: Block,
  from: number,
  to: number,
  options: ReadReplicaOptions = {},
): AsyncGenerator<Buffer[]> {
  const local = options.shortCircuit;
  const req = { block, offset: from, length: to - from };
  const stream: ReplicaStream & { close?: () => void } =
    local !== undefined && local.isSelf(replica)
      ? local.readBlock(req)
      : await readOverNetwork(replica, req, options);
  const { head } = stream;
  try {
    if (head.startOffset > from || head.startOffset + head.length < to) {
      throw new DfsError(
        'PROTOCOL',
        `${replica.nodeId} offers ${head.startOffset}+${head.length}, asked ${from}..${to}`,
      );
    }
    let expectOffset = head.startOffset;
    for await (const p of stream.packets) {
      if (p.offsetInBlock !== expectOffset)
        throw new DfsError(
          'PROTOCOL',
          `${replica.nodeId} sent a packet at ${p.offsetInBlock} of block ${block.blockId}, expected ${expectOffset}`,
        );
      // The algorithm is the replica's, as its READ_BLOCK answer said (xxh3, xxh64 or xxh32).
      const bad = firstBadChunkInPieces(p.payload, p.checksums, head.chunkBytes, head.checksumType);
      if (bad >= 0) {
        throw new DfsError(
          'CHECKSUM',
          `checksum mismatch in block ${block.blockId} at offset ${p.offsetInBlock + bad * head.chunkBytes} on ${replica.nodeId}`,
        );
      }
      const payloadBytes = piecesLength(p.payload);
      const lo = Math.max(from, p.offsetInBlock) - p.offsetInBlock;
      const hi = Math.min(to, p.offsetInBlock + payloadBytes) - p.offsetInBlock;
      expectOffset += payloadBytes;
      try {
        if (hi > lo) yield slicePieces(p.payload, lo, hi - lo);
      } finally {
        if (options.borrowed === true) p.release?.();
      }
      if (p.last || expectOffset >= head.startOffset + head.length) break;
    }
    if (expectOffset < to)
      throw new DfsError(
        'PROTOCOL',
        `${replica.nodeId} ended block ${block.blockId} at ${expectOffset}, before ${to}`,
      );
  } finally {
    await stream.packets.return(undefined);
    stream.close?.();
  }
}

/**
 * READ_BLOCK over a data connection: its answer, then its packets as they are decoded (each
 * checked to be the next in sequence of this block), the connection closed by `close`.
 */
async function readOverNetwork(
  replica: DatanodeInfo,
  req: ReadBlockRequest,
  options: ReadReplicaOptions,
): Promise<ReplicaStream & { close: () => void }> {
  const { idleTimeoutMs = 30_000, onPacket } = options;
  const { block } = req;
  const conn = await DataConnection.open({
    host: replica.host,
    port: replica.port,
    role: Role.CLIENT,
    label: replica.nodeId,
    idleTimeoutMs,
    // Only a borrowed read releases its packets. A slab connection keeps every slab read
    // after its oldest unreleased packet (read-slabs.ts), so one that never releases would
    // hold the whole block read so far, where ordinary reads are collected as they are dropped.
    slabReads: options.borrowed === true,
  });
  const queue: Frame[] = [];
  let queuedBytes = 0;
  let closed: DfsError | null = null;
  let ended = false;
  let wake: (() => void) | null = null;
  let lastAt = performance.now();
  conn.onFrame = (f) => {
    if (onPacket !== undefined) {
      const now = performance.now();
      onPacket((now - lastAt) * 1000);
      lastAt = now;
    }
    queue.push(f);
    queuedBytes += frameBytes(f);
    if (queue.length >= QUEUE_HIGH || queuedBytes >= QUEUE_HIGH_BYTES) conn.pause();
    wake?.();
  };
  conn.onClose = (err) => {
    ended = true;
    closed = err;
    wake?.();
  };
  const next = async (): Promise<Frame> => {
    for (;;) {
      const f = queue.shift();
      if (f !== undefined) {
        queuedBytes -= frameBytes(f);
        if (queue.length < QUEUE_HIGH / 2 && queuedBytes < QUEUE_HIGH_BYTES / 2) conn.resume();
        return f;
      }
      if (ended)
        throw (
          closed ??
          new DfsError(
            'CONNECTION',
            `${replica.nodeId} closed the connection before the end of block ${block.blockId}`,
          )
        );
      await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
    }
  };
  let head: ReadBlockResponse;
  try {
    lastAt = performance.now();
    conn.send(encodeDataRequest('readBlock', 1, req));
    const first = await next();
    if (first.kind === FrameKind.ERROR) throw decodeError(first);
    if (first.kind !== FrameKind.RESPONSE)
      throw new DfsError('PROTOCOL', `unexpected frame kind ${first.kind} from ${replica.nodeId}`);
    head = decodeDataBody(dataCodecs.readBlock.res, first, 'read block response');
  } catch (err) {
    conn.close();
    throw err;
  }
  const { chunkBytes, checksumType } = head;
  async function* packets(): AsyncGenerator<ReplicaPacket, void, undefined> {
    let seqno = 0;
    for (;;) {
      const f = await next();
      if (f.kind === FrameKind.ERROR) throw decodeError(f);
      if (f.kind !== FrameKind.PACKET)
        throw new DfsError('PROTOCOL', `unexpected frame kind ${f.kind} from ${replica.nodeId}`);
      const p = decodePacket(f, chunkBytes, checksumType);
      if (p.seqno !== seqno++ || p.blockId !== block.blockId) {
        throw new DfsError(
          'PROTOCOL',
          `${replica.nodeId} sent packet ${p.seqno} of block ${p.blockId}, expected ${seqno - 1} of ${block.blockId}`,
        );
      }
      yield {
        offsetInBlock: p.offsetInBlock,
        payload: p.payload,
        checksums: p.checksums,
        last: p.last,
        ...(f.release === undefined ? {} : { release: f.release }),
      };
    }
  }
  return { head, packets: packets(), close: () => conn.close() };
}

function frameBytes(f: Frame): number {
  return f.parts === undefined ? f.body.length : piecesLength(f.parts);
}
