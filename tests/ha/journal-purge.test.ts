/**
 * The etcd journal purge (src/ha/journal-purge.ts) against a real etcd: batches are deleted
 * only when every txid in them is at or below min(recorded image txids) - retainTxns, every
 * txid after that stays readable (seeded random batch sizes and image positions, the seed
 * printed), etcd is compacted at the purge, and a deposed active cannot purge (FENCED).
 * Without etcd the file is skipped, saying why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDfsError } from '../../protocol/errors.js';
import { initChecksum } from '../../src/common/checksum.js';
import { EtcdClient } from '../../src/ha/etcd-client.js';
import { EtcdJournal, initializeJournal } from '../../src/ha/etcd-journal.js';
import { firstBatchTxid, readJournal } from '../../src/ha/etcd-journal-reader.js';
import { haKeys } from '../../src/ha/ha-keys.js';
import { listImages, recordImage } from '../../src/ha/image-registry.js';
import { purgeJournal, purgeTxidFor } from '../../src/ha/journal-purge.js';
import type { EditOp } from '../../src/namenode/edit-ops.js';
import { ETCD_SKIP_REASON, HAVE_ETCD, startEtcd, type EtcdCluster } from '../support/etcd.js';

if (!HAVE_ETCD) console.warn(ETCD_SKIP_REASON);

let prefixes = 0;
const newPrefix = (): string => `/dfs-purge-${process.pid}-${++prefixes}/`;
const mkdir = (i: number): EditOp => ({ op: 'mkdir', path: `/d${i}`, parents: true, mtimeMs: 1000 + i });

/** mulberry32: a small seeded generator, so a failure replays. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe.skipIf(!HAVE_ETCD)('etcd journal purge', () => {
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

  /** A journal of `sizes.length` batches of those sizes under a fresh prefix; its epoch. */
  async function journalOf(prefix: string, sizes: number[]): Promise<number> {
    const keys = haKeys(prefix);
    await initializeJournal(client, prefix, 0);
    const res = await client.txn(
      [{ key: keys.leader, target: 'createRevision', against: 0 }],
      [{ put: { key: keys.leader, value: 'nn-test' } }],
    );
    const epoch = res.revision;
    const journal = new EtcdJournal({ client, prefix, epoch, lastTxid: 0, onFatal: () => {} });
    let txid = 0;
    for (const n of sizes) {
      const done = Array.from(
        { length: n },
        () => new Promise<Error | null>((resolve) => journal.append(mkdir(++txid), resolve)),
      );
      expect(await Promise.all(done)).toEqual(done.map(() => null)); // one batch per group
    }
    await journal.close();
    return epoch;
  }

  async function readFrom(prefix: string, afterTxid: number): Promise<number[]> {
    const txids: number[] = [];
    await readJournal(client, prefix, afterTxid, (b) => txids.push(...b.records.map((r) => r.txid)));
    return txids;
  }

  it('deletes only batches wholly below the oldest image less the margin, and compacts', async () => {
    const prefix = newPrefix();
    const epoch = await journalOf(
      prefix,
      Array.from({ length: 10 }, () => 7),
    ); // batches at 1, 8, 15, ... 64; txids 1..70
    await recordImage(client, prefix, { nodeId: 'nn1', txid: 40, sha256: 'a', clusterId: 'c' });
    await recordImage(client, prefix, { nodeId: 'nn2', txid: 25, sha256: 'b', clusterId: 'c' });
    const records = await listImages(client, prefix);
    expect(records.map((r) => r.txid).sort()).toEqual([25, 40]);
    const purgeTxid = purgeTxidFor(records, 5);
    expect(purgeTxid).toBe(20);
    const before = (await client.range(haKeys(prefix).head)).revision;
    const res = await purgeJournal(client, prefix, epoch, purgeTxid);
    // Batch 15 holds 15..21: it stays (21 is above the purge point); 1 and 8 go.
    expect(res).toMatchObject({ deleted: 2, firstKeptTxid: 15 });
    expect(await firstBatchTxid(client, prefix)).toBe(15);
    expect(await readFrom(prefix, 20)).toEqual(Array.from({ length: 50 }, (_, i) => 21 + i));
    // nn2 (image 25) and everything above can still replay from its image.
    expect(await readFrom(prefix, 25)).toHaveLength(45);
    // Below the purge point: typed, so a NameNode fetches an image instead.
    await expect(readFrom(prefix, 5)).rejects.toMatchObject({ code: 'JOURNAL_COMPACTED' });
    // Compacted: the history before the purge is gone.
    await expect(client.range(haKeys(prefix).head, { revision: before })).rejects.toMatchObject({
      code: 'JOURNAL_COMPACTED',
    });
    // Again with the same records: nothing more goes.
    expect((await purgeJournal(client, prefix, epoch, purgeTxid)).deleted).toBe(0);
  });

  it('a deposed active cannot purge', async () => {
    const prefix = newPrefix();
    const epoch = await journalOf(prefix, [5, 5, 5]);
    const err = await purgeJournal(client, prefix, epoch + 1000, 12).catch((e: unknown) => e);
    expect(isDfsError(err, 'FENCED')).toBe(true);
    expect(await firstBatchTxid(client, prefix)).toBe(1);
  });

  it('never removes a txid after the oldest image less the margin (seeded)', async () => {
    const seed = Number(process.env.DFS_PURGE_SEED ?? Date.now() % 1_000_000);
    console.log(`journal purge seed ${seed} (DFS_PURGE_SEED=${seed} replays it)`);
    const random = rng(seed);
    for (let round = 0; round < 6; round++) {
      const prefix = newPrefix();
      const sizes = Array.from({ length: 3 + Math.floor(random() * 8) }, () => 1 + Math.floor(random() * 12));
      const total = sizes.reduce((a, b) => a + b, 0);
      const epoch = await journalOf(prefix, sizes);
      const images = Array.from({ length: 1 + Math.floor(random() * 3) }, () => Math.floor(random() * total));
      for (const [i, txid] of images.entries())
        await recordImage(client, prefix, { nodeId: `nn${i}`, txid, sha256: 'x', clusterId: 'c' });
      const retain = Math.floor(random() * 6);
      const purgeTxid = purgeTxidFor(await listImages(client, prefix), retain);
      expect(purgeTxid).toBe(Math.max(0, Math.min(...images) - retain));
      await purgeJournal(client, prefix, epoch, purgeTxid);
      const where = `seed ${seed} round ${round}: sizes ${sizes.join(',')} images ${images.join(',')} retain ${retain}`;
      // Every NameNode can replay from its image, and from the purge point on.
      for (const from of [purgeTxid, ...images])
        expect(await readFrom(prefix, from), where).toEqual(
          Array.from({ length: total - from }, (_, i) => from + 1 + i),
        );
      // What went is only below the purge point: the first kept batch starts at or below purgeTxid + 1.
      expect(await firstBatchTxid(client, prefix), where).toBeLessThanOrEqual(purgeTxid + 1);
    }
  });
});
