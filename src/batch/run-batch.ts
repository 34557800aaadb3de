/**
 * `salip batch` without the command line: expand the inputs, hash each one, skip those the
 * manifest says are done with the same hashes and version, run the rest on the worker pool,
 * and write the JSON summary and the HTML report under the output folder.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { SalipError } from '../core/errors.js';
import type { ProgressEvent } from '../pipeline/stages/options.js';
import { writeFileAtomic } from '../backends/node-files.js';
import type { ModelSettings } from './cascade-processor.js';
import { checkDistinctOutputs, expandInputs, hashFile, outputPathFor, type BatchInput } from './inputs.js';
import { describeFailure, type InputJob, type JobOutcome } from './job.js';
import { isCurrentDone, jobKey, readAllRecords, SALIP_VERSION, sweepInterruptedWrites, type ManifestRecord } from './manifest.js';
import { runPool } from './pool.js';
import { renderBatchHtml } from './report.js';
import type { BatchSummary } from './summary.js';
import { hashTask, resolveTaskSource, type TaskSource } from './task-source.js';

export type { BatchSummary } from './summary.js';

export const SUMMARY_FILE = 'salip-summary.json';
export const REPORT_FILE = 'salip-report.html';

export interface BatchOptions {
  /** Files, folders and list files (see expandInputs). */
  readonly inputs: readonly string[];
  readonly outDir: string;
  readonly taskSource: TaskSource;
  readonly models: ModelSettings;
  /** Worker processes (default 1). */
  readonly workers?: number;
  /** Overwrite output files that exist in outDir but that no earlier run recorded. */
  readonly force?: boolean;
  /** A module exporting createProcessor(init), used instead of the cascade (tests, custom segmenters). */
  readonly processorModule?: string;
  readonly onProgress?: (event: ProgressEvent) => void;
}

/** ONNX Runtime threads per worker when not given: the cores divided among the workers. */
export function defaultThreads(workers: number, cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / Math.max(1, workers)));
}

/** Runs a batch; failures of single inputs are in the summary, never thrown. */
export async function runBatch(options: BatchOptions): Promise<BatchSummary> {
  const started = Date.now();
  const outDir = resolve(options.outDir);
  const workers = options.workers ?? 1;
  const inputs = await expandInputs(options.inputs, outDir);
  if (inputs.length === 0) throw new SalipError('FILE_NOT_FOUND', `no image or volume inputs in ${options.inputs.join(', ')}`);
  checkDistinctOutputs(inputs, outDir);
  // The task is rebuilt here once: it fails fast when bad, and its hash keys every result.
  const task = await resolveTaskSource(options.taskSource);
  const taskHash = hashTask(task, { ...options.models, threads: undefined, workers: undefined, version: SALIP_VERSION });
  await sweepInterruptedWrites(outDir, inputs.map((i) => outputPathFor(i, outDir)));
  const records = await readAllRecords(outDir);
  const recorded = new Set(records.map((r) => r.output));
  const byKey = new Map(records.map((r) => [r.key, r]));

  const outcomes: JobOutcome[] = [];
  const jobs: InputJob[] = [];
  for (const input of inputs) {
    const planned = await planInput(input, outDir, taskHash, byKey, recorded, options.force === true);
    if ('status' in planned) outcomes.push(planned);
    else jobs.push(planned);
  }
  const total = inputs.length;
  const report = progressReporter(total, outcomes.length, options.onProgress);
  let peakRssMb: number[] = [];
  if (jobs.length > 0) {
    const pool = await runPool(jobs, {
      workers,
      init: { taskSource: options.taskSource, models: { ...options.models, threads: options.models.threads ?? defaultThreads(workers) } },
      outDir,
      processorModule: options.processorModule,
      onOutcome: (o) => {
        outcomes.push(o);
        report(outcomes.length);
      },
    });
    peakRssMb = pool.peakRssMb;
  }
  const order = new Map(inputs.map((i, k) => [i.path, k]));
  outcomes.sort((a, b) => order.get(a.input)! - order.get(b.input)!);
  const elapsedMs = Date.now() - started;
  const segmented = outcomes.filter((o) => o.status === 'done').length;
  const summary: BatchSummary = {
    task: task.name,
    taskHash,
    version: SALIP_VERSION,
    workers,
    threads: options.models.threads ?? defaultThreads(workers),
    counts: {
      total,
      done: segmented,
      skipped: outcomes.filter((o) => o.status === 'skipped').length,
      failed: outcomes.filter((o) => o.status === 'failed').length,
    },
    elapsedMs,
    imagesPerMinute: elapsedMs > 0 ? (segmented * 60_000) / elapsedMs : 0,
    peakRssMbPerWorker: peakRssMb,
    inputs: outcomes,
  };
  await writeFileAtomic(join(outDir, SUMMARY_FILE), new TextEncoder().encode(JSON.stringify(summary, null, 1) + '\n'), { force: true });
  await writeFileAtomic(join(outDir, REPORT_FILE), new TextEncoder().encode(await renderBatchHtml(summary, inputs, outDir)), { force: true });
  return summary;
}

/**
 * What to do with one input: an outcome right away (skipped as done, or failed because it cannot
 * be read or its output is someone else's file) or a job for the pool.
 */
async function planInput(
  input: BatchInput,
  outDir: string,
  taskHash: string,
  byKey: ReadonlyMap<string, ManifestRecord>,
  recorded: ReadonlySet<string>,
  force: boolean,
): Promise<JobOutcome | InputJob> {
  const output = outputPathFor(input, outDir);
  let inputHash: string;
  try {
    inputHash = await hashFile(input.path);
  } catch (error) {
    const cause = (error as NodeJS.ErrnoException).code === 'ENOENT' ? new SalipError('FILE_NOT_FOUND', `input ${input.path} does not exist`) : error;
    return { input: input.path, output, status: 'failed', ...describeFailure(cause), written: false };
  }
  const previous = byKey.get(jobKey(inputHash, taskHash));
  if (isCurrentDone(previous) && existsSync(output)) return { input: input.path, output, status: 'skipped', stats: previous!.stats, written: false };
  if (!force && existsSync(output) && !recorded.has(output)) {
    return {
      input: input.path,
      output,
      status: 'failed',
      code: 'OUTPUT_EXISTS',
      message: `output ${output} exists and no earlier salip batch run wrote it; use --force to overwrite it`,
      written: false,
    };
  }
  return { input: input.path, kind: input.kind, output, inputHash, taskHash };
}

/** Progress events with the count, the rate of this run and the time left. */
function progressReporter(total: number, alreadyDone: number, onProgress: BatchOptions['onProgress']): (done: number) => void {
  const started = Date.now();
  onProgress?.({ stage: 'batch', done: alreadyDone, total, message: alreadyDone > 0 ? `${alreadyDone} already done` : undefined });
  return (done) => {
    const minutes = (Date.now() - started) / 60_000;
    const rate = minutes > 0 ? (done - alreadyDone) / minutes : 0;
    const eta = rate > 0 ? formatDuration(((total - done) / rate) * 60) : '?';
    onProgress?.({ stage: 'batch', done, total, message: `${rate.toFixed(1)}/min, ETA ${eta}` });
  };
}

/** 75 -> "1m15s", 3700 -> "1h01m". */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
