/**
 * Vitest global setup: the package and browser tests load dist/, so build first when it is
 * missing or older than any source file (a stale bundle would test yesterday's code).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const OUTPUTS = ['web.js', 'node.js', 'node.cjs', 'index.js', 'index.cjs', 'index.d.ts', 'cli.js'];

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

export default function setup(): void {
  const sources = Math.max(newestMtime(join(REPO_ROOT, 'src')), statSync(join(REPO_ROOT, 'tsup.config.ts')).mtimeMs);
  const fresh = OUTPUTS.every((f) => {
    const path = join(REPO_ROOT, 'dist', f);
    return existsSync(path) && statSync(path).mtimeMs >= sources;
  });
  if (fresh) return;
  console.log('tests: dist/ is missing or stale, running npm run build');
  const result = spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`npm run build failed (exit ${result.status}); the package and browser tests need dist/`);
}
