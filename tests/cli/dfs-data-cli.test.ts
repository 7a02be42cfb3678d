/**
 * The `dfs` data commands as a user runs them: `node bin/dfs.js put|get|cat|tail|du|df`
 * as real processes against a real NameNode and three DataNodes. Checks that bytes survive
 * the round trip exactly (files, stdin, stdout), the `._COPYING_` discipline of put (an
 * interrupted put leaves nothing visible), JSON documents, error lines and exit statuses,
 * and that no progress bar is drawn when stderr is not a terminal (here it is a pipe).
 * One cluster serves the whole file; each test works under its own top-level directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseByteSize } from '../../src/cli/format.js';
import { DfsClient } from '../../src/client/dfs-client.js';
import { DFS_BIN } from '../../src/local/daemon-process.js';
import { startCluster, tempDir } from '../support/cluster.js';
import { failedWith, ok } from '../support/dfs-cli.js';

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

let namenode = '';
let cleanup: (() => Promise<void>) | null = null;
let client: DfsClient | null = null;
let local = '';

function spawnDfs(args: string[]): ChildProcess {
  const env = { ...process.env, DFS_NAMENODE: undefined };
  const child = spawn(process.execPath, [DFS_BIN, '--namenode', namenode, ...args], {
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  // Killed well before the test's own timeout (vitest.config.ts, 60 s): a hang fails as one.
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  child.once('exit', () => clearTimeout(timer));
  return child;
}

function collect(child: ChildProcess): Promise<Run> {
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  child.stdin!.on('error', () => {}); // the child may exit before reading all we send
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr });
    });
  });
}

/** Runs `dfs --namenode <cluster> ...args`, feeding `stdin` (then EOF). */
function dfs(args: string[], stdin: Buffer | null = null): Promise<Run> {
  const child = spawnDfs(args);
  const done = collect(child);
  child.stdin!.end(stdin ?? undefined);
  return done;
}

// ok(): exit 0 and nothing on stderr, so no progress bar either (stderr is a pipe here).

function text(r: Run): string {
  return r.stdout.toString('utf8');
}

function localFile(name: string, bytes: Buffer): string {
  const p = path.join(local, name);
  fs.writeFileSync(p, bytes);
  return p;
}

beforeAll(async () => {
  const started = await startCluster({ datanodes: 3 });
  cleanup = started.cleanup;
  namenode = started.cluster.namenodeAddress;
  client = new DfsClient({ namenode });
  local = tempDir('dfs-data-cli-');
  await client.waitSafeModeOff(30_000, 100);
});

afterAll(async () => {
  client?.close();
  await cleanup?.();
  if (local !== '') fs.rmSync(local, { recursive: true, force: true });
});

describe('dfs put, get, cat', () => {
  it('round-trips files byte for byte: empty, small, and ~3 MB over 1 MiB blocks', async () => {
    await client!.mkdir('/rt');
    const big = 3 * 1024 * 1024 + 12345; // three full 1 MiB blocks and a partial fourth
    const sizes = [0, 1000, big];
    await Promise.all(
      sizes.map(async (size) => {
        const data = randomBytes(size);
        const src = localFile(`rt-${size}`, data);
        const remote = `/rt/f-${size}`;
        ok(await dfs(['put', '--block-size', '1M', src, remote]));
        const dst = path.join(local, `rt-${size}.back`);
        const [got, cat] = await Promise.all([dfs(['get', remote, dst]), dfs(['cat', remote])]);
        ok(got);
        expect(fs.readFileSync(dst).equals(data), `get of ${size} bytes`).toBe(true);
        expect(ok(cat).stdout.equals(data), `cat of ${size} bytes`).toBe(true);
        // No copy file is left behind on either side.
        expect(await client!.exists(`${remote}._COPYING_`)).toBeNull();
        expect(fs.existsSync(`${dst}._COPYING_`)).toBe(false);
      }),
    );
    const st = await client!.stat(`/rt/f-${big}`);
    expect(st).toMatchObject({
      length: big,
      blockBytes: 1024 * 1024,
      blockCount: 4,
      replication: 3,
      underConstruction: false,
    });

    // cat of several files concatenates them; ls and stat show the sizes, replication and blocks.
    const both = ok(await dfs(['cat', '/rt/f-1000', '/rt/f-0', '/rt/f-1000'])).stdout;
    expect(both.length).toBe(2000);
    const ls = text(ok(await dfs(['ls', '/rt'])))
      .split('\n')
      .filter((l) => l !== '');
    expect(ls).toEqual([
      expect.stringMatching(/^-rw-r--r-- +3 \S+ +\S+ +0 \S+ \S+ \/rt\/f-0$/),
      expect.stringMatching(/^-rw-r--r-- +3 \S+ +\S+ +1000 \S+ \S+ \/rt\/f-1000$/),
      expect.stringMatching(new RegExp(`^-rw-r--r-- +3 \\S+ +\\S+ +${big} \\S+ \\S+ /rt/f-${big}$`)),
    ]);
    const stat = text(ok(await dfs(['stat', `/rt/f-${big}`])));
    expect(stat).toContain(`length:            ${big} (3.1M)`);
    expect(stat).toContain('replication:       3');
    expect(stat).toContain('blockCount:        4');
  });

  it('puts from stdin and gets to stdout; --json reports path, bytes, seconds and speed', async () => {
    const data = randomBytes(700_000);
    const put = ok(await dfs(['--json', 'put', '--replication', '2', '-', '/stdin.bin'], data));
    const doc = JSON.parse(text(put)) as Record<string, unknown>;
    expect(Object.keys(doc).sort()).toEqual(['bytes', 'mibPerSecond', 'path', 'seconds']);
    expect(doc).toMatchObject({ path: '/stdin.bin', bytes: 700_000 });
    expect(typeof doc.seconds).toBe('number');
    expect(typeof doc.mibPerSecond).toBe('number');
    expect((await client!.stat('/stdin.bin')).replication).toBe(2);

    expect(ok(await dfs(['get', '/stdin.bin', '-'])).stdout.equals(data)).toBe(true);
    const dst = path.join(local, 'stdin.back');
    const got = JSON.parse(text(ok(await dfs(['get', '--json', '/stdin.bin', dst])))) as Record<
      string,
      unknown
    >;
    expect(got).toMatchObject({ path: dst, bytes: 700_000 });
    expect(fs.readFileSync(dst).equals(data)).toBe(true);
  });

  it('refuses to overwrite without -f, overwrites with it, and puts into an existing directory', async () => {
    await client!.mkdir('/ow/dir', { parents: true });
    const first = localFile('ow-1', Buffer.from('first version\n'));
    const second = localFile('ow-2', Buffer.from('second, longer version\n'));
    ok(await dfs(['put', first, '/ow/file']));

    const refused = await dfs(['put', second, '/ow/file']);
    expect(failedWith(refused, 'put', 'ALREADY_EXISTS')).toContain('/ow/file');
    expect(text(ok(await dfs(['cat', '/ow/file'])))).toBe('first version\n');

    ok(await dfs(['put', '-f', second, '/ow/file']));
    expect(text(ok(await dfs(['cat', '/ow/file'])))).toBe('second, longer version\n');

    // An existing directory receives the file under its local name.
    ok(await dfs(['put', first, '/ow/dir']));
    expect((await client!.stat('/ow/dir/ow-1')).length).toBe(14);
    expect(
      text(ok(await dfs(['ls', '/ow/dir'])))
        .trim()
        .split(/\s+/)
        .pop(),
    ).toBe('/ow/dir/ow-1');

    // get refuses an existing local file too, and copies into a local directory.
    const existing = localFile('ow-local', Buffer.from('keep me'));
    failedWith(await dfs(['get', '/ow/file', existing]), 'get', 'ALREADY_EXISTS');
    expect(fs.readFileSync(existing, 'utf8')).toBe('keep me');
    const intoDir = path.join(local, 'ow-into');
    fs.mkdirSync(intoDir);
    ok(await dfs(['get', '/ow/file', intoDir]));
    expect(fs.readFileSync(path.join(intoDir, 'file'), 'utf8')).toBe('second, longer version\n');

    // Typed errors for the usual mistakes, and usage errors for bad flags.
    const [missingLocal, missingRemote, dirCat, badSize, badRep] = await Promise.all([
      dfs(['put', path.join(local, 'no-such-file'), '/ow/x']),
      dfs(['get', '/ow/no-such', path.join(local, 'x')]),
      dfs(['cat', '/ow/dir']),
      dfs(['put', '--block-size', '64Q', first, '/ow/y']),
      dfs(['put', '--replication', '0', first, '/ow/y']),
    ]);
    expect(failedWith(missingLocal, 'put', 'NOT_FOUND')).toContain('no-such-file');
    failedWith(missingRemote, 'get', 'NOT_FOUND');
    failedWith(dirCat, 'cat', 'IS_A_DIRECTORY');
    failedWith(badSize, 'put', 'USAGE', 2);
    failedWith(badRep, 'put', 'USAGE', 2);
    expect(fs.existsSync(path.join(local, 'x'))).toBe(false);
    expect(await client!.exists('/ow/x')).toBeNull();
    expect(await client!.exists('/ow/y')).toBeNull();
  });

  it('an interrupted put (SIGINT, SIGTERM) leaves neither REMOTE nor REMOTE._COPYING_, and exits 128 + signal', async () => {
    await client!.mkdir('/int');
    const interrupt = async (name: string, signal: NodeJS.Signals): Promise<Run> => {
      const remote = `/int/${name}`;
      const child = spawnDfs(['put', '-', remote]);
      const done = collect(child);
      child.stdin!.write(randomBytes(256 * 1024)); // ... and keep stdin open: a slow source
      // The copy file appears while the data flows; interrupt then.
      const deadline = Date.now() + 15_000;
      while ((await client!.exists(`${remote}._COPYING_`)) === null) {
        expect(Date.now(), 'the put never created its copy file').toBeLessThan(deadline);
        await sleep(50);
      }
      child.stdin!.write(randomBytes(64 * 1024));
      await sleep(200);
      child.kill(signal);
      return done;
    };
    const [int, term] = await Promise.all([
      interrupt('slow-int', 'SIGINT'),
      interrupt('slow-term', 'SIGTERM'),
    ]);
    // The line names the destination the user gave, never the internal copy.
    expect(failedWith(int, 'put', 'INTERRUPTED', 130)).toMatch(
      /SIGINT.* \/int\/slow-int: nothing was written$/,
    );
    expect(failedWith(term, 'put', 'INTERRUPTED', 143)).toMatch(/SIGTERM.* \/int\/slow-term: nothing/);
    expect(text(ok(await dfs(['ls', '/int'])))).toBe('');
    for (const name of ['slow-int', 'slow-term']) {
      expect(await client!.exists(`/int/${name}`)).toBeNull();
      expect(await client!.exists(`/int/${name}._COPYING_`)).toBeNull();
    }
  });

  it('draws no progress bar when stderr is not a terminal, even for a slow transfer', async () => {
    const child = spawnDfs(['put', '-', '/quiet.bin']);
    const done = collect(child);
    child.stdin!.write(randomBytes(100_000));
    await sleep(400); // several progress periods
    child.stdin!.end(randomBytes(100_000));
    expect(ok(await done).stdout.length).toBe(0);
    expect(ok(await dfs(['get', '/quiet.bin', path.join(local, 'quiet.back')])).stdout.length).toBe(0);
  });

  it('cat stops quietly when its reader goes away (EPIPE)', async () => {
    ok(await dfs(['put', '-', '/pipe.bin'], randomBytes(4 * 1024 * 1024)));
    const child = spawnDfs(['cat', '/pipe.bin']);
    const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => {
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    child.stdout!.once('data', () => child.stdout!.destroy()); // `dfs cat /pipe.bin | head -c 1`
    const r = await exited;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('dfs tail, du, df', () => {
  it('tail prints the last KiB by default, or -c bytes', async () => {
    const data = randomBytes(5000);
    ok(await dfs(['put', '-', '/tail.bin'], data));
    const [dflt, ten, big, kib] = await Promise.all([
      dfs(['tail', '/tail.bin']),
      dfs(['tail', '-c', '10', '/tail.bin']),
      dfs(['tail', '-c', '100000', '/tail.bin']),
      dfs(['tail', '--bytes', '2K', '/tail.bin']),
    ]);
    expect(ok(dflt).stdout.equals(data.subarray(5000 - 1024))).toBe(true);
    expect(ok(ten).stdout.equals(data.subarray(4990))).toBe(true);
    expect(ok(big).stdout.equals(data)).toBe(true);
    expect(ok(kib).stdout.equals(data.subarray(5000 - 2048))).toBe(true);
  });

  it('du shows each entry of a directory, or with -s the total; -h human sizes (ls too); --json has exact numbers', async () => {
    await client!.mkdir('/du/a/deep', { parents: true });
    await client!.mkdir('/du/empty');
    ok(await dfs(['put', '--replication', '2', '-', '/du/a/one'], randomBytes(3000)));
    ok(await dfs(['put', '--replication', '1', '-', '/du/a/deep/two'], randomBytes(5000)));
    ok(await dfs(['put', '-', '/du/top'], randomBytes(100)));

    const [human, summary, json, file, exact] = await Promise.all([
      dfs(['du', '-h', '/du']),
      dfs(['du', '-s', '--human-readable', '/du']),
      dfs(['du', '--json', '/du']),
      dfs(['du', '-s', '--json', '/du/a/one']),
      dfs(['du', '-s', '/du']),
    ]);
    expect(
      text(ok(human))
        .split('\n')
        .filter((l) => l !== ''),
    ).toEqual([
      ' 7.9K   11K /du/a', // 3000 + 5000 bytes; 3000 x 2 + 5000 x 1 with replicas
      '    0     0 /du/empty',
      '  100   300 /du/top',
    ]);
    expect(text(ok(summary))).toBe(' 8.0K   12K /du\n'); // 8100 bytes, 11300 with replicas (rounded up)
    expect(text(ok(exact))).toBe('      8100      11300 /du\n'); // without -h: byte counts
    expect(JSON.parse(text(ok(json)))).toEqual([
      { path: '/du/a', bytes: 8000, replicatedBytes: 11000, files: 2, directories: 2 },
      { path: '/du/empty', bytes: 0, replicatedBytes: 0, files: 0, directories: 1 },
      { path: '/du/top', bytes: 100, replicatedBytes: 300, files: 1, directories: 0 },
    ]);
    expect(JSON.parse(text(ok(file)))).toEqual([
      { path: '/du/a/one', bytes: 3000, replicatedBytes: 6000, files: 1, directories: 0 },
    ]);
    failedWith(await dfs(['du', '/du/missing']), 'du', 'NOT_FOUND');
    // ls too: byte counts, or -h human sizes (-h is not help: that is --help only).
    const [lsExact, lsHuman, help] = await Promise.all([
      dfs(['ls', '/du/a/one']),
      dfs(['ls', '-h', '/du/a/one']),
      dfs(['ls', '--help']),
    ]);
    expect(text(ok(lsExact))).toMatch(/^-rw-r--r-- +2 \S+ +\S+ +3000 \d{4}-\S+ \S+ \/du\/a\/one\n$/);
    expect(text(ok(lsHuman))).toMatch(/^-rw-r--r-- +2 \S+ +\S+ +3\.0K \d{4}-\S+ \S+ \/du\/a\/one\n$/);
    expect(text(ok(help))).toContain('-h, --human-readable');
  });

  it('df shows capacity, use and three live DataNodes; -h human sizes', async () => {
    const [exact, human, json] = await Promise.all([dfs(['df']), dfs(['df', '-h']), dfs(['df', '--json'])]);
    const lines = text(ok(exact)).split('\n');
    expect(lines[0]).toBe(`namenode:  ${namenode}`);
    expect(lines).toContain('dataNodes: 3 live, 0 dead');
    expect(lines.some((l) => /^capacity: +\d+$/.test(l))).toBe(true);
    expect(
      text(ok(human))
        .split('\n')
        .some((l) => /^capacity: +\d+(\.\d)?[KMGTPE]$/.test(l)),
    ).toBe(true);
    expect(lines.some((l) => /^use%: +\d+\.\d%$/.test(l))).toBe(true);
    const doc = JSON.parse(text(ok(json))) as Record<string, number>;
    expect(doc).toMatchObject({ namenode, liveDataNodes: 3, deadDataNodes: 0 });
    expect(doc.capacityBytes).toBeGreaterThan(0);
    expect(doc.usedBytes).toBeGreaterThanOrEqual(0);
    expect(doc.remainingBytes).toBeLessThanOrEqual(doc.capacityBytes!);
    expect(doc.usedPercent).toBeGreaterThanOrEqual(0);
    expect(doc.usedPercent).toBeLessThanOrEqual(100);
  });
});

describe('size arguments', () => {
  it('parses byte counts with binary suffixes', () => {
    expect(parseByteSize('1048576')).toBe(1048576);
    expect(parseByteSize('64M')).toBe(64 * 1024 * 1024);
    expect(parseByteSize('64m')).toBe(64 * 1024 * 1024);
    expect(parseByteSize('1G')).toBe(1024 ** 3);
    expect(parseByteSize('512KiB')).toBe(512 * 1024);
    expect(parseByteSize('2kb')).toBe(2048);
    expect(parseByteSize('1.5K')).toBe(1536);
    expect(parseByteSize('0')).toBe(0);
    for (const bad of ['', 'M', '-1', '1.5', '64Q', '1e6', '8E', '99999999999P'])
      expect(parseByteSize(bad), bad).toBeNull();
  });
});
