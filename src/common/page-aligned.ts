/**
 * Buffers that start on a memory page, for the bytes read from a file on the data path: the
 * local file a client uploads (DfsOutputStream.writeFrom) and the replica a DataNode sends
 * (replica-reader.ts). Recycled through one free list per process.
 *
 * Why: the kernel copies a read from the page cache into our memory with `rep movsb`, and
 * on the AMD EPYC VMs measured that copy runs about five times slower when the destination
 * lies 1 to 31 bytes past the source modulo 4 KiB (the loads alias the stores just made).
 * File data at a page-aligned offset starts on a page, and Node's large Buffers come from
 * malloc, which puts a chunk it maps on its own 16 bytes past a page: squarely in the slow
 * band. Reading 1 GiB from the page cache into one 1 MiB buffer took 0.5-0.7 CPU-s at page
 * offsets 1-31, 0.11-0.15 at offset 0 or 32 and up. The yardstick's `createReadStream` reads
 * into fresh buffers that land anywhere, so it rarely meets the slow band; a fixed
 * malloc'ed buffer always does.
 *
 * A WebAssembly.Memory is mapped on its own and so starts on a page; each buffer here is one,
 * of its own (64 KiB pages, so a buffer's tail rounds up to 64 KiB). V8 reserves address
 * space for a memory beyond its size (up to 10 GiB of it, none of it backed), so a process
 * using these shows a large virtual size; what it holds is the resident size as before.
 * Memory is given back by the GC once a buffer is neither held nor on the free list, which
 * keeps a burst's buffers for a while and lets them go once they sit unused (free-list-trim.ts).
 *
 * Rules for callers: give a buffer back only once nothing reads or writes it any more (its
 * file read settled, its socket write called back); a buffer not given back is simply
 * collected. Giving back one that is not from here, or twice, is our bug and asserts.
 */
import { assert } from '../../protocol/errors.js';
import { FREE_LIST_TRIM_INTERVAL_MS, FreeListTrim } from './free-list-trim.js';

/**
 * Bytes the free list may hold, all sizes together; more are left to the GC. Room for
 * several writers' windows (32 MiB and two packets each by default): four 1 GiB uploads at
 * once in one process hold 136 buffers, and with a list of 32 MiB each round of them made
 * about 92 anew. What sits unused is let go down to PAGE_ALIGNED_FREE_BYTES_KEPT
 * (free-list-trim.ts).
 */
export const PAGE_ALIGNED_FREE_BYTES_MAX = 160 * 1024 * 1024;
/** Bytes the free list keeps however long they sit unused (a writer's window). */
export const PAGE_ALIGNED_FREE_BYTES_KEPT = 32 * 1024 * 1024;

const WASM_PAGE_BYTES = 64 * 1024;

/** The one WebAssembly class used here (the project's TypeScript libs do not declare it). */
const WasmMemory = (
  globalThis as unknown as {
    WebAssembly: {
      Memory: new (size: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer };
    };
  }
).WebAssembly.Memory;

/** Free buffers by length. */
const free = new Map<number, Buffer[]>();
let freeBytes = 0;
const trim = new FreeListTrim({
  kept: PAGE_ALIGNED_FREE_BYTES_KEPT,
  intervalMs: FREE_LIST_TRIM_INTERVAL_MS,
  size: () => freeBytes,
  // Any sizes: the bytes unused are counted over all of them (on the data path nearly all
  // are one packet size), and the last buffer dropped may take it a little below the kept.
  drop: (excess) => {
    for (const list of free.values()) {
      while (excess > 0 && list.length > 0) {
        const b = list.pop()!;
        freeBytes -= b.length;
        excess -= b.length;
      }
    }
  },
});
let allocated = 0;
/** Buffers made ordinary because no memory could be reserved. */
let unaligned = 0;
/** Every buffer made here (a weak set: one dropped by its user is still collected). */
const ours = new WeakSet<Buffer>();
/** Buffers taken and not yet given back, to catch a second give (kept or not). */
const out = new WeakSet<Buffer>();

/** A buffer of `bytes` that starts on a page: a free one of that length, or a new one. */
export function takePageAligned(bytes: number): Buffer {
  assert(Number.isInteger(bytes) && bytes > 0, `page-aligned buffer of ${bytes} bytes`);
  const list = free.get(bytes);
  const reused = list?.pop();
  if (reused !== undefined) {
    freeBytes -= bytes;
    trim.taken();
    out.add(reused);
    return reused;
  }
  const buf = newAligned(bytes) ?? Buffer.allocUnsafeSlow(bytes);
  ours.add(buf);
  out.add(buf);
  allocated++;
  return buf;
}

/**
 * A new page-aligned buffer, or null where V8 cannot reserve a memory's address space (a
 * process limit such as `ulimit -v`): the caller then gets an ordinary buffer, slower to
 * read files into but correct.
 */
function newAligned(bytes: number): Buffer | null {
  const pages = Math.ceil(bytes / WASM_PAGE_BYTES);
  try {
    return Buffer.from(new WasmMemory({ initial: pages, maximum: pages }).buffer, 0, bytes);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    unaligned++;
    return null;
  }
}

/**
 * Gives back a buffer `takePageAligned` returned, once nothing reads or writes it: kept for
 * reuse while the free list has room, else left to the GC.
 */
export function givePageAligned(buf: Buffer): void {
  assert(ours.has(buf), `a buffer of ${buf.length} bytes given back that was not taken here`);
  assert(out.has(buf), `a page-aligned buffer of ${buf.length} bytes given back twice`);
  out.delete(buf);
  if (freeBytes + buf.length > PAGE_ALIGNED_FREE_BYTES_MAX) return;
  let list = free.get(buf.length);
  if (list === undefined) {
    list = [];
    free.set(buf.length, list);
  }
  list.push(buf);
  freeBytes += buf.length;
  trim.given();
}

/** Whether `buf` was made by `takePageAligned` (a caller that also holds others' buffers; tests). */
export function madePageAligned(buf: Buffer): boolean {
  return ours.has(buf);
}

/** Buffers ever made (and of those, ordinary ones), and bytes on the free list (tests, metrics). */
export function pageAlignedStats(): { allocated: number; unaligned: number; freeBytes: number } {
  return { allocated, unaligned, freeBytes };
}
