/**
 * Stages 2 and 3 of SaLIP: drop candidates that cannot be the organ (area at or above the
 * maximum, zero-area boxes), score the rest against every class with a scorer (CLIP text or
 * exemplars), and pick the top-k per class. The full score table is returned, not only winners.
 */
import { SalipError } from '../../core/errors.js';
import { topK } from '../../core/similarity.js';
import type { RgbImage } from '../../core/types.js';
import type { ClassSpec, ScoreTable, Scorer } from '../scorers.js';
import type { MaskRecord, SamImageEmbedding } from '../types.js';
import { throwIfAborted, type StageControl } from './options.js';

export interface AreaFilterOptions {
  /** Drop candidates whose area is at or above this many pixels (the organ is never the whole image). */
  maxArea?: number;
  /** The same as a fraction of the image area (used when maxArea is not given). */
  maxAreaFraction?: number;
}

export type RemovalReason = 'area' | 'zero-area-box';

export interface FilteredPool {
  /** Candidates that stay, in pool order. */
  readonly kept: MaskRecord[];
  /** Index into the input pool of each kept candidate. */
  readonly keptIndex: number[];
  /** Removed candidates with the reason (index into the input pool). */
  readonly removed: Array<{ index: number; reason: RemovalReason }>;
}

/** Applies the area maximum and removes zero-area boxes (which no visual prompt can show). */
export function filterCandidates(pool: readonly MaskRecord[], imageArea: number, options: AreaFilterOptions = {}): FilteredPool {
  const maxArea = resolveMaxArea(imageArea, options);
  const kept: MaskRecord[] = [];
  const keptIndex: number[] = [];
  const removed: FilteredPool['removed'] = [];
  pool.forEach((record, index) => {
    if (record.bbox[2] <= 0 || record.bbox[3] <= 0) removed.push({ index, reason: 'zero-area-box' });
    else if (record.area >= maxArea) removed.push({ index, reason: 'area' });
    else {
      kept.push(record);
      keptIndex.push(index);
    }
  });
  return { kept, keptIndex, removed };
}

/** The area maximum in pixels (Infinity when none is set). */
export function resolveMaxArea(imageArea: number, options: AreaFilterOptions): number {
  if (options.maxArea !== undefined) {
    if (!(options.maxArea > 0)) throw new SalipError('INVALID_ARGUMENT', `maxArea: expected a number > 0, got ${options.maxArea}`);
    return options.maxArea;
  }
  if (options.maxAreaFraction !== undefined) {
    const f = options.maxAreaFraction;
    if (!(f > 0 && f <= 1)) throw new SalipError('INVALID_ARGUMENT', `maxAreaFraction: expected a number in (0, 1], got ${f}`);
    return f * imageArea;
  }
  return Infinity;
}

export interface RetrievedCandidate {
  /** Index into the retrieval pool (RetrievalResult.pool). */
  readonly index: number;
  readonly record: MaskRecord;
  /** The scorer's score for this class. */
  readonly score: number;
  /** 0 for the best candidate of the class. */
  readonly rank: number;
  /** Score minus the best score of a candidate not chosen (the retrieval margin; NaN if none). */
  readonly margin: number;
}

export interface RetrievalResult {
  /** Candidates that were scored (after filtering). */
  readonly pool: MaskRecord[];
  /** Index into the stage-1 pool of each scored candidate. */
  readonly poolIndex: number[];
  readonly removed: FilteredPool['removed'];
  readonly table: ScoreTable;
  /** Top-k per class, best first. */
  readonly chosen: Record<string, RetrievedCandidate[]>;
}

export interface RetrieveOptions extends AreaFilterOptions, StageControl {
  /** SAM embedding of the image (the exemplar scorer pools candidates from it). */
  embedding?: SamImageEmbedding;
}

/** Filters the pool, scores it with `scorer` and picks top-k (ClassSpec.topK, default 1) per class. */
export async function retrieve(
  scorer: Scorer,
  image: RgbImage,
  pool: readonly MaskRecord[],
  classes: readonly ClassSpec[],
  options: RetrieveOptions = {},
): Promise<RetrievalResult> {
  if (classes.length === 0) throw new SalipError('INVALID_TASK', 'classes: expected at least one class to retrieve, got none');
  const filtered = filterCandidates(pool, image.width * image.height, options);
  if (filtered.kept.length === 0) {
    const byArea = filtered.removed.filter((r) => r.reason === 'area').length;
    throw new SalipError(
      'EMPTY_CANDIDATE_POOL',
      `retrieval: no candidate left to score (stage 1 gave ${pool.length}; ${byArea} at or above the area maximum, ${filtered.removed.length - byArea} with a zero-area box). Lower the segment-everything thresholds or raise the area maximum`,
      { details: { poolSize: pool.length, removedByArea: byArea } },
    );
  }
  throwIfAborted(options.signal, 'retrieval');
  options.onProgress?.({ stage: 'retrieve', done: 0, total: filtered.kept.length });
  const table = await scorer.score({
    image,
    candidates: filtered.kept,
    classes: [...classes],
    embedding: options.embedding,
    signal: options.signal,
  });
  options.onProgress?.({ stage: 'retrieve', done: filtered.kept.length, total: filtered.kept.length });
  const n = filtered.kept.length;
  const chosen: Record<string, RetrievedCandidate[]> = {};
  classes.forEach((cls, c) => {
    const k = cls.topK ?? 1;
    if (!Number.isInteger(k) || k < 1) throw new SalipError('INVALID_TASK', `class '${cls.name}': topK expected an integer >= 1, got ${k}`);
    const scores = table.scores.subarray(c * n, (c + 1) * n);
    const order = topK(scores, n);
    const runnerUp = order.length > k ? scores[order[k]] : NaN;
    chosen[cls.name] = order.slice(0, k).map((index, rank) => ({
      index,
      record: filtered.kept[index],
      score: scores[index],
      rank,
      margin: scores[index] - runnerUp,
    }));
  });
  return { pool: filtered.kept, poolIndex: filtered.keptIndex, removed: filtered.removed, table, chosen };
}
