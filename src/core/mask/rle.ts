/**
 * COCO uncompressed RLE (size [h, w], column-major counts starting with a run of 0s): encoding,
 * decoding, and area and box read straight from the runs.
 */
import { SalipError, assertArgument, describeValue } from '../errors.js';
import type { BinaryMask, BoxXYXY, CocoRle } from '../types.js';
import { assertMask, isPositiveInteger } from './basics.js';

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
