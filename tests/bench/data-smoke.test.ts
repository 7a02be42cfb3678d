/**
 * Smoke test of `dfs-bench upload` and `dfs-bench download`: the compiled benchmark runs
 * end to end as a child process (a NameNode, DataNodes and raw baseline hops in a temp dir
 * inside --dir, removed at the end), with a small file and 1 MiB blocks, and its --json
 * document has a phase per system with bytes moved, a DFS phase with packet latency
 * percentiles, a summary, and the settings it was given. Throughput is only checked to be
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

/** The checks every successful run shares: phases, latencies, summary, clean-up. */
function checkReport(r: Report, suite: 'upload' | 'download', sizeBytes: number): void {
  expect(r.suite).toBe(suite);
  expect(r.phases.slice(0, 2).map((p) => [p.system, p.round])).toEqual([
    ['baseline', 1],
    ['dfs', 1],
  ]);
  for (const p of r.phases) {
    expect(p.bytes, `${p.system} bytes`).toBe(sizeBytes);
    expect(p.elapsedMs, `${p.system} elapsed`).toBeGreaterThan(0);
    expect(p.mibPerSec, `${p.system} MiB/s`).toBeGreaterThan(0);
    expect(Number.isFinite(p.mibPerSec), `${p.system} MiB/s finite`).toBe(true);
    expect(p.cpu.servers, `${p.system} one CPU figure per server process`).toHaveLength(r.settings.datanodes);
  }
  const baseline = r.phases.find((p) => p.system === 'baseline')!;
  const dfs = r.phases.find((p) => p.system === 'dfs')!;
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
    const ps = r.phases.filter((p) => p.system === system);
    return (
      ps.reduce((a, p) => a + p.bytes, 0) / (1024 * 1024) / (ps.reduce((a, p) => a + p.elapsedMs, 0) / 1000)
    );
  };
  expect(r.summary.baselineMiBps).toBeCloseTo(overall('baseline'), 6);
  expect(r.summary.dfsMiBps).toBeCloseTo(overall('dfs'), 6);
  expect(r.summary.ratio).toBeGreaterThan(0);
  expect(r.summary.ratio).toBeCloseTo(r.summary.dfsMiBps / r.summary.baselineMiBps, 6);
  expect(r.summary.met).toBe(r.summary.ratio >= r.summary.target);
  expect(r.notes.length).toBeGreaterThan(0);

  // Its temp dir was inside --dir and is gone; nothing else was left there.
  expect(path.dirname(r.settings.dataDir)).toBe(dir);
  expect(fs.existsSync(r.settings.dataDir), `${r.settings.dataDir} left behind`).toBe(false);
  expect(fs.readdirSync(dir)).toEqual([]);
}

describe('dfs-bench upload / download', () => {
  it(
    'upload: baseline and DFS phases, packet latencies, a summary, and the temp dir removed',
    async () => {
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
      ]);
      checkReport(r, 'upload', 8 * MiB);
      // The order alternates: baseline first in odd rounds, DFS first in even ones.
      expect(r.phases.map((p) => `${p.round}:${p.system}`)).toEqual([
        '1:baseline',
        '1:dfs',
        '2:dfs',
        '2:baseline',
      ]);
      expect(r.settings).toEqual({
        sizeBytes: 8 * MiB,
        replication: 2,
        concurrency: 1,
        datanodes: 2,
        rounds: 2,
        warmupRounds: 1,
        blockBytes: MiB,
        packetBytes: null,
        windowBytes: null,
        dataDir: r.settings.dataDir,
      });
      // Send-to-ack per packet: at least one per block of the file.
      expect(r.phases[1]!.packetLatencyUs!.count).toBeGreaterThanOrEqual(8);
    },
    RUN_TIMEOUT_MS + 5_000,
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
        '--concurrency',
        '2',
      ]);
      checkReport(r, 'download', 2 * 4 * MiB);
      expect(r.settings).toEqual({
        sizeBytes: 4 * MiB,
        replication: 2,
        concurrency: 2,
        datanodes: 2,
        rounds: 1,
        warmupRounds: 1,
        blockBytes: MiB,
        packetBytes: 128 * 1024,
        windowBytes: null,
        dataDir: r.settings.dataDir,
      });
      // The wait for each packet read (the DataNode picks the read packet size): at least
      // one per block of the two files.
      expect(r.phases[1]!.packetLatencyUs!.count).toBeGreaterThanOrEqual(2 * 4);
    },
    RUN_TIMEOUT_MS + 5_000,
  );

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
