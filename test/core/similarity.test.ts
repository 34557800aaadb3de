import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSalipError } from '../../src/core/errors.js';
import { cosine, ensembleMean, l2Normalize, l2NormalizeRows, scaledCosineScores, topK } from '../../src/core/similarity.js';

const f32 = (...v: number[]): Float32Array => Float32Array.from(v);

describe('l2Normalize', () => {
  it('scales to unit length and keeps zero vectors zero', () => {
    expect([...l2Normalize(f32(3, 4))]).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    expect([...l2Normalize(f32(0, 0, 0))]).toEqual([0, 0, 0]);
    const v = f32(1, 2);
    l2Normalize(v);
    expect([...v]).toEqual([1, 2]);
  });
  it('normalises each row on its own', () => {
    const m = l2NormalizeRows(f32(3, 4, 0, 0, 0, -2), 3, 2);
    expect([...m]).toEqual([Math.fround(0.6), Math.fround(0.8), 0, 0, 0, -1]);
    expect(() => l2NormalizeRows(f32(1, 2, 3), 2, 2)).toThrow(/m.length: expected rows \* dim = 4, got 3/);
  });
});

describe('cosine', () => {
  it('computes hand-checked values', () => {
    expect(cosine(f32(1, 0), f32(0, 1))).toBe(0);
    expect(cosine(f32(1, 1), f32(2, 2))).toBeCloseTo(1, 12);
    expect(cosine(f32(1, 0), f32(-3, 0))).toBeCloseTo(-1, 12);
    expect(cosine(f32(1, 2, 2), f32(2, 0, 0))).toBeCloseTo(1 / 3, 7);
    expect(cosine(f32(0, 0), f32(1, 0))).toBe(0);
  });
  it('rejects vectors of different lengths', () => {
    try {
      cosine(f32(1, 2), f32(1, 2, 3));
      throw new Error('no error');
    } catch (e) {
      expect(isSalipError(e, 'SIZE_MISMATCH')).toBe(true);
    }
  });
});

describe('ensembleMean', () => {
  it('normalises each row before averaging, then normalises the mean', () => {
    // Rows (10, 0) and (0, 1): normalised (1, 0) and (0, 1), mean (0.5, 0.5) -> (1/sqrt2, 1/sqrt2).
    const e = ensembleMean(f32(10, 0, 0, 1), 2, 2);
    expect(e[0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(e[1]).toBeCloseTo(Math.SQRT1_2, 6);
  });
  it('returns the normalised row for a single embedding and rejects zero rows', () => {
    expect([...ensembleMean(f32(0, 5), 1, 2)]).toEqual([0, 1]);
    expect(() => ensembleMean(new Float32Array(0), 0, 4)).toThrow(/at least one embedding/);
  });
});

describe('scaledCosineScores', () => {
  it('lays scores out class-major and normalises both sides', () => {
    const images = f32(2, 0, 0, 3, 1, 1); // three images
    const classes = f32(1, 0, 0, -5); // two classes
    const s = scaledCosineScores(images, 3, classes, 2, 2);
    const want = [100, 0, 100 * Math.SQRT1_2, 0, -100, -100 * Math.SQRT1_2];
    expect(s.length).toBe(6);
    want.forEach((w, k) => expect(s[k]).toBeCloseTo(w, 4));
    expect(scaledCosineScores(images, 3, classes, 2, 2, 1)[0]).toBeCloseTo(1, 6);
  });
  it('agrees with cosine for random inputs (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer(),
        (nImages, nClasses, dim, seed) => {
          let x = seed | 1;
          const rand = (): number => ((x = (Math.imul(x, 1103515245) + 12345) | 0) >>> 8) / 2 ** 24 - 0.5;
          const images = Float32Array.from({ length: nImages * dim }, rand);
          const classes = Float32Array.from({ length: nClasses * dim }, rand);
          const s = scaledCosineScores(images, nImages, classes, nClasses, dim);
          for (let c = 0; c < nClasses; c++) {
            for (let i = 0; i < nImages; i++) {
              const want = 100 * cosine(images.subarray(i * dim, (i + 1) * dim), classes.subarray(c * dim, (c + 1) * dim));
              expect(s[c * nImages + i]).toBeCloseTo(want, 3);
            }
          }
        },
      ),
    );
  });
});

describe('topK', () => {
  it('orders by descending score, ties by lower index, NaN last', () => {
    expect(topK([0.1, 0.9, 0.5, 0.9], 3)).toEqual([1, 3, 2]);
    expect(topK([NaN, 1, -Infinity, NaN], 4)).toEqual([1, 2, 0, 3]);
    expect(topK(Float32Array.of(3, 1, 2), 10)).toEqual([0, 2, 1]);
    expect(topK([1, 2], 0)).toEqual([]);
    expect(topK([], 2)).toEqual([]);
    expect(() => topK([1], -1)).toThrow(/k: expected a non-negative integer/);
  });
  it('returns the k best indices (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -5, max: 5 })), fc.integer({ min: 0, max: 12 }), (scores, k) => {
        const got = topK(scores, k);
        expect(got).toHaveLength(Math.min(k, scores.length));
        const want = scores.map((s, i) => [s, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, k).map((p) => p[1]);
        expect(got).toEqual(want);
      }),
    );
  });
});
