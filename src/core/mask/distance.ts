/**
 * Exact Euclidean distance transforms of binary masks (Felzenszwalb & Huttenlocher's lower
 * envelope of parabolas, one pass per axis), and the signed distance to a mask's outline.
 */
import type { BinaryMask } from '../types.js';

/** Squared distance from each pixel to the nearest pixel with `data[i] === value` (Infinity when there is none). */
export function squaredDistanceTo(mask: BinaryMask, value: 0 | 1): Float64Array {
  const { width, height, data } = mask;
  const out = new Float64Array(width * height);
  for (let i = 0; i < out.length; i++) out[i] = data[i] === value ? 0 : Infinity;
  const n = Math.max(width, height);
  const f = new Float64Array(n);
  const d = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) f[y] = out[y * width + x];
    envelope(f, height, d, v, z);
    for (let y = 0; y < height; y++) out[y * width + x] = d[y];
  }
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) f[x] = out[row + x];
    envelope(f, width, d, v, z);
    for (let x = 0; x < width; x++) out[row + x] = d[x];
  }
  return out;
}

/** One axis: d[q] = min over p of (q - p)^2 + f[p], over the first n values. */
function envelope(f: Float64Array, n: number, d: Float64Array, v: Int32Array, z: Float64Array): void {
  let k = -1;
  for (let q = 0; q < n; q++) {
    if (f[q] === Infinity) continue;
    // Drop parabolas the new one (rooted at q) lies below from where they start.
    while (k >= 0) {
      const s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
      if (s > z[k]) {
        k++;
        v[k] = q;
        z[k] = s;
        break;
      }
      k--;
    }
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -Infinity;
    }
  }
  if (k < 0) {
    d.fill(Infinity, 0, n);
    return;
  }
  z[k + 1] = Infinity;
  let j = 0;
  for (let q = 0; q < n; q++) {
    while (z[j + 1] < q) j++;
    d[q] = (q - v[j]) * (q - v[j]) + f[v[j]];
  }
}

/**
 * Signed distance to the mask's outline, in pixels: negative inside (minus the distance to the
 * nearest outside pixel), positive outside (the distance to the nearest inside pixel). An empty
 * mask is Infinity everywhere, a full one -Infinity.
 */
export function signedDistance(mask: BinaryMask): Float64Array {
  const toInside = squaredDistanceTo(mask, 1);
  const toOutside = squaredDistanceTo(mask, 0);
  const out = new Float64Array(toInside.length);
  for (let i = 0; i < out.length; i++) out[i] = mask.data[i] ? -Math.sqrt(toOutside[i]) : Math.sqrt(toInside[i]);
  return out;
}
