/**
 * salip everything <image>: stage 1 alone. Every segment-everything parameter is a kebab-case
 * flag; records are written in segment-anything's JSON layout (COCO RLE segmentation, XYWH bbox).
 */
import { resizeImage } from '../../core/image.js';
import { decodeRle } from '../../core/mask.js';
import { PALETTE, renderOverlay } from '../../core/overlay.js';
import { encodePng } from '../../io/image-codecs.js';
import { writeFileAtomic } from '../../backends/node-files.js';
import { readAnyImageFile } from '../../batch/dicom-input.js';
import { SEGMENT_EVERYTHING_DEFAULTS, type SegmentEverythingOptions } from '../../pipeline/stages/segment-everything.js';
import type { CommandSpec, FlagSpec } from '../args.js';
import type { ProgressReporter } from '../progress.js';
import { MODEL_FLAGS, salipFromFlags } from '../models.js';
import { FAST_FLAGS, OUTPUT_FLAGS, checkDistinctPaths, checkOutputPath, recordToJson, type Options } from './shared.js';

const d = SEGMENT_EVERYTHING_DEFAULTS;
export const EVERYTHING_PARAM_FLAGS: Readonly<Record<string, FlagSpec>> = {
  'points-per-side': { type: 'integer', min: 1, default: d.pointsPerSide, description: 'grid of n x n points per crop' },
  'points-per-batch': { type: 'integer', min: 1, default: d.pointsPerBatch, description: 'prompts per progress/abort step' },
  'pred-iou-thresh': { type: 'number', min: -1, max: 1, default: d.predIouThresh, description: 'keep masks whose predicted IoU is above this' },
  'stability-score-thresh': { type: 'number', min: 0, max: 1, default: d.stabilityScoreThresh, description: 'keep masks whose stability is at least this' },
  'stability-score-offset': { type: 'number', min: 0, default: d.stabilityScoreOffset, description: 'logit offset of the stability score' },
  'box-nms-thresh': { type: 'number', min: 0, max: 1, default: d.boxNmsThresh, description: 'box NMS threshold within a crop' },
  'crop-n-layers': { type: 'integer', min: 0, max: 4, default: d.cropNLayers, description: 'extra layers of crops' },
  'crop-nms-thresh': { type: 'number', min: 0, max: 1, default: d.cropNmsThresh, description: 'box NMS threshold across crops' },
  'crop-overlap-ratio': { type: 'number', min: 0, max: 1, default: d.cropOverlapRatio, description: 'overlap of neighbouring crops' },
  'crop-n-points-downscale-factor': { type: 'integer', min: 1, default: d.cropNPointsDownscaleFactor, description: 'points per side shrink per crop layer' },
  'min-mask-region-area': { type: 'number', min: 0, default: d.minMaskRegionArea, description: 'remove islands / fill holes smaller than this' },
};

export const EVERYTHING_COMMAND: CommandSpec = {
  name: 'everything',
  summary: 'segment everything (stage 1) and write the candidate records',
  positionals: [{ name: 'image', description: 'image (.png, .jpg)' }],
  flags: {
    size: { type: 'integer', min: 8, description: 'resize the image to size x size first (the paper: 256)' },
    json: { type: 'string', valueName: '<records.json>', description: 'write the records (COCO RLE, XYWH bbox, scores)' },
    overlay: { type: 'string', valueName: '<overlay.png>', description: 'write every candidate outlined on the image' },
    ...EVERYTHING_PARAM_FLAGS,
    ...FAST_FLAGS,
    ...MODEL_FLAGS,
    ...OUTPUT_FLAGS,
  },
  examples: ['salip everything cxr.png --size 256 --points-per-side 16 --pred-iou-thresh 0.5 --stability-score-thresh 0.5 --json records.json'],
};

/** The segment-everything options named by the flags. */
export function everythingOptionsFromFlags(o: Options): SegmentEverythingOptions {
  return {
    pointsPerSide: o.pointsPerSide as number,
    pointsPerBatch: o.pointsPerBatch as number,
    predIouThresh: o.predIouThresh as number,
    stabilityScoreThresh: o.stabilityScoreThresh as number,
    stabilityScoreOffset: o.stabilityScoreOffset as number,
    boxNmsThresh: o.boxNmsThresh as number,
    cropNLayers: o.cropNLayers as number,
    cropNmsThresh: o.cropNmsThresh as number,
    cropOverlapRatio: o.cropOverlapRatio as number,
    cropNPointsDownscaleFactor: o.cropNPointsDownscaleFactor as number,
    minMaskRegionArea: o.minMaskRegionArea as number,
    mode: o.fast === true ? 'fast' : 'exact',
  };
}

export async function runEverything(input: string, o: Options, progress: ProgressReporter, log: (s: string) => void): Promise<number> {
  const force = o.force === true;
  checkOutputPath(o.json as string | undefined, '--json', force);
  checkOutputPath(o.overlay as string | undefined, '--overlay', force);
  checkDistinctPaths([['--json', o.json as string | undefined], ['--overlay', o.overlay as string | undefined]], [['the input', input]]);
  const original = await readAnyImageFile(input);
  const image = o.size ? resizeImage(original, o.size as number, o.size as number, 'bilinear') : original;
  const salip = await salipFromFlags(o);
  try {
    const result = await salip.segmentEverything(image, { ...everythingOptionsFromFlags(o), onProgress: progress });
    progress.finish();
    const s = result.stats;
    log(`${result.records.length} candidates (${s.decoderCalls} decoder calls; ${s.rawMasks} masks, ${s.afterIou} passed IoU, ${s.afterStability} stability, ${s.afterEdge} crop edge, ${s.afterNms} NMS)`);
    if (o.json !== undefined) {
      const json = { image: input, width: image.width, height: image.height, records: result.records.map(recordToJson) };
      await writeFileAtomic(o.json as string, new TextEncoder().encode(JSON.stringify(json)), { force });
      log(`wrote ${String(o.json)}`);
    }
    if (o.overlay !== undefined) {
      const overlay = renderOverlay(
        image,
        result.records.map((r, i) => ({ mask: decodeRle(r.segmentation), color: PALETTE[i % PALETTE.length], outline: 1, fillAlpha: 0.2 })),
      );
      await writeFileAtomic(o.overlay as string, encodePng(overlay), { force });
      log(`wrote ${String(o.overlay)}`);
    }
    return 0;
  } finally {
    await salip.dispose();
  }
}
