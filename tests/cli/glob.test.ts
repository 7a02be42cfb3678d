/**
 * The glob syntax of ./src/cli/commands/glob.ts on its own (no cluster): which names each
 * pattern accepts, brace expansion, and the errors for malformed patterns.
 */
import { describe, expect, it } from 'vitest';
import { componentMatcher, expandBraces, hasGlob } from '../../src/cli/commands/glob.js';

function matches(pattern: string, names: string[]): string[] {
  const m = componentMatcher(pattern);
  return names.filter((n) => m(n));
}

describe('glob patterns', () => {
  const names = ['a.txt', 'b.txt', 'ab.log', '.hidden', 'c', 'x*y', 'a-b', 'A.TXT'];

  it('* ? and character classes match within one component, dot files included', () => {
    expect(matches('*.txt', names)).toEqual(['a.txt', 'b.txt']);
    expect(matches('?', names)).toEqual(['c']);
    expect(matches('[ab].txt', names)).toEqual(['a.txt', 'b.txt']);
    expect(matches('[!a]*', names)).toEqual(['b.txt', '.hidden', 'c', 'x*y', 'A.TXT']);
    expect(matches('[^a]*', names)).toEqual(['b.txt', '.hidden', 'c', 'x*y', 'A.TXT']);
    expect(matches('[a-b]*', names)).toEqual(['a.txt', 'b.txt', 'ab.log', 'a-b']);
    expect(matches('*', names)).toEqual(names);
    expect(matches('.*', names)).toEqual(['.hidden']);
  });

  it('escapes make a glob character literal; regex characters are never special', () => {
    expect(matches('x\\*y', names)).toEqual(['x*y']);
    expect(matches('a.txt', ['a.txt', 'aXtxt'])).toEqual(['a.txt']);
    expect(matches('a+(b)', ['a+(b)', 'aab'])).toEqual(['a+(b)']);
    expect(hasGlob('/a/x\\*y')).toBe(false);
    expect(hasGlob('/a/*')).toBe(true);
  });

  it('braces expand to alternatives, nested and combined', () => {
    expect(expandBraces('/d/{a,b}.txt')).toEqual(['/d/a.txt', '/d/b.txt']);
    expect(expandBraces('{x,y{1,2}}z')).toEqual(['xz', 'y1z', 'y2z']);
    expect(expandBraces('{a,b}{c,d}')).toEqual(['ac', 'ad', 'bc', 'bd']);
    expect(expandBraces('plain')).toEqual(['plain']);
  });

  it('malformed patterns are INVALID_ARGUMENT', () => {
    expect(() => expandBraces('/d/{a,b')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => componentMatcher('[ab')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => expandBraces('{a,b}'.repeat(11))).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});
