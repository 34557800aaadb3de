/**
 * How well a mask's outline follows the image's edges. An organ's outline is where the image
 * changes (a skull's wall, the edge of a lung field); a mask that leaked through a gap in that
 * wall spreads into tissue of one texture, and much of its outline then runs where the image is
 * flat. The exemplars tell how strong the organ's edges are in these images; a candidate whose
 * outline is weaker than theirs loses, up to a factor of 2.
 */
import { maskBoundary } from './draw.js';
import { SalipError } from './errors.js';
import type { Luminance } from './boundary-prior.js';
import type { BinaryMask } from './types.js';

/** An image's edge strength per pixel: the largest Sobel gradient within a small window, in units of the image's mean gradient. */
export interface EdgeMap {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
}

/**
 * Sobel gradient magnitude of the luminance, divided by its mean over the image (so strengths
 * compare across images of other contrast), then the largest value within a square window of
 * radius 1/128 of the short side (2 pixels at 256), so an outline a pixel or two off the edge
 * still finds it.
 */
export function edgeMap(luminance: Luminance): EdgeMap {
  const { width, height, data } = luminance;
  const gradient = new Float32Array(width * height);
  let sum = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      const gx = data[i - width + 1] + 2 * data[i + 1] + data[i + width + 1] - data[i - width - 1] - 2 * data[i - 1] - data[i + width - 1];
      const gy = data[i + width - 1] + 2 * data[i + width] + data[i + width + 1] - data[i - width - 1] - 2 * data[i - width] - data[i - width + 1];
      gradient[i] = Math.hypot(gx, gy);
      sum += gradient[i];
    }
  }
  const mean = sum / (width * height);
  if (mean > 0) for (let i = 0; i < gradient.length; i++) gradient[i] /= mean;
  return { width, height, data: maxFilter(gradient, width, height, Math.max(1, Math.round(Math.min(width, height) / 128))) };
}

/** Largest value within Chebyshev distance `radius` (separable: rows, then columns). */
function maxFilter(values: Float32Array, width: number, height: number, radius: number): Float32Array {
  const rows = new Float32Array(values.length);
  maxAlongLines(values, rows, height, width, width, 1, radius);
  const out = new Float32Array(values.length);
  maxAlongLines(rows, out, width, height, 1, width, radius);
  return out;
}

/**
 * One pass of maxFilter: `lines` lines of `length` values each, line l starting at l * lineStep
 * and its values `step` apart; each output value the largest within `radius` along its line.
 */
function maxAlongLines(src: Float32Array, dst: Float32Array, lines: number, length: number, lineStep: number, step: number, radius: number): void {
  for (let l = 0; l < lines; l++) {
    const start = l * lineStep;
    for (let p = 0; p < length; p++) {
      let best = 0;
      for (let q = Math.max(0, p - radius); q <= Math.min(length - 1, p + radius); q++) best = Math.max(best, src[start + q * step]);
      dst[start + p * step] = best;
    }
  }
}

/** Mean edge strength (edgeMap) over the mask's outline pixels; 0 for an empty mask. */
export function outlineEdgeStrength(mask: BinaryMask, edges: EdgeMap): number {
  if (edges.width !== mask.width || edges.height !== mask.height) {
    throw new SalipError('SIZE_MISMATCH', `outlineEdgeStrength: mask is ${mask.width} x ${mask.height}, edge map ${edges.width} x ${edges.height}`);
  }
  const outline = maskBoundary(mask);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < outline.length; i++) {
    if (!outline[i]) continue;
    sum += edges.data[i];
    count++;
  }
  return count === 0 ? 0 : sum / count;
}

/** The exemplars' mean outline edge strength (what a candidate's is compared with). */
export function edgePrior(strengths: readonly number[]): number {
  if (strengths.length === 0) throw new SalipError('INVALID_TASK', 'edgePrior: no exemplar edge strengths');
  return strengths.reduce((a, b) => a + b, 0) / strengths.length;
}

/**
 * log2 of the candidate's outline edge strength over the exemplars', clamped to -1..0: 0 at the
 * exemplars' strength or above, -1 at half of it or less. Only a weaker outline counts: a
 * stronger one is no evidence of the organ (a speck of bright speckle has the sharpest outline of
 * all). 0 when the exemplars' outlines lie on no edge at all (nothing to compare with).
 */
export function edgeAgreement(prior: number, strength: number): number {
  if (!(prior > 0)) return 0;
  if (!(strength > 0)) return -1;
  return Math.max(-1, Math.min(0, Math.log2(strength / prior)));
}
