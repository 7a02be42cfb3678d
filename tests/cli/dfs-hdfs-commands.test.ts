/**
 * The `hdfs dfs` commands DFS users reach for, run as real `dfs` processes against a real
 * NameNode and three DataNodes: cp, put and get of trees and of several sources, mv of
 * several sources, globs, rmdir, touchz, test, count, head, tail -f, getmerge, stat FORMAT,
 * find, the copy/move aliases, and rm refusing a directory without -r. Bytes are compared
 * exactly; errors are checked for their one-line form and code. One cluster serves the
 * file; each test works under its own top-level directory.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { finished } from 'node:stream/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import { blockDigest } from '../../src/client/file-checksum.js';
import { initChecksum, xxh3 } from '../../src/common/checksum.js';
import { DFS_BIN } from '../../src/local/daemon-process.js';
import { startCluster, tempDir } from '../support/cluster.js';
import { waitFor } from '../support/data-path.js';
import { failedWith, ok, runDfs, type DfsRun } from '../support/dfs-cli.js';

let namenode = '';
let cleanup: (() => Promise<void>) | null = null;
let client: DfsClient | null = null;
let local = '';

const dfs = (args: string[]): Promise<DfsRun> => runDfs(namenode, args, { timeoutMs: 30_000 });

async function readRemote(p: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of client!.open(p) as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

async function writeRemote(p: string, data: Buffer | string): Promise<void> {
  const out = client!.create(p, { createParent: true });
  out.end(typeof data === 'string' ? Buffer.from(data) : data);
  await finished(out); // rejects with the stream's error
}

/** Every file beneath local `dir`, relative path -> bytes. */
function localTree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const full = path.join(e.parentPath, e.name);
    out.set(path.relative(dir, full), fs.readFileSync(full));
  }
  return out;
}

function makeLocalTree(root: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>([
    ['a.txt', randomBytes(1000)],
    ['sub/b.bin', randomBytes(300_000)],
    ['sub/deeper/c.txt', Buffer.from('c\n')],
    ['empty', Buffer.alloc(0)],
  ]);
  for (const [rel, data] of files) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), data);
  }
  fs.mkdirSync(path.join(root, 'sub/emptydir'), { recursive: true });
  return files;
}

beforeAll(async () => {
  const started = await startCluster({ datanodes: 3 });
  cleanup = started.cleanup;
  namenode = started.cluster.namenodeAddress;
  client = new DfsClient({ namenode });
  local = tempDir('dfs-hdfs-cmds-');
  await client.waitSafeModeOff(30_000, 100);
});

afterAll(async () => {
  client?.close();
  await cleanup?.();
  if (local !== '') fs.rmSync(local, { recursive: true, force: true });
});

describe('trees and several sources', () => {
  it('put and get copy a whole directory tree, byte for byte, empty directories too', async () => {
    const src = path.join(local, 'tree');
    const files = makeLocalTree(src);
    await client!.mkdir('/t1');
    // DST an existing directory: the tree goes to DST/tree.
    const put = JSON.parse(ok(await dfs(['--json', 'put', src, '/t1'])).stdout) as {
      files: unknown[];
      bytes: number;
    };
    expect(put.files).toHaveLength(files.size);
    expect(put.bytes).toBe([...files.values()].reduce((s, b) => s + b.length, 0));
    for (const [rel, data] of files)
      expect((await readRemote(`/t1/tree/${rel}`)).equals(data), rel).toBe(true);
    expect((await client!.stat('/t1/tree/sub/emptydir')).type).toBe(1);
    // DST missing: the tree becomes DST.
    ok(await dfs(['put', src, '/t1/copy2']));
    expect((await readRemote('/t1/copy2/sub/b.bin')).equals(files.get('sub/b.bin')!)).toBe(true);
    // Again without -f: the target directory exists.
    expect(failedWith(await dfs(['put', src, '/t1']), 'put', 'ALREADY_EXISTS')).toContain('/t1/tree');
    // get of the tree back, and of a missing-DST form.
    const back = path.join(local, 'back');
    fs.mkdirSync(back);
    ok(await dfs(['get', '/t1/tree', back]));
    expect(localTree(path.join(back, 'tree'))).toEqual(files);
    expect(fs.statSync(path.join(back, 'tree/sub/emptydir')).isDirectory()).toBe(true);
    ok(await dfs(['get', '/t1/copy2', path.join(local, 'back2')]));
    expect(localTree(path.join(local, 'back2'))).toEqual(files);
    // No copy file anywhere.
    expect([...localTree(back).keys()].some((k) => k.includes('_COPYING_'))).toBe(false);
    // A DFS tree whose path is the local destination's parent is not "a copy into itself".
    const same = path.join(local, 'same');
    fs.mkdirSync(same);
    await client!.mkdir(same, { parents: true });
    ok(await dfs(['put', src, same]));
    ok(await dfs(['get', '-f', same, `${local}/`]));
    expect(localTree(path.join(local, 'same', 'tree'))).toEqual(files);
  });

  it('several sources go into an existing directory; otherwise the destination is refused', async () => {
    const a = path.join(local, 'ms-a');
    const b = path.join(local, 'ms-b');
    fs.writeFileSync(a, 'AAA');
    fs.writeFileSync(b, 'BBB');
    await client!.mkdir('/t2/in', { parents: true });
    ok(await dfs(['put', a, b, '/t2/in']));
    expect((await readRemote('/t2/in/ms-a')).toString()).toBe('AAA');
    expect((await readRemote('/t2/in/ms-b')).toString()).toBe('BBB');
    failedWith(await dfs(['put', a, b, '/t2/nope']), 'put', 'NOT_FOUND');
    failedWith(await dfs(['put', a, b, '/t2/in/ms-a']), 'put', 'NOT_A_DIRECTORY');
    // A missing source among several is reported; the others are copied.
    await client!.mkdir('/t2/in2');
    const r = await dfs(['put', a, path.join(local, 'missing'), b, '/t2/in2']);
    expect(failedWith(r, 'put', 'NOT_FOUND')).toContain('missing');
    expect(
      (await client!.exists('/t2/in2/ms-a')) !== null && (await client!.exists('/t2/in2/ms-b')) !== null,
    ).toBe(true);
    // get of several DFS sources (a glob) into a local directory.
    const out = path.join(local, 'ms-out');
    fs.mkdirSync(out);
    ok(await dfs(['get', '/t2/in/ms-*', out]));
    expect(fs.readFileSync(path.join(out, 'ms-a'), 'utf8')).toBe('AAA');
    expect(fs.readFileSync(path.join(out, 'ms-b'), 'utf8')).toBe('BBB');
    // mv of several sources into a directory.
    await client!.mkdir('/t2/moved');
    ok(await dfs(['mv', '/t2/in/ms-a', '/t2/in/ms-b', '/t2/moved']));
    expect((await readRemote('/t2/moved/ms-b')).toString()).toBe('BBB');
    expect(await client!.exists('/t2/in/ms-a')).toBeNull();
    failedWith(await dfs(['mv', '/t2/moved/ms-a', '/t2/moved/ms-b', '/t2/nodir']), 'mv', 'NOT_FOUND');
  });

  it('cp copies files and trees within DFS, verified and re-written; -f overwrites', async () => {
    const data = randomBytes(2 * 1024 * 1024 + 77);
    await writeRemote('/t3/src/big', data);
    await writeRemote('/t3/src/sub/small', 'small');
    ok(await dfs(['cp', '/t3/src/big', '/t3/big-copy']));
    expect((await readRemote('/t3/big-copy')).equals(data)).toBe(true);
    expect(
      failedWith(await dfs(['cp', '/t3/src/big', '/t3/big-copy']), 'cp', 'ALREADY_EXISTS'),
    ).not.toContain('_COPYING_');
    await writeRemote('/t3/other', 'other');
    ok(await dfs(['cp', '-f', '/t3/other', '/t3/big-copy']));
    expect((await readRemote('/t3/big-copy')).toString()).toBe('other');
    ok(await dfs(['cp', '/t3/src', '/t3/tree-copy']));
    expect((await readRemote('/t3/tree-copy/big')).equals(data)).toBe(true);
    expect((await readRemote('/t3/tree-copy/sub/small')).toString()).toBe('small');
    // Into itself is refused.
    failedWith(await dfs(['cp', '/t3/src', '/t3/src/sub']), 'cp', 'INVALID_ARGUMENT');
    // Blocks of the copy are its own, not shared with the source.
    const [s, c] = await Promise.all([
      client!.getBlockLocations('/t3/src/big'),
      client!.getBlockLocations('/t3/tree-copy/big'),
    ]);
    const ids = new Set(s.blocks.map((b) => b.block.blockId));
    expect(c.blocks.some((b) => ids.has(b.block.blockId))).toBe(false);
  });

  it('copyFromLocal, copyToLocal and moveFromLocal are put and get (move deletes the source)', async () => {
    const f = path.join(local, 'alias');
    fs.writeFileSync(f, 'alias-bytes');
    ok(await dfs(['copyFromLocal', f, '/alias1']));
    ok(await dfs(['copyToLocal', '/alias1', path.join(local, 'alias-back')]));
    expect(fs.readFileSync(path.join(local, 'alias-back'), 'utf8')).toBe('alias-bytes');
    ok(await dfs(['moveFromLocal', f, '/alias2']));
    expect(fs.existsSync(f)).toBe(false);
    expect((await readRemote('/alias2')).toString()).toBe('alias-bytes');
  });
});

describe('globs', () => {
  it('expand in ls, rm, cat and du; a glob matching nothing is NOT_FOUND', async () => {
    for (const n of ['x1.log', 'x2.log', 'y.txt']) await writeRemote(`/g/d1/${n}`, n);
    await writeRemote('/g/d2/x3.log', 'x3.log');
    const ls = JSON.parse(ok(await dfs(['--json', 'ls', '/g/d*/x?.log'])).stdout) as { path: string }[];
    expect(ls.map((e) => e.path)).toEqual(['/g/d1/x1.log', '/g/d1/x2.log', '/g/d2/x3.log']);
    expect(ok(await dfs(['cat', '/g/d1/{y.txt,x1.log}'])).stdout).toBe('x1.logy.txt');
    expect(ok(await dfs(['cat', '/g/d1/[xy]*'])).stdout).toBe('x1.logx2.logy.txt');
    const du = JSON.parse(ok(await dfs(['--json', 'du', '-s', '/g/*'])).stdout) as { path: string }[];
    expect(du.map((u) => u.path)).toEqual(['/g/d1', '/g/d2']);
    expect(failedWith(await dfs(['ls', '/g/nothing*']), 'ls', 'NOT_FOUND')).toContain('/g/nothing*');
    ok(await dfs(['rm', '/g/d1/x*']));
    expect((await client!.stat('/g/d1')).childCount).toBe(1);
    ok(await dfs(['rm', '-f', '/g/none*']));
  });
});

describe('small commands', () => {
  it('rm refuses a directory without -r; rmdir removes empty ones only', async () => {
    await client!.mkdir('/r/empty', { parents: true });
    await writeRemote('/r/full/f', 'x');
    expect(failedWith(await dfs(['rm', '/r/empty']), 'rm', 'IS_A_DIRECTORY')).toContain('rmdir');
    failedWith(await dfs(['rmdir', '/r/full']), 'rmdir', 'NOT_EMPTY');
    ok(await dfs(['rmdir', '--ignore-fail-on-non-empty', '/r/full']));
    failedWith(await dfs(['rmdir', '/r/full/f']), 'rmdir', 'NOT_A_DIRECTORY');
    ok(await dfs(['rmdir', '/r/empty']));
    expect(await client!.exists('/r/empty')).toBeNull();
    expect(await client!.exists('/r/full/f')).not.toBeNull();
  });

  it('touchz creates empty files, accepts an empty one, refuses a non-empty one', async () => {
    await client!.mkdir('/tz');
    ok(await dfs(['touchz', '/tz/a', '/tz/b']));
    expect((await client!.stat('/tz/a')).length).toBe(0);
    ok(await dfs(['touchz', '/tz/a']));
    await writeRemote('/tz/c', 'data');
    failedWith(await dfs(['touchz', '/tz/c']), 'touchz', 'ALREADY_EXISTS');
  });

  it('test answers with the exit status only', async () => {
    await writeRemote('/q/f', 'x');
    await writeRemote('/q/z', '');
    const status = async (args: string[]): Promise<number> => {
      const r = await dfs(['test', ...args]);
      expect(r.stdout + r.stderr).toBe('');
      return r.code;
    };
    expect(await status(['-e', '/q/f'])).toBe(0);
    expect(await status(['-e', '/q/none'])).toBe(1);
    expect(await status(['-d', '/q'])).toBe(0);
    expect(await status(['-d', '/q/f'])).toBe(1);
    expect(await status(['-f', '/q/f'])).toBe(0);
    expect(await status(['-f', '/q'])).toBe(1);
    expect(await status(['-s', '/q/f'])).toBe(0);
    expect(await status(['-s', '/q/z'])).toBe(1);
    expect(await status(['-z', '/q/z'])).toBe(0);
    expect(await status(['-z', '/q/f'])).toBe(1);
    failedWith(await dfs(['test', '-e', '-d', '/q']), 'test', 'USAGE', 2);
  });

  it('count gives directories, files and bytes; -q adds the quota columns', async () => {
    await writeRemote('/c/a', '12345');
    await writeRemote('/c/s/b', '123');
    const line = ok(await dfs(['count', '/c']))
      .stdout.trim()
      .split(/\s+/);
    expect(line).toEqual(['2', '2', '8', '/c']);
    const q = ok(await dfs(['count', '-q', '/c']))
      .stdout.trim()
      .split(/\s+/);
    expect(q).toEqual(['none', 'inf', 'none', 'inf', '2', '2', '8', '/c']);
    const json = JSON.parse(ok(await dfs(['--json', 'count', '/c/*'])).stdout) as object[];
    expect(json).toEqual([
      { path: '/c/a', directories: 0, files: 1, bytes: 5 },
      { path: '/c/s', directories: 1, files: 1, bytes: 3 },
    ]);
  });

  it('head prints the first KiB; getmerge concatenates, with --nl newlines', async () => {
    const data = randomBytes(5000);
    await writeRemote('/h/f', data);
    const r = await new Promise<Buffer>((resolve) => {
      const child = spawn(process.execPath, [DFS_BIN, '--namenode', namenode, 'head', '/h/f']);
      const out: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.on('close', () => resolve(Buffer.concat(out)));
    });
    expect(r.equals(data.subarray(0, 1024))).toBe(true);
    await writeRemote('/m/1', 'one');
    await writeRemote('/m/2', 'two');
    await writeRemote('/m/3', '');
    const merged = path.join(local, 'merged');
    ok(await dfs(['getmerge', '/m', merged]));
    expect(fs.readFileSync(merged, 'utf8')).toBe('onetwo');
    ok(await dfs(['getmerge', '--nl', '--skip-empty-file', '/m/1', '/m/2', '/m/3', merged]));
    expect(fs.readFileSync(merged, 'utf8')).toBe('one\ntwo\n');
    // A local folder that does not exist is a typed error, not a crash.
    failedWith(
      await dfs(['getmerge', '/m', path.join(local, 'no-such-dir', 'merged')]),
      'getmerge',
      'NOT_FOUND',
    );
  });

  it('stat FORMAT prints the conversions; an unknown one is a usage error', async () => {
    await writeRemote('/st2/file', '123456');
    const r = ok(await dfs(['stat', '%n %b %r %o %F', '/st2/file', '/st2']));
    expect(r.stdout).toBe(
      `file 6 3 ${(await client!.stat('/st2/file')).blockBytes} regular file\nst2 0 0 0 directory\n`,
    );
    expect(ok(await dfs(['stat', '%y', '/st2/file'])).stdout).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n$/);
    failedWith(await dfs(['stat', '%q', '/st2/file']), 'stat', 'USAGE', 2);
  });

  it('find matches names by glob and type beneath paths', async () => {
    await writeRemote('/fd/a.txt', 'x');
    await writeRemote('/fd/s/b.txt', 'x');
    await writeRemote('/fd/s/c.log', 'x');
    await client!.mkdir('/fd/s/d.txt');
    expect(
      ok(await dfs(['find', '/fd', '-name', '*.txt']))
        .stdout.split('\n')
        .filter(Boolean),
    ).toEqual(['/fd/a.txt', '/fd/s/b.txt', '/fd/s/d.txt']);
    const files = JSON.parse(
      ok(await dfs(['find', '/fd', '-name', '*.txt', '-type', 'f', '--json'])).stdout,
    ) as string[];
    expect(files).toEqual(['/fd/a.txt', '/fd/s/b.txt']);
    expect(ok(await dfs(['find', '/fd', '-type', 'd'])).stdout).toBe('/fd\n/fd/s\n/fd/s/d.txt\n');
    failedWith(await dfs(['find', '/fd', '-size', '1']), 'find', 'USAGE', 2);
  });

  it('tail -f prints what is added to a file until interrupted', async () => {
    await writeRemote('/tf/log', 'first\n');
    const child = spawn(process.execPath, [
      DFS_BIN,
      '--namenode',
      namenode,
      'tail',
      '-f',
      '-s',
      '0.2',
      '/tf/log',
    ]);
    const killer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor('the first tail', () => (out === 'first\n' ? true : undefined), 10_000);
      // The file is replaced by a longer one (no append yet): tail prints the new part.
      await writeRemote('/tf/log.new', 'first\nsecond\n');
      await client!.delete('/tf/log');
      await client!.rename('/tf/log.new', '/tf/log');
      await waitFor('the added line', () => (out === 'first\nsecond\n' ? true : undefined), 10_000);
    } finally {
      clearTimeout(killer);
      child.kill('SIGINT');
    }
  });
});

describe('checksum', () => {
  /** The file checksum PROTOCOL.md section 10 defines, computed here from the bytes alone. */
  function expectedChecksum(data: Buffer, blockBytes: number, chunkBytes: number): string {
    const file = createHash('sha256');
    for (let b = 0; b < data.length; b += blockBytes) {
      const block = data.subarray(b, Math.min(data.length, b + blockBytes));
      const sums = Buffer.alloc(Math.ceil(block.length / chunkBytes) * 8);
      for (let c = 0, i = 0; c < block.length; c += chunkBytes, i++)
        sums.set(xxh3(block.subarray(c, c + chunkBytes)), i * 8);
      file.update(createHash('sha256').update(sums).digest());
    }
    return file.digest('hex');
  }

  it('is computed by the DataNodes, equal for equal content and for every replica, as PROTOCOL.md defines', async () => {
    await initChecksum();
    const data = randomBytes(2 * 1024 * 1024 + 70_000); // two full 1 MiB blocks and a partial third
    const src = path.join(local, 'sum-src');
    fs.writeFileSync(src, data);
    await client!.mkdir('/sum');
    ok(await dfs(['put', '--block-size', '1M', src, '/sum/a']));
    ok(await dfs(['put', '--block-size', '1M', src, '/sum/b']));
    const changed = Buffer.from(data);
    changed[1_500_000] = changed[1_500_000]! ^ 1;
    fs.writeFileSync(src, changed);
    ok(await dfs(['put', '--block-size', '1M', src, '/sum/c']));

    const sums = JSON.parse(ok(await dfs(['--json', 'checksum', '/sum/*'])).stdout) as {
      path: string;
      algorithm: string;
      chunkBytes: number;
      checksum: string;
    }[];
    expect(sums.map((s) => s.path)).toEqual(['/sum/a', '/sum/b', '/sum/c']);
    const [a, b, c] = sums;
    expect(a!.algorithm).toBe('SHA256-OF-SHA256-OF-XXH3');
    expect(a!.checksum).toBe(b!.checksum);
    expect(a!.checksum).not.toBe(c!.checksum);
    expect(a!.checksum).toBe(expectedChecksum(data, 1024 * 1024, a!.chunkBytes));
    expect(c!.checksum).toBe(expectedChecksum(changed, 1024 * 1024, c!.chunkBytes));
    // Every replica of every block gives the same digest.
    for (const lb of (await client!.getBlockLocations('/sum/a')).blocks) {
      expect(lb.locations).toHaveLength(3);
      const digests = await Promise.all(lb.locations.map((r) => blockDigest(r, lb.block)));
      expect(new Set(digests.map((d) => d.digest.toString('hex'))).size).toBe(1);
      expect(digests[0]!.numBytes).toBe(lb.block.numBytes);
    }
    // Text form: path, algorithm with chunk size, checksum.
    expect(ok(await dfs(['checksum', '/sum/a'])).stdout).toBe(
      `/sum/a\tSHA256-OF-SHA256-OF-XXH3-${a!.chunkBytes}\t${a!.checksum}\n`,
    );
  });

  it('of an empty file is SHA-256 of nothing; of a directory is refused', async () => {
    await writeRemote('/sum2/empty', '');
    const [e] = JSON.parse(ok(await dfs(['--json', 'checksum', '/sum2/empty'])).stdout) as {
      checksum: string;
    }[];
    expect(e!.checksum).toBe(createHash('sha256').digest('hex'));
    failedWith(await dfs(['checksum', '/sum2']), 'checksum', 'IS_A_DIRECTORY');
  });
});
