/**
 * Reading a replica as packets (src/datanode/replica-reader.ts) from real files in a temp
 * volume: the bytes and stored checksums come back in order, and the node-wide allowance
 * for deeper read-ahead is taken by a reader while it runs and handed back only once the
 * reader is done and every piece it gave out is released, so readers beyond the allowance
 * still read (with one piece ahead) and the allowance never leaks or doubles; a piece
 * released twice is an assertion. The node-wide bound (readBufferBytesMax): readers past it
 * wait until earlier ones are done, and a lone reader always reads.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChecksumType } from '../../protocol/data-messages.js';
import { AssertionFailure } from '../../protocol/index.js';
import { computeChecksums, initChecksum } from '../../src/common/checksum.js';
import {
  configureReadBuffers,
  readAheadAllowanceFree,
  readBufferStats,
  readReplicaPieces,
  type ReplicaPiece,
} from '../../src/datanode/replica-reader.js';
import { encodeMetaHeader } from '../../src/datanode/replica-meta.js';
import { Volume, type Replica } from '../../src/datanode/storage.js';
import { testBytes } from '../support/data-path.js';

const KiB = 1024;
const CHUNK = 4 * KiB;
const PIECE = 16 * KiB;
const ALLOWANCE = 64;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-replica-reader-'));
const volume = new Volume(dir);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A finalized replica of `data` on the temp volume, with its meta file. */
async function replicaOf(blockId: number, data: Buffer): Promise<Replica> {
  await initChecksum();
  const type = ChecksumType.XXH64;
  const at = volume.replicaDir('finalized', blockId);
  fs.mkdirSync(at, { recursive: true });
  fs.writeFileSync(path.join(at, 'data'), data);
  const header = encodeMetaHeader({ chunkBytes: CHUNK, checksumType: type, genStamp: 1 });
  fs.writeFileSync(path.join(at, 'meta'), Buffer.concat([header, computeChecksums(data, CHUNK, type)]));
  return {
    blockId,
    genStamp: 1,
    numBytes: data.length,
    chunkBytes: CHUNK,
    checksumType: type,
    volume,
    state: 'finalized',
  };
}

/** Reads every piece, releasing all but the first, which is returned still held; and the bytes. */
async function readHoldingFirst(r: Replica): Promise<{ first: ReplicaPiece; bytes: Buffer }> {
  const copies: Buffer[] = [];
  let first: ReplicaPiece | null = null;
  for await (const p of readReplicaPieces(r, 0, r.numBytes, PIECE)) {
    copies.push(Buffer.from(p.payload));
    if (first === null) first = p;
    else p.release();
  }
  return { first: first!, bytes: Buffer.concat(copies) };
}

describe('readReplicaPieces', () => {
  it('gives the bytes and stored checksums in order, piece by piece', async () => {
    const data = testBytes(5 * PIECE + 3 * CHUNK + 100, 1);
    const r = await replicaOf(1, data);
    const got: Buffer[] = [];
    const sums: Buffer[] = [];
    for await (const p of readReplicaPieces(r, 0, r.numBytes, PIECE)) {
      got.push(Buffer.from(p.payload));
      sums.push(Buffer.from(p.checksums));
      p.release();
    }
    expect(Buffer.concat(got).equals(data)).toBe(true);
    expect(Buffer.concat(sums).equals(computeChecksums(data, CHUNK, ChecksumType.XXH64))).toBe(true);
    expect(readAheadAllowanceFree()).toBe(ALLOWANCE);
  });

  it('the read-ahead allowance is held while a reader runs and back once its pieces are released', async () => {
    const data = testBytes(8 * PIECE, 2);
    const r = await replicaOf(2, data);
    const gen = readReplicaPieces(r, 0, r.numBytes, PIECE);
    const first = await gen.next();
    expect(first.done).toBe(false);
    expect(readAheadAllowanceFree()).toBe(ALLOWANCE - 2);
    // Stopped early with its first piece still out: the allowance waits for that piece.
    await gen.return(undefined);
    expect(readAheadAllowanceFree()).toBe(ALLOWANCE - 2);
    (first.value as ReplicaPiece).release();
    expect(readAheadAllowanceFree()).toBe(ALLOWANCE);
  });

  it('readers past the allowance read with one piece ahead; all of it comes back', async () => {
    const data = testBytes(4 * PIECE + 10, 3);
    const readers = ALLOWANCE / 2 + 3;
    const replicas = await Promise.all(Array.from({ length: readers }, (_, i) => replicaOf(100 + i, data)));
    // Each reader keeps its first piece, so its allowance stays taken after it is done.
    const all = await Promise.all(replicas.map((r) => readHoldingFirst(r)));
    expect(readAheadAllowanceFree()).toBe(0);
    for (const { bytes } of all) expect(bytes.equals(data)).toBe(true);
    for (const { first } of all) first.release();
    expect(readAheadAllowanceFree()).toBe(ALLOWANCE);
  });

  it('a piece released twice is an assertion, not a buffer handed out twice', async () => {
    const r = await replicaOf(3, testBytes(3 * PIECE, 4));
    const gen = readReplicaPieces(r, 0, r.numBytes, PIECE);
    const first = (await gen.next()).value as ReplicaPiece;
    first.release();
    expect(() => first.release()).toThrow(AssertionFailure);
    await gen.return(undefined);
  });

  it('readers past readBufferBytesMax wait, in order, until earlier ones are done; one alone always reads', async () => {
    const data = testBytes(3 * PIECE, 5);
    const [a, b, c] = await Promise.all([replicaOf(10, data), replicaOf(11, data), replicaOf(12, data)]);
    const defaultMax = readBufferStats().bytesMax;
    configureReadBuffers(2 * 2 * PIECE); // two readers' two buffers
    try {
      const readerA = readReplicaPieces(a, 0, a.numBytes, PIECE);
      const readerB = readReplicaPieces(b, 0, b.numBytes, PIECE);
      const firstA = (await readerA.next()).value as ReplicaPiece;
      const firstB = (await readerB.next()).value as ReplicaPiece;
      expect(readBufferStats().heldBytes).toBe(4 * PIECE);
      let cStarted = false;
      const readerC = readReplicaPieces(c, 0, c.numBytes, PIECE);
      const firstC = readerC.next().then((r) => {
        cStarted = true;
        return r.value as ReplicaPiece;
      });
      await new Promise((r) => setTimeout(r, 50));
      expect(cStarted).toBe(false);
      expect(readBufferStats().waiting).toBe(1);
      // A done (its other pieces read and released, then its first): C is let in.
      firstA.release();
      for await (const p of readerA) p.release();
      const pieceC = await firstC;
      expect(readBufferStats().waiting).toBe(0);
      expect(Buffer.from(pieceC.payload).equals(data.subarray(0, PIECE))).toBe(true);
      pieceC.release();
      for await (const p of readerC) p.release();
      firstB.release();
      for await (const p of readerB) p.release();
      expect(readBufferStats().heldBytes).toBe(0);
      // A bound under one reader's need still lets a lone reader through.
      configureReadBuffers(PIECE);
      const alone: Buffer[] = [];
      for await (const p of readReplicaPieces(a, 0, a.numBytes, PIECE)) {
        alone.push(Buffer.from(p.payload));
        p.release();
      }
      expect(Buffer.concat(alone).equals(data)).toBe(true);
      expect(readBufferStats().heldBytes).toBe(0);
    } finally {
      configureReadBuffers(defaultMax);
    }
  });
});
