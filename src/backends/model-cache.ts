/**
 * The Node store for derived models (int8 copies made by quantizeModel): files in the user's
 * cache folder ($XDG_CACHE_HOME/salip or ~/.cache/salip, or a folder of the caller's), named by
 * the SHA-256 of the source model and the derivation's tag, written atomically so that two
 * processes quantizing at once both end with a whole file.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SalipError } from '../core/errors.js';
import { writeFileAtomic } from './node-files.js';
import type { DerivedModelCache } from './types.js';

/** $XDG_CACHE_HOME/salip, else ~/.cache/salip. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.cache'), 'salip');
}

/** File name of a derived model: source hash + tag (tags are file-name safe by construction). */
export function derivedModelPath(dir: string, source: Uint8Array, tag: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(tag)) throw new SalipError('INVALID_ARGUMENT', `derived model tag: expected letters, digits, '.', '_' or '-', got "${tag}"`);
  const hash = createHash('sha256').update(source).digest('hex');
  return join(dir, 'models', `${hash.slice(0, 32)}-${tag}.onnx`);
}

/** A DerivedModelCache over files in `dir` (default: defaultCacheDir()). */
export function fileModelCache(dir: string = defaultCacheDir()): DerivedModelCache {
  return {
    async getOrCreate(source, tag, make) {
      const path = derivedModelPath(dir, source, tag);
      try {
        const buffer = await fs.readFile(path);
        if (buffer.length > 0) return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new SalipError('FILE_UNREADABLE', `model cache: cannot read ${path}: ${(error as Error).message}`, { cause: error });
      }
      const bytes = make();
      // A cache that cannot be written (read-only home) costs the next load a re-derivation, nothing more.
      try {
        await fs.mkdir(join(dir, 'models'), { recursive: true });
        await writeFileAtomic(path, bytes, { force: true });
      } catch {
        /* keep the in-memory result */
      }
      return bytes;
    },
  };
}
