import { describe, expect, it } from 'vitest';
import { createLogitUpscaler } from '../../../src/core/everything/index.js';
import { createRandom } from '../../../src/core/random.js';

/**
 * torch F.interpolate(mode='bilinear', align_corners=False) of a row-major grid, written the
 * plain way (one output pixel at a time, in float64): the oracle for the composed upscaler.
 */
function bilinearResize(src: Float64Array, inW: number, inH: number, outW: number, outH: number): Float64Array {
  const out = new Float64Array(outW * outH);
  const source = (d: number, inSize: number, outSize: number): [number, number, number] => {
    const s = Math.max(0, (inSize / outSize) * (d + 0.5) - 0.5);
    const i0 = Math.floor(s);
    const i1 = Math.min(i0 + 1, inSize - 1);
    return [i0, i1, s - i0];
  };
  for (let y = 0; y < outH; y++) {
    const [y0, y1, fy] = source(y, inH, outH);
    for (let x = 0; x < outW; x++) {
      const [x0, x1, fx] = source(x, inW, outW);
      const top = src[y0 * inW + x0] * (1 - fx) + src[y0 * inW + x1] * fx;
      const bottom = src[y1 * inW + x0] * (1 - fx) + src[y1 * inW + x1] * fx;
      out[y * outW + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** segment-anything's postprocess_masks, step by step with the full intermediate. */
function referencePostprocess(
  lowRes: Float32Array,
  g: { lowResSize: number; inputSize: number; resizedWidth: number; resizedHeight: number; outWidth: number; outHeight: number },
): Float64Array {
  const up = bilinearResize(Float64Array.from(lowRes), g.lowResSize, g.lowResSize, g.inputSize, g.inputSize);
  const cropped = new Float64Array(g.resizedWidth * g.resizedHeight);
  for (let y = 0; y < g.resizedHeight; y++) {
    cropped.set(up.subarray(y * g.inputSize, y * g.inputSize + g.resizedWidth), y * g.resizedWidth);
  }
  return bilinearResize(cropped, g.resizedWidth, g.resizedHeight, g.outWidth, g.outHeight);
}

function randomLogits(n: number, seed: number): Float32Array {
  const rng = createRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng.next() - 0.5) * 40;
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('createLogitUpscaler', () => {
  const cases = [
    { lowResSize: 256, inputSize: 1024, resizedWidth: 1024, resizedHeight: 768, outWidth: 512, outHeight: 384 },
    { lowResSize: 256, inputSize: 1024, resizedWidth: 683, resizedHeight: 1024, outWidth: 540, outHeight: 800 },
    { lowResSize: 256, inputSize: 1024, resizedWidth: 1024, resizedHeight: 1024, outWidth: 181, outHeight: 217 },
    { lowResSize: 256, inputSize: 1024, resizedWidth: 1024, resizedHeight: 857, outWidth: 1300, outHeight: 1088 },
    { lowResSize: 8, inputSize: 32, resizedWidth: 32, resizedHeight: 20, outWidth: 7, outHeight: 5 },
    { lowResSize: 8, inputSize: 6, resizedWidth: 5, resizedHeight: 6, outWidth: 9, outHeight: 3 },
    { lowResSize: 5, inputSize: 5, resizedWidth: 5, resizedHeight: 5, outWidth: 1, outHeight: 1 },
  ];
  for (const [k, g] of cases.entries()) {
    it(`matches the two-step reference for ${g.lowResSize} -> ${g.inputSize}, crop ${g.resizedWidth}x${g.resizedHeight}, out ${g.outWidth}x${g.outHeight}`, () => {
      const lowRes = randomLogits(g.lowResSize * g.lowResSize, 17 + k);
      const got = createLogitUpscaler(g)(lowRes);
      expect(got).toBeInstanceOf(Float32Array);
      expect(got.length).toBe(g.outWidth * g.outHeight);
      expect(maxAbsDiff(got, referencePostprocess(lowRes, g))).toBeLessThan(1e-4);
    });
  }

  it('computes a 2 -> 4 -> 4 upscale by hand', () => {
    // Each axis: output d samples (d + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
    const up = createLogitUpscaler({ lowResSize: 2, inputSize: 4, resizedWidth: 4, resizedHeight: 4, outWidth: 4, outHeight: 4 });
    const out = up(Float32Array.of(0, 4, 8, 12));
    expect([...out.subarray(0, 4)]).toEqual([0, 1, 3, 4]);
    expect([...out.subarray(4, 8)]).toEqual([2, 3, 5, 6]);
    expect([...out.subarray(12, 16)]).toEqual([8, 9, 11, 12]);
  });

  it('is the identity when all sizes agree', () => {
    const lowRes = randomLogits(36, 3);
    const up = createLogitUpscaler({ lowResSize: 6, inputSize: 6, resizedWidth: 6, resizedHeight: 6, outWidth: 6, outHeight: 6 });
    expect(maxAbsDiff(up(lowRes), lowRes)).toBeLessThan(1e-5);
  });

  it('keeps a constant field constant, padding included', () => {
    const up = createLogitUpscaler({ lowResSize: 16, inputSize: 64, resizedWidth: 40, resizedHeight: 64, outWidth: 33, outHeight: 51 });
    const out = up(new Float32Array(256).fill(-7.5));
    expect(maxAbsDiff(out, new Float32Array(out.length).fill(-7.5))).toBeLessThan(1e-5);
  });

  it('writes into a given output buffer and gives the same result on reuse', () => {
    const g = { lowResSize: 16, inputSize: 64, resizedWidth: 64, resizedHeight: 48, outWidth: 40, outHeight: 30 };
    const up = createLogitUpscaler(g);
    const a = randomLogits(256, 1);
    const b = randomLogits(256, 2);
    const out = new Float32Array(1200);
    expect(up(a, out)).toBe(out);
    const first = out.slice();
    up(b, out);
    expect(maxAbsDiff(out, referencePostprocess(b, g))).toBeLessThan(1e-4);
    expect(up(a)).toEqual(first);
  });

  it('rejects bad geometry and bad buffers', () => {
    const g = { lowResSize: 4, inputSize: 8, resizedWidth: 8, resizedHeight: 6, outWidth: 5, outHeight: 5 };
    expect(() => createLogitUpscaler({ ...g, resizedWidth: 9 })).toThrow(/resizedWidth: expected at most inputSize \(8\), got 9/);
    expect(() => createLogitUpscaler({ ...g, outHeight: 0 })).toThrow(/outHeight/);
    const up = createLogitUpscaler(g);
    expect(() => up(new Float32Array(15))).toThrow(/lowRes: expected a Float32Array of lowResSize\^2 = 16 logits/);
    expect(() => up(new Float32Array(16), new Float32Array(24))).toThrow(/out: expected a Float32Array of 25/);
  });
});
