/**
 * Vitest global set-up: refuse to run against a missing or stale build.
 *
 * Tests import the code under test from src/ (vitest compiles it on the fly), but the
 * daemons, the `dfs` CLI and `dfs-bench` they spawn are real processes started from
 * `bin/*.js`, which load dist/. If dist/ were older than src/, a test would exercise the
 * new code in-process and the old code in its daemons, and pass or fail for the wrong
 * reason. `npm test` builds first; a bare `npx vitest run` after an edit does not, so every
 * run checks that each source file under src/, protocol/ and bench/ has a compiled file in
 * dist/ that is at least as new (tsc rewrites every output on each build), and fails with
 * the remedy otherwise; and that the `dfs` bundle (dist/cli/dfs.cjs, which bin/dfs.js runs)
 * is as new as every source, since `tsc` alone does not remake it. Checking is cheap (a stat
 * per file); building here would cost every targeted run a full compile.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const COMPILED_DIRS = ['src', 'protocol', 'bench'];
const SHOWN_MAX = 5;
const CLI_BUNDLE = path.join('dist', 'cli', 'dfs.cjs');

function sourcesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourcesUnder(full));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** Source files (relative to the root) whose compiled file in dist/ is missing or older, and the bundle if it is. */
export function staleSources(root: string): string[] {
  const stale: string[] = [];
  let newestSourceMs = 0;
  for (const dir of COMPILED_DIRS) {
    for (const source of sourcesUnder(path.join(root, dir))) {
      const rel = path.relative(root, source);
      const compiled = path.join(root, 'dist', rel.replace(/\.ts$/, '.js'));
      const compiledStat = fs.statSync(compiled, { throwIfNoEntry: false });
      if (compiledStat === undefined || compiledStat.mtimeMs < fs.statSync(source).mtimeMs) stale.push(rel);
      newestSourceMs = Math.max(newestSourceMs, fs.statSync(source).mtimeMs);
    }
  }
  const bundleStat = fs.statSync(path.join(root, CLI_BUNDLE), { throwIfNoEntry: false });
  if (bundleStat === undefined || bundleStat.mtimeMs < newestSourceMs)
    stale.push(`${CLI_BUNDLE} (the dfs bundle)`);
  return stale;
}

export default function setup(): void {
  const stale = staleSources(ROOT);
  if (stale.length === 0) return;
  const shown = stale.slice(0, SHOWN_MAX).join(', ');
  const more = stale.length > SHOWN_MAX ? ` and ${stale.length - SHOWN_MAX} more` : '';
  throw new Error(
    `dist/ is missing or older than the sources (${shown}${more}): the daemons the tests spawn ` +
      'would run old code. Run `npm run build` first (`npm test` does).',
  );
}
