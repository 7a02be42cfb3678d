/**
 * How an HA NameNode follows the etcd journal while it is not the active (issue 14; ha-node.ts
 * owns one): the txid and etcd revision it has applied, reading the journal to its head,
 * tailing it (etcd-journal-reader.ts `tailJournal`), each batch replayed with journal.ts
 * `replayRecords` (the code of local log recovery), and the lag gauge.
 *
 *   read to head:  every batch after `appliedTxid`, then the revision to tail from
 *   tail:          a watch from that revision; batches are applied while `following()`
 *   recover:       the watch was compacted away: read the batches again from our txid and
 *                  tail on; if the batches after us were purged, fetch a peer's image
 *                  (src/ha/image-sync.ts) and fail with JOURNAL_COMPACTED: src/cli/dfsd.ts
 *                  starts the NameNode again from it, in the same process on the same ports
 *   lag:           every LAG_POLL_MS, the journal head minus `appliedTxid`
 *                  (dfs_namenode_ha_standby_lag_txns)
 *   promotion:     `finish()` stops the tail (after a recovery in flight) and reads to the head;
 *                  `resume()` tails on if the promotion is given up
 */
import { assert, DfsError, rethrowIfBug } from '../../protocol/errors.js';
import type { Logger } from '../common/logger.js';
import type { EtcdClient } from '../ha/etcd-client.js';
import * as reader from '../ha/etcd-journal-reader.js';
import type { Watch } from '../ha/etcd-watch.js';
import { haKeys } from '../ha/ha-keys.js';
import type { ImageSync } from '../ha/image-sync.js';
import { replayRecords, type ReplayObserver } from './journal.js';
import type { LoadedState } from './name-dir.js';
import type { Namespace } from './namespace.js';

const LAG_POLL_MS = 1_000;

export interface JournalFollowerOptions {
  client: EtcdClient;
  prefix: string;
  namespace: Namespace;
  log: Logger;
  images: ImageSync;
  /** Records applied (the NameNode counts them toward a checkpoint). */
  onApplied: (records: number) => void;
  /** Sees each edit replayed (the retry cache, retry-cache.ts). */
  replayObserver?: ReplayObserver;
  /** True while this NameNode is a standby: only then are tailed batches and errors acted on. */
  following: () => boolean;
  /** The tail broke for good: the NameNode must stop. */
  fail: (err: DfsError) => void;
}

export class JournalFollower {
  private applied = 0;
  private revision = 0;
  private namespace: Namespace;
  private tail: Watch | null = null;
  /** A tail being restarted after its watch was compacted (`finish` waits for it). */
  private recovering: Promise<void> | null = null;
  private lagTimer: NodeJS.Timeout | null = null;
  private lag = 0;

  constructor(private readonly options: JournalFollowerOptions) {
    this.namespace = options.namespace;
  }

  get appliedTxid(): number {
    return this.applied;
  }

  /** The lag behind the journal head at the last poll, in transactions. */
  get lagTxids(): number {
    return this.lag;
  }

  /** Follows on from a state loaded from the name directory (at start, or a fetched image). */
  use(loaded: LoadedState): void {
    this.applied = loaded.lastTxid;
    this.namespace = loaded.namespace;
  }

  /** What etcd-journal-reader.ts `readThroughCompaction` reads with. */
  readerOf(): reader.JournalReader {
    return {
      client: this.options.client,
      prefix: this.options.prefix,
      position: () => this.applied,
      read: () => this.readToHead(),
    };
  }

  /** The etcd journal's head txid, read now (`dfs admin ha status`, the lag gauge). */
  async journalHead(): Promise<number> {
    const kv = await this.options.client.get(haKeys(this.options.prefix).head);
    const head = kv === null ? 0 : Number(kv.value.toString());
    if (!Number.isSafeInteger(head) || head < 0)
      throw new DfsError(
        'CORRUPT_LOG',
        `etcd journal head is not a txid: ${kv!.value.toString().slice(0, 40)}`,
      );
    return head;
  }

  /** Tails the journal from where the last read ended, and polls the lag. */
  start(): void {
    this.startTail();
    this.lagTimer = setInterval(() => {
      if (!this.options.following()) return;
      this.journalHead().then(
        (head) => (this.lag = Math.max(0, head - this.applied)),
        (err: unknown) => {
          rethrowIfBug(err);
          this.options.log.debug({ err: (err as Error).message }, 'journal head unreadable (lag gauge)');
        },
      );
    }, LAG_POLL_MS);
    this.lagTimer.unref();
  }

  /** Promotion: stops tailing (after a recovery in flight, which may start a tail again) and reads to the head. */
  async finish(): Promise<void> {
    this.stopTail();
    await this.recovering;
    this.stopTail();
    await this.readToHead();
  }

  /** A promotion given up (the lease lapsed meanwhile): tails on from the head `finish` read to. */
  resume(): void {
    assert(this.tail === null && this.recovering === null, 'resume while tailing');
    this.startTail();
  }

  stop(): void {
    this.stopTail();
    if (this.lagTimer !== null) clearInterval(this.lagTimer);
  }

  async readToHead(): Promise<void> {
    const { client, prefix } = this.options;
    const pos = await reader.readJournal(client, prefix, this.applied, (batch) =>
      this.apply(batch, 'the etcd journal'),
    );
    assert(pos.lastTxid === this.applied, `etcd journal read to ${pos.lastTxid}, applied ${this.applied}`);
    this.revision = pos.revision;
  }

  private startTail(): void {
    this.tail = reader.tailJournal(this.options.client, this.options.prefix, {
      afterTxid: this.applied,
      fromRevision: this.revision + 1,
      onBatch: (batch) => {
        if (this.options.following()) this.apply(batch, 'the etcd journal (tail)');
      },
      onError: (err) => {
        if (!this.options.following()) return;
        if (err.code !== 'JOURNAL_COMPACTED') return this.options.fail(err);
        this.tail = null;
        this.recovering = this.recoverTail().finally(() => (this.recovering = null));
      },
    });
  }

  private stopTail(): void {
    this.tail?.cancel();
    this.tail = null;
  }

  /** The watch was compacted past us: read the batches again from our txid, then tail on. */
  private async recoverTail(): Promise<void> {
    this.options.log.warn({ txid: this.applied }, 'journal watch compacted away; reading the journal again');
    try {
      await reader.readThroughCompaction(this.readerOf(), async () => {
        // The batches after us are gone: fetch the image; dfsd starts the NameNode again from it.
        const txid = await this.options.images.fetchNewest(this.applied);
        throw new DfsError(
          'JOURNAL_COMPACTED',
          `the etcd journal was purged past txid ${this.applied}: fetched the image at txid ${txid}; starting again from it`,
        );
      });
    } catch (err) {
      rethrowIfBug(err);
      return this.options.fail(err as DfsError);
    }
    if (!this.options.following()) return;
    this.options.log.info({ txid: this.applied }, 'standby caught up after compaction; tailing');
    this.startTail();
  }

  private apply(batch: reader.JournalBatch, source: string): void {
    const next = replayRecords(
      this.namespace,
      batch.records,
      this.applied + 1,
      source,
      this.options.replayObserver,
    );
    const applied = next - 1 - this.applied;
    this.applied = next - 1;
    if (batch.revision > this.revision) this.revision = batch.revision;
    if (applied > 0) this.options.onApplied(applied);
  }
}
