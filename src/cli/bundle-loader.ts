/**
 * The `dfs` command line starts from one bundled file compiled with a V8 code cache.
 *
 * Every `dfs` command pays Node's start-up and then ours, and a user who times `dfs get` of
 * a 1 GiB file pays it inside the transfer. Loaded as ES modules (about 80 files), our
 * start-up was about 0.14 s beyond `node -e 0`: most of it Node's ES module loader resolving,
 * reading and linking each file, the rest V8 compiling what runs. Node 20 keeps no compiled
 * code between runs for ES modules (`module.enableCompileCache` came with Node 22).
 *
 * So `npm run build` also bundles the compiled CLI into one CommonJS file (esbuild, see
 * esbuild.config.mjs), compiles it eagerly once, and writes V8's code cache beside it
 * (`writeCodeCache`). `bin/dfs.js` runs the bundle through `runBundle`, which hands V8 that
 * cache: no module resolution, and no compiling of the functions the cache holds.
 *
 * V8's optimizing compiler (TurboFan, flag `--turbofan`) is kept off for the command's first
 * seconds (`OPTIMIZE_AFTER_MS`). A transfer's hot path is a few dozen functions, and TurboFan
 * compiled about 40 of them in a 1 GiB `dfs get`: 0.2 CPU-s on V8's worker threads, on the
 * core the DataNode needs, for code that runs about a tenth faster once compiled. A command
 * that ends within seconds never earns that back: without TurboFan a cold 1 GiB `dfs get`
 * took 0.84 of the time, `dfs put` 0.96. Past the first seconds it is switched on again, so a
 * long transfer (or a long listing) runs optimized code. The flag is set after the bundle's
 * top level has run: Node's built-in modules come with a code cache that V8 rejects once any
 * flag differs, so a module loaded after the change is compiled from source (about 9 ms for
 * the network and stream modules); perf_hooks, which every transfer uses, is loaded before.
 *
 * The cache is only an optimisation, and a wrong one must never run:
 * - it starts with the SHA-256 of the bundle it was made from, and is ignored unless that is
 *   the bundle's (V8 itself checks only the source's length);
 * - V8 rejects a cache made by another V8 version or with other flags; a rejected or missing
 *   cache costs the compile it would have saved, nothing else.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { Module, createRequire } from 'node:module';
import path from 'node:path';
import 'node:perf_hooks'; // before the flag change below: see the header
import v8 from 'node:v8';
import vm from 'node:vm';

const HASH_BYTES = 32;

/** Where the code cache of `bundleFile` lives. */
export function codeCacheFile(bundleFile: string): string {
  return `${bundleFile}.v8cache`;
}

function sourceHash(source: string): Buffer {
  return createHash('sha256').update(source).digest();
}

function compile(bundleFile: string, source: string, cachedData?: Buffer): vm.Script {
  return new vm.Script(Module.wrap(source), { filename: bundleFile, cachedData });
}

/** The cache's V8 data when it was made from `source`, else undefined. */
function readCodeCache(bundleFile: string, source: string): Buffer | undefined {
  let data: Buffer;
  try {
    data = fs.readFileSync(codeCacheFile(bundleFile));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (data.length <= HASH_BYTES || !data.subarray(0, HASH_BYTES).equals(sourceHash(source))) return undefined;
  return data.subarray(HASH_BYTES);
}

/** How the last `runBundle` in this process used the cache (for tests). */
export type CodeCacheUse = 'none' | 'stale' | 'accepted' | 'rejected';
let lastUse: CodeCacheUse = 'none';
export function lastCodeCacheUse(): CodeCacheUse {
  return lastUse;
}

/** How long a `dfs` command runs before V8's optimizing compiler is switched on (see the header). */
export const OPTIMIZE_AFTER_MS = 2_000;

/**
 * Runs a CommonJS bundle as Node would run it as a module, with its code cache when it fits;
 * V8's optimizing compiler stays off for `optimizeAfterMs` from the end of its top level.
 */
export function runBundle(bundleFile: string, optimizeAfterMs = OPTIMIZE_AFTER_MS): void {
  let source: string;
  try {
    source = fs.readFileSync(bundleFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    process.stderr.write(
      `dfs: ${bundleFile} is missing: run \`npm run build\` (tsc alone does not make it)\n`,
    );
    process.exit(1);
  }
  const cachedData = readCodeCache(bundleFile, source);
  const script = compile(bundleFile, source, cachedData);
  if (cachedData === undefined) {
    lastUse = fs.existsSync(codeCacheFile(bundleFile)) ? 'stale' : 'none';
  } else {
    lastUse = script.cachedDataRejected === true ? 'rejected' : 'accepted';
  }
  const wrapper = script.runInThisContext() as (
    exports: unknown,
    require: NodeJS.Require,
    module: { exports: unknown },
    filename: string,
    dirname: string,
  ) => void;
  const module = { exports: {} };
  wrapper.call(
    module.exports,
    module.exports,
    createRequire(bundleFile),
    module,
    bundleFile,
    path.dirname(bundleFile),
  );
  deferOptimization(optimizeAfterMs);
}

/** TurboFan off now, on again after `ms` (a timer that keeps no process alive). */
function deferOptimization(ms: number): void {
  v8.setFlagsFromString('--no-turbofan');
  setTimeout(() => v8.setFlagsFromString('--turbofan'), ms).unref();
}

/**
 * Compiles the bundle eagerly (every function, not only those a first run would call) and
 * writes its code cache, replacing any older one at once. Returns the cache's size.
 * Meant for the build: it sets V8's `lazy` flag back, but only a process of its own should
 * change V8 flags.
 */
export function writeCodeCache(bundleFile: string): number {
  const source = fs.readFileSync(bundleFile, 'utf8');
  v8.setFlagsFromString('--no-lazy');
  let script: vm.Script;
  try {
    script = compile(bundleFile, source);
  } finally {
    // The cache records V8's flags, and a run (with `lazy` on) rejects one made with others.
    v8.setFlagsFromString('--lazy');
  }
  const data = Buffer.concat([sourceHash(source), script.createCachedData()]);
  const file = codeCacheFile(bundleFile);
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
  return data.length;
}
