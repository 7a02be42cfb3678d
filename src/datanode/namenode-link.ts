/**
 * The DataNode's conversation with its NameNode (HDFS `BPServiceActor`): learn the cluster
 * id on first contact, register, send a full block report, then heartbeat every
 * `heartbeatIntervalMs` (and at once when the NameNode sends COMMANDS_PENDING) and carry
 * out the commands that come back; report each new or
 * deleted replica right away (batched per tick). If the NameNode goes away, reconnect with
 * exponential backoff and register again; the NameNode asks for that itself (REREGISTER)
 * when it restarted and no longer knows us.
 *
 * A NameNode of another cluster is fatal: `onFatal` stops the DataNode with the reason.
 *
 * Every register and heartbeat answer carries the NameNode's HA epoch; the commands of an
 * answer pass through the DataNode's one epoch fence (namenode-epoch.ts), shared by the links
 * to every NameNode, so a deposed active's late commands are dropped.
 *
 * An unreachable NameNode (a wrong address, a placeholder host, a NameNode not started
 * yet) is logged at warn with the reason on the first failed attempt, then again with a
 * gap that doubles from WARN_GAP_MIN_MS to WARN_GAP_MAX_MS (each line counts the attempts
 * and how long it has failed); the retries in between log at debug. The registration that
 * ends it says how many attempts failed and for how long.
 */
import { DfsError, rethrowIfBug } from '../../protocol/errors.js';
import { Role } from '../../protocol/handshake.js';
import { CommandType, type DatanodeCommand } from '../../protocol/datanode-namenode-messages.js';
import type { Block, DatanodeInfo } from '../../protocol/shared-structures.js';
import { transferBlock, type TransferFailure } from './block-transfer.js';
import { recoverBlock } from './block-recovery.js';
import { parseHostPort, DEFAULT_NAMENODE_PORT } from '../common/config.js';
import type { Logger } from '../common/logger.js';
import { RpcConnection } from '../common/rpc-connection.js';
import type { DataNodeContext } from './datanode-context.js';
import type { NamenodeEpoch } from './namenode-epoch.js';

const BACKOFF_MIN_MS = 200;
const BACKOFF_MAX_MS = 10_000;
const WARN_GAP_MIN_MS = 2_000;
const WARN_GAP_MAX_MS = 60_000;

export class NamenodeLink {
  private rpc: RpcConnection;
  private registered = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private backoffMs = BACKOFF_MIN_MS;
  private received: Block[] = [];
  private deleted: number[] = [];
  private reportScheduled = false;
  /** A tick (register, report, heartbeat) is under way; `again`: a notice came during it. */
  private ticking = false;
  private again = false;
  private lastFullReportMs = 0;
  /** Failed attempts since the NameNode last answered a registration, and the warn line schedule. */
  private failures = 0;
  private failingSinceMs = 0;
  private nextWarnMs = 0;
  private warnGapMs = WARN_GAP_MIN_MS;
  private readonly log: Logger;
  private readonly address: string;

  constructor(
    private readonly dn: DataNodeContext,
    private readonly onFatal: (err: Error) => void,
    /** The node's HTTP port for WebHDFS redirects (0: HTTP off), told at each registration. */
    private readonly httpPort: () => number = () => 0,
    /** The NameNode's "HOST:PORT" (default: the configured `namenode`; namenode-links.ts passes each of a list). */
    address: string,
    /** The highest NameNode epoch seen, shared by every link (namenode-links.ts). */
    private readonly epochs: NamenodeEpoch,
  ) {
    const { host, port } = parseHostPort(address, DEFAULT_NAMENODE_PORT);
    this.rpc = new RpcConnection({
      host,
      port,
      role: Role.DATANODE,
      requestTimeoutMs: 30_000,
      connectTimeoutMs: 5_000,
      onNotice: () => this.heartbeatNow(),
    });
    this.address = `${host}:${port}`;
    this.log = dn.log.child({ namenode: this.address });
  }

  start(): void {
    this.schedule(0);
  }

  /**
   * Tells the NameNode this node is stopping (unregister), so its replicas are copied
   * elsewhere now rather than after the dead-node timeout. Bounded by `timeoutMs`; a
   * NameNode that does not answer in time falls back on that timeout. Call before `stop`.
   */
  async unregister(timeoutMs: number): Promise<void> {
    if (!this.registered || this.stopped) return;
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      const outcome = await Promise.race([
        this.rpc.call('unregister', { nodeId: this.dn.storage.nodeId }).then(() => 'done' as const),
        gaveUp,
      ]);
      if (outcome === 'done') this.log.info('unregistered from the NameNode');
      else this.log.warn({ timeoutMs }, 'the NameNode did not answer unregister in time');
    } catch (err) {
      rethrowIfBug(err);
      this.log.warn({ err: (err as Error).message }, 'could not unregister from the NameNode');
    } finally {
      clearTimeout(timer);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.rpc.close();
  }

  get isRegistered(): boolean {
    return this.registered;
  }

  blockReceived(b: Block): void {
    this.received.push(b);
    this.scheduleIncremental();
  }

  /** Tells the NameNode our replica of `b` is corrupt (scanner). */
  async reportBad(b: Block): Promise<void> {
    await this.rpc.call('reportBadBlocks', { replicas: [{ block: b, nodeId: this.dn.storage.nodeId }] });
  }

  blockDeleted(blockId: number): void {
    this.deleted.push(blockId);
    this.scheduleIncremental();
  }

  private scheduleIncremental(): void {
    if (this.reportScheduled || !this.registered) return;
    this.reportScheduled = true;
    setImmediate(() => {
      this.reportScheduled = false;
      if (!this.registered || (this.received.length === 0 && this.deleted.length === 0)) return;
      const received = this.received.splice(0);
      const deleted = this.deleted.splice(0);
      this.rpc
        .call('blockReceived', { nodeId: this.dn.storage.nodeId, received, deleted })
        .catch((err: Error) => {
          rethrowIfBug(err);
          // Not lost: the full report at the next registration carries it.
          this.log.warn({ err: err.message }, 'incremental block report failed');
        });
    });
  }

  /** The NameNode has commands for us: heartbeat now (after the one under way, if any). */
  private heartbeatNow(): void {
    if (this.ticking) this.again = true;
    else if (this.registered) this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    this.ticking = true;
    this.again = false;
    try {
      if (!this.registered) await this.register();
      const due = Date.now() - this.lastFullReportMs >= this.dn.config.blockReportIntervalMs;
      if (due) await this.fullReport();
      if (!this.dn.faults.dropHeartbeats) await this.heartbeat();
      this.backoffMs = BACKOFF_MIN_MS;
      this.schedule(this.again ? 0 : this.dn.config.heartbeatIntervalMs);
    } catch (err) {
      rethrowIfBug(err);
      if (this.stopped) return;
      if (err instanceof DfsError && err.code === 'WRONG_CLUSTER') {
        this.onFatal(err);
        return;
      }
      this.noteFailure(err as Error);
      this.registered = false;
      this.schedule(this.backoffMs);
      this.backoffMs = Math.min(BACKOFF_MAX_MS, this.backoffMs * 2);
    } finally {
      this.ticking = false;
    }
  }

  /** Warns with the reason at the first failure, then with a doubling gap; debug in between. */
  private noteFailure(err: Error): void {
    const now = Date.now();
    if (this.failures === 0) {
      this.failingSinceMs = now;
      this.nextWarnMs = now;
      this.warnGapMs = WARN_GAP_MIN_MS;
    }
    this.failures++;
    const fields = {
      err: err.message,
      code: err instanceof DfsError ? err.code : undefined,
      attempts: this.failures,
      failingForMs: now - this.failingSinceMs,
      retryMs: this.backoffMs,
    };
    if (now < this.nextWarnMs) {
      this.log.debug(fields, 'NameNode still not reachable');
      return;
    }
    this.log.warn(
      fields,
      this.registered ? 'lost contact with the NameNode; retrying' : 'cannot reach the NameNode; retrying',
    );
    this.nextWarnMs = now + this.warnGapMs;
    this.warnGapMs = Math.min(WARN_GAP_MAX_MS, this.warnGapMs * 2);
  }

  private async register(): Promise<void> {
    const info = await this.rpc.call('serverInfo', {});
    await this.dn.storage.adoptCluster(info.clusterId);
    const self = this.dn.self();
    const { epoch } = await this.rpc.call('register', {
      clusterId: this.dn.storage.clusterId,
      nodeId: self.nodeId,
      host: self.host,
      port: self.port,
      httpPort: this.httpPort(),
      ...this.dn.storage.report(),
    });
    await this.epochs.admit(epoch, [], this.address);
    this.registered = true;
    this.lastFullReportMs = 0;
    this.received = [];
    this.deleted = [];
    const after =
      this.failures === 0
        ? {}
        : { failedAttempts: this.failures, unreachableMs: Date.now() - this.failingSinceMs };
    this.failures = 0;
    this.log.info(
      { nodeId: self.nodeId, clusterId: info.clusterId, ...after },
      'registered with the NameNode',
    );
  }

  private async fullReport(): Promise<void> {
    const blocks = this.dn.storage.finalizedBlocks();
    const unfinished = this.dn.storage.unfinishedBlocks();
    await this.rpc.call('blockReport', { nodeId: this.dn.storage.nodeId, blocks, unfinished });
    this.lastFullReportMs = Date.now();
    this.log.info({ blocks: blocks.length, unfinished: unfinished.length }, 'full block report sent');
  }

  private async heartbeat(): Promise<void> {
    const sent = performance.now();
    const { epoch, commands } = await this.rpc.call('heartbeat', {
      nodeId: this.dn.storage.nodeId,
      activeTransfers: this.dn.transfers.active,
      ...this.dn.storage.report(),
      volumes: this.dn.storage.volumeReports(),
    });
    this.dn.metrics.heartbeat((performance.now() - sent) / 1000);
    for (const c of await this.epochs.admit(epoch, commands, this.address)) await this.execute(c);
  }

  /**
   * Copies run in the background; the NameNode bounds how many it gives each node. A failed
   * one is reported (replicaCopyFailed), so the NameNode schedules it again elsewhere now
   * rather than after its pending-copy timeout.
   */
  private startTransfer(b: Block, targets: DatanodeInfo[]): void {
    const started = Date.now();
    const blame: TransferFailure = { failedTargets: [] };
    transferBlock(this.dn, b, targets, blame).then(
      () => {
        this.dn.metrics.blockCopied(b.numBytes, (Date.now() - started) / 1000);
        this.log.info(
          {
            block: b.blockId,
            targets: targets.map((t) => t.nodeId),
            ms: Date.now() - started,
            bytes: b.numBytes,
          },
          'replica copied',
        );
      },
      (err: Error) => {
        rethrowIfBug(err);
        this.log.warn(
          { block: b.blockId, targets: targets.map((t) => t.nodeId), err: err.message },
          'replica copy failed',
        );
        this.reportCopyFailed(b, blame.failedTargets, err);
      },
    );
  }

  /** Runs a block recovery as its primary in the background (block-recovery.ts); a failure is logged. */
  private startRecovery(b: Block, targets: DatanodeInfo[]): void {
    this.log.info(
      { block: b.blockId, recoveryId: b.genStamp, nodes: targets.map((t) => t.nodeId) },
      'block recovery: this node is the primary',
    );
    recoverBlock(this.dn, b, targets, (outcome) =>
      this.rpc
        .call('commitBlockSynchronization', { nodeId: this.dn.storage.nodeId, ...outcome })
        .then(() => {}),
    ).catch((err: Error) => {
      rethrowIfBug(err);
      this.log.warn({ block: b.blockId, recoveryId: b.genStamp, err: err.message }, 'block recovery failed');
    });
  }

  private reportCopyFailed(b: Block, failedTargets: string[], err: Error): void {
    if (!this.registered || this.stopped) return;
    const reason = (err instanceof DfsError ? `${err.code}: ${err.message}` : err.message).slice(0, 500);
    this.rpc
      .call('replicaCopyFailed', { nodeId: this.dn.storage.nodeId, block: b, failedTargets, reason })
      .catch((e: Error) => {
        rethrowIfBug(e);
        this.log.debug({ block: b.blockId, err: e.message }, 'could not report a failed replica copy');
      });
  }

  private async execute(c: DatanodeCommand): Promise<void> {
    switch (c.type) {
      case CommandType.REREGISTER:
        this.registered = false;
        await this.register();
        await this.fullReport();
        return;
      case CommandType.BLOCK_REPORT:
        await this.fullReport();
        return;
      case CommandType.DELETE_BLOCKS:
        for (const b of c.blocks) {
          // A replica being written here right now (a copy the NameNode scheduled, say) is
          // not deleted under its writer; if it is garbage, the next report says so again.
          if (this.dn.writes.isWriting(b.blockId)) continue;
          if (await this.dn.storage.delete(b.blockId, b.genStamp)) {
            this.log.info({ block: b.blockId, gen: b.genStamp }, 'replica deleted on NameNode request');
            this.blockDeleted(b.blockId);
            this.dn.metrics.blocksRemoved++;
          }
        }
        return;
      case CommandType.REPLICATE:
        for (const b of c.blocks) this.startTransfer(b, c.targets);
        return;
      case CommandType.RECOVER_BLOCK:
        for (const b of c.blocks) this.startRecovery(b, c.targets);
        return;
      default:
        this.log.warn({ type: c.type }, 'unknown command from the NameNode ignored');
    }
  }
}
