/**
 * Transfers whose memory is recycled (src/client/local-transfer.ts) deliver every byte as it
 * was, against a real cluster. Downloads read packets into recycled slabs
 * (src/common/read-slabs.ts) and hand one back as soon as the next is asked for, so a copy
 * that asked for the next packet before the current one was really written would see later
 * socket reads overwrite bytes still queued for its destination. Slow readers (a FIFO, a
 * pipe on stdout) keep writes pending long enough for the block reader's read-ahead (2 MiB)
 * to cycle through the slabs, and blocks of 4 MiB make each block reader cycle within its
 * own connection. Uploads read the local file straight into the packet buffers: a file of
 * several blocks, and one that ends on a block boundary (no empty block after it). An
 * interruption (SIGINT) of either, with a read or a write blocked on a slow peer, still ends
 * the command with its INTERRUPTED line and 130.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import { DFS_BIN } from '../../src/local/daemon-process.js';
import { startCluster, tempDir } from '../support/cluster.js';
import { waitForDatanodes } from '../support/data-path.js';
import { ok, runDfs } from '../support/dfs-cli.js';

const MIB = 1024 * 1024;
const BLOCK_BYTES = 4 * MIB;
/** Three blocks and a part: every block reader goes through several slabs. */
const data = randomBytes(3 * BLOCK_BYTES + 123_457);
/** Reads of this many bytes with a pause between them: about 6 MiB/s, far below the cluster. */
const SLOW_READ_BYTES = 64 * 1024;
const SLOW_PAUSE_MS = 10;

let namenode = '';
let cleanup: (() => Promise<void>) | null = null;
let client: DfsClient | null = null;
let local = '';

beforeAll(async () => {
  const started = await startCluster({ datanodes: 1 });
  cleanup = started.cleanup;
  namenode = started.cluster.namenodeAddress;
  client = new DfsClient({ namenode, defaultReplication: 1 });
  local = tempDir('dfs-transfer-reuse-');
  await client.waitSafeModeOff(30_000, 100);
  await waitForDatanodes(client, 1);
  fs.writeFileSync(path.join(local, 'src'), data);
  await client.put(path.join(local, 'src'), '/f', { blockBytes: BLOCK_BYTES });
}, 60_000);

afterAll(async () => {
  client?.close();
  await cleanup?.();
  if (local !== '') fs.rmSync(local, { recursive: true, force: true });
});

/** Reads `stream` in small steps with pauses, so the writer on the other side often waits. */
function readSlowly(stream: NodeJS.ReadableStream & { pause(): void; resume(): void }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    stream.on('data', (d: Buffer) => {
      chunks.push(d);
      stream.pause();
      setTimeout(() => stream.resume(), SLOW_PAUSE_MS);
    });
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** The first offset where `got` differs from the source, for a readable failure. */
function firstDifference(got: Buffer): number {
  const n = Math.min(got.length, data.length);
  for (let i = 0; i < n; i++) if (got[i] !== data[i]) return i;
  return got.length === data.length ? -1 : n;
}

function expectSource(got: Buffer): void {
  expect({ bytes: got.length, firstDifference: firstDifference(got) }).toEqual({
    bytes: data.length,
    firstDifference: -1,
  });
}

describe('recycled transfer memory never shows in the bytes', () => {
  it('put from a local file: several blocks, and a file ending on a block boundary adds no empty block', async () => {
    const status = await client!.stat('/f');
    expect(status.length).toBe(data.length);
    const exact = path.join(local, 'exact');
    fs.writeFileSync(exact, data.subarray(0, 2 * BLOCK_BYTES));
    ok(await runDfs(namenode, ['put', '--block-size', String(BLOCK_BYTES), exact, '/exact']));
    const located = await client!.getBlockLocations('/exact');
    expect(located.blocks.map((b) => b.block.numBytes)).toEqual([BLOCK_BYTES, BLOCK_BYTES]);
  });

  it('an interrupted put of a local file (a FIFO whose writer stalls) leaves no copy and exits 130', async () => {
    const fifo = path.join(local, 'put-fifo');
    execFileSync('mkfifo', [fifo]);
    const child = spawn(process.execPath, [DFS_BIN, '--namenode', namenode, 'put', fifo, '/stalled'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    // The writer sends a few blocks' worth... and stalls with the FIFO open: a read is pending.
    const writer = fs.createWriteStream(fifo);
    writer.write(data.subarray(0, BLOCK_BYTES + 1000));
    const deadline = Date.now() + 15_000;
    while ((await client!.exists('/stalled._COPYING_')) === null) {
      expect(Date.now(), 'the put never created its copy file').toBeLessThan(deadline);
      await sleep(50);
    }
    await sleep(300);
    child.kill('SIGINT');
    // The clean-up and the line come first; the exit itself waits until the read blocked in
    // the FIFO returns (libuv joins its threads), as it did with a read stream: close it then.
    while (!stderr.includes('\n')) {
      expect(Date.now(), `no INTERRUPTED line; stderr: ${stderr}`).toBeLessThan(deadline + 15_000);
      await sleep(50);
    }
    writer.destroy();
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const code = await exited;
    clearTimeout(timer);
    expect(code).toBe(130);
    expect(stderr).toMatch(/^dfs: put: INTERRUPTED: SIGINT.* \/stalled: nothing was written\n$/);
    expect(await client!.exists('/stalled')).toBeNull();
    expect(await client!.exists('/stalled._COPYING_')).toBeNull();
  }, 60_000);

  it('get to a local file, through the client and the CLI', async () => {
    const viaClient = path.join(local, 'client-copy');
    await client!.get('/f', viaClient);
    expectSource(fs.readFileSync(viaClient));
    const viaCli = path.join(local, 'cli-copy');
    ok(await runDfs(namenode, ['get', '/f', viaCli]));
    expectSource(fs.readFileSync(viaCli));
    const exact = path.join(local, 'exact-copy');
    ok(await runDfs(namenode, ['get', '/exact', exact]));
    expect(fs.readFileSync(exact).equals(data.subarray(0, 2 * BLOCK_BYTES))).toBe(true);
  });

  it('get into a FIFO read slowly', async () => {
    const fifo = path.join(local, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const get = runDfs(namenode, ['get', '/f', fifo], { timeoutMs: 60_000 });
    const got = await readSlowly(fs.createReadStream(fifo, { highWaterMark: SLOW_READ_BYTES }));
    ok(await get);
    expectSource(got);
  }, 90_000);

  it('an interrupted get into a slow FIFO or a slow stdout says what the destination holds, exits 130', async () => {
    const fifo = path.join(local, 'fifo-int');
    execFileSync('mkfifo', [fifo]);
    const interrupt = async (dest: string, stdout: 'pipe' | 'ignore'): Promise<[number | null, string]> => {
      const child = spawn(process.execPath, [DFS_BIN, '--namenode', namenode, 'get', '/f', dest], {
        stdio: ['ignore', stdout, 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      const source = stdout === 'pipe' ? child.stdout! : fs.createReadStream(fifo, { highWaterMark: 4096 });
      let read = 0;
      source.on('data', (d: Buffer) => {
        read += d.length;
        source.pause();
        setTimeout(() => source.resume(), SLOW_PAUSE_MS);
      });
      source.on('error', () => {});
      const deadline = Date.now() + 15_000;
      while (read < MIB) {
        expect(Date.now(), 'the get never started').toBeLessThan(deadline);
        await sleep(20);
      }
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      expect(read).toBeLessThan(data.length);
      return [code, stderr];
    };
    expect(await interrupt(fifo, 'ignore')).toEqual([
      130,
      `dfs: get: INTERRUPTED: SIGINT: transfer aborted; local ${fifo} received part of the file\n`,
    ]);
    expect(await interrupt('-', 'pipe')).toEqual([
      130,
      'dfs: get: INTERRUPTED: SIGINT: transfer aborted; stdout holds part of the file\n',
    ]);
  }, 90_000);

  it('get to stdout, a pipe read slowly', async () => {
    const child = spawn(process.execPath, [DFS_BIN, '--namenode', namenode, 'get', '/f', '-'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const got = await readSlowly(child.stdout);
    const code = await exited;
    clearTimeout(timer);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expectSource(got);
  }, 90_000);
});
