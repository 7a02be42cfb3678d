/**
 * Malicious and broken clients against a real DataNode process, over raw sockets so the
 * bytes can lie (PROTOCOL.md section 10, the PACKET rules such as "Sequence"):
 *
 * - a client that opens a write pipeline and then stalls, between frames or in the middle
 *   of a packet, is disconnected after the frame timeout (1 s here);
 * - garbage instead of frames, a PACKET whose fields do not add up, a packet before any
 *   WRITE_BLOCK, a packet for another block, a wrong checksum (also on the LAST packet),
 *   a sequence number out of order or repeated, an offset that does not match the bytes
 *   received, and a non-final packet that is not chunk aligned: each gets an ERROR frame
 *   (or an ack with a non-SUCCESS status first) and the connection is closed;
 * - bad WRITE_BLOCK / READ_BLOCK requests get typed errors, and do not upset the node's
 *   bookkeeping (it keeps heartbeating with a sane transfer count);
 * - after every case no replica of the attacked block ids appears under finalized/, the
 *   process is alive, and a normal put/get at replication 3 (through this node) works, also
 *   while a stalled connection is still open.
 *
 * A well-formed raw write is the positive control: the same helpers produce a finalized
 * replica with SUCCESS acks, so the negative cases fail for the reason they claim.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { DfsClient } from '../../src/client/dfs-client.js';
import {
  AckStatus,
  CHECKSUM_TYPE_DEFAULT,
  encodeDataRequest,
  FrameKind,
  WriteStage,
  type Block,
} from '../../protocol/index.js';
import { startCluster } from '../support/cluster.js';
import {
  getBuffer,
  logsMatching,
  nodeIdOf,
  putBuffer,
  replicaDir,
  sleep,
  testBytes,
  waitFor,
  waitForDatanodes,
} from '../support/data-path.js';
import {
  awaitWriteBlockAnswer,
  connectData,
  dataReplies,
  packetFrame,
  writeBlockRequest,
} from '../support/raw-data-peer.js';
import { frameHeader, type RawPeer } from '../support/raw-peer.js';
import { matchAny } from '../support/matchers.js';

const FRAME_TIMEOUT_MS = 1000;
const CHUNK = 1024;
const KiB = 1024;

let cluster: LocalCluster;
let cleanup: () => Promise<void>;
let client: DfsClient;
let port: number;
const peers: RawPeer[] = [];
/** Block ids the attacks used: none may ever be finalized. */
const attacked: number[] = [];
let nextBlockId = 7_000_000_001;

function blockId(): number {
  const id = nextBlockId++;
  attacked.push(id);
  return id;
}

beforeAll(async () => {
  ({ cluster, cleanup } = await startCluster({
    datanodes: 3,
    datanodeEnv: () => ({
      DFS_DATANODE_FRAME_TIMEOUT_MS: String(FRAME_TIMEOUT_MS),
      DFS_DATANODE_HEARTBEAT_INTERVAL_MS: '300',
    }),
  }));
  client = new DfsClient({ namenode: cluster.namenodeAddress });
  await waitForDatanodes(client, 3);
  port = cluster.datanodes[0]!.port;
});

afterAll(async () => {
  for (const p of peers) p.destroy();
  client?.close();
  await cleanup?.();
});

async function peer(): Promise<RawPeer> {
  const p = await connectData(port);
  peers.push(p);
  return p;
}

/** A peer with an open single-node pipeline for a fresh attacked block id. */
async function openPipeline(chunkBytes = CHUNK): Promise<{ p: RawPeer; id: number }> {
  const p = await peer();
  const id = blockId();
  p.write(writeBlockRequest(id, chunkBytes));
  expect(await awaitWriteBlockAnswer(p)).toBe('');
  return { p, id };
}

/** A pipeline with the first of two chunks of `seed`'s bytes written and acknowledged. */
async function halfWritten(seed: number): Promise<{ p: RawPeer; id: number; data: Buffer }> {
  const { p, id } = await openPipeline();
  const data = testBytes(2 * CHUNK, seed);
  p.write(
    packetFrame({
      blockId: id,
      offsetInBlock: 0,
      seqno: 0,
      payload: data.subarray(0, CHUNK),
      chunkBytes: CHUNK,
    }),
  );
  await waitFor('the first ack', () => (dataReplies(p).acks.length >= 1 ? true : undefined), 5000, 10);
  return { p, id, data };
}

/** Waits for the DataNode to close `p`; returns what it said before closing. */
async function closedWith(p: RawPeer, timeoutMs = 5000): Promise<ReturnType<typeof dataReplies>> {
  await p.waitClosed(timeoutMs);
  return dataReplies(p);
}

/** What DataNode 0 says it finalized: its own record, which the NameNode's clean-up cannot race. */
function finalizedByNode(id: number): boolean {
  return logsMatching(cluster.datanodes[0]!, { msg: 'replica finalized', block: id }).length > 0;
}

function expectNotFinalized(id: number): void {
  expect(finalizedByNode(id), `the node logged finalizing attacked block ${id}`).toBe(false);
  expect(
    fs.existsSync(replicaDir(cluster, 0, 'finalized', id)),
    `finalized replica of attacked block ${id}`,
  ).toBe(false);
}

/** The attacked node still serves a normal replicated write and read. */
async function expectServing(tag: string): Promise<void> {
  expect(cluster.datanodes[0]!.running).toBe(true);
  const data = testBytes(300 * KiB + 7, tag.length * 31);
  const remote = `/healthy/${tag}`;
  await putBuffer(client, remote, data, {
    replication: 3,
    blockBytes: 256 * KiB,
    chunkBytes: 4 * KiB,
    packetBytes: 64 * KiB,
  });
  expect((await getBuffer(client, remote)).equals(data)).toBe(true);
  const located = await client.getBlockLocations(remote, 0, 0);
  for (const lb of located.blocks)
    expect(
      fs.existsSync(replicaDir(cluster, 0, 'finalized', lb.block.blockId)),
      'a replica on the attacked node',
    ).toBe(true);
}

describe('the positive control', () => {
  it('a well-formed raw write is acknowledged and finalized', async () => {
    const p = await peer();
    const id = nextBlockId++;
    p.write(writeBlockRequest(id, CHUNK));
    expect(await awaitWriteBlockAnswer(p)).toBe('');
    const data = testBytes(3 * CHUNK + 100, 1);
    p.write(
      packetFrame({
        blockId: id,
        offsetInBlock: 0,
        seqno: 0,
        payload: data.subarray(0, 2 * CHUNK),
        chunkBytes: CHUNK,
      }),
    );
    p.write(
      packetFrame({
        blockId: id,
        offsetInBlock: 2 * CHUNK,
        seqno: 1,
        last: true,
        payload: data.subarray(2 * CHUNK),
        chunkBytes: CHUNK,
      }),
    );
    const acks = await waitFor(
      'two acks',
      () => {
        const r = dataReplies(p);
        return r.acks.length >= 2 ? r.acks : undefined;
      },
      5000,
      10,
    );
    expect(acks).toEqual([
      { seqno: 0, statuses: [AckStatus.SUCCESS] },
      { seqno: 1, statuses: [AckStatus.SUCCESS] },
    ]);
    // Finalized before the last ack. The NameNode, which never allocated this block, has it
    // deleted at the next heartbeat (300 ms here), so look at once; on a loaded machine the
    // deletion can come first (CI saw it once), and then the node's log must show both the
    // replica finalized at its full length and the deletion the NameNode asked for.
    let onDisk: Buffer | null = null;
    try {
      onDisk = fs.readFileSync(`${replicaDir(cluster, 0, 'finalized', id)}/data`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (onDisk !== null) expect(onDisk.equals(data)).toBe(true);
    // ...and the node's own record says so: the negative checks below look there first.
    await waitFor(
      'the node to log the finalized replica',
      () => (finalizedByNode(id) ? true : undefined),
      5000,
    );
    const dn = cluster.datanodes[0]!;
    expect(logsMatching(dn, { msg: 'replica finalized', block: id })[0]).toMatchObject({
      numBytes: data.length,
    });
    if (onDisk === null)
      expect(logsMatching(dn, { msg: 'replica deleted on NameNode request', block: id })).toHaveLength(1);
    p.destroy();
  });
});

describe('a stale recovery of a block being written', () => {
  it('is refused with STALE_GENERATION before the live writer is touched, which completes intact', async () => {
    const { p, id, data } = await halfWritten(16);
    // A recovery that does not bump the generation stamp (stale, or hostile).
    const stale = await peer();
    stale.write(
      encodeDataRequest('writeBlock', 1, {
        block: { blockId: id, genStamp: 1, numBytes: 0 },
        clientName: 'stale-recovery',
        stage: WriteStage.RECOVER,
        chunkBytes: CHUNK,
        checksumType: CHECKSUM_TYPE_DEFAULT,
        targets: [],
      }),
    );
    await expect(awaitWriteBlockAnswer(stale)).rejects.toMatchObject({ code: 'STALE_GENERATION' });
    p.write(
      packetFrame({
        blockId: id,
        offsetInBlock: CHUNK,
        seqno: 1,
        last: true,
        payload: data.subarray(CHUNK),
        chunkBytes: CHUNK,
      }),
    );
    await waitFor('the last ack', () => (dataReplies(p).acks.length >= 2 ? true : undefined), 5000, 10);
    expect(dataReplies(p).acks.map((a) => a.statuses)).toEqual([[AckStatus.SUCCESS], [AckStatus.SUCCESS]]);
    expect(fs.readFileSync(`${replicaDir(cluster, 0, 'finalized', id)}/data`).equals(data)).toBe(true);
    attacked.splice(attacked.indexOf(id), 1); // the live writer's block is legitimately finalized
    p.destroy();
  });
});

describe('a second writer of a block being written', () => {
  it('is refused with ALREADY_EXISTS and the first write completes intact', async () => {
    const { p, id, data } = await halfWritten(6);
    // A copy or a second client for the same block must not replace the replica in rbw/.
    const intruder = await peer();
    intruder.write(writeBlockRequest(id, CHUNK));
    await expect(awaitWriteBlockAnswer(intruder)).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    p.write(
      packetFrame({
        blockId: id,
        offsetInBlock: CHUNK,
        seqno: 1,
        last: true,
        payload: data.subarray(CHUNK),
        chunkBytes: CHUNK,
      }),
    );
    await waitFor('the last ack', () => (dataReplies(p).acks.length >= 2 ? true : undefined), 5000, 10);
    expect(dataReplies(p).acks.map((a) => a.statuses)).toEqual([[AckStatus.SUCCESS], [AckStatus.SUCCESS]]);
    expect(fs.readFileSync(`${replicaDir(cluster, 0, 'finalized', id)}/data`).equals(data)).toBe(true);
    // The first writer's block is legitimately finalized: it is no attacked block. (The old
    // on-disk check missed this only because the NameNode had deleted the replica by then.)
    attacked.splice(attacked.indexOf(id), 1);
    p.destroy();
  });
});

describe('a client that stalls', () => {
  it('after opening a pipeline is disconnected after the frame timeout, while others are served', async () => {
    const { p, id } = await openPipeline();
    const opened = Date.now();
    // Meanwhile the node serves everyone else.
    await expectServing('during-stall');
    const r = await closedWith(p, 10_000);
    const after = p.closedAtMs! - opened;
    expect(after).toBeGreaterThanOrEqual(FRAME_TIMEOUT_MS - 100);
    expect(after).toBeLessThan(FRAME_TIMEOUT_MS * 5);
    expect(r.errors.map((e) => e.code)).toEqual(['TIMEOUT']);
    expectNotFinalized(id);
  });

  it('in the middle of a packet is disconnected after the frame timeout', async () => {
    const { p, id } = await openPipeline();
    const whole = packetFrame({
      blockId: id,
      offsetInBlock: 0,
      seqno: 0,
      payload: testBytes(4 * CHUNK, 2),
      chunkBytes: CHUNK,
    });
    p.write(whole.subarray(0, 100));
    const sent = Date.now();
    const r = await closedWith(p, 10_000);
    expect(p.closedAtMs! - sent).toBeLessThan(FRAME_TIMEOUT_MS * 5);
    expect(r.errors.map((e) => e.code)).toEqual(['TIMEOUT']);
    expect(r.acks).toEqual([]);
    expectNotFinalized(id);
  });

  it('after some packets, before the last one, is disconnected and its replica never finalized', async () => {
    const { p, id } = await openPipeline();
    p.write(
      packetFrame({
        blockId: id,
        offsetInBlock: 0,
        seqno: 0,
        payload: testBytes(2 * CHUNK, 3),
        chunkBytes: CHUNK,
      }),
    );
    const r = await closedWith(p, 10_000);
    expect(r.acks).toEqual([{ seqno: 0, statuses: [AckStatus.SUCCESS] }]);
    expect(r.errors.map((e) => e.code)).toEqual(['TIMEOUT']);
    expectNotFinalized(id);
  });
});

describe('broken packets get an error and a closed connection', () => {
  const payload = testBytes(4 * CHUNK, 4);

  it('garbage bytes instead of frames', async () => {
    const p = await peer();
    p.write(Buffer.from('GET / HTTP/1.1\r\nHost: datanode\r\n\r\n'));
    const r = await closedWith(p);
    expect(r.errors).toHaveLength(1);
    expect(['MALFORMED', 'FRAME_TOO_LARGE', 'UNKNOWN_OPCODE', 'PROTOCOL']).toContain(r.errors[0]!.code);
  });

  it('a frame declaring more than the data body limit is refused before its body arrives', async () => {
    const { p, id } = await openPipeline();
    p.write(frameHeader(8 + 64 * 1024 * 1024, FrameKind.PACKET, 0, 1));
    const r = await closedWith(p);
    expect(r.errors.map((e) => e.code)).toEqual(['FRAME_TOO_LARGE']);
    expectNotFinalized(id);
  });

  it('a PACKET shorter than its header', async () => {
    const { p, id } = await openPipeline();
    const body = testBytes(20, 5);
    p.write(Buffer.concat([frameHeader(8 + body.length, FrameKind.PACKET, 0, 1), body]));
    const r = await closedWith(p);
    expect(r.errors.map((e) => e.code)).toEqual(['MALFORMED']);
    expectNotFinalized(id);
  });

  it('a PACKET whose payload length does not match its body', async () => {
    const { p, id } = await openPipeline();
    const frame = packetFrame({
      blockId: id,
      offsetInBlock: 0,
      seqno: 0,
      last: true,
      payload,
      chunkBytes: CHUNK,
    });
    frame.writeUInt32BE(payload.length + 1, 12 + 28); // payloadBytes field one too large
    p.write(frame);
    const r = await closedWith(p);
    expect(r.errors.map((e) => e.code)).toEqual(['MALFORMED']);
    expectNotFinalized(id);
  });

  it('a PACKET with reserved flag bits set', async () => {
    const { p, id } = await openPipeline();
    const frame = packetFrame({
      blockId: id,
      offsetInBlock: 0,
      seqno: 0,
      last: true,
      payload,
      chunkBytes: CHUNK,
    });
    frame.writeUInt8(0x81, 12 + 24);
    p.write(frame);
    const r = await closedWith(p);
    expect(r.errors.map((e) => e.code)).toEqual(['MALFORMED']);
    expectNotFinalized(id);
  });

  it('a PACKET before any WRITE_BLOCK', async () => {
    const p = await peer();
    const id = blockId();
    p.write(packetFrame({ blockId: id, offsetInBlock: 0, seqno: 0, last: true, payload, chunkBytes: CHUNK }));
    const r = await closedWith(p);
    expect(r.errors.map((e) => e.code)).toEqual(['PROTOCOL']);
    expectNotFinalized(id);
  });

  it('a PACKET for another block than the pipeline', async () => {
    const { p, id } = await openPipeline();
    const other = blockId();
    p.write(
      packetFrame({ blockId: other, offsetInBlock: 0, seqno: 0, last: true, payload, chunkBytes: CHUNK }),
    );
    const r = await closedWith(p);
    expect(r.errors.map((e) => e.code)).toEqual(['PROTOCOL']);
    expectNotFinalized(id);
    expectNotFinalized(other);
  });

  it('a wrong checksum: an ERROR_CHECKSUM ack, then close', async () => {
    const { p, id } = await openPipeline();
    p.write(
      packetFrame({
        blockId: id,
        offsetInBlock: 0,
        seqno: 0,
        payload,
        chunkBytes: CHUNK,
        corruptChecksum: 2,
      }),
    );
    const r = await closedWith(p);
    expect(r.acks).toEqual([{ seqno: 0, statuses: [AckStatus.ERROR_CHECKSUM] }]);
    expect(r.errors.map((e) => e.code)).toEqual(['CHECKSUM']);
    expectNotFinalized(id);
  });

  it('a wrong checksum on the LAST packet after good ones', async () => {
    const { p, id } = await openPipeline();
    p.write(packetFrame({ blockId: id, offsetInBlock: 0, seqno: 0, payload, chunkBytes: CHUNK }));
    p.write(
      packetFrame({
        blockId: id,
        offsetInBlock: payload.length,
        seqno: 1,
        last: true,
        payload: payload.subarray(0, 1500),
        chunkBytes: CHUNK,
        corruptChecksum: 1,
      }),
    );
    const r = await closedWith(p);
    // The good packet may or may not have been acked before the bad one was seen.
    expect(r.acks.filter((a) => a.statuses[0] !== AckStatus.SUCCESS)).toEqual([
      { seqno: matchAny(Number), statuses: [AckStatus.ERROR_CHECKSUM] },
    ]);
    expect(r.acks.some((a) => a.seqno === 1 && a.statuses[0] === AckStatus.SUCCESS)).toBe(false);
    expect(r.errors.map((e) => e.code)).toEqual(['CHECKSUM']);
    await sleep(200);
    expectNotFinalized(id);
  });

  it('a sequence number out of order', async () => {
    const { p, id } = await openPipeline();
    p.write(packetFrame({ blockId: id, offsetInBlock: 0, seqno: 0, payload, chunkBytes: CHUNK }));
    p.write(
      packetFrame({
        blockId: id,
        offsetInBlock: payload.length,
        seqno: 2,
        last: true,
        payload,
        chunkBytes: CHUNK,
      }),
    );
    const r = await closedWith(p);
    expect(r.errors.map((e) => e.code)).toEqual(['PROTOCOL']);
    expect(r.errors[0]!.message).toMatch(/seqno 2, expected 1/);
    expectNotFinalized(id);
  });

  it('a repeated sequence number', async () => {
    const { p, id } = await openPipeline();
    p.write(packetFrame({ blockId: id, offsetInBlock: 0, seqno: 0, payload, chunkBytes: CHUNK }));
    p.write(
      packetFrame({
        blockId: id,
        offsetInBlock: payload.length,
        seqno: 0,
        last: true,
        payload,
        chunkBytes: CHUNK,
      }),
    );
    const r = await closedWith(p);
    expect(r.errors.map((e) => e.code)).toEqual(['PROTOCOL']);
    expectNotFinalized(id);
  });

  it('a first packet that does not start at offset 0', async () => {
    const { p, id } = await openPipeline();
    p.write(
      packetFrame({ blockId: id, offsetInBlock: CHUNK, seqno: 0, last: true, payload, chunkBytes: CHUNK }),
    );
    const r = await closedWith(p);
    expect(r.errors.map((e) => e.code)).toEqual(['PROTOCOL']);
    expect(r.errors[0]!.message).toMatch(/offset 1024, expected 0/);
    expectNotFinalized(id);
  });

  it('a later packet whose offset skips bytes', async () => {
    const { p, id } = await openPipeline();
    p.write(packetFrame({ blockId: id, offsetInBlock: 0, seqno: 0, payload, chunkBytes: CHUNK }));
    p.write(
      packetFrame({
        blockId: id,
        offsetInBlock: payload.length + CHUNK,
        seqno: 1,
        last: true,
        payload,
        chunkBytes: CHUNK,
      }),
    );
    const r = await closedWith(p);
    expect(r.errors.map((e) => e.code)).toEqual(['PROTOCOL']);
    expectNotFinalized(id);
  });

  it('a non-final packet that is not chunk aligned', async () => {
    const { p, id } = await openPipeline();
    p.write(
      packetFrame({
        blockId: id,
        offsetInBlock: 0,
        seqno: 0,
        payload: payload.subarray(0, CHUNK + 1),
        chunkBytes: CHUNK,
      }),
    );
    const r = await closedWith(p);
    expect(r.errors.map((e) => e.code)).toEqual(['PROTOCOL']);
    expectNotFinalized(id);
  });

  it('a packet after the LAST one', async () => {
    const p = await peer();
    const id = nextBlockId++; // this block is legitimately finalized
    p.write(writeBlockRequest(id, CHUNK));
    expect(await awaitWriteBlockAnswer(p)).toBe('');
    p.write(packetFrame({ blockId: id, offsetInBlock: 0, seqno: 0, last: true, payload, chunkBytes: CHUNK }));
    p.write(
      packetFrame({
        blockId: id,
        offsetInBlock: payload.length,
        seqno: 1,
        last: true,
        payload,
        chunkBytes: CHUNK,
      }),
    );
    const r = await closedWith(p);
    expect(r.errors.map((e) => e.code)).toEqual(['PROTOCOL']);
  });
});

describe('bad requests get typed errors', () => {
  it('WRITE_BLOCK with a chunk size of 1 byte', async () => {
    const p = await peer();
    const id = blockId();
    p.write(writeBlockRequest(id, 1));
    await expect(awaitWriteBlockAnswer(p)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await p.waitClosed();
    expectNotFinalized(id);
  });

  it('WRITE_BLOCK with an unknown stage, and RECOVER of a replica this node does not have', async () => {
    const p1 = await peer();
    const id = blockId();
    p1.write(
      encodeDataRequest('writeBlock', 1, {
        block: { blockId: id, genStamp: 1, numBytes: 0 },
        clientName: 'x',
        stage: 9,
        chunkBytes: CHUNK,
        checksumType: CHECKSUM_TYPE_DEFAULT,
        targets: [],
      }),
    );
    await expect(awaitWriteBlockAnswer(p1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const p2 = await peer();
    p2.write(
      encodeDataRequest('writeBlock', 1, {
        block: { blockId: id, genStamp: 5, numBytes: 0 },
        clientName: 'x',
        stage: 1,
        chunkBytes: CHUNK,
        checksumType: CHECKSUM_TYPE_DEFAULT,
        targets: [],
      }),
    );
    await expect(awaitWriteBlockAnswer(p2)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await Promise.all([p1.waitClosed(), p2.waitClosed()]);
    expectNotFinalized(id);
  });

  it('WRITE_BLOCK naming an unreachable next node answers firstBadLink', async () => {
    const p = await peer();
    const id = blockId();
    p.write(writeBlockRequest(id, CHUNK, [{ nodeId: 'DN-nowhere', host: '127.0.0.1', port: 1 }]));
    expect(await awaitWriteBlockAnswer(p)).toBe('DN-nowhere');
    await p.waitClosed();
    expectNotFinalized(id);
  });

  it('READ_BLOCK of a block this node does not have, and of a range past its end', async () => {
    const p1 = await peer();
    p1.write(
      encodeDataRequest('readBlock', 3, {
        block: { blockId: 123_456_789, genStamp: 1, numBytes: 0 },
        offset: 0,
        length: 10,
      }),
    );
    const r1 = await closedWith(p1);
    expect(r1.errors.map((e) => e.code)).toEqual(['NOT_FOUND']);
    expect(r1.frames[0]!.requestId).toBe(3);

    const remote = '/healthy/for-read';
    await putBuffer(client, remote, testBytes(5000, 9), {
      replication: 3,
      blockBytes: 256 * KiB,
      chunkBytes: CHUNK,
    });
    const block: Block = (await client.getBlockLocations(remote, 0, 0)).blocks[0]!.block;
    const p2 = await peer();
    p2.write(encodeDataRequest('readBlock', 4, { block, offset: 4000, length: 2000 }));
    const r2 = await closedWith(p2);
    expect(r2.errors.map((e) => e.code)).toEqual(['INVALID_ARGUMENT']);
    const p3 = await peer();
    p3.write(
      encodeDataRequest('readBlock', 5, {
        block: { ...block, genStamp: block.genStamp + 1 },
        offset: 0,
        length: 10,
      }),
    );
    const r3 = await closedWith(p3);
    expect(r3.errors.map((e) => e.code)).toEqual(['STALE_GENERATION']);
  });

  it('a second request on a connection that is still transferring a block', async () => {
    const { p, id } = await openPipeline();
    p.write(writeBlockRequest(blockId(), CHUNK, [], 2));
    const r = await closedWith(p);
    expect(r.errors.map((e) => e.code)).toEqual(['PROTOCOL']);
    expectNotFinalized(id);
  });
});

describe('after all of it', () => {
  it('the node is alive, its bookkeeping sane, no attacked block finalized, and it serves a normal put/get', async () => {
    expect(attacked.length).toBeGreaterThan(15);
    // Every refused or broken transfer was uncounted exactly once: the node reports no
    // transfer under way and keeps heartbeating (a negative count would not even encode).
    // Judged from a heartbeat sent after the attacks, not one the NameNode had before.
    const attacksEndedMs = Date.now();
    const me = nodeIdOf(cluster, 0);
    await waitFor(
      'the attacked node to report no transfer under way',
      async () => {
        const n = (await client.datanodeReport()).find((e) => e.nodeId === me)!;
        const fresh = n.lastHeartbeatAgoMs < Date.now() - attacksEndedMs;
        return fresh && n.state === 1 && n.activeTransfers === 0 ? true : undefined;
      },
      5000,
      100,
    );
    expect(logsMatching(cluster.datanodes[0]!, { msg: 'lost contact with the NameNode; retrying' })).toEqual(
      [],
    );
    for (const id of attacked) expectNotFinalized(id);
    await expectServing('after');
  });
});
