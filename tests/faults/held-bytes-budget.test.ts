/**
 * A server-wide bound on received bytes a daemon holds (FrameServer heldBytesMax, the
 * DataNode's packetBytesHeldMax): however many peers send at once, once the handlers hold
 * that much, no connection is read until some bytes are let go; then every connection is
 * read again and nothing is lost. First against a bare FrameServer whose handler holds
 * every frame, then across real processes: a DataNode with a 1 MiB budget takes three
 * concurrent uploads of 1 MiB packets and every file comes back identical; and fast
 * senders against a slow disk (DFS_FAULTS writeDelayMs) make the DataNode stop reading at
 * the bound, observed through its held-bytes peak (FrameServer.heldBytesPeak, in its log
 * lines): it reaches the bound and passes it by at most a packet and a smallest socket read
 * (64 KiB) per connection (reads are promised from the budget: read-slabs.ts ReadBudget).
 */
import { describe, expect, it } from 'vitest';
import { encodeFrameHeader, FrameKind, Role } from '../../protocol/index.js';
import { FrameServer, type ServerConnection } from '../../src/common/frame-server.js';
import { silentLogger } from '../../src/common/logger.js';
import { startCluster } from '../support/cluster.js';
import { clientPeer } from '../support/raw-peer.js';
import { DfsClient } from '../../src/client/dfs-client.js';
import {
  getBuffer,
  logsMatching,
  putBuffer,
  sleep,
  testBytes,
  waitFor,
  waitForDatanodes,
} from '../support/data-path.js';

const KiB = 1024;
const FRAME_BODY = 16 * KiB;
const FRAMES_PER_PEER = 10;
const BUDGET = 32 * KiB;

describe('FrameServer heldBytesMax', () => {
  it('stops reading every connection while the handlers hold the budget, and reads them all again once let go', async () => {
    const held: Array<{ conn: ServerConnection; bytes: number }> = [];
    let delivered = 0;
    const server = new FrameServer({
      host: '127.0.0.1',
      port: 0,
      bodyBytesMax: 1 << 20,
      isKnownOpcode: () => true,
      acceptRoles: new Set([Role.CLIENT]),
      connectionsMax: 10,
      inflightMax: 1000,
      handshakeTimeoutMs: 5_000,
      frameTimeoutMs: 30_000,
      logger: silentLogger(),
      heldBytesMax: BUDGET,
      onFrame: (conn, frame) => {
        delivered++;
        conn.hold(frame.body.length);
        held.push({ conn, bytes: frame.body.length });
      },
    });
    const { port } = await server.listen();
    const peers = await Promise.all([clientPeer(port), clientPeer(port)]);
    try {
      const body = Buffer.alloc(FRAME_BODY, 7);
      for (const [i, p] of peers.entries()) {
        for (let f = 0; f < FRAMES_PER_PEER; f++)
          p.write(
            Buffer.concat([encodeFrameHeader(FrameKind.REQUEST, 1, i * 100 + f + 1, FRAME_BODY), body]),
          );
      }
      // Reading stops: each connection reads at most the socket chunk it was in when the
      // budget ran out, so far fewer than all 20 frames arrive, and no more come later.
      await sleep(300);
      const stalled = delivered;
      await sleep(300);
      expect(delivered).toBe(stalled);
      expect(delivered).toBeLessThan(2 * FRAMES_PER_PEER);
      expect(server.heldBytes).toBeGreaterThanOrEqual(BUDGET);
      expect(server.heldBytes).toBeLessThanOrEqual(BUDGET + peers.length * (64 * KiB + FRAME_BODY));
      expect(server.heldBytesPeak).toBe(server.heldBytes);
      // Let go of what is held, repeatedly: every frame of both peers arrives.
      await waitFor(
        'every frame',
        () => {
          for (const h of held.splice(0)) h.conn.unhold(h.bytes);
          return delivered === 2 * FRAMES_PER_PEER ? true : undefined;
        },
        10_000,
        20,
      );
      for (const h of held.splice(0)) h.conn.unhold(h.bytes);
      expect(server.heldBytes).toBe(0);
    } finally {
      for (const p of peers) p.destroy();
      await server.close();
    }
  });

  it('a closed connection gives back what it held', async () => {
    const server = new FrameServer({
      host: '127.0.0.1',
      port: 0,
      bodyBytesMax: 1 << 20,
      isKnownOpcode: () => true,
      acceptRoles: new Set([Role.CLIENT]),
      connectionsMax: 10,
      inflightMax: 1000,
      handshakeTimeoutMs: 5_000,
      frameTimeoutMs: 30_000,
      logger: silentLogger(),
      heldBytesMax: BUDGET,
      onFrame: (conn, frame) => conn.hold(frame.body.length),
    });
    const { port } = await server.listen();
    try {
      const p = await clientPeer(port);
      p.write(
        Buffer.concat([encodeFrameHeader(FrameKind.REQUEST, 1, 1, FRAME_BODY), Buffer.alloc(FRAME_BODY)]),
      );
      await waitFor('the frame to be held', () => (server.heldBytes === FRAME_BODY ? true : undefined));
      p.destroy();
      await waitFor('the held bytes to be given back', () => (server.heldBytes === 0 ? true : undefined));
    } finally {
      await server.close();
    }
  });
});

describe('a DataNode with a 1 MiB packetBytesHeldMax', () => {
  it('takes three concurrent uploads of 1 MiB packets, and every file reads back identical', async () => {
    const { cluster, cleanup } = await startCluster({
      datanodes: 1,
      datanodeEnv: () => ({ DFS_DATANODE_PACKET_BYTES_HELD_MAX: String(1024 * KiB) }),
    });
    const client = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 30_000 });
    try {
      await waitForDatanodes(client, 1);
      const files = [0, 1, 2].map((i) => ({
        path: `/budget/f${i}`,
        data: testBytes(6 * 1024 * KiB + 333 * i, 70 + i),
      }));
      await Promise.all(
        files.map((f) =>
          putBuffer(client, f.path, f.data, {
            replication: 1,
            blockBytes: 4 * 1024 * KiB,
            packetBytes: 1024 * KiB,
          }),
        ),
      );
      for (const f of files) expect((await getBuffer(client, f.path)).equals(f.data), f.path).toBe(true);
    } finally {
      client.close();
      await cleanup();
    }
  });

  it('fast senders against a slow disk: reading stops at the bound, the peak held reaches it and passes it by at most a packet and a smallest read per upload', async () => {
    const budget = 1024 * KiB;
    const packet = 256 * KiB;
    const uploads = 3;
    const { cluster, cleanup } = await startCluster({
      datanodes: 1,
      datanodeEnv: () => ({
        DFS_DATANODE_PACKET_BYTES_HELD_MAX: String(budget),
        DFS_FAULTS: JSON.stringify({ writeDelayMs: 40 }),
      }),
    });
    const client = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 30_000 });
    try {
      await waitForDatanodes(client, 1);
      const files = Array.from({ length: uploads }, (_, i) => ({
        path: `/slow/f${i}`,
        data: testBytes(4 * 1024 * KiB + 17 * i, 90 + i),
      }));
      // Each client may have 4 MiB unacknowledged: far more than the DataNode may hold.
      const options = {
        replication: 1,
        blockBytes: 8 * 1024 * KiB,
        packetBytes: packet,
        windowBytes: 4096 * KiB,
      };
      await Promise.all(files.map((f) => putBuffer(client, f.path, f.data, options)));
      const dn = cluster.datanodes[0]!;
      const given = await waitFor('the DataNode to give every held byte back', () =>
        logsMatching(dn, { msg: 'held bytes given back' }).at(-1),
      );
      const paused = logsMatching(dn, {
        msg: 'held bytes at their bound; connections wait before reading more',
      });
      expect(paused.length).toBeGreaterThan(0);
      expect(paused[0]).toMatchObject({ heldBytesMax: budget });
      const peak = given.heldBytesPeak as number;
      expect(peak).toBeGreaterThanOrEqual(budget);
      expect(peak).toBeLessThanOrEqual(budget + uploads * (packet + 64 * KiB));
      for (const f of files) expect((await getBuffer(client, f.path)).equals(f.data), f.path).toBe(true);
    } finally {
      client.close();
      await cleanup();
    }
  });
});
