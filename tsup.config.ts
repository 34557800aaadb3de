import { defineConfig } from 'tsup';

export default defineConfig([
  {
    // Library entry points: ESM + CJS + declarations. onnxruntime packages stay external so
    // users' bundlers resolve the right runtime build.
    entry: { index: 'src/index.ts', node: 'src/node.ts', web: 'src/web.ts', queue: 'src/queue.ts', dicom: 'src/dicom.ts' },
    // bullmq is an optional peer dependency of salip/queue only: never bundled.
    external: ['bullmq'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'es2022',
    splitting: true,
    treeshake: true,
    // nifti-reader-js exports ESM only (no "require" condition) and jpeg-js is CommonJS only;
    // bundling both makes the CJS build loadable and the ESM build usable from an import map.
    noExternal: ['nifti-reader-js', 'jpeg-js'],
    // nifti-reader-js inflates with fflate; its Node build reaches for worker_threads through
    // createRequire, which breaks browsers. The browser build is plain JS and works in Node too.
    esbuildOptions(options) {
      options.alias = { ...options.alias, fflate: 'fflate/browser' };
    },
  },
  {
    // The CLI is an ESM executable only.
    // batch-worker is the script `salip batch` forks for each worker process (src/batch/pool.ts).
    entry: { cli: 'src/cli/bin.ts', 'batch-worker': 'src/batch/batch-worker.ts' },
    external: ['bullmq'],
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
  },
]);
