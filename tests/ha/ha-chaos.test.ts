/**
 * NameNode HA under faults, across real processes on a real etcd (issue 14, "What must
 * hold"): two `dfsd namenode` processes with `journal: "etcd"`, each reaching etcd through
 * a TCP proxy of its own (tests/support/ha-cluster.ts), real DataNodes reporting to both,
 * and clients given both addresses.
 *
 * Namespace workers (tests/support/crash-workload.ts, the workload of the single-NameNode
 * crash test) keep a model of what their acknowledged mutations did; after every takeover
 * each subtree, walked through the new active, must equal its model, with or without the
 * one mutation in flight at the fault. An acknowledgement the deposed active sent after its
 * successor's epoch existed would be a mutation the new active lacks: the walk finds it.
 * Upload workers write real files through the DataNodes; every upload that completed must
 * read back identical at the end, and one that failed must have failed with a typed error.
 *
 * - kill -9 of the active, ten times in a row, under both kinds of load; the takeover time
 *   of each is printed;
 * - a seeded mixture of kills, pauses (SIGSTOP past the lease TTL, then SIGCONT) and
 *   partitions (the active's etcd proxies cut, then healed): a paused or cut-off active
 *   must step down on its own (exit status 2) and must have stopped serving before its
 *   successor served (log times); DFS_HA_CHAOS_SEED=<n> replays the choices;
 * - the etcd leader killed under load (three members): writes stall, nothing is lost, and
 *   DFS does not fail over (same active, same epoch).
 *
 * Without etcd the file is skipped, saying why.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import { Rng, Worker, codeOf, type Cycle } from '../support/crash-workload.js';
import { waitFor, within } from '../support/data-path.js';
import {
  ETCD_SKIP_REASON,
  HAVE_ETCD,
  startEtcd,
  startEtcdCluster,
  type EtcdCluster,
} from '../support/etcd.js';
import { HaCluster, startProxiedHaCluster, type ProxiedHaCluster } from '../support/ha-cluster.js';
import { sample, scrape } from '../support/http.js';

if (!HAVE_ETCD) console.warn(ETCD_SKIP_REASON);

const SEED = Number(process.env.DFS_HA_CHAOS_SEED ?? randomInt(2 ** 31));
const TTL_SECONDS = 2;
/** A takeover far beyond this is a failure; the printed times are the measurement. */
const TAKEOVER_BOUND_MS = (TTL_SECONDS + 10) * 1000;

type Fault = 'kill' | 'pause' | 'partition';

/** Upload workers: files of random sizes through the DataNodes, across every fault. */
class Uploads {
  readonly acked = new Map<string, Buffer>();
  readonly failures: string[] = [];
  private stopped = false;
  private readonly loops: Array<Promise<void>>;

  constructor(cluster: HaCluster, workers: number, rng: Rng) {
    this.loops = Array.from({ length: workers }, async (_, w) => {
      const client = cluster.client(`upload-${SEED}-${w}`);
      await client.mkdir(`/u${w}`);
      for (let n = 0; !this.stopped; n++) {
        const path = `/u${w}/f${n}`;
        const data = randomBytes(rng.range(1, 1536) * 1024);
        try {
          await write(client, path, data);
          this.acked.set(path, data);
        } catch (err) {
          // A typed error (the NameNode it talked to went away mid-call), never a hang or a crash.
          const code = codeOf(err);
          if (typeof code !== 'string' || this.stopped) throw err;
          this.failures.push(`${path}: ${code}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await within(60_000, 'the uploads in flight', Promise.all(this.loops));
  }

  /** After a failure: stop without waiting (the cluster goes down next). */
  abandon(): void {
    this.stopped = true;
    for (const l of this.loops) l.catch(() => {});
  }

  async verify(client: DfsClient): Promise<void> {
    for (const [path, data] of this.acked) {
      const chunks: Buffer[] = [];
      for await (const chunk of client.open(path)) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks).equals(data), `${path} (seed ${SEED})`).toBe(true);
    }
  }
}

async function write(c: DfsClient, p: string, data: Buffer): Promise<void> {
  const out = c.create(p, { replication: 2, blockBytes: 1024 * 1024 });
  out.end(data);
  await new Promise<void>((resolve, reject) => out.on('finish', resolve).on('error', reject));
}

/** The namespace workers, run cycle by cycle: a fault, the takeover, then every subtree checked. */
class NamespaceLoad {
  readonly workers: Worker[];
  private cycle: Cycle = { killed: false };
  private clients: DfsClient[] = [];
  private loops: Promise<PromiseSettledResult<void>[]> = Promise.resolve([]);

  constructor(
    private readonly cluster: HaCluster,
    count: number,
  ) {
    this.workers = Array.from({ length: count }, (_, i) => new Worker(i, `ha-chaos-${SEED}-c${i}`, SEED));
  }

  async setUp(): Promise<void> {
    const c = this.cluster.client();
    for (const w of this.workers) await c.mkdir(w.model.root);
  }

  start(): void {
    this.cycle = { killed: false };
    this.clients = this.workers.map(
      (w) =>
        new DfsClient({
          namenode: this.cluster.addresses,
          clientName: w.clientName,
          requestTimeoutMs: 10_000,
        }),
    );
    this.loops = Promise.allSettled(this.workers.map((w, i) => w.run(this.clients[i]!, null, this.cycle)));
  }

  /** The fault is happening: a lost call is expected from now on. */
  faulted(): void {
    this.cycle.killed = true;
  }

  /** After the takeover: stop, then walk every subtree through the new active. */
  async stopAndVerify(when: string): Promise<void> {
    this.cycle.stop = true;
    const results = await within(60_000, 'the namespace workers', this.loops);
    for (const c of this.clients) c.close();
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed)
      throw new Error(`seed ${SEED}, ${when}: ${(failed.reason as Error).message}`, { cause: failed.reason });
    const verifier = this.cluster.client();
    for (const w of this.workers) await w.verify(verifier, when);
  }

  get acked(): number {
    return this.workers.reduce((n, w) => n + w.acked, 0);
  }

  /** After a failure: end the loops (the cluster goes down next). */
  abandon(): void {
    this.cycle.stop = true;
    for (const c of this.clients) c.close();
  }
}

/**
 * Deposes the active (slot `i`) by `fault`, waits for another to take over, ends the deposed
 * one (a paused or cut-off active must exit by itself, status 2) and starts it again as a
 * standby. Returns the takeover time.
 */
async function depose(ha: ProxiedHaCluster, i: number, fault: Fault, load: NamespaceLoad): Promise<number> {
  const cluster = ha.cluster;
  const slot = cluster.slots[i]!;
  const deposed = slot.process;
  const pid = deposed.pid!;
  const faultAt = Date.now();
  load.faulted();
  if (fault === 'kill') await deposed.kill();
  if (fault === 'pause') process.kill(pid, 'SIGSTOP');
  if (fault === 'partition') for (const p of ha.proxies[i]!) p.drop();
  let successor: number;
  try {
    successor = await cluster.activeIndex(TAKEOVER_BOUND_MS, i);
  } finally {
    if (fault === 'pause') process.kill(pid, 'SIGCONT');
    if (fault === 'partition') for (const p of ha.proxies[i]!) p.heal();
  }
  const takeoverMs = Date.now() - faultAt;
  if (fault !== 'kill') {
    expect(await within(20_000, `${slot.id} stepping down`, deposed.waitExit())).toBe(2);
    // The log line may reach us after /isActive's answer did (pino writes asynchronously).
    const successorProcess = cluster.slots[successor]!.process;
    const servedAt = await waitFor('the successor logging that it serves', () =>
      Promise.resolve(HaCluster.logTime(successorProcess, 'active: serving')),
    );
    const stoppedAt = await waitFor(`${slot.id} logging its step-down (seed ${SEED})`, () =>
      Promise.resolve(HaCluster.logTime(deposed, 'HA: no longer able to serve; stopping')),
    );
    // With a partition the old active decides alone, by its lease: before the successor can win.
    if (fault === 'partition') expect(stoppedAt).toBeLessThanOrEqual(servedAt);
  }
  await load.stopAndVerify(`after the ${fault} of ${slot.id}`);
  await cluster.restart(i);
  await cluster.untilStandby(i, 30_000);
  return takeoverMs;
}

function summary(times: number[]): string {
  const sorted = [...times].sort((a, b) => a - b);
  return `takeover ms: ${times.join(', ')} (median ${sorted[Math.floor(sorted.length / 2)]}, max ${sorted.at(-1)})`;
}

describe.skipIf(!HAVE_ETCD)('NameNode HA under faults', () => {
  let etcd: EtcdCluster | null = null;
  let ha: ProxiedHaCluster | null = null;
  /** Loads still running when a test fails: stopped before the cluster goes down. */
  const loads: Array<{ abandon(): void }> = [];
  afterEach(async () => {
    for (const l of loads.splice(0)) l.abandon();
    await ha?.stop();
    await etcd?.stop();
    ha = null;
    etcd = null;
  });

  it('ten kill -9 of the active under uploads and namespace load: nothing acknowledged is lost', async () => {
    process.stdout.write(`ha-chaos kills: seed ${SEED} (replay with DFS_HA_CHAOS_SEED=${SEED})\n`);
    etcd = await startEtcd();
    ha = await startProxiedHaCluster(etcd, { ttlSeconds: TTL_SECONDS, datanodes: 2 });
    const cluster = ha.cluster;
    const rng = new Rng(SEED);
    const load = new NamespaceLoad(cluster, 3);
    await load.setUp();
    const uploads = new Uploads(cluster, 2, new Rng(SEED + 1));
    loads.push(load, uploads);
    const times: number[] = [];
    for (let k = 0; k < 10; k++) {
      load.start();
      await new Promise((r) => setTimeout(r, rng.range(300, 1000)));
      times.push(await depose(ha, await cluster.activeIndex(10_000), 'kill', load));
    }
    await uploads.stop();
    await uploads.verify(cluster.client());
    process.stdout.write(
      `ha-chaos kills: seed ${SEED}: ${summary(times)}; ${load.acked} acknowledged namespace mutations; ` +
        `${uploads.acked.size} uploads completed and read back, ${uploads.failures.length} failed: ` +
        `${uploads.failures.join('; ') || 'none'}\n`,
    );
    expect(load.acked).toBeGreaterThan(0);
    expect(uploads.acked.size).toBeGreaterThan(0);
  }, 240_000);

  it('a seeded mixture of kills, pauses and partitions of the active', async () => {
    process.stdout.write(`ha-chaos mixture: seed ${SEED} (replay with DFS_HA_CHAOS_SEED=${SEED})\n`);
    etcd = await startEtcd();
    ha = await startProxiedHaCluster(etcd, { ttlSeconds: TTL_SECONDS, datanodes: 2 });
    const cluster = ha.cluster;
    const rng = new Rng(SEED ^ 0x9e3779b9);
    // Each kind at least once, then random ones, in a seeded order.
    const faults: Fault[] = [
      'kill',
      'pause',
      'partition',
      ...Array.from({ length: 3 }, () => rng.pick(KINDS)),
    ];
    for (let i = faults.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [faults[i], faults[j]] = [faults[j]!, faults[i]!];
    }
    const load = new NamespaceLoad(cluster, 3);
    await load.setUp();
    const uploads = new Uploads(cluster, 1, new Rng(SEED + 2));
    loads.push(load, uploads);
    const times: string[] = [];
    for (const fault of faults) {
      load.start();
      await new Promise((r) => setTimeout(r, rng.range(300, 1000)));
      times.push(`${fault} ${await depose(ha, await cluster.activeIndex(10_000), fault, load)}`);
    }
    await uploads.stop();
    await uploads.verify(cluster.client());
    process.stdout.write(
      `ha-chaos mixture: seed ${SEED}: ${times.join(', ')} ms; ${load.acked} acknowledged namespace mutations; ` +
        `${uploads.acked.size} uploads read back, ${uploads.failures.length} failed: ${uploads.failures.join('; ') || 'none'}\n`,
    );
  }, 240_000);

  it('the etcd leader killed under load: writes stall briefly, nothing is lost, DFS does not fail over', async () => {
    etcd = await startEtcdCluster(3);
    // A lease TTL longer than etcd's own election (500 ms here): etcd's failover must not be DFS's.
    ha = await startProxiedHaCluster(etcd, { ttlSeconds: 5 });
    const cluster = ha.cluster;
    const active = await cluster.activeIndex(10_000);
    const epochBefore = sample(
      await scrape(cluster.slots[active]!.process.httpPort),
      'dfs_namenode_ha_epoch',
    );
    const load = new NamespaceLoad(cluster, 4);
    loads.push(load);
    await load.setUp();
    load.start();
    await new Promise((r) => setTimeout(r, 1000));
    const leader = await etcd.leader();
    leader.signal('SIGKILL');
    await leader.exited();
    const ackedAtKill = load.acked;
    // The load goes on through the other members for a while; the longest time without an
    // acknowledgement is the stall.
    let stallMs = 0;
    let last = { at: Date.now(), acked: ackedAtKill };
    const sampler = setInterval(() => {
      const now = Date.now();
      if (load.acked !== last.acked) last = { at: now, acked: load.acked };
      stallMs = Math.max(stallMs, now - last.at);
    }, 10);
    await new Promise((r) => setTimeout(r, 3000));
    clearInterval(sampler);
    process.stdout.write(`ha-chaos etcd leader killed: longest stall of acknowledgements ${stallMs} ms\n`);
    expect(load.acked, 'mutations acknowledged after the etcd leader died').toBeGreaterThan(ackedAtKill);
    await load.stopAndVerify('after the etcd leader was killed');
    expect(await cluster.activeIndex(1000)).toBe(active);
    expect(cluster.slots[active]!.process.running).toBe(true);
    const epochAfter = sample(await scrape(cluster.slots[active]!.process.httpPort), 'dfs_namenode_ha_epoch');
    expect(epochAfter).toBe(epochBefore);
    await leader.restart();
  }, 120_000);
});

const KINDS: readonly Fault[] = ['kill', 'pause', 'partition'];
