/**
 * Blocks reserved one ahead of a writer (src/namenode/block-reservations.ts; the RPCs
 * `reserveBlock` 0x1A and `addBlock` with `reservedBlockId`, protocol/PROTOCOL.md) across
 * real processes: one `dfsd namenode` and three DataNodes (replication 3, so every block
 * goes to all three) that heartbeat every 300 ms. The RPCs are called one by one as the
 * writer calls them (client.namenodeClient), and the reserved blocks' pipelines are built
 * with the client's own WritePipeline (stage CREATE), so the DataNodes make the empty rbw
 * replicas the feature has to clean up. The reservation itself lives only in the
 * NameNode's memory: these tests see it through what the NameNode answers and what the
 * DataNodes hold on disk (DATA_DIR/current/rbw/blk_<id>) and log.
 *
 *   | test          | checks                                                                   |
 *   |---------------|--------------------------------------------------------------------------|
 *   | attach        | a reservation after the first block, its pipeline built before the      |
 *   |               | attach, becomes the second block (same id, stamp, targets, offset); the  |
 *   |               | file completes, reads back, and the attached block is not discarded      |
 *   | refusals      | NOT_FOUND for a block never reserved, replaced by a second reservation,  |
 *   |               | or reserved after another block; INVALID_ARGUMENT for an afterBlockId    |
 *   |               | that is not the last block; another client or a closed file: the same   |
 *   |               | lease error addBlock gives                                               |
 *   | discard       | the empty rbw replicas of a reservation replaced, or left when the file  |
 *   |               | completes or is deleted, are deleted on every target; a full block       |
 *   |               | report of them while reserved keeps them                                 |
 *   | end to end    | `dfs put` of a six-block file: a reservation for each block after the    |
 *   |               | first, each attached, none refused, none past the end (its size known);  |
 *   |               | the same bytes streamed: one more, discarded; bytes equal, fsck HEALTHY, |
 *   |               | no rbw replica left on any DataNode                                      |
 *   | restart (last)| kill -9 of the NameNode after a reservation: once restarted on the same  |
 *   |               | name dir it refuses the attach (memory only), and the next block's id    |
 *   |               | and stamp are past the reserved ones (RESERVE_BLOCK replayed)            |
 *
 * The tests share the cluster and run in order; the restart comes last. Every wait is
 * bounded; the cluster is killed and its folder removed in afterAll.
 */
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePacketHeader, WriteStage, type Ack } from '../../protocol/data-messages.js';
import { isDfsError, type DfsError } from '../../protocol/errors.js';
import { Role } from '../../protocol/handshake.js';
import type { Block, LocatedBlock } from '../../protocol/shared-structures.js';
import { DfsClient } from '../../src/client/dfs-client.js';
import { WritePipeline } from '../../src/client/write-pipeline.js';
import { computeChecksums, initChecksum } from '../../src/common/checksum.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { startCluster, tempDir } from '../support/cluster.js';
import {
  expectReplicasOnDisk,
  getBuffer,
  logsMatching,
  nodeIndexById,
  replicaDir,
  testBytes,
  waitFor,
  waitForDatanodes,
} from '../support/data-path.js';
import { ok, runDfs } from '../support/dfs-cli.js';
import { scrape, sumOf } from '../support/http.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const CHUNK = KiB;
/** The blocks of the RPC-level tests: one packet each. */
const BLOCK = 8 * KiB;
const REPLICATION = 3;
const HEARTBEAT_MS = 300;
const WAIT_MS = 10_000;

let cluster: LocalCluster;
let cleanup: (() => Promise<void>) | undefined;
/** The writer (lease holder) of every file here. */
let client: DfsClient;
/** Another client: never the lease holder. */
let other: DfsClient;
/** An ADMIN connection (triggerBlockReport). */
let admin: DfsClient;
let local: string;
const pipelines: WritePipeline[] = [];

beforeAll(async () => {
  ({ cluster, cleanup } = await startCluster({
    datanodes: REPLICATION,
    namenodeEnv: { DFS_NAMENODE_SAFE_MODE_EXTENSION_MS: '500' },
    datanodeEnv: () => ({ DFS_DATANODE_HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS) }),
  }));
  client = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: WAIT_MS });
  other = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: WAIT_MS });
  admin = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: WAIT_MS, role: Role.ADMIN });
  await waitForDatanodes(client, REPLICATION);
  await initChecksum();
  local = tempDir('dfs-reservations-');
});

afterAll(async () => {
  for (const p of pipelines) p.close();
  for (const c of [client, other, admin]) c?.close();
  await cleanup?.();
  if (local !== undefined) fs.rmSync(local, { recursive: true, force: true });
});

// ---- RPCs as the writer makes them ------------------------------------------------------

function reserve(file: string, afterBlockId: number, by: DfsClient = client): Promise<LocatedBlock> {
  return by.namenodeClient.reserveBlock({
    path: file,
    clientName: by.clientName,
    afterBlockId,
    excludeNodes: [],
  });
}

/** addBlock naming a reservation (`reservedBlockId` 0: a new block, as client.addBlock). */
function attach(
  file: string,
  previous: Block | null,
  reservedBlockId: number,
  by: DfsClient = client,
  excludeNodes: string[] = [],
): Promise<LocatedBlock> {
  return by.namenodeClient.addBlock({
    path: file,
    clientName: by.clientName,
    previous,
    excludeNodes,
    reservedBlockId,
  });
}

/** The error code a call is refused with (fails the test if it succeeds or throws something else). */
async function refusal(call: Promise<unknown>): Promise<string> {
  const err = await call.then(
    (v) => new Error(`expected a refusal, got ${JSON.stringify(v)}`),
    (e: unknown) => e,
  );
  expect(isDfsError(err), String(err)).toBe(true);
  return (err as DfsError).code;
}

async function blocksOf(file: string): Promise<Array<[number, number, number]>> {
  const { blocks } = await client.getBlockLocations(file);
  return blocks.map((b) => [b.block.blockId, b.block.genStamp, b.offset]);
}

async function complete(file: string, last: Block | null): Promise<void> {
  await waitFor(
    `${file} to complete`,
    async () => ((await client.completeFile(file, last)) ? true : undefined),
    WAIT_MS,
    50,
  );
}

// ---- pipelines and replicas ------------------------------------------------------------

interface Opened {
  pipeline: WritePipeline;
  acks: Ack[];
  failure: DfsError | null;
}

/** A write pipeline (stage CREATE) over the block's targets, as ReadyBlock.setUp builds it. */
async function openPipeline(lb: LocatedBlock): Promise<Opened> {
  const pipeline = new WritePipeline(lb.locations);
  pipelines.push(pipeline);
  const o: Opened = { pipeline, acks: [], failure: null };
  const bad = await pipeline.open(
    lb.block,
    WriteStage.CREATE,
    client.clientName,
    CHUNK,
    client.checksumType,
    {
      onAck: (ack) => o.acks.push(ack),
      onFailure: (_i, err) => (o.failure ??= err),
    },
  );
  expect(bad, `pipeline of block ${lb.block.blockId}`).toBeNull();
  return o;
}

/** Sends `data` as the block's one (last) packet and waits for every node's ack (the replicas are finalized). */
async function sendLastPacket(o: Opened, block: Block, data: Buffer): Promise<void> {
  const sums = computeChecksums(data, CHUNK, o.pipeline.checksumType!);
  const header = encodePacketHeader(
    o.pipeline.requestId,
    { blockId: block.blockId, offsetInBlock: 0, seqno: 0, last: true, payloadBytes: data.length },
    sums,
  );
  o.pipeline.sendPacket(header, data);
  await waitFor(
    `the ack of block ${block.blockId}`,
    () => {
      if (o.acks.length > 0) return true;
      if (o.failure !== null) throw o.failure;
      return undefined;
    },
    WAIT_MS,
    10,
  );
  o.pipeline.close();
}

async function writeBlock(lb: LocatedBlock, data: Buffer): Promise<void> {
  await sendLastPacket(await openPipeline(lb), lb.block, data);
}

/** DataNode indexes of the block's targets. */
function targetIndexes(lb: LocatedBlock): number[] {
  const byId = nodeIndexById(cluster);
  return lb.locations.map((l) => {
    const i = byId.get(l.nodeId);
    expect(i, `DataNode ${l.nodeId}`).toBeDefined();
    return i!;
  });
}

/** DataNode indexes holding an rbw replica of `blockId` on disk. */
function rbwHolders(blockId: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < cluster.datanodes.length; i++)
    if (fs.existsSync(replicaDir(cluster, i, 'rbw', blockId))) out.push(i);
  return out;
}

/**
 * Builds the reserved block's pipeline, as the writer does while the block before it
 * streams, then closes it before any packet (the writer's file ended first): every target
 * holds an empty rbw replica and has let go of it (logged 'upstream closed before any
 * packet'; a DataNode does not delete a replica it is still writing).
 */
async function buildAndClose(reserved: LocatedBlock): Promise<void> {
  const o = await openPipeline(reserved);
  const targets = targetIndexes(reserved);
  expect(rbwHolders(reserved.block.blockId), 'targets holding the empty rbw replica').toEqual(
    [...targets].sort((a, b) => a - b),
  );
  o.pipeline.close();
  await waitFor(
    `every target of block ${reserved.block.blockId} to see its pipeline closed`,
    () =>
      targets.every(
        (i) =>
          logsMatching(cluster.datanodes[i]!, {
            msg: 'upstream closed before any packet',
            block: reserved.block.blockId,
          }).length > 0,
      )
        ? true
        : undefined,
    WAIT_MS,
  );
}

/**
 * Every target deleted its rbw replica of the discarded reservation on the NameNode's
 * request (and logged it: the line is read from the DataNode's stdout a moment after).
 */
async function expectDiscarded(reserved: LocatedBlock): Promise<void> {
  const blockId = reserved.block.blockId;
  const targets = targetIndexes(reserved);
  const deletions = (): number[] =>
    targets.map(
      (i) =>
        logsMatching(cluster.datanodes[i]!, { msg: 'replica deleted on NameNode request', block: blockId })
          .length,
    );
  await waitFor(
    `the rbw replicas of block ${blockId} to be deleted on request`,
    () => (rbwHolders(blockId).length === 0 && deletions().every((n) => n > 0) ? true : undefined),
    WAIT_MS,
  );
  expect(deletions(), 'deletions logged by each target').toEqual(targets.map(() => 1));
}

/**
 * Resolves once every DataNode has heartbeated twice after now: a command the NameNode
 * queued before this call was answered to the first heartbeat at the latest and carried
 * out before the second (namenode-link.ts runs a heartbeat's commands before the next).
 */
async function twoHeartbeatsLater(): Promise<void> {
  for (let round = 0; round < 2; round++) {
    const since = Date.now();
    await waitFor(
      'every DataNode to heartbeat',
      async () => {
        const askedAt = Date.now();
        const nodes = await client.datanodeReport();
        return nodes.length === REPLICATION && nodes.every((n) => askedAt - n.lastHeartbeatAgoMs > since)
          ? true
          : undefined;
      },
      WAIT_MS,
      HEARTBEAT_MS / 3,
    );
  }
}

// ---- the tests -------------------------------------------------------------------------

describe('blocks reserved ahead (reserveBlock, addBlock reservedBlockId) on a real NameNode and DataNodes', () => {
  it('a reservation after the first block, its pipeline built first, becomes the second block when addBlock names it', async () => {
    const file = '/reserve/attached';
    await client.createFile(file, { replication: REPLICATION, blockBytes: BLOCK });
    const first = await client.addBlock(file, null);
    const reserved = await reserve(file, first.block.blockId);
    expect(reserved.block.blockId).toBeGreaterThan(first.block.blockId);
    expect(reserved.block.genStamp).toBeGreaterThan(first.block.genStamp);
    expect(reserved.block.numBytes).toBe(0);
    expect(reserved.offset, 'where it starts once the first block is full').toBe(BLOCK);
    expect(reserved.locations).toHaveLength(REPLICATION);
    // Reserved, not the file's yet.
    expect(await blocksOf(file)).toEqual([[first.block.blockId, first.block.genStamp, 0]]);

    // As the writer does: the reserved block's pipeline is set up while the first streams.
    const ahead = await openPipeline(reserved);
    const data = testBytes(BLOCK + 3000, 31);
    await writeBlock(first, data.subarray(0, BLOCK));
    // The reserved targets, whatever the exclude list says (PROTOCOL.md: ignored when a
    // reserved block is attached; a new block would get two nodes here, not three).
    const attached = await attach(file, { ...first.block, numBytes: BLOCK }, reserved.block.blockId, client, [
      reserved.locations[0]!.nodeId,
    ]);
    expect(attached.block).toEqual(reserved.block);
    expect(attached.offset).toBe(BLOCK);
    expect(attached.locations).toEqual(reserved.locations);
    expect(await blocksOf(file)).toEqual([
      [first.block.blockId, first.block.genStamp, 0],
      [reserved.block.blockId, reserved.block.genStamp, BLOCK],
    ]);
    // Taken: naming it again is refused (it is the last block now, not a reservation after it).
    expect(await refusal(attach(file, attached.block, reserved.block.blockId))).toBe('NOT_FOUND');

    await sendLastPacket(ahead, reserved.block, data.subarray(BLOCK));
    await complete(file, { ...reserved.block, numBytes: 3000 });
    expect((await getBuffer(client, file)).equals(data)).toBe(true);
    // An attached reservation is the file's block: closing the file does not discard it.
    await twoHeartbeatsLater();
    for (const [i, d] of cluster.datanodes.entries())
      expect(
        logsMatching(d, { msg: 'replica deleted on NameNode request', block: reserved.block.blockId }),
        `DataNode ${i} deleted the attached block`,
      ).toEqual([]);
    const blocks = await expectReplicasOnDisk(cluster, client, file, data, REPLICATION);
    expect(blocks.map((b) => b.block.blockId)).toEqual([first.block.blockId, reserved.block.blockId]);
  });

  it('refusals: never reserved, reserved again, or after another block (NOT_FOUND); afterBlockId not the last (INVALID_ARGUMENT); lease errors as addBlock', async () => {
    const file = '/reserve/refused';
    await client.createFile(file, { replication: REPLICATION, blockBytes: BLOCK });
    // No block yet: nothing can be reserved, nor attached as the first block.
    expect(await refusal(reserve(file, 0))).toBe('INVALID_ARGUMENT');
    expect(await refusal(attach(file, null, 2 ** 40))).toBe('NOT_FOUND');
    const b1 = await client.addBlock(file, null);
    expect(await refusal(reserve(file, b1.block.blockId + 1_000_000))).toBe('INVALID_ARGUMENT');

    // A block id never reserved, with no reservation held and with one.
    expect(await refusal(attach(file, b1.block, b1.block.blockId + 1_000_000))).toBe('NOT_FOUND');
    const r1 = await reserve(file, b1.block.blockId);
    expect(await refusal(attach(file, b1.block, r1.block.blockId + 1_000_000))).toBe('NOT_FOUND');

    // Another client: the lease error addBlock gives, for reserveBlock and for an attach.
    const notHolder = await refusal(other.addBlock(file, b1.block));
    expect(notHolder).toBe('LEASE_CONFLICT');
    expect(await refusal(reserve(file, b1.block.blockId, other))).toBe(notHolder);
    expect(await refusal(attach(file, b1.block, r1.block.blockId, other))).toBe(notHolder);

    // Reserved again: the first reservation is replaced.
    const r2 = await reserve(file, b1.block.blockId);
    expect(r2.block.blockId).toBeGreaterThan(r1.block.blockId);
    expect(r2.block.genStamp).toBeGreaterThan(r1.block.genStamp);
    expect(await refusal(attach(file, b1.block, r1.block.blockId))).toBe('NOT_FOUND');

    // The writer adds a block the usual way instead: a new id, never the reserved one.
    const b2 = await client.addBlock(file, b1.block);
    expect(b2.block.blockId).toBeGreaterThan(r2.block.blockId);
    // The reservation followed b1: after b2 it is not found; with b1 as previous, b1 is not
    // the last block any more (the previous block is checked first).
    expect(await refusal(attach(file, b2.block, r2.block.blockId))).toBe('NOT_FOUND');
    expect(await refusal(attach(file, b1.block, r2.block.blockId))).toBe('INVALID_ARGUMENT');
    expect(await refusal(reserve(file, b1.block.blockId))).toBe('INVALID_ARGUMENT');
    // None of the refusals changed the file.
    expect(await blocksOf(file)).toEqual([
      [b1.block.blockId, b1.block.genStamp, 0],
      [b2.block.blockId, b2.block.genStamp, 0],
    ]);

    // A closed file (its two empty blocks abandoned): NO_LEASE, as addBlock.
    await client.abandonBlock(file, b2.block.blockId);
    await client.abandonBlock(file, b1.block.blockId);
    await complete(file, null);
    const closed = await refusal(client.addBlock(file, null));
    expect(closed).toBe('NO_LEASE');
    expect(await refusal(reserve(file, 0))).toBe(closed);
  });

  it('discarded reservations: their empty rbw replicas are deleted on every target; a full block report keeps them while reserved', async () => {
    const file = '/reserve/discarded';
    await client.createFile(file, { replication: REPLICATION, blockBytes: BLOCK });
    const b1 = await client.addBlock(file, null);
    const data = testBytes(BLOCK, 41);
    await writeBlock(b1, data);
    const after = { ...b1.block, numBytes: BLOCK };

    // Reserved again: the first reservation's replicas go, the file still open.
    const r1 = await reserve(file, b1.block.blockId);
    await buildAndClose(r1);
    const r2 = await reserve(file, b1.block.blockId);
    await expectDiscarded(r1);

    // The second one's rbw replicas, in a full block report while it is reserved: kept.
    await buildAndClose(r2);
    const targets = r2.locations.map((l) => l.nodeId);
    const asked = new Map<string, number>();
    for (const node of targets)
      asked.set(node, (await admin.namenodeClient.triggerBlockReport({ node })).lastBlockReportMs);
    await waitFor(
      "the targets' full block reports",
      async () =>
        (await client.datanodeReport()).every(
          (n) => !asked.has(n.nodeId) || n.lastBlockReportMs > asked.get(n.nodeId)!,
        )
          ? true
          : undefined,
      WAIT_MS,
    );
    // Each report lists one unfinished replica, the reservation's (r1's were deleted, b1's
    // finalized); the line is read from the NameNode's stdout a moment after.
    const reported = (node: string): Array<Record<string, unknown>> =>
      logsMatching(cluster.namenode, { msg: 'block report processed', node, unfinished: 1 });
    await waitFor(
      "the NameNode's log of the targets' reports",
      () => (targets.every((node) => reported(node).length > 0) ? true : undefined),
      WAIT_MS,
    );
    expect(
      targets.map((node) => reported(node).map((rec) => rec.unfinishedKept)),
      'rbw replicas of the reservation kept, per target',
    ).toEqual(targets.map(() => [1]));
    await twoHeartbeatsLater();
    expect(rbwHolders(r2.block.blockId), 'rbw replicas after the reports').toEqual(
      [...targetIndexes(r2)].sort((a, b) => a - b),
    );

    // The file completes without it: discarded.
    await complete(file, after);
    await expectDiscarded(r2);
    expect((await getBuffer(client, file)).equals(data)).toBe(true);
    expect(await blocksOf(file)).toEqual([[b1.block.blockId, b1.block.genStamp, 0]]);

    // A file deleted while open: its reservation goes too.
    const gone = '/reserve/deleted';
    await client.createFile(gone, { replication: REPLICATION, blockBytes: BLOCK });
    const g1 = await client.addBlock(gone, null);
    const r3 = await reserve(gone, g1.block.blockId);
    await buildAndClose(r3);
    await client.delete(gone);
    await expectDiscarded(r3);
  });

  it('end to end: `dfs put` of a six-block file reserves each next block and attaches every one; a stream of unknown length leaves one to discard; nothing left behind', async () => {
    // Two packets a block (the CLI's packets are 2 MiB): a writer reserves the second block
    // as the packet that fills the first block's first half goes, and each later one right
    // after it attaches the block before.
    const blockBytes = 4 * MiB;
    const data = testBytes(5 * blockBytes + 3 * MiB, 51);
    const source = path.join(local, 'six-blocks');
    fs.writeFileSync(source, data);
    const remote = '/reserve/e2e/six-blocks';
    await client.mkdir('/reserve/e2e', { parents: true });
    const httpPort = cluster.namenode.httpPort;
    let before = await scrape(httpPort);
    const put = await runDfs(
      cluster.namenodeAddress,
      ['put', '--replication', String(REPLICATION), '--block-size', '4M', source, remote],
      { timeoutMs: 30_000 },
    );
    ok(put);
    let metrics = await scrape(httpPort);
    const delta = (op: string, result: string): number =>
      sumOf(metrics, 'dfs_namenode_rpcs_total', { op, result }) -
      sumOf(before, 'dfs_namenode_rpcs_total', { op, result });
    // The file's size is known: one reservation per block after the first, none past the
    // end; each attached (sent right after the attach before it, which the NameNode serves
    // first), none refused.
    expect(delta('reserveBlock', 'ok'), 'reservations').toBe(5);
    expect(delta('reserveBlock', 'INVALID_ARGUMENT'), 'reservations refused').toBe(0);
    expect(delta('addBlock', 'ok'), 'addBlock calls').toBe(6);
    expect(delta('addBlock', 'NOT_FOUND'), 'attaches refused').toBe(0);

    const copy = path.join(local, 'six-blocks.copy');
    ok(await runDfs(cluster.namenodeAddress, ['get', remote, copy], { timeoutMs: 30_000 }));
    expect(fs.readFileSync(copy).equals(data)).toBe(true);
    const fsck = await runDfs(cluster.namenodeAddress, ['fsck', '/reserve/e2e'], { timeoutMs: 30_000 });
    expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
    expect(fsck.stdout).toMatch(/HEALTHY/);
    const blocks = await expectReplicasOnDisk(cluster, client, remote, data, REPLICATION);
    expect(blocks).toHaveLength(6);
    // Consecutive ids: every reserved block became the file's next block.
    const ids = blocks.map((b) => b.block.blockId);
    expect(ids.slice(1).map((id, i) => id - ids[i]!)).toEqual([1, 1, 1, 1, 1]);

    // The same bytes through a stream that does not know where it ends: the last block
    // reserves one more, whose pipeline is built, then closed when the file ends; the
    // NameNode discards it and its targets delete the rbw replica.
    const streamed = '/reserve/e2e/streamed';
    before = await scrape(httpPort);
    const out = client.create(streamed, { replication: REPLICATION, blockBytes, packetBytes: MiB });
    for (let at = 0; at < data.length; at += MiB) {
      if (!out.write(data.subarray(at, at + MiB))) await once(out, 'drain');
    }
    out.end();
    await finished(out);
    metrics = await scrape(httpPort);
    expect(delta('reserveBlock', 'ok'), 'reservations, one past the end').toBe(6);
    expect(delta('addBlock', 'NOT_FOUND'), 'attaches refused').toBe(0);
    const streamedBlocks = await expectReplicasOnDisk(cluster, client, streamed, data, REPLICATION);
    const discarded = streamedBlocks[5]!.block.blockId + 1;
    const rbwLeft = (): string[] =>
      cluster.datanodes.flatMap((_, i) => {
        const dir = path.join(cluster.dataDir(i), 'current', 'rbw');
        return fs.existsSync(dir) ? fs.readdirSync(dir).map((n) => `${i}:${n}`) : [];
      });
    const logged = (msg: string): number[] =>
      cluster.datanodes.map((d) => logsMatching(d, { msg, block: discarded }).length);
    await waitFor(
      'no rbw replica left on any DataNode, the discarded one deleted on request',
      () =>
        rbwLeft().length === 0 && logged('replica deleted on NameNode request').every((n) => n > 0)
          ? true
          : undefined,
      WAIT_MS,
    );
    expect(
      logged('upstream closed before any packet'),
      "the unused reservation's pipeline, per node",
    ).toEqual([1, 1, 1]);
    expect(logged('replica deleted on NameNode request'), 'its replica deleted, per node').toEqual([1, 1, 1]);
  });

  it('kill -9 of the NameNode: the restarted NameNode knows no reservation, and never gives its id or stamp again', async () => {
    const file = '/reserve/restart';
    await client.createFile(file, { replication: REPLICATION, blockBytes: BLOCK });
    const b1 = await client.addBlock(file, null);
    const reserved = await reserve(file, b1.block.blockId);

    await cluster.namenode.kill();
    await cluster.restartNamenode();
    await cluster.waitWritable(30_000);

    expect(await refusal(attach(file, b1.block, reserved.block.blockId))).toBe('NOT_FOUND');
    const b2 = await client.addBlock(file, b1.block);
    expect(b2.block.blockId, 'the next block id after a reserved one').toBeGreaterThan(
      reserved.block.blockId,
    );
    expect(b2.block.genStamp, 'the next stamp after a reserved one').toBeGreaterThan(reserved.block.genStamp);
    expect(await blocksOf(file)).toEqual([
      [b1.block.blockId, b1.block.genStamp, 0],
      [b2.block.blockId, b2.block.genStamp, 0],
    ]);
  });
});
