#!/usr/bin/env node
// Thin launcher: the compiled CLI does the work (run `npm run build` first).
import '../dist/bench/dfs-bench.js';
