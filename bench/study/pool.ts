/**
 * Offline segment-everything over a cached raw pool: the same filters, in the same order, as
 * src/pipeline/stages/segment-everything.ts for a single crop (predicted IoU, stability, crop
 * edge, box NMS ranked by predicted IoU, then optional small-region cleanup with its NMS), so
 * a parameter setting can be tried in milliseconds. check-pool.ts verifies the equivalence on a
 * real run.
 */
import { readFileSync } from 'node:fs';
import { boxNms, cleanupSmallRegions, isBoxNearCropEdge } from '../../src/core/everything/index.js';
import { boxXyxyToXywh, decodeRle, encodeRle, maskArea, maskToBox } from '../../src/core/mask.js';
import type { BoxXYXY } from '../../src/core/types.js';
import type { MaskRecord } from '../../src/pipeline/types.js';
import type { DevTask } from '../harness.js';
import { cachePath } from './common.js';

/** Offsets at which the cache stores each mask's stability score. */
export const STABILITY_OFFSETS = [0.25, 0.5, 1, 1.5, 2] as const;

export interface RawCandidate {
  /** Index of the grid point. */
  point: number;
  xy: [number, number];
  maskIndex: number;
  predictedIou: number;
  /** Stability at each of STABILITY_OFFSETS. */
  stability: number[];
  area: number;
  box: BoxXYXY;
  counts: number[];
}

export interface RawPool {
  task: DevTask;
  name: string;
  side: number;
  width: number;
  height: number;
  candidates: RawCandidate[];
}

export interface PoolParams {
  predIouThresh: number;
  stabilityScoreThresh: number;
  stabilityScoreOffset: (typeof STABILITY_OFFSETS)[number];
  boxNmsThresh: number;
  minMaskRegionArea: number;
}

export function readRawPool(task: DevTask, side: number, name: string): RawPool {
  return JSON.parse(readFileSync(cachePath('pools', task, String(side), `${name}.json`), 'utf8')) as RawPool;
}

/** Index of a stability offset in RawCandidate.stability (throws when it is not cached). */
export function stabilityIndex(offset: number): number {
  const index = STABILITY_OFFSETS.indexOf(offset as (typeof STABILITY_OFFSETS)[number]);
  if (index < 0) throw new Error(`stability offset ${offset} is not cached`);
  return index;
}

/** The candidates of a raw pool that pass segment-everything's per-mask filters (IoU, stability, crop edge), in cache order. */
export function passingCandidates(raw: RawPool, params: { predIouThresh: number; stabilityScoreThresh: number; stabilityScoreOffset: number }): RawCandidate[] {
  const offsetIndex = stabilityIndex(params.stabilityScoreOffset);
  const imageBox: BoxXYXY = [0, 0, raw.width, raw.height];
  return raw.candidates.filter(
    (c) =>
      c.predictedIou > params.predIouThresh &&
      c.stability[offsetIndex] >= params.stabilityScoreThresh &&
      !isBoxNearCropEdge(c.box, imageBox, imageBox),
  );
}

/** The candidate records segmentEverything would return for these parameters. */
export function simulatePool(raw: RawPool, params: PoolParams): MaskRecord[] {
  const offsetIndex = stabilityIndex(params.stabilityScoreOffset);
  const kept = passingCandidates(raw, params);
  const keep = boxNms(
    kept.map((c) => c.box),
    kept.map((c) => c.predictedIou),
    params.boxNmsThresh,
  );
  let records: MaskRecord[] = keep.map((i) => {
    const c = kept[i];
    return {
      segmentation: { size: [raw.height, raw.width], counts: c.counts },
      area: c.area,
      bbox: boxXyxyToXywh(c.box),
      predictedIou: c.predictedIou,
      pointCoords: [c.xy],
      stabilityScore: c.stability[offsetIndex],
      cropBox: [0, 0, raw.width, raw.height],
      maskIndex: c.maskIndex,
    };
  });
  if (params.minMaskRegionArea > 0 && records.length > 0) {
    const masks = records.map((r) => decodeRle(r.segmentation));
    const cleaned = cleanupSmallRegions(masks, params.minMaskRegionArea, Math.max(params.boxNmsThresh, 0.7));
    records = cleaned.keep.map((index, k) => {
      const mask = cleaned.masks[k];
      return { ...records[index], segmentation: encodeRle(mask), area: maskArea(mask), bbox: boxXyxyToXywh(maskToBox(mask)) };
    });
  }
  return records;
}
