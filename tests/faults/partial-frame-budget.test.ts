/**
 * The node-wide bound on bytes held in partial frames (`partialFrameBytesMax`,
 * src/common/partial-frame-budget.ts), across real processes (issue 10, item 4). Many raw
 * connections each send a valid handshake and half of a large frame, and nothing more, to
 * a real DataNode and to a real NameNode with a small bound. Neither needs a valid request
 * to cost memory, so:
 * - the daemon logs that partial frames reached their bound;
 * - the bytes it holds in partial frames never exceed the bound plus one socket read per
 *   connection (the peak it logs), and its RSS grows by far less than the half-frames sent;
 * - admitted half-frames that stall while others wait are dropped with a TIMEOUT error;
 * - other clients are still served meanwhile (reads, small-packet writes, namespace RPCs);
 * - once those connections close, the bytes held go back to zero (logged).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import {
  DATA_BODY_BYTES_MAX,
  DataOp,
  FRAME_HEADER_BYTES,
  FRAME_HEADER_TAIL_BYTES,
  FrameKind,
  rpcCodecs,
} from '../../protocol/index.js';
import type { DaemonProcess } from '../../src/local/daemon-process.js';
import { startCluster } from '../support/cluster.js';
import {
  getBuffer,
  putBuffer,
  sleep,
  testBytes,
  waitFor,
  waitForDatanodes,
  within,
} from '../support/data-path.js';
import { dataReplies } from '../support/raw-data-peer.js';
import { frameHeader, RawPeer, rssBytes } from '../support/raw-peer.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** What one socket read may bring (libuv reads at most 64 KiB at a time). */
const READ_BYTES = 64 * KiB;
/** The NameNode's bound in these tests (its largest frame here is a 2 MiB body). */
const BOUND = 2 * MiB + 64 * KiB;
/** The DataNode's: two of its largest frames (a 2 MiB packet with its header and checksums). */
const DATANODE_BOUND = 2 * (FRAME_HEADER_BYTES + DATA_BODY_BYTES_MAX);

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Opens `count` connections, each sending a handshake and the first half of a `bodyBytes` frame. */
async function halfFrames(
  port: number,
  count: number,
  kind: number,
  opcode: number,
  bodyBytes: number,
): Promise<RawPeer[]> {
  const peers: RawPeer[] = [];
  cleanups.push(() => {
    for (const p of peers) p.destroy();
  });
  const half = Buffer.alloc(Math.floor(bodyBytes / 2), 0x5a);
  for (let i = 0; i < count; i++) {
    const p = await RawPeer.connect(port);
    peers.push(p);
    await p.handshake();
    p.write(frameHeader(FRAME_HEADER_TAIL_BYTES + bodyBytes, kind, opcode, i + 1));
    p.write(half);
  }
  return peers;
}

/** Once the daemon has read what it will, its RSS grew by well under the half-frames sent. */
async function expectRssBounded(pid: number, rssBefore: number, sentBytes: number): Promise<void> {
  await sleep(1000);
  const grown = rssBytes(pid) - rssBefore;
  expect(grown, `RSS grew ${grown} bytes for ${sentBytes} bytes of half-frames`).toBeLessThan(sentBytes / 2);
}

function logLine(d: DaemonProcess, msg: string): Record<string, unknown> | undefined {
  return d.logs.find((r) => r.msg === msg);
}

/** The log line saying partial frames are back to zero, after the peers are gone; its peak. */
async function givenBack(d: DaemonProcess, peers: RawPeer[]): Promise<number> {
  for (const p of peers) p.destroy();
  const rec = await waitFor(
    'partial frames given back',
    () => logLine(d, 'partial frames given back'),
    10_000,
  );
  expect(rec.partialFrameBytes).toBe(0);
  return rec.partialFrameBytesPeak as number;
}

describe('partialFrameBytesMax', () => {
  it('a DataNode holds at most its bound plus one read per connection of 100 half-sent packets, serves others, and gives it all back', async () => {
    const { cluster, cleanup } = await startCluster({
      datanodes: 1,
      datanodeEnv: () => ({ DFS_DATANODE_PARTIAL_FRAME_BYTES_MAX: String(DATANODE_BOUND) }),
    });
    cleanups.push(cleanup);
    const client = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 30_000 });
    cleanups.push(() => client.close());
    await waitForDatanodes(client, 1);
    const before = testBytes(3 * MiB + 17, 1);
    await putBuffer(client, '/before', before, { replication: 1 });
    const dn = cluster.datanodes[0]!;
    const rssBefore = rssBytes(dn.pid!);

    const count = 100;
    const body = DATA_BODY_BYTES_MAX;
    const peers = await halfFrames(dn.port, count, FrameKind.PACKET, DataOp.PACKET, body);
    const sentBytes = count * Math.floor(body / 2);
    await expectRssBounded(dn.pid!, rssBefore, sentBytes);
    const warn = await waitFor('the bound to be reached', () =>
      logLine(dn, 'partial frames at their bound; connections wait before reading more'),
    );
    expect(warn.level).toBe(40);
    expect(warn.partialFrameBytesMax).toBe(DATANODE_BOUND);

    // Other clients are served meanwhile: a read, and a write of 2 MiB packets (whose frames
    // span reads, so they need room under the bound: connections that delivered a frame
    // before, here the write's WRITE_BLOCK, are given room before those that never did).
    expect((await getBuffer(client, '/before')).equals(before)).toBe(true);
    const during = testBytes(3 * MiB + 5, 2);
    await within(
      15_000,
      'a write during the attack',
      putBuffer(client, '/during', during, { replication: 1 }),
    );
    expect((await getBuffer(client, '/during')).equals(during)).toBe(true);

    // An admitted half-frame that stalls while others wait is dropped with a typed error.
    const dropped = await waitFor('a stalled half-frame to be dropped', () =>
      peers.find((p) => p.isClosed && dataReplies(p).errors.length > 0),
    );
    expect(dataReplies(dropped).errors.map((e) => e.code)).toEqual(['TIMEOUT']);

    const peak = await givenBack(dn, peers);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(DATANODE_BOUND + (count + 4) * READ_BYTES);
    expect((await getBuffer(client, '/during')).equals(during)).toBe(true);
  });

  it('a NameNode holds at most its bound plus one read per connection of 40 half-sent requests, serves others, and gives it all back', async () => {
    const { cluster, cleanup } = await startCluster({
      namenodeEnv: {
        DFS_NAMENODE_RPC_BODY_BYTES_MAX: String(2 * MiB),
        DFS_NAMENODE_PARTIAL_FRAME_BYTES_MAX: String(BOUND),
      },
    });
    cleanups.push(cleanup);
    const client = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 10_000 });
    cleanups.push(() => client.close());
    await client.mkdir('/ok');
    const nn = cluster.namenode;
    const rssBefore = rssBytes(nn.pid!);

    const count = 40;
    const body = 2 * MiB;
    const peers = await halfFrames(nn.port, count, FrameKind.REQUEST, rpcCodecs.stat.opcode, body);
    const sentBytes = count * (body / 2);
    await expectRssBounded(nn.pid!, rssBefore, sentBytes);
    await waitFor('the bound to be reached', () =>
      logLine(nn, 'partial frames at their bound; connections wait before reading more'),
    );
    for (let i = 0; i < 20; i++) await client.mkdir(`/ok/d${i}`);
    let listed = 0;
    for await (const st of client.list('/ok')) if (st.path.startsWith('d')) listed++;
    expect(listed).toBe(20);

    const peak = await givenBack(nn, peers);
    expect(peak).toBeLessThanOrEqual(BOUND + (count + 2) * READ_BYTES);
    expect((await client.stat('/ok')).childCount).toBe(20);
  });
});
