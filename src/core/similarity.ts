/**
 * Embedding arithmetic for retrieval: L2 normalisation, cosine similarity, prompt-ensemble
 * means, CLIP-style scaled cosine score tables and top-k selection. Matrices are row-major
 * Float32Arrays (row r is m[r * dim .. (r + 1) * dim)).
 */
import { SalipError, assertArgument } from './errors.js';

function assertMatrix(m: Float32Array, rows: number, dim: number, what: string): void {
  assertArgument(m instanceof Float32Array, what, 'a Float32Array', m);
  assertArgument(Number.isInteger(rows) && rows >= 0, `${what} rows`, 'a non-negative integer', rows);
  assertArgument(Number.isInteger(dim) && dim > 0, `${what} dim`, 'a positive integer', dim);
  assertArgument(m.length === rows * dim, `${what}.length`, `rows * dim = ${rows * dim}`, m.length);
}

/** Normalises row `row` of `src` into `dst` (same offset); a zero row stays zero. */
function normalizeRowInto(src: Float32Array, dst: Float32Array, offset: number, dim: number): void {
  let sumSq = 0;
  for (let k = 0; k < dim; k++) sumSq += src[offset + k] * src[offset + k];
  const inv = sumSq > 0 ? 1 / Math.sqrt(sumSq) : 0;
  for (let k = 0; k < dim; k++) dst[offset + k] = src[offset + k] * inv;
}

/** Unit-length copy of `v` (a zero vector stays zero). */
export function l2Normalize(v: Float32Array): Float32Array {
  assertArgument(v instanceof Float32Array, 'v', 'a Float32Array', v);
  const out = new Float32Array(v.length);
  normalizeRowInto(v, out, 0, v.length);
  return out;
}

/** Copy of a rows x dim matrix with every row at unit length (zero rows stay zero). */
export function l2NormalizeRows(m: Float32Array, rows: number, dim: number): Float32Array {
  assertMatrix(m, rows, dim, 'm');
  const out = new Float32Array(m.length);
  for (let r = 0; r < rows; r++) normalizeRowInto(m, out, r * dim, dim);
  return out;
}

/** Cosine similarity of two equal-length vectors; 0 if either is a zero vector. */
export function cosine(a: Float32Array, b: Float32Array): number {
  assertArgument(a instanceof Float32Array, 'a', 'a Float32Array', a);
  assertArgument(b instanceof Float32Array, 'b', 'a Float32Array', b);
  if (a.length !== b.length) {
    throw new SalipError('SIZE_MISMATCH', `b: expected the length of a (${a.length}), got ${b.length}`);
  }
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let k = 0; k < a.length; k++) {
    dot += a[k] * b[k];
    na += a[k] * a[k];
    nb += b[k] * b[k];
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

/**
 * Prompt-ensemble embedding (CLIP's zero-shot recipe): normalise each of the `rows` embeddings,
 * average them, normalise the average.
 */
export function ensembleMean(embeddings: Float32Array, rows: number, dim: number): Float32Array {
  assertMatrix(embeddings, rows, dim, 'embeddings');
  assertArgument(rows > 0, 'embeddings rows', 'at least one embedding', rows);
  const normalized = l2NormalizeRows(embeddings, rows, dim);
  const mean = new Float32Array(dim);
  const sums = new Float64Array(dim);
  for (let r = 0; r < rows; r++) for (let k = 0; k < dim; k++) sums[k] += normalized[r * dim + k];
  for (let k = 0; k < dim; k++) mean[k] = sums[k] / rows;
  return l2Normalize(mean);
}

/**
 * scale x cosine between every image and every class embedding (both normalised here), class
 * major: result[c * nImages + i] is the score of image i for class c.
 */
export function scaledCosineScores(
  images: Float32Array,
  nImages: number,
  classes: Float32Array,
  nClasses: number,
  dim: number,
  scale = 100,
): Float32Array {
  assertMatrix(images, nImages, dim, 'images');
  assertMatrix(classes, nClasses, dim, 'classes');
  assertArgument(Number.isFinite(scale), 'scale', 'a finite number', scale);
  const img = l2NormalizeRows(images, nImages, dim);
  const cls = l2NormalizeRows(classes, nClasses, dim);
  const out = new Float32Array(nClasses * nImages);
  for (let c = 0; c < nClasses; c++) {
    const co = c * dim;
    for (let i = 0; i < nImages; i++) {
      const io = i * dim;
      let dot = 0;
      for (let k = 0; k < dim; k++) dot += cls[co + k] * img[io + k];
      out[c * nImages + i] = scale * dot;
    }
  }
  return out;
}

/** Indices of the k highest scores, best first (ties: lower index first; NaN ranks last). */
export function topK(scores: ArrayLike<number>, k: number): number[] {
  assertArgument(scores !== null && typeof scores === 'object' && typeof scores.length === 'number', 'scores', 'an array of numbers', scores);
  assertArgument(Number.isInteger(k) && k >= 0, 'k', 'a non-negative integer', k);
  const order = Array.from({ length: scores.length }, (_, i) => i);
  order.sort((a, b) => {
    const sa = scores[a];
    const sb = scores[b];
    const na = Number.isNaN(sa);
    const nb = Number.isNaN(sb);
    if (na || nb) return na === nb ? a - b : na ? 1 : -1;
    return sb - sa || a - b;
  });
  return order.slice(0, Math.min(k, order.length));
}
