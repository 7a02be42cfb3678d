/**
 * The operator's RPCs: safe mode, decommissioning, block reports on demand, HA status and
 * hand-over (served by ha-admin.ts), and the views
 * behind `dfs admin report`, `dfs fsck` and the replication figures. Changes need a
 * connection with role ADMIN (`dfs admin`); reading the state does not. Kept apart from
 * client-rpc.ts, which serves the namespace and the data path, so each table stays small;
 * ClientRpc dispatches to these handlers like to its own.
 */
import {
  DecommissionAction,
  SafeModeAction,
  type DatanodeReportEntry,
  type ReplicaHealth,
  type TriggerBlockReportResponse,
} from '../../protocol/admin-namenode-messages.js';
import { DfsError, rethrowIfBug } from '../../protocol/errors.js';
import { Role } from '../../protocol/handshake.js';
import { encodeResponse, rpcCodecs, type RpcName } from '../../protocol/namenode-messages.js';
import type { ServerConnection } from '../common/frame-server.js';
import { fileBlockHealth, type ReplicaView } from './block-health.js';
import { HaAdmin, type HaAdminContext } from './ha-admin.js';
import type { Namespace } from './namespace.js';
import { ReplicationMonitor } from './replication-monitor.js';
import type { Handler, RequestOf } from './rpc-handler.js';
import type { SafeMode } from './safe-mode.js';

export type AdminRpcName =
  | 'safeMode'
  | 'blockHealth'
  | 'decommission'
  | 'triggerBlockReport'
  | 'replicationStats'
  | 'datanodeReport'
  | 'haStatus'
  | 'haFailover';

/** What the operator's RPCs need of the block management (block-manager.ts provides it). */
export interface AdminBlockView extends ReplicaView {
  report(): DatanodeReportEntry[];
  setDecommissioning(node: string, on: boolean): void;
  /** Queues BLOCK_REPORT for a live node's next heartbeat (NOT_FOUND, DATANODE_DEAD). */
  requestBlockReport(node: string): TriggerBlockReportResponse;
  replicaStates(blockId: number): ReplicaHealth[];
}

export interface AdminRpcContext {
  namespace: Namespace;
  blocks: AdminBlockView;
  safeMode: SafeMode;
  replication: ReplicationMonitor;
  /** Persists the set of decommissioned nodes (decommission-store.ts); resolves once durable. */
  saveDecommissioned: () => Promise<void>;
  /** `dfs admin ha status` and `failover` (ha-admin.ts). */
  haAdmin: HaAdminContext;
}

export class AdminRpc {
  readonly handlers: { [N in AdminRpcName]: Handler<N> } = {
    safeMode: (conn, id, req) => this.safeMode(conn, id, req),
    blockHealth: (conn, id, req) =>
      conn.reply(
        encodeResponse(
          'blockHealth',
          id,
          fileBlockHealth(this.ctx.namespace.file(req.path), this.ctx.blocks, req.startBlock, req.limit),
        ),
      ),
    decommission: (conn, id, req) => this.decommission(conn, id, req),
    triggerBlockReport: (conn, id, req) => {
      requireAdmin(conn, 'triggerBlockReport');
      conn.reply(encodeResponse('triggerBlockReport', id, this.ctx.blocks.requestBlockReport(req.node)));
    },
    replicationStats: (conn, id) => {
      const s = this.ctx.replication.stats();
      conn.reply(
        encodeResponse('replicationStats', id, {
          underReplicated: s.underReplicated,
          corrupt: s.corrupt,
          missing: s.missing,
          pendingCopies: s.pendingCopies,
          corruptBlockIds: ReplicationMonitor.sample(this.ctx.replication.corrupt),
          missingBlockIds: ReplicationMonitor.sample(this.ctx.replication.missing),
        }),
      );
    },
    haStatus: (conn, id, req) => this.ha.handlers.haStatus(conn, id, req),
    haFailover: (conn, id, req) => {
      requireAdmin(conn, 'haFailover');
      this.ha.handlers.haFailover(conn, id, req);
    },
    datanodeReport: (conn, id) => {
      const nodes = this.ctx.blocks
        .report()
        .map((n) => ({ ...n, ...this.ctx.replication.drainStatus(n.nodeId) }));
      conn.reply(encodeResponse('datanodeReport', id, { nodes }));
    },
  };

  private readonly ha: HaAdmin;

  constructor(
    private readonly ctx: AdminRpcContext,
    /** Turns an unexpected failure into a logged INTERNAL error (ClientRpc's). */
    private readonly internal: (err: unknown, name: RpcName) => DfsError,
  ) {
    this.ha = new HaAdmin(ctx.haAdmin);
  }

  private safeMode(conn: ServerConnection, id: number, req: RequestOf<'safeMode'>): void {
    const sm = this.ctx.safeMode;
    if (req.action === SafeModeAction.ENTER || req.action === SafeModeAction.LEAVE) {
      requireAdmin(conn, `safeMode ${req.action === SafeModeAction.ENTER ? 'enter' : 'leave'}`);
      if (req.action === SafeModeAction.ENTER) sm.enter();
      else sm.leave();
    } else if (req.action !== SafeModeAction.GET) {
      throw new DfsError('INVALID_ARGUMENT', `unknown safe mode action ${req.action}`);
    }
    conn.reply(
      encodeResponse('safeMode', id, {
        on: sm.on,
        manual: sm.manual,
        reportedBlocks: sm.reported,
        totalBlocks: sm.total,
        status: sm.status(),
      }),
    );
  }

  private decommission(conn: ServerConnection, id: number, req: RequestOf<'decommission'>): void {
    if (req.action !== DecommissionAction.DECOMMISSION && req.action !== DecommissionAction.RECOMMISSION) {
      throw new DfsError('INVALID_ARGUMENT', `unknown decommission action ${req.action}`);
    }
    requireAdmin(conn, req.action === DecommissionAction.DECOMMISSION ? 'decommission' : 'recommission');
    this.ctx.blocks.setDecommissioning(req.node, req.action === DecommissionAction.DECOMMISSION);
    // Answered once the change is on disk, so an acknowledged decommission survives a restart.
    this.ctx.saveDecommissioned().then(
      () => conn.reply(encodeResponse('decommission', id, {})),
      (err: unknown) => {
        rethrowIfBug(err);
        conn.replyError(rpcCodecs.decommission.opcode, id, this.internal(err, 'decommission'));
      },
    );
  }
}

/** Operator actions (safe mode enter/leave, decommissioning, triggerBlockReport, quotas) need a connection with role ADMIN. */
export function requireAdmin(conn: ServerConnection, what: string): void {
  if (conn.role !== Role.ADMIN)
    throw new DfsError('ACCESS_DENIED', `${what} needs an ADMIN connection (dfs admin)`);
}
