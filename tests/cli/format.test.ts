/**
 * Unit tests of the CLI's human formatting (no cluster): sizes, dates, column alignment,
 * key/value blocks and the ls/stat/info renderings built on them.
 */
import { describe, expect, it } from 'vitest';
import {
  alignColumns,
  formatDateTime,
  formatKeyValues,
  formatLsRows,
  formatServerInfo,
  formatStat,
  humanBytes,
  lsRow,
  type SizeStyle,
} from '../../src/cli/format.js';
import type { FileStatus } from '../../protocol/shared-structures.js';

const K = 1024;
const M = K * K;
const G = M * K;

describe('humanBytes', () => {
  it('shows exact bytes below 1 KiB', () => {
    expect(humanBytes(0)).toBe('0');
    expect(humanBytes(1)).toBe('1');
    expect(humanBytes(1023)).toBe('1023');
  });

  it('uses one decimal below 10 units and whole units above', () => {
    expect(humanBytes(K)).toBe('1.0K');
    expect(humanBytes(1.5 * K)).toBe('1.5K');
    expect(humanBytes(10 * K)).toBe('10K');
    expect(humanBytes(23 * M)).toBe('23M');
    expect(humanBytes(4 * G)).toBe('4.0G');
    expect(humanBytes(64 * M)).toBe('64M');
    expect(humanBytes(3 * G * K)).toBe('3.0T');
    expect(humanBytes(2 ** 53)).toBe('8.0P');
  });

  it('rounds up, never under-reporting, and carries into the next unit', () => {
    expect(humanBytes(K + 1)).toBe('1.1K');
    expect(humanBytes(10 * K - 1)).toBe('10K'); // 9.999K rounds up to 10.0 -> whole units
    expect(humanBytes(M - 1)).toBe('1.0M'); // 1023.999K would be 1024K
    expect(humanBytes(1023 * K)).toBe('1023K');
    expect(humanBytes(1023 * K + 1)).toBe('1.0M');
    expect(humanBytes(G - 1)).toBe('1.0G');
  });

  it('never exceeds the 5-character ls column', () => {
    for (let e = 0; e <= 53; e++) {
      for (const n of [2 ** e - 1, 2 ** e, 2 ** e + 1, Math.floor(2 ** e * 1.37)]) {
        if (n < 0) continue;
        expect(humanBytes(n).length, `humanBytes(${n}) = ${humanBytes(n)}`).toBeLessThanOrEqual(5);
      }
    }
  });

  it('passes nonsense through rather than inventing a size', () => {
    expect(humanBytes(-1)).toBe('-1');
    expect(humanBytes(Number.NaN)).toBe('NaN');
  });
});

describe('formatDateTime', () => {
  it('formats local time as YYYY-MM-DD HH:MM, with optional seconds', () => {
    const ms = new Date(2024, 0, 2, 3, 4, 5).getTime(); // local time, so the test is zone-independent
    expect(formatDateTime(ms)).toBe('2024-01-02 03:04');
    expect(formatDateTime(ms, { seconds: true })).toBe('2024-01-02 03:04:05');
    expect(formatDateTime(new Date(1999, 11, 31, 23, 59).getTime())).toBe('1999-12-31 23:59');
  });
});

describe('alignColumns', () => {
  it('pads to the widest cell, honours minimum widths and leaves no trailing blanks', () => {
    const lines = alignColumns(
      [
        ['a', '1', 'x'],
        ['bbb', '100', 'yy'],
      ],
      ['left', 'right', 'left'],
      [0, 5, 0],
    );
    expect(lines).toEqual(['a       1 x', 'bbb   100 yy']);
  });

  it('handles an empty batch', () => {
    expect(alignColumns([], ['left'])).toEqual([]);
  });
});

describe('formatKeyValues', () => {
  it('aligns values after the longest key', () => {
    expect(
      formatKeyValues([
        ['a', '1'],
        ['long', '2'],
      ]),
    ).toEqual(['a:    1', 'long: 2']);
  });
});

const mtimeMs = new Date(2024, 5, 7, 8, 9, 10).getTime();
const file: FileStatus = {
  path: '/data/file.bin',
  type: 2,
  length: 1536,
  replication: 3,
  blockBytes: 64 * M,
  mtimeMs,
  blockCount: 1,
  underConstruction: false,
  childCount: 0,
  owner: 'alice',
  group: 'staff',
  permission: 0o644,
};
const dir: FileStatus = {
  ...file,
  path: 'sub',
  type: 1,
  length: 0,
  replication: 0,
  blockBytes: 0,
  blockCount: 0,
  childCount: 4,
  owner: 'alice',
  group: 'staff',
  permission: 0o1775,
};

describe('ls rows', () => {
  it('renders files and directories in aligned columns', () => {
    const rows = (sizes: SizeStyle): string[] =>
      formatLsRows([lsRow(dir, '/data/sub', sizes), lsRow(file, '/data/file.bin', sizes)], sizes);
    expect(rows('human')).toEqual([
      'drwxrwxr-t   - alice    staff          0 2024-06-07 08:09 /data/sub',
      '-rw-r--r--   3 alice    staff       1.5K 2024-06-07 08:09 /data/file.bin',
    ]);
    expect(rows('exact')).toEqual([
      'drwxrwxr-t   - alice    staff               0 2024-06-07 08:09 /data/sub',
      '-rw-r--r--   3 alice    staff            1536 2024-06-07 08:09 /data/file.bin',
    ]);
  });

  it('keeps columns aligned across separate batches', () => {
    for (const sizes of ['human', 'exact'] as const) {
      const a = formatLsRows([lsRow(dir, '/x', sizes)], sizes)[0]!;
      const b = formatLsRows([lsRow({ ...file, length: 999 * M, replication: 10 }, '/y', sizes)], sizes)[0]!;
      expect(a.indexOf('2024')).toBe(b.indexOf('2024'));
    }
  });
});

describe('stat and info', () => {
  it('shows every FileStatus field', () => {
    const lines = formatStat(file);
    const keys = lines.map((l) => l.split(':')[0]);
    expect(keys).toEqual(Object.keys(file));
    expect(lines).toContain('permission:        644 (rw-r--r--)');
    expect(lines).toContain('owner:             alice');
    expect(lines).toContain('length:            1536 (1.5K)');
    expect(lines).toContain('blockBytes:        67108864 (64M)');
    expect(lines).toContain(`mtimeMs:           ${mtimeMs} (2024-06-07 08:09:10)`);
    expect(lines).toContain('underConstruction: no');
    expect(formatStat(dir)).toContain('type:              directory');
  });

  it('shows the server info', () => {
    const lines = formatServerInfo(
      {
        clusterId: 'CID-1',
        version: '0.1.0',
        safeMode: true,
        lastTxid: 7,
        fileCount: 1,
        directoryCount: 2,
        blockCount: 3,
        trashIntervalMs: 86_400_000,
      },
      '127.0.0.1:8020',
    );
    expect(lines[0]).toBe('namenode:       127.0.0.1:8020');
    expect(lines).toContain('safeMode:       ON (mutations are refused)');
    expect(lines).toContain('directoryCount: 2');
    expect(lines).toContain('trash:          on, kept 1440 min');
  });
});
