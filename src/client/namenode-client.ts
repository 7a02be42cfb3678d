/**
 * The client's side of the NameNode protocol (HDFS `ClientProtocol`): one typed method per
 * RPC of protocol/PROTOCOL.md section 6 that a client may send, over one pipelined
 * connection (src/common/rpc-connection.ts) that nobody else can reach, or, given several
 * HA NameNodes, over namenode-failover.ts, which sends each call to the active. The DataNode RPCs
 * (register, heartbeat, blockReceived, blockReport) are not here: they belong to
 * src/datanode/namenode-link.ts.
 *
 * Each method takes the request with the fields PROTOCOL.md names and returns the decoded
 * response (nothing for an empty one), without defaults, retries or bookkeeping; those are
 * DfsClient's (dfs-client.ts), which composes this object. Code that needs a few of these
 * calls declares the few it uses (`Pick<NamenodeClient, ...>`, beside the consumer, as
 * block-writer.ts and the streams do), so it is tested against a fake of just those.
 */
import type { DatanodeRpcMessages } from '../../protocol/datanode-namenode-messages.js';
import type { Role } from '../../protocol/handshake.js';
import type { RpcName, RpcRequest, RpcResponse } from '../../protocol/namenode-messages.js';
import { randomBytes } from 'node:crypto';
import { CallIds, RpcConnection } from '../common/rpc-connection.js';
import { FailoverRpc, type RpcTransport } from './namenode-failover.js';

export interface NamenodeClientOptions {
  host: string;
  port: number;
  /** HA: every NameNode, `host`/`port` among them; calls fail over between them (namenode-failover.ts). */
  namenodes?: ReadonlyArray<{ host: string; port: number }>;
  /**
   * How long one call keeps failing over (default FAILOVER_TIMEOUT_MS). Given with a single
   * NameNode, calls wait for it that long too (a restart) and retry as across a failover.
   */
  failoverTimeoutMs?: number;
  /** The handshake role: CLIENT, or ADMIN for operator calls. */
  role: Role;
  /** The user every call acts for (named once, in the handshake). */
  user: string;
  requestTimeoutMs?: number;
}

/** The RPCs of section 6 a client sends: every one but the DataNode's own (DATANODE_RPCS). */
export type ClientRpcName = Exclude<RpcName, keyof DatanodeRpcMessages>;

export class NamenodeClient {
  private readonly rpc: RpcTransport;
  /** This client's name in every NameNode's retry cache (16 random bytes, the hello's client id). */
  readonly clientId = randomBytes(16).toString('hex');

  constructor(options: NamenodeClientOptions) {
    const { namenodes, ...rest } = options;
    const one = { ...rest, clientId: this.clientId, callIds: new CallIds() };
    const list = namenodes ?? [{ host: one.host, port: one.port }];
    this.rpc =
      list.length > 1 || options.failoverTimeoutMs !== undefined
        ? new FailoverRpc({ ...one, namenodes: list })
        : new RpcConnection(one);
  }

  /** "HOST:PORT" of the NameNode. */
  get address(): string {
    return this.rpc.address;
  }

  /** Fails every pending call with CONNECTION; later calls fail at once. */
  close(): void {
    this.rpc.close();
  }

  // ---- namespace (0x01-0x05) ---------------------------------------------------------

  async mkdir(req: RpcRequest<'mkdir'>): Promise<void> {
    await this.rpc.call('mkdir', req);
  }

  list(req: RpcRequest<'list'>): Promise<RpcResponse<'list'>> {
    return this.rpc.call('list', req);
  }

  stat(req: RpcRequest<'stat'>): Promise<RpcResponse<'stat'>> {
    return this.rpc.call('stat', req);
  }

  async delete(req: RpcRequest<'delete'>): Promise<void> {
    await this.rpc.call('delete', req);
  }

  async rename(req: RpcRequest<'rename'>): Promise<void> {
    await this.rpc.call('rename', req);
  }

  // ---- owners and permissions (0x18, 0x19) -------------------------------------------

  async setPermission(req: RpcRequest<'setPermission'>): Promise<void> {
    await this.rpc.call('setPermission', req);
  }

  async setOwner(req: RpcRequest<'setOwner'>): Promise<void> {
    await this.rpc.call('setOwner', req);
  }

  // ---- writing a file (0x06-0x0A, 0x0E, 0x1A) ----------------------------------------------

  create(req: RpcRequest<'create'>): Promise<RpcResponse<'create'>> {
    return this.rpc.call('create', req);
  }

  addBlock(req: RpcRequest<'addBlock'>): Promise<RpcResponse<'addBlock'>> {
    return this.rpc.call('addBlock', req);
  }

  /** The block after `afterBlockId`, reserved while that one still streams (0x1A); addBlock attaches it. */
  reserveBlock(req: RpcRequest<'reserveBlock'>): Promise<RpcResponse<'reserveBlock'>> {
    return this.rpc.call('reserveBlock', req);
  }

  complete(req: RpcRequest<'complete'>): Promise<RpcResponse<'complete'>> {
    return this.rpc.call('complete', req);
  }

  async abandonBlock(req: RpcRequest<'abandonBlock'>): Promise<void> {
    await this.rpc.call('abandonBlock', req);
  }

  async renewLease(req: RpcRequest<'renewLease'>): Promise<void> {
    await this.rpc.call('renewLease', req);
  }

  bumpGenStamp(req: RpcRequest<'bumpGenStamp'>): Promise<RpcResponse<'bumpGenStamp'>> {
    return this.rpc.call('bumpGenStamp', req);
  }

  /** Reopens a closed file for the caller (0x1F): its lease, and its last block if that has room. */
  append(req: RpcRequest<'append'>): Promise<RpcResponse<'append'>> {
    return this.rpc.call('append', req);
  }

  /** hflush: the block being written is readable up to `lastBlockLength` (0x1E). */
  async fsync(req: RpcRequest<'fsync'>): Promise<void> {
    await this.rpc.call('fsync', req);
  }

  // ---- reading a file (0x0B, 0x0D) ---------------------------------------------------

  getBlockLocations(req: RpcRequest<'getBlockLocations'>): Promise<RpcResponse<'getBlockLocations'>> {
    return this.rpc.call('getBlockLocations', req);
  }

  async reportBadBlocks(req: RpcRequest<'reportBadBlocks'>): Promise<void> {
    await this.rpc.call('reportBadBlocks', req);
  }

  // ---- the cluster and its administration (0x0C, 0x0F-0x17) --------------------------

  serverInfo(req: RpcRequest<'serverInfo'> = {}): Promise<RpcResponse<'serverInfo'>> {
    return this.rpc.call('serverInfo', req);
  }

  datanodeReport(req: RpcRequest<'datanodeReport'> = {}): Promise<RpcResponse<'datanodeReport'>> {
    return this.rpc.call('datanodeReport', req);
  }

  safeMode(req: RpcRequest<'safeMode'>): Promise<RpcResponse<'safeMode'>> {
    return this.rpc.call('safeMode', req);
  }

  async setReplication(req: RpcRequest<'setReplication'>): Promise<void> {
    await this.rpc.call('setReplication', req);
  }

  async decommission(req: RpcRequest<'decommission'>): Promise<void> {
    await this.rpc.call('decommission', req);
  }

  replicationStats(req: RpcRequest<'replicationStats'> = {}): Promise<RpcResponse<'replicationStats'>> {
    return this.rpc.call('replicationStats', req);
  }

  blockHealth(req: RpcRequest<'blockHealth'>): Promise<RpcResponse<'blockHealth'>> {
    return this.rpc.call('blockHealth', req);
  }

  triggerBlockReport(req: RpcRequest<'triggerBlockReport'>): Promise<RpcResponse<'triggerBlockReport'>> {
    return this.rpc.call('triggerBlockReport', req);
  }

  async setQuota(req: RpcRequest<'setQuota'>): Promise<void> {
    await this.rpc.call('setQuota', req);
  }

  contentSummary(req: RpcRequest<'contentSummary'>): Promise<RpcResponse<'contentSummary'>> {
    return this.rpc.call('contentSummary', req);
  }

  haStatus(req: RpcRequest<'haStatus'> = {}): Promise<RpcResponse<'haStatus'>> {
    return this.rpc.call('haStatus', req);
  }

  async haFailover(req: RpcRequest<'haFailover'>): Promise<void> {
    await this.rpc.call('haFailover', req);
  }
}

/** A client RPC added to the protocol without a method here does not compile. */
type Unserved = Exclude<ClientRpcName, keyof NamenodeClient>;
export const everyClientRpcServed: [Unserved] extends [never] ? true : Unserved = true;
