/**
 * Which checkpoint image each HA NameNode holds (issue 14): one key per NameNode,
 * `<prefix>images/<nodeId>` (ha-keys.ts), a JSON record written by that NameNode alone
 * whenever its newest local image changes (it wrote a checkpoint, fetched one, or started).
 *
 * The records serve two readers: NameNodes looking for a newer image to fetch, and the
 * journal purge (journal-purge.ts), which keeps every batch after the oldest recorded image
 * (less a margin). A record is not bound to a lease: a NameNode that is down still holds its
 * image and will replay the journal from it, so its record holds the purge back until it is
 * back (or an operator deletes the key of a NameNode retired for good: README, "High
 * availability").
 */
import { DfsError } from '../../protocol/errors.js';
import type { EtcdClient } from './etcd-client.js';
import { haKeys } from './ha-keys.js';

export interface ImageRecord {
  /** The NameNode's id (the key's last part). */
  nodeId: string;
  /** The txid of the newest image in its name directory. */
  txid: number;
  /** SHA-256 (hex) of that image file, checked by whoever downloads it (image-transfer.ts). */
  sha256: string;
  /** Where its HTTP port serves `/imagetransfer` ("host:port"); absent with HTTP off. */
  httpAddress?: string;
  /** The cluster id of its name directory (a bootstrapping NameNode formats with it). */
  clusterId: string;
}

export async function recordImage(client: EtcdClient, prefix: string, record: ImageRecord): Promise<void> {
  await client.put(haKeys(prefix).image(record.nodeId), JSON.stringify(record));
}

/** Every NameNode's record; a value that is not a record is CORRUPT_LOG (it would hide a node). */
export async function listImages(client: EtcdClient, prefix: string): Promise<ImageRecord[]> {
  const keys = haKeys(prefix);
  const res = await client.range(keys.imagePrefix, { prefix: true });
  return res.kvs.map((kv) => parseImageRecord(kv.key.toString(), kv.value));
}

export function parseImageRecord(key: string, value: Buffer): ImageRecord {
  let r: Partial<ImageRecord>;
  try {
    r = JSON.parse(value.toString()) as Partial<ImageRecord>;
  } catch {
    r = {};
  }
  if (
    typeof r.nodeId !== 'string' ||
    !Number.isSafeInteger(r.txid) ||
    (r.txid ?? -1) < 0 ||
    typeof r.sha256 !== 'string' ||
    typeof r.clusterId !== 'string'
  )
    throw new DfsError('CORRUPT_LOG', `etcd image record ${key} is not a NameNode's image record`);
  return r as ImageRecord;
}

/** The newest image some other NameNode serves, at or below `maxTxid`, or null. */
export function newestPeerImage(
  records: readonly ImageRecord[],
  selfId: string,
  maxTxid = Number.MAX_SAFE_INTEGER,
): ImageRecord | null {
  let best: ImageRecord | null = null;
  for (const r of records)
    if (
      r.nodeId !== selfId &&
      r.httpAddress !== undefined &&
      r.txid <= maxTxid &&
      (best === null || r.txid > best.txid)
    )
      best = r;
  return best;
}
