/**
 * Test-time adaptation of the cascade's hyper-parameters, as the authors do: a seeded random
 * search over the segment-everything parameters and the area maximum (and, beyond the paper,
 * the exemplar-guided proposals, refinement passes, re-scored candidates and the location
 * prior), each trial the whole cascade (cascade.ts) on a few images.
 * Two objectives:
 * - labelled: mean Dice of the final mask against ground truth (the authors' objective);
 * - label-free: no ground truth. Per image, the mean of (a) the SAM stability score of the refined
 *   mask (a confident, well-delimited organ) and (b) the retrieval margin (chosen score minus the
 *   best unchosen score, squashed to 0..1 by margin / (margin + marginScale)): a parameter set that
 *   gives a clear winner which SAM segments stably scores high. Images where nothing survives the
 *   filters score 0 under both objectives.
 */
import { SalipError } from '../core/errors.js';
import { resizeImage } from '../core/image.js';
import { maskDice, resizeMaskNearest } from '../core/mask.js';
import { createRandom } from '../core/random.js';
import type { BinaryMask, RgbImage } from '../core/types.js';
import type { Salip } from './salip.js';
import { runCascade } from './cascade.js';
import { throwIfAborted, type StageControl } from './stages/options.js';
import { resolveTask, withTaskDefaults, type EverythingParams, type SalipTask } from './tasks.js';
import type { SamImageEmbedding } from './types.js';

/**
 * The values each searched parameter may take: the authors' grid for segment-everything and
 * the area maximum, and the settings that decide quality now: the exemplar-guided proposals,
 * refinement passes, box margin, mask threshold, re-scored candidates and their consensus vote,
 * and the exemplar scorer's location, shape, boundary and edge priors.
 */
export interface TuneSpace {
  pointsPerSide: number[];
  predIouThresh: number[];
  stabilityScoreThresh: number[];
  boxNmsThresh: number[];
  cropNmsThresh: number[];
  /** Area maximum as a fraction of the working image. */
  maxAreaFraction: number[];
  /** Exemplar-guided proposals on or off. */
  proposals: boolean[];
  /** Box passes per refined candidate. */
  refineIterations: number[];
  /** Retrieved candidates refined and re-scored per class (1 = the winners only). */
  refineCandidates: number[];
  /** The exemplar scorer's location prior weight. */
  locationWeight: number[];
  /** The exemplar scorer's shape prior weight. */
  shapeWeight: number[];
  /** Share of a candidate box's size it is widened by per side before refinement. */
  boxMargin: number[];
  /** The exemplar scorer's boundary (outline contrast) prior weight. */
  boundaryWeight: number[];
  /** The exemplar scorer's edge prior weight. */
  edgeWeight: number[];
  /** refine.consensus: the share of re-scored masks that must cover a pixel of a chosen part (0 = off). */
  consensus: number[];
  /** refine.fitEllipse: each chosen part replaced by the ellipse on its stronger-edged outline. */
  fitEllipse: boolean[];
  /** refine.peelSurroundings: what looks like the organ's surroundings peeled off each chosen part. */
  peelSurroundings: boolean[];
  /** refine.convexHull: each refined candidate replaced by its convex hull before the re-scoring. */
  convexHull: boolean[];
  /** refine.ellipseBoxes: rounds of refinement from each refined candidate's ellipse box. */
  ellipseBoxes: number[];
  /** The exemplar scorer's ellipse weight (with gate 0.1 when on: the fetal preset's pair). */
  ellipseWeight: number[];
  /** refine.maskThreshold: the logit cut of refined masks (below 0 grows them). */
  maskThreshold: number[];
  /** proposals.rings: box prompts around the image's brightest elliptical rings (with proposals on). */
  rings: boolean[];
}

export const DEFAULT_TUNE_SPACE: TuneSpace = {
  pointsPerSide: [4, 8, 16],
  predIouThresh: [0.2, 0.5, 0.8],
  stabilityScoreThresh: [0, 0.2, 0.5],
  boxNmsThresh: [0.7, 0.8, 0.9],
  cropNmsThresh: [0.7, 0.8, 0.9],
  maxAreaFraction: [20000 / 65536, 40000 / 65536, 50000 / 65536],
  proposals: [true, false],
  refineIterations: [1, 2, 3],
  refineCandidates: [1, 3, 5],
  locationWeight: [0, 20, 40],
  shapeWeight: [0, 20, 40],
  boxMargin: [0, 0.1, 0.2],
  boundaryWeight: [0, 10, 20],
  edgeWeight: [0, 20],
  consensus: [0, 0.5],
  fitEllipse: [false, true],
  peelSurroundings: [false, true],
  convexHull: [false, true],
  ellipseBoxes: [0, 2],
  ellipseWeight: [0, 800],
  maskThreshold: [0, -1, -1.5],
  rings: [false, true],
};

export interface TuneImage {
  readonly image: RgbImage;
  /** Required for the labelled objective, ignored by the label-free one. */
  readonly groundTruth?: BinaryMask;
}

export interface TuneOptions extends StageControl {
  task: SalipTask | string;
  objective: 'labelled' | 'label-free';
  /** Parameter sets to try (the authors: 5). */
  iterations?: number;
  /** Images drawn from the given ones per evaluation (the authors: 5); all when fewer. */
  sampleSize?: number;
  seed?: number;
  space?: Partial<TuneSpace>;
  /** Scale of the retrieval margin in the label-free objective (score units; default 5). */
  marginScale?: number;
}

/** One trial's settings: segment-everything's parameters, the area maximum and the cascade's settings. */
export type TuneParams = EverythingParams & {
  maxAreaFraction: number;
  proposals: boolean;
  refineIterations: number;
  refineCandidates: number;
  locationWeight: number;
  shapeWeight: number;
  boxMargin: number;
  boundaryWeight: number;
  edgeWeight: number;
  consensus: number;
  fitEllipse: boolean;
  peelSurroundings: boolean;
  convexHull: boolean;
  ellipseBoxes: number;
  ellipseWeight: number;
  maskThreshold: number;
  rings: boolean;
};

export interface TuneTrial {
  readonly params: TuneParams;
  /** The objective's value (mean over the sampled images). */
  readonly score: number;
  /** Both objectives where computable (labelled needs ground truth on every image). */
  readonly labelled?: number;
  readonly labelFree: number;
}

export interface TuneResult {
  readonly objective: 'labelled' | 'label-free';
  readonly best: TuneTrial;
  readonly trials: TuneTrial[];
  /** The task with the best parameters filled in, ready for segment(). */
  readonly task: SalipTask;
  /** Indices of the images used. */
  readonly sample: number[];
}

/** Random search over the cascade's parameters on a few images. */
export async function tune(salip: Salip, images: readonly TuneImage[], options: TuneOptions): Promise<TuneResult> {
  const base = resolveTask(options.task);
  if (images.length === 0) throw new SalipError('INVALID_ARGUMENT', 'tune: expected at least one image');
  if (options.objective !== 'labelled' && options.objective !== 'label-free') {
    throw new SalipError('INVALID_ARGUMENT', `tune: objective expected 'labelled' or 'label-free', got ${String(options.objective)}`);
  }
  const hasLabels = images.every((i) => i.groundTruth !== undefined);
  if (options.objective === 'labelled' && !hasLabels) {
    throw new SalipError('INVALID_ARGUMENT', 'tune: the labelled objective needs a groundTruth mask for every image (or use objective: label-free)');
  }
  const space: TuneSpace = { ...DEFAULT_TUNE_SPACE, ...options.space };
  for (const [key, values] of Object.entries(space)) {
    if (!Array.isArray(values) || values.length === 0) throw new SalipError('INVALID_ARGUMENT', `tune: space.${key} expected a non-empty array`);
  }
  const rng = createRandom(options.seed ?? 0);
  const iterations = options.iterations ?? 5;
  const sample = rng.sample([...images.keys()], Math.min(options.sampleSize ?? 5, images.length));
  const marginScale = options.marginScale ?? 5;
  const size = base.workingSize;
  // Working images and their embeddings are computed once and shared by every trial.
  const prepared: Array<{ image: RgbImage; groundTruth?: BinaryMask; embedding: SamImageEmbedding }> = [];
  for (const i of sample) {
    const { image, groundTruth } = images[i];
    const working = size ? resizeImage(image, size, size, 'bilinear') : image;
    const gt = groundTruth && size ? resizeMaskNearest(groundTruth, size, size) : groundTruth;
    prepared.push({ image: working, groundTruth: gt, embedding: await salip.sam.embed(working, { signal: options.signal }) });
  }
  const trials: TuneTrial[] = [];
  for (let it = 0; it < iterations; it++) {
    const params: TuneParams = {
      ...base.everything,
      pointsPerSide: rng.pick(space.pointsPerSide),
      predIouThresh: rng.pick(space.predIouThresh),
      stabilityScoreThresh: rng.pick(space.stabilityScoreThresh),
      boxNmsThresh: rng.pick(space.boxNmsThresh),
      cropNmsThresh: rng.pick(space.cropNmsThresh),
      maxAreaFraction: rng.pick(space.maxAreaFraction),
      proposals: rng.pick(space.proposals),
      refineIterations: rng.pick(space.refineIterations),
      refineCandidates: rng.pick(space.refineCandidates),
      locationWeight: rng.pick(space.locationWeight),
      shapeWeight: rng.pick(space.shapeWeight),
      boxMargin: rng.pick(space.boxMargin),
      boundaryWeight: rng.pick(space.boundaryWeight),
      edgeWeight: rng.pick(space.edgeWeight),
      consensus: rng.pick(space.consensus),
      fitEllipse: rng.pick(space.fitEllipse),
      peelSurroundings: rng.pick(space.peelSurroundings),
      convexHull: rng.pick(space.convexHull),
      ellipseBoxes: rng.pick(space.ellipseBoxes),
      ellipseWeight: rng.pick(space.ellipseWeight),
      maskThreshold: rng.pick(space.maskThreshold),
      rings: rng.pick(space.rings),
    };
    const task = taskWith(base, params);
    const scorer = salip.scorerFor(task);
    const dices: number[] = [];
    const free: number[] = [];
    for (const item of prepared) {
      throwIfAborted(options.signal, 'tune');
      let run;
      try {
        run = await runCascade({ sam: salip.sam, scorer, candidateMaker: salip.candidateMaker, promptsPerRun: salip.promptsPerRun }, item.image, task, {
          embedding: item.embedding,
          signal: options.signal,
        });
      } catch (err) {
        if (err instanceof SalipError && err.code === 'EMPTY_CANDIDATE_POOL') {
          dices.push(0);
          free.push(0);
          continue;
        }
        throw err;
      }
      const first = base.classes[0].name;
      if (item.groundTruth) dices.push(maskDice(run.classes[first].mask, item.groundTruth));
      const perClass = base.classes.map((c) => {
        const parts = run.classes[c.name].chosen;
        const stability = parts.length ? parts.reduce((sum, p) => sum + p.part.stabilityScore, 0) / parts.length : 0;
        const margins = run.retrieval.chosen[c.name].map((r) => (Number.isFinite(r.margin) ? Math.max(0, r.margin) : marginScale));
        const margin = margins.length ? margins.reduce((a, b) => a + b, 0) / margins.length : 0;
        return 0.5 * stability + 0.5 * (margin / (margin + marginScale));
      });
      free.push(perClass.reduce((a, b) => a + b, 0) / perClass.length);
    }
    const labelled = hasLabels ? mean(dices) : undefined;
    const labelFree = mean(free);
    trials.push({ params, score: options.objective === 'labelled' ? labelled! : labelFree, labelled, labelFree });
    options.onProgress?.({ stage: 'tune', done: it + 1, total: iterations });
  }
  let best = trials[0];
  for (const t of trials) if (t.score > best.score) best = t;
  return { objective: options.objective, best, trials, sample, task: taskWith(base, best.params) };
}

/** The task with a trial's settings in place (classes, prompts and exemplars kept). */
export function taskWith(base: SalipTask, params: TuneParams): SalipTask {
  const { maxAreaFraction, proposals, refineIterations, refineCandidates, locationWeight, shapeWeight, boxMargin, boundaryWeight, edgeWeight, consensus, fitEllipse, peelSurroundings, convexHull, ellipseBoxes, ellipseWeight, maskThreshold, rings, ...everything } = params;
  return withTaskDefaults({
    ...base,
    maxArea: undefined,
    maxAreaFraction,
    everything,
    proposals: proposals ? { ...(base.proposals || {}), rings } : false,
    refine: { ...base.refine, iterations: refineIterations, candidates: refineCandidates, boxMargin, consensus, fitEllipse, peelSurroundings, convexHull, ellipseBoxes, maskThreshold },
    exemplarScoring: { ...base.exemplarScoring, locationWeight, shapeWeight, boundaryWeight, edgeWeight, ellipseWeight, ellipseGate: ellipseWeight > 0 ? 0.1 : 0 },
  });
}

function mean(values: number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
}
