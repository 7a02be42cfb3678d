/**
 * /healthz and /readyz across real processes (issue 13 section 1): the NameNode is ready
 * only out of safe mode, a DataNode only while registered with its NameNode; /healthz says
 * the process serves either way. A daemon started with `--http-port -1` serves no HTTP.
 * Stopping a daemon (in process here, to see it without the process exit) closes its HTTP
 * server and the keep-alive connections it held.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Role } from '../../protocol/handshake.js';
import { DfsClient } from '../../src/client/dfs-client.js';
import { DATANODE_DEFAULTS, NAMENODE_DEFAULTS } from '../../src/common/config.js';
import { silentLogger } from '../../src/common/logger.js';
import { DataNode } from '../../src/datanode/datanode.js';
import { formatNameDir } from '../../src/namenode/name-dir.js';
import { NameNode } from '../../src/namenode/namenode.js';
import { clusterPerTest, tempDir } from '../support/cluster.js';
import { waitFor, waitForDatanodes, within } from '../support/data-path.js';
import { httpRequest, keptAlive, sample, scrape } from '../support/http.js';

const per = clusterPerTest();

async function statusOf(port: number, path: string): Promise<number> {
  return (await httpRequest(port, path)).status;
}

/** Waits until `path` on `port` answers `status`; returns the body. */
async function waitStatus(port: number, path: string, status: number, timeoutMs = 15_000): Promise<string> {
  return waitFor(
    `${path} on port ${port} to answer ${status}`,
    async () => {
      const r = await httpRequest(port, path).catch(() => null);
      return r?.status === status ? r.body : undefined;
    },
    timeoutMs,
  );
}

describe('/healthz and /readyz', () => {
  it('NameNode: ready out of safe mode, 503 in it; healthy throughout', async () => {
    const cluster = await per.start({ datanodes: 1 });
    const port = cluster.namenode.httpPort;
    await waitStatus(port, '/readyz', 200);
    const admin = new DfsClient({ namenode: cluster.namenodeAddress, role: Role.ADMIN });
    try {
      await admin.safeMode('enter');
      const body = JSON.parse(await waitStatus(port, '/readyz', 503)) as { ready: boolean; detail: string };
      expect(body.ready).toBe(false);
      expect(body.detail).toMatch(/safe mode/i);
      expect(await statusOf(port, '/healthz')).toBe(200);
      expect(sample(await scrape(port), 'dfs_namenode_safe_mode')).toBe(1);
      await admin.safeMode('leave');
      await waitStatus(port, '/readyz', 200);
      expect(sample(await scrape(port), 'dfs_namenode_safe_mode')).toBe(0);
    } finally {
      admin.close();
    }
  });

  it('DataNode: ready while registered, 503 once its NameNode is gone, ready again after it returns', async () => {
    const cluster = await per.start({
      datanodes: 1,
      datanodeEnv: () => ({ DFS_DATANODE_HEARTBEAT_INTERVAL_MS: '200' }),
    });
    const dn = cluster.datanodes[0]!;
    await waitStatus(dn.httpPort, '/readyz', 200);
    expect(sample(await scrape(dn.httpPort), 'dfs_datanode_registered')).toBe(1);

    await cluster.namenode.kill();
    const body = JSON.parse(await waitStatus(dn.httpPort, '/readyz', 503)) as { detail: string };
    expect(body.detail).toContain('not registered');
    expect(await statusOf(dn.httpPort, '/healthz')).toBe(200);
    expect(sample(await scrape(dn.httpPort), 'dfs_datanode_registered')).toBe(0);

    await cluster.restartNamenode();
    await waitStatus(dn.httpPort, '/readyz', 200, 30_000);
    // The restarted NameNode kept its HTTP port, and sees the DataNode again.
    const client = per.client(cluster);
    await waitForDatanodes(client, 1);
    await waitStatus(cluster.namenode.httpPort, '/readyz', 200, 30_000);
  });

  it('--http-port -1 turns HTTP off', async () => {
    const cluster = await per.start({ datanodes: 1, namenodeHttpPort: -1 });
    expect(cluster.namenode.httpPort).toBe(-1);
    expect(cluster.datanodes[0]!.httpPort).toBe(-1);
    expect(cluster.namenode.logs.some((l) => l.msg === 'http off (httpPort -1)')).toBe(true);
    expect(cluster.namenode.logs.some((l) => l.msg === 'http listening')).toBe(false);
    // The RPC port still serves.
    const client = per.client(cluster);
    await client.mkdir('/still-serving');
  });
});

describe('stopping a daemon', () => {
  it('closes its HTTP server and its keep-alive connections (NameNode and DataNode in process)', async () => {
    const dir = tempDir('dfs-http-close-');
    const log = silentLogger();
    try {
      await formatNameDir(path.join(dir, 'name'), { force: false });
      const local = { host: '127.0.0.1', port: 0, httpHost: '127.0.0.1', httpPort: 0 };
      const nn = new NameNode({ ...NAMENODE_DEFAULTS, ...local, nameDir: path.join(dir, 'name') }, log);
      await nn.start();
      const dn = new DataNode(
        {
          ...DATANODE_DEFAULTS,
          ...local,
          namenode: `127.0.0.1:${nn.address.port}`,
          dataDirs: [path.join(dir, 'data')],
        },
        log,
      );
      await dn.start();
      const ports = [nn.httpPort, dn.httpPort];
      const conns = await Promise.all(ports.map((p) => keptAlive(p)));
      await within(10_000, 'the DataNode to stop', dn.stop());
      await within(10_000, 'the DataNode HTTP connection to close', conns[1]!.closed);
      await within(10_000, 'the NameNode to stop', nn.stop());
      await within(10_000, 'the NameNode HTTP connection to close', conns[0]!.closed);
      for (const p of ports) await expect(httpRequest(p, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
