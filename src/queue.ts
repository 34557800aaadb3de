/**
 * salip/queue: batch segmentation on a BullMQ job queue over Redis, across processes and
 * machines (docs/scale.md). Needs the optional peer dependency bullmq (`npm i bullmq`); salip
 * and salip/web never load it.
 */
export { connectionFromUrl, createSalipWorker, enqueue, queueStatus, DEFAULT_QUEUE_NAME } from './batch/queue.js';
export type { EnqueueOptions, EnqueueResult, QueueConnectionOptions, QueueFailure, QueueStatus, SalipJobData, SalipWorker, SalipWorkerOptions } from './batch/queue.js';
export { cascadeProcessor, createCascadeProcessor, createSalipFromSettings } from './batch/cascade-processor.js';
export type { ModelSettings, ProcessorHandle, ProcessorInit } from './batch/cascade-processor.js';
export type { InputJob, InputProcessor, JobOutcome, ProcessedInput } from './batch/job.js';
export type { BatchInput, InputKind } from './batch/inputs.js';
export type { ExemplarFiles, TaskSource } from './batch/task-source.js';
