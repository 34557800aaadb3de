/**
 * The per-mask work of segment-everything after the decoder's predicted-IoU filter: upscale
 * and threshold the low-res logits, score stability, drop masks cut by a crop edge, encode the
 * rest as RLE. Pure and self-contained, so it can run on the thread that runs the model or in a
 * worker (src/pipeline/candidate-worker.ts) with identical results.
 */
import { encodeRleInBox } from '../mask.js';
import type { BoxXYXY, CocoRle } from '../types.js';
import { isBoxNearCropEdge } from './crops.js';
import { createThresholdUpscaler } from './threshold-upscale.js';
import type { LogitUpscalerGeometry } from './upscale.js';

/** The filters a candidate must pass, and the crop it belongs to. */
export interface CandidateFilter {
  /** Logit threshold for foreground. */
  readonly maskThreshold: number;
  /** Logit offset of the stability score. */
  readonly stabilityScoreOffset: number;
  /** Keep masks whose stability score is at least this. */
  readonly stabilityScoreThresh: number;
  /** The crop (image frame, XYXY) and the whole image, for the crop-edge filter. */
  readonly cropBox: BoxXYXY;
  readonly imageBox: BoxXYXY;
}

/** A mask that passed every filter: RLE in the crop frame, area, inclusive box, stability. */
export interface KeptCandidate {
  readonly kept: true;
  readonly rle: CocoRle;
  readonly area: number;
  readonly box: BoxXYXY;
  readonly stability: number;
}

/** What became of one mask: kept, or the filter that dropped it. */
export type CandidateOutcome = KeptCandidate | { readonly kept: false; readonly droppedBy: 'stability' | 'edge' };

/** Judges the low-res logits of one mask (reusing one out-sized buffer). */
export type CandidateJudge = (lowRes: Float32Array) => CandidateOutcome;

/** Creates the judge for one crop: geometry of its logits and the filters. */
export function createCandidateJudge(geometry: LogitUpscalerGeometry, filter: CandidateFilter): CandidateJudge {
  const upscale = createThresholdUpscaler(geometry);
  const { outWidth, outHeight } = geometry;
  const mask = new Uint8Array(outWidth * outHeight);
  return (lowRes) => {
    const cut = upscale(lowRes, filter.maskThreshold, filter.stabilityScoreOffset, mask);
    if (!(cut.stability >= filter.stabilityScoreThresh)) return { kept: false, droppedBy: 'stability' };
    if (isBoxNearCropEdge(cut.box, filter.cropBox, filter.imageBox)) return { kept: false, droppedBy: 'edge' };
    return {
      kept: true,
      rle: encodeRleInBox(mask, outWidth, outHeight, cut.box, cut.area),
      area: cut.area,
      box: cut.box,
      stability: cut.stability,
    };
  };
}

/** One decoder call's masks that passed the predicted-IoU filter, with their crop's geometry and filters. */
export interface CandidateJob {
  readonly geometry: LogitUpscalerGeometry;
  readonly filter: CandidateFilter;
  readonly logits: readonly Float32Array[];
}

/**
 * Returns a function that judges every mask of a job. The judge (and its buffers) of the last
 * crop is kept: the jobs of one crop come in a row.
 */
export function createCandidateJobRunner(): (job: CandidateJob) => CandidateOutcome[] {
  let key = '';
  let judge: CandidateJudge | undefined;
  return (job) => {
    const jobKey = JSON.stringify([job.geometry, job.filter]);
    if (!judge || jobKey !== key) {
      judge = createCandidateJudge(job.geometry, job.filter);
      key = jobKey;
    }
    return job.logits.map((lowRes) => judge!(lowRes));
  };
}
