/**
 * Helpers for data-path tests against real DataNode processes: deterministic test bytes,
 * whole-buffer put and get through the client streams, the on-disk replica layout
 * (DATA_DIR/current/{rbw,finalized}/blk_<id>/{data,meta}), a check that every replica on
 * disk holds exactly the bytes and checksums the writer sent, a seam to steer replica
 * placement (standing in for a NameNode whose view of a node is stale), and bounded waits.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DaemonProcess } from '../../src/local/daemon-process.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import type { DfsClient } from '../../src/client/dfs-client.js';
import type { DfsOutputStream, OutputStreamOptions } from '../../src/client/dfs-output-stream.js';
import type { InputStreamOptions } from '../../src/client/dfs-input-stream.js';
import { computeChecksums, initChecksum } from '../../src/common/checksum.js';
import { decodeMetaHeader } from '../../src/datanode/replica-meta.js';
import type { DatanodeInfo, LocatedBlock } from '../../protocol/shared-structures.js';

export const META_HEADER_BYTES = 24;

/** Deterministic pseudo-random bytes (xorshift32), so a failure shows the same data again. */
export function testBytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

export interface PutHooks {
  /** Size of the pieces handed to the stream (default 100003: not packet aligned). */
  pieceBytes?: number;
  /** Sees the output stream before the first byte (to listen for 'recovery'). */
  onStream?: (stream: DfsOutputStream) => void;
}

/** Writes `data` to `remote` through `client.create`, in pieces of `hooks.pieceBytes`. */
export async function putBuffer(
  client: DfsClient,
  remote: string,
  data: Buffer,
  options: OutputStreamOptions = {},
  hooks: PutHooks = {},
): Promise<void> {
  const pieceBytes = hooks.pieceBytes ?? 100_003;
  const pieces: Buffer[] = [];
  for (let off = 0; off < data.length; off += pieceBytes)
    pieces.push(data.subarray(off, Math.min(data.length, off + pieceBytes)));
  const stream = client.create(remote, options);
  hooks.onStream?.(stream);
  await pipeline(Readable.from(pieces, { objectMode: false }), stream);
}

/** Reads `remote` (or a range of it) into one buffer. */
export async function getBuffer(
  client: DfsClient,
  remote: string,
  options: InputStreamOptions = {},
): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of client.open(remote, options)) parts.push(Buffer.from(b as Buffer));
  return Buffer.concat(parts);
}

/** The DataNode id stored in data dir i (VERSION), '' before the node first started. */
export function nodeIdOf(cluster: LocalCluster, index: number): string {
  const file = path.join(cluster.dataDir(index), 'VERSION');
  if (!fs.existsSync(file)) return '';
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { nodeId: string }).nodeId;
}

/** nodeId -> DataNode index, for every DataNode of the cluster. */
export function nodeIndexById(cluster: LocalCluster): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < cluster.datanodes.length; i++) m.set(nodeIdOf(cluster, i), i);
  return m;
}

export function replicaDir(
  cluster: LocalCluster,
  index: number,
  state: 'rbw' | 'finalized',
  blockId: number,
): string {
  return path.join(cluster.dataDir(index), 'current', state, `blk_${blockId}`);
}

/** Indexes of the DataNodes that hold a finalized replica of `blockId` on disk. */
export function nodesWithFinalized(cluster: LocalCluster, blockId: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < cluster.datanodes.length; i++) {
    if (fs.existsSync(replicaDir(cluster, i, 'finalized', blockId))) out.push(i);
  }
  return out;
}

/** Every block id with a finalized replica on DataNode i. */
export function finalizedBlockIds(cluster: LocalCluster, index: number): number[] {
  const dir = path.join(cluster.dataDir(index), 'current', 'finalized');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .map((n) => /^blk_(\d+)$/.exec(n))
    .filter((m) => m !== null)
    .map((m) => Number(m[1]));
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns a non-undefined value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Rejects with a clear message when `p` does not settle within `ms` (a hang is a failure). */
export async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until `count` DataNodes have registered and are live (before the first addBlock). */
export async function waitForDatanodes(client: DfsClient, count: number, timeoutMs = 15_000): Promise<void> {
  await waitFor(
    `${count} live DataNodes`,
    async () => {
      const nodes = await client.datanodeReport();
      return nodes.filter((n) => n.state === 1).length >= count ? true : undefined;
    },
    timeoutMs,
  );
}

/** The blocks of `remote` once each has `replicas` reported locations (reports are asynchronous). */
export async function waitForLocations(
  client: DfsClient,
  remote: string,
  replicas: number,
  timeoutMs = 10_000,
): Promise<LocatedBlock[]> {
  return waitFor(
    `${remote} to have ${replicas} reported replicas per block`,
    async () => {
      const located = await client.getBlockLocations(remote, 0, 0);
      return located.blocks.every((b) => b.locations.length >= replicas) ? located.blocks : undefined;
    },
    timeoutMs,
  );
}

/**
 * Checks the replicas of `remote` on disk against `data`: every block has exactly
 * `replicas` finalized copies (a number, or per block index a number or the counts
 * allowed), on the nodes the NameNode names; each data file equals the block's slice of
 * `data`; each meta file holds the 24-byte header (chunk size, the block's current
 * generation stamp, the algorithm) and one big-endian checksum of that algorithm per chunk of
 * exactly those bytes; no node
 * holding it finalized also has an rbw copy. A copy is on disk a moment before it is
 * reported, so the placement check is retried for up to a few seconds before it fails.
 */
export async function expectReplicasOnDisk(
  cluster: LocalCluster,
  client: DfsClient,
  remote: string,
  data: Buffer,
  replicas: number | ((blockIndex: number) => number | readonly number[]),
  options: { deadNodes?: readonly number[] } = {},
): Promise<LocatedBlock[]> {
  await initChecksum();
  const allowed = (i: number): readonly number[] => {
    const w = typeof replicas === 'number' ? replicas : replicas(i);
    return typeof w === 'number' ? [w] : w;
  };
  const byId = nodeIndexById(cluster);
  const deadline = Date.now() + 5_000;
  for (;;) {
    const blocks = await waitFor(`${remote} to have its reported replicas`, async () => {
      const located = await client.getBlockLocations(remote, 0, 0);
      return located.blocks.every((b, i) => b.locations.length >= Math.min(...allowed(i)))
        ? located.blocks
        : undefined;
    });
    const placed: Array<{ lb: LocatedBlock; onDisk: number[] }> = [];
    let mismatch: string | null = null;
    for (const [bi, lb] of blocks.entries()) {
      const where = `${remote} block ${lb.block.blockId} (offset ${lb.offset})`;
      const named = lb.locations.map((l: DatanodeInfo) => {
        const i = byId.get(l.nodeId);
        if (i === undefined) throw new Error(`${where}: unknown node ${l.nodeId}`);
        return i;
      });
      // A killed node may keep a stale finalized copy of a block recovered without it: only
      // what the NameNode names counts there.
      const onDisk = nodesWithFinalized(cluster, lb.block.blockId).filter(
        (i) => !(options.deadNodes ?? []).includes(i) || named.includes(i),
      );
      const want = allowed(bi);
      if (
        !want.includes(named.length) ||
        onDisk.length !== named.length ||
        [...named].sort().join() !== [...onDisk].sort().join()
      ) {
        mismatch ??= `${where}: NameNode names nodes [${named.join(',')}], finalized on disk at [${onDisk.join(',')}], want ${want.join(' or ')}`;
      }
      placed.push({ lb, onDisk });
    }
    if (mismatch !== null) {
      if (Date.now() > deadline) throw new Error(mismatch);
      await sleep(100);
      continue;
    }
    checkReplicaContents(cluster, remote, data, placed);
    return blocks;
  }
}

/** Each finalized copy's data and meta files against the block's slice of `data`. */
function checkReplicaContents(
  cluster: LocalCluster,
  remote: string,
  data: Buffer,
  placed: ReadonlyArray<{ lb: LocatedBlock; onDisk: number[] }>,
): void {
  let offset = 0;
  for (const { lb, onDisk } of placed) {
    const where = `${remote} block ${lb.block.blockId} (offset ${lb.offset})`;
    if (lb.offset !== offset) throw new Error(`${where}: expected offset ${offset}`);
    const slice = data.subarray(lb.offset, lb.offset + lb.block.numBytes);
    for (const i of onDisk) {
      const dir = replicaDir(cluster, i, 'finalized', lb.block.blockId);
      const stored = fs.readFileSync(path.join(dir, 'data'));
      if (!stored.equals(slice))
        throw new Error(`${where}: data on node ${i} differs (${stored.length} bytes, want ${slice.length})`);
      const meta = fs.readFileSync(path.join(dir, 'meta'));
      if (meta.toString('latin1', 0, 4) !== 'DFSM')
        throw new Error(`${where}: meta on node ${i} has a bad magic`);
      const { chunkBytes, checksumType, genStamp } = decodeMetaHeader(meta, dir);
      if (genStamp !== lb.block.genStamp)
        throw new Error(`${where}: meta on node ${i} has gen ${genStamp}, block has ${lb.block.genStamp}`);
      const sums = meta.subarray(META_HEADER_BYTES);
      if (!sums.equals(computeChecksums(slice, chunkBytes, checksumType)))
        throw new Error(`${where}: checksums on node ${i} do not match the data`);
      if (fs.existsSync(replicaDir(cluster, i, 'rbw', lb.block.blockId)))
        throw new Error(`${where}: node ${i} still has an rbw copy`);
    }
    offset += lb.block.numBytes;
  }
  if (offset !== data.length) throw new Error(`${remote}: blocks cover ${offset} bytes, want ${data.length}`);
}

/**
 * Wraps `client.namenodeClient.addBlock` and `reserveBlock` so a test decides the pipeline order (or adds a node the
 * NameNode left out): stands in for a NameNode whose view of a node is out of date, e.g.
 * a disk that filled up or a node that died since its last heartbeat. `steer` gets the
 * NameNode's answer and the client's exclude list; the client's own exclusion logic is
 * what is under test, so `steer` must honour `excludeNodes`. Each new block's placement
 * passes once, in order (`call`): a block reserved ahead when it is reserved (the addBlock
 * that attaches it keeps the reserved pipeline, its answer is not steered). Returns an
 * undo function.
 */
export function steerPlacement(
  client: DfsClient,
  steer: (
    locations: DatanodeInfo[],
    excludeNodes: string[],
    call: number,
  ) => DatanodeInfo[] | Promise<DatanodeInfo[]>,
): () => void {
  const namenode = client.namenodeClient;
  const original = namenode.addBlock.bind(namenode);
  const originalReserve = namenode.reserveBlock.bind(namenode);
  let call = 0;
  namenode.addBlock = async (req) => {
    const lb = await original(req);
    if (req.reservedBlockId !== 0) return lb;
    return { ...lb, locations: await steer(lb.locations, req.excludeNodes, call++) };
  };
  namenode.reserveBlock = async (req) => {
    const lb = await originalReserve(req);
    return { ...lb, locations: await steer(lb.locations, req.excludeNodes, call++) };
  };
  return () => {
    namenode.addBlock = original;
    namenode.reserveBlock = originalReserve;
  };
}

/** DatanodeInfo of DataNode i as clients see it. */
export function datanodeInfo(cluster: LocalCluster, index: number): DatanodeInfo {
  return { nodeId: nodeIdOf(cluster, index), host: '127.0.0.1', port: cluster.datanodes[index]!.port };
}

/** Puts `node` at `position` of the pipeline (unless the client excluded it), keeping its length. */
export function withNodeAt(
  locations: DatanodeInfo[],
  node: DatanodeInfo,
  position: number,
  excludeNodes: string[],
): DatanodeInfo[] {
  if (excludeNodes.includes(node.nodeId)) return locations;
  const rest = locations.filter((l) => l.nodeId !== node.nodeId);
  const length = Math.max(locations.length, position + 1);
  const out = rest.slice(0, length - 1);
  out.splice(Math.min(position, out.length), 0, node);
  return out;
}

/** Log records of a daemon whose fields include every key/value of `match`. */
export function logsMatching(
  d: DaemonProcess,
  match: Record<string, unknown>,
): Array<Record<string, unknown>> {
  return d.logs.filter((rec: Record<string, unknown>) =>
    Object.entries(match).every(([k, v]) => rec[k] === v),
  );
}
