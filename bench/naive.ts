/**
 * The plain reference loop of segment-everything, the baseline of the benchmark (not library
 * code): one decoder call per grid point on the decoder with the multi-mask graph edit but with
 * every original output kept (the full-size `masks` Resize included), all outputs fetched, every
 * multi-mask output upscaled to the crop size before any filter (as segment-anything's predictor
 * returns full-size logits), stability from the full-size logits, full-size threshold, box,
 * crop-edge filter, uncrop and RLE of every survivor, then the reference NMS steps.
 * It uses the library's logit upscaler (one sparse pass per axis, equal to torch's two-step
 * bilinear up to float rounding) so that the baseline is not slowed by a poor upscale and its
 * masks can be compared with the library's bit for bit.
 */
import type { Backend, ModelSession, TensorData } from '../src/backends/types.js';
import { cropImage } from '../src/core/image.js';
import { boxXyxyToXywh, decodeRle, encodeRle, maskArea, maskFromLogits, maskToBox } from '../src/core/mask.js';
import {
  boxNms,
  cleanupSmallRegions,
  createLogitUpscaler,
  upscalerGeometry,
  generateCropBoxes,
  isBoxNearCropEdge,
  pointGridsPerLayer,
  stabilityScore,
  uncropMask,
} from '../src/core/everything/index.js';
import type { BoxXYXY, CocoRle, RgbImage } from '../src/core/types.js';
import { ALL_IOU_OUTPUT, ALL_MASKS_OUTPUT, exposeMultimaskOutputs } from '../src/models/sam/graph-edit.js';
import { SEGMENT_EVERYTHING_DEFAULTS } from '../src/pipeline/stages/segment-everything.js';
import type { MaskRecord, SamImageEmbedding, SamModel } from '../src/pipeline/types.js';

/** The segment-everything parameters the naive loop honours (others, e.g. mode, are ignored). */
export type NaiveOptions = { -readonly [K in keyof typeof SEGMENT_EVERYTHING_DEFAULTS]?: number };

/** Loads the decoder with the multi-mask edit and nothing dropped (the reference graph). */
export async function loadNaiveDecoder(backend: Backend, decoderPath: string, intraOpThreads?: number): Promise<ModelSession> {
  const bytes = await backend.readBytes(decoderPath);
  return backend.loadModel(exposeMultimaskOutputs(bytes).bytes, { label: 'naive decoder', intraOpThreads });
}

interface Candidate {
  rle: CocoRle;
  area: number;
  box: BoxXYXY;
  iou: number;
  stability: number;
  point: [number, number];
  maskIndex: number;
  cropBox: BoxXYXY;
}

/** One decoder run for a point, fetching every output; returns masks 1..3 and their IoUs. */
async function decodePoint(decoder: ModelSession, embedding: SamImageEmbedding, px: number, py: number) {
  const t = embedding.transform;
  const feeds: Record<string, TensorData> = {
    image_embeddings: { type: 'float32', dims: embedding.dims, data: embedding.data },
    point_coords: { type: 'float32', dims: [1, 2, 2], data: Float32Array.from([px * t.scaleX, py * t.scaleY, 0, 0]) },
    point_labels: { type: 'float32', dims: [1, 2], data: Float32Array.from([1, -1]) },
    mask_input: { type: 'float32', dims: [1, 1, 256, 256], data: new Float32Array(256 * 256) },
    has_mask_input: { type: 'float32', dims: [1], data: Float32Array.from([0]) },
    orig_im_size: { type: 'float32', dims: [2], data: Float32Array.from([t.imageHeight, t.imageWidth]) },
  };
  const out = await decoder.run(feeds);
  const masks = out[ALL_MASKS_OUTPUT];
  const ious = out[ALL_IOU_OUTPUT].data as Float32Array;
  const side = masks.dims[2];
  const plane = side * side;
  const data = masks.data as Float32Array;
  // Masks 1..3 are the multi-mask outputs (0 is the single-mask token).
  return { side, masks: [1, 2, 3].map((i) => data.subarray(i * plane, (i + 1) * plane)), ious: [1, 2, 3].map((i) => ious[i]) };
}

/** Segment-everything the plain way; same records as the library's exact mode. */
export async function naiveSegmentEverything(
  sam: SamModel,
  decoder: ModelSession,
  image: RgbImage,
  options: NaiveOptions & { embedding?: SamImageEmbedding; [other: string]: unknown } = {},
): Promise<{ records: MaskRecord[]; decoderCalls: number }> {
  const o = { ...SEGMENT_EVERYTHING_DEFAULTS, ...options };
  const { width, height } = image;
  const { boxes: cropBoxes, layers } = generateCropBoxes(width, height, o.cropNLayers, o.cropOverlapRatio);
  const grids = pointGridsPerLayer(o.pointsPerSide, o.cropNLayers, o.cropNPointsDownscaleFactor);
  const imageBox: BoxXYXY = [0, 0, width, height];
  const all: Candidate[] = [];
  let decoderCalls = 0;
  for (let ci = 0; ci < cropBoxes.length; ci++) {
    const cropBox = cropBoxes[ci];
    const [x0, y0, x1, y1] = cropBox;
    const cropW = x1 - x0;
    const cropH = y1 - y0;
    const isWhole = cropW === width && cropH === height;
    const embedding = isWhole && options.embedding ? options.embedding : await sam.embed(isWhole ? image : cropImage(image, x0, y0, cropW, cropH));
    const t = embedding.transform;
    const grid = grids[layers[ci]];
    const inCrop: Candidate[] = [];
    let upscale: ReturnType<typeof createLogitUpscaler> | undefined;
    for (let p = 0; p < grid.length / 2; p++) {
      const px = grid[2 * p] * cropW;
      const py = grid[2 * p + 1] * cropH;
      const { side, masks, ious } = await decodePoint(decoder, embedding, px, py);
      decoderCalls++;
      upscale ??= createLogitUpscaler(upscalerGeometry(side, t, cropW, cropH));
      const logits = masks.map((m) => upscale!(m));
      for (let m = 0; m < 3; m++) {
        if (!(ious[m] > o.predIouThresh)) continue;
        const stability = stabilityScore(logits[m], o.maskThreshold, o.stabilityScoreOffset);
        if (!(stability >= o.stabilityScoreThresh)) continue;
        const mask = maskFromLogits(logits[m], cropW, cropH, o.maskThreshold);
        const box = maskToBox(mask);
        if (isBoxNearCropEdge(box, cropBox, imageBox)) continue;
        const full = isWhole ? mask : uncropMask(mask, cropBox, width, height);
        const rle = encodeRle(full);
        let area = 0;
        for (let k = 1; k < rle.counts.length; k += 2) area += rle.counts[k];
        inCrop.push({ rle, area, box: [box[0] + x0, box[1] + y0, box[2] + x0, box[3] + y0], iou: ious[m], stability, point: [px + x0, py + y0], maskIndex: m, cropBox });
      }
    }
    const keep = boxNms(
      inCrop.map((c) => c.box),
      inCrop.map((c) => c.iou),
      o.boxNmsThresh,
    );
    for (const i of keep) all.push(inCrop[i]);
  }
  let survivors = all;
  if (cropBoxes.length > 1) {
    const keep = boxNms(
      all.map((c) => c.box),
      all.map((c) => 1 / ((c.cropBox[2] - c.cropBox[0]) * (c.cropBox[3] - c.cropBox[1]))),
      o.cropNmsThresh,
    );
    survivors = keep.map((i) => all[i]);
  }
  let records: MaskRecord[] = survivors.map((c) => ({
    segmentation: c.rle,
    area: c.area,
    bbox: boxXyxyToXywh(c.box),
    predictedIou: c.iou,
    pointCoords: [c.point] as Array<[number, number]>,
    stabilityScore: c.stability,
    cropBox: boxXyxyToXywh(c.cropBox),
    maskIndex: c.maskIndex,
  }));
  if (o.minMaskRegionArea > 0 && records.length > 0) {
    const { masks, keep } = cleanupSmallRegions(
      records.map((r) => decodeRle(r.segmentation)),
      o.minMaskRegionArea,
      Math.max(o.boxNmsThresh, o.cropNmsThresh),
    );
    records = keep.map((index, k) => ({
      ...records[index],
      segmentation: encodeRle(masks[k]),
      area: maskArea(masks[k]),
      bbox: boxXyxyToXywh(maskToBox(masks[k])),
    }));
  }
  return { records, decoderCalls };
}
