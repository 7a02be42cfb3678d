/**
 * Checkpoints, image shipping and journal compaction across real HA NameNodes on a real
 * etcd (issue 14; src/ha/image-sync.ts, journal-purge.ts, image-transfer.ts, ha-node.ts).
 *
 * - A standby whose journal watch was compacted away catches up: three NameNodes, standbys
 *   checkpointing every 100 txns; one standby (reaching etcd through a proxy the test cuts)
 *   is paused (SIGSTOP) while the active writes and compacts etcd after each image the other
 *   standby ships; resumed, its watch is refused as compacted, it reads the journal again
 *   instead of exiting, and after the active and the other standby are killed it takes over
 *   with exactly the acknowledged directories. The killed active, restarted, starts from the
 *   image it was shipped.
 * - The same with the paused standby's image record deleted, so the purge passes it: it
 *   fetches a peer's image and starts again from it in the same process, on the same ports,
 *   then takes over with every acknowledged directory.
 * - A NameNode whose name directory is empty (not formatted) or older than the purged
 *   journal bootstraps from a peer's image (HDFS `bootstrapStandby`), and the etcd quota
 *   alarm shows in metrics and the log.
 * Without etcd the file is skipped, saying why.
 */
import { describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import type { DaemonProcess } from '../../src/local/daemon-process.js';
import { haNamenodeProcess } from '../../src/local/ha-cluster.js';
import { formatNameDir } from '../../src/namenode/name-dir.js';
import { waitFor } from '../support/data-path.js';
import { ETCD_SKIP_REASON, etcdSuite, HAVE_ETCD } from '../support/etcd.js';
import { httpRequest, sample, scrape } from '../support/http.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { EtcdClient } from '../../src/ha/etcd-client.js';
import { haKeys } from '../../src/ha/ha-keys.js';
import path from 'node:path';

if (!HAVE_ETCD) console.warn(ETCD_SKIP_REASON);

const TTL_SECONDS = 2;
let clusters = 0;

describe.skipIf(!HAVE_ETCD)('HA checkpoints and journal compaction', () => {
  const suite = etcdSuite('dfs-ha-compact-');

  function cluster(): { id: string; prefix: string; dir: (name: string) => string } {
    const id = `CID-hac-${process.pid}-${++clusters}`;
    return { id, prefix: `/dfs/${id}/`, dir: (name) => path.join(suite.base, `${id}-${name}`) };
  }

  async function namenode(
    nameDir: string,
    id: string,
    prefix: string,
    env: Record<string, string> = {},
  ): Promise<DaemonProcess> {
    const d = haNamenodeProcess({
      id,
      nameDir,
      port: 0,
      etcdEndpoints: suite.etcd.endpoints,
      ttlSeconds: TTL_SECONDS,
      env: {
        DFS_NAMENODE_HA_PREFIX: prefix,
        DFS_NAMENODE_CHECKPOINT_TXNS: '100',
        DFS_NAMENODE_HA_JOURNAL_RETAIN_TXNS: '10',
        ...env,
      },
    });
    suite.cleanups.push(() => {
      if (d.running) process.kill(d.pid!, 'SIGCONT');
      return d.kill();
    });
    await d.start();
    return d;
  }

  function client(nn: DaemonProcess): DfsClient {
    const c = new DfsClient({ namenode: `127.0.0.1:${nn.port}`, requestTimeoutMs: 20_000 });
    suite.cleanups.push(() => c.close());
    return c;
  }

  const untilActive = (nn: DaemonProcess, timeoutMs = 15_000): Promise<true> =>
    waitFor(
      `${nn.options.name} active`,
      async () => ((await httpRequest(nn.httpPort, '/isActive')).status === 200 ? true : undefined),
      timeoutMs,
    );

  const logged = (nn: DaemonProcess, msg: string): Array<Record<string, unknown>> =>
    nn.logs.filter((l) => l.msg === msg);
  const untilLogged = (
    nn: DaemonProcess,
    msg: string,
    timeoutMs = 20_000,
  ): Promise<Record<string, unknown>> =>
    waitFor(`${nn.options.name}: "${msg}"`, () => Promise.resolve(logged(nn, msg).at(-1)), timeoutMs);

  /** `count` acknowledged mkdirs `/<tag>-<i>` (long names: more bytes per journal event), `parallel` at a time. */
  async function mkdirs(c: DfsClient, tag: string, count: number, parallel = 8): Promise<string[]> {
    const acked: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (next < count) {
          const name = `${tag}-${next++}-${'n'.repeat(150)}`;
          await c.mkdir(`/${name}`);
          acked.push(name);
        }
      }),
    );
    return acked;
  }

  async function listing(c: DfsClient): Promise<string[]> {
    const names: string[] = [];
    for await (const e of c.list('/', 1000)) names.push(path.posix.basename(e.path));
    return names.sort();
  }

  /**
   * nn1 active, then standbys nn2 and nn3 on name dirs of one cluster; nn2 reaches etcd
   * through a proxy the test cuts while nn2 is paused.
   */
  async function activeAndTwoStandbys(): Promise<{
    k: ReturnType<typeof cluster>;
    nn1: DaemonProcess;
    nn2: DaemonProcess;
    nn3: DaemonProcess;
    proxy: TcpProxy;
  }> {
    const k = cluster();
    for (const n of ['nn1', 'nn2', 'nn3']) await formatNameDir(k.dir(n), { force: false, clusterId: k.id });
    const nn1 = await namenode(k.dir('nn1'), 'nn1', k.prefix);
    await untilActive(nn1);
    const proxy = await startTcpProxy(Number(new URL(suite.etcd.endpoints[0]!).port));
    suite.cleanups.push(() => proxy.close());
    const nn2 = await namenode(k.dir('nn2'), 'nn2', k.prefix, {
      DFS_NAMENODE_ETCD_ENDPOINTS: `http://127.0.0.1:${proxy.port}`,
    });
    const nn3 = await namenode(k.dir('nn3'), 'nn3', k.prefix);
    return { k, nn1, nn2, nn3, proxy };
  }

  it('a standby whose journal watch was compacted away catches up from an image', async () => {
    const { k, nn1, nn2, nn3, proxy } = await activeAndTwoStandbys();
    const c1 = client(nn1);
    const etcdClient = new EtcdClient({ endpoints: suite.etcd.endpoints });
    suite.cleanups.push(() => etcdClient.close());
    const acked = await mkdirs(c1, 'a', 150);
    // Both standbys checkpoint at 100 txns; the active fetches an image and purges below them.
    await untilLogged(nn2, 'checkpoint written');
    await untilLogged(nn3, 'checkpoint written');
    await untilLogged(nn1, 'etcd journal purged below the oldest image and compacted');
    expect(logged(nn1, 'checkpoint written')).toHaveLength(0); // the active writes no image

    const pausedAt = (await etcdClient.range(haKeys(k.prefix).head)).revision;
    process.kill(nn2.pid!, 'SIGSTOP');
    try {
      // Its streams break while it sleeps: resumed, its journal watch restarts from where it was.
      proxy.cutOpen();
      // nn3 checkpoints every 100 txns; the active fetches each image and compacts etcd.
      acked.push(...(await mkdirs(c1, 'b', 300)));
      await waitFor('etcd compacted past the paused standby', () =>
        etcdClient.range(haKeys(k.prefix).head, { revision: pausedAt + 1 }).then(
          () => undefined,
          (err: { code?: string }) => (err.code === 'JOURNAL_COMPACTED' ? true : undefined),
        ),
      );
    } finally {
      process.kill(nn2.pid!, 'SIGCONT');
    }
    // The compaction cancelled its watch: it reads the journal again instead of exiting.
    await untilLogged(nn2, 'journal watch compacted away; reading the journal again');
    await untilLogged(nn2, 'standby caught up after compaction; tailing');
    acked.push(...(await mkdirs(c1, 'c', 50)));
    // It holds a recent image again (shipped, or its own next checkpoint) and says so in etcd.
    await waitFor('nn2 records a recent image', async () => {
      const kv = await etcdClient.get(haKeys(k.prefix).image('nn2'));
      return kv !== null && (JSON.parse(kv.value.toString()) as { txid: number }).txid > 300
        ? true
        : undefined;
    });
    expect(nn2.running).toBe(true);

    // nn2 alone is left to take over: it has every acknowledged directory and nothing more.
    await nn3.kill();
    await nn1.kill();
    await untilActive(nn2, (TTL_SECONDS + 10) * 1000);
    const c2 = client(nn2);
    expect(await listing(c2)).toEqual([...acked].sort());
    await c2.mkdir('/after-takeover');

    // The killed active restarts from the image it was shipped, not from txid 0.
    const nn1again = await namenode(k.dir('nn1'), 'nn1', k.prefix);
    const loaded = await untilLogged(nn1again, 'loaded checkpoint image');
    expect(loaded.txid as number).toBeGreaterThan(300);
  }, 240_000);

  it('a standby whose position was purged while it slept loads a peer image and tails on, in the same process', async () => {
    const { k, nn1, nn2, nn3, proxy } = await activeAndTwoStandbys();
    const c1 = client(nn1);
    const acked = await mkdirs(c1, 'a', 150);
    await untilLogged(nn2, 'checkpoint written');
    const etcdClient = new EtcdClient({ endpoints: suite.etcd.endpoints });
    suite.cleanups.push(() => etcdClient.close());

    process.kill(nn2.pid!, 'SIGSTOP');
    try {
      proxy.cutOpen();
      // Its record gone (an operator retired it, say), nothing holds the purge for it.
      await etcdClient.delete(haKeys(k.prefix).image('nn2'));
      acked.push(...(await mkdirs(c1, 'b', 300)));
      await waitFor(
        'the journal purged past the sleeping standby',
        () =>
          Promise.resolve(
            logged(nn1, 'etcd journal purged below the oldest image and compacted').some(
              (l) => (l.firstKeptTxid as number) > 250,
            ) || undefined,
          ),
        // nn1 may first have to give up a download from the paused nn2 (src/ha/image-transfer.ts
        // IMAGE_TRANSFER_IDLE_MS), then fetch nn3's image, record it and purge.
        90_000,
      );
    } finally {
      process.kill(nn2.pid!, 'SIGCONT');
    }
    await untilLogged(nn2, 'starting the NameNode again from the image it fetched');
    await waitFor('nn2 listening again', () =>
      Promise.resolve(logged(nn2, 'namenode listening').length === 2 || undefined),
    );
    expect(logged(nn2, 'loaded checkpoint image').at(-1)!.txid as number).toBeGreaterThan(250);
    expect(nn2.running).toBe(true);
    acked.push(...(await mkdirs(c1, 'c', 30)));
    await nn3.kill();
    await nn1.kill();
    await untilActive(nn2, (TTL_SECONDS + 10) * 1000);
    expect(await listing(client(nn2))).toEqual([...acked].sort());
  }, 240_000);

  it('a NameNode with an empty or too-old name directory bootstraps from a peer image', async () => {
    const k = cluster();
    await formatNameDir(k.dir('nn1'), { force: false, clusterId: k.id });
    await formatNameDir(k.dir('nn2'), { force: false, clusterId: k.id });
    // nn4's directory is formatted now but started only after the journal was purged past it.
    await formatNameDir(k.dir('nn4'), { force: false, clusterId: k.id });
    const quota = { DFS_NAMENODE_HA_ETCD_QUOTA_BYTES: '4096' };
    const nn1 = await namenode(k.dir('nn1'), 'nn1', k.prefix, quota);
    await untilActive(nn1);
    const nn2 = await namenode(k.dir('nn2'), 'nn2', k.prefix);
    const c1 = client(nn1);
    const acked = await mkdirs(c1, 'a', 250);
    await waitFor('the journal purged past txid 1', () =>
      Promise.resolve(
        logged(nn1, 'etcd journal purged below the oldest image and compacted').some(
          (l) => (l.firstKeptTxid as number) > 100,
        ) || undefined,
      ),
    );

    // The quota alarm: metrics and a warning (any etcd database is past 80% of 4 KiB).
    const m = await scrape(nn1.httpPort);
    expect(sample(m, 'dfs_namenode_etcd_db_size_bytes')).toBeGreaterThan(4096);
    expect(sample(m, 'dfs_namenode_etcd_db_quota_bytes')).toBe(4096);
    expect(
      logged(
        nn1,
        'etcd database nears its quota: writes stop when it is full (check that images are written and the journal purged; compact and defragment etcd)',
      ).length,
    ).toBeGreaterThan(0);

    // Empty: nn3's directory does not exist; too old: nn4's holds only the image at txid 0.
    const nn3 = await namenode(k.dir('nn3'), 'nn3', k.prefix);
    expect(logged(nn3, 'name directory bootstrapped from a peer image')).toHaveLength(1);
    const nn4 = await namenode(k.dir('nn4'), 'nn4', k.prefix);
    await untilLogged(nn4, 'journal purged past the local image: loaded a peer image');
    acked.push(...(await mkdirs(c1, 'b', 20)));

    // Each can take over with everything: kill the others one by one.
    await nn1.kill();
    await nn2.kill();
    await nn4.kill();
    await untilActive(nn3, (TTL_SECONDS + 10) * 1000);
    expect(await listing(client(nn3))).toEqual([...acked].sort());
    const nn4again = await namenode(k.dir('nn4'), 'nn4', k.prefix);
    await nn3.kill();
    await untilActive(nn4again, (TTL_SECONDS + 10) * 1000);
    expect(await listing(client(nn4again))).toEqual([...acked].sort());
  }, 240_000);
});
