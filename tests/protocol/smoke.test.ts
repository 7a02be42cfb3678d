import { describe, expect, it } from 'vitest';
import { FrameDecoder, encodeRequest, decodeRequest, RPC_BODY_BYTES_MAX, isNamenodeOpcode, type Frame } from '../../protocol/index.js';

describe('protocol smoke', () => {
  it('round-trips a mkdir request', () => {
    const bytes = encodeRequest('mkdir', 7, { path: '/a/b', parents: true });
    const dec = new FrameDecoder({ bodyBytesMax: RPC_BODY_BYTES_MAX, isKnownOpcode: isNamenodeOpcode });
    const frames: Frame[] = [];
    dec.push(bytes, (f) => frames.push(f));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.requestId).toBe(7);
    expect(decodeRequest('mkdir', frames[0]!)).toEqual({ path: '/a/b', parents: true });
  });
});
