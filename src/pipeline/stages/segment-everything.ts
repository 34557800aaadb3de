/**
 * Stage 1 of SaLIP: segment everything. SAM is prompted with a regular grid of single
 * foreground points over the image (and over overlapping crops when cropNLayers > 0); masks are
 * filtered by predicted IoU, stability and crop edges, de-duplicated by box NMS, and returned as
 * compact records (COCO RLE) with their provenance, as segment-anything's automatic mask
 * generator does.
 */
import { SalipError } from '../../core/errors.js';
import { cropImage } from '../../core/image.js';
import { boxXyxyToXywh, decodeRle, encodeRle, maskArea, maskToBox } from '../../core/mask.js';
import {
  boxNms,
  cleanupSmallRegions,
  createCandidateJobRunner,
  generateCropBoxes,
  pointGridsPerLayer,
  upscalerGeometry,
  type CandidateFilter,
  type CandidateOutcome,
} from '../../core/everything/index.js';
import type { BoxXYXY, CocoRle, RgbImage } from '../../core/types.js';
import type { MaskRecord, SamDecodeResult, SamImageEmbedding, SamModel } from '../types.js';
import type { CandidateMaker } from './candidate-makers.js';
import { collectFast, guidedPoints, resolveFastOptions, type FastEverythingOptions, type ResolvedFastOptions } from './everything-fast.js';

export { FAST_EVERYTHING_DEFAULTS, type FastEverythingOptions, type PointGuide } from './everything-fast.js';
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
} & { multimask: boolean; promptsPerRun: number; pointGrids?: Float32Array[]; mode: 'exact' | 'fast'; fast: ResolvedFastOptions };

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
    promptsPerRun: numberOption(options.promptsPerRun, 1, 'promptsPerRun', { min: 1, integer: true }),
    mode: options.mode ?? 'exact',
    fast: resolveFastOptions(options.fast),
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

/** One kept candidate inside a crop, before uncropping; the mask stays RLE (crop frame). */
export interface CropCandidate {
  rle: CocoRle;
  area: number;
  box: BoxXYXY; // inclusive, crop frame
  predictedIou: number;
  stabilityScore: number;
  point: [number, number]; // crop frame
  maskIndex: number;
}

/** Prompts one point of a crop (crop-frame pixels) and returns its candidates that pass every filter. */
export type CropPrompter = (px: number, py: number) => Promise<CropCandidate[]>;

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
    skippedPoints: 0,
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
  const all: Array<{ rle: CocoRle; box: BoxXYXY; c: CropCandidate; cropBox: BoxXYXY }> = [];
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
    const prompter = createCropPrompter(sam, embedding, cropBox, imageBox, opts, stats, options.candidateMaker);
    const grid = grids[layers[ci]];
    let promptedInCrop = 0;
    const onPoint = () => {
      donePoints++;
      if (++promptedInCrop % opts.pointsPerBatch === 0) throwIfAborted(options.signal, 'segmentEverything');
      if (donePoints % opts.pointsPerBatch === 0) report();
    };
    let candidates: CropCandidate[];
    if (opts.mode === 'fast') {
      const guided = opts.fast.guide ? await guidedPoints(opts.fast.guide, opts.fast.guideFraction, grid, cropBox) : undefined;
      throwIfAborted(options.signal, 'segmentEverything');
      const fastPrompter = options.candidateMaker?.concurrent ? prompter : prompter.prompt;
      candidates = await collectFast(grid, cropW, cropH, fastPrompter, { ...opts.fast, boxNmsThresh: opts.boxNmsThresh }, onPoint, guided);
    } else candidates = await collectExact(grid, cropW, cropH, prompter, onPoint, opts.promptsPerRun);
    if (opts.mode === 'fast') {
      const skipped = grid.length / 2 - promptedInCrop;
      stats.skippedPoints += skipped;
      donePoints += skipped;
    }
    const keep = boxNms(
      candidates.map((c) => c.box),
      candidates.map((c) => c.predictedIou),
      opts.boxNmsThresh,
    );
    stats.afterNms += keep.length;
    for (const index of keep) {
      const c = candidates[index];
      const box: BoxXYXY = [c.box[0] + x0, c.box[1] + y0, c.box[2] + x0, c.box[3] + y0];
      const rle = isWhole ? c.rle : uncropRle(c.rle, cropBox, width, height);
      all.push({ rle, box, c: { ...c, point: [c.point[0] + x0, c.point[1] + y0] }, cropBox });
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
    area: a.c.area,
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

/**
 * Prompts every grid point of a crop in grid order (the reference's order). The masks of a call
 * are judged while the next points are decoded when the judging runs elsewhere; at most
 * MAX_JUDGING_IN_FLIGHT calls wait to be judged, so memory stays bounded.
 */
async function collectExact(
  grid: Float32Array,
  cropW: number,
  cropH: number,
  prompter: CropPrompters,
  onPoint: () => void,
  promptsPerRun: number,
): Promise<CropCandidate[]> {
  const judged: Array<Promise<CropCandidate[]>> = [];
  let waited = 0;
  const count = grid.length / 2;
  for (let p = 0; p < count; p += promptsPerRun) {
    const points: Array<[number, number]> = [];
    for (let q = p; q < Math.min(count, p + promptsPerRun); q++) points.push([grid[2 * q] * cropW, grid[2 * q + 1] * cropH]);
    const submitted = points.length === 1 ? [await prompter.submit(...points[0])] : await prompter.submitBatch(points);
    for (const { judging } of submitted) {
      // Awaited below; until then a failure must not count as unhandled.
      judging.catch(() => {});
      judged.push(judging);
      onPoint();
    }
    while (judged.length - waited > Math.max(MAX_JUDGING_IN_FLIGHT, promptsPerRun)) await judged[waited++];
  }
  return (await Promise.all(judged)).flat();
}

/** Calls whose masks may wait to be judged in exact mode (each holds up to 3 low-res maps, 0.8 MB). */
const MAX_JUDGING_IN_FLIGHT = 16;

/** The per-point work of one crop: decode and judge (`prompt`), or hand back the judging under way (`submit`). */
interface CropPrompters {
  /** Decodes a point and judges its masks before resolving. */
  prompt: CropPrompter;
  /** Decodes a point; resolves, once decoded, with the judging of its masks still under way. */
  submit(px: number, py: number): Promise<{ judging: Promise<CropCandidate[]> }>;
  /** The same for several points decoded in one run (SamModel.decodeBatch). */
  submitBatch(points: ReadonlyArray<[number, number]>): Promise<Array<{ judging: Promise<CropCandidate[]> }>>;
}

/**
 * The per-point work of one crop: decode, IoU filter on the decoder's scores (no pixels needed),
 * then for the survivors only: upscale, threshold, stability and box in one pass (pixels far
 * from the cut-offs are decided on the low-res logits), crop-edge filter, RLE
 * (createCandidateJudge). Buffers are allocated once per crop.
 */
function createCropPrompter(
  sam: SamModel,
  embedding: SamImageEmbedding,
  cropBox: BoxXYXY,
  imageBox: BoxXYXY,
  opts: ResolvedSegmentEverythingOptions,
  stats: SegmentEverythingStats,
  maker: CandidateMaker | undefined,
): CropPrompters {
  const t = embedding.transform;
  const filter: CandidateFilter = {
    maskThreshold: opts.maskThreshold,
    stabilityScoreOffset: opts.stabilityScoreOffset,
    stabilityScoreThresh: opts.stabilityScoreThresh,
    cropBox,
    imageBox,
  };
  const local = createCandidateJobRunner();
  const collect = (px: number, py: number, ious: number[], maskIndices: number[], outcomes: CandidateOutcome[]): CropCandidate[] => {
    const kept: CropCandidate[] = [];
    outcomes.forEach((outcome, k) => {
      if (!outcome.kept && outcome.droppedBy === 'stability') return;
      stats.afterStability++;
      if (!outcome.kept) return;
      stats.afterEdge++;
      kept.push({
        rle: outcome.rle,
        area: outcome.area,
        box: outcome.box,
        predictedIou: ious[k],
        stabilityScore: outcome.stability,
        point: [px, py],
        maskIndex: maskIndices[k],
      });
    });
    return kept;
  };
  const decode = async (px: number, py: number) => prepare(await sam.decode(embedding, { points: [{ x: px, y: py, label: 1 }] }, { multimask: opts.multimask }));
  const prepare = (result: SamDecodeResult) => {
    stats.decoderCalls++;
    const logits: Float32Array[] = [];
    const ious: number[] = [];
    const maskIndices: number[] = [];
    for (let m = 0; m < result.lowResLogits.length; m++) {
      stats.rawMasks++;
      const iou = result.iouPredictions[m];
      if (!(iou > opts.predIouThresh)) continue;
      stats.afterIou++;
      logits.push(result.lowResLogits[m]);
      ious.push(iou);
      maskIndices.push(m);
    }
    return { job: { geometry: upscalerGeometry(result.lowResSize, t), filter, logits }, ious, maskIndices };
  };
  const judge = (px: number, py: number, { job, ious, maskIndices }: ReturnType<typeof prepare>) => {
    if (!maker?.concurrent || job.logits.length === 0) {
      return { judging: Promise.resolve(collect(px, py, ious, maskIndices, local(job))) };
    }
    return { judging: maker.judge(job).then((outcomes) => collect(px, py, ious, maskIndices, outcomes)) };
  };
  return {
    async prompt(px, py) {
      const { job, ious, maskIndices } = await decode(px, py);
      return collect(px, py, ious, maskIndices, local(job));
    },
    async submit(px, py) {
      return judge(px, py, await decode(px, py));
    },
    async submitBatch(points) {
      const results = await sam.decodeBatch!(embedding, points.map(([x, y]) => ({ x, y, label: 1 as const })), { multimask: opts.multimask });
      return results.map((result, k) => judge(points[k][0], points[k][1], prepare(result)));
    },
  };
}

/** Moves a crop-frame RLE into the image frame (zeros outside the crop) without decoding it. */
function uncropRle(rle: CocoRle, cropBox: BoxXYXY, width: number, height: number): CocoRle {
  const [x0, y0] = cropBox;
  const [cropH, cropW] = rle.size;
  const counts: number[] = [];
  // Runs are appended with merging, so the output keeps COCO's alternation (0-runs at even indices).
  let value = 0;
  let run = 0;
  const push = (v: number, length: number) => {
    if (length === 0) return;
    if (v === value) run += length;
    else {
      counts.push(run);
      value = v;
      run = length;
    }
  };
  push(0, x0 * height);
  let k = 0;
  let left = rle.counts[0] ?? 0;
  for (let x = 0; x < cropW; x++) {
    push(0, y0);
    let need = cropH;
    while (need > 0) {
      while (left === 0) left = rle.counts[++k];
      const take = Math.min(left, need);
      push(k % 2, take);
      left -= take;
      need -= take;
    }
    push(0, height - y0 - cropH);
  }
  push(0, (width - x0 - cropW) * height);
  counts.push(run);
  return { size: [height, width], counts };
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
