/**
 * Reading a file: a Node `Readable` (so also async-iterable) over a byte range. It asks the
 * NameNode where the blocks are, then reads each block's part of the range from one
 * replica, verifying every chunk. On a checksum mismatch (reported to the NameNode) or a
 * dead or failing node it continues from the same offset on the next replica; it fails
 * only when no good replica of a block is left, with an error naming the block.
 * Pull-based: nothing is read ahead of the consumer beyond a few packets. The NameNode is
 * reached through InputStreamNamenode only, the two calls a reader makes.
 *
 * In a DataNode's own process (its WebHDFS OPEN) a replica that DataNode holds is tried first
 * and read through it, short-circuit (src/datanode/short-circuit-reads.ts); the checks,
 * reports and failover are the same as over TCP (block-reader.ts).
 *
 * Bytes travel as the views the socket read them into, one packet's views per async step.
 * A consumer that takes them whole (stdout, a sink) iterates `packets()` instead of the
 * Readable: async iteration of a Readable joins its buffered chunks into a new buffer on
 * every read, a copy of every byte.
 */
import { Readable } from 'node:stream';
import { DfsError, rethrowIfBug } from '../../protocol/errors.js';
import type { DatanodeInfo, LocatedBlock } from '../../protocol/shared-structures.js';
import { initChecksum } from '../common/checksum.js';
import type { ShortCircuitReads } from '../common/short-circuit-read.js';
import { readReplica } from './block-reader.js';
import type { NamenodeClient } from './namenode-client.js';

/** The NameNode calls a reader makes (NamenodeClient has them). */
export type InputStreamNamenode = Pick<NamenodeClient, 'getBlockLocations' | 'reportBadBlocks'>;

export interface InputStreamOptions {
  offset?: number;
  /** Bytes to read; default to the end of the file. */
  length?: number;
  signal?: AbortSignal;
  /** Called with the wait for each packet in microseconds, from the request or the previous packet (benchmarks). */
  onPacket?: (waitUs: number) => void;
}

export class DfsInputStream extends Readable {
  private source: AsyncGenerator<Buffer[], void, undefined> | null = null;
  private reading = false;
  /** Bytes delivered so far, for progress reporting. */
  bytesRead = 0;
  fileLength = 0;

  constructor(
    private readonly namenode: InputStreamNamenode,
    readonly path: string,
    private readonly options: InputStreamOptions = {},
    /** This process's DataNode, when there is one: its replicas are read first, through it (block-reader.ts). */
    private readonly shortCircuit?: ShortCircuitReads,
  ) {
    super({ highWaterMark: 1024 * 1024, signal: options.signal });
  }

  override _construct(callback: (err?: Error | null) => void): void {
    initChecksum().then(() => {
      this.source = this.readAll(false);
      callback();
    }, callback);
  }

  override _read(): void {
    if (this.reading) return;
    this.reading = true;
    const pump = async (): Promise<void> => {
      for (;;) {
        const { value, done } = await this.source!.next();
        if (done) {
          this.push(null);
          return;
        }
        let more = true;
        for (const piece of value) {
          this.bytesRead += piece.length;
          more = this.push(piece);
        }
        if (!more) return;
      }
    };
    pump().then(
      () => {
        this.reading = false;
      },
      (err: Error) => this.destroy(err),
    );
  }

  /**
   * The verified bytes one packet at a time, as views (never joined, never copied), in place
   * of reading this stream as a Readable (the two must not be mixed). The stream is
   * destroyed when the iteration ends, however it ends.
   *
   * `borrowed`: the consumer is done with a packet (its bytes written, sent or dropped, not
   * just queued) when it asks for the next one or stops; the packet's memory is then reused
   * for the reads that follow (src/common/read-slabs.ts), so a long read allocates nothing
   * per packet. Without it, packets may be kept.
   */
  async *packets(options: { borrowed?: boolean } = {}): AsyncGenerator<Buffer[], void, undefined> {
    try {
      await initChecksum();
      for await (const packet of this.readAll(options.borrowed === true)) {
        if (this.destroyed) throw this.errored ?? new DfsError('CONNECTION', `${this.path}: read stopped`);
        for (const piece of packet) this.bytesRead += piece.length;
        yield packet;
      }
    } finally {
      this.destroy();
    }
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    void this.source?.return(undefined);
    callback(err);
  }

  private async *readAll(borrowed: boolean): AsyncGenerator<Buffer[], void, undefined> {
    const start = this.options.offset ?? 0;
    const located = await this.namenode.getBlockLocations({
      path: this.path,
      offset: start,
      length: this.options.length ?? 0,
    });
    this.fileLength = located.fileLength;
    if (start > located.fileLength)
      throw new DfsError(
        'INVALID_ARGUMENT',
        `${this.path}: offset ${start} is past the end (${located.fileLength} bytes)`,
      );
    const end =
      this.options.length === undefined
        ? located.fileLength
        : Math.min(located.fileLength, start + this.options.length);
    for (const lb of located.blocks) {
      const from = Math.max(start, lb.offset) - lb.offset;
      const to = Math.min(end, lb.offset + lb.block.numBytes) - lb.offset;
      if (to <= from) continue;
      yield* this.readBlock(lb, from, to, borrowed);
    }
  }

  private async *readBlock(
    lb: LocatedBlock,
    from: number,
    to: number,
    borrowed: boolean,
  ): AsyncGenerator<Buffer[]> {
    let pos = from;
    const failures: string[] = [];
    let locations = this.ownFirst(lb.locations);
    for (let round = 0; round < 2; round++) {
      for (const replica of locations) {
        if (failures.some((f) => f.startsWith(`${replica.nodeId}:`))) continue;
        try {
          for await (const packet of readReplica(replica, lb.block, pos, to, {
            onPacket: this.options.onPacket,
            shortCircuit: this.shortCircuit,
            borrowed,
          })) {
            for (const piece of packet) pos += piece.length;
            yield packet;
          }
          return;
        } catch (err) {
          rethrowIfBug(err);
          const e = err as DfsError;
          failures.push(`${replica.nodeId}: ${e.message}`);
          if (e.code === 'CHECKSUM') {
            await this.namenode
              .reportBadBlocks({ replicas: [{ block: lb.block, nodeId: replica.nodeId }] })
              .catch(rethrowIfBug);
          }
          this.emit('failover', { block: lb.block.blockId, replica: replica.nodeId, error: e.message });
        }
      }
      // Every known replica failed: ask once more, the NameNode may know new ones.
      const fresh = await this.namenode.getBlockLocations({
        path: this.path,
        offset: lb.offset + pos,
        length: to - pos,
      });
      locations = this.ownFirst(
        fresh.blocks.find((b) => b.block.blockId === lb.block.blockId)?.locations ?? [],
      );
    }
    throw new DfsError(
      'BLOCK_UNAVAILABLE',
      `${this.path}: no good replica of block ${lb.block.blockId} (offset ${lb.offset}) is left` +
        (failures.length ? `: ${failures.join('; ')}` : ' (no live DataNode holds it)'),
    );
  }

  /** The replicas in the NameNode's order, but this process's own DataNode's first: read without a network. */
  private ownFirst(locations: DatanodeInfo[]): DatanodeInfo[] {
    const local = this.shortCircuit;
    const own = local === undefined ? -1 : locations.findIndex((d) => local.isSelf(d));
    return own <= 0 ? locations : [locations[own]!, ...locations.filter((_, i) => i !== own)];
  }
}
