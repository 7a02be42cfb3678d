/**
 * The operator's HA RPCs (PROTOCOL.md section 6, opcodes 0x1C-0x1D; issue 14): `haStatus`,
 * one NameNode's role, epoch and journal position, which `dfs admin ha status` asks of every
 * configured NameNode; and `haFailover`, which asks the active to hand over (it resigns its
 * leader key so a standby wins, optionally a named one).
 *
 * `role` is carried unjudged, like the actions of admin-namenode-messages.ts: the CLI shows
 * a role it does not know by its number, so a later NameNode may add one (PROTOCOL.md
 * section 11).
 *
 * The table is checked with `satisfies CodecTable<HaAdminRpcMessages, ...>` (codec.ts).
 */
import { emptyCodec, type CodecTable, type Empty } from './codec.js';

/** `HaStatusResponse.role`. */
export const HaRole = {
  /** The local edit log: no HA, this NameNode serves alone. */
  SINGLE: 0,
  ACTIVE: 1,
  STANDBY: 2,
  /** Stepped down, fenced or stopping: it serves nothing and is about to exit. */
  STOPPING: 3,
} as const;

export interface HaStatusResponse {
  /** A HaRole. */
  role: number;
  /** The NameNode's id (config `nodeId`, else its RPC address). */
  nodeId: string;
  /** The epoch it serves with (the leader key's create revision); 0 unless active. */
  epoch: number;
  /** The last transaction it has applied (the active: written). */
  lastAppliedTxid: number;
  /** The etcd journal's head as read for this answer (= lastAppliedTxid without HA). */
  journalHeadTxid: number;
  /** The active as the leader key names it ("" when none is known), with its epoch. */
  activeId: string;
  activeAddress: string;
  activeEpoch: number;
}

export interface HaFailoverRequest {
  /** The NameNode id that should take over; "" for whichever standby wins. */
  target: string;
}

export interface HaAdminRpcMessages {
  haStatus: { req: Empty; res: HaStatusResponse };
  haFailover: { req: HaFailoverRequest; res: Empty };
}

export const haAdminRpcCodecs = {
  haStatus: {
    opcode: 0x1c,
    mutates: false,
    req: emptyCodec,
    res: {
      encode(w, v) {
        w.u8(v.role).str(v.nodeId).u64(v.epoch).u64(v.lastAppliedTxid).u64(v.journalHeadTxid);
        w.str(v.activeId).str(v.activeAddress).u64(v.activeEpoch);
      },
      decode: (r) => ({
        role: r.u8('role'),
        nodeId: r.str('nodeId'),
        epoch: r.u64('epoch'),
        lastAppliedTxid: r.u64('lastAppliedTxid'),
        journalHeadTxid: r.u64('journalHeadTxid'),
        activeId: r.str('activeId'),
        activeAddress: r.str('activeAddress'),
        activeEpoch: r.u64('activeEpoch'),
      }),
    },
  },
  haFailover: {
    opcode: 0x1d,
    // Not an edit: it hands the leader key over, so safe mode does not refuse it.
    mutates: false,
    req: {
      encode: (w, v) => void w.str(v.target),
      decode: (r) => ({ target: r.str('target') }),
    },
    res: emptyCodec,
  },
} satisfies CodecTable<HaAdminRpcMessages, { opcode: number; mutates: boolean }>;
