/**
 * A TCP server that speaks the DFS framing: handshake, incremental frame decoding, batched
 * replies, limits, and one teardown path per connection (undici `util.destroy`). Daemons
 * plug in an `onFrame` handler; nothing here knows any opcode.
 *
 * Limits, so one bad or slow peer cannot hurt the others:
 * - connectionsMax: further connections are closed at once.
 * - handshake within handshakeTimeoutMs, else closed.
 * - a frame started but not finished within frameTimeoutMs (a stalled half-frame) closes
 *   the connection; an idle connection between frames is fine.
 * - the decoder refuses a declared length over bodyBytesMax before reading the body.
 * - at most inflightMax requests per connection are being served; past that the socket
 *   stops being read until answers go out (so a flood of requests queues in the kernel,
 *   not in our memory). Same when the peer does not read its answers (write() false).
 * - heldBytesMax bounds the bytes all connections together hold (`hold`/`unhold`, e.g.
 *   packets received and not yet on disk): past it no connection is read until some are
 *   let go, so memory stays bounded however many peers send at once (held-bytes-budget.ts,
 *   which also keeps the peak and logs when reading stops).
 * - partialFrameBytesMax bounds the bytes all connections together hold in frames not yet
 *   complete (a peer needs no valid request to cost them): a frame spanning reads must be
 *   admitted against it, else its connection is not read until it is; stalled admitted
 *   frames are dropped while others wait (partial-frame-budget.ts). Counted once per socket
 *   read from the decoder; no payload is copied for it.
 * - after a protocol error the connection gets one ERROR frame and is closed.
 *
 * Counters are asserted in pairs (a bug, not a peer, unbalances them): a reply or release
 * needs a request in flight, an unhold never lets go of more than was held, and the
 * server's held total is never negative and is zero once no connection is left.
 */
import net from 'node:net';
import { assert, DfsError, rethrowIfBug } from '../../protocol/errors.js';
import { FrameDecoder } from '../../protocol/frame-decoder.js';
import type { Frame } from '../../protocol/frame.js';
import { decodeHello, encodeHelloReply, HandshakeStatus, helloBytes } from '../../protocol/handshake.js';
import { FRAME_HEADER_BYTES, HANDSHAKE_BYTES, PROTOCOL_VERSION } from '../../protocol/limits.js';
import { encodeError } from '../../protocol/error-frame.js';
import type { Logger } from './logger.js';
import { HeldBytesBudget } from './held-bytes-budget.js';
import { PartialFrameBudget, type MidFrameConnection } from './partial-frame-budget.js';
import { SlabReads, withSlabReads } from './read-slabs.js';

export interface FrameServerOptions {
  host: string;
  port: number;
  bodyBytesMax: number;
  isKnownOpcode: (kind: number, opcode: number) => boolean;
  /** Frame kinds whose bodies reach `onFrame` in the pieces they arrived in (FrameDecoder). */
  scatterKinds?: ReadonlySet<number>;
  acceptRoles: ReadonlySet<number>;
  connectionsMax: number;
  inflightMax: number;
  handshakeTimeoutMs: number;
  frameTimeoutMs: number;
  logger: Logger;
  onFrame: (conn: ServerConnection, frame: Frame) => void;
  onClose?: (conn: ServerConnection) => void;
  /** True when a connection silent for frameTimeoutMs is stalled even between frames. */
  isBusy?: (conn: ServerConnection) => boolean;
  /** Bytes all connections together may hold (ServerConnection.hold); default no limit. */
  heldBytesMax?: number;
  /** Bytes all connections together may hold in incomplete frames; default no limit. */
  partialFrameBytesMax?: number;
  /** Sees every answer `reply` sends (metrics: namenode-metrics.ts reads its header). */
  onReply?: (conn: ServerConnection, answer: Buffer) => void;
  /**
   * Read into recycled slabs (read-slabs.ts): PACKET frames then carry `release`, which the
   * handler must call once their bytes are used (the DataNode's block receiver).
   */
  slabReads?: boolean;
}

let nextConnectionId = 1;

export class ServerConnection implements MidFrameConnection {
  readonly id = nextConnectionId++;
  role = 0;
  /** The user the hello named ('' for none); the daemon judges it (the NameNode's client-rpc.ts). */
  user = '';
  /** The client id the hello named (32 hex digits; all zero for none): the NameNode's retry cache key. */
  clientId = '';
  /** Requests handed to the handler and not yet answered. */
  inflight = 0;
  /** Bytes counted by `hold` and not yet let go. */
  heldBytes = 0;
  closed = false;
  private corked = false;
  private readPaused = false;
  private writeBlocked = false;
  readonly log: Logger;
  /** Per-connection state a daemon may attach (e.g. the DataNode's block receiver). */
  attachment: unknown = null;
  /** When the frame now being received began (0 = none); reset when reading resumes. */
  frameStartMs = 0;
  /** Bytes of the frame now being received; its admission (PartialFrameBudget owns these three). */
  partialBytes = 0;
  partialReservedBytes = 0;
  partialWaitBytes = 0;
  /** True once a complete frame arrived (PartialFrameBudget admits these first). */
  delivered = false;
  /** When a read last left this connection mid-frame. */
  lastReadMs = 0;
  private waitingOnUsNow = false;

  constructor(
    readonly socket: net.Socket,
    private readonly server: FrameServer,
    logger: Logger,
  ) {
    this.log = logger.child({ conn: this.id, remote: `${socket.remoteAddress}:${socket.remotePort}` });
  }

  get remote(): string {
    return `${this.socket.remoteAddress}:${this.socket.remotePort}`;
  }

  /** Queues bytes; writes from one tick go out together (cork/uncork -> one writev). */
  send(bytes: Buffer): boolean {
    if (this.closed) return false;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        if (!this.closed) this.socket.uncork();
      });
    }
    const ok = this.socket.write(bytes);
    if (!ok && !this.writeBlocked) {
      this.writeBlocked = true;
      this.updateFlow();
      this.socket.once('drain', () => {
        this.writeBlocked = false;
        this.updateFlow();
      });
    }
    return ok;
  }

  /** Sends an answer and releases its in-flight slot. */
  reply(bytes: Buffer): void {
    assert(this.inflight > 0, `connection ${this.id}: a reply with no request in flight`);
    this.inflight--;
    this.server.options.onReply?.(this, bytes);
    this.send(bytes);
    this.updateFlow();
  }

  replyError(opcode: number, requestId: number, err: DfsError): void {
    this.reply(encodeError(opcode, requestId, err));
  }

  /** Ends a unit of work started with `begin` that had no reply of its own (a packet). */
  release(): void {
    assert(this.inflight > 0, `connection ${this.id}: release with no request in flight`);
    this.inflight--;
    this.updateFlow();
  }

  /** Counts a request as being served (the handler must later `reply` or `release`). */
  begin(): void {
    this.inflight++;
    this.updateFlow();
  }

  /** Counts received bytes the handler keeps (against heldBytesMax) until `unhold`. */
  hold(bytes: number): void {
    assert(bytes >= 0, `connection ${this.id}: hold of ${bytes} bytes`);
    this.heldBytes += bytes;
    this.server.held.changed(bytes);
    this.updateFlow();
  }

  /** Lets go of bytes counted by `hold` (nothing once closed: the close let go of all). */
  unhold(bytes: number): void {
    if (this.closed) return;
    assert(
      bytes >= 0 && bytes <= this.heldBytes,
      `connection ${this.id}: unhold of ${bytes} bytes with ${this.heldBytes} held`,
    );
    this.heldBytes -= bytes;
    this.server.held.changed(-bytes);
    this.updateFlow();
  }

  updateFlow(): void {
    if (this.closed) return;
    const overBudget = this.server.held.over;
    if (overBudget) this.server.held.pause(this);
    this.waitingOnUsNow = this.writeBlocked || this.inflight >= this.server.options.inflightMax || overBudget;
    // A frame waiting for room under partialFrameBytesMax (PartialFrameBudget).
    const shouldPause = this.waitingOnUsNow || this.partialWaitBytes !== 0;
    if (shouldPause && !this.readPaused) {
      this.readPaused = true;
      this.socket.pause();
    } else if (!shouldPause && this.readPaused) {
      this.readPaused = false;
      if (this.frameStartMs !== 0) this.frameStartMs = Date.now();
      this.socket.resume();
    }
  }

  get paused(): boolean {
    return this.readPaused;
  }

  get waitingOnUs(): boolean {
    return this.waitingOnUsNow;
  }

  /** The one teardown path: optional ERROR frame, then end and destroy. */
  close(err?: DfsError, opcode = 0, requestId = 0): void {
    if (this.closed) return;
    if (err) {
      this.log.warn({ code: err.code, err: err.message }, 'closing connection');
      this.socket.write(encodeError(opcode, requestId, err));
    }
    this.closed = true;
    if (this.corked) this.socket.uncork();
    this.socket.end();
    // Give the error frame a moment to leave, but never wait on a peer that does not read.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }
}

export class FrameServer {
  private server: net.Server | null = null;
  readonly connections = new Set<ServerConnection>();
  /** Bytes all connections hold (ServerConnection.hold), against heldBytesMax. */
  readonly held: HeldBytesBudget<ServerConnection>;
  /** Bytes all connections hold in incomplete frames, against partialFrameBytesMax. */
  readonly partialFrames: PartialFrameBudget;

  constructor(readonly options: FrameServerOptions) {
    const max = options.partialFrameBytesMax ?? Infinity;
    // One largest frame must fit, or a peer sending one could never finish it.
    if (max < options.bodyBytesMax + FRAME_HEADER_BYTES)
      throw new DfsError(
        'INVALID_ARGUMENT',
        `partialFrameBytesMax (${max}) is smaller than the largest frame ` +
          `(${options.bodyBytesMax + FRAME_HEADER_BYTES} bytes: its body limit and a ${FRAME_HEADER_BYTES}-byte header)`,
      );
    this.partialFrames = new PartialFrameBudget({ bytesMax: max, logger: options.logger });
    this.held = new HeldBytesBudget(options.heldBytesMax, options.logger);
  }

  /** Bytes all connections hold (ServerConnection.hold). */
  get heldBytes(): number {
    return this.held.bytes;
  }

  /** Highest `heldBytes` ever seen. */
  get heldBytesPeak(): number {
    return this.held.peakBytes;
  }

  listen(): Promise<{ host: string; port: number }> {
    const pauseOnConnect = this.options.slabReads === true;
    const server = net.createServer({ noDelay: true, pauseOnConnect }, (socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        const addr = server.address() as net.AddressInfo;
        resolve({ host: addr.address, port: addr.port });
      });
    });
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.server = null;
    this.partialFrames.stop();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const conn of this.connections) conn.close();
    for (const conn of this.connections) conn.socket.destroy();
    await closed;
  }

  private accept(accepted: net.Socket): void {
    const o = this.options;
    // Reads are promised from the held-bytes budget, so together they stay within it (read-slabs.ts ReadBudget).
    const slabs = o.slabReads === true ? new SlabReads(this.held) : null;
    const rewrapped = slabs === null ? null : withSlabReads(accepted, slabs);
    // No handle to take over: read as usual (it was accepted paused).
    if (slabs !== null && rewrapped === null) accepted.resume();
    const reads = rewrapped === null ? null : slabs;
    const socket = rewrapped ?? accepted;
    const conn = new ServerConnection(socket, this, o.logger);
    if (this.connections.size >= o.connectionsMax) {
      conn.log.warn({ connectionsMax: o.connectionsMax }, 'connection limit reached; refusing');
      socket.destroy();
      return;
    }
    this.connections.add(conn);
    socket.on('error', (err) => conn.log.debug({ err: err.message }, 'socket error'));
    socket.on('close', () => {
      conn.closed = true;
      reads?.close();
      this.connections.delete(conn);
      this.held.remove(conn);
      this.partialFrames.remove(conn);
      const held = conn.heldBytes;
      conn.heldBytes = 0;
      if (held !== 0) this.held.changed(-held);
      // The pair of every connection's hold/unhold: with no connection left, nothing is held.
      if (this.connections.size === 0) {
        assert(this.heldBytes === 0, `no connections, yet ${this.heldBytes} bytes counted as held`);
        assert(
          this.held.promisedBytes === 0,
          `no connections, yet ${this.held.promisedBytes} bytes promised to reads`,
        );
      }
      o.onClose?.(conn);
    });

    const decoder = new FrameDecoder({
      bodyBytesMax: o.bodyBytesMax,
      isKnownOpcode: o.isKnownOpcode,
      scatterKinds: o.scatterKinds,
    });
    let hello: Buffer | null = Buffer.alloc(0);
    socket.setTimeout(o.handshakeTimeoutMs);
    socket.on('timeout', () => {
      if (hello !== null) return conn.close(new DfsError('TIMEOUT', 'no handshake in time'));
      // One refreshed timer per connection: fires only when the socket has been silent.
      if (conn.paused) return;
      if (!decoder.idle)
        conn.close(new DfsError('TIMEOUT', `frame not completed within ${o.frameTimeoutMs} ms`));
      else if (o.isBusy?.(conn))
        conn.close(
          new DfsError('TIMEOUT', `peer silent for ${o.frameTimeoutMs} ms in the middle of a transfer`),
        );
    });

    const onFrame = (frame: Frame): void => {
      reads?.admit(frame, decoder.buffered);
      conn.frameStartMs = 0;
      conn.delivered = true;
      if (conn.partialReservedBytes !== 0 || conn.partialWaitBytes !== 0) this.partialFrames.frameDone(conn);
      o.onFrame(conn, frame);
    };
    const onChunk = (chunk: Buffer): void => {
      if (conn.closed) return;
      if (hello !== null) {
        hello = Buffer.concat([hello, chunk]);
        if (hello.length < HANDSHAKE_BYTES) return;
        const bytes = helloBytes(hello);
        if (hello.length < bytes) return;
        const rest = hello.subarray(bytes);
        if (!this.handshake(conn, hello.subarray(0, bytes))) return;
        hello = null;
        socket.setTimeout(o.frameTimeoutMs);
        if (rest.length === 0) return;
        chunk = rest;
      }
      try {
        decoder.push(chunk, onFrame);
        // A frame must complete within frameTimeoutMs of its first byte: a peer dripping
        // one byte at a time cannot hold a connection and a frame buffer forever.
        if (decoder.idle) {
          conn.frameStartMs = 0;
          if (conn.partialBytes !== 0) this.partialFrames.afterRead(conn, 0, 0);
          return;
        }
        const now = Date.now();
        conn.lastReadMs = now;
        this.partialFrames.afterRead(conn, decoder.partialFrameBytes, decoder.pendingFrameBytes);
        if (conn.partialWaitBytes !== 0) conn.updateFlow(); // not read until its frame is admitted
        if (conn.frameStartMs === 0)
          conn.frameStartMs = now; // (every completed frame resets it)
        else if (!conn.paused && now - conn.frameStartMs > o.frameTimeoutMs) {
          conn.close(new DfsError('TIMEOUT', `frame not completed within ${o.frameTimeoutMs} ms`));
        }
      } catch (err) {
        rethrowIfBug(err);
        const e = err instanceof DfsError ? err : new DfsError('INTERNAL', (err as Error).message);
        if (!(err instanceof DfsError)) conn.log.error({ err }, 'handler threw');
        conn.close(e);
      }
    };
    if (reads !== null) reads.sink = onChunk;
    else socket.on('data', onChunk);
  }

  private handshake(conn: ServerConnection, bytes: Buffer): boolean {
    let h;
    try {
      h = decodeHello(bytes);
    } catch (err) {
      rethrowIfBug(err);
      conn.log.warn({ err: (err as Error).message }, 'bad handshake');
      conn.socket.write(encodeHelloReply(HandshakeStatus.VERSION_MISMATCH));
      conn.close();
      return false;
    }
    if (h.version !== PROTOCOL_VERSION) {
      conn.log.warn(
        { clientVersion: h.version, serverVersion: PROTOCOL_VERSION },
        'protocol version mismatch',
      );
      conn.socket.write(encodeHelloReply(HandshakeStatus.VERSION_MISMATCH));
      conn.close();
      return false;
    }
    if (!this.options.acceptRoles.has(h.role)) {
      conn.log.warn({ role: h.role }, 'connection role refused');
      conn.socket.write(encodeHelloReply(HandshakeStatus.ROLE_REFUSED));
      conn.close();
      return false;
    }
    conn.role = h.role;
    conn.user = h.user;
    conn.clientId = h.clientId;
    conn.socket.write(encodeHelloReply(HandshakeStatus.OK));
    return true;
  }
}
