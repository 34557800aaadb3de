import { describe, expect, it } from 'vitest';
import { isSalipError } from '../../src/core/errors.js';
import { createMask } from '../../src/core/mask.js';
import { luminanceOf } from '../../src/core/boundary-prior.js';
import { edgeAgreement, edgeMap, edgePrior, outlineEdgeStrength } from '../../src/core/edge-prior.js';
import { discMask } from '../helpers/masks.js';
import type { BinaryMask, RgbImage } from '../../src/core/types.js';

const SIZE = 128;

const disc = (cx: number, cy: number, r: number): BinaryMask => discMask(SIZE, SIZE, cx, cy, r);

/** A bright "organ" disc of radius 30 on flat dark tissue. */
function organImage(): RgbImage {
  const data = new Uint8Array(SIZE * SIZE * 3);
  for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) data.fill(Math.hypot(x - 64, y - 64) <= 30 ? 200 : 50, 3 * (y * SIZE + x), 3 * (y * SIZE + x) + 3);
  return { width: SIZE, height: SIZE, data };
}

describe('edge prior', () => {
  const edges = edgeMap(luminanceOf(organImage()));

  it('an outline on the organ\u2019s edge is strong; one inside flat tissue has none; one a pixel off still finds the edge', () => {
    const onEdge = outlineEdgeStrength(disc(64, 64, 30), edges);
    expect(onEdge).toBeGreaterThan(10); // the mean gradient is spread thin over the image, the edge is concentrated
    expect(outlineEdgeStrength(disc(64, 64, 15), edges)).toBe(0);
    expect(outlineEdgeStrength(disc(64, 64, 45), edges)).toBe(0);
    expect(outlineEdgeStrength(disc(64, 64, 31), edges)).toBeGreaterThan(0.5 * onEdge);
    // A leak: the organ plus a flat strip to its right; part of its outline runs through flat tissue.
    const leak = disc(64, 64, 30);
    for (let y = 50; y < 78; y++) for (let x = 64; x < 120; x++) leak.data[y * SIZE + x] = 1;
    expect(outlineEdgeStrength(leak, edges)).toBeLessThan(0.8 * onEdge);
    expect(outlineEdgeStrength(createMask(SIZE, SIZE), edges)).toBe(0);
  });

  it('a flat image has no edges anywhere', () => {
    const flat = edgeMap(luminanceOf({ width: 16, height: 16, data: new Uint8Array(16 * 16 * 3).fill(90) }));
    expect(Array.from(flat.data).every((v) => v === 0)).toBe(true);
  });

  it('agreement is log2 of the ratio to the exemplars\u2019 mean, clamped to -1..0 (a stronger outline gains nothing)', () => {
    expect(edgePrior([2, 4])).toBe(3);
    expect(edgeAgreement(4, 4)).toBe(0);
    expect(edgeAgreement(4, 8)).toBe(0);
    expect(edgeAgreement(4, 1)).toBe(-1);
    expect(edgeAgreement(4, 2 * Math.SQRT2)).toBeCloseTo(-0.5);
    expect(edgeAgreement(4, 0)).toBe(-1);
    expect(edgeAgreement(0, 3)).toBe(0);
  });

  it('refuses an empty prior and a mask of another size', () => {
    for (const run of [() => edgePrior([]), () => outlineEdgeStrength(createMask(8, 8), edges)]) {
      try {
        run();
        expect.unreachable();
      } catch (e) {
        expect(isSalipError(e)).toBe(true);
      }
    }
  });
});
