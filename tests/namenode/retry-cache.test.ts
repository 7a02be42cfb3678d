/**
 * The retry cache in process (src/namenode/retry-cache.ts), against fake connections and a
 * manual clock: which calls it keeps, a retry answered with the first answer frame, a retry
 * that comes while the first is still being journaled waiting for it, the bounds (entries
 * and expiry), answers rebuilt from replayed edits, and the RpcCall an edit record carries
 * (edit-ops.ts). The real-process tests are tests/faults/retried-calls-restart.test.ts and
 * tests/ha/retried-calls.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { DfsError } from '../../protocol/errors.js';
import { FrameDecoder } from '../../protocol/frame-decoder.js';
import type { Frame } from '../../protocol/frame.js';
import { NO_CLIENT_ID, Role } from '../../protocol/handshake.js';
import { decodeResponse, encodeResponse, isNamenodeReplyOpcode } from '../../protocol/namenode-messages.js';
import { WireReader } from '../../protocol/wire-reader.js';
import { WireWriter } from '../../protocol/wire-writer.js';
import { ManualClock } from '../../src/common/clock.js';
import type { ServerConnection } from '../../src/common/frame-server.js';
import { decodeEditOp, encodeEditOp, NONE, type EditOp } from '../../src/namenode/edit-ops.js';
import { Namespace } from '../../src/namenode/namespace.js';
import { RetryCache, type RetryLocator } from '../../src/namenode/retry-cache.js';

const CLIENT = 'ab'.repeat(16);

interface FakeConn {
  role: number;
  user: string;
  clientId: string;
  socket: { remoteAddress: string };
  begun: number;
  replies: Buffer[];
  errors: Array<{ requestId: number; code: string }>;
  begin(): void;
  reply(b: Buffer): void;
  replyError(opcode: number, requestId: number, err: DfsError): void;
}

function conn(user = 'alice', clientId = CLIENT, role: number = Role.CLIENT): FakeConn {
  return {
    role,
    user,
    clientId,
    socket: { remoteAddress: '127.0.0.1' },
    begun: 0,
    replies: [],
    errors: [],
    begin() {
      this.begun++;
    },
    reply(b) {
      this.replies.push(b);
    },
    replyError(_opcode, requestId, err) {
      this.errors.push({ requestId, code: err.code });
    },
  };
}
const sc = (c: FakeConn): ServerConnection => c as unknown as ServerConnection;

const noLocator: RetryLocator = {
  blocks: {
    recoveryCandidates: () => [],
    locations: () => [],
    chooseTargets: () => [],
    pipelineTargets: () => {},
  },
};

function cache(entriesMax = 100, expiryMs = 600_000): { rc: RetryCache; clock: ManualClock } {
  const clock = new ManualClock();
  return { rc: new RetryCache({ entriesMax, expiryMs, clock }), clock };
}

function decodeFrame(bytes: Buffer): Frame {
  const out: Frame[] = [];
  new FrameDecoder({ bodyBytesMax: 1 << 20, isKnownOpcode: isNamenodeReplyOpcode }).push(bytes, (f) =>
    out.push(f),
  );
  expect(out.length).toBe(1);
  return out[0]!;
}

const mkdirOp = (path: string): EditOp => ({ op: 'mkdir', path, parents: false, mtimeMs: 1 });

describe('RetryCache: live calls', () => {
  it('keeps at-most-once calls of a client with an id; not reads, idempotent mutations, DataNodes or a zero id', () => {
    const { rc } = cache();
    expect(rc.callOf(sc(conn()), 'mkdir', 7)).toEqual({ clientId: CLIENT, callId: 7 });
    expect(rc.callOf(sc(conn()), 'addBlock', 8)).toEqual({ clientId: CLIENT, callId: 8 });
    expect(rc.callOf(sc(conn()), 'stat', 9)).toBeUndefined();
    expect(rc.callOf(sc(conn()), 'setPermission', 9)).toBeUndefined();
    expect(rc.callOf(sc(conn('alice', NO_CLIENT_ID)), 'mkdir', 9)).toBeUndefined();
    expect(rc.callOf(sc(conn('', CLIENT, Role.DATANODE)), 'mkdir', 9)).toBeUndefined();
    expect(cache(0).rc.callOf(sc(conn()), 'mkdir', 9)).toBeUndefined(); // the cache off
  });

  it('a retry after the edit is durable gets the first answer frame; another user, call id or RPC does not', () => {
    const { rc } = cache();
    const first = conn();
    const op = mkdirOp('/d');
    const answer = encodeResponse('mkdir', 5, {});
    const settle = rc.started(sc(first), 'mkdir', 5, op, answer);
    expect(op.rpc).toEqual({ clientId: CLIENT, callId: 5 });
    settle(null);
    const retry = conn();
    expect(rc.answered(sc(retry), 'mkdir', 5, noLocator)).toBe(true);
    expect(retry.begun).toBe(1);
    expect(retry.replies).toEqual([answer]);
    expect(rc.answered(sc(conn('mallory')), 'mkdir', 5, noLocator)).toBe(false);
    expect(rc.answered(sc(conn()), 'mkdir', 6, noLocator)).toBe(false);
    expect(rc.answered(sc(conn()), 'delete', 5, noLocator)).toBe(false);
    expect(rc.answered(sc(conn('alice', 'cd'.repeat(16))), 'mkdir', 5, noLocator)).toBe(false);
  });

  it('a retry while the first is being journaled waits for it: its answer, or its error (then the entry is gone)', () => {
    const { rc } = cache();
    const answer = encodeResponse('mkdir', 5, {});
    const settle = rc.started(sc(conn()), 'mkdir', 5, mkdirOp('/d'), answer);
    const waiting = conn();
    expect(rc.answered(sc(waiting), 'mkdir', 5, noLocator)).toBe(true);
    expect(waiting.replies).toEqual([]);
    settle(null);
    expect(waiting.replies).toEqual([answer]);

    const failing = rc.started(sc(conn()), 'mkdir', 6, mkdirOp('/e'), encodeResponse('mkdir', 6, {}));
    const waiting2 = conn();
    expect(rc.answered(sc(waiting2), 'mkdir', 6, noLocator)).toBe(true);
    failing(new DfsError('FENCED', 'another NameNode holds a newer epoch'));
    expect(waiting2.errors).toEqual([{ requestId: 6, code: 'FENCED' }]);
    expect(rc.answered(sc(conn()), 'mkdir', 6, noLocator)).toBe(false);
  });

  it('bounded: the oldest entries go past entriesMax, and every entry after expiryMs', () => {
    const { rc, clock } = cache(3, 1000);
    for (let id = 1; id <= 5; id++)
      rc.started(sc(conn()), 'mkdir', id, mkdirOp(`/d${id}`), Buffer.alloc(12))(null);
    expect(rc.size).toBe(3);
    expect(rc.answered(sc(conn()), 'mkdir', 2, noLocator)).toBe(false);
    expect(rc.answered(sc(conn()), 'mkdir', 3, noLocator)).toBe(true);
    clock.advance(1000);
    expect(rc.answered(sc(conn()), 'mkdir', 5, noLocator)).toBe(false);
    rc.started(sc(conn()), 'mkdir', 6, mkdirOp('/d6'), Buffer.alloc(12))(null);
    expect(rc.size).toBe(1);
  });

  it('a replayed key moves to the back; a dropped entry leaves no hole in the order', () => {
    const { rc } = cache(3);
    const replayMkdir = (id: number): void =>
      rc.replayed({ ...mkdirOp(`/r${id}`), rpc: { clientId: CLIENT, callId: id } }, new Namespace());
    for (const id of [1, 2, 3]) replayMkdir(id);
    replayMkdir(1); // the same call replayed again (a re-read batch): the newest now
    rc.started(sc(conn()), 'mkdir', 4, mkdirOp('/d4'), Buffer.alloc(12))(new DfsError('FENCED', 'x'));
    replayMkdir(5);
    expect(rc.size).toBe(3);
    expect([1, 2, 3, 5].map((id) => rc.answered(sc(conn()), 'mkdir', id, noLocator))).toEqual([
      true,
      false,
      true,
      true,
    ]);
  });

  it('a full cache evicts in constant time per call (it walked the Map from its front: ~35 us each)', () => {
    const { rc } = cache(100_000);
    const add = (from: number, to: number): number => {
      const started = performance.now();
      for (let id = from; id <= to; id++)
        rc.started(sc(conn()), 'mkdir', id, mkdirOp('/d'), Buffer.alloc(12))(null);
      return performance.now() - started;
    };
    const filling = add(1, 100_000);
    const evicting = add(100_001, 300_000);
    expect(rc.size).toBe(100_000);
    expect(rc.answered(sc(conn()), 'mkdir', 200_001, noLocator)).toBe(true);
    expect(rc.answered(sc(conn()), 'mkdir', 200_000, noLocator)).toBe(false);
    // Twice the calls: about twice the time (the Map walk: 30 to 100 times).
    expect(evicting).toBeLessThan(8 * filling);
  });
});

describe('RetryCache: answers rebuilt from replayed edits', () => {
  it('create, rename and complete answer as they did; addBlock names the DataNodes at the first retry, the same ones after', () => {
    const { rc } = cache();
    const ns = new Namespace();
    const call = (callId: number): { clientId: string; callId: number } => ({ clientId: CLIENT, callId });
    const ops: EditOp[] = [
      { op: 'mkdir', path: '/d', parents: false, mtimeMs: 1, rpc: call(1) },
      {
        op: 'create',
        path: '/d/f',
        clientName: 'w',
        overwrite: false,
        createParent: false,
        replication: 1,
        blockBytes: 4096,
        mtimeMs: 2,
        rpc: call(2),
      },
      {
        op: 'addBlock',
        path: '/d/f',
        clientName: 'w',
        previousNumBytes: NONE,
        blockId: 1,
        genStamp: 1,
        rpc: call(3),
      },
      { op: 'complete', path: '/d/f', clientName: 'w', lastNumBytes: 100, mtimeMs: 3, rpc: call(4) },
      { op: 'rename', src: '/d/f', dst: '/d/g', mtimeMs: 4, rpc: call(5) },
    ];
    let createdStatus: unknown;
    for (const op of ops) {
      ns.apply(op, true);
      rc.replayed(op, ns);
      if (op.op === 'create') createdStatus = { ...ns.stat('/d/f') };
    }
    const answerOf = (name: 'create' | 'addBlock' | 'complete' | 'rename', id: number): unknown => {
      const c = conn('bob');
      expect(rc.answered(sc(c), name, id, locator)).toBe(true);
      expect(c.errors).toEqual([]);
      const frame = decodeFrame(c.replies[0]!);
      expect(frame.requestId).toBe(id);
      return decodeResponse(name, frame);
    };
    const dn = { nodeId: 'DN-1', host: '127.0.0.1', port: 9866 };
    const picked: string[][] = [];
    const locator: RetryLocator = {
      blocks: {
        ...noLocator.blocks,
        chooseTargets: () => [dn],
        pipelineTargets: (_b, nodes) => void picked.push([...nodes]),
      },
    };
    expect(answerOf('create', 2)).toEqual(createdStatus);
    const located = answerOf('addBlock', 3);
    expect(located).toEqual({ block: { blockId: 1, genStamp: 1, numBytes: 0 }, offset: 0, locations: [dn] });
    expect(answerOf('addBlock', 3)).toEqual(located);
    expect(picked).toEqual([['DN-1']]);
    expect(answerOf('complete', 4)).toEqual({ completed: true });
    expect(answerOf('rename', 5)).toEqual({});
    // The journal names no user: the first retry's user owns the entry from then on.
    expect(rc.answered(sc(conn('mallory')), 'rename', 5, locator)).toBe(false);
  });

  it('a replayed addBlock with no DataNode to name answers NOT_REPLICATED and keeps its entry', () => {
    const { rc } = cache();
    const ns = new Namespace();
    const create: EditOp = {
      op: 'create',
      path: '/f',
      clientName: 'w',
      overwrite: false,
      createParent: false,
      replication: 1,
      blockBytes: 4096,
      mtimeMs: 2,
    };
    const add: EditOp = {
      op: 'addBlock',
      path: '/f',
      clientName: 'w',
      previousNumBytes: NONE,
      blockId: 1,
      genStamp: 1,
      rpc: { clientId: CLIENT, callId: 9 },
    };
    for (const op of [create, add]) {
      ns.apply(op, true);
      rc.replayed(op, ns);
    }
    const c = conn();
    expect(rc.answered(sc(c), 'addBlock', 9, noLocator)).toBe(true);
    expect(c.errors).toEqual([{ requestId: 9, code: 'NOT_REPLICATED' }]);
    expect(rc.size).toBe(1);
  });
});

describe('edit records carry the call that made them', () => {
  it('code | 0x80, the client id and the call id before the body; without one, the record is as before', () => {
    const plain = mkdirOp('/d');
    const withCall: EditOp = { ...mkdirOp('/d'), rpc: { clientId: CLIENT, callId: 0xfffffffe } };
    const bytesOf = (op: EditOp): Buffer => {
      const w = new WireWriter(64);
      encodeEditOp(w, op);
      return Buffer.from(w.finish());
    };
    const a = bytesOf(plain);
    const b = bytesOf(withCall);
    expect(b[0]).toBe(a[0]! | 0x80);
    expect(b.subarray(1, 17).toString('hex')).toBe(CLIENT);
    expect(b.readUInt32BE(17)).toBe(0xfffffffe);
    expect(b.subarray(21)).toEqual(a.subarray(1));
    expect(decodeEditOp(new WireReader(a, 'op'))).toEqual(plain);
    expect(decodeEditOp(new WireReader(b, 'op'))).toEqual(withCall);
    expect(() => decodeEditOp(new WireReader(b.subarray(0, 10), 'op'))).toThrow(DfsError);
  });
});
