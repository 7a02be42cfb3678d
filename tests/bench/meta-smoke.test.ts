/**
 * Smoke test of `dfs-bench meta`: the compiled benchmark runs end to end as a child
 * process (it starts its own NameNode in a temp dir and removes it), with tiny numbers,
 * and its --json document has every phase with operations done and none failed. Timing
 * is not checked: this machine's speed is not the test's business. A second run spreads
 * the clients over two worker processes, so the fork/IPC path and the histogram merge are
 * exercised too.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DFS_BENCH_BIN as BENCH } from '../../src/local/daemon-process.js';
import { matchAny } from '../support/matchers.js';

const PHASES = ['mkdir', 'create', 'stat', 'list', 'rename', 'delete'];

interface Phase {
  phase: string;
  ops: number;
  rpcs: number;
  errors: number;
  opsPerSec: number;
  entries: number;
  txns: number;
  latencyUs: { count: number; p50Us: number; p99Us: number; p999Us: number; maxUs: number };
}

async function runBench(
  args: string[],
): Promise<{ settings: Record<string, unknown>; machine: Record<string, unknown>; phases: Phase[] }> {
  const { stdout } = await promisify(execFile)(process.execPath, [BENCH, 'meta', '--json', ...args], {
    maxBuffer: 16 * 1024 * 1024,
    // Killed before the test's own timeout (vitest.config.ts, 60 s), so a hang fails as a hang.
    timeout: 50_000,
    killSignal: 'SIGKILL',
  });
  return JSON.parse(stdout) as {
    settings: Record<string, unknown>;
    machine: Record<string, unknown>;
    phases: Phase[];
  };
}

function checkPhases(phases: Phase[], ops: number): void {
  expect(phases.map((p) => p.phase)).toEqual(PHASES);
  for (const p of phases) {
    expect(p.errors, `${p.phase} errors`).toBe(0);
    expect(p.ops, `${p.phase} ops`).toBe(ops);
    expect(p.opsPerSec, `${p.phase} ops/s`).toBeGreaterThan(0);
    expect(p.latencyUs.count, `${p.phase} latencies recorded`).toBe(ops);
  }
  const byName = new Map(phases.map((p) => [p.phase, p]));
  expect(byName.get('create')!.rpcs).toBe(2 * ops);
  // Every mutation is one edit-log transaction (create+complete: two).
  expect(byName.get('mkdir')!.txns).toBe(ops);
  expect(byName.get('create')!.txns).toBe(2 * ops);
  expect(byName.get('stat')!.txns).toBe(0);
  // Every page of the list phase is full: the parents were sized to hold >= 100 entries.
  expect(byName.get('list')!.entries).toBe(ops * 100);
}

describe('dfs-bench meta', () => {
  it('runs every phase against its own NameNode and reports JSON', async () => {
    const r = await runBench(['--ops', '200', '--clients', '2']);
    checkPhases(r.phases, 200);
    expect(r.settings).toMatchObject({ ops: 200, clients: 2, clientProcesses: 1 });
    expect(r.machine).toMatchObject({ cpuCount: matchAny(Number), node: process.version });
  });

  it('spreads the connections over worker processes', async () => {
    const r = await runBench(['--ops', '200', '--clients', '2', '--depth', '4', '--client-processes', '2']);
    checkPhases(r.phases, 200);
    expect(r.settings).toMatchObject({ clients: 2, depth: 4, clientProcesses: 2 });
  });
});
