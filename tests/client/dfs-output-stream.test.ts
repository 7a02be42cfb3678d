/**
 * DfsOutputStream (src/client/dfs-output-stream.ts) against a fake client and NameNode (the
 * OutputStreamClient seam) and real DataNode processes: the calls a file's writing makes, in
 * order and with their arguments (create with the client's defaults, addBlock with the
 * previous block at its final length and stamp, complete with the last block at the file's
 * end, retried while the NameNode waits for reports), the lease begun and ended, a pipeline
 * failure recovered through bumpGenStamp with the surviving nodes, a local file read into the
 * packets in the write order (writeFrom), and the stream's refusals: a write after the end, a
 * destroyed stream, and an ack the window did not count. Blocks reserved ahead: each next
 * block reserved once its predecessor is half written and attached at the boundary; a
 * refused reservation's packets sent again into a new block; none with `reserveAhead` off.
 */
import { once } from 'node:events';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { DfsError } from '../../protocol/errors.js';
import { DfsOutputStream, type OutputStreamOptions } from '../../src/client/dfs-output-stream.js';
import { uploadFile } from '../../src/client/local-transfer.js';
import { testBytes } from '../support/data-path.js';
import {
  eventually,
  FakeClient,
  FakeNamenode,
  FIRST_BLOCK_ID,
  FIRST_GEN_STAMP,
  startDataNodes,
  type TestDataNodes,
} from '../support/client-seam.js';

const KiB = 1024;
const CHUNK = 512;
const PACKET = 8 * KiB;
const BLOCK = 32 * KiB;
const PATH = '/unit/out';
const LAYOUT: OutputStreamOptions = { chunkBytes: CHUNK, packetBytes: PACKET, blockBytes: BLOCK };

let dns: TestDataNodes | null = null;

afterEach(async () => {
  await dns?.stopAll();
  dns = null;
});

async function setUp(nodes: number): Promise<{ namenode: FakeNamenode; client: FakeClient }> {
  dns = await startDataNodes(nodes);
  const namenode = new FakeNamenode(dns.infos(), BLOCK);
  return { namenode, client: new FakeClient(namenode) };
}

/** Writes `data` in pieces that are not packet aligned, then ends the stream. */
async function writeAll(stream: DfsOutputStream, data: Buffer, piece = 5000): Promise<void> {
  for (let off = 0; off < data.length; off += piece) {
    if (!stream.write(data.subarray(off, off + piece))) await once(stream, 'drain');
  }
  stream.end();
  await once(stream, 'finish');
}

/** The bytes of the file as the nodes finalized them, block by block from `first`. */
function fileOn(node: number, blocks: number): Buffer {
  return blocksOn(
    node,
    Array.from({ length: blocks }, (_, b) => FIRST_BLOCK_ID + b),
  );
}

function blocksOn(node: number, ids: readonly number[]): Buffer {
  return Buffer.concat(ids.map((id) => dns!.finalized(node, id)?.data ?? Buffer.alloc(0)));
}

describe('DfsOutputStream', () => {
  it('a file of several blocks: addBlock in order with the right previous, complete with the final length', async () => {
    const { namenode, client } = await setUp(3);
    const data = testBytes(3 * BLOCK + 1234, 1);
    const stream = new DfsOutputStream(client, PATH, { ...LAYOUT, replication: 2 });
    await writeAll(stream, data);

    expect(namenode.creates).toEqual([
      {
        path: PATH,
        clientName: 'test-client',
        overwrite: false,
        createParent: true,
        replication: 2,
        blockBytes: BLOCK,
        permission: 0o644,
      },
    ]);
    const block = (i: number, numBytes: number) => ({
      blockId: FIRST_BLOCK_ID + i,
      genStamp: FIRST_GEN_STAMP + i,
      numBytes,
    });
    expect(namenode.addBlocks.map((r) => r.previous)).toEqual([
      null,
      block(0, BLOCK),
      block(1, BLOCK),
      block(2, BLOCK),
    ]);
    for (const r of namenode.addBlocks) expect(r).toMatchObject({ path: PATH, clientName: 'test-client' });
    // Each block after the first was reserved while the one before it was written, and
    // attached: the second once the first was half written, each later one right after the
    // attach of the one before it (so the last, 1234 bytes, has an unused one after it).
    expect(namenode.reserves.map((r) => r.afterBlockId)).toEqual([0, 1, 2, 3].map((i) => FIRST_BLOCK_ID + i));
    expect(namenode.addBlocks.map((r) => r.reservedBlockId)).toEqual([0, 1001, 1002, 1003]);
    expect(namenode.completes).toEqual([{ path: PATH, clientName: 'test-client', last: block(3, 1234) }]);
    expect(namenode.callNames).toEqual([
      'create',
      'addBlock',
      'reserveBlock',
      'addBlock',
      'reserveBlock',
      'addBlock',
      'reserveBlock',
      'addBlock',
      'reserveBlock',
      'complete',
    ]);
    expect(client.leaseEvents).toEqual([`begin ${PATH}`, `end ${PATH}`]);
    expect(stream.bytesWritten).toBe(data.length);
    expect(stream.bytesAcked).toBe(data.length);
    await eventually(() => fileOn(0, 4).length === data.length, 'every block finalized');
    for (const i of [0, 1, 2]) expect(fileOn(i, 4).equals(data)).toBe(true);
  });

  it('packets of half a block: the second block is reserved as the first packet goes, each later one at its start', async () => {
    // Written a packet at a time, as `dfs put` reads its file: the first block's one chance
    // at the half-block rule is its first packet (the second ends the block), which fills
    // as the block opens.
    const { namenode, client } = await setUp(2);
    const data = testBytes(3 * BLOCK + 1234, 7);
    const stream = new DfsOutputStream(client, PATH, { ...LAYOUT, packetBytes: BLOCK / 2, replication: 2 });
    await writeAll(stream, data, BLOCK / 2);
    expect(namenode.reserves.map((r) => r.afterBlockId)).toEqual([0, 1, 2, 3].map((i) => FIRST_BLOCK_ID + i));
    expect(namenode.addBlocks.map((r) => r.reservedBlockId)).toEqual([0, 1001, 1002, 1003]);
    await eventually(() => fileOn(0, 4).length === data.length, 'every block finalized');
    for (const i of [0, 1]) expect(fileOn(i, 4).equals(data)).toBe(true);
  });

  it("an empty file: no block, complete with last = null; the client's defaults fill create", async () => {
    const { namenode, client } = await setUp(1);
    const stream = new DfsOutputStream(client, PATH, { overwrite: true });
    await writeAll(stream, Buffer.alloc(0));
    expect(namenode.creates[0]).toMatchObject({
      overwrite: true,
      replication: client.defaultReplication,
      blockBytes: client.defaultBlockBytes,
    });
    expect(namenode.callNames).toEqual(['create', 'complete']);
    expect(namenode.completes[0]!.last).toBeNull();
  });

  it('a file of exactly one block ends it with the last packet and adds no second block (the one reserved ahead is dropped)', async () => {
    const { namenode, client } = await setUp(1);
    const data = testBytes(BLOCK, 2);
    await writeAll(new DfsOutputStream(client, PATH, LAYOUT), data);
    expect(namenode.callNames).toEqual(['create', 'addBlock', 'reserveBlock', 'complete']);
    expect(namenode.completes[0]!.last).toEqual({
      blockId: FIRST_BLOCK_ID,
      genStamp: FIRST_GEN_STAMP,
      numBytes: BLOCK,
    });
  });

  it('writeFrom reads a local file into the packets in the write order: between writes, after an hflush, two blocks exactly', async () => {
    const { namenode, client } = await setUp(1);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-write-from-'));
    try {
      const fromFile = testBytes(2 * BLOCK - 3000 - 700, 8); // with the writes: exactly two blocks
      fs.writeFileSync(path.join(dir, 'src'), fromFile);
      const file = await fsp.open(path.join(dir, 'src'), 'r');
      const stream = new DfsOutputStream(client, PATH, LAYOUT);
      const head = testBytes(3000, 9);
      const tail = testBytes(700, 10);
      stream.write(head);
      await stream.hflush(); // the file's first packet starts mid-chunk
      const read = await stream.writeFrom(file);
      await file.close();
      stream.end(tail);
      await once(stream, 'finish');
      expect(read).toBe(fromFile.length);
      const data = Buffer.concat([head, fromFile, tail]);
      expect(stream.bytesWritten).toBe(2 * BLOCK);
      expect(namenode.callNames.filter((c) => c === 'addBlock')).toHaveLength(2);
      expect(namenode.completes[0]!.last).toMatchObject({ blockId: FIRST_BLOCK_ID + 1, numBytes: BLOCK });
      await eventually(() => fileOn(0, 2).length === data.length, 'both blocks finalized');
      expect(fileOn(0, 2).equals(data)).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an upload of known size (uploadFile) reserves no block past its end; the bytes are all there', async () => {
    const { namenode, client } = await setUp(1);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-upload-file-'));
    try {
      const data = testBytes(3 * BLOCK + 700, 18);
      fs.writeFileSync(path.join(dir, 'src'), data);
      const file = await fsp.open(path.join(dir, 'src'), 'r');
      const stream = new DfsOutputStream(client, PATH, LAYOUT);
      const written = await uploadFile(stream, file).finally(() => file.close());
      expect(written).toBe(data.length);
      // One reservation for each block after the first, each attached; none after the last.
      expect(namenode.reserves.map((r) => r.afterBlockId)).toEqual([0, 1, 2].map((i) => FIRST_BLOCK_ID + i));
      expect(namenode.addBlocks.map((r) => r.reservedBlockId)).toEqual([0, 1001, 1002, 1003]);
      await eventually(() => fileOn(0, 4).length === data.length, 'every block finalized');
      expect(fileOn(0, 4).equals(data)).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("adoptChunks: a whole packet handed over stays the producer's; only the stream's own buffers are reused", async () => {
    const { client } = await setUp(1);
    const stream = new DfsOutputStream(client, PATH, { ...LAYOUT, adoptChunks: true });
    const whole = testBytes(PACKET, 11);
    const kept = Buffer.from(whole);
    stream.write(whole);
    // Acknowledged before the next packets are filled: a buffer recycled on ack would be reused now.
    await eventually(() => stream.bytesAcked === PACKET, 'the adopted packet acknowledged');
    const rest = testBytes(2 * PACKET + 100, 12);
    await writeAll(stream, rest);
    expect(whole.equals(kept)).toBe(true);
    await eventually(() => fileOn(0, 1).length === PACKET + rest.length, 'the block finalized');
    expect(fileOn(0, 1).equals(Buffer.concat([kept, rest]))).toBe(true);
  });

  it('hflush: the buffered bytes as a flush packet, every ack, then fsync with the length; mid-chunk, empty and at a block end', async () => {
    const { namenode, client } = await setUp(2);
    const data = testBytes(BLOCK + 3000, 6);
    const stream = new DfsOutputStream(client, PATH, LAYOUT);
    const put = (from: number, to: number): Promise<void> =>
      new Promise((resolve, reject) =>
        stream.write(data.subarray(from, to), (e) => (e ? reject(e) : resolve())),
      );
    await put(0, 1000);
    await stream.hflush();
    expect(namenode.fsyncs.at(-1)).toMatchObject({ blockId: FIRST_BLOCK_ID, lastBlockLength: 1000 });
    await put(1000, 1300); // continues the chunk the flush left partial
    await stream.hsync();
    expect(namenode.fsyncs.at(-1)).toMatchObject({ lastBlockLength: 1300 });
    await stream.hflush(); // nothing buffered: an empty flush packet
    expect(namenode.fsyncs.at(-1)).toMatchObject({ lastBlockLength: 1300 });
    await put(1300, BLOCK); // ends the block: its length goes with the block just ended
    await stream.hflush();
    expect(namenode.fsyncs.at(-1)).toMatchObject({ blockId: FIRST_BLOCK_ID, lastBlockLength: BLOCK });
    await writeAll(stream, data.subarray(BLOCK));
    expect(namenode.callNames.filter((n) => n !== 'fsync')).toEqual([
      'create',
      'addBlock',
      'reserveBlock',
      'addBlock',
      'reserveBlock', // right after the attach; the file ends first
      'complete',
    ]);
    expect(namenode.addBlocks[1]!.reservedBlockId).toBe(FIRST_BLOCK_ID + 1);
    await eventually(() => fileOn(0, 4).length === data.length, 'every block finalized');
    for (const i of [0, 1]) expect(fileOn(i, 4).equals(data)).toBe(true);
  });

  it('a reservation the NameNode refuses (restarted since): its packets go again into a new block, every byte in place', async () => {
    const { namenode, client } = await setUp(2);
    namenode.refuseReservations = true;
    namenode.attachDelayMs = 100; // packets stream into the reserved block's pipeline meanwhile
    const data = testBytes(3 * BLOCK + 700, 13);
    const stream = new DfsOutputStream(client, PATH, LAYOUT);
    const recoveries: string[] = [];
    stream.on('recovery', (m: string) => recoveries.push(m));
    await writeAll(stream, data);
    // Each reserved block's attach is refused and followed by a plain addBlock of a new block
    // that takes its packets; a reservation made after a refused attach is refused too (the
    // NameNode did not add the block it follows). How many blocks were reserved depends on
    // how far each block streamed while its attach waited.
    const attaches = namenode.addBlocks.flatMap((r, i) => (r.reservedBlockId !== 0 ? [i] : []));
    expect(attaches.length).toBeGreaterThanOrEqual(1);
    for (const i of attaches) expect(namenode.addBlocks[i + 1]?.reservedBlockId).toBe(0);
    expect(recoveries).toHaveLength(attaches.length);
    expect(recoveries[0]).toContain('refused');
    const ids = namenode.blockIds;
    expect(ids).toHaveLength(4);
    expect(namenode.completes[0]!.last).toMatchObject({ blockId: ids[3], numBytes: 700 });
    expect(stream.bytesAcked).toBe(data.length);
    await eventually(() => blocksOn(1, ids).length === data.length, 'every block finalized');
    for (const i of [0, 1]) expect(blocksOn(i, ids).equals(data)).toBe(true);
  });

  it('an attach refused for another reason than an unknown reservation fails the stream with it, adding no block', async () => {
    const { namenode, client } = await setUp(1);
    namenode.reservationError = new DfsError('QUOTA_EXCEEDED', '/unit: space quota exceeded');
    const stream = new DfsOutputStream(client, PATH, LAYOUT);
    stream.on('error', () => {});
    const err = await writeAll(stream, testBytes(2 * BLOCK + 5, 16)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'QUOTA_EXCEEDED' });
    expect(namenode.addBlocks.map((r) => r.reservedBlockId)).toEqual([0, FIRST_BLOCK_ID + 1]);
    expect(namenode.completes).toEqual([]);
  });

  it('a reserved block streams before the NameNode attaches it; its last packet waits for the answer', async () => {
    const { namenode, client } = await setUp(2);
    namenode.attachDelayMs = 150;
    const data = testBytes(2 * BLOCK + 300, 15);
    const stream = new DfsOutputStream(client, PATH, { ...LAYOUT, windowBytes: 2 * BLOCK });
    await writeAll(stream, data);
    expect(namenode.addBlocks.map((r) => r.reservedBlockId)).toEqual([0, 1001, 1002]);
    expect(stream.bytesAcked).toBe(data.length);
    await eventually(() => fileOn(1, 3).length === data.length, 'every block finalized');
    for (const i of [0, 1]) expect(fileOn(i, 3).equals(data)).toBe(true);
  });

  it('reserveAhead off: each block is asked for at its boundary, none reserved', async () => {
    const { namenode, client } = await setUp(1);
    const data = testBytes(2 * BLOCK + 10, 14);
    await writeAll(new DfsOutputStream(client, PATH, { ...LAYOUT, reserveAhead: false }), data);
    expect(namenode.callNames).toEqual(['create', 'addBlock', 'addBlock', 'addBlock', 'complete']);
    await eventually(() => fileOn(0, 3).length === data.length, 'every block finalized');
    expect(fileOn(0, 3).equals(data)).toBe(true);
  });

  it('complete is asked again, with the same last block, while the NameNode waits for reports', async () => {
    const { namenode, client } = await setUp(1);
    namenode.incompleteAnswers = 2;
    const data = testBytes(PACKET + 1, 3);
    await writeAll(new DfsOutputStream(client, PATH, LAYOUT), data);
    expect(namenode.completes).toHaveLength(3);
    for (const c of namenode.completes) expect(c).toEqual(namenode.completes[0]);
    expect(client.openLeases.size).toBe(0);
  });

  it('complete that never succeeds fails the stream with NOT_REPLICATED', async () => {
    const { namenode, client } = await setUp(1);
    namenode.incompleteAnswers = Number.MAX_SAFE_INTEGER;
    const stream = new DfsOutputStream(client, PATH, { ...LAYOUT, completeTimeoutMs: 200 });
    stream.end(testBytes(100, 4));
    const [err] = (await once(stream, 'error')) as [Error];
    expect(err).toMatchObject({ code: 'NOT_REPLICATED' });
    expect(namenode.completes.length).toBeGreaterThan(1);
    expect(client.leaseEvents).toEqual([`begin ${PATH}`, `end ${PATH}`]);
  });

  it('a pipeline failure: bumpGenStamp for that block, the survivors carry it, the next addBlock names the new stamp', async () => {
    const { namenode, client } = await setUp(3);
    const data = testBytes(2 * BLOCK + 99, 5);
    const stream = new DfsOutputStream(client, PATH, LAYOUT);
    const recoveries: string[] = [];
    stream.on('recovery', (m: string) => recoveries.push(m));
    // Half the first block, acknowledged; then the middle node dies.
    await new Promise<void>((resolve, reject) =>
      stream.write(data.subarray(0, BLOCK / 2), (err) => (err ? reject(err) : resolve())),
    );
    await eventually(() => stream.bytesAcked >= BLOCK / 2 - PACKET, 'acks of the first packets');
    const lost = dns!.info(1);
    await dns!.nodes[1]!.kill();
    await eventually(() => recoveries.length === 1, 'the recovery');
    // The NameNode has noticed too: later blocks go to the survivors.
    namenode.locations = [dns!.info(0), dns!.info(2)];
    await writeAll(stream, data.subarray(BLOCK / 2));

    expect(namenode.bumps).toEqual([{ path: PATH, clientName: 'test-client', blockId: FIRST_BLOCK_ID }]);
    expect(recoveries).toHaveLength(1);
    expect(recoveries[0]).toContain(`without ${lost.nodeId}`);
    // The stamp bumpGenStamp handed out is the first block's from now on: addBlock for the
    // second block reports it with the block's full length.
    // (The second block may have been reserved before the node died: a stamp of its own.)
    const bumped = namenode.bumpAnswers[0]!;
    expect(bumped).toBeGreaterThan(FIRST_GEN_STAMP);
    expect(namenode.addBlocks[1]!.previous).toEqual({
      blockId: FIRST_BLOCK_ID,
      genStamp: bumped,
      numBytes: BLOCK,
    });
    expect(namenode.completes).toHaveLength(1);
    expect(namenode.blockIds).toHaveLength(3);
    expect(namenode.completes[0]!.last).toMatchObject({ blockId: namenode.blockIds[2], numBytes: 99 });
    await eventually(() => dns!.finalized(0, FIRST_BLOCK_ID) !== null, 'first block finalized');
    for (const i of [0, 2]) {
      const r = dns!.finalized(i, FIRST_BLOCK_ID);
      expect(r?.block).toEqual({ blockId: FIRST_BLOCK_ID, genStamp: bumped, numBytes: BLOCK });
      expect(r?.data.equals(data.subarray(0, BLOCK))).toBe(true);
    }
    expect(dns!.finalized(1, FIRST_BLOCK_ID)).toBeNull();
  });

  it('a stream destroyed while a pipeline recovery waits for its new stamp: the recovery stops, no pipeline is rebuilt', async () => {
    const { namenode, client } = await setUp(3);
    namenode.bumpDelayMs = 300;
    const stream = new DfsOutputStream(client, PATH, LAYOUT);
    stream.on('error', () => {});
    const recoveries: string[] = [];
    stream.on('recovery', (m: string) => recoveries.push(m));
    await new Promise<void>((resolve, reject) =>
      stream.write(testBytes(BLOCK / 2, 17), (err) => (err ? reject(err) : resolve())),
    );
    await dns!.nodes[1]!.kill();
    await eventually(() => namenode.bumps.length === 1, 'the recovery asks for a new stamp');
    const closed = new Promise((resolve) => stream.on('close', resolve));
    stream.destroy(new Error('interrupted'));
    await closed;
    await sleep(600); // the stamp came, the rebuilt pipeline would have been set up by now
    expect(recoveries).toEqual([]);
    expect(namenode.bumps).toHaveLength(1);
    for (const i of [0, 2]) expect(dns!.finalized(i, FIRST_BLOCK_ID)).toBeNull();
  });

  it('a write after the end is an error and reaches no NameNode', async () => {
    const { namenode, client } = await setUp(1);
    const stream = new DfsOutputStream(client, PATH, LAYOUT);
    await writeAll(stream, testBytes(PACKET, 6));
    const calls = namenode.callNames.length;
    const err = await new Promise<Error | null | undefined>((resolve) => {
      stream.on('error', () => {});
      stream.write(Buffer.from('late'), resolve);
    });
    expect(err).toMatchObject({ code: 'ERR_STREAM_WRITE_AFTER_END' });
    expect(namenode.callNames.length).toBe(calls);
  });

  it('a destroyed stream ends the lease, never completes, and refuses further writes', async () => {
    const { namenode, client } = await setUp(1);
    const stream = new DfsOutputStream(client, PATH, LAYOUT);
    await new Promise<void>((resolve, reject) =>
      stream.write(testBytes(PACKET, 7), (err) => (err ? reject(err) : resolve())),
    );
    stream.on('error', () => {});
    const closed = new Promise((resolve) => stream.on('close', resolve));
    stream.destroy(new Error('interrupted'));
    await closed;
    expect(client.leaseEvents).toEqual([`begin ${PATH}`, `end ${PATH}`]);
    const err = await new Promise<Error | null | undefined>((resolve) =>
      stream.write(Buffer.from('x'), resolve),
    );
    expect(err).toMatchObject({ code: 'ERR_STREAM_DESTROYED' });
    expect(namenode.completes).toEqual([]);
  });

  it('an ack for more bytes than are unacknowledged is an assertion, not a silent negative count', async () => {
    const { client } = await setUp(1);
    const stream = new DfsOutputStream(client, PATH, LAYOUT);
    const payload = Buffer.alloc(PACKET);
    const packet = {
      seqno: 0,
      offsetInBlock: 0,
      buffer: payload,
      payload,
      checksums: Buffer.alloc(0),
      last: false,
      sentAt: 0,
    };
    expect(() => stream.onPacketAcked(packet)).toThrow(/assertion.*unacknowledged/);
    stream.destroy();
  });
});
