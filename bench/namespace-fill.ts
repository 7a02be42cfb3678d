/**
 * The load side of `dfs-bench namespace` (bench/namespace.ts): simulated DataNodes that
 * speak the real DataNode RPCs (register, blockReceived, blockReport) over real DATANODE
 * connections and store nothing, and the fill that writes N one-block files through the
 * real client RPCs (create, addBlock, complete) with every replica reported.
 *
 * One file is: create; addBlock (the NameNode picks `replication` of the simulated nodes);
 * each target reports the replica finalized (blockReceived, batched per node: all the
 * replicas a node received in one turn go in one RPC, as a DataNode's incremental report
 * does); complete, once the reports are answered (so the NameNode already counts the
 * replicas and completes at once). Files are `<base>/d<k>/f<i>`, FILES_PER_DIR to a
 * directory, so the tree has the shape of a real one (directories of hundreds to
 * thousands of entries), not one huge directory.
 *
 * The bench's own memory stays bounded at 16 bytes per replica: each node keeps the ids
 * and generation stamps of its replicas in growable Float64Arrays (its full block report
 * is built from them, one node at a time), never an object per file.
 */
import os from 'node:os';
import { BlockColumns, type Block } from '../protocol/shared-structures.js';
import { Role } from '../protocol/handshake.js';
import { RpcConnection } from '../src/common/rpc-connection.js';
import { DEFAULT_NAMENODE_PORT, parseHostPort } from '../src/common/config.js';

export const FILES_PER_DIR = 1000;
/** Every simulated replica has this many bytes (no data moves; the NameNode only records it). */
export const BLOCK_NUM_BYTES = 1024;
/** A simulated node's disk: large enough for any run (placement checks remaining bytes). */
const CAPACITY_BYTES = 2 ** 50;
/** Long enough for a full report of millions of blocks, or a checkpoint of a big namespace. */
const REQUEST_TIMEOUT_MS = 600_000;

export const dirOf = (base: string, i: number): string => `${base}/d${Math.floor(i / FILES_PER_DIR)}`;
export const fileOf = (base: string, i: number): string => `${dirOf(base, i)}/f${i}`;

/** A growable list of (blockId, genStamp) in typed arrays. */
class ReplicaList {
  ids = new Float64Array(1024);
  stamps = new Float64Array(1024);
  length = 0;

  push(blockId: number, genStamp: number): void {
    if (this.length === this.ids.length) {
      const ids = new Float64Array(this.ids.length * 2);
      ids.set(this.ids);
      const stamps = new Float64Array(this.ids.length * 2);
      stamps.set(this.stamps);
      this.ids = ids;
      this.stamps = stamps;
    }
    this.ids[this.length] = blockId;
    this.stamps[this.length] = genStamp;
    this.length++;
  }

  /** The full report's columns (no object per replica, on either side). */
  columns(): BlockColumns {
    const n = this.length;
    return BlockColumns.fromArrays(
      this.ids.slice(0, n),
      this.stamps.slice(0, n),
      new Float64Array(n).fill(BLOCK_NUM_BYTES),
    );
  }
}

/**
 * Full reports in flight at once: a NameNode bounds the request bytes it holds node-wide
 * (`partialFrameBytesMax`), and thirty nodes' reports of a million replicas (24 MB each) at
 * once exceed the bench's 512 MiB and are refused, so they go a few at a time, as real
 * DataNodes stagger theirs.
 */
export const REPORTS_IN_FLIGHT = 8;

/** One simulated DataNode: its own DATANODE connection, its replicas, its batched reports. */
class SimNode {
  readonly replicas = new ReplicaList();
  private batch: Block[] = [];
  private waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  private scheduled = false;
  rpc: RpcConnection;

  constructor(
    readonly nodeId: string,
    readonly port: number,
    private address: { host: string; port: number },
  ) {
    this.rpc = this.connect();
  }

  private connect(): RpcConnection {
    return new RpcConnection({ ...this.address, role: Role.DATANODE, requestTimeoutMs: REQUEST_TIMEOUT_MS });
  }

  /** A new NameNode process (a restart): a fresh connection. */
  reconnect(address: { host: string; port: number }): void {
    this.rpc.close();
    this.address = address;
    this.rpc = this.connect();
  }

  async register(clusterId: string): Promise<void> {
    await this.rpc.call('register', {
      clusterId,
      nodeId: this.nodeId,
      host: '127.0.0.1',
      port: this.port,
      httpPort: 0,
      capacityBytes: CAPACITY_BYTES,
      usedBytes: 0,
      remainingBytes: CAPACITY_BYTES,
      failedVolumes: 0,
    });
  }

  /** The replica is finalized here: reported in this turn's blockReceived. */
  received(b: Block): Promise<void> {
    this.replicas.push(b.blockId, b.genStamp);
    this.batch.push(b);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private flush(): void {
    this.scheduled = false;
    const received = this.batch;
    const waiters = this.waiters;
    this.batch = [];
    this.waiters = [];
    this.rpc.call('blockReceived', { nodeId: this.nodeId, received, deleted: [] }).then(
      () => waiters.forEach((w) => w.resolve()),
      (err: Error) => waiters.forEach((w) => w.reject(err)),
    );
  }

  /** Sends the full block report; resolves with the round trip in ms. */
  async fullReport(): Promise<number> {
    const blocks = this.replicas.columns();
    const t0 = performance.now();
    await this.rpc.call('blockReport', { nodeId: this.nodeId, blocks, unfinished: [] });
    return performance.now() - t0;
  }
}

export class SimNodes {
  readonly nodes: SimNode[] = [];
  private readonly byId = new Map<string, SimNode>();

  constructor(namenode: string, count: number) {
    const address = parseHostPort(namenode, DEFAULT_NAMENODE_PORT);
    for (let i = 0; i < count; i++) {
      const node = new SimNode(`ns-sim-dn-${i}`, 20_000 + i, address);
      this.nodes.push(node);
      this.byId.set(node.nodeId, node);
    }
  }

  get(nodeId: string): SimNode {
    const n = this.byId.get(nodeId);
    if (n === undefined) throw new Error(`the NameNode chose an unknown DataNode ${nodeId}`);
    return n;
  }

  reconnect(namenode: string): void {
    const address = parseHostPort(namenode, DEFAULT_NAMENODE_PORT);
    for (const n of this.nodes) n.reconnect(address);
  }

  async registerAll(clusterId: string): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.register(clusterId)));
  }

  /** The node holding the most replicas (the one whose full report is timed). */
  largest(): SimNode {
    return this.nodes.reduce((a, b) => (b.replicas.length > a.replicas.length ? b : a));
  }

  /** Every node but `skip` sends its full report, `parallel` at once; the round trip of each, in ms. */
  async reportAll(parallel: number, skip?: SimNode): Promise<number[]> {
    const times: number[] = [];
    const nodes = this.nodes.filter((n) => n !== skip);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < nodes.length) times.push(await nodes[next++]!.fullReport());
    };
    await Promise.all(Array.from({ length: Math.min(parallel, nodes.length) }, worker));
    return times;
  }

  close(): void {
    for (const n of this.nodes) n.rpc.close();
  }
}

export interface FillOptions {
  namenode: string;
  base: string;
  files: number;
  replication: number;
  connections: number;
  depth: number;
  progress: (line: string) => void;
}

/** Client connections acting for the user running the bench (the NameNode's superuser). */
export function clientConnections(namenode: string, count: number): RpcConnection[] {
  const address = parseHostPort(namenode, DEFAULT_NAMENODE_PORT);
  const user = os.userInfo().username;
  return Array.from(
    { length: count },
    () => new RpcConnection({ ...address, role: Role.CLIENT, user, requestTimeoutMs: REQUEST_TIMEOUT_MS }),
  );
}

/** Creates the directories, then the files; resolves with the fill's wall time in ms. */
export async function fill(o: FillOptions, sims: SimNodes): Promise<number> {
  const conns = clientConnections(o.namenode, o.connections);
  try {
    const t0 = performance.now();
    const dirs = Math.ceil(o.files / FILES_PER_DIR);
    await conns[0]!.call('mkdir', { path: o.base, parents: true, permission: 0o755 });
    await lanes(dirs, conns, o.depth, (rpc, k) =>
      rpc.call('mkdir', { path: `${o.base}/d${k}`, parents: false, permission: 0o755 }),
    );
    let done = 0;
    let lastReport = performance.now();
    const clientName = `dfs-bench-namespace-${process.pid}`;
    await lanes(o.files, conns, o.depth, async (rpc, i) => {
      const path = fileOf(o.base, i);
      await rpc.call('create', {
        path,
        clientName,
        overwrite: false,
        createParent: false,
        replication: o.replication,
        blockBytes: 64 * 1024 * 1024,
        permission: 0o644,
      });
      const located = await rpc.call('addBlock', {
        path,
        clientName,
        previous: null,
        excludeNodes: [],
        reservedBlockId: 0,
      });
      const block: Block = { ...located.block, numBytes: BLOCK_NUM_BYTES };
      await Promise.all(located.locations.map((t) => sims.get(t.nodeId).received(block)));
      const { completed } = await rpc.call('complete', { path, clientName, last: block });
      if (!completed) throw new Error(`${path} did not complete with every replica reported`);
      done++;
      const now = performance.now();
      if (now - lastReport > 10_000) {
        lastReport = now;
        o.progress(`filled ${done} of ${o.files} files (${Math.round(done / ((now - t0) / 1000))}/s)`);
      }
    });
    return performance.now() - t0;
  } finally {
    for (const c of conns) c.close();
  }
}

/** Runs op(0..count-1) over the connections, `depth` at a time on each. */
export async function lanes(
  count: number,
  conns: readonly RpcConnection[],
  depth: number,
  op: (rpc: RpcConnection, i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const lane = async (rpc: RpcConnection): Promise<void> => {
    while (next < count) await op(rpc, next++);
  };
  await Promise.all(conns.flatMap((c) => Array.from({ length: depth }, () => lane(c))));
}
