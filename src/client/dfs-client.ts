/**
 * DfsClient: the library every tool uses. NameNode calls go through its typed protocol
 * object (namenode-client.ts) over one pipelined connection (many calls may be in flight
 * at once) that only that object holds; DfsClient adds defaults, paging and friendlier
 * shapes on top. Files opened for writing are covered by one lease per client, renewed in
 * the background while any is open. The streams get this client through the narrow
 * interfaces they declare (dfs-output-stream.ts, dfs-input-stream.ts), never the whole of it.
 */
import { randomUUID } from 'node:crypto';
import { DfsError, rethrowIfBug } from '../../protocol/errors.js';
import { LIST_LIMIT_DEFAULT } from '../../protocol/limits.js';
import { CHECKSUM_TYPE_DEFAULT, checksumTypeOf, type ChecksumType } from '../../protocol/data-messages.js';
import type { Block, FileStatus, LocatedBlock } from '../../protocol/shared-structures.js';
import type { ContentSummary, LocatedBlocks, ServerInfo } from '../../protocol/client-namenode-messages.js';
import { QUOTA_UNCHANGED } from '../../protocol/admin-namenode-messages.js';
import { DEFAULT_NAMENODE_PORT, parseHostPort } from '../common/config.js';
import type { LocalFirstHop } from '../common/pipeline-connect.js';
import type { ShortCircuitReads } from '../common/short-circuit-read.js';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import { finished } from 'node:stream/promises';
import { DfsInputStream, type InputStreamOptions } from './dfs-input-stream.js';
import {
  createRequest,
  DEFAULT_UMASK,
  DfsOutputStream,
  type CreateOptions,
  type OutputStreamClient,
  type OutputStreamOptions,
} from './dfs-output-stream.js';
import { fileChecksum, type FileChecksum } from './file-checksum.js';
import { downloadToFile, uploadFile } from './local-transfer.js';
import { NamenodeClient } from './namenode-client.js';
import { Role } from '../../protocol/handshake.js';
import {
  DecommissionAction,
  SafeModeAction,
  type BlockHealth,
  type BlockHealthResponse,
  type ReplicationStatsResponse,
  type SafeModeResponse,
} from '../../protocol/admin-namenode-messages.js';

/**
 * Bytes `dfs getmerge` lets queue for the local file before it pauses the read: with the stream
 * default (16 KiB) each small write waited for the one before, and a 1 GiB download ran
 * at 173-296 MiB/s; with 1 MiB, writes gather what arrived meanwhile (334-555 MiB/s,
 * half the system time), in alternating runs. One packet's worth: memory stays bounded.
 */
const LOCAL_WRITE_BUFFER_BYTES = 1024 * 1024;

/** A write stream for a local file that a download fills (`dfs getmerge`). */
export function localFileWriter(localPath: string): fs.WriteStream {
  return fs.createWriteStream(localPath, { highWaterMark: LOCAL_WRITE_BUFFER_BYTES });
}

export interface DfsClientOptions {
  /** "HOST:PORT", or a comma list of HA NameNodes (calls fail over: namenode-failover.ts); default DFS_NAMENODE, else 127.0.0.1:8020. */
  namenode?: string;
  clientName?: string;
  requestTimeoutMs?: number;
  leaseRenewIntervalMs?: number;
  defaultReplication?: number;
  defaultBlockBytes?: number;
  /**
   * The handshake role: CLIENT by default; ADMIN for operator tools, which the NameNode
   * requires for safe mode enter/leave and decommissioning.
   */
  role?: Role;
  /** The user this client acts for (its home /user/NAME holds its trash); default: userFrom(). */
  user?: string;
  /** Bits taken from the mode of new files (0666) and directories (0777); default umaskFrom(). */
  umask?: number;
  /** The checksum algorithm of the blocks this client writes, 'xxh3', 'xxh64' or 'xxh32'; default checksumTypeFrom(). */
  checksum?: string;
  /**
   * The DataNode of this process (a DataNode's WebHDFS gateway): a block whose pipeline it
   * heads is written to it without a socket (src/datanode/local-first-hop.ts).
   */
  localFirstHop?: LocalFirstHop;
  /**
   * The same DataNode as a reader: a replica it holds is read through it, short-circuit, with no
   * socket (src/datanode/short-circuit-reads.ts).
   */
  shortCircuitReads?: ShortCircuitReads;
}

export type { CreateOptions };

export const DEFAULT_REPLICATION = 3;
/**
 * HDFS's default since Hadoop 2. Each block costs the writer an addBlock (an edit-log sync on
 * the NameNode) and a new pipeline; with 64 MiB blocks those were about a tenth of a 1 GiB
 * upload's time on loopback (1.29 s against 1.16 s with 128 MiB, in-process, medians of 8).
 */
export const DEFAULT_BLOCK_BYTES = 128 * 1024 * 1024;

/** The first NameNode of the option (or DFS_NAMENODE, or the default); every one is checked. */
export function namenodeAddressFrom(option?: string): { host: string; port: number } {
  return namenodeAddressesFrom(option)[0]!;
}

/** Every NameNode of a comma list "nn1:8020,nn2:8020" (HA: the client fails over between them). */
export function namenodeAddressesFrom(option?: string): Array<{ host: string; port: number }> {
  const text = option ?? process.env.DFS_NAMENODE ?? `127.0.0.1:${DEFAULT_NAMENODE_PORT}`;
  return text.split(',').map((one) => parseHostPort(one, DEFAULT_NAMENODE_PORT));
}

/** The caller's user name: `explicit`, else $DFS_USER (HDFS HADOOP_USER_NAME), else the OS user. */
export function userFrom(explicit?: string): string {
  const name = explicit ?? process.env.DFS_USER ?? os.userInfo().username;
  if (name === '' || name.includes('/'))
    throw new DfsError('INVALID_ARGUMENT', `user name '${name}' is empty or holds a /`);
  return name;
}

/** The umask: `explicit`, else $DFS_UMASK (octal, e.g. "027"), else 022 (HDFS fs.permissions.umask-mode). */
export function umaskFrom(explicit?: number | string): number {
  const given = explicit ?? process.env.DFS_UMASK;
  if (given === undefined || given === '') return DEFAULT_UMASK;
  const value = typeof given === 'number' ? given : /^[0-7]{1,4}$/.test(given) ? parseInt(given, 8) : NaN;
  if (!Number.isInteger(value) || value < 0 || value > 0o777)
    throw new DfsError('INVALID_ARGUMENT', `umask '${String(given)}' is not an octal mode within 000..777`);
  return value;
}

/**
 * The checksum algorithm new blocks are written with: `explicit`, else $DFS_CHECKSUM, else
 * xxh3. Replicas written with xxh64 or xxh32 before stay readable whatever this says.
 */
export function checksumTypeFrom(explicit?: string): ChecksumType {
  const given = explicit ?? process.env.DFS_CHECKSUM;
  return given === undefined || given === '' ? CHECKSUM_TYPE_DEFAULT : checksumTypeOf(given);
}

export class DfsClient implements OutputStreamClient {
  readonly clientName: string;
  readonly checksumType: ChecksumType;
  /** The user this client acts for. */
  readonly user: string;
  readonly umask: number;
  /** The NameNode protocol, one typed method per RPC (operator tools call it directly). */
  readonly namenodeClient: NamenodeClient;
  private readonly openFiles = new Set<string>();
  /** Output streams not yet finished or failed: close() waits for them. */
  private readonly outputStreams = new Set<DfsOutputStream>();
  private closeRequested = false;
  private markClosed: () => void = () => {};
  /** Resolves once close() has closed the connection (after the output streams settled). */
  readonly closed = new Promise<void>((resolve) => (this.markClosed = resolve));
  private renewTimer: NodeJS.Timeout | null = null;
  private readonly leaseRenewIntervalMs: number;
  readonly defaultReplication: number;
  readonly defaultBlockBytes: number;
  readonly localFirstHop: LocalFirstHop | undefined;
  private readonly shortCircuitReads: ShortCircuitReads | undefined;

  constructor(options: DfsClientOptions = {}) {
    const namenodes = namenodeAddressesFrom(options.namenode);
    const { host, port } = namenodes[0]!;
    this.clientName = options.clientName ?? `dfs-client-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.user = userFrom(options.user);
    this.umask = umaskFrom(options.umask);
    this.checksumType = checksumTypeFrom(options.checksum);
    this.localFirstHop = options.localFirstHop;
    this.shortCircuitReads = options.shortCircuitReads;
    this.namenodeClient = new NamenodeClient({
      host,
      port,
      role: options.role ?? Role.CLIENT,
      user: this.user,
      requestTimeoutMs: options.requestTimeoutMs ?? 60_000,
      namenodes,
    });
    this.leaseRenewIntervalMs = options.leaseRenewIntervalMs ?? 10_000;
    this.defaultReplication = options.defaultReplication ?? DEFAULT_REPLICATION;
    this.defaultBlockBytes = options.defaultBlockBytes ?? DEFAULT_BLOCK_BYTES;
  }

  /** "HOST:PORT" of the NameNode. */
  get namenode(): string {
    return this.namenodeClient.address;
  }

  /**
   * Closes the NameNode connection once every output stream this client created has
   * finished (the file is complete) or failed; until then their calls still go through, so
   * `out.end(data); client.close()` stores the file. `closed` resolves when the connection
   * is closed; a stream never ended keeps the client open (end or destroy it). Calls made
   * once the connection is closed fail with CONNECTION. (HDFS `DFSClient.close` completes
   * open files too; returning void keeps close() a plain call for callers that do not wait.)
   */
  close(): void {
    if (this.closeRequested) return;
    this.closeRequested = true;
    void Promise.all([...this.outputStreams].map((s) => finished(s).catch(() => {}))).then(() => {
      this.stopRenewing();
      this.namenodeClient.close();
      this.markClosed();
    });
  }

  // ---- namespace ---------------------------------------------------------------------

  /** `permission`: mode before the umask (default 0777, HDFS). */
  async mkdir(path: string, options: { parents?: boolean; permission?: number } = {}): Promise<void> {
    const permission = (options.permission ?? 0o777) & ~this.umask & 0o1777;
    await this.namenodeClient.mkdir({ path, parents: options.parents ?? false, permission });
  }

  /** chmod: sets the mode bits (rwx for user, group, other; 0o1000 the sticky bit). */
  async setPermission(path: string, permission: number): Promise<void> {
    await this.namenodeClient.setPermission({ path, permission });
  }

  /** chown / chgrp: a new owner (superuser only) and/or group; '' or undefined leaves one as is. */
  async setOwner(path: string, owner: { owner?: string; group?: string }): Promise<void> {
    await this.namenodeClient.setOwner({ path, owner: owner.owner ?? '', group: owner.group ?? '' });
  }

  stat(path: string): Promise<FileStatus> {
    return this.namenodeClient.stat({ path });
  }

  /** Returns null instead of throwing when the path does not exist. */
  async exists(path: string): Promise<FileStatus | null> {
    try {
      return await this.stat(path);
    } catch (err) {
      if (err instanceof DfsError && err.code === 'NOT_FOUND') return null;
      throw err;
    }
  }

  /** One page of a directory listing, names after `startAfter` in byte order. */
  listPage(
    path: string,
    startAfter = '',
    limit = LIST_LIMIT_DEFAULT,
  ): Promise<{ entries: FileStatus[]; hasMore: boolean }> {
    return this.namenodeClient.list({ path, startAfter, limit });
  }

  /** Every entry of a directory, fetched page by page. */
  async *list(path: string, pageSize = LIST_LIMIT_DEFAULT): AsyncGenerator<FileStatus> {
    let startAfter = '';
    for (;;) {
      const page = await this.listPage(path, startAfter, pageSize);
      for (const e of page.entries) yield e;
      if (!page.hasMore || page.entries.length === 0) return;
      startAfter = page.entries[page.entries.length - 1]!.path;
    }
  }

  async delete(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    await this.namenodeClient.delete({ path, recursive: options.recursive ?? false });
  }

  async rename(src: string, dst: string): Promise<void> {
    await this.namenodeClient.rename({ src, dst });
  }

  serverInfo(): Promise<ServerInfo> {
    return this.namenodeClient.serverInfo();
  }

  /** Every DataNode the NameNode knows, live or dead, with its capacity. */
  async datanodeReport(): Promise<import('../../protocol/admin-namenode-messages.js').DatanodeReportEntry[]> {
    return (await this.namenodeClient.datanodeReport()).nodes;
  }

  // ---- administration --------------------------------------------------------------

  /** Safe mode state; `action` enters or leaves it (operators: needs role ADMIN). */
  safeMode(action: 'get' | 'enter' | 'leave' = 'get'): Promise<SafeModeResponse> {
    return this.namenodeClient.safeMode({
      action:
        action === 'enter'
          ? SafeModeAction.ENTER
          : action === 'leave'
            ? SafeModeAction.LEAVE
            : SafeModeAction.GET,
    });
  }

  /** Resolves once safe mode is off (polling), or fails with TIMEOUT. */
  async waitSafeModeOff(timeoutMs = 600_000, pollMs = 500): Promise<SafeModeResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.safeMode('get');
      if (!s.on) return s;
      if (Date.now() > deadline)
        throw new DfsError('TIMEOUT', `still in safe mode after ${timeoutMs} ms: ${s.status}`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /** Changes a file's target replication; the NameNode adds or removes replicas. */
  /** Directories, files, bytes and space beneath `path`, and its quotas (HDFS getContentSummary). */
  contentSummary(path: string): Promise<ContentSummary> {
    return this.namenodeClient.contentSummary({ path });
  }

  /**
   * Sets a directory's name quota (files and directories, itself included) and space quota
   * (bytes with replicas): a number, QUOTA_NONE (0) to remove, QUOTA_UNCHANGED to leave as is.
   * Needs an ADMIN client.
   */
  async setQuota(path: string, quotas: { names?: number; bytes?: number }): Promise<void> {
    await this.namenodeClient.setQuota({
      path,
      nsQuota: quotas.names ?? QUOTA_UNCHANGED,
      dsQuota: quotas.bytes ?? QUOTA_UNCHANGED,
    });
  }

  async setReplication(path: string, replication: number): Promise<void> {
    await this.namenodeClient.setReplication({ path, replication });
  }

  /** Drains a DataNode (id or HOST:PORT) before it leaves, or returns it to service (role ADMIN). */
  async decommission(node: string, on = true): Promise<void> {
    await this.namenodeClient.decommission({
      node,
      action: on ? DecommissionAction.DECOMMISSION : DecommissionAction.RECOMMISSION,
    });
  }

  replicationStats(): Promise<ReplicationStatsResponse> {
    return this.namenodeClient.replicationStats();
  }

  /** One page of a file's block health: every replica with its state, and a verdict per block. */
  blockHealthPage(path: string, startBlock = 0, limit = 0): Promise<BlockHealthResponse> {
    return this.namenodeClient.blockHealth({ path, startBlock, limit });
  }

  /** A file's replication and the health of every block, fetched page by page. */
  async blockHealth(
    path: string,
  ): Promise<{ replication: number; fileLength: number; blocks: BlockHealth[] }> {
    const first = await this.blockHealthPage(path);
    const blocks = [...first.blocks];
    for (let page = first; page.hasMore && page.blocks.length > 0;) {
      page = await this.blockHealthPage(path, blocks.length);
      blocks.push(...page.blocks);
    }
    return { replication: first.replication, fileLength: first.fileLength, blocks };
  }

  /** The whole-file checksum the DataNodes compute from their stored chunk checksums (./file-checksum.ts). */
  checksum(path: string): Promise<FileChecksum> {
    return fileChecksum(this, path);
  }

  getBlockLocations(path: string, offset = 0, length = 0): Promise<LocatedBlocks> {
    return this.namenodeClient.getBlockLocations({ path, offset, length });
  }

  // ---- streams ---------------------------------------------------------------------

  /** A Writable that creates `path` and stores what is written to it; 'finish' = complete. */
  create(path: string, options: OutputStreamOptions = {}): DfsOutputStream {
    return this.track(new DfsOutputStream(this, path, options));
  }

  /**
   * A Writable that continues the existing file `path` (HDFS append): it takes the file's
   * lease (LEASE_CONFLICT while another writer holds it, RECOVERY_IN_PROGRESS while an
   * abandoned one is recovered) and continues its last block, or adds blocks after it.
   * The stream's hflush()/hsync() make what was written so far visible / durable.
   */
  append(
    path: string,
    options: Omit<OutputStreamOptions, 'append' | keyof CreateOptions> = {},
  ): DfsOutputStream {
    return this.track(new DfsOutputStream(this, path, { ...options, append: true }));
  }

  private track(out: DfsOutputStream): DfsOutputStream {
    this.outputStreams.add(out);
    out.once('close', () => this.outputStreams.delete(out));
    return out;
  }

  /** A Readable (async-iterable) over `path`, or a range of it. */
  open(path: string, options: InputStreamOptions = {}): DfsInputStream {
    return new DfsInputStream(this.namenodeClient, path, options, this.shortCircuitReads);
  }

  /**
   * Streams a local file into DFS, read straight into the stream's recycled packet buffers
   * (./local-transfer.ts).
   */
  async put(localPath: string, remotePath: string, options: OutputStreamOptions = {}): Promise<void> {
    const file = await fsp.open(localPath, 'r');
    try {
      await uploadFile(this.create(remotePath, options), file);
    } finally {
      await file.close();
    }
  }

  /** Streams a DFS file into a local file, each packet written before the next is read (./local-transfer.ts). */
  async get(remotePath: string, localPath: string, options: InputStreamOptions = {}): Promise<void> {
    const input = this.open(remotePath, options);
    let file: fsp.FileHandle;
    try {
      file = await fsp.open(localPath, 'w');
    } catch (err) {
      input.destroy();
      throw err;
    }
    try {
      await downloadToFile(input, file, options.signal);
    } finally {
      await file.close();
    }
  }

  // ---- low-level write protocol (tests and benchmarks drive it call by call) ---------

  async createFile(path: string, options: CreateOptions = {}): Promise<FileStatus> {
    const status = await this.namenodeClient.create(createRequest(this, path, options));
    this.beginFileLease(path);
    return status;
  }

  addBlock(path: string, previous: Block | null, excludeNodes: string[] = []): Promise<LocatedBlock> {
    return this.namenodeClient.addBlock({
      path,
      clientName: this.clientName,
      previous,
      excludeNodes,
      reservedBlockId: 0,
    });
  }

  async abandonBlock(path: string, blockId: number): Promise<void> {
    await this.namenodeClient.abandonBlock({ path, clientName: this.clientName, blockId });
  }

  async completeFile(path: string, last: Block | null): Promise<boolean> {
    const { completed } = await this.namenodeClient.complete({ path, clientName: this.clientName, last });
    if (completed) this.endFileLease(path);
    return completed;
  }

  // ---- the lease ---------------------------------------------------------------------

  /** `path` is open for writing: the lease is renewed until endFileLease. */
  beginFileLease(path: string): void {
    this.openFiles.add(path);
    this.startRenewing();
  }

  /** `path` is complete, or abandoned (the NameNode recovers it once the lease expires). */
  endFileLease(path: string): void {
    this.openFiles.delete(path);
    if (this.openFiles.size === 0) this.stopRenewing();
  }

  private startRenewing(): void {
    if (this.renewTimer !== null) return;
    this.renewTimer = setInterval(() => {
      this.namenodeClient.renewLease({ clientName: this.clientName }).catch(rethrowIfBug);
    }, this.leaseRenewIntervalMs);
    this.renewTimer.unref();
  }

  private stopRenewing(): void {
    if (this.renewTimer !== null) clearInterval(this.renewTimer);
    this.renewTimer = null;
  }
}
