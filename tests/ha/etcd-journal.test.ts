/**
 * The etcd journal (src/ha/etcd-journal.ts, etcd-journal-reader.ts) against real etcd:
 * group-commit batches read back exactly, in order, from any txid and by tailing; a batch
 * over the size bound is split into several transactions; fencing: of two journals with
 * different epochs only the leader's appends succeed and the other gets FENCED (and stops),
 * and after a leader change the old leader's next append fails; purged batches read as
 * JOURNAL_COMPACTED; and with three etcd members, killing the etcd leader under appends
 * loses nothing. Without etcd the file is skipped, saying why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DfsError, isDfsError } from '../../protocol/errors.js';
import { initChecksum } from '../../src/common/checksum.js';
import { EtcdClient } from '../../src/ha/etcd-client.js';
import { EtcdJournal, initializeJournal } from '../../src/ha/etcd-journal.js';
import { readJournal, tailJournal, type JournalBatch } from '../../src/ha/etcd-journal-reader.js';
import { haKeys } from '../../src/ha/ha-keys.js';
import type { EditOp } from '../../src/namenode/edit-ops.js';
import { waitFor } from '../support/data-path.js';
import {
  ETCD_SKIP_REASON,
  HAVE_ETCD,
  startEtcd,
  startEtcdCluster,
  type EtcdCluster,
} from '../support/etcd.js';

if (!HAVE_ETCD) console.warn(ETCD_SKIP_REASON);

let prefixes = 0;
const newPrefix = (): string => `/dfs-test-${process.pid}-${++prefixes}/`;

const mkdir = (i: number, pad = 0): EditOp => ({
  op: 'mkdir',
  path: `/d${i}${'x'.repeat(pad)}`,
  parents: true,
  mtimeMs: 1000 + i,
});

/** Makes `id` the leader (replacing whoever was): its epoch, the leader key's create revision. */
async function becomeLeader(client: EtcdClient, prefix: string, id: string): Promise<number> {
  const keys = haKeys(prefix);
  await client.delete(keys.leader); // etcd refuses a delete and a put of one key in one txn
  const res = await client.txn(
    [{ key: keys.leader, target: 'createRevision', against: 0 }],
    [{ put: { key: keys.leader, value: id } }],
  );
  expect(res.succeeded).toBe(true);
  expect((await client.get(keys.leader))!.createRevision).toBe(res.revision);
  return res.revision;
}

function appendAll(journal: EtcdJournal, ops: EditOp[]): Promise<Array<Error | null>> {
  return Promise.all(ops.map((op) => new Promise<Error | null>((resolve) => journal.append(op, resolve))));
}

function opsOf(batches: JournalBatch[]): EditOp[] {
  return batches.flatMap((b) => b.records.map((r) => r.op));
}

function journalFor(
  client: EtcdClient,
  prefix: string,
  epoch: number,
  lastTxid: number,
  batchBytesMax?: number,
) {
  const fatal: DfsError[] = [];
  const journal = new EtcdJournal({
    client,
    prefix,
    epoch,
    lastTxid,
    batchBytesMax,
    onFatal: (err) => fatal.push(err),
  });
  return { journal, fatal };
}

describe.skipIf(!HAVE_ETCD)('etcd journal, one member', () => {
  let etcd: EtcdCluster;
  let client: EtcdClient;
  beforeAll(async () => {
    await initChecksum();
    etcd = await startEtcd();
    client = new EtcdClient({ endpoints: etcd.endpoints });
  });
  afterAll(async () => {
    client?.close();
    await etcd?.stop();
  });

  it('replays exactly the batches written, in order, from any txid; a tail sees later batches', async () => {
    const prefix = newPrefix();
    expect(await initializeJournal(client, prefix, 7)).toBe(true);
    expect(await initializeJournal(client, prefix, 0)).toBe(false);
    const epoch = await becomeLeader(client, prefix, 'nn1');
    const { journal, fatal } = journalFor(client, prefix, epoch, 7);
    const ops = Array.from({ length: 30 }, (_, i) => mkdir(i));
    // Three group commits: each tick's appends go in one batch.
    expect(await appendAll(journal, ops.slice(0, 10))).toEqual(Array(10).fill(null));
    expect(await appendAll(journal, ops.slice(10, 11))).toEqual([null]);
    expect(await appendAll(journal, ops.slice(11, 20))).toEqual(Array(9).fill(null));
    expect(journal.lastDurableTxid).toBe(27);
    expect(journal.txnCount).toBe(3);

    const all: JournalBatch[] = [];
    const pos = await readJournal(client, prefix, 7, (b) => all.push(b), 2);
    expect(pos.lastTxid).toBe(27);
    expect(all.map((b) => b.firstTxid)).toEqual([8, 18, 19]);
    expect(opsOf(all)).toEqual(ops.slice(0, 20));
    expect(all.flatMap((b) => b.records.map((r) => r.txid))).toEqual(
      Array.from({ length: 20 }, (_, i) => 8 + i),
    );

    const fromMiddle: JournalBatch[] = [];
    await readJournal(client, prefix, 12, (b) => fromMiddle.push(b));
    expect(opsOf(fromMiddle)).toEqual(ops.slice(5, 20));
    expect(fromMiddle[0]!.records[0]!.txid).toBe(13);

    const tailed: JournalBatch[] = [];
    const tailErrors: DfsError[] = [];
    const tail = tailJournal(client, prefix, {
      afterTxid: pos.lastTxid,
      fromRevision: pos.revision + 1,
      onBatch: (b) => tailed.push(b),
      onError: (e) => tailErrors.push(e),
    });
    expect(await appendAll(journal, ops.slice(20))).toEqual(Array(10).fill(null));
    await waitFor('the tail to see the last batch', () => (opsOf(tailed).length === 10 ? true : undefined));
    tail.cancel();
    expect(opsOf(tailed)).toEqual(ops.slice(20));
    expect(tailErrors).toEqual([]);
    await journal.close();
    expect(fatal).toEqual([]);
  });

  it('splits a batch over the size bound into several transactions, each within it', async () => {
    const prefix = newPrefix();
    await initializeJournal(client, prefix, 0);
    const epoch = await becomeLeader(client, prefix, 'nn1');
    const bound = 2048;
    const { journal } = journalFor(client, prefix, epoch, 0, bound);
    const ops = Array.from({ length: 60 }, (_, i) => mkdir(i, 200));
    expect(await appendAll(journal, ops)).toEqual(Array(60).fill(null));
    expect(journal.txnCount).toBeGreaterThanOrEqual(7);
    const stored = await client.range(haKeys(prefix).batchPrefix, { prefix: true });
    expect(stored.kvs.length).toBe(journal.txnCount);
    for (const kv of stored.kvs) expect(kv.value.length).toBeLessThanOrEqual(bound);
    const read: JournalBatch[] = [];
    await readJournal(client, prefix, 0, (b) => read.push(b));
    expect(opsOf(read)).toEqual(ops);
    await journal.close();
  });

  it('with the default bound, a group commit of 3 MiB goes as several transactions etcd accepts', async () => {
    const prefix = newPrefix();
    await initializeJournal(client, prefix, 0);
    const { journal, fatal } = journalFor(client, prefix, await becomeLeader(client, prefix, 'nn1'), 0);
    const ops = Array.from({ length: 300 }, (_, i) => mkdir(i, 10_000));
    expect(await appendAll(journal, ops)).toEqual(Array(300).fill(null));
    expect(journal.txnCount).toBe(3);
    expect(fatal).toEqual([]);
    const read: JournalBatch[] = [];
    await readJournal(client, prefix, 0, (b) => read.push(b));
    expect(opsOf(read)).toEqual(ops);
    await journal.close();
  });

  it('two journals racing with different epochs: only the leader appends; the other is FENCED and stops', async () => {
    const prefix = newPrefix();
    await initializeJournal(client, prefix, 0);
    const oldEpoch = await becomeLeader(client, prefix, 'nn1');
    const newEpoch = await becomeLeader(client, prefix, 'nn2');
    const loser = journalFor(client, prefix, oldEpoch, 0);
    const winner = journalFor(client, prefix, newEpoch, 0);
    const [lost, won] = await Promise.all([
      appendAll(loser.journal, [mkdir(1), mkdir(2)]),
      appendAll(winner.journal, [mkdir(3), mkdir(4)]),
    ]);
    expect(won).toEqual([null, null]);
    expect(lost.every((e) => isDfsError(e, 'FENCED'))).toBe(true);
    expect(loser.fatal.map((e) => e.code)).toEqual(['FENCED']);
    expect(loser.fatal[0]!.message).toContain(`epoch is ${newEpoch}`);
    // A fenced journal refuses at once, without asking etcd.
    expect(isDfsError(await appendAll(loser.journal, [mkdir(5)]).then((r) => r[0]), 'FENCED')).toBe(true);
    expect(winner.fatal).toEqual([]);
    const read: JournalBatch[] = [];
    await readJournal(client, prefix, 0, (b) => read.push(b));
    expect(opsOf(read)).toEqual([mkdir(3), mkdir(4)]);
  });

  it("after a leader change the old leader's next append fails, and the new leader continues from the head", async () => {
    const prefix = newPrefix();
    await initializeJournal(client, prefix, 0);
    const first = journalFor(client, prefix, await becomeLeader(client, prefix, 'nn1'), 0);
    expect(await appendAll(first.journal, [mkdir(1), mkdir(2)])).toEqual([null, null]);
    const newEpoch = await becomeLeader(client, prefix, 'nn2');
    // The successor reads the journal to its head, then writes after it.
    const pos = await readJournal(client, prefix, 0, () => {});
    expect(pos.lastTxid).toBe(2);
    const second = journalFor(client, prefix, newEpoch, pos.lastTxid);
    const [stale] = await appendAll(first.journal, [mkdir(3)]);
    expect(isDfsError(stale, 'FENCED')).toBe(true);
    expect(await appendAll(second.journal, [mkdir(4)])).toEqual([null]);
    // With no leader at all, a write is fenced too.
    await client.delete(haKeys(prefix).leader);
    const [orphan] = await appendAll(second.journal, [mkdir(5)]);
    expect(isDfsError(orphan, 'FENCED')).toBe(true);
    expect(second.fatal[0]!.message).toContain('no leader');
    const read: JournalBatch[] = [];
    await readJournal(client, prefix, 0, (b) => read.push(b));
    expect(opsOf(read)).toEqual([mkdir(1), mkdir(2), mkdir(4)]);
  });

  it('a write whose response was lost is retried and recognized as applied, not taken for fencing', async () => {
    const prefix = newPrefix();
    await initializeJournal(client, prefix, 0);
    const epoch = await becomeLeader(client, prefix, 'nn1');
    /** The network loses the response of the next txn after etcd applied it. */
    class LossyClient extends EtcdClient {
      loseNext = false;
      override async txn(...args: Parameters<EtcdClient['txn']>): ReturnType<EtcdClient['txn']> {
        const result = await super.txn(...args);
        if (!this.loseNext) return result;
        this.loseNext = false;
        throw new DfsError('ETCD_UNAVAILABLE', 'response lost');
      }
    }
    const lossy = new LossyClient({ endpoints: etcd.endpoints });
    const { journal, fatal } = journalFor(lossy, prefix, epoch, 0);
    expect(await appendAll(journal, [mkdir(1)])).toEqual([null]);
    lossy.loseNext = true;
    expect(await appendAll(journal, [mkdir(2), mkdir(3)])).toEqual([null, null]);
    expect(await appendAll(journal, [mkdir(4)])).toEqual([null]);
    expect(fatal).toEqual([]);
    const read: JournalBatch[] = [];
    await readJournal(client, prefix, 0, (b) => read.push(b));
    expect(opsOf(read)).toEqual([mkdir(1), mkdir(2), mkdir(3), mkdir(4)]);
    await journal.close();
  });

  it('fence() from outside fails every waiter, including the batch in flight', async () => {
    const prefix = newPrefix();
    await initializeJournal(client, prefix, 0);
    const { journal, fatal } = journalFor(client, prefix, await becomeLeader(client, prefix, 'nn1'), 0);
    const pending = appendAll(journal, [mkdir(1), mkdir(2)]);
    await new Promise((r) => process.nextTick(r)); // the flush has started
    journal.fence(new DfsError('FENCED', 'lease lapsed'));
    const results = await pending;
    expect(results.every((e) => isDfsError(e, 'FENCED'))).toBe(true);
    expect(fatal.map((e) => e.message)).toEqual(['lease lapsed']);
    await journal.close(); // a stopped journal closes at once
  });

  it('batches purged below an image read as JOURNAL_COMPACTED; a head behind the reader as CORRUPT_LOG', async () => {
    const prefix = newPrefix();
    await initializeJournal(client, prefix, 0);
    const { journal } = journalFor(client, prefix, await becomeLeader(client, prefix, 'nn1'), 0);
    await appendAll(journal, [mkdir(1)]);
    await appendAll(journal, [mkdir(2)]);
    await client.delete(haKeys(prefix).batch(1));
    const err = await readJournal(client, prefix, 0, () => {}).catch((e: unknown) => e);
    expect(isDfsError(err, 'JOURNAL_COMPACTED')).toBe(true);
    const read: JournalBatch[] = [];
    await readJournal(client, prefix, 1, (b) => read.push(b));
    expect(opsOf(read)).toEqual([mkdir(2)]);
    const ahead = await readJournal(client, prefix, 5, () => {}).catch((e: unknown) => e);
    expect(isDfsError(ahead, 'CORRUPT_LOG')).toBe(true);
    const missing = await readJournal(client, newPrefix(), 0, () => {}).catch((e: unknown) => e);
    expect(isDfsError(missing, 'NOT_FOUND')).toBe(true);
  });
});

describe.skipIf(!HAVE_ETCD)('etcd journal, three members', () => {
  let etcd: EtcdCluster;
  beforeAll(async () => {
    await initChecksum();
    etcd = await startEtcdCluster(3);
  });
  afterAll(async () => {
    await etcd?.stop();
  });

  it('the etcd leader killed under appends: writes stall briefly, nothing is lost', async () => {
    const client = new EtcdClient({
      endpoints: etcd.endpoints,
      requestTimeoutMs: 10_000,
      attemptTimeoutMs: 1000,
    });
    const prefix = newPrefix();
    await initializeJournal(client, prefix, 0);
    const { journal, fatal } = journalFor(client, prefix, await becomeLeader(client, prefix, 'nn1'), 0);
    const ops = Array.from({ length: 300 }, (_, i) => mkdir(i));
    const results: Array<Promise<Error | null>> = [];
    let killed = false;
    for (let i = 0; i < ops.length; i++) {
      results.push(new Promise((resolve) => journal.append(ops[i]!, resolve)));
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 5));
      if (i === 100) {
        const leader = await etcd.leader();
        leader.signal('SIGKILL');
        killed = true;
      }
    }
    expect(killed).toBe(true);
    expect(await Promise.all(results)).toEqual(Array(300).fill(null));
    expect(fatal).toEqual([]);
    const read: JournalBatch[] = [];
    await readJournal(client, prefix, 0, (b) => read.push(b));
    expect(opsOf(read)).toEqual(ops);
    await journal.close();
    client.close();
  });
});
