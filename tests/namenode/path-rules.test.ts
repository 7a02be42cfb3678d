/**
 * Path rules: every malformed path is INVALID_PATH before it reaches the tree or the log,
 * the limits hold exactly at their bounds (bytes, not UTF-16 units), and unicode names pass.
 */
import { describe, expect, it } from 'vitest';
import { DfsError } from '../../protocol/errors.js';
import { NAME_BYTES_MAX, PATH_BYTES_MAX, PATH_DEPTH_MAX } from '../../protocol/limits.js';
import { isSameOrBeneath, joinPath, parsePath } from '../../src/namenode/path-rules.js';

function invalid(path: string): string {
  try {
    parsePath(path);
  } catch (err) {
    expect(err).toBeInstanceOf(DfsError);
    expect((err as DfsError).code).toBe('INVALID_PATH');
    return (err as DfsError).message;
  }
  throw new Error(`expected INVALID_PATH for ${JSON.stringify(path.slice(0, 80))}`);
}

describe('parsePath', () => {
  it('splits valid absolute paths; the root is no components', () => {
    expect(parsePath('/')).toEqual([]);
    expect(parsePath('/a')).toEqual(['a']);
    expect(parsePath('/a/b/c')).toEqual(['a', 'b', 'c']);
    expect(parsePath('/.hidden/..x/x..')).toEqual(['.hidden', '..x', 'x..']);
    expect(parsePath('/a b/ c /tab\there')).toEqual(['a b', ' c ', 'tab\there']);
  });

  it.each([
    ['relative', 'a/b', 'not absolute'],
    ['relative dot', './a', 'not absolute'],
    ['empty', '', 'empty path'],
    ['double slash', '//', 'empty component'],
    ['inner double slash', '/a//b', 'empty component'],
    ['trailing slash', '/a/', 'empty component'],
    ['dot', '/a/./b', "'.' component"],
    ['leading dot', '/.', "'.' component"],
    ['dot dot', '/a/../b', "'..' component"],
    ['trailing dot dot', '/a/..', "'..' component"],
    ['NUL', '/a\0b', 'NUL'],
    ['NUL alone', '/\0', 'NUL'],
  ])('INVALID_PATH: %s', (_what, path, reason) => {
    expect(invalid(path)).toContain(reason);
  });

  it('INVALID_PATH for non-string input (a decoder bug must not reach the tree)', () => {
    expect(invalid(undefined as unknown as string)).toContain('empty');
  });

  it(`total length: ${PATH_BYTES_MAX} bytes pass, one more fails (counted in UTF-8 bytes)`, () => {
    const seg = `/${'a'.repeat(255)}`; // 256 bytes
    const max = seg.repeat(PATH_BYTES_MAX / 256);
    expect(Buffer.byteLength(max)).toBe(PATH_BYTES_MAX);
    expect(parsePath(max)).toHaveLength(PATH_BYTES_MAX / 256);
    expect(invalid(`${max}b`)).toContain(`longer than ${PATH_BYTES_MAX} bytes`);
    expect(invalid(`/${'a'.repeat(PATH_BYTES_MAX)}`)).toContain('bytes');
    // 17 names of 127 'é' are 2,176 UTF-16 units but 4,335 bytes: too long.
    const multi = `/${'é'.repeat(127)}`.repeat(17);
    expect(multi.length).toBeLessThan(PATH_BYTES_MAX);
    expect(Buffer.byteLength(multi)).toBeGreaterThan(PATH_BYTES_MAX);
    expect(invalid(multi)).toContain('bytes');
  });

  it(`depth: ${PATH_DEPTH_MAX} components pass, ${PATH_DEPTH_MAX + 1} fail`, () => {
    expect(parsePath('/a'.repeat(PATH_DEPTH_MAX))).toHaveLength(PATH_DEPTH_MAX);
    expect(invalid('/a'.repeat(PATH_DEPTH_MAX + 1))).toContain(`deeper than ${PATH_DEPTH_MAX}`);
  });

  it(`name length: ${NAME_BYTES_MAX} bytes pass, 256 fail, in bytes for multi-byte names`, () => {
    expect(parsePath(`/${'x'.repeat(NAME_BYTES_MAX)}`)).toEqual(['x'.repeat(NAME_BYTES_MAX)]);
    expect(invalid(`/${'x'.repeat(256)}`)).toContain(`component longer than ${NAME_BYTES_MAX} bytes`);
    expect(invalid(`/ok/${'x'.repeat(256)}/ok`)).toContain('component longer');
    // 2-byte characters: 127 = 254 bytes pass, 128 = 256 bytes fail.
    expect(parsePath(`/${'é'.repeat(127)}`)).toHaveLength(1);
    expect(invalid(`/${'é'.repeat(128)}`)).toContain('component longer');
    // 3-byte characters: 85 = 255 bytes pass, 86 = 258 bytes fail.
    expect(parsePath(`/${'中'.repeat(85)}`)).toHaveLength(1);
    expect(invalid(`/${'中'.repeat(86)}`)).toContain('component longer');
    // 4-byte characters (surrogate pairs): 63 = 252 bytes pass, 64 = 256 bytes fail.
    expect(parsePath(`/${'😀'.repeat(63)}`)).toHaveLength(1);
    expect(invalid(`/${'😀'.repeat(64)}`)).toContain('component longer');
  });

  it('accepts unicode names', () => {
    expect(parsePath('/données/日本語/emoji-😀/Ωmega/עברית')).toEqual([
      'données',
      '日本語',
      'emoji-😀',
      'Ωmega',
      'עברית',
    ]);
    expect(parsePath('/\u00a0/\u200b')).toEqual(['\u00a0', '\u200b']);
  });

  it('a long invalid path is shortened in the message', () => {
    const msg = invalid(`/${'a'.repeat(5000)}`);
    expect(msg.length).toBeLessThan(400);
  });
});

describe('joinPath and isSameOrBeneath', () => {
  it('joinPath is the inverse of parsePath', () => {
    for (const p of ['/', '/a', '/a/b/c', '/日本/😀']) expect(joinPath(parsePath(p))).toBe(p);
  });

  it('compares component-wise, not by string prefix', () => {
    expect(isSameOrBeneath(['a'], ['a'])).toBe(true);
    expect(isSameOrBeneath(['a'], ['a', 'b'])).toBe(true);
    expect(isSameOrBeneath([], ['a'])).toBe(true);
    expect(isSameOrBeneath(['a'], ['ab'])).toBe(false);
    expect(isSameOrBeneath(['a', 'b'], ['a'])).toBe(false);
    expect(isSameOrBeneath(['a', 'b'], ['a', 'c', 'b'])).toBe(false);
  });
});
