/**
 * A standby that wins the election on a lease about to lapse (src/namenode/ha-node.ts
 * `promote`), across real processes on a real etcd: after the active's SIGKILL, nn2's
 * campaign txn succeeds in etcd, but its answer, and every keepalive answer after it, reach
 * nn2 late (its etcd endpoint is a TCP forwarder that holds them, tests/support/tcp-proxy.ts),
 * later than its lease's local validity. So nn2 learns it won with a lease it must count as
 * lapsed and steps down while it is catching up to the journal's head. It must then stay a
 * standby and campaign again, and so take over, with every acknowledged mkdir; before the
 * fix it went on to serve as "active" with an idle election, which answered STANDBY to
 * everyone for good (seen in CI by tests/integration/multi-host-ha.test.ts).
 * Without etcd the file is skipped, saying why.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FileType } from '../../protocol/shared-structures.js';
import { DfsClient } from '../../src/client/dfs-client.js';
import { ETCD_SKIP_REASON, etcdSuite, HAVE_ETCD } from '../support/etcd.js';
import { HaPair, untilActive, untilLogged } from '../support/ha-pair.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

if (!HAVE_ETCD) console.warn(ETCD_SKIP_REASON);

const TTL_SECONDS = 1;
/**
 * How long nn2 hears nothing from etcd after its winning txn. Its lease's local validity ends
 * the TTL less the step-down margin (TTL/5) after its last keepalive was sent, and a keepalive
 * goes out TTL/3 after the previous answer, so one may still be sent early in the hold: the
 * hold must pass TTL/3 + 4/5 TTL (1,133 ms), and stay under the etcd client's attempt timeout
 * (2 s), so that the answers held are the ones nn2 acts on.
 */
const HOLD_MS = 1_550;
const STEPPED_DOWN = 'stepping down as leader';

describe.skipIf(!HAVE_ETCD)('HA promotion', () => {
  const suite = etcdSuite();
  let pair: HaPair | null = null;
  afterEach(async () => {
    await pair?.cleanup();
    pair = null;
  });

  it('a standby that steps down while catching up stays a standby, campaigns again and takes over', async () => {
    const ha = (pair = new HaPair(suite.etcd.endpoints, TTL_SECONDS));
    const etcdForNn2 = await startTcpProxy(suite.etcd.members[0]!.clientPort);
    ha.onCleanup(() => etcdForNn2.close());
    const nn1 = await ha.namenode(0, 'nn1');
    await untilActive(nn1);
    const c1 = new DfsClient({ namenode: `127.0.0.1:${nn1.port}`, requestTimeoutMs: 10_000 });
    ha.onCleanup(() => c1.close());
    for (let i = 0; i < 20; i++) await c1.mkdir(`/d${i}`);
    const nn2 = await ha.namenode(1, 'nn2', { endpoints: [`http://127.0.0.1:${etcdForNn2.port}`] });
    await untilLogged(nn2, 'nn2 campaigning', (l) => l.msg === 'standby: campaigning');

    // From etcd's answer to nn2's winning txn (the only txn a standby's election commits),
    // every answer to nn2 is held for HOLD_MS.
    let heldAt = 0;
    etcdForNn2.holdRepliesFrom((chunk) => {
      if (heldAt === 0 && chunk.includes('"succeeded":true')) {
        heldAt = Date.now();
        setTimeout(() => etcdForNn2.releaseReplies(), HOLD_MS);
      }
      return heldAt !== 0;
    });
    await nn1.kill();

    await untilActive(nn2, (TTL_SECONDS * 4 + 10) * 1000);
    const c2 = new DfsClient({ namenode: `127.0.0.1:${nn2.port}`, requestTimeoutMs: 10_000 });
    ha.onCleanup(() => c2.close());
    for (let i = 0; i < 20; i++) expect((await c2.stat(`/d${i}`)).type).toBe(FileType.DIRECTORY);
    await c2.mkdir('/after');

    // The case happened: elected, stepped down before serving, elected again, then served.
    expect(heldAt).toBeGreaterThan(0);
    const events = nn2.logs
      .map((l) => String(l.msg))
      .filter((m) => ['elected leader', STEPPED_DOWN, 'active: serving'].includes(m));
    expect(events).toEqual(['elected leader', STEPPED_DOWN, 'elected leader', 'active: serving']);
    expect(nn2.logs.find((l) => l.msg === STEPPED_DOWN)?.reason).toBe('the lease was not renewed in time');
    expect(nn2.running).toBe(true);
  }, 90_000);
});
