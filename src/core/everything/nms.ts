/** Greedy non-maximum suppression over boxes (torchvision.ops.nms semantics). */
import { assertArgument } from '../errors.js';
import { boxIoU } from '../mask.js';
import { topK } from '../similarity.js';
import type { BoxXYXY } from '../types.js';

/**
 * Indices of the boxes kept by greedy NMS, by descending score (ties: lower index first; NaN
 * scores rank last). A box is suppressed when its IoU with a kept box is > iouThreshold. IoU
 * uses torchvision's area convention (x1 - x0) * (y1 - y0), so inclusive mask boxes of
 * single-row or single-column masks have area 0 and never suppress anything.
 */
export function boxNms(boxes: BoxXYXY[], scores: ArrayLike<number>, iouThreshold: number): number[] {
  assertArgument(Array.isArray(boxes), 'boxes', 'an array of [x0, y0, x1, y1] boxes', boxes);
  assertArgument(
    scores !== null && typeof scores === 'object' && scores.length === boxes.length,
    'scores',
    `one score per box (${boxes.length})`,
    scores,
  );
  assertArgument(typeof iouThreshold === 'number' && !Number.isNaN(iouThreshold), 'iouThreshold', 'a number', iouThreshold);
  const n = boxes.length;
  const order = topK(scores, n);
  const suppressed = new Uint8Array(n);
  const keep: number[] = [];
  for (let oi = 0; oi < n; oi++) {
    const i = order[oi];
    if (suppressed[i] !== 0) continue;
    keep.push(i);
    const bi = boxes[i];
    for (let oj = oi + 1; oj < n; oj++) {
      const j = order[oj];
      if (suppressed[j] === 0 && boxIoU(bi, boxes[j]) > iouThreshold) suppressed[j] = 1;
    }
  }
  return keep;
}
