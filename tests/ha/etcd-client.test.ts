/**
 * The etcd client (src/ha/etcd-client.ts, etcd-watch.ts) against real etcd: every call's
 * shape, txn compares on create/mod revision and value, leases, watches from a revision
 * with compaction detected, and failover when the member it talks to is killed in a
 * three-member cluster. Without etcd the file is skipped, saying why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDfsError } from '../../protocol/errors.js';
import { EtcdClient } from '../../src/ha/etcd-client.js';
import { watch, type WatchEvent } from '../../src/ha/etcd-watch.js';
import { waitFor } from '../support/data-path.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import {
  ETCD_SKIP_REASON,
  HAVE_ETCD,
  startEtcd,
  startEtcdCluster,
  type EtcdCluster,
} from '../support/etcd.js';

if (!HAVE_ETCD) console.warn(ETCD_SKIP_REASON);

describe.skipIf(!HAVE_ETCD)('etcd client, one member', () => {
  let etcd: EtcdCluster;
  let client: EtcdClient;
  beforeAll(async () => {
    etcd = await startEtcd();
    client = new EtcdClient({ endpoints: etcd.endpoints });
  });
  afterAll(async () => {
    client?.close();
    await etcd?.stop();
  });

  it('puts, ranges with prefix and limit, deletes', async () => {
    for (let i = 0; i < 5; i++) await client.put(`/p/k${i}`, `v${i}`);
    await client.put('/q', 'other');
    const all = await client.range('/p/', { prefix: true });
    expect(all.kvs.map((kv) => kv.value.toString())).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
    const page = await client.range('/p/', { prefix: true, limit: 2 });
    expect(page.kvs).toHaveLength(2);
    expect(page.more).toBe(true);
    expect(page.count).toBe(5);
    expect(await client.delete('/p/', { prefix: true })).toBe(5);
    expect(await client.get('/p/k0')).toBeNull();
    expect((await client.get('/q'))!.value.toString()).toBe('other');
  });

  it('txn: compares on createRevision, modRevision and value decide between success and failure', async () => {
    const create = await client.txn(
      [{ key: '/t', target: 'createRevision', against: 0 }],
      [{ put: { key: '/t', value: 'one' } }],
    );
    expect(create.succeeded).toBe(true);
    const kv = (await client.get('/t'))!;
    expect(kv.createRevision).toBe(create.revision);
    const again = await client.txn(
      [{ key: '/t', target: 'createRevision', against: 0 }],
      [{ put: { key: '/t', value: 'two' } }],
      [{ range: { key: '/t' } }],
    );
    expect(again.succeeded).toBe(false);
    const seen = again.responses[0]!;
    expect('range' in seen && seen.range.kvs[0]!.value.toString()).toBe('one');
    const byValue = await client.txn(
      [
        { key: '/t', target: 'value', against: 'one' },
        { key: '/t', target: 'modRevision', against: kv.modRevision },
      ],
      [{ put: { key: '/t', value: 'three' } }, { put: { key: '/t2', value: 'x' } }],
    );
    expect(byValue.succeeded).toBe(true);
    const stale = await client.txn(
      [{ key: '/t', target: 'value', against: 'one' }],
      [{ delete: { key: '/t' } }],
    );
    expect(stale.succeeded).toBe(false);
    expect((await client.get('/t'))!.value.toString()).toBe('three');
    // A value compare on a missing key fails (etcd's rule the journal relies on).
    const missing = await client.txn([{ key: '/none', target: 'value', against: '' }], []);
    expect(missing.succeeded).toBe(false);
  });

  it('leases: a key bound to a lease goes with its revoke or expiry; keepalive renews', async () => {
    const lease = await client.leaseGrant(2);
    expect(lease.ttlSeconds).toBe(2);
    await client.put('/leased', 'x', lease.id);
    expect(await client.leaseKeepAlive(lease.id)).toBe(2);
    await client.leaseRevoke(lease.id);
    expect(await client.get('/leased')).toBeNull();
    expect(await client.leaseKeepAlive(lease.id)).toBeLessThanOrEqual(0);
    await client.leaseRevoke(lease.id); // revoking twice is not an error
    const short = await client.leaseGrant(1);
    await client.put('/leased', 'y', short.id);
    await waitFor('the lease to expire', async () =>
      (await client.get('/leased')) === null ? true : undefined,
    );
    const err = await client.put('/x', 'y', short.id).catch((e: unknown) => e);
    expect(isDfsError(err, 'NOT_FOUND')).toBe(true);
  });

  it("a request over etcd's size limit is refused as INVALID_ARGUMENT, and the next call works", async () => {
    for (const bytes of [1.6 * 1024 * 1024, 3 * 1024 * 1024]) {
      const err = await client.put('/big', Buffer.alloc(bytes, 1)).catch((e: unknown) => e);
      expect(isDfsError(err, 'INVALID_ARGUMENT')).toBe(true);
      expect(await client.put('/small', 'ok')).toBeGreaterThan(0);
    }
  });

  it('status reports the database size', async () => {
    const status = await client.status();
    expect(status.dbSizeBytes).toBeGreaterThan(0);
    expect(status.version).toMatch(/^3\./);
    expect(status.leaderId).toBe(status.memberId);
  });

  it('watch delivers every event from a revision, in order, one callback per revision', async () => {
    const first = await client.put('/w/a', '1');
    await client.txn([], [{ put: { key: '/w/b', value: '2' } }, { put: { key: '/w/c', value: '3' } }]);
    const seen: Array<{ revision: number; events: WatchEvent[] }> = [];
    const w = watch(client, '/w/', {
      prefix: true,
      startRevision: first,
      onEvents: (events, revision) => seen.push({ revision, events }),
      onError: (err) => {
        throw err;
      },
    });
    await client.delete('/w/a');
    await waitFor('three revisions', () => (seen.length >= 3 ? true : undefined));
    w.cancel();
    expect(seen.map((s) => s.events.map((e) => `${e.type} ${e.kv.key.toString()}`))).toEqual([
      ['put /w/a'],
      ['put /w/b', 'put /w/c'],
      ['delete /w/a'],
    ]);
    expect(seen[0]!.revision).toBe(first);
    expect(w.nextRevision).toBe(seen[2]!.revision + 1);
  });

  it('watch: events of a revision that span many stream chunks (a journal batch) arrive whole, bytes intact', async () => {
    // 600 KiB of every byte value, twice in one txn (~1.6 MiB of JSON in one line), then a small one.
    const big = Buffer.alloc(600 * 1024, 0);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 10)) & 0xff;
    const first = await client.txn(
      [],
      [{ put: { key: '/big/a', value: big } }, { put: { key: '/big/b', value: big.subarray(1) } }],
    );
    await client.put('/big/c', 'é');
    const seen: WatchEvent[][] = [];
    const w = watch(client, '/big/', {
      prefix: true,
      startRevision: first.revision,
      onEvents: (events) => seen.push(events),
      onError: (err) => {
        throw err;
      },
    });
    await waitFor('two revisions', () => (seen.length >= 2 ? true : undefined));
    w.cancel();
    expect(seen.map((events) => events.map((e) => e.kv.key.toString()))).toEqual([
      ['/big/a', '/big/b'],
      ['/big/c'],
    ]);
    expect(seen[0]![0]!.kv.value.equals(big)).toBe(true);
    expect(seen[0]![1]!.kv.value.equals(big.subarray(1))).toBe(true);
    expect(seen[1]![0]!.kv.value.toString()).toBe('é');
  });

  it('a watch whose member goes silent (a host off the network) resumes at the next endpoint', async () => {
    const proxy = await startTcpProxy(Number(new URL(etcd.endpoints[0]!).port));
    const viaProxy = new EtcdClient({ endpoints: [`http://127.0.0.1:${proxy.port}`, ...etcd.endpoints] });
    const seen: string[] = [];
    let w: ReturnType<typeof watch> | null = null;
    try {
      await new Promise<void>((resolve) => {
        w = watch(viaProxy, '/cut/', {
          prefix: true,
          onCreated: () => resolve(),
          onEvents: (events) => seen.push(...events.map((e) => e.kv.key.toString())),
          onError: (err) => {
            throw err;
          },
        });
      });
      await client.put('/cut/a', '1');
      await waitFor('the event before the cut', () => (seen.length >= 1 ? true : undefined));
      // No close, no reset: the stream just goes quiet, as behind a cut cable. Before the
      // liveness probe it stayed quiet until fetch's 300 s body timeout.
      proxy.blackhole();
      await client.put('/cut/b', '2');
      await waitFor('the event after the cut', () => (seen.includes('/cut/b') ? true : undefined), 20_000);
      expect(seen).toEqual(['/cut/a', '/cut/b']);
    } finally {
      (w as ReturnType<typeof watch> | null)?.cancel();
      viaProxy.close();
      await proxy.close();
    }
  });

  it('a watch from a compacted revision stops with JOURNAL_COMPACTED; compaction is typed in range too', async () => {
    const old = await client.put('/c', '1');
    const newer = await client.put('/c', '2');
    await client.compact(newer);
    const err = await new Promise<unknown>((resolve) => {
      watch(client, '/c', { startRevision: old, onEvents: () => {}, onError: resolve });
    });
    expect(isDfsError(err, 'JOURNAL_COMPACTED')).toBe(true);
    const rangeErr = await client.range('/c', { revision: old }).catch((e: unknown) => e);
    expect(isDfsError(rangeErr, 'JOURNAL_COMPACTED')).toBe(true);
  });

  it('an endpoint nobody listens on fails over to the next; none at all is ETCD_UNAVAILABLE in bounded time', async () => {
    const dead = 'http://127.0.0.1:1';
    const mixed = new EtcdClient({ endpoints: [dead, ...etcd.endpoints] });
    await mixed.put('/f', 'ok');
    expect(mixed.currentEndpoint).toBe(etcd.endpoints[0]);
    const none = new EtcdClient({ endpoints: [dead], requestTimeoutMs: 500 });
    const started = Date.now();
    const err = await none.get('/f').catch((e: unknown) => e);
    expect(isDfsError(err, 'ETCD_UNAVAILABLE')).toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe.skipIf(!HAVE_ETCD)('etcd client, three members', () => {
  let etcd: EtcdCluster;
  beforeAll(async () => {
    etcd = await startEtcdCluster(3);
  });
  afterAll(async () => {
    await etcd?.stop();
  });

  it('keeps working, watch included, when the member it talks to is killed', async () => {
    const client = new EtcdClient({ endpoints: etcd.endpoints, requestTimeoutMs: 10_000 });
    const first = await client.put('/k/0', '0');
    const seen: string[] = [];
    const w = watch(client, '/k/', {
      prefix: true,
      startRevision: first,
      onEvents: (events) => seen.push(...events.map((e) => e.kv.value.toString())),
      onError: (err) => {
        throw err;
      },
    });
    await waitFor('the first event', () => (seen.length === 1 ? true : undefined));
    const victim = etcd.members.find((m) => m.clientUrl === client.currentEndpoint)!;
    victim.signal('SIGKILL');
    await victim.exited();
    for (let i = 1; i <= 20; i++) await client.put(`/k/${i}`, String(i));
    expect(client.currentEndpoint).not.toBe(victim.clientUrl);
    const all = await client.range('/k/', { prefix: true });
    expect(all.count).toBe(21);
    await waitFor('every event, once, in order', () => (seen.length >= 21 ? true : undefined));
    expect(seen).toEqual(Array.from({ length: 21 }, (_, i) => String(i)));
    w.cancel();
    client.close();
  });
});
