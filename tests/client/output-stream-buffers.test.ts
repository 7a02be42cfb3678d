/**
 * A DfsOutputStream's packet buffers (src/client/dfs-output-stream.ts, src/common/page-aligned.ts)
 * against a fake NameNode and a real DataNode process (tests/support/client-seam.ts): the
 * stream reuses its own acknowledged buffers, so however many packets go by it makes no more
 * than a window's worth and the one being filled, even when the process-wide free list is
 * full of other buffers and keeps nothing given to it (as when several writers at once
 * outrun it); and when the stream ends its buffers go back to that list.
 *
 * In a file of its own: the free list is process-wide, and this file's worker starts with it
 * empty, so what the cases put there and find there is theirs.
 */
import { once } from 'node:events';
import { afterEach, expect, it, vi } from 'vitest';
import { DfsOutputStream, type OutputStreamOptions } from '../../src/client/dfs-output-stream.js';
import {
  givePageAligned,
  PAGE_ALIGNED_FREE_BYTES_MAX,
  pageAlignedStats,
  takePageAligned,
} from '../../src/common/page-aligned.js';
import { testBytes } from '../support/data-path.js';
import {
  eventually,
  FakeClient,
  FakeNamenode,
  startDataNodes,
  type TestDataNodes,
} from '../support/client-seam.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const PACKET = 8 * KiB;
const WINDOW = 8 * PACKET;
const LAYOUT: OutputStreamOptions = {
  chunkBytes: 512,
  packetBytes: PACKET,
  blockBytes: 256 * KiB,
  windowBytes: WINDOW,
};

let dns: TestDataNodes | null = null;
afterEach(async () => {
  vi.useRealTimers();
  await dns?.stopAll();
  dns = null;
});

async function writeAll(stream: DfsOutputStream, data: Buffer): Promise<void> {
  for (let off = 0; off < data.length; off += 5000) {
    if (!stream.write(data.subarray(off, off + 5000))) await once(stream, 'drain');
  }
  stream.end();
  await once(stream, 'finish');
  await eventually(() => stream.destroyed, 'the stream destroyed after its finish');
}

it('a stream reuses its own acknowledged packet buffers, whatever the free list holds, and gives them back at its end', async () => {
  dns = await startDataNodes(1);
  const client = new FakeClient(new FakeNamenode(dns.infos(), 256 * KiB));
  expect(pageAlignedStats().freeBytes).toBe(0);
  // The list's trim (free-list-trim.ts) never runs here: what the case finds there stays.
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
  // The free list full of other buffers: what the stream gives back there is dropped.
  const filler = Array.from({ length: PAGE_ALIGNED_FREE_BYTES_MAX / MiB }, () => takePageAligned(MiB));
  for (const b of filler) givePageAligned(b);
  expect(pageAlignedStats().freeBytes).toBe(PAGE_ALIGNED_FREE_BYTES_MAX);
  const made = pageAlignedStats().allocated;
  await writeAll(new DfsOutputStream(client, '/reuse/a', LAYOUT), testBytes(128 * PACKET + 300, 21));
  // A window's packets and the one being filled, over 129 packets.
  expect(pageAlignedStats().allocated - made).toBeLessThanOrEqual(WINDOW / PACKET + 1);

  // With the list emptied, a finished stream's buffers (its spares and its unfilled next one) go back to it.
  const ours = new Set(filler);
  for (const b of filler) expect(ours.has(takePageAligned(b.length))).toBe(true);
  expect(pageAlignedStats().freeBytes).toBe(0);
  await writeAll(new DfsOutputStream(client, '/reuse/b', LAYOUT), testBytes(32 * PACKET, 22));
  expect(pageAlignedStats().freeBytes).toBeGreaterThanOrEqual(2 * PACKET);
});
