/**
 * One input through one processor, exactly once: skip it when the manifest says it is done,
 * otherwise process it, write its mask atomically (not at all when an earlier attempt of the
 * same job already wrote identical bytes before dying), then record the result. Failures become
 * outcomes with the error's code; they never throw, so one bad input never stops a batch.
 */
import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { isSalipError, SalipError } from '../core/errors.js';
import { writeFileAtomic } from '../backends/node-files.js';
import type { InputKind } from './inputs.js';
import { isCurrentDone, jobKey, readRecord, SALIP_VERSION, writeRecord, type InputResult, type ManifestRecord } from './manifest.js';

/** One unit of work: an input, where its mask goes, and the hashes that identify the result. */
export interface InputJob {
  /** Absolute input path. */
  readonly input: string;
  readonly kind: InputKind | undefined;
  /** Absolute output path (.png for images, .nii.gz for volumes). */
  readonly output: string;
  readonly inputHash: string;
  readonly taskHash: string;
}

/** What a processor makes of an input: the mask file's bytes and a few numbers for the summary. */
export interface ProcessedInput {
  readonly bytes: Uint8Array;
  readonly stats?: Readonly<Record<string, number>>;
}

/**
 * The processing function: segments one input and returns the encoded mask. The seam through
 * which tests and apps put in another segmenter; it must not write the output itself.
 */
export type InputProcessor = (job: InputJob) => Promise<ProcessedInput>;

/** How a job ended. 'skipped': already done with the same hashes and version. */
export interface JobOutcome extends InputResult {
  readonly status: 'done' | 'skipped' | 'failed';
  /** True when this call renamed the mask into place. */
  readonly written: boolean;
}

export interface RunJobOptions {
  /** Folder holding the manifest (the batch's --out). */
  readonly outDir: string;
  /** Called after the mask is renamed into place (logging, tests counting writes). */
  readonly onWrite?: (job: InputJob) => void;
}

/** Error code for a failure that is not a SalipError (a bug or a library's own error). */
export const INTERNAL_ERROR_CODE = 'INTERNAL_ERROR';

/** Runs one job exactly once against the manifest in options.outDir. Never throws. */
export async function runJobOnce(job: InputJob, processor: InputProcessor, options: RunJobOptions): Promise<JobOutcome> {
  const key = jobKey(job.inputHash, job.taskHash);
  const base = { input: job.input, output: job.output };
  if (isCurrentDone(await readRecord(options.outDir, key)) && (await fileExists(job.output))) return { ...base, status: 'skipped', written: false };
  const started = Date.now();
  try {
    if (job.kind === undefined) {
      throw new SalipError('UNSUPPORTED_FORMAT', `input ${job.input}: not an image (.png, .jpg) or NIfTI volume (.nii, .nii.gz)`);
    }
    await writeRecord(options.outDir, record(job, key, { status: 'started' }));
    const result = await processor(job);
    const written = await writeOnce(job.output, result.bytes);
    if (written) options.onWrite?.(job);
    const ms = Date.now() - started;
    await writeRecord(options.outDir, record(job, key, { status: 'done', ms, stats: result.stats }));
    return { ...base, status: 'done', ms, stats: result.stats, written };
  } catch (error) {
    const ms = Date.now() - started;
    const failure = describeFailure(error);
    await writeRecord(options.outDir, record(job, key, { status: 'failed', ms, ...failure })).catch(() => undefined);
    return { ...base, status: 'failed', ms, ...failure, written: false };
  }
}

/** The code and message of an error, for summaries and the queue's failed list. */
export function describeFailure(error: unknown): { code: string; message: string } {
  if (isSalipError(error)) return { code: error.code, message: error.message };
  return { code: INTERNAL_ERROR_CODE, message: error instanceof Error ? error.message : String(error) };
}

/**
 * Writes `bytes` atomically unless the file already holds exactly them (an earlier attempt of
 * this job that died between the write and its record); true when it wrote.
 */
export async function writeOnce(path: string, bytes: Uint8Array): Promise<boolean> {
  const existing = await fs.readFile(path).catch(() => undefined);
  if (existing && Buffer.compare(existing, bytes) === 0) return false;
  await fs.mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, bytes, { force: true });
  return true;
}

function record(job: InputJob, key: string, result: Pick<ManifestRecord, 'status' | 'ms' | 'stats' | 'code' | 'message'>): ManifestRecord {
  return { key, input: job.input, output: job.output, inputHash: job.inputHash, taskHash: job.taskHash, version: SALIP_VERSION, ...result, at: new Date().toISOString() };
}

async function fileExists(path: string): Promise<boolean> {
  return fs.stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}
