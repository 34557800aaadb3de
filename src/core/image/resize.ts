/**
 * Resizing (Pillow's separable resampling in 8-bit fixed point), cropping, padding and centre
 * crops of RgbImages.
 */
import { assertArgument } from '../errors.js';
import type { RgbImage } from '../types.js';
import { DEFAULT_MAX_PIXELS, type ResizeKernel, checkSize } from './convert.js';

// ---------------------------------------------------------------------------------------------
// Resampling: Pillow's separable convolution (ImagingResample), 8-bit fixed-point coefficients.

const PRECISION_BITS = 32 - 8 - 2;
const FIXED_ONE = 1 << PRECISION_BITS;
const FIXED_HALF = 1 << (PRECISION_BITS - 1);
const FIXED_OVERFLOW = 1 << (PRECISION_BITS + 8);

function triangleFilter(x: number): number {
  if (x < 0) x = -x;
  return x < 1 ? 1 - x : 0;
}

function keysCubicFilter(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

interface ResampleCoefficients {
  /** Taps per output sample (fixed stride of `weights`). */
  readonly taps: number;
  /** Per output sample: first input index and number of inputs used. */
  readonly bounds: Int32Array;
  /** Fixed-point weights, `taps` per output sample. */
  readonly weights: Int32Array;
}

export function resampleCoefficients(inSize: number, outSize: number, kernel: ResizeKernel): ResampleCoefficients {
  const filter = kernel === 'bicubic' ? keysCubicFilter : triangleFilter;
  const support = kernel === 'bicubic' ? 2 : 1;
  const scale = inSize / outSize;
  // Shrinking widens the kernel by the scale factor: this is the antialiasing.
  const filterScale = Math.max(scale, 1);
  const scaledSupport = support * filterScale;
  const taps = Math.ceil(scaledSupport) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * taps);
  const real = new Float64Array(taps);
  const invFilterScale = 1 / filterScale;
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const first = Math.max(Math.trunc(center - scaledSupport + 0.5), 0);
    const count = Math.min(Math.trunc(center + scaledSupport + 0.5), inSize) - first;
    let total = 0;
    for (let k = 0; k < count; k++) {
      const w = filter((k + first - center + 0.5) * invFilterScale);
      real[k] = w;
      total += w;
    }
    for (let k = 0; k < count; k++) {
      const w = total !== 0 ? real[k] / total : real[k];
      weights[o * taps + k] = Math.trunc(w < 0 ? w * FIXED_ONE - 0.5 : w * FIXED_ONE + 0.5);
    }
    bounds[o * 2] = first;
    bounds[o * 2 + 1] = count;
  }
  return { taps, bounds, weights };
}

function clampFixed(sum: number): number {
  if (sum >= FIXED_OVERFLOW) return 255;
  if (sum <= 0) return 0;
  return sum >> PRECISION_BITS;
}

export function resampleHorizontal(src: RgbImage, outWidth: number, coeffs: ResampleCoefficients): RgbImage {
  const { taps, bounds, weights } = coeffs;
  const height = src.height;
  const out = new Uint8Array(outWidth * height * 3);
  const inRow = src.width * 3;
  const data = src.data;
  for (let y = 0; y < height; y++) {
    const rowBase = y * inRow;
    for (let x = 0; x < outWidth; x++) {
      const first = bounds[x * 2];
      const count = bounds[x * 2 + 1];
      const wBase = x * taps;
      let r = FIXED_HALF;
      let g = FIXED_HALF;
      let b = FIXED_HALF;
      for (let k = 0, s = rowBase + first * 3; k < count; k++, s += 3) {
        const w = weights[wBase + k];
        r += data[s] * w;
        g += data[s + 1] * w;
        b += data[s + 2] * w;
      }
      const o = (y * outWidth + x) * 3;
      out[o] = clampFixed(r);
      out[o + 1] = clampFixed(g);
      out[o + 2] = clampFixed(b);
    }
  }
  return { width: outWidth, height, data: out };
}

/**
 * Output row `y` of the vertical pass over `data` (rows of `rowLength` bytes), written to
 * out[o, o + rowLength); `clamped` views the same memory, `sums` is scratch of rowLength.
 * Whole input rows (contiguous) at a time instead of tap by tap down a column: the same integer
 * sums, added in the same order, so the same bytes. Upscaling (the SAM encoder's 256 -> 1024)
 * mixes two rows per output row, which gets a loop of its own.
 */
export function resampleRow(
  data: Uint8Array,
  rowLength: number,
  coeffs: ResampleCoefficients,
  y: number,
  out: Uint8Array,
  clamped: Uint8ClampedArray,
  o: number,
  sums: Float64Array,
): void {
  const { taps, bounds, weights } = coeffs;
  const first = bounds[y * 2];
  const count = bounds[y * 2 + 1];
  const wBase = y * taps;
  if (count === 2) {
    const w0 = weights[wBase];
    const w1 = weights[wBase + 1];
    const s0 = first * rowLength;
    const s1 = s0 + rowLength;
    // The clamped view does clampFixed's clamping for an integer.
    for (let i = 0; i < rowLength; i++) clamped[o + i] = (FIXED_HALF + data[s0 + i] * w0 + data[s1 + i] * w1) >> PRECISION_BITS;
    return;
  }
  sums.fill(FIXED_HALF);
  for (let k = 0; k < count; k++) {
    const w = weights[wBase + k];
    const s = (first + k) * rowLength;
    for (let i = 0; i < rowLength; i++) sums[i] += data[s + i] * w;
  }
  for (let i = 0; i < rowLength; i++) out[o + i] = clampFixed(sums[i]);
}

function resampleVertical(src: RgbImage, outHeight: number, coeffs: ResampleCoefficients): RgbImage {
  const rowLength = src.width * 3;
  const out = new Uint8Array(rowLength * outHeight);
  const clamped = new Uint8ClampedArray(out.buffer);
  const sums = new Float64Array(rowLength);
  for (let y = 0; y < outHeight; y++) resampleRow(src.data, rowLength, coeffs, y, out, clamped, y * rowLength, sums);
  return { width: src.width, height: outHeight, data: out };
}

/**
 * Resizes like Pillow's Image.resize (what segment-anything and CLIP preprocessing call): separable
 * triangle or Keys (a = -0.5) kernel, widened when shrinking, half-pixel centres, horizontal pass
 * first with 8-bit rounding between passes.
 */
export function resizeImage(image: RgbImage, width: number, height: number, kernel: ResizeKernel = 'bilinear'): RgbImage {
  checkSize(width, height, DEFAULT_MAX_PIXELS, 'resize target');
  assertArgument(kernel === 'bilinear' || kernel === 'bicubic', 'kernel', "'bilinear' or 'bicubic'", kernel);
  let current = image;
  if (width !== image.width) {
    current = resampleHorizontal(current, width, resampleCoefficients(image.width, width, kernel));
  }
  if (height !== image.height) {
    current = resampleVertical(current, height, resampleCoefficients(image.height, height, kernel));
  }
  return current === image ? { width, height, data: image.data.slice() } : current;
}

/** segment-anything's get_preprocess_shape: longest side becomes `target`, other side rounded. */
export function longestSideSize(width: number, height: number, target: number): { width: number; height: number } {
  checkSize(width, height, Infinity, 'image size');
  assertArgument(Number.isInteger(target) && target > 0, 'target', 'a positive integer', target);
  const scale = target / Math.max(width, height);
  return { width: Math.floor(width * scale + 0.5), height: Math.floor(height * scale + 0.5) };
}

/** torchvision Resize(int): the short side becomes `size`, the long side int(size * long / short). */
export function resizeShortestSide(image: RgbImage, size: number, kernel: ResizeKernel = 'bicubic'): RgbImage {
  assertArgument(Number.isInteger(size) && size > 0, 'size', 'a positive integer', size);
  const { width, height } = image;
  if (width <= height) return resizeImage(image, size, Math.trunc((size * height) / width), kernel);
  return resizeImage(image, Math.trunc((size * width) / height), size, kernel);
}

/**
 * Copies the window of `image` with top-left (left, top) and the given size; pixels of the window
 * outside the image are `fill`. Internal workhorse of crop, pad and centre crop.
 */
function copyWindow(image: RgbImage, left: number, top: number, width: number, height: number, fill: number): RgbImage {
  const out = new Uint8Array(width * height * 3);
  if (fill !== 0) out.fill(fill);
  const x0 = Math.max(left, 0);
  const x1 = Math.min(left + width, image.width);
  const y0 = Math.max(top, 0);
  const y1 = Math.min(top + height, image.height);
  if (x1 > x0) {
    for (let y = y0; y < y1; y++) {
      const src = (y * image.width + x0) * 3;
      out.set(image.data.subarray(src, src + (x1 - x0) * 3), ((y - top) * width + (x0 - left)) * 3);
    }
  }
  return { width, height, data: out };
}

/** Copies the region with top-left (x, y) and the given size; it must lie inside the image. */
export function cropImage(image: RgbImage, x: number, y: number, width: number, height: number): RgbImage {
  const inside =
    [x, y, width, height].every(Number.isInteger) &&
    x >= 0 &&
    y >= 0 &&
    width > 0 &&
    height > 0 &&
    x + width <= image.width &&
    y + height <= image.height;
  assertArgument(
    inside,
    'crop region',
    `integer x, y >= 0 and width, height > 0 inside the ${image.width} x ${image.height} image`,
    [x, y, width, height],
  );
  return copyWindow(image, x, y, width, height, 0);
}

/** Pads bottom/right to width x height with `value` in every channel. */
export function padImage(image: RgbImage, width: number, height: number, value = 0): RgbImage {
  checkSize(width, height, DEFAULT_MAX_PIXELS, 'padded size');
  assertArgument(
    width >= image.width && height >= image.height,
    'padded size',
    `at least the image size ${image.width} x ${image.height}`,
    [width, height],
  );
  assertArgument(Number.isInteger(value) && value >= 0 && value <= 255, 'pad value', 'an integer 0..255', value);
  return copyWindow(image, 0, 0, width, height, value);
}

/** Python's round(): halves go to the even neighbour (torchvision's CenterCrop uses it). */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function centerCropOffset(inSize: number, size: number): number {
  // torchvision pads first (left = (size - in) // 2) and then crops at round((in - size) / 2).
  return size > inSize ? -Math.floor((size - inSize) / 2) : roundHalfEven((inSize - size) / 2);
}

/** torchvision CenterCrop(size): square window at round((h - size) / 2); zero-padded if smaller. */
export function centerCrop(image: RgbImage, size: number): RgbImage {
  assertArgument(Number.isInteger(size) && size > 0, 'size', 'a positive integer', size);
  return copyWindow(image, centerCropOffset(image.width, size), centerCropOffset(image.height, size), size, size, 0);
}
