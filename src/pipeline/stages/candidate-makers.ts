/**
 * Where segment-everything judges each decoder call's masks (upscale, threshold, stability,
 * crop-edge filter, RLE): on the calling thread, or in a worker beside the model calls. Both run
 * the same core code (createCandidateJobRunner), so the candidates are identical.
 */
import { SalipError } from '../../core/errors.js';
import { createCandidateJobRunner, type CandidateJob, type CandidateOutcome } from '../../core/everything/candidates.js';
import type { Backend, ScriptWorker } from '../../backends/types.js';
import { CANDIDATE_WORKER_SCRIPT } from '../workers/candidate-worker-script.generated.js';

export interface CandidateMaker {
  /**
   * True when judging runs beside the model calls. segment-everything's exact mode then decodes
   * the next grid point while earlier masks are judged; fast mode, which needs a point's
   * candidates before it decides on the next unguided point, decodes guided points ahead
   * meanwhile (collectFast).
   */
  readonly concurrent: boolean;
  /** Judges every mask of a job, in order. The job's logits may be transferred (detached). */
  judge(job: CandidateJob): Promise<CandidateOutcome[]>;
  /** Stops a worker, if one was started; later jobs run on the calling thread. */
  dispose(): Promise<void>;
}

/** Spare logit buffers kept per size: enough for the calls exact mode keeps in flight. */
const MAX_SPARE_BUFFERS = 64;

/** Judges on the calling thread. */
export function threadCandidateMaker(): CandidateMaker {
  const run = createCandidateJobRunner();
  return {
    concurrent: false,
    judge: async (job) => run(job),
    dispose: async () => {},
  };
}

/**
 * Judges in a worker started through `backend.startWorker` (lazily, at the first job). Without
 * startWorker, or when the worker cannot be started or fails (a page whose content security
 * policy forbids blob: workers, say), jobs run on the calling thread, `concurrent` turns false
 * and `fallbackReason` says why.
 */
export function workerCandidateMaker(backend: Pick<Backend, 'startWorker'>): CandidateMaker & { readonly fallbackReason?: string } {
  const local = threadCandidateMaker();
  /** Logit buffers back from the worker, by length, for the next jobs' copies. */
  const spares = new Map<number, ArrayBuffer[]>();
  let worker: ScriptWorker | undefined;
  let fallbackReason: string | undefined = backend.startWorker ? undefined : 'the backend cannot start workers';
  const start = (): ScriptWorker | undefined => {
    if (worker || fallbackReason) return worker;
    try {
      worker = backend.startWorker!(CANDIDATE_WORKER_SCRIPT);
    } catch (error) {
      fallbackReason = `the worker could not be started: ${error instanceof Error ? error.message : String(error)}`;
    }
    return worker;
  };
  return {
    get concurrent() {
      return fallbackReason === undefined;
    },
    get fallbackReason() {
      return fallbackReason;
    },
    async judge(job) {
      const thread = start();
      if (!thread) return local.judge(job);
      // Copies, so that the decoder's output buffer is not detached under its other masks (and
      // the job can still be judged here if the worker fails), into buffers the worker returns.
      const logits = job.logits.map((l) => {
        const spare = spares.get(l.length)?.pop();
        const copy = spare ? new Float32Array(spare) : new Float32Array(l.length);
        copy.set(l);
        return copy;
      });
      let reply: unknown;
      try {
        reply = await thread.request({ ...job, logits }, logits.map((l) => l.buffer as ArrayBuffer));
      } catch (error) {
        // The same code runs here with the same result, so a broken worker (a page whose policy
        // blocks blob: workers fails only at load) costs speed, not the segmentation.
        if (worker === thread) {
          fallbackReason ??= `the worker failed: ${error instanceof Error ? error.message : String(error)}`;
          worker = undefined;
          void thread.terminate().catch(() => {});
        }
        return local.judge(job);
      }
      const { outcomes, buffers } = (reply ?? {}) as { outcomes?: unknown; buffers?: unknown };
      if (!Array.isArray(outcomes) || outcomes.length !== logits.length) {
        throw new SalipError('WORKER_FAILED', `candidate worker: expected ${logits.length} outcomes, got ${JSON.stringify(reply)?.slice(0, 80)}`);
      }
      if (Array.isArray(buffers)) {
        for (const buffer of buffers) {
          if (!(buffer instanceof ArrayBuffer)) continue;
          const length = buffer.byteLength / 4;
          const list = spares.get(length) ?? [];
          if (list.length < MAX_SPARE_BUFFERS) list.push(buffer);
          spares.set(length, list);
        }
      }
      return outcomes as CandidateOutcome[];
    },
    async dispose() {
      const thread = worker;
      worker = undefined;
      spares.clear();
      fallbackReason ??= 'disposed';
      await thread?.terminate();
    },
  };
}
