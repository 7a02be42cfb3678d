/**
 * Connection handshake (PROTOCOL.md, "Handshake"). The connecting side sends a hello, the
 * accepting side answers with a reply of the same size; only then do frames flow.
 *
 *   hello:  | magic u32 | version u16 | role u8   | reserved u8 |
 *   reply:  | magic u32 | version u16 | status u8 | reserved u8 |
 *
 * A version mismatch is answered with status VERSION_MISMATCH and the server's version,
 * then the server closes, so both sides can print a clear message instead of hanging.
 */
import { DfsError } from './errors.js';
import { HANDSHAKE_BYTES, MAGIC, PROTOCOL_VERSION } from './limits.js';

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
}

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

function checkMagic(b: Buffer, what: string): void {
  if (b.length !== HANDSHAKE_BYTES)
    throw new DfsError('MALFORMED', `${what}: expected ${HANDSHAKE_BYTES} bytes, got ${b.length}`);
  const magic = b.readUInt32BE(0);
  if (magic !== MAGIC) {
    throw new DfsError(
      'PROTOCOL',
      `${what}: bad magic 0x${magic.toString(16).padStart(8, '0')} (not a DFS peer?)`,
    );
  }
  if (b.readUInt8(7) !== 0) throw new DfsError('MALFORMED', `${what}: reserved byte set`);
}

export function encodeHello(role: Role, version = PROTOCOL_VERSION): Buffer {
  return encode(version, role);
}

export function decodeHello(b: Buffer): Hello {
  checkMagic(b, 'handshake');
  return { version: b.readUInt16BE(4), role: b.readUInt8(6) };
}

export function encodeHelloReply(status: HandshakeStatus, version = PROTOCOL_VERSION): Buffer {
  return encode(version, status);
}

export function decodeHelloReply(b: Buffer): HelloReply {
  checkMagic(b, 'handshake reply');
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
