/**
 * Smoke test of `dfs-bench upload` and `dfs-bench download`: the compiled benchmark runs
 * end to end as a child process (a NameNode, DataNodes and raw baseline hops in a temp dir
 * inside --dir, removed at the end), with a small file and 1 MiB blocks, and its --json
 * document has, per comparison (durable, page cache), a phase per system with bytes moved
 * and CPU-seconds per GiB, a DFS phase with packet latency percentiles, a summary, and the
 * settings it was given; with --yardstick, that program's figure beside them. Throughput is only checked to be
 * positive: this machine's speed is not the test's business. A replication larger than
 * the DataNode count is refused up front with a message on stderr.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DFS_BENCH_BIN as BENCH } from '../../src/local/daemon-process.js';
import type { DataReport } from '../../bench/data.js';
import { roundRatios } from '../../bench/data-report.js';

const MiB = 1024 * 1024;
const RUN_TIMEOUT_MS = 60_000;

type Report = DataReport;

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-data-smoke-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function runBench(suite: 'upload' | 'download', args: string[]): Promise<Report> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [BENCH, suite, '--json', '--dir', dir, '--settle-ms', '0', ...args],
    {
      maxBuffer: 16 * 1024 * 1024,
      timeout: RUN_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    },
  );
  return JSON.parse(stdout) as Report;
}

/** The checks every comparison of a successful run shares: phases, latencies, CPU, summary. */
function checkComparison(r: Report, c: Report['comparisons'][number], sizeBytes: number): void {
  expect(c.phases.slice(0, 2).map((p) => [p.system, p.round])).toEqual([
    ['baseline', 1],
    ['dfs', 1],
  ]);
  for (const p of c.phases.filter((x) => x.system !== 'yardstick')) {
    expect(p.bytes, `${p.system} bytes`).toBe(sizeBytes);
    expect(p.elapsedMs, `${p.system} elapsed`).toBeGreaterThan(0);
    expect(p.mibPerSec, `${p.system} MiB/s`).toBeGreaterThan(0);
    expect(Number.isFinite(p.mibPerSec), `${p.system} MiB/s finite`).toBe(true);
    expect(p.cpu!.servers, `${p.system} one CPU figure per server process`).toHaveLength(
      r.settings.datanodes,
    );
    const g = p.cpuPerGiB!;
    expect(g.perServer).toHaveLength(r.settings.datanodes);
    // The DFS client is this bench process (cpuUsage, microseconds); the baseline's is a
    // process of its own, read from /proc in 10 ms ticks: a small transfer may show none.
    if (p.system === 'dfs') expect(g.client!).toBeGreaterThan(0);
    else expect(g.client!).toBeGreaterThanOrEqual(0);
    expect(g.total!).toBeCloseTo(g.client! + g.servers!, 6);
  }
  const baseline = c.phases.find((p) => p.system === 'baseline')!;
  const dfs = c.phases.find((p) => p.system === 'dfs')!;
  expect(baseline.packetLatencyUs).toBeNull();
  const lat = dfs.packetLatencyUs;
  expect(lat, 'DFS packet latency').not.toBeNull();
  expect(lat!.count).toBeGreaterThan(0);
  expect(lat!.p50Us).toBeGreaterThan(0);
  expect(lat!.p50Us).toBeLessThanOrEqual(lat!.p99Us);
  expect(lat!.p99Us).toBeLessThanOrEqual(lat!.p999Us);
  // The histogram rounds to its precision: the max may sit just under the top percentile.
  expect(lat!.maxUs).toBeGreaterThanOrEqual(lat!.p50Us);

  // Over every round: all bytes over all the phases' time.
  const overall = (system: string): number => {
    const ps = c.phases.filter((p) => p.system === system);
    return (
      ps.reduce((a, p) => a + p.bytes, 0) / (1024 * 1024) / (ps.reduce((a, p) => a + p.elapsedMs, 0) / 1000)
    );
  };
  expect(c.summary.baselineMiBps).toBeCloseTo(overall('baseline'), 6);
  expect(c.summary.dfsMiBps).toBeCloseTo(overall('dfs'), 6);
  expect(c.summary.ratio).toBeGreaterThan(0);
  expect(c.summary.ratio).toBeCloseTo(c.summary.dfsMiBps / c.summary.baselineMiBps, 6);
  expect(c.summary.met).toBe(c.summary.ratio >= c.summary.target);
  // One ratio per round, each of that round's own phases (the spread the report prints).
  const inRound = (system: string, round: number): number =>
    c.phases.find((p) => p.system === system && p.round === round)!.mibPerSec;
  expect(roundRatios(c)).toEqual(
    Array.from({ length: r.settings.rounds }, (_, i) => inRound('dfs', i + 1) / inRound('baseline', i + 1)),
  );
  expect(c.cpuPerGiB.dfs.total!).toBeGreaterThan(0);
  expect(c.cpuPerGiB.baseline.total!).toBeGreaterThanOrEqual(0);
}

/** Its temp dir was inside --dir and is gone; nothing else was left there. */
function checkCleanedUp(r: Report): void {
  expect(r.notes.length).toBeGreaterThan(0);
  expect(path.dirname(r.settings.dataDir)).toBe(dir);
  expect(fs.existsSync(r.settings.dataDir), `${r.settings.dataDir} left behind`).toBe(false);
  expect(fs.readdirSync(dir)).toEqual([]);
}

/** A stand-in for the yardstick program: the bench runs it and reads the MiB/s it prints. */
function fakeYardstick(): string {
  const file = path.join(os.tmpdir(), `dfs-data-smoke-yardstick-${process.pid}.mjs`);
  fs.writeFileSync(
    file,
    "console.log(process.argv[2] === 'up' || process.argv[2] === 'down' ? '123.5' : 'x');\n",
  );
  return file;
}

describe('dfs-bench upload / download', () => {
  it(
    'upload: durable and page-cache comparisons, each with baseline and DFS phases, CPU per GiB, the yardstick, and the temp dir removed',
    async () => {
      const yardstick = fakeYardstick();
      try {
        const r = await runBench('upload', [
          '--size',
          '8MiB',
          '--replication',
          '2',
          '--datanodes',
          '2',
          '--block-size',
          '1MiB',
          '--rounds',
          '2',
          '--yardstick',
          yardstick,
        ]);
        expect(r.suite).toBe('upload');
        expect(r.comparisons.map((c) => c.durability)).toEqual(['durable', 'page-cache']);
        for (const c of r.comparisons) {
          checkComparison(r, c, 8 * MiB);
          // With the yardstick the three take turns at going first.
          expect(c.phases.map((p) => `${p.round}:${p.system}`)).toEqual([
            '1:baseline',
            '1:dfs',
            '1:yardstick',
            '2:dfs',
            '2:yardstick',
            '2:baseline',
          ]);
          expect(c.yardstickMiBps).toBeCloseTo(123.5, 6);
          expect(c.dfsToYardstick).toBeCloseTo(c.summary.dfsMiBps / 123.5, 6);
          // Send-to-ack per packet: at least one per block of the file.
          expect(c.phases[1]!.packetLatencyUs!.count).toBeGreaterThanOrEqual(8);
          // The wait for each new block: exactly one per block of the 8 MiB file in 1 MiB blocks.
          for (const p of c.phases) {
            if (p.system !== 'dfs') expect(p.blockWaitUs, `${p.system} block waits`).toBeNull();
            else {
              expect(p.blockWaitUs!.count).toBe(8);
              expect(p.blockWaitUs!.p50Us).toBeGreaterThan(0);
              expect(p.blockWaitUs!.maxUs * 1.01).toBeGreaterThanOrEqual(p.blockWaitUs!.meanUs);
              expect(p.blockWaitUs!.meanUs * 8).toBeLessThan(p.elapsedMs * 1000);
            }
          }
        }
        expect(r.settings).toEqual({
          sizeBytes: 8 * MiB,
          replication: 2,
          clients: 1,
          datanodes: 2,
          rounds: 2,
          warmupRounds: 1,
          durability: ['durable', 'page-cache'],
          yardstick,
          cli: false,
          blockBytes: MiB,
          packetBytes: null,
          windowBytes: null,
          dataDir: r.settings.dataDir,
        });
        checkCleanedUp(r);
      } finally {
        fs.rmSync(yardstick, { force: true });
      }
    },
    2 * RUN_TIMEOUT_MS + 5_000,
  );

  it(
    'download: baseline and DFS phases, packet latencies, a summary, and the temp dir removed',
    async () => {
      const r = await runBench('download', [
        '--size',
        '4MiB',
        '--replication',
        '2',
        '--datanodes',
        '2',
        '--block-size',
        '1MiB',
        '--packet-size',
        '128KiB',
        '--clients',
        '2',
      ]);
      expect(r.suite).toBe('download');
      // Reads: one comparison, from the page cache.
      expect(r.comparisons.map((c) => c.durability)).toEqual(['page-cache']);
      const c = r.comparisons[0]!;
      checkComparison(r, c, 2 * 4 * MiB);
      expect(c.yardstickMiBps).toBeNull();
      expect(c.dfsToYardstick).toBeNull();
      expect(r.settings).toEqual({
        sizeBytes: 4 * MiB,
        replication: 2,
        clients: 2,
        datanodes: 2,
        rounds: 1,
        warmupRounds: 1,
        durability: ['page-cache'],
        yardstick: null,
        cli: false,
        blockBytes: MiB,
        packetBytes: 128 * 1024,
        windowBytes: null,
        dataDir: r.settings.dataDir,
      });
      // The wait for each packet read (the DataNode picks the read packet size): at least
      // one per block of the two files.
      expect(c.phases[1]!.packetLatencyUs!.count).toBeGreaterThanOrEqual(2 * 4);
      // Reads wait for no block allocation.
      for (const p of c.phases) expect(p.blockWaitUs).toBeNull();
      checkCleanedUp(r);
    },
    RUN_TIMEOUT_MS + 5_000,
  );

  it(
    '--cli: DFS as the dfs command, a process per transfer, its CPU counted once it exits; uploads and downloads',
    async () => {
      const args = ['--replication', '1', '--datanodes', '2', '--block-size', '1MiB', '--cli'];
      const down = await runBench('download', ['--size', '4MiB', '--clients', '2', ...args]);
      const up = await runBench('upload', ['--size', '4MiB', '--durability', 'page-cache', ...args]);
      for (const [r, clients] of [
        [down, 2],
        [up, 1],
      ] as const) {
        expect(r.settings.cli).toBe(true);
        const c = r.comparisons[0]!;
        for (const p of c.phases) {
          expect(p.bytes, `${r.suite} ${p.system} bytes`).toBe(clients * 4 * MiB);
          expect(p.mibPerSec).toBeGreaterThan(0);
          expect(p.packetLatencyUs, 'no packet latency from outside').toBeNull();
          expect(p.blockWaitUs, 'no block waits from outside').toBeNull();
        }
        // The dfs processes' CPU (Node's start-up alone is tens of milliseconds), read from
        // this process's reaped children: never zero, never missing.
        const dfs = c.phases.find((p) => p.system === 'dfs')!;
        expect(dfs.cpuPerGiB!.client!).toBeGreaterThan(0.01);
        expect(r.notes.some((n) => n.startsWith('DFS ran as the dfs command'))).toBe(true);
        checkCleanedUp(r);
      }
    },
    2 * RUN_TIMEOUT_MS + 5_000,
  );

  it('--cli refuses --packet-size and --window, which the dfs command has not', async () => {
    const err = (await promisify(execFile)(
      process.execPath,
      [BENCH, 'upload', '--json', '--dir', dir, '--size', '1MiB', '--cli', '--packet-size', '64KiB'],
      { timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL' },
    ).then(
      () => null,
      (e: unknown) => e,
    )) as (Error & { code?: number; stderr?: string }) | null;
    expect(err, 'dfs-bench exited 0').not.toBeNull();
    expect(err!.code).toBe(1);
    expect(err!.stderr).toMatch(/--cli times the dfs command, which has no packet size or window option/);
  });

  it(
    'refuses a replication larger than the DataNode count, with a message on stderr',
    async () => {
      const run = promisify(execFile)(
        process.execPath,
        [BENCH, 'upload', '--json', '--dir', dir, '--size', '1MiB', '--replication', '3', '--datanodes', '2'],
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
      expect(err!.stderr).toMatch(/--replication 3 needs at least as many DataNodes \(--datanodes 2\)/);
      expect(err!.stdout).toBe('');
      expect(fs.readdirSync(dir)).toEqual([]);
    },
    RUN_TIMEOUT_MS + 5_000,
  );
});
