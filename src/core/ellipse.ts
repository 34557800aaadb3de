/**
 * Ellipses fitted to a mask's outline. Some organs are measured as ellipses: a fetal head's
 * circumference (HC) and biparietal diameter come from an ellipse laid on the skull, and the
 * reference masks of such data are filled ellipses. SAM's mask of a head follows the skull where
 * its wall is bright and wanders where the wall is faint (a bulge into the tissue beside it, a
 * dent where the wall is shadowed); an ellipse through the outline pixels that lie on the image's
 * strongest edges keeps the wall and drops the wander.
 *
 * Conics are fitted by linear least squares with the constraint a + c = 1 (invariant to rotation
 * and translation; it cannot express the conics with a + c = 0, rectangular hyperbolas, which are
 * no ellipse anyway) on coordinates centred and scaled first (so the normal equations stay well
 * conditioned at any image size).
 */
import { maskBoundary } from './draw.js';
import type { EdgeMap } from './edge-prior.js';
import { SalipError } from './errors.js';
import { maskIoU } from './mask.js';
import type { BinaryMask } from './types.js';

/** a x^2 + b xy + c y^2 + d x + e y + f = 0, in pixel coordinates (pixel centres at integers). */
export interface Conic {
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly d: number;
  readonly e: number;
  readonly f: number;
}

/** An ellipse in pixel coordinates (x right, y down; pixel centres at integers). */
export interface Ellipse {
  readonly cx: number;
  readonly cy: number;
  /** Half the long axis, pixels. */
  readonly semiMajor: number;
  /** Half the short axis, pixels. */
  readonly semiMinor: number;
  /** Direction of the long axis from +x towards +y, radians in (-pi/2, pi/2]. */
  readonly angle: number;
}

/** Fewest points a conic is fitted to (five fix it; one more so noise does not). */
const MIN_POINTS = 6;

/**
 * The least-squares conic through points given as [x0, y0, x1, y1, ...] (undefined for fewer
 * than 6 points or when they fix no conic, e.g. all on one line).
 */
export function fitConic(points: ArrayLike<number>): Conic | undefined {
  const n = Math.floor(points.length / 2);
  if (n < MIN_POINTS) return undefined;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += points[2 * i];
    my += points[2 * i + 1];
  }
  mx /= n;
  my /= n;
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.hypot(points[2 * i] - mx, points[2 * i + 1] - my);
  s /= n;
  if (!(s > 0)) return undefined;
  // With c = 1 - a: a (u^2 - v^2) + b uv + d u + e v + f = -v^2, five unknowns.
  const ata = Array.from({ length: 5 }, () => new Float64Array(5));
  const atb = new Float64Array(5);
  const row = new Float64Array(5);
  for (let i = 0; i < n; i++) {
    const u = (points[2 * i] - mx) / s;
    const v = (points[2 * i + 1] - my) / s;
    row[0] = u * u - v * v;
    row[1] = u * v;
    row[2] = u;
    row[3] = v;
    row[4] = 1;
    for (let r = 0; r < 5; r++) {
      atb[r] += row[r] * -v * v;
      for (let k = 0; k < 5; k++) ata[r][k] += row[r] * row[k];
    }
  }
  const x = solveLinear(ata, atb);
  if (!x) return undefined;
  const [a, b, d, e, f] = x;
  const c = 1 - a;
  // Back to pixel coordinates: substitute u = (x - mx) / s, v = (y - my) / s and scale by s^2.
  return {
    a,
    b,
    c,
    d: -2 * a * mx - b * my + d * s,
    e: -b * mx - 2 * c * my + e * s,
    f: a * mx * mx + b * mx * my + c * my * my - d * s * mx - e * s * my + f * s * s,
  };
}

/** Gaussian elimination with partial pivoting; undefined when the system is singular. */
function solveLinear(matrix: Float64Array[], rhs: Float64Array): number[] | undefined {
  const n = rhs.length;
  const m = matrix.map((r, i) => [...r, rhs[i]]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    if (Math.abs(m[pivot][col]) < 1e-12) return undefined;
    [m[col], m[pivot]] = [m[pivot], m[col]];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const factor = m[r][col] / m[col][col];
      for (let k = col; k <= n; k++) m[r][k] -= factor * m[col][k];
    }
  }
  return m.map((r, i) => r[n] / r[i]);
}

/** The ellipse a conic describes, or undefined when it is a hyperbola, parabola, or empty. */
export function conicToEllipse(conic: Conic): Ellipse | undefined {
  let { a, b, c, d, e, f } = conic;
  const det = 4 * a * c - b * b;
  if (!(det > 0)) return undefined;
  // Positive eigenvalues, so the inside is where the conic is negative.
  if (a + c < 0) [a, b, c, d, e, f] = [-a, -b, -c, -d, -e, -f];
  const cx = (b * e - 2 * c * d) / det;
  const cy = (b * d - 2 * a * e) / det;
  const atCentre = f + (d * cx + e * cy) / 2;
  if (!(atCentre < 0)) return undefined;
  const mean = (a + c) / 2;
  const spread = Math.hypot((a - c) / 2, b / 2);
  const large = mean + spread;
  const small = mean - spread;
  if (!(small > 0)) return undefined;
  // The larger eigenvalue's direction is 0.5 atan2(b, a - c); the long axis is across it.
  let angle = 0.5 * Math.atan2(b, a - c) + Math.PI / 2;
  if (angle > Math.PI / 2) angle -= Math.PI;
  if (angle <= -Math.PI / 2 + 1e-12) angle += Math.PI;
  return { cx, cy, semiMajor: Math.sqrt(-atCentre / small), semiMinor: Math.sqrt(-atCentre / large), angle };
}

/** The conic of an ellipse (negative inside, 0 on it, scaled so it is -1 at the centre). */
export function ellipseToConic(ellipse: Ellipse): Conic {
  const { cx, cy, semiMajor: p, semiMinor: q, angle } = ellipse;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const a = (cos * cos) / (p * p) + (sin * sin) / (q * q);
  const b = 2 * cos * sin * (1 / (p * p) - 1 / (q * q));
  const c = (sin * sin) / (p * p) + (cos * cos) / (q * q);
  return { a, b, c, d: -2 * a * cx - b * cy, e: -b * cx - 2 * c * cy, f: a * cx * cx + b * cx * cy + c * cy * cy - 1 };
}

/**
 * The ellipse in the pixel grid of the same image resampled from `fromWidth` x `fromHeight` to
 * `toWidth` x `toHeight` (pixel centres map as x' = (x + 0.5) * toWidth / fromWidth - 0.5; the
 * axes turn when the two scales differ).
 */
export function resampleEllipse(ellipse: Ellipse, fromWidth: number, fromHeight: number, toWidth: number, toHeight: number): Ellipse {
  if (fromWidth === toWidth && fromHeight === toHeight) return ellipse;
  const { a, b, c, d, e, f } = ellipseToConic(ellipse);
  // x = p X + q and y = r Y + t, X and Y in the new grid.
  const p = fromWidth / toWidth;
  const q = 0.5 * p - 0.5;
  const r = fromHeight / toHeight;
  const t = 0.5 * r - 0.5;
  const resampled = conicToEllipse({
    a: a * p * p,
    b: b * p * r,
    c: c * r * r,
    d: 2 * a * p * q + b * p * t + d * p,
    e: b * q * r + 2 * c * r * t + e * r,
    f: a * q * q + b * q * t + c * t * t + d * q + e * t + f,
  });
  if (!resampled) throw new SalipError('INVALID_ARGUMENT', `resampleEllipse: ${fromWidth} x ${fromHeight} -> ${toWidth} x ${toHeight} is not a resampling`);
  return resampled;
}

/** The filled ellipse as a width x height mask (pixels whose centres lie inside or on it). */
export function ellipseMask(ellipse: Ellipse, width: number, height: number): BinaryMask {
  const { cx, cy, semiMajor, semiMinor, angle } = ellipse;
  const data = new Uint8Array(width * height);
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const x0 = Math.max(0, Math.floor(cx - semiMajor));
  const x1 = Math.min(width - 1, Math.ceil(cx + semiMajor));
  const y0 = Math.max(0, Math.floor(cy - semiMajor));
  const y1 = Math.min(height - 1, Math.ceil(cy + semiMajor));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const dx = x - cx;
      const dy = y - cy;
      const along = (dx * cos + dy * sin) / semiMajor;
      const across = (dy * cos - dx * sin) / semiMinor;
      if (along * along + across * across <= 1 + 1e-9) data[y * width + x] = 1;
    }
  }
  return { width, height, data };
}

/** Ramanujan's approximation of the ellipse's perimeter (pixels; exact for a circle, within 0.01 % up to an axis ratio of 10). */
export function ellipseCircumference(ellipse: Ellipse): number {
  const { semiMajor: p, semiMinor: q } = ellipse;
  const h = ((p - q) * (p - q)) / ((p + q) * (p + q));
  return Math.PI * (p + q) * (1 + (3 * h) / (10 + Math.sqrt(4 - 3 * h)));
}

/** The ellipse's bounding box [x0, y0, x1, y1] in continuous pixel coordinates (not rounded or clipped). */
export function ellipseBounds(ellipse: Ellipse): [number, number, number, number] {
  const { cx, cy, semiMajor: a, semiMinor: b, angle } = ellipse;
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const hx = Math.hypot(a * c, b * s);
  const hy = Math.hypot(a * s, b * c);
  return [cx - hx, cy - hy, cx + hx, cy + hy];
}

/** Area of the filled ellipse, square pixels (pi x semi-axes). */
export function ellipseArea(ellipse: Ellipse): number {
  return Math.PI * ellipse.semiMajor * ellipse.semiMinor;
}

/**
 * The ellipse through the part of a mask's outline that lies on the image's stronger edges: the
 * outline pixels (not counting the image frame as outside) whose edge strength is at least the
 * outline's median (`share` 0.5: the stronger half) are fitted. Undefined when too few pixels
 * remain or they fix no ellipse. Why the stronger half: a head's outline runs on its skull for
 * most of its length and over flat tissue where it leaks or is cut; the stronger half is the skull.
 */
export function edgeSupportedEllipse(mask: BinaryMask, edges: EdgeMap, share = 0.5): Ellipse | undefined {
  if (edges.width !== mask.width || edges.height !== mask.height) {
    throw new SalipError('SIZE_MISMATCH', `edgeSupportedEllipse: mask is ${mask.width} x ${mask.height}, edge map ${edges.width} x ${edges.height}`);
  }
  if (!(share > 0 && share <= 1)) throw new SalipError('INVALID_ARGUMENT', `edgeSupportedEllipse: share must be in (0, 1], got ${share}`);
  const outline = maskBoundary(mask, { frameIsOutside: false });
  const pixels: number[] = [];
  for (let i = 0; i < outline.length; i++) if (outline[i]) pixels.push(i);
  if (pixels.length < MIN_POINTS) return undefined;
  const strengths = pixels.map((i) => edges.data[i]).sort((x, y) => x - y);
  const threshold = strengths[Math.min(strengths.length - 1, Math.floor(strengths.length * (1 - share)))];
  const points: number[] = [];
  for (const i of pixels) if (edges.data[i] >= threshold) points.push(i % mask.width, Math.floor(i / mask.width));
  const conic = fitConic(points);
  return conic && conicToEllipse(conic);
}

/**
 * How much a mask is the ellipse through the stronger half of its outline: the IoU of the two
 * (0-1; 0 when no ellipse fits). A head, tight on its skull, is nearly its ellipse; a head that
 * leaked into the tissue beside it is not, because the stronger half of its outline is still the
 * skull and the ellipse through it leaves the leak out.
 */
export function ellipseConsistency(mask: BinaryMask, edges: EdgeMap, share = 0.5): number {
  const fitted = edgeSupportedEllipse(mask, edges, share);
  return fitted ? maskIoU(mask, ellipseMask(fitted, mask.width, mask.height)) : 0;
}
