/**
 * Leader election (src/ha/election.ts) against real etcd: a second candidate wins only once
 * the first resigns or its lease expires, with a higher epoch; standbys see each leader
 * through watchLeader; a leader whose keepalives stop reaching etcd (cut at a TCP proxy)
 * steps down by itself before its successor wins; and a leader process paused with SIGSTOP
 * past its TTL reports itself not leader from the moment it resumes, before any other
 * callback of its own could act. Without etcd the file is skipped, saying why.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EtcdClient } from '../../src/ha/etcd-client.js';
import { currentLeader, Election, watchLeader, type Leader } from '../../src/ha/election.js';
import { waitFor } from '../support/data-path.js';
import { ETCD_SKIP_REASON, HAVE_ETCD, startEtcd, type EtcdCluster } from '../support/etcd.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

if (!HAVE_ETCD) console.warn(ETCD_SKIP_REASON);

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let prefixes = 0;
const newPrefix = (): string => `/dfs-election-${process.pid}-${++prefixes}/`;
const self = (id: string) => ({ id, rpcAddress: `127.0.0.1:${8020 + id.length}` });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!HAVE_ETCD)('election', () => {
  let etcd: EtcdCluster;
  let client: EtcdClient;
  const cleanups: Array<() => Promise<void> | void> = [];
  beforeAll(async () => {
    etcd = await startEtcd();
    client = new EtcdClient({ endpoints: etcd.endpoints });
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    client?.close();
    await etcd?.stop();
  });

  function candidate(id: string, prefix: string, ttlSeconds = 1, via = client): Election {
    const e = new Election({ client: via, prefix, self: self(id), ttlSeconds });
    cleanups.push(() => e.close());
    return e;
  }

  it('a second candidate wins only once the first resigns; its epoch is higher; standbys see each leader', async () => {
    const prefix = newPrefix();
    const seen: Array<Leader | null> = [];
    const watcher = watchLeader(client, prefix, (l) => seen.push(l));
    cleanups.push(() => watcher.cancel());
    const a = candidate('nn-a', prefix);
    const b = candidate('nn-b', prefix);
    const epochA = await a.campaign();
    expect(a.isLeader).toBe(true);
    expect(a.epoch).toBe(epochA);
    let bEpoch = 0;
    const bWon = b.campaign().then((e) => (bEpoch = e));
    await sleep(2500); // more than twice the TTL: A's keepalives hold the lease
    expect(bEpoch).toBe(0);
    expect(a.isLeader).toBe(true);
    expect((await currentLeader(client, prefix))!.record.id).toBe('nn-a');
    const steppedDown: string[] = [];
    a.on('stepped-down', (r) => steppedDown.push(r));
    await a.resign();
    expect(a.isLeader).toBe(false);
    expect(steppedDown).toEqual(['resigned']);
    await bWon;
    expect(bEpoch).toBeGreaterThan(epochA);
    expect(b.isLeader).toBe(true);
    await waitFor('the watcher to see nn-b', () => (seen.at(-1)?.record.id === 'nn-b' ? true : undefined));
    expect(seen[0]).toBeNull();
    expect(seen.filter((l) => l !== null).map((l) => [l.record.id, l.epoch])).toEqual([
      ['nn-a', epochA],
      ['nn-b', bEpoch],
    ]);
  });

  it('a leader whose keepalives stop reaching etcd steps down by itself before the successor wins', async () => {
    const prefix = newPrefix();
    const port = Number(new URL(etcd.endpoints[0]!).port);
    const proxy = await startTcpProxy(port);
    cleanups.push(() => proxy.close());
    const cutOff = new EtcdClient({
      endpoints: [`http://127.0.0.1:${proxy.port}`],
      requestTimeoutMs: 500,
      attemptTimeoutMs: 300,
    });
    const a = candidate('nn-a', prefix, 2, cutOff);
    const b = candidate('nn-b', prefix, 2);
    await a.campaign();
    let steppedDownAt = 0;
    a.on('stepped-down', () => (steppedDownAt = Date.now()));
    const bWon = b.campaign().then(() => Date.now());
    await sleep(300);
    proxy.drop();
    const bWonAt = await bWon;
    expect(steppedDownAt).toBeGreaterThan(0);
    expect(steppedDownAt).toBeLessThan(bWonAt);
    expect(a.isLeader).toBe(false);
    console.log(`step-down ${bWonAt - steppedDownAt} ms before the successor's election`);
  });

  it('a leader paused (SIGSTOP) past its TTL is not leader from the moment it resumes', async () => {
    const prefix = newPrefix();
    const dist = (f: string): string => pathToFileURL(path.join(ROOT, 'dist/src/ha', f)).href;
    const script = `
      import { EtcdClient } from '${dist('etcd-client.js')}';
      import { Election } from '${dist('election.js')}';
      const out = (o) => process.stdout.write(JSON.stringify({ t: Date.now(), ...o }) + '\\n');
      const e = new Election({
        client: new EtcdClient({ endpoints: ['${etcd.endpoints[0]}'] }),
        prefix: '${prefix}', self: { id: 'child', rpcAddress: '127.0.0.1:1' }, ttlSeconds: 1,
      });
      e.on('elected', (epoch) => out({ event: 'elected', epoch }));
      e.on('stepped-down', (reason) => out({ event: 'stepped-down', reason }));
      setInterval(() => out({ event: 'tick', leader: e.isLeader }), 10);
      await e.campaign();
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    cleanups.push(() => {
      child.kill('SIGKILL');
    });
    const lines: Array<{ t: number; event: string; leader?: boolean; reason?: string }> = [];
    let pending = '';
    child.stdout.on('data', (d: Buffer) => {
      pending += d.toString();
      const parts = pending.split('\n');
      pending = parts.pop()!;
      for (const p of parts) lines.push(JSON.parse(p) as (typeof lines)[number]);
    });
    await waitFor('the child to lead', () => (lines.some((l) => l.event === 'elected') ? true : undefined));
    await waitFor('the child to report leading', () => (lines.at(-1)?.leader === true ? true : undefined));
    child.kill('SIGSTOP');
    const b = candidate('nn-b', prefix);
    await b.campaign();
    const successorAt = Date.now();
    expect(b.isLeader).toBe(true);
    const before = lines.length;
    child.kill('SIGCONT');
    await waitFor('the child to report after resuming', () =>
      lines.slice(before).some((l) => l.event === 'tick') ? true : undefined,
    );
    const after = lines.slice(before);
    expect(after.some((l) => l.event === 'stepped-down')).toBe(true);
    expect(after.filter((l) => l.event === 'tick' && l.leader === true)).toEqual([]);
    expect(lines.filter((l) => l.t >= successorAt && l.leader === true)).toEqual([]);
  });

  it("a candidate waiting on a leader key wins once that key's lease expires", async () => {
    const prefix = newPrefix();
    const a = candidate('nn-a', prefix);
    await a.campaign();
    const lease = await client.leaseGrant(1);
    // Someone else's key, not a candidate of ours: it holds the leadership until its lease expires.
    await a.resign();
    await client.put(`${prefix}leader`, JSON.stringify(self('other')), lease.id);
    const b = candidate('nn-b', prefix);
    const epoch = await b.campaign();
    expect(b.isLeader).toBe(true);
    expect((await currentLeader(client, prefix))!.epoch).toBe(epoch);
  });
});
