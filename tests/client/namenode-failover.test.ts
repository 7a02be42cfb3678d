/**
 * The client's side of the retry cache (src/client/namenode-failover.ts,
 * src/common/rpc-connection.ts), against a scripted NameNode that cuts the connection after
 * a request arrived, before answering: every connection's hello names the same client id,
 * and an at-most-once call (mkdir) is sent again on the new connection with the same
 * request id (its call id), where it is answered; a read is retried too; a mutation that is
 * idempotent but not in AT_MOST_ONCE_RPCS (setOwner) still fails with CONNECTION. Call ids
 * are unique across the client's calls.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeError } from '../../protocol/error-frame.js';
import { DfsError, MANUAL_SAFE_MODE } from '../../protocol/errors.js';
import { FrameDecoder } from '../../protocol/frame-decoder.js';
import type { Frame } from '../../protocol/frame.js';
import {
  decodeHello,
  encodeHelloReply,
  helloBytes,
  HandshakeStatus,
  NO_CLIENT_ID,
  Role,
} from '../../protocol/handshake.js';
import { HANDSHAKE_BYTES } from '../../protocol/limits.js';
import { encodeResponse, isNamenodeOpcode, rpcNameOf } from '../../protocol/namenode-messages.js';
import { FileType } from '../../protocol/shared-structures.js';
import { NamenodeClient } from '../../src/client/namenode-client.js';

interface Seen {
  clientId: string;
  name: string;
  requestId: number;
  connection: number;
}

/**
 * A NameNode that drops the first request of each RPC name (the connection cut), and answers
 * it the second time; with `refuse`, it refuses the first `times` mkdirs with that error
 * (SAFE_MODE by default) instead, and answers the next.
 */
async function flakyNamenode(refuse?: {
  times: number;
  message: string;
  code?: 'SAFE_MODE' | 'FENCED';
}): Promise<{ port: number; seen: Seen[]; close: () => void }> {
  const seen: Seen[] = [];
  const dropped = new Set<string>();
  let refusals = 0;
  let connections = 0;
  const server = net.createServer((socket) => {
    const connection = ++connections;
    let hello: Buffer | null = Buffer.alloc(0);
    let clientId = '';
    const decoder = new FrameDecoder({ bodyBytesMax: 1 << 20, isKnownOpcode: isNamenodeOpcode });
    const onFrame = (frame: Frame): void => {
      const name = rpcNameOf(frame.opcode)!;
      seen.push({ clientId, name, requestId: frame.requestId, connection });
      if (refuse !== undefined && name === 'mkdir' && refusals < refuse.times) {
        refusals++;
        const err = new DfsError(refuse.code ?? 'SAFE_MODE', refuse.message);
        socket.write(encodeError(frame.opcode, frame.requestId, err));
        return;
      }
      if (refuse === undefined && !dropped.has(name)) {
        dropped.add(name);
        socket.destroy();
        return;
      }
      if (name === 'mkdir') socket.write(encodeResponse('mkdir', frame.requestId, {}));
      if (name === 'stat') socket.write(encodeResponse('stat', frame.requestId, statOfRoot));
    };
    socket.on('data', (chunk: Buffer) => {
      if (hello !== null) {
        hello = Buffer.concat([hello, chunk]);
        if (hello.length < HANDSHAKE_BYTES || hello.length < helloBytes(hello)) return;
        const bytes = helloBytes(hello);
        clientId = decodeHello(hello.subarray(0, bytes)).clientId;
        chunk = hello.subarray(bytes);
        hello = null;
        socket.write(encodeHelloReply(HandshakeStatus.OK));
      }
      if (!socket.destroyed) decoder.push(chunk, onFrame);
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return { port, seen, close: () => server.close() };
}

const statOfRoot = {
  path: '/',
  type: FileType.DIRECTORY,
  length: 0,
  replication: 0,
  blockBytes: 0,
  mtimeMs: 1,
  blockCount: 0,
  underConstruction: false,
  childCount: 0,
  owner: 'hdfs',
  group: 'supergroup',
  permission: 0o755,
};

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A client of the scripted NameNode on `port` that retries through its failover loop. */
function connect(port: number): NamenodeClient {
  const client = new NamenodeClient({
    host: '127.0.0.1',
    port,
    role: Role.CLIENT,
    user: 'alice',
    requestTimeoutMs: 5000,
    failoverTimeoutMs: 10_000,
  });
  cleanups.push(() => client.close());
  return client;
}

describe('the client retries a call whose answer was lost, with the same call id', () => {
  it('an at-most-once mkdir and a read are sent again on a new connection with their request ids; setOwner is not', async () => {
    const nn = await flakyNamenode();
    cleanups.push(nn.close);
    const client = connect(nn.port);

    await client.mkdir({ path: '/d', parents: false, permission: 0o755 });
    expect(await client.stat({ path: '/' })).toEqual(statOfRoot);
    await expect(client.setOwner({ path: '/d', owner: 'bob', group: '' })).rejects.toMatchObject({
      code: 'CONNECTION',
    });

    const of = (name: string): Seen[] => nn.seen.filter((s) => s.name === name);
    for (const name of ['mkdir', 'stat']) {
      const [first, retry] = of(name);
      expect(of(name).length).toBe(2);
      expect(retry!.requestId).toBe(first!.requestId);
      expect(retry!.connection).toBeGreaterThan(first!.connection);
    }
    expect(of('setOwner').length).toBe(1);
    // One client id in every hello; a call id for each call, never reused by another call.
    expect(new Set(nn.seen.map((s) => s.clientId))).toEqual(new Set([client.clientId]));
    expect(client.clientId).not.toBe(NO_CLIENT_ID);
    expect(
      new Set([of('mkdir')[0]!.requestId, of('stat')[0]!.requestId, of('setOwner')[0]!.requestId]).size,
    ).toBe(3);
  });
});

describe('a client waits out a NameNode still in safe mode at start-up', () => {
  it('a refusal while block reports are awaited is retried until the NameNode takes the call', async () => {
    const nn = await flakyNamenode({
      times: 3,
      message: 'mkdir refused: safe mode is on: 0 of 3 blocks reported',
    });
    cleanups.push(nn.close);
    await connect(nn.port).mkdir({ path: '/d', parents: false, permission: 0o755 });
    expect(nn.seen.filter((s) => s.name === 'mkdir')).toHaveLength(4);
  });

  it("an operator's safe mode is not waited out", async () => {
    const nn = await flakyNamenode({
      times: 3,
      message: `mkdir refused: safe mode is on (${MANUAL_SAFE_MODE})`,
    });
    cleanups.push(nn.close);
    await expect(
      connect(nn.port).mkdir({ path: '/d', parents: false, permission: 0o755 }),
    ).rejects.toMatchObject({ code: 'SAFE_MODE' });
    expect(nn.seen.filter((s) => s.name === 'mkdir')).toHaveLength(1);
  });
});

describe('a call answered FENCED (its NameNode deposed while the call waited on the journal)', () => {
  it('is sent again with its call id, for the retry cache of the new active to answer', async () => {
    const nn = await flakyNamenode({ times: 1, code: 'FENCED', message: 'etcd journal refused the write' });
    cleanups.push(nn.close);
    const client = connect(nn.port);
    await client.mkdir({ path: '/d', parents: false, permission: 0o755 });
    const mkdirs = nn.seen.filter((s) => s.name === 'mkdir');
    expect(mkdirs).toHaveLength(2);
    expect(mkdirs[1]!.requestId).toBe(mkdirs[0]!.requestId);
  });
});
