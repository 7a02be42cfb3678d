/**
 * The NameNode's Prometheus metrics (README.md, "Metrics", lists each with its meaning).
 *
 * Gauges are read from the state the NameNode keeps, at scrape time: namespace counts,
 * the replication monitor's queues, the DataNode registry, safe mode, leases and
 * connections; a scrape costs one pass over the DataNodes (not over blocks or files).
 * What only exists as an event is observed where it happens, with label children made
 * once: a journal flush (edit-log.ts calls `journalFlushed`: its seconds and the edits it
 * made durable, one fdatasync for all) and an RPC's answer.
 *
 * RPC timing without touching any handler: the frame server hands every request frame to
 * `rpcStarted` and every answer to `rpcAnswered` (frame-server.ts `onReply`), which reads
 * the answer's header: its kind (RESPONSE or ERROR), opcode and request id, and an error's
 * code. Start times wait in a per-connection map, so a request never answered (its
 * connection closed first) is dropped with its connection.
 *
 * Corrupt replicas are reported with `reportBadBlocks` by readers (clients that found a
 * checksum mismatch) and by DataNodes' block scanners: the request's connection role says
 * which, and its replica count is read from the (rare) request itself.
 */
import type { Registry } from 'prom-client';
import { Counter, Gauge, Histogram } from 'prom-client';
import { errorCodeFromWire, rethrowIfBug } from '../../protocol/errors.js';
import { FrameKind, type Frame } from '../../protocol/frame.js';
import { Role } from '../../protocol/handshake.js';
import { decodeRequest, rpcCodecs, rpcNameOf } from '../../protocol/namenode-messages.js';
import type { ServerConnection } from '../common/frame-server.js';
import {
  daemonRegistry,
  gaugesOf,
  HistogramChildren,
  labelledOf,
  SECONDS_BUCKETS,
} from '../common/metrics.js';
import type { AdminState } from './datanode-registry.js';
import type { ReplicationStats } from './replication-monitor.js';

/** A DataNode as the metrics read it (datanode-registry.ts `DatanodeView` and `stateOf`). */
export interface NodeFigures {
  state: 'silent' | AdminState;
  capacityBytes: number;
  usedBytes: number;
  remainingBytes: number;
  pendingDeletes: number;
}

/** What the metrics read from the NameNode, declared here by their consumer. */
export interface NamenodeMetricsSource {
  clusterId: () => string;
  version: string;
  namespace: () => { fileCount: number; dirCount: number; blockCount: number };
  replication: () => ReplicationStats;
  datanodes: () => Iterable<NodeFigures>;
  safeModeOn: () => boolean;
  checkpoint: () => { txnsSince: number; lastMs: number };
  /** The last txid logged (active) or applied from the journal (HA standby). */
  lastTxid: () => number;
  openLeases: () => number;
  rpcConnections: () => number;
  httpConnections: () => number;
  /** HA on etcd (ha-node.ts): serving as the active, and the epoch (0 when not active); absent without HA. */
  ha?: () => { active: boolean; epoch: number; lagTxids: number };
  /** HA on etcd: etcd's database size (last seen) and its configured quota (src/ha/etcd-quota.ts); null without HA. */
  etcdDb?: () => { sizeBytes: number; quotaBytes: number } | null;
}

/** The `state` label of dfs_namenode_datanodes, by registry state (as `dfs admin report` says them). */
const NODE_STATE_LABEL = {
  silent: 'dead',
  normal: 'live',
  decommissioning: 'decommissioning',
  decommissioned: 'decommissioned',
} as const;

/** Edits per journal flush: 1 to 4096 by powers of two. */
const EDITS_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

const REPORT_BAD_BLOCKS = rpcCodecs.reportBadBlocks.opcode;
/** Where an answer's header fields are (protocol/frame.ts), and an ERROR body's code. */
const ANSWER_AT = { kind: 4, opcode: 5, requestId: 8, errorCode: 12 } as const;

export class NamenodeMetrics {
  readonly registry: Registry;
  private readonly commitSeconds: Histogram;
  private readonly editsPerCommit: Histogram;
  private readonly rpcs: Counter;
  /** Children of dfs_namenode_rpcs_total by opcode * 256 + result (0 = ok, else the error's wire code). */
  private readonly rpcChildren = new Map<number, { inc(): void }>();
  private readonly rpcSeconds: HistogramChildren<number>;
  private readonly started = new WeakMap<ServerConnection, Map<number, number>>();
  /** Replicas reported corrupt, by who found them. */
  private readonly corruptReports = { reader: 0, scanner: 0 };

  constructor(source: NamenodeMetricsSource) {
    const r = (this.registry = daemonRegistry());
    new Gauge({
      name: 'dfs_namenode_info',
      help: 'Always 1; the labels name the cluster and the DFS version',
      labelNames: ['cluster_id', 'version'],
      registers: [r],
      collect() {
        this.reset();
        this.labels({ cluster_id: source.clusterId(), version: source.version }).set(1);
      },
    });
    const ns = source.namespace;
    const repl = source.replication;
    const live = (pick: (d: NodeFigures) => number) => (): number => {
      let n = 0;
      for (const d of source.datanodes()) if (d.state !== 'silent') n += pick(d);
      return n;
    };
    gaugesOf(r, {
      dfs_namenode_files: ['Files in the namespace', () => ns().fileCount],
      dfs_namenode_directories: ['Directories in the namespace', () => ns().dirCount],
      dfs_namenode_blocks: ['Blocks of all files', () => ns().blockCount],
      dfs_namenode_under_replicated_blocks: [
        'Blocks with fewer live replicas than their replication',
        () => repl().underReplicated,
      ],
      dfs_namenode_missing_blocks: ['Blocks with no good replica', () => repl().missing],
      dfs_namenode_corrupt_blocks: ['Blocks with a replica reported corrupt', () => repl().corrupt],
      dfs_namenode_pending_replication_blocks: [
        'Replica copies scheduled and not yet reported done',
        () => repl().pendingCopies,
      ],
      dfs_namenode_pending_deletion_blocks: [
        'Replicas queued for deletion on DataNodes',
        () => {
          let n = 0;
          for (const d of source.datanodes()) n += d.pendingDeletes;
          return n;
        },
      ],
      dfs_namenode_capacity_bytes: ['Capacity of the live DataNodes', live((d) => d.capacityBytes)],
      dfs_namenode_capacity_used_bytes: ['Bytes used by DFS on live DataNodes', live((d) => d.usedBytes)],
      dfs_namenode_capacity_remaining_bytes: [
        'Bytes left for DFS on live DataNodes',
        live((d) => d.remainingBytes),
      ],
      dfs_namenode_safe_mode: ['1 while in safe mode', () => (source.safeModeOn() ? 1 : 0)],
      dfs_namenode_last_txid: [
        'The last transaction id this NameNode logged, or applied from the journal as an HA standby (active minus standby is its lag)',
        () => source.lastTxid(),
      ],
      dfs_namenode_transactions_since_checkpoint: [
        'Edits logged since the last checkpoint',
        () => source.checkpoint().txnsSince,
      ],
      dfs_namenode_last_checkpoint_timestamp_seconds: [
        'When the last checkpoint was taken (or the NameNode started)',
        () => source.checkpoint().lastMs / 1000,
      ],
      dfs_namenode_open_leases: ['Clients holding a lease on files open for writing', source.openLeases],
      dfs_namenode_rpc_connections: ['Open RPC connections', source.rpcConnections],
      dfs_namenode_http_connections: ['Open HTTP connections', source.httpConnections],
      dfs_namenode_ha_active: [
        '1 while this NameNode serves (the HA active, or a NameNode without HA), else 0',
        () => (source.ha?.().active !== false ? 1 : 0),
      ],
      dfs_namenode_ha_epoch: [
        "The HA active's epoch (its leader key's etcd create revision); 0 when not active or without HA",
        () => source.ha?.().epoch ?? 0,
      ],
      dfs_namenode_ha_standby_lag_txns: [
        'HA standby: transactions in the etcd journal it has not applied yet (head read every second); 0 on the active and without HA',
        () => source.ha?.().lagTxids ?? 0,
      ],
      dfs_namenode_etcd_db_size_bytes: [
        "With HA: the size of etcd's database file as its member last said (0 without HA)",
        () => source.etcdDb?.()?.sizeBytes ?? 0,
      ],
      dfs_namenode_etcd_db_quota_bytes: [
        "With HA: etcd's database quota (haEtcdQuotaBytes); a warning is logged at 80% of it (0 without HA)",
        () => source.etcdDb?.()?.quotaBytes ?? 0,
      ],
    });
    labelledOf(r, 'gauge', 'dfs_namenode_datanodes', 'DataNodes by state', 'state', () => {
      const counts = new Map<string, number>(Object.values(NODE_STATE_LABEL).map((s) => [s, 0]));
      for (const d of source.datanodes()) {
        const s = NODE_STATE_LABEL[d.state];
        counts.set(s, counts.get(s)! + 1);
      }
      return counts;
    });
    labelledOf(
      r,
      'counter',
      'dfs_namenode_corrupt_replica_reports_total',
      'Replicas reported corrupt (a checksum mismatch), by finder: reader (a client) or scanner (a DataNode)',
      'found_by',
      () => Object.entries(this.corruptReports),
    );
    this.commitSeconds = new Histogram({
      name: 'dfs_namenode_journal_commit_seconds',
      help: 'Duration of one journal flush (write and fdatasync of every waiting edit)',
      buckets: SECONDS_BUCKETS,
      registers: [r],
    });
    this.editsPerCommit = new Histogram({
      name: 'dfs_namenode_journal_edits_per_commit',
      help: 'Edits made durable by one journal flush (group commit)',
      buckets: EDITS_BUCKETS,
      registers: [r],
    });
    this.rpcs = new Counter({
      name: 'dfs_namenode_rpcs_total',
      help: 'RPCs answered, by operation and result (ok or the error code)',
      labelNames: ['op', 'result'],
      registers: [r],
    });
    this.rpcSeconds = new HistogramChildren(
      r,
      'dfs_namenode_rpc_duration_seconds',
      'Time from an RPC request to its answer (mutations include the journal flush)',
      'op',
      (opcode) => rpcNameOf(opcode) ?? `opcode_${opcode}`,
    );
  }

  /** One journal flush: its duration and the edits it made durable (edit-log.ts). */
  journalFlushed(seconds: number, edits: number): void {
    this.commitSeconds.observe(seconds);
    this.editsPerCommit.observe(edits);
  }

  /** A request frame reached the RPC handler. */
  rpcStarted(conn: ServerConnection, frame: Frame): void {
    let m = this.started.get(conn);
    if (m === undefined) {
      m = new Map();
      this.started.set(conn, m);
    }
    m.set(frame.requestId, performance.now());
    if (frame.opcode === REPORT_BAD_BLOCKS) this.countCorruptReports(conn, frame);
  }

  private countCorruptReports(conn: ServerConnection, frame: Frame): void {
    let replicas: number;
    try {
      replicas = decodeRequest('reportBadBlocks', frame).replicas.length;
    } catch (err) {
      rethrowIfBug(err);
      return; // the handler refuses it (client-rpc.ts)
    }
    if (conn.role === Role.DATANODE) this.corruptReports.scanner += replicas;
    else this.corruptReports.reader += replicas;
  }

  /** An answer left for `conn` (frame-server.ts `onReply`): counted and timed by its header. */
  rpcAnswered(conn: ServerConnection, answer: Buffer): void {
    if (answer.length < ANSWER_AT.errorCode) return;
    const kind = answer[ANSWER_AT.kind];
    const opcode = answer[ANSWER_AT.opcode]!;
    const requestId = answer.readUInt32BE(ANSWER_AT.requestId);
    const result =
      kind === FrameKind.ERROR && answer.length >= ANSWER_AT.errorCode + 2
        ? answer.readUInt16BE(ANSWER_AT.errorCode)
        : 0;
    this.rpcChild(opcode, result).inc();
    const m = this.started.get(conn);
    const t = m?.get(requestId);
    if (t === undefined) return;
    m!.delete(requestId);
    this.rpcSeconds.child(opcode).observe((performance.now() - t) / 1000);
  }

  private rpcChild(opcode: number, result: number): { inc(): void } {
    const key = opcode * 256 + result;
    let c = this.rpcChildren.get(key);
    if (c === undefined) {
      c = this.rpcs.labels({
        op: rpcNameOf(opcode) ?? `opcode_${opcode}`,
        result: result === 0 ? 'ok' : errorCodeFromWire(result),
      });
      this.rpcChildren.set(key, c);
    }
    return c;
  }
}
