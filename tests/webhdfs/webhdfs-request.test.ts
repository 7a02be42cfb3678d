/**
 * WebHDFS request parsing (src/webhdfs/webhdfs-request.ts) without a server: the DFS path from
 * the raw request target (traversal in every spelling refused), ops by method, typed
 * parameters read case-insensitively, and the RemoteException each mistake becomes.
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { HttpError } from '../../src/common/http-router.js';
import { dfsPathOf, dfsPathParam, parseWebHdfsRequest } from '../../src/webhdfs/webhdfs-request.js';

function parse(method: string, target: string) {
  const req = { method, url: target } as IncomingMessage;
  return parseWebHdfsRequest(req, new URL(target, 'http://localhost'));
}

function refusal(f: () => unknown): { status: number; code: string; message: string } {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    const e = err as HttpError;
    return { status: e.status, code: e.code, message: e.message };
  }
  throw new Error('expected a refusal');
}

describe('dfsPathOf', () => {
  it('maps /webhdfs/v1/... to a DFS path, decoding each segment once', () => {
    expect(dfsPathOf('/webhdfs/v1')).toBe('/');
    expect(dfsPathOf('/webhdfs/v1/')).toBe('/');
    expect(dfsPathOf('/webhdfs/v1/a//b/')).toBe('/a/b');
    expect(dfsPathOf('/webhdfs/v1/donn%C3%A9es/a%20b')).toBe('/données/a b');
    expect(dfsPathOf('/webhdfs/v1/a%252e%252e')).toBe('/a%2e%2e');
  });

  it.each([
    '/webhdfs/v1/..',
    '/webhdfs/v1/a/../b',
    '/webhdfs/v1/a/./b',
    '/webhdfs/v1/%2e%2e/etc',
    '/webhdfs/v1/%2E%2e',
    '/webhdfs/v1/a%2F..%2Fb',
    '/webhdfs/v1/a%00b',
    '/webhdfs/v1/a%zz',
    '/webhdfs/v2/a',
    '/webhdfs/v1x',
  ])('refuses %s with IllegalArgumentException 400', (target) => {
    expect(refusal(() => dfsPathOf(target))).toMatchObject({ status: 400, code: 'IllegalArgumentException' });
  });

  it('refuses paths past the length and depth limits', () => {
    expect(refusal(() => dfsPathOf(`/webhdfs/v1/${'a/'.repeat(300)}`)).status).toBe(400);
    expect(refusal(() => dfsPathOf(`/webhdfs/v1/${'x'.repeat(5000)}`)).status).toBe(400);
  });

  it('checks a destination parameter the same way', () => {
    expect(dfsPathParam('/a/b', 'destination')).toBe('/a/b');
    expect(refusal(() => dfsPathParam('a/b', 'destination')).status).toBe(400);
    expect(refusal(() => dfsPathParam('/a/../b', 'destination')).status).toBe(400);
  });
});

describe('parseWebHdfsRequest', () => {
  it('reads op, names and booleans case-insensitively; user.name defaults to dr.who', () => {
    const r = parse('GET', '/webhdfs/v1/f?OP=open&Offset=10&noredirect=TRUE');
    expect([r.op, r.path, r.user]).toEqual(['OPEN', '/f', 'dr.who']);
    expect(r.params.int('offset', 0)).toBe(10);
    expect(r.params.bool('noredirect', false)).toBe(true);
    expect(parse('HEAD', '/webhdfs/v1/f?op=GETFILESTATUS&user.name=alice').user).toBe('alice');
  });

  it('refuses an op with the wrong method, an unknown op, no op, a bad user', () => {
    for (const [method, target] of [
      ['GET', '/webhdfs/v1/f?op=MKDIRS'],
      ['PUT', '/webhdfs/v1/f?op=OPEN'],
      ['GET', '/webhdfs/v1/f?op=NOPE'],
      ['GET', '/webhdfs/v1/f'],
      ['GET', '/webhdfs/v1/f?op=OPEN&user.name=a%2Fb'],
      ['GET', '/webhdfs/v1/f?op=OPEN&user.name=1abc'],
    ] as const)
      expect(refusal(() => parse(method, target))).toMatchObject({
        status: 400,
        code: 'IllegalArgumentException',
      });
  });

  it('typed parameters: integers in range, booleans, octal permissions, required values', () => {
    const r = parse('PUT', '/webhdfs/v1/f?op=CREATE&replication=0&blocksize=1e3&overwrite=yes&permission=8');
    expect(refusal(() => r.params.int('replication', 1, 32767)).message).toContain('"replication"');
    expect(refusal(() => r.params.int('blocksize', 1)).status).toBe(400);
    expect(refusal(() => r.params.bool('overwrite', false)).status).toBe(400);
    expect(refusal(() => r.params.octal('permission')).status).toBe(400);
    expect(refusal(() => r.params.required('destination')).message).toBe('destination is not specified.');
    expect(r.params.int('length', 0)).toBeUndefined();
    expect(parse('PUT', '/webhdfs/v1/f?op=CREATE&permission=0755').params.octal('permission')).toBe(0o755);
    // HDFS's PermissionParam: [0-1]?[0-7][0-7][0-7], the sticky bit and nothing above it.
    expect(parse('PUT', '/webhdfs/v1/f?op=SETPERMISSION&permission=1777').params.octal('permission')).toBe(
      0o1777,
    );
    for (const bad of ['7777', '75', '0o755', '493'])
      expect(
        refusal(() =>
          parse('PUT', `/webhdfs/v1/f?op=SETPERMISSION&permission=${bad}`).params.octal('permission'),
        ).status,
      ).toBe(400);
  });
});
