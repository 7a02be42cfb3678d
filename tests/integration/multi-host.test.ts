/**
 * DFS across hosts, not only on loopback (issue 10, item 15): a NameNode and four
 * DataNodes, each on its own network-namespace host with its own address (tests/support/
 * netns.ts), every DataNode on the same default port and with `advertiseHost` left to its
 * default, so the NameNode must learn each node's address from its connection. A client on
 * the bridge writes and reads files at replication 3; a host's DataNode is killed and the
 * cluster re-replicates onto the fourth host; every file reads back identical.
 *
 * Skipped, with the reason printed, where the machine cannot make network namespaces.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import { DaemonProcess, DFSD_BIN } from '../../src/local/daemon-process.js';
import { tempDir } from '../support/cluster.js';
import { getBuffer, putBuffer, testBytes, waitFor, waitForDatanodes } from '../support/data-path.js';
import { DEAD_NODE_TIMEOUT_MS, HEALING_DATANODE_ENV, HEALING_NAMENODE_ENV } from '../support/healing.js';
import { createTestNetwork, type TestNetwork } from '../support/netns.js';

const NAMENODE_PORT = 8020;
const DATANODE_PORT = 9866;
const KiB = 1024;
const LAYOUT = { blockBytes: 256 * KiB, chunkBytes: 16 * KiB, packetBytes: 64 * KiB };

let net: TestNetwork | null = null;
let skipReason = '';
let base = '';
const daemons: DaemonProcess[] = [];
let client: DfsClient | null = null;

beforeAll(() => {
  const made = createTestNetwork(5);
  if (typeof made === 'string') {
    skipReason = made;
    console.warn(`multi-host tests skipped: ${made}`);
    return;
  }
  net = made;
  base = tempDir('dfs-hosts-');
});

afterAll(async () => {
  client?.close();
  await Promise.all(daemons.map((d) => d.kill()));
  net?.destroy();
  if (base !== '') fs.rmSync(base, { recursive: true, force: true });
});

describe('a cluster spread over network-namespace hosts', () => {
  it('serves replication 3 across hosts by their own addresses and heals a killed host', async (ctx) => {
    if (net === null) {
      console.warn(`skipped: ${skipReason}`);
      ctx.skip();
      return;
    }
    const [nnHost, ...dnHosts] = net.hosts;
    const nameDir = path.join(base, 'name');
    const formatted = spawnSync(process.execPath, [DFSD_BIN, 'namenode', '--format', '--name-dir', nameDir], {
      encoding: 'utf8',
    });
    expect(formatted.status, formatted.stderr).toBe(0);

    const namenode = new DaemonProcess({
      name: 'namenode',
      args: ['namenode', '--name-dir', nameDir, '--host', '0.0.0.0', '--port', String(NAMENODE_PORT)],
      readyMessage: 'namenode listening',
      env: HEALING_NAMENODE_ENV,
      launcher: nnHost!.launcher,
    });
    daemons.push(namenode);
    await namenode.start();
    const namenodeAddress = `${nnHost!.address}:${NAMENODE_PORT}`;

    const datanodes = dnHosts.map((host, i) => {
      const d = new DaemonProcess({
        name: `datanode${i}`,
        // Default listen address (0.0.0.0) and no advertiseHost: the NameNode sees the source address.
        args: [
          'datanode',
          '--namenode',
          namenodeAddress,
          '--data-dir',
          path.join(base, `data${i}`),
          '--port',
          String(DATANODE_PORT),
        ],
        readyMessage: 'datanode listening',
        env: HEALING_DATANODE_ENV,
        launcher: host.launcher,
      });
      daemons.push(d);
      return d;
    });
    await Promise.all(datanodes.map((d) => d.start()));

    client = new DfsClient({ namenode: namenodeAddress, requestTimeoutMs: 15_000 });
    await waitForDatanodes(client, dnHosts.length);
    const report = await client.datanodeReport();
    expect(report.map((n) => `${n.host}:${n.port}`).sort()).toEqual(
      dnHosts.map((h) => `${h.address}:${DATANODE_PORT}`).sort(),
    );

    const files = new Map<string, Buffer>();
    for (let i = 0; i < 3; i++) {
      const data = testBytes(3 * LAYOUT.blockBytes + 1234 * i, 300 + i);
      await putBuffer(client, `/hosts/f${i}`, data, { replication: 3, ...LAYOUT });
      files.set(`/hosts/f${i}`, data);
    }
    for (const [remote, data] of files) expect((await getBuffer(client, remote)).equals(data)).toBe(true);
    const addressOf = new Map(dnHosts.map((h, i) => [h.address, i]));
    const located = (await client.getBlockLocations('/hosts/f0', 0, 0)).blocks;
    for (const lb of located) {
      expect(lb.locations).toHaveLength(3);
      for (const loc of lb.locations) expect(addressOf.has(loc.host), loc.host).toBe(true);
    }

    // Kill the DataNode of a host holding f0's first block; the fourth host takes its place.
    const victim = addressOf.get(located[0]!.locations[0]!.host)!;
    await datanodes[victim]!.kill();
    const victimAddress = dnHosts[victim]!.address;
    await waitFor(
      'every block back at 3 replicas, none on the killed host',
      async () => {
        for (const remote of files.keys()) {
          for (const lb of (await client!.getBlockLocations(remote, 0, 0)).blocks) {
            if (lb.locations.length !== 3 || lb.locations.some((l) => l.host === victimAddress))
              return undefined;
          }
        }
        return true;
      },
      DEAD_NODE_TIMEOUT_MS + 30_000,
      200,
    );
    for (const [remote, data] of files) expect((await getBuffer(client, remote)).equals(data)).toBe(true);
  });
});
