import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLogitUpscaler, createThresholdUpscaler, stabilityScore, type LogitUpscalerGeometry } from '../../../src/core/everything/index.js';
import { maskArea, maskFromLogits, maskToBox } from '../../../src/core/mask.js';
import { createRandom } from '../../../src/core/random.js';
import { DECISION_MARGIN } from '../../../src/core/everything/threshold-upscale.js';

/** The plain path: full-size logits, then threshold, box, area and stability separately. */
function reference(lowRes: Float32Array, g: LogitUpscalerGeometry, threshold: number, offset: number) {
  const logits = createLogitUpscaler(g)(lowRes);
  const mask = maskFromLogits(logits, g.outWidth, g.outHeight, threshold);
  return { data: mask.data, area: maskArea(mask), box: maskToBox(mask), stability: stabilityScore(logits, threshold, offset) };
}

/** Blobs of positive logits on a negative background, some pixels exactly at the cut-offs. */
function blobLogits(n: number, seed: number, offset: number): Float32Array {
  const rng = createRandom(seed);
  const blobs = Array.from({ length: 1 + Math.floor(rng.next() * 3) }, () => ({
    x: rng.next() * n,
    y: rng.next() * n,
    r: 1 + rng.next() * n * 0.4,
    h: 2 + rng.next() * 20,
  }));
  const out = new Float32Array(n * n);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      let v = -8;
      for (const b of blobs) v = Math.max(v, b.h * (1 - Math.hypot(x - b.x, y - b.y) / b.r));
      const roll = rng.next();
      out[y * n + x] = roll < 0.02 ? offset : roll < 0.04 ? -offset : roll < 0.05 ? 0 : v + (rng.next() - 0.5) * 0.2;
    }
  }
  return out;
}

/** The stability cut-offs' margin in the upscaler: cells this far from a cut-off are decided. */
const MARGIN = DECISION_MARGIN;

/** The float32 values next to v's float32 rounding (the one towards NaN dropped at 0). */
function float32Neighbours(v: number): number[] {
  const bits = new Int32Array(Float32Array.of(v).buffer)[0];
  return [bits - 1, bits + 1].map((b) => new Float32Array(Int32Array.of(b).buffer)[0]).filter((x) => !Number.isNaN(x));
}

/**
 * Values that probe the window test: NaN and the infinities, each cut-off, its float32 rounding
 * and neighbours (interpolating between them lands on either side of the cut-off, where only the
 * float32 rounding decides), the margins around it and values just either side of those, far
 * values on both sides.
 */
function probeValues(threshold: number, offset: number): number[] {
  const cuts = [threshold - offset, threshold, threshold + offset];
  const near = cuts.flatMap((c) => [c, ...float32Neighbours(c), c - MARGIN, c + MARGIN, c - 2 * MARGIN, c + 2 * MARGIN, c - MARGIN / 2, c + MARGIN / 2]);
  return [Number.NaN, Infinity, -Infinity, -0, -30, 30, ...near];
}

/**
 * Geometries with any tap count (a model input smaller than the low-res grid gives more than 3
 * taps, one cell gives 1) and grids wider than one 32-column word of the upscaler's bitsets.
 */
const arbAnyGeometry: fc.Arbitrary<LogitUpscalerGeometry> = fc
  .record({ lowResSize: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 30, max: 70 })), inputSize: fc.integer({ min: 1, max: 80 }) })
  .chain(({ lowResSize, inputSize }) =>
    fc.record({
      lowResSize: fc.constant(lowResSize),
      inputSize: fc.constant(inputSize),
      resizedWidth: fc.integer({ min: 1, max: inputSize }),
      resizedHeight: fc.integer({ min: 1, max: inputSize }),
      outWidth: fc.integer({ min: 1, max: 40 }),
      outHeight: fc.integer({ min: 1, max: 40 }),
    }),
  );

/** Runs the threshold upscaler on a fresh, dirty buffer and checks it against the plain path. */
function expectPlainPath(g: LogitUpscalerGeometry, lowRes: Float32Array, threshold: number, offset: number): void {
  const ref = reference(lowRes, g, threshold, offset);
  const out = new Uint8Array(g.outWidth * g.outHeight).fill(7);
  const got = createThresholdUpscaler(g)(lowRes, threshold, offset, out);
  expect(out).toEqual(ref.data);
  expect(got).toEqual({ area: ref.area, box: ref.box, stability: ref.stability });
}

describe('createThresholdUpscaler', () => {
  it('decides every pixel, the area, box and stability exactly as the plain path (property)', () => {
    fc.assert(
      fc.property(
        fc.record({
          lowResSize: fc.integer({ min: 2, max: 24 }),
          factor: fc.integer({ min: 1, max: 4 }),
          resizedW: fc.double({ min: 0.2, max: 1, noNaN: true }),
          resizedH: fc.double({ min: 0.2, max: 1, noNaN: true }),
          outWidth: fc.integer({ min: 1, max: 70 }),
          outHeight: fc.integer({ min: 1, max: 70 }),
          offset: fc.constantFrom(0, 0.5, 1),
          threshold: fc.constantFrom(0, 0.25),
          seed: fc.integer({ min: 0, max: 1e6 }),
        }),
        (c) => {
          const inputSize = c.lowResSize * c.factor;
          const g: LogitUpscalerGeometry = {
            lowResSize: c.lowResSize,
            inputSize,
            resizedWidth: Math.max(1, Math.round(c.resizedW * inputSize)),
            resizedHeight: Math.max(1, Math.round(c.resizedH * inputSize)),
            outWidth: c.outWidth,
            outHeight: c.outHeight,
          };
          const lowRes = blobLogits(c.lowResSize, c.seed, c.offset + c.threshold);
          const ref = reference(lowRes, g, c.threshold, c.offset);
          const out = new Uint8Array(g.outWidth * g.outHeight).fill(7);
          const got = createThresholdUpscaler(g)(lowRes, c.threshold, c.offset, out);
          expect(out).toEqual(ref.data);
          expect(got).toEqual({ area: ref.area, box: ref.box, stability: ref.stability });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('matches the plain path on the SAM geometry (256 -> 1024 -> 300 x 200) and reuses its buffers', () => {
    const g = { lowResSize: 256, inputSize: 1024, resizedWidth: 1024, resizedHeight: 683, outWidth: 300, outHeight: 200 };
    const upscale = createThresholdUpscaler(g);
    const out = new Uint8Array(300 * 200);
    for (const seed of [1, 2, 3]) {
      const lowRes = blobLogits(256, seed, 1);
      const ref = reference(lowRes, g, 0, 1);
      expect(upscale(lowRes, 0, 1, out)).toEqual({ area: ref.area, box: ref.box, stability: ref.stability });
      expect(out).toEqual(ref.data);
    }
  });

  it('gives an empty mask, box [0, 0, 0, 0] and stability 0 for all-negative logits', () => {
    const g = { lowResSize: 4, inputSize: 16, resizedWidth: 16, resizedHeight: 16, outWidth: 8, outHeight: 8 };
    const out = new Uint8Array(64).fill(1);
    expect(createThresholdUpscaler(g)(new Float32Array(16).fill(-5), 0, 1, out)).toEqual({ area: 0, box: [0, 0, 0, 0], stability: 0 });
    expect(out.every((v) => v === 0)).toBe(true);
  });

  it('computes a hand-checked 2 x 2 -> 4 x 4 case: only the pixels nearest the positive corner pass', () => {
    // 2 -> 4 -> 4: output column d samples source (d + 0.5) / 2 - 0.5, so pixel (0, 0) reads the
    // corner alone (8), pixel (1, 0) reads 0.75 * 8 + 0.25 * -8 = 4, pixel (1, 1) reads 2 and
    // pixel (2, 0) reads -4. With offset 3: above 3 are (0,0), (1,0), (0,1); above -3 also (1,1).
    const g = { lowResSize: 2, inputSize: 4, resizedWidth: 4, resizedHeight: 4, outWidth: 4, outHeight: 4 };
    const out = new Uint8Array(16);
    const stats = createThresholdUpscaler(g)(Float32Array.from([8, -8, -8, -8]), 0, 3, out);
    expect(Array.from(out)).toEqual([1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(stats).toEqual({ area: 4, box: [0, 0, 1, 1], stability: 3 / 4 });
  });

  it('decides NaN, the infinities, values at and around the cut-offs as the plain path, for any tap count (property)', () => {
    fc.assert(
      fc.property(
        arbAnyGeometry,
        fc.constantFrom(0, 0.25, -1, 0.1),
        fc.constantFrom(1, 0.5, 0, -0.5, 0.3),
        fc.integer({ min: 0, max: 1e6 }),
        (g, threshold, offset, seed) => {
          // Probe values scattered over smooth logits, so that windows mix them with decided cells.
          const rng = createRandom(seed);
          const probes = probeValues(threshold, offset);
          const lowRes = blobLogits(g.lowResSize, seed, threshold + offset).map((v) => (rng.next() < 0.3 ? probes[rng.int(probes.length)] : v));
          expectPlainPath(g, lowRes, threshold, offset);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('interpolates windows that mix surely-above and surely-below cells with none near a cut-off (property)', () => {
    fc.assert(
      fc.property(arbAnyGeometry, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 1e6 }), (g, block, seed) => {
        // Square blocks of -20 or +20: every window across a block edge holds both classes.
        const rng = createRandom(seed);
        const n = g.lowResSize;
        const side = Math.ceil(n / block);
        const blocks = Array.from({ length: side * side }, () => (rng.next() < 0.5 ? -20 : 20));
        const cell = (y: number, x: number) => blocks[Math.floor(y / block) * side + Math.floor(x / block)];
        const lowRes = Float32Array.from({ length: n * n }, (_, i) => cell(Math.floor(i / n), i % n));
        expectPlainPath(g, lowRes, 0, 1);
      }),
      { numRuns: 200 },
    );
  });

  it('matches the plain path on grids read through 1, 2, 3, 5 and 6 taps', () => {
    const geometries: LogitUpscalerGeometry[] = [
      { lowResSize: 1, inputSize: 4, resizedWidth: 4, resizedHeight: 4, outWidth: 5, outHeight: 3 }, // 1 tap
      { lowResSize: 2, inputSize: 4, resizedWidth: 4, resizedHeight: 3, outWidth: 8, outHeight: 5 }, // 2 taps
      { lowResSize: 16, inputSize: 64, resizedWidth: 40, resizedHeight: 64, outWidth: 33, outHeight: 51 }, // 3 taps
      { lowResSize: 9, inputSize: 3, resizedWidth: 3, resizedHeight: 3, outWidth: 3, outHeight: 3 }, // 5 taps
      { lowResSize: 24, inputSize: 6, resizedWidth: 6, resizedHeight: 4, outWidth: 6, outHeight: 9 }, // 6 taps
    ];
    for (const g of geometries) {
      for (const [threshold, offset] of [[0, 1], [0.25, -0.5], [0.1, 0], [0.1, 0.3]]) {
        for (const seed of [1, 2, 3]) {
          const rng = createRandom(seed);
          const probes = probeValues(threshold, offset);
          const lowRes = blobLogits(g.lowResSize, seed, threshold + offset).map((v) => (rng.next() < 0.2 ? probes[rng.int(probes.length)] : v));
          expectPlainPath(g, lowRes, threshold, offset);
        }
      }
    }
  });

  it('rounds to float32 before deciding, where interpolation lands between a cut-off and its float32 neighbours', () => {
    // A checkerboard of the float32 values either side of 0.1: every window interpolates across
    // the threshold, and many outputs fall between 0.1 and a neighbour, where only the float32
    // rounding decides.
    const above = Math.fround(0.1); // 0.10000000149...
    const [below] = float32Neighbours(0.1); // 0.09999999403...
    const geometries: LogitUpscalerGeometry[] = [
      { lowResSize: 16, inputSize: 64, resizedWidth: 40, resizedHeight: 64, outWidth: 33, outHeight: 51 }, // 3 taps
      { lowResSize: 24, inputSize: 6, resizedWidth: 6, resizedHeight: 4, outWidth: 6, outHeight: 9 }, // 6 taps
    ];
    for (const g of geometries) {
      const n = g.lowResSize;
      const lowRes = Float32Array.from({ length: n * n }, (_, i) => ((Math.floor(i / n) + i) % 2 === 0 ? below : above));
      for (const offset of [0, 0.3]) expectPlainPath(g, lowRes, 0.1, offset);
    }
  });

  it('leaves a pixel 0 where a zero weight meets +Infinity (the plain path sums NaN there), unlike a surely-above window', () => {
    // 4 -> 4 -> 4 reads 3 cells per output with weight on one: outputs 1 and 2 of the first row
    // reach the +Infinity with weight 0 and are NaN, not above the threshold, though every cell
    // of their window is far above it; output 3 is +Infinity.
    const g = { lowResSize: 4, inputSize: 4, resizedWidth: 4, resizedHeight: 4, outWidth: 4, outHeight: 4 };
    const lowRes = new Float32Array(16).fill(5);
    lowRes[3] = Infinity;
    expectPlainPath(g, lowRes, 0, 1);
    const out = new Uint8Array(16);
    expect(createThresholdUpscaler(g)(lowRes, 0, 1, out).area).toBe(14);
    expect(Array.from(out.subarray(0, 4))).toEqual([1, 0, 0, 1]);
  });

  it('rejects wrong buffers and non-finite cut-offs', () => {
    const upscale = createThresholdUpscaler({ lowResSize: 2, inputSize: 4, resizedWidth: 4, resizedHeight: 4, outWidth: 4, outHeight: 4 });
    expect(() => upscale(new Float32Array(3), 0, 1, new Uint8Array(16))).toThrow(/lowRes/);
    expect(() => upscale(new Float32Array(4), 0, 1, new Uint8Array(15))).toThrow(/out/);
    expect(() => upscale(new Float32Array(4), Number.NaN, 1, new Uint8Array(16))).toThrow(/threshold/);
  });
});
