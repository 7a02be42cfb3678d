/**
 * connectPipeline (src/common/pipeline-connect.ts) against a scripted first node on
 * loopback: every answer a node can give to WRITE_BLOCK is judged as the decision table in
 * the file's header says, a peer's fault is an answer (never a throw), and the connection
 * is closed whenever the set-up failed (the scripted node sees its socket end).
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DfsError } from '../../protocol/errors.js';
import { encodeError } from '../../protocol/error-frame.js';
import { ChecksumType, DataOp, encodeDataResponse, WriteStage } from '../../protocol/data-messages.js';
import { encodeFrameHeader, FrameKind } from '../../protocol/frame.js';
import { encodeHelloReply, HandshakeStatus, Role } from '../../protocol/handshake.js';
import { HELLO_HEAD_BYTES } from '../../protocol/limits.js';
import type { DatanodeInfo } from '../../protocol/shared-structures.js';
import { connectPipeline } from '../../src/common/pipeline-connect.js';

interface Scripted {
  port: number;
  /** Resolves once the pipeline's connection to the scripted node has ended. */
  ended: Promise<void>;
  server: net.Server;
}

let servers: net.Server[] = [];
afterEach(async () => {
  for (const s of servers) await new Promise<void>((resolve) => s.close(() => resolve()));
  servers = [];
});

/** A first node that completes the handshake, then answers the first frame with `answer`. */
async function scriptedNode(answer: (requestId: number) => Buffer): Promise<Scripted> {
  let endedResolve!: () => void;
  const ended = new Promise<void>((resolve) => (endedResolve = resolve));
  const server = net.createServer((socket) => {
    let got = Buffer.alloc(0);
    let state: 'hello' | 'request' | 'answered' = 'hello';
    socket.on('data', (chunk) => {
      got = Buffer.concat([got, chunk]);
      if (state === 'hello' && got.length >= HELLO_HEAD_BYTES) {
        state = 'request';
        socket.write(encodeHelloReply(HandshakeStatus.OK));
      }
      if (state === 'request' && got.length >= HELLO_HEAD_BYTES + 12) {
        state = 'answered';
        socket.write(answer(got.readUInt32BE(HELLO_HEAD_BYTES + 8)));
      }
    });
    socket.on('end', () => endedResolve());
    socket.on('close', () => endedResolve());
    socket.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, ended, server };
}

const node = (port: number, nodeId = 'dn-first'): DatanodeInfo => ({ nodeId, host: '127.0.0.1', port });

function connect(port: number) {
  return connectPipeline({
    targets: [node(port), node(1, 'dn-second'), node(2, 'dn-third')],
    request: {
      block: { blockId: 9, genStamp: 1, numBytes: 0 },
      clientName: 'test',
      stage: WriteStage.CREATE,
      chunkBytes: 4096,
      checksumType: ChecksumType.XXH64,
    },
    requestId: 7,
    role: Role.CLIENT,
    idleTimeoutMs: 5_000,
  });
}

describe('connectPipeline', () => {
  it('a WRITE_BLOCK response with no bad link opens the pipeline', async () => {
    const s = await scriptedNode((id) =>
      encodeDataResponse('writeBlock', id, { firstBadLink: '', checksumType: ChecksumType.XXH64 }),
    );
    const result = await connect(s.port);
    expect(result.ok).toBe(true);
    if (result.ok) result.conn.close();
  });

  it('a firstBadLink further down blames that node and closes the connection', async () => {
    const s = await scriptedNode((id) =>
      encodeDataResponse('writeBlock', id, { firstBadLink: 'dn-third', checksumType: ChecksumType.XXH64 }),
    );
    const result = await connect(s.port);
    expect(result).toMatchObject({ ok: false, reason: 'downstream', badIndex: 2, badNodeId: 'dn-third' });
    await s.ended;
  });

  it('an ERROR frame is a refusal by the first node', async () => {
    const s = await scriptedNode((id) =>
      encodeError(DataOp.WRITE_BLOCK, id, new DfsError('NO_SPACE', 'disk full')),
    );
    const result = await connect(s.port);
    expect(result).toMatchObject({ ok: false, reason: 'refused', badIndex: 0, badNodeId: 'dn-first' });
    if (!result.ok) expect(result.err.code).toBe('NO_SPACE');
    await s.ended;
  });

  it('an ERROR frame that does not decode blames the first node, typed, and closes the connection', async () => {
    const s = await scriptedNode((id) =>
      Buffer.concat([encodeFrameHeader(FrameKind.ERROR, DataOp.WRITE_BLOCK, id, 1), Buffer.from([0xff])]),
    );
    const result = await connect(s.port);
    expect(result).toMatchObject({ ok: false, reason: 'failed', badIndex: 0, badNodeId: 'dn-first' });
    if (!result.ok) expect(result.err).toBeInstanceOf(DfsError);
    await s.ended;
  });

  it('a response that does not decode blames the first node and closes the connection', async () => {
    const s = await scriptedNode((id) =>
      Buffer.concat([encodeFrameHeader(FrameKind.RESPONSE, DataOp.WRITE_BLOCK, id, 1), Buffer.from([0x01])]),
    );
    const result = await connect(s.port);
    expect(result).toMatchObject({ ok: false, reason: 'failed', badIndex: 0 });
    await s.ended;
  });

  it('a node that refuses the connection is blamed without a throw', async () => {
    const s = await scriptedNode(() => Buffer.alloc(0));
    const port = s.port;
    await new Promise<void>((resolve) => s.server.close(() => resolve()));
    servers = servers.filter((x) => x !== s.server);
    const result = await connect(port);
    expect(result).toMatchObject({ ok: false, reason: 'failed', badIndex: 0, badNodeId: 'dn-first' });
  });
});
