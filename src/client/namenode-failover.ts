/**
 * Client failover between HA NameNodes (issue 14; HDFS's ConfiguredFailoverProxyProvider):
 * the transport under namenode-client.ts when the client is given several NameNodes
 * (`--namenode nn1:8020,nn2:8020`, DFS_NAMENODE likewise). It keeps one connection
 * (src/common/rpc-connection.ts) per NameNode, sends each call to the one that last
 * answered as the active, and moves on when that fails:
 *
 *   | failure of an attempt                              | retried on another NameNode   |
 *   |----------------------------------------------------|-------------------------------|
 *   | STANDBY (nothing was done)                         | any call; first to the active |
 *   |                                                    |   the message names, if listed|
 *   | SAFE_MODE at start-up (an active still waiting for | any call, after a pause: the  |
 *   |   block reports; not an operator's safe mode)      |   safe mode ends by itself    |
 *   | CONNECTION before the request was sent (refused,   | any call                      |
 *   |   the host unreachable)                            |                               |
 *   | CONNECTION after it was sent, TIMEOUT, FENCED (the | reads (`mutates` false in     |
 *   |   NameNode deposed while the call waited on its    |                               |
 *   |   journal)                                         |                               |
 *   |                                                    |   protocol/namenode-messages),|
 *   |                                                    |   and AT_MOST_ONCE_RPCS       |
 *   | anything else (the NameNode's answer)              | no: the caller gets it        |
 *
 * Every attempt of one call carries the same call id (its request id, from the client's one
 * `CallIds`) on connections that name the same client id, so a mutation that may have
 * happened is sent again safely: a NameNode that applied it answers from its retry cache
 * (src/namenode/retry-cache.ts) with the first result instead of applying it twice (HDFS's
 * RetryInvocationHandler keeps the call id the same way). The other mutations (setOwner,
 * setQuota, decommission...) still fail with CONNECTION when it broke after they were sent.
 * Given one NameNode (`failoverTimeoutMs` set), it is the same loop over a list of one: the
 * call waits for that NameNode to come back, as across a restart.
 *
 * Bounded: after every NameNode of the list failed once, it waits (FAILOVER_BASE_MS,
 * doubling per round, at most FAILOVER_MAX_MS) and goes round again, until
 * `failoverTimeoutMs` has passed since the call began; then the last error stands. So a
 * call made while the standby is still taking over (a lease TTL, a few seconds) succeeds.
 */
import { DfsError, MANUAL_SAFE_MODE, rethrowIfBug } from '../../protocol/errors.js';
import {
  AT_MOST_ONCE_RPCS,
  rpcCodecs,
  type RpcName,
  type RpcRequest,
  type RpcResponse,
} from '../../protocol/namenode-messages.js';
import { CallIds, RpcConnection, wasNotSent, type RpcConnectionOptions } from '../common/rpc-connection.js';

export const FAILOVER_BASE_MS = 100;
export const FAILOVER_MAX_MS = 500;
/** How long a call keeps failing over by default: longer than a takeover (lease TTL + a few s). */
export const FAILOVER_TIMEOUT_MS = 30_000;

export interface FailoverOptions extends Omit<RpcConnectionOptions, 'host' | 'port'> {
  namenodes: ReadonlyArray<{ host: string; port: number }>;
  failoverTimeoutMs?: number;
}

/** What namenode-client.ts calls: one connection, or several with failover. */
export interface RpcTransport {
  readonly address: string;
  call<N extends RpcName>(name: N, request: RpcRequest<N>): Promise<RpcResponse<N>>;
  close(): void;
}

export class FailoverRpc implements RpcTransport {
  private readonly connections: RpcConnection[];
  private current = 0;
  private readonly failoverTimeoutMs: number;
  private readonly callIds: CallIds;

  constructor(options: FailoverOptions) {
    const { namenodes, failoverTimeoutMs, ...rest } = options;
    const callIds = (this.callIds = rest.callIds ?? new CallIds());
    this.connections = namenodes.map(
      (nn) => new RpcConnection({ ...rest, callIds, host: nn.host, port: nn.port }),
    );
    this.failoverTimeoutMs = failoverTimeoutMs ?? FAILOVER_TIMEOUT_MS;
  }

  /** The NameNode calls go to first (the last known active). */
  get address(): string {
    return this.connections[this.current]!.address;
  }

  async call<N extends RpcName>(name: N, request: RpcRequest<N>): Promise<RpcResponse<N>> {
    const started = Date.now();
    const n = this.connections.length;
    let failedInRound = 0;
    let round = 0;
    const callId = this.callIds.take();
    for (;;) {
      const at = this.current;
      try {
        return await this.connections[at]!.call(name, request, callId);
      } catch (err) {
        rethrowIfBug(err);
        if (!(err instanceof DfsError) || !this.retriable(name, err)) throw err;
        if (Date.now() - started >= this.failoverTimeoutMs) throw err;
        // Another call may have moved on meanwhile: follow it rather than step past it.
        if (this.current === at) this.current = this.named(err) ?? (at + 1) % n;
        if (++failedInRound >= n) {
          failedInRound = 0;
          const waitMs = Math.min(FAILOVER_BASE_MS * 2 ** round++, FAILOVER_MAX_MS);
          await new Promise((r) => setTimeout(r, waitMs));
        }
      }
    }
  }

  close(): void {
    for (const c of this.connections) c.close();
  }

  private retriable(name: RpcName, err: DfsError): boolean {
    if (err.message === 'client is closed') return false;
    if (err.code === 'STANDBY') return true;
    // Safe mode at start-up ends by itself once the DataNodes have reported (PROTOCOL.md
    // section 6): nothing was done, so any call may wait for it; an operator's safe mode may not.
    if (err.code === 'SAFE_MODE') return !err.message.includes(MANUAL_SAFE_MODE);
    if (err.code === 'CONNECTION' && wasNotSent(err)) return true;
    // FENCED: the NameNode was deposed while the call waited on its journal; whether it was
    // written is unknown, as with a connection lost after sending.
    if (err.code !== 'CONNECTION' && err.code !== 'TIMEOUT' && err.code !== 'FENCED') return false;
    return !rpcCodecs[name].mutates || AT_MOST_ONCE_RPCS.has(name);
  }

  /** The index of the active a STANDBY answer names (PROTOCOL.md: "the active is HOST:PORT"), if listed. */
  private named(err: DfsError): number | undefined {
    if (err.code !== 'STANDBY') return undefined;
    const m = /the active is (\S+)/.exec(err.message);
    if (m === null) return undefined;
    const i = this.connections.findIndex((c) => c.address === m[1]);
    return i >= 0 && i !== this.current ? i : undefined;
  }
}
