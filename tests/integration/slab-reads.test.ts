/**
 * Slab reads (src/common/read-slabs.ts) across real processes, where memory reused too early
 * would be written to disk or handed to a reader.
 *
 * DataNodes with a slow disk (DFS_FAULTS writeDelayMs) take concurrent uploads at
 * replication 3 with a large window: many packets wait in each DataNode's memory for their
 * disk write while reads move on into other slabs, so a packet released before its write
 * (block-receiver.ts) would have its slab refilled under it. Every replica on disk must be
 * the bytes written, and the files read back borrowed (`packets({ borrowed: true })`) must
 * be identical.
 *
 * A read that does not borrow (the Readable, `dfs get`'s `packets()`) may keep its packets,
 * so their memory is never reused; but it must not keep the memory of the packets it has
 * dropped either: reading a 48 MiB block and dropping each packet holds a few MiB at any
 * time, as before slab reads, not the block read so far.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { DfsClient } from '../../src/client/dfs-client.js';
import { startCluster } from '../support/cluster.js';
import { expectReplicasOnDisk, putBuffer, testBytes, waitForDatanodes } from '../support/data-path.js';

const KiB = 1024;
const MiB = 1024 * KiB;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

let cluster: LocalCluster;
let cleanup: () => Promise<void>;
let client: DfsClient;

beforeAll(async () => {
  ({ cluster, cleanup } = await startCluster({
    datanodes: 3,
    datanodeEnv: () => ({ DFS_FAULTS: JSON.stringify({ writeDelayMs: 10 }) }),
  }));
  client = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 60_000 });
  await waitForDatanodes(client, 3);
});

afterAll(async () => {
  client?.close();
  await cleanup?.();
});

/** Reads `remote` borrowed, waiting a turn of the event loop before using each packet. */
async function borrowedRead(remote: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const packet of client.open(remote).packets({ borrowed: true })) {
    await new Promise((resolve) => setImmediate(resolve));
    for (const piece of packet) parts.push(Buffer.from(piece));
  }
  return Buffer.concat(parts);
}

describe('slab reads across real processes', () => {
  it('concurrent uploads to DataNodes with a slow disk: every replica on disk and every borrowed read is identical', async () => {
    const files = [0, 1, 2].map((k) => ({
      remote: `/slow-disk/f${k}`,
      data: testBytes(6 * MiB + k * 777_777 + 5, 500 + k),
    }));
    await Promise.all(
      files.map((f) =>
        putBuffer(client, f.remote, f.data, {
          replication: 3,
          blockBytes: 4 * MiB,
          packetBytes: 64 * KiB,
          windowBytes: 8 * MiB,
        }),
      ),
    );
    for (const f of files) await expectReplicasOnDisk(cluster, client, f.remote, f.data, 3);
    const back = await Promise.all(files.map((f) => borrowedRead(f.remote)));
    for (const [k, f] of files.entries()) expect(back[k]!.equals(f.data), `${f.remote} bytes`).toBe(true);
  });

  it('a read that does not borrow holds only the packets it has not dropped, not the block read so far', async () => {
    const size = 48 * MiB;
    const data = testBytes(size, 600);
    await putBuffer(client, '/big/one-block', data, { replication: 1, blockBytes: 64 * MiB });
    gc();
    const base = process.memoryUsage().arrayBuffers;
    let read = 0;
    let peak = 0;
    let nextCheck = 8 * MiB;
    for await (const packet of client.open('/big/one-block').packets()) {
      for (const piece of packet) read += piece.length;
      if (read < nextCheck) continue;
      nextCheck += 8 * MiB;
      gc();
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
    }
    expect(read).toBe(size);
    // The reader queues at most 2 MiB ahead (block-reader.ts QUEUE_HIGH_BYTES); measured about
    // 8 MiB in all, where keeping every read of the block holds 40 at the last check.
    expect(peak).toBeLessThan(20 * MiB);
  });
});
