/**
 * The NameNode's web UI and JSON API on its HTTP server (src/common/daemon-http.ts), put
 * together in one place so namenode.ts only hands over what it owns:
 *
 *   | paths                                   | module          |
 *   |-----------------------------------------|-----------------|
 *   | `/`, `/ui/...` (HTML, CSS, ES modules)  | web-static.ts   |
 *   | GET `/api/v1/{overview,datanodes,events,list,file,health}` | web-api.ts |
 *   | `/api/v1/content` (GET download, PUT upload), POST `/api/v1/{mkdir,rename}`, DELETE `/api/v1/file` | web-transfer.ts |
 *
 * It also owns the recent-events ring (event-ring.ts) the NameNode's components record to.
 */
import { DfsError } from '../../protocol/errors.js';
import type { Clock } from '../common/clock.js';
import type { HttpRouter } from '../common/http-router.js';
import type { BlockManager } from './block-manager.js';
import type { BlockRecovery } from './block-recovery.js';
import { EventRing } from './event-ring.js';
import type { Namespace } from './namespace.js';
import type { ReplicationMonitor } from './replication-monitor.js';
import { checkRequest } from './rpc-permissions.js';
import type { SafeMode } from './safe-mode.js';
import { addReadRoutes, type WebApiSource } from './web-api.js';
import { HealthView } from './web-health.js';
import { addStaticRoutes, defaultWebDir, loadWebFiles } from './web-static.js';
import type { UserGroups } from './user-groups.js';
import { WebTransfers } from './web-transfer.js';

/** The NameNode's parts the UI reads (and whose notable events it records). */
export interface WebUiParts {
  clusterId: () => string;
  version: string;
  clock: Clock;
  namespace: () => Namespace;
  blocks: BlockManager;
  replication: ReplicationMonitor;
  safeMode: SafeMode;
  recovery: BlockRecovery;
  lastTxid: () => number;
  checkpoint: () => { txnsSince: number; lastMs: number };
  deadNodeTimeoutMs: number;
  /** Who callers are (the RPC server's): the API's reads are checked as `user.name`. */
  users: UserGroups;
  /** Where this NameNode's RPC port listens (a wildcard host is reached on loopback). */
  rpcAddress: () => { host: string; port: number };
  /** The UI's files; default: the package's web/ folder. */
  webDir?: string;
}

export class WebUi {
  readonly events: EventRing;
  private readonly transfers: WebTransfers;
  private readonly files;
  private readonly api: WebApiSource;

  constructor(p: WebUiParts) {
    const nowMs = (): number => p.clock.nowMs();
    this.events = new EventRing(nowMs);
    p.blocks.registry.notable = this.events;
    p.safeMode.notable = this.events;
    p.recovery.notable = this.events;
    this.transfers = new WebTransfers(() => {
      const a = p.rpcAddress();
      const host = a.host === '0.0.0.0' || a.host === '::' || a.host === '' ? '127.0.0.1' : a.host;
      return `${host}:${a.port}`;
    });
    this.files = loadWebFiles(p.webDir ?? defaultWebDir());
    this.api = {
      clusterId: p.clusterId,
      version: p.version,
      startedMs: nowMs(),
      nowMs,
      safeMode: () => ({ on: p.safeMode.on, manual: p.safeMode.manual, status: p.safeMode.status() }),
      namespace: p.namespace,
      datanodes: () => p.blocks.report().map((n) => ({ ...n, ...p.replication.drainStatus(n.nodeId) })),
      volumes: (nodeId) => p.blocks.registry.get(nodeId)?.volumes ?? [],
      replicas: p.blocks,
      replication: () => p.replication.stats(),
      lastTxid: p.lastTxid,
      checkpoint: p.checkpoint,
      deadNodeTimeoutMs: p.deadNodeTimeoutMs,
      events: this.events,
      health: new HealthView(p.namespace, p.blocks, nowMs),
      authorize: async (user, name, req) => {
        if (p.users.caller(user) === null) await p.users.resolve(user);
        const caller = p.users.caller(user);
        // resolve() caches the groups; only a cache flooded in between could drop them again.
        if (caller === null)
          throw new DfsError('TIMEOUT', `the groups of ${user} are not known yet; try again`);
        checkRequest(name, req, { caller, admin: false, root: p.namespace().root, users: p.users });
      },
    };
  }

  addRoutes(router: HttpRouter): void {
    addStaticRoutes(router, this.files);
    addReadRoutes(router, this.api, (ex) => this.transfers.delete(ex));
    this.transfers.addRoutes(router);
  }

  close(): void {
    this.transfers.close();
  }
}
