/**
 * The NameNode's read-only JSON API under `/api/v1/` (README.md, "Web UI and JSON API"):
 * what the web UI shows and scripts read. Stable: a field is only ever added within v1.
 * Every answer is computed from the NameNode's own state in the request's turn (the health
 * walk excepted, web-health.ts), with the names `dfs admin report --json` and `dfs fsck
 * --json` use for states and verdicts (src/cli/admin-format.ts), so the browser, the CLI
 * and a script reading either see the same words and numbers.
 *
 * Listings and file details are permission-checked as the request's caller (`user.name`,
 * default `dr.who`, web-query.ts) by the very rules of the list, stat and blockHealth RPCs
 * (rpc-permissions.ts); the cluster-wide views (overview, DataNodes, events, health) are not
 * per-path and answer anyone who reaches the port, as HDFS's NameNode UI does.
 *
 * Bounds: listings and block lists are paged with a capped `limit` (LIST_LIMIT_MAX); the
 * DataNode list is as long as the cluster (about 300 bytes a node); events are a fixed ring.
 */
import { LIST_LIMIT_MAX } from '../../protocol/limits.js';
import { FileType, type FileStatus } from '../../protocol/shared-structures.js';
import type { DatanodeReportEntry } from '../../protocol/admin-namenode-messages.js';
import type { VolumeReport } from '../../protocol/datanode-namenode-messages.js';
import type { RpcName } from '../../protocol/namenode-messages.js';
import { blockHealthName, fsckBlock, nodeTotals, reportNode, worstHealth } from '../cli/admin-format.js';
import { sendJson, type HttpExchange, type HttpRouter, type RouteHandler } from '../common/http-router.js';
import { fileBlockHealth, type ReplicaView } from './block-health.js';
import type { EventRing } from './event-ring.js';
import type { Namespace } from './namespace.js';
import type { ReplicationStats } from './replication-monitor.js';
import type { RequestOf } from './rpc-handler.js';
import { PROBLEM_FILES_KEPT, type HealthView } from './web-health.js';
import { Query } from './web-query.js';

/** What the API reads of the NameNode (namenode.ts wires it). */
export interface WebApiSource {
  clusterId(): string;
  version: string;
  startedMs: number;
  nowMs(): number;
  safeMode(): { on: boolean; manual: boolean; status: string };
  namespace(): Namespace;
  /** The datanodeReport rows (block-manager.ts), drain status filled in. */
  datanodes(): DatanodeReportEntry[];
  /** A node's volumes as its last heartbeat told them (none before its first). */
  volumes(nodeId: string): readonly VolumeReport[];
  replicas: ReplicaView;
  replication(): ReplicationStats;
  lastTxid(): number;
  checkpoint(): { txnsSince: number; lastMs: number };
  deadNodeTimeoutMs: number;
  events: EventRing;
  health: HealthView;
  /** Refuses (ACCESS_DENIED) what `user` may not do by RPC `name`'s permission rule (rpc-permissions.ts). */
  authorize<N extends RpcName>(user: string, name: N, req: RequestOf<N>): Promise<void>;
}

export const LIST_PAGE_DEFAULT = 500;
const EVENTS_IN_OVERVIEW = 20;
const GET = ['GET'] as const;

/** A FileStatus as the API shows it: the type named, the name (not a path) of a listed entry. */
function entryOf(s: FileStatus): Record<string, unknown> {
  return {
    name: s.path,
    type: s.type === FileType.DIRECTORY ? 'directory' : 'file',
    length: s.length,
    replication: s.replication,
    blockBytes: s.blockBytes,
    mtimeMs: s.mtimeMs,
    blockCount: s.blockCount,
    underConstruction: s.underConstruction,
    childCount: s.childCount,
  };
}

/** Adds the read routes; `fileDelete` serves DELETE on `/api/v1/file` (web-transfer.ts). */
export function addReadRoutes(router: HttpRouter, src: WebApiSource, fileDelete: RouteHandler): void {
  const get = (path: string, handler: RouteHandler): void => {
    router.route(`/api/v1/${path}`, { methods: GET, handler });
  };

  get('overview', ({ url, res }) => {
    new Query(url, []);
    const ns = src.namespace();
    const nodes = src.datanodes();
    const r = src.replication();
    const cp = src.checkpoint();
    const now = src.nowMs();
    sendJson(res, 200, {
      clusterId: src.clusterId(),
      version: src.version,
      nowMs: now,
      startedMs: src.startedMs,
      uptimeMs: now - src.startedMs,
      safeMode: src.safeMode(),
      ...nodeTotals(nodes),
      files: ns.fileCount,
      directories: ns.dirCount,
      blocks: ns.blockCount,
      underReplicated: r.underReplicated,
      corrupt: r.corrupt,
      missing: r.missing,
      pendingCopies: r.pendingCopies,
      lastTxid: src.lastTxid(),
      txnsSinceCheckpoint: cp.txnsSince,
      lastCheckpointMs: cp.lastMs,
      events: src.events.recent(EVENTS_IN_OVERVIEW),
    });
  });

  get('events', ({ url, res }) => {
    const q = new Query(url, ['afterSeq', 'limit']);
    const afterSeq = q.int('afterSeq', 0, Number.MAX_SAFE_INTEGER, 0);
    const limit = q.int('limit', 1, src.events.capacity, src.events.capacity);
    sendJson(res, 200, { lastSeq: src.events.lastSeq, events: src.events.recent(limit, afterSeq) });
  });

  get('datanodes', ({ url, res }) => {
    new Query(url, []);
    const nodes = src.datanodes();
    const sorted = nodes
      .map((n) => ({ ...reportNode(n), volumes: src.volumes(n.nodeId) }))
      .sort((a, b) => (a.host === b.host ? a.port - b.port : a.host < b.host ? -1 : 1));
    sendJson(res, 200, {
      nowMs: src.nowMs(),
      deadNodeTimeoutMs: src.deadNodeTimeoutMs,
      ...nodeTotals(nodes),
      // Each node's volumes come with its heartbeats (PROTOCOL.md, heartbeat).
      volumesKnown: true,
      nodes: sorted,
    });
  });

  get('list', async ({ url, res }) => {
    const q = new Query(url, ['path', 'startAfter', 'limit']);
    const path = q.path();
    const startAfter = q.string('startAfter', '');
    const limit = q.int('limit', 1, LIST_LIMIT_MAX, LIST_PAGE_DEFAULT);
    await src.authorize(q.user(), 'list', { path, startAfter, limit });
    const page = src.namespace().list(path, startAfter, limit);
    const last = page.entries[page.entries.length - 1];
    sendJson(res, 200, {
      path,
      entries: page.entries.map(entryOf),
      hasMore: page.hasMore,
      startAfter: page.hasMore && last !== undefined ? last.path : null,
    });
  });

  router.route('/api/v1/file', {
    methods: ['GET', 'DELETE'],
    handler: (ex) => (ex.req.method === 'DELETE' ? fileDelete(ex) : fileDetails(ex)),
  });
  const fileDetails = async ({ url, res }: HttpExchange): Promise<void> => {
    const q = new Query(url, ['path', 'startBlock', 'limit']);
    const path = q.path();
    const startBlock = q.int('startBlock', 0, Number.MAX_SAFE_INTEGER, 0);
    const limit = q.int('limit', 1, LIST_LIMIT_MAX, LIST_PAGE_DEFAULT);
    const user = q.user();
    await src.authorize(user, 'stat', { path });
    const ns = src.namespace();
    const status = entryOf(ns.stat(path));
    const node = ns.lookup(path);
    if (node?.kind === 'file') await src.authorize(user, 'blockHealth', { path, startBlock, limit });
    if (node?.kind !== 'file') {
      sendJson(res, 200, { path, status, blocks: [], hasMore: false, nextBlock: null });
      return;
    }
    const page = fileBlockHealth(node, src.replicas, startBlock, limit);
    sendJson(res, 200, {
      path,
      status,
      health: blockHealthName(worstHealth(page.blocks)),
      blocks: page.blocks.map(fsckBlock),
      hasMore: page.hasMore,
      nextBlock: page.hasMore ? startBlock + page.blocks.length : null,
    });
  };

  get('health', async ({ url, res }) => {
    const q = new Query(url, ['path', 'offset', 'limit']);
    const path = q.path('path', '/');
    const offset = q.int('offset', 0, PROBLEM_FILES_KEPT, 0);
    const limit = q.int('limit', 1, 1000, 100);
    const snap = await src.health.snapshot(path);
    sendJson(res, 200, {
      path,
      computedAtMs: snap.computedAtMs,
      walkMs: snap.walkMs,
      summary: snap.summary,
      problemFilesKept: snap.problemFiles.length,
      truncated: snap.truncated,
      offset,
      problemFiles: snap.problemFiles.slice(offset, offset + limit),
      hasMore: offset + limit < snap.problemFiles.length,
    });
  });
}
