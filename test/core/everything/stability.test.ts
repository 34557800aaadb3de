import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stabilityScore } from '../../../src/core/everything/index.js';

describe('stabilityScore', () => {
  it('divides the count above t + offset by the count above t - offset', () => {
    const logits = Float32Array.of(-2, -0.5, 0.5, 1.5, 3);
    expect(stabilityScore(logits, 0, 1)).toBe(2 / 4);
    expect(stabilityScore(logits, 0, 0)).toBe(1);
    // Strictly greater: 1.0 is not above 0 + 1.
    expect(stabilityScore(Float32Array.of(1, 2, -0.5), 0, 1)).toBe(1 / 3);
  });
  it('returns 0 when nothing is above t - offset', () => {
    expect(stabilityScore(Float32Array.of(-5, -3), 0, 1)).toBe(0);
    expect(stabilityScore(new Float32Array(0), 0, 1)).toBe(0);
  });
  it('stays in [0, 1] for non-negative offsets (property)', () => {
    fc.assert(
      fc.property(
        fc.float32Array({ noNaN: true, minLength: 1, maxLength: 50 }),
        fc.float({ min: -2, max: 2, noNaN: true }),
        fc.float({ min: 0, max: 3, noNaN: true }),
        (logits, t, offset) => {
          const s = stabilityScore(logits, t, offset);
          expect(s).toBeGreaterThanOrEqual(0);
          expect(s).toBeLessThanOrEqual(1);
        },
      ),
    );
  });
});
