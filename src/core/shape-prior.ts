/**
 * What the exemplars say the organ looks like inside its box: each part's mask resampled to a
 * small grid over its own box (position and size left out, those are the box prior's), so a
 * filled ellipse, a crescent, a lung's outline or a thin strip can be told apart whatever their
 * size. A candidate is compared with every exemplar part by soft IoU (sum of minima over sum of
 * maxima of the two occupancy grids): 1 for the same shape, near 0 for unlike ones.
 */
import { SalipError } from './errors.js';
import { maskToBox } from './mask.js';
import { partBoxes } from './exemplar-prior.js';
import type { BinaryMask, BoxXYWH, BoxXYXY } from './types.js';

/** Cells per side of a shape descriptor. */
export const SHAPE_CELLS = 16;
/** Samples per cell side (nearest pixel), so boxes smaller than the grid still fill every cell. */
const SAMPLES = 3;

/** Occupancy of `mask` over `box` (inclusive XYXY) on a cells x cells grid, each cell in 0..1. */
export function shapeDescriptor(mask: BinaryMask, box: BoxXYXY, cells = SHAPE_CELLS): Float32Array {
  const [x0, y0, x1, y1] = box;
  const bw = x1 - x0 + 1;
  const bh = y1 - y0 + 1;
  const out = new Float32Array(cells * cells);
  const step = 1 / (cells * SAMPLES);
  for (let cy = 0; cy < cells; cy++) {
    for (let cx = 0; cx < cells; cx++) {
      let hits = 0;
      for (let sy = 0; sy < SAMPLES; sy++) {
        const y = Math.min(mask.height - 1, y0 + Math.floor(((cy * SAMPLES + sy + 0.5) * step) * bh));
        for (let sx = 0; sx < SAMPLES; sx++) {
          const x = Math.min(mask.width - 1, x0 + Math.floor(((cx * SAMPLES + sx + 0.5) * step) * bw));
          if (mask.data[y * mask.width + x]) hits++;
        }
      }
      out[cy * cells + cx] = hits / (SAMPLES * SAMPLES);
    }
  }
  return out;
}

/** Soft IoU of two occupancy grids: sum of minima / sum of maxima (0 when both are empty). */
export function shapeAgreement(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new SalipError('INVALID_ARGUMENT', `shapeAgreement: descriptors of ${a.length} and ${b.length} cells`);
  let low = 0;
  let high = 0;
  for (let i = 0; i < a.length; i++) {
    low += Math.min(a[i], b[i]);
    high += Math.max(a[i], b[i]);
  }
  return high === 0 ? 0 : low / high;
}

/**
 * The shapes of each exemplar's parts (its `parts` largest components, or its whole mask when it
 * has fewer), one list per exemplar.
 */
export function exemplarShapes(masks: readonly BinaryMask[], parts = 1): Float32Array[][] {
  return masks.map((mask, j) => {
    if (!partBoxes(mask, 1)) throw new SalipError('INVALID_TASK', `exemplarShapes: masks[${j}] is empty (an exemplar must show the class)`);
    const boxes = (parts > 1 && partBoxes(mask, parts)) || [maskToBox(mask)];
    return boxes.map((box) => shapeDescriptor(mask, box));
  });
}

/** The shape of a pool record's mask over its box (XYWH, as MaskRecord.bbox). */
export function recordShape(mask: BinaryMask, bbox: BoxXYWH): Float32Array {
  return shapeDescriptor(mask, [bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3]]);
}

/**
 * How much a candidate looks like the exemplars' parts: for each exemplar its best-matching part,
 * averaged over the exemplars (0-1).
 */
export function shapePriorAgreement(shapes: readonly Float32Array[][], candidate: Float32Array): number {
  if (shapes.length === 0) return 0;
  let sum = 0;
  for (const parts of shapes) {
    let best = 0;
    for (const part of parts) best = Math.max(best, shapeAgreement(part, candidate));
    sum += best;
  }
  return sum / shapes.length;
}
