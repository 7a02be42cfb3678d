/**
 * One daemon (`dfsd ...`) as a child process: spawned with its arguments, ready once it
 * logs the line that names its bound port, stoppable with SIGTERM (clean) or SIGKILL
 * (crash tests). Its pino JSON lines are kept (bounded) for tests and optionally echoed in
 * a short human form for the local cluster.
 *
 * The daemon is always `bin/dfsd.js`, which loads the build in dist/. This module itself is
 * loaded from dist/ by the CLI and the benchmark, and from src/ by the tests (vitest), so
 * the repository root is found by walking up to package.json rather than by counting
 * folders from this file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DfsError } from '../../protocol/errors.js';

/** The nearest folder above `from` that holds package.json: src/local/ and dist/src/local/ alike. */
function findRepoRoot(from: string): string {
  for (let dir = from; ;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
}

export const REPO_ROOT = findRepoRoot(path.dirname(fileURLToPath(import.meta.url)));
export const DFSD_BIN = path.join(REPO_ROOT, 'bin', 'dfsd.js');
export const DFS_BIN = path.join(REPO_ROOT, 'bin', 'dfs.js');
export const DFS_BENCH_BIN = path.join(REPO_ROOT, 'bin', 'dfs-bench.js');

export interface DaemonOptions {
  name: string;
  args: string[];
  /** The `msg` of the log line that says the daemon is serving; it carries `port`. */
  readyMessage: string;
  echoLogs?: boolean;
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
  /** Extra node flags (e.g. --cpu-prof, which NODE_OPTIONS does not allow). */
  nodeArgs?: string[];
  /**
   * A command the daemon runs under, which must exec it in place so the PID stays the
   * daemon's (e.g. `ip netns exec HOST` in multi-host tests); none by default.
   */
  launcher?: string[];
  /**
   * Run in a process group of its own, so a Ctrl-C at the terminal (which signals the whole
   * foreground group) reaches only the launcher, which then stops its daemons in order. The
   * lifeline still stops the daemon if the launcher dies.
   */
  ownProcessGroup?: boolean;
}

const LOG_LINES_KEPT = 2000;

export class DaemonProcess {
  private child: ChildProcess | null = null;
  readonly logs: Array<Record<string, unknown>> = [];
  stderr = '';
  port = 0;
  /** The HTTP port its ready line names (-1: HTTP off; 0: not started yet). */
  httpPort = 0;
  private exited: Promise<number | null> = Promise.resolve(null);

  constructor(readonly options: DaemonOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): Promise<number> {
    const o = this.options;
    const [command, ...launcherArgs] = [...(o.launcher ?? []), process.execPath];
    const child = spawn(command, [...launcherArgs, ...(o.nodeArgs ?? []), DFSD_BIN, ...o.args], {
      // stdin is a lifeline: the daemon stops when this process dies and the pipe closes.
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, DFS_LIFELINE: '1', ...o.env },
      detached: o.ownProcessGroup ?? false,
    });
    this.child = child;
    // 'close', not 'exit': its output is read to the end by then, so its last log lines are in.
    this.exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      this.stderr = (this.stderr + s).slice(-20_000);
      if (o.echoLogs) process.stderr.write(`[${o.name}] ${s}`);
    });
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new DfsError(
              'TIMEOUT',
              `${o.name} did not become ready in ${o.readyTimeoutMs ?? 20_000} ms; stderr: ${this.stderr}`,
            ),
          ),
        o.readyTimeoutMs ?? 20_000,
      );
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new DfsError(
            'CONNECTION',
            `${o.name} exited (${code ?? signal}) before it was ready: ${this.stderr.trim()}`,
          ),
        );
      });
      readline.createInterface({ input: child.stdout }).on('line', (line) => {
        let rec: Record<string, unknown>;
        try {
          rec = JSON.parse(line) as Record<string, unknown>;
        } catch {
          rec = { msg: line };
        }
        this.logs.push(rec);
        if (this.logs.length > LOG_LINES_KEPT) this.logs.shift();
        if (o.echoLogs) process.stdout.write(`${humanLine(o.name, rec)}\n`);
        if (rec.msg === o.readyMessage && typeof rec.port === 'number') {
          this.port = rec.port;
          if (typeof rec.httpPort === 'number') this.httpPort = rec.httpPort;
          clearTimeout(timer);
          resolve(rec.port);
        }
      });
    });
  }

  /** SIGTERM and wait; SIGKILL if it does not exit within `graceMs`. */
  async stop(graceMs = 10_000): Promise<number | null> {
    if (!this.running) return this.exited;
    this.child!.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  async kill(): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGKILL');
    await this.exited;
  }

  waitExit(): Promise<number | null> {
    return this.exited;
  }

  /** How the process ended, once it has: `exit code 1` or `signal SIGKILL`. */
  get exitDescription(): string {
    const c = this.child;
    if (c === null || this.running) return 'running';
    return c.signalCode !== null ? `signal ${c.signalCode}` : `exit code ${c.exitCode}`;
  }
}

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg']);

/** A value parsed from a JSON log line as text: strings bare, everything else as JSON. */
function fieldText(v: unknown): string {
  return typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
}

/** `12:00:01 INFO  namenode  namenode listening host=127.0.0.1 port=8020` */
export function humanLine(name: string, rec: Record<string, unknown>): string {
  const time = typeof rec.time === 'string' ? rec.time.slice(11, 19) : '';
  const level = (LEVELS[rec.level as number] ?? '').padEnd(5);
  const fields = Object.entries(rec)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${fieldText(v)}`)
    .join(' ');
  return `${time} ${level} ${name.padEnd(10)} ${fieldText(rec.msg ?? '')}${fields ? ` ${fields}` : ''}`;
}
