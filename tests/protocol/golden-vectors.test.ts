/**
 * The golden vectors in protocol/golden-vectors.json, checked in both directions: every
 * vector decodes to its stated values (delivered whole, byte by byte, split at every
 * offset, and all together in one buffer), and encoding those values gives its bytes.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import xxhash from 'xxhash-wasm';
import {
  checksumTypeName,
  CommandType,
  ERROR_CODES,
  FrameDecoder,
  HANDSHAKE_BYTES,
  HELLO_HEAD_BYTES,
  PACKET_HEADER_BYTES,
  FRAME_HEADER_BYTES,
  dataCodecs,
  rpcCodecs,
  type ChecksumType,
  type Frame,
  type FrameDecoderOptions,
} from '../../protocol/index.js';
import {
  Rng,
  decodePieces,
  decodeVectorHandshake,
  decodeVectorMessage,
  encodeVector,
  isFrameVector,
  loadGoldenVectors,
  packetChecksums,
  snapshot,
  xxh32Reference,
  xxh64Reference,
  xxh3Reference,
  type DecodedFrameJson,
  type GoldenVector,
} from './protocol-support.js';
import { initChecksum, xxh3 } from '../../src/common/checksum.js';

const vectors = loadGoldenVectors();
const frameVectors = vectors.filter(isFrameVector);
const handshakeVectors = vectors.filter((v) => !isFrameVector(v));
// No opcode validator here: one decoder sees requests, responses and data frames alike.
const options: FrameDecoderOptions = { bodyBytesMax: 1 << 20 };

function bytesOf(v: GoldenVector): Buffer {
  return Buffer.from(v.hex, 'hex');
}

/** Decodes whole and checks the frame header and the message against the vector. */
function checkDecoded(v: GoldenVector, frame: Frame): void {
  const d = v.decoded as unknown as DecodedFrameJson;
  expect({
    kind: frame.kind,
    opcode: frame.opcode,
    flags: frame.flags,
    requestId: frame.requestId,
    bodyBytes: frame.body.length,
  }).toEqual(d.frame);
  expect(decodeVectorMessage(v, frame)).toEqual(d.message);
}

describe('golden vectors: the file', () => {
  it('has unique names and lowercase hex', () => {
    expect(new Set(vectors.map((v) => v.name)).size).toBe(vectors.length);
    for (const v of vectors) expect(v.hex, v.name).toMatch(/^([0-9a-f]{2})+$/);
  });

  it('covers the handshake, every NameNode RPC both ways, errors, data ops, packets and acks', () => {
    const has = (type: string, rpc?: string): boolean =>
      vectors.some((v) => v.type === type && (rpc === undefined || v.rpc === rpc));
    expect(has('hello')).toBe(true);
    expect(has('helloReply')).toBe(true);
    for (const rpc of Object.keys(rpcCodecs)) {
      expect(has('request', rpc), `${rpc} request`).toBe(true);
      expect(has('response', rpc), `${rpc} response`).toBe(true);
    }
    for (const rpc of Object.keys(dataCodecs)) {
      expect(has('dataRequest', rpc), `${rpc} request`).toBe(true);
      expect(has('dataResponse', rpc), `${rpc} response`).toBe(true);
    }
    expect(has('error')).toBe(true);
    expect(has('packet')).toBe(true);
    expect(has('ack')).toBe(true);
    expect(vectors.some((v) => v.type === 'helloReply' && v.decoded['status'] === 1)).toBe(true);
  });

  it('heartbeat answers show every CommandType; the DataNode-only refusals have error vectors', () => {
    const types = new Set<number>();
    for (const v of vectors.filter((x) => x.type === 'response' && x.rpc === 'heartbeat')) {
      const m = (v.decoded as unknown as DecodedFrameJson).message as { commands: Array<{ type: number }> };
      for (const c of m.commands) types.add(c.type);
    }
    expect([...types].sort()).toEqual(Object.values(CommandType).sort());
    const errorCodes = vectors
      .filter((v) => v.type === 'error')
      .map((v) => (v.decoded as unknown as DecodedFrameJson).message['code']);
    expect(errorCodes).toEqual(expect.arrayContaining(['ACCESS_DENIED', 'WRONG_CLUSTER']));
  });
});

describe('PROTOCOL.md agrees with the codecs', () => {
  const spec = readFileSync(new URL('../../protocol/PROTOCOL.md', import.meta.url), 'utf8');

  it('the RPC table in section 6 lists every RPC with its opcode and Mutates column, and nothing else', () => {
    // Rows like: | `0x01` | `mkdir` | yes | ... |
    const rows = [...spec.matchAll(/^\| `0x([0-9A-Fa-f]{2})` \| `(\w+)`\s*\| (yes|no)\s*\|/gm)];
    const table = Object.fromEntries(
      rows.map((m) => [m[2]!, { opcode: parseInt(m[1]!, 16), mutates: m[3] === 'yes' }]),
    );
    const codecs = Object.fromEntries(
      Object.entries(rpcCodecs).map(([n, c]) => [n, { opcode: c.opcode, mutates: c.mutates }]),
    );
    expect(table).toEqual(codecs);
    expect(rows.length).toBe(Object.keys(rpcCodecs).length);
  });

  it('every RPC has its own section', () => {
    for (const [name, c] of Object.entries(rpcCodecs)) {
      const heading = `### 0x${c.opcode.toString(16).toUpperCase().padStart(2, '0')} ${name}`;
      expect(spec.includes(`\n${heading}\n`), heading).toBe(true);
    }
  });
});

describe('golden vectors: handshake', () => {
  for (const v of handshakeVectors) {
    it(`${v.name}: decodes and re-encodes`, () => {
      const bytes = bytesOf(v);
      const userBytes = v.type === 'hello' ? Buffer.byteLength(v.decoded['user'] as string) : 0;
      expect(bytes.length).toBe(v.type === 'hello' ? HELLO_HEAD_BYTES + userBytes : HANDSHAKE_BYTES);
      expect(decodeVectorHandshake(v, bytes)).toEqual(v.decoded);
      expect(encodeVector(v).toString('hex')).toBe(v.hex);
    });
  }
});

describe('golden vectors: frames', () => {
  for (const v of frameVectors) {
    describe(v.name, () => {
      const bytes = bytesOf(v);

      it('the length field counts the bytes after it', () => {
        expect(bytes.readUInt32BE(0)).toBe(bytes.length - 4);
      });

      it('decodes whole to the stated values', () => {
        const frames: Frame[] = [];
        new FrameDecoder(options).push(bytes, (f) => frames.push(f));
        expect(frames).toHaveLength(1);
        checkDecoded(v, frames[0]!);
      });

      it('encodes the stated values to the same bytes', () => {
        expect(encodeVector(v).toString('hex')).toBe(v.hex);
      });

      it('decodes byte by byte to the same frame', () => {
        const whole = decodePieces([bytes], options);
        const decoder = new FrameDecoder(options);
        const frames: Frame[] = [];
        for (let i = 0; i < bytes.length; i++) {
          decoder.push(bytes.subarray(i, i + 1), (f) => frames.push(f));
          // Nothing is delivered before the last byte.
          expect(frames.length).toBe(i === bytes.length - 1 ? 1 : 0);
        }
        expect(decoder.idle).toBe(true);
        expect(frames.map(snapshot)).toEqual(whole);
        checkDecoded(v, frames[0]!);
      });

      it('decodes split at every offset into two pieces to the same frame', () => {
        const whole = decodePieces([bytes], options);
        for (let at = 0; at <= bytes.length; at++) {
          const decoder = new FrameDecoder(options);
          const frames: Frame[] = [];
          decoder.push(bytes.subarray(0, at), (f) => frames.push(f));
          decoder.push(bytes.subarray(at), (f) => frames.push(f));
          expect(frames.map(snapshot), `split at ${at}`).toEqual(whole);
          checkDecoded(v, frames[0]!);
        }
      });
    });
  }

  it('all frame vectors concatenated in one buffer decode in order', () => {
    const all = Buffer.concat(frameVectors.map(bytesOf));
    const frames: Frame[] = [];
    new FrameDecoder(options).push(all, (f) => frames.push(f));
    expect(frames).toHaveLength(frameVectors.length);
    frameVectors.forEach((v, i) => checkDecoded(v, frames[i]!));
  });

  it('all frame vectors concatenated and cut at random give the same frames', () => {
    const all = Buffer.concat(frameVectors.map(bytesOf));
    const whole = decodePieces([all], options);
    const rng = new Rng(0x601de);
    for (let round = 0; round < 200; round++) {
      expect(decodePieces(rng.split(all, rng.range(2, 200)), options), `round ${round}`).toEqual(whole);
    }
  });
});

describe('golden vectors: packet checksums', () => {
  it('the reference xxh64 matches published values and xxhash-wasm', async () => {
    expect(xxh64Reference(Buffer.alloc(0))).toBe(0xef46db3751d8e999n);
    expect(xxh64Reference(Buffer.from('abc'))).toBe(0x44bc2cf5ad770999n);
    const api = await xxhash();
    const rng = new Rng(11);
    for (let i = 0; i < 200; i++) {
      const b = rng.bytes(rng.int(100));
      expect(xxh64Reference(b)).toBe(api.h64Raw(b, 0n));
    }
  });

  it('the reference xxh3 (hash-wasm) matches the published value and the native xxhash-addon', async () => {
    expect(xxh3Reference(Buffer.alloc(0)).toString('hex')).toBe('2d06800538d394c2');
    await initChecksum();
    const rng = new Rng(13);
    for (let i = 0; i < 200; i++) {
      const b = rng.bytes(rng.int(300));
      expect(xxh3Reference(b)).toEqual(Buffer.from(xxh3(b)));
    }
  });

  it('the reference xxh32 matches published values and xxhash-wasm', async () => {
    expect(xxh32Reference(Buffer.alloc(0))).toBe(0x02cc5d05);
    expect(xxh32Reference(Buffer.from('a'))).toBe(0x550d7456);
    expect(xxh32Reference(Buffer.from('abc'))).toBe(0x32d153ff);
    expect(xxh32Reference(Buffer.from('Nobody inspects the spammish repetition'))).toBe(0xe2293b2f);
    const api = await xxhash();
    const h32Raw = api.h32Raw.bind(api);
    const rng = new Rng(7);
    for (let i = 0; i < 200; i++) {
      const b = rng.bytes(rng.int(100));
      expect(xxh32Reference(b)).toBe(h32Raw(b, 0) >>> 0);
    }
  });

  for (const v of frameVectors.filter((x) => x.type === 'packet')) {
    const type = v.checksumType as ChecksumType;
    it(`${v.name}: checksums are ${checksumTypeName(type)} (seed 0, big-endian) of each chunk`, () => {
      const body = Buffer.from(v.hex, 'hex').subarray(FRAME_HEADER_BYTES);
      const payloadBytes = body.readUInt32BE(28);
      const payload = body.subarray(body.length - payloadBytes);
      const sums = packetChecksums(payload, v.chunkBytes!, xxh32Reference, type);
      expect(body.subarray(PACKET_HEADER_BYTES, PACKET_HEADER_BYTES + sums.length).toString('hex')).toBe(
        sums.toString('hex'),
      );
      expect(body.length).toBe(PACKET_HEADER_BYTES + sums.length + payloadBytes);
    });
  }
});

describe('golden vectors: checked by hand against PROTOCOL.md', () => {
  const byName = (name: string): Buffer => bytesOf(vectors.find((v) => v.name === name)!);

  it('hello: "DFS1", version 1, role CLIENT, userBytes 5, client id, "alice"', () => {
    expect(byName('hello from a client acting for user alice').toString('hex')).toBe(
      '44465331' + '0001' + '01' + '05' + '00112233445566778899aabbccddeeff' + '616c696365',
    );
    expect(byName('hello from a datanode (no user, no client id)').toString('hex')).toBe(
      '44465331' + '0001' + '02' + '00' + '00'.repeat(16),
    );
  });

  it('mkdir request: header then str path, bool parents and u16 permission', () => {
    expect(byName('mkdir request').toString('hex')).toBe(
      '00000018' +
        '01' +
        '01' +
        '0000' +
        '00000001' +
        '000b' +
        Buffer.from('/user/alice').toString('hex') +
        '01' +
        '01ed',
    );
  });

  it('getBlockLocations request: length 2^53-1 is 001fffffffffffff', () => {
    expect(byName('getBlockLocations request (whole file)').toString('hex')).toBe(
      '0000001c' +
        '01' +
        '0b' +
        '0000' +
        '0000000e' +
        '0002' +
        '2f66' +
        '0000000000000000' +
        '001fffffffffffff',
    );
  });

  it('error frame: u16 code (NOT_FOUND = 3) then str message', () => {
    expect(ERROR_CODES.NOT_FOUND).toBe(3);
    const msg = Buffer.from('no such file: /nope');
    expect(byName('error frame NOT_FOUND answering a stat').toString('hex')).toBe(
      '0000001f' + '03' + '03' + '0000' + '00000004' + '0003' + '0013' + msg.toString('hex'),
    );
  });

  it('ack: seqno u64, count u8, statuses', () => {
    expect(byName('ACK (third node ERROR_CHECKSUM)').toString('hex')).toBe(
      '00000014' + '05' + '00' + '0000' + '00000001' + '0000000000000001' + '03' + '000002',
    );
  });

  /** A str field by hand: u16 byte length, then the UTF-8 bytes. */
  const str = (s: string): string =>
    Buffer.byteLength(s).toString(16).padStart(4, '0') + Buffer.from(s).toString('hex');
  /** A Block by hand: blockId, genStamp, numBytes (u64 each, given as 16 hex digits). */
  const blk = (id: string, gen: string, bytes: string): string => id + gen + bytes;

  it('register request: clusterId, nodeId, host, port, httpPort, the three storage u64s, u32 failedVolumes', () => {
    expect(byName('register request').toString('hex')).toBe(
      '00000042' +
        '01' +
        '20' +
        '0000' +
        '00000001' +
        str('CID-7f3a') +
        str('dn-1') +
        str('10.0.0.1') +
        '268a' +
        '268c' +
        '0000010000000000' +
        '0000000008000005' +
        '0000008000000000' +
        '00000000',
    );
  });

  it('heartbeat request: nodeId, capacity, used, remaining, u32 failedVolumes, u32 activeTransfers, volumes', () => {
    expect(byName('heartbeat request').toString('hex')).toBe(
      '00000066' +
        '01' +
        '21' +
        '0000' +
        '00000003' +
        str('dn-1') +
        '0000010000000000' +
        '0000000008000005' +
        '0000008000000000' +
        '00000001' +
        '00000001' +
        // list<VolumeReport>: two; each path, u64 capacity, u64 used, u8 failed.
        '00000002' +
        str('/data/1') +
        '0000010000000000' +
        '0000000008000005' +
        '00' +
        str('/data/2') +
        '0000000000000000' +
        '0000000000000000' +
        '01',
    );
  });

  it('haStatus response: u8 role, str nodeId, u64 epoch, applied and head txids, str activeId and activeAddress, u64 activeEpoch', () => {
    expect(byName('haStatus response (a standby following the active nn1)').toString('hex')).toBe(
      '00000042' +
        '02' +
        '1c' +
        '0000' +
        '00000028' +
        '02' +
        str('nn2') +
        '0000000000000000' +
        '00000000000003e8' +
        '00000000000003ea' +
        str('nn1') +
        str('10.0.0.1:8020') +
        '0000000000000007',
    );
    expect(byName('haFailover request (to nn2)').toString('hex')).toBe(
      '0000000d' + '01' + '1d' + '0000' + '00000029' + str('nn2'),
    );
  });

  it('register response: u64 epoch', () => {
    expect(byName('register response').toString('hex')).toBe(
      '00000010' + '02' + '20' + '0000' + '00000001' + '0000000000000007',
    );
  });

  it('heartbeat response: u64 epoch, list<command>, each u8 type, list<Block>, list<DatanodeInfo>', () => {
    expect(byName('heartbeat response (DELETE_BLOCKS and REPLICATE)').toString('hex')).toBe(
      '00000068' +
        '02' +
        '21' +
        '0000' +
        '00000004' +
        // epoch 7: the active's leader-key create revision.
        '0000000000000007' +
        '00000002' +
        // DELETE_BLOCKS (1): one block, no targets.
        '01' +
        '00000001' +
        blk('0000000040000001', '00000000000003e9', '0000000008000000') +
        '00000000' +
        // REPLICATE (2): one block, one target dn-3 at 10.0.0.3:9866.
        '02' +
        '00000001' +
        blk('0000000040000002', '00000000000003ea', '0000000000000005') +
        '00000001' +
        str('dn-3') +
        str('10.0.0.3') +
        '268a',
    );
    expect(byName('heartbeat response (REREGISTER after a NameNode restart)').toString('hex')).toBe(
      '0000001d' +
        '02' +
        '21' +
        '0000' +
        '00000005' +
        '0000000000000007' +
        '00000001' +
        '03' +
        '00000000' +
        '00000000',
    );
  });

  it('blockReceived request: nodeId, list<Block> received, list<u64> deleted', () => {
    expect(byName('blockReceived request (one new replica, one deleted)').toString('hex')).toBe(
      '00000036' +
        '01' +
        '22' +
        '0000' +
        '00000007' +
        str('dn-1') +
        '00000001' +
        blk('0000000040000003', '00000000000003eb', '000000000000002a') +
        '00000001' +
        '0000000040000001',
    );
  });

  it('datanodeReport response: list of 71 + N + H byte entries, state 1 live and 2 dead, failed volumes, last full report time and size, drain counts', () => {
    const entry = (
      id: string,
      host: string,
      state: string,
      used: string,
      failedVolumes: string,
      blocks: string,
      transfers: string,
      ago: string,
      report: string,
    ): string =>
      str(id) +
      str(host) +
      '268a' +
      state +
      '0000010000000000' +
      used +
      '0000008000000000' +
      failedVolumes +
      blocks +
      transfers +
      ago +
      report +
      // drainBlocks, drainStuckBlocks: neither node is decommissioning.
      '00000000' +
      '00000000';
    expect(byName('datanodeReport response (one live node, one dead)').toString('hex')).toBe(
      '000000b2' +
        '02' +
        '0f' +
        '0000' +
        '00000012' +
        '00000002' +
        // Last full report 2026-01-01T00:00:00Z (1767225600000 ms) listing 2 replicas.
        entry(
          'dn-1',
          '10.0.0.1',
          '01',
          '0000000008000005',
          '00000001',
          '00000002',
          '00000001',
          '00000000000004b0',
          '0000019b76daa800' + '00000002',
        ) +
        // A minute earlier, 1 replica.
        entry(
          'dn-3',
          '10.0.0.3',
          '02',
          '0000000000000005',
          '00000000',
          '00000000',
          '00000000',
          '000000000000afc8',
          '0000019b76d9bda0' + '00000001',
        ),
    );
  });

  it('triggerBlockReport (0x15): str node; answered with str nodeId and u64 lastBlockReportMs; DATANODE_DEAD (28) for a dead node', () => {
    expect(byName('triggerBlockReport request (by HOST:PORT)').toString('hex')).toBe(
      '00000017' + '01' + '15' + '0000' + '0000001b' + str('10.0.0.1:9866'),
    );
    expect(byName('triggerBlockReport response').toString('hex')).toBe(
      '00000016' + '02' + '15' + '0000' + '0000001b' + str('dn-1') + '0000019b76daa800',
    );
    expect(ERROR_CODES.DATANODE_DEAD).toBe(28);
    expect(byName('error frame DATANODE_DEAD answering a triggerBlockReport').toString('hex')).toBe(
      '0000006e' +
        '03' +
        '15' +
        '0000' +
        '0000001c' +
        '001c' +
        str(
          'DataNode 10.0.0.3:9866 is dead (no heartbeat for 45 s); it reports in full when it registers again',
        ),
    );
  });

  it('error frame ACCESS_DENIED (14) echoes the heartbeat opcode 0x21', () => {
    expect(ERROR_CODES.ACCESS_DENIED).toBe(14);
    expect(
      byName('error frame ACCESS_DENIED answering a heartbeat sent on a CLIENT connection').toString('hex'),
    ).toBe('0000002b' + '03' + '21' + '0000' + '00000005' + '000e' + str('heartbeat is for DataNodes only'));
  });

  it('blockHealth response: fileLength, replication, underConstruction, list<BlockHealth>, hasMore', () => {
    const replica = (id: string, host: string, state: string): string => str(id) + str(host) + '268a' + state;
    expect(
      byName(
        'blockHealth response (one healthy block, one under-replicated with a corrupt replica)',
      ).toString('hex'),
    ).toBe(
      '000000c1' +
        '02' +
        '14' +
        '0000' +
        '0000001a' +
        '0000000008000005' +
        '0003' +
        '00' +
        '00000002' +
        // HEALTHY (1): three LIVE replicas.
        blk('0000000040000001', '00000000000003e9', '0000000008000000') +
        '0000000000000000' +
        '01' +
        '00000003' +
        replica('dn-1', '10.0.0.1', '01') +
        replica('dn-2', '10.0.0.2', '01') +
        replica('dn-3', '10.0.0.3', '01') +
        // UNDER_REPLICATED (2): one LIVE replica, one CORRUPT (4).
        blk('0000000040000002', '00000000000003ea', '0000000000000005') +
        '0000000008000000' +
        '02' +
        '00000002' +
        replica('dn-1', '10.0.0.1', '01') +
        replica('dn-3', '10.0.0.3', '04') +
        '00',
    );
    // Replication lowered to 1: HEALTHY (1) with one LIVE replica; the surplus one is DELETING (6)
    // until its node confirms it gone. Frame of 99 bytes answering request 27; fileLength 5,
    // replication 1, not open, one block at offset 0.
    const lowered = byName(
      'blockHealth response (replication lowered to 1: one live replica, the surplus one being deleted)',
    );
    const loweredBlock = blk('0000000040000003', '00000000000003eb', '0000000000000005');
    expect(lowered.toString('hex')).toBe(
      ['00000063', '02', '14', '0000', '0000001b', '0000000000000005', '0001', '00', '00000001'].join('') +
        [loweredBlock, '0000000000000000', '01', '00000002'].join('') +
        [replica('dn-1', '10.0.0.1', '01'), replica('dn-2', '10.0.0.2', '06'), '00'].join(''),
    );
  });

  it('error frame ACCESS_DENIED (14) echoes the decommission opcode 0x12 (an admin RPC on a CLIENT connection)', () => {
    expect(
      byName('error frame ACCESS_DENIED answering a decommission sent on a CLIENT connection').toString(
        'hex',
      ),
    ).toBe(
      '0000003e' +
        '03' +
        '12' +
        '0000' +
        '00000017' +
        '000e' +
        str('decommission needs an ADMIN connection (dfs admin)'),
    );
  });

  it('READ_BLOCK response: u32 chunkBytes, u8 checksumType, u64 startOffset, u64 length', () => {
    for (const [name, type] of [
      ['READ_BLOCK response (an xxh32 replica)', '01'],
      ['READ_BLOCK response (an xxh64 replica)', '02'],
      ['READ_BLOCK response (an xxh3 replica)', '03'],
    ] as const) {
      expect(byName(name).toString('hex')).toBe(
        '0000001d' +
          '02' +
          '41' +
          '0000' +
          '00000002' +
          '00000008' +
          type +
          '0000000000000000' +
          '000000000000000b',
      );
    }
  });

  it('WRITE_BLOCK response: str firstBadLink, u8 checksumType (xxh64)', () => {
    expect(byName('WRITE_BLOCK response (dn-3 unreachable)').toString('hex')).toBe(
      '0000000f' + '02' + '40' + '0000' + '00000001' + str('dn-3') + '02',
    );
  });

  it('BLOCK_CHECKSUM response: the digest is SHA-256 of the stored checksums of the named algorithm', () => {
    const payload = Buffer.from('hello, dfs!');
    for (const [name, type] of [
      ['BLOCK_CHECKSUM response (xxh32: the digest of the checksums of the PACKET vector below)', 1],
      ['BLOCK_CHECKSUM response (xxh64: the digest of the checksums of the xxh64 PACKET vector below)', 2],
      ['BLOCK_CHECKSUM response (xxh3: the digest of the checksums of the xxh3 PACKET vector below)', 3],
    ] as const) {
      const body = byName(name).subarray(FRAME_HEADER_BYTES);
      expect(body.readUInt32BE(0)).toBe(8);
      expect(body.readUInt8(4)).toBe(type);
      const sums = packetChecksums(payload, 8, xxh32Reference, type);
      expect(body.subarray(13).toString('hex')).toBe(createHash('sha256').update(sums).digest('hex'));
    }
  });
});
