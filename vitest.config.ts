import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // *.slow.test.ts is the acceptance suite (npm run test:slow, vitest.slow.config.ts).
    exclude: ['test/browser/**', 'node_modules/**', '**/*.slow.test.ts'],
    // test/package.test.ts loads the built package: build dist/ first when it is stale.
    globalSetup: ['test/helpers/build-dist.ts'],
    // Real-model tests take tens of seconds on a quiet 2-core machine; the margin is for shared runners.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // Real-model suites each hold a ~45 MB MobileSAM session; two workers match the 2-core machines.
    maxWorkers: 2,
  },
});
