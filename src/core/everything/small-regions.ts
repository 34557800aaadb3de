/**
 * Removal of small disconnected regions and holes from masks, and the NMS pass that follows
 * it in segment-everything (segment-anything's remove_small_regions and
 * postprocess_small_regions).
 */
import { assertArgument } from '../errors.js';
import { assertMask, labelPixels, maskToBox } from '../mask.js';
import type { BinaryMask, BoxXYXY } from '../types.js';
import { boxNms } from './nms.js';

/**
 * 'holes': 8-connected components of the BACKGROUND with fewer than minArea pixels become
 * foreground (including small background regions touching the border, as the reference).
 * 'islands': 8-connected foreground components with fewer than minArea pixels are removed; if
 * every component is that small, the largest (first on ties) is kept. `changed` says whether
 * any small region was found; when false the input mask itself is returned.
 */
export function removeSmallRegions(
  mask: BinaryMask,
  minArea: number,
  mode: 'holes' | 'islands',
): { mask: BinaryMask; changed: boolean } {
  assertMask(mask);
  assertArgument(typeof minArea === 'number' && !Number.isNaN(minArea), 'minArea', 'a number', minArea);
  assertArgument(mode === 'holes' || mode === 'islands', 'mode', "'holes' or 'islands'", mode);
  const holes = mode === 'holes';
  const { width, height, data } = mask;
  const { labels, count, areas } = labelPixels(data, width, height, holes ? 0 : 1, 8);
  let smallCount = 0;
  let largest = 0;
  for (let k = 0; k < count; k++) {
    if (areas[k] < minArea) smallCount++;
    if (areas[k] > areas[largest]) largest = k;
  }
  if (smallCount === 0) return { mask, changed: false };
  // 1 for each label (index = label) whose pixels end up as foreground.
  const foregroundLabel = new Uint8Array(count + 1);
  if (holes) {
    foregroundLabel[0] = 1;
    for (let k = 0; k < count; k++) if (areas[k] < minArea) foregroundLabel[k + 1] = 1;
  } else {
    for (let k = 0; k < count; k++) if (areas[k] >= minArea) foregroundLabel[k + 1] = 1;
    if (smallCount === count) foregroundLabel[largest + 1] = 1;
  }
  const out = new Uint8Array(width * height);
  for (let i = 0; i < out.length; i++) out[i] = foregroundLabel[labels[i]];
  return { mask: { width, height, data: out }, changed: true };
}

/**
 * Per mask: fill small holes, then remove small islands; then greedy NMS over the new boxes,
 * scoring unchanged masks 1 and changed ones 0 so that an untouched mask wins over a cleaned
 * duplicate. `keep` lists indices into the input in NMS order (unchanged masks first), and
 * `masks[k]` is the cleaned mask of input `keep[k]`.
 */
export function cleanupSmallRegions(
  masks: BinaryMask[],
  minArea: number,
  nmsThreshold: number,
): { masks: BinaryMask[]; keep: number[] } {
  assertArgument(Array.isArray(masks), 'masks', 'an array of masks', masks);
  assertArgument(
    typeof nmsThreshold === 'number' && !Number.isNaN(nmsThreshold),
    'nmsThreshold',
    'a number',
    nmsThreshold,
  );
  const cleaned: BinaryMask[] = [];
  const boxes: BoxXYXY[] = [];
  const scores = new Float64Array(masks.length);
  masks.forEach((m, i) => {
    assertMask(m, `masks[${i}]`);
    const filled = removeSmallRegions(m, minArea, 'holes');
    const trimmed = removeSmallRegions(filled.mask, minArea, 'islands');
    cleaned.push(trimmed.mask);
    boxes.push(maskToBox(trimmed.mask));
    scores[i] = filled.changed || trimmed.changed ? 0 : 1;
  });
  const keep = boxNms(boxes, scores, nmsThreshold);
  return { masks: keep.map((i) => cleaned[i]), keep };
}
