import { describe, expect, it } from 'vitest';
import { luminanceOf } from '../../src/core/boundary-prior.js';
import { edgeMap } from '../../src/core/edge-prior.js';
import {
  conicToEllipse,
  edgeSupportedEllipse,
  ellipseConsistency,
  ellipseArea,
  ellipseCircumference,
  ellipseMask,
  ellipseToConic,
  fitConic,
  resampleEllipse,
  type Ellipse,
} from '../../src/core/ellipse.js';
import { isSalipError } from '../../src/core/errors.js';
import { createMask, maskArea, maskDice, resizeMaskNearest } from '../../src/core/mask.js';
import { skullImage } from '../helpers/masks.js';

/** n points on the ellipse, evenly spaced in its parameter over [from, to). */
function onEllipse(e: Ellipse, n: number, from = 0, to = 2 * Math.PI): number[] {
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const t = from + ((to - from) * k) / n;
    const u = e.semiMajor * Math.cos(t);
    const v = e.semiMinor * Math.sin(t);
    out.push(e.cx + u * Math.cos(e.angle) - v * Math.sin(e.angle), e.cy + u * Math.sin(e.angle) + v * Math.cos(e.angle));
  }
  return out;
}

function expectEllipse(actual: Ellipse | undefined, expected: Ellipse, digits = 6): void {
  expect(actual).toBeDefined();
  expect(actual!.cx).toBeCloseTo(expected.cx, digits);
  expect(actual!.cy).toBeCloseTo(expected.cy, digits);
  expect(actual!.semiMajor).toBeCloseTo(expected.semiMajor, digits);
  expect(actual!.semiMinor).toBeCloseTo(expected.semiMinor, digits);
  expect(actual!.angle).toBeCloseTo(expected.angle, digits);
}

describe('ellipse fitting', () => {
  const tilted: Ellipse = { cx: 140.3, cy: 95.7, semiMajor: 58, semiMinor: 31, angle: 0.6 };

  it('recovers an ellipse from points on it, whole or from one third of it', () => {
    expectEllipse(conicToEllipse(fitConic(onEllipse(tilted, 40))!), tilted);
    expectEllipse(conicToEllipse(fitConic(onEllipse(tilted, 40, 0.3, 0.3 + (2 * Math.PI) / 3))!), tilted);
  });

  it('reports the long axis direction in (-pi/2, pi/2] and semiMajor >= semiMinor', () => {
    for (const angle of [0, Math.PI / 2, -1.2, 1.2]) {
      const e = { cx: 50, cy: 40, semiMajor: 20, semiMinor: 8, angle };
      expectEllipse(conicToEllipse(fitConic(onEllipse(e, 24))!), e);
    }
    // A circle: any direction is the long axis; the fit says 0 or pi/2.
    const circle = conicToEllipse(fitConic(onEllipse({ cx: 10, cy: 10, semiMajor: 5, semiMinor: 5, angle: 0 }, 12))!)!;
    expect(circle.semiMajor).toBeCloseTo(5, 6);
    expect(circle.semiMinor).toBeCloseTo(5, 6);
  });

  it('gives no ellipse for too few points, points on a line, or a hyperbola', () => {
    expect(fitConic(onEllipse(tilted, 5))).toBeUndefined();
    expect(fitConic([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6])).toBeUndefined();
    const hyperbola: number[] = [];
    // x^2 / 4 - y^2 = 1, both branches.
    for (const t of [-1.5, -1, -0.5, 0, 0.5, 1, 1.5]) hyperbola.push(2 * Math.cosh(t), Math.sinh(t), -2 * Math.cosh(t), Math.sinh(t));
    const conic = fitConic(hyperbola);
    expect(conic).toBeDefined();
    expect(conicToEllipse(conic!)).toBeUndefined();
    expect(conicToEllipse({ a: 1, b: 0, c: 1, d: 0, e: 0, f: 1 })).toBeUndefined(); // x^2 + y^2 = -1: empty
  });

  it('ellipseToConic and conicToEllipse are inverse; a scaled or negated conic is the same ellipse', () => {
    const k = ellipseToConic(tilted);
    expectEllipse(conicToEllipse(k), tilted, 9);
    expectEllipse(conicToEllipse({ a: -3 * k.a, b: -3 * k.b, c: -3 * k.c, d: -3 * k.d, e: -3 * k.e, f: -3 * k.f }), tilted, 9);
  });
});

describe('ellipse masks and measures', () => {
  it('draws a filled ellipse whose area and perimeter are the textbook ones', () => {
    const circle: Ellipse = { cx: 31.5, cy: 31.5, semiMajor: 20, semiMinor: 20, angle: 0 };
    expect(maskArea(ellipseMask(circle, 64, 64)) / ellipseArea(circle)).toBeCloseTo(1, 1);
    expect(ellipseCircumference(circle)).toBeCloseTo(2 * Math.PI * 20, 9);
    // The perimeter of the ellipse with semi-axes 2 and 1 is 9.688448220547675.
    expect(ellipseCircumference({ cx: 0, cy: 0, semiMajor: 2, semiMinor: 1, angle: 0.3 })).toBeCloseTo(9.6884482, 5);
    // Clipped at the frame, not wrapped.
    const corner = ellipseMask({ cx: 0, cy: 0, semiMajor: 10, semiMinor: 10, angle: 0 }, 32, 32);
    expect(corner.data[31 * 32 + 31]).toBe(0);
    expect(maskArea(corner)).toBeLessThan(ellipseArea({ cx: 0, cy: 0, semiMajor: 10, semiMinor: 10, angle: 0 }) / 3);
  });

  it('resamples to another grid as the mask resizes, turning the axes when the two scales differ', () => {
    const e: Ellipse = { cx: 30, cy: 20, semiMajor: 14, semiMinor: 7, angle: 0.4 };
    expect(resampleEllipse(e, 64, 48, 64, 48)).toBe(e);
    const wide = resampleEllipse(e, 64, 48, 256, 96);
    expect(wide.cx).toBeCloseTo((30 + 0.5) * 4 - 0.5, 9);
    expect(wide.cy).toBeCloseTo((20 + 0.5) * 2 - 0.5, 9);
    expect(wide.angle).toBeLessThan(0.4); // stretched along x: the long axis leans towards x
    const drawn = ellipseMask(wide, 256, 96);
    expect(maskDice(drawn, resizeMaskNearest(ellipseMask(e, 64, 48), 256, 96))).toBeGreaterThan(0.97);
    // Axis-aligned and uniform: only the size changes.
    const twice = resampleEllipse({ cx: 10, cy: 12, semiMajor: 6, semiMinor: 3, angle: 0 }, 32, 32, 64, 64);
    expectEllipse(twice, { cx: 20.5, cy: 24.5, semiMajor: 12, semiMinor: 6, angle: 0 }, 9);
  });
});

describe('edgeSupportedEllipse', () => {
  const SIZE = 128;
  /** A skull: a bright elliptical ring (semi-axes 40 x 28, tilted) on flat tissue. */
  const skull: Ellipse = { cx: 60, cy: 66, semiMajor: 40, semiMinor: 28, angle: 0.3 };
  const edges = edgeMap(luminanceOf(skullImage(skull, SIZE)));
  const head = ellipseMask(skull, SIZE, SIZE);

  it('fits the skull through a mask that leaked out of it on one side and was cut on another', () => {
    const leaked = createMask(SIZE, SIZE, Uint8Array.from(head.data));
    for (let y = 50; y < 80; y++) for (let x = 90; x < 124; x++) leaked.data[y * SIZE + x] = 1; // a leak over flat tissue
    for (let y = 0; y < SIZE; y++) for (let x = 0; x < 32; x++) leaked.data[y * SIZE + x] = 0; // the far side cut off
    expect(maskDice(leaked, head)).toBeLessThan(0.9);
    const fitted = edgeSupportedEllipse(leaked, edges)!;
    expect(fitted).toBeDefined();
    expect(Math.abs(fitted.cx - skull.cx)).toBeLessThan(2);
    expect(Math.abs(fitted.cy - skull.cy)).toBeLessThan(2);
    expect(maskDice(ellipseMask(fitted, SIZE, SIZE), head)).toBeGreaterThan(0.95);
  });

  it('ellipseConsistency: 1 for the head itself, less for a head that leaked, 0 when nothing fits', () => {
    expect(ellipseConsistency(head, edges)).toBeGreaterThan(0.97);
    const leaked = createMask(SIZE, SIZE, Uint8Array.from(head.data));
    for (let y = 50; y < 80; y++) for (let x = 90; x < 124; x++) leaked.data[y * SIZE + x] = 1;
    expect(ellipseConsistency(leaked, edges)).toBeLessThan(0.9);
    expect(ellipseConsistency(createMask(SIZE, SIZE), edges)).toBe(0);
  });

  it('gives nothing for a mask too small to outline an ellipse, and names bad input', () => {
    const speck = createMask(SIZE, SIZE);
    speck.data[10 * SIZE + 10] = 1;
    expect(edgeSupportedEllipse(speck, edges)).toBeUndefined();
    expect(edgeSupportedEllipse(createMask(SIZE, SIZE), edges)).toBeUndefined();
    const mismatch = (() => {
      try {
        edgeSupportedEllipse(createMask(64, 64), edges);
      } catch (e) {
        return e;
      }
    })();
    expect(isSalipError(mismatch) && mismatch.code).toBe('SIZE_MISMATCH');
    expect(() => edgeSupportedEllipse(head, edges, 0)).toThrow(/share/);
  });
});
