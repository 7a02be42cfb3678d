/**
 * The journal a standby NameNode (ha-node.ts) holds where the active holds its EtcdJournal:
 * it reports the txid the standby has applied from the etcd journal and refuses every
 * append with the standby's STANDBY error (nothing reaches it: client-rpc.ts refuses first).
 * A checkpoint's roll resolves at once: everything applied came from etcd, durable already.
 */
import type { DfsError } from '../../protocol/errors.js';
import type { EditOp } from './edit-ops.js';
import type { AppendCallback, Journal } from './journal.js';

/** The journal of a standby: the txid it has applied; appends are refused (nothing reaches them). */
export class StandbyJournal implements Journal {
  constructor(
    private readonly applied: () => number,
    private readonly refusal: () => DfsError,
  ) {}

  append(_op: EditOp, done: AppendCallback): number {
    done(this.refusal());
    return -1;
  }

  get lastWrittenTxid(): number {
    return this.applied();
  }

  get lastDurableTxid(): number {
    return this.applied();
  }

  /** Everything applied came from etcd, durable already: a checkpoint may cover it. */
  roll(): Promise<number> {
    return Promise.resolve(this.applied());
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
