/**
 * Raw data-connection helpers for DataNode fault tests, on top of RawPeer (raw-peer.ts):
 * build WRITE_BLOCK / READ_BLOCK requests and PACKET frames whose fields a test may falsify
 * (sequence number, offset, checksums, lengths), and decode what a DataNode sent back
 * (RESPONSE, ACK, ERROR, PACKET frames) with the shared data-connection opcode check.
 */
import {
  dataCodecs,
  decodeAck,
  decodeDataBody,
  decodeError,
  encodeDataRequest,
  encodePacketHeader,
  FrameDecoder,
  FrameKind,
  HANDSHAKE_BYTES,
  isDataOpcode,
  WriteStage,
  CHECKSUM_TYPE_DEFAULT,
  checksumBytes,
  type Ack,
  type ChecksumType,
  type DatanodeInfo,
  type DfsError,
  type Frame,
} from '../../protocol/index.js';
import { computeChecksums, initChecksum } from '../../src/common/checksum.js';
import { RawPeer } from './raw-peer.js';

/** Frames a DataNode sent after its handshake reply (a torn tail is ignored). */
export function dataFrames(received: Buffer): Frame[] {
  const out: Frame[] = [];
  const decoder = new FrameDecoder({ bodyBytesMax: 2 << 20, isKnownOpcode: isDataOpcode });
  decoder.push(Buffer.from(received.subarray(HANDSHAKE_BYTES)), (f) => out.push(f));
  return out;
}

export interface DataReplies {
  frames: Frame[];
  acks: Ack[];
  errors: DfsError[];
  responses: Frame[];
}

export function dataReplies(peer: RawPeer): DataReplies {
  const frames = dataFrames(peer.received);
  return {
    frames,
    acks: frames.filter((f) => f.kind === FrameKind.ACK).map(decodeAck),
    errors: frames.filter((f) => f.kind === FrameKind.ERROR).map(decodeError),
    responses: frames.filter((f) => f.kind === FrameKind.RESPONSE),
  };
}

/** Connects with a CLIENT hello and checks the DataNode accepted it. */
export async function connectData(port: number): Promise<RawPeer> {
  await initChecksum();
  const peer = await RawPeer.connect(port);
  await peer.handshake();
  return peer;
}

export function writeBlockRequest(
  blockId: number,
  chunkBytes: number,
  targets: DatanodeInfo[] = [],
  requestId = 1,
  genStamp = 1,
  checksumType: ChecksumType = CHECKSUM_TYPE_DEFAULT,
): Buffer {
  return encodeDataRequest('writeBlock', requestId, {
    block: { blockId, genStamp, numBytes: 0 },
    clientName: 'raw-test-client',
    stage: WriteStage.CREATE,
    chunkBytes,
    checksumType,
    targets,
  });
}

/** Waits for the WRITE_BLOCK answer; returns its firstBadLink (throws on an ERROR frame). */
export async function awaitWriteBlockAnswer(peer: RawPeer, timeoutMs = 5000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { frames } = dataReplies(peer);
    const first = frames[0];
    if (first !== undefined) {
      if (first.kind === FrameKind.ERROR) throw decodeError(first);
      return decodeDataBody(dataCodecs.writeBlock.res, first, 'write block response').firstBadLink;
    }
    if (peer.isClosed) throw new Error('DataNode closed the connection without answering WRITE_BLOCK');
    if (Date.now() > deadline) throw new Error('no WRITE_BLOCK answer in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface PacketSpec {
  blockId: number;
  offsetInBlock: number;
  seqno: number;
  last?: boolean;
  payload: Buffer;
  chunkBytes: number;
  requestId?: number;
  /** Flip one bit of this checksum index after computing them. */
  corruptChecksum?: number;
  /** The block's algorithm (default CHECKSUM_TYPE_DEFAULT, as writeBlockRequest's). */
  checksumType?: ChecksumType;
}

/** One PACKET frame (header + checksums + payload) as bytes, optionally with a wrong checksum. */
export function packetFrame(p: PacketSpec): Buffer {
  const type = p.checksumType ?? CHECKSUM_TYPE_DEFAULT;
  const sums = computeChecksums(p.payload, p.chunkBytes, type);
  const at = (p.corruptChecksum ?? 0) * checksumBytes(type);
  if (p.corruptChecksum !== undefined) sums.writeUInt8(sums.readUInt8(at) ^ 0x01, at);
  const header = encodePacketHeader(
    p.requestId ?? 1,
    {
      blockId: p.blockId,
      offsetInBlock: p.offsetInBlock,
      seqno: p.seqno,
      last: p.last ?? false,
      payloadBytes: p.payload.length,
    },
    sums,
  );
  return Buffer.concat([header, p.payload]);
}
