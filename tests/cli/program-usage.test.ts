/**
 * The command line contract shared by `dfs`, `dfsd` and `dfs-bench` (src/cli/program-support.ts),
 * run as real processes: `--version` prints package.json's version and exits 0, and a usage
 * error (unknown option or command, a malformed argument, at the top level or in a
 * subcommand) is one stderr line `<program>: [<command>: ]USAGE: ...` with exit status 2;
 * `dfs` and `dfs-bench` end quietly when their output's reader is gone (EPIPE).
 * No cluster is needed: every run here fails or exits before it would start anything.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DFS_BENCH_BIN, DFS_BIN, DFSD_BIN, REPO_ROOT } from '../../src/local/daemon-process.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(bin: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { env: { ...process.env, DFS_NAMENODE: undefined }, timeout: 15_000, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err !== null && typeof err.code !== 'number') {
          const failure: Error = err;
          return reject(failure);
        }
        resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
      },
    );
  });
}

const VERSION = (
  JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

const PROGRAMS = [
  { name: 'dfs', bin: DFS_BIN, sub: ['ls', '--page-size', '0'], subName: 'ls' },
  { name: 'dfsd', bin: DFSD_BIN, sub: ['namenode', '--port', 'x'], subName: 'namenode' },
  { name: 'dfs-bench', bin: DFS_BENCH_BIN, sub: ['meta', '--ops', '0'], subName: 'meta' },
] as const;

function usageLine(r: Run, prefix: string): string {
  expect(r.code, `exit status; stderr: ${r.stderr}`).toBe(2);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines, 'one stderr line').toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^${prefix}USAGE: \\S.*\\(see .* --help\\)$`));
  return lines[0]!;
}

describe.each(PROGRAMS)('$name', ({ name, bin, sub, subName }) => {
  it('--version prints the package version and exits 0', async () => {
    const r = await run(bin, ['--version']);
    expect(r).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it('usage errors are one line with exit status 2, at the top level and in a subcommand', async () => {
    const [option, command, inSub] = await Promise.all([
      run(bin, ['--no-such-option']),
      run(bin, ['no-such-command']),
      run(bin, [...sub]),
    ]);
    expect(usageLine(option, `${name}: `)).toContain('--no-such-option');
    expect(usageLine(command, `${name}: `)).toContain('no-such-command');
    expect(usageLine(inSub, `${name}: ${subName}: `)).toContain(`${name} ${subName} --help`);
  });
});

describe.each(PROGRAMS.filter((p) => p.name !== 'dfsd'))('$name', ({ bin }) => {
  it('ends quietly, exit status 0, when its output pipe has no reader (`--help | head -0`)', async () => {
    const child = spawn(process.execPath, [bin, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // the reader is gone before the program writes
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const [code] = (await once(child, 'close')) as [number | null];
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  });
});

describe('dfsd HTTP options', () => {
  it('namenode, datanode and local document --http-port (with -1 = off) and refuse a bad one', async () => {
    const [nn, dn, local, bad] = await Promise.all([
      run(DFSD_BIN, ['namenode', '--help']),
      run(DFSD_BIN, ['datanode', '--help']),
      run(DFSD_BIN, ['local', '--help']),
      run(DFSD_BIN, ['datanode', '--http-port', '-2']),
    ]);
    for (const [r, port] of [
      [nn, '9870'],
      [dn, '9864'],
    ] as const) {
      expect(r.code).toBe(0);
      const help = r.stdout.replace(/\s+/g, ' '); // commander wraps long lines
      expect(help).toContain(
        `--http-port <port> HTTP port (/metrics, /healthz, /readyz), 0 picks a free one, -1 turns HTTP off (default ${port})`,
      );
      expect(help).toContain('--http-host <host> HTTP listen address');
    }
    expect(local.stdout).toContain('--http-port <port>');
    expect(usageLine(bad, 'dfsd: datanode: ')).toContain('-1 for off');
  });
});
