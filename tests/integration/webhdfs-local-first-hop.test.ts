/**
 * WebHDFS CREATE through the DataNode's in-process first hop (src/datanode/local-first-hop.ts),
 * across real processes: the DataNode that takes the upload writes the blocks it heads itself,
 * with no loopback socket, the checksums computed once from the HTTP body, and forwards each
 * packet to the rest of the pipeline over TCP. What it writes must be what any other path
 * writes: read back identical by `dfs get`, stored checksums that match (the replica files
 * checked on disk, and the block scanner passing over them without a failure), `dfs fsck`
 * healthy; at replication 1 and 3; and a downstream DataNode SIGKILLed mid-CREATE at
 * replication 3 is dropped by pipeline recovery (the client's, over the same link), the upload
 * still acknowledged only with its bytes intact.
 *
 * Placement: every DataNode of a local cluster is on the loopback host, and the NameNode puts
 * a block's first replica on a random node of the writer's host (src/namenode/block-placement.ts).
 * So that DataNode 0, which takes the uploads, heads every pipeline, the others advertise the
 * machine's non-loopback address (another host, for the NameNode), where a forwarder in the
 * test process passes their connections on to their loopback ports; without such an address
 * the tests are skipped with a message.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FsckDocument } from '../../src/cli/admin-format.js';
import type { DfsClient } from '../../src/client/dfs-client.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { clusterPerTest, tempDir } from '../support/cluster.js';
import {
  expectReplicasOnDisk,
  logsMatching,
  sleep,
  testBytes,
  waitFor,
  waitForDatanodes,
} from '../support/data-path.js';
import { ok, runDfs } from '../support/dfs-cli.js';
import { sample, scrape } from '../support/http.js';
import { curl } from '../support/webhdfs.js';

const per = clusterPerTest();
const BLOCK_BYTES = 1024 * 1024;

/** The machine's first non-loopback IPv4 address, if any. */
function otherHostAddress(): string | null {
  for (const list of Object.values(os.networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return null;
}
const otherHost = otherHostAddress();
if (otherHost === null) console.warn('webhdfs-local-first-hop: no non-loopback IPv4 address; tests skipped');

const forwarders: net.Server[] = [];
afterEach(async () => {
  await Promise.all(forwarders.splice(0).map((f) => new Promise((resolve) => f.close(resolve))));
});

/** Passes connections to `host`:`port` on to 127.0.0.1:`port` (closed after the test). */
async function forward(host: string, port: number): Promise<void> {
  const server = net.createServer((inbound) => {
    const out = net.connect(port, '127.0.0.1');
    inbound.pipe(out).pipe(inbound);
    inbound.on('error', () => out.destroy());
    out.on('error', () => inbound.destroy());
    inbound.on('close', () => out.destroy());
    out.on('close', () => inbound.destroy());
  });
  forwarders.push(server);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
}

interface Gateway {
  cluster: LocalCluster;
  client: DfsClient;
  local: string;
}

/** `datanodes` DataNodes, 0 on loopback (the gateway), the rest on `otherHost`; scanners fast. */
async function startGateway(datanodes: number): Promise<Gateway> {
  const cluster = await per.start({
    datanodes,
    logLevel: 'debug',
    datanodeEnv: (i) => ({
      DFS_DATANODE_SCAN_INTERVAL_MS: '200',
      DFS_DATANODE_SCAN_BYTES_PER_SECOND: String(256 << 20),
      ...(i > 0 ? { DFS_DATANODE_ADVERTISE_HOST: otherHost! } : {}),
    }),
  });
  for (const d of cluster.datanodes.slice(1)) await forward(otherHost!, d.port);
  const client = per.client(cluster, 20_000);
  await waitForDatanodes(client, datanodes);
  await client.setPermission('/', 0o777);
  const local = tempDir('dfs-first-hop-');
  return { cluster, client, local };
}

/** CREATE straight at DataNode 0's WebHDFS (where the NameNode's 307 would send it). */
function createAtGateway(
  g: Gateway,
  dfsPath: string,
  file: string,
  replication: number,
  curlArgs: string[] = [],
) {
  const q = new URLSearchParams({
    op: 'CREATE',
    namenoderpcaddress: g.cluster.namenodeAddress,
    'user.name': 'alice',
    replication: String(replication),
    blocksize: String(BLOCK_BYTES),
  });
  const url = `http://127.0.0.1:${g.cluster.datanodes[0]!.httpPort}/webhdfs/v1${dfsPath}?${q.toString()}`;
  return curl(url, ['-T', file, ...curlArgs], 60_000);
}

/** Lines DataNode 0 logged about blocks it received from a writer in its own process. */
function inProcess(g: Gateway, msg: string): Array<Record<string, unknown>> {
  return logsMatching(g.cluster.datanodes[0]!, { conn: 'in-process', msg });
}

/** `dfs get` of `dfsPath` into a local file; its bytes. */
async function dfsGet(g: Gateway, dfsPath: string): Promise<Buffer> {
  const out = path.join(g.local, `get-${path.basename(dfsPath)}`);
  ok(await runDfs(g.cluster.namenodeAddress, ['get', dfsPath, out], { timeoutMs: 60_000 }));
  return fs.readFileSync(out);
}

/** fsck of `dfsPath` as JSON (exit 0: no block missing or corrupt). */
async function fsck(
  g: Gateway,
  dfsPath: string,
): Promise<{ status: string; corrupt: number; missing: number }> {
  const run = ok(await runDfs(g.cluster.namenodeAddress, ['--json', 'fsck', dfsPath]));
  const s = (JSON.parse(run.stdout) as FsckDocument).summary;
  return { status: s.status, corrupt: s.corruptBlocks, missing: s.missingBlocks };
}

/** Waits for two block scanner passes on every live DataNode (one wholly after now), then no failure found. */
async function expectScannersClean(g: Gateway, live: readonly number[]): Promise<void> {
  for (const i of live) {
    const d = g.cluster.datanodes[i]!;
    const passes = (): number => logsMatching(d, { msg: 'block scanner pass done' }).length;
    const before = passes();
    await waitFor(`two scanner passes on DataNode ${i}`, () => (passes() >= before + 2 ? true : undefined));
    const found = sample(
      await scrape(d.httpPort),
      'dfs_datanode_checksum_failures_total{found_by="scanner"}',
    );
    expect(found, `scanner failures on DataNode ${i}`).toBe(0);
  }
}

describe.skipIf(otherHost === null)('WebHDFS CREATE written by the gateway DataNode itself', () => {
  for (const replication of [1, 3]) {
    it(`replication ${replication}: dfs get reads it back identical; stored checksums, fsck and the scanner agree`, async () => {
      const g = await startGateway(replication);
      const data = testBytes(5 * BLOCK_BYTES + 12_345, replication);
      const file = path.join(g.local, 'up.bin');
      fs.writeFileSync(file, data);
      const r = await createAtGateway(g, '/up/f.bin', file, replication);
      expect(r.exitCode).toBe(0);
      expect(r.status).toBe(201);

      // Every block went through the in-process hop: DataNode 0 finalized six of them so (two
      // blocks are in flight at once, so the last may finish before the one before it).
      const finalized = inProcess(g, 'replica finalized').map((l) => l.numBytes as number);
      expect(finalized.sort((a, b) => a - b)).toEqual([12_345, ...Array<number>(5).fill(BLOCK_BYTES)]);
      expect((await dfsGet(g, '/up/f.bin')).equals(data)).toBe(true);
      await expectReplicasOnDisk(g.cluster, g.client, '/up/f.bin', data, replication);
      expect(await fsck(g, '/up/f.bin')).toEqual({ status: 'HEALTHY', corrupt: 0, missing: 0 });
      await expectScannersClean(g, [...Array(replication).keys()]);
      expect(await g.client.exists('/up/f.bin._COPYING_')).toBe(null);
    });
  }

  it('replication 3: a downstream DataNode SIGKILLed mid-CREATE is dropped by pipeline recovery; the bytes stay whole', async () => {
    const g = await startGateway(3);
    const data = testBytes(12 * BLOCK_BYTES + 777, 7);
    const file = path.join(g.local, 'big.bin');
    fs.writeFileSync(file, data);
    // About 4 s of upload: DataNode 2 dies a few blocks in, with a block in flight.
    const upload = createAtGateway(g, '/k/f.bin', file, 3, ['--limit-rate', '3M']);
    await waitFor('two blocks written', () =>
      inProcess(g, 'replica finalized').length >= 2 ? true : undefined,
    );
    await sleep(150);
    await g.cluster.datanodes[2]!.kill();
    const r = await upload;
    expect(r.exitCode).toBe(0);
    expect(r.status).toBe(201);

    // The writer in DataNode 0 saw the failure and went on without DataNode 2, over the same
    // in-process hop: a rebuilt pipeline reopened its replica, or a new block's set-up was
    // refused downstream and the block given up for another.
    const recovered =
      inProcess(g, 'replica recovered for a rebuilt pipeline').length +
      inProcess(g, 'downstream pipeline could not be built').length;
    expect(recovered).toBeGreaterThanOrEqual(1);
    expect((await dfsGet(g, '/k/f.bin')).equals(data)).toBe(true);
    await expectReplicasOnDisk(g.cluster, g.client, '/k/f.bin', data, () => [2, 3], { deadNodes: [2] });
    const health = await fsck(g, '/k/f.bin');
    expect({ corrupt: health.corrupt, missing: health.missing }).toEqual({ corrupt: 0, missing: 0 });
    await expectScannersClean(g, [0, 1]);
    expect(await g.client.exists('/k/f.bin._COPYING_')).toBe(null);
  });
});
