/**
 * The job queue for many machines, on BullMQ over Redis: `enqueue` adds one job per input (job
 * id = the input's content hash with the task's hash, so resubmitting adds nothing), and
 * `createSalipWorker` runs them on any machine that sees the inputs and the output folder at
 * the same paths. BullMQ gives stalled-job recovery (a killed worker's job goes back to the
 * queue when its lock expires), retries with backoff and the counts; exactly-once output comes
 * from the manifest (job.ts). Only this module imports bullmq: it is the `salip/queue` entry.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { Queue, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { SalipError } from '../core/errors.js';
import { createCascadeProcessor, type ModelSettings, type ProcessorHandle, type ProcessorInit } from './cascade-processor.js';
import { checkDistinctOutputs, expandInputs, hashFile, outputPathFor } from './inputs.js';
import { INTERNAL_ERROR_CODE, describeFailure, runJobOnce, type InputJob, type JobOutcome } from './job.js';
import { jobKey, SALIP_VERSION, sweepInterruptedWrites } from './manifest.js';
import { hashTask, resolveTaskSource, type TaskSource } from './task-source.js';
import { createHash } from 'node:crypto';

export const DEFAULT_QUEUE_NAME = 'salip';

/** What one queue job carries: plain data, the same for every worker that picks it up. */
export interface SalipJobData {
  readonly job: InputJob;
  /** The shared output folder (also holds the manifest). */
  readonly outDir: string;
  readonly taskSource: TaskSource;
  readonly models: ModelSettings;
}

export interface QueueConnectionOptions {
  /** redis://[user:password@]host:port[/db] (rediss:// for TLS). */
  readonly redis: string;
  /** BullMQ queue name (default "salip"); separate queues keep separate runs apart. */
  readonly queueName?: string;
}

export interface EnqueueOptions extends QueueConnectionOptions {
  /** Files, folders and list files, as for `salip batch`. */
  readonly inputs: readonly string[];
  readonly outDir: string;
  readonly taskSource: TaskSource;
  /** Models the workers use; `sam` undefined means the embedded MobileSAM of each worker machine. */
  readonly models: ModelSettings;
  /** Attempts per job for failures that may pass (a worker killed or a write failed); default 3. */
  readonly attempts?: number;
  /** First retry delay in ms, doubling after each attempt (default 2000). */
  readonly backoffMs?: number;
}

export interface EnqueueResult {
  readonly total: number;
  /** New jobs; inputs already in the queue (same content and task) are not added again. */
  readonly added: number;
  readonly existing: number;
  readonly taskHash: string;
}

/** Error codes that may pass on another attempt; every other code fails the job at once. */
const TRANSIENT_CODES = new Set(['OUTPUT_WRITE_FAILED', 'WORKER_FAILED', INTERNAL_ERROR_CODE]);

/** BullMQ connection options from a redis:// URL. */
export function connectionFromUrl(url: string): ConnectionOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SalipError('INVALID_ARGUMENT', `--redis ${url}: expected a URL like redis://127.0.0.1:6379`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new SalipError('INVALID_ARGUMENT', `--redis ${url}: expected a redis:// or rediss:// URL`);
  }
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : undefined;
  return {
    host: parsed.hostname || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(db !== undefined && Number.isInteger(db) ? { db } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/** Enqueues one job per input; idempotent (see EnqueueResult). */
export async function enqueue(options: EnqueueOptions): Promise<EnqueueResult> {
  const outDir = resolve(options.outDir);
  const inputs = await expandInputs(options.inputs, outDir);
  if (inputs.length === 0) throw new SalipError('FILE_NOT_FOUND', `no image or volume inputs in ${options.inputs.join(', ')}`);
  checkDistinctOutputs(inputs, outDir);
  const task = await resolveTaskSource(options.taskSource);
  const taskHash = hashTask(task, { ...options.models, threads: undefined, workers: undefined, version: SALIP_VERSION });
  await sweepInterruptedWrites(outDir, inputs.map((i) => outputPathFor(i, outDir)));
  const queue = new Queue<SalipJobData>(options.queueName ?? DEFAULT_QUEUE_NAME, { connection: connectionFromUrl(options.redis) });
  try {
    let added = 0;
    for (const input of inputs) {
      // An input unreadable now still becomes a job, keyed by its path, so it lands in failed with its code.
      const inputHash = await hashFile(input.path).catch(() => `path:${createHash('sha256').update(input.path).digest('hex')}`);
      const job: InputJob = { input: input.path, kind: input.kind, output: outputPathFor(input, outDir), inputHash, taskHash };
      const jobId = jobKey(inputHash, taskHash);
      if (await queue.getJob(jobId)) continue;
      await queue.add(
        'segment',
        { job, outDir, taskSource: options.taskSource, models: options.models },
        { jobId, attempts: options.attempts ?? 3, backoff: { type: 'exponential', delay: options.backoffMs ?? 2000 }, removeOnComplete: false, removeOnFail: false },
      );
      added += 1;
    }
    return { total: inputs.length, added, existing: inputs.length - added, taskHash };
  } finally {
    await queue.close();
  }
}

export interface SalipWorkerOptions extends QueueConnectionOptions {
  /** Jobs this process runs at once, each slot with its own processor and ONNX Runtime sessions (default 1). */
  readonly concurrency?: number;
  /** ONNX Runtime intra-op threads per slot (default: the cores divided among the slots). */
  readonly threads?: number;
  /** Builds a slot's processor for a task (default: the cascade). The seam for another segmenter. */
  readonly createProcessor?: (init: ProcessorInit) => ProcessorHandle | Promise<ProcessorHandle>;
  /** How long a job's lock lasts without renewal; a killed worker's job is taken back after it (default 30000 ms). */
  readonly lockDuration?: number;
  /** How often workers look for stalled jobs (default 30000 ms). */
  readonly stalledInterval?: number;
  /** Called after a mask is renamed into place. */
  readonly onWrite?: (job: InputJob) => void;
  /** Called with every job's outcome on this worker (done, skipped or failed). */
  readonly onOutcome?: (outcome: JobOutcome) => void;
}

export interface SalipWorker {
  readonly slots: number;
  /** Finishes the jobs under way, then disconnects (what SIGTERM should call). */
  close(): Promise<void>;
}

/** Starts queue workers in this process; they run until close(). */
export async function createSalipWorker(options: SalipWorkerOptions): Promise<SalipWorker> {
  const slots = options.concurrency ?? 1;
  const threads = options.threads ?? Math.max(1, Math.floor(availableParallelism() / slots));
  const connection = connectionFromUrl(options.redis);
  const workers = Array.from({ length: slots }, () => {
    const processors = processorCache(options.createProcessor ?? createCascadeProcessor, threads);
    const worker = new Worker<SalipJobData, JobOutcome>(options.queueName ?? DEFAULT_QUEUE_NAME, (job) => processQueueJob(job, processors.get, options), {
      connection,
      concurrency: 1,
      lockDuration: options.lockDuration ?? 30_000,
      stalledInterval: options.stalledInterval ?? options.lockDuration ?? 30_000,
      maxStalledCount: 2,
    });
    // Errors of the connection are retried by BullMQ; without a listener Node would crash on them.
    worker.on('error', () => undefined);
    return { worker, processors };
  });
  await Promise.all(workers.map((w) => w.worker.waitUntilReady()));
  return {
    slots,
    async close() {
      await Promise.all(workers.map((w) => w.worker.close()));
      await Promise.all(workers.map((w) => w.processors.dispose()));
    },
  };
}

/** One queue job: exactly once through runJobOnce; failures rethrown so BullMQ retries or fails them. */
async function processQueueJob(job: Job<SalipJobData>, processorFor: (data: SalipJobData) => Promise<ProcessorHandle>, options: SalipWorkerOptions): Promise<JobOutcome> {
  let handle: ProcessorHandle;
  try {
    handle = await processorFor(job.data);
  } catch (error) {
    // A task or model that fails to load on this machine may load on another: retried.
    const { code, message } = describeFailure(error);
    throw new Error(`${code}: ${message}`);
  }
  const outcome = await runJobOnce(job.data.job, handle.process, { outDir: job.data.outDir, onWrite: options.onWrite });
  options.onOutcome?.(outcome);
  if (outcome.status !== 'failed') return outcome;
  const reason = `${outcome.code}: ${outcome.message}`;
  throw TRANSIENT_CODES.has(outcome.code ?? '') ? new Error(reason) : new UnrecoverableError(reason);
}

/** A slot's processor for the current task, rebuilt (and the old one disposed) when the task changes. */
function processorCache(create: NonNullable<SalipWorkerOptions['createProcessor']>, threads: number) {
  let current: { taskHash: string; handle: Promise<ProcessorHandle> } | undefined;
  return {
    get: async (data: SalipJobData): Promise<ProcessorHandle> => {
      if (current?.taskHash !== data.job.taskHash) {
        const old = current;
        const handle = Promise.resolve(create({ taskSource: data.taskSource, models: { ...data.models, threads } }));
        current = { taskHash: data.job.taskHash, handle };
        // A failed build is not cached: the next job tries again.
        handle.catch(() => {
          if (current?.handle === handle) current = undefined;
        });
        if (old) await (await old.handle.catch(() => undefined))?.dispose();
      }
      return current!.handle;
    },
    dispose: async () => {
      await (await current?.handle.catch(() => undefined))?.dispose();
      current = undefined;
    },
  };
}

export interface QueueFailure {
  readonly id: string;
  readonly input: string;
  readonly code: string;
  readonly message: string;
  readonly attempts: number;
}

export interface QueueStatus {
  readonly waiting: number;
  readonly active: number;
  readonly completed: number;
  readonly failed: number;
  readonly delayed: number;
  readonly failures: QueueFailure[];
}

/** Counts of the queue's jobs and its failed jobs with their codes (the first `limit`, default 1000). */
export async function queueStatus(options: QueueConnectionOptions & { limit?: number }): Promise<QueueStatus> {
  const queue = new Queue<SalipJobData>(options.queueName ?? DEFAULT_QUEUE_NAME, { connection: connectionFromUrl(options.redis) });
  try {
    const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'completed', 'failed', 'delayed', 'paused');
    const failed = await queue.getFailed(0, (options.limit ?? 1000) - 1);
    return {
      waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.paused ?? 0),
      active: counts.active ?? 0,
      completed: counts.completed ?? 0,
      failed: counts.failed ?? 0,
      delayed: counts.delayed ?? 0,
      failures: failed.map((j) => {
        const reason = j.failedReason ?? '';
        const m = /^([A-Z][A-Z_]*): ([\s\S]*)$/.exec(reason);
        return { id: String(j.id), input: (j.data as SalipJobData).job.input, code: m ? m[1] : INTERNAL_ERROR_CODE, message: m ? m[2] : reason, attempts: j.attemptsMade };
      }),
    };
  } finally {
    await queue.close();
  }
}
