/**
 * Shares the NameNode's one event loop fairly between DataNodes and clients.
 *
 * Every DataNode has its own connection, and each heartbeat or report it sends is answered
 * by its own socket write (the costliest part, a syscall per answer). With thousands of
 * DataNodes all sending, one turn of the event loop reads and answers every one of them
 * before it gets back to the clients' sockets and to the edit log's fsync completions:
 * measured with `dfs-bench meta --sim-datanodes 10000` (heartbeats back to back), a turn
 * took ~0.3 s and durable creates fell from ~50,000/s to ~1,000/s.
 *
 * So DataNode RPCs get a budget of work per turn (a heartbeat is 1 unit, a report 1 unit
 * plus 1 per 64 blocks). Past it, requests wait in a FIFO queue and are served at the end of
 * the turn (setImmediate), again within the budget, the rest in later turns: a turn stays
 * short, clients and fsyncs are served every turn, and DataNodes still get every turn's
 * budget. A DataNode sends its next heartbeat only after the answer, so a waiting node adds
 * nothing more; one that floods is bounded by the server's per-connection in-flight limit.
 * Requests of one connection keep their order (nothing overtakes a queued request).
 */
import type { DatanodeRpcMessages } from '../../protocol/datanode-namenode-messages.js';
import { DfsError, rethrowIfBug } from '../../protocol/errors.js';
import { rpcCodecs, type RpcRequest } from '../../protocol/namenode-messages.js';
import type { ServerConnection } from '../common/frame-server.js';
import type { Logger } from '../common/logger.js';

/** The RPCs only a DataNode sends (DATANODE_RPCS in protocol/namenode-messages.ts). */
export type DatanodeRpcName = keyof DatanodeRpcMessages;

/** Serves one DataNode RPC; its request type follows from its name. */
export type DatanodeRpcHandler = <N extends DatanodeRpcName>(
  conn: ServerConnection,
  name: N,
  id: number,
  req: RpcRequest<N>,
) => void;

/** Work units of DataNode RPCs served per event-loop turn before the rest waits. */
export const DATANODE_UNITS_PER_TURN = 512;
const BLOCKS_PER_UNIT = 64;

interface Waiting {
  conn: ServerConnection;
  name: DatanodeRpcName;
  id: number;
  req: RpcRequest<DatanodeRpcName>;
}

/** The cost of a request, in units, per RPC. */
const UNITS: { [N in DatanodeRpcName]: (req: RpcRequest<N>) => number } = {
  register: () => 1,
  heartbeat: () => 1,
  blockReceived: (r) => 1 + (r.received.length + r.deleted.length) / BLOCKS_PER_UNIT,
  blockReport: (r) => 1 + (r.blocks.length + r.unfinished.length) / BLOCKS_PER_UNIT,
  unregister: () => 1,
  replicaCopyFailed: () => 1,
  commitBlockSynchronization: () => 1,
};

function unitsOf<N extends DatanodeRpcName>(name: N, req: RpcRequest<N>): number {
  return UNITS[name](req);
}

/** Wraps `serve` so that DataNode RPCs use at most `unitsPerTurn` of each loop turn. */
export function withTurnBudget(
  serve: DatanodeRpcHandler,
  log: Logger,
  unitsPerTurn = DATANODE_UNITS_PER_TURN,
): DatanodeRpcHandler {
  const queue: Waiting[] = [];
  let head = 0;
  let used = 0;
  let turnEndScheduled = false;

  const run = (w: Waiting): void => {
    used += unitsOf(w.name, w.req);
    try {
      serve(w.conn, w.name, w.id, w.req);
    } catch (err) {
      rethrowIfBug(err);
      // Served outside the dispatcher's try/catch when it waited: answer the error here.
      const e =
        err instanceof DfsError
          ? err
          : new DfsError('INTERNAL', `internal error serving ${w.name}: ${(err as Error).message}`);
      if (!(err instanceof DfsError))
        log.error({ err, rpc: w.name }, 'internal error serving a DataNode request');
      w.conn.replyError(rpcCodecs[w.name].opcode, w.id, e);
    }
  };

  const endOfTurn = (): void => {
    turnEndScheduled = false;
    used = 0;
    while (head < queue.length && used < unitsPerTurn) {
      const w = queue[head]!;
      queue[head++] = undefined as unknown as Waiting;
      run(w);
    }
    if (head === queue.length) {
      queue.length = 0;
      head = 0;
    } else {
      if (head > 1024) {
        queue.splice(0, head);
        head = 0;
      }
      scheduleEndOfTurn();
    }
  };

  const scheduleEndOfTurn = (): void => {
    if (turnEndScheduled) return;
    turnEndScheduled = true;
    setImmediate(endOfTurn);
  };

  return (conn, name, id, req) => {
    scheduleEndOfTurn();
    if (head < queue.length || used >= unitsPerTurn) {
      queue.push({ conn, name, id, req });
      return;
    }
    // Within the budget and nobody waiting: served now, errors thrown to the dispatcher.
    used += unitsOf(name, req);
    serve(conn, name, id, req);
  };
}
