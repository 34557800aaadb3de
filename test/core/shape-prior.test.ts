import { describe, expect, it } from 'vitest';
import { isSalipError } from '../../src/core/errors.js';
import { createMask, maskToBox, boxXyxyToXywh } from '../../src/core/mask.js';
import { exemplarShapes, recordShape, shapeAgreement, shapeDescriptor, shapePriorAgreement, SHAPE_CELLS } from '../../src/core/shape-prior.js';
import type { BinaryMask } from '../../src/core/types.js';

/** A filled ellipse with centre (cx, cy) and half-axes (rx, ry). */
function ellipse(width: number, height: number, cx: number, cy: number, rx: number, ry: number): BinaryMask {
  const m = createMask(width, height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if (((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1) m.data[y * width + x] = 1;
  return m;
}

/** The pixels of `a` not in `b`. */
function minus(a: BinaryMask, b: BinaryMask): BinaryMask {
  const m = createMask(a.width, a.height);
  for (let i = 0; i < m.data.length; i++) m.data[i] = a.data[i] && !b.data[i] ? 1 : 0;
  return m;
}

describe('shape prior', () => {
  it('a filled ellipse matches another of any size and place, a crescent and a ring much less', () => {
    const big = ellipse(128, 128, 60, 64, 40, 30);
    const small = ellipse(128, 128, 30, 30, 12, 9);
    const ring = minus(big, ellipse(128, 128, 60, 64, 34, 24));
    const crescent = minus(big, ellipse(128, 128, 75, 64, 40, 34));
    const shapeOf = (m: BinaryMask) => shapeDescriptor(m, maskToBox(m));
    const same = shapeAgreement(shapeOf(big), shapeOf(small));
    expect(same).toBeGreaterThan(0.85);
    expect(shapeAgreement(shapeOf(big), shapeOf(ring))).toBeLessThan(0.5);
    expect(shapeAgreement(shapeOf(big), shapeOf(crescent))).toBeLessThan(same - 0.2);
    expect(shapeAgreement(shapeOf(big), shapeOf(big))).toBe(1);
  });

  it('fills every cell of a box smaller than the grid', () => {
    const m = createMask(20, 20);
    for (let y = 5; y < 10; y++) for (let x = 5; x < 10; x++) m.data[y * 20 + x] = 1;
    const d = shapeDescriptor(m, [5, 5, 9, 9]);
    expect(d).toHaveLength(SHAPE_CELLS * SHAPE_CELLS);
    expect(Array.from(d).every((v) => v === 1)).toBe(true);
  });

  it('takes each exemplar its best part and averages over exemplars', () => {
    // Two parts per exemplar: a filled box on the left, an L on the right.
    const m = createMask(64, 32);
    for (let y = 4; y < 28; y++) for (let x = 2; x < 20; x++) m.data[y * 64 + x] = 1;
    for (let y = 4; y < 28; y++) for (let x = 40; x < 44; x++) m.data[y * 64 + x] = 1;
    for (let y = 24; y < 28; y++) for (let x = 40; x < 60; x++) m.data[y * 64 + x] = 1;
    const shapes = exemplarShapes([m, m], 2);
    expect(shapes).toHaveLength(2);
    expect(shapes[0]).toHaveLength(2);
    const square = createMask(64, 32);
    for (let y = 0; y < 10; y++) for (let x = 30; x < 40; x++) square.data[y * 64 + x] = 1;
    const fromRecord = recordShape(square, boxXyxyToXywh(maskToBox(square)));
    expect(shapePriorAgreement(shapes, fromRecord)).toBeCloseTo(1, 5);
    // As one part, the exemplar's whole box holds both, mostly empty: the square matches it poorly.
    expect(shapePriorAgreement(exemplarShapes([m], 1), fromRecord)).toBeLessThan(0.6);
  });

  it('refuses an empty exemplar and descriptors of different sizes', () => {
    let error: unknown;
    try {
      exemplarShapes([createMask(8, 8)]);
    } catch (e) {
      error = e;
    }
    expect(isSalipError(error) && error.code).toBe('INVALID_TASK');
    expect(() => shapeAgreement(new Float32Array(4), new Float32Array(9))).toThrow(/4 and 9/);
  });
});
