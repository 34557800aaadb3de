/**
 * Entry of the candidate worker's script: bundled (with the core code it imports) into one
 * self-contained string by scripts/gen-worker-script.ts, started by Backend.startWorker.
 * Each message is a CandidateJob; the reply is its outcomes and the job's logit buffers
 * (transferred back for reuse).
 */
import { createCandidateJobRunner, type CandidateJob } from '../../core/everything/candidates.js';

const run = createCandidateJobRunner();
(globalThis as { __salipWorker?: unknown }).__salipWorker = {
  // The logits' buffers go back with the outcomes, for the next jobs' copies to reuse instead of
  // allocating fresh ones (workerCandidateMaker keeps a bounded pool of them).
  handle: (message: CandidateJob) => {
    const buffers = message.logits.map((l) => l.buffer);
    return { reply: { outcomes: run(message), buffers }, transfer: buffers };
  },
};
