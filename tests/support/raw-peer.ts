/**
 * A raw TCP peer for fault tests: it writes whatever bytes a test hands it (no codec in the
 * way, so it can lie about lengths, versions and opcodes) and records everything the server
 * sends back plus when the server closed the connection. Frames after the 8-byte handshake
 * reply are parsed with the shared decoder so tests can assert on ERROR frames.
 */
import fs from 'node:fs';
import net from 'node:net';
import {
  decodeError,
  encodeHello,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameKind,
  HANDSHAKE_BYTES,
  HELLO_HEAD_BYTES,
  isNamenodeReplyOpcode,
  MAGIC,
  PROTOCOL_VERSION,
  Role,
  type DfsError,
  type Frame,
} from '../../protocol/index.js';

export class RawPeer {
  readonly socket: net.Socket;
  readonly connectedAtMs: number;
  received = Buffer.alloc(0);
  closedAtMs: number | null = null;
  private readonly opened: Promise<void>;
  private readonly closed: Promise<number>;
  private waiters: Array<() => void> = [];

  private constructor(port: number, host: string) {
    this.connectedAtMs = Date.now();
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on('error', () => {}); // resets are expected; 'close' tells the tests
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('close', () => reject(new Error('closed before connecting')));
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) =>
      this.socket.once('close', () => {
        this.closedAtMs = Date.now();
        resolve(this.closedAtMs);
        this.wake();
      }),
    );
    this.socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.wake();
    });
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<RawPeer> {
    const peer = new RawPeer(port, host);
    await peer.opened;
    return peer;
  }

  get isClosed(): boolean {
    return this.closedAtMs !== null;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Resolves once `received` holds `n` bytes; rejects on close or timeout. */
  async waitBytes(n: number, timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < n) {
      if (this.isClosed) throw new Error(`connection closed after ${this.received.length} of ${n} bytes`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${n} bytes (have ${this.received.length})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.received.subarray(0, n);
  }

  /** Resolves with the time the server closed the connection, or rejects after `timeoutMs`. */
  waitClosed(timeoutMs = 5000): Promise<number> {
    return Promise.race([
      this.closed,
      new Promise<number>((_, reject) =>
        setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs).unref(),
      ),
    ]);
  }

  /** Sends a well-formed client hello and checks the server accepted it. */
  async handshake(version = PROTOCOL_VERSION, role = 1): Promise<void> {
    this.write(hello(version, role));
    const reply = await this.waitBytes(HANDSHAKE_BYTES);
    if (reply.readUInt32BE(0) !== MAGIC || reply.readUInt8(6) !== 0) {
      throw new Error(`handshake refused: ${reply.toString('hex')}`);
    }
  }

  /** Frames received after the handshake reply (throws if they do not decode). */
  frames(): Frame[] {
    const out: Frame[] = [];
    const decoder = new FrameDecoder({ bodyBytesMax: 1 << 20, isKnownOpcode: isNamenodeReplyOpcode });
    decoder.push(Buffer.from(this.received.subarray(HANDSHAKE_BYTES)), (f) => out.push(f));
    return out;
  }

  /** The error carried by the first ERROR frame received, or null. */
  firstError(): { frame: Frame; error: DfsError } | null {
    const frame = this.frames().find((f) => f.kind === FrameKind.ERROR);
    return frame === undefined ? null : { frame, error: decodeError(frame) };
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A hello naming no user and no client id (24 bytes: protocol/handshake.ts). */
export function hello(version: number, role: number, magic = MAGIC): Buffer {
  const b = Buffer.alloc(HELLO_HEAD_BYTES);
  b.writeUInt32BE(magic, 0);
  b.writeUInt16BE(version, 4);
  b.writeUInt8(role, 6);
  return b;
}

/** A 12-byte frame header declaring `frameBytes` (bytes after the length field). */
export function frameHeader(
  frameBytes: number,
  kind: number,
  opcode: number,
  requestId: number,
  flags = 0,
): Buffer {
  const h = Buffer.alloc(FRAME_HEADER_BYTES);
  h.writeUInt32BE(frameBytes >>> 0, 0);
  h.writeUInt8(kind, 4);
  h.writeUInt8(opcode, 5);
  h.writeUInt16BE(flags, 6);
  h.writeUInt32BE(requestId >>> 0, 8);
  return h;
}

/** VmRSS of a process in bytes (Linux). */
export function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (m === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/**
 * A plain socket to a FrameServer on loopback that has sent a client hello and read the
 * 8-byte reply (its status unread): for tests that then write frames themselves.
 */
export async function clientPeer(port: number): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
  s.write(encodeHello(Role.CLIENT));
  let got = 0;
  await new Promise<void>((resolve) => {
    const onData = (b: Buffer): void => {
      got += b.length;
      if (got < HANDSHAKE_BYTES) return;
      s.off('data', onData);
      resolve();
    };
    s.on('data', onData);
  });
  return s;
}
