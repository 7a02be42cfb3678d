/**
 * `npm start` across real processes: npm, the launcher (`dfsd local`) and its four daemons.
 * Signals to npm's PID (SIGTERM, SIGINT, SIGHUP) or to the launcher's must stop every
 * daemon within a bound and free the NameNode port; the banner comes only once writes
 * work; a daemon that dies is reported on stderr.
 *
 * The repository's own `start` script runs through npm in a scratch package
 * (tests/support/process-tree.ts `scratchPackage`): the real npm, shell and signal
 * forwarding, without recompiling dist/ under other test files' running daemons. Everything started is found by parent PID (/proc) and SIGKILLed in afterEach.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import { waitFor } from '../support/data-path.js';
import { httpRequest } from '../support/http.js';
import {
  commandLine,
  descendants,
  isAlive,
  killAll,
  NPM_ENV,
  portFree,
  scratchPackage,
} from '../support/process-tree.js';

const STOP_BOUND_MS = 15_000;
const started = new Set<number>();
const dirs: string[] = [];

afterEach(() => {
  killAll(started);
  started.clear();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

interface NpmStart {
  npm: ChildProcess;
  port: number;
  /** The launcher (`node bin/dfsd.js local`) and the daemons it started. */
  launcher: number;
  daemons: number[];
  output: () => { stdout: string; stderr: string };
}

/** `npm start -- --dir <temp> --port 0 --http-port 0` in a scratch package; resolves after the banner. */
async function npmStart(): Promise<NpmStart> {
  const pkg = scratchPackage(['start']);
  dirs.push(pkg);
  // detached: npm leads a process group of its own, as a terminal's foreground job does.
  const npm = spawn(
    'npm',
    ['start', '--', '--dir', path.join(pkg, 'data'), '--port', '0', '--http-port', '0'],
    {
      cwd: pkg,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: NPM_ENV,
    },
  );
  started.add(npm.pid!);
  let stdout = '';
  let stderr = '';
  npm.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  npm.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const port = await waitFor(
    'the banner of npm start',
    () => {
      for (const pid of descendants(npm.pid!)) started.add(pid);
      if (npm.exitCode !== null) throw new Error(`npm start exited ${npm.exitCode}: ${stderr}`);
      const m = /DFS local cluster is up\.\n {2}NameNode: 127\.0\.0\.1:(\d+)/.exec(stdout);
      return m ? Number(m[1]) : undefined;
    },
    30_000,
    100,
  );
  const tree = descendants(npm.pid!);
  for (const pid of tree) started.add(pid);
  const launcher = tree.find((pid) => /dfsd\.js local/.test(commandLine(pid)));
  expect(launcher, `no launcher among ${tree.map((p) => commandLine(p)).join(' | ')}`).toBeDefined();
  const daemons = tree.filter((pid) => /dfsd\.js (namenode|datanode)/.test(commandLine(pid)));
  expect(daemons).toHaveLength(4);
  return { npm, port, launcher: launcher!, daemons, output: () => ({ stdout, stderr }) };
}

/** Every process of the cluster exits within the bound, npm too, and the port is free again. */
async function expectAllGone(s: NpmStart): Promise<void> {
  const pids = [s.npm.pid!, s.launcher, ...s.daemons];
  await waitFor(
    'npm, the launcher and every daemon to exit',
    () => (pids.every((pid) => !isAlive(pid)) ? true : undefined),
    STOP_BOUND_MS,
    100,
  ).catch((err: Error) => {
    const left = pids.filter(isAlive).map((pid) => `${pid} ${commandLine(pid)}`);
    throw new Error(`${err.message}; still running: ${left.join('; ')}\n${s.output().stderr}`);
  });
  expect(await portFree(s.port)).toBe(true);
}

describe('npm start', () => {
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    it(`stops the whole cluster on ${signal} to the npm process`, async () => {
      const s = await npmStart();
      process.kill(s.npm.pid!, signal);
      await expectAllGone(s);
      if (signal !== 'SIGHUP')
        expect(s.output().stderr).toContain(`dfs local: ${signal}: stopping the cluster`);
    });
  }

  it('stops cleanly on Ctrl-C (SIGINT to the process group: the launcher gets it twice, from the terminal and npm)', async () => {
    const s = await npmStart();
    process.kill(-s.npm.pid!, 'SIGINT');
    await expectAllGone(s);
    expect(s.output().stderr).toContain('dfs local: SIGINT: stopping the cluster');
    expect(s.output().stderr).not.toContain('killing the daemons');
    // Every daemon stopped cleanly (exit code 0), none was killed.
    expect(s.output().stderr).toMatch(
      /dfs local: stopped \(namenode exit code 0, datanode0 exit code 0, datanode1 exit code 0, datanode2 exit code 0\)/,
    );
  });

  it('announces itself only once writes work, reports a dying daemon, and stops on SIGTERM to the launcher', async () => {
    const s = await npmStart();
    // The banner is out: a write succeeds at once (no SAFE_MODE, every DataNode registered).
    const client = new DfsClient({ namenode: `127.0.0.1:${s.port}`, requestTimeoutMs: 10_000 });
    try {
      const out = client.create('/probe.txt', { replication: 3 });
      await new Promise<void>((resolve, reject) => {
        out.once('error', reject);
        out.end('written right after the banner\n', resolve);
      });
      expect((await client.stat('/probe.txt')).length).toBe(31);
    } finally {
      client.close();
    }
    // The banner names the NameNode's web UI (with its API and metrics) and each DataNode's metrics, and they serve.
    const web = /web UI: +http:\/\/127\.0\.0\.1:(\d+)\//.exec(s.output().stdout);
    expect(web, s.output().stdout).not.toBeNull();
    expect((await httpRequest(Number(web![1]), '/readyz')).status).toBe(200);
    const page = await httpRequest(Number(web![1]), '/');
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('/ui/app.js');
    expect((await httpRequest(Number(web![1]), '/api/v1/overview')).status).toBe(200);
    const dnMetrics = [
      ...s.output().stdout.matchAll(/datanode\d metrics: http:\/\/127\.0\.0\.1:(\d+)\/metrics/g),
    ];
    expect(dnMetrics).toHaveLength(3);
    expect((await httpRequest(Number(dnMetrics[0]![1]), '/metrics')).body).toContain(
      'dfs_datanode_registered 1',
    );

    const datanode = s.daemons.find((pid) => /dfsd\.js datanode/.test(commandLine(pid)))!;
    process.kill(datanode, 'SIGKILL');
    await waitFor(
      'the launcher to report the dead DataNode',
      () =>
        new RegExp(`datanode\\d \\(pid ${datanode}\\) exited unexpectedly \\(signal SIGKILL\\)`).test(
          s.output().stderr,
        )
          ? true
          : undefined,
      10_000,
    );
    expect(isAlive(s.launcher)).toBe(true);

    process.kill(s.launcher, 'SIGTERM');
    await expectAllGone(s);
  });
});
