/**
 * Running the `dfs` command line as a user does, for the CLI tests: `node bin/dfs.js` as a
 * real process, and the checks every CLI test makes of its outcome (the one-line stderr
 * error format and the exit status, see src/cli/commands/command-context.ts).
 */
import { execFile } from 'node:child_process';
import { expect } from 'vitest';
import { DFS_BIN } from '../../src/local/daemon-process.js';

export interface DfsRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** What the checks below need of a run (stdout may be text or bytes). */
export interface RunOutcome {
  code: number | null;
  stderr: string;
}

/**
 * Runs `dfs --namenode <namenode> ...args` (no --namenode when `namenode` is null) with
 * DFS_NAMENODE unset; killed after `timeoutMs`, which fails the call.
 */
export function runDfs(
  namenode: string | null,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<DfsRun> {
  const argv = namenode === null ? args : ['--namenode', namenode, ...args];
  const env = { ...process.env, TZ: 'UTC', DFS_NAMENODE: undefined, ...options.env };
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [DFS_BIN, ...argv],
      { env, timeout: options.timeoutMs ?? 15_000, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err !== null && typeof err.code !== 'number') {
          // Killed by the timeout, or a spawn failure. Typed as Error: ExecFileException is
          // built with Omit<>, which hides from the linter that it is one.
          const failure: Error = err;
          return reject(failure);
        }
        resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
      },
    );
  });
}

/** Success: exit 0 and nothing on stderr. */
export function ok<R extends RunOutcome>(r: R): R {
  expect(r.stderr, 'stderr').toBe('');
  expect(r.code, 'exit status').toBe(0);
  return r;
}

/** Exactly one stderr line in the documented format, and the given exit status. */
export function failedWith(r: RunOutcome, command: string, code: string, exitStatus = 1): string {
  expect(r.code, `exit status; stderr: ${r.stderr}`).toBe(exitStatus);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines, 'stderr lines').toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^dfs: ${command}: ${code}: \\S`));
  return lines[0]!;
}
