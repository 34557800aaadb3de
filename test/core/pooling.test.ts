import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isSalipError } from '../../src/core/errors.js';
import { createMask, encodeRle, maskArea } from '../../src/core/mask.js';
import {
  contextRingCoverage,
  imageCoverage,
  maskCoverage,
  maskPooledFeature,
  pointWindowCoverage,
  pointWindowFeatures,
  pooledFeature,
  rleCoverage,
  rlePooledFeature,
  type EmbeddingGrid,
} from '../../src/core/pooling.js';
import type { BinaryMask } from '../../src/core/types.js';
import { createRandom } from '../../src/core/random.js';

/** A [1, C, h, w] grid whose channel c at cell i holds values[c][i]. */
function grid(values: number[][], gridW: number, gridH: number, t: { inputSize: number; scale: number; imageWidth: number; imageHeight: number }): EmbeddingGrid {
  return {
    data: Float32Array.from(values.flat()),
    dims: [1, values.length, gridH, gridW],
    transform: { inputSize: t.inputSize, scaleX: t.scale, scaleY: t.scale, imageWidth: t.imageWidth, imageHeight: t.imageHeight },
  };
}

function maskOf(width: number, height: number, pixels: Array<[number, number]>): BinaryMask {
  const data = new Uint8Array(width * height);
  for (const [x, y] of pixels) data[y * width + x] = 1;
  return createMask(width, height, data);
}

function rect(width: number, height: number, x0: number, x1: number, y0: number, y1: number): BinaryMask {
  const pixels: Array<[number, number]> = [];
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) pixels.push([x, y]);
  return maskOf(width, height, pixels);
}

// 2 x 2 grid over an 8 x 8 frame (cells of 4 x 4); an 8 x 4 image at scale 1 fills the top row of cells.
const TOP_ROW = grid([[1, 2, 3, 4], [10, 20, 30, 40]], 2, 2, { inputSize: 8, scale: 1, imageWidth: 8, imageHeight: 4 });

describe('maskPooledFeature', () => {
  it('averages the one cell a region fills', () => {
    expect(Array.from(maskPooledFeature(TOP_ROW, rect(8, 4, 0, 4, 0, 4)))).toEqual([1, 10]);
    expect(Array.from(maskPooledFeature(TOP_ROW, rect(8, 4, 4, 8, 0, 4)))).toEqual([2, 20]);
  });

  it('weights cells by the area the region covers in each', () => {
    // Columns 2..5: half of cell 0 and half of cell 1.
    expect(Array.from(maskCoverage(TOP_ROW, rect(8, 4, 2, 6, 0, 4)))).toEqual([0.5, 0.5, 0, 0]);
    expect(Array.from(maskPooledFeature(TOP_ROW, rect(8, 4, 2, 6, 0, 4)))).toEqual([1.5, 15]);
    // Columns 1..4 of row 0: 3 pixels in cell 0, 1 in cell 1 -> weights 3:1.
    expect(Array.from(maskPooledFeature(TOP_ROW, rect(8, 4, 1, 5, 0, 1)))).toEqual([1.25, 12.5]);
  });

  it('keeps a single pixel (area weighting, not centre sampling)', () => {
    expect(Array.from(maskCoverage(TOP_ROW, maskOf(8, 4, [[5, 1]])))).toEqual([0, 1 / 16, 0, 0]);
    expect(Array.from(maskPooledFeature(TOP_ROW, maskOf(8, 4, [[5, 1]])))).toEqual([2, 20]);
  });

  it('maps through the transform scale, including pixels that straddle cells', () => {
    // Image 2 x 2 at scale 4 in a 16 frame with 4 x 4 cells: each pixel is exactly one cell.
    const g = grid([Array.from({ length: 16 }, (_, i) => i)], 4, 4, { inputSize: 16, scale: 4, imageWidth: 2, imageHeight: 2 });
    expect(Array.from(maskPooledFeature(g, maskOf(2, 2, [[1, 0]])))).toEqual([1]);
    expect(Array.from(maskPooledFeature(g, maskOf(2, 2, [[0, 1]])))).toEqual([4]);
    // Image 4 x 4 at scale 1.5 in an 8 frame with 4 x 4 cells: pixel x = 2 maps to [3, 4.5), i.e.
    // 1 unit in cell 0 and 0.5 in cell 1 -> weights 2:1 -> (2 * 1 + 1 * 2) / 3.
    const s = grid([[1, 2, 3, 4]], 2, 2, { inputSize: 8, scale: 1.5, imageWidth: 4, imageHeight: 4 });
    const coverage = maskCoverage(s, maskOf(4, 4, [[2, 0]]));
    expect(coverage[0]).toBeCloseTo(0.25 * 0.375, 7);
    expect(coverage[1]).toBeCloseTo(0.125 * 0.375, 7);
    expect(maskPooledFeature(s, maskOf(4, 4, [[2, 0]]))[0]).toBeCloseTo(4 / 3, 6);
  });

  it('gives a zero vector for an empty mask', () => {
    expect(Array.from(maskPooledFeature(TOP_ROW, createMask(8, 4)))).toEqual([0, 0]);
    expect(Array.from(pooledFeature(TOP_ROW, new Float32Array(4)))).toEqual([0, 0]);
  });

  it('never counts the padding: the whole image covers only the top row of cells', () => {
    expect(Array.from(imageCoverage(TOP_ROW))).toEqual([1, 1, 0, 0]);
  });

  it('rejects a mask of another size and malformed embeddings', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return isSalipError(e) ? e.code : 'not a SalipError';
      }
      return 'no error';
    };
    expect(code(() => maskPooledFeature(TOP_ROW, createMask(4, 8)))).toBe('SIZE_MISMATCH');
    expect(code(() => rlePooledFeature(TOP_ROW, encodeRle(createMask(4, 4))))).toBe('SIZE_MISMATCH');
    expect(code(() => maskPooledFeature({ ...TOP_ROW, dims: [2, 1, 2, 2] }, createMask(8, 4)))).toBe('INVALID_ARGUMENT');
    expect(code(() => maskPooledFeature({ ...TOP_ROW, data: new Float32Array(3) }, createMask(8, 4)))).toBe('INVALID_ARGUMENT');
  });
});

describe('contextRingCoverage', () => {
  // 4 x 4 grid of 16 px cells over a 64 frame.
  const g = (imageHeight: number) => grid([new Array(16).fill(0)], 4, 4, { inputSize: 64, scale: 1, imageWidth: 64, imageHeight });
  const cells = (values: Float32Array) => Array.from({ length: 4 }, (_, y) => Array.from(values.subarray(y * 4, y * 4 + 4)));

  it('is the neighbouring cells within the ring width, weighted by image-but-not-region', () => {
    const full = g(64);
    expect(cells(contextRingCoverage(full, maskCoverage(full, rect(64, 64, 16, 32, 16, 32)), 1))).toEqual([
      [1, 1, 1, 0],
      [1, 0, 1, 0],
      [1, 1, 1, 0],
      [0, 0, 0, 0],
    ]);
    // Half of cell (0, 0): the other half of that cell belongs to the ring too.
    expect(cells(contextRingCoverage(full, maskCoverage(full, rect(64, 64, 0, 8, 0, 16)), 2))).toEqual([
      [0.5, 1, 1, 0],
      [1, 1, 1, 0],
      [1, 1, 1, 0],
      [0, 0, 0, 0],
    ]);
  });

  it('excludes padding (no image there) and rejects a bad width', () => {
    const half = g(32);
    expect(cells(contextRingCoverage(half, maskCoverage(half, rect(64, 32, 0, 16, 0, 16)), 3))).toEqual([
      [0, 1, 1, 1],
      [1, 1, 1, 1],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ]);
    expect(() => contextRingCoverage(half, new Float32Array(16), 0)).toThrow(/ring width/);
  });
});

describe('coverage properties', () => {
  const arbitraryCase = fc
    .record({
      width: fc.integer({ min: 1, max: 24 }),
      height: fc.integer({ min: 1, max: 24 }),
      gridSide: fc.integer({ min: 1, max: 6 }),
      seed: fc.array(fc.boolean(), { minLength: 576, maxLength: 576 }),
    })
    .map(({ width, height, gridSide, seed }) => {
      // Keep-aspect transform as SAM's: longest side -> inputSize.
      const inputSize = 32;
      const scale = inputSize / Math.max(width, height);
      const g = grid([Array.from({ length: gridSide * gridSide }, (_, i) => i % 7)], gridSide, gridSide, { inputSize, scale, imageWidth: width, imageHeight: height });
      const data = new Uint8Array(width * height);
      for (let i = 0; i < data.length; i++) data[i] = seed[i] ? 1 : 0;
      return { g, mask: createMask(width, height, data), scale, cell: inputSize / gridSide };
    });

  it('RLE coverage equals mask coverage, and total coverage equals the mapped area', () => {
    fc.assert(
      fc.property(arbitraryCase, ({ g, mask, scale, cell }) => {
        const fromMask = maskCoverage(g, mask);
        const fromRle = rleCoverage(g, encodeRle(mask));
        fromMask.forEach((v, i) => expect(fromRle[i]).toBeCloseTo(v, 5));
        const total = fromMask.reduce((a, b) => a + b, 0);
        expect(total).toBeCloseTo((maskArea(mask) * scale * scale) / (cell * cell), 4);
        fromMask.forEach((v) => expect(v).toBeLessThanOrEqual(1 + 1e-6));
      }),
      { numRuns: 200 },
    );
  });

  it('the pooled feature lies within the range of the covered cells', () => {
    fc.assert(
      fc.property(arbitraryCase, ({ g, mask }) => {
        const coverage = maskCoverage(g, mask);
        const f = maskPooledFeature(g, mask)[0];
        const covered = Array.from(g.data).filter((_, i) => coverage[i] > 0);
        if (covered.length === 0) expect(f).toBe(0);
        else {
          expect(f).toBeGreaterThanOrEqual(Math.min(...covered) - 1e-5);
          expect(f).toBeLessThanOrEqual(Math.max(...covered) + 1e-5);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('imageCoverage equals the coverage of a full mask', () => {
    fc.assert(
      fc.property(arbitraryCase, ({ g, mask }) => {
        const full = createMask(mask.width, mask.height, new Uint8Array(mask.width * mask.height).fill(1));
        const a = imageCoverage(g);
        const b = maskCoverage(g, full);
        a.forEach((v, i) => expect(v).toBeCloseTo(b[i], 5));
      }),
      { numRuns: 100 },
    );
  });
});

describe('pointWindowCoverage', () => {
  // 4 x 4 grid over a 16 x 16 frame (cells of 4 x 4); a 12 x 10 image at scale 1: the last column
  // and the last row of cells are padding, the third row holds image rows 8-9 only (half a cell).
  const g = grid([Array.from({ length: 16 }, (_, i) => i)], 4, 4, { inputSize: 16, scale: 1, imageWidth: 12, imageHeight: 10 });

  it('covers the point’s cell and its neighbours within `cells`, weighted by the image part of each', () => {
    expect(Array.from(pointWindowCoverage(g, 5, 5, 0))).toEqual([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    // Around cell (2, 2): the padding column and row get 0, the half-image row 0.5.
    expect(Array.from(pointWindowCoverage(g, 9, 9, 1))).toEqual([0, 0, 0, 0, 0, 1, 1, 0, 0, 0.5, 0.5, 0, 0, 0, 0, 0]);
    // A corner point: the window is clipped at the grid edge.
    expect(Array.from(pointWindowCoverage(g, 0, 0, 1))).toEqual([1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    // Its pooled feature is the mean of the four cells' values (0, 1, 4, 5).
    expect(pooledFeature(g, pointWindowCoverage(g, 0, 0, 1))[0]).toBeCloseTo(2.5, 6);
  });

  it('takes a point outside the image as the nearest image pixel, never a padding cell', () => {
    expect(pointWindowCoverage(g, 15.9, 15.9, 0)).toEqual(pointWindowCoverage(g, 11, 9, 0));
    expect(Array.from(pointWindowCoverage(g, 15.9, 15.9, 0))).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.5, 0, 0, 0, 0, 0]);
    expect(pointWindowCoverage(g, -3, -3, 0)).toEqual(pointWindowCoverage(g, 0, 0, 0));
  });

  it('rejects non-finite points and a bad window width, naming them', () => {
    for (const [x, y, cells, text] of [
      [Number.NaN, 1, 1, 'point'],
      [1, Infinity, 1, 'point'],
      [1, 1, -1, 'point window'],
      [1, 1, 1.5, 'point window'],
    ] as const) {
      let caught: unknown;
      try {
        pointWindowCoverage(g, x, y, cells);
      } catch (e) {
        caught = e;
      }
      expect(isSalipError(caught) && caught.code === 'INVALID_ARGUMENT' && caught.message.includes(text)).toBe(true);
    }
  });
});

describe('pooledFeature', () => {
  it('is, per channel, the coverage-weighted sum over cells in cell order divided by the total weight, bit for bit (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 11 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (channels, side, seed) => {
          const next = createRandom(seed).next;
          const values = Array.from({ length: channels }, () => Array.from({ length: side * side }, () => next() * 20 - 10));
          const g = grid(values, side, side, { inputSize: 16, scale: 1, imageWidth: 16, imageHeight: 16 });
          // About half the cells covered, with float32 weights in (0, 1].
          const coverage = Float32Array.from({ length: side * side }, () => (next() < 0.5 ? 0 : Math.max(next(), 0.01)));
          const got = pooledFeature(g, coverage);
          // The definition, one channel at a time over every cell.
          let total = 0;
          for (let i = 0; i < coverage.length; i++) if (coverage[i] > 0) total += coverage[i];
          const expected = new Float32Array(channels);
          if (total > 0) {
            for (let c = 0; c < channels; c++) {
              let sum = 0;
              for (let i = 0; i < coverage.length; i++) if (coverage[i] > 0) sum += coverage[i] * g.data[c * side * side + i];
              expected[c] = sum / total;
            }
          }
          expect(Array.from(got)).toEqual(Array.from(expected));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('pointWindowFeatures', () => {
  it('equals pooledFeature of pointWindowCoverage for every point, bit for bit (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 2, max: 9 }),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.array(fc.tuple(fc.float({ min: -20, max: 80, noNaN: true }), fc.float({ min: -20, max: 80, noNaN: true })), { minLength: 1, maxLength: 12 }),
        (channels, side, cells, seed, xy) => {
          // A side x side grid over a 64-wide frame; the image fills part of it (padding right and below).
          const next = createRandom(seed).next;
          const values = Array.from({ length: channels }, () => Array.from({ length: side * side }, () => next() * 2 - 1));
          const g = grid(values, side, side, { inputSize: 64, scale: 1.3, imageWidth: 37, imageHeight: 29 });
          const points = Float32Array.from(xy.flat());
          const features = pointWindowFeatures(g, points, cells);
          expect(features.length).toBe(xy.length * channels);
          xy.forEach((_, p) => {
            const expected = pooledFeature(g, pointWindowCoverage(g, points[2 * p], points[2 * p + 1], cells));
            expect(Array.from(features.subarray(p * channels, (p + 1) * channels))).toEqual(Array.from(expected));
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('rejects a malformed point list, a non-finite point (naming its index) and a bad window width', () => {
    const g = grid([[1, 2, 3, 4]], 2, 2, { inputSize: 8, scale: 1, imageWidth: 8, imageHeight: 8 });
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return isSalipError(e) ? `${e.code}: ${e.message}` : String(e);
      }
      return 'no error';
    };
    expect(code(() => pointWindowFeatures(g, Float32Array.from([1, 2, 3]), 1))).toMatch(/^INVALID_ARGUMENT: points/);
    expect(code(() => pointWindowFeatures(g, [1, 2] as unknown as Float32Array, 1))).toMatch(/^INVALID_ARGUMENT: points/);
    expect(code(() => pointWindowFeatures(g, Float32Array.from([1, 2, NaN, 3]), 1))).toMatch(/^INVALID_ARGUMENT: points\[1\]/);
    expect(code(() => pointWindowFeatures(g, Float32Array.from([1, 2]), -1))).toMatch(/^INVALID_ARGUMENT: point window/);
  });
});
