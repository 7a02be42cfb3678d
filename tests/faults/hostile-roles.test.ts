/**
 * Hostile traffic of every role on the NameNode's port (issue 15, item 7), from raw peers
 * against a real NameNode with a real DataNode: a DataNode of another cluster, a client
 * calling the DataNode-only RPCs, a DataNode-role peer reporting for a node that never
 * registered. Each gets its typed error; none leaves a trace in the NameNode's view of the
 * cluster (no phantom node, no phantom replica), and a normal client and the real DataNode
 * are served throughout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import { decodeError } from '../../protocol/error-frame.js';
import { FrameKind, type Frame } from '../../protocol/frame.js';
import { Role } from '../../protocol/handshake.js';
import { encodeRequest, type RpcName, type RpcRequest } from '../../protocol/namenode-messages.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { startCluster } from '../support/cluster.js';
import { putBuffer, getBuffer, testBytes, waitForDatanodes } from '../support/data-path.js';
import { RawPeer } from '../support/raw-peer.js';

let cluster: LocalCluster;
let cleanup: () => Promise<void>;
let client: DfsClient;
const peers: RawPeer[] = [];

beforeAll(async () => {
  ({ cluster, cleanup } = await startCluster({ datanodes: 1 }));
  client = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 10_000 });
  await waitForDatanodes(client, 1);
});

afterAll(async () => {
  for (const p of peers) p.destroy();
  client?.close();
  await cleanup?.();
});

/** Sends one request as `role` and returns the frame that answers it. */
async function ask<N extends RpcName>(role: number, name: N, req: RpcRequest<N>): Promise<Frame> {
  const peer = await RawPeer.connect(cluster.namenode.port);
  peers.push(peer);
  await peer.handshake(undefined, role);
  peer.write(encodeRequest(name, 7, req));
  for (let i = 0; i < 250 && peer.frames().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  const [frame] = peer.frames();
  expect(frame, `an answer to ${name}`).toBeDefined();
  return frame!;
}

async function expectRefused<N extends RpcName>(
  role: number,
  name: N,
  req: RpcRequest<N>,
  code: string,
): Promise<void> {
  const frame = await ask(role, name, req);
  expect(frame.kind, `${name} answered with an ERROR frame`).toBe(FrameKind.ERROR);
  expect(decodeError(frame).code, name).toBe(code);
}

const space = { capacityBytes: 1 << 30, usedBytes: 0, remainingBytes: 1 << 30, failedVolumes: 0 };
const phantom = 'DN-phantom';
const block = { blockId: 1_073_741_825, genStamp: 1001, numBytes: 10 };

describe('hostile peers of every role on the NameNode port', () => {
  it('a DataNode of another cluster is refused with WRONG_CLUSTER and never registered', async () => {
    await expectRefused(
      Role.DATANODE,
      'register',
      { clusterId: 'CID-someone-else', nodeId: phantom, host: '127.0.0.1', port: 1, httpPort: 0, ...space },
      'WRONG_CLUSTER',
    );
    expect((await client.datanodeReport()).map((n) => n.nodeId)).not.toContain(phantom);
  });

  it('a client calling the DataNode-only RPCs gets ACCESS_DENIED for each', async () => {
    const nodeId = (await client.datanodeReport())[0]!.nodeId;
    await expectRefused(
      Role.CLIENT,
      'register',
      { clusterId: 'whatever', nodeId: phantom, host: '127.0.0.1', port: 1, httpPort: 0, ...space },
      'ACCESS_DENIED',
    );
    await expectRefused(
      Role.CLIENT,
      'heartbeat',
      { nodeId, ...space, activeTransfers: 0, volumes: [] },
      'ACCESS_DENIED',
    );
    await expectRefused(
      Role.CLIENT,
      'blockReceived',
      { nodeId, received: [block], deleted: [] },
      'ACCESS_DENIED',
    );
    await expectRefused(Role.CLIENT, 'blockReport', { nodeId, blocks: [], unfinished: [] }, 'ACCESS_DENIED');
    await expectRefused(Role.CLIENT, 'unregister', { nodeId }, 'ACCESS_DENIED');
    // The real DataNode was not touched by any of it: still live, still holding what it held.
    const [real] = await client.datanodeReport();
    expect(real!.state).toBe(1);
  });

  it('reports for a node that never registered are refused and leave no replica behind', async () => {
    await expectRefused(
      Role.DATANODE,
      'blockReport',
      { nodeId: phantom, blocks: [block], unfinished: [] },
      'NOT_FOUND',
    );
    const received = await ask(Role.DATANODE, 'blockReceived', {
      nodeId: phantom,
      received: [block],
      deleted: [],
    });
    if (received.kind === FrameKind.ERROR) expect(decodeError(received).code).toBe('NOT_FOUND');
    // unregister of an unknown node is answered empty (PROTOCOL.md 0x25) and changes nothing.
    expect((await ask(Role.DATANODE, 'unregister', { nodeId: phantom })).kind).toBe(FrameKind.RESPONSE);
    expect((await client.datanodeReport()).map((n) => n.nodeId)).not.toContain(phantom);
  });

  it('the cluster served a normal client throughout', async () => {
    const data = testBytes(300_000, 9);
    await putBuffer(client, '/after-hostile', data, { replication: 1 });
    expect((await getBuffer(client, '/after-hostile')).equals(data)).toBe(true);
    const located = (await client.getBlockLocations('/after-hostile', 0, 0)).blocks;
    for (const lb of located) expect(lb.locations.map((l) => l.nodeId)).not.toContain(phantom);
  });
});
