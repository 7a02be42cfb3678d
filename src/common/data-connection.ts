/**
 * The connecting side of a data-transfer connection (client -> DataNode, or DataNode ->
 * next DataNode in a pipeline): connect, handshake, then a stream of decoded frames to
 * `onFrame` until the connection ends; `onClose` runs exactly once with the reason.
 * Writes go through `send` (cork per tick) or `sendPacket` ([header, ...payload], no concat);
 * `send*` returns false when the socket buffer is full: callers wait for `'drain'` via
 * `whenDrained`. One refreshed idle timer (socket timeout) catches a silent peer.
 */
import type net from 'node:net';
import { DfsError, rethrowIfBug } from '../../protocol/errors.js';
import { isDataOpcode, PACKET_FRAMES } from '../../protocol/data-messages.js';
import { FrameDecoder } from '../../protocol/frame-decoder.js';
import type { Frame } from '../../protocol/frame.js';
import type { Role } from '../../protocol/handshake.js';
import { DATA_BODY_BYTES_MAX } from '../../protocol/limits.js';
import { connectPeer } from './peer-connect.js';
import { SlabReads } from './read-slabs.js';

export interface DataConnectionOptions {
  host: string;
  port: number;
  role: Role;
  /** Who this is, for error messages (node id or address). */
  label: string;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  /**
   * Read into recycled slabs (read-slabs.ts): PACKET frames then carry `release`, which the
   * consumer calls once it is done with their bytes (a block read, block-reader.ts).
   */
  slabReads?: boolean;
}

export class DataConnection {
  private socket: net.Socket | null = null;
  // Packets arrive in the pieces the socket read them in (never joined): see Frame.parts.
  private decoder = new FrameDecoder({
    bodyBytesMax: DATA_BODY_BYTES_MAX,
    isKnownOpcode: isDataOpcode,
    scatterKinds: PACKET_FRAMES,
  });
  private closed = false;
  private corked = false;
  private frameHandler: (frame: Frame) => void = () => {};
  private pendingRest: Buffer | null = null;
  private flowing = false;
  private reads: SlabReads | null = null;
  private readonly drainWaiters: Array<() => void> = [];
  onClose: (err: DfsError | null) => void = () => {};

  /** Setting the handler starts reading: no frame is delivered before there is one. */
  set onFrame(handler: (frame: Frame) => void) {
    this.frameHandler = handler;
    if (this.flowing || this.socket === null) return;
    this.flowing = true;
    const rest = this.pendingRest;
    this.pendingRest = null;
    if (rest !== null && rest.length > 0) this.receive(rest);
    if (!this.closed) this.socket.resume();
  }

  get onFrame(): (frame: Frame) => void {
    return this.frameHandler;
  }

  private constructor(readonly options: DataConnectionOptions) {}

  static open(options: DataConnectionOptions): Promise<DataConnection> {
    const c = new DataConnection(options);
    return c.connect().then(() => c);
  }

  private async connect(): Promise<void> {
    const o = this.options;
    // A reader's connection reads the rest of its slab each time (its queue bounds what it holds).
    const reads = o.slabReads === true ? new SlabReads() : undefined;
    const { socket, rest } = await connectPeer({
      host: o.host,
      port: o.port,
      role: o.role,
      label: `DataNode ${o.label}`,
      timeoutMs: o.connectTimeoutMs ?? 10_000,
      ...(reads === undefined ? {} : { reads }),
    });
    this.socket = socket;
    socket.on('error', (err: NodeJS.ErrnoException) =>
      this.teardown(
        new DfsError('CONNECTION', `DataNode ${o.label} (${o.host}:${o.port}): ${err.code ?? err.message}`, {
          cause: err,
        }),
      ),
    );
    socket.on('close', () =>
      this.teardown(
        this.decoder.idle
          ? null
          : new DfsError('CONNECTION', `DataNode ${o.label} closed the connection mid-frame`),
      ),
    );
    socket.on('timeout', () =>
      this.teardown(new DfsError('TIMEOUT', `DataNode ${o.label} silent for ${o.idleTimeoutMs} ms`)),
    );
    if (reads === undefined) socket.on('data', (chunk: Buffer) => this.receive(chunk));
    else {
      this.reads = reads;
      reads.sink = (chunk) => this.receive(chunk);
    }
    if (o.idleTimeoutMs) socket.setTimeout(o.idleTimeoutMs);
    // Bytes that came with the handshake reply wait for the caller's onFrame.
    this.pendingRest = rest;
  }

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    try {
      this.decoder.push(chunk, (f) => {
        this.reads?.admit(f, this.decoder.buffered);
        this.frameHandler(f);
      });
    } catch (err) {
      rethrowIfBug(err);
      this.teardown(err instanceof DfsError ? err : new DfsError('INTERNAL', (err as Error).message));
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private cork(): net.Socket {
    const s = this.socket!;
    if (!this.corked) {
      this.corked = true;
      s.cork();
      process.nextTick(() => {
        this.corked = false;
        s.uncork();
      });
    }
    return s;
  }

  send(bytes: Buffer): boolean {
    if (this.closed) return false;
    return this.cork().write(bytes);
  }

  /**
   * Writes a header then its payload (one buffer, or the pieces a received payload came
   * in) under one cork: no concatenation. `written` runs once the last byte is handed to
   * the kernel.
   */
  sendPacket(header: Buffer, payload: Buffer | readonly Buffer[], written?: () => void): boolean {
    if (this.closed) {
      written?.();
      return false;
    }
    const s = this.cork();
    const pieces = Buffer.isBuffer(payload) ? [payload] : payload;
    const last = pieces.length - 1;
    if (last < 0 || (last === 0 && pieces[0]!.length === 0)) {
      s.write(header, written);
      return s.writableLength < s.writableHighWaterMark;
    }
    s.write(header);
    for (let i = 0; i < last; i++) s.write(pieces[i]!);
    return s.write(pieces[last]!, written);
  }

  /**
   * Calls back once the socket's buffer has room (or it closed). Waiters share one pair of
   * listeners: a DataNode forwarding to a slow mirror has a waiter per packet it holds.
   */
  whenDrained(cb: () => void): void {
    const s = this.socket;
    if (this.closed || s === null || !s.writableNeedDrain) return cb();
    this.drainWaiters.push(cb);
    if (this.drainWaiters.length > 1) return;
    const once = (): void => {
      s.off('drain', once);
      s.off('close', once);
      for (const w of this.drainWaiters.splice(0)) w();
    };
    s.on('drain', once);
    s.on('close', once);
  }

  pause(): void {
    this.socket?.pause();
  }

  resume(): void {
    if (this.flowing) this.socket?.resume();
  }

  /** Closes with a reason (null = clean). `onClose` runs once. */
  close(err: DfsError | null = null): void {
    this.teardown(err);
  }

  private teardown(err: DfsError | null): void {
    if (this.closed) return;
    this.closed = true;
    this.reads?.close();
    this.socket?.destroy();
    this.onClose(err);
  }
}
