#!/usr/bin/env node
// Thin launcher: the CLI runs from its bundle, dist/cli/dfs.cjs, with the V8 code cache beside
// it (src/cli/bundle-loader.ts says why); `npm run build` makes both.
import { fileURLToPath } from 'node:url';
import { runBundle } from '../dist/src/cli/bundle-loader.js';

runBundle(fileURLToPath(new URL('../dist/cli/dfs.cjs', import.meta.url)));
