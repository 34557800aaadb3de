/** Stability score of a mask's logits (segment-anything's calculate_stability_score). */
import { assertArgument } from '../errors.js';

/**
 * |logits > threshold + offset| / |logits > threshold - offset|: the IoU of the masks cut at two
 * thresholds (the higher mask is inside the lower one). A denominator of 0 gives 0 (the
 * reference yields NaN, which never passes a threshold either).
 */
export function stabilityScore(logits: Float32Array, threshold: number, offset: number): number {
  assertArgument(logits instanceof Float32Array, 'logits', 'a Float32Array', logits);
  assertArgument(Number.isFinite(threshold), 'threshold', 'a finite number', threshold);
  assertArgument(Number.isFinite(offset), 'offset', 'a finite number', offset);
  const high = threshold + offset;
  const low = threshold - offset;
  let intersections = 0;
  let unions = 0;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i];
    if (v > high) intersections++;
    if (v > low) unions++;
  }
  return unions === 0 ? 0 : intersections / unions;
}
