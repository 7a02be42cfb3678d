/**
 * The NameNode process: loads the name directory, opens the edit log, serves client RPCs,
 * recovers expired leases, checkpoints periodically, and shuts down cleanly (stop
 * listening, flush the log, release the directory). It never touches file bytes.
 *
 * A failed edit-log write is fatal (memory would be ahead of the disk): the NameNode logs
 * it and stops, and `fatal` resolves so the process can exit non-zero.
 *
 * With `journal: "etcd"` (HA, issue 14) ha-node.ts adds the standby and active roles: the
 * NameNode starts as a standby that answers every RPC with STANDBY, and serves only while
 * it is the active; losing that is fatal in the same way.
 */
import { isNamenodeOpcode } from '../../protocol/namenode-messages.js';
import { Role } from '../../protocol/handshake.js';
import { initChecksum } from '../common/checksum.js';
import { systemClock, type Clock } from '../common/clock.js';
import type { NameNodeConfig } from '../common/config.js';
import { FrameServer } from '../common/frame-server.js';
import type { Logger } from '../common/logger.js';
import { ClientRpc } from './client-rpc.js';
import { BlockManager } from './block-manager.js';
import { BlockRecovery } from './block-recovery.js';
import { DecommissionStore } from './decommission-store.js';
import { createDatanodeRpc } from './datanode-rpc.js';
import { withTurnBudget } from './datanode-turn-budget.js';
import { ReplicationMonitor } from './replication-monitor.js';
import { SafeMode } from './safe-mode.js';
import { EditLog } from './edit-log.js';
import type { Journal } from './journal.js';
import path from 'node:path';
import { imageFileName } from './fs-image.js';
import { ImageWriter } from './image-writer.js';
import { pathOf, type FileNode } from './inode.js';
import { LeaseManager } from './lease-manager.js';
import { TrashEmptier } from './trash-emptier.js';
import { collectGarbage } from '../common/collect-garbage.js';
import { loadNameDir, lockNameDir, purgeBefore, readVersion } from './name-dir.js';
import type { Namespace } from './namespace.js';
import { namenodeOwners } from './ownership.js';
import { UserGroups } from './user-groups.js';
import { DfsError, isDfsError, rethrowIfBug } from '../../protocol/errors.js';
import { faultsFromEnv } from '../common/fault-injector.js';
import { fileSyncWithFaults } from '../common/file-sync.js';
import { startDaemonHttp, type HttpExtension } from '../common/daemon-http.js';
import type { HttpServer } from '../common/http-server.js';
import { NamenodeMetrics } from './namenode-metrics.js';
import { addIsActiveRoute, haNodeFor, type HaNode } from './ha-node.js';
import { retryCacheFor } from './retry-cache.js';
import { addImageTransferRoute } from '../ha/image-transfer.js';
import { bootstrapIfUnformatted } from '../ha/image-sync.js';
import { StandbyReports } from './standby-reports.js';
import { WebUi } from './web-ui.js';

export const DFS_VERSION = '0.1.0';

export class NameNode {
  private readonly faults = faultsFromEnv();
  /** Every sync of the edit log and the images (src/common/file-sync.ts). */
  private readonly fileSync = fileSyncWithFaults(this.faults);
  /** The local edit log today; the seam where the etcd journal plugs in (journal.ts). */
  private editLog!: Journal;
  private server!: FrameServer;
  private namespace!: Namespace;
  private leases!: LeaseManager;
  private rpc!: ClientRpc;
  private recovery!: BlockRecovery;
  private unlock: () => void = () => {};
  private timers: NodeJS.Timeout[] = [];
  private txnsSinceCheckpoint = 0;
  private checkpointing: Promise<void> | null = null;
  private lastCheckpointMs = Date.now();
  private stopping: Promise<void> | null = null;
  /** A replication tick is queued for the end of this turn (replicationTickSoon). */
  private tickSoon = false;
  /** Open files whose lease recovery was refused for their path (warned once each). */
  private readonly unreachableLeaseFiles = new WeakSet<FileNode>();
  private fatalResolve!: (err: Error) => void;
  /** Resolves if the NameNode had to stop because its storage failed. */
  readonly fatal = new Promise<Error>((resolve) => (this.fatalResolve = resolve));
  clusterId = '';
  safeMode!: SafeMode;
  address = { host: '', port: 0 };
  private metrics!: NamenodeMetrics;
  private http: HttpServer | null = null;
  private web: WebUi | null = null;
  /** The standby/active role with `journal: "etcd"`; null with the local edit log. */
  private ha: HaNode | null = null;
  /** With HA: replica reports a standby holds until its journal reaches their blocks. */
  private standbyReports: StandbyReports | null = null;

  /** True unless this is an HA NameNode that is not the active (checked at the call: election.ts). */
  get serving(): boolean {
    return this.ha === null || this.ha.isActive;
  }

  /** The HTTP port bound (-1 with HTTP off). */
  get httpPort(): number {
    return this.http?.address.port ?? -1;
  }

  constructor(
    readonly config: NameNodeConfig,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
    /** Routes its launcher adds (WebHDFS), given this NameNode once it listens. */
    private readonly httpExtensions: ReadonlyArray<(nn: NameNode) => HttpExtension> = [],
  ) {}

  private extensions: HttpExtension[] = [];

  /** The RPC address its own HTTP routes reach it at ("HOST:PORT"; a wildcard listen as loopback). */
  get rpcAddress(): string {
    const h = this.config.advertiseHost || this.address.host;
    const host = h === '0.0.0.0' || h === '' ? '127.0.0.1' : h === '::' ? '::1' : h;
    return host.includes(':') ? `[${host}]:${this.address.port}` : `${host}:${this.address.port}`;
  }

  /** Where a live DataNode serves HTTP (WebHDFS redirects there), or null (dead, unknown, HTTP off). */
  datanodeHttp(nodeId: string): { host: string; port: number } | null {
    const n = this.blocks.registry.getLive(nodeId);
    return n === undefined || n.httpPort === 0 ? null : { host: n.info.host, port: n.httpPort };
  }

  /** Every live, in-service DataNode serving HTTP. */
  liveDatanodesHttp(): Array<{ host: string; port: number }> {
    const registry = this.blocks.registry;
    const out: Array<{ host: string; port: number }> = [];
    for (const n of registry.all())
      if (n.httpPort !== 0 && registry.stateOf(n) === 'normal')
        out.push({ host: n.info.host, port: n.httpPort });
    return out;
  }

  private blocks!: BlockManager;
  replication!: ReplicationMonitor;

  async start(): Promise<void> {
    this.trashIntervals(); // a bad trash configuration stops the start before anything listens
    await initChecksum();
    const dir = this.config.nameDir;
    const owners = namenodeOwners(this.config);
    await bootstrapIfUnformatted(this.config, owners, this.fileSync, this.log);
    this.clusterId = readVersion(dir).clusterId;
    this.unlock = lockNameDir(dir);
    const started = Date.now();
    const retryCache = retryCacheFor(this.config, this.clock, this.faults);
    let state = await loadNameDir(dir, this.log, owners, retryCache);
    this.namespace = state.namespace;
    this.ha = haNodeFor(this.config, this.clusterId, {
      namespace: this.namespace,
      log: this.log.child({ component: 'ha' }),
      onApplied: (n) => {
        this.txnsSinceCheckpoint += n;
        this.standbyReports?.replay(false);
        if (this.txnsSinceCheckpoint >= this.config.checkpointTxns) this.maybeCheckpoint(false);
      },
      onPromoted: (journal) => {
        this.editLog = journal;
        this.standbyReports?.replay(true);
      },
      onFatal: (err) => this.onFatal(err),
      onFlush: (seconds, records) => this.metrics.journalFlushed(seconds, records),
      replayObserver: retryCache,
      nameDir: dir,
      sync: this.fileSync,
    });
    if (this.ha !== null) {
      state = await this.ha.catchUp(state, () => loadNameDir(dir, this.log, owners, retryCache));
      this.namespace = state.namespace;
    }
    this.log.info(
      {
        imageTxid: state.imageTxid,
        replayed: state.replayed,
        lastTxid: state.lastTxid,
        files: state.namespace.fileCount,
        ms: Date.now() - started,
      },
      'namespace loaded',
    );
    this.leases = new LeaseManager(this.clock, this.config.leaseLimitMs);
    this.namespace.addListener(this.leases);
    this.leases.reopenAll(this.namespace.root);
    this.blocks = new BlockManager(
      { deadNodeTimeoutMs: this.config.deadNodeTimeoutMs, minReplication: this.config.minReplication },
      this.clock,
      this.log,
    );
    this.blocks.indexNamespace(this.namespace);
    // Before serving: the image's bytes and the load's temporaries go now (collect-garbage.ts).
    this.log.info({ ms: Math.round(collectGarbage()) }, 'heap collected after loading the namespace');
    const decommissions = new DecommissionStore(dir);
    this.blocks.registry.restoreDecommissioned(decommissions.load());
    this.namespace.addListener(this.blocks);
    this.replication = new ReplicationMonitor(
      this.blocks,
      {
        transfersPerNodeMax: this.config.transfersPerNodeMax,
        pendingTimeoutMs: this.config.replicationPendingTimeoutMs,
        rescanIntervalMs: this.config.replicationRescanMs,
        scheduleMaxPerTick: 1000,
      },
      this.clock,
      this.log,
      () => this.replicationTickSoon(),
    );
    this.blocks.events = this.replication;
    this.safeMode = new SafeMode(
      this.blocks,
      {
        threshold: this.config.safeModeThreshold,
        extensionMs: this.config.safeModeExtensionMs,
        minReplication: this.config.minReplication,
      },
      this.clock,
      this.log,
    );
    this.safeMode.startup();
    if (this.ha !== null) this.standbyReports = new StandbyReports(this.blocks, this.log);
    this.metrics = this.createMetrics();
    this.editLog =
      this.ha?.standbyJournal ??
      (await EditLog.open(dir, state.lastTxid, (err) => this.onFatal(err), {
        log: this.log,
        slowSyncMs: this.config.slowIoWarnMs,
        skipTxidAt: this.faults.bugSkipTxidAt,
        sync: this.fileSync,
        onFlush: (seconds, records) => this.metrics.journalFlushed(seconds, records),
      }));
    this.txnsSinceCheckpoint = state.replayed;

    // What both the client RPCs and block recovery change the namespace with.
    const mutating = {
      namespace: this.namespace,
      editLog: () => this.editLog,
      blocks: this.blocks,
      clock: this.clock,
      logger: this.log,
      afterLogged: () => this.afterLogged(),
    };
    this.recovery = new BlockRecovery({
      ...mutating,
      timeoutMs: this.config.blockRecoveryTimeoutMs,
      closeWithoutRecovery: (p, file) => this.rpc.logRecovery(p, file),
    });
    this.namespace.addListener(this.recovery);
    const users = new UserGroups({
      ...owners,
      mappingFile: this.config.userGroupsFile,
      cacheMs: this.config.groupsCacheMs,
      logger: this.log,
    });
    this.rpc = new ClientRpc({
      ...mutating,
      leases: this.leases,
      datanodeRpc: withTurnBudget(
        createDatanodeRpc(
          this.blocks,
          () => this.clusterId,
          this.recovery,
          this.standbyReports === null
            ? undefined
            : { active: () => this.serving, epoch: () => this.ha!.epoch, reports: this.standbyReports },
        ),
        this.log,
      ),
      safeMode: this.safeMode,
      replication: this.replication,
      serverInfo: () => ({
        clusterId: this.clusterId,
        version: DFS_VERSION,
        safeMode: this.safeMode.on,
        lastTxid: this.editLog.lastWrittenTxid,
        fileCount: this.namespace.fileCount,
        directoryCount: this.namespace.dirCount,
        blockCount: this.namespace.blockCount,
        trashIntervalMs: this.config.trashIntervalMinutes * 60_000,
      }),
      users,
      saveDecommissioned: () => decommissions.save(this.blocks.registry.decommissionedNodes()),
      haAdmin: { ha: this.ha, lastTxid: () => this.editLog.lastWrittenTxid, log: this.log },
      recoverAbandoned: (p, file) => this.recovery.leaseExpired(p, file),
      refuse: (role, opcode) => this.ha?.refusal(role, opcode) ?? null,
      retryCache,
    });
    this.server = new FrameServer({
      host: this.config.host,
      port: this.config.port,
      bodyBytesMax: this.config.rpcBodyBytesMax,
      partialFrameBytesMax: this.config.partialFrameBytesMax,
      isKnownOpcode: isNamenodeOpcode,
      acceptRoles: new Set([Role.CLIENT, Role.ADMIN, Role.DATANODE]),
      connectionsMax: this.config.connectionsMax,
      inflightMax: this.config.inflightMax,
      handshakeTimeoutMs: this.config.handshakeTimeoutMs,
      frameTimeoutMs: this.config.frameTimeoutMs,
      logger: this.log,
      onFrame: (conn, frame) => {
        this.metrics.rpcStarted(conn, frame);
        this.rpc.handle(conn, frame);
      },
      onReply: (conn, answer) => this.metrics.rpcAnswered(conn, answer),
    });
    const web = (this.web = new WebUi({
      clusterId: () => this.clusterId,
      version: DFS_VERSION,
      clock: this.clock,
      namespace: () => this.namespace,
      blocks: this.blocks,
      replication: this.replication,
      safeMode: this.safeMode,
      recovery: this.recovery,
      lastTxid: () => this.editLog.lastWrittenTxid,
      checkpoint: () => ({ txnsSince: this.txnsSinceCheckpoint, lastMs: this.lastCheckpointMs }),
      deadNodeTimeoutMs: this.config.deadNodeTimeoutMs,
      users,
      rpcAddress: () => this.address,
    }));
    this.address = await this.server.listen();
    this.extensions = this.httpExtensions.map((make) => make(this));
    this.http = await startDaemonHttp(this.config, this.log, {
      registry: this.metrics.registry,
      readiness: () => ({ ready: !this.safeMode.on, detail: this.safeMode.status() }),
      extraRoutes: (router) => {
        addIsActiveRoute(router, () => this.serving);
        if (this.ha !== null) addImageTransferRoute(router, dir);
        web.addRoutes(router);
        this.extensions.forEach((e) => e.addRoutes(router));
      },
    });
    this.timers.push(setInterval(() => this.recoverLeases(), this.config.leaseCheckIntervalMs));
    this.timers.push(
      setInterval(() => {
        this.blocks.checkHeartbeats();
        this.safeMode.check();
      }, this.config.heartbeatRecheckMs),
    );
    this.timers.push(setInterval(() => this.replicationTick(), this.config.replicationIntervalMs));
    this.timers.push(
      setInterval(() => this.maybeCheckpoint(true), Math.min(this.config.checkpointIntervalMs, 60_000)),
    );
    this.startTrashEmptier();
    for (const t of this.timers) t.unref();
    this.ha?.startStandby({
      id: this.config.nodeId || this.rpcAddress,
      rpcAddress: this.rpcAddress,
      ...(this.http !== null && { httpAddress: `${this.rpcAddress.replace(/:\d+$/, '')}:${this.httpPort}` }),
    });
    this.log.info(
      {
        host: this.address.host,
        port: this.address.port,
        httpPort: this.httpPort,
        clusterId: this.clusterId,
      },
      'namenode listening',
    );
  }

  /** The trash intervals in ms (0: trash off); a checkpoint interval longer than the trash interval is refused. */
  private trashIntervals(): { intervalMs: number; checkpointMs: number } {
    const intervalMs = this.config.trashIntervalMinutes * 60_000;
    const checkpointMs = this.config.trashCheckpointIntervalMinutes * 60_000 || intervalMs;
    if (intervalMs > 0 && checkpointMs > intervalMs)
      throw new DfsError(
        'INVALID_ARGUMENT',
        `trashCheckpointIntervalMinutes (${this.config.trashCheckpointIntervalMinutes}) is longer than trashIntervalMinutes (${this.config.trashIntervalMinutes})`,
      );
    return { intervalMs, checkpointMs };
  }

  /**
   * With trash on, a pass of the trash emptier at every multiple of the checkpoint interval
   * on the clock (as HDFS's Emptier), so restarts, however frequent, never postpone it.
   */
  private startTrashEmptier(): void {
    const { intervalMs, checkpointMs } = this.trashIntervals();
    if (intervalMs <= 0) return;
    const emptier = new TrashEmptier(
      {
        namespace: this.namespace,
        clock: this.clock,
        logger: this.log,
        applyLogged: (op) => this.rpc.applyLogged(op),
      },
      intervalMs,
    );
    const pass = (): void => {
      if (this.safeMode.on || this.stopping || !this.serving) return;
      emptier.run().catch((err: unknown) => {
        rethrowIfBug(err);
        this.log.warn({ err: (err as Error).message }, 'trash emptier pass failed');
      });
    };
    const now = this.clock.nowMs();
    const first = setTimeout(
      () => {
        pass();
        const every = setInterval(pass, checkpointMs);
        every.unref();
        this.timers.push(every);
      },
      Math.ceil((now + 1) / checkpointMs) * checkpointMs - now,
    );
    first.unref();
    this.timers.push(first);
  }

  /** The figures /metrics shows, read from this NameNode's state at scrape time (namenode-metrics.ts). */
  private createMetrics(): NamenodeMetrics {
    const registry = this.blocks.registry;
    return new NamenodeMetrics({
      clusterId: () => this.clusterId,
      version: DFS_VERSION,
      namespace: () => this.namespace,
      replication: () => this.replication.stats(),
      datanodes: function* () {
        for (const n of registry.all())
          yield {
            state: registry.stateOf(n),
            capacityBytes: n.capacityBytes,
            usedBytes: n.usedBytes,
            remainingBytes: n.remainingBytes,
            pendingDeletes: n.pendingDeletes.size,
          };
      },
      safeModeOn: () => this.safeMode.on,
      checkpoint: () => ({ txnsSince: this.txnsSinceCheckpoint, lastMs: this.lastCheckpointMs }),
      lastTxid: () => this.editLog.lastWrittenTxid,
      openLeases: () => this.leases.size,
      rpcConnections: () => this.server?.connections.size ?? 0,
      httpConnections: () => this.http?.connections ?? 0,
      ha: () => ({ active: this.serving, epoch: this.ha?.epoch ?? 0, lagTxids: this.ha?.lagTxids ?? 0 }),
      etcdDb: () =>
        this.ha === null
          ? null
          : { sizeBytes: this.ha.quota.dbSizeBytes, quotaBytes: this.ha.quota.quotaBytes },
    });
  }

  /** Files open at the last shutdown or crash get a fresh lease for their holder. */
  private recoverLeases(): void {
    if (this.safeMode.on || this.stopping || !this.serving) return;
    for (const file of this.leases.expiredFiles()) {
      try {
        this.recovery.leaseExpired(pathOf(file), file);
        // Still open: a recovery is under way, and the NameNode holds the lease until it ends.
        if (file.clientName !== null) this.leases.takeForRecovery(file);
      } catch (err) {
        rethrowIfBug(err);
        // A file past the path limits (a tree nested by renames before they were checked)
        // cannot be named in an edit: say so once, and retry quietly (a rename may fix it).
        if (isDfsError(err, 'INVALID_PATH')) {
          if (!this.unreachableLeaseFiles.has(file)) {
            this.unreachableLeaseFiles.add(file);
            this.log.warn(
              { err: (err as Error).message },
              'lease recovery impossible until the file is moved within the path limits',
            );
          }
          continue;
        }
        this.log.error({ err: (err as Error).message }, 'lease recovery failed');
      }
    }
  }

  /** One extra tick at the end of this turn, however many ask for it. */
  private replicationTickSoon(): void {
    if (this.tickSoon) return;
    this.tickSoon = true;
    setImmediate(() => {
      this.tickSoon = false;
      this.replicationTick();
    });
  }

  private replicationTick(): void {
    if (this.safeMode.on || this.stopping || !this.serving) return;
    try {
      this.replication.tick();
    } catch (err) {
      rethrowIfBug(err);
      this.log.error({ err }, 'replication monitor failed');
    }
  }

  private afterLogged(): void {
    this.txnsSinceCheckpoint++;
    if (this.txnsSinceCheckpoint >= this.config.checkpointTxns) this.maybeCheckpoint(false);
  }

  private maybeCheckpoint(timed: boolean): void {
    if (this.checkpointing || this.stopping || this.txnsSinceCheckpoint === 0) return;
    if (this.ha !== null && this.ha.state !== 'standby') return; // with HA the standbys write images
    if (timed && Date.now() - this.lastCheckpointMs < this.config.checkpointIntervalMs) return;
    this.checkpointing = this.checkpoint().finally(() => {
      this.checkpointing = null;
    });
  }

  /**
   * Image of the namespace at the last logged txid; then the log rolls and old files go.
   * The image is written a slice at a time while RPCs go on (image-writer.ts keeps the
   * state as of `txid` of whatever they change meanwhile).
   */
  async checkpoint(): Promise<void> {
    const started = Date.now();
    const txid = this.editLog.lastWrittenTxid;
    // Taken synchronously with reading the txid: the view is exactly the state after `txid`.
    const writer = new ImageWriter(this.namespace, txid);
    this.txnsSinceCheckpoint = 0;
    this.lastCheckpointMs = Date.now();
    try {
      await this.editLog.roll();
      const bytes = await writer.write(path.join(this.config.nameDir, imageFileName(txid)), this.fileSync);
      const removed = purgeBefore(this.config.nameDir, txid);
      await this.ha?.images.recordOwn(txid);
      this.log.info(
        { txid, bytes, removed: removed.length, keptNodes: writer.keptCount, ms: Date.now() - started },
        'checkpoint written',
      );
      this.web?.events.record('checkpoint', `checkpoint written at txid ${txid} (${bytes} bytes)`);
    } catch (err) {
      rethrowIfBug(err);
      this.log.error(
        { err: (err as Error).message, txid },
        'checkpoint failed; the edit log still holds everything',
      );
    } finally {
      writer.finish();
    }
  }

  private onFatal(err: Error): void {
    this.log.fatal({ err: err.message }, 'journal failed or leadership lost; stopping the NameNode');
    this.fatalResolve(err);
    void this.stop();
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const t of this.timers) clearInterval(t);
      await this.http?.close();
      for (const e of this.extensions) e.close();
      this.web?.close();
      await this.server?.close();
      await this.checkpointing;
      await this.editLog?.close();
      await this.ha?.stop();
      this.unlock();
      this.log.info('namenode stopped');
    })();
    return this.stopping;
  }
}
