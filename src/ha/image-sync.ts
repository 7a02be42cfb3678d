/**
 * Checkpoint images across HA NameNodes (issue 14): each NameNode records the newest image
 * it holds in etcd (image-registry.ts), fetches a newer one a peer records (image-
 * transfer.ts), and the active purges the journal below the oldest of them (journal-
 * purge.ts). One per HA NameNode (ha-node.ts owns it).
 *
 * Who writes images: the standbys only (namenode.ts skips its checkpoints while active), as
 * HDFS's StandbyCheckpointer: the active spends nothing on them and its latency does not
 * move; the active and the other standbys fetch each standby's image. A cluster running one
 * NameNode alone with `journal: "etcd"` therefore writes no image and purges nothing; the
 * quota alarm (etcd-quota.ts) says so before etcd fills.
 *
 *   | event                                          | action                               |
 *   |------------------------------------------------|--------------------------------------|
 *   | start; own checkpoint; own download            | record own image (txid, sha256, URL) |
 *   | a record changes (watch on images/)            | sync: fetch the newest peer image if |
 *   |                                                |   newer than ours; purge if active   |
 *   | promoted                                       | sync (purge what waited for us)      |
 *   | the journal lost our next txid (purged while   | fetchNewest: caller loads the image  |
 *   |   our record was missing or older)             |   (ha-node.ts)                       |
 *
 * Syncs run one at a time; one asked for while one runs runs once after it.
 *
 * Why the purge never takes what a NameNode needs: a NameNode records only an image at or
 * below the txid it has applied (it fetches none newer), so min(records) - retainTxns is
 * below every NameNode's position and below every image a NameNode would restart from. Only
 * a NameNode without a record (a new one, or one whose key an operator deleted) can find its
 * position purged: it then starts from a peer's image (ha-node.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { DfsError, rethrowIfBug } from '../../protocol/errors.js';
import type { FileSync } from '../common/file-sync.js';
import type { Logger } from '../common/logger.js';
import { imageFileName } from '../namenode/fs-image.js';
import { formatNameDir, purgeBefore } from '../namenode/name-dir.js';
import type { DefaultOwners } from '../namenode/ownership.js';
import type { NameNodeConfig } from '../common/config.js';
import { EtcdClient } from './etcd-client.js';
import { watch, type Watch } from './etcd-watch.js';
import { haKeys } from './ha-keys.js';
import { listImages, newestPeerImage, recordImage, type ImageRecord } from './image-registry.js';
import { downloadImage, sha256File } from './image-transfer.js';
import { purgeJournal, purgeTxidFor } from './journal-purge.js';

export interface ImageSyncOptions {
  client: EtcdClient;
  prefix: string;
  nameDir: string;
  clusterId: string;
  /** Records kept below the oldest image (config `haJournalRetainTxns`). */
  retainTxns: number;
  sync: FileSync;
  log: Logger;
  /** The epoch while this NameNode is the active, else 0 (only the active purges). */
  epoch: () => number;
  /** The last txid this NameNode has applied (or made durable, as the active). */
  position: () => number;
}

export class ImageSync {
  private nodeId = '';
  private httpAddress: string | undefined;
  private ownTxid = -1;
  private watcher: Watch | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(private readonly o: ImageSyncOptions) {}

  /** The txid of the newest image this NameNode holds (-1 before `recordOwn`). */
  get imageTxid(): number {
    return this.ownTxid;
  }

  /** The image the NameNode loaded at start (recorded once its id and address are known). */
  imageLoaded(txid: number): void {
    this.ownTxid = txid;
  }

  /** Records the image this NameNode holds (at start, after a checkpoint or a download). */
  async recordOwn(txid: number, nodeId = this.nodeId, httpAddress = this.httpAddress): Promise<void> {
    this.nodeId = nodeId;
    this.httpAddress = httpAddress;
    // The newest held (a checkpoint may finish after a fetch of a newer image). Two records
    // racing can leave the older one in etcd: lower than held, which only holds the purge back.
    this.ownTxid = Math.max(this.ownTxid, txid);
    const txidNow = this.ownTxid;
    const record: ImageRecord = {
      nodeId,
      txid: txidNow,
      sha256: await sha256File(this.imageFile(txidNow)),
      clusterId: this.o.clusterId,
      ...(httpAddress !== undefined && { httpAddress }),
    };
    await recordImage(this.o.client, this.o.prefix, record);
  }

  /** Follows every NameNode's record from now on. */
  start(): void {
    this.watcher = watch(this.o.client, haKeys(this.o.prefix).imagePrefix, {
      prefix: true,
      onEvents: () => this.syncSoon(),
      // Compacted past (this NameNode was paused or cut off): watch again from now, and sync.
      onError: () => {
        if (!this.stopped) this.start();
      },
    });
    this.syncSoon();
  }

  /** A sync after the one running (if any); errors are logged, the next event retries. */
  syncSoon(): void {
    if (this.stopped) return;
    if (this.running !== null) {
      this.again = true;
      return;
    }
    this.running = this.syncOnce()
      .catch((err: unknown) => {
        rethrowIfBug(err);
        this.o.log.warn({ err: (err as Error).message }, 'image sync failed; retried on the next change');
      })
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.syncSoon();
        }
      });
  }

  private async syncOnce(): Promise<void> {
    const records = await listImages(this.o.client, this.o.prefix);
    // Never an image past what this NameNode has applied: its record would let the purge
    // take batches it still has to apply.
    const newest = newestPeerImage(records, this.nodeId, this.o.position());
    if (newest !== null && newest.txid > this.ownTxid && this.ownTxid >= 0) await this.fetch(newest);
    const epoch = this.o.epoch();
    if (epoch === 0) return;
    // Compacts even when nothing is purged: the head key's old values go (journal-purge.ts).
    const purgeTxid = purgeTxidFor(records, this.o.retainTxns);
    const res = await purgeJournal(this.o.client, this.o.prefix, epoch, purgeTxid);
    if (res.deleted > 0)
      this.o.log.info(
        { purgeTxid, deleted: res.deleted, firstKeptTxid: res.firstKeptTxid, compactedAt: res.compactedAt },
        'etcd journal purged below the oldest image and compacted',
      );
  }

  /** Downloads `r`'s image, drops older local ones, records it as ours. */
  private async fetch(r: ImageRecord): Promise<void> {
    const started = Date.now();
    const bytes = await downloadImage({
      httpAddress: r.httpAddress!,
      txid: r.txid,
      sha256: r.sha256,
      nameDir: this.o.nameDir,
      sync: this.o.sync,
    });
    const removed = purgeBefore(this.o.nameDir, r.txid);
    this.o.log.info(
      { txid: r.txid, from: r.nodeId, bytes, removed: removed.length, ms: Date.now() - started },
      'checkpoint image fetched from a peer',
    );
    await this.recordOwn(r.txid);
  }

  /**
   * Fetches the newest image a peer holds into the name directory (this NameNode's journal
   * position was purged); resolves with its txid. NOT_FOUND when no peer has one newer than
   * `afterTxid`.
   */
  async fetchNewest(afterTxid: number): Promise<number> {
    const newest = newestPeerImage(await listImages(this.o.client, this.o.prefix), this.nodeId);
    if (newest === null || newest.txid <= afterTxid)
      throw new DfsError(
        'NOT_FOUND',
        `the etcd journal was purged past txid ${afterTxid} and no other NameNode records a newer image`,
      );
    await this.fetch(newest);
    return newest.txid;
  }

  private imageFile(txid: number): string {
    return path.join(this.o.nameDir, imageFileName(txid));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.cancel();
    await this.running;
  }
}

/**
 * `bootstrapStandby` done at start: an HA NameNode whose name directory is not formatted
 * formats it with the cluster id a peer records and fetches that peer's newest image into it.
 * Needs `haPrefix` (without a cluster id the default prefix is unknown).
 */
export async function bootstrapNameDir(
  client: EtcdClient,
  prefix: string,
  nameDir: string,
  owners: DefaultOwners,
  sync: FileSync,
  log: Logger,
): Promise<void> {
  const newest = newestPeerImage(await listImages(client, prefix), '');
  if (newest === null)
    throw new DfsError(
      'NOT_FOUND',
      `${nameDir} is not formatted and no NameNode under ${prefix} in etcd records an image to bootstrap from; ` +
        `format the first NameNode's name directory ('dfsd namenode --format')`,
    );
  await formatNameDir(nameDir, { force: false, clusterId: newest.clusterId, owners });
  const bytes = await downloadImage({
    httpAddress: newest.httpAddress!,
    txid: newest.txid,
    sha256: newest.sha256,
    nameDir,
    sync,
  });
  log.info(
    { nameDir, clusterId: newest.clusterId, txid: newest.txid, from: newest.nodeId, bytes },
    'name directory bootstrapped from a peer image',
  );
}

/** Before an HA NameNode reads its name directory: bootstraps it when it is not formatted. */
export async function bootstrapIfUnformatted(
  config: NameNodeConfig,
  owners: DefaultOwners,
  sync: FileSync,
  log: Logger,
): Promise<void> {
  if (config.journal !== 'etcd' || fs.existsSync(path.join(config.nameDir, 'VERSION'))) return;
  if (config.haPrefix === '')
    throw new DfsError(
      'NOT_FOUND',
      `${config.nameDir} is not formatted; to bootstrap it from a peer's image, set haPrefix (the cluster's etcd prefix)`,
    );
  const client = new EtcdClient({ endpoints: config.etcdEndpoints, log });
  try {
    await bootstrapNameDir(client, config.haPrefix, config.nameDir, owners, sync, log);
  } finally {
    client.close();
  }
}
