/**
 * Serves one READ_BLOCK (HDFS `BlockSender`): answers with the chunk size and the aligned
 * range, then streams PACKET frames: [frame header + packet header + stored checksums] and
 * the payload read from the data file, corked together, last packet flagged.
 *
 * The stored checksums go out as they are on disk, so the reader verifies end to end what
 * the writer computed; this node does not re-verify on the read path (the block scanner
 * does, in the background). Only finalized replicas with a generation stamp at least the
 * requested one are served: a stale replica is refused, never read.
 *
 * Memory is bounded: payload buffers come from a small per-sender pool and return to it
 * when the socket has written them; when the pool is empty the sender waits.
 */
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { CHECKSUM_BYTES, encodeDataResponse, encodePacketHeader, type ReadBlockRequest } from '../../protocol/data-messages.js';
import { DfsError } from '../../protocol/errors.js';
import type { ServerConnection } from '../common/frame-server.js';
import type { DataNodeContext } from './datanode-context.js';
import { checksumOffset } from './replica-meta.js';

const PACKET_TARGET_BYTES = 256 * 1024;
const POOL_BUFFERS = 4;
const open = promisify(fs.open);
const read = promisify(fs.read);

export async function sendBlock(dn: DataNodeContext, conn: ServerConnection, requestId: number, req: ReadBlockRequest): Promise<void> {
  const { blockId, genStamp } = req.block;
  const r = dn.storage.replicas.get(blockId);
  if (r === undefined || r.state !== 'finalized') throw new DfsError('NOT_FOUND', `no finalized replica of block ${blockId} here`);
  if (r.genStamp < genStamp) {
    throw new DfsError('STALE_GENERATION', `replica of block ${blockId} has gen ${r.genStamp}, reader wants ${genStamp}`);
  }
  const end = req.length === 0 ? r.numBytes : req.offset + req.length;
  if (req.offset > r.numBytes || end > r.numBytes) {
    throw new DfsError('INVALID_ARGUMENT', `range ${req.offset}+${req.length} outside block ${blockId} of ${r.numBytes} bytes`);
  }
  const chunk = r.chunkBytes;
  const start = Math.floor(req.offset / chunk) * chunk;
  const stop = Math.min(r.numBytes, Math.ceil(end / chunk) * chunk);
  const dir = r.volume.replicaDir('finalized', blockId);
  const dataFd = await open(path.join(dir, 'data'), 'r');
  const metaFd = await open(path.join(dir, 'meta'), 'r').catch((err: unknown) => {
    fs.close(dataFd, () => {});
    throw err;
  });
  dn.activeTransfers++;
  try {
    conn.send(encodeDataResponse('readBlock', requestId, { chunkBytes: chunk, startOffset: start, length: stop - start }));
    const packetBytes = Math.max(chunk, Math.floor(PACKET_TARGET_BYTES / chunk) * chunk);
    const pool = new BufferPool(POOL_BUFFERS, packetBytes);
    let seqno = 0;
    let offset = start;
    do {
      if (conn.closed) return;
      const len = Math.min(packetBytes, stop - offset);
      const payload = await pool.take();
      const sumsLen = Math.ceil(len / chunk) * CHECKSUM_BYTES;
      const sums = Buffer.allocUnsafe(sumsLen);
      const [d, m] = await Promise.all([
        read(dataFd, payload, 0, len, offset),
        read(metaFd, sums, 0, sumsLen, checksumOffset(offset, chunk)),
      ]);
      if (d.bytesRead !== len || m.bytesRead !== sumsLen) {
        pool.give(payload);
        throw new DfsError('CHECKSUM', `replica of block ${blockId} is shorter on disk than recorded`);
      }
      const last = offset + len >= stop;
      const header = encodePacketHeader(requestId, { blockId, offsetInBlock: offset, seqno: seqno++, last, payloadBytes: len }, sums);
      const view = payload.subarray(0, len);
      conn.send(header);
      const ok = conn.socket.write(view, () => pool.give(payload));
      offset += len;
      if (!ok) await drained(conn);
      if (last) break;
    } while (offset < stop);
  } finally {
    dn.activeTransfers--;
    fs.close(dataFd, () => {});
    fs.close(metaFd, () => {});
  }
}

function drained(conn: ServerConnection): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      conn.socket.off('drain', done);
      conn.socket.off('close', done);
      resolve();
    };
    conn.socket.on('drain', done);
    conn.socket.on('close', done);
  });
}

/** A fixed set of equal buffers; `take` waits when all are out. */
class BufferPool {
  private readonly free: Buffer[] = [];
  private readonly waiters: Array<(b: Buffer) => void> = [];

  constructor(count: number, bytes: number) {
    for (let i = 0; i < count; i++) this.free.push(Buffer.allocUnsafe(bytes));
  }

  take(): Promise<Buffer> {
    const b = this.free.pop();
    if (b !== undefined) return Promise.resolve(b);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  give(b: Buffer): void {
    const w = this.waiters.shift();
    if (w) w(b);
    else this.free.push(b);
  }
}
