/**
 * The one error family of DFS. Every fault a peer, a disk or a user can cause is a
 * `DfsError` with a stable string `code`; the wire carries the code as a number from the
 * table below (PROTOCOL.md, "Error codes"), so both sides agree on it without sending names.
 *
 * Numbers are part of the protocol: never renumber, only append.
 */

export const ERROR_CODES = {
  PROTOCOL: 1,
  INTERNAL: 2,
  NOT_FOUND: 3,
  ALREADY_EXISTS: 4,
  NOT_A_DIRECTORY: 5,
  IS_A_DIRECTORY: 6,
  NOT_EMPTY: 7,
  INVALID_PATH: 8,
  LEASE_CONFLICT: 9,
  SAFE_MODE: 10,
  INVALID_ARGUMENT: 11,
  NO_SPACE: 12,
  CHECKSUM: 13,
  ACCESS_DENIED: 14,
  VERSION_MISMATCH: 15,
  FRAME_TOO_LARGE: 16,
  UNKNOWN_OPCODE: 17,
  MALFORMED: 18,
  NO_LEASE: 19,
  WRONG_CLUSTER: 20,
  TIMEOUT: 21,
  CONNECTION: 22,
  SHUTTING_DOWN: 23,
  BLOCK_UNAVAILABLE: 24,
  STALE_GENERATION: 25,
  NOT_REPLICATED: 26,
  CORRUPT_LOG: 27,
  DATANODE_DEAD: 28,
  QUOTA_EXCEEDED: 29,
  /** The file's lease expired and its recovery is under way (HDFS RecoveryInProgressException): retry later. */
  RECOVERY_IN_PROGRESS: 30,
  /** This NameNode is no longer the leader: its journal write was refused by the epoch compare (issue 14). */
  FENCED: 31,
  /** No etcd endpoint answered in time, or etcd refused for a transient reason (no leader, quota). */
  ETCD_UNAVAILABLE: 32,
  /** A journal watch started from a revision etcd has compacted away: reload from an image. */
  JOURNAL_COMPACTED: 33,
  /** This NameNode is a standby (or a deposed active): ask the active, which the message names if known (issue 14). */
  STANDBY: 34,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * In the message of a SAFE_MODE refusal when an operator entered safe mode (PROTOCOL.md
 * section 6): clients wait out any other safe mode, never this one.
 */
export const MANUAL_SAFE_MODE = 'entered by an operator';

const CODE_BY_NUMBER = new Map<number, ErrorCode>(
  Object.entries(ERROR_CODES).map(([name, num]) => [num, name as ErrorCode]),
);

export function errorCodeToWire(code: ErrorCode): number {
  return ERROR_CODES[code];
}

/** Unknown numbers (a newer peer) decode as INTERNAL rather than failing the frame. */
export function errorCodeFromWire(num: number): ErrorCode {
  return CODE_BY_NUMBER.get(num) ?? 'INTERNAL';
}

export class DfsError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DfsError';
    this.code = code;
  }
}

export function isDfsError(err: unknown, code?: ErrorCode): err is DfsError {
  return err instanceof DfsError && (code === undefined || err.code === code);
}

/**
 * Our own bugs, as opposed to faults from the world: a failed `assert` throws an
 * `AssertionFailure`, which is deliberately not a `DfsError`. No catch-all may turn it into
 * an error reply or a log line and carry on: every catch-all calls `rethrowIfBug` first, so
 * the failure reaches the process's uncaught-exception handler (src/common/crash.ts), which
 * logs it at fatal and exits non-zero. That is safe because every daemon is crash-safe by
 * design (the edit log and the replicas survive kill -9), and it is the only safe choice:
 * state that broke an invariant must not keep serving (TigerBeetle `docs/TIGER_STYLE.md`).
 *
 * Assertions stay on in production and are written in pairs where a counter must balance
 * (checked where it goes up and where it comes down), so a double release or a skipped
 * transaction id crashes at the first wrong step instead of drifting silently.
 */
export class AssertionFailure extends Error {
  constructor(message: string) {
    super(`assertion failed: ${message}`);
    this.name = 'AssertionFailure';
  }
}

export function assert(condition: unknown, message = 'assertion failed'): asserts condition {
  if (!condition) throw new AssertionFailure(message);
}

/** The first line of every catch-all: our own bugs are never handled, only faults are. */
export function rethrowIfBug(err: unknown): void {
  if (err instanceof AssertionFailure) throw err;
}
