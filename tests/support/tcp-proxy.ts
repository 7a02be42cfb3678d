/**
 * A TCP forwarder in the test process that stands in for one DataNode's address, so a test
 * can cut that node's connections (a network that drops them) without touching the node
 * itself: the node keeps running with whatever it had received. It counts the bytes it
 * forwarded toward the node and can cut every connection the moment a count is reached,
 * before passing on the chunk that crossed it.
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
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let forwarded = 0;
  let dropAt = Infinity;
  /** Set once the bound is crossed: nothing more passes either way. */
  let dropped = false;
  const cutAll = (): void => {
    dropped = true;
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  const server = net.createServer((inbound) => {
    if (dropped) return inbound.destroy();
    const outbound = net.connect(targetPort, targetHost);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.on('data', (chunk: Buffer) => {
      if (dropped) return;
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
      if (!dropped) inbound.write(chunk);
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
    heal() {
      dropAt = Infinity;
      dropped = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        cutAll();
        server.close(() => resolve());
      }),
  };
}
