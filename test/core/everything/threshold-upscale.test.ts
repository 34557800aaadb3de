import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLogitUpscaler, createThresholdUpscaler, stabilityScore, type LogitUpscalerGeometry } from '../../../src/core/everything/index.js';
import { maskArea, maskFromLogits, maskToBox } from '../../../src/core/mask.js';
import { createRandom } from '../../../src/core/random.js';

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

  it('rejects wrong buffers and non-finite cut-offs', () => {
    const upscale = createThresholdUpscaler({ lowResSize: 2, inputSize: 4, resizedWidth: 4, resizedHeight: 4, outWidth: 4, outHeight: 4 });
    expect(() => upscale(new Float32Array(3), 0, 1, new Uint8Array(16))).toThrow(/lowRes/);
    expect(() => upscale(new Float32Array(4), 0, 1, new Uint8Array(15))).toThrow(/out/);
    expect(() => upscale(new Float32Array(4), Number.NaN, 1, new Uint8Array(16))).toThrow(/threshold/);
  });
});
