/**
 * A stand-in DataNode for NameNode tests that need blocks but not bytes: it registers over
 * a DATANODE-role RPC connection and reports whatever replicas the test says it received,
 * so `addBlock` finds a target and `complete` finds the last block minimally replicated.
 * It stores nothing; a NameNode restart forgets it, so tests register a new one after each.
 * It registers like the bench's simulated DataNodes (bench/sim-datanodes.ts), which do the
 * same at scale with pre-encoded frames.
 */
import { Role } from '../../protocol/handshake.js';
import type { Block } from '../../protocol/shared-structures.js';
import { RpcConnection } from '../../src/common/rpc-connection.js';
import { standInRegistration } from '../../bench/sim-datanodes.js';

export class FakeDatanode {
  private constructor(
    readonly rpc: RpcConnection,
    readonly nodeId: string,
  ) {}

  static async register(
    namenode: { host: string; port: number },
    clusterId: string,
    nodeId = 'fake-dn-1',
  ): Promise<FakeDatanode> {
    const rpc = new RpcConnection({
      host: namenode.host,
      port: namenode.port,
      role: Role.DATANODE,
      requestTimeoutMs: 10_000,
    });
    await rpc.call('register', standInRegistration(clusterId, nodeId, 1));
    return new FakeDatanode(rpc, nodeId);
  }

  /** Tells the NameNode this node now holds `blocks` (an incremental block report). */
  async received(blocks: Block[]): Promise<void> {
    await this.rpc.call('blockReceived', { nodeId: this.nodeId, received: blocks, deleted: [] });
  }

  close(): void {
    this.rpc.close();
  }
}
