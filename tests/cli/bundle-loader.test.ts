/**
 * The `dfs` bundle and its V8 code cache (src/cli/bundle-loader.ts): a cache is used only
 * for the bundle it was made from, a wrong one never runs, a missing or rejected one costs
 * nothing but time, and the build's own cache is one the runtime accepts; V8's optimizing
 * compiler is off for the time asked after the bundle's top level, and on after it.
 *
 * Each case runs in a child process: writeCodeCache changes V8 flags, and runBundle runs
 * the bundle in the process that calls it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../src/local/daemon-process.js';

const LOADER = path.join(REPO_ROOT, 'dist/src/cli/bundle-loader.js');
const REAL_BUNDLE = path.join(REPO_ROOT, 'dist/cli/dfs.cjs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dfs-bundle-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs `code` (an ES module) in a child with the loader's exports in scope; its stdout. */
function child(code: string, args: string[] = []): string {
  const script = `import { runBundle, writeCodeCache, lastCodeCacheUse } from ${JSON.stringify(LOADER)};\n${code}`;
  return execFileSync(process.execPath, ['--input-type=module', '-e', script, '--', ...args], {
    encoding: 'utf8',
    timeout: 30_000,
  });
}

/** Runs the bundle; what it printed, then how its cache was used. */
function run(bundle: string): string[] {
  return child(`runBundle(${JSON.stringify(bundle)}); console.log(lastCodeCacheUse());`)
    .trim()
    .split('\n');
}

/** A bundle whose functions print `word`: as CommonJS, with require and __filename. */
function writeBundle(file: string, word: string): void {
  const body = [
    `function say() { return ${JSON.stringify(word)} + ' ' + require('node:path').basename(__filename); }`,
    `module.exports.said = say();`,
    `console.log(module.exports.said);`,
  ];
  fs.writeFileSync(file, body.join('\n'));
}

describe('bundle-loader', () => {
  it('runs a bundle as a CommonJS module, with its cache once one is written', () => {
    const bundle = path.join(tmp, 'a.cjs');
    writeBundle(bundle, 'alpha');
    expect(run(bundle)).toEqual(['alpha a.cjs', 'none']);
    child(`writeCodeCache(${JSON.stringify(bundle)});`);
    expect(run(bundle)).toEqual(['alpha a.cjs', 'accepted']);
  });

  it('never runs a cache made from another bundle, even one of the same length (V8 checks only the length)', () => {
    const bundle = path.join(tmp, 'b.cjs');
    writeBundle(bundle, 'alpha');
    child(`writeCodeCache(${JSON.stringify(bundle)});`);
    writeBundle(bundle, 'omega');
    expect(run(bundle)).toEqual(['omega b.cjs', 'stale']);
  });

  it('compiles without a cache V8 rejects', () => {
    const bundle = path.join(tmp, 'c.cjs');
    writeBundle(bundle, 'alpha');
    child(`writeCodeCache(${JSON.stringify(bundle)});`);
    const cache = fs.readFileSync(`${bundle}.v8cache`);
    cache.fill(0x5a, 40, 80); // past the 32-byte hash: V8's own header
    fs.writeFileSync(`${bundle}.v8cache`, cache);
    expect(run(bundle)).toEqual(['alpha c.cjs', 'rejected']);
  });

  it('a missing bundle is one line naming the remedy, exit status 1', () => {
    const missing = path.join(tmp, 'none.cjs');
    const script = `import { runBundle } from ${JSON.stringify(LOADER)};\nrunBundle(${JSON.stringify(missing)});`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`dfs: ${missing} is missing: run \`npm run build\` (tsc alone does not make it)\n`);
  });

  it('keeps V8 from optimizing for the given time after the top level, then lets it', () => {
    // A hot function, called enough to be optimized, once at once and once after the time;
    // V8's own status bits say whether TurboFan compiled it (%GetOptimizationStatus, 16).
    const bundle = path.join(tmp, 'hot.cjs');
    const body = [
      'function hot(x) { return x * 2 + 1; }',
      'function run() { let s = 0; for (let i = 0; i < 2e5; i++) s += hot(i); return s; }',
      'const optimized = () => { for (let k = 0; k < 30; k++) run(); return (%GetOptimizationStatus(hot) & 16) !== 0; };',
      'setImmediate(() => {',
      '  console.log(optimized());',
      '  setTimeout(() => console.log(optimized()), 600);',
      '});',
    ];
    fs.writeFileSync(bundle, body.join('\n'));
    const script = `import { runBundle } from ${JSON.stringify(LOADER)};\nrunBundle(${JSON.stringify(bundle)}, 300);`;
    const out = execFileSync(
      process.execPath,
      ['--allow-natives-syntax', '--input-type=module', '-e', script],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(out.trim().split('\n')).toEqual(['false', 'true']);
  });

  it("the build's bundle runs the CLI, with a cache this Node accepts", () => {
    const out = child(
      `process.on('exit', () => console.log(lastCodeCacheUse())); runBundle(${JSON.stringify(REAL_BUNDLE)});`,
      ['dfs', '--version'],
    );
    const version = (
      JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }
    ).version;
    expect(out.trim().split('\n')).toEqual([expect.stringContaining(version), 'accepted']);
  });
});
