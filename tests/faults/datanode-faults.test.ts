/**
 * DataNode failures on the data path, across real processes (README "Guarantees":
 * checksummed data, pipelined and recoverable writes):
 *
 * - SIGKILL during an upload at replication 3: a node crashing itself after N packets
 *   (DFS_FAULTS crashAfterPackets) at each pipeline position, and a node killed on a timer
 *   during an upload slowed by delayed acks. The upload succeeds through pipeline recovery
 *   (new generation stamp, survivors keep the acknowledged prefix), the file reads back
 *   identical, and the survivors' replicas on disk carry the new stamp and the right bytes.
 * - A node dead before the first packet (killed before the upload while the NameNode still
 *   thinks it live, or killed right after addBlock named it), at each pipeline position:
 *   the client excludes it and writes through the others.
 * - A node killed right after it received the last packet of a block, and one killed while
 *   the client calls complete.
 * - A corrupted replica (flipped data bytes, a flipped stored checksum, a truncated data
 *   file): reads return the right bytes from another replica, the NameNode is told and
 *   schedules the bad replica's deletion, and the node deletes it.
 * - Every replica of a block gone: the read fails, promptly, with BLOCK_UNAVAILABLE naming
 *   the block, both before and after the NameNode has noticed the nodes are dead.
 * - A full disk (reserved bytes beyond the disk) and a read-only replica directory: the
 *   node refuses the block with NO_SPACE / ACCESS_DENIED and the write goes on elsewhere.
 *
 * The NameNode picks pipelines at random; where a test needs a node at a given position
 * (or needs a node the NameNode knows to be full to be asked anyway, as a NameNode whose
 * last heartbeat from it is stale would), `steerPlacement` rewrites addBlock's answer on
 * the client side. The client's own exclusion and recovery logic is what is under test.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalCluster, LocalClusterOptions } from '../../src/local/local-cluster.js';
import { DfsClient } from '../../src/client/dfs-client.js';
import type { DfsOutputStream } from '../../src/client/dfs-output-stream.js';
import { DfsError, type DatanodeInfo } from '../../protocol/index.js';
import { startCluster } from '../support/cluster.js';
import {
  datanodeInfo,
  expectReplicasOnDisk,
  finalizedBlockIds,
  getBuffer,
  logsMatching,
  nodeIdOf,
  nodeIndexById,
  nodesWithFinalized,
  putBuffer,
  replicaDir,
  steerPlacement,
  testBytes,
  waitFor,
  waitForDatanodes,
  withNodeAt,
  within,
} from '../support/data-path.js';

const KiB = 1024;
const BLOCK = 256 * KiB;
const PACKET = 64 * KiB;
const CHUNK = 4 * KiB;
/** 4 packets per block. */
const LAYOUT = { blockBytes: BLOCK, packetBytes: PACKET, chunkBytes: CHUNK };

/** Blocks named by the stream's recovery messages, each of which must name `nodeId`. */
function recoveredBlockIds(recoveries: readonly string[], nodeId: string): Set<number> {
  const ids = new Set<number>();
  for (const m of recoveries) {
    expect(m).toMatch(`rebuilt without ${nodeId} `);
    ids.add(Number(/block (\d+)/.exec(m)![1]));
  }
  return ids;
}

let running: Array<{ cleanup: () => Promise<void>; client: DfsClient | null }> = [];

afterEach(async () => {
  const r = running;
  running = [];
  for (const { cleanup, client } of r) {
    client?.close();
    await cleanup();
  }
});

async function setUp(
  options: Partial<LocalClusterOptions>,
): Promise<{ cluster: LocalCluster; client: DfsClient }> {
  const { cluster, cleanup } = await startCluster(options);
  const entry = { cleanup, client: null as DfsClient | null };
  running.push(entry);
  const client = new DfsClient({ namenode: cluster.namenodeAddress });
  entry.client = client;
  await waitForDatanodes(client, cluster.datanodes.length);
  return { cluster, client };
}

/** Records the pipeline of every addBlock answer, optionally rewriting it. */
function recordPipelines(client: DfsClient, steer?: Parameters<typeof steerPlacement>[1]): DatanodeInfo[][] {
  const seen: DatanodeInfo[][] = [];
  steerPlacement(client, async (locations, exclude, call) => {
    const out = steer ? await steer(locations, exclude, call) : locations;
    seen.push(out);
    return out;
  });
  return seen;
}

describe('a DataNode killed in the middle of an upload at replication 3', () => {
  for (const position of [0, 1, 2]) {
    it(`crashing itself after 6 packets at pipeline position ${position}`, async () => {
      // DataNode 3 dies on its 6th packet: the 2nd packet of the 2nd block.
      const { cluster, client } = await setUp({
        datanodes: 4,
        datanodeEnv: (i: number) => (i === 3 ? { DFS_FAULTS: JSON.stringify({ crashAfterPackets: 6 }) } : {}),
      });
      const victim = datanodeInfo(cluster, 3);
      const pipelines = recordPipelines(client, (locs, exclude) =>
        withNodeAt(locs, victim, position, exclude),
      );
      const recoveries: string[] = [];
      const data = testBytes(4 * BLOCK + 777, 10 + position);
      await within(
        60_000,
        'upload',
        putBuffer(
          client,
          `/crash/p${position}`,
          data,
          { replication: 3, ...LAYOUT },
          {
            onStream: (s) => s.on('recovery', (m: string) => recoveries.push(m)),
          },
        ),
      );

      expect(cluster.datanodes[3]!.running).toBe(false);
      expect(pipelines[1]![position]!.nodeId).toBe(victim.nodeId);
      expect((await getBuffer(client, `/crash/p${position}`)).equals(data)).toBe(true);
      // Block 1 lost the victim mid-block (two survivors, new generation stamp). Block 0's
      // last acks may still have been on their way (the next block does not wait for
      // them), so it may have been recovered without the victim too; later blocks
      // excluded the dead node.
      const recovered = recoveredBlockIds(recoveries, victim.nodeId);
      const located = (await client.getBlockLocations(`/crash/p${position}`, 0, 0)).blocks;
      expect(recovered.has(located[1]!.block.blockId), 'block 1 recovered').toBe(true);
      expect(recoveries.length).toBe(recovered.size);
      // A recovered block has its two survivors, or three once the replication monitor has
      // copied it again (the file is complete, the block under-replicated).
      const blocks = await expectReplicasOnDisk(
        cluster,
        client,
        `/crash/p${position}`,
        data,
        (i) => (recovered.has(located[i]!.block.blockId) ? [2, 3] : 3),
        { deadNodes: [3] },
      );
      expect(nodesWithFinalized(cluster, blocks[1]!.block.blockId)).not.toContain(3);
      for (const lb of blocks.slice(2))
        expect(nodesWithFinalized(cluster, lb.block.blockId)).not.toContain(3);
    });
  }

  it('killed with SIGKILL on a timer during an upload slowed by delayed acks', async () => {
    const { cluster, client } = await setUp({
      datanodes: 4,
      datanodeEnv: () => ({ DFS_FAULTS: JSON.stringify({ ackDelayMs: 15 }) }),
    });
    const pipelines = recordPipelines(client);
    const recoveries: string[] = [];
    const data = testBytes(8 * BLOCK + 99, 21);
    let stream: DfsOutputStream | null = null;
    let uploadDone = false;
    const upload = putBuffer(
      client,
      '/timer/file',
      data,
      { replication: 3, ...LAYOUT, windowBytes: 2 * PACKET },
      {
        onStream: (s) => {
          stream = s;
          s.on('recovery', (m: string) => recoveries.push(m));
        },
      },
    );
    void upload.then(
      () => (uploadDone = true),
      () => (uploadDone = true),
    );
    // Once the first packet of the second block is acknowledged, kill the middle node of
    // its pipeline (a timer that fires mid-block, not a packet count). Placements are
    // recorded block by block (a block reserved ahead when it is reserved, so the last one
    // may be the third block's, not yet used): the second block's is the second.
    await waitFor(
      'the second block to be under way',
      () => ((stream?.bytesAcked ?? 0) > BLOCK ? true : undefined),
      20_000,
      2,
    );
    expect(uploadDone, 'the upload was still running when the node was killed').toBe(false);
    const middle = pipelines[1]![1]!;
    const killed = nodeIndexById(cluster).get(middle.nodeId)!;
    await cluster.datanodes[killed]!.kill();
    await within(60_000, 'upload', upload);

    const recovered = recoveredBlockIds(recoveries, middle.nodeId);
    expect(recovered.size, 'pipeline recoveries').toBeGreaterThanOrEqual(1);
    expect(recoveries.length).toBe(recovered.size);
    expect((await getBuffer(client, '/timer/file')).equals(data)).toBe(true);
    // Every replica the NameNode names holds the right bytes; the blocks cut short have
    // their two survivors (or three once the replication monitor has copied them again);
    // none has fewer than two.
    const located = (await client.getBlockLocations('/timer/file', 0, 0)).blocks;
    const onDisk = (i: number): number => nodesWithFinalized(cluster, located[i]!.block.blockId).length;
    const want = (i: number): number | number[] =>
      recovered.has(located[i]!.block.blockId) ? [2, 3] : onDisk(i);
    await expectReplicasOnDisk(cluster, client, '/timer/file', data, want, { deadNodes: [killed] });
    expect(want(0)).toBe(3);
    for (const [i, lb] of located.entries()) {
      expect(onDisk(i)).toBeGreaterThanOrEqual(2);
      if (recovered.has(lb.block.blockId) || i > 1)
        expect(lb.locations.map((l) => l.nodeId)).not.toContain(middle.nodeId);
    }
  });
});

describe('a DataNode dead before the first packet', () => {
  it('killed before the upload (the NameNode still thinks it live), at each pipeline position', async () => {
    const { cluster, client } = await setUp({ datanodes: 3 });
    const dead = datanodeInfo(cluster, 1);
    await cluster.datanodes[1]!.kill();
    for (const position of [null, 0, 1, 2] as const) {
      const remote = `/dead/${position ?? 'any'}`;
      const undo =
        position === null
          ? () => {}
          : steerPlacement(client, (locs, exclude) => withNodeAt(locs, dead, position, exclude));
      const data = testBytes(3 * BLOCK + 5, 30 + (position ?? 9));
      const started = Date.now();
      await within(
        30_000,
        `upload ${remote}`,
        putBuffer(client, remote, data, { replication: 3, ...LAYOUT }),
      );
      undo();
      expect(Date.now() - started, 'a refused connection is noticed at once').toBeLessThan(15_000);
      expect((await getBuffer(client, remote)).equals(data)).toBe(true);
      const blocks = await expectReplicasOnDisk(cluster, client, remote, data, 2);
      for (const lb of blocks) expect(lb.locations.map((l) => l.nodeId)).not.toContain(dead.nodeId);
    }
  });

  for (const position of [0, 2]) {
    it(`killed right after addBlock named it, at pipeline position ${position}`, async () => {
      const { cluster, client } = await setUp({ datanodes: 3 });
      const victim = datanodeInfo(cluster, 2);
      steerPlacement(client, async (locs, exclude, call) => {
        const out = withNodeAt(locs, victim, position, exclude);
        if (call === 0) await cluster.datanodes[2]!.kill();
        return out;
      });
      const data = testBytes(2 * BLOCK + 3, 40 + position);
      await within(
        30_000,
        'upload',
        putBuffer(client, `/after-add/p${position}`, data, { replication: 3, ...LAYOUT }),
      );
      expect((await getBuffer(client, `/after-add/p${position}`)).equals(data)).toBe(true);
      await expectReplicasOnDisk(cluster, client, `/after-add/p${position}`, data, 2);
      expect(finalizedBlockIds(cluster, 2)).toEqual([]);
    });
  }
});

describe('a DataNode killed at the end of a block', () => {
  for (const position of [0, 2]) {
    it(`right after it received the last packet (pipeline position ${position})`, async () => {
      // One block of 4 full packets and a partial last one: the victim dies on packet 5.
      const data = testBytes(4 * PACKET + 1234, 50 + position);
      const { cluster, client } = await setUp({
        datanodes: 3,
        datanodeEnv: (i: number) => (i === 0 ? { DFS_FAULTS: JSON.stringify({ crashAfterPackets: 5 }) } : {}),
      });
      const victim = datanodeInfo(cluster, 0);
      steerPlacement(client, (locs, exclude) => withNodeAt(locs, victim, position, exclude));
      const recoveries: string[] = [];
      await within(
        30_000,
        'upload',
        putBuffer(
          client,
          `/last/p${position}`,
          data,
          { replication: 3, blockBytes: 1024 * KiB, packetBytes: PACKET, chunkBytes: CHUNK },
          {
            onStream: (s) => s.on('recovery', (m: string) => recoveries.push(m)),
          },
        ),
      );
      expect(cluster.datanodes[0]!.running).toBe(false);
      expect(recoveredBlockIds(recoveries, victim.nodeId).size).toBe(1);
      expect((await getBuffer(client, `/last/p${position}`)).equals(data)).toBe(true);
      const [lb] = await expectReplicasOnDisk(cluster, client, `/last/p${position}`, data, 2);
      expect(lb!.locations.map((l) => l.nodeId)).not.toContain(victim.nodeId);
      expect(fs.existsSync(replicaDir(cluster, 0, 'finalized', lb!.block.blockId))).toBe(false);
    });
  }

  it('while the client calls complete', async () => {
    const { cluster, client } = await setUp({ datanodes: 4 });
    const pipelines = recordPipelines(client);
    let victim = -1;
    const namenode = client.namenodeClient;
    const complete = namenode.complete.bind(namenode);
    namenode.complete = async (req) => {
      if (victim < 0) {
        // The first node of the third (last) block's pipeline; a fourth placement, if any,
        // is the block reserved after it, unused.
        victim = nodeIndexById(cluster).get(pipelines[2]![0]!.nodeId)!;
        await cluster.datanodes[victim]!.kill();
      }
      return complete(req);
    };
    const data = testBytes(2 * BLOCK + 17, 60);
    await within(30_000, 'upload', putBuffer(client, '/complete/file', data, { replication: 3, ...LAYOUT }));
    expect(victim).toBeGreaterThanOrEqual(0);
    expect((await client.stat('/complete/file')).length).toBe(data.length);
    // The NameNode may still list the dead node: the reader fails over from it.
    const failovers: string[] = [];
    const stream = client.open('/complete/file');
    stream.on('failover', (e: { replica: string }) => failovers.push(e.replica));
    const parts: Buffer[] = [];
    for await (const b of stream) parts.push(b as Buffer);
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    for (const f of failovers) expect(f).toBe(nodeIdOf(cluster, victim));
    // Every replica the NameNode names holds the right bytes (the victim may have died
    // before reporting its copy of the last block: first nodes finalize after the
    // downstream ack); every node finalized every block before the client's last ack.
    const located = (await client.getBlockLocations('/complete/file', 0, 0)).blocks;
    for (const lb of located) expect(lb.locations.length).toBeGreaterThanOrEqual(2);
    await expectReplicasOnDisk(
      cluster,
      client,
      '/complete/file',
      data,
      (i: number) => located[i]!.locations.length,
      { deadNodes: [victim] },
    );
    // Every node of each block's pipeline finalized it. A fourth copy may exist: when the victim
    // died before reporting its replica, the NameNode copies the block, and a copy sent to the
    // victim (not yet known dead) fails, is reported and goes to the fourth node at once.
    const indexOf = nodeIndexById(cluster);
    expect(located).toHaveLength(3);
    located.forEach((lb, i) => {
      const holders = nodesWithFinalized(cluster, lb.block.blockId);
      for (const n of pipelines[i]!) expect(holders).toContain(indexOf.get(n.nodeId));
    });
  });
});

describe('a corrupted replica', () => {
  it('is skipped by readers, reported to the NameNode, replaced and deleted', async () => {
    // The background scanner is off so that the reader is the one to find the damage.
    const { cluster, client } = await setUp({
      datanodes: 4,
      datanodeEnv: () => ({
        DFS_DATANODE_HEARTBEAT_INTERVAL_MS: '300',
        DFS_DATANODE_SCAN_BYTES_PER_SECOND: '0',
      }),
    });
    const data = testBytes(3 * BLOCK + 4321, 70);
    await putBuffer(client, '/corrupt/file', data, { replication: 3, ...LAYOUT });
    const blocks = await expectReplicasOnDisk(cluster, client, '/corrupt/file', data, 3);
    // Block 0: flipped data bytes. Block 1: a flipped stored checksum. Block 3 (the short
    // last block): the data file cut short. Each on a different node holding it.
    const kinds = [
      [0, 'data'],
      [1, 'meta'],
      [3, 'truncate'],
    ] as const;
    const damage = kinds.map(([block, what], k) => ({
      block,
      what,
      node: nodesWithFinalized(cluster, blocks[block]!.block.blockId)[k % 3]!,
    }));
    for (const d of damage) {
      const dir = replicaDir(cluster, d.node, 'finalized', blocks[d.block]!.block.blockId);
      if (d.what === 'data') {
        const file = path.join(dir, 'data');
        const bytes = fs.readFileSync(file);
        for (const at of [1000, 1001, 50_000]) bytes[at] = bytes[at]! ^ 0xff;
        fs.writeFileSync(file, bytes);
      } else if (d.what === 'meta') {
        const file = path.join(dir, 'meta');
        const bytes = fs.readFileSync(file);
        bytes[24 + 4 * 5] = bytes[24 + 4 * 5]! ^ 0x10;
        fs.writeFileSync(file, bytes);
      } else {
        fs.truncateSync(path.join(dir, 'data'), 1000);
      }
    }
    // Whole-block range reads, again and again: each read starts at another replica, so
    // every damaged one is tried; every read must still return the right bytes.
    const reported = (d: (typeof damage)[number]): boolean =>
      logsMatching(cluster.namenode, {
        msg: 'replica reported corrupt; scheduling deletion',
        node: nodeIdOf(cluster, d.node),
        block: blocks[d.block]!.block.blockId,
      }).length > 0;
    for (const d of damage) {
      const lb = blocks[d.block]!;
      const failovers: string[] = [];
      for (let attempt = 0; attempt < 6 && !reported(d); attempt++) {
        const stream = client.open('/corrupt/file', { offset: lb.offset, length: lb.block.numBytes });
        stream.on('failover', (e: { replica: string; error: string }) =>
          failovers.push(`${e.replica}: ${e.error}`),
        );
        const parts: Buffer[] = [];
        for await (const b of stream) parts.push(b as Buffer);
        expect(
          Buffer.concat(parts).equals(data.subarray(lb.offset, lb.offset + lb.block.numBytes)),
          `block ${d.block} read ${attempt}`,
        ).toBe(true);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(
        reported(d),
        `NameNode log for block ${d.block} on node ${d.node} (${d.what}); failovers: ${failovers.join(' | ')}`,
      ).toBe(true);
      expect(failovers.length, 'the reader failed over from the damaged replica').toBeGreaterThanOrEqual(1);
      for (const f of failovers) expect(f.startsWith(`${nodeIdOf(cluster, d.node)}: `), f).toBe(true);
    }
    // The whole file still reads back, and the NameNode no longer hands out the bad replicas.
    expect((await getBuffer(client, '/corrupt/file')).equals(data)).toBe(true);
    const located = (await client.getBlockLocations('/corrupt/file', 0, 0)).blocks;
    for (const d of damage)
      expect(located[d.block]!.locations.map((l) => l.nodeId)).not.toContain(nodeIdOf(cluster, d.node));
    // Self-healing: each damaged block is copied to the fourth
    // node, then the bad copy is deleted; in the end every replica on disk is good again.
    for (const d of damage) {
      await waitFor(
        `block ${d.block}: bad copy on node ${d.node} replaced and deleted`,
        () => {
          const holders = nodesWithFinalized(cluster, blocks[d.block]!.block.blockId);
          return holders.length === 3 && !holders.includes(d.node) ? true : undefined;
        },
        20_000,
        100,
      );
    }
    await expectReplicasOnDisk(cluster, client, '/corrupt/file', data, 3);
  });
});

describe('every replica of a block unavailable', () => {
  it('fails the read promptly with BLOCK_UNAVAILABLE naming the block', async () => {
    const { cluster, client } = await setUp({
      datanodes: 4,
      namenodeEnv: { DFS_NAMENODE_DEAD_NODE_TIMEOUT_MS: '2500', DFS_NAMENODE_HEARTBEAT_RECHECK_MS: '200' },
      datanodeEnv: () => ({ DFS_DATANODE_HEARTBEAT_INTERVAL_MS: '300' }),
    });
    const data = testBytes(3 * BLOCK, 80);
    await putBuffer(client, '/gone/file', data, { replication: 2, ...LAYOUT });
    const blocks = await expectReplicasOnDisk(cluster, client, '/gone/file', data, 2);
    const holders = nodesWithFinalized(cluster, blocks[1]!.block.blockId);
    for (const i of holders) await cluster.datanodes[i]!.kill();
    // The first block every replica of which is gone (block 1, or block 0 if it lived on
    // the same two nodes): the whole-file read must fail there and name it.
    const target = blocks.find((lb) =>
      nodesWithFinalized(cluster, lb.block.blockId).every((i) => holders.includes(i)),
    )!;

    const expectUnavailable = async (
      what: string,
      options: { offset?: number; length?: number } = {},
    ): Promise<DfsError> => {
      const started = Date.now();
      const err = await within(
        20_000,
        what,
        getBuffer(client, '/gone/file', options).then(
          () => {
            throw new Error(`${what}: the read succeeded`);
          },
          (e: unknown) => e,
        ),
      );
      expect(Date.now() - started, `${what} fails promptly`).toBeLessThan(10_000);
      expect(err).toBeInstanceOf(DfsError);
      expect((err as DfsError).code).toBe('BLOCK_UNAVAILABLE');
      expect((err as DfsError).message).toContain(String(target.block.blockId));
      return err as DfsError;
    };

    // The NameNode still lists the killed nodes: every connection is refused.
    await expectUnavailable('whole-file read, nodes not yet declared dead');
    await expectUnavailable('range read inside the block', { offset: target.offset + 100, length: 1000 });
    // Blocks with a live replica still read.
    for (const lb of blocks) {
      if (nodesWithFinalized(cluster, lb.block.blockId).some((i) => !holders.includes(i))) {
        expect(
          (await getBuffer(client, '/gone/file', { offset: lb.offset, length: lb.block.numBytes })).equals(
            data.subarray(lb.offset, lb.offset + lb.block.numBytes),
          ),
        ).toBe(true);
      }
    }
    // Once the NameNode has declared them dead, it hands out no location at all.
    await waitFor(
      'the NameNode to declare the holders dead',
      async () => {
        const lb = (await client.getBlockLocations('/gone/file', target.offset, 1)).blocks[0]!;
        return lb.locations.length === 0 ? true : undefined;
      },
      15_000,
      200,
    );
    const err = await expectUnavailable('whole-file read, nodes dead');
    expect(err.message).toContain('no live DataNode holds it');
  });
});

describe('a DataNode that cannot store a block', () => {
  /** Pipelines where `node` is asked first, then in the middle, then left to the NameNode. */
  function forceInto(client: DfsClient, node: DatanodeInfo): DatanodeInfo[][] {
    return recordPipelines(client, (locs, exclude, call) =>
      call === 0 ? withNodeAt(locs, node, 0, exclude) : call <= 2 ? withNodeAt(locs, node, 1, exclude) : locs,
    );
  }

  it('with a full disk refuses with NO_SPACE and the write goes on through the others', async () => {
    const { cluster, client } = await setUp({
      datanodes: 3,
      datanodeEnv: (i: number) => (i === 2 ? { DFS_DATANODE_RESERVED_BYTES: '1e15' } : {}),
    });
    const full = datanodeInfo(cluster, 2);
    // Left to itself the NameNode never places a block on a node with no room.
    const plain = testBytes(4 * BLOCK + 1, 90);
    const natural = recordPipelines(client);
    await putBuffer(client, '/full/natural', plain, { replication: 2, ...LAYOUT });
    expect(natural.flat().map((n) => n.nodeId)).not.toContain(full.nodeId);
    await expectReplicasOnDisk(cluster, client, '/full/natural', plain, 2);

    // Asked anyway (a stale view of the node), the node refuses; the client excludes it.
    const data = testBytes(4 * BLOCK + 2, 91);
    const pipelines = forceInto(client, full);
    await within(30_000, 'upload', putBuffer(client, '/full/forced', data, { replication: 2, ...LAYOUT }));
    expect(pipelines.filter((p) => p.some((n) => n.nodeId === full.nodeId)).length).toBe(2);
    expect((await getBuffer(client, '/full/forced')).equals(data)).toBe(true);
    await expectReplicasOnDisk(cluster, client, '/full/forced', data, 2);
    expect(finalizedBlockIds(cluster, 2)).toEqual([]);
    expect(logsMatching(cluster.datanodes[2]!, { msg: 'closing connection', code: 'NO_SPACE' }).length).toBe(
      2,
    );
    expect(cluster.datanodes[2]!.running).toBe(true);
  });

  it('with a read-only replica directory refuses with ACCESS_DENIED and the write goes on through the others', async (ctx) => {
    const { cluster, client } = await setUp({ datanodes: 3 });
    const rbw = path.join(cluster.dataDir(2), 'current', 'rbw');
    const locked = makeReadOnly(rbw);
    try {
      if (!locked) ctx.skip(`cannot make ${rbw} read-only for this user (root without chattr support?)`);
      const node = datanodeInfo(cluster, 2);
      const data = testBytes(4 * BLOCK + 3, 92);
      const pipelines = forceInto(client, node);
      await within(30_000, 'upload', putBuffer(client, '/ro/file', data, { replication: 2, ...LAYOUT }));
      expect(pipelines.filter((p) => p.some((n) => n.nodeId === node.nodeId)).length).toBeGreaterThanOrEqual(
        2,
      );
      expect((await getBuffer(client, '/ro/file')).equals(data)).toBe(true);
      await expectReplicasOnDisk(cluster, client, '/ro/file', data, 2);
      expect(finalizedBlockIds(cluster, 2)).toEqual([]);
      expect(
        logsMatching(cluster.datanodes[2]!, { msg: 'closing connection', code: 'ACCESS_DENIED' }).length,
      ).toBeGreaterThanOrEqual(2);
      expect(cluster.datanodes[2]!.running).toBe(true);
    } finally {
      undoReadOnly(rbw);
    }
  });
});

/** Makes `dir` refuse new entries, for this user: mode 0555, or for root the immutable flag. */
function makeReadOnly(dir: string): boolean {
  fs.chmodSync(dir, 0o555);
  if (!canCreateIn(dir)) return true;
  const r = spawnSync('chattr', ['+i', dir], { encoding: 'utf8' });
  return r.status === 0 && !canCreateIn(dir);
}

function undoReadOnly(dir: string): void {
  spawnSync('chattr', ['-i', dir]);
  if (fs.existsSync(dir)) fs.chmodSync(dir, 0o755);
}

function canCreateIn(dir: string): boolean {
  const probe = path.join(dir, `probe-${process.pid}`);
  try {
    fs.mkdirSync(probe);
    fs.rmdirSync(probe);
    return true;
  } catch {
    return false;
  }
}
