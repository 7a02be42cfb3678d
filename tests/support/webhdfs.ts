/**
 * Test helpers for WebHDFS (src/webhdfs/): the real `curl` binary run against a daemon, its
 * status, final URL and body; a RemoteException body parsed; whether the Debian
 * python3-fsspec the fsspec tests drive is installed for /usr/bin/python3; and a cluster set
 * up as the curl tests want it.
 */
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { startCluster, tempDir } from './cluster.js';

export interface CurlResult {
  status: number;
  /** The redirect the last answer named ('' if none), as curl's %{redirect_url}. */
  redirectUrl: string;
  body: Buffer;
  exitCode: number;
}

/** Runs `curl -sS <args> URL`, body to a file; bounded by `timeoutMs`. */
export function curl(url: string, args: string[] = [], timeoutMs = 60_000): Promise<CurlResult> {
  const dir = tempDir('dfs-curl-');
  const out = path.join(dir, 'body');
  return new Promise((resolve, reject) => {
    execFile(
      'curl',
      [
        '-sS',
        '--max-time',
        String(Math.ceil(timeoutMs / 1000)),
        '-o',
        out,
        '-w',
        '%{http_code} %{redirect_url}',
        ...args,
        url,
      ],
      { timeout: timeoutMs + 5000, encoding: 'utf8' },
      (err, stdout) => {
        try {
          const [code, redirect] = stdout.split(' ');
          const body = fs.existsSync(out) ? fs.readFileSync(out) : Buffer.alloc(0);
          const exitCode = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
          resolve({ status: Number(code ?? 0), redirectUrl: redirect ?? '', body, exitCode });
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      },
    );
  });
}

export interface RemoteException {
  exception: string;
  javaClassName: string;
  message: string;
}

/** The RemoteException of an error body; fails the test when the body is not one. */
export function remoteException(body: Buffer | string): RemoteException {
  const parsed = JSON.parse(body.toString()) as { RemoteException: RemoteException };
  expect(Object.keys(parsed)).toEqual(['RemoteException']);
  expect(Object.keys(parsed.RemoteException).sort()).toEqual(['exception', 'javaClassName', 'message']);
  expect(parsed.RemoteException.message).not.toMatch(/\n\s+at /); // never a stack trace
  return parsed.RemoteException;
}

/** The interpreter the fsspec tests use: Debian's, where python3-fsspec is installed (not a pyenv's). */
export const SYSTEM_PYTHON = '/usr/bin/python3';

export function hasFsspec(): boolean {
  const r = spawnSync(SYSTEM_PYTHON, ['-c', 'import fsspec, requests'], { encoding: 'utf8' });
  return r.status === 0;
}

export function hasCurl(): boolean {
  return spawnSync('curl', ['--version']).status === 0;
}

export interface WebHdfsCluster {
  cluster: LocalCluster;
  /** A client of the superuser (the test's user runs the NameNode). */
  client: DfsClient;
  /** A local scratch folder. */
  local: string;
  cleanup(): Promise<void>;
}

/**
 * A cluster of `datanodes` for the curl tests, `/` opened to every user: the tests act as
 * WebHDFS users (user.name) other than the superuser, as an operator lets them on a fresh HDFS.
 */
export async function startWebHdfsCluster(datanodes: number): Promise<WebHdfsCluster> {
  expect(hasCurl()).toBe(true);
  const { cluster, cleanup } = await startCluster({ datanodes });
  await cluster.waitWritable();
  const client = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 20_000 });
  await client.setPermission('/', 0o777);
  const local = tempDir('dfs-webhdfs-local-');
  return {
    cluster,
    client,
    local,
    cleanup: async () => {
      client.close();
      await cleanup();
      fs.rmSync(local, { recursive: true, force: true });
    },
  };
}
