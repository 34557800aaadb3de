/**
 * Binary masks: construction and checks, area, boxes, set overlap measures (union, IoU, Dice),
 * nearest-neighbour resizing and thresholding logits. Reading treats any non-zero byte as
 * foreground; building writes only 0 and 1.
 */
import { SalipError, assertArgument } from '../errors.js';
import type { BinaryMask, BoxXYWH, BoxXYXY } from '../types.js';

export function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}

/** Throws INVALID_ARGUMENT unless `mask` is a well-formed BinaryMask. */
export function assertMask(mask: BinaryMask, what = 'mask'): void {
  assertArgument(mask !== null && typeof mask === 'object', what, 'a BinaryMask object', mask);
  assertArgument(isPositiveInteger(mask.width), `${what}.width`, 'a positive integer', mask.width);
  assertArgument(isPositiveInteger(mask.height), `${what}.height`, 'a positive integer', mask.height);
  assertArgument(mask.data instanceof Uint8Array, `${what}.data`, 'a Uint8Array', mask.data);
  assertArgument(
    mask.data.length === mask.width * mask.height,
    `${what}.data.length`,
    `width * height = ${mask.width * mask.height}`,
    mask.data.length,
  );
}

function assertSameSize(a: BinaryMask, b: BinaryMask, whatA: string, whatB: string): void {
  if (a.width !== b.width || a.height !== b.height) {
    throw new SalipError(
      'SIZE_MISMATCH',
      `${whatB}: expected the size of ${whatA} (${a.width}x${a.height}), got ${b.width}x${b.height}`,
      { details: { expected: [a.width, a.height], found: [b.width, b.height] } },
    );
  }
}

/** Builds a mask of the given size, all zeros or over `data` (validated: length w*h, values 0/1). */
export function createMask(width: number, height: number, data?: Uint8Array): BinaryMask {
  assertArgument(isPositiveInteger(width), 'width', 'a positive integer', width);
  assertArgument(isPositiveInteger(height), 'height', 'a positive integer', height);
  if (data === undefined) return { width, height, data: new Uint8Array(width * height) };
  assertArgument(data instanceof Uint8Array, 'data', 'a Uint8Array', data);
  assertArgument(data.length === width * height, 'data.length', `width * height = ${width * height}`, data.length);
  for (let i = 0; i < data.length; i++) {
    if (data[i] > 1) {
      throw new SalipError('INVALID_ARGUMENT', `data[${i}]: expected 0 or 1, got ${data[i]}`);
    }
  }
  return { width, height, data };
}

/** Number of foreground pixels. */
export function maskArea(mask: BinaryMask): number {
  assertMask(mask);
  const d = mask.data;
  let area = 0;
  for (let i = 0; i < d.length; i++) if (d[i] !== 0) area++;
  return area;
}

/** Inclusive box [xMin, yMin, xMax, yMax] of the foreground (batched_mask_to_box); empty -> [0,0,0,0]. */
export function maskToBox(mask: BinaryMask): BoxXYXY {
  assertMask(mask);
  const { width, height, data } = mask;
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let first = -1;
    let last = -1;
    for (let x = 0; x < width; x++) {
      if (data[row + x] !== 0) {
        if (first < 0) first = x;
        last = x;
      }
    }
    if (first < 0) continue;
    if (y0 === height) y0 = y;
    y1 = y;
    if (first < x0) x0 = first;
    if (last > x1) x1 = last;
  }
  return x1 < 0 ? [0, 0, 0, 0] : [x0, y0, x1, y1];
}

/** XYXY -> XYWH with w = x1 - x0 and h = y1 - y0 (segment-anything's box_xyxy_to_xywh). */
export function boxXyxyToXywh(b: BoxXYXY): BoxXYWH {
  return [b[0], b[1], b[2] - b[0], b[3] - b[1]];
}

/** XYWH -> XYXY, the inverse of boxXyxyToXywh. */
export function boxXywhToXyxy(b: BoxXYWH): BoxXYXY {
  return [b[0], b[1], b[0] + b[2], b[1] + b[3]];
}

/** Pixel-wise OR of same-sized masks (SIZE_MISMATCH otherwise; an empty list is INVALID_ARGUMENT). */
export function maskUnion(masks: BinaryMask[]): BinaryMask {
  assertArgument(Array.isArray(masks) && masks.length > 0, 'masks', 'a non-empty array of masks', masks);
  masks.forEach((m, i) => assertMask(m, `masks[${i}]`));
  const first = masks[0];
  const out = new Uint8Array(first.width * first.height);
  masks.forEach((m, i) => {
    assertSameSize(first, m, 'masks[0]', `masks[${i}]`);
    const d = m.data;
    for (let p = 0; p < d.length; p++) if (d[p] !== 0) out[p] = 1;
  });
  return { width: first.width, height: first.height, data: out };
}

/** Number of pixels that are foreground in both masks. */
export function maskIntersectionArea(a: BinaryMask, b: BinaryMask): number {
  assertMask(a, 'a');
  assertMask(b, 'b');
  assertSameSize(a, b, 'a', 'b');
  const da = a.data;
  const db = b.data;
  let n = 0;
  for (let i = 0; i < da.length; i++) if (da[i] !== 0 && db[i] !== 0) n++;
  return n;
}

function overlapCounts(a: BinaryMask, b: BinaryMask): { inter: number; areaA: number; areaB: number } {
  assertMask(a, 'a');
  assertMask(b, 'b');
  assertSameSize(a, b, 'a', 'b');
  const da = a.data;
  const db = b.data;
  let inter = 0;
  let areaA = 0;
  let areaB = 0;
  for (let i = 0; i < da.length; i++) {
    const inA = da[i] !== 0;
    const inB = db[i] !== 0;
    if (inA) areaA++;
    if (inB) areaB++;
    if (inA && inB) inter++;
  }
  return { inter, areaA, areaB };
}

/** |A and B| / |A or B|; two empty masks agree perfectly, so the result is 1. */
export function maskIoU(a: BinaryMask, b: BinaryMask): number {
  const { inter, areaA, areaB } = overlapCounts(a, b);
  const union = areaA + areaB - inter;
  return union === 0 ? 1 : inter / union;
}

/** 2|A and B| / (|A| + |B|); two empty masks agree perfectly, so the result is 1. */
export function maskDice(a: BinaryMask, b: BinaryMask): number {
  const { inter, areaA, areaB } = overlapCounts(a, b);
  return areaA + areaB === 0 ? 1 : (2 * inter) / (areaA + areaB);
}

/**
 * IoU of two XYXY boxes with torchvision's convention area = (x1 - x0) * (y1 - y0). When the union
 * is 0 (two degenerate boxes) torchvision yields NaN; we return 0, which suppresses nothing in
 * NMS either way.
 */
export function boxIoU(a: BoxXYXY, b: BoxXYXY): number {
  const areaA = (a[2] - a[0]) * (a[3] - a[1]);
  const areaB = (b[2] - b[0]) * (b[3] - b[1]);
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  const inter = iw > 0 && ih > 0 ? iw * ih : 0;
  const union = areaA + areaB - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Nearest-neighbour resize sampling pixel centres: source = floor((dst + 0.5) * src / dst), as
 * PIL's NEAREST and torch's 'nearest-exact' (symmetric, no shift towards the top-left).
 */
export function resizeMaskNearest(mask: BinaryMask, width: number, height: number): BinaryMask {
  assertMask(mask);
  assertArgument(isPositiveInteger(width), 'width', 'a positive integer', width);
  assertArgument(isPositiveInteger(height), 'height', 'a positive integer', height);
  const srcX = new Int32Array(width);
  for (let x = 0; x < width; x++) srcX[x] = Math.min(mask.width - 1, Math.floor(((x + 0.5) * mask.width) / width));
  const out = new Uint8Array(width * height);
  const src = mask.data;
  for (let y = 0; y < height; y++) {
    const sy = Math.min(mask.height - 1, Math.floor(((y + 0.5) * mask.height) / height));
    const srcRow = sy * mask.width;
    const outRow = y * width;
    for (let x = 0; x < width; x++) out[outRow + x] = src[srcRow + srcX[x]] !== 0 ? 1 : 0;
  }
  return { width, height, data: out };
}

/**
 * Resize of a binary mask through a bilinear interpolation of its 0/1 values (half-pixel centres,
 * as the image resizes) kept where it is at least 0.5: edges come out as smooth as the grid
 * allows instead of in nearest-neighbour steps when a mask is enlarged.
 */
export function resizeMaskBilinear(mask: BinaryMask, width: number, height: number): BinaryMask {
  assertMask(mask);
  assertArgument(isPositiveInteger(width), 'width', 'a positive integer', width);
  assertArgument(isPositiveInteger(height), 'height', 'a positive integer', height);
  const taps = (dst: number, src: number) => {
    const lo = new Int32Array(dst);
    const hi = new Int32Array(dst);
    const frac = new Float32Array(dst);
    for (let i = 0; i < dst; i++) {
      const at = Math.min(src - 1, Math.max(0, ((i + 0.5) * src) / dst - 0.5));
      lo[i] = Math.floor(at);
      hi[i] = Math.min(src - 1, lo[i] + 1);
      frac[i] = at - lo[i];
    }
    return { lo, hi, frac };
  };
  const xs = taps(width, mask.width);
  const ys = taps(height, mask.height);
  const src = mask.data;
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const r0 = ys.lo[y] * mask.width;
    const r1 = ys.hi[y] * mask.width;
    const fy = ys.frac[y];
    for (let x = 0; x < width; x++) {
      const x0 = xs.lo[x];
      const x1 = xs.hi[x];
      const fx = xs.frac[x];
      const top = (src[r0 + x0] ? 1 - fx : 0) + (src[r0 + x1] ? fx : 0);
      const bottom = (src[r1 + x0] ? 1 - fx : 0) + (src[r1 + x1] ? fx : 0);
      out[y * width + x] = top * (1 - fy) + bottom * fy >= 0.5 ? 1 : 0;
    }
  }
  return { width, height, data: out };
}

/** Thresholds row-major logits: foreground where logit > threshold (SAM uses 0). */
export function maskFromLogits(logits: Float32Array, width: number, height: number, threshold = 0): BinaryMask {
  assertArgument(isPositiveInteger(width), 'width', 'a positive integer', width);
  assertArgument(isPositiveInteger(height), 'height', 'a positive integer', height);
  assertArgument(logits instanceof Float32Array, 'logits', 'a Float32Array', logits);
  assertArgument(logits.length === width * height, 'logits.length', `width * height = ${width * height}`, logits.length);
  assertArgument(typeof threshold === 'number' && !Number.isNaN(threshold), 'threshold', 'a number', threshold);
  const out = new Uint8Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] > threshold ? 1 : 0;
  return { width, height, data: out };
}
