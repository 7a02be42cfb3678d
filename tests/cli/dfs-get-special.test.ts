/**
 * `dfs get` onto a local destination that is not a regular file (issue 10, item 1), as a
 * user runs it: the real `dfs` CLI against a real cluster. A character device, a FIFO or a
 * socket is written into where it is (or, for a socket, refused), never renamed over by the
 * `._COPYING_` temp-and-rename path, which is for regular files only; and no -f is needed,
 * since nothing is overwritten (`dfs get /f /dev/null` just works). And `get REMOTE -` with
 * a terminal as stdout (a pty made by script(1)) warns on stderr before writing a binary file,
 * but not a text file (issue 10, item 11).
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import { DFS_BIN } from '../../src/local/daemon-process.js';
import { startCluster, tempDir } from '../support/cluster.js';
import { waitForDatanodes } from '../support/data-path.js';
import { failedWith, ok, runDfs } from '../support/dfs-cli.js';

let namenode = '';
let cleanup: (() => Promise<void>) | null = null;
let client: DfsClient | null = null;
let local = '';
const data = randomBytes(300_000);

beforeAll(async () => {
  const started = await startCluster({ datanodes: 1 });
  cleanup = started.cleanup;
  namenode = started.cluster.namenodeAddress;
  client = new DfsClient({ namenode, defaultReplication: 1 });
  local = tempDir('dfs-get-special-');
  await client.waitSafeModeOff(30_000, 100);
  await waitForDatanodes(client, 1); // the NameNode may answer before the DataNode registered
  await client.put(writeLocal('src', data), '/f');
});

afterAll(async () => {
  client?.close();
  await cleanup?.();
  if (local !== '') fs.rmSync(local, { recursive: true, force: true });
});

function writeLocal(name: string, bytes: Buffer): string {
  const p = path.join(local, name);
  fs.writeFileSync(p, bytes);
  return p;
}

/** `cat FIFO` as its own process: resolves with every byte it read once the writer closes. */
function readFifo(fifo: string): { bytes: Promise<Buffer>; kill: () => void } {
  const child = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'inherit'] });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => chunks.push(d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const bytes = new Promise<Buffer>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(chunks));
      else reject(new Error(`cat ${fifo} ended with ${code ?? signal}`));
    });
  });
  bytes.catch(() => {}); // awaited by the test when it matters; a kill after a failure is not news
  return { bytes, kill: () => child.kill('SIGKILL') };
}

describe('dfs get onto a non-regular local file', () => {
  it('writes to /dev/null without -f, and /dev/null stays a character device', async () => {
    ok(await runDfs(namenode, ['get', '/f', '/dev/null']));
    ok(await runDfs(namenode, ['get', '-f', '/f', '/dev/null']));
    expect(fs.statSync('/dev/null').isCharacterDevice()).toBe(true);
    expect(fs.existsSync('/dev/null._COPYING_')).toBe(false);
  });

  it('delivers the bytes into a FIFO read concurrently, and the FIFO stays a FIFO', async () => {
    const fifo = path.join(local, 'fifo');
    execFileSync('mkfifo', [fifo]);
    for (const args of [
      ['get', '/f', fifo],
      ['get', '-f', '/f', fifo],
    ]) {
      const reader = readFifo(fifo);
      try {
        ok(await runDfs(namenode, args));
        expect((await reader.bytes).equals(data)).toBe(true);
      } finally {
        reader.kill();
      }
      expect(fs.statSync(fifo).isFIFO()).toBe(true);
      expect(fs.existsSync(`${fifo}._COPYING_`)).toBe(false);
    }
    // Into a directory whose entry of the remote name is a FIFO: the same.
    const dir = path.join(local, 'into');
    fs.mkdirSync(dir);
    execFileSync('mkfifo', [path.join(dir, 'f')]);
    const reader = readFifo(path.join(dir, 'f'));
    try {
      ok(await runDfs(namenode, ['get', '/f', dir]));
      expect((await reader.bytes).equals(data)).toBe(true);
    } finally {
      reader.kill();
    }
    expect(fs.statSync(path.join(dir, 'f')).isFIFO()).toBe(true);
  });

  it('writes into a character device made with mknod, which stays a device', async (testCtx) => {
    const dev = path.join(local, 'null-dev');
    try {
      execFileSync('mknod', [dev, 'c', '1', '3'], { stdio: 'pipe' }); // the same device as /dev/null
    } catch (err) {
      console.log(`skipped: mknod failed (${(err as Error).message.split('\n')[0]}); needs root`);
      testCtx.skip();
      return;
    }
    ok(await runDfs(namenode, ['get', '/f', dev]));
    ok(await runDfs(namenode, ['get', '-f', '/f', dev]));
    const st = fs.statSync(dev);
    expect(st.isCharacterDevice()).toBe(true);
    expect(st.rdev).toBe(fs.statSync('/dev/null').rdev);
    expect(fs.existsSync(`${dev}._COPYING_`)).toBe(false);
  });

  it('never renames over a socket: the get fails with one error line and the socket stays', async () => {
    const sock = path.join(local, 'sock');
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    try {
      for (const args of [
        ['get', '/f', sock],
        ['get', '-f', '/f', sock],
      ]) {
        const r = await runDfs(namenode, args);
        const line = failedWith(r, 'get', '[A-Z_]+');
        expect(line).toContain(sock);
        expect(line).not.toContain('._COPYING_');
        expect(fs.statSync(sock).isSocket()).toBe(true);
      }
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

/** Runs `dfs ...args` with a pty as stdin, stdout and stderr (script(1)); resolves with what the pty showed. */
function dfsOnTerminal(args: string[]): Promise<{ code: number; screen: Buffer }> {
  const command = [process.execPath, DFS_BIN, '--namenode', namenode, ...args].join(' ');
  return new Promise((resolve, reject) => {
    execFile(
      'script',
      ['-qfec', command, '/dev/null'],
      { env: { ...process.env, DFS_NAMENODE: undefined }, encoding: 'buffer', timeout: 20_000 },
      (err, stdout) => {
        if (err !== null && typeof err.code !== 'number') {
          const failure: Error = err;
          return reject(failure);
        }
        resolve({ code: err === null ? 0 : (err.code as number), screen: stdout });
      },
    );
  });
}

describe('dfs get REMOTE - to a terminal', () => {
  it('warns on stderr before writing a binary file, not a text file', async (testCtx) => {
    try {
      execFileSync('script', ['--version'], { stdio: 'pipe' });
    } catch {
      console.log('skipped: script(1) is not installed, so no pty to run dfs on');
      testCtx.skip();
      return;
    }
    await client!.put(writeLocal('text', Buffer.from('just some text\n')), '/text');
    const [bin, text] = await Promise.all([
      dfsOnTerminal(['get', '/f', '-']),
      dfsOnTerminal(['get', '/text', '-']),
    ]);
    expect(bin.code).toBe(0);
    const screen = bin.screen.toString('latin1');
    const warning = screen.indexOf('dfs: get: WARNING: /f looks like binary data');
    expect(warning, screen.slice(0, 200)).toBeGreaterThanOrEqual(0);
    // Before the data: the warning line is the first thing on the screen.
    expect(screen.slice(0, warning).trim()).toBe('');
    expect(bin.screen.length).toBeGreaterThan(data.length); // and the data followed (a pty adds \r)
    expect(text.code).toBe(0);
    expect(text.screen.toString('utf8')).toBe('just some text\r\n');
  });
});
