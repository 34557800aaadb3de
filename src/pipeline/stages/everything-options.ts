/**
 * segment-everything's parameters (segment-anything's SamAutomaticMaskGenerator defaults), their
 * validation, and the shape of its result and statistics.
 */
import { SalipError } from '../../core/errors.js';
import type { MaskRecord, SamImageEmbedding, SamModel } from '../types.js';
import type { CandidateMaker } from './candidate-makers.js';
import { resolveFastOptions, type FastEverythingOptions, type ResolvedFastOptions } from './everything-fast.js';
import { numberOption, type StageControl } from './options.js';

/** Parameters of segment-everything; defaults are segment-anything's. */
export interface SegmentEverythingOptions extends StageControl {
  /** Grid is n x n points at cell centres of each crop (layer 0: the whole image). */
  pointsPerSide?: number;
  /** Prompts handed to the decoder per progress/abort step (batch-1 exports run one by one). */
  pointsPerBatch?: number;
  /** Keep masks whose predicted IoU is above this. */
  predIouThresh?: number;
  /** Keep masks whose stability score is at least this. */
  stabilityScoreThresh?: number;
  /** Logit offset used by the stability score. */
  stabilityScoreOffset?: number;
  /** Greedy NMS threshold on mask boxes within one crop (ranked by predicted IoU). */
  boxNmsThresh?: number;
  /** Extra crop layers; layer i has (2^i)^2 crops. */
  cropNLayers?: number;
  /** NMS threshold across crops (smaller crops win). */
  cropNmsThresh?: number;
  /** Overlap of neighbouring crops as a fraction of the short side (scaled down per layer). */
  cropOverlapRatio?: number;
  /** Points per side in layer i is pointsPerSide / factor^i. */
  cropNPointsDownscaleFactor?: number;
  /** Remove islands and fill holes smaller than this many pixels, then NMS again (0 = off). */
  minMaskRegionArea?: number;
  /** Logit threshold for foreground. */
  maskThreshold?: number;
  /**
   * Use the decoder's three multi-mask outputs per point (the reference does). Defaults to true
   * when the model supports it; a single-mask decoder gives one candidate per point.
   */
  multimask?: boolean;
  /** Custom normalised point grids, one per layer (overrides pointsPerSide). */
  pointGrids?: Float32Array[];
  /** Embedding of the whole image when already computed (reused for layer 0). */
  embedding?: SamImageEmbedding;
  /**
   * 'exact' (default): every grid point is prompted, in grid order; the kept masks are those of
   * the reference loop. 'fast': points coarse to fine, skipping points inside stable masks
   * already found and stopping a crop when new points give only duplicates, always prompting
   * the points a guide marks (see `fast`).
   */
  mode?: 'exact' | 'fast';
  /** Parameters of the fast mode (ignored in exact mode); defaults in FAST_EVERYTHING_DEFAULTS. */
  fast?: FastEverythingOptions;
  /**
   * Where each call's masks are judged (upscale, threshold, stability, edge filter, RLE). With a
   * concurrent maker (workerCandidateMaker: createSalip passes one when the backend can start
   * workers) exact mode keeps decoding while earlier masks are judged and fast mode decodes
   * guided points ahead; the candidates are the same. Default: the calling thread.
   */
  candidateMaker?: CandidateMaker;
  /**
   * Exact mode: grid points decoded per decoder run (default 1). Above 1 the SAM model's
   * decodeBatch runs them together (the prompt batch freed by a graph edit): worth it on a GPU,
   * slower on CPU (1.3-1.4x the time of single runs with MobileSAM, docs/performance.md), where
   * every prompt still runs the two-way transformer over all image tokens. The logits agree with single runs to ~1e-5, so a mask can differ in a pixel whose
   * logit is that close to the threshold. createSalip sets it where the backend says batches pay
   * (`Backend.batchedPrompts`). Fast mode always decodes one point at a time.
   */
  promptsPerRun?: number;
  /**
   * Boxes-only SAMs (MedSAM, LiteMedSAM) cannot take the point grid: each grid point is then
   * prompted with square boxes centred on it, of these sides as fractions of the crop's shorter
   * side, and each box's single mask is a candidate (as a point's three multi-mask outputs are).
   * Default BOX_PROPOSAL_SCALES; salip's choice, not the reference's (which has no box mode).
   */
  boxScales?: readonly number[];
}

/** Box sides, as fractions of the crop's shorter side, that box proposals try around each grid point. */
export const BOX_PROPOSAL_SCALES: readonly number[] = [0.125, 0.25, 0.5];

export const SEGMENT_EVERYTHING_DEFAULTS = {
  pointsPerSide: 32,
  pointsPerBatch: 64,
  predIouThresh: 0.88,
  stabilityScoreThresh: 0.95,
  stabilityScoreOffset: 1.0,
  boxNmsThresh: 0.7,
  cropNLayers: 0,
  cropNmsThresh: 0.7,
  cropOverlapRatio: 512 / 1500,
  cropNPointsDownscaleFactor: 1,
  minMaskRegionArea: 0,
  maskThreshold: 0,
} as const;

export type ResolvedSegmentEverythingOptions = {
  -readonly [K in keyof typeof SEGMENT_EVERYTHING_DEFAULTS]: number;
} & {
  multimask: boolean;
  promptsPerRun: number;
  pointGrids?: Float32Array[];
  mode: 'exact' | 'fast';
  fast: ResolvedFastOptions;
  /** 'points': the grid's points prompt SAM; 'boxes': boxes of `boxScales` around them (boxes-only SAMs). */
  proposals: 'points' | 'boxes';
  boxScales: readonly number[];
};

export interface SegmentEverythingStats {
  decoderCalls: number;
  encoderCalls: number;
  /** Candidates before any filter (masks returned by the decoder). */
  rawMasks: number;
  /** Candidates left after each filter, in order. */
  afterIou: number;
  afterStability: number;
  afterEdge: number;
  afterNms: number;
  /** Grid points the fast mode did not prompt (0 in exact mode). */
  skippedPoints: number;
}

export interface SegmentEverythingResult {
  /** The candidate pool, in the reference's order (per crop, by descending predicted IoU). */
  records: MaskRecord[];
  /** Embedding of the whole image (layer 0), for stages that reuse it (exemplar scoring). */
  embedding: SamImageEmbedding;
  /** The options actually used (defaults filled in). */
  options: ResolvedSegmentEverythingOptions;
  stats: SegmentEverythingStats;
}

/** Fills in and validates segment-everything options. */
export function resolveSegmentEverythingOptions(
  options: SegmentEverythingOptions,
  sam: Pick<SamModel, 'info'> & Partial<Pick<SamModel, 'decodeBatch'>>,
): ResolvedSegmentEverythingOptions {
  const d = SEGMENT_EVERYTHING_DEFAULTS;
  const prob = { min: 0, max: 1 };
  const proposals = sam.info.supportsPoints ? 'points' : 'boxes';
  if (proposals === 'boxes' && options.multimask === true) {
    throw new SalipError(
      'INVALID_ARGUMENT',
      `segmentEverything: the SAM preset '${sam.info.preset}' takes boxes only, so the point grid becomes box proposals (one mask per box): multimask: true does not apply`,
    );
  }
  const boxScales = options.boxScales ?? BOX_PROPOSAL_SCALES;
  if (!Array.isArray(boxScales) || boxScales.length === 0 || !boxScales.every((v) => Number.isFinite(v) && v > 0 && v <= 1)) {
    throw new SalipError('INVALID_ARGUMENT', `boxScales: expected a non-empty array of fractions in (0, 1], got ${JSON.stringify(options.boxScales)}`);
  }
  const multimask = proposals === 'boxes' ? false : (options.multimask ?? sam.info.supportsMultimask);
  if (multimask && !sam.info.supportsMultimask) {
    throw new SalipError(
      'INVALID_ARGUMENT',
      `segmentEverything: multimask: true, but the SAM decoder (${sam.info.preset}) has no multi-mask outputs`,
    );
  }
  const resolved: ResolvedSegmentEverythingOptions = {
    pointsPerSide: numberOption(options.pointsPerSide, d.pointsPerSide, 'pointsPerSide', { min: 1, integer: true }),
    pointsPerBatch: numberOption(options.pointsPerBatch, d.pointsPerBatch, 'pointsPerBatch', { min: 1, integer: true }),
    predIouThresh: numberOption(options.predIouThresh, d.predIouThresh, 'predIouThresh', { min: -1, max: 1 }),
    stabilityScoreThresh: numberOption(options.stabilityScoreThresh, d.stabilityScoreThresh, 'stabilityScoreThresh', prob),
    stabilityScoreOffset: numberOption(options.stabilityScoreOffset, d.stabilityScoreOffset, 'stabilityScoreOffset', { min: 0 }),
    boxNmsThresh: numberOption(options.boxNmsThresh, d.boxNmsThresh, 'boxNmsThresh', prob),
    cropNLayers: numberOption(options.cropNLayers, d.cropNLayers, 'cropNLayers', { min: 0, max: 4, integer: true }),
    cropNmsThresh: numberOption(options.cropNmsThresh, d.cropNmsThresh, 'cropNmsThresh', prob),
    cropOverlapRatio: numberOption(options.cropOverlapRatio, d.cropOverlapRatio, 'cropOverlapRatio', { min: 0, max: 1 }),
    cropNPointsDownscaleFactor: numberOption(
      options.cropNPointsDownscaleFactor,
      d.cropNPointsDownscaleFactor,
      'cropNPointsDownscaleFactor',
      { min: 1, integer: true },
    ),
    minMaskRegionArea: numberOption(options.minMaskRegionArea, d.minMaskRegionArea, 'minMaskRegionArea', { min: 0 }),
    maskThreshold: numberOption(options.maskThreshold, d.maskThreshold, 'maskThreshold', {}),
    multimask,
    // Box proposals decode one box per run (decodeBatch takes points): promptsPerRun does not apply.
    promptsPerRun: proposals === 'boxes' ? 1 : numberOption(options.promptsPerRun, 1, 'promptsPerRun', { min: 1, integer: true }),
    mode: options.mode ?? 'exact',
    fast: resolveFastOptions(options.fast),
    proposals,
    boxScales: [...boxScales],
  };
  if (resolved.promptsPerRun > 1 && typeof sam.decodeBatch !== 'function') {
    throw new SalipError(
      'INVALID_ARGUMENT',
      `segmentEverything: promptsPerRun: ${resolved.promptsPerRun} needs a SAM model with decodeBatch (the prompt-batched decoder); this one (${sam.info.preset}) decodes one prompt per run`,
    );
  }
  if (resolved.mode !== 'exact' && resolved.mode !== 'fast') {
    throw new SalipError('INVALID_ARGUMENT', `mode: expected 'exact' or 'fast', got ${JSON.stringify(options.mode)}`);
  }
  if (options.pointGrids !== undefined) {
    if (options.pointGrids.length !== resolved.cropNLayers + 1) {
      throw new SalipError(
        'INVALID_ARGUMENT',
        `pointGrids: expected ${resolved.cropNLayers + 1} grids (cropNLayers + 1), got ${options.pointGrids.length}`,
      );
    }
    resolved.pointGrids = options.pointGrids;
  }
  return resolved;
}
