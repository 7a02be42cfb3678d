/**
 * One hop of the raw baseline (`dfs-bench baseline-hop`): the simplest Node program that
 * moves bytes over TCP and writes them to a file, the yardstick for DFS's data path.
 * No framing, no checksums, no metadata: a header line, then the bytes.
 *
 *   write: `{"op":"write","file":F,"next":[port, ...],"sync":true}\n` then bytes. The hop
 *          pipes the socket into its own file (1 MiB write buffer) and, when `next` is not
 *          empty, into a connection to the next hop (which gets `next` minus its own port).
 *          With `sync` (durable), a background fdatasync starts every 8 MiB written and the
 *          file is fdatasync'ed at the end, exactly a DataNode's default durability
 *          (syncBehindWritesBytes, syncOnFinalize); without it (page cache) never. At the
 *          end of the stream the next hop has acknowledged, and one byte goes back
 *          upstream as the acknowledgement.
 *   read:  `{"op":"read","file":F}\n`, answered with the file's bytes (1 MiB reads), then end.
 *   send:  `{"op":"send","file":F,"source":S,"next":[port, ...],"sync":true}\n`: the hop acts
 *          as the baseline's client, streaming its local file S (1 MiB reads) as a write of F
 *          down the chain `next`, and sends one byte back once the chain acknowledged.
 *   fetch: `{"op":"fetch","file":F,"next":[port]}\n`: the hop acts as the baseline's client,
 *          reading F from the hop at `port` and discarding it; answers `<bytes>\n`.
 *   copy:  `{"op":"copy","file":F,"next":[port]}\n`: the hop streams its own file F to the
 *          hop at `port` as a write (which fdatasyncs it and acknowledges), then sends one
 *          byte back as the acknowledgement: what a DataNode does when the NameNode asks it
 *          to copy a replica elsewhere (dfs-bench replication).
 *
 * Started by bench/baseline.ts, one process per hop as DataNodes are; prints its port on
 * stdout once listening and serves until killed. The baseline's client is such a process
 * too (send, fetch), as lean as the yardstick's, not the bench's own. These are the techniques of the plain-Node
 * yardstick the data path is held to (1 MiB reads and write buffer, sync-behind every
 * 8 MiB): `dfs-bench upload|download --yardstick FILE` runs that program in the same run
 * and reports it beside this baseline, which must be at least as fast.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';

export interface HopHeader {
  op: 'write' | 'read' | 'copy' | 'send' | 'fetch';
  /** send: the local file to stream. */
  source?: string;
  file: string;
  next?: number[];
  /** write, copy: durable (sync-behind + final fdatasync); default true. */
  sync?: boolean;
}

const HEADER_MAX = 4096;
/** Read size of every file a hop or the baseline's client streams out. */
export const READ_CHUNK_BYTES = 1024 * 1024;
/** A hop's file write buffer. */
const WRITE_BUFFER_BYTES = 1024 * 1024;
/** Durable writes: a background fdatasync every this many bytes (DataNode syncBehindWritesBytes). */
const SYNC_BEHIND_BYTES = 8 * 1024 * 1024;

/**
 * Connects to the hop at `port` and sends `header`; `ack` settles with the hop's one-byte
 * acknowledgement (write, copy), or fails if the hop closes or errs without one.
 */
export async function openHop(
  port: number,
  header: HopHeader,
): Promise<{ sock: net.Socket; ack: Promise<void> }> {
  const sock = net.connect({ host: '127.0.0.1', port, noDelay: true });
  await once(sock, 'connect');
  sock.write(`${JSON.stringify(header)}\n`);
  const ack = new Promise<void>((resolve, reject) => {
    sock.once('data', () => resolve());
    sock.once('error', reject);
    sock.once('close', () => reject(new Error(`baseline hop ${port} closed without an ack`)));
  });
  // A write that fails before anyone awaits the ack must not be an unhandled rejection.
  ack.catch(() => {});
  return { sock, ack };
}

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

async function serveWrite(sock: net.Socket, dir: string, h: HopHeader): Promise<void> {
  const durable = h.sync !== false;
  const fd = await promisify(fs.open)(path.join(dir, path.basename(h.file)), 'w');
  const file = fs.createWriteStream('', { fd, autoClose: false, highWaterMark: WRITE_BUFFER_BYTES });
  const [nextPort, ...rest] = h.next ?? [];
  let downstream: net.Socket | null = null;
  let downstreamAck: Promise<void> = Promise.resolve();
  if (nextPort !== undefined) {
    ({ sock: downstream, ack: downstreamAck } = await openHop(nextPort, {
      op: 'write',
      file: h.file,
      next: rest,
      sync: durable,
    }));
  }
  // The yardstick's pump: each chunk to the file and downstream, pausing the socket until
  // both have drained; a background fdatasync each SYNC_BEHIND_BYTES written (one at a time).
  let written = 0;
  let synced = 0;
  let syncing = false;
  const behind = (): void => {
    if (!durable || syncing || written - synced < SYNC_BEHIND_BYTES) return;
    syncing = true;
    const upto = written;
    fs.fdatasync(fd, () => {
      syncing = false;
      synced = upto;
      behind();
    });
  };
  sock.on('data', (d: Buffer) => {
    const fileOk = file.write(d, () => {
      written += d.length;
      behind();
    });
    const downOk = downstream === null || downstream.write(d);
    if (fileOk && downOk) return;
    sock.pause();
    let waiting = Number(!fileOk) + Number(!downOk);
    const go = (): void => {
      if (--waiting === 0) sock.resume();
    };
    if (!fileOk) file.once('drain', go);
    if (!downOk) downstream!.once('drain', go);
  });
  const ended = once(sock, 'end');
  sock.resume();
  await ended;
  file.end();
  downstream?.end();
  await once(file, 'finish');
  if (durable) await promisify(fs.fdatasync)(fd);
  await promisify(fs.close)(fd);
  await downstreamAck;
  downstream?.destroy();
  sock.end(Buffer.from([1]));
}

function serveRead(sock: net.Socket, dir: string, h: HopHeader): void {
  fs.createReadStream(path.join(dir, path.basename(h.file)), { highWaterMark: READ_CHUNK_BYTES }).pipe(sock);
}

async function serveCopy(sock: net.Socket, dir: string, h: HopHeader): Promise<void> {
  const [to, ...rest] = h.next ?? [];
  if (to === undefined) throw new Error('baseline copy without a target hop');
  const target = await openHop(to, { op: 'write', file: h.file, next: rest, sync: h.sync !== false });
  const source = fs.createReadStream(path.join(dir, path.basename(h.file)), {
    highWaterMark: READ_CHUNK_BYTES,
  });
  await Promise.all([pipeline(source, target.sock), target.ack]);
  target.sock.destroy();
  sock.end(Buffer.from([1]));
}

/** The baseline's client, uploading: `source` down the chain `next`, acknowledged end to end. */
async function serveSend(sock: net.Socket, h: HopHeader): Promise<void> {
  const [first, ...rest] = h.next ?? [];
  if (first === undefined || h.source === undefined)
    throw new Error('baseline send without a chain or source');
  const target = await openHop(first, { op: 'write', file: h.file, next: rest, sync: h.sync !== false });
  const source = fs.createReadStream(h.source, { highWaterMark: READ_CHUNK_BYTES });
  await Promise.all([pipeline(source, target.sock), target.ack]);
  target.sock.destroy();
  sock.end(Buffer.from([1]));
}

/** The baseline's client, downloading: reads `file` from the hop at `next[0]`, discarding it. */
async function serveFetch(sock: net.Socket, h: HopHeader): Promise<void> {
  const [from] = h.next ?? [];
  if (from === undefined) throw new Error('baseline fetch without a hop');
  const src = net.connect({ host: '127.0.0.1', port: from, noDelay: true });
  await once(src, 'connect');
  src.write(`${JSON.stringify({ op: 'read', file: h.file })}\n`);
  let bytes = 0;
  src.on('data', (b: Buffer) => (bytes += b.length));
  await once(src, 'end');
  src.destroy();
  sock.end(`${bytes}\n`);
}

export function runBaselineHop(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (sock) => {
    sock.on('error', () => sock.destroy());
    readHeaderLine(sock)
      .then((line) => {
        const h = JSON.parse(line) as HopHeader;
        if (h.op === 'write') return serveWrite(sock, dir, h);
        if (h.op === 'copy') return serveCopy(sock, dir, h);
        if (h.op === 'send') return serveSend(sock, h);
        if (h.op === 'fetch') return serveFetch(sock, h);
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
