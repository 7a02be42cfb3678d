/**
 * Page-aligned buffers (src/common/page-aligned.ts): that they really start on a boundary,
 * shown the way the kernel sees it, and how the free list recycles them.
 *
 * Alignment is observed through O_DIRECT: Linux refuses (EINVAL) a direct read into memory
 * that is not aligned to the device's logical block. A malloc'ed 1 MiB Buffer (16 bytes past
 * a page) is refused, a page-aligned buffer is not, nor is a view of it 4 KiB in, and a view
 * one byte in is refused again. A file system without O_DIRECT (tmpfs) skips, saying so.
 * Where V8 cannot reserve a memory (a process under `ulimit -v`), an ordinary buffer comes
 * instead, counted, not an error.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { AssertionFailure } from '../../protocol/index.js';
import {
  givePageAligned,
  madePageAligned,
  PAGE_ALIGNED_FREE_BYTES_MAX,
  pageAlignedStats,
  takePageAligned,
} from '../../src/common/page-aligned.js';

const MiB = 1024 * 1024;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-page-aligned-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** An fd of a 1 MiB file opened O_DIRECT, or why it cannot be. */
function directFile(): { fd: number } | { reason: string } {
  const file = path.join(dir, 'direct');
  fs.writeFileSync(file, Buffer.alloc(MiB, 7));
  try {
    return { fd: fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_DIRECT) };
  } catch (err) {
    return { reason: `O_DIRECT not supported in ${dir}: ${(err as Error).message}` };
  }
}

/** The error code of a direct read of `len` bytes into `buf`, or 'ok'. */
function directRead(fd: number, buf: Buffer, len: number): string {
  try {
    fs.readSync(fd, buf, 0, len, 0);
    return 'ok';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'error';
  }
}

describe('page-aligned buffers', () => {
  it('start on a page boundary, as O_DIRECT checks it; a malloc-ed 1 MiB Buffer does not', (ctx) => {
    const f = directFile();
    if ('reason' in f) {
      console.log(`skipped: ${f.reason}`);
      ctx.skip();
      return;
    }
    try {
      expect(directRead(f.fd, Buffer.allocUnsafeSlow(MiB), 4096)).toBe('EINVAL');
      for (const bytes of [4096, 100_000, MiB, 3 * MiB + 5]) {
        const buf = takePageAligned(bytes);
        expect(buf.length).toBe(bytes);
        expect(directRead(f.fd, buf, 4096)).toBe('ok');
        expect(buf[0]).toBe(7);
        if (bytes > 8192) {
          expect(directRead(f.fd, buf.subarray(4096), 4096)).toBe('ok');
          expect(directRead(f.fd, buf.subarray(1), 4096)).toBe('EINVAL');
        }
      }
    } finally {
      fs.closeSync(f.fd);
    }
  });

  it('a buffer given back is the next one taken of its length; another length is new', () => {
    const a = takePageAligned(MiB);
    const made = pageAlignedStats().allocated;
    givePageAligned(a);
    expect(pageAlignedStats().freeBytes).toBe(MiB);
    const other = takePageAligned(MiB / 2);
    expect(pageAlignedStats().allocated).toBe(made + 1);
    expect(takePageAligned(MiB)).toBe(a);
    expect(pageAlignedStats().allocated).toBe(made + 1);
    expect(pageAlignedStats().freeBytes).toBe(0);
    expect(madePageAligned(a) && madePageAligned(other)).toBe(true);
    expect(madePageAligned(a.subarray(0, 10))).toBe(false);
  });

  it('the free list keeps at most its bound; the rest is left to the GC', () => {
    const n = PAGE_ALIGNED_FREE_BYTES_MAX / MiB + 3;
    const bufs = Array.from({ length: n }, () => takePageAligned(MiB));
    const before = pageAlignedStats().freeBytes;
    for (const b of bufs) givePageAligned(b);
    expect(pageAlignedStats().freeBytes).toBe(PAGE_ALIGNED_FREE_BYTES_MAX);
    expect(before).toBeLessThanOrEqual(PAGE_ALIGNED_FREE_BYTES_MAX);
    // Taking them all again reuses what was kept and makes the rest anew.
    const made = pageAlignedStats().allocated;
    for (let i = 0; i < n; i++) takePageAligned(MiB);
    expect(pageAlignedStats().allocated - made).toBe(n - PAGE_ALIGNED_FREE_BYTES_MAX / MiB);
    // All page-aligned, however many are held at once (each a WebAssembly memory of its own).
    expect(pageAlignedStats().unaligned).toBe(0);
  });

  it('a burst beyond the kept bytes is reused while transfers come; an interval it sat unused lets it go', async () => {
    // A fresh instance of the module (its own free list), its trim timer on fake time.
    vi.useFakeTimers();
    vi.resetModules();
    try {
      const m = await import('../../src/common/page-aligned.js');
      const kept = m.PAGE_ALIGNED_FREE_BYTES_KEPT / MiB;
      const { FREE_LIST_TRIM_INTERVAL_MS: interval } = await import('../../src/common/free-list-trim.js');
      const burst = (n: number): void => {
        const bufs = Array.from({ length: n }, () => m.takePageAligned(MiB));
        for (const b of bufs) m.givePageAligned(b);
      };
      burst(kept + 16);
      expect(m.pageAlignedStats()).toMatchObject({ allocated: kept + 16, freeBytes: (kept + 16) * MiB });
      // Bursts a few seconds apart, intervals on: every one reuses, none is let go.
      for (let i = 0; i < 4; i++) {
        vi.advanceTimersByTime(interval / 3);
        burst(kept + 16);
      }
      vi.advanceTimersByTime(interval / 3);
      expect(m.pageAlignedStats()).toMatchObject({ allocated: kept + 16, freeBytes: (kept + 16) * MiB });
      // Then nothing for a whole interval: down to the kept bytes, no further however long.
      vi.advanceTimersByTime(2 * interval);
      expect(m.pageAlignedStats().freeBytes).toBe(kept * MiB);
      expect(vi.getTimerCount()).toBe(0);
      // The kept ones are reused; the rest of the next burst is made anew.
      burst(kept + 4);
      expect(m.pageAlignedStats().allocated).toBe(kept + 16 + 4);
    } finally {
      vi.useRealTimers();
      vi.resetModules();
    }
  });

  it('a second give is caught even when the free list did not keep the buffer the first time', () => {
    // Fill the list, so the next give is not kept.
    for (const b of Array.from({ length: PAGE_ALIGNED_FREE_BYTES_MAX / MiB }, () => takePageAligned(MiB)))
      givePageAligned(b);
    const b = takePageAligned(MiB / 4);
    givePageAligned(b);
    expect(() => givePageAligned(b)).toThrow(AssertionFailure);
  });

  it('giving back a buffer not taken here, or one already given, is an assertion', () => {
    expect(() => givePageAligned(Buffer.alloc(MiB))).toThrow(AssertionFailure);
    const b = takePageAligned(8192);
    givePageAligned(b);
    expect(() => givePageAligned(b)).toThrow(AssertionFailure);
  });

  it('under an address-space limit, where no memory can be reserved, an ordinary buffer instead', () => {
    const module = path.resolve('dist/src/common/page-aligned.js');
    const script = `import { takePageAligned, givePageAligned, pageAlignedStats } from ${JSON.stringify(module)};
      const b = takePageAligned(1 << 20); b.fill(1); givePageAligned(b);
      console.log(JSON.stringify({ same: takePageAligned(1 << 20) === b, ...pageAlignedStats() }));`;
    const out = execFileSync(
      'bash',
      ['-c', 'ulimit -v 4000000; exec "$0" --input-type=module -e "$1"', process.execPath, script],
      {
        encoding: 'utf8',
      },
    );
    expect(JSON.parse(out)).toEqual({
      same: true,
      allocated: 1,
      unaligned: 1,
      freeBytes: 0,
    });
  });
});
