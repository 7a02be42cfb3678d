/**
 * Wire constants and default limits shared by every daemon and the client.
 * Limits are checked before anything is allocated for a frame (see frame-decoder.ts).
 */

/** "DFS1" in ASCII: the first four bytes of every connection, in both directions. */
export const MAGIC = 0x44465331;
export const PROTOCOL_VERSION = 1;

/** The reply, and the hello's fixed first bytes, up to its user name's length (handshake.ts). */
export const HANDSHAKE_BYTES = 8;
/** A client id (the retry cache's name for a client, handshake.ts). */
export const CLIENT_ID_BYTES = 16;
/** The hello before its user name: the first HANDSHAKE_BYTES, then the client id. */
export const HELLO_HEAD_BYTES = HANDSHAKE_BYTES + CLIENT_ID_BYTES;
/** u32 frameBytes + u8 kind + u8 opcode + u16 flags + u32 requestId. */
export const FRAME_HEADER_BYTES = 12;
/** Bytes counted by frameBytes that belong to the header (everything after the length). */
export const FRAME_HEADER_TAIL_BYTES = FRAME_HEADER_BYTES - 4;

/** Default largest frame body for RPC connections (block reports can be big). */
export const RPC_BODY_BYTES_MAX = 16 * 1024 * 1024;
/**
 * Default largest frame body on data connections: one packet of the largest payload
 * (PACKET_PAYLOAD_BYTES_MAX, 2 MiB) plus its header and checksums.
 */
export const DATA_BODY_BYTES_MAX = 2 * 1024 * 1024 + 64 * 1024;

export const PATH_BYTES_MAX = 4096;
export const PATH_DEPTH_MAX = 256;
export const NAME_BYTES_MAX = 255;
export const STRING_BYTES_MAX = 65535;
/**
 * The longest user, group or client name an RPC may write into the namespace (an owner, a
 * lease holder): with the path limits it bounds every edit log record (edit-log-format.ts).
 */
export const IDENTITY_BYTES_MAX = 255;

export const LIST_LIMIT_DEFAULT = 1000;
export const LIST_LIMIT_MAX = 10000;
