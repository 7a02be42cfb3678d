/**
 * Handlers for the RPCs only DataNodes send: register (cluster id checked), heartbeat
 * (answered with pending commands; the register connection is where COMMANDS_PENDING
 * notices go), incremental block reports and full block reports.
 * None of these mutate the namespace, so nothing here touches the edit log.
 */
import { DfsError } from '../../protocol/errors.js';
import { encodeCommandsPending } from '../../protocol/datanode-namenode-messages.js';
import { encodeResponse, type RpcName, type RpcRequest } from '../../protocol/namenode-messages.js';
import type { ServerConnection } from '../common/frame-server.js';
import type { DatanodeManager } from './datanode-manager.js';

const COMMANDS_PENDING = encodeCommandsPending();

export function createDatanodeRpc(manager: DatanodeManager, clusterId: () => string) {
  return (conn: ServerConnection, name: RpcName, id: number, req: never): void => {
    switch (name) {
      case 'register': {
        const r = req as RpcRequest<'register'>;
        if (r.clusterId !== clusterId()) {
          throw new DfsError(
            'WRONG_CLUSTER',
            `datanode ${r.nodeId} belongs to cluster ${r.clusterId}, this NameNode serves ${clusterId()}`,
          );
        }
        // A DataNode that listens on 0.0.0.0 is reached at the address it connected from.
        const host =
          r.host === '0.0.0.0' || r.host === '' ? (conn.socket.remoteAddress ?? '127.0.0.1') : r.host;
        manager.register({ nodeId: r.nodeId, host, port: r.port }, r, () => conn.send(COMMANDS_PENDING));
        return conn.reply(encodeResponse('register', id, {}));
      }
      case 'heartbeat':
        return conn.reply(
          encodeResponse('heartbeat', id, { commands: manager.heartbeat(req as RpcRequest<'heartbeat'>) }),
        );
      case 'blockReceived': {
        const r = req as RpcRequest<'blockReceived'>;
        manager.blockReceived(r.nodeId, r.received, r.deleted);
        return conn.reply(encodeResponse('blockReceived', id, {}));
      }
      case 'blockReport': {
        const r = req as RpcRequest<'blockReport'>;
        manager.blockReport(r.nodeId, r.blocks);
        return conn.reply(encodeResponse('blockReport', id, {}));
      }
      default:
        throw new DfsError('INTERNAL', `${name} is not a DataNode RPC`);
    }
  };
}
