/**
 * The journal: the seam between the NameNode and where its edits become durable (issue 14).
 * Two implementations write it:
 *
 *   - EditLog (edit-log.ts): segments in the local name directory, group commit with one
 *     write + fdatasync per batch. The default; a single NameNode needs nothing else.
 *   - EtcdJournal (src/ha/etcd-journal.ts): each group-commit batch is one etcd transaction,
 *     fenced by the leader's epoch, for a NameNode with hot standbys.
 *
 * Both take a record as it is applied to the namespace, hand out the next txid at once,
 * and call its callback only once the record (and every one before it) is durable: a reply
 * is sent from there and nowhere else. Both use the one record codec of edit-log-format.ts.
 *
 * An error in a callback means the journal stopped: memory is ahead of what is durable, so
 * the NameNode must stop answering. The journal says so once through its `onFatal` (its
 * open-time option): an I/O error of the local log (INTERNAL), or FENCED when etcd refused a
 * batch because another NameNode holds a newer epoch.
 *
 * Replay: whatever the source (local segments at start-up, etcd batches on a standby), the
 * records go through `replayRecords`, so both rebuild the namespace with the same code.
 */
import { DfsError, rethrowIfBug } from '../../protocol/errors.js';
import type { LoggedOp } from './edit-log-format.js';
import type { EditOp } from './edit-ops.js';
import type { Namespace } from './namespace.js';

/** Sees each replayed edit just after it was applied (retry-cache.ts rebuilds its answers). */
export interface ReplayObserver {
  replayed(op: EditOp, namespace: Namespace): void;
}

/** Runs once the record is durable (null) or the journal has stopped (the reason). */
export type AppendCallback = (err: Error | null) => void;

/** What the NameNode (client-rpc.ts, block-recovery.ts) writes its edits through. */
export interface Journal {
  /** Queues `op` as txid lastWrittenTxid + 1 and returns that txid (-1 if refused: `done` has the error). */
  append(op: EditOp, done: AppendCallback): number;
  /** The txid of the last record appended (durable or not). */
  readonly lastWrittenTxid: number;
  /** The txid of the last record known durable. */
  readonly lastDurableTxid: number;
  /**
   * A checkpoint boundary: resolves, with the last txid appended before the call, once every
   * record up to it is durable (the local log also starts a new segment after it).
   */
  roll(): Promise<number>;
  /** Makes what is queued durable, then refuses further appends. */
  close(): Promise<void>;
}

/**
 * Applies `records` (in txid order) to `namespace`, skipping those below `expectTxid` (already
 * in the image) and refusing a gap or a record that cannot be applied as CORRUPT_LOG;
 * `source` names where they came from in the message. `observer` sees each edit applied.
 * Returns the next txid expected.
 */
export function replayRecords(
  namespace: Namespace,
  records: readonly LoggedOp[],
  expectTxid: number,
  source: string,
  observer?: ReplayObserver,
): number {
  let expect = expectTxid;
  for (const rec of records) {
    if (rec.txid < expect) continue;
    if (rec.txid !== expect)
      throw new DfsError(
        'CORRUPT_LOG',
        `edit log gap: expected txid ${expect}, ${source} continues at ${rec.txid}`,
      );
    try {
      namespace.apply(rec.op, true);
    } catch (err) {
      rethrowIfBug(err);
      throw new DfsError(
        'CORRUPT_LOG',
        `edit log ${source}: txid ${rec.txid} (${rec.op.op}) cannot be applied: ${(err as Error).message}`,
      );
    }
    observer?.replayed(rec.op, namespace);
    expect++;
  }
  return expect;
}
