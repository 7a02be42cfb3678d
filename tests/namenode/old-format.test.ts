/**
 * A name directory written by an older DFS (tests/namenode/fixtures/name-dir-v1: image
 * format 1 and an edit segment) loads in a real NameNode process: the namespace is exactly
 * what the old NameNode acknowledged, new features work on it, and after a checkpoint in
 * the current format and a restart it is still the same. Its nodes, made before owners and
 * modes existed (image format 3), belong to the superuser and the supergroup, 0755 or 0644.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import { DaemonProcess } from '../../src/local/daemon-process.js';
import { tempDir } from '../support/cluster.js';

const FIXTURE = new URL('./fixtures/name-dir-v1/', import.meta.url).pathname;
const EXPECTED = [
  '/a',
  '/a/b',
  '/a/empty',
  '/after-image',
  '/after-image/x',
  '/after-image/x/e2',
  '/c',
  '/user',
  '/user/old',
];

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function namenode(nameDir: string, port = 0): DaemonProcess {
  return new DaemonProcess({
    name: 'namenode',
    args: [
      'namenode',
      '--name-dir',
      nameDir,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--http-port',
      '0',
      '--log-level',
      'info',
    ],
    readyMessage: 'namenode listening',
    env: { DFS_NAMENODE_SAFE_MODE_EXTENSION_MS: '0', DFS_NAMENODE_CHECKPOINT_TXNS: '1' },
  });
}

const SUPERUSER = os.userInfo().username;
const FILES = new Set(['/a/empty', '/after-image/x/e2']);

async function owners(
  client: DfsClient,
  paths: string[],
): Promise<Map<string, { owner: string; group: string; permission: number }>> {
  const out = new Map<string, { owner: string; group: string; permission: number }>();
  for (const p of paths) {
    const { owner, group, permission } = await client.stat(p);
    out.set(p, { owner, group, permission });
  }
  return out;
}

async function tree(client: DfsClient, dir = '/'): Promise<string[]> {
  const out: string[] = [];
  for await (const e of client.list(dir)) {
    const full = dir === '/' ? `/${e.path}` : `${dir}/${e.path}`;
    out.push(full);
    if (e.type === 1) out.push(...(await tree(client, full)));
  }
  return out.sort();
}

describe('a name directory of an older format', () => {
  it('loads, takes new changes, checkpoints in the current format and loads again', async () => {
    const dir = tempDir('old-format-');
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const nameDir = path.join(dir, 'name');
    fs.cpSync(FIXTURE, nameDir, { recursive: true });

    let nn = namenode(nameDir);
    cleanups.push(() => nn.kill());
    const port = await nn.start();
    let client = new DfsClient({ namenode: `127.0.0.1:${port}` });
    cleanups.push(() => client.close());
    await client.waitSafeModeOff(20_000, 100);
    expect(await tree(client)).toEqual(EXPECTED);
    expect((await client.serverInfo()).clusterId).toBe('CID-fixture-v1');
    // Made before owners (in the image, and by old mkdir/create records in the edit segment):
    // the superuser (the NameNode's user) and the supergroup own them, directories 0755,
    // files 0644.
    const before = await owners(client, ['/', ...EXPECTED]);
    for (const [p, o] of before)
      expect(o, p).toEqual({
        owner: SUPERUSER,
        group: 'supergroup',
        permission: FILES.has(p) ? 0o644 : 0o755,
      });

    // New changes, then a checkpoint (checkpointTxns 1) in the current format, then a restart.
    await client.mkdir('/new');
    await client.setOwner('/new', { owner: 'alice', group: 'staff' });
    await client.setPermission('/new', 0o1750);
    await client.setPermission('/a/empty', 0o600);
    await nn.stop();
    client.close();
    const images = fs.readdirSync(nameDir).filter((n) => n.startsWith('fsimage_'));
    expect(images.some((n) => n !== 'fsimage_0000000000000009')).toBe(true);
    nn = namenode(nameDir, port);
    await nn.start();
    client = new DfsClient({ namenode: `127.0.0.1:${port}` });
    await client.waitSafeModeOff(20_000, 100);
    expect(await tree(client)).toEqual([...EXPECTED, '/new'].sort());
    // The image of the current format keeps owners and modes, old and new.
    const after = await owners(client, ['/', ...EXPECTED, '/new']);
    expect(after.get('/new')).toEqual({ owner: 'alice', group: 'staff', permission: 0o1750 });
    expect(after.get('/a/empty')).toEqual({ owner: SUPERUSER, group: 'supergroup', permission: 0o600 });
    after.delete('/new');
    after.delete('/a/empty');
    before.delete('/a/empty');
    expect(after).toEqual(before);
  });
});
