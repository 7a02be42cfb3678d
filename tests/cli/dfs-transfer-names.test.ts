/**
 * What `dfs put` and `dfs get` say about destinations (issue 10, item 11), as a user runs
 * them: the real CLI against a real cluster. Error lines name the destination the user gave,
 * never the internal `DEST._COPYING_` copy (src/cli/commands/transfer-support.ts,
 * `withoutCopyName`); a destination with a trailing slash names a directory, which must
 * exist: it never becomes a new file.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import { startCluster, tempDir } from '../support/cluster.js';
import { waitForDatanodes } from '../support/data-path.js';
import { failedWith, ok, runDfs } from '../support/dfs-cli.js';

let namenode = '';
let cleanup: (() => Promise<void>) | null = null;
let client: DfsClient | null = null;
let local = '';
let source = '';

beforeAll(async () => {
  const started = await startCluster({ datanodes: 1 });
  cleanup = started.cleanup;
  namenode = started.cluster.namenodeAddress;
  client = new DfsClient({ namenode, defaultReplication: 1 });
  local = tempDir('dfs-transfer-names-');
  source = path.join(local, 'src.bin');
  fs.writeFileSync(source, randomBytes(5000));
  await client.waitSafeModeOff(30_000, 100);
  await waitForDatanodes(client, 1); // the NameNode may answer before the DataNode registered
});

afterAll(async () => {
  client?.close();
  await cleanup?.();
  if (local !== '') fs.rmSync(local, { recursive: true, force: true });
});

function dfs(args: string[]): ReturnType<typeof runDfs> {
  return runDfs(namenode, args);
}

describe('put and get error lines name the destination, never ._COPYING_', () => {
  it('put into a missing directory', async () => {
    const line = failedWith(await dfs(['put', source, '/missing-dir/f']), 'put', '[A-Z_]+');
    expect(line).toContain('/missing-dir');
    expect(line).not.toContain('._COPYING_');
  });

  it('put while another writer holds the destination', async () => {
    // Another client is writing the copy file of the same destination (a put in progress).
    await client!.mkdir('/busy');
    const other = client!.create('/busy/f._COPYING_', { replication: 1 });
    other.write(Buffer.from('x'));
    try {
      const deadline = Date.now() + 10_000;
      while ((await client!.exists('/busy/f._COPYING_')) === null && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      const line = failedWith(await dfs(['put', source, '/busy/f']), 'put', 'LEASE_CONFLICT');
      expect(line).toContain('/busy/f');
      expect(line).not.toContain('._COPYING_');
    } finally {
      other.destroy();
    }
  });

  it('get into a missing local directory', async () => {
    ok(await dfs(['put', source, '/g']));
    const line = failedWith(await dfs(['get', '/g', path.join(local, 'no-dir', 'g')]), 'get', '[A-Z_]+');
    expect(line).toContain(path.join(local, 'no-dir', 'g'));
    expect(line).not.toContain('._COPYING_');
  });
});

describe('a destination with a trailing slash is a directory', () => {
  it('put to a missing DIR/ fails and creates nothing; to FILE/ fails; to an existing DIR/ copies into it', async () => {
    failedWith(await dfs(['put', source, '/nodir/']), 'put', 'NOT_FOUND');
    expect(await client!.exists('/nodir')).toBeNull();
    failedWith(await dfs(['put', '-', '/nodir/']), 'put', 'NOT_FOUND');
    ok(await dfs(['put', source, '/afile']));
    failedWith(await dfs(['put', '-f', source, '/afile/']), 'put', 'NOT_A_DIRECTORY');
    expect((await client!.stat('/afile')).length).toBe(5000);
    await client!.mkdir('/adir');
    ok(await dfs(['put', source, '/adir/']));
    expect((await client!.stat('/adir/src.bin')).length).toBe(5000);
  });

  it('get to a missing DIR/ fails and creates nothing; to FILE/ fails; to an existing DIR/ copies into it', async () => {
    ok(await dfs(['put', source, '/t']));
    const missing = path.join(local, 'nolocal');
    failedWith(await dfs(['get', '/t', `${missing}/`]), 'get', 'NOT_FOUND');
    expect(fs.existsSync(missing)).toBe(false);
    const file = path.join(local, 'a-file');
    fs.writeFileSync(file, 'keep');
    failedWith(await dfs(['get', '-f', '/t', `${file}/`]), 'get', 'NOT_A_DIRECTORY');
    expect(fs.readFileSync(file, 'utf8')).toBe('keep');
    const dir = path.join(local, 'a-dir');
    fs.mkdirSync(dir);
    ok(await dfs(['get', '/t', `${dir}/`]));
    expect(fs.statSync(path.join(dir, 't')).size).toBe(5000);
  });
});
