/**
 * The shape of a NameNode RPC handler, shared by the tables that serve them (client-rpc.ts,
 * admin-rpc.ts): one handler per RPC name, typed by that name, so an RPC added to the
 * protocol without a handler does not compile and no handler casts its request.
 */
import type { RpcName, RpcRequest } from '../../protocol/namenode-messages.js';
import type { ServerConnection } from '../common/frame-server.js';

export type RequestOf<N extends RpcName> = RpcRequest<N>;

/** Serves one RPC: answers on `conn` (now, or once its edit is durable) or throws a DfsError. */
export type Handler<N extends RpcName> = (conn: ServerConnection, id: number, req: RequestOf<N>) => void;

/** One handler per RPC, typed by its name. */
export type HandlerTable = { [N in RpcName]: Handler<N> };
