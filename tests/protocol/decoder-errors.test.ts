/**
 * One test per way untrusted bytes can be wrong, each asserting the typed error code
 * (PROTOCOL.md sections 3, 7 and 8), plus the decoder's stickiness after an error.
 */
import { describe, expect, it } from 'vitest';
import {
  ChecksumType,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameKind,
  HandshakeStatus,
  RPC_BODY_BYTES_MAX,
  DATA_BODY_BYTES_MAX,
  Role,
  WireReader,
  BlockColumns,
  checkHelloReply,
  dataCodecs,
  decodeAck,
  decodeDataBody,
  decodeError,
  decodeHello,
  decodeHelloReply,
  decodePacket,
  decodeRequest,
  decodeResponse,
  encodeAck,
  encodeDataRequest,
  encodeError,
  encodeHello,
  encodeHelloReply,
  encodePacketHeader,
  encodeRequest,
  encodeResponse,
  DfsError,
  isDataOpcode,
  isNamenodeOpcode,
  isNamenodeReplyOpcode,
  type Frame,
} from '../../protocol/index.js';
import { bodyOf, decodeOne, dfsErrorOf, packetChecksums, rawFrame, withBody } from './protocol-support.js';

const nnOptions = { bodyBytesMax: RPC_BODY_BYTES_MAX, isKnownOpcode: isNamenodeOpcode };

function pushAll(decoder: FrameDecoder, bytes: Buffer): Frame[] {
  const frames: Frame[] = [];
  decoder.push(bytes, (f) => frames.push(f));
  return frames;
}

/** A 12-byte header declaring `frameBytes`, with no body behind it. */
function header(frameBytes: number, kind: number, opcode: number, flags = 0, requestId = 1): Buffer {
  const h = Buffer.alloc(FRAME_HEADER_BYTES);
  h.writeUInt32BE(frameBytes, 0);
  h.writeUInt8(kind, 4);
  h.writeUInt8(opcode, 5);
  h.writeUInt16BE(flags, 6);
  h.writeUInt32BE(requestId, 8);
  return h;
}

describe('frame decoder errors', () => {
  it('FRAME_TOO_LARGE as soon as the 12 header bytes arrive, without the body', () => {
    const decoder = new FrameDecoder({ bodyBytesMax: 1024 });
    const h = header(0xffffffff, FrameKind.REQUEST, 0x01);
    // 11 bytes: nothing can be judged yet.
    decoder.push(h.subarray(0, 11), () => {});
    expect(decoder.buffered).toBe(11);
    // The 12th byte completes the header: refused at once, no body awaited or allocated.
    const err = dfsErrorOf(() => decoder.push(h.subarray(11), () => {}));
    expect(err.code).toBe('FRAME_TOO_LARGE');
    expect(decoder.buffered).toBe(0);
    expect(decoder.failed).toBe(err);
  });

  it('FRAME_TOO_LARGE at exactly one byte over the limit; the limit itself is fine', () => {
    const ok = new FrameDecoder({ bodyBytesMax: 100 });
    expect(pushAll(ok, rawFrame(FrameKind.REQUEST, 1, 1, Buffer.alloc(100)))).toHaveLength(1);
    const bad = new FrameDecoder({ bodyBytesMax: 100 });
    expect(dfsErrorOf(() => bad.push(header(8 + 101, FrameKind.REQUEST, 1), () => {})).code).toBe(
      'FRAME_TOO_LARGE',
    );
  });

  it('FRAME_TOO_LARGE with the real RPC and data limits, buffering only the header', () => {
    for (const max of [RPC_BODY_BYTES_MAX, DATA_BODY_BYTES_MAX]) {
      const decoder = new FrameDecoder({ bodyBytesMax: max });
      const h = header(8 + max + 1, FrameKind.REQUEST, 1);
      const err = dfsErrorOf(() => decoder.push(Buffer.concat([h, Buffer.alloc(100)]), () => {}));
      expect(err.code).toBe('FRAME_TOO_LARGE');
      expect(decoder.buffered).toBe(0);
    }
  });

  it('a legal large frame is buffered only as far as it has arrived', () => {
    const decoder = new FrameDecoder({ bodyBytesMax: RPC_BODY_BYTES_MAX });
    decoder.push(header(8 + RPC_BODY_BYTES_MAX, FrameKind.REQUEST, 1), () => {});
    decoder.push(Buffer.alloc(10), () => {});
    expect(decoder.buffered).toBe(10);
    expect(decoder.idle).toBe(false);
  });

  it('UNKNOWN_OPCODE for an opcode the NameNode does not speak', () => {
    const decoder = new FrameDecoder(nnOptions);
    expect(
      dfsErrorOf(() => decoder.push(rawFrame(FrameKind.REQUEST, 0x7f, 1, Buffer.alloc(0)), () => {})).code,
    ).toBe('UNKNOWN_OPCODE');
  });

  it('UNKNOWN_OPCODE for a known opcode in a kind the endpoint does not take', () => {
    // A NameNode takes only requests; a client takes only responses and errors.
    const mkdirResponse = encodeResponse('mkdir', 1, {});
    expect(dfsErrorOf(() => new FrameDecoder(nnOptions).push(mkdirResponse, () => {})).code).toBe(
      'UNKNOWN_OPCODE',
    );
    const mkdirRequest = encodeRequest('mkdir', 1, { path: '/a', parents: false, permission: 0o755 });
    const client = new FrameDecoder({ bodyBytesMax: 1024, isKnownOpcode: isNamenodeReplyOpcode });
    expect(dfsErrorOf(() => client.push(mkdirRequest, () => {})).code).toBe('UNKNOWN_OPCODE');
    // Data connections: packets and acks have opcode 0; NameNode opcodes are foreign there.
    const data = (): FrameDecoder => new FrameDecoder({ bodyBytesMax: 1024, isKnownOpcode: isDataOpcode });
    expect(
      dfsErrorOf(() => data().push(rawFrame(FrameKind.PACKET, 1, 1, Buffer.alloc(32)), () => {})).code,
    ).toBe('UNKNOWN_OPCODE');
    expect(dfsErrorOf(() => data().push(mkdirRequest, () => {})).code).toBe('UNKNOWN_OPCODE');
  });

  it('MALFORMED for an unknown frame kind (0, 7 and 255)', () => {
    for (const kind of [0, 7, 255]) {
      expect(
        dfsErrorOf(() =>
          new FrameDecoder({ bodyBytesMax: 1024 }).push(rawFrame(kind, 1, 1, Buffer.alloc(0)), () => {}),
        ).code,
      ).toBe('MALFORMED');
    }
  });

  it('MALFORMED for reserved flags', () => {
    for (const flags of [0x0001, 0x8000, 0xffff]) {
      const err = dfsErrorOf(() =>
        new FrameDecoder(nnOptions).push(rawFrame(FrameKind.REQUEST, 1, 1, Buffer.alloc(0), flags), () => {}),
      );
      expect(err.code).toBe('MALFORMED');
      expect(err.message).toMatch(/reserved flags/);
    }
  });

  it('MALFORMED for a frame length shorter than its own header', () => {
    for (const frameBytes of [0, 1, 7]) {
      expect(
        dfsErrorOf(() =>
          new FrameDecoder({ bodyBytesMax: 1024 }).push(header(frameBytes, FrameKind.REQUEST, 1), () => {}),
        ).code,
      ).toBe('MALFORMED');
    }
    // 8 is a frame with an empty body: legal.
    expect(pushAll(new FrameDecoder({ bodyBytesMax: 1024 }), header(8, FrameKind.REQUEST, 1))).toHaveLength(
      1,
    );
  });

  it('checks run in the documented order: length, size limit, kind, flags, opcode', () => {
    const dec = (): FrameDecoder => new FrameDecoder({ bodyBytesMax: 16, isKnownOpcode: isNamenodeOpcode });
    expect(dfsErrorOf(() => dec().push(header(3, 9, 0x7f, 1), () => {})).message).toMatch(
      /shorter than its header/,
    );
    expect(dfsErrorOf(() => dec().push(header(100, 9, 0x7f, 1), () => {})).code).toBe('FRAME_TOO_LARGE');
    expect(dfsErrorOf(() => dec().push(header(8, 9, 0x7f, 1), () => {})).message).toMatch(/kind/);
    expect(dfsErrorOf(() => dec().push(header(8, 1, 0x7f, 1), () => {})).message).toMatch(/flags/);
    expect(dfsErrorOf(() => dec().push(header(8, 1, 0x7f, 0), () => {})).code).toBe('UNKNOWN_OPCODE');
  });

  it('PROTOCOL when a frame arrives in more chunks than chunksMax', () => {
    const decoder = new FrameDecoder({ bodyBytesMax: 1024, chunksMax: 4 });
    const frame = rawFrame(FrameKind.REQUEST, 1, 1, Buffer.alloc(100));
    decoder.push(frame.subarray(0, 12), () => {});
    for (let i = 0; i < 4; i++) decoder.push(frame.subarray(12 + i, 13 + i), () => {});
    expect(dfsErrorOf(() => decoder.push(frame.subarray(16, 17), () => {})).code).toBe('PROTOCOL');
    expect(decoder.buffered).toBe(0);
  });

  it('stays failed after an error (sticky): later pushes rethrow the same error', () => {
    const decoder = new FrameDecoder(nnOptions);
    const good = encodeRequest('stat', 1, { path: '/a' });
    const bad = rawFrame(FrameKind.REQUEST, 0x7f, 2, Buffer.alloc(0));
    const frames: Frame[] = [];
    const first = dfsErrorOf(() => decoder.push(Buffer.concat([good, bad, good]), (f) => frames.push(f)));
    // The frame before the bad one was delivered; nothing after it.
    expect(frames).toHaveLength(1);
    expect(first.code).toBe('UNKNOWN_OPCODE');
    expect(decoder.failed).toBe(first);
    expect(decoder.buffered).toBe(0);
    for (const more of [good, Buffer.alloc(0), Buffer.from([1])]) {
      expect(dfsErrorOf(() => decoder.push(more, (f) => frames.push(f)))).toBe(first);
    }
    expect(frames).toHaveLength(1);
  });

  it('a handler that throws MALFORMED (a bad body) fails the decoder too', () => {
    const decoder = new FrameDecoder(nnOptions);
    const badBool = encodeRequest('mkdir', 1, { path: '/a', parents: true, permission: 0o755 });
    badBool[badBool.length - 3] = 2;
    const err = dfsErrorOf(() => decoder.push(badBool, (f) => decodeRequest('mkdir', f)));
    expect(err.code).toBe('MALFORMED');
    expect(decoder.failed).toBe(err);
  });
});

describe('body decoding errors (MALFORMED)', () => {
  it('a truncated body', () => {
    const full = encodeRequest('create', 1, {
      path: '/f',
      clientName: 'c',
      overwrite: false,
      createParent: true,
      permission: 0o644,
      replication: 3,
      blockBytes: 1024,
    });
    const body = bodyOf(full);
    for (let cut = 0; cut < body.length; cut++) {
      const frame = decodeOne(withBody(full, body.subarray(0, cut)), nnOptions);
      const err = dfsErrorOf(() => decodeRequest('create', frame));
      expect(err.code, `cut at ${cut}`).toBe('MALFORMED');
    }
  });

  it('trailing bytes after the last field', () => {
    const full = encodeRequest('stat', 1, { path: '/a' });
    const frame = decodeOne(withBody(full, Buffer.concat([bodyOf(full), Buffer.from([0])])), nnOptions);
    const err = dfsErrorOf(() => decodeRequest('stat', frame));
    expect(err.code).toBe('MALFORMED');
    expect(err.message).toMatch(/trailing/);
    // Responses too, including empty ones.
    const empty = decodeOne(rawFrame(FrameKind.RESPONSE, 0x01, 1, Buffer.from([0])));
    expect(dfsErrorOf(() => decodeResponse('mkdir', empty)).code).toBe('MALFORMED');
  });

  it('a bool that is neither 0 nor 1', () => {
    for (const b of [2, 0x80, 0xff]) {
      const bytes = encodeRequest('delete', 1, { path: '/a', recursive: false });
      bytes[bytes.length - 1] = b;
      expect(dfsErrorOf(() => decodeRequest('delete', decodeOne(bytes))).code).toBe('MALFORMED');
    }
    // An optional's presence flag is a bool as well.
    const complete = encodeRequest('complete', 1, { path: '/f', clientName: 'c', last: null });
    complete[complete.length - 1] = 2;
    expect(dfsErrorOf(() => decodeRequest('complete', decodeOne(complete))).code).toBe('MALFORMED');
  });

  it('a u64 over 2^53-1; 2^53-1 itself decodes', () => {
    const bytes = encodeRequest('getBlockLocations', 1, {
      path: '/f',
      offset: 0,
      length: Number.MAX_SAFE_INTEGER,
    });
    expect(decodeRequest('getBlockLocations', decodeOne(bytes)).length).toBe(Number.MAX_SAFE_INTEGER);
    // The length's high word is the 8 bytes before the end: 0x001fffff -> 0x00200000 is 2^53.
    bytes.writeUInt32BE(0x00200000, bytes.length - 8);
    bytes.writeUInt32BE(0, bytes.length - 4);
    const err = dfsErrorOf(() => decodeRequest('getBlockLocations', decodeOne(bytes)));
    expect(err.code).toBe('MALFORMED');
    expect(err.message).toMatch(/2\^53-1/);
    bytes.writeUInt32BE(0xffffffff, bytes.length - 8);
    expect(dfsErrorOf(() => decodeRequest('getBlockLocations', decodeOne(bytes))).code).toBe('MALFORMED');
  });

  it('a list count larger than the bytes left, refused before allocating', () => {
    const full = encodeRequest('addBlock', 1, {
      path: '/f',
      clientName: 'c',
      previous: null,
      excludeNodes: ['a', 'b'],
      reservedBlockId: 0,
    });
    // excludeNodes: u32 count, then "a", "b" (3 bytes each), then the u64 reservedBlockId at
    // the end: 14 bytes after the count, so 8 strings of at least 2 bytes cannot fit.
    for (const count of [8, 1000, 0xffffffff]) {
      const bytes = Buffer.from(full);
      bytes.writeUInt32BE(count, bytes.length - 18);
      const err = dfsErrorOf(() => decodeRequest('addBlock', decodeOne(bytes)));
      expect(err.code).toBe('MALFORMED');
      expect(err.message).toMatch(/cannot fit/);
    }
    // The same for a response list of FileStatus.
    const list = Buffer.from(encodeResponse('list', 1, { entries: [], hasMore: false }));
    list.writeUInt32BE(0xffffffff, FRAME_HEADER_BYTES);
    expect(dfsErrorOf(() => decodeResponse('list', decodeOne(list))).code).toBe('MALFORMED');
  });

  it('DataNode and admin RPCs and their answers: truncated at every offset, or with a trailing byte', () => {
    const block = { blockId: 1, genStamp: 2, numBytes: 3 };
    const frames: Array<[string, Buffer, (f: Frame) => unknown]> = [
      [
        'register',
        encodeRequest('register', 1, {
          clusterId: 'CID',
          nodeId: 'dn',
          host: 'h',
          port: 1,
          httpPort: 2,
          capacityBytes: 3,
          usedBytes: 1,
          remainingBytes: 2,
          failedVolumes: 0,
        }),
        (f) => decodeRequest('register', f),
      ],
      [
        'heartbeat',
        encodeRequest('heartbeat', 1, {
          nodeId: 'dn',
          capacityBytes: 3,
          usedBytes: 1,
          remainingBytes: 2,
          failedVolumes: 0,
          activeTransfers: 0,
          volumes: [{ path: '/d1', capacityBytes: 3, usedBytes: 1, failed: false }],
        }),
        (f) => decodeRequest('heartbeat', f),
      ],
      [
        'heartbeat answer',
        encodeResponse('heartbeat', 1, {
          epoch: 3,
          commands: [
            { type: 1, blocks: [block], targets: [] },
            { type: 2, blocks: [block], targets: [{ nodeId: 'd', host: 'h', port: 1 }] },
          ],
        }),
        (f) => decodeResponse('heartbeat', f),
      ],
      [
        'blockReceived',
        encodeRequest('blockReceived', 1, { nodeId: 'dn', received: [block], deleted: [4] }),
        (f) => decodeRequest('blockReceived', f),
      ],
      [
        'blockReport',
        encodeRequest('blockReport', 1, { nodeId: 'dn', blocks: [block, block], unfinished: [block] }),
        (f) => decodeRequest('blockReport', f),
      ],
      [
        'reportBadBlocks',
        encodeRequest('reportBadBlocks', 1, { replicas: [{ block, nodeId: 'dn' }] }),
        (f) => decodeRequest('reportBadBlocks', f),
      ],
      [
        'datanodeReport answer',
        encodeResponse('datanodeReport', 1, {
          nodes: [
            {
              nodeId: 'dn',
              host: 'h',
              port: 1,
              state: 1,
              capacityBytes: 3,
              usedBytes: 1,
              remainingBytes: 2,
              failedVolumes: 0,
              blockCount: 0,
              activeTransfers: 0,
              lastHeartbeatAgoMs: 5,
              lastBlockReportMs: 6,
              lastBlockReportBlocks: 7,
              drainBlocks: 8,
              drainStuckBlocks: 9,
            },
          ],
        }),
        (f) => decodeResponse('datanodeReport', f),
      ],
      [
        'triggerBlockReport',
        encodeRequest('triggerBlockReport', 1, { node: '127.0.0.1:9866' }),
        (f) => decodeRequest('triggerBlockReport', f),
      ],
      [
        'triggerBlockReport answer',
        encodeResponse('triggerBlockReport', 1, { nodeId: 'dn', lastBlockReportMs: 6 }),
        (f) => decodeResponse('triggerBlockReport', f),
      ],
      [
        'safeMode answer',
        encodeResponse('safeMode', 1, {
          on: true,
          manual: false,
          reportedBlocks: 1,
          totalBlocks: 2,
          status: 'on',
        }),
        (f) => decodeResponse('safeMode', f),
      ],
      [
        'replicationStats answer',
        encodeResponse('replicationStats', 1, {
          underReplicated: 1,
          corrupt: 1,
          missing: 1,
          pendingCopies: 0,
          corruptBlockIds: [7],
          missingBlockIds: [8],
        }),
        (f) => decodeResponse('replicationStats', f),
      ],
      [
        'blockHealth',
        encodeRequest('blockHealth', 1, { path: '/f', startBlock: 2, limit: 10 }),
        (f) => decodeRequest('blockHealth', f),
      ],
      [
        'blockHealth answer',
        encodeResponse('blockHealth', 1, {
          fileLength: 3,
          replication: 3,
          underConstruction: false,
          hasMore: true,
          blocks: [
            {
              block,
              offset: 0,
              health: 2,
              replicas: [{ node: { nodeId: 'd', host: 'h', port: 1 }, state: 4 }],
            },
          ],
        }),
        (f) => decodeResponse('blockHealth', f),
      ],
    ];
    for (const [what, full, decode] of frames) {
      const body = bodyOf(full);
      expect(() => decode(decodeOne(full)), what).not.toThrow();
      for (let cut = 0; cut < body.length; cut++) {
        expect(
          dfsErrorOf(() => decode(decodeOne(withBody(full, body.subarray(0, cut))))).code,
          `${what} cut at ${cut}`,
        ).toBe('MALFORMED');
      }
      const padded = decodeOne(withBody(full, Buffer.concat([body, Buffer.from([0])])));
      expect(dfsErrorOf(() => decode(padded)).message, what).toMatch(/trailing/);
    }
  });

  it('list counts in the DataNode messages, outer and nested, are checked before allocating', () => {
    const cannotFit = (bytes: Buffer, decode: (f: Frame) => unknown, what: string): void => {
      const err = dfsErrorOf(() => decode(decodeOne(bytes)));
      expect(err.code, what).toBe('MALFORMED');
      expect(err.message, what).toMatch(/cannot fit/);
    };
    for (const count of [2, 1000, 0xffffffff]) {
      // heartbeat answer: the u64 epoch, then the u32 command count; one REREGISTER command is 9 bytes.
      const hb = Buffer.from(
        encodeResponse('heartbeat', 1, { epoch: 1, commands: [{ type: 3, blocks: [], targets: [] }] }),
      );
      hb.writeUInt32BE(count, FRAME_HEADER_BYTES + 8);
      cannotFit(hb, (f) => decodeResponse('heartbeat', f), `commands ${count}`);
      const nested = Buffer.from(
        encodeResponse('heartbeat', 1, {
          epoch: 1,
          commands: [{ type: 1, blocks: [{ blockId: 1, genStamp: 1, numBytes: 1 }], targets: [] }],
        }),
      );
      // After the epoch (8), the count (4) and the type (1).
      nested.writeUInt32BE(count, FRAME_HEADER_BYTES + 13);
      cannotFit(nested, (f) => decodeResponse('heartbeat', f), `command blocks ${count}`);
      // blockReceived: deleted is the last list, 8 bytes per id.
      const br = Buffer.from(encodeRequest('blockReceived', 1, { nodeId: 'dn', received: [], deleted: [1] }));
      br.writeUInt32BE(count, br.length - 12);
      cannotFit(br, (f) => decodeRequest('blockReceived', f), `deleted ${count}`);
      // blockReport: 24 bytes per block; one block present, so 2 or more cannot fit.
      const rep = Buffer.from(
        encodeRequest('blockReport', 1, {
          nodeId: 'dn',
          blocks: [{ blockId: 1, genStamp: 1, numBytes: 1 }],
          unfinished: [],
        }),
      );
      rep.writeUInt32BE(count, FRAME_HEADER_BYTES + 4);
      cannotFit(rep, (f) => decodeRequest('blockReport', f), `blocks ${count}`);
    }
  });

  it('a u64 over 2^53-1 or a bad bool in the newer messages', () => {
    const br = encodeRequest('blockReceived', 1, {
      nodeId: 'dn',
      received: [],
      deleted: [Number.MAX_SAFE_INTEGER],
    });
    expect(decodeRequest('blockReceived', decodeOne(br)).deleted).toEqual([Number.MAX_SAFE_INTEGER]);
    br.writeUInt32BE(0x00200000, br.length - 8);
    expect(dfsErrorOf(() => decodeRequest('blockReceived', decodeOne(br))).message).toMatch(/2\^53-1/);
    // A block report's blocks (decoded as columns, in one loop): each of the three u64s of each block.
    const blocks = [1, 2].map((i) => ({ blockId: i, genStamp: Number.MAX_SAFE_INTEGER, numBytes: 3 }));
    for (const field of [0, 1, 2]) {
      const rep = encodeRequest('blockReport', 1, { nodeId: 'dn', blocks, unfinished: [] });
      expect((decodeRequest('blockReport', decodeOne(rep)).blocks as BlockColumns).toArray()).toEqual(blocks);
      // The second block's field: after the header, the id (2 + 2), the count (4) and one block (24).
      rep.writeUInt32BE(0x00200000, FRAME_HEADER_BYTES + 4 + 4 + 24 + field * 8);
      expect(dfsErrorOf(() => decodeRequest('blockReport', decodeOne(rep))).message).toMatch(
        /block 1: a u64 exceeds 2\^53-1/,
      );
    }
    for (const at of [0, 1]) {
      const sm = encodeResponse('safeMode', 1, {
        on: false,
        manual: false,
        reportedBlocks: 0,
        totalBlocks: 0,
        status: '',
      });
      sm[FRAME_HEADER_BYTES + at] = 2;
      expect(dfsErrorOf(() => decodeResponse('safeMode', decodeOne(sm))).code, `bool at ${at}`).toBe(
        'MALFORMED',
      );
    }
  });

  it('a string length running past the body', () => {
    const bytes = encodeRequest('stat', 1, { path: '/abc' });
    bytes.writeUInt16BE(0xffff, FRAME_HEADER_BYTES);
    expect(dfsErrorOf(() => decodeRequest('stat', decodeOne(bytes))).code).toBe('MALFORMED');
  });

  it('a string that is not valid UTF-8', () => {
    for (const bad of [[0xff], [0xc3], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]]) {
      const body = Buffer.concat([Buffer.from([0, bad.length]), Buffer.from(bad)]);
      const frame = decodeOne(rawFrame(FrameKind.REQUEST, 0x03, 1, body));
      const err = dfsErrorOf(() => decodeRequest('stat', frame));
      expect(err.code, Buffer.from(bad).toString('hex')).toBe('MALFORMED');
      expect(err.message).toMatch(/UTF-8/);
    }
  });

  it('a FileStatus type other than DIRECTORY or FILE', () => {
    const bytes = encodeResponse('stat', 1, {
      path: '/a',
      type: 2,
      length: 0,
      replication: 1,
      blockBytes: 1,
      mtimeMs: 0,
      blockCount: 0,
      underConstruction: false,
      childCount: 0,
      owner: 'o',
      group: 'g',
      permission: 0o644,
    });
    bytes[FRAME_HEADER_BYTES + 4] = 3;
    expect(dfsErrorOf(() => decodeResponse('stat', decodeOne(bytes))).code).toBe('MALFORMED');
  });

  it('a truncated or padded ERROR body; an unknown error number decodes as INTERNAL', () => {
    const e = encodeError(1, 1, new DfsError('NOT_FOUND', 'x'));
    expect(dfsErrorOf(() => decodeError(decodeOne(withBody(e, bodyOf(e).subarray(0, 3))))).code).toBe(
      'MALFORMED',
    );
    expect(
      dfsErrorOf(() => decodeError(decodeOne(withBody(e, Buffer.concat([bodyOf(e), Buffer.from([0])])))))
        .code,
    ).toBe('MALFORMED');
    const unknown = Buffer.from(e);
    unknown.writeUInt16BE(9999, FRAME_HEADER_BYTES);
    const decoded = decodeError(decodeOne(unknown));
    expect(decoded.code).toBe('INTERNAL');
    expect(decoded.message).toBe('x');
  });

  it('data messages: truncated and trailing bodies', () => {
    const w = encodeDataRequest('writeBlock', 1, {
      block: { blockId: 1, genStamp: 1, numBytes: 0 },
      clientName: 'c',
      stage: 0,
      chunkBytes: 512,
      checksumType: ChecksumType.XXH64,
      targets: [],
    });
    expect(
      dfsErrorOf(() =>
        decodeDataBody(dataCodecs.writeBlock.req, decodeOne(withBody(w, bodyOf(w).subarray(1))), 'w'),
      ).code,
    ).toBe('MALFORMED');
    expect(
      dfsErrorOf(() =>
        decodeDataBody(
          dataCodecs.writeBlock.req,
          decodeOne(withBody(w, Buffer.concat([bodyOf(w), Buffer.alloc(1)]))),
          'w',
        ),
      ).code,
    ).toBe('MALFORMED');
  });

  it('packets: short body, reserved bits, sizes that do not add up, u64 over 2^53-1', () => {
    const payload = Buffer.from('hello, dfs!');
    const sums = packetChecksums(payload, 8);
    const good = Buffer.concat([
      encodePacketHeader(
        1,
        { blockId: 1, offsetInBlock: 0, seqno: 0, last: false, payloadBytes: payload.length },
        sums,
      ),
      payload,
    ]);
    expect(Buffer.concat(decodePacket(decodeOne(good), 8, ChecksumType.XXH32).payload).equals(payload)).toBe(
      true,
    );
    // The same bytes read as an xxh64 block: 8-byte checksums do not fit the body.
    expect(dfsErrorOf(() => decodePacket(decodeOne(good), 8, ChecksumType.XXH64)).code).toBe('MALFORMED');
    const packetWith = (mutate: (body: Buffer) => Buffer): Frame =>
      decodeOne(withBody(good, mutate(bodyOf(good))));
    const cases: Array<[string, (b: Buffer) => Buffer, number]> = [
      ['short body', (b) => b.subarray(0, 31), 8],
      [
        'flag bit 3 (bits 0-2: last, flush, sync)',
        (b) => {
          b[24] = 0x08;
          return b;
        },
        8,
      ],
      [
        'reserved byte 25',
        (b) => {
          b[25] = 1;
          return b;
        },
        8,
      ],
      [
        'reserved byte 27',
        (b) => {
          b[27] = 1;
          return b;
        },
        8,
      ],
      ['payload one byte short', (b) => b.subarray(0, b.length - 1), 8],
      ['one byte too many', (b) => Buffer.concat([b, Buffer.alloc(1)]), 8],
      [
        'payloadBytes too big',
        (b) => {
          b.writeUInt32BE(0xffffffff, 28);
          return b;
        },
        8,
      ],
      ['wrong chunkBytes (other checksum count)', (b) => b, 4],
      ['chunkBytes 0', (b) => b, 0],
      [
        'blockId over 2^53-1',
        (b) => {
          b.writeUInt32BE(0x00200000, 0);
          return b;
        },
        8,
      ],
      [
        'seqno over 2^53-1',
        (b) => {
          b.writeUInt32BE(0xffffffff, 16);
          return b;
        },
        8,
      ],
    ];
    for (const [what, mutate, chunkBytes] of cases) {
      expect(
        dfsErrorOf(() => decodePacket(packetWith(mutate), chunkBytes, ChecksumType.XXH32)).code,
        what,
      ).toBe('MALFORMED');
    }
  });

  it('acks: truncated statuses and trailing bytes', () => {
    const a = encodeAck(1, { seqno: 1, statuses: [0, 0, 0] });
    expect(dfsErrorOf(() => decodeAck(decodeOne(withBody(a, bodyOf(a).subarray(0, 11))))).code).toBe(
      'MALFORMED',
    );
    expect(
      dfsErrorOf(() => decodeAck(decodeOne(withBody(a, Buffer.concat([bodyOf(a), Buffer.alloc(1)]))))).code,
    ).toBe('MALFORMED');
    expect(dfsErrorOf(() => decodeAck(decodeOne(withBody(a, Buffer.alloc(8))))).code).toBe('MALFORMED');
  });

  it('WireReader never throws a RangeError, even asked for more than there is', () => {
    const r = new WireReader(Buffer.alloc(3));
    expect(dfsErrorOf(() => r.u32()).code).toBe('MALFORMED');
    expect(dfsErrorOf(() => r.u64()).code).toBe('MALFORMED');
    expect(dfsErrorOf(() => r.raw(4)).code).toBe('MALFORMED');
    expect(dfsErrorOf(() => new WireReader(Buffer.from([0, 0, 0, 9])).bytes()).code).toBe('MALFORMED');
    expect(dfsErrorOf(() => new WireReader(Buffer.from([0, 3, 0x61])).strLike('abc')).code).toBe('MALFORMED');
  });

  it('strLike returns the previous string only for the same ASCII bytes, else decodes as str does', () => {
    const field = (bytes: Buffer): Buffer => Buffer.concat([Buffer.from([0, bytes.length]), bytes]);
    const hdfs = 'hdfs';
    const same = new WireReader(field(Buffer.from('hdfs')));
    expect(same.strLike(hdfs)).toBe(hdfs);
    expect(same.remaining).toBe(0);
    expect(new WireReader(field(Buffer.from('hdfx'))).strLike(hdfs)).toBe('hdfx');
    expect(new WireReader(field(Buffer.from('hdf'))).strLike(hdfs)).toBe('hdf');
    // A latin1 previous string is never matched by raw bytes: they are UTF-8.
    expect(new WireReader(field(Buffer.from('\u00e9', 'utf8'))).strLike('\u00e9')).toBe('\u00e9');
    expect(dfsErrorOf(() => new WireReader(field(Buffer.from([0xe9]))).strLike('\u00e9')).code).toBe(
      'MALFORMED',
    );
  });
});

describe('handshake errors', () => {
  it('wrong magic is PROTOCOL, for the hello and for the reply', () => {
    const hello = encodeHello(Role.CLIENT);
    hello.write('HTTP', 0, 'latin1');
    expect(dfsErrorOf(() => decodeHello(hello)).code).toBe('PROTOCOL');
    const reply = encodeHelloReply(HandshakeStatus.OK);
    reply[0] = 0;
    const err = dfsErrorOf(() => decodeHelloReply(reply));
    expect(err.code).toBe('PROTOCOL');
    expect(err.message).toMatch(/bad magic 0x00465331/);
  });

  it('version mismatch: the reply carries the server version and checkHelloReply raises VERSION_MISMATCH', () => {
    const reply = decodeHelloReply(encodeHelloReply(HandshakeStatus.VERSION_MISMATCH, 2));
    expect(reply).toEqual({ version: 2, status: HandshakeStatus.VERSION_MISMATCH });
    const err = dfsErrorOf(() => checkHelloReply(reply));
    expect(err.code).toBe('VERSION_MISMATCH');
    expect(err.message).toMatch(/server speaks version 2/);
    expect(err.message).toMatch(/client speaks version 1/);
  });

  it('a refused role is ACCESS_DENIED; an unknown status is PROTOCOL', () => {
    expect(
      dfsErrorOf(() => checkHelloReply(decodeHelloReply(encodeHelloReply(HandshakeStatus.ROLE_REFUSED))))
        .code,
    ).toBe('ACCESS_DENIED');
    const odd = encodeHelloReply(HandshakeStatus.OK);
    odd[6] = 3;
    expect(dfsErrorOf(() => checkHelloReply(decodeHelloReply(odd))).code).toBe('PROTOCOL');
  });

  it('a hello whose size is not 24 + userBytes, or whose user is not UTF-8 or holds a /, is MALFORMED', () => {
    const hello = encodeHello(Role.CLIENT);
    expect(dfsErrorOf(() => decodeHello(hello.subarray(0, 7))).code).toBe('MALFORMED');
    expect(dfsErrorOf(() => decodeHello(hello.subarray(0, 8))).code).toBe('MALFORMED');
    expect(dfsErrorOf(() => decodeHello(hello.subarray(0, 23))).code).toBe('MALFORMED');
    expect(dfsErrorOf(() => decodeHello(Buffer.concat([hello, Buffer.alloc(1)]))).code).toBe('MALFORMED');
    hello[7] = 1;
    expect(dfsErrorOf(() => decodeHello(hello)).code).toBe('MALFORMED');
    const named = encodeHello(Role.CLIENT, undefined, 'alice');
    expect(dfsErrorOf(() => decodeHello(named.subarray(0, named.length - 1))).code).toBe('MALFORMED');
    expect(dfsErrorOf(() => decodeHello(Buffer.concat([named, Buffer.from('x')]))).code).toBe('MALFORMED');
    const badUtf8 = Buffer.concat([
      encodeHello(Role.CLIENT, undefined, 'ab').subarray(0, 24),
      Buffer.from([0xc3, 0x28]),
    ]);
    expect(dfsErrorOf(() => decodeHello(badUtf8)).message).toMatch(/not UTF-8/);
    expect(dfsErrorOf(() => decodeHello(encodeHello(Role.CLIENT, undefined, 'a/b'))).code).toBe('MALFORMED');
    expect(dfsErrorOf(() => encodeHello(Role.CLIENT, undefined, 'x'.repeat(256))).code).toBe(
      'INVALID_ARGUMENT',
    );
    expect(dfsErrorOf(() => encodeHello(Role.CLIENT, undefined, 'a', 'not hex')).code).toBe(
      'INVALID_ARGUMENT',
    );
    expect(dfsErrorOf(() => encodeHello(Role.CLIENT, undefined, 'a', 'ab')).code).toBe('INVALID_ARGUMENT');
  });

  it('a reply with the reserved byte set is MALFORMED', () => {
    const reply = encodeHelloReply(HandshakeStatus.OK);
    reply[7] = 1;
    expect(dfsErrorOf(() => decodeHelloReply(reply)).code).toBe('MALFORMED');
  });
});
