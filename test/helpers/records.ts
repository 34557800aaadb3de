/** Rectangle masks and the candidate records of them, for the stage tests. */
import { createMask, encodeRle, maskArea, type MaskRecord } from '../../src/index.js';
import type { BinaryMask, BoxXYXY } from '../../src/core/types.js';

/** A width x height mask with the given inclusive boxes filled. */
export function rectMask(width: number, height: number, boxes: BoxXYXY[]): BinaryMask {
  const m = createMask(width, height);
  for (const [x0, y0, x1, y1] of boxes) for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) m.data[y * width + x] = 1;
  return m;
}

/**
 * A record whose mask is the inclusive box (bbox as SAM records it), IoU and stability 0.9;
 * no prompt point unless pointAtCentre (then the box centre, as segment-everything records one).
 */
export function rectRecord(width: number, height: number, box: BoxXYXY, options: { pointAtCentre?: boolean } = {}): MaskRecord {
  const [x0, y0, x1, y1] = box;
  const mask = rectMask(width, height, [box]);
  return {
    segmentation: encodeRle(mask),
    area: maskArea(mask),
    bbox: [x0, y0, x1 - x0, y1 - y0],
    predictedIou: 0.9,
    pointCoords: options.pointAtCentre ? [[(x0 + x1) / 2, (y0 + y1) / 2]] : [],
    stabilityScore: 0.9,
    cropBox: [0, 0, width, height],
    maskIndex: 0,
  };
}
