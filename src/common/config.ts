/**
 * Configuration: defaults, overridden by a JSON file (`--config FILE`, one section per
 * daemon: {"namenode": {...}, "datanode": {...}, "client": {...}}), then by environment
 * variables (DFS_<SECTION>_<KEY>, e.g. DFS_NAMENODE_PORT=8020), then by command-line flags.
 * Every key, its default and its meaning is listed in README.md ("Configuration").
 * Unknown keys and values of the wrong type are errors: a typo must not silently do nothing.
 * That holds for the environment too: a DFS_<SECTION>_* variable of the section being
 * resolved that names no key is an error (other sections' variables are not this daemon's).
 */
import fs from 'node:fs';
import { DfsError } from '../../protocol/errors.js';

export const DEFAULT_NAMENODE_PORT = 8020;
export const DEFAULT_DATANODE_PORT = 9866;
/** HTTP ports (metrics, health, web UI) as in HDFS 3; -1 turns HTTP off. */
export const DEFAULT_NAMENODE_HTTP_PORT = 9870;
export const DEFAULT_DATANODE_HTTP_PORT = 9864;
/** The `httpPort` value that turns a daemon's HTTP server off. */
export const HTTP_OFF = -1;

/**
 * The HTTP server of either daemon (src/common/http-server.ts): where it listens and the
 * limits that keep a hostile or slow client from costing more than a bounded share.
 */
export interface HttpConfig {
  /** HTTP port; 0 picks a free one (logged), -1 turns HTTP off. */
  httpPort: number;
  httpHost: string;
  /** Open HTTP connections; past it new ones are closed at once. */
  httpConnectionsMax: number;
  /** Bytes of request line and headers together (431 past it). */
  httpHeaderBytesMax: number;
  /** Request line and headers must arrive within this (408, then closed). */
  httpHeadersTimeoutMs: number;
  /** A whole request must arrive within this (408, then closed). */
  httpRequestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  httpKeepAliveTimeoutMs: number;
}

const HTTP_DEFAULTS: Omit<HttpConfig, 'httpPort'> = {
  httpHost: '0.0.0.0',
  httpConnectionsMax: 256,
  httpHeaderBytesMax: 16 * 1024,
  httpHeadersTimeoutMs: 10_000,
  httpRequestTimeoutMs: 30_000,
  httpKeepAliveTimeoutMs: 5_000,
};

export interface NameNodeConfig extends HttpConfig {
  host: string;
  port: number;
  nameDir: string;
  /** Checkpoint after this many logged transactions... */
  checkpointTxns: number;
  /** ...or after this long with at least one transaction. */
  checkpointIntervalMs: number;
  leaseLimitMs: number;
  leaseCheckIntervalMs: number;
  /**
   * A block recovery (lease recovery of a crashed writer's last block) whose primary has
   * not committed within this is started again with a new recovery id, on another primary.
   */
  blockRecoveryTimeoutMs: number;
  connectionsMax: number;
  inflightMax: number;
  rpcBodyBytesMax: number;
  /** Bytes all connections together may hold in frames not yet complete (at least rpcBodyBytesMax + 12). */
  partialFrameBytesMax: number;
  handshakeTimeoutMs: number;
  frameTimeoutMs: number;
  logLevel: string;
  /** A DataNode silent this long is dead. */
  deadNodeTimeoutMs: number;
  heartbeatRecheckMs: number;
  /** Live replicas each block needs before `complete` succeeds. */
  minReplication: number;
  /**
   * How often the replication monitor runs: the longest a lost replica waits before its
   * copy is scheduled, and a finished copy before its source may start another. Each run
   * is bounded (replication-monitor.ts), so a short interval costs little.
   */
  replicationIntervalMs: number;
  /** Replica copies one DataNode is asked to make at once. */
  transfersPerNodeMax: number;
  /** A scheduled copy not reported done within this is scheduled again. */
  replicationPendingTimeoutMs: number;
  /** Every block is re-examined at least this often. */
  replicationRescanMs: number;
  /** Fraction of blocks that must be reported before safe mode ends after a start. */
  safeModeThreshold: number;
  /** How long the threshold must hold before safe mode ends. */
  safeModeExtensionMs: number;
  /** An edit-log write + fdatasync slower than this is logged at warn with its duration. */
  slowIoWarnMs: number;
  /**
   * Minutes a deleted path stays in its owner's trash (`fs.trash.interval`); 0 turns trash
   * off, and `dfs rm` deletes at once. Clients read it from serverInfo.
   */
  trashIntervalMinutes: number;
  /** Minutes between trash checkpoints (`fs.trash.checkpoint.interval`); 0: trashIntervalMinutes. */
  trashCheckpointIntervalMinutes: number;
  /** The superuser's name; '' = the NameNode process's user (HDFS: whoever started it). */
  superuser: string;
  /** Members of this group are superusers too (`dfs.permissions.superusergroup`). */
  supergroup: string;
  /** JSON file of user -> [groups]; users not in it get their local OS groups; '' = none. */
  userGroupsFile: string;
  /** How long a user's OS groups are cached (`hadoop.security.groups.cache.secs`). */
  groupsCacheMs: number;
  /** Where edits become durable: "local" (the name directory's edit log) or "etcd" (HA, issue 14). */
  journal: string;
  /** With journal "etcd": etcd client URLs, "http://host:port". */
  etcdEndpoints: string[];
  /** With journal "etcd": the cluster's key prefix in etcd; '' = "/dfs/<clusterId>/". */
  haPrefix: string;
  /** With journal "etcd": the TTL of the election lease; the active steps down before it lapses. */
  haLeaseTtlSeconds: number;
  /** With journal "etcd": this NameNode's id in the leader record; '' = its RPC address. */
  nodeId: string;
  /**
   * The host other machines reach this NameNode at (its RPC address in the HA leader record,
   * which STANDBY answers name); '' = `host`, or 127.0.0.1 when `host` is a wildcard.
   */
  advertiseHost: string;
  /** Results of retriable calls kept (src/namenode/retry-cache.ts); 0 turns the retry cache off. */
  retryCacheEntriesMax: number;
  /** How long a call's result is kept for its retries (HDFS dfs.namenode.retrycache.expirytime.millis). */
  retryCacheExpiryMs: number;
  /** With journal "etcd": journal records kept below the oldest image any NameNode holds. */
  haJournalRetainTxns: number;
  /** With journal "etcd": etcd's database quota (its --quota-backend-bytes), for the 80% alarm. */
  haEtcdQuotaBytes: number;
}

export const NAMENODE_DEFAULTS: NameNodeConfig = {
  host: '0.0.0.0',
  port: DEFAULT_NAMENODE_PORT,
  nameDir: '/var/lib/dfs/name',
  checkpointTxns: 1_000_000,
  checkpointIntervalMs: 3_600_000,
  leaseLimitMs: 60_000,
  leaseCheckIntervalMs: 2_000,
  blockRecoveryTimeoutMs: 30_000,
  connectionsMax: 10_000,
  inflightMax: 1024,
  rpcBodyBytesMax: 16 * 1024 * 1024,
  partialFrameBytesMax: 64 * 1024 * 1024,
  handshakeTimeoutMs: 10_000,
  frameTimeoutMs: 30_000,
  logLevel: 'info',
  deadNodeTimeoutMs: 30_000,
  heartbeatRecheckMs: 1_000,
  minReplication: 1,
  replicationIntervalMs: 250,
  transfersPerNodeMax: 4,
  replicationPendingTimeoutMs: 60_000,
  replicationRescanMs: 30_000,
  safeModeThreshold: 0.999,
  safeModeExtensionMs: 5_000,
  slowIoWarnMs: 1_000,
  trashIntervalMinutes: 1440,
  trashCheckpointIntervalMinutes: 0,
  superuser: '',
  supergroup: 'supergroup',
  userGroupsFile: '',
  groupsCacheMs: 300_000,
  journal: 'local',
  etcdEndpoints: [],
  haPrefix: '',
  haLeaseTtlSeconds: 5,
  nodeId: '',
  advertiseHost: '',
  retryCacheEntriesMax: 100_000,
  retryCacheExpiryMs: 600_000,
  haJournalRetainTxns: 100_000,
  haEtcdQuotaBytes: 2 * 1024 * 1024 * 1024,
  httpPort: DEFAULT_NAMENODE_HTTP_PORT,
  ...HTTP_DEFAULTS,
};

export type Section = 'namenode' | 'datanode' | 'client';

/** Merges defaults < file section < environment < flags, checking names and types. */
export function resolveConfig<T extends object>(
  section: Section,
  defaults: T,
  options: { file?: string | undefined; env?: NodeJS.ProcessEnv; flags?: Partial<T> },
): T {
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  const keys = new Set(Object.keys(defaults));
  if (options.file !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(options.file, 'utf8'));
    } catch (err) {
      throw new DfsError('INVALID_ARGUMENT', `config file ${options.file}: ${(err as Error).message}`);
    }
    const part = (parsed as Record<string, unknown>)[section];
    if (part !== undefined) {
      if (typeof part !== 'object' || part === null)
        throw new DfsError('INVALID_ARGUMENT', `config file ${options.file}: "${section}" is not an object`);
      for (const [k, v] of Object.entries(part))
        setChecked(out, defaults, keys, k, v, `${options.file}: ${section}.${k}`);
    }
  }
  const env = options.env ?? process.env;
  const envNames = new Map([...keys].map((k) => [envName(section, k), k]));
  // A variable of this section that names no key is a typo, like an unknown key in the file.
  const prefix = `DFS_${section.toUpperCase()}_`;
  for (const name of Object.keys(env)) {
    if (name.startsWith(prefix) && !envNames.has(name))
      throw new DfsError(
        'INVALID_ARGUMENT',
        `environment variable ${name}: unknown configuration key (the ${section} keys are in README.md, "Configuration")`,
      );
  }
  for (const [name, k] of envNames) {
    const raw = env[name];
    if (raw !== undefined)
      setChecked(
        out,
        defaults,
        keys,
        k,
        parseScalar(raw, typeof (defaults as Record<string, unknown>)[k]),
        name,
      );
  }
  for (const [k, v] of Object.entries(options.flags ?? {})) {
    if (v !== undefined) setChecked(out, defaults, keys, k, v, `--${k}`);
  }
  return out as T;
}

/** `DFS_NAMENODE_DEAD_NODE_TIMEOUT_MS` for the namenode key `deadNodeTimeoutMs`. */
export function envName(section: Section, key: string): string {
  return `DFS_${section.toUpperCase()}_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

function parseScalar(raw: string, type: string): unknown {
  if (type === 'number') return Number(raw);
  if (type === 'boolean') return raw === 'true' || raw === '1';
  return raw;
}

function setChecked(
  out: Record<string, unknown>,
  defaults: object,
  keys: Set<string>,
  k: string,
  v: unknown,
  where: string,
): void {
  if (!keys.has(k)) throw new DfsError('INVALID_ARGUMENT', `${where}: unknown configuration key '${k}'`);
  const want = typeof (defaults as Record<string, unknown>)[k];
  if (Array.isArray((defaults as Record<string, unknown>)[k])) {
    if (typeof v === 'string') v = v.split(',').filter((x) => x.length > 0);
    if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'string')) {
      throw new DfsError(
        'INVALID_ARGUMENT',
        `${where}: expected a non-empty list of strings, got ${JSON.stringify(v)}`,
      );
    }
    out[k] = v;
    return;
  }
  if (typeof v !== want || (want === 'number' && !Number.isFinite(v))) {
    throw new DfsError('INVALID_ARGUMENT', `${where}: expected a ${want}, got ${JSON.stringify(v)}`);
  }
  out[k] = v;
}

/** "HOST:PORT" -> parts, with a clear error. */
export function parseHostPort(text: string, defaultPort: number): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(text.trim());
  if (!m || m[1] === '') throw new DfsError('INVALID_ARGUMENT', `not a HOST:PORT address: '${text}'`);
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new DfsError('INVALID_ARGUMENT', `bad port in '${text}'`);
  return { host: m[1]!, port };
}

export interface DataNodeConfig extends HttpConfig {
  host: string;
  /** Address the NameNode and clients use to reach this node (default: host, or the source address seen by the NameNode). */
  advertiseHost: string;
  port: number;
  namenode: string;
  dataDirs: string[];
  heartbeatIntervalMs: number;
  blockReportIntervalMs: number;
  /** Bytes kept free on every volume; a volume with less than reservedBytes + one block left refuses new blocks. */
  reservedBytes: number;
  /** fsync data and checksums before a replica is finalized (and acknowledged). */
  syncOnFinalize: boolean;
  /**
   * With syncOnFinalize: start an fdatasync of a replica being written every this many
   * bytes, in the background, so finalize only waits for the tail (0 = only at finalize).
   */
  syncBehindWritesBytes: number;
  connectionsMax: number;
  /** Packets received and not yet on local disk, per connection, before reading pauses. */
  packetsInflightMax: number;
  /**
   * Payload bytes received and not yet on local disk, all connections together, before
   * the DataNode stops reading every connection until some are written.
   */
  packetBytesHeldMax: number;
  /**
   * Bytes replica reads hold (read ahead, or being sent), all readers together; a read that
   * would pass it waits for earlier ones to finish (src/datanode/replica-reader.ts).
   */
  readBufferBytesMax: number;
  /** Bytes all connections together may hold in frames not yet complete (at least one packet frame). */
  partialFrameBytesMax: number;
  handshakeTimeoutMs: number;
  /** A frame started and not finished, or a write pipeline silent, this long is dropped. */
  frameTimeoutMs: number;
  logLevel: string;
  /** Block scanner read rate; 0 turns the scanner off. */
  scanBytesPerSecond: number;
  /** Pause between two scanner passes over every replica. */
  scanIntervalMs: number;
  /**
   * How often the directory scanner compares the replica map with each volume's finalized/
   * replicas (names and sizes) and checks each volume is still writable; 0 turns it off.
   */
  directoryScanIntervalMs: number;
  /** A packet's write to the mirror or to disk, or a block's final fdatasync, slower than this is logged at warn. */
  slowIoWarnMs: number;
}

export const DATANODE_DEFAULTS: DataNodeConfig = {
  host: '0.0.0.0',
  advertiseHost: '',
  port: DEFAULT_DATANODE_PORT,
  namenode: `127.0.0.1:${DEFAULT_NAMENODE_PORT}`,
  dataDirs: ['/var/lib/dfs/data'],
  heartbeatIntervalMs: 3_000,
  blockReportIntervalMs: 6 * 3_600_000,
  reservedBytes: 0,
  syncOnFinalize: true,
  syncBehindWritesBytes: 8 * 1024 * 1024,
  connectionsMax: 4096,
  packetsInflightMax: 32,
  packetBytesHeldMax: 256 * 1024 * 1024,
  readBufferBytesMax: 256 * 1024 * 1024,
  partialFrameBytesMax: 64 * 1024 * 1024,
  handshakeTimeoutMs: 10_000,
  frameTimeoutMs: 60_000,
  logLevel: 'info',
  scanBytesPerSecond: 8 * 1024 * 1024,
  scanIntervalMs: 6 * 3_600_000,
  directoryScanIntervalMs: 30 * 60_000,
  slowIoWarnMs: 300,
  httpPort: DEFAULT_DATANODE_HTTP_PORT,
  ...HTTP_DEFAULTS,
};
