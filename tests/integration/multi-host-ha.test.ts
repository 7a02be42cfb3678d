/**
 * The three-host HA deployment of README.md ("A three-host HA deployment") on three
 * network-namespace hosts (tests/support/netns.ts), each with its own address: an etcd member
 * and a DataNode on every host, NameNodes on the first two, bound to 0.0.0.0 and advertising
 * their host's address. A client on the bridge is given both NameNodes.
 *
 * A standby's STANDBY answer names the active by its advertised address (not 127.0.0.1,
 * which is what a NameNode bound to 0.0.0.0 would otherwise say). Then the active's host
 * drops off the network with everything on it still running (its link goes down): etcd keeps
 * its quorum on the other two, the standby takes over, the cut-off active steps down by
 * itself (it cannot renew its lease) and exits with status 2, and every acknowledged change
 * and file is there through the new active, the files readable from the remaining replicas.
 *
 * Skipped, with the reason printed, where the machine cannot make network namespaces or has
 * no etcd.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import { DaemonProcess, DFSD_BIN } from '../../src/local/daemon-process.js';
import { tempDir } from '../support/cluster.js';
import { getBuffer, putBuffer, testBytes, waitFor, waitForDatanodes } from '../support/data-path.js';
import { ETCD_SKIP_REASON, HAVE_ETCD, startEtcdCluster, type EtcdCluster } from '../support/etcd.js';
import { createTestNetwork, type TestHost, type TestNetwork } from '../support/netns.js';

const NAMENODE_PORT = 8020;
const NAMENODE_HTTP_PORT = 9870;
const DATANODE_PORT = 9866;
const TTL_SECONDS = 2;
const KiB = 1024;
const LAYOUT = { blockBytes: 256 * KiB, chunkBytes: 16 * KiB, packetBytes: 64 * KiB };

let net: TestNetwork | null = null;
let skipReason = '';
let base = '';
let etcd: EtcdCluster | null = null;
const daemons: DaemonProcess[] = [];
const clients: DfsClient[] = [];

beforeAll(() => {
  if (!HAVE_ETCD) {
    skipReason = ETCD_SKIP_REASON;
    console.warn(`multi-host HA tests skipped: ${skipReason}`);
    return;
  }
  const made = createTestNetwork(3);
  if (typeof made === 'string') {
    skipReason = made;
    console.warn(`multi-host HA tests skipped: ${made}`);
    return;
  }
  net = made;
  base = tempDir('dfs-hosts-ha-');
});

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all(daemons.map((d) => d.kill()));
  await etcd?.stop();
  net?.destroy();
  if (base !== '') fs.rmSync(base, { recursive: true, force: true });
});

async function isActive(host: TestHost): Promise<number> {
  return fetch(`http://${host.address}:${NAMENODE_HTTP_PORT}/isActive`, {
    signal: AbortSignal.timeout(500),
  }).then(
    async (res) => (await res.arrayBuffer(), res.status),
    () => 0,
  );
}

/** A daemon's last 30 log lines, each with its time from `cutMs` (ms), level, msg and fields. */
function lastLogs(d: DaemonProcess, cutMs: number): string {
  const lines = d.logs.slice(-30).map((l) => {
    const { time, level, msg, ...fields } = l;
    delete fields.pid;
    delete fields.hostname;
    const at = Date.parse(String(time)) - cutMs;
    return `  ${at >= 0 ? '+' : ''}${at} ms ${String(level)} ${String(msg)} ${JSON.stringify(fields)}`;
  });
  return `${d.options.name}, its last lines (ms from the cut):\n${lines.join('\n')}`;
}

describe('HA across network-namespace hosts', () => {
  it('a host with the active NameNode drops off the network: the other takes over, nothing is lost', async (ctx) => {
    if (net === null) {
      console.warn(`skipped: ${skipReason}`);
      ctx.skip();
      return;
    }
    const hosts = net.hosts;
    etcd = await startEtcdCluster(3, { hosts });
    const endpoints = etcd.endpoints.join(',');
    const nnHosts = hosts.slice(0, 2);
    const namenodes = nnHosts.map((host, i) => {
      const nameDir = path.join(base, `name${i}`);
      const formatted = spawnSync(
        process.execPath,
        [DFSD_BIN, 'namenode', '--format', '--name-dir', nameDir, '--cluster-id', 'CID-hosts-ha'],
        { encoding: 'utf8' },
      );
      expect(formatted.status, formatted.stderr).toBe(0);
      const d = new DaemonProcess({
        name: `nn${i}`,
        args: ['namenode', '--name-dir', nameDir, '--host', '0.0.0.0', '--port', String(NAMENODE_PORT)],
        readyMessage: 'namenode listening',
        launcher: host.launcher,
        env: {
          DFS_NAMENODE_HTTP_PORT: String(NAMENODE_HTTP_PORT),
          DFS_NAMENODE_JOURNAL: 'etcd',
          DFS_NAMENODE_ETCD_ENDPOINTS: endpoints,
          DFS_NAMENODE_HA_LEASE_TTL_SECONDS: String(TTL_SECONDS),
          DFS_NAMENODE_NODE_ID: `nn${i}`,
          DFS_NAMENODE_ADVERTISE_HOST: host.address,
          DFS_NAMENODE_SAFE_MODE_EXTENSION_MS: '0',
        },
      });
      daemons.push(d);
      return d;
    });
    await namenodes[0]!.start();
    await waitFor(
      'nn0 active',
      async () => ((await isActive(nnHosts[0]!)) === 200 ? true : undefined),
      20_000,
    );
    await namenodes[1]!.start();
    const both = nnHosts.map((h) => `${h.address}:${NAMENODE_PORT}`).join(',');

    const datanodes = hosts.map((host, i) => {
      const d = new DaemonProcess({
        name: `dn${i}`,
        args: [
          'datanode',
          '--namenode',
          both,
          '--data-dir',
          path.join(base, `data${i}`),
          '--port',
          String(DATANODE_PORT),
        ],
        readyMessage: 'datanode listening',
        launcher: host.launcher,
        env: { DFS_DATANODE_HEARTBEAT_INTERVAL_MS: '300' },
      });
      daemons.push(d);
      return d;
    });
    await Promise.all(datanodes.map((d) => d.start()));

    // The standby names the active by the address it advertises.
    const standbyOnly = new DfsClient({
      namenode: `${nnHosts[1]!.address}:${NAMENODE_PORT}`,
      requestTimeoutMs: 5000,
    });
    clients.push(standbyOnly);
    const refusal = await waitFor('a STANDBY naming the active', async () => {
      const e = (await standbyOnly.stat('/').then(
        () => null,
        (x: unknown) => x,
      )) as { code?: string; message?: string } | null;
      return e?.message?.includes(`the active is ${nnHosts[0]!.address}:${NAMENODE_PORT}`) === true
        ? e
        : undefined;
    });
    expect(refusal.code).toBe('STANDBY');

    const client = new DfsClient({ namenode: both, requestTimeoutMs: 15_000 });
    clients.push(client);
    await waitForDatanodes(client, hosts.length);
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 4; i++) {
      const data = testBytes(2 * LAYOUT.blockBytes + 777 * i, 500 + i);
      await putBuffer(client, `/ha/f${i}`, data, { replication: 3, ...LAYOUT });
      files.set(`/ha/f${i}`, data);
    }
    for (let i = 0; i < 50; i++) await client.mkdir(`/ha/d${i}`);

    // The active's host drops off the network, everything on it still running.
    const cutAt = Date.now();
    hosts[0]!.disconnect();
    await waitFor(
      'nn1 active',
      async () => ((await isActive(nnHosts[1]!)) === 200 ? true : undefined),
      30_000,
    ).catch((err: unknown) => {
      // What each NameNode said since the cut: the election's steps, etcd's failures.
      throw new Error(`${(err as Error).message}\n${namenodes.map((d) => lastLogs(d, cutAt)).join('\n')}`);
    });
    console.log(
      `multi-host HA: the standby took over ${Date.now() - cutAt} ms after the active's host dropped off`,
    );
    // Cut off from etcd, the old active cannot renew its lease: it stops by itself.
    expect(await namenodes[0]!.waitExit()).toBe(2);
    expect(namenodes[0]!.logs.some((l) => l.msg === 'HA: no longer able to serve; stopping')).toBe(true);

    for (let i = 0; i < 50; i++) expect(await client.exists(`/ha/d${i}`), `/ha/d${i}`).not.toBeNull();
    await client.mkdir('/ha/after');
    for (const [remote, data] of files)
      expect((await getBuffer(client, remote)).equals(data), remote).toBe(true);
  }, 180_000);
});
