/**
 * Append across real processes (issue 11 section 5): `DfsClient.append` continues a file
 * whose last block is partial (its replicas reopened under a new stamp, at a length inside a
 * chunk), full (a new block after it) or absent (an empty file); a DataNode SIGKILLed in the
 * middle of an append is dropped from the pipeline like a write's; a second appender or
 * writer is refused with LEASE_CONFLICT while the first holds the file. After each, the
 * file reads back byte for byte, with its replicas all reported at the new stamp.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import type { DfsClient } from '../../src/client/dfs-client.js';
import { isDfsError } from '../../protocol/errors.js';
import { clusterPerTest } from '../support/cluster.js';
import { getBuffer, putBuffer, testBytes, waitFor, waitForDatanodes } from '../support/data-path.js';

const per = clusterPerTest();
const CHUNK = 512;
const BLOCK = 16 * 1024;

async function appendBuffer(
  client: DfsClient,
  remote: string,
  data: Buffer,
  pieceBytes = 1000,
): Promise<void> {
  const pieces: Buffer[] = [];
  for (let off = 0; off < data.length; off += pieceBytes) pieces.push(data.subarray(off, off + pieceBytes));
  await pipeline(Readable.from(pieces, { objectMode: false }), client.append(remote, { chunkBytes: CHUNK }));
}

/** Every block of `remote` has `replication` live replicas at the NameNode's stamp. */
async function fullyReplicated(client: DfsClient, remote: string, replication: number): Promise<void> {
  await waitFor(`every block of ${remote} with ${replication} replicas`, async () => {
    const located = await client.getBlockLocations(remote);
    return located.blocks.every((b) => b.locations.length === replication) ? true : undefined;
  });
}

describe('append', () => {
  it('to a file whose last block is partial (mid-chunk), then full, then to an empty file', async () => {
    const cluster = await per.start({ datanodes: 3 });
    const client = per.client(cluster, 20_000);
    await waitForDatanodes(client, 3);
    const first = testBytes(BLOCK + 3 * CHUNK + 100, 1);
    await putBuffer(client, '/a', first, { blockBytes: BLOCK, chunkBytes: CHUNK });
    const before = await client.getBlockLocations('/a');
    const lastBefore = before.blocks[1]!.block;

    // Partial last block, ending 100 bytes into a chunk: reopened under a new stamp.
    const more = testBytes(BLOCK, 2);
    await appendBuffer(client, '/a', more);
    const expected = Buffer.concat([first, more]);
    const st = await client.stat('/a');
    expect(st.underConstruction).toBe(false);
    expect(st.length).toBe(expected.length);
    expect((await getBuffer(client, '/a')).equals(expected)).toBe(true);
    const after = await client.getBlockLocations('/a');
    expect(after.blocks[1]!.block.blockId).toBe(lastBefore.blockId);
    expect(after.blocks[1]!.block.genStamp).toBeGreaterThan(lastBefore.genStamp);
    expect(after.blocks[1]!.block.numBytes).toBe(BLOCK);
    expect(after.blocks).toHaveLength(3);
    await fullyReplicated(client, '/a', 3);

    // The last block is now partial again (BLOCK - 3 chunks - 100 bytes in block 3): fill it
    // exactly, then append to the full block: a new block after it.
    const fill = testBytes(expected.length % BLOCK === 0 ? 0 : BLOCK - (expected.length % BLOCK), 3);
    await appendBuffer(client, '/a', fill);
    const full = Buffer.concat([expected, fill]);
    expect((await client.stat('/a')).length % BLOCK).toBe(0);
    const tail = testBytes(700, 4);
    await appendBuffer(client, '/a', tail);
    const all = Buffer.concat([full, tail]);
    expect((await getBuffer(client, '/a')).equals(all)).toBe(true);
    const located = await client.getBlockLocations('/a');
    expect(located.blocks).toHaveLength(full.length / BLOCK + 1);
    await fullyReplicated(client, '/a', 3);

    // An empty file: the appender adds its first block.
    await putBuffer(client, '/empty', Buffer.alloc(0), { chunkBytes: CHUNK });
    const firstBytes = testBytes(5000, 5);
    await appendBuffer(client, '/empty', firstBytes);
    expect((await getBuffer(client, '/empty')).equals(firstBytes)).toBe(true);
    // Nothing appended: the file is the same, its last block's replicas reopened and finalized again.
    await appendBuffer(client, '/empty', Buffer.alloc(0));
    expect((await getBuffer(client, '/empty')).equals(firstBytes)).toBe(true);
    await fullyReplicated(client, '/empty', 3);
  }, 90_000);

  it('the APPEND edit survives a NameNode SIGKILL: the file is still open with the new stamp, and the appender finishes', async () => {
    const cluster = await per.start({
      datanodes: 3,
      namenodeEnv: { DFS_NAMENODE_SAFE_MODE_EXTENSION_MS: '500' },
    });
    const client = per.client(cluster, 20_000);
    await waitForDatanodes(client, 3);
    const first = testBytes(BLOCK + 777, 8);
    await putBuffer(client, '/logged', first, { chunkBytes: CHUNK, blockBytes: BLOCK });
    const before = (await client.getBlockLocations('/logged')).blocks[1]!.block;
    const out = client.append('/logged', { chunkBytes: CHUNK });
    const more = testBytes(3000, 9);
    await new Promise<void>((resolve, reject) =>
      out.write(more.subarray(0, 1000), (e) => (e ? reject(e) : resolve())),
    );
    await out.hflush();

    await cluster.namenode.kill();
    await cluster.restartNamenode();
    await cluster.waitWritable();
    const reader = per.client(cluster, 20_000);
    const st = await reader.stat('/logged');
    expect(st.underConstruction).toBe(true);
    const reopened = (await reader.getBlockLocations('/logged')).blocks[1]!.block;
    expect(reopened.blockId).toBe(before.blockId);
    expect(reopened.genStamp).toBeGreaterThan(before.genStamp);
    // The appender's lease came back with the file: it goes on and closes it.
    await new Promise<void>((resolve, reject) => {
      out.once('error', reject);
      out.end(more.subarray(1000), resolve);
    });
    expect((await getBuffer(reader, '/logged')).equals(Buffer.concat([first, more]))).toBe(true);
  }, 90_000);

  it('appending to a file whose appender vanished: RECOVERY_IN_PROGRESS starts its recovery, then the append goes on', async () => {
    const cluster = await per.start({
      datanodes: 3,
      // The lease monitor never runs here: only the second append can start the recovery.
      namenodeEnv: { DFS_NAMENODE_LEASE_LIMIT_MS: '1000', DFS_NAMENODE_LEASE_CHECK_INTERVAL_MS: '600000' },
    });
    const client = per.client(cluster, 20_000);
    await waitForDatanodes(client, 3);
    const first = testBytes(BLOCK + 100, 15);
    await putBuffer(client, '/abandoned', first, { chunkBytes: CHUNK, blockBytes: BLOCK });
    const gone = per.client(cluster, 20_000);
    const out = gone.append('/abandoned', { chunkBytes: CHUNK });
    out.on('error', () => {});
    const flushed = testBytes(2000, 16);
    await new Promise<void>((resolve, reject) => out.write(flushed, (e) => (e ? reject(e) : resolve())));
    await out.hflush();
    out.destroy(); // the appender vanishes: no more lease renewals, no complete

    const other = per.client(cluster, 20_000);
    const refused = await waitFor('the lease to expire', async () => {
      const err = await appendBuffer(other, '/abandoned', Buffer.from('x')).catch((e: unknown) => e);
      return isDfsError(err, 'RECOVERY_IN_PROGRESS') ? err : undefined;
    });
    expect(String(refused)).toMatch(/being recovered/);
    await waitFor('the recovery to close the file', async () =>
      (await other.stat('/abandoned')).underConstruction ? undefined : true,
    );
    const more = testBytes(500, 17);
    await appendBuffer(other, '/abandoned', more);
    expect((await getBuffer(other, '/abandoned')).equals(Buffer.concat([first, flushed, more]))).toBe(true);
  }, 60_000);

  it('a second appender or writer is refused while the first holds the file', async () => {
    const cluster = await per.start({ datanodes: 1 });
    const client = per.client(cluster, 20_000);
    await waitForDatanodes(client, 1);
    await putBuffer(client, '/held', testBytes(1000, 6), { replication: 1, chunkBytes: CHUNK });
    const out = client.append('/held', { chunkBytes: CHUNK });
    await new Promise<void>((resolve, reject) =>
      out.write(testBytes(10, 7), (e) => (e ? reject(e) : resolve())),
    );
    const other = per.client(cluster, 20_000);
    const refused = await appendBuffer(other, '/held', Buffer.from('x')).catch((e: unknown) => e);
    expect(isDfsError(refused, 'LEASE_CONFLICT'), String(refused)).toBe(true);
    const overwrite = await putBuffer(other, '/held', Buffer.from('y'), { overwrite: true }).catch(
      (e: unknown) => e,
    );
    expect(isDfsError(overwrite, 'LEASE_CONFLICT'), String(overwrite)).toBe(true);
    await new Promise<void>((resolve) => out.end(resolve));
    expect(
      (await getBuffer(client, '/held')).equals(Buffer.concat([testBytes(1000, 6), testBytes(10, 7)])),
    ).toBe(true);
    // Missing files and directories are refused with their own codes.
    expect(
      isDfsError(await appendBuffer(other, '/nope', Buffer.from('x')).catch((e: unknown) => e), 'NOT_FOUND'),
    ).toBe(true);
    await client.mkdir('/dir');
    expect(
      isDfsError(
        await appendBuffer(other, '/dir', Buffer.from('x')).catch((e: unknown) => e),
        'IS_A_DIRECTORY',
      ),
    ).toBe(true);
  }, 60_000);
});
