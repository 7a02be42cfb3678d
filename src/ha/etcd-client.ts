/**
 * A small, typed etcd v3 client over etcd's JSON gRPC gateway (`/v3/...` on the client port),
 * with Node's fetch: just what the journal and the election need (issue 14) and no
 * dependency. Keys and values travel base64; int64 fields arrive as decimal strings.
 * Revisions stay below 2^53 for centuries and are numbers here; lease IDs use all 64 bits and
 * stay strings.
 *
 * Why not the `etcd3` npm package: one oversized request trips its circuit breaker for every
 * later call, closing it in-process did not release a lease, and it drags in gRPC; the gateway
 * is served by every etcd 3.4+ member and these few calls are a page of code.
 *
 * Failover and time bounds: a call goes to the current endpoint; on a connection error, a
 * timed-out attempt or a transient etcd refusal (gRPC Unavailable: no leader, leader changed,
 * request timed out) it moves to the next endpoint and tries again, round-robin, until
 * `requestTimeoutMs` has passed; then it fails with ETCD_UNAVAILABLE. Each attempt is bounded
 * by `attemptTimeoutMs`. A retried write may have been applied by the attempt that timed out,
 * so every write a caller makes is conditional (a txn with compares that tells "already
 * done" from "refused") or idempotent: etcd-journal.ts and election.ts are built that way.
 *
 * Logging: an endpoint's first failure is a warning; its later failures are counted, not
 * logged (the journal, the election and the watches all retry while etcd is unreachable),
 * and the count is logged when it answers again.
 *
 * Errors: connection and availability faults are ETCD_UNAVAILABLE; a compacted revision is
 * JOURNAL_COMPACTED; a missing lease is NOT_FOUND; any other refusal (a request too large, a
 * malformed one) is INVALID_ARGUMENT with etcd's message. Watches are in etcd-watch.ts.
 */
import { assert, DfsError, rethrowIfBug } from '../../protocol/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';

export type Bytes = string | Buffer;

export interface EtcdClientOptions {
  /** Client URLs, "http://host:port"; tried in order, the first that answers is kept. */
  endpoints: readonly string[];
  /** The bound on a whole call, failover included (default 5000). */
  requestTimeoutMs?: number;
  /** The bound on one attempt at one endpoint (default 2000). */
  attemptTimeoutMs?: number;
  log?: Logger;
}

export interface KeyValue {
  key: Buffer;
  value: Buffer;
  createRevision: number;
  modRevision: number;
  version: number;
  /** "0" when the key has no lease. */
  lease: string;
}

export interface RangeOptions {
  /** End of the range, exclusive; `prefix: true` computes it from the key. */
  rangeEnd?: Bytes;
  prefix?: boolean;
  limit?: number;
  /** Read at this revision (0: the newest). */
  revision?: number;
  keysOnly?: boolean;
  /** By key; etcd's default is ascending. */
  sortOrder?: 'ascend' | 'descend';
}

export interface RangeResult {
  kvs: KeyValue[];
  more: boolean;
  count: number;
  /** The store's revision when the read was served. */
  revision: number;
}

export type CompareTarget = 'createRevision' | 'modRevision' | 'version' | 'value';
export type CompareResult = '==' | '!=' | '<' | '>';

export interface Compare {
  key: Bytes;
  target: CompareTarget;
  result?: CompareResult;
  /** A number for the revision and version targets, bytes for `value`. */
  against: number | Bytes;
}

export type TxnOp =
  | { put: { key: Bytes; value: Bytes; lease?: string } }
  | { range: { key: Bytes } & RangeOptions }
  | { delete: { key: Bytes; rangeEnd?: Bytes; prefix?: boolean } };

export type TxnResponse =
  { range: RangeResult } | { put: { revision: number } } | { delete: { deleted: number } };

export interface TxnResult {
  succeeded: boolean;
  /** The store's revision after the txn (its own, when it wrote). */
  revision: number;
  responses: TxnResponse[];
}

export interface EtcdStatus {
  version: string;
  dbSizeBytes: number;
  dbSizeInUseBytes: number;
  memberId: string;
  leaderId: string;
  raftIndex: number;
  revision: number;
}

const TARGETS: Record<CompareTarget, [string, string]> = {
  createRevision: ['CREATE', 'create_revision'],
  modRevision: ['MOD', 'mod_revision'],
  version: ['VERSION', 'version'],
  value: ['VALUE', 'value'],
};
const RESULTS: Record<CompareResult, string> = {
  '==': 'EQUAL',
  '!=': 'NOT_EQUAL',
  '<': 'LESS',
  '>': 'GREATER',
};
/** gRPC Unavailable and DeadlineExceeded: worth another endpoint. */
const TRANSIENT_GRPC = new Set([4, 14]);

export class EtcdClient {
  readonly endpoints: readonly string[];
  readonly requestTimeoutMs: number;
  readonly attemptTimeoutMs: number;
  readonly log: Logger;
  private current = 0;
  private closed = false;
  /** Failures since the last answer, per endpoint that is failing now. */
  private readonly failing = new Map<string, number>();

  constructor(options: EtcdClientOptions) {
    assert(options.endpoints.length > 0, 'etcd client without endpoints');
    this.endpoints = options.endpoints.map((e) => e.replace(/\/+$/, ''));
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5000;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 2000;
    this.log = options.log ?? silentLogger();
  }

  /** The endpoint calls go to now (it changes on failover). */
  get currentEndpoint(): string {
    return this.endpoints[this.current]!;
  }

  async range(key: Bytes, options: RangeOptions = {}): Promise<RangeResult> {
    return parseRange(await this.call('/v3/kv/range', rangeBody(key, options)));
  }

  async get(key: Bytes): Promise<KeyValue | null> {
    return (await this.range(key)).kvs[0] ?? null;
  }

  async put(key: Bytes, value: Bytes, lease?: string): Promise<number> {
    const res = await this.call('/v3/kv/put', { key: b64(key), value: b64(value), lease });
    return revisionOf(res);
  }

  async delete(key: Bytes, options: { rangeEnd?: Bytes; prefix?: boolean } = {}): Promise<number> {
    const res = (await this.call('/v3/kv/deleterange', deleteBody(key, options))) as { deleted?: string };
    return num(res.deleted);
  }

  /** One atomic transaction: if every compare holds, `success` runs, else `failure`. */
  async txn(
    compare: readonly Compare[],
    success: readonly TxnOp[],
    failure: readonly TxnOp[] = [],
  ): Promise<TxnResult> {
    const res = (await this.call('/v3/kv/txn', {
      compare: compare.map(compareBody),
      success: success.map(opBody),
      failure: failure.map(opBody),
    })) as { succeeded?: boolean; responses?: Array<Record<string, unknown>> };
    return {
      succeeded: res.succeeded === true,
      revision: revisionOf(res),
      responses: (res.responses ?? []).map(parseTxnResponse),
    };
  }

  async compact(revision: number, physical = false): Promise<void> {
    await this.call('/v3/kv/compaction', { revision: String(revision), physical });
  }

  async leaseGrant(ttlSeconds: number): Promise<{ id: string; ttlSeconds: number }> {
    const res = (await this.call('/v3/lease/grant', { TTL: String(ttlSeconds) })) as {
      ID: string;
      TTL: string;
    };
    return { id: res.ID, ttlSeconds: num(res.TTL) };
  }

  /** Renews the lease; its remaining TTL in seconds, 0 (or less) when it has expired. */
  async leaseKeepAlive(id: string): Promise<number> {
    const res = (await this.call('/v3/lease/keepalive', { ID: id })) as { result?: { TTL?: string } };
    return num(res.result?.TTL);
  }

  async leaseRevoke(id: string): Promise<void> {
    try {
      await this.call('/v3/lease/revoke', { ID: id });
    } catch (err) {
      rethrowIfBug(err);
      if (!(err instanceof DfsError && err.code === 'NOT_FOUND')) throw err;
    }
  }

  /** The status of the member `endpoint` (default: the current one), without failover. */
  async status(endpoint = this.currentEndpoint): Promise<EtcdStatus> {
    const deadline = Date.now() + this.attemptTimeoutMs;
    const res = (await this.attempt(endpoint, '/v3/maintenance/status', {}, deadline)) as Record<
      string,
      string
    >;
    return {
      version: res.version ?? '',
      dbSizeBytes: num(res.dbSize),
      dbSizeInUseBytes: num(res.dbSizeInUse),
      memberId: (res.header as unknown as { member_id: string }).member_id,
      leaderId: res.leader ?? '',
      raftIndex: num(res.raftIndex),
      revision: revisionOf(res),
    };
  }

  /** Refuses later calls; nothing to release (each call is its own HTTP request). */
  close(): void {
    this.closed = true;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Posts `body` to `route`, failing over between endpoints until `requestTimeoutMs` has passed. */
  async call(route: string, body: unknown): Promise<unknown> {
    if (this.closed) throw new DfsError('SHUTTING_DOWN', 'etcd client closed');
    const deadline = Date.now() + this.requestTimeoutMs;
    let lastError: DfsError;
    for (let tries = 0; ; tries++) {
      const endpoint = this.currentEndpoint;
      try {
        const answer = await this.attempt(
          endpoint,
          route,
          body,
          Math.min(deadline, Date.now() + this.attemptTimeoutMs),
        );
        this.noteAnswer(endpoint);
        return answer;
      } catch (err) {
        rethrowIfBug(err);
        if (!(err instanceof DfsError) || err.code !== 'ETCD_UNAVAILABLE') throw err;
        lastError = err;
        this.noteFailure(endpoint, route, err);
        this.current = (this.endpoints.indexOf(endpoint) + 1) % this.endpoints.length;
      }
      if (this.closed) throw new DfsError('SHUTTING_DOWN', 'etcd client closed');
      // After a full pass, let an election or a restart finish before the next one.
      const pause = (tries + 1) % this.endpoints.length === 0 ? 100 : 0;
      if (Date.now() + pause >= deadline)
        throw new DfsError(
          'ETCD_UNAVAILABLE',
          `etcd ${route} failed on every endpoint for ${this.requestTimeoutMs} ms: ${lastError.message}`,
          { cause: lastError },
        );
      if (pause > 0) await new Promise((r) => setTimeout(r, pause));
    }
  }

  private noteFailure(endpoint: string, route: string, err: DfsError): void {
    const count = this.failing.get(endpoint);
    this.failing.set(endpoint, (count ?? 0) + 1);
    if (count === undefined)
      this.log.warn({ endpoint, route, err: err.message }, 'etcd endpoint failed; trying the next');
  }

  private noteAnswer(endpoint: string): void {
    const failures = this.failing.get(endpoint);
    if (failures === undefined) return;
    this.failing.delete(endpoint);
    this.log.info({ endpoint, failures }, 'etcd endpoint answering again');
  }

  /** One POST to one endpoint, bounded by `deadline`; faults come out typed. */
  private async attempt(endpoint: string, route: string, body: unknown, deadline: number): Promise<unknown> {
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${endpoint}${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())),
      });
      text = await res.text();
    } catch (err) {
      rethrowIfBug(err);
      throw new DfsError('ETCD_UNAVAILABLE', `etcd ${endpoint}${route}: ${describeFetchError(err)}`, {
        cause: err,
      });
    }
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new DfsError('ETCD_UNAVAILABLE', `etcd ${endpoint}${route}: HTTP ${res.status}, not JSON`);
    }
    if (res.ok && parsed.error === undefined) return parsed;
    throw grpcError(endpoint + route, res.status, parsed);
  }
}

/** The typed DfsError for an error body of the gateway ({error, message, code}). */
export function grpcError(where: string, status: number, body: Record<string, unknown>): DfsError {
  const inner = (typeof body.error === 'object' && body.error !== null ? body.error : body) as Record<
    string,
    unknown
  >;
  const code = Number(inner.code ?? body.code ?? 0);
  const text = inner.message ?? inner.error;
  const message = typeof text === 'string' ? text : `HTTP ${status}`;
  const what = `etcd ${where}: ${message}`;
  if (message.includes('compacted')) return new DfsError('JOURNAL_COMPACTED', what);
  if (TRANSIENT_GRPC.has(code) || status === 503 || status >= 500)
    return new DfsError('ETCD_UNAVAILABLE', what);
  if (message.includes('space exceeded')) return new DfsError('ETCD_UNAVAILABLE', what);
  if (code === 5) return new DfsError('NOT_FOUND', what);
  return new DfsError('INVALID_ARGUMENT', what);
}

export function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timed out';
  return e.cause?.code ?? e.cause?.message ?? e.message;
}

export function b64(bytes: Bytes): string {
  return (typeof bytes === 'string' ? Buffer.from(bytes) : bytes).toString('base64');
}

/** The smallest key after every key that starts with `prefix` (etcd's GetPrefixRangeEnd). */
export function prefixEnd(prefix: Bytes): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // every key: etcd's "\0" range end
}

export function num(v: unknown): number {
  if (v === undefined || v === null || v === '') return 0;
  const n = Number(v);
  assert(Number.isSafeInteger(n), `etcd number ${JSON.stringify(v)} is not a safe integer`);
  return n;
}

export function parseKv(kv: Record<string, string>): KeyValue {
  return {
    key: Buffer.from(kv.key ?? '', 'base64'),
    value: Buffer.from(kv.value ?? '', 'base64'),
    createRevision: num(kv.create_revision),
    modRevision: num(kv.mod_revision),
    version: num(kv.version),
    lease: kv.lease ?? '0',
  };
}

function revisionOf(res: unknown): number {
  return num((res as { header?: { revision?: string } }).header?.revision);
}

function rangeBody(key: Bytes, o: RangeOptions): Record<string, unknown> {
  const end = o.prefix ? prefixEnd(key) : o.rangeEnd;
  return {
    key: b64(key),
    range_end: end === undefined ? undefined : b64(end),
    limit: o.limit === undefined ? undefined : String(o.limit),
    revision: o.revision === undefined ? undefined : String(o.revision),
    keys_only: o.keysOnly,
    sort_order: o.sortOrder === undefined ? undefined : o.sortOrder.toUpperCase(),
    sort_target: o.sortOrder === undefined ? undefined : 'KEY',
  };
}

function deleteBody(key: Bytes, o: { rangeEnd?: Bytes; prefix?: boolean }): Record<string, unknown> {
  const end = o.prefix ? prefixEnd(key) : o.rangeEnd;
  return { key: b64(key), range_end: end === undefined ? undefined : b64(end) };
}

function parseRange(res: unknown): RangeResult {
  const r = res as { kvs?: Array<Record<string, string>>; more?: boolean; count?: string };
  return {
    kvs: (r.kvs ?? []).map(parseKv),
    more: r.more === true,
    count: num(r.count),
    revision: revisionOf(r),
  };
}

function compareBody(c: Compare): Record<string, unknown> {
  const [target, field] = TARGETS[c.target];
  const against = c.target === 'value' ? b64(c.against as Bytes) : String(c.against);
  return { key: b64(c.key), target, result: RESULTS[c.result ?? '=='], [field]: against };
}

function opBody(op: TxnOp): Record<string, unknown> {
  if ('put' in op)
    return { request_put: { key: b64(op.put.key), value: b64(op.put.value), lease: op.put.lease } };
  if ('range' in op) return { request_range: rangeBody(op.range.key, op.range) };
  return { request_delete_range: deleteBody(op.delete.key, op.delete) };
}

function parseTxnResponse(r: Record<string, unknown>): TxnResponse {
  if (r.response_range !== undefined) return { range: parseRange(r.response_range) };
  if (r.response_put !== undefined) return { put: { revision: revisionOf(r.response_put) } };
  return { delete: { deleted: num((r.response_delete_range as { deleted?: string }).deleted) } };
}
