/**
 * The alarm before etcd's database fills (issue 14). etcd refuses every write once its
 * database reaches its quota (`--quota-backend-bytes`, 2 GiB by default) until an operator
 * compacts, defragments and disarms the alarm; for DFS that is a cluster that can change
 * nothing. So each HA NameNode asks its etcd member for the database size every
 * `intervalMs` (maintenance status), exposes it beside the quota as metrics
 * (`dfs_namenode_etcd_db_size_bytes`, `dfs_namenode_etcd_db_quota_bytes`), and logs a
 * warning while the size is at or above `warnRatio` of the quota (80%), at most once a
 * minute. etcd 3.4 does not report its quota, so it is configured (`haEtcdQuotaBytes`, set it
 * to the members' `--quota-backend-bytes`).
 */
import { rethrowIfBug } from '../../protocol/errors.js';
import type { Logger } from '../common/logger.js';
import type { EtcdClient } from './etcd-client.js';

export const QUOTA_WARN_RATIO = 0.8;
const WARN_EVERY_MS = 60_000;

export class EtcdQuotaMonitor {
  /** The last database size seen, bytes (0 before the first answer). */
  dbSizeBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private lastWarnMs = -Infinity;

  constructor(
    private readonly client: EtcdClient,
    readonly quotaBytes: number,
    private readonly log: Logger,
    private readonly intervalMs = 10_000,
    readonly warnRatio = QUOTA_WARN_RATIO,
  ) {}

  start(): void {
    void this.check();
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  async check(): Promise<void> {
    try {
      this.dbSizeBytes = (await this.client.status()).dbSizeBytes;
    } catch (err) {
      rethrowIfBug(err);
      return; // etcd unreachable: the journal and the election say so louder
    }
    if (this.dbSizeBytes < this.quotaBytes * this.warnRatio) return;
    const now = Date.now();
    if (now - this.lastWarnMs < WARN_EVERY_MS) return;
    this.lastWarnMs = now;
    this.log.warn(
      {
        dbSizeBytes: this.dbSizeBytes,
        quotaBytes: this.quotaBytes,
        percent: Math.round((100 * this.dbSizeBytes) / this.quotaBytes),
      },
      'etcd database nears its quota: writes stop when it is full (check that images are written and the journal purged; compact and defragment etcd)',
    );
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
  }
}
