/**
 * The retry cache across a NameNode restart, with the local edit log (issue 14;
 * src/namenode/retry-cache.ts). A real NameNode process is started with the DFS_FAULTS hook
 * `crashAfterLoggedRpc`: once a client's call of that RPC is durable in its edit log, it
 * SIGKILLs itself before answering, as a machine dying between fdatasync and send. The
 * client (given `failoverTimeoutMs`, so it retries its one NameNode: namenode-failover.ts)
 * sends the call again, with the same call id, to the NameNode restarted meanwhile, which
 * rebuilt its retry cache from the edit log: the retry gets the original result, where a
 * second application would answer ALREADY_EXISTS (create, mkdir), NOT_FOUND (rename, delete)
 * or refuse to complete a file already closed.
 *
 * Running the file with DFS_NAMENODE_RETRY_CACHE_ENTRIES_MAX=0 (the cache off in the
 * daemons it spawns) makes it fail, as it did before the cache.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Role } from '../../protocol/handshake.js';
import { userFrom } from '../../src/client/dfs-client.js';
import { NamenodeClient } from '../../src/client/namenode-client.js';
import { clusterPerTest } from '../support/cluster.js';
import { within } from '../support/data-path.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';

const per = clusterPerTest();
const clients: NamenodeClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

/** The NameNode's environment: dies after journaling a call of `rpc` (null: never). */
function envDying(rpc: string | null): NodeJS.ProcessEnv {
  return {
    DFS_NAMENODE_SAFE_MODE_EXTENSION_MS: '0',
    ...(rpc === null ? {} : { DFS_FAULTS: JSON.stringify({ crashAfterLoggedRpc: rpc }) }),
  };
}

/**
 * Makes `call`, which the NameNode journals and then dies on; restarts the NameNode (set to
 * die on `next`) while the client retries; resolves with what the retry got.
 */
async function acrossRestart<T>(cluster: LocalCluster, call: Promise<T>, next: string | null): Promise<T> {
  const settled = call.then(
    (value) => ({ value }),
    (err: unknown) => ({ err }),
  );
  await within(15_000, 'the NameNode to die after journaling', cluster.namenode.waitExit());
  expect(cluster.namenode.exitDescription).toBe('signal SIGKILL');
  cluster.options.namenodeEnv = envDying(next);
  await cluster.restartNamenode();
  const got = await settled;
  if ('err' in got) throw got.err;
  return got.value;
}

describe('retried calls across a NameNode restart (local edit log)', () => {
  it('create, mkdir, complete, rename and delete, journaled by a NameNode that died before answering, get their original results', async () => {
    const cluster = await per.start({ namenodeEnv: envDying('create') });
    const nn = new NamenodeClient({
      host: '127.0.0.1',
      port: cluster.namenode.port,
      role: Role.CLIENT,
      user: userFrom(),
      requestTimeoutMs: 10_000,
      failoverTimeoutMs: 30_000,
    });
    clients.push(nn);
    const clientName = 'retrying-writer';

    const created = await acrossRestart(
      cluster,
      nn.create({
        path: '/f',
        clientName,
        overwrite: false,
        createParent: false,
        replication: 1,
        blockBytes: 1 << 20,
        permission: 0o644,
      }),
      'mkdir',
    );
    // The first create's answer: the file as it made it (its mtime), now under construction.
    expect(created).toEqual(await nn.stat({ path: '/f' }));

    await acrossRestart(cluster, nn.mkdir({ path: '/d', parents: false, permission: 0o755 }), 'complete');
    expect((await nn.stat({ path: '/d' })).type).toBe((await nn.stat({ path: '/' })).type);

    const completed = await acrossRestart(
      cluster,
      nn.complete({ path: '/f', clientName, last: null }),
      'rename',
    );
    expect(completed).toEqual({ completed: true });

    await acrossRestart(cluster, nn.rename({ src: '/f', dst: '/d/g' }), 'delete');
    expect((await nn.stat({ path: '/d/g' })).length).toBe(0);

    await acrossRestart(cluster, nn.delete({ path: '/d', recursive: true }), null);
    await expect(nn.stat({ path: '/d' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const root = await nn.list({ path: '/', startAfter: '', limit: 0 });
    expect(root.entries.map((e) => e.path)).toEqual([]);
  });
});
