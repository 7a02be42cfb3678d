// The second half of `npm run build` (after tsc): bundle the compiled `dfs` command line into
// one CommonJS file, dist/cli/dfs.cjs, and write V8's code cache for it beside it. bin/dfs.js
// runs the bundle with that cache (src/cli/bundle-loader.ts says why: start-up).
//
// - From dist/ (tsc's output), so the bundle holds exactly the code tsc compiled, which the
//   daemons the tests start run too.
// - Packages with native code or files loaded by path stay outside it, loaded by require()
//   from node_modules: @node-rs/xxhash and xxhash-addon (.node addons; the second finds its
//   prebuilt binary from its own directory); hash-wasm (xxh3's fallback, loaded only where
//   xxhash-addon does not: inside, all of its algorithms would be parsed at every start);
//   pino (its transports start worker files) and prom-client are not imported by the CLI
//   today, and would stay outside too.
// - A dynamic import() would fail inside the bundle (a vm.Script has no ES module loader)
//   and the code around it could fall back quietly (checksum.ts would use wasm xxhash), so
//   they are made require() calls, and the build fails if one is left.
import * as esbuild from 'esbuild';
import fs from 'node:fs';

const ENTRY = 'dist/src/cli/dfs.js';
const BUNDLE = 'dist/cli/dfs.cjs';

await esbuild.build({
  entryPoints: [ENTRY],
  outfile: BUNDLE,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['@node-rs/xxhash', 'xxhash-addon', 'hash-wasm', 'pino', 'prom-client'],
  supported: { 'dynamic-import': false },
  // import.meta.url (daemon-process.ts finds the repository root from it) as the bundle's URL.
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: "var __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});

const bundled = fs.readFileSync(BUNDLE, 'utf8');
if (/\bimport\(/.test(bundled)) throw new Error(`${BUNDLE} still has a dynamic import()`);
// The hashes' native addons are loaded from node_modules: a bundle that lost the require()
// (a changed import in checksum.ts) would fall back to WebAssembly without a word.
for (const pkg of ['@node-rs/xxhash', 'xxhash-addon'])
  if (!bundled.includes(`require("${pkg}")`)) throw new Error(`${BUNDLE} does not require ${pkg}`);

const { writeCodeCache } = await import('./dist/src/cli/bundle-loader.js');
writeCodeCache(BUNDLE);
