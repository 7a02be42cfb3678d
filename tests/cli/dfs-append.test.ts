/**
 * `dfs appendToFile` and `dfs tail -f` on files being written (issue 11 section 5), as real
 * `dfs` processes against a real NameNode and three DataNodes:
 * - appendToFile of several local files and of stdin, creating a missing file, with --json;
 *   its errors (a missing local source appends nothing, a directory, a file another writer
 *   holds: LEASE_CONFLICT, usage);
 * - tail -f follows a file while its writer hflushes, before the file is closed;
 * - an appendToFile SIGKILLed mid-stream: once its lease expires, block recovery closes the
 *   file with the old bytes and at least what every replica held of the appended ones.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DfsOutputStream } from '../../src/client/dfs-output-stream.js';
import { DFS_BIN } from '../../src/local/daemon-process.js';
import { clusterPerTest } from '../support/cluster.js';
import { getBuffer, putBuffer, testBytes, waitFor, waitForDatanodes } from '../support/data-path.js';
import { failedWith, ok, runDfs } from '../support/dfs-cli.js';
import { FAST_LEASE_RECOVERY_ENV, rbwSizes } from '../support/killed-writer.js';

const per = clusterPerTest();

function write(out: DfsOutputStream, data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => out.write(data, (e) => (e ? reject(e) : resolve())));
}

/** Runs `dfs appendToFile ...args` with `stdin` piped in. */
function appendWithStdin(
  namenode: string,
  args: string[],
  stdin: Buffer,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [DFS_BIN, '--namenode', namenode, 'appendToFile', ...args], {
    env: { ...process.env, DFS_NAMENODE: undefined },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(stdin);
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    }),
  );
}

describe('dfs appendToFile', () => {
  it('appends local files and stdin, creates a missing file, reports --json, and fails cleanly', async () => {
    const cluster = await per.start({ datanodes: 3 });
    const client = per.client(cluster, 20_000);
    await waitForDatanodes(client, 3);
    const nn = cluster.namenodeAddress;
    const dir = cluster.options.baseDir;
    const a = testBytes(70_000, 21);
    const b = testBytes(100, 22);
    fs.writeFileSync(path.join(dir, 'a'), a);
    fs.writeFileSync(path.join(dir, 'b'), b);

    // Missing: created (parents too), then appended to.
    const first = ok(
      await runDfs(nn, ['--json', 'appendToFile', path.join(dir, 'a'), path.join(dir, 'b'), '/d/log']),
    );
    expect(JSON.parse(first.stdout)).toMatchObject({
      path: '/d/log',
      bytes: a.length + b.length,
      created: true,
      length: a.length + b.length,
    });
    const stdin = testBytes(5000, 23);
    const second = await appendWithStdin(nn, ['--json', '-', '/d/log'], stdin);
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({
      bytes: stdin.length,
      created: false,
      length: a.length + b.length + stdin.length,
    });
    ok(await runDfs(nn, ['appendToFile', path.join(dir, 'b'), '/d/log']));
    expect((await getBuffer(client, '/d/log')).equals(Buffer.concat([a, b, stdin, b]))).toBe(true);
    expect((await client.stat('/d/log')).underConstruction).toBe(false);

    // Errors: nothing appended.
    const missing = await runDfs(nn, ['appendToFile', path.join(dir, 'b'), path.join(dir, 'nope'), '/d/log']);
    expect(failedWith(missing, 'appendToFile', 'NOT_FOUND')).toMatch(/nope/);
    expect(
      failedWith(
        await runDfs(nn, ['appendToFile', path.join(dir, 'a'), '/d']),
        'appendToFile',
        'IS_A_DIRECTORY',
      ),
    ).toMatch(/\/d/);
    failedWith(await runDfs(nn, ['appendToFile', '/d/log']), 'appendToFile', 'USAGE', 2);
    failedWith(await runDfs(nn, ['appendToFile', '-', '-', '/d/log']), 'appendToFile', 'USAGE', 2);
    const held = client.create('/d/held');
    await write(held, 'x');
    const conflict = await runDfs(nn, ['appendToFile', path.join(dir, 'b'), '/d/held']);
    expect(failedWith(conflict, 'appendToFile', 'LEASE_CONFLICT')).toMatch(/\/d\/held/);
    await new Promise<void>((resolve) => held.end(resolve));
    expect((await client.stat('/d/log')).length).toBe(a.length + 2 * b.length + stdin.length);
  }, 90_000);

  it('tail -f follows a file while its writer hflushes, before it is closed', async () => {
    const cluster = await per.start({ datanodes: 3 });
    const client = per.client(cluster, 20_000);
    await waitForDatanodes(client, 3);
    const out = client.create('/follow', { chunkBytes: 512, blockBytes: 4096 });
    await write(out, 'first\n');
    await out.hflush();
    const child = spawn(process.execPath, [
      DFS_BIN,
      '--namenode',
      cluster.namenodeAddress,
      'tail',
      '-f',
      '-s',
      '0.2',
      '/follow',
    ]);
    const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    let seen = '';
    child.stdout.on('data', (d: Buffer) => (seen += d.toString()));
    try {
      await waitFor('the first line', () => (seen === 'first\n' ? true : undefined), 10_000);
      let expected = 'first\n';
      for (let i = 0; i < 12; i++) {
        const line = `line ${i} ${'.'.repeat(i * 97)}\n`; // crosses chunks and blocks
        await write(out, line);
        await out.hflush();
        expected += line;
        await waitFor(`line ${i}`, () => (seen === expected ? true : undefined), 10_000);
      }
      expect((await client.stat('/follow')).underConstruction).toBe(true);
    } finally {
      child.kill('SIGKILL');
      clearTimeout(killer);
      out.destroy();
    }
  }, 60_000);

  it('an appendToFile SIGKILLed mid-stream keeps what every replica holds once its lease is recovered', async () => {
    const cluster = await per.start({
      datanodes: 3,
      namenodeEnv: FAST_LEASE_RECOVERY_ENV,
    });
    const client = per.client(cluster, 20_000);
    await waitForDatanodes(client, 3);
    const old = testBytes(300_001, 24); // the last block partial, mid-chunk
    await putBuffer(client, '/crash', old);
    const blockId = (await client.getBlockLocations('/crash')).blocks[0]!.block.blockId;
    const appended = testBytes(3 * 1024 * 1024, 25);
    const child = spawn(
      process.execPath,
      [DFS_BIN, '--namenode', cluster.namenodeAddress, 'appendToFile', '-', '/crash'],
      {
        stdio: ['pipe', 'ignore', 'ignore'],
        env: { ...process.env, DFS_NAMENODE: undefined },
      },
    );
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin.on('error', () => {});
    child.stdin.write(appended); // never ended: the appender waits for more
    let held: number;
    try {
      const want = old.length + 2 * 1024 * 1024;
      held = await waitFor(
        'two MiB of the append in rbw on every DataNode',
        () => {
          const sizes = cluster.datanodes.map((_, i) => rbwSizes(cluster.dataDir(i)).get(blockId) ?? 0);
          return sizes.every((s) => s >= want) ? Math.min(...sizes) : undefined;
        },
        30_000,
      );
      child.kill('SIGKILL');
      await exited;
    } finally {
      child.kill('SIGKILL');
      clearTimeout(killer);
    }
    const closed = await waitFor(
      'lease recovery to close the file',
      async () => {
        const st = await client.stat('/crash');
        return st.underConstruction ? undefined : st;
      },
      40_000,
      200,
    );
    expect(closed.length).toBeGreaterThanOrEqual(Math.floor(held / 65536) * 65536);
    expect(closed.length).toBeGreaterThan(old.length);
    const back = await getBuffer(client, '/crash');
    expect(back.length).toBe(closed.length);
    expect(back.equals(Buffer.concat([old, appended]).subarray(0, closed.length))).toBe(true);
    // The file is whole again: another appender continues it.
    const more = Buffer.from('after recovery\n');
    const out = client.append('/crash');
    await new Promise<void>((resolve, reject) => {
      out.once('error', reject);
      out.end(more, resolve);
    });
    expect((await getBuffer(client, '/crash')).equals(Buffer.concat([back, more]))).toBe(true);
  }, 120_000);
});
