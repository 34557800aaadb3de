/**
 * Where the development data lives: ../shared/data beside the repository (as CI lays it out),
 * or SALIP_DATA_DIR. The data is read by path and never copied into the project.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DATA_DIR = process.env.SALIP_DATA_DIR ?? resolve(REPO_ROOT, '..', 'shared', 'data');

export type DataTask = 'lung_xray' | 'fetal_head_us' | 'brain_mri' | 'jsrt_heart' | 'jsrt_clavicles';

/** Absolute path inside the data directory. */
export function dataPath(...parts: string[]): string {
  return join(DATA_DIR, ...parts);
}

/** Sorted names (without folder) of a task's image files. */
export function taskImageNames(task: DataTask): string[] {
  return readdirSync(dataPath(task, 'images'))
    .filter((f) => f.endsWith('.png'))
    .sort();
}

/** Bytes of a task's image and mask with the same name. */
export function readPair(task: DataTask, name: string): { image: Uint8Array; mask: Uint8Array } {
  return {
    image: new Uint8Array(readFileSync(dataPath(task, 'images', name))),
    mask: new Uint8Array(readFileSync(dataPath(task, 'masks', name))),
  };
}

export const HAS_DATA = existsSync(DATA_DIR);
