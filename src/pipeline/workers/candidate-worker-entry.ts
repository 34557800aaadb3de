/**
 * Entry of the candidate worker's script: bundled (with the core code it imports) into one
 * self-contained string by scripts/gen-worker-script.ts, started by Backend.startWorker.
 * Each message is a CandidateJob; the reply is its outcomes. Nothing is transferred back: the
 * RLE counts are small.
 */
import { createCandidateJobRunner, type CandidateJob } from '../../core/everything/candidates.js';

const run = createCandidateJobRunner();
(globalThis as { __salipWorker?: unknown }).__salipWorker = {
  handle: (message: CandidateJob) => ({ reply: run(message) }),
};
