/**
 * A local etcd (issue 14) for the HA tests (tests/support/etcd.ts) and `dfs-bench ha`: one
 * member, or a three-member cluster for etcd failures, from the Debian `etcd-server` package,
 * on free loopback ports in a temp folder. Each member is a child process this file started;
 * it is stopped by its PID (SIGTERM, then SIGKILL if it lingers) and its folder removed.
 * Waits are bounded: a member that is not healthy in time fails with the tail of its log.
 *
 * Elections are tuned faster than etcd's defaults (heartbeat 50 ms, election 500 ms) so a
 * run that kills the etcd leader does not wait seconds for a new one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const ETCD_BIN = process.env.DFS_ETCD ?? '/usr/bin/etcd';
export const HAVE_ETCD = fs.existsSync(ETCD_BIN);

export interface EtcdMember {
  readonly name: string;
  /** "http://127.0.0.1:PORT", the client URL. */
  readonly clientUrl: string;
  readonly clientPort: number;
  readonly pid: number;
  /** True while the process runs (not yet exited). */
  readonly running: boolean;
  /** Sends `signal` to this member's process (SIGKILL, SIGSTOP, SIGCONT ...). */
  signal(signal: NodeJS.Signals): void;
  /** Resolves once the process has exited (at once if it has). */
  exited(): Promise<void>;
  /** Starts the member again on the same ports and data folder (after a kill). */
  restart(): Promise<void>;
  /** The last lines of its log, for failure messages. */
  logTail(lines?: number): string;
}

export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** Every member's client URL, in member order. */
  readonly endpoints: string[];
  /** Resolves once `member` (default: every running member) answers /health true, within `timeoutMs`. */
  waitHealthy(member?: EtcdMember, timeoutMs?: number): Promise<void>;
  /** The member that is the Raft leader now (asked over /v3/maintenance/status). */
  leader(): Promise<EtcdMember>;
  /** Stops every member by PID and removes the folder. */
  stop(): Promise<void>;
}

export interface EtcdOptions {
  /** --quota-backend-bytes (etcd's database size quota); etcd's default when absent. */
  quotaBackendBytes?: number;
  /**
   * One per member: the address it listens on (ports 2379 and 2380 there) and a command it
   * runs under, which execs it in place (`ip netns exec HOST`, tests/support/netns.ts). By
   * default every member is on 127.0.0.1, on free ports, run directly.
   */
  hosts?: ReadonlyArray<{ address: string; launcher: string[] }>;
}

/** A single-member etcd, healthy. */
export function startEtcd(options: EtcdOptions = {}): Promise<EtcdCluster> {
  return startEtcdCluster(1, options);
}

/** An etcd cluster of `size` members, every member healthy. */
export async function startEtcdCluster(size: number, options: EtcdOptions = {}): Promise<EtcdCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-etcd-'));
  const hosts = options.hosts;
  if (hosts !== undefined && hosts.length !== size)
    throw new Error(`${size} etcd members on ${hosts.length} hosts`);
  const ports = hosts === undefined ? await freePorts(size * 2) : [];
  const specs: MemberSpec[] = Array.from({ length: size }, (_, i) => ({
    name: `m${i}`,
    host: hosts?.[i]!.address ?? '127.0.0.1',
    launcher: hosts?.[i]!.launcher ?? [],
    clientPort: hosts === undefined ? ports[2 * i]! : 2379,
    peerPort: hosts === undefined ? ports[2 * i + 1]! : 2380,
  }));
  const initialCluster = specs.map((s) => `${s.name}=http://${s.host}:${s.peerPort}`).join(',');
  const members = specs.map((s) => new Member(dir, s, initialCluster, options));
  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.clientUrl),
    async waitHealthy(member, timeoutMs = 15_000) {
      const which = member ? [member] : members.filter((m) => m.running);
      await Promise.all(which.map((m) => (m as Member).waitHealthy(timeoutMs)));
    },
    async leader() {
      for (const m of members) {
        if (!m.running) continue;
        try {
          const status = (await postJson(m.clientUrl, '/v3/maintenance/status', {})) as {
            header: { member_id: string };
            leader: string;
          };
          const leaderId = status.leader;
          if (status.header.member_id === leaderId) return m;
        } catch {
          // a member that does not answer is not the leader
        }
      }
      throw new Error('no etcd member reports itself leader');
    },
    async stop() {
      await Promise.all(members.map((m) => m.stop()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    for (const m of members) m.start();
    await cluster.waitHealthy();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

interface MemberSpec {
  name: string;
  host: string;
  launcher: string[];
  clientPort: number;
  peerPort: number;
}

class Member implements EtcdMember {
  private child: ChildProcess | null = null;
  private exit: Promise<void> = Promise.resolve();
  private readonly logFile: string;
  private started = false;

  readonly name: string;
  readonly clientPort: number;

  constructor(
    private readonly dir: string,
    private readonly spec: MemberSpec,
    private readonly initialCluster: string,
    private readonly options: EtcdOptions,
  ) {
    this.name = spec.name;
    this.clientPort = spec.clientPort;
    this.logFile = path.join(dir, `${spec.name}.log`);
  }

  get clientUrl(): string {
    return `http://${this.spec.host}:${this.clientPort}`;
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    const peer = `http://${this.spec.host}:${this.spec.peerPort}`;
    const args = [
      `--name=${this.name}`,
      `--data-dir=${path.join(this.dir, this.name)}`,
      `--listen-client-urls=${this.clientUrl}`,
      `--advertise-client-urls=${this.clientUrl}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=${this.initialCluster}`,
      `--initial-cluster-state=${this.started ? 'existing' : 'new'}`,
      '--initial-cluster-token=dfs-test',
      '--heartbeat-interval=50',
      '--election-timeout=500',
      '--logger=zap',
      '--log-outputs=stderr',
    ];
    if (this.options.quotaBackendBytes !== undefined)
      args.push(`--quota-backend-bytes=${this.options.quotaBackendBytes}`);
    const out = fs.openSync(this.logFile, 'a');
    const [command, ...prefix] = [...this.spec.launcher, ETCD_BIN];
    const child = spawn(command, [...prefix, ...args], { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    this.child = child;
    this.started = true;
    this.exit = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child!.kill(signal);
  }

  exited(): Promise<void> {
    return this.exit;
  }

  async restart(): Promise<void> {
    if (this.running) throw new Error(`etcd member ${this.name} is still running`);
    this.start();
    await this.waitHealthy(15_000);
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.signal('SIGCONT'); // a paused member cannot act on SIGTERM
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), 3000);
    await this.exit;
    clearTimeout(timer);
  }

  async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) throw new Error(`etcd member ${this.name} exited:\n${this.logTail()}`);
      try {
        const res = await fetch(`${this.clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json()) as { health?: string };
        if (body.health === 'true') return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline)
        throw new Error(`etcd member ${this.name} not healthy in ${timeoutMs} ms:\n${this.logTail()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  logTail(lines = 20): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}

async function postJson(base: string, route: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${base}${route}`, {
    method: 'POST',
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(2000),
  });
  return res.json();
}

/** `n` distinct ports free on loopback now (bound on port 0 together, then released). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
