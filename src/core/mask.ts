/**
 * Binary masks: construction, COCO RLE, boxes, set overlap measures, resizing and connected
 * components. Pure functions over plain data (no I/O), usable in Node and browsers.
 *
 * Functions that read a mask treat any non-zero byte as foreground; functions that build a mask
 * write only 0 and 1.
 */
import { SalipError, assertArgument, describeValue } from './errors.js';
import type { BinaryMask, BoxXYWH, BoxXYXY, CocoRle } from './types.js';

function isPositiveInteger(value: unknown): value is number {
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

/** COCO uncompressed RLE of a mask: size [h, w], column-major counts starting with a run of 0s. */
export function encodeRle(mask: BinaryMask): CocoRle {
  assertMask(mask);
  return encodeRleInBox(mask.data, mask.width, mask.height, [0, 0, mask.width - 1, mask.height - 1]);
}

/**
 * encodeRle of a mask (row-major `data`, width x height) whose foreground lies inside `box`
 * (inclusive): only the box is scanned. An `area` of 0 (an empty mask) skips the scan.
 * segment-everything encodes every candidate this way, straight from the thresholded buffer.
 */
export function encodeRleInBox(data: Uint8Array, width: number, height: number, box: BoxXYXY, area?: number): CocoRle {
  if (area === 0) return { size: [height, width], counts: [width * height] };
  const [x0, y0, x1, y1] = box;
  const counts: number[] = [];
  let current = 0;
  let run = x0 * height;
  const zeros = (k: number) => {
    if (k === 0) return;
    if (current === 0) run += k;
    else {
      counts.push(run);
      current = 0;
      run = k;
    }
  };
  for (let x = x0; x <= x1; x++) {
    zeros(y0);
    for (let i = y0 * width + x, end = y1 * width + x; i <= end; i += width) {
      const value = data[i] !== 0 ? 1 : 0;
      if (value !== current) {
        counts.push(run);
        current = value;
        run = 0;
      }
      run++;
    }
    zeros(height - 1 - y1);
  }
  zeros((width - 1 - x1) * height);
  counts.push(run);
  return { size: [height, width], counts };
}

function assertRle(rle: CocoRle, what = 'rle'): void {
  assertArgument(rle !== null && typeof rle === 'object', what, 'a COCO RLE object { size, counts }', rle);
  const size = rle.size;
  assertArgument(Array.isArray(size) && size.length === 2, `${what}.size`, '[height, width]', size);
  assertArgument(isPositiveInteger(size[0]), `${what}.size[0] (height)`, 'a positive integer', size[0]);
  assertArgument(isPositiveInteger(size[1]), `${what}.size[1] (width)`, 'a positive integer', size[1]);
  // Compressed RLE (a string) is what pycocotools' encode() returns; we only take the plain form.
  assertArgument(Array.isArray(rle.counts), `${what}.counts`, 'an array of run lengths (uncompressed RLE)', rle.counts);
  const total = size[0] * size[1];
  let sum = 0;
  const counts = rle.counts;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0) {
      throw new SalipError('INVALID_ARGUMENT', `${what}.counts[${i}]: expected a non-negative integer, got ${describeValue(c)}`);
    }
    sum += c;
  }
  if (sum !== total) {
    throw new SalipError(
      'INVALID_ARGUMENT',
      `${what}.counts: expected run lengths summing to height * width = ${total}, got a sum of ${sum}`,
      { details: { expected: total, found: sum } },
    );
  }
}

/** Decodes COCO uncompressed RLE (validated: counts must sum to h * w). */
export function decodeRle(rle: CocoRle): BinaryMask {
  assertRle(rle);
  const [height, width] = rle.size;
  const data = new Uint8Array(width * height);
  let pos = 0;
  const counts = rle.counts;
  for (let k = 0; k < counts.length; k++) {
    const end = pos + counts[k];
    if (k % 2 === 1) {
      for (let p = pos; p < end; p++) {
        // Column-major position p is (x = p / h, y = p % h).
        const x = (p / height) | 0;
        data[(p - x * height) * width + x] = 1;
      }
    }
    pos = end;
  }
  return { width, height, data };
}

/** Foreground area of an RLE (sum of the runs of 1s). */
export function rleArea(rle: CocoRle): number {
  assertRle(rle);
  let area = 0;
  for (let k = 1; k < rle.counts.length; k += 2) area += rle.counts[k];
  return area;
}

/** Inclusive box of an RLE's foreground, computed from the runs without decoding; empty -> [0,0,0,0]. */
export function rleToBox(rle: CocoRle): BoxXYXY {
  assertRle(rle);
  const height = rle.size[0];
  const counts = rle.counts;
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -1;
  let y1 = -1;
  let pos = 0;
  for (let k = 0; k < counts.length; k++) {
    const start = pos;
    pos += counts[k];
    if (k % 2 === 0 || counts[k] === 0) continue;
    const last = pos - 1;
    const startX = Math.floor(start / height);
    const lastX = Math.floor(last / height);
    if (startX < x0) x0 = startX;
    if (lastX > x1) x1 = lastX;
    // A run crossing a column boundary covers the bottom of one column and the top of the next.
    const top = startX === lastX ? start - startX * height : 0;
    const bottom = startX === lastX ? last - lastX * height : height - 1;
    if (top < y0) y0 = top;
    if (bottom > y1) y1 = bottom;
  }
  return x1 < 0 ? [0, 0, 0, 0] : [x0, y0, x1, y1];
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

/** Result of connectedComponents; `areas[k]` and `boxes[k]` describe label k + 1. */
export interface ConnectedComponents {
  /** Per pixel: 0 for background, 1..count for the component it belongs to. */
  readonly labels: Int32Array;
  readonly count: number;
  /** Pixel count of each component, index k for label k + 1. */
  readonly areas: number[];
  /** Inclusive box of each component, index k for label k + 1. */
  readonly boxes: BoxXYXY[];
}

function findRoot(parent: Int32Array, i: number): number {
  while (parent[i] !== i) {
    parent[i] = parent[parent[i]];
    i = parent[i];
  }
  return i;
}

/** Joins the sets of provisional labels `label` (0 = none yet) and `neighbour` (0 = unlabelled). */
function mergeLabel(parent: Int32Array, label: number, neighbour: number): number {
  if (neighbour === 0) return label;
  const rb = findRoot(parent, neighbour);
  if (label === 0) return rb;
  const ra = findRoot(parent, label);
  if (ra === rb) return ra;
  if (ra < rb) {
    parent[rb] = ra;
    return ra;
  }
  parent[ra] = rb;
  return rb;
}

/**
 * Labels the pixels whose foreground-ness equals `target` (1: foreground, 0: background) with
 * two-pass union-find. Labels are numbered in row-major order of each component's first pixel,
 * as OpenCV's connectedComponents. Internal: lets removeSmallRegions label holes without
 * building an inverted mask.
 */
export function labelPixels(
  data: Uint8Array,
  width: number,
  height: number,
  target: 0 | 1,
  connectivity: 4 | 8,
): { labels: Int32Array; count: number; areas: number[] } {
  const n = width * height;
  const labels = new Int32Array(n);
  // Provisional labels start at 1; parent[0] is unused.
  const parent = new Int32Array(n + 1);
  let next = 1;
  const wide = connectivity === 8;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const i = row + x;
      if ((data[i] !== 0 ? 1 : 0) !== target) continue;
      let label = 0;
      if (x > 0) label = mergeLabel(parent, label, labels[i - 1]);
      if (y > 0) {
        label = mergeLabel(parent, label, labels[i - width]);
        if (wide) {
          if (x > 0) label = mergeLabel(parent, label, labels[i - width - 1]);
          if (x < width - 1) label = mergeLabel(parent, label, labels[i - width + 1]);
        }
      }
      if (label === 0) {
        label = next++;
        parent[label] = label;
      }
      labels[i] = label;
    }
  }
  // Final labels follow the order in which roots are first met in the scan.
  const finalOf = new Int32Array(next);
  const areas: number[] = [];
  for (let i = 0; i < n; i++) {
    const l = labels[i];
    if (l === 0) continue;
    const root = findRoot(parent, l);
    let f = finalOf[root];
    if (f === 0) {
      areas.push(0);
      f = finalOf[root] = areas.length;
    }
    labels[i] = f;
    areas[f - 1]++;
  }
  return { labels, count: areas.length, areas };
}

/** Labels the foreground's connected components (label 0 = background, components 1..count). */
export function connectedComponents(mask: BinaryMask, connectivity: 4 | 8 = 8): ConnectedComponents {
  assertMask(mask);
  assertArgument(connectivity === 4 || connectivity === 8, 'connectivity', '4 or 8', connectivity);
  const { width, height } = mask;
  const { labels, count, areas } = labelPixels(mask.data, width, height, 1, connectivity);
  const bounds = new Int32Array(count * 4);
  for (let k = 0; k < count; k++) {
    bounds[k * 4] = width;
    bounds[k * 4 + 1] = height;
    bounds[k * 4 + 2] = -1;
    bounds[k * 4 + 3] = -1;
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const l = labels[y * width + x];
      if (l === 0) continue;
      const b = (l - 1) * 4;
      if (x < bounds[b]) bounds[b] = x;
      if (y < bounds[b + 1]) bounds[b + 1] = y;
      if (x > bounds[b + 2]) bounds[b + 2] = x;
      if (y > bounds[b + 3]) bounds[b + 3] = y;
    }
  }
  const boxes: BoxXYXY[] = [];
  for (let k = 0; k < count; k++) boxes.push([bounds[k * 4], bounds[k * 4 + 1], bounds[k * 4 + 2], bounds[k * 4 + 3]]);
  return { labels, count, areas, boxes };
}

/** One inclusive box per connected component of the foreground, in label order. */
export function componentBoxes(mask: BinaryMask, connectivity: 4 | 8 = 8): BoxXYXY[] {
  return connectedComponents(mask, connectivity).boxes;
}

/** Fills holes: background pixels not 4-connected to the image border become foreground. */
export function fillHoles(mask: BinaryMask): BinaryMask {
  assertMask(mask);
  const { width, height, data } = mask;
  const n = width * height;
  // 1 = background reachable from the border.
  const outside = new Uint8Array(n);
  const queue = new Int32Array(n);
  let head = 0;
  let tail = 0;
  const seed = (i: number): void => {
    if (data[i] === 0 && outside[i] === 0) {
      outside[i] = 1;
      queue[tail++] = i;
    }
  };
  for (let x = 0; x < width; x++) {
    seed(x);
    seed((height - 1) * width + x);
  }
  for (let y = 0; y < height; y++) {
    seed(y * width);
    seed(y * width + width - 1);
  }
  while (head < tail) {
    const i = queue[head++];
    const x = i % width;
    if (x > 0) seed(i - 1);
    if (x < width - 1) seed(i + 1);
    if (i >= width) seed(i - width);
    if (i < n - width) seed(i + width);
  }
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = outside[i] === 0 ? 1 : 0;
  return { width, height, data: out };
}
