/**
 * Packet payloads are never copied on the data path (issue: "received slices written as
 * they are"): a decoder built with `scatterKinds` hands a PACKET body that spans socket
 * reads over as views of those reads, and everything downstream works on the pieces:
 * decodePacket (header and checksums may straddle a boundary), the chunk checksums
 * (firstBadChunkInPieces, a chunk may straddle pieces), and the disk write (writePieces).
 * Every split point of a packet is tried.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  bodyPieces,
  ChecksumType,
  decodePacket,
  encodePacketHeader,
  FrameDecoder,
  FrameKind,
  PACKET_FRAMES,
  type Frame,
} from '../../protocol/index.js';
import {
  computeChecksums,
  firstBadChunk,
  firstBadChunkInPieces,
  initChecksum,
} from '../../src/common/checksum.js';
import { writePieces } from '../../src/common/fs-util.js';

const CHUNK = 512;
/** The scattering tests use the default algorithm; firstBadChunkInPieces is checked with both. */
const TYPE = ChecksumType.XXH64;

function packetBytes(payload: Buffer, seqno = 3): Buffer {
  const header = encodePacketHeader(
    9,
    { blockId: 42, offsetInBlock: 4096, seqno, last: false, payloadBytes: payload.length },
    computeChecksums(payload, CHUNK, TYPE),
  );
  return Buffer.concat([header, payload]);
}

function decodeIn(pieces: Buffer[], scatter: boolean): Frame[] {
  const decoder = new FrameDecoder({
    bodyBytesMax: 1 << 20,
    scatterKinds: scatter ? PACKET_FRAMES : undefined,
  });
  const frames: Frame[] = [];
  for (const p of pieces) decoder.push(p, (f) => frames.push(f));
  return frames;
}

await initChecksum();

describe('scattered PACKET bodies', () => {
  const payload = Buffer.from(Array.from({ length: 3 * CHUNK + 100 }, (_, i) => (i * 7 + 3) & 0xff));
  const wire = packetBytes(payload);

  it('split at every offset: the body arrives as views of the reads, and decodes to the same packet', () => {
    for (let at = 1; at < wire.length; at++) {
      const a = Buffer.from(wire.subarray(0, at));
      const b = Buffer.from(wire.subarray(at));
      const frames = decodeIn([a, b], true);
      expect(frames, `split at ${at}`).toHaveLength(1);
      const f = frames[0]!;
      expect(f.kind).toBe(FrameKind.PACKET);
      const pieces = bodyPieces(f);
      // No copy: every piece is a view of one of the two reads.
      for (const p of pieces)
        expect(p.buffer === a.buffer || p.buffer === b.buffer, `split at ${at}`).toBe(true);
      const p = decodePacket(f, CHUNK, TYPE);
      expect({
        blockId: p.blockId,
        offsetInBlock: p.offsetInBlock,
        seqno: p.seqno,
        payloadBytes: p.payloadBytes,
      }).toEqual({ blockId: 42, offsetInBlock: 4096, seqno: 3, payloadBytes: payload.length });
      expect(Buffer.concat(p.payload).equals(payload), `split at ${at}`).toBe(true);
      for (const piece of p.payload)
        expect(piece.buffer === a.buffer || piece.buffer === b.buffer).toBe(true);
      expect(firstBadChunkInPieces(p.payload, p.checksums, CHUNK, TYPE), `split at ${at}`).toBe(-1);
    }
  });

  it('without scatterKinds the same frame is one body buffer, as before', () => {
    const frames = decodeIn([wire.subarray(0, 100), wire.subarray(100)], false);
    expect(frames[0]!.parts).toBeUndefined();
    expect(Buffer.concat(decodePacket(frames[0]!, CHUNK, TYPE).payload).equals(payload)).toBe(true);
  });

  it('a frame inside one read stays a single view even when scattering', () => {
    const frames = decodeIn([wire], true);
    expect(frames[0]!.parts).toBeUndefined();
    expect(decodePacket(frames[0]!, CHUNK, TYPE).payload).toHaveLength(1);
  });

  it('a truncated body is MALFORMED, wherever it was split', () => {
    const bad = Buffer.from(wire);
    bad.writeUInt32BE(payload.length + 1, 12 + 28); // payloadBytes no longer fills the body
    for (const at of [5, 20, 40, 60, bad.length - 3]) {
      const frames = decodeIn([bad.subarray(0, at), bad.subarray(at)], true);
      expect(() => decodePacket(frames[0]!, CHUNK, TYPE)).toThrow(/MALFORMED|do not fill/);
    }
  });
});

describe.each([ChecksumType.XXH32, ChecksumType.XXH64, ChecksumType.XXH3])(
  'firstBadChunkInPieces (checksum type %i)',
  (type) => {
    const payload = Buffer.from(Array.from({ length: 5 * CHUNK + 77 }, (_, i) => (i * 13 + 1) & 0xff));
    const sums = computeChecksums(payload, CHUNK, type);

    it('agrees with firstBadChunk for any split and any flipped byte', () => {
      const splits = [
        [1],
        [CHUNK],
        [CHUNK - 1, CHUNK + 1],
        [3, 700, 701, 2000],
        [5 * CHUNK],
        [5 * CHUNK + 76],
      ];
      for (const flip of [-1, 0, CHUNK - 1, CHUNK, 2 * CHUNK + 5, 5 * CHUNK + 76]) {
        const data = Buffer.from(payload);
        if (flip >= 0) data[flip] = data[flip]! ^ 0x40;
        const want = firstBadChunk(data, sums, CHUNK, type);
        for (const cuts of splits) {
          const pieces: Buffer[] = [];
          let from = 0;
          for (const c of [...cuts, data.length]) {
            pieces.push(data.subarray(from, c));
            from = c;
          }
          expect(
            firstBadChunkInPieces(pieces, sums, CHUNK, type),
            `flip ${flip}, cuts ${cuts.join(',')}`,
          ).toBe(want);
        }
      }
    });

    it('an empty payload has nothing to check', () => {
      expect(firstBadChunkInPieces([Buffer.alloc(0)], Buffer.alloc(0), CHUNK, type)).toBe(-1);
    });
  },
);

describe('writePieces', () => {
  it('at a page boundary (its first byte written apart), a one-byte first piece included', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-pieces-'));
    try {
      const file = path.join(dir, 'data');
      const data = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7 + 3) & 0xff));
      const fd = fs.openSync(file, 'w');
      try {
        await writePieces(fd, [data.subarray(0, 1), data.subarray(1, 65_536), data.subarray(65_536)], 8192);
        await writePieces(fd, [data.subarray(0, 100_000), data.subarray(100_000)], 212_992);
      } finally {
        fs.closeSync(fd);
      }
      const got = fs.readFileSync(file);
      expect(got.subarray(0, 8192).equals(Buffer.alloc(8192))).toBe(true);
      expect(got.subarray(8192, 208_192).equals(data)).toBe(true);
      expect(got.subarray(212_992).equals(data)).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('past 1 MiB boundaries of the file (written a span at a time), from a page boundary and from inside one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-pieces-'));
    try {
      const file = path.join(dir, 'data');
      const MiB = 1024 * 1024;
      const data = Buffer.from(Array.from({ length: 2.5 * MiB + 3 }, (_, i) => (i * 13 + 5) & 0xff));
      // Pieces that straddle the span boundaries at odd places, as socket reads do.
      const cuts = [0, 1, 777_777, MiB + 3, 2 * MiB - 1, 2 * MiB + 100, data.length];
      const pieces = cuts.slice(1).map((end, i) => data.subarray(cuts[i], end));
      const fd = fs.openSync(file, 'w');
      try {
        await writePieces(fd, pieces, 0);
        await writePieces(fd, pieces, 3 * MiB - 5);
      } finally {
        fs.closeSync(fd);
      }
      const got = fs.readFileSync(file);
      expect(got.length).toBe(3 * MiB - 5 + data.length);
      expect(got.subarray(0, data.length).equals(data)).toBe(true);
      expect(got.subarray(3 * MiB - 5).equals(data)).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes the pieces in order at the position, empty ones skipped, more than one writev holds', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-pieces-'));
    try {
      const file = path.join(dir, 'data');
      const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 31) & 0xff));
      // More pieces than one writev takes (IOV_MAX 1024), an empty one among them.
      const pieces = [data.subarray(0, 10), data.subarray(10, 10), data.subarray(10, 70_000)];
      for (let at = 70_000; at < 72_500; at++) pieces.push(data.subarray(at, at + 1));
      pieces.push(data.subarray(72_500));
      const fd = fs.openSync(file, 'w');
      try {
        fs.writeSync(fd, Buffer.from('head'), 0, 4, 0);
        await writePieces(fd, pieces, 4);
      } finally {
        fs.closeSync(fd);
      }
      const got = fs.readFileSync(file);
      expect(got.subarray(0, 4).toString()).toBe('head');
      expect(got.subarray(4).equals(data)).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
