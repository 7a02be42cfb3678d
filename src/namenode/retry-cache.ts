/**
 * The retry cache (HDFS `RetryCache`, FSNamesystem's `@AtMostOnce` calls): the answers of the
 * NameNode's non-idempotent calls (AT_MOST_ONCE_RPCS, protocol/namenode-messages.ts), kept by
 * (client id, call id) so that a call a client sends again, because its connection broke
 * after the request left or its NameNode died, is answered with its first result instead of
 * being applied twice (a spurious ALREADY_EXISTS or NOT_FOUND, a second block).
 *
 * Where the key comes from: the client id is named once per connection, in the hello
 * (protocol/handshake.ts), and the call id is the request id of the frame, which a client
 * keeps unique across all its connections and the same on every retry of one call
 * (src/common/rpc-connection.ts `CallIds`, src/client/namenode-failover.ts). Since the call
 * id is the request id, a cached answer frame is the answer to the retry byte for byte.
 *
 * Where the entries come from:
 *
 *   | event                                             | entry                              |
 *   |---------------------------------------------------|------------------------------------|
 *   | a call applied, its edit (carrying its RpcCall,   | PENDING: a retry meanwhile waits   |
 *   |   edit-ops.ts) appended to the journal            |   for the first (`waiters`)        |
 *   | the edit durable                                  | DONE: the answer; waiters get it   |
 *   | the journal failed                                | dropped; waiters get the error     |
 *   | a call refused before anything was applied        | none: a retry is served afresh and |
 *   |   (a typed error, complete not yet possible)      |   gets the same refusal            |
 *   | replay of an edit carrying an RpcCall (start-up,  | DONE: the answer rebuilt from the  |
 *   |   a standby tailing the etcd journal: journal.ts) |   namespace right after the edit   |
 *
 * So a NameNode restarted, or a standby promoted, answers the retries of calls its
 * predecessor made durable but never answered. A replayed answer is encoded at its first
 * retry, from what the edit left (a create's file status is taken at replay). Answers that
 * name DataNodes (addBlock, append) are rebuilt without them (they are not journaled) and
 * get them at the first retry: the nodes that may hold a replica, else (addBlock) newly
 * chosen targets for the same block, as HDFS's FSDirWriteFileOp does for a retried addBlock
 * whose block has no locations; with no live DataNode at all, NOT_REPLICATED (as a first
 * addBlock), and the entry stays.
 *
 * Bounds: at most `entriesMax` entries and each for `expiryMs` (HDFS: 10 min, 3% of the heap);
 * the oldest go first. Entries come in time order, so insertion order is expiry order: an
 * array of entries (`order`, from `head`) is the queue the oldest leave by; the index is a Map
 * of client ids (one string per connection, its hash computed once) to Maps of call ids
 * (small integers), so a lookup builds no key string. Not one Map keyed "client:call" in its
 * own order: a Map deleted from its front keeps the holes until it rehashes and each new
 * iterator walks them again, so evicting a full cache's oldest entry cost ~35 us per call (a
 * third of a durable create's NameNode CPU in `dfs-bench ha`), and the key strings another
 * few us.
 * Replayed entries live `expiryMs` from their replay, as in HDFS. A retry is answered only for
 * the same RPC and to the user who made the call; the journal does not name the user, so a
 * replayed entry belongs to the user of its first retry (the client id, 16 random bytes,
 * is what a stranger would have to guess). `entriesMax` 0 turns the cache off: edits then
 * carry no RpcCall and every call is served afresh.
 */
import { assert, DfsError, rethrowIfBug } from '../../protocol/errors.js';
import { NO_CLIENT_ID, Role } from '../../protocol/handshake.js';
import {
  AT_MOST_ONCE_RPCS,
  encodeResponse,
  rpcCodecs,
  type RpcName,
  type RpcResponse,
} from '../../protocol/namenode-messages.js';
import type { DatanodeInfo, LocatedBlock } from '../../protocol/shared-structures.js';
import type { Clock } from '../common/clock.js';
import type { FaultInjector } from '../common/fault-injector.js';
import type { ServerConnection } from '../common/frame-server.js';
import { NONE, type EditOp, type RpcCall } from './edit-ops.js';
import { blockOf, statusOf } from './inode.js';
import type { Namespace } from './namespace.js';

export interface RetryCacheOptions {
  entriesMax: number;
  expiryMs: number;
  clock: Clock;
  faults?: Pick<FaultInjector, 'crashAfterLoggedRpc'>;
}

/** What a replayed answer needs at its first retry to name DataNodes (client-rpc.ts's context has it). */
export interface RetryLocator {
  blocks: {
    recoveryCandidates(blockId: number): DatanodeInfo[];
    locations(blockId: number): DatanodeInfo[];
    chooseTargets(
      replication: number,
      writerHost: string,
      exclude: readonly string[],
      bytes: number,
    ): DatanodeInfo[];
    pipelineTargets(blockId: number, nodeIds: readonly string[]): void;
  };
}

/**
 * A replayed answer, encoded at its first retry (most calls are never retried, and a standby
 * replays every edit): addBlock and append also name their DataNodes then.
 */
type Unlocated =
  | { rpc: 'addBlock'; path: string; replication: number; blockBytes: number; located: LocatedBlock }
  | { rpc: 'append'; answer: RpcResponse<'append'> }
  | { rpc: 'encode'; encode: (requestId: number) => Buffer };

const encodeLater = (encode: (requestId: number) => Buffer): Unlocated => ({ rpc: 'encode', encode });
/** The replayed answers that carry nothing of the edit, shared by every entry. */
const REPLAYED_EMPTY = {
  mkdir: encodeLater((id) => encodeResponse('mkdir', id, {})),
  delete: encodeLater((id) => encodeResponse('delete', id, {})),
  rename: encodeLater((id) => encodeResponse('rename', id, {})),
  abandonBlock: encodeLater((id) => encodeResponse('abandonBlock', id, {})),
  complete: encodeLater((id) => encodeResponse('complete', id, { completed: true })),
} as const;

interface Entry {
  clientId: string;
  callId: number;
  /** The index holding it (its client's calls); `live` false once it left them. */
  calls: Map<number, Entry>;
  live: boolean;
  /** Who made the call; null when replayed (the journal names no user): the first retry's. */
  user: string | null;
  opcode: number;
  expiresMs: number;
  /** The answer frame (its request id is the call id); null while pending or unlocated. */
  answer: Buffer | null;
  unlocated: Unlocated | null;
  /** Retries that came while the first was pending; null once settled. */
  waiters: ServerConnection[] | null;
}

/** Runs when the call's edit is durable (null) or the journal failed; before the first answer goes out. */
export type Settle = (err: Error | null) => void;

const noSettle: Settle = () => {};

/** The NameNode's cache, as its configuration says (retryCacheEntriesMax 0: off). */
export function retryCacheFor(
  config: { retryCacheEntriesMax: number; retryCacheExpiryMs: number },
  clock: Clock,
  faults: Pick<FaultInjector, 'crashAfterLoggedRpc'>,
): RetryCache {
  return new RetryCache({
    entriesMax: config.retryCacheEntriesMax,
    expiryMs: config.retryCacheExpiryMs,
    clock,
    faults,
  });
}

/** Dropped slots at the head of `order` before the array is cut (amortized O(1) per entry). */
const ORDER_SLACK = 4096;

export class RetryCache {
  /** client id -> call id -> entry; `count` entries in all. */
  private readonly clients = new Map<string, Map<number, Entry>>();
  private count = 0;
  /** Every entry added, oldest first from `head`; a slot whose entry is no longer live is skipped. */
  private order: Array<Entry | undefined> = [];
  private head = 0;

  constructor(private readonly options: RetryCacheOptions) {}

  get size(): number {
    return this.count;
  }

  /** The call to journal with a mutation `conn` asked for as request `requestId`; undefined if not kept. */
  callOf(conn: ServerConnection, name: RpcName, requestId: number): RpcCall | undefined {
    return this.keeps(conn, name) ? { clientId: conn.clientId, callId: requestId } : undefined;
  }

  private keeps(conn: ServerConnection, name: RpcName): boolean {
    if (this.options.entriesMax <= 0 || !AT_MOST_ONCE_RPCS.has(name) || conn.role === Role.DATANODE)
      return false;
    return conn.clientId !== NO_CLIENT_ID && conn.clientId !== '';
  }

  /**
   * Serves request `requestId` of `conn` from the cache if it is a retry of a call kept
   * there: answers it now, or once the first attempt's edit is durable. True when it did.
   */
  answered(conn: ServerConnection, name: RpcName, requestId: number, locator: RetryLocator): boolean {
    if (!this.keeps(conn, name)) return false;
    const entry = this.clients.get(conn.clientId)?.get(requestId);
    if (entry === undefined || entry.opcode !== rpcCodecs[name].opcode) return false;
    if (entry.expiresMs <= this.options.clock.nowMs()) {
      this.remove(entry);
      return false;
    }
    if ((entry.user ?? conn.user) !== conn.user) return false;
    entry.user = conn.user;
    conn.begin();
    if (entry.waiters !== null) entry.waiters.push(conn);
    else if (entry.answer !== null) conn.reply(entry.answer);
    else {
      try {
        conn.reply(this.locate(entry, requestId, conn, locator));
      } catch (err) {
        rethrowIfBug(err);
        conn.replyError(
          entry.opcode,
          requestId,
          err instanceof DfsError ? err : new DfsError('INTERNAL', String(err)),
        );
      }
    }
    return true;
  }

  /**
   * The edit `op` of request `requestId` of `conn` is applied and about to be journaled (with
   * its RpcCall, set here when its answer is kept); `answer` is the answer its caller gets
   * once it is durable. Returns what the journal's callback calls first.
   */
  started(conn: ServerConnection, name: RpcName, requestId: number, op: EditOp, answer: Buffer): Settle {
    op.rpc = this.callOf(conn, name, requestId);
    const crash = this.options.faults?.crashAfterLoggedRpc === name;
    if (op.rpc === undefined) return crash ? (err) => void (err === null && crashNow()) : noSettle;
    const entry = this.add(op.rpc, conn.user, name, answer, null);
    entry.waiters = [];
    return (err) => {
      const waiters = entry.waiters ?? [];
      entry.waiters = null;
      if (err !== null) {
        this.remove(entry);
        const e = err instanceof DfsError ? err : new DfsError('INTERNAL', err.message);
        for (const w of waiters) w.replyError(entry.opcode, op.rpc!.callId, e);
        return;
      }
      if (crash) crashNow();
      for (const w of waiters) w.reply(answer);
    };
  }

  /** Replay (journal.ts `replayRecords`): `op` was just applied to `ns`; keeps its answer if it names a call. */
  replayed(op: EditOp, ns: Namespace): void {
    if (op.rpc === undefined || this.options.entriesMax <= 0) return;
    switch (op.op) {
      case 'mkdir':
      case 'delete':
      case 'rename':
      case 'abandonBlock':
      case 'complete':
        return this.unlocated(op, op.op, REPLAYED_EMPTY[op.op]);
      case 'updateBlock': {
        const genStamp = op.genStamp;
        const encode = (id: number): Buffer => encodeResponse('bumpGenStamp', id, { genStamp });
        return this.unlocated(op, 'bumpGenStamp', encodeLater(encode));
      }
      case 'create': {
        // The file as the create left it (a later complete or addBlock changes it).
        const status = statusOf(ns.file(op.path), op.path);
        return this.unlocated(
          op,
          'create',
          encodeLater((id) => encodeResponse('create', id, status)),
        );
      }
      case 'addBlock': {
        const file = ns.file(op.path);
        const block = { blockId: op.blockId, genStamp: op.genStamp, numBytes: 0 };
        const located: LocatedBlock = { block, offset: file.length, locations: [] };
        const { replication, blockBytes } = file;
        this.unlocated(op, 'addBlock', { rpc: 'addBlock', path: op.path, replication, blockBytes, located });
        return;
      }
      case 'append': {
        const file = ns.file(op.path);
        const last = file.lastBlock;
        const lastBlock =
          last === undefined
            ? null
            : { block: blockOf(last), offset: file.length - last.numBytes, locations: [] };
        const answer = { status: statusOf(file, op.path), lastBlock, reopened: op.genStamp !== NONE };
        this.unlocated(op, 'append', { rpc: 'append', answer });
        return;
      }
      default:
        return;
    }
  }

  private unlocated(op: EditOp, name: RpcName, unlocated: Unlocated): void {
    this.add(op.rpc!, null, name, null, unlocated);
  }

  /** A replayed answer, encoded now (addBlock's and append's with the DataNodes known now); kept for later retries. */
  private locate(entry: Entry, requestId: number, conn: ServerConnection, locator: RetryLocator): Buffer {
    const u = entry.unlocated!;
    const { blocks } = locator;
    if (u.rpc === 'encode') {
      entry.answer = u.encode(requestId);
    } else if (u.rpc === 'append') {
      const last = u.answer.lastBlock;
      if (last !== null) {
        last.locations = blocks.locations(last.block.blockId);
        if (u.answer.reopened)
          blocks.pipelineTargets(
            last.block.blockId,
            last.locations.map((l) => l.nodeId),
          );
      }
      entry.answer = encodeResponse('append', requestId, u.answer);
    } else {
      const { located } = u;
      located.locations = blocks.recoveryCandidates(located.block.blockId);
      if (located.locations.length === 0) {
        const writer = conn.socket.remoteAddress ?? '';
        located.locations = blocks.chooseTargets(u.replication, writer, [], u.blockBytes);
      }
      // As a first addBlock with no DataNode to take it; the entry stays for a later retry.
      if (located.locations.length === 0)
        throw new DfsError(
          'NOT_REPLICATED',
          `no live DataNode can take block ${located.block.blockId} of ${u.path}`,
        );
      blocks.pipelineTargets(
        located.block.blockId,
        located.locations.map((l) => l.nodeId),
      );
      entry.answer = encodeResponse('addBlock', requestId, located);
    }
    entry.unlocated = null;
    return entry.answer;
  }

  private add(
    call: RpcCall,
    user: string | null,
    name: RpcName,
    answer: Buffer | null,
    unlocated: Unlocated | null,
  ): Entry {
    const now = this.options.clock.nowMs();
    this.evict(now);
    let calls = this.clients.get(call.clientId);
    if (calls === undefined) this.clients.set(call.clientId, (calls = new Map<number, Entry>()));
    const old = calls.get(call.callId);
    if (old !== undefined) {
      old.live = false;
      this.count--;
    }
    const entry: Entry = {
      clientId: call.clientId,
      callId: call.callId,
      calls,
      live: true,
      user,
      opcode: rpcCodecs[name].opcode,
      answer,
      unlocated,
      expiresMs: now + this.options.expiryMs,
      waiters: null,
    };
    calls.set(call.callId, entry);
    this.count++;
    this.order.push(entry);
    return entry;
  }

  private remove(entry: Entry): void {
    if (!entry.live) return;
    entry.live = false;
    this.count--;
    entry.calls.delete(entry.callId);
    if (entry.calls.size === 0) this.clients.delete(entry.clientId);
  }

  /** Drops the oldest entries while they are expired or the cache is full. */
  private evict(now: number): void {
    const order = this.order;
    while (this.head < order.length) {
      const old = order[this.head]!;
      if (old.live) {
        if (old.expiresMs > now && this.count < this.options.entriesMax) break;
        this.remove(old);
      }
      order[this.head++] = undefined;
    }
    // Slots of entries replaced or dropped elsewhere stay until the head passes them; bound them.
    if (this.head > ORDER_SLACK && this.head * 2 > order.length) {
      this.order = order.slice(this.head);
      this.head = 0;
    } else if (order.length - this.head > 2 * this.options.entriesMax + ORDER_SLACK) {
      this.order = order.slice(this.head).filter((x) => x?.live === true);
      this.head = 0;
    }
    assert(this.count <= this.order.length - this.head, 'retry cache: an entry missing from its order');
  }
}

/** The crashAfterLoggedRpc fault: the process dies as a machine would, between journal and answer. */
function crashNow(): void {
  process.kill(process.pid, 'SIGKILL');
}
