/**
 * Client RPC handlers: decode a request, answer reads from memory at once, and for a
 * mutation build its edit op, `apply` it (which validates), append it to the edit log and
 * answer only once the log says it is durable. A request that fails validation is answered
 * with its typed error and logs nothing. A request whose body does not decode is a
 * protocol error: the connection gets an ERROR frame and is closed.
 *
 * Dispatch is a table with one handler per RPC, typed by the RPC's name (`HandlerTable`):
 * an RPC added to the protocol without a handler does not compile, and no handler casts
 * its request. The operator's RPCs are served by admin-rpc.ts, through the same table;
 * the DataNode-only RPCs are passed to datanode-rpc.ts (through the turn
 * budget, datanode-turn-budget.ts) on DATANODE connections. `BlockLocator` is declared
 * here, by its consumer, so the block management below never imports this file.
 *
 * Before its handler, every request passes its permission rule (rpc-permissions.ts) as the
 * user its connection named in the handshake (user-groups.ts resolves the groups; the
 * first request of a user not yet known waits for them, counted in flight meanwhile). An
 * ADMIN connection serves only the superuser.
 */
import { DfsError, rethrowIfBug } from '../../protocol/errors.js';
import type { Frame } from '../../protocol/frame.js';
import { IDENTITY_BYTES_MAX, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX } from '../../protocol/limits.js';
import { Role } from '../../protocol/handshake.js';
import {
  decodeRequest,
  encodeResponse,
  rpcCodecs,
  rpcNameOf,
  type RpcName,
  type RpcResponse,
} from '../../protocol/namenode-messages.js';
import type { Block, DatanodeInfo, LocatedBlock } from '../../protocol/shared-structures.js';
import type { Clock } from '../common/clock.js';
import type { ServerConnection } from '../common/frame-server.js';
import type { Logger } from '../common/logger.js';
import type { Journal } from './journal.js';
import type { Reservation } from './block-reservations.js';
import { NONE, type EditOp } from './edit-ops.js';
import { blockOf, statusOf, type BlockMeta, type FileNode } from './inode.js';
import type { LeaseManager } from './lease-manager.js';
import {
  AdminRpc,
  requireAdmin,
  type AdminBlockView,
  type AdminRpcContext,
  type AdminRpcName,
} from './admin-rpc.js';
import { contentSummary } from './quota.js';
import { prepareAppend } from './append-op.js';
import { QUOTA_UNCHANGED } from '../../protocol/admin-namenode-messages.js';
import type { DatanodeRpcHandler, DatanodeRpcName } from './datanode-turn-budget.js';
import type { HandlerTable, RequestOf } from './rpc-handler.js';
import { checkRequest } from './rpc-permissions.js';
import type { Caller, UserGroups } from './user-groups.js';
import type { RetryCache } from './retry-cache.js';

/**
 * Where blocks live and where new ones go, and the operator's view of the DataNodes:
 * what the client and admin RPCs need of the block management (block-manager.ts provides it).
 */
export interface BlockLocator extends AdminBlockView {
  /** Live nodes holding a readable replica, in the order a reader should try them. */
  locations(blockId: number): DatanodeInfo[];
  chooseTargets(
    replication: number,
    writerHost: string,
    excludeNodeIds: readonly string[],
    blockBytes: number,
  ): DatanodeInfo[];
  /** The first block with fewer live replicas than the minimum, or null. */
  firstUnderMinimalReplication(blocks: readonly BlockMeta[]): BlockMeta | null;
  markBad(nodeId: string, block: Block): void;
  /** Length of the finalized replicas of a block being written, if any live one exists. */
  recoverableLength(blockId: number): number | null;
  /** The writer of a new block was given these targets (where a block recovery looks). */
  pipelineTargets(blockId: number, nodeIds: readonly string[]): void;
  /** Live nodes that may hold a replica, finalized or being written (a reader of an open file's last block). */
  recoveryCandidates(blockId: number): DatanodeInfo[];
  /** A writer's next block, kept until an addBlock attaches it (block-reservations.ts). */
  reserve(r: Reservation): void;
  reservation(
    file: FileNode,
    clientName: string,
    afterBlockId: number,
    blockId: number,
  ): Reservation | undefined;
  reservationTaken(r: Reservation): void;
}

export interface ClientRpcContext extends AdminRpcContext {
  editLog: () => Journal;
  leases: LeaseManager;
  clock: Clock;
  logger: Logger;
  blocks: BlockLocator;
  serverInfo: () => RpcResponse<'serverInfo'>;
  /** Called after each logged op (checkpoint accounting). */
  afterLogged: () => void;
  /** Handles the DataNode-only RPCs (register, heartbeat, block reports). */
  datanodeRpc: DatanodeRpcHandler;
  /** Callers' groups and who is a superuser. */
  users: UserGroups;
  /** Starts (or lets go on) the recovery of a file whose writer's lease expired (block-recovery.ts). */
  recoverAbandoned: (path: string, file: FileNode) => void;
  /**
   * HA (ha-node.ts): the error this NameNode answers a request with instead of serving it
   * (STANDBY), or null; asked as each request is served, after any wait for the caller's groups.
   */
  refuse?: (role: number, opcode: number) => DfsError | null;
  /** Answers of non-idempotent calls, for their retries (retry-cache.ts): asked before any check. */
  retryCache: RetryCache;
}

export class ClientRpc {
  private readonly handlers: HandlerTable;

  constructor(private readonly ctx: ClientRpcContext) {
    const admin = new AdminRpc(ctx, (err, name) => this.internal(err, name));
    this.handlers = { ...this.ownHandlers(), ...admin.handlers };
  }

  /** Namespace, file and block RPCs, and the DataNode RPCs passed on (admin-rpc.ts has the operator's). */
  private ownHandlers(): Omit<HandlerTable, AdminRpcName> {
    return {
      mkdir: (conn, id, req) => this.mkdir(conn, id, req),
      list: (conn, id, req) => this.list(conn, id, req),
      stat: (conn, id, req) => conn.reply(encodeResponse('stat', id, this.ctx.namespace.stat(req.path))),
      delete: (conn, id, req) => this.delete(conn, id, req),
      rename: (conn, id, req) => this.rename(conn, id, req),
      create: (conn, id, req) => this.create(conn, id, req),
      addBlock: (conn, id, req) => this.addBlock(conn, id, req),
      reserveBlock: (conn, id, req) => this.reserveBlock(conn, id, req),
      complete: (conn, id, req) => this.complete(conn, id, req),
      abandonBlock: (conn, id, req) => this.abandonBlock(conn, id, req),
      renewLease: (conn, id, req) => {
        this.ctx.leases.renew(req.clientName);
        conn.reply(encodeResponse('renewLease', id, {}));
      },
      getBlockLocations: (conn, id, req) => this.getBlockLocations(conn, id, req),
      serverInfo: (conn, id) => conn.reply(encodeResponse('serverInfo', id, this.ctx.serverInfo())),
      reportBadBlocks: (conn, id, req) => {
        for (const r of req.replicas) this.ctx.blocks.markBad(r.nodeId, r.block);
        conn.reply(encodeResponse('reportBadBlocks', id, {}));
      },
      bumpGenStamp: (conn, id, req) => this.bumpGenStamp(conn, id, req),
      setPermission: (conn, id, req) => {
        const op: EditOp = { op: 'setPermission', path: req.path, mode: req.permission };
        this.mutate(conn, 'setPermission', id, op, () => encodeResponse('setPermission', id, {}));
      },
      setOwner: (conn, id, req) => {
        checkIdentity('owner', req.owner);
        checkIdentity('group', req.group);
        const op: EditOp = { op: 'setOwner', path: req.path, owner: req.owner, group: req.group };
        this.mutate(conn, 'setOwner', id, op, () => encodeResponse('setOwner', id, {}));
      },
      append: (conn, id, req) => {
        checkIdentity('client name', req.clientName);
        const { op, answer } = prepareAppend(this.ctx, req);
        this.mutate(conn, 'append', id, op, () => encodeResponse('append', id, answer()));
      },
      fsync: (conn, id, req) => {
        this.ctx.namespace.setVisibleLength(req.path, req.clientName, req.blockId, req.lastBlockLength);
        this.ctx.leases.renew(req.clientName);
        conn.reply(encodeResponse('fsync', id, {}));
      },
      setQuota: (conn, id, req) => this.setQuota(conn, id, req),
      contentSummary: (conn, id, req) => {
        const node = this.ctx.namespace.lookup(req.path);
        if (node === null) throw new DfsError('NOT_FOUND', `${req.path}: no such file or directory`);
        conn.reply(encodeResponse('contentSummary', id, contentSummary(node)));
      },
      setReplication: (conn, id, req) => {
        const op: EditOp = { op: 'setReplication', path: req.path, replication: req.replication };
        this.mutate(conn, 'setReplication', id, op, () => encodeResponse('setReplication', id, {}));
      },
      register: (conn, id, req) => this.fromDatanode(conn, 'register', id, req),
      heartbeat: (conn, id, req) => this.fromDatanode(conn, 'heartbeat', id, req),
      blockReceived: (conn, id, req) => this.fromDatanode(conn, 'blockReceived', id, req),
      blockReport: (conn, id, req) => this.fromDatanode(conn, 'blockReport', id, req),
      unregister: (conn, id, req) => this.fromDatanode(conn, 'unregister', id, req),
      replicaCopyFailed: (conn, id, req) => this.fromDatanode(conn, 'replicaCopyFailed', id, req),
      commitBlockSynchronization: (conn, id, req) =>
        this.fromDatanode(conn, 'commitBlockSynchronization', id, req),
    };
  }

  handle(conn: ServerConnection, frame: Frame): void {
    const name = rpcNameOf(frame.opcode);
    if (name === undefined) {
      // The decoder's opcode check makes this unreachable; keep the connection safe anyway.
      conn.close(
        new DfsError('UNKNOWN_OPCODE', `unknown opcode ${frame.opcode}`),
        frame.opcode,
        frame.requestId,
      );
      return;
    }
    if (this.callerOf(conn) === undefined) {
      // Groups not known yet: the request waits for them (in flight, so the connection's
      // in-flight bound still holds), then is served like any other.
      conn.begin();
      void this.ctx.users.resolve(conn.user).then(() => {
        conn.release();
        if (!conn.closed) this.serve(conn, name, frame);
      });
      return;
    }
    this.serve(conn, name, frame);
  }

  /** The caller a connection acts for; null for one that named no user (DataNodes); undefined until its groups are known. */
  private callerOf(conn: ServerConnection): Caller | null | undefined {
    if (conn.role === Role.DATANODE || conn.user === '') return null;
    return this.ctx.users.caller(conn.user) ?? undefined;
  }

  private serve<N extends RpcName>(conn: ServerConnection, name: N, frame: Frame): void {
    const refused = this.ctx.refuse?.(conn.role, frame.opcode) ?? null;
    if (refused !== null) {
      conn.begin();
      conn.replyError(frame.opcode, frame.requestId, refused);
      return;
    }
    if (this.ctx.retryCache.answered(conn, name, frame.requestId, this.ctx)) return;
    let request: RequestOf<N>;
    try {
      request = decodeRequest(name, frame);
    } catch (err) {
      rethrowIfBug(err);
      conn.close(new DfsError('PROTOCOL', (err as Error).message), frame.opcode, frame.requestId);
      return;
    }
    conn.begin();
    try {
      checkRequest(name, request, {
        caller: this.callerOf(conn) ?? null,
        admin: conn.role === Role.ADMIN,
        root: this.ctx.namespace.root,
        users: this.ctx.users,
      });
      if (rpcCodecs[name].mutates && this.ctx.safeMode.on) {
        throw new DfsError('SAFE_MODE', `${name} refused: ${this.ctx.safeMode.status()}`);
      }
      this.handlers[name](conn, frame.requestId, request);
    } catch (err) {
      rethrowIfBug(err);
      const e = err instanceof DfsError ? err : this.internal(err, name);
      conn.replyError(frame.opcode, frame.requestId, e);
    }
  }

  private internal(err: unknown, name: RpcName): DfsError {
    this.ctx.logger.error({ err, rpc: name }, 'internal error serving request');
    return new DfsError('INTERNAL', `internal error serving ${name}: ${(err as Error).message}`);
  }

  /** Register, heartbeat and block reports: served by the DataNode RPC, on DATANODE connections only. */
  private fromDatanode<N extends DatanodeRpcName>(
    conn: ServerConnection,
    name: N,
    id: number,
    req: RequestOf<N>,
  ): void {
    if (conn.role !== Role.DATANODE) throw new DfsError('ACCESS_DENIED', `${name} is for DataNodes only`);
    this.ctx.datanodeRpc(conn, name, id, req);
  }

  /** Applies `op` now and answers `answer()` once it is durable (kept for retries: retry-cache.ts). */
  private mutate(conn: ServerConnection, name: RpcName, id: number, op: EditOp, answer: () => Buffer): void {
    this.ctx.namespace.apply(op);
    const response = answer();
    const settle = this.ctx.retryCache.started(conn, name, id, op, response);
    this.ctx.editLog().append(op, (err) => {
      settle(err);
      if (err)
        conn.replyError(rpcCodecs[name].opcode, id, err instanceof DfsError ? err : this.internal(err, name));
      else conn.reply(response);
    });
    this.ctx.afterLogged();
  }

  /** Sets or clears a directory's quotas; each kind may be left as it is (QUOTA_UNCHANGED). */
  private setQuota(conn: ServerConnection, id: number, req: RequestOf<'setQuota'>): void {
    requireAdmin(conn, 'setQuota');
    const node = this.ctx.namespace.lookup(req.path);
    if (node === null) throw new DfsError('NOT_FOUND', `${req.path}: no such directory`);
    if (node.kind !== 'dir')
      throw new DfsError('NOT_A_DIRECTORY', `${req.path} is a file (quotas are set on directories)`);
    const keep = (asked: number, now: number | undefined): number =>
      asked === QUOTA_UNCHANGED ? (now ?? 0) : asked;
    const op: EditOp = {
      op: 'setQuota',
      path: req.path,
      nsQuota: keep(req.nsQuota, node.quota?.nsQuota),
      dsQuota: keep(req.dsQuota, node.quota?.dsQuota),
    };
    this.mutate(conn, 'setQuota', id, op, () => encodeResponse('setQuota', id, {}));
  }

  /** A mutation the NameNode makes on its own (the trash emptier): applied now, resolved once durable. */
  applyLogged(op: EditOp): Promise<void> {
    this.ctx.namespace.apply(op);
    const durable = new Promise<void>((resolve, reject) =>
      this.ctx.editLog().append(op, (err) => (err ? reject(err) : resolve())),
    );
    this.ctx.afterLogged();
    return durable;
  }

  private now(): number {
    return this.ctx.clock.nowMs();
  }

  private mkdir(conn: ServerConnection, id: number, req: RequestOf<'mkdir'>): void {
    const op: EditOp = {
      op: 'mkdir',
      path: req.path,
      parents: req.parents,
      mtimeMs: this.now(),
      owned: { owner: conn.user, mode: req.permission },
    };
    this.mutate(conn, 'mkdir', id, op, () => encodeResponse('mkdir', id, {}));
  }

  private list(
    conn: ServerConnection,
    id: number,
    req: { path: string; startAfter: string; limit: number },
  ): void {
    const limit = req.limit === 0 ? LIST_LIMIT_DEFAULT : Math.min(req.limit, LIST_LIMIT_MAX);
    conn.reply(encodeResponse('list', id, this.ctx.namespace.list(req.path, req.startAfter, limit)));
  }

  private delete(conn: ServerConnection, id: number, req: { path: string; recursive: boolean }): void {
    const op: EditOp = { op: 'delete', path: req.path, recursive: req.recursive, mtimeMs: this.now() };
    this.mutate(conn, 'delete', id, op, () => encodeResponse('delete', id, {}));
  }

  private rename(conn: ServerConnection, id: number, req: { src: string; dst: string }): void {
    const op: EditOp = { op: 'rename', src: req.src, dst: req.dst, mtimeMs: this.now() };
    this.mutate(conn, 'rename', id, op, () => encodeResponse('rename', id, {}));
  }

  private create(conn: ServerConnection, id: number, req: RequestOf<'create'>): void {
    if (req.clientName.length === 0) throw new DfsError('INVALID_ARGUMENT', 'create needs a client name');
    checkIdentity('client name', req.clientName);
    // Only an overwrite replaces the abandoned file (its bytes are not wanted): without one
    // the create fails anyway, and the lease check recovers the file's last block.
    if (req.overwrite) this.recoverIfAbandoned(req.path, req.clientName);
    const op: EditOp = {
      op: 'create',
      path: req.path,
      clientName: req.clientName,
      overwrite: req.overwrite,
      createParent: req.createParent,
      replication: req.replication,
      blockBytes: req.blockBytes,
      mtimeMs: this.now(),
      owned: { owner: conn.user, mode: req.permission & 0o777 },
    };
    this.mutate(conn, 'create', id, op, () =>
      encodeResponse('create', id, statusOf(this.ctx.namespace.file(req.path), req.path)),
    );
  }

  /** A file held by a writer whose lease has expired is recovered before another takes it. */
  private recoverIfAbandoned(path: string, clientName: string): void {
    const node = this.ctx.namespace.lookup(path);
    if (node === null || node.kind !== 'file' || node.clientName === null || node.clientName === clientName)
      return;
    if (!this.ctx.leases.isExpired(node.clientName)) return;
    this.logRecovery(path, node);
  }

  /**
   * Closes an abandoned file without a block recovery (block-recovery.ts runs one when it
   * can; this is for a file being overwritten, or when no replica can be recovered). Its
   * last block is kept, at the length its live finalized replicas report, when there is
   * one; otherwise the file ends at its last complete block.
   */
  logRecovery(path: string, file: FileNode): void {
    const last = file.lastBlock;
    const length = last === undefined ? null : this.ctx.blocks.recoverableLength(last.blockId);
    const op: EditOp =
      length === null
        ? {
            op: 'closeFile',
            path,
            keepBlocks: Math.max(0, file.blockCount - 1),
            lastNumBytes: NONE,
            mtimeMs: this.now(),
          }
        : {
            op: 'closeFile',
            path,
            keepBlocks: file.blockCount,
            lastNumBytes: length,
            mtimeMs: this.now(),
          };
    this.ctx.namespace.apply(op);
    this.ctx.logger.info({ path, keptBlocks: op.keepBlocks }, 'lease expired; file recovered');
    this.ctx.editLog().append(op, () => {});
    this.ctx.afterLogged();
  }

  /**
   * The file's next block: a new one, or the one reserveBlock gave this writer for after
   * `previous` (`reservedBlockId`), whose pipeline it has built already.
   */
  private addBlock(conn: ServerConnection, id: number, req: RequestOf<'addBlock'>): void {
    const ns = this.ctx.namespace;
    const file = ns.fileUnderConstruction(req.path, req.clientName);
    const last = lastBlockOf(file, req.previous, `previous block`, req.path);
    const reservedId = req.reservedBlockId;
    const reserved =
      reservedId === 0 || last === undefined
        ? undefined
        : this.ctx.blocks.reservation(file, req.clientName, last.blockId, reservedId);
    if (reservedId !== 0 && reserved === undefined) {
      throw new DfsError(
        'NOT_FOUND',
        `block ${reservedId} is not reserved for ${req.clientName} after the last block of ${req.path} (the NameNode restarted or failed over since, or it was reserved again): add a new block`,
      );
    }
    this.ctx.leases.renew(req.clientName);
    const targets = reserved?.targets ?? this.targetsFor(conn, file, req.path, req.excludeNodes);
    const op: EditOp = {
      op: 'addBlock',
      path: req.path,
      clientName: req.clientName,
      previousNumBytes: req.previous === null ? NONE : req.previous.numBytes,
      blockId: reserved?.block.blockId ?? ns.allocateBlockId(),
      genStamp: reserved?.block.genStamp ?? ns.allocateGenStamp(),
    };
    const offset = file.length + (req.previous?.numBytes ?? 0) - (last?.numBytes ?? 0);
    const located: LocatedBlock = {
      block: { blockId: op.blockId, genStamp: op.genStamp, numBytes: 0 },
      offset,
      locations: [...targets],
    };
    this.mutate(conn, 'addBlock', id, op, () => encodeResponse('addBlock', id, located));
    if (reserved !== undefined) this.ctx.blocks.reservationTaken(reserved);
    this.ctx.blocks.pipelineTargets(
      op.blockId,
      targets.map((t) => t.nodeId),
    );
  }

  /**
   * The writer's next block, while `afterBlockId` (the file's last) still streams: its id
   * and stamp (logged, so never given again) and targets, kept in memory until an addBlock
   * attaches it (block-reservations.ts). Not at-most-once: a retry reserves afresh, and the
   * reservation it replaces is discarded.
   */
  private reserveBlock(conn: ServerConnection, id: number, req: RequestOf<'reserveBlock'>): void {
    const ns = this.ctx.namespace;
    const file = ns.fileUnderConstruction(req.path, req.clientName);
    const last = file.lastBlock;
    if (last?.blockId !== req.afterBlockId)
      throw new DfsError(
        'INVALID_ARGUMENT',
        `block ${req.afterBlockId} is not the last block of ${req.path}`,
      );
    this.ctx.leases.renew(req.clientName);
    const targets = this.targetsFor(conn, file, req.path, req.excludeNodes);
    const block = { blockId: ns.allocateBlockId(), genStamp: ns.allocateGenStamp(), numBytes: 0 };
    const op: EditOp = { op: 'reserveBlock', blockId: block.blockId, genStamp: block.genStamp };
    // Where it starts once the block it follows is full (a reservation follows no other).
    const offset = file.length - last.numBytes + file.blockBytes;
    const located: LocatedBlock = { block, offset, locations: targets };
    this.mutate(conn, 'reserveBlock', id, op, () => encodeResponse('reserveBlock', id, located));
    this.ctx.blocks.reserve({ file, clientName: req.clientName, afterBlockId: last.blockId, block, targets });
  }

  /** A new block's pipeline, avoiding the nodes the writer could not reach. */
  private targetsFor(
    conn: ServerConnection,
    file: FileNode,
    path: string,
    exclude: string[],
  ): DatanodeInfo[] {
    const targets = this.ctx.blocks.chooseTargets(
      file.replication,
      conn.socket.remoteAddress ?? '',
      exclude,
      file.blockBytes,
    );
    if (targets.length === 0) {
      throw new DfsError(
        'NOT_REPLICATED',
        `no live DataNode can take a block of ${path} (excluded: ${exclude.length})`,
      );
    }
    return targets;
  }

  private complete(conn: ServerConnection, id: number, req: RequestOf<'complete'>): void {
    const file = this.ctx.namespace.fileUnderConstruction(req.path, req.clientName);
    lastBlockOf(file, req.last, 'block', req.path);
    if (req.last !== null) {
      // The last block's replicas report its final length asynchronously; until one has,
      // the file is not complete and the client asks again.
      const lagging = this.ctx.blocks.firstUnderMinimalReplication(file.blocks);
      if (lagging !== null) {
        this.ctx.leases.renew(req.clientName);
        return conn.reply(encodeResponse('complete', id, { completed: false }));
      }
    }
    const op: EditOp = {
      op: 'complete',
      path: req.path,
      clientName: req.clientName,
      lastNumBytes: req.last === null ? NONE : req.last.numBytes,
      mtimeMs: this.now(),
    };
    this.mutate(conn, 'complete', id, op, () => encodeResponse('complete', id, { completed: true }));
  }

  /** Pipeline recovery: the block gets a new generation stamp so stale replicas are known. */
  private bumpGenStamp(conn: ServerConnection, id: number, req: RequestOf<'bumpGenStamp'>): void {
    const file = this.ctx.namespace.fileUnderConstruction(req.path, req.clientName);
    const block = file.blocks.find((b) => b.blockId === req.blockId);
    if (block === undefined)
      throw new DfsError('NOT_FOUND', `block ${req.blockId} is not part of ${req.path}`);
    this.ctx.leases.renew(req.clientName);
    const genStamp = this.ctx.namespace.allocateGenStamp();
    const op: EditOp = { op: 'updateBlock', path: req.path, blockId: req.blockId, genStamp, numBytes: NONE };
    this.mutate(conn, 'bumpGenStamp', id, op, () => encodeResponse('bumpGenStamp', id, { genStamp }));
  }

  private abandonBlock(conn: ServerConnection, id: number, req: RequestOf<'abandonBlock'>): void {
    const op: EditOp = {
      op: 'abandonBlock',
      path: req.path,
      clientName: req.clientName,
      blockId: req.blockId,
    };
    this.mutate(conn, 'abandonBlock', id, op, () => encodeResponse('abandonBlock', id, {}));
  }

  private getBlockLocations(conn: ServerConnection, id: number, req: RequestOf<'getBlockLocations'>): void {
    const file = this.ctx.namespace.file(req.path);
    const end = req.length === 0 ? Infinity : req.offset + req.length;
    const blocks: LocatedBlock[] = [];
    let offset = 0;
    const writing = file.underConstruction ? file.lastBlock : undefined;
    for (const b of file.blocks) {
      const blockEnd = offset + b.numBytes;
      // A block overlaps [offset, end) — the block being written (length 0 so far) is included.
      if (
        (blockEnd > req.offset && offset < end) ||
        (b.numBytes === 0 && offset >= req.offset && offset < end)
      ) {
        // The block being written is read from its pipeline's nodes, up to the length the
        // last hflush made visible (they serve an unfinished replica that far).
        const locations =
          b === writing
            ? this.ctx.blocks.recoveryCandidates(b.blockId)
            : this.ctx.blocks.locations(b.blockId);
        blocks.push({ block: blockOf(b), offset, locations });
      }
      offset = blockEnd;
    }
    conn.reply(
      encodeResponse('getBlockLocations', id, {
        fileLength: file.length,
        underConstruction: file.underConstruction,
        blocks,
      }),
    );
  }
}

/** The file's last block, which `named` (a request's previous or last block, null: none) must be. */
function lastBlockOf(file: FileNode, named: Block | null, what: string, path: string): BlockMeta | undefined {
  const last = file.lastBlock;
  if ((named === null) !== (last === undefined) || (named !== null && named.blockId !== last!.blockId))
    throw new DfsError(
      'INVALID_ARGUMENT',
      `${what} ${named?.blockId ?? 'none'} is not the last block of ${path}`,
    );
  return last;
}

/** A name the namespace will hold (owner, group, lease holder): at most IDENTITY_BYTES_MAX bytes. */
function checkIdentity(what: string, name: string): void {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > IDENTITY_BYTES_MAX)
    throw new DfsError('INVALID_ARGUMENT', `${what} is ${bytes} bytes, over ${IDENTITY_BYTES_MAX}`);
}
