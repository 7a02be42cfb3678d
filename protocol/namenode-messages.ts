/**
 * The NameNode RPCs as one protocol (PROTOCOL.md section 6): the opcode table that joins the
 * client (client-namenode-messages.ts), admin (admin-namenode-messages.ts, ha-admin-messages.ts) and DataNode
 * (datanode-namenode-messages.ts) messages, and the functions that frame them. Requests
 * travel in REQUEST frames, answers in RESPONSE frames with the same opcode and request id,
 * failures in ERROR frames (error-frame.ts).
 *
 * `rpcCodecs` is typed from the message maps (`RpcMessages`), not inferred from the tables,
 * so `encodeRequest(name, ...)` reaches the right codec for a generic `name` without a cast,
 * and adding a message to a map without its codec does not compile. Nothing on the data
 * path imports this module: data connections speak data-messages.ts only.
 */
import { type Codec, type CodecTable } from './codec.js';
import { adminRpcCodecs, type AdminRpcMessages } from './admin-namenode-messages.js';
import { clientRpcCodecs, type ClientRpcMessages } from './client-namenode-messages.js';
import { datanodeRpcCodecs, NoticeOpcode, type DatanodeRpcMessages } from './datanode-namenode-messages.js';
import { haAdminRpcCodecs, type HaAdminRpcMessages } from './ha-admin-messages.js';
import { FrameKind, frameWriter, sealFrame, type Frame } from './frame.js';
import { WireReader } from './wire-reader.js';

export type RpcMessages = ClientRpcMessages & AdminRpcMessages & HaAdminRpcMessages & DatanodeRpcMessages;
export type RpcName = keyof RpcMessages;
export type RpcRequest<N extends RpcName> = RpcMessages[N]['req'];
export type RpcResponse<N extends RpcName> = RpcMessages[N]['res'];

/** Every NameNode RPC, in opcode order; `mutates` marks what goes to the edit log first. */
export const rpcCodecs: CodecTable<RpcMessages, { opcode: number; mutates: boolean }> = {
  ...clientRpcCodecs,
  ...adminRpcCodecs,
  ...haAdminRpcCodecs,
  ...datanodeRpcCodecs,
};

function isRpcName(name: string): name is RpcName {
  return Object.hasOwn(rpcCodecs, name);
}

/**
 * Mutations that are not idempotent, answered once per call (PROTOCOL.md section 6, "Retried
 * calls"; HDFS `@AtMostOnce`): a NameNode keeps their results by (client id, call id) in its
 * retry cache, and a client may send one again, with the same request id, when it does not
 * know whether the first got through. A second mkdir, create or rename would fail, a second
 * addBlock, bumpGenStamp or append would allocate again; the other mutations set a value
 * and are idempotent already.
 */
export const AT_MOST_ONCE_RPCS: ReadonlySet<RpcName> = new Set<RpcName>([
  'mkdir',
  'delete',
  'rename',
  'create',
  'addBlock',
  'complete',
  'abandonBlock',
  'bumpGenStamp',
  'append',
]);

/** RPCs only a DataNode may send. */
export const DATANODE_RPCS: ReadonlySet<RpcName> = new Set(Object.keys(datanodeRpcCodecs).filter(isRpcName));

const RPC_BY_OPCODE = new Map<number, RpcName>(
  Object.keys(rpcCodecs)
    .filter(isRpcName)
    .map((name) => [rpcCodecs[name].opcode, name]),
);

export function rpcNameOf(opcode: number): RpcName | undefined {
  return RPC_BY_OPCODE.get(opcode);
}

/** Opcode check for a NameNode's client-facing decoder. */
export function isNamenodeOpcode(kind: number, opcode: number): boolean {
  return RPC_BY_OPCODE.has(opcode) && kind === FrameKind.REQUEST;
}

/** Opcode check for the client's decoder (answers and notices from a NameNode). */
export function isNamenodeReplyOpcode(kind: number, opcode: number): boolean {
  if (kind === FrameKind.ERROR) return true;
  if (kind === FrameKind.NOTICE) return opcode === NoticeOpcode.COMMANDS_PENDING;
  return kind === FrameKind.RESPONSE && RPC_BY_OPCODE.has(opcode);
}

export function encodeRequest<N extends RpcName>(name: N, requestId: number, req: RpcRequest<N>): Buffer {
  const entry = rpcCodecs[name];
  return encodeBody(entry.req, req, FrameKind.REQUEST, entry.opcode, requestId);
}

export function decodeRequest<N extends RpcName>(name: N, frame: Frame): RpcRequest<N> {
  return decodeBody(rpcCodecs[name].req, frame, `${name} request`);
}

export function encodeResponse<N extends RpcName>(name: N, requestId: number, res: RpcResponse<N>): Buffer {
  const entry = rpcCodecs[name];
  return encodeBody(entry.res, res, FrameKind.RESPONSE, entry.opcode, requestId);
}

export function decodeResponse<N extends RpcName>(name: N, frame: Frame): RpcResponse<N> {
  return decodeBody(rpcCodecs[name].res, frame, `${name} response`);
}

function encodeBody<T>(
  codec: Codec<T>,
  value: T,
  kind: FrameKind,
  opcode: number,
  requestId: number,
): Buffer {
  const w = frameWriter();
  codec.encode(w, value);
  return sealFrame(w, kind, opcode, requestId);
}

function decodeBody<T>(codec: Codec<T>, frame: Frame, what: string): T {
  const r = new WireReader(frame.body, what);
  const value = codec.decode(r);
  r.end();
  return value;
}
