/**
 * Smoke test of `dfs-bench replication`: the compiled benchmark runs end to end as a child
 * process (a NameNode, 4 DataNodes and baseline hops in a temp dir inside --dir, removed at
 * the end) with a few MiB in 1 MiB blocks and a short dead-node timeout, once killing a
 * DataNode and once decommissioning one. Its --json document must show the lost blocks
 * copied by both systems, detection and repair times, replication restored, every file
 * read back, and a summary consistent with the round. Speed is only checked to be
 * positive: this machine's speed is not the test's business. Too few DataNodes to copy to
 * is refused up front.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DFS_BENCH_BIN as BENCH } from '../../src/local/daemon-process.js';
import type { ReplicationReport } from '../../bench/replication.js';

const MiB = 1024 * 1024;
const RUN_TIMEOUT_MS = 60_000;
const SMALL = [
  '--datanodes',
  '4',
  '--files',
  '3',
  '--size',
  '3MiB',
  '--block-size',
  '1MiB',
  '--dead-timeout',
  '1500',
  '--heartbeat-interval',
  '200',
];

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-replication-smoke-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function runBench(args: string[]): Promise<ReplicationReport> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [BENCH, 'replication', '--json', '--dir', dir, '--settle-ms', '0', ...args],
    {
      maxBuffer: 16 * 1024 * 1024,
      timeout: RUN_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    },
  );
  return JSON.parse(stdout) as ReplicationReport;
}

function checkReport(r: ReplicationReport, mode: 'kill' | 'decommission'): void {
  expect(r.suite).toBe('replication');
  expect(r.settings).toMatchObject({
    mode,
    datanodes: 4,
    files: 3,
    sizeBytes: 3 * MiB,
    replication: 3,
    blockBytes: MiB,
    rounds: 1,
    deadTimeoutMs: 1500,
    heartbeatIntervalMs: 200,
  });
  expect(r.settings.transfersPerNode).toBeGreaterThan(0);
  expect(r.rounds).toHaveLength(1);
  const round = r.rounds[0]!;
  // 9 blocks x 3 replicas over 4 nodes: the fullest node holds at least 7 of them.
  expect(round.victim.blocks).toBeGreaterThanOrEqual(7);
  expect(round.victim.bytes).toBe(round.victim.blocks * MiB);
  expect(round.baseline.bytes).toBe(round.victim.bytes);
  expect(round.baseline.copies).toBe(round.victim.blocks);
  expect(round.dfs.bytes).toBe(round.victim.bytes);
  for (const rate of [round.baseline.mibPerSec, round.dfs.mibPerSec]) {
    expect(rate).toBeGreaterThan(0);
    expect(Number.isFinite(rate)).toBe(true);
  }
  if (mode === 'kill') {
    // Declared dead only after the node was silent for the timeout.
    expect(round.dfs.detectionMs).toBeGreaterThanOrEqual(1000);
    expect(round.dfs.cpu.servers.filter((c) => c === null)).toHaveLength(1);
  } else {
    expect(round.dfs.detectionMs).toBe(0);
  }
  expect(round.dfs.repairMs).toBeGreaterThan(0);
  expect(round.dfs.restoredMs).toBeLessThanOrEqual(round.dfs.repairMs);
  // Every lost block was copied once by a DataNode (read from their logs).
  expect(round.dfs.timeline.copies).toBeGreaterThanOrEqual(round.victim.blocks);
  expect(round.dfs.timeline.firstCopyStartMs).not.toBeNull();
  expect(round.dfs.cpu.servers).toHaveLength(4);
  expect(round.baseline.cpu.servers).toHaveLength(4);
  expect(round.verified).toEqual({ files: 3, bytes: 3 * 3 * MiB });

  expect(r.summary.baselineMiBps).toBeCloseTo(round.baseline.mibPerSec, 6);
  expect(r.summary.dfsMiBps).toBeCloseTo(round.dfs.mibPerSec, 6);
  expect(r.summary.ratio).toBeCloseTo(r.summary.dfsMiBps / r.summary.baselineMiBps, 6);
  expect(r.summary.target).toBe(0.7);
  // One round: its own ratio is the median, and the verdict is judged on it.
  expect(r.summary.ratioMedian).toBeCloseTo(r.summary.ratio, 6);
  expect(r.summary.met).toBe(r.summary.ratioMedian >= r.summary.target);
  expect(r.notes.length).toBeGreaterThan(0);

  // Its temp dir was inside --dir and is gone; nothing else was left there.
  expect(path.dirname(r.settings.dataDir)).toBe(dir);
  expect(fs.readdirSync(dir)).toEqual([]);
}

describe('dfs-bench replication', () => {
  it(
    'kill: the node is declared dead, its blocks are copied again, and every file reads back',
    async () => {
      checkReport(await runBench(SMALL), 'kill');
    },
    RUN_TIMEOUT_MS + 5_000,
  );

  it(
    'decommission: the node drains, and every file reads back',
    async () => {
      checkReport(await runBench([...SMALL, '--mode', 'decommission']), 'decommission');
    },
    RUN_TIMEOUT_MS + 5_000,
  );

  it(
    'refuses a cluster with no node to copy to, with a message on stderr',
    async () => {
      const run = promisify(execFile)(
        process.execPath,
        [BENCH, 'replication', '--json', '--dir', dir, '--datanodes', '3'],
        {
          timeout: RUN_TIMEOUT_MS,
          killSignal: 'SIGKILL',
        },
      );
      const err = (await run.then(
        () => null,
        (e: unknown) => e,
      )) as (Error & { code?: number; stdout?: string; stderr?: string }) | null;
      expect(err, 'dfs-bench exited 0').not.toBeNull();
      expect(err!.code).toBe(1);
      expect(err!.stderr).toMatch(/--datanodes 3 leaves no node to copy to/);
      expect(err!.stdout).toBe('');
      expect(fs.readdirSync(dir)).toEqual([]);
    },
    RUN_TIMEOUT_MS + 5_000,
  );
});
