/**
 * The connecting side's handshake, shared by every outgoing DFS connection: connect, send
 * the hello, read the 8-byte reply and turn a refusal into its typed error. Resolves with
 * the socket (paused, no listeners of ours left on it) and any bytes that arrived after the
 * reply, so the caller installs its own frame decoder without losing data.
 */
import net from 'node:net';
import { assert, DfsError, rethrowIfBug } from '../../protocol/errors.js';
import { checkHelloReply, decodeHelloReply, encodeHello, type Role } from '../../protocol/handshake.js';
import { HANDSHAKE_BYTES } from '../../protocol/limits.js';
import type { SlabReads } from './read-slabs.js';

export interface PeerAddress {
  host: string;
  port: number;
  role: Role;
  /** Who the peer is, for messages: "NameNode 10.0.0.1:8020", "DataNode DN-…". */
  label: string;
  timeoutMs: number;
  /** The user the connection acts for, named in the hello; none by default (DataNodes). */
  user?: string;
  /** The client id named in the hello (protocol/handshake.ts); none by default. */
  clientId?: string;
  /**
   * Read into recycled slabs (read-slabs.ts): the socket has no 'data' events, its reads go
   * to `reads.sink`, which the caller sets once this resolves.
   */
  reads?: SlabReads;
}

export function connectPeer(o: PeerAddress): Promise<{ socket: net.Socket; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const reads = o.reads;
    const socket = net.connect({
      host: o.host,
      port: o.port,
      noDelay: true,
      ...(reads === undefined ? {} : { onread: reads.onread() }),
    });
    let reply = Buffer.alloc(0);
    let settled = false;
    const finish = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (reads === undefined) socket.off('data', onData);
      else reads.sink = () => assert(false, 'a read before the connection set its sink');
      socket.off('error', onError);
      socket.off('close', onClose);
      if (err) {
        socket.destroy();
        reject(err);
        return;
      }
      socket.pause();
      resolve({ socket, rest: reply.subarray(HANDSHAKE_BYTES) });
    };
    const timer = setTimeout(
      () =>
        finish(
          new DfsError('TIMEOUT', `${o.label} (${o.host}:${o.port}) did not answer within ${o.timeoutMs} ms`),
        ),
      o.timeoutMs,
    );
    const onError = (err: NodeJS.ErrnoException): void =>
      finish(
        new DfsError('CONNECTION', `${o.label} (${o.host}:${o.port}): ${err.code ?? err.message}`, {
          cause: err,
        }),
      );
    const onClose = (): void =>
      finish(
        new DfsError(
          'CONNECTION',
          `${o.label} (${o.host}:${o.port}) closed the connection during the handshake`,
        ),
      );
    const onData = (chunk: Buffer): void => {
      reply = Buffer.concat([reply, chunk]);
      if (reply.length < HANDSHAKE_BYTES) return;
      try {
        checkHelloReply(decodeHelloReply(reply.subarray(0, HANDSHAKE_BYTES)));
      } catch (err) {
        rethrowIfBug(err);
        return finish(err as Error);
      }
      finish(null);
    };
    socket.once('connect', () => socket.write(encodeHello(o.role, undefined, o.user ?? '', o.clientId)));
    socket.on('error', onError);
    socket.on('close', onClose);
    if (reads === undefined) socket.on('data', onData);
    else reads.sink = onData;
  });
}
