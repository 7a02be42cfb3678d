/**
 * An etcd watch over the JSON gateway: POST /v3/watch answers with a stream of JSON objects,
 * one a line, `{"result": WatchResponse}` or `{"error": ...}`. The first result confirms the
 * watch (`created`); later ones carry events in revision order (etcd's watch guarantees:
 * ordered, no duplicates, no gaps while the stream lives).
 *
 * Resuming: the watch remembers the revision after the last event it delivered; when a
 * stream ends or breaks (a member killed, a member cut off from its Raft leader: the request
 * carries gRPC metadata `hasleader=true`, so etcd cancels it rather than letting a partitioned
 * member go silent), it reconnects at the next endpoint from that revision, so the consumer
 * sees every event once, in order, across failovers. It retries until cancelled, warning on
 * each failure. Node's fetch ends a response body that stays silent for 300 s, so an idle
 * watch reconnects every five minutes (quietly). A connection that died without a word (a
 * cut cable, a host off the network) is found sooner: while a stream is silent, its member
 * is asked every LIVENESS_MS whether it answers (a status request, attemptTimeoutMs at
 * most), and the stream is resumed elsewhere when it does not.
 *
 * Compaction: when the start revision has been compacted away, etcd cancels the watch with
 * `compact_revision` set; no event since that revision can be delivered any more, so the watch
 * stops and `onError` gets JOURNAL_COMPACTED (the consumer reloads from an image).
 *
 *   state:  connecting ──created──> streaming ──stream ends──> connecting (next endpoint)
 *               └───────────────────────┴──── cancel() / compacted ────> stopped
 */
import { assert, DfsError, rethrowIfBug } from '../../protocol/errors.js';

import {
  b64,
  describeFetchError,
  grpcError,
  num,
  parseKv,
  prefixEnd,
  type Bytes,
  type EtcdClient,
  type KeyValue,
} from './etcd-client.js';

export interface WatchEvent {
  type: 'put' | 'delete';
  kv: KeyValue;
}

export interface WatchOptions {
  /** Watch every key with this prefix (else the one key). */
  prefix?: boolean;
  /** The first revision to deliver (0: from now). */
  startRevision?: number;
  /** Events of one revision at a time, in order; called synchronously from the stream. */
  onEvents: (events: WatchEvent[], revision: number) => void;
  /** The watch stopped for good (JOURNAL_COMPACTED); not called after cancel(). */
  onError: (err: DfsError) => void;
  /** Each time a stream is confirmed: the store's revision then (a resume point is known). */
  onCreated?: (revision: number) => void;
}

export interface Watch {
  /** The first revision not yet delivered. */
  readonly nextRevision: number;
  cancel(): void;
}

type WatchState = 'connecting' | 'streaming' | 'stopped';

const NEWLINE = 0x0a;
/** A watch stream silent this long has its member asked whether it still answers. */
const LIVENESS_MS = 3000;

/** Starts watching `key`; events flow to `options.onEvents` until cancel() or compaction. */
export function watch(client: EtcdClient, key: Bytes, options: WatchOptions): Watch {
  const w = new EtcdWatch(client, key, options);
  void w.run();
  return w;
}

class EtcdWatch implements Watch {
  private state: WatchState = 'connecting';
  nextRevision: number;
  private abort: AbortController | null = null;
  private endpoint: number;

  constructor(
    private readonly client: EtcdClient,
    private readonly key: Bytes,
    private readonly options: WatchOptions,
  ) {
    this.nextRevision = options.startRevision ?? 0;
    this.endpoint = client.endpoints.indexOf(client.currentEndpoint);
  }

  /** A getter, so TypeScript does not narrow the state across the awaits that change it. */
  private get stopped(): boolean {
    return this.state === 'stopped';
  }

  cancel(): void {
    this.state = 'stopped';
    this.abort?.abort();
  }

  async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      const endpoint = this.client.endpoints[this.endpoint]!;
      try {
        await this.stream(endpoint);
      } catch (err) {
        rethrowIfBug(err);
        if (this.stopped) return;
        if (err instanceof DfsError && err.code === 'JOURNAL_COMPACTED') {
          this.state = 'stopped';
          this.options.onError(err);
          return;
        }
        // A stream that was confirmed worked: start the back-off afresh.
        if (this.state === 'streaming') failures = 0;
        failures++;
        const idle = (err as Error).message.includes('UND_ERR_BODY_TIMEOUT');
        // fetch ends a body silent for 300 s: an idle watch reconnects then, which is no fault.
        // While etcd stays unreachable only the first failure of a run is a warning.
        this.client.log[idle || failures > 1 ? 'debug' : 'warn'](
          { endpoint, err: (err as Error).message, nextRevision: this.nextRevision },
          'etcd watch broke; resuming at the next endpoint',
        );
      }
      if (this.stopped) return;
      this.state = 'connecting';
      this.endpoint = (this.endpoint + 1) % this.client.endpoints.length;
      await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** Math.min(failures, 5))));
    }
  }

  /** One stream at one endpoint; returns when it ends, throws when it breaks. */
  private async stream(endpoint: string): Promise<void> {
    const abort = (this.abort = new AbortController());
    const connectTimer = setTimeout(() => abort.abort(), this.client.attemptTimeoutMs);
    const end = this.options.prefix ? prefixEnd(this.key) : undefined;
    const body = {
      create_request: {
        key: b64(this.key),
        range_end: end === undefined ? undefined : b64(end),
        start_revision: this.nextRevision > 0 ? String(this.nextRevision) : undefined,
      },
    };
    let res: Response;
    try {
      res = await fetch(`${endpoint}/v3/watch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'grpc-metadata-hasleader': 'true' },
        body: JSON.stringify(body),
        signal: abort.signal,
      });
    } catch (err) {
      rethrowIfBug(err);
      throw new DfsError('ETCD_UNAVAILABLE', `etcd watch at ${endpoint}: ${describeFetchError(err)}`);
    } finally {
      clearTimeout(connectTimer);
    }
    if (!res.ok || res.body === null)
      throw grpcError(
        `${endpoint}/v3/watch`,
        res.status,
        (await res.json().catch(() => ({}))) as Record<string, unknown>,
      );
    // A line (a journal batch: hundreds of KiB) spans many chunks: keep them, look for the
    // newline in each new one only, join once per line.
    const pending: Buffer[] = [];
    // A member behind a cut cable says nothing, and neither does its stream: while the stream
    // is silent, the member is asked every LIVENESS_MS whether it still answers; if not, the
    // stream is dropped and resumed at the next endpoint (a standby whose election watch hung
    // on the member of the host that dropped off never took over).
    let heardMs = Date.now();
    let probing = false;
    const liveness = setInterval(() => {
      if (probing || Date.now() - heardMs < LIVENESS_MS) return;
      probing = true;
      this.client.status(endpoint).then(
        () => {
          probing = false;
          heardMs = Date.now();
        },
        (err: unknown) => {
          rethrowIfBug(err);
          probing = false;
          if (abort.signal.aborted) return;
          this.client.log.warn(
            { endpoint, err: (err as Error).message },
            'etcd watch: its member no longer answers; resuming at the next endpoint',
          );
          abort.abort();
        },
      );
    }, LIVENESS_MS);
    liveness.unref();
    try {
      for await (const chunk of res.body) {
        heardMs = Date.now();
        const bytes = chunk as Uint8Array;
        const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        let start = 0;
        let nl: number;
        while ((nl = buf.indexOf(NEWLINE, start)) >= 0) {
          const tail = buf.subarray(start, nl);
          const line = (pending.length === 0 ? tail : Buffer.concat([...pending.splice(0), tail]))
            .toString('utf8')
            .trim();
          start = nl + 1;
          if (line.length > 0) this.message(endpoint, JSON.parse(line) as Record<string, unknown>);
          if (this.stopped) return;
        }
        if (start < buf.length) pending.push(buf.subarray(start));
      }
    } catch (err) {
      rethrowIfBug(err);
      if (err instanceof DfsError) throw err;
      throw new DfsError('ETCD_UNAVAILABLE', `etcd watch at ${endpoint}: ${describeFetchError(err)}`);
    } finally {
      clearInterval(liveness);
      abort.abort();
    }
    throw new DfsError('ETCD_UNAVAILABLE', `etcd watch at ${endpoint}: stream ended`);
  }

  private message(endpoint: string, msg: Record<string, unknown>): void {
    if (msg.error !== undefined) throw grpcError(`${endpoint}/v3/watch`, 200, msg);
    const r = msg.result as {
      header?: { revision?: string };
      created?: boolean;
      canceled?: boolean;
      compact_revision?: string;
      cancel_reason?: string;
      events?: Array<{ type?: string; kv: Record<string, string> }>;
    };
    const compacted = num(r.compact_revision);
    if (compacted > 0)
      throw new DfsError(
        'JOURNAL_COMPACTED',
        `etcd watch from revision ${this.nextRevision}: compacted up to ${compacted}`,
      );
    if (r.canceled === true)
      throw new DfsError('ETCD_UNAVAILABLE', `etcd watch cancelled: ${r.cancel_reason ?? 'no reason'}`);
    if (r.created === true) {
      this.state = 'streaming';
      this.options.onCreated?.(num(r.header?.revision));
    }
    const events = r.events ?? [];
    let i = 0;
    while (i < events.length) {
      // One callback per revision: a txn's puts arrive together.
      const revision = num(events[i]!.kv.mod_revision);
      const batch: WatchEvent[] = [];
      for (; i < events.length && num(events[i]!.kv.mod_revision) === revision; i++)
        batch.push({ type: events[i]!.type === 'DELETE' ? 'delete' : 'put', kv: parseKv(events[i]!.kv) });
      assert(revision >= this.nextRevision, `etcd watch went back from ${this.nextRevision} to ${revision}`);
      this.nextRevision = revision + 1;
      this.options.onEvents(batch, revision);
      if (this.stopped) return;
    }
  }
}
