/**
 * WebHDFS OPEN through the gateway DataNode's short-circuit reads (src/datanode/
 * short-circuit-reads.ts), across real processes: the DataNode that serves an OPEN reads the
 * replicas it holds itself, in-process, with no loopback socket, and verifies every chunk as
 * a reader must. What it sends must be exactly the bytes put: whole files and ranges that
 * start, end and cross block boundaries, and of a file still being written, up to what its
 * writer hflushed (a replica being written, read to its visible length). A replica corrupted
 * on its disk is not served: the mismatch is found, reported to the NameNode (a reader's
 * report, in its /metrics), and the block is read from the other replica over TCP, the bytes
 * still identical.
 *
 * Which path was taken is seen in DataNode 0's debug log ('block read in process', one record
 * per block read in-process, `conn: 'short-circuit'`). DataNode 0 runs no block scanner, so
 * only a reader can find its corrupt replica.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DfsClient } from '../../src/client/dfs-client.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { clusterPerTest } from '../support/cluster.js';
import {
  logsMatching,
  putBuffer,
  replicaDir,
  testBytes,
  waitFor,
  waitForDatanodes,
} from '../support/data-path.js';
import { sample, scrape } from '../support/http.js';
import { curl } from '../support/webhdfs.js';

const per = clusterPerTest();
const BLOCK = 1024 * 1024;

interface Gateway {
  cluster: LocalCluster;
  client: DfsClient;
}

/** `datanodes` DataNodes with debug logs; DataNode 0 (the gateway) runs no scanner. */
async function startGateway(datanodes: number): Promise<Gateway> {
  const cluster = await per.start({
    datanodes,
    logLevel: 'debug',
    datanodeEnv: (i) => (i === 0 ? { DFS_DATANODE_SCAN_BYTES_PER_SECOND: '0' } : {}),
  });
  const client = per.client(cluster, 20_000);
  await waitForDatanodes(client, datanodes);
  await client.setPermission('/', 0o777);
  return { cluster, client };
}

/** OPEN straight at DataNode 0's WebHDFS (where the NameNode's 307 would send it). */
async function openAtGateway(g: Gateway, dfsPath: string, range: { offset?: number; length?: number } = {}) {
  const q = new URLSearchParams({
    op: 'OPEN',
    namenoderpcaddress: g.cluster.namenodeAddress,
    'user.name': 'alice',
  });
  if (range.offset !== undefined) q.set('offset', String(range.offset));
  if (range.length !== undefined) q.set('length', String(range.length));
  const url = `http://127.0.0.1:${g.cluster.datanodes[0]!.httpPort}/webhdfs/v1${dfsPath}?${q.toString()}`;
  const r = await curl(url, [], 60_000);
  expect(r.exitCode).toBe(0);
  expect(r.status).toBe(200);
  return r.body;
}

/** Block ids DataNode 0 read in-process, in order. */
function readInProcess(g: Gateway): number[] {
  return logsMatching(g.cluster.datanodes[0]!, { conn: 'short-circuit', msg: 'block read in process' }).map(
    (l) => l.blockId as number,
  );
}

async function blockIds(g: Gateway, dfsPath: string): Promise<number[]> {
  return (await g.client.getBlockLocations(dfsPath, 0, 1 << 30)).blocks.map((b) => b.block.blockId);
}

describe('WebHDFS OPEN reads the gateway DataNode’s own replicas in-process', () => {
  it('whole file and ranges across block boundaries: the bytes put, every block read short-circuit', async () => {
    const g = await startGateway(1);
    const data = testBytes(5 * BLOCK + 12_345, 11);
    await putBuffer(g.client, '/r/f.bin', data, { replication: 1, blockBytes: BLOCK });
    const ids = await blockIds(g, '/r/f.bin');
    expect(ids).toHaveLength(6);

    expect((await openAtGateway(g, '/r/f.bin')).equals(data)).toBe(true);
    expect(readInProcess(g)).toEqual(ids);

    const ranges: Array<{ offset: number; length?: number }> = [
      { offset: 0, length: 1 },
      { offset: BLOCK - 100, length: 200 }, // across the first boundary
      { offset: BLOCK - 7, length: 2 * BLOCK + 300 }, // three blocks, unaligned at both ends
      { offset: 3 * BLOCK }, // from a boundary to the end
      { offset: 5 * BLOCK + 12_000, length: 10 * BLOCK }, // the tail, length past the end
      { offset: 2 * BLOCK + 513, length: 1_000 }, // inside one block, not chunk aligned
    ];
    for (const r of ranges) {
      const before = readInProcess(g).length;
      const body = await openAtGateway(g, '/r/f.bin', r);
      const end = r.length === undefined ? data.length : Math.min(data.length, r.offset + r.length);
      expect(body.equals(data.subarray(r.offset, end)), `offset ${r.offset} length ${r.length}`).toBe(true);
      const first = Math.floor(r.offset / BLOCK);
      const last = Math.floor((end - 1) / BLOCK);
      expect(readInProcess(g).slice(before)).toEqual(ids.slice(first, last + 1));
    }
  });

  it('replication 2: a replica corrupted on the gateway’s disk is found, reported, and read from the other', async () => {
    const g = await startGateway(2);
    const data = testBytes(3 * BLOCK + 777, 5);
    await putBuffer(g.client, '/c/f.bin', data, { replication: 2, blockBytes: BLOCK });
    const ids = await blockIds(g, '/c/f.bin');
    expect(ids).toHaveLength(4);
    const victim = ids[1]!;
    // 16 bytes inverted mid-block in DataNode 0's copy (same length, its checksums untouched).
    const file = path.join(replicaDir(g.cluster, 0, 'finalized', victim), 'data');
    const bytes = fs.readFileSync(file);
    for (let i = 500_000; i < 500_016; i++) bytes[i] = bytes[i]! ^ 0xff;
    fs.writeFileSync(file, bytes);
    const nn = g.cluster.namenode.httpPort;
    const readerReports = async (): Promise<number> =>
      sample(await scrape(nn), 'dfs_namenode_corrupt_replica_reports_total{found_by="reader"}') ?? -1;
    expect(await readerReports()).toBe(0);

    // Every block tried here first, in-process; the corrupt one then from DataNode 1.
    expect((await openAtGateway(g, '/c/f.bin')).equals(data)).toBe(true);
    expect(readInProcess(g)).toEqual(ids);
    await waitFor('the reader’s report counted by the NameNode', async () =>
      (await readerReports()) === 1 ? true : undefined,
    );
    const locations = (await g.client.getBlockLocations('/c/f.bin', BLOCK, 1)).blocks[0]!.locations;
    expect(locations.map((l) => l.port)).toEqual([g.cluster.datanodes[1]!.port]);

    // A range inside the corrupt block: DataNode 0's copy is no longer offered; the bytes are DataNode 1's.
    const before = readInProcess(g).length;
    const body = await openAtGateway(g, '/c/f.bin', { offset: BLOCK + 400_000, length: 200_000 });
    expect(body.equals(data.subarray(BLOCK + 400_000, BLOCK + 600_000))).toBe(true);
    expect(readInProcess(g).slice(before)).toEqual([]);
  });

  it('a file being written: what its writer hflushed, mid-chunk, and no more', async () => {
    const g = await startGateway(1);
    const data = testBytes(BLOCK + 5_000, 3);
    const out = g.client.create('/w/f.bin', { replication: 1, blockBytes: BLOCK, chunkBytes: 512 });
    out.on('error', () => {});
    const write = (b: Buffer): Promise<void> =>
      new Promise((resolve, reject) => out.write(b, (e) => (e ? reject(e) : resolve())));
    await write(data.subarray(0, BLOCK + 1_300));
    await out.hflush();
    await write(data.subarray(BLOCK + 1_300, BLOCK + 2_000)); // written, not flushed: not promised
    const ids = await blockIds(g, '/w/f.bin');
    expect(ids).toHaveLength(2);

    expect((await openAtGateway(g, '/w/f.bin')).equals(data.subarray(0, BLOCK + 1_300))).toBe(true);
    const tail = await openAtGateway(g, '/w/f.bin', { offset: BLOCK + 1_000 });
    expect(tail.equals(data.subarray(BLOCK + 1_000, BLOCK + 1_300))).toBe(true);
    expect(readInProcess(g)).toEqual([ids[0], ids[1], ids[1]]);
    await new Promise<void>((resolve) => out.end(data.subarray(BLOCK + 2_000), resolve));
    expect((await openAtGateway(g, '/w/f.bin')).equals(data)).toBe(true);
  });
});
