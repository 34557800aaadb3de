/**
 * The batch manifest: one small JSON record per (input content, task) pair in
 * `<out>/.salip-manifest/<key>.json`, written atomically. One file per job (not one shared file)
 * so workers on several machines can record results in a shared folder without a lock, and a
 * kill can never leave a half-written manifest.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { removeStaleTempFiles, writeFileAtomic } from '../backends/node-files.js';

/** The library version recorded with every result; a new version redoes old outputs. */
export const SALIP_VERSION = '0.1.0';

export const MANIFEST_DIR = '.salip-manifest';

/** How one input went: shared by manifest records and job outcomes. Paths are absolute. */
export interface InputResult {
  readonly input: string;
  readonly output: string;
  /** SalipError code of a failure. */
  readonly code?: string;
  readonly message?: string;
  /** Processing time in ms. */
  readonly ms?: number;
  /** Numbers the processor reported (candidates, mask area, ...). */
  readonly stats?: Readonly<Record<string, number>>;
}

/** What is known about one input's result. */
export interface ManifestRecord extends InputResult {
  readonly key: string;
  readonly inputHash: string;
  readonly taskHash: string;
  readonly version: string;
  /** 'started' is written before the mask, so every output file in --out has a record naming it. */
  readonly status: 'started' | 'done' | 'failed';
  /** ISO time of the record. */
  readonly at: string;
}

/** A job's identity: the input's content hash with the task's hash (also the queue's job id). */
export function jobKey(inputHash: string, taskHash: string): string {
  return createHash('sha256').update(`${inputHash}:${taskHash}`).digest('hex').slice(0, 40);
}

export function recordPath(outDir: string, key: string): string {
  return join(outDir, MANIFEST_DIR, `${key}.json`);
}

export async function writeRecord(outDir: string, record: ManifestRecord): Promise<void> {
  await fs.mkdir(join(outDir, MANIFEST_DIR), { recursive: true });
  await writeFileAtomic(recordPath(outDir, record.key), new TextEncoder().encode(JSON.stringify(record) + '\n'), { force: true });
}

/** The record of a key, or undefined when there is none (or it cannot be parsed). */
export async function readRecord(outDir: string, key: string): Promise<ManifestRecord | undefined> {
  try {
    return JSON.parse(await fs.readFile(recordPath(outDir, key), 'utf8')) as ManifestRecord;
  } catch {
    return undefined;
  }
}

/** Every record in the manifest (unreadable ones skipped). */
export async function readAllRecords(outDir: string): Promise<ManifestRecord[]> {
  let names: string[];
  try {
    names = await fs.readdir(join(outDir, MANIFEST_DIR));
  } catch {
    return [];
  }
  const records = await Promise.all(names.filter((n) => n.endsWith('.json')).map((n) => readRecord(outDir, n.slice(0, -5))));
  return records.filter((r): r is ManifestRecord => r !== undefined);
}

/** True when a record says the job is finished with this library version. */
export function isCurrentDone(record: ManifestRecord | undefined): boolean {
  return record !== undefined && record.status === 'done' && record.version === SALIP_VERSION;
}

/**
 * Clears temp files a killed worker left beside the outputs and in the manifest (older than an
 * hour, so writes under way elsewhere are left alone). Batch runs and enqueue call it first.
 */
export async function sweepInterruptedWrites(outDir: string, outputs: readonly string[]): Promise<number> {
  const directories = new Set([join(outDir, MANIFEST_DIR), ...outputs.map((o) => dirname(o))]);
  let removed = 0;
  for (const directory of directories) removed += await removeStaleTempFiles(directory);
  return removed;
}
