import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boxNms } from '../../../src/core/everything/index.js';
import { boxIoU } from '../../../src/core/mask.js';
import type { BoxXYXY } from '../../../src/core/types.js';

describe('boxNms', () => {
  it('keeps the best of overlapping boxes and disjoint boxes', () => {
    const boxes: BoxXYXY[] = [
      [0, 0, 10, 10],
      [1, 1, 11, 11], // IoU with 0 = 81 / 119 = 0.68
      [0, 0, 10, 9], // IoU with 0 = 0.9
      [50, 50, 60, 60],
    ];
    expect(boxNms(boxes, [0.5, 0.9, 0.8, 0.1], 0.7)).toEqual([1, 2, 3]);
    expect(boxNms(boxes, [0.9, 0.5, 0.8, 0.1], 0.7)).toEqual([0, 1, 3]);
    expect(boxNms(boxes, [0.9, 0.5, 0.8, 0.1], 0.5)).toEqual([0, 3]);
  });
  it('suppresses only when IoU is strictly above the threshold', () => {
    const boxes: BoxXYXY[] = [
      [0, 0, 2, 1],
      [1, 0, 3, 1], // IoU = 1 / 3
    ];
    expect(boxNms(boxes, [1, 0], 1 / 3)).toEqual([0, 1]);
    expect(boxNms(boxes, [1, 0], 0.33)).toEqual([0]);
  });
  it('breaks ties by lower index and ranks NaN scores last', () => {
    const boxes: BoxXYXY[] = [
      [0, 0, 1, 1],
      [5, 5, 6, 6],
      [10, 10, 11, 11],
      [0, 0, 1, 1],
    ];
    expect(boxNms(boxes, [NaN, 1, 1, 1], 0.5)).toEqual([1, 2, 3]);
    expect(boxNms(boxes, [1, 1, 1, 1], 0.5)).toEqual([0, 1, 2]);
  });
  it('never lets zero-area boxes suppress each other (torchvision gives 0/0 there)', () => {
    expect(boxNms([[3, 5, 3, 5], [3, 5, 3, 5]], [1, 0.5], 0.1)).toEqual([0, 1]);
  });
  it('handles the empty input', () => {
    expect(boxNms([], [], 0.7)).toEqual([]);
  });
  it('rejects a score count that does not match', () => {
    expect(() => boxNms([[0, 0, 1, 1]], [1, 2], 0.7)).toThrow(/scores: expected one score per box \(1\)/);
  });
  it('returns a score-ordered subset with no kept pair above the threshold (property)', () => {
    const arbBox = fc
      .tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 15 }))
      .map(([x, y, w, h]): BoxXYXY => [x, y, x + w, y + h]);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(arbBox, fc.integer({ min: 0, max: 5 })), { maxLength: 25 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (items, threshold) => {
          const boxes = items.map((t) => t[0]);
          const scores = items.map((t) => t[1]);
          const keep = boxNms(boxes, scores, threshold);
          expect(new Set(keep).size).toBe(keep.length);
          for (let k = 1; k < keep.length; k++) {
            const [a, b] = [keep[k - 1], keep[k]];
            expect(scores[a] > scores[b] || (scores[a] === scores[b] && a < b)).toBe(true);
          }
          for (let a = 0; a < keep.length; a++) {
            for (let b = a + 1; b < keep.length; b++) expect(boxIoU(boxes[keep[a]], boxes[keep[b]])).toBeLessThanOrEqual(threshold);
          }
          // Every dropped box overlaps some kept box ranked before it.
          const kept = new Set(keep);
          boxes.forEach((box, i) => {
            if (kept.has(i)) return;
            const rankedBefore = keep.filter((j) => scores[j] > scores[i] || (scores[j] === scores[i] && j < i));
            expect(rankedBefore.some((j) => boxIoU(boxes[j], box) > threshold)).toBe(true);
          });
        },
      ),
    );
  });
});
