/**
 * The web API acts as its caller, not as the NameNode (src/namenode/web-transfer.ts,
 * web-api.ts): `user.name` names the user as in WebHDFS (HDFS simple auth), `dr.who` when it
 * is absent, and the NameNode's permission checks apply to every change and to listings and
 * file details, across real processes. Before, every change ran as the NameNode's own user
 * (the superuser), so anyone reaching the HTTP port could change anything.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { startCluster } from '../support/cluster.js';
import { getBuffer, putBuffer, testBytes } from '../support/data-path.js';

let cluster: LocalCluster;
let cleanup: () => Promise<void>;
let client: DfsClient;
const api = (path: string): string => `http://${cluster.namenodeHttpAddress}/api/v1/${path}`;
const CSRF = { 'X-XSRF-HEADER': '1' };

beforeAll(async () => {
  ({ cluster, cleanup } = await startCluster({ datanodes: 1 }));
  await cluster.waitWritable();
  // The test's own user runs the NameNode: the superuser.
  client = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 30_000 });
  await client.mkdir('/home/alice/private', { parents: true });
  await putBuffer(client, '/home/alice/f.bin', testBytes(5000, 1));
  await putBuffer(client, '/home/alice/secret.bin', testBytes(100, 2));
  for (const p of ['/home/alice', '/home/alice/private', '/home/alice/f.bin', '/home/alice/secret.bin'])
    await client.setOwner(p, { owner: 'alice', group: 'alice' });
  await client.setPermission('/home/alice', 0o755);
  await client.setPermission('/home/alice/private', 0o700);
  await client.setPermission('/home/alice/secret.bin', 0o600);
}, 60_000);

afterAll(async () => {
  client?.close();
  await cleanup?.();
});

/** `user`'s query suffix: none for the anonymous caller. */
const as = (user: string | null): string => (user === null ? '' : `&user.name=${user}`);

async function call(
  method: string,
  path: string,
  body?: Buffer,
): Promise<{
  status: number;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
}> {
  const r = await fetch(api(path), { method, headers: method === 'GET' ? {} : CSRF, body });
  const text = await r.text();
  return { status: r.status, body: JSON.parse(text) as never };
}

/** The four changes of the browse page, in a directory `user` may or may not write. */
async function changes(user: string | null, tag: string): Promise<number[]> {
  return [
    (await call('POST', `mkdir?path=/home/alice/d-${tag}${as(user)}`)).status,
    (await call('PUT', `content?path=/home/alice/up-${tag}.bin${as(user)}`, testBytes(3000, 3))).status,
    (await call('POST', `rename?path=/home/alice/f.bin&to=/home/alice/f-${tag}.bin${as(user)}`)).status,
    (await call('DELETE', `file?path=/home/alice/f-${tag}.bin${as(user)}`)).status,
  ];
}

describe('web API acts as user.name (default dr.who)', () => {
  it('refuses dr.who and another user with 403 in a 755 directory of alice, and lets alice change it', async () => {
    for (const [user, verb] of [
      [null, 'dr.who'],
      ['bob', 'bob'],
    ] as const) {
      const mk = await call('POST', `mkdir?path=/home/alice/d${as(user)}`);
      expect(mk.status).toBe(403);
      expect(mk.body.error).toMatchObject({ code: 'ACCESS_DENIED' });
      expect(mk.body.error!.message).toContain(`${verb} may not write /home/alice (owner alice`);
      const up = await call('PUT', `content?path=/home/alice/up.bin${as(user)}`, testBytes(3000, 3));
      expect(up.status).toBe(403);
      expect(up.body.error!.message).toContain(`${verb} may not write /home/alice`);
      const ren = await call('POST', `rename?path=/home/alice/f.bin&to=/home/alice/g.bin${as(user)}`);
      expect(ren.status).toBe(403);
      expect(ren.body.error!.message).toContain(`${verb} may not write /home/alice`);
      const del = await call('DELETE', `file?path=/home/alice/f.bin${as(user)}`);
      expect(del.status).toBe(403);
      expect(del.body.error!.message).toContain(`${verb} may not write /home/alice`);
    }
    // Nothing changed, and no upload copy was left behind.
    const names: string[] = [];
    for await (const s of client.list('/home/alice')) names.push(s.path);
    expect(names.sort()).toEqual(['f.bin', 'private', 'secret.bin']);

    expect(await changes('alice', 'a')).toEqual([201, 201, 200, 200]);
    // What alice made is alice's, as with her own client.
    expect((await client.stat('/home/alice/d-a')).owner).toBe('alice');
    expect((await client.stat('/home/alice/up-a.bin')).owner).toBe('alice');
    expect((await getBuffer(client, '/home/alice/up-a.bin')).equals(testBytes(3000, 3))).toBe(true);
    expect(await client.exists('/home/alice/f.bin')).toBeNull();
    expect(await client.exists('/home/alice/f-a.bin')).toBeNull();
  });

  it('checks listings, file details and downloads as the caller', async () => {
    const list = await call('GET', 'list?path=/home/alice/private');
    expect(list.status).toBe(403);
    expect(list.body.error!.message).toContain('dr.who may not read');
    expect((await call('GET', 'list?path=/home/alice/private&user.name=alice')).status).toBe(200);
    // A readable directory lists for anyone.
    expect((await call('GET', 'list?path=/home/alice')).status).toBe(200);
    const details = await call('GET', 'file?path=/home/alice/secret.bin');
    expect(details.status).toBe(403);
    expect(details.body.error).toMatchObject({ code: 'ACCESS_DENIED' });
    const mine = await call('GET', 'file?path=/home/alice/secret.bin&user.name=alice');
    expect(mine.status).toBe(200);
    expect(mine.body.blocks).toHaveLength(1);
    const down = await fetch(api('content?path=/home/alice/secret.bin'));
    expect(down.status).toBe(403);
    const own = await fetch(api('content?path=/home/alice/secret.bin&user.name=alice'));
    expect(own.status).toBe(200);
    expect(Buffer.from(await own.arrayBuffer()).equals(testBytes(100, 2))).toBe(true);
  });

  it('refuses a malformed user.name with 400', async () => {
    const r = await call('GET', 'list?path=/&user.name=a%20b');
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'BAD_QUERY' });
    expect(r.body.error!.message).toContain('user.name');
  });
});
