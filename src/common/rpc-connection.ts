/**
 * One connection to a NameNode, the transport under both of its callers: clients (through
 * the typed protocol object in src/client/namenode-client.ts) and DataNodes
 * (src/datanode/namenode-link.ts), which is why it lives in src/common/. It carries many
 * requests at once: each request that carries many requests at once: each request
 * gets a request id, answers are matched by id in whatever order they come back. Writes
 * from one tick are corked into one syscall. Connection loss rejects every pending request
 * with CONNECTION; a request not answered within `requestTimeoutMs` fails with TIMEOUT.
 * The connection is opened lazily and re-opened on the next request after a failure.
 * Mutations are never retried here: whether a lost one happened is the caller's question;
 * `wasNotSent` tells a call that failed before its request was written (the connect failed).
 * A NOTICE from the NameNode (only DataNodes get them) goes to `onNotice`.
 *
 * A client's request ids are its call ids (PROTOCOL.md section 6, "Retried calls"): they come
 * from one `CallIds` shared by every connection of the client, and a call sent again after a
 * failure keeps its id, so the NameNode's retry cache knows it for the same call.
 */
import net from 'node:net';
import { assert, DfsError, rethrowIfBug } from '../../protocol/errors.js';
import { FrameDecoder } from '../../protocol/frame-decoder.js';
import { FrameKind, type Frame } from '../../protocol/frame.js';
import { Role } from '../../protocol/handshake.js';
import { connectPeer } from './peer-connect.js';
import { RPC_BODY_BYTES_MAX } from '../../protocol/limits.js';
import { decodeError } from '../../protocol/error-frame.js';
import { decodeNotice } from '../../protocol/datanode-namenode-messages.js';
import {
  decodeResponse,
  encodeRequest,
  isNamenodeReplyOpcode,
  rpcCodecs,
  type RpcName,
  type RpcRequest,
  type RpcResponse,
} from '../../protocol/namenode-messages.js';

export interface RpcConnectionOptions {
  host: string;
  port: number;
  role?: Role;
  /** The user the connection acts for, named in the hello (none for a DataNode). */
  user?: string;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Called with the opcode of each NOTICE frame (NoticeOpcode). */
  onNotice?: (opcode: number) => void;
  /** The client id the hello names (32 hex digits, protocol/handshake.ts); none by default. */
  clientId?: string;
  /** Where request ids come from: shared by every connection of one client; a counter of its own by default. */
  callIds?: CallIds;
}

/** Request ids unique across every connection of one client: a counter from 1, wrapping at 2^32 past 0. */
export class CallIds {
  private next = 1;

  take(): number {
    const id = this.next;
    this.next = this.next >= 0xffffffff ? 1 : this.next + 1;
    return id;
  }
}

interface Pending {
  name: RpcName;
  resolve: (frame: Frame) => void;
  reject: (err: Error) => void;
  deadlineMs: number;
}

/** Errors of calls that failed before their request was written (no connection): safe to send elsewhere. */
const notSent = new WeakSet<Error>();

/** True when `err` failed a call before its request left (src/client/namenode-failover.ts retries those). */
export function wasNotSent(err: Error): boolean {
  return notSent.has(err);
}

export class RpcConnection {
  private socket: net.Socket | null = null;
  private connecting: Promise<net.Socket> | null = null;
  private readonly pending = new Map<number, Pending>();
  private readonly callIds: CallIds;
  private sweeper: NodeJS.Timeout | null = null;
  private corked = false;
  private closedByUser = false;
  private readonly connectTimeoutMs: number;
  private readonly requestTimeoutMs: number;

  constructor(private readonly options: RpcConnectionOptions) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
    this.callIds = options.callIds ?? new CallIds();
  }

  get address(): string {
    return `${this.options.host}:${this.options.port}`;
  }

  /** Sends `request` as request `callId` (a new one by default; a retry passes its first one's). */
  async call<N extends RpcName>(
    name: N,
    request: RpcRequest<N>,
    callId = this.callIds.take(),
  ): Promise<RpcResponse<N>> {
    if (this.closedByUser) throw new DfsError('CONNECTION', 'client is closed');
    let socket: net.Socket;
    try {
      socket = this.socket ?? (await this.connect());
    } catch (err) {
      rethrowIfBug(err);
      notSent.add(err as Error);
      throw err;
    }
    const requestId = callId;
    assert(!this.pending.has(requestId), `request id ${requestId} is already in flight to ${this.address}`);
    const bytes = encodeRequest(name, requestId, request);
    const frame = await new Promise<Frame>((resolve, reject) => {
      this.pending.set(requestId, { name, resolve, reject, deadlineMs: Date.now() + this.requestTimeoutMs });
      this.startSweeper();
      if (!this.corked) {
        this.corked = true;
        socket.cork();
        process.nextTick(() => {
          this.corked = false;
          socket.uncork();
        });
      }
      socket.write(bytes);
    });
    if (frame.kind === FrameKind.ERROR) throw decodeError(frame);
    return decodeResponse(name, frame);
  }

  close(): void {
    this.closedByUser = true;
    this.teardown(new DfsError('CONNECTION', 'client closed'));
  }

  private connect(): Promise<net.Socket> {
    this.connecting ??= this.open().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async open(): Promise<net.Socket> {
    const { host, port } = this.options;
    const { socket, rest } = await connectPeer({
      host,
      port,
      role: this.options.role ?? Role.CLIENT,
      user: this.options.user ?? '',
      clientId: this.options.clientId,
      label: 'NameNode',
      timeoutMs: this.connectTimeoutMs,
    });
    const decoder = new FrameDecoder({
      bodyBytesMax: RPC_BODY_BYTES_MAX,
      isKnownOpcode: isNamenodeReplyOpcode,
    });
    const onData = (chunk: Buffer): void => {
      try {
        decoder.push(chunk, (frame) => this.dispatch(frame));
      } catch (err) {
        rethrowIfBug(err);
        this.teardown(err as Error);
      }
    };
    socket.on('error', (err: NodeJS.ErrnoException) =>
      this.teardown(
        new DfsError('CONNECTION', `NameNode ${host}:${port}: ${err.code ?? err.message}`, { cause: err }),
      ),
    );
    socket.on('close', () =>
      this.teardown(new DfsError('CONNECTION', `connection to NameNode ${host}:${port} lost`)),
    );
    socket.on('data', onData);
    this.socket = socket;
    if (rest.length > 0) onData(rest);
    socket.resume();
    return socket;
  }

  private dispatch(frame: Frame): void {
    if (frame.kind === FrameKind.NOTICE) {
      this.options.onNotice?.(decodeNotice(frame));
      return;
    }
    const p = this.pending.get(frame.requestId);
    if (p === undefined) return; // answer to a request that already timed out
    if (frame.kind !== FrameKind.ERROR && rpcCodecs[p.name].opcode !== frame.opcode) {
      throw new DfsError(
        'PROTOCOL',
        `answer to request ${frame.requestId} has opcode ${frame.opcode}, expected ${rpcCodecs[p.name].opcode}`,
      );
    }
    this.pending.delete(frame.requestId);
    p.resolve(frame);
  }

  private teardown(err: Error): void {
    const socket = this.socket;
    this.socket = null;
    socket?.destroy();
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.stopSweeper();
  }

  private startSweeper(): void {
    if (this.sweeper !== null) return;
    this.sweeper = setInterval(
      () => {
        const now = Date.now();
        for (const [id, p] of this.pending) {
          if (p.deadlineMs <= now) {
            this.pending.delete(id);
            p.reject(
              new DfsError(
                'TIMEOUT',
                `${p.name} got no answer from ${this.address} within ${this.requestTimeoutMs} ms`,
              ),
            );
          }
        }
        if (this.pending.size === 0) this.stopSweeper();
      },
      Math.min(1000, this.requestTimeoutMs),
    );
    this.sweeper.unref();
  }

  private stopSweeper(): void {
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
  }
}
