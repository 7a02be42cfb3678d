/**
 * The administration commands as an operator runs them: `node bin/dfs.js admin ...`,
 * `setrep` and `fsck` as real processes against a real NameNode and four DataNodes with
 * fast health timings (dead after 2.5 s of silence, heartbeats and the replication monitor
 * every 300 ms; tests/support/healing.ts). One cluster serves the whole file and the tests
 * run in order, each under its own directory; the ones that damage the cluster come last:
 *
 *   | test                          | checks                                                     |
 *   |-------------------------------|------------------------------------------------------------|
 *   | safemode                      | get/enter/leave/wait; a mutation in safe mode is SAFE_MODE |
 *   | roles                         | a CLIENT connection may not enter safe mode or decommission|
 *   | report                        | --json fields, four live nodes, totals; the text table     |
 *   | setrep                        | 3 -> 1 -> 3 with -w (and -R); fsck healthy after each      |
 *   | decommission                  | --wait drains to 3 live replicas elsewhere; survives a     |
 *   |                               | NameNode restart; recommission returns it to service       |
 *   | corrupt replicas              | every replica rotted and read: fsck exit 1 naming the block|
 *   | the only holder dies          | fsck exit 1, the block missing                             |
 *
 * Every wait is bounded; the cluster is killed in afterAll. Behaviour is asserted, never timing.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Role } from '../../protocol/handshake.js';
import type { ClusterReport, FsckDocument } from '../../src/cli/admin-format.js';
import { DfsClient } from '../../src/client/dfs-client.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { startCluster } from '../support/cluster.js';
import { putBuffer, testBytes, waitFor, waitForDatanodes } from '../support/data-path.js';
import { failedWith, ok, runDfs, type DfsRun } from '../support/dfs-cli.js';
import { HEALING_DATANODE_ENV, HEALING_NAMENODE_ENV, replicaDataFile } from '../support/healing.js';

const KiB = 1024;
const BLOCK_BYTES = 256 * KiB;
const DATANODES = 4;

let cluster: LocalCluster;
let cleanup: (() => Promise<void>) | null = null;
let client: DfsClient | null = null;

function dfs(args: string[], timeoutMs = 30_000): Promise<DfsRun> {
  return runDfs(cluster.namenodeAddress, args, { timeoutMs });
}

function json<T>(r: DfsRun): T {
  return JSON.parse(r.stdout) as T;
}

async function report(): Promise<ClusterReport> {
  return json<ClusterReport>(ok(await dfs(['--json', 'admin', 'report'])));
}

/** fsck --json --files of `path`; exit status 0 or 1 (corrupt) both give a document. */
async function fsckJson(path: string): Promise<{ run: DfsRun; doc: FsckDocument }> {
  const run = await dfs(['--json', 'fsck', '--files', path]);
  return { run, doc: json<FsckDocument>(run) };
}

/** Writes files of a few 256 KiB blocks (the last one partial) under `dir`. */
async function writeFiles(dir: string, count: number, replication: number, seed: number): Promise<string[]> {
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const path = `${dir}/f${i}`;
    await putBuffer(client!, path, testBytes(2 * BLOCK_BYTES + 1000 * (i + 1), seed + i), {
      replication,
      blockBytes: BLOCK_BYTES,
    });
    paths.push(path);
  }
  return paths;
}

/** Waits until fsck of `path` is HEALTHY with every block healthy (replicas reported, surplus trimmed). */
async function waitHealthy(path: string, timeoutMs = 20_000): Promise<FsckDocument> {
  return waitFor(
    `fsck ${path} to be healthy`,
    async () => {
      const { run, doc } = await fsckJson(path);
      return run.code === 0 &&
        doc.summary.status === 'HEALTHY' &&
        doc.summary.healthyBlocks === doc.summary.blocks
        ? doc
        : undefined;
    },
    timeoutMs,
    200,
  );
}

function indexOfAddress(address: string): number {
  const i = cluster.datanodes.findIndex((d) => `127.0.0.1:${d.port}` === address);
  expect(i, `DataNode at ${address}`).toBeGreaterThanOrEqual(0);
  return i;
}

beforeAll(async () => {
  const started = await startCluster({
    datanodes: DATANODES,
    namenodeEnv: HEALING_NAMENODE_ENV,
    datanodeEnv: () => HEALING_DATANODE_ENV,
  });
  cluster = started.cluster;
  cleanup = started.cleanup;
  client = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 15_000 });
  await waitForDatanodes(client, DATANODES);
});

afterAll(async () => {
  client?.close();
  await cleanup?.();
});

describe('dfs admin safemode', () => {
  it('get, enter, leave and wait; a mutation in safe mode fails with SAFE_MODE, reads still work', async () => {
    await writeFiles('/sm', 1, 3, 100);
    expect(ok(await dfs(['admin', 'safemode', 'get'])).stdout).toBe('Safe mode is OFF\n');

    const entered = json<{ on: boolean; manual: boolean }>(
      ok(await dfs(['--json', 'admin', 'safemode', 'enter'])),
    );
    expect(entered).toMatchObject({ on: true, manual: true });
    expect(ok(await dfs(['admin', 'safemode', 'get'])).stdout).toMatch(/^Safe mode is ON/);
    failedWith(await dfs(['mkdir', '/sm/d']), 'mkdir', 'SAFE_MODE');
    failedWith(await dfs(['setrep', '2', '/sm/f0']), 'setrep', 'SAFE_MODE');
    ok(await dfs(['fsck', '/sm'])); // reads are not mutations
    // wait gives up while an operator holds safe mode on.
    const waited = failedWith(
      await dfs(['admin', 'safemode', 'wait', '--timeout', '600ms']),
      'admin safemode',
      'TIMEOUT',
    );
    expect(waited).toContain('safe mode');

    expect(ok(await dfs(['admin', 'safemode', 'leave'])).stdout).toBe('Safe mode is OFF\n');
    expect(json(ok(await dfs(['--json', 'admin', 'safemode', 'wait', '--timeout', '10s'])))).toMatchObject({
      on: false,
    });
    ok(await dfs(['mkdir', '/sm/d']));

    failedWith(await dfs(['admin', 'safemode', 'sideways']), 'admin safemode', 'USAGE', 2);
    failedWith(await dfs(['admin', 'safemode', 'wait', '--timeout', 'soon']), 'admin safemode', 'USAGE', 2);
  });
});

describe('roles', () => {
  it('a CLIENT connection may read safe mode but not change it, nor decommission; dfs admin may', async () => {
    expect(await client!.safeMode('get')).toMatchObject({ on: false });
    await expect(client!.safeMode('enter')).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
    await expect(client!.safeMode('leave')).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
    const someNode = `127.0.0.1:${cluster.datanodes[0]!.port}`;
    await expect(client!.decommission(someNode, true)).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
    await expect(client!.decommission(someNode, false)).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
    // Nothing changed, and the connection still serves.
    expect((await report()).nodes.every((n) => n.state === 'live')).toBe(true);
    expect(await client!.safeMode('get')).toMatchObject({ on: false });

    const admin = new DfsClient({ namenode: cluster.namenodeAddress, role: Role.ADMIN });
    try {
      expect(await admin.safeMode('get')).toMatchObject({ on: false });
      await expect(admin.decommission('127.0.0.1:1', true)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      admin.close();
    }
    failedWith(await dfs(['admin', 'decommission', '127.0.0.1:1']), 'admin decommission', 'NOT_FOUND');
  });
});

describe('dfs admin report', () => {
  it('--json: every node with state, space, blocks and heartbeat age; totals and block health counts', async () => {
    const r = await report();
    expect(r).toMatchObject({
      namenode: cluster.namenodeAddress,
      safeMode: false,
      live: DATANODES,
      dead: 0,
      decommissioning: 0,
      decommissioned: 0,
      underReplicated: 0,
      corrupt: 0,
      missing: 0,
      corruptBlockIds: [],
      missingBlockIds: [],
    });
    expect(r.nodes).toHaveLength(DATANODES);
    expect(r.blocks).toBeGreaterThan(0);
    expect(new Set(r.nodes.map((n) => n.address))).toEqual(
      new Set(cluster.datanodes.map((d) => `127.0.0.1:${d.port}`)),
    );
    for (const n of r.nodes) {
      expect(n).toMatchObject({ state: 'live', host: '127.0.0.1', address: `127.0.0.1:${n.port}` });
      expect(n.nodeId).toMatch(/\S/);
      expect(n.capacityBytes).toBeGreaterThan(0);
      expect(n.usedBytes + n.remainingBytes).toBeLessThanOrEqual(n.capacityBytes);
      expect(n.lastHeartbeatAgoMs).toBeGreaterThanOrEqual(0);
      expect(typeof n.blockCount).toBe('number');
      expect(typeof n.activeTransfers).toBe('number');
      // Every node reported in full when it registered (tests/cli/dfs-trigger-report.test.ts asks for more).
      expect(n.lastBlockReportMs).toBeGreaterThan(0);
      expect(typeof n.lastBlockReportBlocks).toBe('number');
    }
    expect(r.capacityBytes).toBe(r.nodes.reduce((s, n) => s + n.capacityBytes, 0));
    expect(r.usedBytes).toBe(r.nodes.reduce((s, n) => s + n.usedBytes, 0));
    // Every block of /sm has a replica counted on some node.
    expect(r.nodes.reduce((s, n) => s + n.blockCount, 0)).toBeGreaterThanOrEqual(r.blocks);

    const text = ok(await dfs(['admin', 'report'])).stdout;
    expect(text).toContain(`dataNodes:       ${DATANODES} live, 0 dead, 0 decommissioning, 0 decommissioned`);
    expect(text).toMatch(
      /^NODE +ADDRESS +STATE +CAPACITY +USED +REMAINING +USE% +BLOCKS +XFERS +FAILED VOLS +LAST HEARTBEAT +LAST BLOCK REPORT$/m,
    );
    for (const n of r.nodes) expect(text).toMatch(new RegExp(`^${n.nodeId} +${n.address} +live +`, 'm'));
  });
});

describe('dfs setrep and fsck', () => {
  it('3 -> 1 -> 3 with -w: fsck is healthy after each, with exactly that many live replicas per block', async () => {
    const files = await writeFiles('/rep', 2, 3, 200);
    await waitHealthy('/rep');

    const one = ok(await dfs(['setrep', '-w', '--timeout', '20s', '1', files[0]!]));
    expect(one.stdout).toBe(`Replication 1 set: ${files[0]}\nReplication 1 reached: 1 file\n`);
    let doc = (await fsckJson(files[0]!)).doc;
    expect(doc.summary).toMatchObject({ status: 'HEALTHY', files: 1 });
    for (const b of doc.files[0]!.blocks)
      expect(b, b.block).toMatchObject({ health: 'healthy', liveReplicas: 1 });

    // A directory needs -R; with it, every file beneath.
    failedWith(await dfs(['setrep', '1', '/rep']), 'setrep', 'IS_A_DIRECTORY');
    const all = json<{ replication: number; files: string[]; waited: boolean }>(
      ok(await dfs(['--json', 'setrep', '-R', '-w', '--timeout', '20s', '1', '/rep'])),
    );
    expect(all).toEqual({ replication: 1, files, waited: true });

    const back = json<{ files: string[] }>(
      ok(await dfs(['--json', 'setrep', '-R', '-w', '--timeout', '20s', '3', '/rep'])),
    );
    expect(back.files).toEqual(files);
    doc = (await fsckJson('/rep')).doc;
    expect(doc.summary).toMatchObject({ status: 'HEALTHY', files: 2, corruptBlocks: 0, missingBlocks: 0 });
    expect(doc.summary.blocks).toBe(6);
    for (const f of doc.files) {
      expect(f).toMatchObject({ replication: 3, health: 'healthy' });
      for (const b of f.blocks) {
        expect(b.liveReplicas, b.block).toBe(3);
        expect(
          new Set(b.replicas.filter((r) => r.state === 'live').map((r) => r.address)).size,
          b.block,
        ).toBe(3);
      }
    }

    // Text: healthy files are not listed by default; the verdict line ends it.
    const text = ok(await dfs(['fsck', '/rep'])).stdout;
    expect(text).not.toContain('/rep/f0');
    expect(text).toMatch(/^status: +HEALTHY$/m);
    expect(text).toMatch(/The filesystem under path '\/rep' is HEALTHY\n$/);
    const verbose = ok(await dfs(['fsck', '--files', '--blocks', '--locations', '/rep'])).stdout;
    expect(verbose).toMatch(/^\/rep\/f0 \S+, 3 blocks, replication 3: healthy$/m);
    expect(verbose).toMatch(
      /^ {2}blk_\d+ offset 0 len 262144 live 3\/3 healthy \[127\.0\.0\.1:\d+ live, 127\.0\.0\.1:\d+ live, 127\.0\.0\.1:\d+ live\]$/m,
    );
    failedWith(await dfs(['fsck', '/no/such']), 'fsck', 'NOT_FOUND');
  });
});

describe('dfs admin decommission and recommission', () => {
  it('--wait drains a node: decommissioned, its blocks live elsewhere; kept across a NameNode restart; recommission undoes it', async () => {
    const files = await writeFiles('/decom', 2, 3, 300);
    await waitHealthy('/decom');
    // The node holding the most replicas of /decom.
    const holders = new Map<string, number>();
    for (const f of (await fsckJson('/decom')).doc.files) {
      for (const b of f.blocks)
        for (const r of b.replicas) holders.set(r.address, (holders.get(r.address) ?? 0) + 1);
    }
    const victim = [...holders].sort((a, b) => b[1] - a[1])[0]![0];

    const done = json<{ address: string; state: string }>(
      ok(await dfs(['--json', 'admin', 'decommission', '--wait', '--timeout', '20s', victim])),
    );
    expect(done).toMatchObject({ address: victim, state: 'decommissioned' });
    const r = await report();
    expect(r.nodes.find((n) => n.address === victim)).toMatchObject({ state: 'decommissioned' });
    expect(r).toMatchObject({ live: DATANODES - 1, decommissioned: 1 });
    // Every block has 3 live replicas on the other nodes; the victim's copy is still readable but not counted.
    const doc = await waitHealthy('/decom');
    for (const f of doc.files) {
      for (const b of f.blocks) {
        const live = b.replicas.filter((x) => x.state === 'live').map((x) => x.address);
        expect(live, b.block).toHaveLength(3);
        expect(live, b.block).not.toContain(victim);
      }
    }
    expect(fs.existsSync(`${cluster.nameDir}/decommissioned.json`)).toBe(true);

    // A NameNode restart does not return the node to service.
    await cluster.restartNamenode();
    expect(json(ok(await dfs(['--json', 'admin', 'safemode', 'wait', '--timeout', '20s'])))).toMatchObject({
      on: false,
    });
    await waitFor(
      `${victim} to be decommissioned again after the restart`,
      async () =>
        (await report()).nodes.find((n) => n.address === victim)?.state === 'decommissioned'
          ? true
          : undefined,
      20_000,
      200,
    );
    for (const p of files) expect((await client!.blockHealth(p)).blocks.length).toBe(3);

    const back = json<{ address: string; state: string }>(
      ok(await dfs(['--json', 'admin', 'recommission', victim])),
    );
    expect(back).toMatchObject({ address: victim, state: 'live' });
    expect(await report()).toMatchObject({ live: DATANODES, decommissioning: 0, decommissioned: 0 });
    // Its replicas count again, and the surplus is trimmed back to 3.
    await waitHealthy('/decom');
  });
});

describe('dfs fsck on a damaged cluster', () => {
  it('every replica of a block corrupted on disk and read: CORRUPT, exit 1, the block named', async () => {
    const [path] = await writeFiles('/rot', 1, 2, 400);
    const healthy = await waitHealthy('/rot');
    const target = healthy.files[0]!.blocks[1]!;
    for (const replica of target.replicas) {
      const file = replicaDataFile(cluster, indexOfAddress(replica.address), target.blockId);
      const bytes = fs.readFileSync(file);
      for (let i = 100; i < 108; i++) bytes[i] = bytes[i]! ^ 0xff;
      fs.writeFileSync(file, bytes);
    }
    // A read finds every replica bad and reports them; fsck then shows the block corrupt.
    const cat = await dfs(['cat', path!]);
    expect(cat.code).toBe(1);
    const { run, doc } = await waitFor(
      'fsck /rot to show the corrupt block',
      async () => {
        const got = await fsckJson('/rot');
        return got.doc.summary.corruptBlocks === 1 ? got : undefined;
      },
      15_000,
      200,
    );
    expect(run.code).toBe(1);
    failedWith(run, 'fsck', 'BLOCK_UNAVAILABLE');
    expect(doc.summary).toMatchObject({
      status: 'CORRUPT',
      corruptBlocks: 1,
      missingBlocks: 0,
      healthyBlocks: 2,
    });
    const bad = doc.files[0]!.blocks.find((b) => b.health !== 'healthy')!;
    expect(bad).toMatchObject({ block: `blk_${target.blockId}`, health: 'corrupt', liveReplicas: 0 });
    expect(bad.replicas.map((x) => x.state)).toEqual(['corrupt', 'corrupt']);

    const text = await dfs(['fsck', '/rot']);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(
      new RegExp(
        `^ {2}blk_${target.blockId} offset ${BLOCK_BYTES} len ${BLOCK_BYTES} live 0/2 corrupt \\[.* corrupt, .* corrupt\\]$`,
        'm',
      ),
    );
    expect(text.stdout).toContain("The filesystem under path '/rot' is CORRUPT");
    // The cluster report's sample comes from the replication monitor, which classifies a
    // block on its next tick after the reports that made it corrupt (fsck reads the map).
    await waitFor(
      'the cluster report to list the corrupt block',
      async () => ((await report()).corruptBlockIds.includes(target.blockId) ? true : undefined),
      10_000,
      100,
    );

    // Healthy elsewhere: fsck of another tree is not affected.
    ok(await dfs(['fsck', '/rep']));
    ok(await dfs(['rm', '-r', '--skip-trash', '/rot']));
  });

  it('the only holder of a block is killed: the block is missing, exit 1', async () => {
    const [path] = await writeFiles('/lone', 1, 1, 500);
    const healthy = await waitHealthy('/lone');
    const block = healthy.files[0]!.blocks[0]!;
    const holder = indexOfAddress(block.replicas[0]!.address);
    await cluster.datanodes[holder]!.kill();
    const { run, doc } = await waitFor(
      'fsck /lone to show missing blocks',
      async () => {
        const got = await fsckJson('/lone');
        return got.doc.summary.missingBlocks > 0 ? got : undefined;
      },
      15_000,
      200,
    );
    failedWith(run, 'fsck', 'BLOCK_UNAVAILABLE');
    expect(doc.summary.status).toBe('CORRUPT');
    const missing = doc.files[0]!.blocks.filter((b) => b.health === 'missing').map((b) => b.block);
    expect(missing).toContain(block.block);
    const text = await dfs(['fsck', '/lone']);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(new RegExp(`^${path} .*: missing$`, 'm'));
    expect(text.stdout).toMatch(
      new RegExp(`^ {2}${block.block} offset 0 len ${BLOCK_BYTES} live 0/1 missing`, 'm'),
    );
  });
});
