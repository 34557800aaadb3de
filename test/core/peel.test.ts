import { describe, expect, it } from 'vitest';
import { luminanceOf } from '../../src/core/boundary-prior.js';
import { isSalipError } from '../../src/core/errors.js';
import { createMask, maskArea } from '../../src/core/mask.js';
import { insideAndAroundMedians, peelPrior, peelSurroundings } from '../../src/core/peel.js';
import { brainSlice, discMask } from '../helpers/masks.js';

describe('peelPrior', () => {
  it('learns the halfway luminance as a share of the organ, and which side the organ is on', () => {
    const { image, brain } = brainSlice(64);
    const luminance = luminanceOf(image);
    const medians = insideAndAroundMedians(brain, luminance);
    expect(medians.inside).toBeCloseTo(120, 0);
    // The band just outside the brain is the CSF gap (and the sulcus).
    expect(medians.around).toBeCloseTo(20, 0);
    const prior = peelPrior([{ mask: brain, luminance }])!;
    expect(prior.organIsBrighter).toBe(true);
    expect(prior.ratio).toBeCloseTo(70 / 120, 2);
    const dark = brainSlice(64, { inverted: true });
    const inverted = peelPrior([{ mask: dark.brain, luminance: luminanceOf(dark.image) }])!;
    expect(inverted.organIsBrighter).toBe(false);
    expect(inverted.ratio).toBeCloseTo((135 + 235) / 2 / 135, 2);
  });

  it('has nothing to learn from a black organ or a mask covering the image', () => {
    const black = { width: 8, height: 8, data: new Float32Array(64), std: 1 };
    expect(peelPrior([{ mask: discMask(8, 8, 4, 4, 2), luminance: black }])).toBeUndefined();
    const all = createMask(8, 8);
    all.data.fill(1);
    expect(peelPrior([{ mask: all, luminance: { ...black, data: new Float32Array(64).fill(100) } }])).toBeUndefined();
    expect(peelPrior([])).toBeUndefined();
  });
});

describe('peelSurroundings', () => {
  const exemplar = brainSlice(64);
  const prior = peelPrior([{ mask: exemplar.brain, luminance: luminanceOf(exemplar.image) }])!;

  it("peels the dark gap and the sulcus that opens onto it, and keeps the ventricle tissue encloses", () => {
    const { image, brain, withGap } = brainSlice(64);
    const peeled = peelSurroundings(withGap, luminanceOf(image), prior);
    expect(peeled.data).toEqual(brain.data);
    // The input is not touched.
    expect(maskArea(withGap)).toBeGreaterThan(maskArea(brain));
  });

  it('cuts another scan of another intensity scale the same way (the threshold is relative)', () => {
    const dim = brainSlice(64, { scale: 0.5 });
    expect(peelSurroundings(dim.withGap, luminanceOf(dim.image), prior).data).toEqual(dim.brain.data);
  });

  it('peels the brighter side for an organ darker than its surroundings', () => {
    const dark = brainSlice(64, { inverted: true });
    const darkPrior = peelPrior([{ mask: dark.brain, luminance: luminanceOf(dark.image) }])!;
    expect(peelSurroundings(dark.withGap, luminanceOf(dark.image), darkPrior).data).toEqual(dark.brain.data);
  });

  it('leaves a mask with nothing on the surroundings side, and an empty mask, as they are', () => {
    const { image, brain } = brainSlice(64);
    expect(peelSurroundings(brain, luminanceOf(image), prior).data).toEqual(brain.data);
    const empty = createMask(64, 64);
    expect(peelSurroundings(empty, luminanceOf(image), prior)).toBe(empty);
  });

  it('refuses a mask and a luminance of different sizes, naming both', () => {
    const { image } = brainSlice(64);
    try {
      peelSurroundings(createMask(32, 32), luminanceOf(image), prior);
      expect.unreachable();
    } catch (err) {
      expect(isSalipError(err) && err.code).toBe('SIZE_MISMATCH');
      expect((err as Error).message).toMatch(/32 x 32.*64 x 64/);
    }
  });
});
