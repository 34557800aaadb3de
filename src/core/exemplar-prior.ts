/**
 * Where the exemplars say the organ is: their masks' boxes in normalised coordinates (0..1 of
 * the image's width and height), averaged per part. A new image of the same kind (a chest X-ray,
 * a head MRI slice) shows the organ near the same place and at a similar size, so the mean box,
 * scaled to the image, is a prompt for SAM and a prior for ranking candidates. How much the
 * exemplars agree with each other (their boxes' mean pairwise IoU) says how far to trust it:
 * hearts on radiographs agree closely, fetal heads in ultrasound sweeps do not.
 */
import { SalipError } from './errors.js';
import { boxIoU, connectedComponents, maskArea, maskToBox } from './mask.js';
import type { BinaryMask, BoxXYXY } from './types.js';

/** A box as fractions of the image: [x0, y0, x1, y1] with 0 = left/top edge, 1 = right/bottom. */
export type NormalizedBox = [number, number, number, number];

export interface ExemplarPrior {
  /** Mean normalised box of each part (the `parts` largest components), ordered left to right. */
  readonly parts: NormalizedBox[];
  /** Mean normalised box of the whole mask. */
  readonly whole: NormalizedBox;
  /**
   * Mean pairwise IoU of the exemplars' whole-mask boxes (1 with a single exemplar): how
   * consistent the organ's place and size are across the exemplars.
   */
  readonly consistency: number;
  /** How many exemplars the part boxes were averaged over (those with at least `parts` components). */
  readonly partSources: number;
}

/** A pixel box (inclusive XYXY as maskToBox gives) as fractions of a width x height image. */
export function normalizeBox(box: BoxXYXY, width: number, height: number): NormalizedBox {
  return [box[0] / width, box[1] / height, (box[2] + 1) / width, (box[3] + 1) / height];
}

/** A normalised box scaled to a width x height image (inclusive pixel XYXY, clamped). */
export function denormalizeBox(box: NormalizedBox, width: number, height: number): BoxXYXY {
  const clamp = (v: number, max: number) => Math.min(max, Math.max(0, v));
  const x0 = clamp(Math.round(box[0] * width), width - 1);
  const y0 = clamp(Math.round(box[1] * height), height - 1);
  return [x0, y0, Math.max(x0, clamp(Math.round(box[2] * width) - 1, width - 1)), Math.max(y0, clamp(Math.round(box[3] * height) - 1, height - 1))];
}

/**
 * A mask's components (8-connectivity) largest first, without those under 1/20 of the largest
 * (noise); empty for an empty mask.
 */
function significantComponents(mask: BinaryMask): Array<{ area: number; box: BoxXYXY }> {
  const { areas, boxes } = connectedComponents(mask, 8);
  const largest = Math.max(0, ...areas);
  if (largest === 0) return [];
  return areas
    .map((area, i) => ({ area, box: boxes[i] }))
    .filter((c) => c.area * 20 >= largest)
    .sort((a, b) => b.area - a.area);
}

/**
 * The boxes of a mask's `parts` largest components (8-connectivity), ordered by their centre's
 * x, or null when the mask has fewer components. Components under 1/20 of the largest are noise.
 */
export function partBoxes(mask: BinaryMask, parts: number): BoxXYXY[] | null {
  const kept = significantComponents(mask).slice(0, parts);
  if (kept.length === 0 || kept.length < parts) return null;
  return kept.map((c) => c.box).sort((a, b) => a[0] + a[2] - (b[0] + b[2]));
}

function meanBox(boxes: readonly NormalizedBox[]): NormalizedBox {
  const sum: NormalizedBox = [0, 0, 0, 0];
  for (const b of boxes) for (let k = 0; k < 4; k++) sum[k] += b[k];
  return sum.map((v) => v / boxes.length) as NormalizedBox;
}

/**
 * The prior of a list of exemplar masks for a class of `parts` parts (its topK: 2 for the two
 * lungs). Exemplars whose mask has fewer components than `parts` still count for the whole box;
 * when none has enough, each part is the whole box.
 */
export function exemplarPrior(masks: readonly BinaryMask[], parts = 1): ExemplarPrior {
  if (!Array.isArray(masks) || masks.length === 0) {
    throw new SalipError('INVALID_ARGUMENT', 'exemplarPrior: masks: expected at least one exemplar mask');
  }
  if (!Number.isInteger(parts) || parts < 1) throw new SalipError('INVALID_ARGUMENT', `exemplarPrior: parts: expected an integer >= 1, got ${parts}`);
  const wholes: NormalizedBox[] = [];
  const perPart: NormalizedBox[][] = Array.from({ length: parts }, () => []);
  masks.forEach((mask, j) => {
    const all = partBoxes(mask, 1);
    if (!all) throw new SalipError('INVALID_TASK', `exemplarPrior: masks[${j}] is empty (an exemplar must show the class)`);
    const whole = maskToBox(mask);
    wholes.push(normalizeBox(whole, mask.width, mask.height));
    const boxes = parts === 1 ? [whole] : partBoxes(mask, parts);
    boxes?.forEach((b, k) => perPart[k].push(normalizeBox(b, mask.width, mask.height)));
  });
  const whole = meanBox(wholes);
  const partSources = perPart[0].length;
  const partsOut = partSources > 0 ? perPart.map(meanBox) : Array.from({ length: parts }, () => whole);
  let pairs = 0;
  let iouSum = 0;
  for (let a = 0; a < wholes.length; a++) {
    for (let b = a + 1; b < wholes.length; b++) {
      iouSum += boxIoU(wholes[a], wholes[b]);
      pairs++;
    }
  }
  return { parts: partsOut, whole, consistency: pairs === 0 ? 1 : iouSum / pairs, partSources };
}

/**
 * How well a candidate's box (pixels of a width x height image) matches the prior: the highest
 * IoU with any part box, in normalised coordinates (0 = nowhere near, 1 = the same box).
 */
export function priorBoxAgreement(prior: ExemplarPrior, box: BoxXYXY, width: number, height: number): number {
  const b = normalizeBox(box, width, height);
  let best = 0;
  for (const part of prior.parts) best = Math.max(best, boxIoU(part, b));
  return best;
}

/**
 * The area of the smallest exemplar part, as a fraction of its image: over the exemplars, the
 * smallest of their `parts` largest components (their whole mask when they have fewer). Parts
 * under 1/20 of the largest are noise, as in partBoxes.
 */
export function smallestExemplarPart(masks: readonly BinaryMask[], parts = 1): number {
  if (!Array.isArray(masks) || masks.length === 0) {
    throw new SalipError('INVALID_ARGUMENT', 'smallestExemplarPart: masks: expected at least one exemplar mask');
  }
  let smallest = Infinity;
  masks.forEach((mask, j) => {
    const kept = significantComponents(mask);
    if (kept.length === 0) throw new SalipError('INVALID_TASK', `smallestExemplarPart: masks[${j}] is empty (an exemplar must show the class)`);
    const part = kept.length >= parts ? kept[parts - 1].area : maskArea(mask);
    smallest = Math.min(smallest, part / (mask.width * mask.height));
  });
  return smallest;
}
