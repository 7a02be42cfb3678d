/**
 * BlockWriter (src/client/block-writer.ts) against a fake NameNode (the three calls of
 * BlockWriterNamenode) and real DataNode processes: a block is asked for
 * with the right `previous`, its packets are acknowledged in order and finalized on every
 * node; a node that cannot be reached at set-up is excluded and its block abandoned; a node
 * lost mid-block leads to bumpGenStamp and a pipeline of the survivors, which finalize the
 * whole block under the new generation stamp; a pipeline with no survivor fails.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChecksumType } from '../../protocol/data-messages.js';
import type { Block } from '../../protocol/shared-structures.js';
import { computeChecksums, initChecksum } from '../../src/common/checksum.js';
import { BlockWriter, type BlockWriterHost, type OutPacket } from '../../src/client/block-writer.js';
import { testBytes } from '../support/data-path.js';
import {
  eventually,
  FakeNamenode,
  FIRST_BLOCK_ID,
  FIRST_GEN_STAMP,
  startDataNodes,
  type TestDataNodes,
} from '../support/client-seam.js';

const CHUNK = 512;
const PACKET = 4 * CHUNK;
const PATH = '/unit/file';

class Host implements BlockWriterHost {
  readonly clientName = 'test-client';
  readonly path = PATH;
  readonly chunkBytes = CHUNK;
  readonly checksumType = ChecksumType.XXH64;
  readonly acked: number[] = [];
  readonly recoveries: string[] = [];
  constructor(readonly namenode: FakeNamenode) {}
  onPacketAcked(packet: OutPacket): void {
    this.acked.push(packet.offsetInBlock);
  }
  wake(): void {}
  onRecovered(message: string): void {
    this.recoveries.push(message);
  }
}

/** Hands the packets of data[from, to) to the writer; the one that ends `data` is the last. */
function send(writer: BlockWriter, data: Buffer, from = 0, to = data.length): void {
  for (let off = from; off < to; off += PACKET) {
    const end = Math.min(off + PACKET, to);
    const payload = data.subarray(off, end);
    writer.send({
      seqno: 0,
      offsetInBlock: off,
      buffer: payload,
      payload,
      checksums: computeChecksums(payload, CHUNK, ChecksumType.XXH64),
      last: end === data.length,
      sentAt: 0,
    });
  }
}

let dns: TestDataNodes | null = null;

/** The last ack may overtake a node's rename into finalized/ by a moment. */
function finalizedOn(nodes: number[], blockId: number): Promise<void> {
  return eventually(
    () => nodes.every((i) => dns!.finalized(i, blockId) !== null),
    `block ${blockId} finalized`,
  );
}

beforeAll(() => initChecksum());

afterEach(async () => {
  await dns?.stopAll();
  dns = null;
});

describe('BlockWriter', () => {
  it('asks for the block after `previous`, streams it and every node finalizes it', async () => {
    dns = await startDataNodes(3);
    const namenode = new FakeNamenode(dns.infos(), 1 << 20);
    const host = new Host(namenode);
    const previous: Block = { blockId: 5, genStamp: 3, numBytes: 1 << 20 };
    const writer = await BlockWriter.open(host, previous);
    expect(namenode.addBlocks).toEqual([
      { path: PATH, clientName: 'test-client', previous, excludeNodes: [], reservedBlockId: 0 },
    ]);
    const data = testBytes(5 * PACKET + 100, 1);
    send(writer, data);
    await eventually(() => writer.done, 'the last ack');
    expect(host.acked).toEqual([0, 1, 2, 3, 4, 5].map((i) => i * PACKET));
    expect(writer.finished).toEqual({
      blockId: FIRST_BLOCK_ID,
      genStamp: FIRST_GEN_STAMP,
      numBytes: data.length,
    });
    await finalizedOn([0, 1, 2], FIRST_BLOCK_ID);
    for (let i = 0; i < 3; i++) {
      const r = dns.finalized(i, FIRST_BLOCK_ID);
      expect(r?.block).toEqual(writer.finished);
      expect(r?.data.equals(data)).toBe(true);
    }
    expect(namenode.callNames).toEqual(['addBlock']);
  });

  it('abandons a block whose first node cannot be reached and asks again without it', async () => {
    dns = await startDataNodes(3);
    const dead = dns.info(0);
    await dns.nodes[0]!.kill();
    const namenode = new FakeNamenode(dns.infos(), 1 << 20);
    const host = new Host(namenode);
    const writer = await BlockWriter.open(host, null);
    expect(namenode.callNames).toEqual(['addBlock', 'abandonBlock', 'addBlock']);
    expect(namenode.abandoned).toEqual([{ path: PATH, clientName: 'test-client', blockId: FIRST_BLOCK_ID }]);
    expect(namenode.addBlocks[1]).toEqual({
      path: PATH,
      clientName: 'test-client',
      previous: null,
      excludeNodes: [dead.nodeId],
      reservedBlockId: 0,
    });
    const data = testBytes(2 * PACKET, 2);
    send(writer, data);
    await eventually(() => writer.done, 'the last ack');
    expect(writer.block.blockId).toBe(FIRST_BLOCK_ID + 1);
    await finalizedOn([1, 2], FIRST_BLOCK_ID + 1);
    for (const i of [1, 2]) expect(dns.finalized(i, FIRST_BLOCK_ID + 1)?.data.equals(data)).toBe(true);
  });

  it('a node lost mid-block: bumpGenStamp, then the survivors finalize the whole block under the new stamp', async () => {
    dns = await startDataNodes(3);
    const namenode = new FakeNamenode(dns.infos(), 1 << 20);
    const host = new Host(namenode);
    const writer = await BlockWriter.open(host, null);
    const data = testBytes(8 * PACKET + 33, 3);
    send(writer, data, 0, 2 * PACKET);
    await eventually(() => host.acked.length === 2, 'two acks');
    const lost = dns.info(1);
    await dns.nodes[1]!.kill();
    await eventually(() => namenode.bumps.length === 1, 'bumpGenStamp');
    expect(namenode.bumps).toEqual([{ path: PATH, clientName: 'test-client', blockId: FIRST_BLOCK_ID }]);
    send(writer, data, 2 * PACKET);
    await eventually(() => writer.done || writer.failure !== null, 'the last ack');
    expect(writer.failure).toBeNull();
    const bumped = FIRST_GEN_STAMP + 1;
    expect(writer.finished).toEqual({ blockId: FIRST_BLOCK_ID, genStamp: bumped, numBytes: data.length });
    expect(host.recoveries).toHaveLength(1);
    expect(host.recoveries[0]).toContain(`without ${lost.nodeId}`);
    await finalizedOn([0, 2], FIRST_BLOCK_ID);
    for (const i of [0, 2]) {
      const r = dns.finalized(i, FIRST_BLOCK_ID);
      expect(r?.block).toEqual(writer.finished);
      expect(r?.data.equals(data)).toBe(true);
    }
    expect(namenode.callNames).toEqual(['addBlock', 'bumpGenStamp']);
  });

  it('fails with BLOCK_UNAVAILABLE when no node of the pipeline is left', async () => {
    dns = await startDataNodes(1);
    const namenode = new FakeNamenode(dns.infos(), 1 << 20);
    const host = new Host(namenode);
    const writer = await BlockWriter.open(host, null);
    const data = testBytes(4 * PACKET, 4);
    send(writer, data, 0, PACKET);
    await eventually(() => host.acked.length === 1, 'the first ack');
    await dns.nodes[0]!.kill();
    await eventually(() => writer.failure !== null, 'the failure');
    expect(writer.failure).toMatchObject({ code: 'BLOCK_UNAVAILABLE' });
    expect(writer.done).toBe(false);
    expect(namenode.bumps).toEqual([]);
  });
});
