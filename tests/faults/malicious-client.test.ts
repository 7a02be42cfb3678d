/**
 * Malicious and broken peers against a real NameNode process (raw node:net sockets, so the
 * bytes can lie): garbage instead of a handshake, a frame claiming ~4 GiB, a stalled
 * half-frame, an unknown opcode, a body whose string runs past its end, a wrong protocol
 * version, and hundreds of idle connections. Each bad connection must get its typed answer
 * (ERROR frame or handshake reply) and be closed, the NameNode must log why, must not
 * allocate what a peer claims, and must keep serving a well-behaved client that runs a
 * stat/mkdir loop on its own connection for the whole file (PROTOCOL.md section 8, "Limits
 * and the decoder": a bad peer never crashes a daemon or grows its memory without bound).
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import {
  checkHelloReply,
  decodeHelloReply,
  DfsError,
  ERROR_CODES,
  FRAME_HEADER_TAIL_BYTES,
  FileType,
  FrameKind,
  HANDSHAKE_BYTES,
  MAGIC,
  PROTOCOL_VERSION,
  rpcCodecs,
} from '../../protocol/index.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { startCluster } from '../support/cluster.js';
import { frameHeader, hello, RawPeer, rssBytes } from '../support/raw-peer.js';

const FRAME_TIMEOUT_MS = 1000;
const HANDSHAKE_TIMEOUT_MS = 2500;
const STAT = rpcCodecs.stat.opcode;

let cluster: LocalCluster;
let cleanup: () => Promise<void>;
const peers: RawPeer[] = [];

/** A well-behaved client on its own connection, running for the whole file. */
const good = {
  client: null as DfsClient | null,
  ops: 0,
  failures: [] as string[],
  running: false,
  loop: Promise.resolve(),
};

async function goodClientLoop(client: DfsClient): Promise<void> {
  await client.mkdir('/good');
  for (let i = 0; good.running; i++) {
    const path = `/good/d${i}`;
    try {
      await client.mkdir(path);
      const st = await client.stat(path);
      if (st.type !== FileType.DIRECTORY || st.childCount !== 0)
        good.failures.push(`stat ${path}: ${JSON.stringify(st)}`);
      const parent = await client.stat('/good');
      if (parent.childCount !== i + 1)
        good.failures.push(`/good has ${parent.childCount} children, expected ${i + 1}`);
      good.ops += 3;
    } catch (err) {
      good.failures.push(`${path}: ${(err as Error).message}`);
    }
    if (good.failures.length > 20) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function connect(): Promise<RawPeer> {
  const p = await RawPeer.connect(cluster.namenode.port);
  peers.push(p);
  return p;
}

/** Waits for a NameNode log line matching `pred` (stdout is read asynchronously). */
async function waitLog(
  pred: (rec: Record<string, unknown>) => boolean,
  timeoutMs = 3000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rec = cluster.namenode.logs.find(pred);
    if (rec !== undefined) return rec;
    if (Date.now() > deadline)
      throw new Error(
        `no matching NameNode log line; have: ${JSON.stringify(cluster.namenode.logs.slice(-10))}`,
      );
    await new Promise((r) => setTimeout(r, 20));
  }
}

const warnClosing = (code: string) => (r: Record<string, unknown>) =>
  r.level === 40 && r.msg === 'closing connection' && r.code === code;

beforeAll(async () => {
  ({ cluster, cleanup } = await startCluster({
    namenodeEnv: {
      DFS_NAMENODE_FRAME_TIMEOUT_MS: String(FRAME_TIMEOUT_MS),
      DFS_NAMENODE_HANDSHAKE_TIMEOUT_MS: String(HANDSHAKE_TIMEOUT_MS),
    },
  }));
  good.client = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 5000 });
  good.running = true;
  good.loop = goodClientLoop(good.client).catch(
    (err: Error) => void good.failures.push(`loop: ${err.message}`),
  );
});

afterAll(async () => {
  good.running = false;
  await good.loop;
  good.client?.close();
  for (const p of peers) p.destroy();
  await cleanup?.();
});

describe('malicious clients against a real NameNode', () => {
  it('(a) garbage instead of a handshake is answered and disconnected', async () => {
    const p = await connect();
    p.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await p.waitClosed(3000);
    // The server answers a hello it cannot parse with VERSION_MISMATCH (PROTOCOL.md 3).
    expect(p.received.length).toBe(HANDSHAKE_BYTES);
    expect(p.received.readUInt32BE(0)).toBe(MAGIC);
    expect(p.received.readUInt8(6)).toBe(1);
    await waitLog((r) => r.level === 40 && r.msg === 'bad handshake');
  });

  it('(b) a frame header claiming ~4 GiB gets FRAME_TOO_LARGE and a prompt close, and allocates nothing', async () => {
    const pid = cluster.namenode.pid!;
    const rssBefore = rssBytes(pid);
    const attackers = await Promise.all(Array.from({ length: 20 }, () => connect()));
    await Promise.all(attackers.map((p) => p.handshake()));
    const sentAt = Date.now();
    for (const [i, p] of attackers.entries())
      p.write(frameHeader(0xfffffff0, FrameKind.REQUEST, STAT, 100 + i));
    const closedAt = await Promise.all(attackers.map((p) => p.waitClosed(3000)));
    // Closed well before the frame timeout: the length was judged from the header alone.
    expect(Math.max(...closedAt) - sentAt).toBeLessThan(FRAME_TIMEOUT_MS);
    for (const p of attackers) {
      const e = p.firstError();
      expect(e?.error.code).toBe('FRAME_TOO_LARGE');
      expect(e!.frame.body.readUInt16BE(0)).toBe(ERROR_CODES.FRAME_TOO_LARGE);
    }
    await new Promise((r) => setTimeout(r, 200));
    const grown = rssBytes(pid) - rssBefore;
    // 20 peers claimed ~80 GiB between them; anything past a few MiB would be a leak.
    expect(grown).toBeLessThan(64 * 1024 * 1024);
    await waitLog(warnClosing('FRAME_TOO_LARGE'));
  });

  it('(c) a stalled half-header (10 of its 12 bytes) is dropped after the frame timeout', async () => {
    const p = await connect();
    await p.handshake();
    const sentAt = Date.now();
    // A header promising a 100-byte frame, cut after 10 bytes.
    p.write(frameHeader(100, FrameKind.REQUEST, STAT, 7).subarray(0, 10));
    const closedAt = await p.waitClosed(FRAME_TIMEOUT_MS * 4);
    expect(closedAt - sentAt).toBeGreaterThanOrEqual(FRAME_TIMEOUT_MS - 100);
    expect(p.firstError()?.error.code).toBe('TIMEOUT');
    await waitLog(warnClosing('TIMEOUT'));
  });

  it('(c) a header claiming a 100-byte body followed by only 10 body bytes is dropped after the frame timeout', async () => {
    const p = await connect();
    await p.handshake();
    const sentAt = Date.now();
    p.write(
      Buffer.concat([
        frameHeader(FRAME_HEADER_TAIL_BYTES + 100, FrameKind.REQUEST, STAT, 8),
        Buffer.alloc(10, 0x41),
      ]),
    );
    const closedAt = await p.waitClosed(FRAME_TIMEOUT_MS * 4);
    expect(closedAt - sentAt).toBeGreaterThanOrEqual(FRAME_TIMEOUT_MS - 100);
    expect(closedAt - sentAt).toBeLessThan(FRAME_TIMEOUT_MS * 3);
    expect(p.firstError()?.error.code).toBe('TIMEOUT');
  });

  it('(d) an unknown opcode gets UNKNOWN_OPCODE and the connection is closed', async () => {
    const p = await connect();
    await p.handshake();
    p.write(frameHeader(FRAME_HEADER_TAIL_BYTES, FrameKind.REQUEST, 0x3e, 9));
    await p.waitClosed(3000);
    const e = p.firstError();
    expect(e?.error.code).toBe('UNKNOWN_OPCODE');
    expect(e!.frame.body.readUInt16BE(0)).toBe(ERROR_CODES.UNKNOWN_OPCODE);
    await waitLog(warnClosing('UNKNOWN_OPCODE'));
  });

  it('(e) a stat whose path length runs past the body gets PROTOCOL and the connection is closed', async () => {
    const p = await connect();
    await p.handshake();
    // str = u16 length 200, but only 3 bytes follow.
    const body = Buffer.from([0x00, 200, 0x2f, 0x61, 0x62]);
    p.write(
      Buffer.concat([frameHeader(FRAME_HEADER_TAIL_BYTES + body.length, FrameKind.REQUEST, STAT, 10), body]),
    );
    await p.waitClosed(3000);
    const e = p.firstError();
    expect(e?.error.code).toBe('PROTOCOL');
    expect(e!.frame.body.readUInt16BE(0)).toBe(ERROR_CODES.PROTOCOL);
    // The error answers the request it refuses.
    expect(e!.frame.opcode).toBe(STAT);
    expect(e!.frame.requestId).toBe(10);
    await waitLog(warnClosing('PROTOCOL'));
  });

  it('(f) a wrong protocol version gets VERSION_MISMATCH with the server version, then a close', async () => {
    const p = await connect();
    p.write(hello(PROTOCOL_VERSION + 1, 1));
    await p.waitClosed(3000);
    expect(p.received.length).toBe(HANDSHAKE_BYTES);
    const reply = decodeHelloReply(p.received);
    expect(reply).toEqual({ version: PROTOCOL_VERSION, status: 1 });
    let err: unknown;
    try {
      checkHelloReply(reply);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DfsError);
    expect((err as DfsError).code).toBe('VERSION_MISMATCH');
    await waitLog((r) => r.level === 40 && r.msg === 'protocol version mismatch');
  });

  it('(f2) DfsClient turns a version-mismatch reply into a VERSION_MISMATCH error naming both versions', async () => {
    // A server from the future: answers every hello with its own version 2 and hangs up.
    const server = net.createServer((s) => {
      s.on('error', () => {});
      s.once('data', () => {
        const b = Buffer.alloc(HANDSHAKE_BYTES);
        b.writeUInt32BE(MAGIC, 0);
        b.writeUInt16BE(2, 4);
        b.writeUInt8(1, 6);
        s.end(b);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    // A hang would end in TIMEOUT after 30 s; the clear error comes long before (a bound, not a speed).
    const client = new DfsClient({ namenode: `127.0.0.1:${port}`, requestTimeoutMs: 30_000 });
    try {
      const started = Date.now();
      const err = await client.stat('/').then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DfsError);
      expect((err as DfsError).code).toBe('VERSION_MISMATCH');
      expect((err as DfsError).message).toMatch(/version 2.*version 1/);
      expect(Date.now() - started).toBeLessThan(15_000); // a clear error, not a hang
    } finally {
      client.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('(h) 200 idle connections do not stop a normal client; those without a handshake are dropped', async () => {
    const idle = await Promise.all(Array.from({ length: 200 }, () => connect()));
    // Half of them complete the handshake and then go quiet (idle between frames is allowed).
    await Promise.all(idle.slice(0, 100).map((p) => p.handshake()));
    const client = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 5000 });
    try {
      const started = Date.now();
      await client.mkdir('/idle-test');
      for (let i = 0; i < 50; i++) {
        await client.mkdir(`/idle-test/d${i}`);
        expect((await client.stat(`/idle-test/d${i}`)).type).toBe(FileType.DIRECTORY);
      }
      const entries: string[] = [];
      for await (const e of client.list('/idle-test')) entries.push(e.path);
      expect(entries.length).toBe(50);
      // Served, not starved: a generous bound, far above any real figure (a speed is a benchmark's job).
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      client.close();
    }
    // Silent without a handshake: dropped after the handshake timeout, so idle sockets
    // cannot hold connection slots forever. Idle after a handshake is fine: those stay
    // open (the frame timeout applies only to a frame that has started).
    await Promise.all(idle.slice(100).map((p) => p.waitClosed(HANDSHAKE_TIMEOUT_MS * 3)));
    for (const p of idle.slice(100))
      expect(p.closedAtMs! - p.connectedAtMs).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT_MS - 100);
    expect(idle.slice(0, 100).filter((p) => p.isClosed).length).toBe(0);
    await waitLog((r) => warnClosing('TIMEOUT')(r) && /handshake/.test(String(r.err)));
    for (const p of idle) p.destroy();
  });

  it('(g) the well-behaved client kept getting correct answers throughout', async () => {
    good.running = false;
    await good.loop;
    expect(good.failures).toEqual([]);
    expect(good.ops).toBeGreaterThan(30);
    // The NameNode is still the same process, alive, and logged no errors.
    expect(cluster.namenode.running).toBe(true);
    const errors = cluster.namenode.logs.filter((r) => typeof r.level === 'number' && r.level >= 50);
    expect(errors).toEqual([]);
    const warned = cluster.namenode.logs.filter(
      (r) => r.level === 40 && (r.msg === 'closing connection' || r.msg === 'bad handshake'),
    );
    expect(warned.length).toBeGreaterThanOrEqual(20 + 5);
  });
});
