/**
 * What the receiver and sender of one connection need from their DataNode, so they do not
 * depend on the whole daemon (and tests can see the seams). State that every transfer of
 * one DataNode shares lives here, owned by that DataNode, never at module level: two
 * DataNodes in one process (tests, the benchmark's rigs) must not see each other's writes.
 */
import { assert, DfsError } from '../../protocol/errors.js';
import type { Block, DatanodeInfo } from '../../protocol/shared-structures.js';
import type { DataNodeConfig } from '../common/config.js';
import type { FaultInjector } from '../common/fault-injector.js';
import type { FileSync } from '../common/file-sync.js';
import type { Logger } from '../common/logger.js';
import type { DatanodeMetrics } from './datanode-metrics.js';
import type { Replica, Storage, Volume } from './storage.js';

/** Where the read and write paths send the disk errors they hit (volume-monitor.ts acts on them). */
export interface DiskErrors {
  /** A read of `r`'s files failed: drops and reports a vanished replica; returns the error to answer with. */
  replicaUnreadable(r: Replica, err: unknown): DfsError;
  /** An I/O error on `v` while writing or reading: checks the volume unless the error says nothing of it. */
  ioError(v: Volume, err: unknown): void;
}

export interface DataNodeContext {
  config: DataNodeConfig;
  storage: Storage;
  log: Logger;
  self: () => DatanodeInfo;
  /** Queues an incremental block report to the NameNode. */
  blockReceived: (block: Block) => void;
  faults: FaultInjector;
  /** Every fdatasync of a replica goes through here (src/common/file-sync.ts). */
  sync: FileSync;
  disk: DiskErrors;
  /** Reads, writes and copies under way (reported in heartbeats as the node's load). */
  transfers: TransferCount;
  /** Replicas being written here, and the teardowns of failed writes still closing files. */
  writes: WritesInProgress;
  /** Counters and timings for /metrics (datanode-metrics.ts). */
  metrics: DatanodeMetrics;
}

/** Counts transfers; each `begin` hands back the one function that ends it, exactly once. */
export class TransferCount {
  private count = 0;

  get active(): number {
    return this.count;
  }

  begin(): () => void {
    this.count++;
    let ended = false;
    return () => {
      assert(!ended, 'a transfer ended twice');
      ended = true;
      assert(this.count > 0, 'more transfers ended than begun');
      this.count--;
    };
  }
}

/** A writer of a replica, as the writes table knows it. */
export interface WriteOwner {
  /** Stops writing at once (a recovery of the block is taking over); tears the writer down. */
  stopForRecovery(): void;
}

/**
 * Per block: the writer that owns its rbw replica now, and the teardown of a failed writer
 * still settling (its last writes completing, its files closing). A WRITE_BLOCK for a
 * block another pipeline is writing is refused; a recovery stops the writer still
 * registered and waits for the settling teardown, so it never truncates a file under a
 * write still in flight.
 */
export class WritesInProgress {
  private readonly owners = new Map<number, WriteOwner>();
  private readonly settling = new Map<number, Promise<void>>();
  /** Block recoveries under way here: block id -> the newest recovery id seen (replica-recovery.ts). */
  private readonly recoveries = new Map<number, number>();

  /**
   * A block recovery with `recoveryId` takes the block; one not newer than the newest seen
   * for it is refused (a newer recovery wins, HDFS `initReplicaRecovery`).
   */
  beginRecovery(blockId: number, recoveryId: number): void {
    const current = this.recoveries.get(blockId);
    if (current !== undefined && current >= recoveryId)
      throw new DfsError(
        'STALE_GENERATION',
        `recovery ${recoveryId} of block ${blockId} is not newer than recovery ${current} under way`,
      );
    this.recoveries.set(blockId, recoveryId);
  }

  /** The newest recovery id seen for the block, or undefined when none is under way. */
  recoveryOf(blockId: number): number | undefined {
    return this.recoveries.get(blockId);
  }

  /** The recovery finished here (the replica now carries its id as its stamp) or the replica went. */
  endRecovery(blockId: number, recoveryId: number): void {
    if (this.recoveries.get(blockId) === recoveryId) this.recoveries.delete(blockId);
  }

  isWriting(blockId: number): boolean {
    return this.owners.has(blockId);
  }

  /** Callers check `isWriting` first, with no await in between: a second claim is a bug. */
  claim(blockId: number, owner: WriteOwner): void {
    assert(!this.owners.has(blockId), `block ${blockId} claimed twice`);
    this.owners.set(blockId, owner);
  }

  /** Lets go of the block if `owner` holds it (a refused writer never held it). */
  release(blockId: number, owner: WriteOwner): void {
    if (this.owners.get(blockId) === owner) this.owners.delete(blockId);
  }

  /** Stops the writer holding the block, if any; its teardown releases the claim. */
  stopWriter(blockId: number): void {
    this.owners.get(blockId)?.stopForRecovery();
  }

  /** Records a failed writer's teardown; `settled` resolves once its files are closed. */
  settle(blockId: number, settled: Promise<void>): void {
    this.settling.set(blockId, settled);
    void settled.then(() => {
      if (this.settling.get(blockId) === settled) this.settling.delete(blockId);
    });
  }

  /** Resolves once no teardown of this block is in progress. */
  settled(blockId: number): Promise<void> {
    return this.settling.get(blockId) ?? Promise.resolve();
  }
}
