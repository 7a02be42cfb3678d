/**
 * A TCP forwarder in the test process that stands in for one DataNode's address, so a test
 * can cut that node's connections (a network that drops them) without touching the node
 * itself: the node keeps running with whatever it had received. It counts the bytes it
 * forwarded toward the node and can cut every connection the moment a count is reached,
 * before passing on the chunk that crossed it.
 *
 * It can also hold what the target answers (a NameNode's heartbeat answer carrying a
 * command, say): from the first chunk toward the client that matches, every chunk of that
 * connection, and the target's close, wait until the test releases them, as a slow network
 * delivers a message late (tests/ha/datanode-fencing.test.ts).
 */
import net from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Bytes forwarded toward the target so far, over every connection. */
  readonly bytesForwarded: number;
  /** Cuts every connection once `bytes` have been forwarded toward the target (at once if already). */
  dropAfter(bytes: number): void;
  /** Cuts every connection now; later connections are cut as they arrive. */
  drop(): void;
  /** Ends a `drop()`: new connections pass again (the network healed). */
  heal(): void;
  /** Cuts the connections open now; new ones pass (a peer's streams broken, not its network). */
  cutOpen(): void;
  /**
   * Nothing passes any more, and nobody hears of it: open connections stay open and silent,
   * new ones are accepted and never answered (a host dropped off the network, a cut cable).
   */
  blackhole(): void;
  /** From the first chunk the target sends that `match` accepts, holds that connection's answers and close. */
  holdRepliesFrom(match: (chunk: Buffer) => boolean): void;
  /** Bytes held so far (0 until a chunk matched). */
  readonly bytesHeld: number;
  /** Delivers what was held, then the target's close if it came meanwhile; holds nothing more. */
  releaseReplies(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let forwarded = 0;
  let dropAt = Infinity;
  /** Set once the bound is crossed: nothing more passes either way. */
  let dropped = false;
  /** blackhole(): nothing passes, nothing is closed. */
  let silent = false;
  let holdFrom: ((chunk: Buffer) => boolean) | null = null;
  /** Connections whose answers are held: their chunks, and whether the target closed meanwhile. */
  const holding: Array<{ inbound: net.Socket; chunks: Buffer[]; closed: boolean; released: boolean }> = [];
  const heal = (): void => {
    dropAt = Infinity;
    dropped = false;
  };
  const cutAll = (): void => {
    dropped = true;
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  const server = net.createServer((inbound) => {
    if (dropped) return inbound.destroy();
    if (silent) {
      sockets.add(inbound);
      inbound.on('error', () => {});
      return;
    }
    const outbound = net.connect(targetPort, targetHost);
    let held: (typeof holding)[number] | null = null;
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        if (s === outbound && held !== null && !held.released) {
          held.closed = true; // the client hears of it when the held bytes are released
          return;
        }
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.on('data', (chunk: Buffer) => {
      if (dropped || silent) return;
      if (forwarded + chunk.length >= dropAt) {
        // Only the bytes below the bound reach the target, so it holds a strict prefix.
        dropped = true;
        const keep = Math.max(0, dropAt - forwarded);
        forwarded += keep;
        outbound.write(chunk.subarray(0, keep), cutAll);
        return;
      }
      forwarded += chunk.length;
      outbound.write(chunk);
    });
    outbound.on('data', (chunk: Buffer) => {
      if (dropped || silent) return;
      if (held === null && holdFrom?.(chunk) === true) {
        held = { inbound, chunks: [], closed: false, released: false };
        holding.push(held);
      }
      if (held !== null && !held.released) held.chunks.push(chunk);
      else inbound.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    get bytesForwarded() {
      return forwarded;
    },
    dropAfter(bytes) {
      dropAt = bytes;
      if (forwarded >= bytes) cutAll();
    },
    drop: cutAll,
    heal,
    cutOpen() {
      cutAll();
      heal();
    },
    blackhole() {
      silent = true;
    },
    holdRepliesFrom(match) {
      holdFrom = match;
    },
    get bytesHeld() {
      return holding.reduce((n, h) => n + h.chunks.reduce((m, c) => m + c.length, 0), 0);
    },
    releaseReplies() {
      holdFrom = null;
      for (const h of holding.splice(0)) {
        h.released = true;
        for (const c of h.chunks.splice(0)) h.inbound.write(c);
        if (h.closed) h.inbound.end();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        cutAll();
        server.close(() => resolve());
      }),
  };
}
