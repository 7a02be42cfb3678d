/**
 * The DataNode process: opens its storage, serves WRITE_BLOCK and READ_BLOCK on its data
 * port (and, to other DataNodes, the block recovery calls of replica-recovery.ts), and keeps the NameNode informed (namenode-link.ts). Each connection carries one
 * transfer at a time; a connection that breaks the protocol is closed with a typed error
 * and a log line while every other connection keeps being served.
 */
import {
  dataCodecs,
  DataOp,
  decodeDataBody,
  encodeDataResponse,
  isDataOpcode,
  PACKET_FRAMES,
} from '../../protocol/data-messages.js';
import { DfsError, rethrowIfBug } from '../../protocol/errors.js';
import { FrameKind, type Frame } from '../../protocol/frame.js';
import { Role } from '../../protocol/handshake.js';
import { DATA_BODY_BYTES_MAX } from '../../protocol/limits.js';
import type { DatanodeInfo } from '../../protocol/shared-structures.js';
import { hashSource, initChecksum } from '../common/checksum.js';
import type { DataNodeConfig } from '../common/config.js';
import { FrameServer, type ServerConnection } from '../common/frame-server.js';
import type { Logger } from '../common/logger.js';
import type { LocalFirstHop } from '../common/pipeline-connect.js';
import type { ShortCircuitReads } from '../common/short-circuit-read.js';
import { blockChecksum } from './block-checksum.js';
import { BlockReceiver } from './block-receiver.js';
import { InProcessFirstHop } from './local-first-hop.js';
import { InProcessReads } from './short-circuit-reads.js';
import { BlockScanner } from './block-scanner.js';
import { sendBlock } from './block-sender.js';
import { TransferCount, WritesInProgress, type DataNodeContext } from './datanode-context.js';
import { faultsFromEnv } from '../common/fault-injector.js';
import { fileSyncWithFaults } from '../common/file-sync.js';
import { NamenodeLinks } from './namenode-links.js';
import { configureReadBuffers } from './replica-reader.js';
import { initReplicaRecovery, updateReplicaUnderRecovery } from './replica-recovery.js';
import { startDaemonHttp, type HttpExtension } from '../common/daemon-http.js';
import type { HttpServer } from '../common/http-server.js';
import { DatanodeMetrics } from './datanode-metrics.js';
import { Storage } from './storage.js';
import { DirectoryScanner } from './directory-scanner.js';
import { VolumeMonitor } from './volume-monitor.js';

/** How long a stopping DataNode waits for the NameNode to take its unregister. */
const UNREGISTER_TIMEOUT_MS = 2_000;

export class DataNode {
  private server!: FrameServer;
  private link!: NamenodeLinks;
  private scanner!: BlockScanner;
  private directoryScanner!: DirectoryScanner;
  private readonly volumes: VolumeMonitor;
  readonly storage: Storage;
  private readonly ctx: DataNodeContext;
  private stopping: Promise<void> | null = null;
  private fatalResolve!: (err: Error) => void;
  readonly fatal = new Promise<Error>((resolve) => (this.fatalResolve = resolve));
  address = { host: '', port: 0 };
  private readonly metrics: DatanodeMetrics;
  private http: HttpServer | null = null;

  /** The HTTP port bound (-1 with HTTP off). */
  get httpPort(): number {
    return this.http?.address.port ?? -1;
  }

  /**
   * Routes its launcher adds (WebHDFS: src/webhdfs/datanode-webhdfs.ts, which uses the client),
   * given this node as the first hop of their writes (local-first-hop.ts) and the source of
   * their reads of its replicas (short-circuit-reads.ts).
   */
  private readonly extensions: HttpExtension[];

  constructor(
    readonly config: DataNodeConfig,
    private readonly log: Logger,
    httpExtensions: ReadonlyArray<
      (config: DataNodeConfig, firstHop: LocalFirstHop, reads: ShortCircuitReads) => HttpExtension
    > = [],
  ) {
    this.storage = new Storage(config.dataDirs, config.reservedBytes, log);
    const faults = faultsFromEnv();
    this.metrics = this.createMetrics();
    const sync = fileSyncWithFaults(faults);
    this.volumes = new VolumeMonitor(this.storage, log, sync, {
      replicaDropped: (blockId) => this.link?.blockDeleted(blockId),
      volumeFailed: (dir) => this.metrics.volumeFailed(dir),
      allVolumesFailed: (err) => {
        this.log.fatal({ err: err.message }, 'no volume left in service; stopping');
        this.fatalResolve(err);
      },
    });
    this.storage.onVolumeError = (v) => void this.volumes.check(v);
    this.ctx = {
      config,
      storage: this.storage,
      log,
      self: () => this.self(),
      blockReceived: (b) => this.link.blockReceived(b),
      faults,
      sync: this.metrics.timedSync(sync),
      disk: this.volumes,
      transfers: new TransferCount(),
      writes: new WritesInProgress(),
      metrics: this.metrics,
    };
    const firstHop = new InProcessFirstHop(this.ctx);
    const reads = new InProcessReads(this.ctx);
    this.extensions = httpExtensions.map((make) => make(config, firstHop, reads));
  }

  /** The figures /metrics shows, read from this DataNode's state at scrape time (datanode-metrics.ts). */
  private createMetrics(): DatanodeMetrics {
    const reserved = this.config.reservedBytes;
    return new DatanodeMetrics({
      volumes: () =>
        this.storage.volumes.map((v) => ({
          dir: v.dir,
          usedBytes: v.usedBytes,
          space: () => v.space(reserved),
        })),
      replicas: () => this.storage.replicas.size,
      packetBytesHeld: () => this.server?.heldBytes ?? 0,
      activeTransfers: () => this.ctx.transfers.active,
      registered: () => this.link?.isRegistered ?? false,
      scannerCorruptFound: () => this.scanner?.corruptFound ?? 0,
      dataConnections: () => this.server?.connections.size ?? 0,
      httpConnections: () => this.http?.connections ?? 0,
    });
  }

  private self(): DatanodeInfo {
    const host =
      this.config.advertiseHost ||
      (this.address.host === '0.0.0.0' || this.address.host === '::' ? '' : this.address.host);
    return { nodeId: this.storage.nodeId, host, port: this.address.port };
  }

  async start(): Promise<void> {
    await initChecksum();
    await this.storage.open();
    configureReadBuffers(this.config.readBufferBytesMax);
    this.server = new FrameServer({
      host: this.config.host,
      port: this.config.port,
      bodyBytesMax: DATA_BODY_BYTES_MAX,
      isKnownOpcode: (kind, opcode) =>
        (kind === FrameKind.REQUEST || kind === FrameKind.PACKET) && isDataOpcode(kind, opcode),
      // Packet payloads are forwarded and written as the socket reads they came in, read
      // into recycled slabs that the block receiver releases (read-slabs.ts).
      scatterKinds: PACKET_FRAMES,
      slabReads: true,
      acceptRoles: new Set([Role.CLIENT, Role.DATANODE]),
      connectionsMax: this.config.connectionsMax,
      inflightMax: this.config.packetsInflightMax,
      heldBytesMax: this.config.packetBytesHeldMax,
      partialFrameBytesMax: this.config.partialFrameBytesMax,
      handshakeTimeoutMs: this.config.handshakeTimeoutMs,
      frameTimeoutMs: this.config.frameTimeoutMs,
      logger: this.log,
      onFrame: (conn, frame) => this.onFrame(conn, frame),
      onClose: (conn) => (conn.attachment as BlockReceiver | null)?.onUpstreamClosed?.(),
      isBusy: (conn) => conn.attachment instanceof BlockReceiver && conn.attachment.active,
    });
    this.address = await this.server.listen();
    // HTTP first: the registration tells the NameNode its port (WebHDFS redirects there).
    this.http = await startDaemonHttp(this.config, this.log, {
      registry: this.metrics.registry,
      readiness: () =>
        this.link.isRegistered
          ? { ready: true, detail: 'registered with the NameNode' }
          : { ready: false, detail: `not registered with the NameNode at ${this.config.namenode}` },
      extraRoutes: (router) => this.extensions.forEach((e) => e.addRoutes(router)),
    });
    this.link = new NamenodeLinks(
      this.ctx,
      (err) => {
        this.log.fatal({ err: err.message }, 'cannot serve this NameNode; stopping');
        this.fatalResolve(err);
      },
      () => Math.max(0, this.httpPort),
    );
    this.link.start();
    this.scanner = new BlockScanner(this.ctx, (b) => this.link.reportBad(b));
    this.scanner.start();
    this.directoryScanner = new DirectoryScanner(
      this.ctx,
      this.volumes,
      (blockId) => this.scanner.verify(blockId),
      (b) => this.link.blockReceived(b),
    );
    this.directoryScanner.start();
    this.log.info(
      {
        host: this.address.host,
        port: this.address.port,
        httpPort: this.httpPort,
        nodeId: this.storage.nodeId,
        replicas: this.storage.replicas.size,
        dataDirs: this.config.dataDirs,
        hashes: hashSource(),
      },
      'datanode listening',
    );
    if (hashSource()?.xxh3 === 'wasm')
      this.log.warn(
        'xxh3 checksums run in WebAssembly here (xxhash-addon did not load): about 5x the CPU of the native one',
      );
  }

  private onFrame(conn: ServerConnection, frame: Frame): void {
    if (frame.kind === FrameKind.PACKET) {
      const receiver = conn.attachment;
      if (!(receiver instanceof BlockReceiver))
        throw new DfsError('PROTOCOL', 'packet without a WRITE_BLOCK');
      receiver.onPacket(frame);
      return;
    }
    if (conn.attachment !== null) {
      throw new DfsError('PROTOCOL', 'a new request on a connection that is still transferring a block');
    }
    if (frame.opcode === DataOp.WRITE_BLOCK) {
      const req = decodeDataBody(dataCodecs.writeBlock.req, frame, 'write block request');
      const receiver = new BlockReceiver(this.ctx, conn, frame.requestId, req);
      conn.attachment = receiver;
      receiver.setup().catch((err: unknown) => this.refuse(conn, frame, err, receiver));
      return;
    }
    if (frame.opcode === DataOp.READ_BLOCK) {
      const req = decodeDataBody(dataCodecs.readBlock.req, frame, 'read block request');
      conn.attachment = 'reading';
      sendBlock(this.ctx, conn, frame.requestId, req).then(
        () => {
          conn.attachment = null;
        },
        (err: unknown) => this.refuse(conn, frame, err, null),
      );
      return;
    }
    if (frame.opcode === DataOp.BLOCK_CHECKSUM) {
      const req = decodeDataBody(dataCodecs.blockChecksum.req, frame, 'block checksum request');
      conn.attachment = 'reading';
      blockChecksum(this.ctx, req.block).then(
        (res) => {
          conn.attachment = null;
          conn.send(encodeDataResponse('blockChecksum', frame.requestId, res));
        },
        (err: unknown) => this.refuse(conn, frame, err, null),
      );
      return;
    }
    if (
      frame.opcode === DataOp.INIT_REPLICA_RECOVERY ||
      frame.opcode === DataOp.UPDATE_REPLICA_UNDER_RECOVERY
    ) {
      if (conn.role !== Role.DATANODE)
        throw new DfsError('ACCESS_DENIED', 'block recovery calls are for DataNodes only');
      conn.attachment = 'recovering';
      this.serveRecovery(frame).then(
        (answer) => {
          conn.attachment = null;
          conn.send(answer);
        },
        (err: unknown) => this.refuse(conn, frame, err, null),
      );
      return;
    }
    throw new DfsError('UNKNOWN_OPCODE', `unknown data opcode ${frame.opcode}`);
  }

  /** INIT_REPLICA_RECOVERY or UPDATE_REPLICA_UNDER_RECOVERY from a recovery's primary (replica-recovery.ts). */
  private async serveRecovery(frame: Frame): Promise<Buffer> {
    if (frame.opcode === DataOp.INIT_REPLICA_RECOVERY) {
      const req = decodeDataBody(dataCodecs.initReplicaRecovery.req, frame, 'init replica recovery request');
      const res = await initReplicaRecovery(this.ctx, req.blockId, req.recoveryId);
      return encodeDataResponse('initReplicaRecovery', frame.requestId, res);
    }
    const req = decodeDataBody(dataCodecs.updateReplicaUnderRecovery.req, frame, 'update replica request');
    const block = await updateReplicaUnderRecovery(this.ctx, req.blockId, req.recoveryId, req.newLength);
    return encodeDataResponse('updateReplicaUnderRecovery', frame.requestId, { block });
  }

  /** A request this node cannot serve: typed error frame, log line, close. */
  private refuse(conn: ServerConnection, frame: Frame, err: unknown, receiver: BlockReceiver | null): void {
    rethrowIfBug(err);
    const e = err instanceof DfsError ? err : new DfsError('INTERNAL', (err as Error).message);
    if (!(err instanceof DfsError)) this.log.error({ err }, 'unexpected failure serving a transfer');
    conn.close(e, frame.opcode, frame.requestId);
    receiver?.abort(null);
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.scanner?.stop();
      this.directoryScanner?.stop();
      await this.http?.close();
      for (const e of this.extensions) e.close();
      // No transfer is served past this point; then the NameNode hears we are leaving.
      await this.server?.close();
      await this.link?.unregister(UNREGISTER_TIMEOUT_MS);
      this.link?.stop();
      this.log.info('datanode stopped');
    })();
    return this.stopping;
  }
}
