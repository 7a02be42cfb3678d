/**
 * The DataNode registry (HDFS `DatanodeManager`/`HeartbeatManager`): which DataNodes exist,
 * whether each is live (heartbeats), its storage figures, its admin state (decommissioning),
 * and its command queue (delete these replicas, copy this block, send a full block report),
 * answered in heartbeats. It is the only writer of that state: others read it through
 * `get`/`all` (read-only views) and change it through the verbs below. It knows nothing of
 * blocks: which replicas a node holds is the block map's (block-map.ts), and the block
 * manager (block-manager.ts) keeps the two in step.
 *
 * Commands ride on heartbeat answers, but a node need not wait out its interval for the
 * ones that matter now: when a copy or a full report is queued for it, the node gets a
 * COMMANDS_PENDING notice on its connection (coalesced per event-loop turn) and heartbeats
 * at once. Deletions are left to the regular heartbeats.
 *
 * A node is asked for a full report (BLOCK_REPORT) when the NameNode has reason to doubt
 * its view of it: an operator asked (`requestBlockReport`), or an operator ended safe mode
 * while the node had not reported since it registered (safe-mode.ts). A node declared
 * dead that heartbeats again is told to REREGISTER instead, which brings a report too.
 *
 * Thousands of DataNodes heartbeat every few seconds, so a heartbeat costs one lookup and,
 * with nothing queued (almost always), allocates nothing: it is answered with a shared
 * empty list. Targets for new replicas are sampled (block-placement.ts) rather than chosen
 * by shuffling every node.
 */
import { DfsError } from '../../protocol/errors.js';
import type { TriggerBlockReportResponse } from '../../protocol/admin-namenode-messages.js';
import type {
  DatanodeCommand,
  DatanodeStorageReport,
  HeartbeatRequest,
  VolumeReport,
} from '../../protocol/datanode-namenode-messages.js';
import { CommandType } from '../../protocol/datanode-namenode-messages.js';
import type { Block, DatanodeInfo } from '../../protocol/shared-structures.js';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { BlockPlacement } from './block-placement.js';
import { NO_EVENTS, type NotableEvents } from './event-ring.js';

interface DatanodeState extends DatanodeStorageReport {
  info: DatanodeInfo;
  /** Its HTTP port, where WebHDFS sends reads and writes (0: HTTP off). */
  httpPort: number;
  lastHeartbeatMs: number;
  activeTransfers: number;
  /** Its volumes as its last heartbeat told them (none until its first heartbeat). */
  volumes: readonly VolumeReport[];
  /** Replicas to delete, sent with the next heartbeat answer (bounded per answer). */
  pendingDeletes: Map<number, Block>;
  /** REPLICATE commands waiting for the next heartbeat answer. */
  pendingCopies: DatanodeCommand[];
  /** RECOVER_BLOCK commands waiting for the next heartbeat answer (block-recovery.ts). */
  pendingRecoveries: DatanodeCommand[];
  /** Copies this node was asked to make and that have not finished or expired. */
  scheduledTransfers: number;
  dead: boolean;
  /** When its last full report was processed (NameNode clock); 0 = none since it (re)registered. */
  lastBlockReportMs: number;
  /** Replicas that report listed. */
  lastBlockReportBlocks: number;
  /** Send BLOCK_REPORT with each heartbeat answer until a full report is processed. */
  blockReportRequested: boolean;
  adminState: AdminState;
  /** Sends the node a COMMANDS_PENDING notice on the connection it registered on. */
  notify: () => void;
}

export type AdminState = 'normal' | 'decommissioning' | 'decommissioned';

/** A node as the registry knows it (read-only: change it through the DatanodeRegistry). */
export type DatanodeView = Readonly<
  Omit<DatanodeState, 'pendingDeletes' | 'pendingCopies' | 'pendingRecoveries' | 'notify'>
> & {
  readonly pendingDeletes: ReadonlyMap<number, Block>;
};

/** A node an operator decommissioned; remembered across NameNode restarts (decommission-store.ts). */
export interface DecommissionedNode {
  nodeId: string;
  /** HOST:PORT when it was decommissioned, to recognise it if it comes back under a new id. */
  address: string;
}

export interface DatanodeRegistryOptions {
  deadNodeTimeoutMs: number;
}

const NO_NOTIFY = (): void => {};
const DELETES_PER_HEARTBEAT = 1000;
/** The answer to almost every heartbeat (never modified). */
const NO_COMMANDS: DatanodeCommand[] = [];
/** A node just registered: no full report processed, none asked for. */
const NO_BLOCK_REPORT = {
  lastBlockReportMs: 0,
  lastBlockReportBlocks: 0,
  blockReportRequested: false,
} as const;

export class DatanodeRegistry {
  private readonly nodes = new Map<string, DatanodeState>();
  private readonly placement = new BlockPlacement<DatanodeState>();
  /** Nodes an operator decommissioned, by node id, registered or not (yet). */
  private readonly decommissioned = new Map<string, DecommissionedNode>();
  /** Nodes to send COMMANDS_PENDING to at the end of this turn. */
  private readonly toNotify = new Set<DatanodeState>();
  /** The NameNode's recent-events ring (event-ring.ts). */
  notable: NotableEvents = NO_EVENTS;

  constructor(
    private readonly options: DatanodeRegistryOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  // ---- reading ---------------------------------------------------------------------

  get(nodeId: string): DatanodeView | undefined {
    return this.nodes.get(nodeId);
  }

  /** Every node ever registered (dead ones too), in registration order. */
  all(): IterableIterator<DatanodeView> {
    return this.nodes.values();
  }

  /** A registered node, or NOT_FOUND. */
  known(nodeId: string): DatanodeView {
    const node = this.nodes.get(nodeId);
    if (node === undefined) throw new DfsError('NOT_FOUND', `datanode ${nodeId} is not registered`);
    return node;
  }

  /** Registered, not declared dead, and heard from within the timeout. */
  isLive(nodeId: string): boolean {
    return this.live(this.nodes.get(nodeId));
  }

  /** The node if it is live (one lookup where a caller needs both), else undefined. */
  getLive(nodeId: string): DatanodeView | undefined {
    const node = this.nodes.get(nodeId);
    return this.live(node) ? node : undefined;
  }

  /** Not live (silent past the timeout, or declared dead), else its admin state. */
  stateOf(node: DatanodeView): 'silent' | AdminState {
    return this.live(node) ? node.adminState : 'silent';
  }

  /** Up to `replication` live, normal nodes with room for `blockBytes`, none of `excludeNodeIds`. */
  chooseTargets(
    replication: number,
    writerHost: string,
    excludeNodeIds: readonly string[],
    blockBytes = 0,
  ): DatanodeInfo[] {
    const exclude = excludeNodeIds.length === 0 ? null : new Set(excludeNodeIds);
    const eligible = (node: DatanodeState): boolean =>
      this.live(node) &&
      node.adminState === 'normal' &&
      node.remainingBytes >= blockBytes &&
      (exclude === null || !exclude.has(node.info.nodeId));
    return this.placement.choose(replication, writerHost, eligible).map((n) => n.info);
  }

  // ---- membership and heartbeats ---------------------------------------------------

  /**
   * A node registers (first time, or again after a restart or being declared dead: what it
   * held is then forgotten by the caller, its block report tells again). `notify` sends it a
   * COMMANDS_PENDING notice on the connection it registered on.
   */
  register(
    info: DatanodeInfo,
    report: DatanodeStorageReport & { httpPort?: number },
    notify: () => void = NO_NOTIFY,
  ): void {
    const httpPort = report.httpPort ?? 0;
    const existing = this.nodes.get(info.nodeId);
    const now = this.clock.nowMs();
    if (existing) {
      const previousHost = existing.info.host;
      existing.info = info;
      this.placement.moved(existing, previousHost);
      // It sends a full report right after registering: nothing to ask for.
      Object.assign(existing, report, {
        httpPort,
        lastHeartbeatMs: now,
        dead: false,
        notify,
        ...NO_BLOCK_REPORT,
      });
      this.log.info({ node: info.nodeId, addr: `${info.host}:${info.port}` }, 'datanode re-registered');
      this.notable.record('datanode-registered', `DataNode ${addressOf(info)} re-registered`);
      return;
    }
    // A node decommissioned before a restart drains again: whether its blocks are all
    // elsewhere is known only once the block reports are in, so it starts as decommissioning.
    const remembered = this.findDecommissioned(info.nodeId, addressOf(info));
    if (remembered !== undefined && remembered.nodeId !== info.nodeId) {
      this.decommissioned.delete(remembered.nodeId);
      this.decommissioned.set(info.nodeId, { nodeId: info.nodeId, address: addressOf(info) });
    }
    const node: DatanodeState = {
      ...report,
      info,
      httpPort,
      lastHeartbeatMs: now,
      activeTransfers: 0,
      volumes: [],
      pendingDeletes: new Map(),
      dead: false,
      pendingCopies: [],
      pendingRecoveries: [],
      scheduledTransfers: 0,
      adminState: remembered === undefined ? 'normal' : 'decommissioning',
      notify,
      ...NO_BLOCK_REPORT,
    };
    this.nodes.set(info.nodeId, node);
    this.placement.add(node);
    this.log.info(
      {
        node: info.nodeId,
        addr: addressOf(info),
        capacity: report.capacityBytes,
        decommissioning: remembered !== undefined,
      },
      'datanode registered',
    );
    this.notable.record('datanode-registered', `DataNode ${addressOf(info)} registered`);
  }

  /** Returns the node's pending commands, or REREGISTER when the NameNode does not know it. */
  heartbeat(
    report: HeartbeatRequest,
    /** False on an HA standby: commands stay queued for when it is the active (ha-node.ts). */
    sendCommands = true,
  ): DatanodeCommand[] {
    const node = this.nodes.get(report.nodeId);
    if (node === undefined) return [{ type: CommandType.REREGISTER, blocks: [], targets: [] }];
    if (node.dead) {
      this.log.info({ node: report.nodeId }, 'dead datanode is heartbeating again; asking it to re-register');
      return [{ type: CommandType.REREGISTER, blocks: [], targets: [] }];
    }
    node.capacityBytes = report.capacityBytes;
    node.usedBytes = report.usedBytes;
    node.remainingBytes = report.remainingBytes;
    if (report.failedVolumes > node.failedVolumes)
      this.log.warn(
        { node: report.nodeId, failedVolumes: report.failedVolumes },
        'datanode took a failed volume out of service',
      );
    node.failedVolumes = report.failedVolumes;
    node.activeTransfers = report.activeTransfers;
    node.volumes = report.volumes;
    node.lastHeartbeatMs = this.clock.nowMs();
    if (
      !sendCommands ||
      (node.pendingDeletes.size === 0 &&
        node.pendingCopies.length === 0 &&
        node.pendingRecoveries.length === 0 &&
        !node.blockReportRequested)
    )
      return NO_COMMANDS;
    const commands: DatanodeCommand[] = [];
    if (node.pendingDeletes.size > 0) {
      const blocks: Block[] = [];
      for (const [id, b] of node.pendingDeletes) {
        blocks.push(b);
        node.pendingDeletes.delete(id);
        if (blocks.length >= DELETES_PER_HEARTBEAT) break;
      }
      commands.push({ type: CommandType.DELETE_BLOCKS, blocks, targets: [] });
    }
    commands.push(...node.pendingCopies.splice(0));
    commands.push(...node.pendingRecoveries.splice(0));
    // Last, so the report reflects the deletions just ordered. Cleared when it arrives.
    if (node.blockReportRequested) commands.push({ type: CommandType.BLOCK_REPORT, blocks: [], targets: [] });
    return commands;
  }

  /**
   * Marks nodes silent for longer than the timeout as dead and returns them; the caller
   * stops counting their replicas.
   */
  checkHeartbeats(): DatanodeView[] {
    const now = this.clock.nowMs();
    const died: DatanodeView[] = [];
    for (const node of this.nodes.values()) {
      if (!node.dead && now - node.lastHeartbeatMs > this.options.deadNodeTimeoutMs) {
        node.dead = true;
        died.push(node);
        this.log.warn(
          { node: node.info.nodeId, silentMs: now - node.lastHeartbeatMs },
          'datanode declared dead',
        );
        this.notable.record(
          'datanode-dead',
          `DataNode ${addressOf(node.info)} declared dead (silent ${now - node.lastHeartbeatMs} ms)`,
        );
      }
    }
    return died;
  }

  /** The node said it is stopping: dead now. Returns it, or null if unknown or dead already. */
  declareDead(nodeId: string): DatanodeView | null {
    const node = this.nodes.get(nodeId);
    if (node === undefined || node.dead) return null;
    node.dead = true;
    this.log.info(
      { node: nodeId },
      'datanode unregistered (stopping); its replicas are copied elsewhere now',
    );
    this.notable.record('datanode-dead', `DataNode ${addressOf(node.info)} stopped (unregistered)`);
    return node;
  }

  /** A full report from the node was processed: the request for one (if any) is met. */
  blockReportProcessed(nodeId: string, listed: number): void {
    const node = this.nodes.get(nodeId);
    if (node === undefined) return;
    // Strictly increasing per node, even if the clock steps back: a larger value is a later report.
    node.lastBlockReportMs = Math.max(this.clock.nowMs(), node.lastBlockReportMs + 1);
    node.lastBlockReportBlocks = listed;
    node.blockReportRequested = false;
  }

  // ---- command queues --------------------------------------------------------------

  /** Sends a delete of the node's copy of `b` with a coming heartbeat answer (no-op for an unknown node). */
  scheduleDelete(nodeId: string, b: Block): void {
    this.nodes.get(nodeId)?.pendingDeletes.set(b.blockId, b);
  }

  /** The node reported a valid replica of the block: a delete still queued for it is dropped. */
  cancelDelete(nodeId: string, blockId: number): void {
    this.nodes.get(nodeId)?.pendingDeletes.delete(blockId);
  }

  /**
   * Queues a REPLICATE command for the node's next heartbeat, which it is told to send now,
   * and counts it as a copy under way until `copyEnded`.
   */
  queueCopy(nodeId: string, command: DatanodeCommand): void {
    const node = this.nodes.get(nodeId);
    if (node === undefined) return;
    node.pendingCopies.push(command);
    node.scheduledTransfers++;
    this.notifySoon(node);
  }

  /** Queues a RECOVER_BLOCK command for the node's next heartbeat, which it is told to send now. */
  queueRecovery(nodeId: string, command: DatanodeCommand): void {
    const node = this.nodes.get(nodeId);
    if (node === undefined) return;
    node.pendingRecoveries.push(command);
    this.notifySoon(node);
  }

  /** A copy the node was asked to make landed, failed or expired: its transfer slot is free. */
  copyEnded(nodeId: string): void {
    const node = this.nodes.get(nodeId);
    if (node !== undefined) node.scheduledTransfers = Math.max(0, node.scheduledTransfers - 1);
  }

  /**
   * An operator asks a node for a full report (`triggerBlockReport`): BLOCK_REPORT goes out
   * with its next heartbeat answer. A node that is not live would never fetch it: refused.
   */
  requestBlockReport(nameOrAddress: string): TriggerBlockReportResponse {
    const node = this.lookupNode(nameOrAddress);
    if (node === undefined) throw notRegistered(nameOrAddress);
    const silentMs = this.clock.nowMs() - node.lastHeartbeatMs;
    if (!this.live(node)) {
      throw new DfsError(
        'DATANODE_DEAD',
        `DataNode ${nameOrAddress} is dead (no heartbeat for ${Math.round(silentMs / 1000)} s); it reports in full when it registers again`,
      );
    }
    node.blockReportRequested = true;
    this.notifySoon(node);
    this.log.info({ node: node.info.nodeId }, 'full block report requested by an operator');
    return { nodeId: node.info.nodeId, lastBlockReportMs: node.lastBlockReportMs };
  }

  /**
   * Asks every live node that has sent no full report since it registered for one (an
   * operator ended safe mode before they did). Returns how many were asked.
   */
  requestMissingBlockReports(): number {
    let asked = 0;
    for (const node of this.nodes.values()) {
      if (!this.live(node) || node.lastBlockReportMs !== 0 || node.blockReportRequested) continue;
      node.blockReportRequested = true;
      this.notifySoon(node);
      asked++;
    }
    return asked;
  }

  private notifySoon(node: DatanodeState): void {
    if (this.toNotify.size === 0) setImmediate(() => this.sendNotices());
    this.toNotify.add(node);
  }

  private sendNotices(): void {
    for (const node of this.toNotify) {
      const waiting =
        node.pendingCopies.length > 0 || node.pendingRecoveries.length > 0 || node.blockReportRequested;
      if (this.live(node) && waiting) node.notify();
    }
    this.toNotify.clear();
  }

  // ---- decommissioning -------------------------------------------------------------

  /**
   * Starts draining a node (its replicas stop counting), or returns it to service; returns
   * the node, or null when it was a node decommissioned before a NameNode restart that has
   * not registered since and is now recommissioned (forgotten). Decommissioning needs a
   * registered node.
   */
  setDecommissioning(nameOrAddress: string, on: boolean): DatanodeView | null {
    const node = this.lookupNode(nameOrAddress);
    if (node === undefined) {
      const remembered = on ? undefined : this.findDecommissioned(nameOrAddress, nameOrAddress);
      if (remembered === undefined) throw notRegistered(nameOrAddress);
      this.decommissioned.delete(remembered.nodeId);
      this.log.info({ node: remembered.nodeId }, 'unregistered datanode recommissioned');
      return null;
    }
    if (on)
      this.decommissioned.set(node.info.nodeId, { nodeId: node.info.nodeId, address: addressOf(node.info) });
    else this.decommissioned.delete(node.info.nodeId);
    // Decommissioning a node already drained keeps it drained.
    if (!on) node.adminState = 'normal';
    else if (node.adminState === 'normal') node.adminState = 'decommissioning';
    this.log.info(
      { node: node.info.nodeId, state: node.adminState },
      on ? 'decommissioning datanode' : 'datanode recommissioned',
    );
    this.notable.record(
      'datanode-decommission',
      `DataNode ${addressOf(node.info)} ${on ? 'decommissioning' : 'recommissioned'}`,
    );
    return node;
  }

  /** A draining node whose every block is replicated elsewhere (the replication monitor judges). */
  markDecommissioned(nodeId: string): void {
    const node = this.nodes.get(nodeId);
    if (node !== undefined && node.adminState === 'decommissioning') {
      node.adminState = 'decommissioned';
      this.notable.record('datanode-decommission', `DataNode ${addressOf(node.info)} decommissioned`);
    }
  }

  /** Nodes an operator decommissioned (to persist). */
  decommissionedNodes(): DecommissionedNode[] {
    return [...this.decommissioned.values()];
  }

  /** At start-up: nodes decommissioned before the restart drain again when they register. */
  restoreDecommissioned(nodes: readonly DecommissionedNode[]): void {
    for (const n of nodes) this.decommissioned.set(n.nodeId, { ...n });
  }

  private findDecommissioned(nodeId: string, address: string): DecommissionedNode | undefined {
    return (
      this.decommissioned.get(nodeId) ?? [...this.decommissioned.values()].find((d) => d.address === address)
    );
  }

  /** A node by id or by HOST:PORT. */
  private lookupNode(nameOrAddress: string): DatanodeState | undefined {
    for (const n of this.nodes.values()) {
      if (n.info.nodeId === nameOrAddress || addressOf(n.info) === nameOrAddress) return n;
    }
    return undefined;
  }

  private live(node: DatanodeView | undefined): boolean {
    return (
      node !== undefined &&
      !node.dead &&
      this.clock.nowMs() - node.lastHeartbeatMs <= this.options.deadNodeTimeoutMs
    );
  }
}

function notRegistered(nameOrAddress: string): DfsError {
  return new DfsError('NOT_FOUND', `no DataNode ${nameOrAddress} is registered`);
}

function addressOf(info: DatanodeInfo): string {
  return `${info.host}:${info.port}`;
}
