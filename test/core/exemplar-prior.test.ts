import { describe, expect, it } from 'vitest';
import { isSalipError } from '../../src/core/errors.js';
import { denormalizeBox, exemplarPrior, normalizeBox, partBoxes, priorBoxAgreement, smallestExemplarPart } from '../../src/core/exemplar-prior.js';
import { createMask } from '../../src/core/mask.js';
import type { BinaryMask, BoxXYXY } from '../../src/core/types.js';

/** A width x height mask with the given inclusive boxes filled. */
function boxesMask(width: number, height: number, boxes: BoxXYXY[]): BinaryMask {
  const m = createMask(width, height);
  for (const [x0, y0, x1, y1] of boxes) for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) m.data[y * width + x] = 1;
  return m;
}

describe('normalised boxes', () => {
  it('normalise an inclusive pixel box to fractions and back', () => {
    expect(normalizeBox([10, 20, 29, 59], 100, 200)).toEqual([0.1, 0.1, 0.3, 0.3]);
    expect(denormalizeBox([0.1, 0.1, 0.3, 0.3], 100, 200)).toEqual([10, 20, 29, 59]);
    // Scaled to another size, the same fractions.
    expect(denormalizeBox([0.1, 0.1, 0.3, 0.3], 50, 100)).toEqual([5, 10, 14, 29]);
  });

  it('clamps boxes that reach outside the image', () => {
    expect(denormalizeBox([-0.2, 0.5, 1.3, 2], 10, 10)).toEqual([0, 5, 9, 9]);
  });
});

describe('partBoxes', () => {
  it('orders the largest components left to right and ignores specks', () => {
    const m = boxesMask(40, 20, [[25, 2, 35, 15], [2, 3, 12, 14], [20, 18, 20, 18]]);
    expect(partBoxes(m, 2)).toEqual([[2, 3, 12, 14], [25, 2, 35, 15]]);
    expect(partBoxes(m, 1)).toEqual([[25, 2, 35, 15]]);
    expect(partBoxes(m, 3)).toBeNull();
    expect(partBoxes(createMask(5, 5), 1)).toBeNull();
  });
});

describe('exemplarPrior', () => {
  it('averages normalised part boxes over exemplars of different sizes', () => {
    const a = boxesMask(100, 100, [[10, 10, 29, 49], [60, 10, 79, 49]]);
    const b = boxesMask(200, 200, [[40, 20, 79, 99], [120, 20, 159, 99]]);
    const prior = exemplarPrior([a, b], 2);
    expect(prior.partSources).toBe(2);
    const [left, right] = prior.parts;
    expect(left.map((v) => +v.toFixed(4))).toEqual([0.15, 0.1, 0.35, 0.5]);
    expect(right.map((v) => +v.toFixed(4))).toEqual([0.6, 0.1, 0.8, 0.5]);
    expect(prior.whole.map((v) => +v.toFixed(4))).toEqual([0.15, 0.1, 0.8, 0.5]);
    expect(prior.consistency).toBeGreaterThan(0.8);
  });

  it('measures consistency as the mean pairwise IoU of the whole boxes', () => {
    const same = exemplarPrior([boxesMask(10, 10, [[0, 0, 4, 4]]), boxesMask(10, 10, [[0, 0, 4, 4]])]);
    expect(same.consistency).toBeCloseTo(1, 6);
    const apart = exemplarPrior([boxesMask(10, 10, [[0, 0, 4, 4]]), boxesMask(10, 10, [[5, 5, 9, 9]])]);
    expect(apart.consistency).toBe(0);
    expect(exemplarPrior([boxesMask(10, 10, [[0, 0, 4, 4]])]).consistency).toBe(1);
  });

  it('falls back to the whole box per part when no exemplar has enough components', () => {
    const prior = exemplarPrior([boxesMask(10, 10, [[2, 2, 7, 7]])], 2);
    expect(prior.partSources).toBe(0);
    expect(prior.parts).toEqual([prior.whole, prior.whole]);
  });

  it('refuses an empty exemplar mask and bad arguments by name', () => {
    const err = (() => {
      try {
        exemplarPrior([boxesMask(10, 10, [[0, 0, 1, 1]]), createMask(10, 10)]);
      } catch (e) {
        return e;
      }
    })();
    expect(isSalipError(err) && err.code === 'INVALID_TASK' && err.message.includes('masks[1]')).toBe(true);
    expect(() => exemplarPrior([])).toThrow(/at least one/);
    expect(() => exemplarPrior([boxesMask(4, 4, [[0, 0, 1, 1]])], 0)).toThrow(/parts/);
  });

  it('scores agreement as the best IoU with a part box', () => {
    const prior = exemplarPrior([boxesMask(100, 100, [[10, 10, 29, 49], [60, 10, 79, 49]])], 2);
    expect(priorBoxAgreement(prior, [60, 10, 79, 49], 100, 100)).toBeCloseTo(1, 6);
    expect(priorBoxAgreement(prior, [120, 120, 180, 180], 200, 200)).toBe(0);
    expect(priorBoxAgreement(prior, [10, 10, 29, 29], 100, 100)).toBeCloseTo(0.5, 6);
  });
});

describe('smallestExemplarPart', () => {
  const boxes = boxesMask;

  it('is the smallest part over the exemplars, as a fraction of each exemplar\u2019s own image', () => {
    // 10 x 10 of 100 x 100 = 0.01; 20 x 20 of 200 x 100 = 0.02.
    expect(smallestExemplarPart([boxes(100, 100, [[0, 0, 9, 9]]), boxes(200, 100, [[0, 0, 19, 19]])])).toBeCloseTo(0.01);
  });

  it('takes the smaller of the two largest parts for two parts, ignores noise, and falls back to the whole mask', () => {
    // Parts of 400 and 100 pixels and a 4-pixel speck (under 1/20 of the largest).
    const lungs = boxes(100, 100, [[0, 0, 19, 19], [40, 40, 49, 49], [80, 80, 81, 81]]);
    expect(smallestExemplarPart([lungs], 2)).toBeCloseTo(100 / 10000);
    expect(smallestExemplarPart([lungs], 1)).toBeCloseTo(400 / 10000);
    // One component only: for two parts it counts whole.
    expect(smallestExemplarPart([boxes(100, 100, [[0, 0, 19, 19]])], 2)).toBeCloseTo(400 / 10000);
  });

  it('refuses an empty exemplar mask and an empty list', () => {
    for (const run of [() => smallestExemplarPart([createMask(8, 8)]), () => smallestExemplarPart([])]) {
      try {
        run();
        expect.unreachable();
      } catch (e) {
        expect(isSalipError(e)).toBe(true);
      }
    }
  });
});
