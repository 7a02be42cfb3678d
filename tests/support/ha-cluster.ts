/**
 * The HA cluster of the fault tests (tests/ha/ha-chaos.test.ts): src/local/ha-cluster.ts with
 * a TCP proxy per NameNode in front of every etcd member, so a test can cut one NameNode off
 * from etcd (a partition: `drop()`, then `heal()`) while the others still reach it.
 */
import { HaCluster, type HaClusterOptions } from '../../src/local/ha-cluster.js';
import type { EtcdCluster } from './etcd.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

export { HaCluster };

export interface ProxiedHaCluster {
  cluster: HaCluster;
  /** NameNode `i`'s proxies, one per etcd member. */
  proxies: TcpProxy[][];
  stop(): Promise<void>;
}

export async function startProxiedHaCluster(
  etcd: EtcdCluster,
  options: Omit<HaClusterOptions, 'etcdEndpoints'>,
): Promise<ProxiedHaCluster> {
  const proxies: TcpProxy[][] = [];
  const closeProxies = async (): Promise<void> => {
    for (const list of proxies.splice(0)) await Promise.all(list.map((p) => p.close()));
  };
  try {
    const cluster = await HaCluster.start({
      ...options,
      echoLogs: process.env.DFS_HA_ECHO === '1',
      etcdEndpoints: async (i) => {
        proxies[i] = await Promise.all(etcd.members.map((m) => startTcpProxy(m.clientPort)));
        return proxies[i].map((p) => `http://127.0.0.1:${p.port}`);
      },
    });
    return {
      cluster,
      proxies,
      async stop() {
        await cluster.stop();
        await closeProxies();
      },
    };
  } catch (err) {
    await closeProxies();
    throw err;
  }
}
