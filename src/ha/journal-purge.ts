/**
 * Purging the etcd journal below the images every NameNode holds, then compacting etcd
 * (issue 14). The active does it (image-sync.ts: whenever an image record changes, and
 * once it takes over): it is the journal's one writer, and the delete is fenced by its
 * epoch like its writes, so a deposed active cannot purge.
 *
 * What may go: every record at or below
 *
 *   purgeTxid = min(txid of every NameNode's recorded image) - retainTxns
 *
 * A NameNode restarts from its own image and replays the journal after it, so no NameNode
 * needs a record at or below its image; `retainTxns` (config `haJournalRetainTxns`) keeps
 * more, so a NameNode whose newest image turns out unreadable can start from its previous
 * one, and a standby lagging behind its own image's txid by less than that still tails. A
 * batch is deleted whole, and only when the batch after it starts at or below
 * purgeTxid + 1, so every txid above purgeTxid stays readable (tests/ha/journal-purge.test.ts).
 *
 *   journal:  batch 1 | batch 40 | batch 95 | batch 130 | ...   purgeTxid = 100
 *             deleted   deleted    kept (holds 101)  kept
 *
 * The delete is one transaction (compare: the leader key's create revision is our epoch);
 * etcd is then compacted at that transaction's revision, even when nothing was deleted: every
 * journal write also rewrites `journal/head`, and those old values stay in etcd's history
 * until a compaction (its database file shrinks only after a defragmentation: README). A
 * watch from an older revision is cancelled with JOURNAL_COMPACTED; a standby then reads the
 * batches again from its position (ha-node.ts), which are still there.
 */
import { DfsError, isDfsError, rethrowIfBug } from '../../protocol/errors.js';
import type { EtcdClient } from './etcd-client.js';
import { haKeys } from './ha-keys.js';
import type { ImageRecord } from './image-registry.js';

/** The txid at and below which the journal may go (0: nothing), for these records. */
export function purgeTxidFor(records: readonly ImageRecord[], retainTxns: number): number {
  if (records.length === 0) return 0;
  const oldest = Math.min(...records.map((r) => r.txid));
  return Math.max(0, oldest - retainTxns);
}

export interface PurgeResult {
  /** Batches deleted. */
  deleted: number;
  /** The first txid the journal still holds a batch for (0: no batch). */
  firstKeptTxid: number;
  /** The revision etcd was compacted at (0: not compacted: the journal holds no batch). */
  compactedAt: number;
}

/**
 * Deletes the batches wholly at or below `purgeTxid` while `epoch` leads, then compacts etcd.
 * FENCED when another NameNode leads.
 */
export async function purgeJournal(
  client: EtcdClient,
  prefix: string,
  epoch: number,
  purgeTxid: number,
): Promise<PurgeResult> {
  const keys = haKeys(prefix);
  // The batch holding purgeTxid + 1 (or the first after it) stays, with everything after it.
  const keep = await client.range(keys.batchPrefix, {
    rangeEnd: `${keys.batch(purgeTxid + 1)}\0`,
    sortOrder: 'descend',
    limit: 1,
    keysOnly: true,
  });
  const keepKey = keep.kvs[0]?.key.toString();
  if (keepKey === undefined) return { deleted: 0, firstKeptTxid: 0, compactedAt: 0 };
  const firstKeptTxid = keys.batchTxid(keepKey);
  const res = await client.txn(
    [{ key: keys.leader, target: 'createRevision', against: epoch }],
    [{ delete: { key: keys.batchPrefix, rangeEnd: keepKey } }],
  );
  if (!res.succeeded)
    throw new DfsError('FENCED', `journal purge refused: epoch ${epoch} no longer holds the leader key`);
  const r = res.responses[0];
  const deleted = r !== undefined && 'delete' in r ? r.delete.deleted : 0;
  try {
    await client.compact(res.revision);
  } catch (err) {
    rethrowIfBug(err);
    // Compacted at or past it already (by an earlier purge, or an operator): nothing to do.
    if (!isDfsError(err, 'JOURNAL_COMPACTED')) throw err;
  }
  return { deleted, firstKeptTxid, compactedAt: res.revision };
}
