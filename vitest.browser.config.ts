import { defineConfig } from 'vitest/config';

// npm run test:browser: end-to-end tests in Debian's headless Chromium (test/browser). Each file
// starts its own browser and wasm MobileSAM, so files run one at a time on the 2-core machines.
export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    globalSetup: ['test/helpers/build-dist.ts'],
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 600_000,
  },
});
