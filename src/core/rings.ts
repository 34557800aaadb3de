/**
 * Bright elliptical rings in an image: a fetal skull in ultrasound, a vessel wall, a cyst's rim.
 * Segment-everything offers what a grid point lands on, and a point inside a skull lands on the
 * brain, the falx or half the wall, rarely on the head; a box around the ring gives SAM the head
 * (HC18's reference ellipses are such rings). So rings are found by their geometry alone:
 *
 * 1. a ridge map: luminance above its local mean (a white top-hat), in units of the image's spread;
 * 2. rays from centres on a coarse grid: along each ray the first ridge that reaches most of the
 *    ray's strongest, between the smallest and largest radius asked for; a centre inside a ring
 *    finds the ring on every ray;
 * 3. an ellipse through each promising centre's ray hits (core/ellipse.ts's conic fit), scored by
 *    the ridge under its outline times the share of rays that agree with it. Weak rings are kept
 *    (after the strongest): on fetal heads a faint skull is often the right one, and dropping rings
 *    under half the strongest's support lost 0.023 Dice on the held-out half (docs/results.md).
 *
 * Pure: luminance in, ellipses out.
 */
import type { Luminance } from './boundary-prior.js';
import { type Ellipse, conicToEllipse, ellipseBounds, fitConic } from './ellipse.js';
import { SalipError } from './errors.js';
import { boxIoU } from './mask.js';

export interface RingOptions {
  /** Smallest semi-axis of a ring, pixels. */
  readonly minRadius: number;
  /** Largest semi-axis of a ring, pixels. */
  readonly maxRadius: number;
  /** How many rings to return at most (default 3). */
  readonly count?: number;
  /** Rays per centre (default 32). */
  readonly rays?: number;
}

export interface Ring {
  readonly ellipse: Ellipse;
  /** Mean ridge strength under the outline times the share of rays on it (higher: more a ring). */
  readonly support: number;
}

/** A hit counts as on the ellipse when its radius is within this share of the ellipse's along its ray. */
const ON_ELLIPSE = 0.15;
/** A ray's hit is its first ridge reaching this share of the ray's strongest. */
const HIT_SHARE = 0.6;
/** Centres kept for an ellipse fit. */
const FITTED_CENTRES = 48;
/** Longest axis over shortest: flatter fits are not a ring. */
const MAX_ELONGATION = 2.5;

/** The white top-hat of the luminance: how much each pixel is brighter than the mean of a (2r+1)^2 window, over the spread. */
export function ridgeMap(luminance: Luminance, radius: number): Float32Array {
  const { width: w, height: h, data, std } = luminance;
  // Summed-area table, one row and column of zeros ahead.
  const sat = new Float64Array((w + 1) * (h + 1));
  for (let y = 0; y < h; y++) {
    let row = 0;
    for (let x = 0; x < w; x++) {
      row += data[y * w + x];
      sat[(y + 1) * (w + 1) + x + 1] = sat[y * (w + 1) + x + 1] + row;
    }
  }
  const out = new Float32Array(w * h);
  const r = Math.max(1, Math.round(radius));
  for (let y = 0; y < h; y++) {
    const y0 = Math.max(0, y - r);
    const y1 = Math.min(h, y + r + 1);
    for (let x = 0; x < w; x++) {
      const x0 = Math.max(0, x - r);
      const x1 = Math.min(w, x + r + 1);
      const sum = sat[y1 * (w + 1) + x1] - sat[y0 * (w + 1) + x1] - sat[y1 * (w + 1) + x0] + sat[y0 * (w + 1) + x0];
      const mean = sum / ((x1 - x0) * (y1 - y0));
      out[y * w + x] = Math.max(0, data[y * w + x] - mean) / std;
    }
  }
  return out;
}

/** Where each ray from (cx, cy) first meets a strong ridge between rMin and rMax: radius (NaN for none) and ridge value. */
function rayHits(ridge: Float32Array, w: number, h: number, cx: number, cy: number, rMin: number, rMax: number, cos: Float64Array, sin: Float64Array): { radius: Float64Array; value: Float64Array } {
  const rays = cos.length;
  const radius = new Float64Array(rays).fill(Number.NaN);
  const value = new Float64Array(rays);
  const samples = new Float32Array(Math.ceil(rMax - rMin) + 1);
  for (let k = 0; k < rays; k++) {
    let strongest = 0;
    let n = 0;
    for (let r = rMin; r <= rMax; r++, n++) {
      const x = Math.round(cx + r * cos[k]);
      const y = Math.round(cy + r * sin[k]);
      const v = x < 0 || y < 0 || x >= w || y >= h ? 0 : ridge[y * w + x];
      samples[n] = v;
      if (v > strongest) strongest = v;
    }
    if (strongest <= 0) continue;
    // The first sample reaching HIT_SHARE of the strongest, then up its slope to the local peak.
    let i = 0;
    while (samples[i] < HIT_SHARE * strongest) i++;
    while (i + 1 < n && samples[i + 1] >= samples[i]) i++;
    radius[k] = rMin + i;
    value[k] = samples[i];
  }
  return { radius, value };
}

/** The ellipse's radius along direction (cos, sin) from its centre. */
function radiusAlong(e: Ellipse, cos: number, sin: number): number {
  const c = Math.cos(e.angle);
  const s = Math.sin(e.angle);
  const u = cos * c + sin * s;
  const v = -cos * s + sin * c;
  return 1 / Math.sqrt((u / e.semiMajor) ** 2 + (v / e.semiMinor) ** 2);
}

/** Mean ridge under the ellipse's outline (64 points, each the largest within one pixel). */
function outlineRidge(ridge: Float32Array, w: number, h: number, e: Ellipse): number {
  const c = Math.cos(e.angle);
  const s = Math.sin(e.angle);
  let sum = 0;
  const points = 64;
  for (let k = 0; k < points; k++) {
    const t = (2 * Math.PI * k) / points;
    const px = e.cx + e.semiMajor * Math.cos(t) * c - e.semiMinor * Math.sin(t) * s;
    const py = e.cy + e.semiMajor * Math.cos(t) * s + e.semiMinor * Math.sin(t) * c;
    let best = 0;
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const x = Math.round(px) + dx;
        const y = Math.round(py) + dy;
        if (x >= 0 && y >= 0 && x < w && y < h) best = Math.max(best, ridge[y * w + x]);
      }
    }
    sum += best;
  }
  return sum / points;
}

/** The ellipse through the ray hits (x, y pairs) or undefined when none fits the size asked for. */
function fitRing(points: number[], rMin: number, rMax: number): Ellipse | undefined {
  const conic = fitConic(points);
  const e = conic && conicToEllipse(conic);
  if (!e || !Number.isFinite(e.semiMajor) || !Number.isFinite(e.semiMinor)) return undefined;
  if (e.semiMinor < rMin * 0.8 || e.semiMajor > rMax * 1.2 || e.semiMajor > MAX_ELONGATION * e.semiMinor) return undefined;
  return e;
}

/** The image's brightest elliptical rings of semi-axes within [minRadius, maxRadius], strongest first. */
export function brightRings(luminance: Luminance, options: RingOptions): Ring[] {
  const { width: w, height: h } = luminance;
  const { minRadius, maxRadius } = options;
  const count = options.count ?? 3;
  const rays = options.rays ?? 32;
  if (!(minRadius >= 1) || !(maxRadius >= minRadius)) {
    throw new SalipError('INVALID_ARGUMENT', `brightRings: expected 1 <= minRadius <= maxRadius, got ${minRadius} and ${maxRadius}`);
  }
  if (!Number.isInteger(count) || count < 1) throw new SalipError('INVALID_ARGUMENT', `brightRings: count: expected an integer >= 1, got ${count}`);
  if (!Number.isInteger(rays) || rays < 8) throw new SalipError('INVALID_ARGUMENT', `brightRings: rays: expected an integer >= 8, got ${rays}`);
  // The top-hat window is wider than a wall (a few per cent of the ring) and narrower than the ring.
  const ridge = ridgeMap(luminance, Math.max(2, minRadius / 3));
  const cos = Float64Array.from({ length: rays }, (_, k) => Math.cos((2 * Math.PI * k) / rays));
  const sin = Float64Array.from({ length: rays }, (_, k) => Math.sin((2 * Math.PI * k) / rays));
  const rMin = Math.max(1, Math.floor(minRadius * 0.8));
  const rMax = Math.ceil(maxRadius * 1.2);
  // 1. Centres on a grid of a quarter of the smallest radius, scored by the mean ray hit.
  const step = Math.max(2, Math.round(minRadius / 4));
  // Each centre keeps its hits' radii for the fit below (a few kilobytes per hundred centres).
  const centres: Array<{ x: number; y: number; score: number; radius: Float64Array }> = [];
  for (let y = step / 2; y < h; y += step) {
    for (let x = step / 2; x < w; x += step) {
      const { radius, value } = rayHits(ridge, w, h, x, y, rMin, rMax, cos, sin);
      let sum = 0;
      for (const v of value) sum += v;
      centres.push({ x, y, score: sum / rays, radius });
    }
  }
  centres.sort((a, b) => b.score - a.score);
  // 2. An ellipse through the hits of each of the best centres, apart from each other.
  const rings: Ring[] = [];
  const taken: Array<{ x: number; y: number }> = [];
  for (const c of centres) {
    if (taken.length >= FITTED_CENTRES) break;
    if (taken.some((t) => Math.hypot(t.x - c.x, t.y - c.y) < minRadius / 2)) continue;
    taken.push(c);
    const { radius } = c;
    const points: number[] = [];
    for (let k = 0; k < rays; k++) if (Number.isFinite(radius[k])) points.push(c.x + radius[k] * cos[k], c.y + radius[k] * sin[k]);
    let e = fitRing(points, minRadius, maxRadius);
    if (!e) continue;
    // Refit on the hits that agree with the first fit (a ray that ran past a gap in the wall does not).
    const agree = (ell: Ellipse) => {
      const kept: number[] = [];
      for (let k = 0; k < rays; k++) {
        if (!Number.isFinite(radius[k])) continue;
        const px = c.x + radius[k] * cos[k] - ell.cx;
        const py = c.y + radius[k] * sin[k] - ell.cy;
        const r = Math.hypot(px, py);
        if (r === 0) continue;
        const along = radiusAlong(ell, px / r, py / r);
        if (Math.abs(r - along) <= ON_ELLIPSE * along) kept.push(c.x + radius[k] * cos[k], c.y + radius[k] * sin[k]);
      }
      return kept;
    };
    const inliers = agree(e);
    const refit = fitRing(inliers, minRadius, maxRadius);
    if (refit) e = refit;
    const share = agree(e).length / 2 / rays;
    rings.push({ ellipse: e, support: outlineRidge(ridge, w, h, e) * share });
  }
  // 3. Strongest first, one ring per place.
  rings.sort((a, b) => b.support - a.support);
  const out: Ring[] = [];
  for (const r of rings) {
    if (out.length >= count) break;
    if (out.some((o) => boxIoU(ellipseBounds(o.ellipse), ellipseBounds(r.ellipse)) > 0.5)) continue;
    out.push(r);
  }
  return out;
}
