/**
 * The cascade on one image whose SAM embedding is known: segment everything, add the
 * exemplar-guided proposals, retrieve, refine (and re-score). createSalip's segment() and
 * evaluate() both run it, so what eval measures is what segment returns.
 */
import type { RgbImage } from '../core/types.js';
import type { Scorer } from './scorers.js';
import type { CandidateMaker } from './stages/candidate-makers.js';
import { proposeCandidates } from './stages/proposals.js';
import { refineAndRescore, type RescoredClass } from './stages/rescore.js';
import { retrieve, type RetrievalResult } from './stages/retrieve.js';
import { segmentEverything, type ResolvedSegmentEverythingOptions, type SegmentEverythingResult, type SegmentEverythingStats } from './stages/segment-everything.js';
import type { StageControl } from './stages/options.js';
import { everythingRunOptions, guidedFastOptions, taskProposals, taskRefinement, type SalipTask } from './tasks.js';
import type { MaskRecord, SamImageEmbedding, SamModel } from './types.js';

/** What a cascade run needs besides the image: the models and where masks are judged. */
export interface CascadeModels {
  readonly sam: SamModel;
  readonly scorer: Scorer;
  readonly candidateMaker?: CandidateMaker;
  readonly promptsPerRun?: number;
}

export interface CascadeOptions extends StageControl {
  /** The SAM embedding of the working image. */
  embedding: SamImageEmbedding;
  /** Size of the returned masks (default the working image's). */
  outputWidth?: number;
  outputHeight?: number;
  /**
   * Segment-everything's result for this image and the task's parameters, when already at hand
   * (e.g. several tasks or exemplar sets on one image): stage 1 is then not run again.
   */
  everything?: Pick<SegmentEverythingResult, 'records' | 'options' | 'stats'>;
}

export interface CascadeRun {
  /** Segment-everything's records, then the proposals' (each with its proposer). */
  readonly pool: MaskRecord[];
  readonly retrieval: RetrievalResult;
  readonly classes: Record<string, RescoredClass>;
  readonly everything: { options: ResolvedSegmentEverythingOptions; stats: SegmentEverythingStats };
  /** Decoder runs per stage. */
  readonly decoderCalls: { everything: number; proposals: number; refine: number };
  /** Milliseconds per stage. */
  readonly timings: { segmentEverything: number; proposals: number; retrieve: number; refine: number };
}

/** Runs stages 1-4 on a working image (the task already resolved, its defaults filled). */
export async function runCascade(models: CascadeModels, working: RgbImage, task: SalipTask, options: CascadeOptions): Promise<CascadeRun> {
  const { sam, scorer } = models;
  const { embedding, signal, onProgress } = options;
  const t0 = now();
  const everything =
    options.everything ??
    (await segmentEverything(sam, working, {
      ...everythingRunOptions(task.everything, models),
      fast: guidedFastOptions(task, scorer, embedding, signal),
      embedding,
      onProgress,
      signal,
    }));
  const t1 = now();
  const proposals = taskProposals(task);
  const proposed = proposals ? await proposeCandidates(sam, task.classes, { ...proposals, embedding, scorer, image: working, existing: everything.records, signal, onProgress }) : { records: [], decoderCalls: 0 };
  const pool = [...everything.records.map((r) => (r.proposer ? r : { ...r, proposer: 'grid' })), ...proposed.records];
  const t2 = now();
  const retrieval = await retrieve(scorer, working, pool, task.classes, {
    maxArea: task.maxArea,
    maxAreaFraction: task.maxAreaFraction,
    embedding,
    onProgress,
    signal,
  });
  const t3 = now();
  const refinement = taskRefinement(task);
  const classes = await refineAndRescore(sam, scorer, working, retrieval, task.classes, {
    ...refinement,
    embedding,
    outputWidth: options.outputWidth,
    outputHeight: options.outputHeight,
    onProgress,
    signal,
  });
  const t4 = now();
  return {
    pool,
    retrieval,
    classes,
    everything: { options: everything.options, stats: everything.stats },
    decoderCalls: {
      everything: options.everything ? 0 : everything.stats.decoderCalls,
      proposals: proposed.decoderCalls,
      refine: Object.values(classes).reduce((n, c) => n + c.decoderCalls, 0),
    },
    timings: { segmentEverything: t1 - t0, proposals: t2 - t1, retrieve: t3 - t2, refine: t4 - t3 },
  };
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}
