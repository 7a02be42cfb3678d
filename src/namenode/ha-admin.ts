/**
 * The NameNode's side of `dfs admin ha status` and `dfs admin ha failover` (issue 14;
 * protocol/ha-admin-messages.ts): this NameNode's role, epoch and journal position, and the
 * graceful hand-over of an active (ha-node.ts `handOver`). Kept apart from admin-rpc.ts,
 * which serves the DataNode and block views, and from ha-node.ts, which owns the HA state.
 *
 * A NameNode with the local edit log answers `haStatus` with role SINGLE (it serves alone;
 * its txid is its edit log's) and `haFailover` with INVALID_ARGUMENT. `haStatus` is served
 * on a standby (ha-node.ts `servedOnStandby`); `haFailover` only on the active, and only on an
 * ADMIN connection (a superuser's: rpc-permissions.ts `checkRequest`).
 */
import { HaRole, type HaStatusResponse } from '../../protocol/ha-admin-messages.js';
import { DfsError, rethrowIfBug } from '../../protocol/errors.js';
import { encodeResponse, rpcCodecs } from '../../protocol/namenode-messages.js';
import type { Logger } from '../common/logger.js';
import type { HaNode } from './ha-node.js';
import type { Handler } from './rpc-handler.js';

/** What the HA admin RPCs need: the HA role (null without HA) and the local journal's txid. */
export interface HaAdminContext {
  ha: HaNode | null;
  /** The last txid written (without HA: the edit log's). */
  lastTxid: () => number;
  log: Logger;
}

const ROLE_OF = {
  starting: HaRole.STANDBY,
  standby: HaRole.STANDBY,
  active: HaRole.ACTIVE,
  'handing-over': HaRole.STOPPING,
  failed: HaRole.STOPPING,
  stopped: HaRole.STOPPING,
} as const;

export class HaAdmin {
  readonly handlers: { haStatus: Handler<'haStatus'>; haFailover: Handler<'haFailover'> } = {
    haStatus: (conn, id) => {
      this.status().then(
        (s) => conn.reply(encodeResponse('haStatus', id, s)),
        (err: unknown) => {
          rethrowIfBug(err);
          conn.replyError(rpcCodecs.haStatus.opcode, id, asDfsError(err));
        },
      );
    },
    haFailover: (conn, id, req) => {
      // admin-rpc.ts has checked the ADMIN role already.
      const ha = this.ctx.ha;
      if (ha === null)
        throw new DfsError(
          'INVALID_ARGUMENT',
          'no HA: this NameNode writes the local edit log (journal "local")',
        );
      this.ctx.log.warn({ to: req.target || 'any standby', by: conn.user }, 'hand-over asked by an operator');
      let answered = false;
      ha.handOver(req.target, () => {
        answered = true;
        conn.reply(encodeResponse('haFailover', id, {}));
      }).catch((err: unknown) => {
        rethrowIfBug(err);
        if (!answered) conn.replyError(rpcCodecs.haFailover.opcode, id, asDfsError(err));
      });
    },
  };

  constructor(private readonly ctx: HaAdminContext) {}

  async status(): Promise<HaStatusResponse> {
    const ha = this.ctx.ha;
    if (ha === null) {
      // Serving alone: the CLI names it by the address it asked.
      const txid = this.ctx.lastTxid();
      return {
        role: HaRole.SINGLE,
        nodeId: '',
        epoch: 0,
        lastAppliedTxid: txid,
        journalHeadTxid: txid,
        activeId: '',
        activeAddress: '',
        activeEpoch: 0,
      };
    }
    const applied = ha.state === 'active' ? this.ctx.lastTxid() : ha.lastAppliedTxid;
    const head = await ha.journalHead();
    const leader = ha.leaderNow;
    return {
      role: ha.isActive ? HaRole.ACTIVE : ROLE_OF[ha.state],
      nodeId: ha.id,
      epoch: ha.epoch,
      lastAppliedTxid: applied,
      journalHeadTxid: head,
      activeId: leader?.record.id ?? '',
      activeAddress: leader?.record.rpcAddress ?? '',
      activeEpoch: leader?.epoch ?? 0,
    };
  }
}

function asDfsError(err: unknown): DfsError {
  return err instanceof DfsError ? err : new DfsError('INTERNAL', (err as Error).message);
}
