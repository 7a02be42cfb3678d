/**
 * Helpers for self-healing tests against real processes: a
 * cluster with fast health timings, files written and checked by content, the replica
 * count of every block as the NameNode sees it (live good replicas, getBlockLocations) and
 * as the disks hold it (finalized replica directories across every data dir), and bounded
 * waits for a target replica count that both views agree on.
 *
 * Why both views: the NameNode forgets a surplus replica the moment it schedules its
 * deletion, while the DataNode removes it only at its next heartbeat; a copy is on disk a
 * moment before it is reported. A state is "settled" only when the two agree.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { LocalCluster, LocalClusterOptions } from '../../src/local/local-cluster.js';
import { DfsClient } from '../../src/client/dfs-client.js';
import type { LocatedBlock } from '../../protocol/shared-structures.js';
import { startCluster } from './cluster.js';
import {
  getBuffer,
  nodeIndexById,
  putBuffer,
  replicaDir,
  testBytes,
  waitFor,
  waitForDatanodes,
} from './data-path.js';

export const KiB = 1024;
export const BLOCK_BYTES = 256 * KiB;
export const DEAD_NODE_TIMEOUT_MS = 2_500;

/** NameNode timings: a node is dead after 2.5 s of silence, the monitor runs every 300 ms. */
export const HEALING_NAMENODE_ENV: NodeJS.ProcessEnv = {
  DFS_NAMENODE_DEAD_NODE_TIMEOUT_MS: String(DEAD_NODE_TIMEOUT_MS),
  DFS_NAMENODE_HEARTBEAT_RECHECK_MS: '250',
  DFS_NAMENODE_REPLICATION_INTERVAL_MS: '300',
  DFS_NAMENODE_REPLICATION_RESCAN_MS: '2000',
  DFS_NAMENODE_REPLICATION_PENDING_TIMEOUT_MS: '5000',
  DFS_NAMENODE_SAFE_MODE_EXTENSION_MS: '500',
};

/** DataNode timings: heartbeats every 300 ms; the scanner stays at its defaults unless a test asks. */
export const HEALING_DATANODE_ENV: NodeJS.ProcessEnv = {
  DFS_DATANODE_HEARTBEAT_INTERVAL_MS: '300',
};

export interface HealingCluster {
  cluster: LocalCluster;
  client: DfsClient;
  cleanup: () => Promise<void>;
}

/** Starts a NameNode and `datanodes` DataNodes with the fast timings, and waits until all are live. */
export async function startHealingCluster(
  datanodes: number,
  extra: {
    namenodeEnv?: NodeJS.ProcessEnv;
    datanodeEnv?: NodeJS.ProcessEnv;
  } & Partial<Omit<LocalClusterOptions, 'namenodeEnv' | 'datanodeEnv'>> = {},
): Promise<HealingCluster> {
  const { namenodeEnv, datanodeEnv, ...rest } = extra;
  const { cluster, cleanup } = await startCluster({
    ...rest,
    datanodes,
    namenodeEnv: { ...HEALING_NAMENODE_ENV, ...namenodeEnv },
    datanodeEnv: () => ({ ...HEALING_DATANODE_ENV, ...datanodeEnv }),
  });
  const client = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 15_000 });
  const close = async (): Promise<void> => {
    client.close();
    await cleanup();
  };
  try {
    await waitForDatanodes(client, datanodes);
  } catch (err) {
    await close();
    throw err;
  }
  return { cluster, client, cleanup: close };
}

/** Runs `body` against a fresh healing cluster, torn down afterwards whatever happens. */
export async function withHealingCluster(
  datanodes: number,
  extra: Parameters<typeof startHealingCluster>[1],
  body: (h: HealingCluster) => Promise<void>,
): Promise<void> {
  const h = await startHealingCluster(datanodes, extra);
  try {
    await body(h);
  } finally {
    await h.cleanup();
  }
}

/** Writes `count` files of a few blocks each (the last block partial) under `dir`; path -> bytes. */
export async function writeFiles(
  client: DfsClient,
  dir: string,
  count: number,
  seed: number,
  replication = 3,
): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    const remote = `${dir}/f${i}`;
    const data = testBytes((2 + i) * BLOCK_BYTES + 12_345 * (i + 1), seed + i);
    await putBuffer(client, remote, data, {
      replication,
      blockBytes: BLOCK_BYTES,
      chunkBytes: 16 * KiB,
      packetBytes: 64 * KiB,
    });
    files.set(remote, data);
  }
  return files;
}

/** Reads every file back and throws on the first that differs. */
export async function expectFilesIntact(
  client: DfsClient,
  files: ReadonlyMap<string, Buffer>,
): Promise<void> {
  for (const [remote, data] of files) {
    const got = await getBuffer(client, remote);
    if (!got.equals(data))
      throw new Error(`${remote}: read ${got.length} bytes that differ from the ${data.length} written`);
  }
}

/** Every block of every file, in file order. */
export async function blocksOf(client: DfsClient, paths: Iterable<string>): Promise<LocatedBlock[]> {
  const out: LocatedBlock[] = [];
  for (const p of paths) out.push(...(await client.getBlockLocations(p, 0, 0)).blocks);
  return out;
}

/** blockId -> live good replicas the NameNode names (getBlockLocations). */
export async function replicaCounts(
  client: DfsClient,
  paths: Iterable<string>,
): Promise<Map<number, number>> {
  const m = new Map<number, number>();
  for (const lb of await blocksOf(client, paths)) m.set(lb.block.blockId, lb.locations.length);
  return m;
}

/** Indexes of the DataNodes whose data dir holds a replica directory of `blockId` (finalized or rbw). */
export function replicaDirsOnDisk(
  cluster: LocalCluster,
  blockId: number,
): { finalized: number[]; rbw: number[] } {
  const finalized: number[] = [];
  const rbw: number[] = [];
  for (let i = 0; i < cluster.datanodes.length; i++) {
    if (fs.existsSync(replicaDir(cluster, i, 'finalized', blockId))) finalized.push(i);
    if (fs.existsSync(replicaDir(cluster, i, 'rbw', blockId))) rbw.push(i);
  }
  return { finalized, rbw };
}

/** The data file of DataNode i's finalized replica of `blockId`. */
export function replicaDataFile(cluster: LocalCluster, index: number, blockId: number): string {
  return path.join(replicaDir(cluster, index, 'finalized', blockId), 'data');
}

export interface Placement {
  blockId: number;
  /** DataNode indexes the NameNode names, sorted. */
  named: number[];
  /** DataNode indexes holding a finalized replica on disk, sorted. */
  onDisk: number[];
}

/** Where every block of `paths` is, by the NameNode and by the disks. */
export async function placements(
  cluster: LocalCluster,
  client: DfsClient,
  paths: Iterable<string>,
): Promise<Placement[]> {
  const byId = nodeIndexById(cluster);
  return (await blocksOf(client, paths)).map((lb) => ({
    blockId: lb.block.blockId,
    named: lb.locations.map((l) => byId.get(l.nodeId) ?? -1).sort((a, b) => a - b),
    onDisk: replicaDirsOnDisk(cluster, lb.block.blockId).finalized,
  }));
}

export function describePlacements(ps: Placement[]): string {
  return ps
    .map((p) => `blk_${p.blockId}: named [${p.named.join(',')}] on disk [${p.onDisk.join(',')}]`)
    .join('; ');
}

/**
 * Waits until every block of `paths` has exactly `replicas` replicas, named by the NameNode
 * and present on disk on the same nodes (optionally ignoring DataNodes in `ignore`, e.g. a
 * decommissioned node that keeps its copy). Returns the settled placements.
 */
export async function waitForReplicas(
  cluster: LocalCluster,
  client: DfsClient,
  paths: Iterable<string>,
  replicas: number,
  options: { timeoutMs?: number; ignore?: readonly number[] } = {},
): Promise<Placement[]> {
  const list = [...paths];
  const ignore = new Set(options.ignore ?? []);
  let last: Placement[] = [];
  try {
    return await waitFor(
      `every block of ${list.length} files to have exactly ${replicas} replicas`,
      async () => {
        last = await placements(cluster, client, list);
        const ok = last.every((p) => {
          const named = p.named.filter((i) => !ignore.has(i));
          const onDisk = p.onDisk.filter((i) => !ignore.has(i));
          return named.length === replicas && named.join() === onDisk.join();
        });
        return ok ? last : undefined;
      },
      options.timeoutMs ?? 20_000,
      100,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last seen: ${describePlacements(last)}`, { cause: err });
  }
}

/** Waits until the NameNode counts nothing under-replicated, corrupt, missing or being copied. */
export async function waitHealthy(client: DfsClient, timeoutMs = 15_000): Promise<void> {
  let last: unknown = null;
  try {
    await waitFor(
      'replicationStats to be healthy',
      async () => {
        const s = await client.replicationStats();
        last = s;
        return s.underReplicated === 0 && s.corrupt === 0 && s.missing === 0 && s.pendingCopies === 0
          ? true
          : undefined;
      },
      timeoutMs,
      100,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last seen: ${JSON.stringify(last)}`, { cause: err });
  }
}

type ReportEntry = Awaited<ReturnType<DfsClient['datanodeReport']>>[number];

/** The datanodeReport entry of DataNode i (matched by port, which a restart keeps), if it has registered. */
export async function findReport(
  cluster: LocalCluster,
  client: DfsClient,
  index: number,
): Promise<ReportEntry | undefined> {
  const port = cluster.datanodes[index]!.port;
  return (await client.datanodeReport()).find((n) => n.port === port);
}

/** The datanodeReport entry of DataNode i; throws when the NameNode does not know it. */
export async function reportOf(
  cluster: LocalCluster,
  client: DfsClient,
  index: number,
): Promise<ReportEntry> {
  const entry = await findReport(cluster, client, index);
  if (entry === undefined)
    throw new Error(
      `DataNode ${index} (port ${cluster.datanodes[index]!.port}) is not in the datanode report`,
    );
  return entry;
}

/** Waits until the NameNode reports DataNode i in `state` (1 live, 2 dead, 3 decommissioning, 4 decommissioned). */
export async function waitNodeState(
  cluster: LocalCluster,
  client: DfsClient,
  index: number,
  state: number,
  timeoutMs = 10_000,
): Promise<void> {
  await waitFor(
    `DataNode ${index} to be in state ${state}`,
    async () => ((await findReport(cluster, client, index))?.state === state ? true : undefined),
    timeoutMs,
    100,
  );
}

/** Block ids with a finalized replica on DataNode i's disk. */
export function blockIdsOnDisk(cluster: LocalCluster, index: number): Set<number> {
  const dir = path.join(cluster.dataDir(index), 'current', 'finalized');
  if (!fs.existsSync(dir)) return new Set();
  return new Set(
    fs
      .readdirSync(dir)
      .map((n) => /^blk_(\d+)$/.exec(n))
      .filter((m) => m !== null)
      .map((m) => Number(m[1])),
  );
}
