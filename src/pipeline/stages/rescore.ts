/**
 * Refinement that can replace a bad first pick: the best `candidates` retrieved candidates of a
 * class are refined (refine.ts), the refined masks are scored again by the same scorer, and the
 * class's topK are chosen among the refined masks. A raw candidate that is a sliver of the organ
 * often refines into the whole organ, and one that leaked into its neighbours refines into a
 * blob the exemplars do not look like; scoring after refinement sees that, scoring before it
 * cannot.
 */
import { boxIoU, boxXywhToXyxy, boxXyxyToXywh, createMask, encodeRle, maskArea, maskIntersectionArea, maskIoU, maskToBox, maskUnion, resizeMaskNearest, voteMasks } from '../../core/mask.js';
import { normalizeBox, type ExemplarPrior } from '../../core/exemplar-prior.js';
import { topK } from '../../core/similarity.js';
import type { BinaryMask, RgbImage } from '../../core/types.js';
import { edgeMapOfImage } from '../exemplar-cues.js';
import type { ClassSpec, Scorer } from '../scorers.js';
import type { MaskRecord, SamImageEmbedding, SamModel } from '../types.js';
import { numberOption } from './options.js';
import { classPrior } from './proposals.js';
import type { PromptedMask } from './prompted.js';
import { boxAlternatives, ellipseBoxRefinements, finishPart, partAtSize, partFinishing, refineBox, resolveRefineSettings, retrievedPart, type RefineOptions, type RefinedPart } from './refine.js';
import type { RetrievalResult, RetrievedCandidate } from './retrieve.js';

export interface RescoreOptions extends RefineOptions {
  /** The SAM embedding of the image (required: candidates are refined and pooled on it). */
  embedding: SamImageEmbedding;
  /**
   * Retrieved candidates refined per class (default: the class's topK, which refines the
   * winners only, as the paper does). More than topK lets the scorer choose after refinement.
   */
  candidates?: number;
}

/** A refined candidate as the scorer sees it, and how it scored. */
export interface RescoredPart {
  /** The retrieved candidate it was refined from. */
  readonly source: RetrievedCandidate;
  /** The scorer's score of the refined mask (NaN when only topK were refined and nothing was re-scored). */
  readonly refinedScore: number;
  readonly part: PromptedMask;
}

export interface RescoredClass {
  /** Union of the chosen parts at the output size. */
  readonly mask: BinaryMask;
  /** The chosen parts (topK), best first. */
  readonly chosen: RescoredPart[];
  /** Every refined candidate with its score, in retrieval order. */
  readonly considered: Array<{ source: RetrievedCandidate; refinedScore: number; area: number }>;
  /** Decoder calls spent on refinement. */
  readonly decoderCalls: number;
}

/** The retrieval order of a class: best first, skipping candidates whose box repeats one already taken. */
export function distinctCandidates(retrieval: RetrievalResult, classIndex: number, count: number, boxIouLimit = 0.9): RetrievedCandidate[] {
  const n = retrieval.pool.length;
  const scores = retrieval.table.scores.subarray(classIndex * n, (classIndex + 1) * n);
  const order = topK(scores, n);
  const taken: RetrievedCandidate[] = [];
  for (const index of order) {
    if (taken.length >= count) break;
    const record = retrieval.pool[index];
    const box = boxXywhToXyxy(record.bbox);
    if (taken.some((t) => boxIoU(boxXywhToXyxy(t.record.bbox), box) > boxIouLimit)) continue;
    taken.push({ index, record, score: scores[index], rank: taken.length, margin: NaN });
  }
  return taken;
}

/**
 * For a class of several parts (two lungs, two clavicles): the retrieval order dealt out over the
 * exemplars' part boxes, best of each part in turn, so the refined candidates cover every part.
 * Without this the best five candidates of a chest X-ray are often all the same lung, and the
 * other lung never reaches the re-scoring. A candidate belongs to the part whose prior box it
 * overlaps most (normalised IoU); candidates that overlap none come after the dealt ones.
 */
export function candidatesPerPart(
  retrieval: RetrievalResult,
  classIndex: number,
  count: number,
  prior: ExemplarPrior,
  width: number,
  height: number,
): RetrievedCandidate[] {
  const ranked = distinctCandidates(retrieval, classIndex, retrieval.pool.length);
  const queues: RetrievedCandidate[][] = prior.parts.map(() => []);
  const unplaced: RetrievedCandidate[] = [];
  for (const candidate of ranked) {
    const box = normalizeBox(boxXywhToXyxy(candidate.record.bbox), width, height);
    let best = -1;
    let bestIou = 0;
    prior.parts.forEach((part, p) => {
      const iou = boxIoU(part, box);
      if (iou > bestIou) [best, bestIou] = [p, iou];
    });
    (best >= 0 ? queues[best] : unplaced).push(candidate);
  }
  const dealt: RetrievedCandidate[] = [];
  for (let round = 0; dealt.length < count && queues.some((q) => q.length > round); round++) {
    for (const queue of queues) if (round < queue.length && dealt.length < count) dealt.push(queue[round]);
  }
  for (const candidate of unplaced) if (dealt.length < count) dealt.push(candidate);
  return dealt.map((c, rank) => ({ ...c, rank }));
}

function refinedRecord(part: RefinedPart, area: number, source: MaskRecord): MaskRecord {
  const mask = part.working;
  const box = maskToBox(mask);
  return {
    segmentation: encodeRle(mask),
    area,
    bbox: boxXyxyToXywh(box),
    predictedIou: part.predictedIou,
    pointCoords: source.pointCoords,
    stabilityScore: part.stabilityScore,
    cropBox: source.cropBox,
    maskIndex: 0,
    proposer: 'refined',
  };
}

/**
 * Whether two refined masks show the same part: more than half of the smaller one lies inside
 * the other. Mask IoU misses a mask that holds a chosen lung and as much again beside it (IoU
 * 0.5 or less), which then took the second lung's place; votedPart() turned it back into the
 * first lung, so the class had one lung twice.
 */
function sharesPart(a: BinaryMask, areaA: number, b: BinaryMask, areaB: number): boolean {
  const smaller = Math.min(areaA, areaB);
  return smaller > 0 && maskIntersectionArea(a, b) > 0.5 * smaller;
}

/** Masks that vote on a chosen part: mask IoU with it at least this. */
const VOTER_MIN_IOU = 0.3;
/** Fewer voters than this and the chosen part stays as it is. */
const MIN_VOTERS = 3;

/** The chosen part `i` replaced by the pixel vote of the considered masks that overlap it (refine.consensus). */
function votedPart(i: number, refined: readonly RefinedPart[], areas: readonly number[], fraction: number, atSize: (i: number) => PromptedMask): PromptedMask {
  const chosen = atSize(i);
  const voters = refined.flatMap((p, j) => (areas[j] > 0 && (j === i || maskIoU(p.working, refined[i].working) >= VOTER_MIN_IOU) ? [j] : []));
  if (voters.length < MIN_VOTERS) return chosen;
  const mask = voteMasks(voters.map((j) => (j === i ? chosen.mask : atSize(j).mask)), fraction);
  return maskArea(mask) > 0 ? { ...chosen, mask } : chosen;
}

/** Refines, re-scores and chooses each class's parts. */
export async function refineAndRescore(
  sam: SamModel,
  scorer: Scorer,
  image: RgbImage,
  retrieval: RetrievalResult,
  classes: readonly ClassSpec[],
  options: RescoreOptions,
): Promise<Record<string, RescoredClass>> {
  const settings = resolveRefineSettings(options);
  const { embedding } = options;
  const outWidth = options.outputWidth ?? image.width;
  const outHeight = options.outputHeight ?? image.height;
  const out: Record<string, RescoredClass> = {};
  for (const [c, cls] of classes.entries()) {
    const k = cls.topK ?? 1;
    const finishing = partFinishing(image, settings, cls.exemplars);
    const count = Math.max(k, numberOption(options.candidates, k, 'refine candidates', { integer: true, min: 1, max: 32 }));
    // The parts' boxes, when the exemplars show that many parts.
    const classParts = count > k && k > 1 ? classPrior(cls) : undefined;
    const prior = classParts && classParts.partSources > 0 ? classParts : undefined;
    const t = embedding.transform;
    const distinct = prior ? candidatesPerPart(retrieval, c, count, prior, t.imageWidth, t.imageHeight) : distinctCandidates(retrieval, c, count);
    // refined[i] came from sources[i]; multi-mask alternatives repeat their source.
    const sources: RetrievedCandidate[] = [];
    const refined: RefinedPart[] = [];
    for (const [i, source] of distinct.entries()) {
      const box = boxXywhToXyxy(source.record.bbox);
      refined.push(await refineBox(sam, embedding, box, settings, options.signal));
      sources.push(source);
      if (settings.multimaskAlternatives && count > k) {
        for (const alt of await boxAlternatives(sam, embedding, box, settings)) {
          refined.push(alt);
          sources.push(source);
        }
      }
      options.onProgress?.({ stage: 'refine', done: i + 1, total: distinct.length, message: cls.name });
    }
    // Ellipse boxes of every refined mask (SAM's own, not those of the retrieved candidates kept below).
    if (settings.ellipseBoxes > 0 && count > k) {
      const edges = edgeMapOfImage(image);
      const decoded = new Map<string, RefinedPart>();
      // The rounds append to `refined`: only SAM's masks of the candidates themselves start one.
      const fromCandidates = [...refined.entries()];
      for (const [i, part] of fromCandidates) {
        for (const next of await ellipseBoxRefinements(sam, embedding, part, edges, settings, decoded, options.signal)) {
          refined.push(next);
          sources.push(sources[i]);
        }
        options.onProgress?.({ stage: 'ellipse-boxes', done: i + 1, total: fromCandidates.length, message: cls.name });
      }
    }
    // The retrieved candidates themselves, when kept, after every refinement (ties go to SAM's).
    if (settings.keepRetrieved && count > k) {
      for (const source of distinct) {
        refined.push(retrievedPart(source.record, settings));
        sources.push(source);
      }
    }
    const areas = refined.map((p) => maskArea(p.working));
    let refinedScores = new Array<number>(refined.length).fill(NaN);
    let order = refined.map((_, i) => i);
    if (refined.length > k) {
      const records = refined.map((p, i) => refinedRecord(p, areas[i], sources[i].record));
      const table = await scorer.score({ image, candidates: records, classes: [cls], embedding, signal: options.signal });
      refinedScores = Array.from(table.scores);
      // Empty refinements rank last; near-copies of a chosen part are skipped (two candidates of
      // one lung often refine into the same lung).
      order = topK(Float32Array.from(refinedScores, (s, i) => (areas[i] > 0 ? s : NaN)), refined.length);
    }
    const chosen: number[] = [];
    for (const i of order) {
      if (chosen.length >= k) break;
      if (refined.length > k && chosen.some((j) => sharesPart(refined[i].working, areas[i], refined[j].working, areas[j]))) continue;
      chosen.push(i);
    }
    // Fewer than topK distinct parts (a mask spanning both lungs overlaps each lung by about
    // half): the class still gets topK parts, the best of the rest, as the paper's top-k does.
    for (const i of order) {
      if (chosen.length >= k) break;
      if (!chosen.includes(i) && areas[i] > 0) chosen.push(i);
    }
    const atSize = (i: number) => partAtSize(refined[i], embedding, outWidth, outHeight, settings);
    const voted = settings.consensus > 0 && refined.length > k;
    const parts = chosen.map((i) => {
      let part = voted ? votedPart(i, refined, areas, settings.consensus, atSize) : atSize(i);
      if (finishing.edges || finishing.peel) {
        // Peel and ellipse work at the working size, where the maps are; a voted part is brought back there.
        const working = voted ? resizeMaskNearest(part.mask, refined[i].working.width, refined[i].working.height) : refined[i].working;
        part = finishPart(part, working, finishing, settings);
      }
      return { source: sources[i], refinedScore: refinedScores[i], part };
    });
    out[cls.name] = {
      mask: parts.length > 0 ? maskUnion(parts.map((p) => p.part.mask)) : createMask(outWidth, outHeight),
      chosen: parts,
      considered: refined.map((_, i) => ({ source: sources[i], refinedScore: refinedScores[i], area: areas[i] })),
      decoderCalls: refined.reduce((n, p) => n + p.passes, 0),
    };
  }
  return out;
}
