/**
 * Simulated DataNodes: many stand-in DataNodes in one process that speak the real
 * DataNode <-> NameNode RPCs (register, heartbeat, blockReport) to a real NameNode, store
 * nothing, and load it as hard as asked. `dfs-bench meta --sim-datanodes N` runs a few of
 * these groups in forked worker processes (`dfs-bench sim-datanode-worker`) to measure how
 * many heartbeats and reported blocks per second the NameNode sustains (HDFS
 * NNThroughputBenchmark's heartbeat and BlockReportStats, but over the wire).
 *
 * How the load is generated, and why:
 * - Node i of N is `sim-dn-<i>` at 127.0.0.1. Every DataNode RPC names its node, and the
 *   NameNode does not tie a node to the connection it registered on, so one DATANODE
 *   connection can carry several nodes: `nodesPerConnection` of them share a link (1 is a
 *   real cluster: one connection per DataNode).
 * - The generator must cost the NameNode's machine as little CPU as it can, so every
 *   request frame is encoded once, up front (a heartbeat per node; a full block report per
 *   node once its blocks are known), and sent again as is. Its request id is constant (the
 *   node's number): the NameNode answers a connection's DataNode RPCs in order (each is
 *   served synchronously), so answers are matched first-in first-out, and the id is only
 *   checked against the expected node. Answers are not decoded beyond a heartbeat's command
 *   count (commands are counted, never carried out).
 * - Heartbeats either go back to back (`heartbeatIntervalMs` 0: each link keeps
 *   `heartbeatDepth` in flight and sends the next as soon as one is answered) or paced
 *   (each node every `heartbeatIntervalMs`, spread evenly, as a real cluster does).
 *   Block reports go back to back with `reportDepth` in flight in the group (a full report
 *   is large; HDFS too bounds concurrent reports), nodes taking turns.
 * - Block j of K has replicas on nodes (j*r + t) mod N for t < r: each node holds the same
 *   number of blocks (N*B/r blocks give B each) and every block exactly r distinct nodes,
 *   so the replication monitor has nothing to fix and the reports stay steady.
 *
 * Counts are snapshotted when a load stops; then the requests still in flight are drained
 * (so the next phase starts clean) but not counted.
 *
 * Longer than our usual 400 lines: the simulated nodes, their block layout and their
 * worker-process driver are one mechanism, and the layout's invariants read best beside
 * the code that relies on them.
 */
import type net from 'node:net';
import { DfsError } from '../protocol/errors.js';
import { FrameDecoder } from '../protocol/frame-decoder.js';
import { FrameKind, type Frame } from '../protocol/frame.js';
import { Role } from '../protocol/handshake.js';
import { RPC_BODY_BYTES_MAX } from '../protocol/limits.js';
import { CommandType, type RegisterRequest } from '../protocol/datanode-namenode-messages.js';
import { decodeError } from '../protocol/error-frame.js';
import {
  decodeResponse,
  encodeRequest,
  isNamenodeReplyOpcode,
  rpcCodecs,
} from '../protocol/namenode-messages.js';
import { parseHostPort, DEFAULT_NAMENODE_PORT } from '../src/common/config.js';
import { connectPeer } from '../src/common/peer-connect.js';
import { encodeHistogram, newLatencyHistogram, recordUs, type Histogram } from './report.js';
import { serveWorker } from './worker-channel.js';

/** What a stand-in DataNode says about its storage: a large, empty disk. */
const CAPACITY_BYTES = 1024 ** 4;

/** The register request of a stand-in DataNode (simulated here, and the tests' fake one). */
export function standInRegistration(clusterId: string, nodeId: string, port: number): RegisterRequest {
  return {
    clusterId,
    nodeId,
    host: '127.0.0.1',
    port,
    httpPort: 0,
    capacityBytes: CAPACITY_BYTES,
    usedBytes: 0,
    remainingBytes: CAPACITY_BYTES,
    failedVolumes: 0,
  };
}

export const simNodeId = (i: number): string => `sim-dn-${i}`;
/** A distinct HOST:PORT per node (nothing listens there; nobody connects to a sim node). */
const simNodePort = (i: number): number => 1024 + (i % 64_000);

/** Indices of the blocks node `node` holds (see the header: block j on nodes (j*r + t) mod N). */
export function blocksOfNode(node: number, nodes: number, replication: number, blockCount: number): number[] {
  const out: number[] = [];
  for (let slot = node; slot < blockCount * replication; slot += nodes)
    out.push(Math.floor(slot / replication));
  return out;
}

export interface SimGroupSpec {
  /** HOST:PORT of the NameNode. */
  namenode: string;
  clusterId: string;
  /** All simulated nodes of the run; this group has nodes first .. first + count - 1. */
  nodes: number;
  first: number;
  count: number;
  nodesPerConnection: number;
  /** Heartbeats in flight per connection when back to back. */
  heartbeatDepth: number;
  /** Block reports in flight in this group. */
  reportDepth: number;
  /** 0: heartbeats back to back; otherwise each node heartbeats this often. */
  heartbeatIntervalMs: number;
}

/** The blocks the NameNode knows, by index j: what every node reports. */
export interface SimBlocks {
  ids: number[];
  genStamps: number[];
  numBytes: number;
  replication: number;
}

export type SimLoad = 'register' | 'heartbeat' | 'report' | 'report-once';

/** What one group did under one load, between its start and its stop (or completion). */
export interface SimResult {
  load: SimLoad;
  /** Answered requests of the load's kind. */
  requests: number;
  /** Blocks in the answered block reports. */
  blocks: number;
  /** Commands the NameNode sent back in heartbeat answers, by type (counted, not carried out). */
  commands: Record<string, number>;
  errors: number;
  firstError: string | null;
  elapsedMs: number;
  cpuUs: number;
  /** Latency of each answered request (hdr-histogram, encoded). */
  histogram: string;
}

const COMMAND_NAMES = new Map<number, string>(
  Object.entries(CommandType).map(([name, type]) => [type, name]),
);

const OPCODE = {
  register: rpcCodecs.register.opcode,
  heartbeat: rpcCodecs.heartbeat.opcode,
  report: rpcCodecs.blockReport.opcode,
} as const;

/** First-in first-out record of a link's requests in flight. */
class InflightQueue {
  private nodes: number[] = [];
  private sentAt: number[] = [];
  private head = 0;

  get size(): number {
    return this.nodes.length - this.head;
  }

  push(node: number, at: number): void {
    this.nodes.push(node);
    this.sentAt.push(at);
  }

  /** Removes the oldest; its node and send time land in `out`. */
  shift(out: { node: number; sentAt: number }): boolean {
    if (this.head >= this.nodes.length) return false;
    out.node = this.nodes[this.head]!;
    out.sentAt = this.sentAt[this.head]!;
    this.head++;
    if (this.head === this.nodes.length) {
      this.nodes.length = 0;
      this.sentAt.length = 0;
      this.head = 0;
    } else if (this.head > 4096) {
      this.nodes = this.nodes.slice(this.head);
      this.sentAt = this.sentAt.slice(this.head);
      this.head = 0;
    }
    return true;
  }
}

/** One DATANODE connection carrying `nodes` (global indices). */
class SimLink {
  socket: net.Socket | null = null;
  readonly inflight = new InflightQueue();
  /** Round-robin cursor over `nodes` for back-to-back heartbeats. */
  cursor = 0;

  constructor(readonly nodes: number[]) {}
}

export class SimDatanodeGroup {
  private readonly links: SimLink[] = [];
  /** Link of each local node (index = node - first). */
  private readonly linkOf: SimLink[] = [];
  private readonly heartbeatFrames: Buffer[] = [];
  private reportFrames: Buffer[] = [];
  private reportBlocks: number[] = [];
  private load: SimLoad | null = null;
  private counts = this.freshCounts();
  private histogram: Histogram | null = null;
  private startedAt = 0;
  private cpu0 = process.cpuUsage();
  private outstanding = 0;
  private drained: (() => void) | null = null;
  /** Next local node to send a block report (or a paced heartbeat). */
  private reportCursor = 0;
  private reportsSent = 0;
  private pacer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly answer = { node: 0, sentAt: 0 };

  constructor(private readonly spec: SimGroupSpec) {
    const s = spec;
    for (let i = 0; i < s.count; i += s.nodesPerConnection) {
      const nodes: number[] = [];
      for (let k = i; k < Math.min(s.count, i + s.nodesPerConnection); k++) nodes.push(s.first + k);
      const link = new SimLink(nodes);
      this.links.push(link);
      for (let n = 0; n < nodes.length; n++) this.linkOf.push(link);
    }
    for (let k = 0; k < s.count; k++) {
      const node = s.first + k;
      const port = simNodePort(node);
      const { capacityBytes, usedBytes, remainingBytes } = standInRegistration(
        s.clusterId,
        simNodeId(node),
        port,
      );
      this.heartbeatFrames.push(
        encodeRequest('heartbeat', node + 1, {
          nodeId: simNodeId(node),
          capacityBytes,
          usedBytes,
          remainingBytes,
          failedVolumes: 0,
          activeTransfers: 0,
          volumes: [],
        }),
      );
    }
  }

  private freshCounts(): Omit<SimResult, 'load' | 'elapsedMs' | 'cpuUs' | 'histogram'> {
    return { requests: 0, blocks: 0, commands: {}, errors: 0, firstError: null };
  }

  /** Opens every link (at most `parallel` handshakes at once, so the accept backlog holds). */
  async connect(parallel = 200): Promise<void> {
    const { host, port } = parseHostPort(this.spec.namenode, DEFAULT_NAMENODE_PORT);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < this.links.length) {
        const link = this.links[next++]!;
        const { socket, rest } = await connectPeer({
          host,
          port,
          role: Role.DATANODE,
          label: 'NameNode',
          timeoutMs: 30_000,
        });
        this.attach(link, socket, rest);
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, this.links.length) }, worker));
  }

  private attach(link: SimLink, socket: net.Socket, rest: Buffer): void {
    link.socket = socket;
    const decoder = new FrameDecoder({
      bodyBytesMax: RPC_BODY_BYTES_MAX,
      isKnownOpcode: isNamenodeReplyOpcode,
    });
    // COMMANDS_PENDING notices: a simulated node carries out no commands, so it ignores them.
    const onFrame = (frame: Frame): void => {
      if (frame.kind !== FrameKind.NOTICE) this.onAnswer(link, frame);
    };
    const onData = (chunk: Buffer): void => {
      // Answers arriving together trigger their follow-up requests together: one write.
      socket.cork();
      try {
        decoder.push(chunk, onFrame);
      } catch (err) {
        this.lost(`NameNode connection: ${(err as Error).message}`);
      } finally {
        socket.uncork();
      }
    };
    socket.on('data', onData);
    socket.on('error', (err) => this.lost(`NameNode connection: ${err.message}`));
    socket.on('close', () => this.lost('the NameNode closed a DataNode connection'));
    if (rest.length > 0) onData(rest);
    socket.resume();
  }

  /** A lost link is fatal to the measurement: say so rather than hang. */
  private lost(message: string): void {
    if (this.closed) return;
    this.closed = true;
    this.counts.errors++;
    this.counts.firstError ??= message;
    for (const l of this.links) l.socket?.destroy();
    this.outstanding = 0;
    this.drained?.();
  }

  /** Registers every node; resolves once all are answered. */
  register(): Promise<SimResult> {
    const s = this.spec;
    this.begin('register');
    for (const link of this.links) {
      for (const node of link.nodes) {
        this.send(
          link,
          node,
          encodeRequest(
            'register',
            node + 1,
            standInRegistration(s.clusterId, simNodeId(node), simNodePort(node)),
          ),
        );
      }
    }
    return this.finishWhenDrained();
  }

  /** Encodes each node's full block report, once. */
  prepareReports(blocks: SimBlocks): void {
    this.reportFrames = [];
    this.reportBlocks = [];
    for (let k = 0; k < this.spec.count; k++) {
      const node = this.spec.first + k;
      const mine = blocksOfNode(node, this.spec.nodes, blocks.replication, blocks.ids.length).map((j) => ({
        blockId: blocks.ids[j]!,
        genStamp: blocks.genStamps[j]!,
        numBytes: blocks.numBytes,
      }));
      this.reportFrames.push(
        encodeRequest('blockReport', node + 1, { nodeId: simNodeId(node), blocks: mine, unfinished: [] }),
      );
      this.reportBlocks.push(mine.length);
    }
  }

  /** Every node sends its full report once (the first report after registering). */
  reportOnce(): Promise<SimResult> {
    this.startLoad('report-once');
    return this.finishWhenDrained();
  }

  /** Starts a load that runs until `stop`. */
  start(load: 'heartbeat' | 'report'): void {
    this.startLoad(load);
  }

  /** Stops the load: counts as of now; resolves once what was in flight is answered. */
  async stop(): Promise<SimResult> {
    const result = this.snapshot();
    this.load = null;
    if (this.pacer !== null) clearInterval(this.pacer);
    this.pacer = null;
    await this.whenDrained();
    return result;
  }

  close(): void {
    this.closed = true;
    if (this.pacer !== null) clearInterval(this.pacer);
    for (const l of this.links) l.socket?.destroy();
  }

  private begin(load: SimLoad): void {
    if (this.load !== null) throw new Error(`simulated DataNodes are busy (${this.load})`);
    if (this.closed)
      throw new DfsError('CONNECTION', this.counts.firstError ?? 'simulated DataNodes are closed');
    this.load = load;
    this.counts = this.freshCounts();
    this.histogram?.destroy();
    this.histogram = newLatencyHistogram();
    this.startedAt = performance.now();
    this.cpu0 = process.cpuUsage();
  }

  private startLoad(load: 'heartbeat' | 'report' | 'report-once'): void {
    this.begin(load);
    const s = this.spec;
    if (load !== 'heartbeat') {
      if (this.reportFrames.length !== s.count) throw new Error('block reports are not prepared');
      this.reportCursor = 0;
      this.reportsSent = 0;
      for (let d = 0; d < s.reportDepth; d++) this.nextReport();
    } else if (s.heartbeatIntervalMs > 0) {
      this.startPacer();
    } else {
      for (const link of this.links) {
        link.socket!.cork();
        for (let d = 0; d < s.heartbeatDepth; d++) this.nextHeartbeat(link);
        link.socket!.uncork();
      }
    }
  }

  /** Paced heartbeats: node k of the group is due at k/count of every interval. */
  private startPacer(): void {
    const s = this.spec;
    const t0 = performance.now();
    let sent = 0;
    const tick = (): void => {
      const due = Math.floor(((performance.now() - t0) / s.heartbeatIntervalMs) * s.count);
      for (; sent < due; sent++) {
        const k = sent % s.count;
        this.send(this.linkOf[k]!, s.first + k, this.heartbeatFrames[k]!);
      }
    };
    this.pacer = setInterval(tick, 10);
  }

  private nextHeartbeat(link: SimLink): void {
    const node = link.nodes[link.cursor]!;
    link.cursor = (link.cursor + 1) % link.nodes.length;
    this.send(link, node, this.heartbeatFrames[node - this.spec.first]!);
  }

  private nextReport(): void {
    if (this.load === 'report-once' && this.reportsSent >= this.spec.count) return;
    const k = this.reportCursor;
    this.reportCursor = (k + 1) % this.spec.count;
    this.reportsSent++;
    this.send(this.linkOf[k]!, this.spec.first + k, this.reportFrames[k]!);
  }

  private send(link: SimLink, node: number, frame: Buffer): void {
    if (this.closed) return;
    link.inflight.push(node, performance.now());
    this.outstanding++;
    link.socket!.write(frame);
  }

  private onAnswer(link: SimLink, frame: Frame): void {
    const a = this.answer;
    if (!link.inflight.shift(a) || frame.requestId !== a.node + 1) {
      this.lost(`answer ${frame.requestId} out of order on a DataNode connection (expected ${a.node + 1})`);
      return;
    }
    this.outstanding--;
    const load = this.load;
    const counting = load !== null;
    if (frame.kind === FrameKind.ERROR) {
      if (counting) {
        this.counts.errors++;
        this.counts.firstError ??= `${simNodeId(a.node)}: ${decodeError(frame).message}`;
      }
    } else if (counting) {
      this.counts.requests++;
      recordUs(this.histogram!, (performance.now() - a.sentAt) * 1000);
      if (frame.opcode === OPCODE.heartbeat) {
        // HeartbeatResponse: u32 count of commands, then the commands (rarely any).
        if (frame.body.length >= 4 && frame.body.readUInt32BE(0) > 0) this.countCommands(frame);
      } else if (frame.opcode === OPCODE.report) {
        this.counts.blocks += this.reportBlocks[a.node - this.spec.first]!;
      }
    }
    if (load === 'heartbeat' && this.spec.heartbeatIntervalMs === 0) this.nextHeartbeat(link);
    else if (load === 'report' || load === 'report-once') this.nextReport();
    if (this.outstanding === 0) this.drained?.();
  }

  private countCommands(frame: Frame): void {
    const c = this.counts.commands;
    for (const command of decodeResponse('heartbeat', frame).commands) {
      const type = COMMAND_NAMES.get(command.type) ?? `type ${command.type}`;
      c[type] = (c[type] ?? 0) + 1;
    }
  }

  private snapshot(): SimResult {
    const cpu = process.cpuUsage(this.cpu0);
    return {
      load: this.load ?? 'heartbeat',
      ...this.counts,
      elapsedMs: performance.now() - this.startedAt,
      cpuUs: cpu.user + cpu.system,
      histogram: this.histogram === null ? '' : encodeHistogram(this.histogram),
    };
  }

  private whenDrained(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.drained = () => {
        this.drained = null;
        resolve();
      };
    });
  }

  /** For loads that end by themselves: the result once the last answer is in. */
  private async finishWhenDrained(): Promise<SimResult> {
    await this.whenDrained();
    const result = this.snapshot();
    this.load = null;
    return result;
  }
}

// ---- worker process ------------------------------------------------------------------

export type ToSimWorker =
  | { type: 'init'; spec: SimGroupSpec }
  | { type: 'register' }
  | { type: 'blocks'; blocks: SimBlocks }
  | { type: 'report-once' }
  | { type: 'start'; load: 'heartbeat' | 'report' }
  | { type: 'stop' }
  | { type: 'exit' };

export type FromSimWorker =
  { type: 'ready' } | { type: 'prepared' } | { type: 'started' } | { type: 'result'; result: SimResult };

/** `dfs-bench sim-datanode-worker`: one group of simulated DataNodes, driven over IPC. */
export function runSimDatanodeWorker(): void {
  let group: SimDatanodeGroup | null = null;
  const need = (): SimDatanodeGroup => {
    if (group === null) throw new Error('not initialised');
    return group;
  };
  serveWorker<ToSimWorker, FromSimWorker>(
    'sim-datanode-worker is started by `dfs-bench meta --sim-datanodes N`, not by hand',
    async (m) => {
      switch (m.type) {
        case 'init':
          group = new SimDatanodeGroup(m.spec);
          await group.connect();
          return { type: 'ready' };
        case 'register':
          return { type: 'result', result: await need().register() };
        case 'blocks':
          need().prepareReports(m.blocks);
          return { type: 'prepared' };
        case 'report-once':
          return { type: 'result', result: await need().reportOnce() };
        case 'start':
          need().start(m.load);
          return { type: 'started' };
        case 'stop':
          return { type: 'result', result: await need().stop() };
        default:
          throw new Error(`unexpected request ${m.type}`);
      }
    },
    () => group?.close(),
  );
}
