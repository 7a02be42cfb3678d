/**
 * Helpers for unit tests of the client's write path (tests/client/): a fake NameNode behind
 * the typed seam the output stream and block writer consume (OutputStreamNamenode in
 * src/client/dfs-output-stream.ts), recording every call, and real DataNode processes on
 * 127.0.0.1, port 0, temp folders (processes rather than DataNode objects in this process:
 * block-receiver.ts keeps some state per process, so several DataNodes in one process
 * cannot form one pipeline). The DataNodes point at a NameNode that is not there: they keep
 * retrying to register in the background and serve data connections all the same, which
 * is all a write pipeline needs. Their replicas are read back from their folders, so a test
 * checks the bytes and generation stamp each node finalized.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DfsError } from '../../protocol/errors.js';
import type { RpcRequest, RpcResponse } from '../../protocol/namenode-messages.js';
import { FileType, type Block, type DatanodeInfo } from '../../protocol/shared-structures.js';
import type { OutputStreamClient, OutputStreamNamenode } from '../../src/client/dfs-output-stream.js';
import { decodeMetaHeader } from '../../src/datanode/replica-meta.js';
import { DaemonProcess } from '../../src/local/daemon-process.js';
import { tempDir } from './cluster.js';

export const FIRST_BLOCK_ID = 1000;
export const FIRST_GEN_STAMP = 7;

/** A NameNode that places every block on `locations` and records what it was asked. */
export class FakeNamenode implements OutputStreamNamenode {
  readonly calls: { name: string; req: unknown }[] = [];
  readonly addBlocks: RpcRequest<'addBlock'>[] = [];
  readonly abandoned: RpcRequest<'abandonBlock'>[] = [];
  readonly bumps: RpcRequest<'bumpGenStamp'>[] = [];
  readonly completes: RpcRequest<'complete'>[] = [];
  readonly creates: RpcRequest<'create'>[] = [];
  readonly fsyncs: RpcRequest<'fsync'>[] = [];
  readonly reserves: RpcRequest<'reserveBlock'>[] = [];
  /** The stamps bumpGenStamp gave, in order. */
  readonly bumpAnswers: number[] = [];
  /** Reservations this NameNode holds (block id to the block it follows). */
  readonly reservations = new Map<number, { afterBlockId: number; genStamp: number }>();
  /** addBlock refuses every reservation (NOT_FOUND), as a NameNode restarted since it was made. */
  refuseReservations = false;
  /** addBlock refuses every reservation with this instead (a lease lost, a quota hit). */
  reservationError: DfsError | null = null;
  /** How long addBlock takes to answer for a reservation (the writer streams into it meanwhile). */
  attachDelayMs = 0;
  /** How long bumpGenStamp takes to answer (a pipeline recovery waits meanwhile). */
  bumpDelayMs = 0;
  /** The blocks addBlock gave, in order (a reservation attached or a new block). */
  readonly blockIds: number[] = [];
  /** Where the next blocks go; a test may change it between blocks. */
  locations: DatanodeInfo[];
  /** complete answers false this many times first (blocks not reported yet). */
  incompleteAnswers = 0;
  private nextBlockId = FIRST_BLOCK_ID;
  /** The file's last block as this NameNode has it (0: none yet). */
  private lastBlockId = 0;
  private nextGenStamp = FIRST_GEN_STAMP;

  constructor(
    locations: DatanodeInfo[],
    private readonly blockBytes: number,
  ) {
    this.locations = locations;
  }

  create(req: RpcRequest<'create'>): Promise<RpcResponse<'create'>> {
    this.record('create', req);
    this.creates.push(req);
    return Promise.resolve({
      path: req.path,
      type: FileType.FILE,
      length: 0,
      replication: req.replication,
      blockBytes: this.blockBytes,
      mtimeMs: 0,
      blockCount: 0,
      underConstruction: true,
      childCount: 0,
      owner: 'alice',
      group: 'staff',
      permission: 0o644,
    });
  }

  /**
   * As the real NameNode: the file changes when the call arrives, and only the answer
   * waits (for a reservation, `attachDelayMs`), so a reserveBlock sent after it sees it.
   */
  async addBlock(req: RpcRequest<'addBlock'>): Promise<RpcResponse<'addBlock'>> {
    this.record('addBlock', req);
    this.addBlocks.push(structuredClone(req));
    if (req.reservedBlockId !== 0) {
      const r = this.reservations.get(req.reservedBlockId);
      this.reservations.delete(req.reservedBlockId);
      const refusal =
        this.reservationError ??
        (r === undefined || r.afterBlockId !== req.previous?.blockId || this.refuseReservations
          ? new DfsError('NOT_FOUND', `block ${req.reservedBlockId} is not reserved`)
          : null);
      if (refusal === null) this.lastBlockId = req.reservedBlockId;
      if (this.attachDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.attachDelayMs));
      if (refusal !== null) throw refusal;
      this.blockIds.push(req.reservedBlockId);
      return {
        block: { blockId: req.reservedBlockId, genStamp: r!.genStamp, numBytes: 0 },
        offset: 0,
        locations: this.locations,
      };
    }
    const locations = this.locations.filter((l) => !req.excludeNodes.includes(l.nodeId));
    this.blockIds.push(this.nextBlockId);
    this.lastBlockId = this.nextBlockId;
    return {
      block: { blockId: this.nextBlockId++, genStamp: this.nextGenStamp++, numBytes: 0 },
      offset: 0, // the writer does not use it
      locations,
    };
  }

  /** The block after `afterBlockId` (the file's last, as the real NameNode checks), on `locations` as they are now. */
  reserveBlock(req: RpcRequest<'reserveBlock'>): Promise<RpcResponse<'reserveBlock'>> {
    this.record('reserveBlock', req);
    this.reserves.push(req);
    if (req.afterBlockId !== this.lastBlockId)
      return Promise.reject(
        new DfsError('INVALID_ARGUMENT', `block ${req.afterBlockId} is not the last block`),
      );
    const block = { blockId: this.nextBlockId++, genStamp: this.nextGenStamp++, numBytes: 0 };
    this.reservations.clear(); // one per file, and this NameNode serves one
    this.reservations.set(block.blockId, { afterBlockId: req.afterBlockId, genStamp: block.genStamp });
    return Promise.resolve({ block, offset: 0, locations: this.locations });
  }

  abandonBlock(req: RpcRequest<'abandonBlock'>): Promise<void> {
    this.record('abandonBlock', req);
    this.abandoned.push(req);
    return Promise.resolve();
  }

  async bumpGenStamp(req: RpcRequest<'bumpGenStamp'>): Promise<RpcResponse<'bumpGenStamp'>> {
    this.record('bumpGenStamp', req);
    this.bumps.push(req);
    this.bumpAnswers.push(this.nextGenStamp);
    const genStamp = this.nextGenStamp++;
    if (this.bumpDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.bumpDelayMs));
    return { genStamp };
  }

  complete(req: RpcRequest<'complete'>): Promise<RpcResponse<'complete'>> {
    this.record('complete', req);
    this.completes.push(structuredClone(req));
    if (this.incompleteAnswers > 0) {
      this.incompleteAnswers--;
      return Promise.resolve({ completed: false });
    }
    return Promise.resolve({ completed: true });
  }

  /** hflush/hsync tell the NameNode the length readers may see. */
  fsync(req: RpcRequest<'fsync'>): Promise<void> {
    this.record('fsync', req);
    this.fsyncs.push(req);
    return Promise.resolve();
  }

  /** Not served: this NameNode holds no files (append is tested against a real one). */
  append(req: RpcRequest<'append'>): Promise<RpcResponse<'append'>> {
    this.record('append', req);
    return Promise.reject(new DfsError('NOT_FOUND', `${req.path}: the fake NameNode holds no files`));
  }

  /** The names of the calls so far, in order. */
  get callNames(): string[] {
    return this.calls.map((c) => c.name);
  }

  private record(name: string, req: unknown): void {
    this.calls.push({ name, req: structuredClone(req) });
  }
}

/** An OutputStreamClient over a fake NameNode, recording the lease. */
export class FakeClient implements OutputStreamClient {
  readonly clientName = 'test-client';
  readonly defaultReplication = 3;
  readonly defaultBlockBytes = 64 * 1024 * 1024;
  readonly openLeases = new Set<string>();
  readonly leaseEvents: string[] = [];

  constructor(readonly namenodeClient: FakeNamenode) {}

  beginFileLease(path: string): void {
    this.openLeases.add(path);
    this.leaseEvents.push(`begin ${path}`);
  }

  endFileLease(path: string): void {
    this.openLeases.delete(path);
    this.leaseEvents.push(`end ${path}`);
  }
}

export interface TestDataNodes {
  nodes: DaemonProcess[];
  /** DatanodeInfo of node i as a NameNode would give it to a client. */
  info(i: number): DatanodeInfo;
  infos(): DatanodeInfo[];
  /** The finalized replica of `blockId` on node i (length and stamp from its files), or null. */
  finalized(i: number, blockId: number): { block: Block; data: Buffer } | null;
  stopAll(): Promise<void>;
}

export async function startDataNodes(n: number): Promise<TestDataNodes> {
  const base = tempDir('dfs-client-unit-');
  const dataDir = (i: number): string => path.join(base, `data${i}`);
  const nodes: DaemonProcess[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(nodes.map((d) => d.kill()));
    fs.rmSync(base, { recursive: true, force: true });
  };
  for (let i = 0; i < n; i++) {
    nodes.push(
      new DaemonProcess({
        name: `datanode${i}`,
        // Nobody listens at port 1: the node retries registering, and serves data meanwhile.
        args: ['datanode', '--namenode', '127.0.0.1:1', '--data-dir', dataDir(i)].concat([
          '--host',
          '127.0.0.1',
          '--port',
          '0',
          '--http-port',
          '0',
          '--log-level',
          'info',
        ]),
        readyMessage: 'datanode listening',
      }),
    );
  }
  try {
    await Promise.all(nodes.map((d) => d.start()));
  } catch (err) {
    await stopAll();
    throw err;
  }
  const info = (i: number): DatanodeInfo => {
    const ready = nodes[i]!.logs.find((r) => r.msg === 'datanode listening');
    return { nodeId: String(ready?.nodeId), host: '127.0.0.1', port: nodes[i]!.port };
  };
  return {
    nodes,
    info,
    infos: () => nodes.map((_, i) => info(i)),
    finalized(i, blockId) {
      const dir = path.join(dataDir(i), 'current', 'finalized', `blk_${blockId}`);
      if (!fs.existsSync(dir)) return null;
      const data = fs.readFileSync(path.join(dir, 'data'));
      const meta = path.join(dir, 'meta');
      const { genStamp } = decodeMetaHeader(fs.readFileSync(meta), meta);
      return { block: { blockId, genStamp, numBytes: data.length }, data };
    },
    stopAll,
  };
}

/** Resolves once `pred` holds (polling), or fails after `timeoutMs`. */
export async function eventually(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
