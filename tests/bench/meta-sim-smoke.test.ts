/**
 * Smoke test of `dfs-bench meta --sim-datanodes`: the compiled benchmark runs end to end as
 * a child process with small numbers (200 simulated DataNodes, 100 blocks each, two worker
 * processes, 1-second DataNode phases), and its --json document shows positive heartbeat
 * and block-report rates, client phases done without errors, and a NameNode that saw every
 * node alive and every reported replica. Timing is not checked beyond "more than zero".
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DFS_BENCH_BIN as BENCH } from '../../src/local/daemon-process.js';
import { matchAny } from '../support/matchers.js';

interface Load {
  requests: number;
  requestsPerSec: number;
  blocks: number;
  blocksPerSec: number;
  errors: number;
  firstError: string | null;
}

interface Report {
  mode: string;
  settings: { simDatanodes: number; blocksPerNode: number; blocks: number; replication: number };
  setup: { register: Load; firstReport: Load };
  phases: Array<{
    phase: string;
    load: string | null;
    datanodes: Load | null;
    client: { ops: number; errors: number; opsPerSec: number } | null;
  }>;
  namenodeView: { liveNodes: number; deadNodes: number; replicas: number; expectedReplicas: number };
  reference: { heartbeatsPerSec: number; blocksPerSec: number };
}

const NODES = 200;
const BLOCKS = 100;

describe('dfs-bench meta --sim-datanodes', () => {
  it('loads a NameNode with simulated DataNodes and reports rates as JSON', async () => {
    const args = [
      BENCH,
      'meta',
      '--json',
      '--sim-datanodes',
      String(NODES),
      '--blocks-per-node',
      String(BLOCKS),
      '--sim-seconds',
      '1',
      '--sim-processes',
      '2',
      '--ops',
      '500',
      '--clients',
      '2',
      '--depth',
      '16',
    ];
    const { stdout } = await promisify(execFile)(process.execPath, args, {
      maxBuffer: 16 * 1024 * 1024,
      // Killed before the test's own timeout below, so a hang fails as a hang.
      timeout: 60_000,
      killSignal: 'SIGKILL',
    });
    const r = JSON.parse(stdout) as Report;

    expect(r.mode).toBe('sim-datanodes');
    expect(r.reference).toEqual({
      heartbeatsPerSec: 300_000,
      blocksPerSec: 639_700,
      source: matchAny(String),
    });
    expect(r.setup.register).toMatchObject({ requests: NODES, errors: 0 });
    expect(r.setup.firstReport).toMatchObject({ requests: NODES, errors: 0 });
    expect(r.setup.firstReport.blocks).toBe(r.settings.blocks * r.settings.replication);

    const byName = new Map(r.phases.map((p) => [p.phase, p]));
    expect([...byName.keys()]).toEqual([
      'heartbeats',
      'block reports',
      'create',
      'stat',
      'create + heartbeats',
      'stat + heartbeats',
      'create + block reports',
      'stat + block reports',
    ]);
    const heartbeats = byName.get('heartbeats')!.datanodes!;
    expect(heartbeats.errors, heartbeats.firstError ?? '').toBe(0);
    expect(heartbeats.requestsPerSec).toBeGreaterThan(0);
    const reports = byName.get('block reports')!.datanodes!;
    expect(reports.errors, reports.firstError ?? '').toBe(0);
    expect(reports.blocksPerSec).toBeGreaterThan(0);
    // Every report carries the node's whole share of the blocks.
    expect(reports.blocks / reports.requests).toBeGreaterThanOrEqual(BLOCKS - 1);
    for (const p of r.phases) {
      if (p.client !== null) expect(p.client, p.phase).toMatchObject({ ops: 500, errors: 0 });
      if (p.load !== null) expect(p.datanodes!.requestsPerSec, p.phase).toBeGreaterThan(0);
    }

    // The NameNode's own view: every node alive, every replica known.
    expect(r.namenodeView).toEqual({
      liveNodes: NODES,
      deadNodes: 0,
      replicas: r.namenodeView.expectedReplicas,
      expectedReplicas: r.settings.blocks * r.settings.replication,
    });
    expect(r.namenodeView.replicas).toBeGreaterThanOrEqual(NODES * BLOCKS);
  }, 70_000);
});
