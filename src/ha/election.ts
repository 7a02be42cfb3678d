/**
 * Leader election on etcd (issue 14; HDFS's ZKFC role): NameNodes campaign for one leader
 * key (ha-keys.ts) bound to an etcd lease. The key's create revision is the winner's epoch:
 * it only grows, and the etcd journal (etcd-journal.ts) compares it inside every write, so a
 * deposed leader cannot write however late it wakes up.
 *
 * Campaign: grant a lease (TTL `ttlSeconds`), then a txn "create the key if absent, bound to
 * my lease"; if another holds it, watch the key until it is deleted (resigned, or its lease
 * expired) and try again. The lease is kept alive every TTL/3 while campaigning and leading.
 *
 * Stepping down on its own: the leader counts its lease valid until the send time of the
 * last successful keepalive plus the TTL etcd granted (etcd starts the TTL when it receives
 * the keepalive, after we sent it, so this is conservative), and holds leadership only until
 * that minus `stepDownMarginMs`. A timer steps down at that moment, and `isLeader` checks
 * it synchronously, so a process paused (SIGSTOP, a long GC) and resumed asks before it
 * answers and finds it has stepped down, even before the timer's callback has run. Since the
 * successor can only win after the lease has expired in etcd, the old leader always stops
 * first (given clocks that run at the same rate, which is what leases assume).
 *
 *   state:  idle ──campaign()──> campaigning ──won──> leader ──resign() / lease lapsed──> idle
 *           any ──close()──> closed
 *
 * Hand-over (`resign(target)`, `dfs admin ha failover --to`): the leader first writes the
 * handover key naming the target, bound to a lease of one TTL, then revokes its own lease.
 * A campaigner that sees the key naming another NameNode waits; the one named takes the
 * leader key in a txn that also deletes the handover key. If the target never comes, the
 * key lapses with its lease and any campaigner may win. Each campaign txn compares the
 * handover key as it read it, so a hand-over written meanwhile fails the txn.
 *
 * Events: 'elected' (epoch), 'stepped-down' (reason). Standbys learn who leads with
 * `watchLeader` (a watch on the key: the record and epoch, or null when there is none).
 */
import { EventEmitter } from 'node:events';
import { assert, DfsError, rethrowIfBug } from '../../protocol/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { EtcdClient, KeyValue } from './etcd-client.js';
import { watch, type Watch } from './etcd-watch.js';
import { haKeys, type HaKeys } from './ha-keys.js';

/** What the leader key holds: who leads and where to reach it (JSON). */
export interface LeaderRecord {
  /** The NameNode's id, unique in the cluster. */
  id: string;
  /** Its client RPC address, "host:port". */
  rpcAddress: string;
  /** Its HTTP address, "host:port", when HTTP is on. */
  httpAddress?: string;
}

/** How long a campaigner waits between looks while a hand-over names another NameNode. */
const HANDOVER_WAIT_MS = 250;

export interface Leader {
  record: LeaderRecord;
  epoch: number;
}

export type ElectionState = 'idle' | 'campaigning' | 'leader' | 'closed';

export interface ElectionOptions {
  client: EtcdClient;
  prefix: string;
  self: LeaderRecord;
  /** The lease TTL (default 5 s). */
  ttlSeconds?: number;
  /** Step down this long before the lease may expire (default a fifth of the TTL). */
  stepDownMarginMs?: number;
  /** A monotonic clock in ms (default performance.now). */
  now?: () => number;
  log?: Logger;
}

export interface ElectionEvents {
  elected: [epoch: number];
  'stepped-down': [reason: string];
}

export class Election extends EventEmitter<ElectionEvents> {
  private state: ElectionState = 'idle';
  private leaseId: string | null = null;
  private epochNow = 0;
  /** The monotonic time until which the lease is surely valid in etcd. */
  private validUntil = 0;
  private keepAliveTimer: NodeJS.Timeout | null = null;
  private stepDownTimer: NodeJS.Timeout | null = null;
  private leaderWatch: Watch | null = null;
  private wake: (() => void) | null = null;
  private readonly keys: HaKeys;
  private readonly ttlSeconds: number;
  private readonly marginMs: number;
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(private readonly options: ElectionOptions) {
    super();
    this.keys = haKeys(options.prefix);
    this.ttlSeconds = options.ttlSeconds ?? 5;
    this.marginMs = options.stepDownMarginMs ?? (this.ttlSeconds * 1000) / 5;
    assert(this.marginMs < this.ttlSeconds * 1000, 'step-down margin not below the TTL');
    this.now = options.now ?? (() => performance.now());
    this.log = options.log ?? silentLogger();
  }

  get lifecycle(): ElectionState {
    return this.state;
  }

  /** True only while this NameNode leads and its lease is surely valid; checked at the call. */
  get isLeader(): boolean {
    return this.checkLease();
  }

  /** Steps down if the lease may lapse within the margin; true while still leading. */
  private checkLease(): boolean {
    if (this.state !== 'leader') return false;
    if (this.now() < this.validUntil - this.marginMs) return true;
    this.stepDown('the lease was not renewed in time');
    return false;
  }

  /** The epoch won (the leader key's create revision), 0 when not leading. */
  get epoch(): number {
    return this.state === 'leader' ? this.epochNow : 0;
  }

  /** Campaigns until this NameNode leads; resolves with its epoch. Rejects if closed or resigned meanwhile. */
  async campaign(): Promise<number> {
    assert(this.state === 'idle', `campaign while ${this.state}`);
    this.state = 'campaigning';
    const value = JSON.stringify(this.options.self);
    while (this.isCampaigning()) {
      try {
        const epoch = await this.tryOnce(value);
        if (epoch > 0) return epoch;
      } catch (err) {
        rethrowIfBug(err);
        // Our lease expired in etcd (the put named it): campaign on with a new one.
        if (err instanceof DfsError && err.code === 'NOT_FOUND') this.leaseId = null;
        // etcd unreachable for a while: keep campaigning (the lease, if any, lapses meanwhile).
        this.log.warn({ err: (err as Error).message }, 'campaign attempt failed; trying again');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    throw new DfsError('SHUTTING_DOWN', 'the election was closed or resigned while campaigning');
  }

  /**
   * Gives leadership (or the campaign) up at once: the key goes with the revoked lease. With
   * `handOverTo` (a NameNode id; leader only) only that NameNode may win for one TTL.
   */
  async resign(handOverTo = ''): Promise<void> {
    if (this.state === 'closed' || this.state === 'idle') return;
    if (handOverTo !== '' && this.state === 'leader') {
      const lease = await this.options.client.leaseGrant(this.ttlSeconds);
      await this.options.client.put(this.keys.handover, handOverTo, lease.id);
      this.log.info({ to: handOverTo }, 'handing the leader key over');
    }
    const lease = this.leaseId;
    this.toIdle('resigned');
    if (lease !== null) await this.options.client.leaseRevoke(lease);
  }

  async close(): Promise<void> {
    await this.resign().catch((err: unknown) => {
      rethrowIfBug(err);
      this.log.warn({ err: (err as Error).message }, 'could not revoke the election lease; it will expire');
    });
    this.state = 'closed';
  }

  /** One attempt: the epoch if this NameNode now leads, else 0 once the holder is gone. */
  private async tryOnce(value: string): Promise<number> {
    if (this.leaseId === null) await this.grant();
    if (!this.isCampaigning()) return 0;
    const handover = await this.options.client.get(this.keys.handover);
    if (handover !== null && handover.value.toString() !== this.options.self.id) {
      // A hand-over names another NameNode: let it win; the key lapses if it never comes.
      await new Promise((r) => setTimeout(r, HANDOVER_WAIT_MS));
      return 0;
    }
    const res = await this.options.client.txn(
      [
        { key: this.keys.leader, target: 'createRevision', against: 0 },
        { key: this.keys.handover, target: 'modRevision', against: handover?.modRevision ?? 0 },
      ],
      [
        { put: { key: this.keys.leader, value, lease: this.leaseId! } },
        ...(handover === null ? [] : [{ delete: { key: this.keys.handover } }]),
      ],
      [{ range: { key: this.keys.leader } }],
    );
    if (!this.isCampaigning()) return 0;
    const held = res.responses[0];
    const kv = !res.succeeded && held !== undefined && 'range' in held ? held.range.kvs[0] : undefined;
    // Ours already: an earlier attempt that timed out was applied.
    if (res.succeeded || (kv !== undefined && kv.lease === this.leaseId)) {
      this.won(kv === undefined ? res.revision : kv.createRevision);
      return this.epochNow;
    }
    // No leader, yet the txn failed: a hand-over was written meanwhile; look again.
    if (kv === undefined) return 0;
    await this.untilLeaderGone(res.revision + 1);
    return 0;
  }

  private isCampaigning(): boolean {
    return this.state === 'campaigning';
  }

  private async grant(): Promise<void> {
    const sent = this.now();
    const lease = await this.options.client.leaseGrant(this.ttlSeconds);
    this.leaseId = lease.id;
    this.validUntil = sent + lease.ttlSeconds * 1000;
    this.scheduleKeepAlive();
  }

  private won(epoch: number): void {
    this.state = 'leader';
    this.epochNow = epoch;
    this.armStepDown();
    this.log.info({ epoch, id: this.options.self.id }, 'elected leader');
    this.emit('elected', epoch);
  }

  /** Resolves once the leader key is deleted (or the campaign ends). */
  private untilLeaderGone(fromRevision: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.leaderWatch?.cancel();
        this.leaderWatch = null;
        this.wake = null;
        resolve();
      };
      this.wake = done;
      this.leaderWatch = watch(this.options.client, this.keys.leader, {
        startRevision: fromRevision,
        onEvents: (events) => {
          if (events.some((e) => e.type === 'delete')) done();
        },
        onError: done, // compacted: look again
      });
    });
  }

  private scheduleKeepAlive(): void {
    if (this.keepAliveTimer !== null) clearTimeout(this.keepAliveTimer);
    this.keepAliveTimer = setTimeout(() => void this.keepAlive(), (this.ttlSeconds * 1000) / 3);
  }

  private async keepAlive(): Promise<void> {
    this.keepAliveTimer = null;
    const lease = this.leaseId;
    if (lease === null || (this.state !== 'leader' && this.state !== 'campaigning')) return;
    const sent = this.now();
    try {
      const ttl = await this.options.client.leaseKeepAlive(lease);
      if (lease !== this.leaseId) return;
      if (ttl <= 0) {
        this.leaseId = null;
        if (this.state === 'leader') this.stepDown('the lease expired in etcd');
        else this.wake?.(); // campaign again with a new lease
        return;
      }
      this.validUntil = sent + ttl * 1000;
      if (this.state === 'leader') this.armStepDown();
    } catch (err) {
      rethrowIfBug(err);
      this.log.warn({ err: (err as Error).message }, 'lease keepalive failed');
    }
    if (lease === this.leaseId) this.scheduleKeepAlive();
  }

  private armStepDown(): void {
    if (this.stepDownTimer !== null) clearTimeout(this.stepDownTimer);
    const inMs = Math.max(1, this.validUntil - this.marginMs - this.now());
    // A timer may fire a little early by the monotonic clock: then it is armed again.
    this.stepDownTimer = setTimeout(() => {
      if (this.checkLease()) this.armStepDown();
    }, inMs);
  }

  private stepDown(reason: string): void {
    if (this.state !== 'leader') return;
    const lease = this.leaseId;
    this.toIdle(reason);
    this.log.warn({ reason, epoch: this.epochNow }, 'stepping down as leader');
    this.emit('stepped-down', reason);
    // Let a successor win at once if etcd still hears us; it expires on its own otherwise.
    if (lease !== null)
      this.options.client.leaseRevoke(lease).catch((err: unknown) => {
        rethrowIfBug(err);
      });
  }

  private toIdle(reason: string): void {
    const wasLeader = this.state === 'leader';
    this.state = 'idle';
    this.leaseId = null;
    this.validUntil = 0;
    for (const t of [this.keepAliveTimer, this.stepDownTimer]) if (t !== null) clearTimeout(t);
    this.keepAliveTimer = this.stepDownTimer = null;
    this.wake?.();
    if (wasLeader && reason === 'resigned') this.emit('stepped-down', reason);
  }
}

/** The current leader, or null. */
export async function currentLeader(client: EtcdClient, prefix: string): Promise<Leader | null> {
  const res = await client.range(haKeys(prefix).leader);
  return leaderOf(res.kvs[0]);
}

/**
 * Follows the leader key: `onChange` gets the current leader (or null) now and at every change,
 * in order. Returns a handle to stop.
 */
export function watchLeader(
  client: EtcdClient,
  prefix: string,
  onChange: (leader: Leader | null) => void,
): { cancel(): void } {
  const keys = haKeys(prefix);
  let current: Watch | null = null;
  let cancelled = false;
  const start = async (): Promise<void> => {
    const res = await client.range(keys.leader);
    if (cancelled) return;
    onChange(leaderOf(res.kvs[0]));
    current = watch(client, keys.leader, {
      startRevision: res.revision + 1,
      onEvents: (events) => {
        const last = events[events.length - 1]!;
        onChange(last.type === 'delete' ? null : leaderOf(last.kv));
      },
      onError: () => void retry(), // compacted: read again
    });
  };
  const retry = async (): Promise<void> => {
    while (!cancelled) {
      try {
        return await start();
      } catch (err) {
        rethrowIfBug(err);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };
  void retry();
  return {
    cancel: () => {
      cancelled = true;
      current?.cancel();
    },
  };
}

function leaderOf(kv: KeyValue | undefined): Leader | null {
  if (kv === undefined) return null;
  try {
    const record = JSON.parse(kv.value.toString()) as LeaderRecord;
    if (typeof record.id !== 'string' || typeof record.rpcAddress !== 'string') return null;
    return { record, epoch: kv.createRevision };
  } catch {
    return null; // not a NameNode's record: nobody to fail over to
  }
}
