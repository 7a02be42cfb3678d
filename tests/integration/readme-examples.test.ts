/**
 * Every JavaScript/TypeScript code example in README.md runs as written against a real
 * local cluster and does what it says.
 *
 * Each ```ts / ```js block must follow a marker line `<!-- readme-example: NAME -->`, and
 * NAME must have an entry in EXAMPLES below: the files it needs in its working folder
 * and the checks of what it claims (files in DFS, bytes printed). A block without a marker
 * or with an unknown name fails the test, so a new example cannot go untested. The only
 * rewrites are the ones a reader makes: the import of `./dist/...` points at this
 * repository's build, and the NameNode address `127.0.0.1:8020` at the test cluster's.
 * Each example runs in a child `node` process, which must exit 0 on its own (nothing left
 * open) within the bound.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DfsClient } from '../../src/client/dfs-client.js';
import { REPO_ROOT } from '../../src/local/daemon-process.js';
import type { LocalCluster } from '../../src/local/local-cluster.js';
import { startCluster, tempDir } from '../support/cluster.js';
import { getBuffer, testBytes } from '../support/data-path.js';

const RUN_TIMEOUT_MS = 30_000;

interface Example {
  /** Files the example expects in its working folder. */
  setup: (cwd: string) => void;
  /** What the example says it does, checked after it exited 0. */
  check: (r: { cwd: string; stdout: Buffer; client: DfsClient }) => Promise<void>;
}

const EXAMPLES: Record<string, Example> = {
  'client-library': {
    setup: (cwd) => fs.writeFileSync(path.join(cwd, 'local.bin'), testBytes(2 * 1024 * 1024 + 777, 7)),
    check: async ({ cwd, stdout, client }) => {
      const local = fs.readFileSync(path.join(cwd, 'local.bin'));
      expect((await client.stat('/data')).type).toBeDefined();
      expect((await getBuffer(client, '/data/remote.bin')).equals(local)).toBe(true);
      expect(stdout.equals(local.subarray(1 << 20, (1 << 20) + 4096))).toBe(true);
      expect((await getBuffer(client, '/data/log.txt')).toString()).toBe('hello\n');
    },
  },
};

interface Block {
  name: string | null;
  lang: string;
  code: string;
  line: number;
}

/** The README's code blocks in a JavaScript dialect, with the marker before each (if any). */
function readmeExamples(): Block[] {
  const text = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const re = /(?:<!-- readme-example: ([\w-]+) -->\n)?```(ts|js|typescript|javascript|mjs)\n([\s\S]*?)```/g;
  return [...text.matchAll(re)].map((m) => ({
    name: m[1] ?? null,
    lang: m[2]!,
    code: m[3]!,
    line: text.slice(0, m.index).split('\n').length,
  }));
}

let cluster: LocalCluster;
let cleanup: () => Promise<void>;
let client: DfsClient;
const dirs: string[] = [];

beforeAll(async () => {
  ({ cluster, cleanup } = await startCluster({ datanodes: 3 }));
  await cluster.waitWritable(30_000);
  client = new DfsClient({ namenode: cluster.namenodeAddress, requestTimeoutMs: 15_000 });
});

afterAll(async () => {
  client?.close();
  await cleanup?.();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('README.md code examples', () => {
  const blocks = readmeExamples();

  it('has at least one, each marked with a known example name', () => {
    expect(blocks.length).toBeGreaterThan(0);
    for (const b of blocks) {
      expect(
        b.name,
        `README.md line ${b.line}: a \`\`\`${b.lang} block without <!-- readme-example: NAME -->`,
      ).not.toBeNull();
      expect(Object.keys(EXAMPLES), `README.md line ${b.line}: no setup for example '${b.name}'`).toContain(
        b.name,
      );
    }
  });

  for (const b of blocks) {
    const example = b.name === null ? undefined : EXAMPLES[b.name];
    if (example === undefined) continue;
    it(`'${b.name}' (README.md line ${b.line}) runs and does what it says`, async () => {
      const cwd = tempDir('dfs-readme-');
      dirs.push(cwd);
      example.setup(cwd);
      const code = b.code
        .replace(/(['"])\.\/dist\/([^'"]+)\1/g, (_m, q: string, rest: string) => {
          return `${q}${pathToFileURL(path.join(REPO_ROOT, 'dist', rest)).href}${q}`;
        })
        .replaceAll('127.0.0.1:8020', cluster.namenodeAddress);
      const file = path.join(cwd, 'example.mjs');
      fs.writeFileSync(file, code);
      const r = spawnSync(process.execPath, [file], { cwd, timeout: RUN_TIMEOUT_MS, maxBuffer: 64 << 20 });
      expect(r.signal, `killed after ${RUN_TIMEOUT_MS} ms; stderr: ${r.stderr?.toString()}`).toBeNull();
      expect(r.status, `stderr: ${r.stderr.toString()}`).toBe(0);
      await example.check({ cwd, stdout: r.stdout, client });
    });
  }
});
