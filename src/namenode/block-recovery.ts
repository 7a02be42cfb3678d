/**
 * Block recovery, the NameNode's half (HDFS `FSNamesystem.internalReleaseLease`,
 * `initializeBlockRecovery`, `commitBlockSynchronization`): a file whose writer's lease
 * expired is closed at the length its last block's replicas all hold, so the bytes the
 * pipeline acknowledged survive their writer.
 *
 *   lease expired ──> new recovery id (a generation stamp, logged: SET_GEN_STAMP, durable
 *   before the command goes out) ──> RECOVER_BLOCK to a primary among the live nodes that
 *   may hold a replica ──> the primary syncs the replicas (src/datanode/block-recovery.ts)
 *   ──> commitBlockSynchronization ──> COMMIT_BLOCK_SYNC logged (last block's stamp and
 *   length, file closed), answered once durable; its nodes are the block's replicas, the
 *   other candidates' copies are stale and deleted.
 *
 * Decision table, per lease check, for an expired file:
 *
 *   | last block                                  | action                                   |
 *   |---------------------------------------------|------------------------------------------|
 *   | none                                        | close the file (no recovery needed)      |
 *   | recovery under way, within the timeout      | wait                                     |
 *   | no live node may hold a replica             | drop it: close at the previous block     |
 *   | recovery attempts used up                   | drop it (or keep a finalized length)     |
 *   | otherwise                                   | start a recovery (a new id, the next     |
 *   |                                             | primary not tried yet when there is one) |
 *
 * A commit whose id is not the block's current recovery is refused (STALE_GENERATION): a
 * newer recovery wins. One that repeats the commit already applied is answered again.
 * Recoveries are not persisted: after a NameNode restart the lease expires again and a
 * new recovery starts with a newer id, which the DataNodes accept over the old one.
 */
import { DfsError } from '../../protocol/errors.js';
import { CommandType } from '../../protocol/datanode-namenode-messages.js';
import type { CommitBlockSynchronizationRequest } from '../../protocol/datanode-namenode-messages.js';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import type { BlockManager } from './block-manager.js';
import type { Journal } from './journal.js';
import { NONE, type EditOp } from './edit-ops.js';
import { pathOf, type BlockMeta, type FileNode } from './inode.js';
import { NO_EVENTS, type NotableEvents } from './event-ring.js';
import type { Namespace, NamespaceListener } from './namespace.js';

/** Recovery attempts of one block before its last block is dropped. */
export const RECOVERY_ATTEMPTS_MAX = 5;

interface Attempt {
  file: FileNode;
  recoveryId: number;
  primary: string;
  /** Primaries tried so far, so a retry goes to another node when there is one. */
  tried: Set<string>;
  attempts: number;
  deadlineMs: number;
}

export interface BlockRecoveryContext {
  namespace: Namespace;
  editLog: () => Journal;
  blocks: BlockManager;
  clock: Clock;
  logger: Logger;
  timeoutMs: number;
  afterLogged: () => void;
  /** Closes an abandoned file without a block recovery (the last block kept only at a finalized length). */
  closeWithoutRecovery: (path: string, file: FileNode) => void;
}

export class BlockRecovery implements NamespaceListener {
  /** Recoveries under way, by block id. */
  private readonly attempts = new Map<number, Attempt>();
  /** The NameNode's recent-events ring (event-ring.ts). */
  notable: NotableEvents = NO_EVENTS;

  constructor(private readonly ctx: BlockRecoveryContext) {}

  /** Recoveries under way (for tests and metrics). */
  get inProgress(): number {
    return this.attempts.size;
  }

  /** An expired lease on `file`: see the decision table in the header. */
  leaseExpired(path: string, file: FileNode): void {
    const last = file.lastBlock;
    if (last === undefined) return this.ctx.closeWithoutRecovery(path, file);
    const now = this.ctx.clock.nowMs();
    let attempt = this.attempts.get(last.blockId);
    if (attempt !== undefined && attempt.file !== file) {
      this.attempts.delete(last.blockId);
      attempt = undefined;
    }
    if (attempt !== undefined && now < attempt.deadlineMs) return;
    const log = this.ctx.logger;
    const candidates = this.ctx.blocks.recoveryCandidates(last.blockId);
    if (candidates.length === 0 || (attempt?.attempts ?? 0) >= RECOVERY_ATTEMPTS_MAX) {
      this.attempts.delete(last.blockId);
      log.warn(
        { path, block: last.blockId, attempts: attempt?.attempts ?? 0, liveHolders: candidates.length },
        candidates.length === 0
          ? 'block recovery impossible: no live DataNode holds the last block; dropping it'
          : 'block recovery gave up; dropping the last block',
      );
      return this.ctx.closeWithoutRecovery(path, file);
    }
    const tried = attempt?.tried ?? new Set<string>();
    const primary =
      candidates.find((c) => !tried.has(c.nodeId)) ??
      candidates[(attempt?.attempts ?? 0) % candidates.length]!;
    tried.add(primary.nodeId);
    const recoveryId = this.ctx.namespace.allocateGenStamp();
    const op: EditOp = { op: 'setGenStamp', genStamp: recoveryId };
    this.ctx.namespace.apply(op);
    const next: Attempt = {
      file,
      recoveryId,
      primary: primary.nodeId,
      tried,
      attempts: (attempt?.attempts ?? 0) + 1,
      deadlineMs: now + this.ctx.timeoutMs,
    };
    this.attempts.set(last.blockId, next);
    log.info(
      {
        path,
        block: last.blockId,
        gen: last.genStamp,
        recoveryId,
        primary: primary.nodeId,
        nodes: candidates.map((c) => c.nodeId),
        attempt: next.attempts,
      },
      'lease expired; block recovery started',
    );
    this.notable.record('block-recovery', `block recovery of blk_${last.blockId} (${path}) started`);
    // The command goes out only once the recovery id is durable: a NameNode restarted
    // after a crash never hands out the same id again.
    this.ctx.editLog().append(op, (err) => {
      if (err || this.attempts.get(last.blockId) !== next) return;
      this.ctx.blocks.registry.queueRecovery(primary.nodeId, {
        type: CommandType.RECOVER_BLOCK,
        blocks: [{ blockId: last.blockId, genStamp: recoveryId, numBytes: 0 }],
        targets: candidates,
      });
    });
    this.ctx.afterLogged();
  }

  /**
   * The primary's outcome. Applies COMMIT_BLOCK_SYNC (or drops the block when no replica
   * had data) and calls `answer` once it is durable.
   */
  commit(req: CommitBlockSynchronizationRequest, answer: (err: Error | null) => void): void {
    const { blockId, genStamp, numBytes } = req.block;
    const attempt = this.attempts.get(blockId);
    const entry = this.ctx.blocks.map.entry(blockId);
    if (attempt === undefined || attempt.recoveryId !== genStamp || entry === undefined) {
      // The same commit again (its answer was lost): the block already is what it says.
      if (entry !== undefined && entry.file.clientName === null && entry.meta.genStamp === genStamp)
        return answer(null);
      throw new DfsError(
        'STALE_GENERATION',
        `recovery ${genStamp} of block ${blockId} is not the current one` +
          (attempt === undefined ? '' : ` (${attempt.recoveryId})`),
      );
    }
    const file = attempt.file;
    const path = pathOf(file);
    const candidates = [...entry.replicas, ...(entry.unfinished ?? [])];
    const drop = req.nodes.length === 0 || numBytes === 0;
    const op: EditOp = drop
      ? {
          op: 'closeFile',
          path,
          keepBlocks: file.blockCount - 1,
          lastNumBytes: NONE,
          mtimeMs: this.ctx.clock.nowMs(),
        }
      : { op: 'commitBlockSync', path, blockId, genStamp, numBytes, mtimeMs: this.ctx.clock.nowMs() };
    this.ctx.namespace.apply(op);
    this.attempts.delete(blockId);
    if (!drop) this.ctx.blocks.blockRecovered(blockId, req.nodes, candidates);
    this.ctx.logger.info(
      { path, block: blockId, gen: genStamp, length: numBytes, nodes: req.nodes, primary: req.nodeId },
      drop
        ? 'block recovery found no data; last block dropped, file closed'
        : 'block recovery committed; file closed',
    );
    this.notable.record(
      'block-recovery',
      `block recovery of blk_${blockId} (${path}) ${drop ? 'found no data; block dropped' : `committed at ${numBytes} bytes`}`,
    );
    this.ctx.editLog().append(op, answer);
    this.ctx.afterLogged();
  }

  // ---- namespace events: a file closed or gone another way needs no recovery ----------

  fileOpened(): void {}

  fileClosed(file: FileNode): void {
    this.forget(file.blocks);
  }

  fileRemoved(file: FileNode): void {
    this.forget(file.blocks);
  }

  blocksRemoved(blocks: readonly BlockMeta[]): void {
    this.forget(blocks);
  }

  private forget(blocks: readonly BlockMeta[]): void {
    if (this.attempts.size === 0) return;
    const last = blocks[blocks.length - 1];
    if (last !== undefined) this.attempts.delete(last.blockId);
  }
}
