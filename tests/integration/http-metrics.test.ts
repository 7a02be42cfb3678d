/**
 * /metrics of every daemon across real processes (issue 13 section 1): a cluster of a
 * NameNode and three DataNodes, HTTP on port 0 everywhere. After a put and a get, each
 * daemon's Prometheus text passes `promtool check metrics` and shows what happened: one
 * file, its bytes written three times over on the DataNodes and read back, the RPCs by
 * operation and result with their durations, the journal's group commits. The shipped
 * scrape configuration passes `promtool check config`, and every metric the shipped Grafana
 * dashboard queries exists in some daemon's output.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import { REPO_ROOT } from '../../src/local/daemon-process.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { startCluster } from '../support/cluster.js';
import { getBuffer, putBuffer, testBytes, waitFor, waitForDatanodes } from '../support/data-path.js';
import {
  expectSamples,
  PROMTOOL,
  promtoolCheckConfig,
  promtoolCheckMetrics,
  sample,
  sampleNames,
  scrape,
  sumOf,
} from '../support/http.js';

const FILE_BYTES = 3 * 1024 * 1024 + 17;

let cluster: LocalCluster;
let cleanup: () => Promise<void>;
let client: DfsClient;
const data = testBytes(FILE_BYTES, 13);

beforeAll(async () => {
  ({ cluster, cleanup } = await startCluster({ datanodes: 3 }));
  client = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 20_000 });
  await waitForDatanodes(client, 3);
  await client.mkdir('/m');
  await expect(client.mkdir('/m')).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
  await putBuffer(client, '/m/file', data, { replication: 3 });
  expect((await getBuffer(client, '/m/file')).equals(data)).toBe(true);
}, 120_000);

afterAll(async () => {
  client?.close();
  await cleanup?.();
});

function httpPorts(): number[] {
  return [cluster.namenode.httpPort, ...cluster.datanodes.map((d) => d.httpPort)];
}

describe('/metrics on every daemon', () => {
  it('every daemon bound an HTTP port of its own and logged it', () => {
    const ports = httpPorts();
    for (const p of ports) expect(p).toBeGreaterThan(0);
    expect(new Set(ports).size).toBe(ports.length);
    expect(cluster.namenode.logs.some((l) => l.msg === 'http listening' && l.httpPort === ports[0])).toBe(
      true,
    );
  });

  it('passes promtool check metrics', async () => {
    if (!PROMTOOL) {
      console.warn('promtool not installed (Debian package prometheus): skipping promtool check metrics');
      return;
    }
    for (const port of httpPorts()) {
      const text = await scrape(port);
      const r = promtoolCheckMetrics(text);
      expect(r.output, `promtool on port ${port}`).toBe('');
      expect(r.status).toBe(0);
    }
  });

  it('NameNode: namespace, blocks, DataNodes, capacity, journal and RPCs', async () => {
    const text = await scrape(cluster.namenode.httpPort);
    // A number: exactly; [n]: at least n.
    expectSamples(text, {
      dfs_namenode_files: 1,
      dfs_namenode_directories: 2,
      dfs_namenode_blocks: 1,
      dfs_namenode_safe_mode: 0,
      'dfs_namenode_datanodes{state="live"}': 3,
      'dfs_namenode_datanodes{state="dead"}': 0,
      dfs_namenode_missing_blocks: 0,
      dfs_namenode_capacity_bytes: [1],
      dfs_namenode_open_leases: 0,
      dfs_namenode_rpc_connections: [4], // 3 DataNodes and us
      // mkdir /m, create /m/file, addBlock, complete...: each edit durable, in group commits.
      dfs_namenode_transactions_since_checkpoint: [3],
      dfs_namenode_last_txid: [3],
      dfs_namenode_journal_commit_seconds_count: [3],
      dfs_namenode_journal_edits_per_commit_sum: [3],
      'dfs_namenode_rpcs_total{op="mkdir",result="ok"}': 1,
      'dfs_namenode_rpcs_total{op="mkdir",result="ALREADY_EXISTS"}': 1,
      'dfs_namenode_rpcs_total{op="create",result="ok"}': 1,
      'dfs_namenode_rpcs_total{op="getBlockLocations",result="ok"}': [1],
      'dfs_namenode_rpc_duration_seconds_count{op="mkdir"}': 2,
      'dfs_namenode_rpc_duration_seconds_count{op="create"}': 1,
      'dfs_namenode_corrupt_replica_reports_total{found_by="reader"}': 0,
      // prom-client's default process metrics.
      process_resident_memory_bytes: [1],
    });
    expect(sumOf(text, 'dfs_namenode_rpcs_total', { op: 'heartbeat' })).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'dfs_namenode_rpc_duration_seconds_sum{op="create"}')).toBeGreaterThan(0);
    expect(text).toMatch(/^dfs_namenode_info\{cluster_id="CID-[^"]+",version="[^"]+"\} 1$/m);
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });

  it('DataNodes: bytes and blocks written by all three, read by one, volumes, registration', async () => {
    // The last incremental report may land after the client's complete: wait for the counters.
    const texts = await waitFor('three finalized replicas counted', async () => {
      const t = await Promise.all(cluster.datanodes.map((d) => scrape(d.httpPort)));
      return t.every((x) => sample(x, 'dfs_datanode_blocks_written_total') === 1) ? t : undefined;
    });
    for (const t of texts) {
      expectSamples(t, {
        dfs_datanode_bytes_written_total: FILE_BYTES,
        'dfs_datanode_op_duration_seconds_count{op="write"}': 1,
        'dfs_datanode_op_duration_seconds_count{op="fsync"}': [1],
        dfs_datanode_registered: 1,
        dfs_datanode_replicas: 1,
        dfs_datanode_packet_bytes_held: 0,
        // Every read slab is back once the transfers are over (src/common/read-slabs.ts).
        dfs_datanode_read_slabs_in_use: 0,
        dfs_datanode_heartbeat_duration_seconds_count: [1],
        'dfs_datanode_checksum_failures_total{found_by="scanner"}': 0,
      });
      expect(sumOf(t, 'dfs_datanode_volume_capacity_bytes')).toBeGreaterThan(0);
      expect(sumOf(t, 'dfs_datanode_volume_used_bytes')).toBe(FILE_BYTES);
      // The slabs the write read into wait on the free list for the next one.
      expect(sumOf(t, 'dfs_datanode_read_slabs_free')).toBeGreaterThan(0);
      expect(sumOf(t, 'dfs_datanode_read_slabs_free')).toBeLessThanOrEqual(
        sumOf(t, 'dfs_datanode_read_slabs_allocated'),
      );
    }
    // The file was read once, from one replica.
    const total = (name: string, labels: Record<string, string> = {}): number =>
      texts.reduce((n, t) => n + sumOf(t, name, labels), 0);
    expect(total('dfs_datanode_bytes_read_total')).toBe(FILE_BYTES);
    expect(total('dfs_datanode_blocks_read_total')).toBe(1);
    // The replica was read into page-aligned buffers, back on their free list once sent.
    expect(total('dfs_datanode_file_read_buffers_free_bytes')).toBeGreaterThan(0);
    expect(total('dfs_datanode_op_duration_seconds_count', { op: 'read' })).toBe(1);
  });

  it('the shipped scrape configuration passes promtool check config', () => {
    if (!PROMTOOL) {
      console.warn('promtool not installed (Debian package prometheus): skipping promtool check config');
      return;
    }
    const r = promtoolCheckConfig(path.join(REPO_ROOT, 'systemd', 'prometheus.yml'));
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('every metric the Grafana dashboard queries exists in some daemon output', async () => {
    const dashboard = JSON.parse(
      fs.readFileSync(path.join(REPO_ROOT, 'systemd', 'grafana-dashboard.json'), 'utf8'),
    ) as { panels: Array<{ title: string; targets?: Array<{ expr: string }> }> };
    const names = new Set<string>();
    for (const t of await Promise.all(httpPorts().map((p) => scrape(p))))
      for (const n of sampleNames(t)) names.add(n);
    const exprs = dashboard.panels.flatMap((p) =>
      (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })),
    );
    expect(exprs.length).toBeGreaterThan(10);
    for (const { title, expr } of exprs) {
      const refs = expr.match(/\b(?:dfs|process|nodejs)_[a-z0-9_]+\b/g) ?? [];
      expect(refs.length, `panel "${title}" queries no metric: ${expr}`).toBeGreaterThan(0);
      for (const r of refs) {
        expect(names.has(r), `panel "${title}": ${r} is not in any daemon's /metrics`).toBe(true);
      }
    }
    // The panels the issue asks for are there.
    const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join('\n');
    for (const word of ['capacity', 'block', 'throughput', 'rpc', 'datanode']) expect(titles).toContain(word);
  });
});
