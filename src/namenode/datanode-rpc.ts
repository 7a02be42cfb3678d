/**
 * Handlers for the RPCs only DataNodes send: register (cluster id checked), heartbeat
 * (answered with pending commands; the register connection is where COMMANDS_PENDING
 * notices go), incremental block reports and full block reports, and unregister (a node
 * stopping on purpose is dead at once, so its replicas are copied now rather than after
 * the dead-node timeout, as HissDFS's DataNodes unregister on shutdown), and the report of a
 * replica copy that failed (rescheduled at once elsewhere, replication-monitor.ts), and the
 * outcome of a block recovery (commitBlockSynchronization, block-recovery.ts: the one that
 * changes the namespace, answered once its edit is durable).
 *
 * Registration and heartbeat answers carry the NameNode's HA epoch (0 without HA), so a
 * DataNode refuses the commands of a deposed active (src/datanode/namenode-epoch.ts).
 * On an HA standby (`standby` given, src/namenode/ha-node.ts) heartbeats are answered without
 * commands, and replicas of blocks the standby's journal has not reached yet are held in
 * standby-reports.ts instead of being judged invalid.
 *
 * Dispatch is a table with one handler per DataNode RPC, typed by the RPC's name, so a
 * missing handler does not compile and no handler casts its request.
 */
import { DfsError } from '../../protocol/errors.js';
import { encodeCommandsPending } from '../../protocol/datanode-namenode-messages.js';
import { encodeResponse, rpcCodecs, type RpcRequest } from '../../protocol/namenode-messages.js';
import type { ServerConnection } from '../common/frame-server.js';
import type { BlockManager } from './block-manager.js';
import type { BlockRecovery } from './block-recovery.js';
import type { DatanodeRpcHandler, DatanodeRpcName } from './datanode-turn-budget.js';
import type { StandbyReports } from './standby-reports.js';

/**
 * What an HA NameNode tells the DataNode RPCs: active or not, its epoch (ha-node.ts; 0
 * unless active), and where a standby holds early reports.
 */
export interface StandbyView {
  active: () => boolean;
  epoch: () => number;
  reports: StandbyReports;
}

const COMMANDS_PENDING = encodeCommandsPending();

type DatanodeHandlers = {
  [N in DatanodeRpcName]: (conn: ServerConnection, id: number, req: RpcRequest<N>) => void;
};

export function createDatanodeRpc(
  blocks: BlockManager,
  clusterId: () => string,
  recovery: BlockRecovery,
  standby?: StandbyView,
): DatanodeRpcHandler {
  const onStandby = (): boolean => standby !== undefined && !standby.active();
  // Every answer to a DataNode carries it, so a DataNode can refuse a deposed active's commands.
  const epoch = (): number => standby?.epoch() ?? 0;
  const handlers: DatanodeHandlers = {
    register: (conn, id, r) => {
      if (r.clusterId !== clusterId()) {
        throw new DfsError(
          'WRONG_CLUSTER',
          `datanode ${r.nodeId} belongs to cluster ${r.clusterId}, this NameNode serves ${clusterId()}`,
        );
      }
      // A DataNode that listens on 0.0.0.0 is reached at the address it connected from.
      const host =
        r.host === '0.0.0.0' || r.host === '' ? (conn.socket.remoteAddress ?? '127.0.0.1') : r.host;
      blocks.register({ nodeId: r.nodeId, host, port: r.port }, r, () => conn.send(COMMANDS_PENDING));
      conn.reply(encodeResponse('register', id, { epoch: epoch() }));
    },
    heartbeat: (conn, id, r) => {
      const commands = blocks.registry.heartbeat(r, !onStandby());
      conn.reply(encodeResponse('heartbeat', id, { epoch: epoch(), commands }));
    },
    blockReceived: (conn, id, r) => {
      const received = onStandby() ? standby!.reports.judgeable(r.nodeId, r.received) : r.received;
      blocks.blockReceived(r.nodeId, received, r.deleted);
      conn.reply(encodeResponse('blockReceived', id, {}));
    },
    blockReport: (conn, id, r) => {
      if (onStandby())
        blocks.blockReport(
          r.nodeId,
          standby!.reports.judgeable(r.nodeId, r.blocks),
          standby!.reports.knownUnfinished(r.unfinished),
        );
      else blocks.blockReport(r.nodeId, r.blocks, r.unfinished);
      conn.reply(encodeResponse('blockReport', id, {}));
    },
    unregister: (conn, id, r) => {
      blocks.unregister(r.nodeId);
      conn.reply(encodeResponse('unregister', id, {}));
    },
    replicaCopyFailed: (conn, id, r) => {
      blocks.replicaCopyFailed(r.nodeId, r.block, r.failedTargets, r.reason);
      conn.reply(encodeResponse('replicaCopyFailed', id, {}));
    },
    commitBlockSynchronization: (conn, id, r) => {
      blocks.registry.known(r.nodeId);
      recovery.commit(r, (err) => {
        if (err === null) conn.reply(encodeResponse('commitBlockSynchronization', id, {}));
        else
          conn.replyError(
            rpcCodecs.commitBlockSynchronization.opcode,
            id,
            err instanceof DfsError ? err : new DfsError('INTERNAL', err.message),
          );
      });
    },
  };
  return (conn, name, id, req) => handlers[name](conn, id, req);
}
