/**
 * hflush and hsync across real processes (issue 11 section 5):
 * - hflush: another client sees every byte written before it, while the writer goes on,
 *   mid-chunk (the next packet continues that chunk), at a block boundary and after it; a
 *   byte written after the last hflush is not promised (the length stays); for blocks of
 *   each checksum algorithm (xxh3, the default; xxh64 and xxh32, still written where asked),
 *   since a continued chunk's stored checksum is recomputed in the block's own;
 * - hsync: the DataNodes fdatasync the replica before acknowledging (observed through the
 *   DFS_FAULTS hook syncDelayMs: hsync takes the delay, hflush does not, and every node logs
 *   the slow hsync fdatasync); then every DataNode is SIGKILLed, the writer abandons the
 *   file, the DataNodes restart, and lease recovery keeps every hsynced byte.
 * - append: a DataNode of the reopened block's pipeline SIGKILLed mid-append is dropped,
 *   the append goes on over the others, and the file reads back identical.
 */
import { describe, expect, it } from 'vitest';
import { ChecksumType, checksumTypeName } from '../../protocol/data-messages.js';
import type { DfsOutputStream } from '../../src/client/dfs-output-stream.js';
import { clusterPerTest } from '../support/cluster.js';
import { fileChecksumAlgorithm } from '../../src/client/file-checksum.js';
import {
  expectReplicasOnDisk,
  getBuffer,
  logsMatching,
  nodeIndexById,
  putBuffer,
  testBytes,
  waitFor,
  waitForDatanodes,
} from '../support/data-path.js';
import { FAST_LEASE_RECOVERY_ENV } from '../support/killed-writer.js';

const per = clusterPerTest();
const CHUNK = 512;
const BLOCK = 8 * 1024;

function write(out: DfsOutputStream, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => out.write(data, (e) => (e ? reject(e) : resolve())));
}

describe('hflush, hsync', () => {
  it.each(
    [ChecksumType.XXH3, ChecksumType.XXH64, ChecksumType.XXH32].map((t) => ({
      t,
      name: checksumTypeName(t),
    })),
  )(
    'hflush makes what was written visible to another client while the writer continues ($name blocks)',
    async ({ t }) => {
      const cluster = await per.start({ datanodes: 3 });
      const writer = per.client(cluster, 20_000);
      const reader = per.client(cluster, 20_000);
      await waitForDatanodes(writer, 3);
      const data = testBytes(3 * BLOCK + 1000, 11);
      const out = writer.create('/flushed', { chunkBytes: CHUNK, blockBytes: BLOCK, checksumType: t });
      // No node fails here: a packet continuing a flushed chunk is taken as it is, not by a pipeline recovery.
      const recoveries: string[] = [];
      out.on('recovery', (m: string) => recoveries.push(m));
      const seen = async (n: number): Promise<void> => {
        expect((await reader.stat('/flushed')).length).toBe(n);
        expect((await getBuffer(reader, '/flushed')).equals(data.subarray(0, n))).toBe(true);
      };
      // Mid-chunk, then continuing that chunk, then past a chunk boundary.
      let flushed = 0;
      for (const n of [1000, 1300, 2100]) {
        await write(out, data.subarray(flushed, n));
        await out.hflush();
        await seen(n);
        flushed = n;
      }
      // Written but not flushed: not promised, and the NameNode's length stays.
      await write(out, data.subarray(2100, 2500));
      expect((await reader.stat('/flushed')).length).toBe(2100);
      // Up to a block boundary exactly (the block ended, its length not committed yet), then into the next.
      await write(out, data.subarray(2500, BLOCK));
      await out.hflush();
      await seen(BLOCK);
      await write(out, data.subarray(BLOCK, 2 * BLOCK + 77));
      await out.hflush();
      await seen(2 * BLOCK + 77);
      // The writer finishes; the whole file.
      await new Promise<void>((resolve) => out.end(data.subarray(2 * BLOCK + 77), resolve));
      const st = await reader.stat('/flushed');
      expect(st.underConstruction).toBe(false);
      expect(recoveries).toEqual([]);
      expect((await getBuffer(reader, '/flushed')).equals(data)).toBe(true);
      // Every replica on disk holds the bytes and, per chunk, the checksum of its header's
      // algorithm (a continued chunk's recomputed); that algorithm is the one asked for.
      await expectReplicasOnDisk(cluster, reader, '/flushed', data, 3);
      expect((await reader.checksum('/flushed')).algorithm).toBe(fileChecksumAlgorithm(t));
    },
    60_000,
  );

  it('hsync: every DataNode fdatasyncs before the ack, and the bytes survive SIGKILL of them all', async () => {
    const delayMs = 700;
    const cluster = await per.start({
      datanodes: 3,
      datanodeEnv: () => ({
        DFS_FAULTS: JSON.stringify({ syncDelayMs: delayMs }),
        DFS_DATANODE_SLOW_IO_WARN_MS: '100',
      }),
      namenodeEnv: FAST_LEASE_RECOVERY_ENV,
    });
    const writer = per.client(cluster, 20_000);
    await waitForDatanodes(writer, 3);
    const data = testBytes(5000, 12);
    const out = writer.create('/synced', { chunkBytes: CHUNK, blockBytes: BLOCK });
    out.on('error', () => {});
    const recoveries: string[] = [];
    out.on('recovery', (m: string) => recoveries.push(m));
    await write(out, data.subarray(0, 3000));
    let t0 = performance.now();
    await out.hflush();
    expect(performance.now() - t0).toBeLessThan(delayMs);
    await write(out, data.subarray(3000));
    t0 = performance.now();
    await out.hsync();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(delayMs - 50);
    await waitFor('every DataNode to log its slow hsync fdatasync', () =>
      cluster.datanodes.every((dn) =>
        dn.logs.some(
          (l) =>
            l.msg === 'slow fdatasync of a replica' && l.hsync === true && (l.ms as number) >= delayMs - 50,
        ),
      )
        ? true
        : undefined,
    );

    expect(recoveries).toEqual([]);
    // Every DataNode dies at once; the writer gives up (its lease then expires).
    await Promise.all(cluster.datanodes.map((d) => d.kill()));
    out.destroy();
    for (let i = 0; i < cluster.datanodes.length; i++) await cluster.restartDatanode(i);
    const reader = per.client(cluster, 20_000);
    await waitFor(
      'lease recovery to close the file',
      async () => ((await reader.stat('/synced')).underConstruction ? undefined : true),
      40_000,
      200,
    );
    expect((await getBuffer(reader, '/synced')).equals(data)).toBe(true);
  }, 90_000);

  it('a DataNode SIGKILLed mid-append is dropped from the pipeline; the file reads back identical', async () => {
    const cluster = await per.start({ datanodes: 3 });
    const client = per.client(cluster, 20_000);
    await waitForDatanodes(client, 3);
    const first = testBytes(BLOCK + 1234, 13);
    await putBuffer(client, '/appended', first, { chunkBytes: CHUNK, blockBytes: BLOCK });
    const more = testBytes(2 * BLOCK, 14);
    const out = client.append('/appended', { chunkBytes: CHUNK });
    const recoveries: string[] = [];
    out.on('recovery', (m: string) => recoveries.push(m));
    await write(out, more.subarray(0, 3000));
    await out.hflush();
    const located = await client.getBlockLocations('/appended');
    const reopened = located.blocks[1]!;
    expect(reopened.locations).toHaveLength(3);
    const victim = nodeIndexById(cluster).get(reopened.locations[1]!.nodeId)!;
    await cluster.datanodes[victim]!.kill();
    await write(out, more.subarray(3000));
    await new Promise<void>((resolve, reject) => {
      out.once('error', reject);
      out.end(resolve);
    });
    expect(recoveries.length).toBeGreaterThanOrEqual(1);
    expect((await getBuffer(client, '/appended')).equals(Buffer.concat([first, more]))).toBe(true);
    expect(
      logsMatching(cluster.datanodes[(victim + 1) % 3]!, { msg: 'finalized replica reopened for append' }),
    ).not.toHaveLength(0);
  }, 60_000);
});
