/**
 * brightRings on drawn images: a skull-like ring is found with its centre and axes, before a
 * brighter straight wall and a ring of the wrong size; ridgeMap is the white top-hat; bad options
 * are refused by name.
 */
import { describe, expect, it } from 'vitest';
import { luminanceOf } from '../../src/core/boundary-prior.js';
import { brightRings, ridgeMap } from '../../src/core/rings.js';
import type { RgbImage } from '../../src/core/types.js';
import { skullImage } from '../helpers/masks.js';

const SIZE = 128;

/** Paints a bright band (luma 250) of rows y0..y1 across the image. */
function withWall(image: RgbImage, y0: number, y1: number): RgbImage {
  const data = Uint8Array.from(image.data);
  for (let y = y0; y <= y1; y++) data.fill(250, 3 * y * image.width, 3 * (y + 1) * image.width);
  return { ...image, data };
}

describe('brightRings', () => {
  const skull = { cx: 60, cy: 66, semiMajor: 34, semiMinor: 26, angle: 0.4 };

  it('finds a skull-like ring: centre within a pixel, axes within 8 %, angle within 0.1 rad', () => {
    const rings = brightRings(luminanceOf(skullImage(skull, SIZE)), { minRadius: 12, maxRadius: 50 });
    expect(rings.length).toBeGreaterThanOrEqual(1);
    const e = rings[0].ellipse;
    expect(Math.hypot(e.cx - skull.cx, e.cy - skull.cy)).toBeLessThan(1);
    expect(Math.abs(e.semiMajor / skull.semiMajor - 1)).toBeLessThan(0.08);
    expect(Math.abs(e.semiMinor / skull.semiMinor - 1)).toBeLessThan(0.08);
    expect(Math.abs(e.angle - skull.angle)).toBeLessThan(0.1);
    // Every ray agrees and the whole outline lies on the ridge; anything else found is far weaker.
    expect(rings[0].support).toBeGreaterThan(1);
    for (const other of rings.slice(1)) expect(other.support).toBeLessThan(rings[0].support / 2);
  });

  it('ranks the ring above a brighter straight wall, and finds none outside the radii asked for', () => {
    const image = withWall(skullImage(skull, SIZE), 4, 7);
    const rings = brightRings(luminanceOf(image), { minRadius: 12, maxRadius: 50, count: 2 });
    expect(Math.hypot(rings[0].ellipse.cx - skull.cx, rings[0].ellipse.cy - skull.cy)).toBeLessThan(1.5);
    const tooSmall = brightRings(luminanceOf(skullImage(skull, SIZE)), { minRadius: 3, maxRadius: 8 });
    for (const r of tooSmall) expect(r.ellipse.semiMajor).toBeLessThan(8 * 1.2 + 1e-9);
    expect(tooSmall.every((r) => r.support < rings[0].support / 2)).toBe(true);
  });

  it('returns a fainter ring after the stronger one, and finds it on its own where it is alone', () => {
    // A bright skull (luma 230) on the left and a fainter one (150) on the right, apart.
    const left = { cx: 40, cy: 64, semiMajor: 24, semiMinor: 20, angle: 0 };
    const right = { ...left, cx: 100 };
    const bright = skullImage(left, SIZE);
    const faint = skullImage(right, SIZE);
    const both = Uint8Array.from(bright.data);
    for (let i = 0; i < both.length; i++) if (faint.data[i] > 60) both[i] = Math.max(both[i], 150);
    const rings = brightRings(luminanceOf({ ...bright, data: both }), { minRadius: 12, maxRadius: 40, count: 3 });
    expect(rings.length).toBeGreaterThanOrEqual(2);
    expect(Math.abs(rings[0].ellipse.cx - left.cx)).toBeLessThan(1.5);
    // Rays from the right ring's centre that run on to the bright one pull its fit a little.
    expect(Math.abs(rings[1].ellipse.cx - right.cx)).toBeLessThan(8);
    expect(rings[1].support).toBeLessThan(rings[0].support);
    const alone = Uint8Array.from(faint.data, (v) => (v > 60 ? 150 : v));
    const found = brightRings(luminanceOf({ ...faint, data: alone }), { minRadius: 12, maxRadius: 40, count: 3 });
    expect(Math.abs(found[0].ellipse.cx - right.cx)).toBeLessThan(1.5);
  });

  it('has nothing to find on a flat image', () => {
    const flat: RgbImage = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3).fill(90) };
    expect(brightRings(luminanceOf(flat), { minRadius: 8, maxRadius: 20 })).toEqual([]);
  });

  it('refuses bad radii, counts and ray numbers by name', () => {
    const lum = luminanceOf(skullImage(skull, 64));
    expect(() => brightRings(lum, { minRadius: 0, maxRadius: 10 })).toThrow(/brightRings: expected 1 <= minRadius <= maxRadius, got 0 and 10/);
    expect(() => brightRings(lum, { minRadius: 10, maxRadius: 5 })).toThrow(/got 10 and 5/);
    expect(() => brightRings(lum, { minRadius: 5, maxRadius: 10, count: 0 })).toThrow(/count: expected an integer >= 1/);
    expect(() => brightRings(lum, { minRadius: 5, maxRadius: 10, rays: 4 })).toThrow(/rays: expected an integer >= 8/);
  });
});

describe('ridgeMap', () => {
  it('is how much a pixel is brighter than its window mean, in units of the spread, and 0 where darker', () => {
    // One bright pixel (255) on 0 in a 9 x 9 image; window radius 1: mean 255 / 9 there.
    const data = new Uint8Array(81 * 3);
    data.fill(255, 3 * 40, 3 * 41);
    const lum = luminanceOf({ width: 9, height: 9, data });
    const ridge = ridgeMap(lum, 1);
    expect(ridge[40]).toBeCloseTo((lum.data[40] - lum.data[40] / 9) / lum.std, 4);
    expect(ridge[39]).toBe(0);
    expect(ridge[0]).toBe(0);
  });
});
