/**
 * Peeling an organ's surroundings off its mask by intensity. SAM's mask of an organ that sits
 * inside a dark gap (the brain in its CSF under the skull on T1 MRI) often takes the gap with it,
 * and at the top of the head, where sulci open onto the surface, the gap reaches deep into the
 * organ. The exemplars say how bright the organ is against its surroundings; pixels of a mask
 * that are on the surroundings' side of the halfway point, and that reach the mask's outline
 * through such pixels, are the gap: they are peeled off from the outside in. Dark pixels enclosed
 * by organ (a ventricle) are kept.
 *
 * The threshold is relative (a share of the organ's median luminance, measured on each exemplar
 * and applied to the mask's own median), so a scan with another intensity scale than the
 * exemplars' gets the same cut.
 */
import { boundaryBandRadius, type Luminance } from './boundary-prior.js';
import { dilateDisc } from './draw.js';
import { SalipError } from './errors.js';
import { createMask, maskArea } from './mask.js';
import type { BinaryMask } from './types.js';

/** What the exemplars say about where the organ ends and its surroundings begin, in luminance. */
export interface PeelPrior {
  /**
   * The luminance halfway between the organ's median and its surroundings' median (the band just
   * outside the mask, boundary-prior.ts's width), as a share of the organ's median; averaged over
   * the exemplars.
   */
  readonly ratio: number;
  /** The organ is brighter than its surroundings (on most exemplars): darker pixels are peeled. */
  readonly organIsBrighter: boolean;
}

function median(values: Float32Array, count: number): number {
  const sorted = values.subarray(0, count).sort();
  return count === 0 ? NaN : sorted[Math.floor(count / 2)];
}

function checkSize(mask: BinaryMask, luminance: Luminance, what: string): void {
  if (luminance.width !== mask.width || luminance.height !== mask.height) {
    throw new SalipError('SIZE_MISMATCH', `${what}: mask is ${mask.width} x ${mask.height}, luminance ${luminance.width} x ${luminance.height}`);
  }
}

/** The median luminance inside `mask` and in the band just outside it (NaN where there is none). */
export function insideAndAroundMedians(mask: BinaryMask, luminance: Luminance): { inside: number; around: number } {
  checkSize(mask, luminance, 'insideAndAroundMedians');
  const area = maskArea(mask);
  const band = dilateDisc(mask.data, mask.width, mask.height, boundaryBandRadius(area));
  const inside = new Float32Array(area);
  const around = new Float32Array(mask.data.length - area);
  let a = 0;
  let b = 0;
  for (let i = 0; i < mask.data.length; i++) {
    if (mask.data[i]) inside[a++] = luminance.data[i];
    else if (band[i]) around[b++] = luminance.data[i];
  }
  return { inside: median(inside, a), around: median(around, b) };
}

/**
 * The peel prior of exemplar masks with their images' luminance; undefined when no exemplar has
 * an organ brighter than zero and a band around it (nothing to learn a threshold from).
 */
export function peelPrior(exemplars: readonly { mask: BinaryMask; luminance: Luminance }[]): PeelPrior | undefined {
  let sum = 0;
  let n = 0;
  let brighter = 0;
  for (const { mask, luminance } of exemplars) {
    const { inside, around } = insideAndAroundMedians(mask, luminance);
    if (!(inside > 0) || Number.isNaN(around)) continue;
    sum += (inside + around) / 2 / inside;
    n++;
    if (inside >= around) brighter++;
  }
  return n === 0 ? undefined : { ratio: sum / n, organIsBrighter: brighter * 2 >= n };
}

/**
 * `mask` without the pixels on the surroundings' side of the prior's threshold (the ratio times
 * the mask's own median luminance) that connect to the mask's outside through such pixels
 * (4-connectivity; the image's border counts as outside). The mask itself when nothing is on
 * that side. The result can fall apart into pieces; the caller keeps what it wants of them.
 */
export function peelSurroundings(mask: BinaryMask, luminance: Luminance, prior: PeelPrior): BinaryMask {
  checkSize(mask, luminance, 'peelSurroundings');
  const { width, height } = mask;
  const area = maskArea(mask);
  if (area === 0) return mask;
  const values = new Float32Array(area);
  let k = 0;
  for (let i = 0; i < mask.data.length; i++) if (mask.data[i]) values[k++] = luminance.data[i];
  const threshold = prior.ratio * median(values, k);
  const out = createMask(width, height);
  for (let i = 0; i < mask.data.length; i++) out.data[i] = mask.data[i] ? 1 : 0;
  const lum = luminance.data;
  const peelable = prior.organIsBrighter ? (i: number) => out.data[i] === 1 && lum[i] < threshold : (i: number) => out.data[i] === 1 && lum[i] > threshold;
  const inside = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && mask.data[y * width + x] !== 0;
  const queue: number[] = [];
  for (let i = 0; i < out.data.length; i++) {
    if (!peelable(i)) continue;
    const x = i % width;
    const y = (i - x) / width;
    if (!inside(x - 1, y) || !inside(x + 1, y) || !inside(x, y - 1) || !inside(x, y + 1)) {
      out.data[i] = 0;
      queue.push(i);
    }
  }
  while (queue.length > 0) {
    const i = queue.pop()!;
    const x = i % width;
    const neighbours = [x > 0 ? i - 1 : -1, x < width - 1 ? i + 1 : -1, i >= width ? i - width : -1, i + width < out.data.length ? i + width : -1];
    for (const j of neighbours) {
      if (j >= 0 && peelable(j)) {
        out.data[j] = 0;
        queue.push(j);
      }
    }
  }
  return out;
}
