/**
 * The checksum algorithm per replica, across real processes (issue 12): new blocks are
 * written with xxh3, and replicas written with the algorithms before it, xxh64 (the default
 * until xxh3) and xxh32 (the first; forced here with DFS_CHECKSUM or the client's
 * `checksum` option), stay first-class:
 *
 *   | xxh32 and xxh64 replicas ...           | must                                                   |
 *   |----------------------------------------|--------------------------------------------------------|
 *   | on disk                                | be in their format (xxh32: meta version 1, byte for    |
 *   |                                        | byte the old one; xxh64: version 2, type byte 2)       |
 *   | read by a default (xxh3) client        | read back equal, verified with their own algorithm     |
 *   | checksummed (dfs checksum)             | SHA256-OF-SHA256-OF-XXH32 / -XXH64, as computed from   |
 *   |                                        | the bytes                                              |
 *   | appended to by an xxh3 client          | go on in their algorithm; the blocks after are xxh3;   |
 *   |                                        | the file then has no checksum (mixed: an error)        |
 *   | re-replicated (setrep 3 -> 4)          | be copied with their own algorithm                     |
 *   | rotten on disk                         | be found by the block scanner, replaced and deleted    |
 *   | left unfinished by a SIGKILLed writer  | be recovered (cut, finalized) in their algorithm       |
 *
 * and a corrupted replica of any algorithm is caught by the scanner and by readers.
 * Every replica on disk is checked against the bytes written, with the algorithm its meta
 * header names (expectReplicasOnDisk), and the header's version against the algorithm.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECKSUM_TYPE_DEFAULT, ChecksumType } from '../../protocol/data-messages.js';
import { DfsClient } from '../../src/client/dfs-client.js';
import { computeChecksums, initChecksum } from '../../src/common/checksum.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { createHash } from 'node:crypto';
import { decodeMetaHeader } from '../../src/datanode/replica-meta.js';
import { clusterPerTest, tempDir } from '../support/cluster.js';
import {
  expectReplicasOnDisk,
  getBuffer,
  logsMatching,
  nodeIdOf,
  nodesWithFinalized,
  putBuffer,
  replicaDir,
  testBytes,
  waitFor,
  waitForDatanodes,
} from '../support/data-path.js';
import { ok, runDfs } from '../support/dfs-cli.js';
import { remoteException } from '../support/webhdfs.js';
import { HEALING_DATANODE_ENV, HEALING_NAMENODE_ENV } from '../support/healing.js';
import { copyingPath, FAST_LEASE_RECOVERY_ENV, putKilledMidBlock } from '../support/killed-writer.js';

const per = clusterPerTest();
const KiB = 1024;
const MiB = 1024 * KiB;
const BLOCK = 256 * KiB;
const CHUNK = 16 * KiB;
const LAYOUT = { blockBytes: BLOCK, chunkBytes: CHUNK, packetBytes: 64 * KiB };
/** The scanner every 300 ms at 64 MiB/s: a rotten replica is found within a second or two. */
const FAST_SCANNER = {
  DFS_DATANODE_SCAN_INTERVAL_MS: '300',
  DFS_DATANODE_SCAN_BYTES_PER_SECOND: String(64 * MiB),
};

/** The meta header of node `node`'s finalized replica: its format version and algorithm. */
function metaOf(
  cluster: LocalCluster,
  node: number,
  blockId: number,
): { version: number; type: ChecksumType } {
  const file = path.join(replicaDir(cluster, node, 'finalized', blockId), 'meta');
  const bytes = fs.readFileSync(file);
  return { version: bytes.readUInt16BE(4), type: decodeMetaHeader(bytes, file).checksumType };
}

/** Every finalized replica of each block is of the algorithm `typeOf(block index)`, in its format. */
async function expectAlgorithms(
  cluster: LocalCluster,
  client: DfsClient,
  remote: string,
  typeOf: (blockIndex: number) => ChecksumType,
): Promise<void> {
  const blocks = (await client.getBlockLocations(remote)).blocks;
  for (const [i, lb] of blocks.entries()) {
    const holders = nodesWithFinalized(cluster, lb.block.blockId);
    expect(holders.length, `block ${i} has replicas on disk`).toBeGreaterThan(0);
    for (const node of holders) {
      const want = typeOf(i);
      // xxh32: the format DataNodes wrote before the algorithm was recorded (version 1, no
      // type byte); xxh64 and xxh3: version 2 with their type byte.
      expect(metaOf(cluster, node, lb.block.blockId), `block ${i} on node ${node}`).toEqual({
        version: want === ChecksumType.XXH32 ? 1 : 2,
        type: want,
      });
    }
  }
}

/** The file checksum PROTOCOL.md section 10 defines, from the bytes, with one algorithm. */
function expectedFileChecksum(data: Buffer, type: ChecksumType, chunkBytes: number): string {
  const file = createHash('sha256');
  for (let b = 0; b < data.length; b += BLOCK) {
    const sums = computeChecksums(data.subarray(b, Math.min(data.length, b + BLOCK)), chunkBytes, type);
    file.update(createHash('sha256').update(sums).digest());
  }
  return file.digest('hex');
}

/** Flips 16 bytes in the middle of a replica's data file, in place (its meta untouched). */
function rot(cluster: LocalCluster, node: number, blockId: number, at: number): string {
  const file = path.join(replicaDir(cluster, node, 'finalized', blockId), 'data');
  const fd = fs.openSync(file, 'r+');
  try {
    const buf = Buffer.alloc(16);
    fs.readSync(fd, buf, 0, 16, at);
    for (let i = 0; i < buf.length; i++) buf[i] = buf[i]! ^ 0xff;
    fs.writeSync(fd, buf, 0, 16, at);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

/** The algorithms before the default, whose replicas the new code must serve. */
const OLD = [
  { name: 'xxh32', type: ChecksumType.XXH32, fileChecksum: 'SHA256-OF-SHA256-OF-XXH32' },
  { name: 'xxh64', type: ChecksumType.XXH64, fileChecksum: 'SHA256-OF-SHA256-OF-XXH64' },
] as const;
const NEW = ChecksumType.XXH3;

describe.each(OLD)('replicas written with $name beside new xxh3 ones', (old) => {
  it('are read, checksummed, appended to, re-replicated and scanned by the new code', async () => {
    expect(CHECKSUM_TYPE_DEFAULT).toBe(NEW);
    await initChecksum();
    const cluster = await per.start({
      // Five: a replica found rotten is deleted once a good copy replaced it, which needs a
      // node without one after the setrep to 4.
      datanodes: 5,
      namenodeEnv: HEALING_NAMENODE_ENV,
      datanodeEnv: () => ({ ...HEALING_DATANODE_ENV, ...FAST_SCANNER }),
    });
    const client = per.client(cluster, 15_000); // the default: xxh3
    await waitForDatanodes(client, 5);

    // Written by `dfs put` with the old algorithm forced: two full blocks and 20,000 bytes,
    // which end inside a chunk.
    const oldBytes = testBytes(2 * BLOCK + 20_000, 1);
    const local = path.join(tempDir(`dfs-${old.name}-`), 'old');
    fs.writeFileSync(local, oldBytes);
    ok(
      await runDfs(cluster.namenodeAddress, ['put', '--block-size', String(BLOCK), local, '/old'], {
        env: { DFS_CHECKSUM: old.name },
      }),
    );
    // And one by the default client: xxh3.
    const fresh = testBytes(BLOCK + 5_000, 2);
    await putBuffer(client, '/fresh', fresh, { replication: 3, ...LAYOUT });
    await expectReplicasOnDisk(cluster, client, '/old', oldBytes, 3);
    await expectReplicasOnDisk(cluster, client, '/fresh', fresh, 3);
    await expectAlgorithms(cluster, client, '/old', () => old.type);
    await expectAlgorithms(cluster, client, '/fresh', () => NEW);

    // Read by the new (xxh3-writing) client: the DataNode names the old algorithm, the reader verifies so.
    expect((await getBuffer(client, '/old')).equals(oldBytes)).toBe(true);
    expect(
      (await getBuffer(client, '/old', { offset: BLOCK - 100, length: BLOCK })).equals(
        oldBytes.subarray(BLOCK - 100, 2 * BLOCK - 100),
      ),
    ).toBe(true);

    // The file checksum names its algorithm, and is what the bytes give with it.
    const putNew = await client.checksum('/fresh');
    expect(putNew.algorithm).toBe('SHA256-OF-SHA256-OF-XXH3');
    expect(putNew.checksum).toBe(expectedFileChecksum(fresh, NEW, CHUNK));
    // `dfs put` used the default 64 KiB chunks for /old.
    const sumOld = await client.checksum('/old');
    expect(sumOld).toMatchObject({ algorithm: old.fileChecksum, chunkBytes: 64 * KiB });
    expect(sumOld.checksum).toBe(expectedFileChecksum(oldBytes, old.type, 64 * KiB));

    // Appended to by the xxh3 client: the partial last block goes on in the old algorithm
    // (its replicas' own, whatever the writer prefers), the block after it is xxh3.
    const more = testBytes(BLOCK, 3);
    const appender = client.append('/old', { chunkBytes: 64 * KiB });
    await new Promise<void>((resolve, reject) => {
      appender.on('error', reject);
      appender.end(more, () => resolve());
    });
    const all = Buffer.concat([oldBytes, more]);
    expect((await getBuffer(client, '/old')).equals(all)).toBe(true);
    await expectReplicasOnDisk(cluster, client, '/old', all, 3);
    await expectAlgorithms(cluster, client, '/old', (i) => (i <= 2 ? old.type : NEW));
    // A file whose blocks mix algorithms has no comparable checksum (HDFS: MIXED, no checksum).
    const mixed = await client.checksum('/old').then(
      () => null,
      (e: unknown) => e,
    );
    expect(mixed).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((mixed as Error).message).toMatch(new RegExp(`mixes checksum algorithms ${old.name} and xxh3`));
    // WebHDFS GETFILECHECKSUM (the NameNode's gateway) answers the same: 400 with the reason,
    // and the algorithm's name for a file of one algorithm.
    const webhdfs = `http://${cluster.namenodeHttpAddress}/webhdfs/v1`;
    const mixedHttp = await fetch(`${webhdfs}/old?op=GETFILECHECKSUM`);
    expect(mixedHttp.status).toBe(400);
    expect(remoteException(await mixedHttp.text())).toMatchObject({
      exception: 'IllegalArgumentException',
      message: expect.stringMatching(/mixes checksum algorithms/) as unknown,
    });
    const freshHttp = await fetch(`${webhdfs}/fresh?op=GETFILECHECKSUM`);
    expect(freshHttp.status).toBe(200);
    expect(await freshHttp.json()).toEqual({
      FileChecksum: { algorithm: 'SHA256-OF-SHA256-OF-XXH3', bytes: putNew.checksum, length: 32 },
    });

    // Re-replication copies each replica with its own checksums and algorithm.
    await client.setReplication('/old', 4);
    await expectReplicasOnDisk(cluster, client, '/old', all, 4);
    await expectAlgorithms(cluster, client, '/old', (i) => (i <= 2 ? old.type : NEW));

    // The scanner finds a rotten replica of the old algorithm and a rotten xxh3 one; both are replaced.
    const blocks = (await client.getBlockLocations('/old')).blocks;
    const victims = [0, 3].map((i, k) => {
      const block = blocks[i]!.block.blockId;
      const holders = nodesWithFinalized(cluster, block);
      return { block, node: k === 0 ? holders[0]! : holders[holders.length - 1]! };
    });
    const files = victims.map((v) => rot(cluster, v.node, v.block, 10_000));
    for (const [k, v] of victims.entries()) {
      await waitFor(
        `the scanner on node ${v.node} to find blk_${v.block}`,
        () =>
          logsMatching(cluster.datanodes[v.node]!, {
            msg: 'block scanner found a corrupt replica',
            block: v.block,
          }).length > 0
            ? true
            : undefined,
        20_000,
      );
      await waitFor(
        `the rotten replica ${files[k]} to be deleted`,
        () => (fs.existsSync(files[k]!) ? undefined : true),
        20_000,
      );
    }
    // Healed: four replicas again (three for a moment, while a copy is reported), none rotten.
    await expectReplicasOnDisk(cluster, client, '/old', all, () => [3, 4]);
    await expectAlgorithms(cluster, client, '/old', (i) => (i <= 2 ? old.type : NEW));
    expect((await getBuffer(client, '/old')).equals(all)).toBe(true);
  });
});

describe('damaged and unfinished replicas', () => {
  it('a reader detects a corrupted replica of any algorithm and fails over', async () => {
    await initChecksum();
    const cluster = await per.start({ datanodes: 2 });
    const client = per.client(cluster, 15_000);
    const client32 = new DfsClient({ namenode: cluster.namenodeAddress, checksum: 'xxh32' });
    const client64 = new DfsClient({ namenode: cluster.namenodeAddress, checksum: 'xxh64' });
    try {
      await waitForDatanodes(client, 2);
      const data = testBytes(BLOCK, 4);
      await putBuffer(client, '/r3', data, { replication: 2, ...LAYOUT });
      await putBuffer(client64, '/r64', data, { replication: 2, ...LAYOUT });
      await putBuffer(client32, '/r32', data, { replication: 2, ...LAYOUT });
      for (const [remote, type] of [
        ['/r3', ChecksumType.XXH3],
        ['/r64', ChecksumType.XXH64],
        ['/r32', ChecksumType.XXH32],
      ] as const) {
        await expectReplicasOnDisk(cluster, client, remote, data, 2);
        await expectAlgorithms(cluster, client, remote, () => type);
        const blockId = (await client.getBlockLocations(remote)).blocks[0]!.block.blockId;
        rot(cluster, 0, blockId, 3 * CHUNK + 5);
        const reported = (): boolean =>
          logsMatching(cluster.namenode, {
            msg: 'replica reported corrupt; scheduling deletion',
            node: nodeIdOf(cluster, 0),
            block: blockId,
          }).length > 0;
        const failovers: string[] = [];
        // Each read starts at another replica: within a few, the damaged one is tried.
        for (let attempt = 0; attempt < 8 && !reported(); attempt++) {
          const stream = client.open(remote);
          stream.on('failover', (e: { replica: string; error: string }) => failovers.push(e.error));
          const parts: Buffer[] = [];
          for await (const b of stream) parts.push(b as Buffer);
          expect(Buffer.concat(parts).equals(data), `${remote} read ${attempt}`).toBe(true);
          await new Promise((r) => setTimeout(r, 50));
        }
        expect(reported(), `${remote}: the NameNode was told of the corrupt replica`).toBe(true);
        expect(failovers.length).toBeGreaterThanOrEqual(1);
        for (const f of failovers) expect(f).toMatch(/checksum mismatch/);
      }
    } finally {
      client32.close();
      client64.close();
    }
  });

  it.each(OLD)('a $name block left unfinished by a SIGKILLed writer is recovered in $name', async (old) => {
    await initChecksum();
    const cluster = await per.start({ datanodes: 3, namenodeEnv: FAST_LEASE_RECOVERY_ENV });
    await cluster.waitWritable();
    const client = per.client(cluster, 15_000);
    // The second block gets one 2 MiB packet; the rest of the input stays in the writer.
    const blockBytes = 4 * MiB;
    const source = testBytes(blockBytes + 3 * MiB, 5);
    const { blockId } = await putKilledMidBlock(cluster, client, {
      remote: '/crashed',
      source,
      blockBytes,
      blockIndex: 1,
      rbwBytes: 2 * MiB,
      env: { DFS_CHECKSUM: old.name },
    });
    const remote = copyingPath('/crashed');
    const closed = await waitFor(
      'lease recovery to close the file',
      async () => {
        const st = await client.stat(remote);
        return st.underConstruction ? undefined : st;
      },
      30_000,
      200,
    );
    expect(closed.length).toBeGreaterThan(blockBytes);
    const kept = source.subarray(0, closed.length);
    expect((await getBuffer(client, remote)).equals(kept)).toBe(true);
    expect(
      logsMatching(cluster.namenode, { msg: 'block recovery committed; file closed', path: remote }),
    ).toHaveLength(1);
    // Cut and finalized with the replica's own checksums (validLength and truncateReplica
    // used its algorithm), in its format.
    await expectReplicasOnDisk(cluster, client, remote, kept, 3);
    await expectAlgorithms(cluster, client, remote, () => old.type);
    expect(nodesWithFinalized(cluster, blockId)).toHaveLength(3);
    const sum = await client.checksum(remote);
    expect(sum.algorithm).toBe(old.fileChecksum);
  });
});
