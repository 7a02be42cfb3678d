/**
 * The etcd journal (issue 14): the active NameNode's implementation of Journal
 * (src/namenode/journal.ts). Group commit as in edit-log.ts: `append` hands out the next txid
 * at once and queues the record; one flush writes everything queued as etcd transactions,
 * then calls the callbacks in txid order. A reply is sent only from a callback.
 *
 * One transaction per chunk of a batch (key layout: ha-keys.ts):
 *
 *   compare:  create_revision(leader) == epoch          (we still hold the leadership we won)
 *             value(journal/head)     == lastDurable    (nobody wrote after us)
 *   success:  put journal/batch/<firstTxid> = chunk     put journal/head = chunk's last txid
 *   failure:  range leader, range journal/head          (to say why)
 *
 * So fencing is a compare inside the very transaction that writes (etcd's locks are not safe
 * for this: Jepsen). A chunk is a segment of edit-log-format.ts: its 16-byte header (with
 * firstTxid) and the records, encoded by `encodeRecord`, the local log's codec; a reader
 * decodes it with `decodeSegment`. A chunk holds at least one record and at most
 * `batchBytesMax` bytes otherwise (default 1 MiB, well under etcd's 1.5 MiB request limit);
 * each transaction has 2 compares and 2 operations (etcd allows 128).
 *
 * Outcomes of a chunk's transaction:
 *   | result                                                  | action                          |
 *   |---------------------------------------------------------|---------------------------------|
 *   | succeeded                                               | durable: callbacks, next chunk  |
 *   | failed, leader's create_revision == epoch and head ==   | an earlier attempt that timed   |
 *   |   this chunk's last txid                                |   out was applied: durable      |
 *   | failed otherwise (leader gone or newer, head elsewhere) | FENCED: fail every waiter,      |
 *   |                                                         |   onFatal, refuse appends       |
 *   | ETCD_UNAVAILABLE while open                             | retry the same chunk (the       |
 *   |                                                         |   client fails over; election.ts|
 *   |                                                         |   fences us if the lease lapses)|
 *   | ETCD_UNAVAILABLE while closing, any other error         | fail every waiter, onFatal      |
 *
 * Cost, measured (`dfs-bench ha`, three-member etcd, 4,096 requests in flight, 2 cores): one
 * transaction in flight at a time already carries ~1,700 records (~200 KB), ~60
 * transactions per 100,000 records. Per 1,000 durable creates (create + complete: two
 * records) the three etcd members used ~35 ms of CPU together and this journal's own work in
 * the active (segment, base64, JSON, fetch) a few ms, of ~140-165 ms in all processes; the
 * rest is the NameNodes' RPC and replay paths (retry-cache.ts was most of it: fixed). So a
 * second transaction in flight (pipelining) would save no CPU on a CPU-bound machine: not
 * built, and none of the out-of-order "not yet" outcomes it would add exists here.
 *
 * Taking over: a new active first wins the election (its epoch now fences the old active's
 * writes), then reads the journal to its head (etcd-journal-reader.ts), then opens this
 * journal with that head as `lastTxid`. `initializeJournal` creates the head once.
 *
 *   lifecycle:  open ──close()──> closing ──queue drained──> closed
 *                 └──────────────────┴── fenced / error / fence() ──> failed
 *   io:         idle ──append──> scheduled ──next tick──> idle ──pump──> writing ──done──> idle
 */
import { assert, DfsError, rethrowIfBug } from '../../protocol/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { encodeRecord, encodeSegmentHeader, SEGMENT_HEADER_BYTES } from '../namenode/edit-log-format.js';
import type { EditOp } from '../namenode/edit-ops.js';
import type { AppendCallback, Journal } from '../namenode/journal.js';
import type { EtcdClient, KeyValue, TxnResponse, TxnResult } from './etcd-client.js';
import { haKeys, type HaKeys } from './ha-keys.js';

export type EtcdJournalState = 'open' | 'closing' | 'closed' | 'failed';
type IoState = 'idle' | 'scheduled' | 'writing';

const LIFECYCLE: Record<EtcdJournalState, readonly EtcdJournalState[]> = {
  open: ['closing', 'failed'],
  closing: ['closed', 'failed'],
  closed: [],
  failed: [],
};

/** Default bytes of records per transaction: one max-size record still fits under 1.5 MiB. */
export const BATCH_BYTES_MAX = 1024 * 1024;

export interface EtcdJournalOptions {
  client: EtcdClient;
  /** The cluster's key prefix (ha-keys.ts). */
  prefix: string;
  /** The create revision of the leader key this NameNode won (election.ts). */
  epoch: number;
  /** The journal's head when this NameNode took over (every record up to it replayed). */
  lastTxid: number;
  /** The journal stopped (FENCED, or etcd failed while closing): the NameNode must stop answering. */
  onFatal: (err: DfsError) => void;
  /** Record bytes per transaction before a batch is split (default BATCH_BYTES_MAX). */
  batchBytesMax?: number;
  log?: Logger;
  /** After each transaction: its seconds and the records it made durable (metrics). */
  onFlush?: (seconds: number, records: number) => void;
}

interface Pending {
  txid: number;
  bytes: Buffer;
  done: AppendCallback;
}

/** Creates the journal head at `lastTxid` unless it exists; true when this call created it. */
export async function initializeJournal(
  client: EtcdClient,
  prefix: string,
  lastTxid: number,
): Promise<boolean> {
  const keys = haKeys(prefix);
  const res = await client.txn(
    [{ key: keys.head, target: 'createRevision', against: 0 }],
    [{ put: { key: keys.head, value: String(lastTxid) } }],
  );
  return res.succeeded;
}

export class EtcdJournal implements Journal {
  private state: EtcdJournalState = 'open';
  private io: IoState = 'idle';
  private lastTxid: number;
  private durableTxid: number;
  private queue: Pending[] = [];
  private failure: DfsError | null = null;
  private readonly keys: HaKeys;
  private readonly batchBytesMax: number;
  private readonly log: Logger;
  private readonly closeWaiters: Array<() => void> = [];
  private rollWaiters: Array<{ txid: number; resolve: (txid: number) => void; reject: (e: Error) => void }> =
    [];
  /** Transactions written and records they carried (metrics, tests). */
  txnCount = 0;
  recordCount = 0;

  constructor(private readonly options: EtcdJournalOptions) {
    this.keys = haKeys(options.prefix);
    this.lastTxid = options.lastTxid;
    this.durableTxid = options.lastTxid;
    this.batchBytesMax = options.batchBytesMax ?? BATCH_BYTES_MAX;
    this.log = options.log ?? silentLogger();
    assert(options.epoch > 0, `etcd journal epoch ${options.epoch}`);
  }

  get epoch(): number {
    return this.options.epoch;
  }

  get lastWrittenTxid(): number {
    return this.lastTxid;
  }

  get lastDurableTxid(): number {
    return this.durableTxid;
  }

  /** A getter, so TypeScript does not narrow the state across the awaits that change it. */
  private get stopped(): boolean {
    return this.state === 'failed';
  }

  get lifecycle(): EtcdJournalState {
    return this.state;
  }

  append(op: EditOp, done: AppendCallback): number {
    if (this.state !== 'open') {
      done(this.failure ?? new DfsError('SHUTTING_DOWN', 'the NameNode is shutting down'));
      return -1;
    }
    const txid = ++this.lastTxid;
    this.queue.push({ txid, bytes: encodeRecord(txid, op), done });
    this.schedule();
    return txid;
  }

  /** No segments to start in etcd: resolves once everything appended so far is durable. */
  roll(): Promise<number> {
    const txid = this.lastTxid;
    if (this.state === 'failed' || this.state === 'closed')
      return Promise.reject(this.failure ?? new DfsError('SHUTTING_DOWN', 'the journal is closed'));
    if (this.durableTxid >= txid) return Promise.resolve(txid);
    return new Promise((resolve, reject) => this.rollWaiters.push({ txid, resolve, reject }));
  }

  close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'failed') return Promise.resolve();
    return new Promise((resolve) => {
      this.closeWaiters.push(resolve);
      if (this.state === 'open') this.enter('closing');
      if (this.io === 'idle') this.pump();
    });
  }

  /**
   * Stops the journal from outside (election.ts stepped down): every waiter, the batch in
   * flight included, gets `err`, and `onFatal` runs as for any stop.
   */
  fence(err: DfsError): void {
    if (this.state === 'closed' || this.state === 'failed') return;
    this.fail(err, [], false);
  }

  private enter(next: EtcdJournalState): void {
    assert(LIFECYCLE[this.state].includes(next), `etcd journal: ${this.state} -> ${next}`);
    this.state = next;
  }

  private schedule(): void {
    if (this.io !== 'idle') return;
    this.io = 'scheduled';
    process.nextTick(() => {
      this.io = 'idle';
      this.pump();
    });
  }

  private pump(): void {
    assert(this.io === 'idle', `etcd journal pump while ${this.io}`);
    if (this.state === 'failed') return;
    if (this.queue.length === 0) {
      if (this.state === 'closing') this.finishClose();
      return;
    }
    const chunk = this.takeChunk();
    for (let i = 0; i < chunk.length; i++)
      assert(chunk[i]!.txid === this.durableTxid + 1 + i, `etcd journal txid ${chunk[i]!.txid} out of order`);
    this.io = 'writing';
    void this.write(chunk);
  }

  /** The queue's first records, up to batchBytesMax of them (at least one). */
  private takeChunk(): Pending[] {
    let bytes = SEGMENT_HEADER_BYTES + this.queue[0]!.bytes.length;
    let n = 1;
    while (n < this.queue.length && bytes + this.queue[n]!.bytes.length <= this.batchBytesMax)
      bytes += this.queue[n++]!.bytes.length;
    return this.queue.splice(0, n);
  }

  private async write(chunk: Pending[]): Promise<void> {
    const first = chunk[0]!.txid;
    const last = chunk[chunk.length - 1]!.txid;
    const value = Buffer.concat([encodeSegmentHeader(first), ...chunk.map((p) => p.bytes)]);
    const started = performance.now();
    let retries = 0;
    for (;;) {
      let res: TxnResult | null = null;
      let error: DfsError | null = null;
      try {
        res = await this.options.client.txn(
          [
            { key: this.keys.leader, target: 'createRevision', against: this.options.epoch },
            { key: this.keys.head, target: 'value', against: String(this.durableTxid) },
          ],
          [
            { put: { key: this.keys.batch(first), value } },
            { put: { key: this.keys.head, value: String(last) } },
          ],
          [{ range: { key: this.keys.leader } }, { range: { key: this.keys.head } }],
        );
      } catch (err) {
        rethrowIfBug(err);
        error = err instanceof DfsError ? err : new DfsError('INTERNAL', String(err), { cause: err });
      }
      // Fenced from outside meanwhile (fence()): nothing is acknowledged after that, written or not.
      if (this.stopped) return this.abandon(chunk);
      if (res !== null) {
        const { leader, head } = decodeFailure(res.responses);
        // A failed compare after a retry: an attempt that timed out may have applied this very chunk.
        if (res.succeeded || (leader === this.options.epoch && head === String(last))) break;
        return this.fail(this.fencedError(leader, head), chunk, true);
      }
      assert(error !== null, 'etcd journal: neither a result nor an error');
      if (this.state !== 'open' || error.code !== 'ETCD_UNAVAILABLE') {
        const failure = new DfsError(
          error.code,
          `etcd journal write of txids ${first}..${last} failed: ${error.message}`,
          { cause: error },
        );
        return this.fail(failure, chunk, true);
      }
      // Once per chunk: etcd-client.ts already logs the endpoints' failures.
      if (retries++ === 0)
        this.log.warn({ first, last, err: error.message }, 'etcd journal write failed; retrying');
      await new Promise((r) => setTimeout(r, 100));
      if (this.stopped) return this.abandon(chunk);
    }
    const seconds = (performance.now() - started) / 1000;
    this.txnCount++;
    this.recordCount += chunk.length;
    this.options.onFlush?.(seconds, chunk.length);
    this.durableTxid = last;
    this.io = 'idle';
    for (const p of chunk) p.done(null);
    this.rollWaiters = this.rollWaiters.filter((w) => (w.txid <= last ? (w.resolve(w.txid), false) : true));
    if (this.io === 'idle') this.pump();
  }

  /** The chunk in flight when fence() stopped the journal: its writers hear the same error. */
  private abandon(chunk: readonly Pending[]): void {
    assert(this.failure !== null, 'etcd journal stopped without a failure');
    this.io = 'idle';
    for (const p of chunk) p.done(this.failure);
  }

  private fencedError(leader: number, head: string | null): DfsError {
    return new DfsError(
      'FENCED',
      `etcd journal refused the write of epoch ${this.options.epoch} after txid ${this.durableTxid}: ` +
        `the leader key's epoch is ${leader === 0 ? 'none (no leader)' : leader}, the journal head ${head ?? 'missing'}`,
    );
  }

  private finishClose(): void {
    assert(
      this.durableTxid === this.lastTxid,
      `etcd journal closed at ${this.durableTxid} of ${this.lastTxid}`,
    );
    this.enter('closed');
    for (const w of this.rollWaiters) w.reject(new DfsError('SHUTTING_DOWN', 'the journal closed'));
    this.rollWaiters = [];
    for (const resolve of this.closeWaiters.splice(0)) resolve();
  }

  /** The one teardown path: every waiter hears `err`, nothing more is written, onFatal once. */
  private fail(err: DfsError, chunk: readonly Pending[], fromWrite: boolean): void {
    if (this.state === 'failed') return;
    this.failure = err;
    this.enter('failed');
    if (fromWrite) this.io = 'idle';
    this.log.error({ err: err.message, code: err.code, epoch: this.options.epoch }, 'etcd journal stopped');
    for (const p of chunk) p.done(err);
    for (const p of this.queue.splice(0)) p.done(err);
    for (const w of this.rollWaiters) w.reject(err);
    this.rollWaiters = [];
    for (const resolve of this.closeWaiters.splice(0)) resolve();
    this.options.onFatal(err);
  }
}

/** The leader key's create revision (0: none) and the head's value from a failed txn's ranges. */
function decodeFailure(responses: readonly TxnResponse[]): { leader: number; head: string | null } {
  const kvOf = (r: TxnResponse | undefined): KeyValue | undefined =>
    r !== undefined && 'range' in r ? r.range.kvs[0] : undefined;
  const leader = kvOf(responses[0]);
  const head = kvOf(responses[1]);
  return { leader: leader?.createRevision ?? 0, head: head === undefined ? null : head.value.toString() };
}
