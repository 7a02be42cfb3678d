/**
 * The connecting side of a data-transfer connection (client -> DataNode, or DataNode ->
 * next DataNode in a pipeline): connect, handshake, then a stream of decoded frames to
 * `onFrame` until the connection ends; `onClose` runs exactly once with the reason.
 * Writes go through `send` (cork per tick) or `sendPacket` ([header, payload], no concat);
 * `send*` returns false when the socket buffer is full: callers wait for `'drain'` via
 * `whenDrained`. One refreshed idle timer (socket timeout) catches a silent peer.
 */
import net from 'node:net';
import { DfsError } from '../../protocol/errors.js';
import { isDataOpcode } from '../../protocol/data-messages.js';
import { FrameDecoder } from '../../protocol/frame-decoder.js';
import type { Frame } from '../../protocol/frame.js';
import { checkHelloReply, decodeHelloReply, encodeHello, type Role } from '../../protocol/handshake.js';
import { DATA_BODY_BYTES_MAX, HANDSHAKE_BYTES } from '../../protocol/limits.js';

export interface DataConnectionOptions {
  host: string;
  port: number;
  role: Role;
  /** Who this is, for error messages (node id or address). */
  label: string;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
}

export class DataConnection {
  private socket: net.Socket | null = null;
  private decoder = new FrameDecoder({ bodyBytesMax: DATA_BODY_BYTES_MAX, isKnownOpcode: isDataOpcode });
  private closed = false;
  private corked = false;
  onFrame: (frame: Frame) => void = () => {};
  onClose: (err: DfsError | null) => void = () => {};

  private constructor(readonly options: DataConnectionOptions) {}

  static open(options: DataConnectionOptions): Promise<DataConnection> {
    const c = new DataConnection(options);
    return c.connect().then(() => c);
  }

  private connect(): Promise<void> {
    const o = this.options;
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: o.host, port: o.port, noDelay: true });
      let hello: Buffer | null = Buffer.alloc(0);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new DfsError('TIMEOUT', `DataNode ${o.label} (${o.host}:${o.port}) did not answer within ${o.connectTimeoutMs ?? 10_000} ms`));
      }, o.connectTimeoutMs ?? 10_000);
      socket.once('connect', () => socket.write(encodeHello(o.role)));
      socket.on('error', (err: NodeJS.ErrnoException) => {
        const e = new DfsError('CONNECTION', `DataNode ${o.label} (${o.host}:${o.port}): ${err.code ?? err.message}`, { cause: err });
        if (hello !== null) {
          clearTimeout(timer);
          reject(e);
        } else this.teardown(e);
      });
      socket.on('close', () => {
        if (hello !== null) {
          clearTimeout(timer);
          reject(new DfsError('CONNECTION', `DataNode ${o.label} closed the connection during the handshake`));
        } else this.teardown(this.decoder.idle ? null : new DfsError('CONNECTION', `DataNode ${o.label} closed the connection mid-frame`));
      });
      socket.on('timeout', () => this.teardown(new DfsError('TIMEOUT', `DataNode ${o.label} silent for ${o.idleTimeoutMs} ms`)));
      socket.on('data', (chunk: Buffer) => {
        if (this.closed) return;
        if (hello !== null) {
          hello = Buffer.concat([hello, chunk]);
          if (hello.length < HANDSHAKE_BYTES) return;
          try {
            checkHelloReply(decodeHelloReply(hello.subarray(0, HANDSHAKE_BYTES)));
          } catch (err) {
            clearTimeout(timer);
            socket.destroy();
            return reject(err as Error);
          }
          chunk = hello.subarray(HANDSHAKE_BYTES);
          hello = null;
          clearTimeout(timer);
          this.socket = socket;
          if (o.idleTimeoutMs) socket.setTimeout(o.idleTimeoutMs);
          resolve();
          if (chunk.length === 0) return;
        }
        try {
          this.decoder.push(chunk, (f) => this.onFrame(f));
        } catch (err) {
          this.teardown(err instanceof DfsError ? err : new DfsError('INTERNAL', (err as Error).message));
        }
      });
    });
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

  /** Writes a header then its payload as two buffers under one cork (no concatenation). */
  sendPacket(header: Buffer, payload: Buffer, written?: () => void): boolean {
    if (this.closed) {
      written?.();
      return false;
    }
    const s = this.cork();
    if (payload.length === 0) {
      s.write(header, written);
      return s.writableLength < s.writableHighWaterMark;
    }
    s.write(header);
    return s.write(payload, written);
  }

  whenDrained(cb: () => void): void {
    const s = this.socket;
    if (this.closed || s === null || !s.writableNeedDrain) return cb();
    const once = (): void => {
      s.off('drain', once);
      s.off('close', once);
      cb();
    };
    s.on('drain', once);
    s.on('close', once);
  }

  pause(): void {
    this.socket?.pause();
  }

  resume(): void {
    this.socket?.resume();
  }

  /** Closes with a reason (null = clean). `onClose` runs once. */
  close(err: DfsError | null = null): void {
    this.teardown(err);
  }

  private teardown(err: DfsError | null): void {
    if (this.closed) return;
    this.closed = true;
    this.socket?.destroy();
    this.onClose(err);
  }
}
