/**
 * `dfs admin ha status` and `dfs admin ha failover` across real processes on a real etcd
 * (issue 14; src/cli/commands/ha.ts, src/namenode/ha-admin.ts): status shows one active and
 * one standby with their epochs and txids, the lag, and an unreachable NameNode as such;
 * failover moves the active while a client goes on writing (every mkdir acknowledged, none
 * lost), the old active exits with status 2; `--to` picks one standby of two (the handover
 * key, src/ha/election.ts); only a superuser may ask. Without etcd the file is skipped.
 */
import type { HaNodeStatus } from '../../src/cli/commands/ha.js';
import { afterEach, describe, expect, it } from 'vitest';
import { Role } from '../../protocol/handshake.js';
import { DfsClient } from '../../src/client/dfs-client.js';
import type { DaemonProcess } from '../../src/local/daemon-process.js';
import { waitFor } from '../support/data-path.js';
import { failedWith, ok, runDfs } from '../support/dfs-cli.js';
import { ETCD_SKIP_REASON, etcdSuite, HAVE_ETCD } from '../support/etcd.js';
import { HaPair, isActive, untilActive } from '../support/ha-pair.js';
import { sample, scrape } from '../support/http.js';

if (!HAVE_ETCD) console.warn(ETCD_SKIP_REASON);

const TTL_SECONDS = 2;

interface StatusJson {
  active: string | null;
  namenodes: HaNodeStatus[];
}

describe.skipIf(!HAVE_ETCD)('dfs admin ha', () => {
  const suite = etcdSuite();
  let pair: HaPair | null = null;
  afterEach(async () => {
    await pair?.cleanup();
    pair = null;
  });

  const addr = (nn: DaemonProcess): string => `127.0.0.1:${nn.port}`;
  const list = (...nns: DaemonProcess[]): string => nns.map(addr).join(',');
  async function statusJson(namenodes: string): Promise<{ code: number; status: StatusJson }> {
    const r = await runDfs(namenodes, ['admin', 'ha', 'status', '--json']);
    return { code: r.code, status: JSON.parse(r.stdout) as StatusJson };
  }

  async function activeAndStandbys(n: number): Promise<{ ha: HaPair; nns: DaemonProcess[] }> {
    const ha = (pair = new HaPair(suite.etcd.endpoints, TTL_SECONDS));
    const nns = [await ha.namenode(0, 'nn1')];
    await untilActive(nns[0]!);
    for (let i = 1; i < n; i++) nns.push(await ha.namenode(i, `nn${i + 1}`));
    return { ha, nns };
  }

  it('status: one active and one standby with epochs, txids and lag; an unreachable NameNode as such', async () => {
    const { nns } = await activeAndStandbys(2);
    const [nn1, nn2] = nns as [DaemonProcess, DaemonProcess];
    const c = new DfsClient({ namenode: list(nn1, nn2) });
    pair!.onCleanup(() => c.close());
    for (let i = 0; i < 30; i++) await c.mkdir(`/s${i}`);
    // The standby applies the journal as it is written: lag 0 within a moment.
    const { code, status } = await waitFor('the standby caught up', async () => {
      const s = await statusJson(list(nn1, nn2));
      return s.status.namenodes[1]?.lagTxids === 0 && s.status.namenodes[1].role === 'standby'
        ? s
        : undefined;
    });
    expect(code).toBe(0);
    expect(status.active).toBe(addr(nn1));
    const [s1, s2] = status.namenodes as [StatusJson['namenodes'][0], StatusJson['namenodes'][0]];
    expect(s1).toMatchObject({
      address: addr(nn1),
      role: 'active',
      nodeId: 'nn1',
      lagTxids: 0,
      activeId: 'nn1',
    });
    expect(s1.epoch).toBeGreaterThan(0);
    expect(s1.lastAppliedTxid).toBeGreaterThanOrEqual(30);
    expect(s2).toMatchObject({
      address: addr(nn2),
      role: 'standby',
      nodeId: 'nn2',
      epoch: 0,
      activeId: 'nn1',
    });
    expect(s2.lastAppliedTxid).toBe(s1.lastAppliedTxid);
    expect(s2.journalHeadTxid).toBe(s1.lastAppliedTxid);
    expect(sample(await scrape(nn2.httpPort), 'dfs_namenode_ha_standby_lag_txns')).toBe(0);

    const text = ok(await runDfs(list(nn1, nn2), ['admin', 'ha', 'status']));
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAMENODE +ADDRESS +ROLE +EPOCH +APPLIED TXID +LAG +NOTE$/);
    expect(lines[1]).toMatch(new RegExp(`^nn1 +${addr(nn1)} +active +${s1.epoch} +${s1.lastAppliedTxid} +0`));
    expect(lines[2]).toMatch(
      new RegExp(`^nn2 +${addr(nn2)} +standby +0 +${s1.lastAppliedTxid} +0 +follows nn1$`),
    );

    // A NameNode that is down is shown, not fatal; without an active the exit status is 1.
    await nn1.kill();
    const down = await statusJson(list(nn1, nn2));
    expect(down.status.namenodes[0]).toMatchObject({ role: 'unreachable' });
    expect(down.status.namenodes[0]!.error).toMatch(/CONNECTION/);
    if (down.status.active === null) expect(down.code).toBe(1);
  }, 60_000);

  it('failover moves the active to the standby while a client keeps writing; the old active exits', async () => {
    const { nns } = await activeAndStandbys(2);
    const [nn1, nn2] = nns as [DaemonProcess, DaemonProcess];
    const both = list(nn1, nn2);
    const c = new DfsClient({ namenode: both, requestTimeoutMs: 10_000 });
    pair!.onCleanup(() => c.close());
    const m1 = await scrape(nn1.httpPort);
    const epoch1 = sample(m1, 'dfs_namenode_ha_epoch')!;

    // A client writing all along: every mkdir must be acknowledged (a standby's refusal is retried).
    let stop = false;
    const acked: string[] = [];
    const failures: string[] = [];
    const load = (async () => {
      for (let i = 0; !stop && failures.length === 0; i++)
        await c.mkdir(`/load${i}`).then(
          () => acked.push(`/load${i}`),
          (err: { code?: string; message?: string }) =>
            failures.push(`/load${i}: ${err.code}: ${err.message}`),
        );
    })();
    await waitFor('some writes', () => (acked.length >= 20 ? true : undefined));
    const r = ok(await runDfs(both, ['admin', 'ha', 'failover', '--json']));
    const moved = JSON.parse(r.stdout) as {
      from: { nodeId: string; epoch: number };
      to: { nodeId: string; address: string; epoch: number };
      ms: number;
    };
    expect(moved.from).toMatchObject({ nodeId: 'nn1', epoch: epoch1 });
    expect(moved.to).toMatchObject({ nodeId: 'nn2', address: addr(nn2) });
    expect(moved.to.epoch).toBeGreaterThan(epoch1);
    console.log(`graceful failover: ${moved.ms} ms`);
    const before = acked.length;
    await waitFor('writes through the new active', () =>
      acked.length >= before + 20 || failures.length > 0 ? true : undefined,
    );
    stop = true;
    await load;
    expect(failures).toEqual([]);
    expect(c.namenode).toBe(addr(nn2));
    expect(await isActive(nn2)).toBe(200);
    // The old active stops as after any step-down; a service manager would start it as a standby.
    expect(await nn1.waitExit()).toBe(2);
    for (const p of acked) expect(await c.exists(p), p).not.toBeNull();
    const after = await statusJson(both);
    expect(after.status.active).toBe(addr(nn2));
    expect(after.status.namenodes.map((n) => n.role)).toEqual(['unreachable', 'active']);
  }, 60_000);

  it('failover --to picks one standby of two; only a superuser may ask; a standby is not asked', async () => {
    const { nns } = await activeAndStandbys(3);
    const [nn1, nn2, nn3] = nns as [DaemonProcess, DaemonProcess, DaemonProcess];
    const all = list(nn1, nn2, nn3);
    await waitFor('two standbys', async () => {
      const s = await statusJson(all);
      return s.status.namenodes.filter((n) => n.role === 'standby').length === 2 ? true : undefined;
    });
    failedWith(
      await runDfs(all, ['--user', 'mallory', 'admin', 'ha', 'failover']),
      'admin ha failover',
      'ACCESS_DENIED',
    );
    failedWith(
      await runDfs(all, ['admin', 'ha', 'failover', '--to', 'nn9']),
      'admin ha failover',
      'INVALID_ARGUMENT',
    );
    failedWith(
      await runDfs(all, ['--user', 'mallory', 'admin', 'ha', 'status']),
      'admin ha status',
      'ACCESS_DENIED',
    );
    // The NameNode itself refuses a hand-over on a plain client connection, even a superuser's.
    const plain = new DfsClient({ namenode: addr(nn1) });
    pair!.onCleanup(() => plain.close());
    await expect(plain.namenodeClient.haFailover({ target: '' })).rejects.toMatchObject({
      code: 'ACCESS_DENIED',
    });
    // A standby does not hand over: it names the active.
    const toStandby = new DfsClient({ namenode: addr(nn2), role: Role.ADMIN });
    pair!.onCleanup(() => toStandby.close());
    await expect(toStandby.namenodeClient.haFailover({ target: '' })).rejects.toMatchObject({
      code: 'STANDBY',
    });
    expect(await isActive(nn1)).toBe(200);

    const r = ok(await runDfs(all, ['admin', 'ha', 'failover', '--to', 'nn3']));
    expect(r.stdout).toMatch(
      /^Failover: nn1 \(127\.0\.0\.1:\d+, epoch \d+\) -> nn3 \(127\.0\.0\.1:\d+, epoch \d+\) in [\d.]+ s$/m,
    );
    expect(await isActive(nn3)).toBe(200);
    expect(await isActive(nn2)).toBe(405);
    expect(await nn1.waitExit()).toBe(2);
  }, 60_000);
});
