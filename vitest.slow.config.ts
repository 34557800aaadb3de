import { defineConfig } from 'vitest/config';

/**
 * The slow acceptance suite (npm run test:slow): real MobileSAM on every dev image. One worker,
 * because each suite already keeps both cores busy and the quality numbers do not depend on
 * timing; timeouts are generous for a shared 2-core machine.
 */
export default defineConfig({
  test: {
    include: ['test/**/*.slow.test.ts'],
    exclude: ['test/browser/**', 'node_modules/**'],
    testTimeout: 40 * 60_000,
    hookTimeout: 10 * 60_000,
    maxWorkers: 1,
    fileParallelism: false,
  },
});
