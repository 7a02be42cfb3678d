/**
 * Connection handshake (PROTOCOL.md, "Handshake"). The connecting side sends a hello, the
 * accepting side answers with a reply of the same size; only then do frames flow.
 *
 *   hello:  | magic u32 | version u16 | role u8   | userBytes u8 | clientId 16 bytes | user (userBytes bytes, UTF-8) |
 *   reply:  | magic u32 | version u16 | status u8 | reserved u8  |
 *
 * The hello names the user the connection acts for (HDFS "simple" mode: the NameNode
 * trusts it, as HDFS trusts the user of its connection context without Kerberos). It is
 * said once per connection, where a later authentication step will prove it, so no RPC
 * carries an identity of its own. A DataNode's hello names none (userBytes 0).
 *
 * The client id is the NameNode retry cache's name for the client (HDFS's RpcRequestHeader
 * clientId): 16 random bytes a client keeps for its lifetime, sent in every hello, so a call
 * retried on a new connection or another NameNode is known as the same client's
 * (src/namenode/retry-cache.ts). All zero: none (DataNodes, data connections).
 *
 * A version mismatch is answered with status VERSION_MISMATCH and the server's version,
 * then the server closes, so both sides can print a clear message instead of hanging.
 */
import { DfsError } from './errors.js';
import { CLIENT_ID_BYTES, HANDSHAKE_BYTES, HELLO_HEAD_BYTES, MAGIC, PROTOCOL_VERSION } from './limits.js';

export const Role = {
  CLIENT: 1,
  DATANODE: 2,
  ADMIN: 3,
} as const;
export type Role = (typeof Role)[keyof typeof Role];

export const HandshakeStatus = {
  OK: 0,
  VERSION_MISMATCH: 1,
  ROLE_REFUSED: 2,
} as const;
export type HandshakeStatus = (typeof HandshakeStatus)[keyof typeof HandshakeStatus];

export interface Hello {
  version: number;
  role: number;
  /** The user the connection acts for; '' when the hello names none. */
  user: string;
  /** The client id as 32 hex digits; NO_CLIENT_ID when the hello names none. */
  clientId: string;
}

/** The client id of a hello that names none (all zero). */
export const NO_CLIENT_ID = '0'.repeat(CLIENT_ID_BYTES * 2);

/** Longest user name a hello carries (its length is a u8). */
export const USER_BYTES_MAX = 255;

export interface HelloReply {
  version: number;
  status: number;
}

function encode(version: number, third: number): Buffer {
  const b = Buffer.alloc(HANDSHAKE_BYTES);
  b.writeUInt32BE(MAGIC, 0);
  b.writeUInt16BE(version, 4);
  b.writeUInt8(third, 6);
  return b;
}

function checkMagic(b: Buffer, what: string, bytes = HANDSHAKE_BYTES): void {
  if (b.length !== bytes)
    throw new DfsError('MALFORMED', `${what}: expected ${bytes} bytes, got ${b.length}`);
  const magic = b.readUInt32BE(0);
  if (magic !== MAGIC) {
    throw new DfsError(
      'PROTOCOL',
      `${what}: bad magic 0x${magic.toString(16).padStart(8, '0')} (not a DFS peer?)`,
    );
  }
}

export function encodeHello(
  role: Role,
  version = PROTOCOL_VERSION,
  user = '',
  clientId: string = NO_CLIENT_ID,
): Buffer {
  const name = Buffer.from(user, 'utf8');
  if (name.length > USER_BYTES_MAX)
    throw new DfsError('INVALID_ARGUMENT', `user name is ${name.length} bytes, over ${USER_BYTES_MAX}`);
  const id = Buffer.from(clientId, 'hex');
  if (id.length !== CLIENT_ID_BYTES || id.toString('hex') !== clientId.toLowerCase())
    throw new DfsError(
      'INVALID_ARGUMENT',
      `client id '${clientId}' is not ${CLIENT_ID_BYTES * 2} hex digits`,
    );
  const b = encode(version, role);
  b.writeUInt8(name.length, 7);
  return Buffer.concat([b, id, name]);
}

/**
 * The whole hello's length, known from its first HANDSHAKE_BYTES bytes. With a wrong magic,
 * those alone: a peer that is no DFS peer is answered at once, not waited for.
 */
export function helloBytes(head: Buffer): number {
  if (head.readUInt32BE(0) !== MAGIC) return HANDSHAKE_BYTES;
  return HELLO_HEAD_BYTES + head.readUInt8(7);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeHello(b: Buffer): Hello {
  if (b.length < HANDSHAKE_BYTES)
    throw new DfsError('MALFORMED', `handshake: expected at least ${HANDSHAKE_BYTES} bytes, got ${b.length}`);
  // A wrong magic is told first (PROTOCOL), whatever the length: helloBytes judges it alone.
  checkMagic(b, 'handshake', b.readUInt32BE(0) === MAGIC ? helloBytes(b) : b.length);
  let user: string;
  try {
    user = strictUtf8.decode(b.subarray(HELLO_HEAD_BYTES));
  } catch {
    throw new DfsError('MALFORMED', 'handshake: user name is not UTF-8');
  }
  if (user.includes('/')) throw new DfsError('MALFORMED', `handshake: user name '${user}' holds a /`);
  const clientId = b.toString('hex', HANDSHAKE_BYTES, HELLO_HEAD_BYTES);
  return { version: b.readUInt16BE(4), role: b.readUInt8(6), user, clientId };
}

export function encodeHelloReply(status: HandshakeStatus, version = PROTOCOL_VERSION): Buffer {
  return encode(version, status);
}

export function decodeHelloReply(b: Buffer): HelloReply {
  checkMagic(b, 'handshake reply');
  if (b.readUInt8(7) !== 0) throw new DfsError('MALFORMED', 'handshake reply: reserved byte set');
  return { version: b.readUInt16BE(4), status: b.readUInt8(6) };
}

/** Turns a reply into nothing (accepted) or the typed error a client should raise. */
export function checkHelloReply(reply: HelloReply): void {
  if (reply.status === HandshakeStatus.OK) return;
  if (reply.status === HandshakeStatus.VERSION_MISMATCH) {
    throw new DfsError(
      'VERSION_MISMATCH',
      `protocol version mismatch: server speaks version ${reply.version}, this client speaks version ${PROTOCOL_VERSION}`,
    );
  }
  if (reply.status === HandshakeStatus.ROLE_REFUSED)
    throw new DfsError('ACCESS_DENIED', 'server refused this connection role');
  throw new DfsError('PROTOCOL', `unknown handshake status ${reply.status}`);
}
