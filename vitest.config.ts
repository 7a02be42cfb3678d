import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real daemons; two cores, so keep the fan-out small.
    maxWorkers: 2,
    reporters: ['default', './tests/support/summary-reporter.ts'],
    // Spawned daemons run dist/: fail the run up front if it is missing or older than src/.
    globalSetup: ['./tests/support/dist-guard.ts'],
  },
});
