/**
 * `dfsd local` (npm start): a NameNode and DataNodes as separate processes on loopback with
 * their data in a local folder, formatted on first run, logs shown in a readable form.
 *
 * Stopping. Whatever way the launcher is told to stop, it stops every daemon (DataNodes,
 * then the NameNode) and exits:
 *
 *   | what happens                                   | how the launcher learns it                |
 *   |------------------------------------------------|-------------------------------------------|
 *   | Ctrl-C, or SIGINT / SIGTERM to npm             | SIGINT / SIGTERM (npm forwards both; the  |
 *   |                                                | start script `exec`s, so no shell is left |
 *   |                                                | between npm and the launcher)             |
 *   | SIGHUP (terminal closed)                       | SIGHUP (npm does not forward it and dies) |
 *   | the parent (npm) dies, e.g. SIGHUP or SIGKILL  | its parent pid changes (checked twice a   |
 *   |                                                | second)                                   |
 *   | the launcher itself is SIGKILLed               | each daemon's stdin lifeline closes       |
 *
 * The daemons run in process groups of their own, so a Ctrl-C reaches only npm and the
 * launcher, which stops them in order. A second signal kills them at once (unless it comes
 * within a second of the first: a Ctrl-C arrives twice, from the terminal and from npm). The banner says
 * the cluster is up only once writes work (safe mode off, every DataNode live). A daemon
 * that dies while the cluster runs is reported on stderr; without its NameNode the cluster
 * is useless, so the launcher then stops the rest and exits 1.
 */
import path from 'node:path';
import { rethrowIfBug } from '../../protocol/errors.js';
import type { DaemonProcess } from './daemon-process.js';
import { LocalCluster } from './local-cluster.js';

const PARENT_CHECK_MS = 500;
const WRITABLE_TIMEOUT_MS = 120_000;
/** A second signal this soon after the first is the same Ctrl-C, not a request to hurry. */
const REPEAT_IGNORED_MS = 1000;

function say(line: string): void {
  process.stderr.write(`dfs local: ${line}\n`);
}

export async function runLocalCluster(opts: {
  dir: string;
  port: number;
  httpPort: number;
  datanodes: number;
}): Promise<void> {
  // The terminal may be gone while we stop (SIGHUP): a failed write must not abort the stop.
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
  const cluster = new LocalCluster({
    baseDir: path.resolve(opts.dir),
    namenodePort: opts.port,
    namenodeHttpPort: opts.httpPort,
    datanodes: opts.datanodes,
    echoLogs: true,
    ownProcessGroups: true,
  });
  let stopping = false;
  let stoppingSinceMs = 0;
  const stop = (why: string, exitCode: number): void => {
    if (stopping) {
      // A Ctrl-C reaches the launcher twice: from the terminal and forwarded by npm.
      if (performance.now() - stoppingSinceMs < REPEAT_IGNORED_MS) return;
      say(`${why} again: killing the daemons`);
      void cluster.killAll().finally(() => process.exit(1));
      return;
    }
    stopping = true;
    stoppingSinceMs = performance.now();
    say(`${why}: stopping the cluster`);
    cluster.stop().then(
      () => {
        const how = [cluster.namenode, ...cluster.datanodes].map(
          (d) => `${d.options.name} ${d.exitDescription}`,
        );
        say(`stopped (${how.join(', ')})`);
        process.exit(exitCode);
      },
      (err: unknown) => {
        rethrowIfBug(err);
        say(`stopping failed: ${(err as Error).message}`);
        void cluster.killAll().finally(() => process.exit(1));
      },
    );
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stop(signal, 0));
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stop(`the launcher's parent (pid ${parent}) is gone`, 0);
  }, PARENT_CHECK_MS);

  try {
    await cluster.start();
    for (const d of [cluster.namenode, ...cluster.datanodes]) watchExit(d, d === cluster.namenode);
    await cluster.waitWritable(WRITABLE_TIMEOUT_MS);
  } catch (err) {
    rethrowIfBug(err);
    if (stopping) return; // a signal came during the start: the stop is under way
    say(`the cluster did not start: ${(err as Error).message}`);
    stop('start failed', 1);
    return;
  }
  if (stopping) return;
  process.stdout.write(
    `\nDFS local cluster is up.\n  NameNode: ${cluster.namenodeAddress}\n${httpLines(cluster)}` +
      `  data:     ${path.resolve(opts.dir)}\n\n` +
      `Point the CLI at it:\n  export DFS_NAMENODE=${cluster.namenodeAddress}\n  node bin/dfs.js ls /\n\nPress Ctrl-C to stop.\n\n`,
  );

  function watchExit(d: DaemonProcess, essential: boolean): void {
    const pid = d.pid;
    void d.waitExit().then(() => {
      if (stopping) return;
      const what = `${d.options.name} (pid ${pid}) exited unexpectedly (${d.exitDescription})`;
      if (essential) stop(`${what}; the cluster cannot run without it`, 1);
      else say(`${what}; the cluster runs on without it`);
    });
  }
}

/** The banner's HTTP lines: the NameNode's web UI (with its API and metrics), then each DataNode's metrics. */
function httpLines(cluster: LocalCluster): string {
  if (cluster.namenodeHttpAddress === '') return '  HTTP:     off\n';
  const lines = [
    `  web UI:   http://${cluster.namenodeHttpAddress}/  (JSON API /api/v1/, /metrics, /healthz, /readyz)\n`,
  ];
  for (const d of cluster.datanodes)
    if (d.httpPort > 0) lines.push(`  ${d.options.name} metrics: http://127.0.0.1:${d.httpPort}/metrics\n`);
  return lines.join('');
}
