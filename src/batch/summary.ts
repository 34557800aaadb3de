/**
 * What a batch run reports (runBatch returns it and writes it as salip-summary.json; the HTML
 * report renders it). In a module of its own so that report.ts need not import run-batch.ts,
 * which imports the report; run-batch.ts re-exports it.
 */
import type { JobOutcome } from './job.js';

export interface BatchSummary {
  readonly task: string;
  readonly taskHash: string;
  readonly version: string;
  readonly workers: number;
  readonly threads: number | undefined;
  readonly counts: { total: number; done: number; skipped: number; failed: number };
  /** Wall time of this run in ms, and inputs segmented (not skipped) per minute. */
  readonly elapsedMs: number;
  readonly imagesPerMinute: number;
  readonly peakRssMbPerWorker: number[];
  readonly inputs: JobOutcome[];
}
