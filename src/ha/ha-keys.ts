/**
 * Where a DFS cluster's HA state lives in etcd, under one prefix per cluster (so several
 * clusters can share an etcd), written by election.ts and etcd-journal.ts:
 *
 *   <prefix>leader                      the active NameNode's record (JSON), bound to its lease;
 *                                       its create revision is the active's epoch
 *   <prefix>handover                    the NameNode id a graceful hand-over names (`dfs admin
 *                                       ha failover --to`), bound to a lease of one TTL: while
 *                                       it exists, only that NameNode may take the leader key
 *   <prefix>journal/head                the last txid written to the journal (decimal)
 *   <prefix>journal/batch/<firstTxid>   one batch of edit records, firstTxid as 16 zero-padded
 *                                       digits so key order is txid order (its encoding:
 *                                       etcd-journal.ts)
 *   <prefix>images/<nodeId>             the newest checkpoint image that NameNode holds (JSON,
 *                                       image-registry.ts); the journal is purged below the
 *                                       oldest of them (journal-purge.ts)
 */
import { DfsError } from '../../protocol/errors.js';

export interface HaKeys {
  readonly prefix: string;
  readonly leader: string;
  readonly handover: string;
  readonly head: string;
  readonly batchPrefix: string;
  readonly imagePrefix: string;
  image(nodeId: string): string;
  batch(firstTxid: number): string;
  /** The first txid of a batch key; CORRUPT_LOG for another key under the batch prefix. */
  batchTxid(key: string): number;
}

export function haKeys(prefix: string): HaKeys {
  const p = prefix.endsWith('/') ? prefix : `${prefix}/`;
  const batchPrefix = `${p}journal/batch/`;
  return {
    prefix: p,
    leader: `${p}leader`,
    handover: `${p}handover`,
    head: `${p}journal/head`,
    batchPrefix,
    imagePrefix: `${p}images/`,
    image: (nodeId) => `${p}images/${nodeId}`,
    batch: (firstTxid) => `${batchPrefix}${String(firstTxid).padStart(16, '0')}`,
    batchTxid: (key) => {
      const digits = key.slice(batchPrefix.length);
      if (!key.startsWith(batchPrefix) || !/^\d{16}$/.test(digits))
        throw new DfsError('CORRUPT_LOG', `etcd journal: ${key} is not a batch key`);
      return Number(digits);
    },
  };
}
