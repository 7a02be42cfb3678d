/**
 * A NameNode's part in HA on etcd (issue 14; `journal: "etcd"` in its configuration): the
 * standby that tails the etcd journal, and the active it becomes when it wins the election.
 * namenode.ts owns one when HA is on; with the local edit log there is none.
 *
 *   catchUp():   the local image (and segments) are loaded; read the etcd journal from their
 *                txid to its head, replaying each batch with journal.ts `replayRecords`
 *   standby:     tail the journal from that revision (etcd-journal-reader.ts `tailJournal`),
 *                same replay; watch the leader key to name the active in STANDBY answers;
 *                campaign (src/ha/election.ts)
 *   promote:     won: stop the tail, read the journal to its head again (the old active may
 *                have written up to its last moment: our epoch now fences it), open the
 *                EtcdJournal with our epoch at that head, serve
 *   hand over:   `dfs admin ha failover` (ha-admin.ts): stop serving (STANDBY), let the
 *                journal writes in flight finish, resign the leader key (naming a target
 *                if asked); then it stops like any active that stepped down
 *   stop:        stepped down, or the journal FENCED: `onFatal`, and the process exits
 *                (as HDFS's NameNode does; systemd starts it again as a standby)
 *
 * A standby reads the journal head every LAG_POLL_MS (one small etcd range) for its lag
 * gauge (`lagTxids`, dfs_namenode_ha_standby_lag_txns): how far its applied txid is behind.
 *
 *   state:  starting ──catchUp──> standby ──won──> active ──stepped down / fenced──> failed
 *           active ──handOver()──> handing-over ──resigned──> failed
 *           any ──stop()──> stopped
 *
 * Nothing is answered while not active: `isActive` checks the election's lease at the call
 * (election.ts `isLeader`), so a paused active that wakes up after its lease lapsed answers
 * STANDBY instead of a stale read.
 */
import { assert, DfsError, rethrowIfBug } from '../../protocol/errors.js';
import { Role } from '../../protocol/handshake.js';
import { rpcNameOf, type RpcName } from '../../protocol/namenode-messages.js';
import type { NameNodeConfig } from '../common/config.js';
import { sendBody, type HttpRouter } from '../common/http-router.js';
import type { Logger } from '../common/logger.js';
import { EtcdClient } from '../ha/etcd-client.js';
import { EtcdJournal, initializeJournal } from '../ha/etcd-journal.js';
import { readJournal, tailJournal, type JournalBatch } from '../ha/etcd-journal-reader.js';
import { haKeys } from '../ha/ha-keys.js';
import { Election, watchLeader, type Leader, type LeaderRecord } from '../ha/election.js';
import type { Watch } from '../ha/etcd-watch.js';
import { replayRecords, type AppendCallback, type Journal, type ReplayObserver } from './journal.js';
import type { EditOp } from './edit-ops.js';
import type { Namespace } from './namespace.js';

export type HaState = 'starting' | 'standby' | 'active' | 'handing-over' | 'failed' | 'stopped';

/** How long a hand-over waits for the journal writes in flight before it resigns anyway. */
const HAND_OVER_DRAIN_MS = 5_000;
const LAG_POLL_MS = 1_000;
/** After a hand-over, how long the old active still answers STANDBY naming its successor. */
const HAND_OVER_GRACE_MS = 1_000;

export interface HaNodeOptions {
  endpoints: readonly string[];
  /** The cluster's key prefix in etcd (ha-keys.ts). */
  prefix: string;
  ttlSeconds: number;
  namespace: Namespace;
  log: Logger;
  /** Records a standby applied (the NameNode counts them toward a checkpoint). */
  onApplied: (records: number) => void;
  /** Became the active: the NameNode now writes through `journal`. */
  onPromoted: (journal: Journal) => void;
  /** Must stop answering now: stepped down, fenced, or the tail broke. */
  onFatal: (err: DfsError) => void;
  /** After each etcd journal transaction (metrics). */
  onFlush?: (seconds: number, records: number) => void;
  /** Sees each edit replayed from the journal (the retry cache, retry-cache.ts). */
  replayObserver?: ReplayObserver;
}

/**
 * The HA role of a NameNode (namenode.ts) configured with `journal: "etcd"`, or null with
 * "local"; the key prefix defaults to one per cluster id.
 */
export function haNodeFor(
  config: NameNodeConfig,
  clusterId: string,
  hooks: Omit<HaNodeOptions, 'endpoints' | 'prefix' | 'ttlSeconds'>,
): HaNode | null {
  if (config.journal === 'local') return null;
  if (config.journal !== 'etcd')
    throw new DfsError('INVALID_ARGUMENT', `journal '${config.journal}': expected "local" or "etcd"`);
  if (config.etcdEndpoints.length === 0)
    throw new DfsError('INVALID_ARGUMENT', 'journal "etcd" needs etcdEndpoints (etcd client URLs)');
  return new HaNode({
    ...hooks,
    endpoints: config.etcdEndpoints,
    prefix: config.haPrefix || `/dfs/${clusterId}/`,
    ttlSeconds: config.haLeaseTtlSeconds,
  });
}

export class HaNode {
  private stateNow: HaState = 'starting';
  private readonly client: EtcdClient;
  private election: Election | null = null;
  private tail: Watch | null = null;
  private leaderWatch: { cancel(): void } | null = null;
  private leader: Leader | null = null;
  private appliedTxid = 0;
  private revision = 0;
  private etcdJournal: EtcdJournal | null = null;
  /** This NameNode's id in the leader record (known once it listens). */
  private nodeId = '';
  private lagTimer: NodeJS.Timeout | null = null;
  private lag = 0;
  /** What the NameNode writes through while standby: refuses every append. */
  readonly standbyJournal: Journal;

  constructor(private readonly options: HaNodeOptions) {
    this.client = new EtcdClient({ endpoints: options.endpoints, log: options.log });
    this.standbyJournal = new StandbyJournal(
      () => this.appliedTxid,
      () => this.standbyError(),
    );
  }

  get state(): HaState {
    return this.stateNow;
  }

  /** True only on the active whose lease is surely valid, checked at the call. */
  get isActive(): boolean {
    return this.stateNow === 'active' && this.election!.isLeader;
  }

  /** The epoch this NameNode serves with (0 unless active). */
  get epoch(): number {
    return this.stateNow === 'active' ? this.etcdJournal!.epoch : 0;
  }

  /** A standby's lag behind the journal head at the last poll, in transactions; 0 otherwise. */
  get lagTxids(): number {
    return this.stateNow === 'standby' ? this.lag : 0;
  }

  /** This NameNode's id (known once it listens). */
  get id(): string {
    return this.nodeId;
  }

  /** The active as the leader key names it, or null. */
  get leaderNow(): Leader | null {
    return this.leader;
  }

  /** The etcd journal's head txid, read now (`dfs admin ha status`, the standby lag metric). */
  async journalHead(): Promise<number> {
    const kv = await this.client.get(haKeys(this.options.prefix).head);
    const head = kv === null ? 0 : Number(kv.value.toString());
    if (!Number.isSafeInteger(head) || head < 0)
      throw new DfsError(
        'CORRUPT_LOG',
        `etcd journal head is not a txid: ${kv!.value.toString().slice(0, 40)}`,
      );
    return head;
  }

  /**
   * Graceful hand-over (`dfs admin ha failover`, ha-admin.ts): stops serving at once (every
   * request gets STANDBY, so clients go on to the next NameNode), waits for the journal writes
   * in flight (bounded), calls `beforeResign` (the admin RPC answers there, while this process
   * still runs), then resigns the leader key, naming `target` if given. The resignation is a
   * step-down: this NameNode stops, and its service manager starts it again as a standby.
   */
  async handOver(target: string, beforeResign: () => void): Promise<void> {
    if (!this.isActive) throw this.standbyError();
    if (target === this.nodeId) throw new DfsError('INVALID_ARGUMENT', `${target} is the active already`);
    this.stateNow = 'handing-over';
    this.options.log.warn({ to: target || 'any standby' }, 'handing over: no longer serving');
    const journal = this.etcdJournal!;
    const deadline = Date.now() + HAND_OVER_DRAIN_MS;
    while (journal.lastDurableTxid < journal.lastWrittenTxid && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    beforeResign();
    try {
      await this.election!.resign(target);
    } catch (err) {
      rethrowIfBug(err);
      this.fail(err as DfsError);
    }
  }

  get lastAppliedTxid(): number {
    return this.appliedTxid;
  }

  /** The active's RPC address as the leader key says, or null. */
  get activeAddress(): string | null {
    return this.leader?.record.rpcAddress ?? null;
  }

  /** STANDBY for a request this NameNode must not serve now (checked at the call), else null. */
  refusal(role: number, opcode: number): DfsError | null {
    return this.isActive || servedOnStandby(role, opcode) ? null : this.standbyError();
  }

  /** What a client hears from a NameNode that is not active. */
  standbyError(): DfsError {
    const active = this.leader !== null && this.stateNow !== 'active' ? this.leader.record : null;
    return new DfsError(
      'STANDBY',
      active !== null
        ? `this NameNode (${this.nodeId}) is a standby; the active is ${active.rpcAddress} (${active.id})`
        : `this NameNode (${this.nodeId}) is not active, and no active is known`,
    );
  }

  /**
   * Reads the etcd journal from `localTxid` (the last txid of the local image and segments)
   * to its head; creates the journal at `localTxid` on a cluster's first start.
   */
  async catchUp(localTxid: number): Promise<void> {
    assert(this.stateNow === 'starting', `catchUp while ${this.stateNow}`);
    this.appliedTxid = localTxid;
    if (await initializeJournal(this.client, this.options.prefix, localTxid))
      this.options.log.info({ txid: localTxid, prefix: this.options.prefix }, 'etcd journal created');
    await this.readToHead();
  }

  /** Starts as a standby: tails the journal, follows the leader, campaigns. */
  startStandby(self: LeaderRecord): void {
    assert(this.stateNow === 'starting', `startStandby while ${this.stateNow}`);
    this.stateNow = 'standby';
    this.nodeId = self.id;
    this.startTail();
    this.pollLag();
    this.leaderWatch = watchLeader(this.client, this.options.prefix, (leader) => {
      this.leader = leader;
    });
    const election = (this.election = new Election({
      client: this.client,
      prefix: this.options.prefix,
      self,
      ttlSeconds: this.options.ttlSeconds,
      log: this.options.log,
    }));
    election.on('stepped-down', (reason) => {
      if (this.stateNow === 'handing-over' && reason === 'resigned') this.stopAfterHandOver();
      else if (this.stateNow === 'active' || this.stateNow === 'handing-over')
        this.fail(new DfsError('FENCED', `stepped down as the active NameNode: ${reason}`));
    });
    this.options.log.info({ txid: this.appliedTxid, id: this.nodeId }, 'standby: campaigning');
    election.campaign().then(
      (epoch) => this.promote(epoch),
      (err: unknown) => {
        rethrowIfBug(err);
        if (this.stateNow === 'standby') this.fail(err as DfsError);
      },
    );
  }

  /**
   * Resigned on purpose: keeps answering STANDBY, now naming the successor, until the leader
   * key shows one (at most a TTL and a grace), and a grace longer, so clients go straight to
   * it rather than finding this NameNode gone mid-request; then stops like any step-down.
   */
  private stopAfterHandOver(): void {
    const deadline = Date.now() + this.options.ttlSeconds * 1000 + HAND_OVER_GRACE_MS;
    const timer = setInterval(() => {
      const next = this.leader !== null && this.leader.record.id !== this.nodeId ? this.leader : null;
      if (this.stateNow !== 'handing-over') return clearInterval(timer);
      if (next === null && Date.now() < deadline) return;
      clearInterval(timer);
      const why =
        next === null ? 'no successor seen' : `${next.record.id} took over with epoch ${next.epoch}`;
      setTimeout(
        () => this.fail(new DfsError('FENCED', `handed over as the active NameNode: ${why}`)),
        next === null ? 0 : HAND_OVER_GRACE_MS,
      );
    }, 50);
  }

  private pollLag(): void {
    this.lagTimer = setInterval(() => {
      if (this.stateNow !== 'standby') return;
      this.journalHead().then(
        (head) => (this.lag = Math.max(0, head - this.appliedTxid)),
        (err: unknown) => {
          rethrowIfBug(err);
          this.options.log.debug({ err: (err as Error).message }, 'journal head unreadable (lag gauge)');
        },
      );
    }, LAG_POLL_MS);
    this.lagTimer.unref();
  }

  private startTail(): void {
    this.tail = tailJournal(this.client, this.options.prefix, {
      afterTxid: this.appliedTxid,
      fromRevision: this.revision + 1,
      onBatch: (batch) => {
        if (this.stateNow === 'standby') this.apply(batch, 'the etcd journal (tail)');
      },
      onError: (err) => {
        if (this.stateNow === 'standby') this.fail(err);
      },
    });
  }

  private async readToHead(): Promise<void> {
    const pos = await readJournal(this.client, this.options.prefix, this.appliedTxid, (batch) =>
      this.apply(batch, 'the etcd journal'),
    );
    assert(
      pos.lastTxid === this.appliedTxid,
      `etcd journal read to ${pos.lastTxid}, applied ${this.appliedTxid}`,
    );
    this.revision = pos.revision;
  }

  private apply(batch: JournalBatch, source: string): void {
    const { namespace, replayObserver } = this.options;
    const next = replayRecords(namespace, batch.records, this.appliedTxid + 1, source, replayObserver);
    const applied = next - 1 - this.appliedTxid;
    this.appliedTxid = next - 1;
    if (batch.revision > this.revision) this.revision = batch.revision;
    if (applied > 0) this.options.onApplied(applied);
  }

  /** Won the election: catch up to the head under our epoch, then serve. */
  private async promote(epoch: number): Promise<void> {
    if (this.stateNow !== 'standby') return;
    this.tail?.cancel();
    this.tail = null;
    try {
      await this.readToHead();
    } catch (err) {
      rethrowIfBug(err);
      return this.fail(err as DfsError);
    }
    if (this.stateNow !== 'standby') return;
    const journal = (this.etcdJournal = new EtcdJournal({
      client: this.client,
      prefix: this.options.prefix,
      epoch,
      lastTxid: this.appliedTxid,
      log: this.options.log,
      onFlush: this.options.onFlush,
      onFatal: (err) => this.fail(err),
    }));
    this.stateNow = 'active';
    this.options.log.info({ epoch, txid: this.appliedTxid, id: this.nodeId }, 'active: serving');
    this.options.onPromoted(journal);
  }

  private fail(err: DfsError): void {
    if (this.stateNow === 'failed' || this.stateNow === 'stopped') return;
    this.stateNow = 'failed';
    this.etcdJournal?.fence(err);
    this.options.log.fatal({ err: err.message, code: err.code }, 'HA: no longer able to serve; stopping');
    this.options.onFatal(err);
  }

  /** Stops tailing and campaigning, gives up leadership (after the journal drained). */
  async stop(): Promise<void> {
    if (this.stateNow !== 'failed') this.stateNow = 'stopped';
    this.tail?.cancel();
    this.leaderWatch?.cancel();
    if (this.lagTimer !== null) clearInterval(this.lagTimer);
    await this.etcdJournal?.close();
    await this.election?.close();
    this.client.close();
  }
}

/**
 * What a standby answers for DataNodes (they report to every NameNode: src/datanode/
 * namenode-links.ts): registration, heartbeats (without commands) and replica reports, so it
 * knows every replica when it takes over; and `haStatus` for anyone; everything else gets STANDBY.
 */
const SERVED_ON_STANDBY: ReadonlySet<RpcName> = new Set<RpcName>([
  'serverInfo',
  'register',
  'heartbeat',
  'blockReceived',
  'blockReport',
  'unregister',
]);

export function servedOnStandby(role: number, opcode: number): boolean {
  const name = rpcNameOf(opcode);
  // `dfs admin ha status` asks every NameNode, whatever its role.
  if (name === 'haStatus') return true;
  return role === Role.DATANODE && name !== undefined && SERVED_ON_STANDBY.has(name);
}

/**
 * `/isActive` on the NameNode's HTTP port, as HDFS has it for load balancers and scripts: 200
 * on the NameNode that serves (the active, or a NameNode without HA), 405 on any other.
 */
export function addIsActiveRoute(router: HttpRouter, serving: () => boolean): void {
  router.route('/isActive', {
    methods: ['GET'],
    handler: ({ res }) => {
      const active = serving();
      sendBody(
        res,
        active ? 200 : 405,
        'text/plain; charset=utf-8',
        active ? 'I am Active!\n' : 'I am not Active!\n',
      );
    },
  });
}

/** The journal of a standby: the txid it has applied; appends are refused (nothing reaches them). */
class StandbyJournal implements Journal {
  constructor(
    private readonly applied: () => number,
    private readonly refusal: () => DfsError,
  ) {}

  append(_op: EditOp, done: AppendCallback): number {
    done(this.refusal());
    return -1;
  }

  get lastWrittenTxid(): number {
    return this.applied();
  }

  get lastDurableTxid(): number {
    return this.applied();
  }

  /** Everything applied came from etcd, durable already: a checkpoint may cover it. */
  roll(): Promise<number> {
    return Promise.resolve(this.applied());
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
