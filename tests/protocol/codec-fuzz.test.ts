/**
 * Seeded, replayable, time-boxed property tests over the codecs (as undici's `test/fuzzing/`):
 *
 * - random bytes, and random mutations of valid frame streams, fed in random pieces to a
 *   FrameDecoder and every body decoder, only ever raise DfsError (never RangeError,
 *   TypeError, ...);
 * - any chunking of a valid frame stream gives the same frames as feeding it whole.
 *
 * Each iteration runs from its own seed (base seed + iteration). A failure names that seed;
 * replay it with `DFS_FUZZ_SEED=<seed> npx vitest run tests/protocol/codec-fuzz.test.ts`
 * (it becomes iteration 0). `DFS_FUZZ_MS` sets the time budget of each property.
 */
import { describe, expect, it } from 'vitest';
import {
  DATA_BODY_BYTES_MAX,
  DfsError,
  FrameDecoder,
  RPC_BODY_BYTES_MAX,
  dataCodecs,
  ChecksumType,
  decodeAck,
  decodeDataBody,
  decodeError,
  decodeHello,
  decodeHelloReply,
  decodePacket,
  decodeRequest,
  decodeResponse,
  isDataOpcode,
  isNamenodeOpcode,
  isNamenodeReplyOpcode,
  rpcNameOf,
  type Frame,
  type FrameDecoderOptions,
} from '../../protocol/index.js';
import { RPC_NAMES, Rng, decodePieces, fuzzSeed, randomValidFrame } from './protocol-support.js';

const BUDGET_MS = Number(process.env['DFS_FUZZ_MS'] ?? 500);
const ITERATIONS_MIN = 50;

/**
 * Runs `body` with a fresh Rng per iteration until the time budget is spent (and at least
 * ITERATIONS_MIN times). On failure, rethrows with the iteration's seed for replay.
 */
function property(name: string, body: (rng: Rng) => void): void {
  it(name, () => {
    const base = fuzzSeed();
    const deadline = Date.now() + BUDGET_MS;
    let i = 0;
    for (; i < ITERATIONS_MIN || Date.now() < deadline; i++) {
      const seed = (base + i) >>> 0;
      try {
        body(new Rng(seed));
      } catch (err) {
        const msg = `property "${name}" failed at iteration ${i}; replay with DFS_FUZZ_SEED=${seed}`;
        console.error(msg);
        throw new Error(`${msg}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, {
          cause: err,
        });
      }
    }
    expect(i).toBeGreaterThanOrEqual(ITERATIONS_MIN);
  });
}

/** Runs `fn`; anything it throws must be a DfsError. */
function onlyDfsErrors(what: string, fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof DfsError) return;
    throw new Error(`${what} threw a non-DfsError: ${String(err)}`, { cause: err });
  }
}

function randomDecoderOptions(rng: Rng): FrameDecoderOptions {
  const isKnownOpcode = rng.pick([undefined, isNamenodeOpcode, isNamenodeReplyOpcode, isDataOpcode]);
  const bodyBytesMax = rng.pick([0, 16, 64, 1024, DATA_BODY_BYTES_MAX, RPC_BODY_BYTES_MAX]);
  return isKnownOpcode
    ? { bodyBytesMax, isKnownOpcode, chunksMax: rng.pick([4, 1024]) }
    : { bodyBytesMax, chunksMax: rng.pick([4, 1024]) };
}

/** Every body decoder that could be pointed at this frame, whatever its kind says. */
function decodeEveryWay(rng: Rng, frame: Frame): void {
  // The decoders of the frame's own opcode (if it has one) and of one other RPC picked at random.
  for (const name of new Set([rpcNameOf(frame.opcode) ?? rng.pick(RPC_NAMES), rng.pick(RPC_NAMES)])) {
    onlyDfsErrors(`decodeRequest(${name})`, () => decodeRequest(name, frame));
    onlyDfsErrors(`decodeResponse(${name})`, () => decodeResponse(name, frame));
  }
  onlyDfsErrors('decodeError', () => decodeError(frame));
  onlyDfsErrors('decodeAck', () => decodeAck(frame));
  const chunkBytes = rng.pick([0, 1, 3, 8, 64, 512, 0xffffffff]);
  const type = rng.pick([ChecksumType.XXH32, ChecksumType.XXH64, ChecksumType.XXH3]);
  onlyDfsErrors(`decodePacket(chunkBytes ${chunkBytes}, type ${type})`, () =>
    decodePacket(frame, chunkBytes, type),
  );
  onlyDfsErrors('writeBlock request', () => decodeDataBody(dataCodecs.writeBlock.req, frame, 'w'));
  onlyDfsErrors('writeBlock response', () => decodeDataBody(dataCodecs.writeBlock.res, frame, 'w'));
  onlyDfsErrors('readBlock request', () => decodeDataBody(dataCodecs.readBlock.req, frame, 'r'));
  onlyDfsErrors('readBlock response', () => decodeDataBody(dataCodecs.readBlock.res, frame, 'r'));
  onlyDfsErrors('blockChecksum request', () => decodeDataBody(dataCodecs.blockChecksum.req, frame, 'c'));
  onlyDfsErrors('blockChecksum response', () => decodeDataBody(dataCodecs.blockChecksum.res, frame, 'c'));
}

/** Feeds `stream` in random pieces; decodes every frame delivered; only DfsErrors allowed. */
function feed(rng: Rng, stream: Buffer): void {
  const decoder = new FrameDecoder(randomDecoderOptions(rng));
  const frames: Frame[] = [];
  let failure: DfsError | null = null;
  for (const piece of rng.split(stream, rng.range(1, 50))) {
    try {
      decoder.push(piece, (f) => frames.push(f));
    } catch (err) {
      if (!(err instanceof DfsError))
        throw new Error(`FrameDecoder.push threw a non-DfsError: ${String(err)}`, { cause: err });
      // Sticky: once failed, every later push throws the same error and holds nothing.
      if (failure !== null) expect(err).toBe(failure);
      failure = err;
      expect(decoder.failed).toBe(err);
      expect(decoder.buffered).toBe(0);
    }
  }
  for (const f of frames) decodeEveryWay(rng, f);
}

function validStream(rng: Rng, framesMax: number): Buffer {
  const frames: Buffer[] = [];
  const n = rng.range(1, framesMax);
  for (let i = 0; i < n; i++) frames.push(randomValidFrame(rng));
  return Buffer.concat(frames);
}

function mutate(rng: Rng, input: Buffer): Buffer {
  let b = Buffer.from(input);
  const edits = rng.range(1, 4);
  for (let e = 0; e < edits && b.length > 0; e++) {
    const at = rng.int(b.length);
    switch (rng.int(8)) {
      case 0: // flip one bit
        b[at] = b[at]! ^ (1 << rng.int(8));
        break;
      case 1: // one byte to an edge value
        b[at] = rng.pick([0, 1, 2, 0x7f, 0x80, 0xfe, 0xff]);
        break;
      case 2: // one u32 (lengths, counts, high words) to an edge value
        if (at + 4 <= b.length)
          b.writeUInt32BE(
            rng.pick([0, 1, 7, 8, 0x1fffff, 0x200000, 0x7fffffff, 0xffffffff, rng.int(0x10000)]),
            at,
          );
        break;
      case 3: // one u16 (string lengths, flags) to an edge value
        if (at + 2 <= b.length) b.writeUInt16BE(rng.pick([0, 1, 0x7fff, 0xffff, rng.int(64)]), at);
        break;
      case 4: // truncate
        b = b.subarray(0, at);
        break;
      case 5: // insert random bytes
        b = Buffer.concat([b.subarray(0, at), rng.bytes(rng.range(1, 16)), b.subarray(at)]);
        break;
      case 6: // delete a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + rng.range(1, 16))]);
        break;
      default: // duplicate a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + rng.range(1, 32)), b.subarray(at)]);
        break;
    }
  }
  return b;
}

describe('codec properties (seeded, time-boxed)', () => {
  property('random bytes only give DfsErrors', (rng) => {
    const bytes = rng.bytes(rng.int(300));
    // Random headers mostly declare huge lengths; give some a plausible one so bodies get decoded too.
    if (bytes.length >= 12 && rng.bool()) {
      bytes.writeUInt32BE(8 + rng.int(bytes.length - 11), 0);
      bytes.writeUInt8(rng.range(1, 5), 4);
      if (rng.bool()) bytes.writeUInt16BE(0, 6);
    }
    feed(rng, bytes);
    const eight = rng.bytes(8);
    if (rng.bool()) eight.writeUInt32BE(0x44465331, 0);
    onlyDfsErrors('decodeHello', () => decodeHello(eight));
    const hello = rng.bytes(24 + rng.int(8));
    if (rng.bool()) hello.writeUInt32BE(0x44465331, 0);
    onlyDfsErrors('decodeHello (client id)', () => decodeHello(hello));
    onlyDfsErrors('decodeHelloReply', () => decodeHelloReply(eight));
  });

  property('mutated valid frame streams only give DfsErrors', (rng) => {
    feed(rng, mutate(rng, validStream(rng, 5)));
  });

  property('valid frame streams decoded as any message type only give DfsErrors', (rng) => {
    // Unmutated streams: must decode without any error from the frame decoder.
    const stream = validStream(rng, 5);
    const frames: Frame[] = [];
    new FrameDecoder({ bodyBytesMax: RPC_BODY_BYTES_MAX }).push(stream, (f) => frames.push(f));
    expect(frames.length).toBeGreaterThan(0);
    for (const f of frames) decodeEveryWay(rng, f);
  });

  property('any chunking of a valid frame stream gives the same frames', (rng) => {
    const stream = validStream(rng, 20);
    const options = { bodyBytesMax: RPC_BODY_BYTES_MAX, chunksMax: 1 << 16 };
    const whole = decodePieces([stream], options);
    expect(whole.length).toBeGreaterThan(0);
    const pieces = rng.bool()
      ? rng.split(stream, rng.range(2, 400))
      : [...stream].map((x) => Buffer.from([x]));
    expect(decodePieces(pieces, options)).toEqual(whole);
  });
});
