/**
 * A DataNode's links to every NameNode it is configured with (issue 14; HDFS's
 * `BPOfferService` with one `BPServiceActor` per NameNode): with HA NameNodes (`namenode:
 * "nn1:8020,nn2:8020"`) it registers, heartbeats and reports every replica to each, so a
 * standby knows every replica and can serve reads at once after it takes over. With one
 * NameNode this is that one link (namenode-link.ts), unchanged.
 *
 * A standby answers heartbeats without commands (src/namenode/datanode-rpc.ts), so commands
 * come from the active; the links share one epoch fence (namenode-epoch.ts), which drops the
 * commands of a deposed active that arrive late.
 */
import type { Block } from '../../protocol/shared-structures.js';
import type { DataNodeContext } from './datanode-context.js';
import { NamenodeEpoch } from './namenode-epoch.js';
import { NamenodeLink } from './namenode-link.js';

export class NamenodeLinks {
  private readonly links: NamenodeLink[];

  constructor(dn: DataNodeContext, onFatal: (err: Error) => void, httpPort: () => number) {
    const addresses = dn.config.namenode.split(',').filter((a) => a.trim() !== '');
    const epochs = new NamenodeEpoch(dn.storage, dn.log, (n) => (dn.metrics.fencedCommands += n));
    this.links = addresses.map((address) => new NamenodeLink(dn, onFatal, httpPort, address.trim(), epochs));
  }

  start(): void {
    for (const l of this.links) l.start();
  }

  /** Registered with at least one NameNode. */
  get isRegistered(): boolean {
    return this.links.some((l) => l.isRegistered);
  }

  async unregister(timeoutMs: number): Promise<void> {
    await Promise.all(this.links.map((l) => l.unregister(timeoutMs)));
  }

  stop(): void {
    for (const l of this.links) l.stop();
  }

  blockReceived(b: Block): void {
    for (const l of this.links) l.blockReceived(b);
  }

  blockDeleted(blockId: number): void {
    for (const l of this.links) l.blockDeleted(blockId);
  }

  /** To each NameNode: a standby refuses it (STANDBY), the active marks the replica. */
  async reportBad(b: Block): Promise<void> {
    const results = await Promise.allSettled(this.links.map((l) => l.reportBad(b)));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length === results.length) throw failed[0]!.reason;
  }
}
