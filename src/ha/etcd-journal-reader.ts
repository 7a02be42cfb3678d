/**
 * Reading the etcd journal (issue 14): a NameNode taking over reads it to its head; a standby
 * reads it from its image's txid, then tails it with a watch from the revision the read was
 * made at, so it sees every batch once, in order, with nothing between the two.
 *
 * A batch is a value of edit-log-format.ts's segment form (written by etcd-journal.ts); it
 * is decoded with `decodeSegment`. etcd writes a value whole, so what would be a torn tail
 * in a local segment is corruption here, as are a batch whose header disagrees with its key
 * and a gap between batches (CORRUPT_LOG). Batches deleted below an image before the asked
 * txid, or a read revision compacted meanwhile, are JOURNAL_COMPACTED: reload from an image.
 *
 * `readJournal` pages with `limit` at one pinned revision, so its pages are one consistent
 * snapshot whatever the active writes meanwhile; it ends by checking that the batches end
 * exactly at the head the snapshot holds.
 */
import { DfsError, isDfsError, rethrowIfBug } from '../../protocol/errors.js';
import { decodeSegment, type LoggedOp } from '../namenode/edit-log-format.js';
import { prefixEnd, type EtcdClient, type KeyValue } from './etcd-client.js';
import { watch, type Watch } from './etcd-watch.js';
import { haKeys, type HaKeys } from './ha-keys.js';

export interface JournalBatch {
  /** The first txid of the batch as written (records at or below the asked txid are dropped). */
  firstTxid: number;
  /** Records after the asked txid, contiguous, in order. */
  records: LoggedOp[];
  /** The etcd revision that wrote it. */
  revision: number;
}

export interface JournalPosition {
  /** The last txid read (the journal head at `revision`). */
  lastTxid: number;
  /** The etcd revision the read saw; tail from revision + 1. */
  revision: number;
}

/** Batches read per range request. */
const PAGE_BATCHES = 64;

/**
 * Calls `onBatch` for every batch holding a txid after `afterTxid`, in txid order, up to the
 * journal head; resolves with where it stopped. NOT_FOUND when the journal was never
 * initialized (etcd-journal.ts `initializeJournal`).
 */
export async function readJournal(
  client: EtcdClient,
  prefix: string,
  afterTxid: number,
  onBatch: (batch: JournalBatch) => void,
  pageBatches = PAGE_BATCHES,
): Promise<JournalPosition> {
  const keys = haKeys(prefix);
  const headRead = await client.range(keys.head);
  const revision = headRead.revision;
  const headKv = headRead.kvs[0];
  if (headKv === undefined) throw new DfsError('NOT_FOUND', `no etcd journal under ${keys.prefix}`);
  const head = parseHead(headKv);
  if (head <= afterTxid) {
    if (head < afterTxid)
      throw new DfsError(
        'CORRUPT_LOG',
        `etcd journal head ${head} is behind txid ${afterTxid} already applied`,
      );
    return { lastTxid: head, revision };
  }
  // Start at the last batch beginning at or before afterTxid + 1: it may hold afterTxid + 1.
  const before = await client.range(keys.batchPrefix, {
    rangeEnd: `${keys.batch(afterTxid + 1)}\0`,
    sortOrder: 'descend',
    limit: 1,
    keysOnly: true,
    revision,
  });
  let from: string = before.kvs[0]?.key.toString() ?? keys.batchPrefix;
  let expect = afterTxid + 1;
  for (;;) {
    const page = await client.range(from, {
      rangeEnd: prefixEnd(keys.batchPrefix),
      limit: pageBatches,
      revision,
    });
    for (const kv of page.kvs) {
      const batch = decodeBatch(keys, kv, expect, expect === afterTxid + 1);
      if (batch.records.length > 0) {
        expect = batch.records[batch.records.length - 1]!.txid + 1;
        onBatch(batch);
      }
    }
    const lastKv = page.kvs[page.kvs.length - 1];
    if (!page.more || lastKv === undefined) break;
    from = `${lastKv.key.toString()}\0`;
  }
  if (expect - 1 !== head)
    throw new DfsError(
      'CORRUPT_LOG',
      `etcd journal batches end at txid ${expect - 1}, its head says ${head}`,
    );
  return { lastTxid: head, revision };
}

/** The first txid the journal holds a batch for (MAX_SAFE_INTEGER when it holds none). */
export async function firstBatchTxid(client: EtcdClient, prefix: string): Promise<number> {
  const keys = haKeys(prefix);
  const first = await client.range(keys.batchPrefix, { prefix: true, limit: 1, keysOnly: true });
  const kv = first.kvs[0];
  return kv === undefined ? Number.MAX_SAFE_INTEGER : keys.batchTxid(kv.key.toString());
}

/**
 * Runs `read` (a readJournal from the reader's `position`) until it succeeds. A
 * JOURNAL_COMPACTED has two causes: the revision a paged read was pinned at was compacted
 * meanwhile (read again), or the batches after the position were purged below an image
 * (journal-purge.ts): then `onPurged` runs first (it fetches an image and moves the position,
 * or throws). Other errors, and a fifth failure in a row, are thrown.
 */
export interface JournalReader {
  client: EtcdClient;
  prefix: string;
  /** The last txid the reader has applied. */
  position: () => number;
  read: () => Promise<void>;
}

export async function readThroughCompaction(
  reader: JournalReader,
  onPurged: () => Promise<void>,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await reader.read();
    } catch (err) {
      rethrowIfBug(err);
      if (!isDfsError(err, 'JOURNAL_COMPACTED') || attempt >= 5) throw err;
      if ((await firstBatchTxid(reader.client, reader.prefix)) > reader.position() + 1) await onPurged();
    }
  }
}

export interface TailOptions {
  /** Deliver records after this txid (the reader's position). */
  afterTxid: number;
  /** The first revision to watch (a JournalPosition's revision + 1). */
  fromRevision: number;
  onBatch: (batch: JournalBatch) => void;
  /** The tail stopped: JOURNAL_COMPACTED (reload from an image) or CORRUPT_LOG. */
  onError: (err: DfsError) => void;
}

/** Follows the journal from a position: each batch written after it, in order, until cancel(). */
export function tailJournal(client: EtcdClient, prefix: string, options: TailOptions): Watch {
  const keys = haKeys(prefix);
  let expect = options.afterTxid + 1;
  let stopped = false;
  const w: Watch = watch(client, keys.batchPrefix, {
    prefix: true,
    startRevision: options.fromRevision,
    onEvents: (events) => {
      for (const e of events) {
        if (stopped || e.type !== 'put') continue; // deletes are purges below an image
        try {
          const batch = decodeBatch(keys, e.kv, expect);
          if (batch.records.length === 0) continue;
          expect = batch.records[batch.records.length - 1]!.txid + 1;
          options.onBatch(batch);
        } catch (err) {
          rethrowIfBug(err);
          stopped = true;
          w.cancel();
          options.onError(err as DfsError);
        }
      }
    },
    onError: (err) => {
      if (!stopped) options.onError(err);
    },
  });
  return w;
}

/**
 * One batch's records from `expect` on; CORRUPT_LOG when it does not decode or leaves a gap,
 * JOURNAL_COMPACTED when the first batch read starts after `expect` (purged below an image).
 */
export function decodeBatch(keys: HaKeys, kv: KeyValue, expect: number, isFirst = false): JournalBatch {
  const key = kv.key.toString();
  const firstTxid = keys.batchTxid(key);
  const seg = decodeSegment(kv.value, key);
  if (seg.tornTail !== null) throw new DfsError('CORRUPT_LOG', `etcd journal ${key}: ${seg.tornTail}`);
  if (seg.firstTxid !== firstTxid)
    throw new DfsError('CORRUPT_LOG', `etcd journal ${key} holds a batch starting at ${seg.firstTxid}`);
  const lastTxid = firstTxid + seg.records.length - 1;
  if (firstTxid > expect)
    throw new DfsError(
      isFirst ? 'JOURNAL_COMPACTED' : 'CORRUPT_LOG',
      isFirst
        ? `etcd journal starts at txid ${firstTxid}, after ${expect}: purged below an image, reload from one`
        : `etcd journal continues at txid ${firstTxid} where ${expect} was expected`,
    );
  return {
    firstTxid,
    records: lastTxid < expect ? [] : seg.records.slice(expect - firstTxid),
    revision: kv.modRevision,
  };
}

function parseHead(kv: KeyValue): number {
  const text = kv.value.toString();
  if (!/^\d{1,16}$/.test(text))
    throw new DfsError('CORRUPT_LOG', `etcd journal head is ${JSON.stringify(text)}`);
  return Number(text);
}
