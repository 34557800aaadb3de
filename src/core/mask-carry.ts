/**
 * Carrying a mask from one slice of a volume to the next (pipeline/volume-propagation.ts): the
 * box to prompt SAM with, which of SAM's outputs to keep, and whether the carried mask still
 * shows the organ. Pure functions over plain data; the rules are named so the walk's provenance
 * can say which one fired.
 */
import { SalipError } from './errors.js';
import { createMask, maskArea, maskIoU } from './mask.js';
import { signedDistance } from './mask/distance.js';
import type { BinaryMask, BoxXYXY } from './types.js';

/** `box` widened by `margin` of its size on each side (0 = as it is). */
export function widenBox(box: BoxXYXY, margin: number): BoxXYXY {
  const mx = (box[2] - box[0]) * margin;
  const my = (box[3] - box[1]) * margin;
  return [box[0] - mx, box[1] - my, box[2] + mx, box[3] + my];
}

/**
 * The box a carried slice is prompted with, in mask pixels: the neighbour's mask box widened by
 * `margin` per side, then cut to the anchor's box (the last cascade mask's) widened by `bound`
 * per side, then to the slice. SAM tends to fill the box it is given, so an unbounded carried box
 * can only grow from slice to slice; the anchor's box is the cascade's word on how large the
 * organ is. Without an anchor (bound = Infinity) only the slice limits it.
 */
export function carryBox(neighbour: BoxXYXY, anchor: BoxXYXY | undefined, margin: number, bound: number, width: number, height: number): BoxXYXY {
  const wide = widenBox(neighbour, margin);
  const limit: BoxXYXY = anchor && Number.isFinite(bound) ? widenBox(anchor, bound) : [0, 0, width, height];
  const x0 = Math.max(wide[0], limit[0], 0);
  const y0 = Math.max(wide[1], limit[1], 0);
  const x1 = Math.min(wide[2], limit[2], width);
  const y1 = Math.min(wide[3], limit[3], height);
  // A neighbour wholly outside the bound cannot happen along one walk (the anchor is an earlier
  // mask of the same walk, bound >= 0 keeps its own box); keep the box valid all the same.
  return x1 > x0 && y1 > y0 ? [x0, y0, x1, y1] : [limit[0], limit[1], Math.max(limit[0], limit[2]), Math.max(limit[1], limit[3])];
}

/**
 * Which of SAM's outputs for a carried prompt to keep: the one with the highest IoU with the
 * neighbour's mask (the organ changes little from one slice to the next, while SAM's own
 * ranking prefers whatever fills the box). Ties go to the earlier output. -1 for no outputs.
 */
export function closestMaskIndex(outputs: readonly BinaryMask[], neighbour: BinaryMask): number {
  let best = -1;
  let bestIoU = -Infinity;
  outputs.forEach((mask, i) => {
    const iou = maskIoU(mask, neighbour);
    if (iou > bestIoU) {
      best = i;
      bestIoU = iou;
    }
  });
  return best;
}

/** What is known of a carried mask. */
export interface CarriedMaskFacts {
  readonly area: number;
  /** SAM stability score (logit offset 1). */
  readonly stability: number;
  /** The task scorer's score of the mask (NaN or absent when not scored). */
  readonly score?: number;
}

/** What it is compared with: the neighbour it was carried from and the walk's last cascade mask (the anchor). */
export interface CarryReference {
  readonly sliceArea: number;
  readonly neighbourArea: number;
  readonly anchorArea: number;
  /** The scorer's score of the anchor (NaN or absent when unknown). */
  readonly anchorScore?: number;
}

/** The thresholds of carriedVerdict (see PropagationOptions in pipeline/volume-types.ts). */
export interface CarryRules {
  readonly minAreaFraction: number;
  readonly minStability: number;
  readonly maxGrowth: number;
  readonly maxAnchorGrowth: number;
  /** The carried mask is lost when its score is more than this below the anchor's (Infinity = never). */
  readonly maxScoreDrop: number;
}

/** Which rule of carriedVerdict fired. */
export type CarryRule = 'area' | 'stability' | 'growth' | 'anchor-growth' | 'score';

export type CarryVerdict = { readonly kind: 'keep' } | { readonly kind: 'ended' | 'lost'; readonly rule: CarryRule; readonly reason: string };

/**
 * Whether a carried mask is kept, lost (the cascade should look at the slice again) or says the
 * organ has ended (empty or tiny). First rule that fires wins, in this order: tiny area, low
 * stability, growth over the neighbour, growth over the anchor, score drop from the anchor.
 */
export function carriedVerdict(m: CarriedMaskFacts, ref: CarryReference, rules: CarryRules): CarryVerdict {
  if (m.area < rules.minAreaFraction * ref.sliceArea) return { kind: 'ended', rule: 'area', reason: `area ${m.area} < ${rules.minAreaFraction} of the slice` };
  if (m.stability < rules.minStability) return { kind: 'lost', rule: 'stability', reason: `stability ${m.stability.toFixed(3)} < ${rules.minStability}` };
  const growth = m.area / Math.max(1, ref.neighbourArea);
  if (growth > rules.maxGrowth) return { kind: 'lost', rule: 'growth', reason: `area grew ${growth.toFixed(2)}x > ${rules.maxGrowth}x` };
  const anchorGrowth = m.area / Math.max(1, ref.anchorArea);
  if (anchorGrowth > rules.maxAnchorGrowth) return { kind: 'lost', rule: 'anchor-growth', reason: `area ${anchorGrowth.toFixed(2)}x the last cascade mask's > ${rules.maxAnchorGrowth}x` };
  const drop = scoreDrop(m.score, ref.anchorScore);
  if (drop > rules.maxScoreDrop) return { kind: 'lost', rule: 'score', reason: `score ${m.score!.toFixed(1)} is ${drop.toFixed(1)} below the last cascade mask's > ${rules.maxScoreDrop}` };
  return { kind: 'keep' };
}

/** How far `score` lies below `anchor` (0 when either is unknown). */
export function scoreDrop(score: number | undefined, anchor: number | undefined): number {
  return score !== undefined && anchor !== undefined && Number.isFinite(score) && Number.isFinite(anchor) ? anchor - score : 0;
}

/**
 * The mask a fraction `t` of the way from `a` to `b` (same size), by shape-based interpolation: a
 * pixel is inside where (1 - t) x its signed distance to a's outline + t x its signed distance to
 * b's is <= 0 (ties, a pixel just inside one and just outside the other, count as inside). For the
 * slices between two carried slices, where the organ changes little from one slice to the next.
 * When either mask is empty there is no shape to move: the result is empty.
 */
export function interpolateMasks(a: BinaryMask, b: BinaryMask, t: number): BinaryMask {
  if (a.width !== b.width || a.height !== b.height) throw new SalipError('SIZE_MISMATCH', `interpolateMasks: masks are ${a.width} x ${a.height} and ${b.width} x ${b.height}, expected the same size`);
  if (!(t >= 0 && t <= 1)) throw new SalipError('INVALID_ARGUMENT', `interpolateMasks: t must be in [0, 1], got ${String(t)}`);
  const out = createMask(a.width, a.height);
  if (maskArea(a) === 0 || maskArea(b) === 0) return out;
  const da = signedDistance(a);
  const db = signedDistance(b);
  for (let i = 0; i < out.data.length; i++) {
    // A full mask is -Infinity everywhere; weight 0 times Infinity must not give NaN.
    const v = (t === 1 ? 0 : (1 - t) * da[i]) + (t === 0 ? 0 : t * db[i]);
    out.data[i] = v <= 0 ? 1 : 0;
  }
  return out;
}
