/**
 * RgbImage construction, conversions, resizing, cropping, padding and the float tensors that SAM,
 * MedSAM and CLIP image encoders expect. Pure functions over plain data (browser-safe).
 */
import { SalipError, assertArgument, describeValue } from './errors.js';
import type { RgbImage } from './types.js';

/** Largest image (in pixels) accepted unless a caller raises the limit. */
export const DEFAULT_MAX_PIXELS = 100_000_000;

/** segment-anything's per-channel pixel mean (on 0..255 values). */
export const SAM_PIXEL_MEAN: [number, number, number] = [123.675, 116.28, 103.53];
/** segment-anything's per-channel pixel std (on 0..255 values). */
export const SAM_PIXEL_STD: [number, number, number] = [58.395, 57.12, 57.375];
/** OpenAI CLIP's per-channel mean (on 0..1 values). */
export const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
/** OpenAI CLIP's per-channel std (on 0..1 values). */
export const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

export type ResizeKernel = 'bilinear' | 'bicubic';

type Triple = [number, number, number];

function checkSize(width: number, height: number, maxPixels: number, what: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new SalipError(
      'INVALID_IMAGE',
      `${what}: expected a positive integer width and height, got ${describeValue(width)} x ${describeValue(height)}`,
      { details: { width, height } },
    );
  }
  if (width * height > maxPixels) {
    throw new SalipError(
      'INVALID_IMAGE',
      `${what}: ${width} x ${height} = ${width * height} pixels is more than the limit of ${maxPixels}`,
      { details: { width, height, maxPixels } },
    );
  }
}

function checkDataLength(data: ArrayLike<number>, expected: number, what: string): void {
  if (data.length !== expected) {
    throw new SalipError('INVALID_IMAGE', `${what}: expected ${expected} values, got ${data.length}`, {
      details: { expected, found: data.length },
    });
  }
}

/** Throws INVALID_IMAGE unless `image` is a well-formed RgbImage; `what` names the input. */
export function assertRgbImage(image: RgbImage, what: string): void {
  if (
    image === null ||
    typeof image !== 'object' ||
    !(image.data instanceof Uint8Array) ||
    !Number.isInteger(image.width) ||
    !Number.isInteger(image.height) ||
    image.width < 1 ||
    image.height < 1 ||
    image.data.length !== image.width * image.height * 3
  ) {
    throw new SalipError(
      'INVALID_IMAGE',
      `${what}: expected an RgbImage { width, height, data: Uint8Array of width*height*3 }, got ${describeValue(image?.width)} x ${describeValue(image?.height)} with ${describeValue(image?.data)}`,
    );
  }
}

/** Validates size and data length and returns an RgbImage (zero-filled when no data is given). */
export function createRgbImage(
  width: number,
  height: number,
  data?: Uint8Array,
  options?: { maxPixels?: number },
): RgbImage {
  checkSize(width, height, options?.maxPixels ?? DEFAULT_MAX_PIXELS, 'image size');
  if (data === undefined) return { width, height, data: new Uint8Array(width * height * 3) };
  if (!(data instanceof Uint8Array)) {
    throw new SalipError('INVALID_IMAGE', `image data: expected a Uint8Array, got ${describeValue(data)}`);
  }
  checkDataLength(data, width * height * 3, `RGB data of a ${width} x ${height} image`);
  return { width, height, data };
}

/** Expands 8-bit gray to RGB (each channel = gray). */
export function rgbFromGray(width: number, height: number, gray: Uint8Array): RgbImage {
  const image = createRgbImage(width, height);
  checkDataLength(gray, width * height, `gray data of a ${width} x ${height} image`);
  const out = image.data;
  for (let i = 0, o = 0; i < gray.length; i++, o += 3) {
    const v = gray[i];
    out[o] = v;
    out[o + 1] = v;
    out[o + 2] = v;
  }
  return image;
}

/** Drops the alpha channel of interleaved RGBA (no compositing: alpha is ignored). */
export function rgbFromRgba(width: number, height: number, rgba: Uint8Array | Uint8ClampedArray): RgbImage {
  const image = createRgbImage(width, height);
  checkDataLength(rgba, width * height * 4, `RGBA data of a ${width} x ${height} image`);
  const out = image.data;
  for (let i = 0, o = 0; o < out.length; i += 4, o += 3) {
    out[o] = rgba[i];
    out[o + 1] = rgba[i + 1];
    out[o + 2] = rgba[i + 2];
  }
  return image;
}

/** Expands interleaved gray+alpha to RGB, dropping alpha. */
export function rgbFromGrayAlpha(width: number, height: number, grayAlpha: Uint8Array): RgbImage {
  const image = createRgbImage(width, height);
  checkDataLength(grayAlpha, width * height * 2, `gray+alpha data of a ${width} x ${height} image`);
  const out = image.data;
  for (let i = 0, o = 0; o < out.length; i += 2, o += 3) {
    const v = grayAlpha[i];
    out[o] = v;
    out[o + 1] = v;
    out[o + 2] = v;
  }
  return image;
}

/** Smallest and largest finite value of `data` (NaN when none is finite). */
export function finiteRange(data: ArrayLike<number>): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    // Only when infinities are present do we pay for the slower finite-only scan.
    min = Infinity;
    max = -Infinity;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (!Number.isFinite(v)) continue;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  return min <= max ? { min, max } : { min: NaN, max: NaN };
}

/**
 * Windows samples to 0..255: round((v - min) / (max - min) * 255), clamped; NaN maps to 0. The
 * window defaults to the data's own finite range; a constant image (or no finite value) gives 0.
 */
export function windowTo8Bit(
  data: ArrayLike<number>,
  window?: { min: number; max: number },
): Uint8Array {
  let min: number;
  let max: number;
  if (window !== undefined) {
    assertArgument(
      Number.isFinite(window.min) && Number.isFinite(window.max) && window.max > window.min,
      'window',
      'finite { min, max } with max > min',
      [window.min, window.max],
    );
    ({ min, max } = window);
  } else {
    ({ min, max } = finiteRange(data));
  }
  const out = new Uint8Array(data.length);
  if (!(max > min)) return out;
  const range = max - min;
  for (let i = 0; i < data.length; i++) {
    // Multiply before dividing: a precomputed 255 / range would turn exact halves into x.4999.
    const v = Math.round(((data[i] - min) * 255) / range);
    // NaN fails both comparisons and the typed array stores it as 0.
    out[i] = v <= 0 ? 0 : v >= 255 ? 255 : v;
  }
  return out;
}

/** Gray samples of any depth (16-bit, signed, float) windowed min-max to 8-bit RGB. */
export function rgbFromGray16(
  width: number,
  height: number,
  data: Uint16Array | Int16Array | Float32Array,
  window?: { min: number; max: number },
): RgbImage {
  checkSize(width, height, DEFAULT_MAX_PIXELS, 'image size');
  checkDataLength(data, width * height, `gray data of a ${width} x ${height} image`);
  return rgbFromGray(width, height, windowTo8Bit(data, window));
}

/** ITU-R 601 luma (0.299 R + 0.587 G + 0.114 B), rounded half up, one byte per pixel. */
export function toGray(image: RgbImage): Uint8Array {
  const src = image.data;
  const out = new Uint8Array(image.width * image.height);
  for (let i = 0, s = 0; i < out.length; i++, s += 3) {
    // Integer weights keep the rounding exact (no 0.5 - epsilon surprises).
    out[i] = Math.floor((299 * src[s] + 587 * src[s + 1] + 114 * src[s + 2] + 500) / 1000);
  }
  return out;
}

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

function resampleCoefficients(inSize: number, outSize: number, kernel: ResizeKernel): ResampleCoefficients {
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

function resampleHorizontal(src: RgbImage, outWidth: number, coeffs: ResampleCoefficients): RgbImage {
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
function resampleRow(
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

function checkPad(image: ImageSize, padWidth?: number, padHeight?: number): { width: number; height: number } {
  const width = padWidth ?? image.width;
  const height = padHeight ?? image.height;
  assertArgument(
    Number.isInteger(width) && Number.isInteger(height) && width >= image.width && height >= image.height,
    'padWidth/padHeight',
    `integers at least the image size ${image.width} x ${image.height}`,
    [width, height],
  );
  return { width, height };
}

/**
 * The CHW output of a normaliser: a new zeroed array, or `out` (3 x width x height) with its
 * padding (right of and below the image) zeroed, so that a caller can reuse one buffer for many
 * images of different sizes without a fresh 12 MB allocation each time.
 */
function paddedOutput(out: Float32Array | undefined, image: ImageSize, width: number, height: number): Float32Array {
  const plane = width * height;
  if (out === undefined) return new Float32Array(plane * 3);
  assertArgument(out instanceof Float32Array && out.length === plane * 3, 'out', `a Float32Array of 3 x ${width} x ${height} = ${plane * 3} values`, out);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < image.height; y++) out.fill(0, c * plane + y * width + image.width, c * plane + (y + 1) * width);
    out.fill(0, c * plane + image.height * width, (c + 1) * plane);
  }
  return out;
}

function checkTriple(value: unknown, what: string, positive: boolean): Triple {
  const ok =
    Array.isArray(value) &&
    value.length === 3 &&
    value.every((v) => typeof v === 'number' && Number.isFinite(v) && (!positive || v > 0));
  assertArgument(ok, what, positive ? 'three finite numbers > 0' : 'three finite numbers', value);
  return value as Triple;
}

/** Width and height of an image (the padding helpers need no pixels). */
interface ImageSize {
  readonly width: number;
  readonly height: number;
}

/** What normalizeToChw and resizeToChw share: validated constants and the padded output. */
interface ChwTarget {
  out: Float32Array;
  plane: number;
  padWidth: number;
  scale: number;
  m0: number;
  m1: number;
  m2: number;
  i0: number;
  i1: number;
  i2: number;
}

type ChwOptions = { mean: Triple; std: Triple; scale?: number; padWidth?: number; padHeight?: number; out?: Float32Array };

function chwTarget(size: ImageSize, options: ChwOptions): ChwTarget {
  assertArgument(options !== null && typeof options === 'object', 'options', 'an object with mean and std', options);
  const mean = checkTriple(options.mean, 'mean', false);
  const std = checkTriple(options.std, 'std', true);
  const scale = options.scale ?? 1;
  assertArgument(Number.isFinite(scale), 'scale', 'a finite number', scale);
  const { width, height } = checkPad(size, options.padWidth, options.padHeight);
  const out = paddedOutput(options.out, size, width, height);
  return { out, plane: width * height, padWidth: width, scale, m0: mean[0], m1: mean[1], m2: mean[2], i0: 1 / std[0], i1: 1 / std[1], i2: 1 / std[2] };
}

/**
 * Normalises `count` interleaved RGB pixels from src[s] into row `y` of the three planes: one pass
 * over the pixels writing all three planes, since reading the source is what costs (3M values
 * for SAM's frame).
 */
function normalizeRowToChw(src: Uint8Array, s: number, count: number, t: ChwTarget, y: number): void {
  const { out, plane, scale, m0, m1, m2, i0, i1, i2 } = t;
  let o = y * t.padWidth;
  for (let x = 0; x < count; x++, s += 3, o++) {
    out[o] = (src[s] * scale - m0) * i0;
    out[o + plane] = (src[s + 1] * scale - m1) * i1;
    out[o + 2 * plane] = (src[s + 2] * scale - m2) * i2;
  }
}

/**
 * Planar CHW float32 of (pixel * scale - mean) / std, padded bottom/right with zeros after
 * normalisation (as segment-anything pads) to padWidth x padHeight. Written into `out` when
 * given (3 x padWidth x padHeight values; reused buffers are fine, the padding is re-zeroed).
 */
export function normalizeToChw(image: RgbImage, options: ChwOptions): Float32Array {
  assertRgbImage(image, 'normalizeToChw image');
  const target = chwTarget(image, options);
  for (let y = 0; y < image.height; y++) normalizeRowToChw(image.data, y * image.width * 3, image.width, target, y);
  return target.out;
}

/**
 * normalizeToChw(resizeImage(image, width, height, kernel), options) in one pass over the output
 * rows, without the resized image: the same bytes before normalising, so the same floats. The
 * SAM encoder's input (a 1024 x 1024 frame) is made this way.
 */
export function resizeToChw(image: RgbImage, width: number, height: number, options: ChwOptions & { kernel?: ResizeKernel }): Float32Array {
  assertRgbImage(image, 'resizeToChw image');
  checkSize(width, height, DEFAULT_MAX_PIXELS, 'resize target');
  const kernel = options !== null && typeof options === 'object' ? (options.kernel ?? 'bilinear') : 'bilinear';
  assertArgument(kernel === 'bilinear' || kernel === 'bicubic', 'kernel', "'bilinear' or 'bicubic'", kernel);
  const target = chwTarget({ width, height }, options);
  const rows = width !== image.width ? resampleHorizontal(image, width, resampleCoefficients(image.width, width, kernel)) : image;
  const rowLength = width * 3;
  if (height === image.height) {
    for (let y = 0; y < height; y++) normalizeRowToChw(rows.data, y * rowLength, width, target, y);
    return target.out;
  }
  const vertical = resampleCoefficients(image.height, height, kernel);
  const row = new Uint8Array(rowLength);
  const clamped = new Uint8ClampedArray(row.buffer);
  const sums = new Float64Array(rowLength);
  for (let y = 0; y < height; y++) {
    resampleRow(rows.data, rowLength, vertical, y, row, clamped, 0, sums);
    normalizeRowToChw(row, 0, width, target, y);
  }
  return target.out;
}

/** MedSAM input: (v - min) / max(max - min, 1e-8) over the whole image, planar CHW, zero-padded. */
export function minMaxToChw(image: RgbImage, options?: { padWidth?: number; padHeight?: number; out?: Float32Array }): Float32Array {
  const { width, height } = checkPad(image, options?.padWidth, options?.padHeight);
  const { min, max } = finiteRange(image.data);
  const invRange = 1 / Math.max(max - min, 1e-8);
  const plane = width * height;
  const out = paddedOutput(options?.out, image, width, height);
  const src = image.data;
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < image.height; y++) {
      let s = y * image.width * 3 + c;
      let o = c * plane + y * width;
      for (let x = 0; x < image.width; x++, s += 3, o++) out[o] = (src[s] - min) * invRange;
    }
  }
  return out;
}

/**
 * OpenAI CLIP preprocessing: bicubic resize of the short side to `size`, centre crop size x size,
 * /255, per-channel normalisation; CHW float32 of 3 * size * size. A Hugging Face
 * preprocessor_config.json may say otherwise: `shortestEdge` (resize target before the crop,
 * default `size`), `centerCrop: false` (resize straight to size x size), `kernel` (its
 * `resample`) and `scale` (its `rescale_factor`).
 */
export function clipPreprocess(
  image: RgbImage,
  options: { size: number; mean: Triple; std: Triple; shortestEdge?: number; centerCrop?: boolean; kernel?: ResizeKernel; scale?: number },
): Float32Array {
  const kernel = options.kernel ?? 'bicubic';
  const framed =
    options.centerCrop === false
      ? resizeImage(image, options.size, options.size, kernel)
      : centerCrop(resizeShortestSide(image, options.shortestEdge ?? options.size, kernel), options.size);
  return normalizeToChw(framed, { mean: options.mean, std: options.std, scale: options.scale ?? 1 / 255 });
}
