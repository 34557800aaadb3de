import { defineConfig } from 'tsup';

export default defineConfig([
  {
    // Library entry points: ESM + CJS + declarations. onnxruntime packages stay external so
    // users' bundlers resolve the right runtime build.
    entry: { index: 'src/index.ts', node: 'src/node.ts', web: 'src/web.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'es2022',
    splitting: true,
    treeshake: true,
    // import.meta.url (default model lookup) must work in the CJS build too.
    shims: true,
  },
  {
    // The CLI is an ESM executable only.
    entry: { cli: 'src/cli/bin.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
  },
]);
