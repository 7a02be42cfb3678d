/**
 * Leases: a file open for writing belongs to one client name. Each holder has one lease
 * covering all its open files; `renew` refreshes it. A lease not renewed within
 * `leaseLimitMs` expires and the NameNode recovers its files (block-recovery.ts), taking
 * their lease for itself while it does (`takeForRecovery`). Leases are not logged: after a
 * restart, every file still open in the namespace gets a fresh lease for its holder, as in
 * HDFS.
 *
 * Files are tracked by node, not path, so renames need no bookkeeping here.
 */
import type { Clock } from '../common/clock.js';
import type { BlockMeta, FileNode, INode } from './inode.js';
import type { NamespaceListener } from './namespace.js';

interface Lease {
  renewedMs: number;
  files: Set<FileNode>;
}

export class LeaseManager implements NamespaceListener {
  private readonly leases = new Map<string, Lease>();
  /** Files whose lease the NameNode took for a block recovery, with when it took it (last). */
  private readonly recovering = new Map<FileNode, number>();

  constructor(
    private readonly clock: Clock,
    private readonly leaseLimitMs: number,
  ) {}

  get size(): number {
    return this.leases.size;
  }

  /** At start-up: a lease for every file under `root` still open for writing (its holder's clock starts now). */
  reopenAll(root: INode): void {
    const stack: INode[] = [root];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (n.kind === 'dir') for (const c of n.children.values()) stack.push(c);
      else if (n.clientName !== null) this.fileOpened(n);
    }
  }

  fileOpened(file: FileNode): void {
    const holder = file.clientName!;
    let lease = this.leases.get(holder);
    if (lease === undefined) {
      lease = { renewedMs: this.clock.nowMs(), files: new Set() };
      this.leases.set(holder, lease);
    }
    lease.renewedMs = this.clock.nowMs();
    lease.files.add(file);
  }

  fileClosed(file: FileNode, clientName: string): void {
    this.drop(clientName, file);
    this.endRecovery(file);
  }

  fileRemoved(file: FileNode): void {
    if (file.clientName !== null) this.drop(file.clientName, file);
    this.endRecovery(file);
  }

  /**
   * The NameNode takes `file`'s lease for a block recovery (HDFS `internalReleaseLease`):
   * from now on its writer's calls on the file are refused (NO_LEASE, Namespace
   * fileUnderConstruction) and its renewals no longer keep the file; the file comes back
   * from `expiredFiles` one lease period later, for a retry if the recovery has not ended.
   */
  takeForRecovery(file: FileNode): void {
    if (file.clientName !== null) this.drop(file.clientName, file);
    file.recovering = true;
    this.recovering.set(file, this.clock.nowMs());
  }

  private endRecovery(file: FileNode): void {
    if (!this.recovering.delete(file)) return;
    file.recovering = false;
  }

  blocksRemoved(_blocks: readonly BlockMeta[]): void {}

  private drop(holder: string, file: FileNode): void {
    const lease = this.leases.get(holder);
    if (lease === undefined) return;
    lease.files.delete(file);
    if (lease.files.size === 0) this.leases.delete(holder);
  }

  /** Refreshes the holder's lease; false when it holds none (nothing open, or recovered). */
  renew(holder: string): boolean {
    const lease = this.leases.get(holder);
    if (lease === undefined) return false;
    lease.renewedMs = this.clock.nowMs();
    return true;
  }

  isExpired(holder: string): boolean {
    const lease = this.leases.get(holder);
    return lease === undefined || this.clock.nowMs() - lease.renewedMs > this.leaseLimitMs;
  }

  /** Files whose holder's lease has expired, oldest lease first, then recoveries due a retry. */
  expiredFiles(): FileNode[] {
    const now = this.clock.nowMs();
    const out: FileNode[] = [];
    for (const lease of this.leases.values()) {
      if (now - lease.renewedMs > this.leaseLimitMs) out.push(...lease.files);
    }
    for (const [file, takenMs] of this.recovering) if (now - takenMs > this.leaseLimitMs) out.push(file);
    return out;
  }
}
