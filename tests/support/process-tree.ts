/**
 * Test helpers for launchers (npm start, the demo): the processes a PID has started, read
 * from /proc (Linux), whether they are gone, whether a TCP port is free again, and a
 * scratch package to run the repository's npm scripts in. A
 * launcher's daemons may sit in process groups of their own, so tests find them by parent
 * PID, not by group, and kill what they found by PID.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../../src/local/daemon-process.js';

/** `ppid` and state of a live process, or null once it is gone (or a zombie: exited, not yet reaped). */
function procStat(pid: number): { ppid: number; state: string } | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0] ?? '';
  return state === 'Z' || state === 'X' ? null : { ppid: Number(fields[1]), state };
}

export function isAlive(pid: number): boolean {
  return procStat(pid) !== null;
}

/** The command line of a live process, arguments joined by spaces ('' once it is gone). */
export function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** Every live descendant of `root` (children, their children, ...), parents before children. */
export function descendants(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(Number(name));
    if (st !== null) parentOf.set(Number(name), st.ppid);
  }
  const out: number[] = [];
  for (let frontier = [root]; frontier.length > 0;) {
    const next: number[] = [];
    for (const [pid, ppid] of parentOf) if (frontier.includes(ppid)) next.push(pid);
    out.push(...next);
    frontier = next;
  }
  return out;
}

/** SIGKILLs each PID still alive (test teardown). */
export function killAll(pids: Iterable<number>): void {
  for (const pid of pids) {
    try {
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    } catch {
      // gone between the check and the kill
    }
  }
}

/** Whether 127.0.0.1:`port` can be bound now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A scratch package that runs the repository's own npm `scripts` (from package.json) with a
 * `build` that does nothing and a bin/ linked to the repository's: npm, its shell and its
 * signal forwarding are the real ones, but dist/ (built by `npm test`) is not recompiled
 * under other test files' running daemons. Returns its folder (the caller removes it).
 */
export function scratchPackage(scripts: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-npm-'));
  const repo = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const picked: Record<string, string> = { build: 'true' };
  for (const s of scripts) picked[s] = repo.scripts[s] ?? `echo no script ${s} in package.json; exit 1`;
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'dfs-npm-probe', private: true, scripts: picked }),
  );
  fs.symlinkSync(path.join(REPO_ROOT, 'bin'), path.join(dir, 'bin'));
  return dir;
}

/** Environment for npm in tests: no update check, no funding notice. */
export const NPM_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  npm_config_update_notifier: 'false',
  npm_config_fund: 'false',
};
