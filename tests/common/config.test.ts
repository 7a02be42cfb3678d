/**
 * Configuration resolution (src/common/config.ts): environment variables DFS_<SECTION>_<KEY>
 * override the file and are checked like it, so a variable of the section that names no key
 * is an error, not silently ignored (issue 10, item 11). The unit tests call resolveConfig;
 * the last test runs `dfsd namenode --format` as a real process with such a variable set.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DfsError } from '../../protocol/errors.js';
import {
  DATANODE_DEFAULTS,
  NAMENODE_DEFAULTS,
  envName,
  resolveConfig,
  type NameNodeConfig,
} from '../../src/common/config.js';
import { DFSD_BIN } from '../../src/local/daemon-process.js';
import { tempDir } from '../support/cluster.js';

function resolveNamenode(env: NodeJS.ProcessEnv, file?: string): NameNodeConfig {
  return resolveConfig<NameNodeConfig>('namenode', NAMENODE_DEFAULTS, { env, file });
}

let dir = '';
afterEach(() => {
  if (dir !== '') fs.rmSync(dir, { recursive: true, force: true });
  dir = '';
});

describe('resolveConfig and the environment', () => {
  it('names variables after the keys and applies them over the defaults', () => {
    expect(envName('namenode', 'deadNodeTimeoutMs')).toBe('DFS_NAMENODE_DEAD_NODE_TIMEOUT_MS');
    const c = resolveNamenode({ DFS_NAMENODE_PORT: '8021', DFS_NAMENODE_DEAD_NODE_TIMEOUT_MS: '5000' });
    expect(c).toMatchObject({ port: 8021, deadNodeTimeoutMs: 5000 });
  });

  it('refuses a variable of the section that names no key, as the file refuses an unknown key', () => {
    let thrown: unknown = null;
    try {
      resolveNamenode({ DFS_NAMENODE_PROT: '8021' });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(DfsError);
    expect(thrown).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((thrown as DfsError).message).toContain('DFS_NAMENODE_PROT');
    dir = tempDir('dfs-config-');
    const file = path.join(dir, 'dfs.json');
    fs.writeFileSync(file, JSON.stringify({ namenode: { prot: 8021 } }));
    expect(() => resolveNamenode({}, file)).toThrow(/unknown configuration key 'prot'/);
  });

  it('leaves other variables alone: other sections, DFS_NAMENODE (the CLI address), unrelated DFS_*', () => {
    const env = { DFS_DATANODE_NO_SUCH: '1', DFS_NAMENODE: 'nn:8020', DFS_DEBUG: '1', DFS_LIFELINE: '1' };
    expect(resolveNamenode(env)).toEqual(NAMENODE_DEFAULTS);
    expect(() =>
      resolveConfig('datanode', DATANODE_DEFAULTS, { env: { DFS_DATANODE_NO_SUCH: '1' } }),
    ).toThrow(/DFS_DATANODE_NO_SUCH/);
  });

  it('dfsd refuses to start with an unknown DFS_NAMENODE_* variable: one error line, nothing formatted', async () => {
    dir = tempDir('dfs-config-');
    const nameDir = path.join(dir, 'name');
    const r = await new Promise<{ code: number; stderr: string }>((resolve, reject) => {
      execFile(
        process.execPath,
        [DFSD_BIN, 'namenode', '--format', '--name-dir', nameDir, '--log-level', 'warn'],
        { env: { ...process.env, DFS_NAMENODE_PROT: '8021' }, timeout: 15_000, encoding: 'utf8' },
        (err, _stdout, stderr) => {
          if (err !== null && typeof err.code !== 'number') {
            const failure: Error = err;
            return reject(failure);
          }
          resolve({ code: err === null ? 0 : (err.code as number), stderr });
        },
      );
    });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.split('\n').filter((l) => l !== '')).toEqual([
      expect.stringMatching(/^dfsd: INVALID_ARGUMENT: environment variable DFS_NAMENODE_PROT: unknown/),
    ]);
    expect(fs.existsSync(nameDir)).toBe(false);
  });
});
