/**
 * The mutations the NameNode logs. Each is a complete, deterministic description of one
 * change (timestamps and allocated ids included), so replaying the log through
 * `Namespace.apply` rebuilds exactly the state that was acknowledged.
 *
 * Body layouts (after the record header of edit-log-format.ts), one per op code:
 *   1 MKDIR          path str, parents bool, mtimeMs u64
 *   2 CREATE         path str, clientName str, overwrite bool, createParent bool,
 *                    replication u16, blockBytes u64, mtimeMs u64
 *   3 ADD_BLOCK      path str, clientName str, previousNumBytes u64 (2^53-1 = none),
 *                    blockId u64, genStamp u64
 *   4 ABANDON_BLOCK  path str, clientName str, blockId u64
 *   5 COMPLETE       path str, clientName str, lastNumBytes u64 (2^53-1 = none), mtimeMs u64
 *   6 DELETE         path str, recursive bool, mtimeMs u64
 *   7 RENAME         src str, dst str, mtimeMs u64
 *   8 CLOSE_FILE     path str, keepBlocks u32, lastNumBytes u64, mtimeMs u64   (lease recovery)
 *   9 UPDATE_BLOCK   path str, blockId u64, genStamp u64, numBytes u64      (pipeline recovery)
 *  10 SET_REPLICATION path str, replication u16
 *  11 SET_GEN_STAMP  genStamp u64                 (a block recovery's id, allocated durably)
 *  12 COMMIT_BLOCK_SYNC path str, blockId u64, genStamp u64, numBytes u64, mtimeMs u64
 *                    (block recovery: the last block at its recovered stamp and length; closes)
 *  13 SET_QUOTA      path str, nsQuota u64, dsQuota u64
 *  14 MKDIR_OWNED    as MKDIR, then owner str, mode u16
 *  15 CREATE_OWNED   as CREATE, then owner str, mode u16
 *  16 SET_PERMISSION path str, mode u16
 *  17 SET_OWNER      path str, owner str, group str   ('' = unchanged)
 *  18 RESERVE_BLOCK  blockId u64, genStamp u64
 *                    (a writer's next block, reserved while its current one streams: the
 *                    id and stamp are never given again; the file gets the block with
 *                    the ADD_BLOCK that attaches it, client-rpc.ts `reserveBlock`)
 *
 * Owners came with image format 3: a mkdir or create is written with code 14 or 15, which
 * carry the creator and the mode. Records of codes 1 and 2, written before, still replay:
 * they decode without `owned`, and the namespace gives what they make the defaults an old
 * image's nodes get (the superuser, the supergroup, 0755 or 0644). The group of a new node
 * is never logged: it is its parent's (HDFS), which replay knows as well as the live
 * NameNode did.
 *
 *  30 APPEND         path str, clientName str, genStamp u64 (2^53-1 = none)
 *                    (the file reopened for clientName; its last block, when it has room,
 *                    reopened under genStamp. codes from 30 up)
 *
 * The call that made an edit (retry cache, retry-cache.ts; HDFS logs rpcClientId and
 * rpcCallId with its ops the same way): an op sent by a client in AT_MOST_ONCE_RPCS
 * (protocol/namenode-messages.ts) has the high bit of its code set (code | 0x80), and the
 * body follows the client id and the call id:
 *
 *   | code | 0x80 u8 | clientId 16 bytes | callId u32 | body of `code` |
 *
 * Records without the bit (every record of a NameNode's own, and those written before
 * the retry cache) decode as before.
 */
import { DfsError } from '../../protocol/errors.js';
import { readPermission } from '../../protocol/shared-structures.js';
import type { WireReader } from '../../protocol/wire-reader.js';
import type { WireWriter } from '../../protocol/wire-writer.js';

export const NONE = Number.MAX_SAFE_INTEGER;

/** Who creates a node and its mode (the client's umask applied); absent in records before owners. */
export interface Owned {
  owner: string;
  mode: number;
}

/** The client call that made an edit: the hello's client id (32 hex digits) and the call's request id. */
export interface RpcCall {
  clientId: string;
  callId: number;
}

/** An edit, with the client call that made it when that call may be retried (`rpc`). */
export type EditOp = EditBody & { rpc?: RpcCall };

type EditBody =
  | { op: 'mkdir'; path: string; parents: boolean; mtimeMs: number; owned?: Owned }
  | {
      op: 'create';
      path: string;
      clientName: string;
      overwrite: boolean;
      createParent: boolean;
      replication: number;
      blockBytes: number;
      mtimeMs: number;
      owned?: Owned;
    }
  | {
      op: 'addBlock';
      path: string;
      clientName: string;
      previousNumBytes: number;
      blockId: number;
      genStamp: number;
    }
  | { op: 'abandonBlock'; path: string; clientName: string; blockId: number }
  | { op: 'complete'; path: string; clientName: string; lastNumBytes: number; mtimeMs: number }
  | { op: 'delete'; path: string; recursive: boolean; mtimeMs: number }
  | { op: 'rename'; src: string; dst: string; mtimeMs: number }
  | { op: 'closeFile'; path: string; keepBlocks: number; lastNumBytes: number; mtimeMs: number }
  | { op: 'updateBlock'; path: string; blockId: number; genStamp: number; numBytes: number }
  | { op: 'setReplication'; path: string; replication: number }
  | { op: 'setGenStamp'; genStamp: number }
  | { op: 'reserveBlock'; blockId: number; genStamp: number }
  | {
      op: 'commitBlockSync';
      path: string;
      blockId: number;
      genStamp: number;
      numBytes: number;
      mtimeMs: number;
    }
  /** Quotas of a directory: names and bytes (with replicas); 0 = none. */
  | { op: 'setQuota'; path: string; nsQuota: number; dsQuota: number }
  | { op: 'setPermission'; path: string; mode: number }
  | { op: 'setOwner'; path: string; owner: string; group: string }
  /** Append: the file is under construction again; `genStamp` (NONE: none) reopens its last block. */
  | { op: 'append'; path: string; clientName: string; genStamp: number };

const OP_CODES = {
  mkdir: 1,
  create: 2,
  addBlock: 3,
  abandonBlock: 4,
  complete: 5,
  delete: 6,
  rename: 7,
  closeFile: 8,
  updateBlock: 9,
  setReplication: 10,
  setGenStamp: 11,
  commitBlockSync: 12,
  setQuota: 13,
  setPermission: 16,
  setOwner: 17,
  reserveBlock: 18,
  append: 30,
} as const;
const MKDIR_OWNED = 14;
const CREATE_OWNED = 15;
/** Set in the op code of an edit that carries its RpcCall. */
const RPC_CALL_BIT = 0x80;
const CLIENT_ID_BYTES = 16;

function opCode(e: EditOp): number {
  if (e.op === 'mkdir' && e.owned !== undefined) return MKDIR_OWNED;
  if (e.op === 'create' && e.owned !== undefined) return CREATE_OWNED;
  return OP_CODES[e.op];
}

export function encodeEditOp(w: WireWriter, e: EditOp): void {
  if (e.rpc === undefined) w.u8(opCode(e));
  else
    w.u8(opCode(e) | RPC_CALL_BIT)
      .raw(Buffer.from(e.rpc.clientId, 'hex'))
      .u32(e.rpc.callId);
  switch (e.op) {
    case 'mkdir':
      w.str(e.path).bool(e.parents).u64(e.mtimeMs);
      if (e.owned !== undefined) w.str(e.owned.owner).u16(e.owned.mode);
      break;
    case 'create':
      w.str(e.path)
        .str(e.clientName)
        .bool(e.overwrite)
        .bool(e.createParent)
        .u16(e.replication)
        .u64(e.blockBytes)
        .u64(e.mtimeMs);
      if (e.owned !== undefined) w.str(e.owned.owner).u16(e.owned.mode);
      break;
    case 'addBlock':
      w.str(e.path).str(e.clientName).u64(e.previousNumBytes).u64(e.blockId).u64(e.genStamp);
      break;
    case 'abandonBlock':
      w.str(e.path).str(e.clientName).u64(e.blockId);
      break;
    case 'complete':
      w.str(e.path).str(e.clientName).u64(e.lastNumBytes).u64(e.mtimeMs);
      break;
    case 'delete':
      w.str(e.path).bool(e.recursive).u64(e.mtimeMs);
      break;
    case 'rename':
      w.str(e.src).str(e.dst).u64(e.mtimeMs);
      break;
    case 'closeFile':
      w.str(e.path).u32(e.keepBlocks).u64(e.lastNumBytes).u64(e.mtimeMs);
      break;
    case 'updateBlock':
      w.str(e.path).u64(e.blockId).u64(e.genStamp).u64(e.numBytes);
      break;
    case 'setReplication':
      w.str(e.path).u16(e.replication);
      break;
    case 'setGenStamp':
      w.u64(e.genStamp);
      break;
    case 'reserveBlock':
      w.u64(e.blockId).u64(e.genStamp);
      break;
    case 'commitBlockSync':
      w.str(e.path).u64(e.blockId).u64(e.genStamp).u64(e.numBytes).u64(e.mtimeMs);
      break;
    case 'setQuota':
      w.str(e.path).u64(e.nsQuota).u64(e.dsQuota);
      break;
    case 'setPermission':
      w.str(e.path).u16(e.mode);
      break;
    case 'setOwner':
      w.str(e.path).str(e.owner).str(e.group);
      break;
    case 'append':
      w.str(e.path).str(e.clientName).u64(e.genStamp);
      break;
  }
}

export function decodeEditOp(r: WireReader): EditOp {
  const first = r.u8('op');
  if ((first & RPC_CALL_BIT) === 0) return decodeBody(r, first);
  const rpc: RpcCall = {
    clientId: r.raw(CLIENT_ID_BYTES, 'clientId').toString('hex'),
    callId: r.u32('callId'),
  };
  return { ...decodeBody(r, first & ~RPC_CALL_BIT), rpc };
}

function decodeBody(r: WireReader, code: number): EditOp {
  switch (code) {
    case 1:
    case MKDIR_OWNED: {
      const op: EditOp = { op: 'mkdir', path: r.str(), parents: r.bool(), mtimeMs: r.u64() };
      if (code === MKDIR_OWNED) op.owned = readOwned(r);
      return op;
    }
    case 2:
    case CREATE_OWNED: {
      const op: EditOp = {
        op: 'create',
        path: r.str(),
        clientName: r.str(),
        overwrite: r.bool(),
        createParent: r.bool(),
        replication: r.u16(),
        blockBytes: r.u64(),
        mtimeMs: r.u64(),
      };
      if (code === CREATE_OWNED) op.owned = readOwned(r);
      return op;
    }
    case 3:
      return {
        op: 'addBlock',
        path: r.str(),
        clientName: r.str(),
        previousNumBytes: r.u64(),
        blockId: r.u64(),
        genStamp: r.u64(),
      };
    case 4:
      return { op: 'abandonBlock', path: r.str(), clientName: r.str(), blockId: r.u64() };
    case 5:
      return { op: 'complete', path: r.str(), clientName: r.str(), lastNumBytes: r.u64(), mtimeMs: r.u64() };
    case 6:
      return { op: 'delete', path: r.str(), recursive: r.bool(), mtimeMs: r.u64() };
    case 7:
      return { op: 'rename', src: r.str(), dst: r.str(), mtimeMs: r.u64() };
    case 8:
      return { op: 'closeFile', path: r.str(), keepBlocks: r.u32(), lastNumBytes: r.u64(), mtimeMs: r.u64() };
    case 9:
      return { op: 'updateBlock', path: r.str(), blockId: r.u64(), genStamp: r.u64(), numBytes: r.u64() };
    case 10:
      return { op: 'setReplication', path: r.str(), replication: r.u16() };
    case 11:
      return { op: 'setGenStamp', genStamp: r.u64() };
    case 12:
      return {
        op: 'commitBlockSync',
        path: r.str(),
        blockId: r.u64(),
        genStamp: r.u64(),
        numBytes: r.u64(),
        mtimeMs: r.u64(),
      };
    case 13:
      return { op: 'setQuota', path: r.str(), nsQuota: r.u64(), dsQuota: r.u64() };
    case OP_CODES.setPermission:
      return { op: 'setPermission', path: r.str(), mode: readPermission(r, 'mode') };
    case OP_CODES.setOwner:
      return { op: 'setOwner', path: r.str(), owner: r.str(), group: r.str() };
    case OP_CODES.reserveBlock:
      return { op: 'reserveBlock', blockId: r.u64(), genStamp: r.u64() };
    case 30:
      return { op: 'append', path: r.str(), clientName: r.str(), genStamp: r.u64() };
    default:
      throw new DfsError('MALFORMED', `unknown edit op ${code}`);
  }
}

function readOwned(r: WireReader): Owned {
  return { owner: r.str('owner'), mode: readPermission(r, 'mode') };
}
