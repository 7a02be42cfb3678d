/**
 * Smoke test of `dfs-bench webhdfs`: the compiled benchmark runs end to end as a child
 * process with a small file, and its --json document has every phase (native put and get,
 * WebHDFS CREATE and OPEN) with the bytes moved and a summary with both ratios. Throughput is
 * only checked to be positive: this machine's speed is not the test's business.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { WebHdfsReport } from '../../bench/webhdfs.js';
import { DFS_BENCH_BIN as BENCH } from '../../src/local/daemon-process.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-webhdfs-smoke-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

it('dfs-bench webhdfs reports CREATE and OPEN beside native put and get', async () => {
  const size = 4 * 1024 * 1024;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [BENCH, 'webhdfs', '--json', '--dir', dir, '--settle-ms', '0', '--size', String(size), '--rounds', '2'],
    { maxBuffer: 16 * 1024 * 1024, timeout: 90_000, killSignal: 'SIGKILL' },
  );
  const r = JSON.parse(stdout) as WebHdfsReport;
  expect(r.suite).toBe('webhdfs');
  expect(r.phases.map((p) => [p.round, p.phase])).toEqual([
    [1, 'native put'],
    [1, 'webhdfs CREATE'],
    [1, 'native get'],
    [1, 'webhdfs OPEN'],
    [2, 'webhdfs CREATE'],
    [2, 'native put'],
    [2, 'webhdfs OPEN'],
    [2, 'native get'],
  ]);
  for (const p of r.phases) {
    expect(p.bytes).toBe(size);
    expect(p.mibPerSec).toBeGreaterThan(0);
  }
  for (const k of ['createMiBps', 'putMiBps', 'openMiBps', 'getMiBps', 'createRatio', 'openRatio'] as const)
    expect(r.summary[k]).toBeGreaterThan(0);
  expect(r.summary.target).toBe(0.7);
  expect(fs.readdirSync(dir)).toEqual([]);
}, 120_000);
