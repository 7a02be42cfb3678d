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
 *  30 APPEND         path str, clientName str, genStamp u64 (2^53-1 = none)
 *                    (the file reopened for clientName; its last block, when it has room,
 *                    reopened under genStamp. Codes from 30 up: 14+ are the permission ops')
 */
import { DfsError } from '../../protocol/errors.js';
import type { WireReader } from '../../protocol/wire-reader.js';
import type { WireWriter } from '../../protocol/wire-writer.js';

export const NONE = Number.MAX_SAFE_INTEGER;

export type EditOp =
  | { op: 'mkdir'; path: string; parents: boolean; mtimeMs: number }
  | {
      op: 'create';
      path: string;
      clientName: string;
      overwrite: boolean;
      createParent: boolean;
      replication: number;
      blockBytes: number;
      mtimeMs: number;
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
  append: 30,
} as const;

export function encodeEditOp(w: WireWriter, e: EditOp): void {
  w.u8(OP_CODES[e.op]);
  switch (e.op) {
    case 'mkdir':
      w.str(e.path).bool(e.parents).u64(e.mtimeMs);
      break;
    case 'create':
      w.str(e.path)
        .str(e.clientName)
        .bool(e.overwrite)
        .bool(e.createParent)
        .u16(e.replication)
        .u64(e.blockBytes)
        .u64(e.mtimeMs);
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
    case 'commitBlockSync':
      w.str(e.path).u64(e.blockId).u64(e.genStamp).u64(e.numBytes).u64(e.mtimeMs);
      break;
    case 'setQuota':
      w.str(e.path).u64(e.nsQuota).u64(e.dsQuota);
      break;
    case 'append':
      w.str(e.path).str(e.clientName).u64(e.genStamp);
      break;
  }
}

export function decodeEditOp(r: WireReader): EditOp {
  const code = r.u8('op');
  switch (code) {
    case 1:
      return { op: 'mkdir', path: r.str(), parents: r.bool(), mtimeMs: r.u64() };
    case 2:
      return {
        op: 'create',
        path: r.str(),
        clientName: r.str(),
        overwrite: r.bool(),
        createParent: r.bool(),
        replication: r.u16(),
        blockBytes: r.u64(),
        mtimeMs: r.u64(),
      };
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
    case 30:
      return { op: 'append', path: r.str(), clientName: r.str(), genStamp: r.u64() };
    default:
      throw new DfsError('MALFORMED', `unknown edit op ${code}`);
  }
}
