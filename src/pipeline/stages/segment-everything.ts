/**
 * Stage 1 of SaLIP: segment everything. SAM is prompted with a regular grid of single
 * foreground points over the image (and over overlapping crops when cropNLayers > 0); masks are
 * filtered by predicted IoU, stability and crop edges, de-duplicated by box NMS, and returned as
 * compact records (COCO RLE) with their provenance, as segment-anything's automatic mask
 * generator does.
 */
import { SalipError } from '../../core/errors.js';
import { cropImage } from '../../core/image.js';
import {
  boxXyxyToXywh,
  decodeRle,
  encodeRle,
  maskArea,
  maskToBox,
} from '../../core/mask.js';
import {
  boxNms,
  cleanupSmallRegions,
  createLogitUpscaler,
  generateCropBoxes,
  isBoxNearCropEdge,
  pointGridsPerLayer,
  stabilityScore,
  uncropMask,
} from '../../core/everything/index.js';
import type { BinaryMask, BoxXYXY, CocoRle, RgbImage } from '../../core/types.js';
import type { MaskRecord, SamImageEmbedding, SamModel } from '../types.js';
import { numberOption, throwIfAborted, type StageControl } from './options.js';

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
}

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
} & { multimask: boolean; pointGrids?: Float32Array[] };

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
  sam: Pick<SamModel, 'info'>,
): ResolvedSegmentEverythingOptions {
  const d = SEGMENT_EVERYTHING_DEFAULTS;
  const prob = { min: 0, max: 1 };
  if (!sam.info.supportsPoints) {
    throw new SalipError(
      'INVALID_ARGUMENT',
      `segmentEverything: the SAM preset '${sam.info.preset}' takes boxes only, so it cannot prompt a point grid; use a point-capable SAM for stage 1`,
    );
  }
  const multimask = options.multimask ?? sam.info.supportsMultimask;
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
  };
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

/** One kept candidate inside a crop, before uncropping. */
interface CropCandidate {
  mask: BinaryMask; // at crop size
  box: BoxXYXY; // inclusive, crop frame
  predictedIou: number;
  stabilityScore: number;
  point: [number, number]; // crop frame
  maskIndex: number;
}

/** Runs segment-everything on an image with a SAM model. */
export async function segmentEverything(
  sam: SamModel,
  image: RgbImage,
  options: SegmentEverythingOptions = {},
): Promise<SegmentEverythingResult> {
  const opts = resolveSegmentEverythingOptions(options, sam);
  const { width, height } = image;
  const { boxes: cropBoxes, layers } = generateCropBoxes(width, height, opts.cropNLayers, opts.cropOverlapRatio);
  const grids = opts.pointGrids ?? pointGridsPerLayer(opts.pointsPerSide, opts.cropNLayers, opts.cropNPointsDownscaleFactor);
  const stats: SegmentEverythingStats = {
    decoderCalls: 0,
    encoderCalls: 0,
    rawMasks: 0,
    afterIou: 0,
    afterStability: 0,
    afterEdge: 0,
    afterNms: 0,
  };
  const totalPoints = layers.reduce((sum, layer) => sum + grids[layer].length / 2, 0);
  let donePoints = 0;
  const report = (message?: string) =>
    options.onProgress?.({ stage: 'segment-everything', done: donePoints, total: totalPoints, message });
  report('start');

  let fullEmbedding = options.embedding;
  if (fullEmbedding && (fullEmbedding.transform.imageWidth !== width || fullEmbedding.transform.imageHeight !== height)) {
    throw new SalipError(
      'SIZE_MISMATCH',
      `segmentEverything: options.embedding was made for a ${fullEmbedding.transform.imageWidth}x${fullEmbedding.transform.imageHeight} image, not this ${width}x${height} image`,
    );
  }

  const imageBox: BoxXYXY = [0, 0, width, height];
  const all: Array<{ rle: CocoRle; area: number; box: BoxXYXY; c: CropCandidate; cropBox: BoxXYXY }> = [];
  for (let ci = 0; ci < cropBoxes.length; ci++) {
    const cropBox = cropBoxes[ci];
    const [x0, y0, x1, y1] = cropBox;
    const cropW = x1 - x0;
    const cropH = y1 - y0;
    const isWhole = x0 === 0 && y0 === 0 && cropW === width && cropH === height;
    throwIfAborted(options.signal, 'segmentEverything');
    let embedding: SamImageEmbedding;
    if (isWhole && fullEmbedding) {
      embedding = fullEmbedding;
    } else {
      const cropped = isWhole ? image : cropImage(image, x0, y0, cropW, cropH);
      embedding = await sam.embed(cropped, { signal: options.signal });
      stats.encoderCalls++;
      if (isWhole) fullEmbedding = embedding;
    }
    const kept = await processCrop(sam, embedding, grids[layers[ci]], cropBox, imageBox, opts, stats, options, () => {
      donePoints++;
      if (donePoints % opts.pointsPerBatch === 0) report();
    });
    for (const c of kept) {
      const full = isWhole ? c.mask : uncropMask(c.mask, cropBox, width, height);
      const box: BoxXYXY = [c.box[0] + x0, c.box[1] + y0, c.box[2] + x0, c.box[3] + y0];
      all.push({ rle: encodeRle(full), area: maskArea(c.mask), box, c: { ...c, point: [c.point[0] + x0, c.point[1] + y0] }, cropBox });
    }
  }
  report('done');

  // Across crops: NMS ranked by 1 / crop area, so a mask from a smaller (zoomed-in) crop wins.
  let survivors = all;
  if (cropBoxes.length > 1) {
    const scores = all.map((a) => 1 / ((a.cropBox[2] - a.cropBox[0]) * (a.cropBox[3] - a.cropBox[1])));
    const keep = boxNms(
      all.map((a) => a.box),
      scores,
      opts.cropNmsThresh,
    );
    survivors = keep.map((i) => all[i]);
  }

  let records: MaskRecord[] = survivors.map((a) => ({
    segmentation: a.rle,
    area: a.area,
    bbox: boxXyxyToXywh(a.box),
    predictedIou: a.c.predictedIou,
    pointCoords: [a.c.point],
    stabilityScore: a.c.stabilityScore,
    cropBox: boxXyxyToXywh(a.cropBox),
    maskIndex: a.c.maskIndex,
  }));

  if (opts.minMaskRegionArea > 0 && records.length > 0) {
    records = cleanupRecords(records, opts.minMaskRegionArea, Math.max(opts.boxNmsThresh, opts.cropNmsThresh));
  }
  return { records, embedding: fullEmbedding!, options: opts, stats };
}

/** Prompts every grid point of one crop and returns the crop's kept candidates. */
async function processCrop(
  sam: SamModel,
  embedding: SamImageEmbedding,
  grid: Float32Array,
  cropBox: BoxXYXY,
  imageBox: BoxXYXY,
  opts: ResolvedSegmentEverythingOptions,
  stats: SegmentEverythingStats,
  control: StageControl,
  onPoint: () => void,
): Promise<CropCandidate[]> {
  const t = embedding.transform;
  const cropW = t.imageWidth;
  const cropH = t.imageHeight;
  let upscale: ((lowRes: Float32Array, out?: Float32Array) => Float32Array) | undefined;
  const logits = new Float32Array(cropW * cropH);
  const candidates: CropCandidate[] = [];
  for (let p = 0; p < grid.length / 2; p++) {
    if (p % opts.pointsPerBatch === 0) throwIfAborted(control.signal, 'segmentEverything');
    const px = grid[2 * p] * cropW;
    const py = grid[2 * p + 1] * cropH;
    const result = await sam.decode(embedding, { points: [{ x: px, y: py, label: 1 }] }, { multimask: opts.multimask });
    stats.decoderCalls++;
    upscale ??= createLogitUpscaler({
      lowResSize: result.lowResSize,
      inputSize: t.inputSize,
      resizedWidth: t.resizedWidth,
      resizedHeight: t.resizedHeight,
      outWidth: cropW,
      outHeight: cropH,
    });
    for (let m = 0; m < result.lowResLogits.length; m++) {
      stats.rawMasks++;
      const iou = result.iouPredictions[m];
      // The IoU filter needs no pixels: apply it before upscaling.
      if (!(iou > opts.predIouThresh)) continue;
      stats.afterIou++;
      upscale(result.lowResLogits[m], logits);
      const stability = stabilityScore(logits, opts.maskThreshold, opts.stabilityScoreOffset);
      if (!(stability >= opts.stabilityScoreThresh)) continue;
      stats.afterStability++;
      const mask = thresholdLogits(logits, cropW, cropH, opts.maskThreshold);
      const box = maskToBox(mask);
      if (isBoxNearCropEdge(box, cropBox, imageBox)) continue;
      stats.afterEdge++;
      candidates.push({ mask, box, predictedIou: iou, stabilityScore: stability, point: [px, py], maskIndex: m });
    }
    onPoint();
  }
  const keep = boxNms(
    candidates.map((c) => c.box),
    candidates.map((c) => c.predictedIou),
    opts.boxNmsThresh,
  );
  stats.afterNms += keep.length;
  return keep.map((i) => candidates[i]);
}

function thresholdLogits(logits: Float32Array, width: number, height: number, threshold: number): BinaryMask {
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = logits[i] > threshold ? 1 : 0;
  return { width, height, data };
}

/** Small-region cleanup over the whole pool, then NMS preferring unchanged masks. */
function cleanupRecords(records: MaskRecord[], minArea: number, nmsThresh: number): MaskRecord[] {
  const masks = records.map((r) => decodeRle(r.segmentation));
  const { masks: cleaned, keep } = cleanupSmallRegions(masks, minArea, nmsThresh);
  return keep.map((index, k) => {
    const mask = cleaned[k];
    const source = records[index];
    return {
      ...source,
      segmentation: encodeRle(mask),
      area: maskArea(mask),
      bbox: boxXyxyToXywh(maskToBox(mask)),
    };
  });
}
