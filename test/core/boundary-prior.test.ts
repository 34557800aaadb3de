import { describe, expect, it } from 'vitest';
import { isSalipError } from '../../src/core/errors.js';
import { createMask } from '../../src/core/mask.js';
import {
  boundaryAgreement,
  boundaryBandRadius,
  boundaryContrast,
  boundaryPrior,
  luminanceOf,
  MIN_BOUNDARY_SPREAD,
} from '../../src/core/boundary-prior.js';
import { discMask } from '../helpers/masks.js';
import type { BinaryMask, RgbImage } from '../../src/core/types.js';

const SIZE = 96;

const disc = (cx: number, cy: number, r: number): BinaryMask => discMask(SIZE, SIZE, cx, cy, r);

/** A gray image of a "head": mid-gray inside, a bright wall of 4 px at radius 26-30, dark outside. */
function headImage(): RgbImage {
  const data = new Uint8Array(SIZE * SIZE * 3);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const d = Math.hypot(x - 48, y - 48);
      const v = d <= 26 ? 90 : d <= 30 ? 240 : 30;
      data.fill(v, 3 * (y * SIZE + x), 3 * (y * SIZE + x) + 3);
    }
  }
  return { width: SIZE, height: SIZE, data };
}

describe('boundary prior', () => {
  const lum = luminanceOf(headImage());

  it('the whole head (wall inside) has a bright-inside outline, its interior (wall outside) a dark-inside one, a leak little of either', () => {
    const whole = boundaryContrast(disc(48, 48, 30), lum);
    const interior = boundaryContrast(disc(48, 48, 25), lum);
    const leak = boundaryContrast(disc(48, 48, 42), lum);
    expect(whole).toBeGreaterThan(1);
    expect(interior).toBeLessThan(-1);
    expect(Math.abs(leak)).toBeLessThan(0.2);
  });

  it('agreement is 1 at the exemplars\u2019 mean contrast and falls off in their spread', () => {
    const prior = boundaryPrior([1.0, 1.5, 2.0]);
    expect(prior.mean).toBeCloseTo(1.5, 6);
    expect(prior.spread).toBeCloseTo(Math.sqrt((0.25 + 0 + 0.25) / 3), 6);
    expect(boundaryAgreement(prior, 1.5)).toBe(1);
    expect(boundaryAgreement(prior, 1.5 + prior.spread)).toBeCloseTo(Math.exp(-0.5), 6);
    expect(boundaryAgreement(prior, -1)).toBeLessThan(1e-3);
    // Exemplars that agree exactly still leave room for a candidate near them.
    expect(boundaryPrior([1, 1, 1]).spread).toBe(MIN_BOUNDARY_SPREAD);
  });

  it('ranks the whole head over its interior and a leak, against exemplars of whole heads', () => {
    const prior = boundaryPrior([boundaryContrast(disc(48, 48, 30), lum), boundaryContrast(disc(48, 48, 31), lum)]);
    const [whole, interior, leak] = [disc(48, 48, 30), disc(48, 48, 25), disc(48, 48, 44)].map((m) => boundaryAgreement(prior, boundaryContrast(m, lum)));
    expect(whole).toBeGreaterThan(0.5);
    expect(interior).toBeLessThan(0.1);
    expect(leak).toBeLessThan(0.1);
  });

  it('bands scale with the mask: 5 % of its equivalent diameter, at least 1 px', () => {
    expect(boundaryBandRadius(Math.PI * 50 * 50)).toBe(5);
    expect(boundaryBandRadius(3)).toBe(1);
  });

  it('an empty mask or one covering the whole image has contrast 0; sizes must match', () => {
    expect(boundaryContrast(createMask(SIZE, SIZE), lum)).toBe(0);
    const all = createMask(SIZE, SIZE);
    all.data.fill(1);
    expect(boundaryContrast(all, lum)).toBe(0);
    let caught: unknown;
    try {
      boundaryContrast(createMask(10, 10), lum);
    } catch (e) {
      caught = e;
    }
    expect(isSalipError(caught) && caught.code === 'SIZE_MISMATCH').toBe(true);
    expect(() => boundaryPrior([])).toThrow(/no exemplar contrasts/);
  });
});
