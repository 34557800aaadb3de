/**
 * The convex hull of a binary mask, filled. Organs such as the fetal skull or a brain slice are
 * convex, and SAM often returns them as a ring or a crescent (the bright bone without the
 * darker inside, half a skull); the hull restores the organ those pieces outline.
 */
import type { BinaryMask } from '../types.js';
import { assertMask, createMask } from './basics.js';

type Point = readonly [number, number];

/** z of the cross product (b - a) x (c - a): > 0 for a left turn. */
function cross(a: Point, b: Point, c: Point): number {
  return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
}

/**
 * The hull's vertices in order (Andrew's monotone chain). Each row's leftmost and rightmost
 * foreground pixel centres are the only points that can be vertices, so at most 2 x height go in.
 */
export function maskHullVertices(mask: BinaryMask): Point[] {
  const { width, height, data } = mask;
  const points: Point[] = [];
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let left = -1;
    let right = -1;
    for (let x = 0; x < width; x++) {
      if (data[row + x]) {
        if (left < 0) left = x;
        right = x;
      }
    }
    if (left < 0) continue;
    points.push([left, y]);
    if (right !== left) points.push([right, y]);
  }
  if (points.length <= 2) return points;
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const lower: Point[] = [];
  for (const p of points) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = points.length - 1; i >= 0; i--) {
    const p = points[i];
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
    upper.push(p);
  }
  return [...lower.slice(0, -1), ...upper.slice(0, -1)];
}

/**
 * The filled convex hull: every pixel whose centre lies inside or on the hull of the foreground
 * pixel centres. Contains the mask; an empty mask stays empty.
 */
export function convexHull(mask: BinaryMask): BinaryMask {
  assertMask(mask, 'mask');
  const { width, height } = mask;
  const hull = maskHullVertices(mask);
  const out = createMask(width, height);
  if (hull.length === 0) return out;
  // Per row, the hull's extent along the line y: the min and max x over its edges' crossings.
  const eps = 1e-9;
  for (let y = 0; y < height; y++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < hull.length; i++) {
      const a = hull[i];
      const b = hull[(i + 1) % hull.length];
      if ((y < a[1] && y < b[1]) || (y > a[1] && y > b[1])) continue;
      if (a[1] === b[1]) {
        lo = Math.min(lo, a[0], b[0]);
        hi = Math.max(hi, a[0], b[0]);
      } else {
        const x = a[0] + ((y - a[1]) * (b[0] - a[0])) / (b[1] - a[1]);
        lo = Math.min(lo, x);
        hi = Math.max(hi, x);
      }
    }
    if (lo > hi) continue;
    const from = Math.max(0, Math.ceil(lo - eps));
    const to = Math.min(width - 1, Math.floor(hi + eps));
    out.data.fill(1, y * width + from, y * width + to + 1);
  }
  return out;
}
