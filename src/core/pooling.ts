/**
 * Mask pooling of a SAM image embedding: the feature of a region is the average of the embedding
 * cells it covers, each weighted by the area of the region inside the cell (area-weighted, not
 * centre-sampled, so thin or small regions still get a feature). The region is mapped from image
 * pixels into the padded model frame with the embedding's transform; the padding never counts.
 *
 * The types here are structural (SamImageEmbedding of src/pipeline/types.ts fits them) so core
 * keeps knowing nothing about models.
 */
import { SalipError } from './errors.js';
import { rleArea } from './mask.js';
import type { BinaryMask, CocoRle } from './types.js';

/** How image pixels map into the model frame (the fields of SamInputTransform this module reads). */
export interface GridTransform {
  readonly inputSize: number;
  readonly scaleX: number;
  readonly scaleY: number;
  readonly imageWidth: number;
  readonly imageHeight: number;
}

/** A [1, C, h, w] feature grid covering the inputSize x inputSize model frame. */
export interface EmbeddingGrid {
  readonly data: Float32Array;
  readonly dims: readonly [number, number, number, number];
  readonly transform: GridTransform;
}

interface GridGeometry {
  channels: number;
  gridW: number;
  gridH: number;
  /** Model-frame length of one image pixel, per axis. */
  pixelW: number;
  pixelH: number;
  /** Model-frame length of one grid cell, per axis. */
  cellW: number;
  cellH: number;
}

function geometry(grid: EmbeddingGrid): GridGeometry {
  const dims = grid?.dims;
  if (!Array.isArray(dims) || dims.length !== 4 || dims[0] !== 1 || !dims.every((d) => Number.isInteger(d) && d > 0)) {
    throw new SalipError('INVALID_ARGUMENT', `embedding.dims: expected [1, C, h, w] with positive sizes, got ${JSON.stringify(dims)}`);
  }
  const [, channels, gridH, gridW] = dims;
  if (!(grid.data instanceof Float32Array) || grid.data.length !== channels * gridH * gridW) {
    throw new SalipError('INVALID_ARGUMENT', `embedding.data: expected a Float32Array of C * h * w = ${channels * gridH * gridW} values`);
  }
  const t = grid.transform;
  if (!t || !(t.inputSize > 0) || !(t.scaleX > 0) || !(t.scaleY > 0) || !(t.imageWidth > 0) || !(t.imageHeight > 0)) {
    throw new SalipError('INVALID_ARGUMENT', 'embedding.transform: expected positive inputSize, scaleX, scaleY, imageWidth and imageHeight');
  }
  return { channels, gridW, gridH, pixelW: t.scaleX, pixelH: t.scaleY, cellW: t.inputSize / gridW, cellH: t.inputSize / gridH };
}

function assertRegionSize(grid: EmbeddingGrid, width: number, height: number, what: string): void {
  const { imageWidth, imageHeight } = grid.transform;
  if (width !== imageWidth || height !== imageHeight) {
    throw new SalipError(
      'SIZE_MISMATCH',
      `${what}: expected the size of the embedded image (${imageWidth} x ${imageHeight}), got ${width} x ${height}`,
    );
  }
}

/** The fraction of grid cell `index` (of length `cell`) that the model-frame span [f0, f1) overlaps; <= 0 when none. */
function axisOverlap(f0: number, f1: number, index: number, cell: number): number {
  return (Math.min(f1, (index + 1) * cell) - Math.max(f0, index * cell)) / cell;
}

/**
 * Adds the rectangle of image pixels [x0, x1) x [y0, y1) to the coverage grid, as fractions of a
 * cell's area. Separable: the rectangle's overlap with a cell is the product of the 1-D overlaps.
 */
function addRectangle(g: GridGeometry, coverage: Float32Array, x0: number, x1: number, y0: number, y1: number): void {
  const fx0 = x0 * g.pixelW;
  const fx1 = x1 * g.pixelW;
  const fy0 = y0 * g.pixelH;
  const fy1 = y1 * g.pixelH;
  const gx0 = Math.floor(fx0 / g.cellW);
  const gx1 = Math.min(g.gridW - 1, Math.ceil(fx1 / g.cellW) - 1);
  const gy0 = Math.floor(fy0 / g.cellH);
  const gy1 = Math.min(g.gridH - 1, Math.ceil(fy1 / g.cellH) - 1);
  for (let gy = gy0; gy <= gy1; gy++) {
    const oy = axisOverlap(fy0, fy1, gy, g.cellH);
    if (oy <= 0) continue;
    const rowBase = gy * g.gridW;
    for (let gx = gx0; gx <= gx1; gx++) {
      const ox = axisOverlap(fx0, fx1, gx, g.cellW);
      if (ox > 0) coverage[rowBase + gx] += ox * oy;
    }
  }
}

/** imageCoverage of one cell, without building the whole grid (the same arithmetic, so the same value). */
function imageCellCoverage(g: GridGeometry, t: GridTransform, gx: number, gy: number): number {
  const ox = axisOverlap(0, t.imageWidth * g.pixelW, gx, g.cellW);
  const oy = axisOverlap(0, t.imageHeight * g.pixelH, gy, g.cellH);
  return ox > 0 && oy > 0 ? ox * oy : 0;
}

/**
 * Coverage of each embedding cell by a mask (h * w values, row-major): the fraction of the cell's
 * model-frame area that the mask covers.
 */
export function maskCoverage(grid: EmbeddingGrid, mask: BinaryMask): Float32Array {
  const g = geometry(grid);
  assertRegionSize(grid, mask?.width, mask?.height, 'mask');
  const { width, height, data } = mask;
  const coverage = new Float32Array(g.gridW * g.gridH);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let x = 0;
    while (x < width) {
      while (x < width && data[row + x] === 0) x++;
      const start = x;
      while (x < width && data[row + x] !== 0) x++;
      if (x > start) addRectangle(g, coverage, start, x, y, y + 1);
    }
  }
  return coverage;
}

/** The same coverage as maskCoverage, computed straight from COCO RLE runs (no decoded mask). */
export function rleCoverage(grid: EmbeddingGrid, rle: CocoRle): Float32Array {
  const g = geometry(grid);
  rleArea(rle);
  const [height, width] = rle.size;
  assertRegionSize(grid, width, height, 'rle');
  const coverage = new Float32Array(g.gridW * g.gridH);
  let pos = 0;
  for (let k = 0; k < rle.counts.length; k++) {
    const end = pos + rle.counts[k];
    if (k % 2 === 1) {
      // A run of 1s in column-major order may wrap over several columns; add one segment per column.
      let p = pos;
      while (p < end) {
        const x = Math.floor(p / height);
        const y0 = p - x * height;
        const y1 = Math.min(height, y0 + (end - p));
        addRectangle(g, coverage, x, x + 1, y0, y1);
        p += y1 - y0;
      }
    }
    pos = end;
  }
  return coverage;
}

/** Coverage-weighted average of the C-dim cell features; a zero coverage gives a zero vector. */
export function pooledFeature(grid: EmbeddingGrid, coverage: Float32Array): Float32Array {
  const g = geometry(grid);
  const cells = g.gridW * g.gridH;
  if (!(coverage instanceof Float32Array) || coverage.length !== cells) {
    throw new SalipError('INVALID_ARGUMENT', `coverage: expected a Float32Array of h * w = ${cells} values`);
  }
  const feature = new Float32Array(g.channels);
  // The covered cells and their weights, packed, so the channel loop reads two short typed arrays
  // instead of testing all h * w cells again per channel.
  let n = 0;
  for (let i = 0; i < cells; i++) if (coverage[i] > 0) n++;
  if (n === 0) return feature;
  const index = new Int32Array(n);
  const weight = new Float64Array(n);
  let total = 0;
  for (let i = 0, j = 0; i < cells; i++) {
    if (coverage[i] > 0) {
      index[j] = i;
      weight[j++] = coverage[i];
      total += coverage[i];
    }
  }
  if (total === 0) return feature;
  poolCells(grid.data, cells, g.channels, index, weight, n, total, feature, 0);
  return feature;
}

/**
 * out[o + c] = (sum over j < n of weight[j] * data[c * plane + index[j]]) / total, each channel's
 * sum taken in order of j. Four channels share each read of a cell's index and weight; the sums
 * stay per channel and in the same order, so the values are those of one channel at a time.
 */
function poolCells(
  data: Float32Array,
  plane: number,
  channels: number,
  index: Int32Array,
  weight: Float64Array,
  n: number,
  total: number,
  out: Float32Array,
  o: number,
): void {
  let c = 0;
  for (; c + 4 <= channels; c += 4) {
    const b0 = c * plane;
    const b1 = b0 + plane;
    const b2 = b1 + plane;
    const b3 = b2 + plane;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let j = 0; j < n; j++) {
      const i = index[j];
      const w = weight[j];
      s0 += w * data[b0 + i];
      s1 += w * data[b1 + i];
      s2 += w * data[b2 + i];
      s3 += w * data[b3 + i];
    }
    out[o + c] = s0 / total;
    out[o + c + 1] = s1 / total;
    out[o + c + 2] = s2 / total;
    out[o + c + 3] = s3 / total;
  }
  for (; c < channels; c++) {
    const base = c * plane;
    let sum = 0;
    for (let j = 0; j < n; j++) sum += weight[j] * data[base + index[j]];
    out[o + c] = sum / total;
  }
}

/** Mask-pooled C-dim feature of a region given as a binary mask in image pixels. */
export function maskPooledFeature(embedding: EmbeddingGrid, mask: BinaryMask): Float32Array {
  return pooledFeature(embedding, maskCoverage(embedding, mask));
}

/** Mask-pooled feature of a region given as COCO RLE (a MaskRecord's segmentation). */
export function rlePooledFeature(embedding: EmbeddingGrid, rle: CocoRle): Float32Array {
  return pooledFeature(embedding, rleCoverage(embedding, rle));
}

/** Coverage of the whole image (every pixel), i.e. the non-padding part of the model frame. */
export function imageCoverage(grid: EmbeddingGrid): Float32Array {
  const g = geometry(grid);
  const coverage = new Float32Array(g.gridW * g.gridH);
  addRectangle(g, coverage, 0, grid.transform.imageWidth, 0, grid.transform.imageHeight);
  return coverage;
}

/**
 * Coverage of the embedding cells around an image point: the cell holding (x, y) and every cell
 * within `cells` cells of it (Chebyshev distance), each weighted by the part of it that is image
 * (so the padding of the model frame never counts). Pooling it describes what the image looks
 * like near the point.
 */
export function pointWindowCoverage(grid: EmbeddingGrid, x: number, y: number, cells: number): Float32Array {
  const g = geometry(grid);
  checkWindowCells(cells);
  const side = 2 * cells + 1;
  const index = new Int32Array(side * side);
  const weight = new Float64Array(side * side);
  const n = pointWindow(g, grid.transform, x, y, cells, 'point', index, weight);
  const coverage = new Float32Array(g.gridW * g.gridH);
  for (let j = 0; j < n; j++) coverage[index[j]] = weight[j];
  return coverage;
}

function checkWindowCells(cells: number): void {
  if (!Number.isInteger(cells) || cells < 0) {
    throw new SalipError('INVALID_ARGUMENT', `point window: expected an integer number of cells >= 0, got ${String(cells)}`);
  }
}

/**
 * The cells of the window around image point (x, y) that hold image, with their image coverage
 * rounded to float32 (as a coverage grid stores it), in ascending cell order (the order
 * pooledFeature sums in): written to index/weight, the count returned. A point outside the
 * image counts as the nearest image pixel (never a padding cell). `what` names the point in errors.
 */
function pointWindow(g: GridGeometry, t: GridTransform, x: number, y: number, cells: number, what: string, index: Int32Array, weight: Float64Array): number {
  if (!Number.isFinite(x) || !Number.isFinite(y)) {
    throw new SalipError('INVALID_ARGUMENT', `${what}: expected finite image coordinates, got (${String(x)}, ${String(y)})`);
  }
  const px = Math.min(Math.max(x, 0), t.imageWidth - 1);
  const py = Math.min(Math.max(y, 0), t.imageHeight - 1);
  const cx = Math.min(g.gridW - 1, Math.floor((px * g.pixelW) / g.cellW));
  const cy = Math.min(g.gridH - 1, Math.floor((py * g.pixelH) / g.cellH));
  let n = 0;
  for (let gy = Math.max(0, cy - cells); gy <= Math.min(g.gridH - 1, cy + cells); gy++) {
    for (let gx = Math.max(0, cx - cells); gx <= Math.min(g.gridW - 1, cx + cells); gx++) {
      const w = Math.fround(imageCellCoverage(g, t, gx, gy));
      if (w > 0) {
        index[n] = gy * g.gridW + gx;
        weight[n++] = w;
      }
    }
  }
  return n;
}

/**
 * pooledFeature(grid, pointWindowCoverage(grid, x, y, cells)) for every point of `points`
 * ([x0, y0, x1, y1, ...] image pixels) at once: the same arithmetic in the same order, so the same
 * values, without a coverage grid per point (a segment-everything grid scores 256-1024 points).
 * Point p's feature is `features.subarray(p * C, (p + 1) * C)`.
 */
export function pointWindowFeatures(grid: EmbeddingGrid, points: Float32Array, cells: number): Float32Array {
  const g = geometry(grid);
  if (!(points instanceof Float32Array) || points.length % 2 !== 0) {
    throw new SalipError('INVALID_ARGUMENT', 'points: expected a Float32Array of x, y pairs');
  }
  checkWindowCells(cells);
  const count = points.length / 2;
  const features = new Float32Array(count * g.channels);
  const side = 2 * cells + 1;
  const index = new Int32Array(side * side);
  const weight = new Float64Array(side * side);
  for (let p = 0; p < count; p++) {
    const n = pointWindow(g, grid.transform, points[2 * p], points[2 * p + 1], cells, `points[${p}]`, index, weight);
    let total = 0;
    for (let j = 0; j < n; j++) total += weight[j];
    if (total === 0) continue;
    poolCells(grid.data, g.gridW * g.gridH, g.channels, index, weight, n, total, features, p * g.channels);
  }
  return features;
}

/**
 * The surroundings of a region on the embedding grid: every cell within `cells` cells (Chebyshev
 * distance) of a cell the region touches, weighted by the part of the cell that is image but not
 * region. Pooling it describes what the region's context looks like (for an organ: the tissue
 * around it), which tells a whole organ from one of its parts.
 */
export function contextRingCoverage(grid: EmbeddingGrid, coverage: Float32Array, cells: number): Float32Array {
  const g = geometry(grid);
  const n = g.gridW * g.gridH;
  if (!(coverage instanceof Float32Array) || coverage.length !== n) {
    throw new SalipError('INVALID_ARGUMENT', `coverage: expected a Float32Array of h * w = ${n} values`);
  }
  if (!Number.isInteger(cells) || cells < 1) {
    throw new SalipError('INVALID_ARGUMENT', `context ring width: expected an integer number of cells >= 1, got ${String(cells)}`);
  }
  // Separable dilation of the touched cells: distance to the nearest touched cell along rows, then columns.
  const rowNear = new Uint8Array(n);
  for (let y = 0; y < g.gridH; y++) {
    let last = -Infinity;
    for (let x = 0; x < g.gridW; x++) {
      if (coverage[y * g.gridW + x] > 0) last = x;
      if (x - last <= cells) rowNear[y * g.gridW + x] = 1;
    }
    last = Infinity;
    for (let x = g.gridW - 1; x >= 0; x--) {
      if (coverage[y * g.gridW + x] > 0) last = x;
      if (last - x <= cells) rowNear[y * g.gridW + x] = 1;
    }
  }
  const ring = new Float32Array(n);
  for (let x = 0; x < g.gridW; x++) {
    let last = -Infinity;
    const near = new Uint8Array(g.gridH);
    for (let y = 0; y < g.gridH; y++) {
      if (rowNear[y * g.gridW + x]) last = y;
      if (y - last <= cells) near[y] = 1;
    }
    last = Infinity;
    for (let y = g.gridH - 1; y >= 0; y--) {
      if (rowNear[y * g.gridW + x]) last = y;
      if (last - y <= cells) near[y] = 1;
    }
    for (let y = 0; y < g.gridH; y++) {
      const i = y * g.gridW + x;
      if (near[y]) ring[i] = Math.max(0, Math.fround(imageCellCoverage(g, grid.transform, x, y)) - coverage[i]);
    }
  }
  return ring;
}
