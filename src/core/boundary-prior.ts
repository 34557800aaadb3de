/**
 * What the exemplars say about the organ's outline: how much brighter (or darker) the image is
 * just inside the mask's edge than just outside it, in units of the image's own spread. A fetal
 * head's outline runs along the outer edge of the bright skull (inside much brighter than
 * outside); a lung's along dark lung against bright ribs and mediastinum (inside darker). A
 * candidate that leaked into the surrounding tissue, or stopped at the inner edge of the skull,
 * has an outline with another contrast, which the embedding similarity (pooled over the whole
 * region) and the box and shape priors do not see.
 */
import { SalipError } from './errors.js';
import { dilateDisc, maskBoundary } from './draw.js';
import { maskArea } from './mask.js';
import type { BinaryMask, RgbImage } from './types.js';

/** An image's luminance (0-255) with its mean and standard deviation. */
export interface Luminance {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
  readonly std: number;
}

/** Rec. 601 luma of an RGB image, and its spread (at least 1, so flat images do not divide by 0). */
export function luminanceOf(image: RgbImage): Luminance {
  const n = image.width * image.height;
  const data = new Float32Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = 0.299 * image.data[3 * i] + 0.587 * image.data[3 * i + 1] + 0.114 * image.data[3 * i + 2];
    data[i] = v;
    sum += v;
  }
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (data[i] - mean) ** 2;
  return { width: image.width, height: image.height, data, std: Math.max(1, Math.sqrt(sq / n)) };
}

/**
 * Band width for a mask of `area` pixels: 5 % of its equivalent diameter, at least 1 pixel, so
 * the bands scale with the organ (a skull's wall is a few percent of the head's width).
 */
export function boundaryBandRadius(area: number): number {
  return Math.max(1, Math.round(0.05 * 2 * Math.sqrt(area / Math.PI)));
}

/**
 * (mean luminance of the band just inside the mask's edge - that of the band just outside it) /
 * the image's standard deviation. 0 for an empty mask or one with no outside band (the whole
 * image).
 */
export function boundaryContrast(mask: BinaryMask, luminance: Luminance): number {
  const { width, height } = mask;
  if (luminance.width !== width || luminance.height !== height) {
    throw new SalipError('SIZE_MISMATCH', `boundaryContrast: mask is ${width} x ${height}, luminance ${luminance.width} x ${luminance.height}`);
  }
  const area = maskArea(mask);
  if (area === 0) return 0;
  // Only the outline's pixels need growing: the bands are the pixels within `radius` of it. The
  // image's edge is no outline here: there is no outside band beyond it.
  const edge = maskBoundary(mask, { frameIsOutside: false });
  const bands = dilateDisc(edge, width, height, boundaryBandRadius(area));
  let inner = 0;
  let innerCount = 0;
  let outer = 0;
  let outerCount = 0;
  for (let i = 0; i < bands.length; i++) {
    if (!bands[i]) continue;
    if (mask.data[i]) {
      inner += luminance.data[i];
      innerCount++;
    } else {
      outer += luminance.data[i];
      outerCount++;
    }
  }
  if (innerCount === 0 || outerCount === 0) return 0;
  return (inner / innerCount - outer / outerCount) / luminance.std;
}

/** The exemplars' outline contrasts: their mean and spread (spread at least `minSpread`). */
export interface BoundaryPrior {
  readonly mean: number;
  readonly spread: number;
}

/** Contrast spreads below this are the exemplars agreeing by chance; 0.25 image std. */
export const MIN_BOUNDARY_SPREAD = 0.25;

export function boundaryPrior(contrasts: readonly number[], minSpread = MIN_BOUNDARY_SPREAD): BoundaryPrior {
  if (contrasts.length === 0) throw new SalipError('INVALID_TASK', 'boundaryPrior: no exemplar contrasts');
  const mean = contrasts.reduce((a, b) => a + b, 0) / contrasts.length;
  const variance = contrasts.reduce((a, b) => a + (b - mean) ** 2, 0) / contrasts.length;
  return { mean, spread: Math.max(minSpread, Math.sqrt(variance)) };
}

/** 1 for a candidate whose outline contrast is the exemplars' mean, falling as a Gaussian in their spread. */
export function boundaryAgreement(prior: BoundaryPrior, contrast: number): number {
  const z = (contrast - prior.mean) / prior.spread;
  return Math.exp(-0.5 * z * z);
}
