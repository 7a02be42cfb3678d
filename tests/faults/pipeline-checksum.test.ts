/**
 * Checksums on a real three-DataNode write pipeline (src/datanode/block-receiver.ts,
 * `verifies`): only the LAST node of a pipeline verifies chunk checksums; the nodes in
 * between forward and store without verifying, as in HDFS. A writer speaking the data
 * protocol by hand opens WRITE_BLOCK for a block the NameNode really allocated (create +
 * addBlock at replication 3) on the first DataNode, with the other two as targets, and
 * sends a packet whose checksum does not match its bytes:
 *
 * - the ack that comes back blames the last node (ERROR_CHECKSUM at position 2, SUCCESS
 *   at 0 and 1: the first two did not verify), and the connection is closed;
 * - no node holds a FINALIZED replica of the block (each keeps its rbw copy, as after any
 *   pipeline failure), also when the bad packet is the LAST packet of the block, or is
 *   followed right away by a good last packet: a node that does not verify must not
 *   finalize before the node that does has acked the last packet. Those two cases pause
 *   the last node (SIGSTOP) until the first two have stored every byte, so the order is
 *   the same every run: a node that finalized on its own disk write (without waiting for
 *   its mirror's ack) would be caught every time, not only when it wins a race;
 * - the DataNodes keep serving: a normal put/get at replication 3 works, bytes equal.
 *
 * Second part, sync-behind-writes: DataNodes that fdatasync every 64 KiB while a block
 * streams still store every replica of a 3-block file byte for byte.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { AckStatus, type Block, type DatanodeInfo } from '../../protocol/index.js';
import { DfsClient } from '../../src/client/dfs-client.js';
import { DATANODE_DEFAULTS, resolveConfig, type DataNodeConfig } from '../../src/common/config.js';
import { startCluster, tempDir } from '../support/cluster.js';
import {
  expectReplicasOnDisk,
  getBuffer,
  nodeIndexById,
  nodesWithFinalized,
  putBuffer,
  replicaDir,
  testBytes,
  waitFor,
  waitForDatanodes,
  logsMatching,
} from '../support/data-path.js';
import {
  awaitWriteBlockAnswer,
  connectData,
  dataReplies,
  packetFrame,
  writeBlockRequest,
} from '../support/raw-data-peer.js';
import type { RawPeer } from '../support/raw-peer.js';
import { matchAny } from '../support/matchers.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const CHUNK = 1024;
const REPLICATION = 3;

describe('checksums on a three-node pipeline (only the last node verifies)', () => {
  let cluster: LocalCluster;
  let cleanup: () => Promise<void>;
  let client: DfsClient;
  const peers: RawPeer[] = [];
  let fileNo = 0;

  beforeAll(async () => {
    ({ cluster, cleanup } = await startCluster({
      datanodes: 3,
      datanodeEnv: () => ({
        DFS_DATANODE_HEARTBEAT_INTERVAL_MS: '300',
        DFS_DATANODE_FRAME_TIMEOUT_MS: '5000',
      }),
    }));
    client = new DfsClient({ namenode: cluster.namenodeAddress });
    await waitForDatanodes(client, 3);
  });

  afterAll(async () => {
    for (const p of peers) p.destroy();
    client?.close();
    await cleanup?.();
  });

  /** A real file and its first block, allocated by the NameNode on all three DataNodes. */
  async function allocateBlock(): Promise<{ remote: string; block: Block; locations: DatanodeInfo[] }> {
    const remote = `/pipeline-checksum/f${fileNo++}`;
    await client.createFile(remote, { replication: REPLICATION, blockBytes: MiB });
    const lb = await client.addBlock(remote, null);
    expect(lb.locations).toHaveLength(REPLICATION);
    expect(new Set(lb.locations.map((l) => l.nodeId)).size).toBe(REPLICATION);
    return { remote, block: lb.block, locations: lb.locations };
  }

  /** Opens WRITE_BLOCK on the first location with the other two as targets. */
  async function openPipeline(block: Block, locations: DatanodeInfo[]): Promise<RawPeer> {
    const p = await connectData(locations[0]!.port);
    peers.push(p);
    p.write(writeBlockRequest(block.blockId, CHUNK, locations.slice(1), 1, block.genStamp));
    expect(await awaitWriteBlockAnswer(p)).toBe('');
    return p;
  }

  /**
   * After the pipeline broke: wait until every DataNode reports, in a heartbeat sent after
   * the connection closed, no transfer under way (every receiver has finished or failed,
   * so a finalize would have happened by now), then check
   * that every node has the rbw copy it was writing and none finalized it.
   */
  async function expectNoFinalizedReplica(
    p: RawPeer,
    block: Block,
    locations: DatanodeInfo[],
  ): Promise<void> {
    const closedAtMs = p.closedAtMs!;
    await waitFor(
      'every DataNode to report no transfer under way in a heartbeat after the pipeline closed',
      async () => {
        const askedAtMs = Date.now();
        const report = await client.datanodeReport();
        const fresh = (n: { lastHeartbeatAgoMs: number }): boolean =>
          askedAtMs - n.lastHeartbeatAgoMs > closedAtMs;
        return report.length === 3 && report.every((n) => fresh(n) && n.activeTransfers === 0)
          ? true
          : undefined;
      },
      10_000,
      100,
    );
    const byId = nodeIndexById(cluster);
    const indexes = locations.map((l) => byId.get(l.nodeId)!);
    expect(indexes.every((i) => i !== undefined)).toBe(true);
    // The nodes' own record first (the NameNode's clean-up cannot race it), then the disks.
    for (const [pos, i] of indexes.entries())
      expect(
        logsMatching(cluster.datanodes[i]!, { msg: 'replica finalized', block: block.blockId }),
        `pipeline position ${pos} logged finalizing block ${block.blockId}`,
      ).toEqual([]);
    const finalized = nodesWithFinalized(cluster, block.blockId);
    expect(
      finalized.map((i) => indexes.indexOf(i)),
      `pipeline positions with a FINALIZED replica of block ${block.blockId}`,
    ).toEqual([]);
    for (const [pos, i] of indexes.entries()) {
      expect(
        fs.existsSync(replicaDir(cluster, i, 'rbw', block.blockId)),
        `rbw copy at pipeline position ${pos}`,
      ).toBe(true);
    }
  }

  /** The ack blaming the last node: SUCCESS from the first two (they did not verify). */
  const LAST_NODE_BLAMED = [AckStatus.SUCCESS, AckStatus.SUCCESS, AckStatus.ERROR_CHECKSUM];

  it('a wrong checksum after a good packet is reported by the last node; nothing is finalized', async () => {
    const { block, locations } = await allocateBlock();
    const p = await openPipeline(block, locations);
    const data = testBytes(8 * CHUNK, 11);
    p.write(
      packetFrame({
        blockId: block.blockId,
        offsetInBlock: 0,
        seqno: 0,
        payload: data.subarray(0, 4 * CHUNK),
        chunkBytes: CHUNK,
      }),
    );
    p.write(
      packetFrame({
        blockId: block.blockId,
        offsetInBlock: 4 * CHUNK,
        seqno: 1,
        payload: data.subarray(4 * CHUNK),
        chunkBytes: CHUNK,
        corruptChecksum: 2,
      }),
    );
    await p.waitClosed(10_000);
    const { acks } = dataReplies(p);
    // The good packet may be acked before the failure, or the failure ack may carry its
    // seqno (the oldest packet not yet acked); either way exactly one failure ack.
    const failures = acks.filter((a) => a.statuses.some((s) => s !== AckStatus.SUCCESS));
    expect(failures).toEqual([{ seqno: matchAny(Number), statuses: LAST_NODE_BLAMED }]);
    expect(acks.filter((a) => a.seqno === 1 && a.statuses.every((s) => s === AckStatus.SUCCESS))).toEqual([]);
    for (const a of acks) expect(a.statuses).toHaveLength(REPLICATION);
    await expectNoFinalizedReplica(p, block, locations);
  });

  /**
   * Sends `frames` down the pipeline while the last node is paused (SIGSTOP), waits until
   * the first two nodes hold every byte on disk (rbw or finalized), then resumes the last
   * node. So the first two are done writing before the only node that verifies has seen
   * the bad packet, every time: whatever they do next must wait for its answer.
   */
  async function sendWhileLastNodePaused(
    p: RawPeer,
    block: Block,
    locations: DatanodeInfo[],
    frames: Buffer,
    totalBytes: number,
  ): Promise<void> {
    const byId = nodeIndexById(cluster);
    const [first, second, last] = locations.map((l) => byId.get(l.nodeId)!);
    const lastPid = cluster.datanodes[last!]!.pid!;
    process.kill(lastPid, 'SIGSTOP');
    try {
      p.write(frames);
      await waitFor(
        'the first two nodes to store every byte of the block',
        () => {
          const stored = [first!, second!].map((i) => storedBytes(i, block.blockId));
          return stored.every((n) => n === totalBytes) ? true : undefined;
        },
        10_000,
        10,
      );
    } finally {
      process.kill(lastPid, 'SIGCONT');
    }
  }

  /** Bytes in the data file of DataNode i's replica of `blockId` (rbw or finalized), -1 if none. */
  function storedBytes(i: number, blockId: number): number {
    for (const state of ['rbw', 'finalized'] as const) {
      try {
        return fs.statSync(path.join(replicaDir(cluster, i, state, blockId), 'data')).size;
      } catch {
        // not in this state (or moved between the two just now): look again
      }
    }
    return -1;
  }

  it('a wrong checksum on the LAST packet: no node finalizes the block', async () => {
    const { block, locations } = await allocateBlock();
    const p = await openPipeline(block, locations);
    const data = testBytes(6 * CHUNK + 100, 12);
    await sendWhileLastNodePaused(
      p,
      block,
      locations,
      Buffer.concat([
        packetFrame({
          blockId: block.blockId,
          offsetInBlock: 0,
          seqno: 0,
          payload: data.subarray(0, 4 * CHUNK),
          chunkBytes: CHUNK,
        }),
        packetFrame({
          blockId: block.blockId,
          offsetInBlock: 4 * CHUNK,
          seqno: 1,
          last: true,
          payload: data.subarray(4 * CHUNK),
          chunkBytes: CHUNK,
          corruptChecksum: 1,
        }),
      ]),
      data.length,
    );
    await p.waitClosed(10_000);
    const { acks } = dataReplies(p);
    expect(acks.filter((a) => a.statuses.some((s) => s !== AckStatus.SUCCESS))).toEqual([
      { seqno: matchAny(Number), statuses: LAST_NODE_BLAMED },
    ]);
    expect(acks.some((a) => a.seqno === 1 && a.statuses.every((s) => s === AckStatus.SUCCESS))).toBe(false);
    await expectNoFinalizedReplica(p, block, locations);
  });

  it('a wrong checksum followed by a good LAST packet: no node finalizes the block', async () => {
    const { block, locations } = await allocateBlock();
    const p = await openPipeline(block, locations);
    const data = testBytes(8 * CHUNK + 300, 13);
    await sendWhileLastNodePaused(
      p,
      block,
      locations,
      Buffer.concat([
        packetFrame({
          blockId: block.blockId,
          offsetInBlock: 0,
          seqno: 0,
          payload: data.subarray(0, 4 * CHUNK),
          chunkBytes: CHUNK,
          corruptChecksum: 0,
        }),
        packetFrame({
          blockId: block.blockId,
          offsetInBlock: 4 * CHUNK,
          seqno: 1,
          last: true,
          payload: data.subarray(4 * CHUNK),
          chunkBytes: CHUNK,
        }),
      ]),
      data.length,
    );
    await p.waitClosed(10_000);
    const { acks } = dataReplies(p);
    expect(acks).toEqual([{ seqno: 0, statuses: LAST_NODE_BLAMED }]);
    await expectNoFinalizedReplica(p, block, locations);
  });

  it('afterwards every DataNode still serves a normal replicated put and get', async () => {
    const data = testBytes(700 * KiB + 13, 14);
    const remote = '/pipeline-checksum/healthy';
    await putBuffer(client, remote, data, {
      replication: REPLICATION,
      blockBytes: 256 * KiB,
      chunkBytes: 4 * KiB,
      packetBytes: 64 * KiB,
    });
    expect((await getBuffer(client, remote)).equals(data)).toBe(true);
    // Every block on all three nodes, byte for byte.
    const blocks = await expectReplicasOnDisk(cluster, client, remote, data, REPLICATION);
    expect(blocks).toHaveLength(3);
    for (const d of cluster.datanodes) expect(d.running).toBe(true);
  });
});

describe('sync-behind-writes (fdatasync every 64 KiB while a block streams)', () => {
  const SYNC_EVERY = 64 * KiB;
  let cluster: LocalCluster;
  let cleanup: () => Promise<void>;
  let client: DfsClient;
  let local: string;

  beforeAll(async () => {
    ({ cluster, cleanup } = await startCluster({
      datanodes: 3,
      datanodeEnv: () => ({ DFS_DATANODE_SYNC_BEHIND_WRITES_BYTES: String(SYNC_EVERY) }),
    }));
    client = new DfsClient({ namenode: cluster.namenodeAddress });
    await waitForDatanodes(client, 3);
    local = tempDir('dfs-sync-behind-');
  });

  afterAll(async () => {
    client?.close();
    await cleanup?.();
    if (local !== undefined) fs.rmSync(local, { recursive: true, force: true });
  });

  it('the variable the DataNodes get is the one their configuration reads', () => {
    const config = resolveConfig<DataNodeConfig>('datanode', DATANODE_DEFAULTS, {
      env: { DFS_DATANODE_SYNC_BEHIND_WRITES_BYTES: String(SYNC_EVERY) },
    });
    expect(config.syncBehindWritesBytes).toBe(SYNC_EVERY);
    expect(config.syncOnFinalize).toBe(true);
  });

  it('a 3 MiB file at replication 3 in 1 MiB blocks reads back equal, and every replica on disk is its slice', async () => {
    const data = testBytes(3 * MiB, 21);
    const source = path.join(local, 'source');
    const copy = path.join(local, 'copy');
    fs.writeFileSync(source, data);
    const remote = '/sync-behind/three-blocks';
    await client.put(source, remote, { replication: REPLICATION, blockBytes: MiB });
    await client.get(remote, copy);
    expect(fs.readFileSync(copy).equals(data)).toBe(true);
    const blocks = await expectReplicasOnDisk(cluster, client, remote, data, REPLICATION);
    expect(blocks.map((b) => b.block.numBytes)).toEqual([MiB, MiB, MiB]);
  });
});
