/**
 * Smoke test of `dfs-bench namespace`: the compiled benchmark runs end to end as a child
 * process with tiny numbers, filled both ways (client RPCs, and an image the bench builds),
 * and its --json document describes a NameNode that held every file: each node's full
 * report carries its share of the replicas, and the checkpoint image written after the fill
 * has a record per file. Timing is not checked.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DFS_BENCH_BIN as BENCH } from '../../src/local/daemon-process.js';

const FILES = 3000;

interface Report {
  settings: { files: number; fill: string; datanodes: number };
  memory: { rssBytesPerFile: number; rssBytesPerFileAfterRestart: number };
  fullReport: { replicas: number; steadyMs: number; firstMs: number };
  checkpoint: { imageBytes: number; ms: number };
  restart: { totalMs: number; reportsMs: number };
}

describe('dfs-bench namespace (smoke)', () => {
  it.each(['rpc', 'image'])(
    'fills %s and measures a NameNode holding every file',
    async (fill) => {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [BENCH, 'namespace', '--json', '--files', String(FILES), '--fill', fill, '--baseline-seconds', '1'],
        { maxBuffer: 16 * 1024 * 1024, timeout: 100_000, killSignal: 'SIGKILL' },
      );
      const r = JSON.parse(stdout) as Report;
      expect(r.settings).toMatchObject({ files: FILES, fill, datanodes: 3 });
      // Replication 3 over 3 nodes: every node holds a replica of every block.
      expect(r.fullReport.replicas).toBe(FILES);
      // A record per file (name, owners, one block: ~70 bytes) in the image checkpointed after the fill.
      expect(r.checkpoint.imageBytes).toBeGreaterThan(FILES * 60);
      expect(r.checkpoint.ms).toBeGreaterThan(0);
      expect(r.restart.totalMs).toBeGreaterThan(0);
      expect(r.memory.rssBytesPerFileAfterRestart).not.toBeNaN();
    },
    110_000,
  );
});
