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
 *                EtcdJournal with our epoch at that head, serve; if the lease lapsed
 *                meanwhile (won on a lease whose keepalives went unanswered), stay a standby:
 *                tail on and campaign again
 *   hand over:   `dfs admin ha failover` (ha-admin.ts): stop serving (STANDBY), let the
 *                journal writes in flight finish, resign the leader key (naming a target
 *                if asked); then it stops like any active that stepped down
 *   stop:        stepped down, or the journal FENCED: `onFatal`, and the process exits
 *                (as HDFS's NameNode does; systemd starts it again as a standby)
 *
 * Following the journal (reading, tailing, recovering a compacted watch, the lag gauge):
 * journal-follower.ts. Images and compaction: src/ha/image-sync.ts.
 *
 *   state:  starting ──catchUp──> standby ──won──> active ──stepped down / fenced──> failed
 *           standby ──won, lapsed while catching up──> standby (campaigning again)
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
import * as reader from '../ha/etcd-journal-reader.js';
import { Election, watchLeader, type Leader, type LeaderRecord } from '../ha/election.js';
import { JournalFollower } from './journal-follower.js';
import type { Journal, ReplayObserver } from './journal.js';
import { StandbyJournal } from './standby-journal.js';
import type { Namespace } from './namespace.js';
import type { LoadedState } from './name-dir.js';
import type { FileSync } from '../common/file-sync.js';
import { ImageSync } from '../ha/image-sync.js';
import { EtcdQuotaMonitor } from '../ha/etcd-quota.js';

export type HaState = 'starting' | 'standby' | 'active' | 'handing-over' | 'failed' | 'stopped';

/** How long a hand-over waits for the journal writes in flight before it resigns anyway. */
const HAND_OVER_DRAIN_MS = 5_000;
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
  nameDir: string;
  clusterId: string;
  /** Journal records kept below the oldest image (config `haJournalRetainTxns`). */
  retainTxns: number;
  /** etcd's database quota for the alarm (config `haEtcdQuotaBytes`). */
  quotaBytes: number;
  sync: FileSync;
}

/**
 * The HA role of a NameNode (namenode.ts) configured with `journal: "etcd"`, or null with
 * "local"; the key prefix defaults to one per cluster id.
 */
export function haNodeFor(
  config: NameNodeConfig,
  clusterId: string,
  hooks: Omit<
    HaNodeOptions,
    'endpoints' | 'prefix' | 'ttlSeconds' | 'retainTxns' | 'quotaBytes' | 'clusterId'
  >,
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
    clusterId,
    retainTxns: config.haJournalRetainTxns,
    quotaBytes: config.haEtcdQuotaBytes,
  });
}

export class HaNode {
  private stateNow: HaState = 'starting';
  private readonly client: EtcdClient;
  private election: Election | null = null;
  private leaderWatch: { cancel(): void } | null = null;
  private leader: Leader | null = null;
  private readonly follower: JournalFollower;
  private etcdJournal: EtcdJournal | null = null;
  /** This NameNode's id in the leader record (known once it listens). */
  private nodeId = '';
  /** What the NameNode writes through while standby: refuses every append. */
  readonly standbyJournal: Journal;
  /** Images recorded, fetched, and the journal purged below them. */
  readonly images: ImageSync;
  readonly quota: EtcdQuotaMonitor;

  constructor(private readonly options: HaNodeOptions) {
    this.client = new EtcdClient({ endpoints: options.endpoints, log: options.log });
    this.standbyJournal = new StandbyJournal(
      () => this.follower.appliedTxid,
      () => this.standbyError(),
    );
    this.images = new ImageSync({
      ...options,
      client: this.client,
      epoch: () => (this.isActive ? this.epoch : 0),
      position: () =>
        this.stateNow === 'active' ? this.etcdJournal!.lastDurableTxid : this.follower.appliedTxid,
    });
    this.follower = new JournalFollower({
      ...options,
      client: this.client,
      images: this.images,
      following: () => this.stateNow === 'standby',
      fail: (err) => this.fail(err),
    });
    this.quota = new EtcdQuotaMonitor(this.client, options.quotaBytes, options.log);
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
    return this.stateNow === 'standby' ? this.follower.lagTxids : 0;
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
  journalHead(): Promise<number> {
    return this.follower.journalHead();
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
    return this.follower.appliedTxid;
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
   * Reads the etcd journal from the local state's last txid (its image and segments) to its
   * head; creates the journal there on a cluster's first start. When the journal no longer
   * holds the next txid, fetches a peer's newer image, `reload`s the name directory and reads
   * on from it. Resolves with the state the NameNode serves from.
   */
  async catchUp(local: LoadedState, reload: () => Promise<LoadedState>): Promise<LoadedState> {
    assert(this.stateNow === 'starting', `catchUp while ${this.stateNow}`);
    let state = local;
    if (await initializeJournal(this.client, this.options.prefix, state.lastTxid))
      this.options.log.info({ txid: state.lastTxid, prefix: this.options.prefix }, 'etcd journal created');
    const use = (loaded: LoadedState): void => {
      this.images.imageLoaded(loaded.imageTxid);
      this.follower.use(loaded);
    };
    use(state);
    await reader.readThroughCompaction(this.follower.readerOf(), async () => {
      const txid = await this.images.fetchNewest(this.follower.appliedTxid);
      state = await reload();
      this.options.log.info(
        { txid, lastTxid: state.lastTxid },
        'journal purged past the local image: loaded a peer image',
      );
      use(state);
    });
    return state;
  }

  /** Starts as a standby: tails the journal, follows the leader, campaigns. */
  startStandby(self: LeaderRecord): void {
    assert(this.stateNow === 'starting', `startStandby while ${this.stateNow}`);
    this.stateNow = 'standby';
    this.nodeId = self.id;
    this.follower.start();
    // Recorded before the image records are followed; if etcd refuses now, the next
    // checkpoint or fetch records it (until then the old record, if any, holds the purge).
    void this.images
      .recordOwn(this.images.imageTxid, self.id, self.httpAddress)
      .catch((err: unknown) => {
        rethrowIfBug(err);
        this.options.log.warn({ err: (err as Error).message }, 'could not record our image in etcd');
      })
      .then(() => this.images.start());
    this.quota.start();
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
    this.options.log.info({ txid: this.follower.appliedTxid, id: this.nodeId }, 'standby: campaigning');
    this.campaign(election);
  }

  /** Campaigns (again) while a standby; promotes on winning. */
  private campaign(election: Election): void {
    election.campaign().then(
      (epoch) => this.promote(election, epoch),
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

  /** Won the election: catch up to the head under our epoch, then serve. */
  private async promote(election: Election, epoch: number): Promise<void> {
    if (this.stateNow !== 'standby') return;
    try {
      await this.follower.finish();
    } catch (err) {
      rethrowIfBug(err);
      return this.fail(err as DfsError);
    }
    if (this.stateNow !== 'standby') return;
    if (!election.isLeader) {
      // Won on a lease about to lapse (its keepalives went unanswered) and stepped down while
      // catching up: nobody leads now. Tail on and campaign again rather than serve unelected.
      this.options.log.warn({ epoch }, 'stepped down while catching up; standing by and campaigning again');
      this.follower.resume();
      return this.campaign(election);
    }
    const journal = (this.etcdJournal = new EtcdJournal({
      client: this.client,
      prefix: this.options.prefix,
      epoch,
      lastTxid: this.follower.appliedTxid,
      log: this.options.log,
      onFlush: this.options.onFlush,
      onFatal: (err) => this.fail(err),
    }));
    this.stateNow = 'active';
    this.options.log.info({ epoch, txid: this.follower.appliedTxid, id: this.nodeId }, 'active: serving');
    this.options.onPromoted(journal);
    this.images.syncSoon(); // purge what waited for a new active
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
    this.follower.stop();
    this.leaderWatch?.cancel();
    this.quota.stop();
    await this.images.stop();
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
