/**
 * Retried calls across a failover return their original results (issue 14; the retry cache,
 * src/namenode/retry-cache.ts): two real `dfsd namenode` processes with `journal: "etcd"` on
 * one real etcd, a DataNode reporting to both, and a client given both addresses
 * (src/client/namenode-failover.ts). The active is started with the DFS_FAULTS hook
 * `crashAfterLoggedRpc`: once a client's call of that RPC is durable in the etcd journal it
 * SIGKILLs itself before answering, as a machine dying between commit and send. The standby,
 * which rebuilt its retry cache while tailing the journal, takes over, and the client's
 * retry (the same client id and call id) gets the first result: create the file as it was
 * created, addBlock the same block (not a second one), complete true, rename done; where a
 * second application would answer ALREADY_EXISTS, INVALID_ARGUMENT (the previous block is no
 * longer the last), a refusal to complete a closed file, or NOT_FOUND. After each takeover
 * the dead NameNode is restarted on its port as the new standby, set to die on the next call.
 *
 * Running the file with DFS_NAMENODE_RETRY_CACHE_ENTRIES_MAX=0 (the cache off in the
 * daemons it spawns) makes it fail. Without etcd the file is skipped, saying why.
 */
import { describe, expect, it } from 'vitest';
import { Role } from '../../protocol/handshake.js';
import { userFrom } from '../../src/client/dfs-client.js';
import { NamenodeClient } from '../../src/client/namenode-client.js';
import type { DaemonProcess } from '../../src/local/daemon-process.js';
import { haDatanodeProcess, haNamenodeProcess } from '../../src/local/ha-cluster.js';
import { startOnFixedPort } from '../../src/local/local-cluster.js';
import { formatNameDir } from '../../src/namenode/name-dir.js';
import { sleep, waitFor, within } from '../support/data-path.js';
import { ETCD_SKIP_REASON, etcdSuite, HAVE_ETCD } from '../support/etcd.js';
import { httpRequest } from '../support/http.js';
import path from 'node:path';

if (!HAVE_ETCD) console.warn(ETCD_SKIP_REASON);

const TTL_SECONDS = 2;
const CLUSTER_ID = `CID-retry-${process.pid}`;

describe.skipIf(!HAVE_ETCD)('retried calls across a NameNode failover (etcd journal)', () => {
  const suite = etcdSuite('dfs-ha-retry-');

  /**
   * A NameNode on `port` (0: a random one below the ephemeral range, so it can be restarted
   * there), set to die after journaling a call of `dieOn` (null: never).
   */
  async function namenode(id: string, port: number, dieOn: string | null): Promise<DaemonProcess> {
    const make = (p: number): DaemonProcess => {
      const d = haNamenodeProcess({
        id,
        nameDir: path.join(suite.base, id),
        port: p,
        etcdEndpoints: suite.etcd.endpoints,
        ttlSeconds: TTL_SECONDS,
        env: {
          DFS_NAMENODE_HA_PREFIX: `/dfs/${CLUSTER_ID}/`,
          DFS_NAMENODE_HTTP_HOST: '127.0.0.1',
          ...(dieOn === null ? {} : { DFS_FAULTS: JSON.stringify({ crashAfterLoggedRpc: dieOn }) }),
        },
      });
      suite.cleanups.push(() => d.kill());
      return d;
    };
    if (port === 0) return startOnFixedPort(make);
    const d = make(port);
    await d.start();
    return d;
  }

  const isActive = async (nn: DaemonProcess): Promise<boolean> =>
    (await httpRequest(nn.httpPort, '/isActive')).status === 200;

  it('create, addBlock, complete and rename, journaled by an active that died before answering, return their original results from its successor', async () => {
    for (const id of ['nn1', 'nn2'])
      await formatNameDir(path.join(suite.base, id), { force: false, clusterId: CLUSTER_ID });
    const nns: Record<string, DaemonProcess> = {};
    nns.nn1 = await namenode('nn1', 0, 'create');
    await waitFor('nn1 active', async () => ((await isActive(nns.nn1!)) ? true : undefined), 15_000);
    nns.nn2 = await namenode('nn2', 0, 'addBlock');
    const both = `127.0.0.1:${nns.nn1.port},127.0.0.1:${nns.nn2.port}`;
    const dn = haDatanodeProcess({ name: 'dn', namenodes: both, dataDir: path.join(suite.base, 'dn') });
    suite.cleanups.push(() => dn.kill());
    await dn.start();
    const nn = new NamenodeClient({
      host: '127.0.0.1',
      port: nns.nn1.port,
      namenodes: [nns.nn1, nns.nn2].map((d) => ({ host: '127.0.0.1', port: d.port })),
      role: Role.CLIENT,
      user: userFrom(),
      requestTimeoutMs: 10_000,
      failoverTimeoutMs: 30_000,
    });
    suite.cleanups.push(() => nn.close());
    await waitFor('the DataNode live on the active', async () =>
      (await nn.datanodeReport()).nodes.filter((n) => n.state === 1).length === 1 ? true : undefined,
    );

    /**
     * Makes `call`, which the active journals and then dies on; the standby takes over and
     * answers the retry; the dead one is restarted on its port as the new standby, set to
     * die on `next`. Resolves with what the retry got.
     */
    async function acrossFailover<T>(call: () => Promise<T>, next: string | null): Promise<T> {
      const [dying, surviving] = (await isActive(nns.nn1!)) ? ['nn1', 'nn2'] : ['nn2', 'nn1'];
      const settled = call().then(
        (value) => ({ value }),
        (err: unknown) => ({ err }),
      );
      const dead = nns[dying]!;
      await within(15_000, `${dying} to die after journaling`, dead.waitExit());
      expect(dead.exitDescription).toBe('signal SIGKILL');
      const got = await settled;
      expect(await isActive(nns[surviving]!)).toBe(true);
      nns[dying] = await namenode(dying, dead.port, next);
      // The new standby tails the journal and hears the DataNode (every 300 ms) before it is needed.
      await sleep(1000);
      if ('err' in got) throw got.err;
      return got.value;
    }

    const clientName = 'retrying-writer';
    const create = (p: string): Promise<unknown> =>
      nn.create({
        path: p,
        clientName,
        overwrite: false,
        createParent: false,
        replication: 1,
        blockBytes: 1 << 20,
        permission: 0o644,
      });

    // nn1 active dies on create; nn2 answers the retry.
    const created = await acrossFailover(() => create('/f'), 'complete');
    expect(created).toEqual(await nn.stat({ path: '/f' }));

    // nn2 active dies on addBlock; nn1 answers the retry with the same block, not a second.
    const located = await acrossFailover(
      () => nn.addBlock({ path: '/f', clientName, previous: null, excludeNodes: [], reservedBlockId: 0 }),
      'rename',
    );
    const blocks = await nn.getBlockLocations({ path: '/f', offset: 0, length: 0 });
    expect(blocks.blocks.map((b) => b.block)).toEqual([located.block]);
    expect(located.offset).toBe(0);
    expect(located.locations.length).toBe(1);

    // nn1 active dies on complete; nn2 answers true.
    await create('/e');
    const completed = await acrossFailover(() => nn.complete({ path: '/e', clientName, last: null }), null);
    expect(completed).toEqual({ completed: true });
    expect((await nn.stat({ path: '/e' })).underConstruction).toBe(false);

    // nn2 active dies on rename; nn1 answers done.
    await acrossFailover(() => nn.rename({ src: '/e', dst: '/e2' }), null);
    expect((await nn.stat({ path: '/e2' })).length).toBe(0);
    await expect(nn.stat({ path: '/e' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
