/**
 * The data path end to end across real processes (a NameNode and four DataNodes on
 * loopback): files of awkward sizes (0 bytes, 1 byte, exactly one block, one block plus one
 * byte, several blocks with a partial last one) written through DfsClient at replication
 * 1, 2 and 3 come back byte-identical, and every replica on disk is identical: each
 * finalized data file equals the writer's slice, each meta file holds the writer's xxh32
 * per chunk and the block's generation stamp, and exactly `replication` nodes hold it
 * (PROTOCOL.md section 10, "The write pipeline").
 *
 * Three block layouts: chunk-aligned blocks with several packets per block; the default
 * 64 KiB chunks and 256 KiB packets; and a block size that is not a multiple of the chunk
 * size (so a block's last packet ends mid-chunk).
 *
 * Range reads (PROTOCOL.md section 10, "Reading a block"): random (offset, length) pairs return exactly that
 * slice, the client asks each DataNode only for its part of the range (READ_BLOCK requests
 * are recorded), and a DataNode serves a range rounded out to chunk boundaries, never the
 * whole block.
 *
 * Slab reads (src/common/read-slabs.ts: the DataNodes read packets into recycled slabs and
 * release each once forwarded and written; a borrowed read releases each packet when the
 * next is asked for): files of several MiB uploaded concurrently at replication 3 with small
 * packets and a small window, so many packets share each slab and are released out of
 * step, come back byte-identical through `packets({ borrowed: true })` read concurrently
 * with a pause before each packet is used, and every replica on disk is identical.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { DfsClient } from '../../src/client/dfs-client.js';
import { DataConnection } from '../../src/common/data-connection.js';
import {
  ChecksumType,
  dataCodecs,
  decodeDataBody,
  decodePacket,
  encodeDataRequest,
  FrameDecoder,
  FrameKind,
  isDataOpcode,
} from '../../protocol/index.js';
import { startCluster } from '../support/cluster.js';
import {
  expectReplicasOnDisk,
  getBuffer,
  nodeIndexById,
  putBuffer,
  testBytes,
  waitForDatanodes,
} from '../support/data-path.js';
import { connectData, dataReplies } from '../support/raw-data-peer.js';

const KiB = 1024;

interface Layout {
  name: string;
  blockBytes: number;
  chunkBytes: number;
  packetBytes: number;
}

const LAYOUTS: Layout[] = [
  {
    name: '256 KiB blocks, 4 KiB chunks, 64 KiB packets',
    blockBytes: 256 * KiB,
    chunkBytes: 4 * KiB,
    packetBytes: 64 * KiB,
  },
  {
    name: '1 MiB blocks, default chunks and packets',
    blockBytes: 1024 * KiB,
    chunkBytes: 64 * KiB,
    packetBytes: 256 * KiB,
  },
  {
    name: '100000-byte blocks (not chunk aligned), 4 KiB chunks, 16 KiB packets',
    blockBytes: 100_000,
    chunkBytes: 4 * KiB,
    packetBytes: 16 * KiB,
  },
];

function sizesFor(blockBytes: number): Array<[string, number]> {
  return [
    ['empty', 0],
    ['one byte', 1],
    ['exactly one block', blockBytes],
    ['one block plus one byte', blockBytes + 1],
    ['several blocks', 3 * blockBytes + 12_345],
  ];
}

let cluster: LocalCluster;
let cleanup: () => Promise<void>;
let client: DfsClient;

beforeAll(async () => {
  ({ cluster, cleanup } = await startCluster({ datanodes: 4 }));
  client = new DfsClient({ namenode: cluster.namenodeAddress });
  await waitForDatanodes(client, 4);
});

afterAll(async () => {
  client?.close();
  await cleanup?.();
});

describe('files of every awkward size round-trip and every replica on disk is identical', () => {
  for (const replication of [1, 2, 3]) {
    it(`replication ${replication}`, async () => {
      let seed = replication * 1000;
      for (const [li, layout] of LAYOUTS.entries()) {
        for (const [label, size] of sizesFor(layout.blockBytes)) {
          const remote = `/rt/r${replication}/l${li}/${label.replaceAll(' ', '-')}`;
          const data = testBytes(size, seed++);
          await putBuffer(client, remote, data, {
            replication,
            blockBytes: layout.blockBytes,
            chunkBytes: layout.chunkBytes,
            packetBytes: layout.packetBytes,
          });

          const status = await client.stat(remote);
          expect(status.length, `${remote} (${layout.name}, ${label}) length`).toBe(size);
          expect(status.underConstruction).toBe(false);
          expect(status.blockCount).toBe(Math.ceil(size / layout.blockBytes));

          const back = await getBuffer(client, remote);
          expect(back.length, `${remote} read length`).toBe(size);
          expect(back.equals(data), `${remote} (${layout.name}, ${label}) bytes`).toBe(true);

          await expectReplicasOnDisk(cluster, client, remote, data, replication);
        }
      }
    });
  }

  it('spreads replicas of one block over distinct nodes', async () => {
    const data = testBytes(5 * 256 * KiB, 77);
    await putBuffer(client, '/rt/spread', data, {
      replication: 3,
      blockBytes: 256 * KiB,
      chunkBytes: 4 * KiB,
      packetBytes: 64 * KiB,
    });
    const blocks = await expectReplicasOnDisk(cluster, client, '/rt/spread', data, 3);
    const byId = nodeIndexById(cluster);
    for (const lb of blocks) {
      const nodes = lb.locations.map((l) => byId.get(l.nodeId));
      expect(new Set(nodes).size, `block ${lb.block.blockId} replicas`).toBe(3);
    }
  });
});

describe('range reads', () => {
  const layout = LAYOUTS[0]!;
  const size = 3 * layout.blockBytes + 12_345;
  const data = testBytes(size, 4242);
  const remote = '/ranges/file';

  beforeAll(async () => {
    await putBuffer(client, remote, data, {
      replication: 2,
      blockBytes: layout.blockBytes,
      chunkBytes: layout.chunkBytes,
      packetBytes: layout.packetBytes,
    });
  });

  /** READ_BLOCK requests the client sends while `fn` runs. */
  async function recordReadRequests<T>(
    fn: () => Promise<T>,
  ): Promise<{ result: T; reads: Array<{ blockId: number; offset: number; length: number }> }> {
    const spy = vi.spyOn(DataConnection.prototype, 'send');
    try {
      const result = await fn();
      const reads: Array<{ blockId: number; offset: number; length: number }> = [];
      for (const [bytes] of spy.mock.calls) {
        const decoder = new FrameDecoder({ bodyBytesMax: 1 << 20, isKnownOpcode: isDataOpcode });
        decoder.push(Buffer.from(bytes), (f) => {
          if (f.kind === FrameKind.REQUEST && f.opcode === dataCodecs.readBlock.opcode) {
            const r = decodeDataBody(dataCodecs.readBlock.req, f, 'read block request');
            reads.push({ blockId: r.block.blockId, offset: r.offset, length: r.length });
          }
        });
      }
      return { result, reads };
    } finally {
      spy.mockRestore();
    }
  }

  it('random (offset, length) pairs return exactly that slice and ask only for it', async () => {
    const B = layout.blockBytes;
    const cases: Array<[number, number]> = [
      [0, 1],
      [size - 1, 1],
      [B - 1, 2],
      [B, 1],
      [B - 10, B + 20],
      [5000, 100],
      [0, size],
      [2 * B + 7, size],
    ];
    // Seeded "random" ranges (xorshift), so a failure replays.
    let x = 0x9e3779b9;
    const next = (n: number): number => {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      return x % n;
    };
    for (let i = 0; i < 30; i++) {
      const offset = next(size);
      cases.push([offset, 1 + next(Math.min(size - offset, 3 * B))]);
    }
    const blocks = (await client.getBlockLocations(remote, 0, 0)).blocks;
    for (const [offset, length] of cases) {
      const { result: got, reads } = await recordReadRequests(() =>
        getBuffer(client, remote, { offset, length }),
      );
      const end = Math.min(size, offset + length);
      expect(got.equals(data.subarray(offset, end)), `range ${offset}+${length}`).toBe(true);
      // One READ_BLOCK per block the range touches, for exactly that block's part of it.
      const want = blocks
        .filter((lb) => lb.offset < end && lb.offset + lb.block.numBytes > offset)
        .map((lb) => ({
          blockId: lb.block.blockId,
          offset: Math.max(offset, lb.offset) - lb.offset,
          length: Math.min(end, lb.offset + lb.block.numBytes) - Math.max(offset, lb.offset),
        }));
      expect(reads, `READ_BLOCK requests for range ${offset}+${length}`).toEqual(want);
    }
  });

  it('an empty range and a range at the very end return nothing; past the end is an error', async () => {
    expect((await getBuffer(client, remote, { offset: 1000, length: 0 })).length).toBe(0);
    expect((await getBuffer(client, remote, { offset: size })).length).toBe(0);
    await expect(getBuffer(client, remote, { offset: size + 1 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('a DataNode serves a range rounded out to chunk boundaries, not the whole block', async () => {
    const lb = (await client.getBlockLocations(remote, 0, 0)).blocks[1]!;
    const loc = lb.locations[0]!;
    const chunk = layout.chunkBytes;
    const peer = await connectData(loc.port);
    try {
      const [offset, length] = [chunk + 100, 2 * chunk];
      peer.write(encodeDataRequest('readBlock', 7, { block: lb.block, offset, length }));
      // Answer + packets covering [chunk, 4 * chunk): three chunks, never the 64 chunks of the block.
      const wantStart = chunk;
      const wantLength = Math.ceil((offset + length) / chunk) * chunk - wantStart;
      const deadline = Date.now() + 5000;
      let payload = 0;
      let lastSeen = false;
      while (!lastSeen) {
        if (Date.now() > deadline) throw new Error('packets did not arrive');
        await new Promise((r) => setTimeout(r, 20));
        const { frames, errors } = dataReplies(peer);
        expect(errors).toEqual([]);
        const res = frames.find((f) => f.kind === FrameKind.RESPONSE);
        if (res === undefined) continue;
        expect(res.requestId).toBe(7);
        expect(decodeDataBody(dataCodecs.readBlock.res, res, 'read response')).toEqual({
          chunkBytes: chunk,
          checksumType: ChecksumType.XXH3,
          startOffset: wantStart,
          length: wantLength,
        });
        payload = 0;
        let expectOffset = wantStart;
        for (const f of frames.filter((fr) => fr.kind === FrameKind.PACKET)) {
          const p = decodePacket(f, chunk, ChecksumType.XXH3);
          expect(p.offsetInBlock).toBe(expectOffset);
          expect(
            Buffer.concat(p.payload).equals(
              data.subarray(lb.offset + p.offsetInBlock, lb.offset + p.offsetInBlock + p.payloadBytes),
            ),
          ).toBe(true);
          expectOffset += p.payloadBytes;
          payload += p.payloadBytes;
          lastSeen ||= p.last;
        }
      }
      expect(payload).toBe(wantLength);
      expect(wantLength).toBeLessThan(lb.block.numBytes);
    } finally {
      peer.destroy();
    }
  });
});

describe('concurrent uploads and borrowed reads through slab reads', () => {
  const MiB = 1024 * KiB;
  const files = [0, 1, 2, 3].map((k) => ({
    remote: `/slabs/f${k}`,
    data: testBytes(5 * MiB + k * 1_234_567 + 17, 9000 + k),
  }));

  /** Reads `remote` as a borrowed packet stream, waiting a turn of the event loop before using each packet. */
  async function borrowedRead(remote: string): Promise<{ bytes: Buffer; packets: number }> {
    const parts: Buffer[] = [];
    let packets = 0;
    for await (const packet of client.open(remote).packets({ borrowed: true })) {
      packets++;
      // Other reads (this connection's read-ahead, the other files') land in the meantime.
      await new Promise((resolve) => setImmediate(resolve));
      for (const piece of packet) parts.push(Buffer.from(piece));
    }
    return { bytes: Buffer.concat(parts), packets };
  }

  it('files written concurrently at replication 3 come back identical, read borrowed, and on every disk', async () => {
    await Promise.all(
      files.map((f) =>
        putBuffer(client, f.remote, f.data, {
          replication: 3,
          blockBytes: 2 * MiB,
          chunkBytes: 4 * KiB,
          packetBytes: 12 * KiB,
          windowBytes: 96 * KiB,
        }),
      ),
    );
    for (let round = 0; round < 2; round++) {
      const back = await Promise.all(files.map((f) => borrowedRead(f.remote)));
      for (const [k, f] of files.entries()) {
        expect(back[k]!.bytes.length, `${f.remote} read length`).toBe(f.data.length);
        expect(back[k]!.bytes.equals(f.data), `${f.remote} bytes (round ${round})`).toBe(true);
        expect(back[k]!.packets).toBeGreaterThan(4);
      }
    }
    for (const f of files) await expectReplicasOnDisk(cluster, client, f.remote, f.data, 3);
  });
});
