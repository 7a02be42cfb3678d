/**
 * One hop of the raw baseline (`dfs-bench baseline-hop`): the simplest Node program that
 * moves bytes over TCP and writes them to a file, the yardstick for DFS's data path.
 * No framing, no checksums, no metadata: a header line, then the bytes.
 *
 *   write: `{"op":"write","file":F,"next":[port, ...]}\n` then bytes. The hop pipes the
 *          socket into its own file and, when `next` is not empty, into a connection to the
 *          next hop (which gets `next` minus its own port). At the end of the stream: the
 *          file is fdatasync'ed (as a DataNode does when it finalizes a replica), the next
 *          hop has acknowledged, and one byte goes back upstream as the acknowledgement.
 *   read:  `{"op":"read","file":F}\n`, answered with the file's bytes, then end.
 *
 * Started by bench/baseline.ts, one process per hop as DataNodes are; prints its port on
 * stdout once listening and serves until killed.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { once } from 'node:events';
import { promisify } from 'node:util';

interface Header {
  op: 'write' | 'read';
  file: string;
  next?: number[];
}

const HEADER_MAX = 4096;

/** Reads the header line; any bytes after it are put back on the socket. */
export function readHeaderLine(sock: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      seen = Buffer.concat([seen, chunk]);
      const nl = seen.indexOf(10);
      if (nl < 0) {
        if (seen.length > HEADER_MAX) reject(new Error('baseline header too long'));
        return;
      }
      sock.off('data', onData);
      sock.pause();
      if (nl + 1 < seen.length) sock.unshift(seen.subarray(nl + 1));
      resolve(seen.subarray(0, nl).toString('utf8'));
    };
    sock.on('data', onData);
    sock.once('error', reject);
  });
}

async function serveWrite(sock: net.Socket, dir: string, h: Header): Promise<void> {
  const fd = await promisify(fs.open)(path.join(dir, path.basename(h.file)), 'w');
  const file = fs.createWriteStream('', { fd, autoClose: false });
  const [nextPort, ...rest] = h.next ?? [];
  let downstream: net.Socket | null = null;
  let downstreamAck: Promise<void> = Promise.resolve();
  if (nextPort !== undefined) {
    const d = net.connect({ host: '127.0.0.1', port: nextPort, noDelay: true });
    downstream = d;
    await once(d, 'connect');
    d.write(`${JSON.stringify({ op: 'write', file: h.file, next: rest })}\n`);
    downstreamAck = new Promise((resolve, reject) => {
      d.once('data', () => resolve());
      d.once('error', reject);
      d.once('close', () => reject(new Error('next hop closed without an ack')));
    });
  }
  sock.pipe(file);
  if (downstream !== null) sock.pipe(downstream);
  await once(file, 'finish');
  await promisify(fs.fdatasync)(fd);
  await promisify(fs.close)(fd);
  await downstreamAck;
  downstream?.destroy();
  sock.end(Buffer.from([1]));
}

function serveRead(sock: net.Socket, dir: string, h: Header): void {
  fs.createReadStream(path.join(dir, path.basename(h.file))).pipe(sock);
}

export function runBaselineHop(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (sock) => {
    sock.on('error', () => sock.destroy());
    readHeaderLine(sock)
      .then((line) => {
        const h = JSON.parse(line) as Header;
        if (h.op === 'write') return serveWrite(sock, dir, h);
        return serveRead(sock, dir, h);
      })
      .catch((err: Error) => {
        process.stderr.write(`baseline hop: ${err.message}\n`);
        sock.destroy();
      });
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${(server.address() as net.AddressInfo).port}\n`);
  });
}
