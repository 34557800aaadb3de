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
import { boxNms, cleanupSmallRegions, generateCropBoxes, pointGridsPerLayer } from '../../core/everything/index.js';
import type { BoxXYXY, CocoRle, RgbImage } from '../../core/types.js';
import type { MaskRecord, SamImageEmbedding, SamModel } from '../types.js';
import type { CropCandidate } from './crop-candidate.js';
import { collectExact, createCropPrompter, uncropRle } from './crop-prompter.js';
import { collectFast, guidedPoints } from './everything-fast.js';
import { resolveSegmentEverythingOptions, type SegmentEverythingOptions, type SegmentEverythingResult, type SegmentEverythingStats } from './everything-options.js';
import { throwIfAborted } from './options.js';

export { FAST_EVERYTHING_DEFAULTS, type FastEverythingOptions, type PointGuide } from './everything-fast.js';
export * from './everything-options.js';
export type { CropCandidate, CropPrompter } from './crop-candidate.js';

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
