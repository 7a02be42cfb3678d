/**
 * DfsClient.close() against a real cluster: it waits for the client's output streams to
 * finish (the file is complete) or fail, then closes the NameNode connection; `closed`
 * says when. A call after that fails with CONNECTION.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DfsError } from '../../protocol/errors.js';
import { DfsClient } from '../../src/client/dfs-client.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { startCluster } from '../support/cluster.js';
import { getBuffer, testBytes } from '../support/data-path.js';

let cluster: LocalCluster;
let cleanup: () => Promise<void>;
let reader: DfsClient;

beforeAll(async () => {
  ({ cluster, cleanup } = await startCluster({ datanodes: 3 }));
  await cluster.waitWritable(30_000);
  reader = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 15_000 });
});

afterAll(async () => {
  reader?.close();
  await cleanup?.();
});

function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_r, reject) => setTimeout(() => reject(new Error(`${what} not within ${ms} ms`)), ms)),
  ]);
}

describe('DfsClient.close', () => {
  it('right after end(): the streams complete their files first, then the connection closes', async () => {
    const client = new DfsClient({ namenode: cluster.namenodeAddress });
    const data = testBytes(3 * 1024 * 1024 + 5, 3);
    const big = client.create('/close/big.bin', { blockBytes: 1024 * 1024 });
    big.end(data);
    client.create('/close/small.txt').end('hello\n');
    client.close();
    await within(30_000, 'closed', client.closed);
    expect((await getBuffer(reader, '/close/big.bin')).equals(data)).toBe(true);
    expect((await getBuffer(reader, '/close/small.txt')).toString()).toBe('hello\n');
    await expect(client.stat('/close')).rejects.toSatisfy(
      (e) => e instanceof DfsError && e.code === 'CONNECTION',
    );
  });

  it('does not wait for a stream that failed', async () => {
    const client = new DfsClient({ namenode: cluster.namenodeAddress });
    const out = client.create('/close/failed.bin');
    out.on('error', () => {});
    out.write(testBytes(1000, 1));
    out.destroy(new Error('given up'));
    client.close();
    await within(10_000, 'closed', client.closed);
  });

  it('closes at once with no stream open', async () => {
    const client = new DfsClient({ namenode: cluster.namenodeAddress });
    await client.stat('/');
    client.close();
    await within(2_000, 'closed', client.closed);
  });
});
