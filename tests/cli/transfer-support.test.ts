/**
 * Unit tests of the decisions in src/cli/commands/transfer-support.ts that need no cluster:
 * whether `get REMOTE -` warns before writing a file to a terminal (`binaryToTerminalWarning`,
 * `looksBinary`), and that a failed transfer's error never shows the internal `._COPYING_`
 * name (`withoutCopyName`).
 */
import { describe, expect, it } from 'vitest';
import { DfsError } from '../../protocol/errors.js';
import {
  BINARY_SNIFF_BYTES,
  binaryToTerminalWarning,
  looksBinary,
  withoutCopyName,
} from '../../src/cli/commands/transfer-support.js';

describe('looksBinary', () => {
  it('takes text as text: ASCII, UTF-8, tabs and newlines, coloured log lines, nothing at all', () => {
    expect(looksBinary(Buffer.from('hello\tworld\r\n'))).toBe(false);
    expect(looksBinary(Buffer.from('Grüße, 日本語, 🎉\n'))).toBe(false);
    expect(looksBinary(Buffer.from('\x1b[31mERROR\x1b[0m disk full\n'))).toBe(false);
    expect(looksBinary(Buffer.alloc(0))).toBe(false);
  });

  it('does not hold a character cut by the end of the sample against the text', () => {
    const text = Buffer.from('a'.repeat(BINARY_SNIFF_BYTES - 1) + '日本');
    expect(looksBinary(text)).toBe(false); // the sample ends one byte into 日
  });

  it('takes NULs, other control characters, DEL and bytes that are not UTF-8 as binary', () => {
    expect(looksBinary(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01]))).toBe(true); // an ELF header
    expect(looksBinary(Buffer.from('text\0more'))).toBe(true);
    expect(looksBinary(Buffer.from('bell\x07'))).toBe(true);
    expect(looksBinary(Buffer.from([0x61, 0xff, 0xfe, 0x62]))).toBe(true);
    expect(looksBinary(Buffer.from([0x61, 0xc3, 0x28]))).toBe(true); // a broken sequence mid-sample
  });
});

describe('binaryToTerminalWarning', () => {
  const binary = Buffer.from([0x00, 0x01, 0x02, 0xff]);
  const text = Buffer.from('just text\n');

  it('warns only for binary data going to a terminal', () => {
    const warning = binaryToTerminalWarning('/data/img.bin', true, binary);
    expect(warning).toMatch(/^\/data\/img\.bin looks like binary data and stdout is a terminal/);
    expect(warning).not.toContain('\n');
    expect(binaryToTerminalWarning('/data/img.bin', false, binary)).toBeNull(); // a pipe or a file
    expect(binaryToTerminalWarning('/data/notes.txt', true, text)).toBeNull();
    expect(binaryToTerminalWarning('/data/notes.txt', false, text)).toBeNull();
  });
});

describe('withoutCopyName', () => {
  it('drops ._COPYING_ from a DfsError, keeping its code; leaves other errors alone', () => {
    const err = withoutCopyName(
      new DfsError('LEASE_CONFLICT', '/d/f._COPYING_ is being written by another client'),
    );
    expect(err).toBeInstanceOf(DfsError);
    expect(err).toMatchObject({ code: 'LEASE_CONFLICT', message: '/d/f is being written by another client' });
    const plain = new DfsError('NOT_FOUND', '/d/f does not exist');
    expect(withoutCopyName(plain)).toBe(plain);
    const bug = new Error('x._COPYING_');
    expect(withoutCopyName(bug)).toBe(bug);
  });
});
