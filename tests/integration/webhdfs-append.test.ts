/**
 * WebHDFS APPEND is a real append (src/webhdfs/datanode-webhdfs.ts, DfsClient.append, RPC
 * append in src/namenode/append-op.ts), through the NameNode's 307 to a DataNode: the file
 * reads back as the concatenation, and its earlier blocks keep their ids (a rewrite of the
 * file, as APPEND once was emulated, would give every block a new id). An append to a file
 * that another writer holds open is refused whole with the lease's RemoteException.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import { getBuffer, putBuffer, testBytes } from '../support/data-path.js';
import { curl, remoteException, startWebHdfsCluster, type WebHdfsCluster } from '../support/webhdfs.js';

const BLOCK_BYTES = 1024 * 1024;

let w: WebHdfsCluster;
const nn = (): string => `http://${w.cluster.namenodeHttpAddress}/webhdfs/v1`;

beforeAll(async () => {
  w = await startWebHdfsCluster(2);
}, 60_000);
afterAll(() => w?.cleanup());

async function blockIds(p: string): Promise<string[]> {
  const located = await w.client.getBlockLocations(p, 0, Number.MAX_SAFE_INTEGER);
  return located.blocks.map((b) => String(b.block.blockId));
}

describe('WebHDFS APPEND', () => {
  it('appends through the 307 to a DataNode: the bytes concatenated, the earlier blocks kept', async () => {
    const first = testBytes(2 * BLOCK_BYTES + 300_000, 1);
    await putBuffer(w.client, '/ap/f.bin', first, { blockBytes: BLOCK_BYTES, replication: 2 });
    await w.client.setOwner('/ap/f.bin', { owner: 'alice' });
    const before = await blockIds('/ap/f.bin');
    expect(before).toHaveLength(3);

    // curl -L: POST to the NameNode, 307, the same POST with its body to the DataNode.
    const second = testBytes(500_000, 2);
    const file = path.join(w.local, 'second.bin');
    fs.writeFileSync(file, second);
    const r = await curl(`${nn()}/ap/f.bin?op=APPEND&user.name=alice&buffersize=4096`, [
      '-L',
      '-X',
      'POST',
      '-H',
      'Content-Type: application/octet-stream',
      '--data-binary',
      `@${file}`,
    ]);
    expect([r.exitCode, r.status, r.body.length]).toEqual([0, 200, 0]);

    // The redirect alone, then the body to where it points (as fsspec does): past a block end.
    const third = testBytes(BLOCK_BYTES, 3);
    const first307 = await fetch(`${nn()}/ap/f.bin?op=APPEND&user.name=alice`, {
      method: 'POST',
      redirect: 'manual',
    });
    expect(first307.status).toBe(307);
    const loc = new URL(first307.headers.get('location')!);
    expect(w.cluster.datanodes.map((d) => d.httpPort)).toContain(Number(loc.port));
    expect(loc.searchParams.get('op')).toBe('APPEND');
    expect(loc.searchParams.get('namenoderpcaddress')).toBe(w.cluster.namenodeAddress);
    const post = await fetch(loc, { method: 'POST', body: third });
    expect(post.status).toBe(200);

    const all = Buffer.concat([first, second, third]);
    const back = await getBuffer(w.client, '/ap/f.bin');
    expect(back.length).toBe(all.length);
    expect(back.equals(all)).toBe(true);
    const after = await blockIds('/ap/f.bin');
    // The full blocks and the continued last block keep their ids; new blocks follow them.
    expect(after.slice(0, 3)).toEqual(before);
    expect(after).toHaveLength(Math.ceil(all.length / BLOCK_BYTES));
    expect((await w.client.stat('/ap/f.bin')).underConstruction).toBe(false);
  });

  it('an append to a file another writer holds open: 403 AlreadyBeingCreatedException, nothing appended', async () => {
    const writer = new DfsClient({ namenode: w.cluster.namenodeAddress, requestTimeoutMs: 20_000 });
    try {
      const out = writer.create('/ap/open.bin', { blockBytes: BLOCK_BYTES });
      out.write(testBytes(70_000, 4));
      await out.hflush();
      // As the superuser, so no permission check comes before the lease's.
      const r = await curl(`${nn()}/ap/open.bin?op=APPEND&user.name=${os.userInfo().username}`, [
        '-L',
        '-X',
        'POST',
        '--data-binary',
        'more bytes',
      ]);
      expect(r.status).toBe(403);
      const e = remoteException(r.body);
      expect(e.exception).toBe('AlreadyBeingCreatedException');
      expect(e.javaClassName).toBe('org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException');
      out.write(testBytes(1000, 5));
      await new Promise<void>((resolve, reject) =>
        out.end((err?: Error | null) => (err ? reject(err) : resolve())),
      );
      expect(
        (await getBuffer(w.client, '/ap/open.bin')).equals(
          Buffer.concat([testBytes(70_000, 4), testBytes(1000, 5)]),
        ),
      ).toBe(true);
    } finally {
      writer.close();
    }
  });

  it('an append to a missing file or a directory: 404 FileNotFoundException', async () => {
    const missing = await curl(`${nn()}/ap/nope?op=APPEND`, ['-L', '-X', 'POST', '--data-binary', 'x']);
    expect([missing.status, remoteException(missing.body).exception]).toEqual([404, 'FileNotFoundException']);
    const dir = await curl(`${nn()}/ap?op=APPEND`, ['-L', '-X', 'POST', '--data-binary', 'x']);
    expect([dir.status, remoteException(dir.body).exception]).toEqual([404, 'FileNotFoundException']);
  });
});
