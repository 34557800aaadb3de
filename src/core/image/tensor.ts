/**
 * The float tensors image encoders take: planar CHW with mean/std or min-max normalisation and
 * bottom/right zero padding (SAM, MedSAM), and CLIP's resize-crop-normalise.
 */
import { assertArgument } from '../errors.js';
import type { RgbImage } from '../types.js';
import { DEFAULT_MAX_PIXELS, type ResizeKernel, type Triple, assertRgbImage, checkSize, finiteRange } from './convert.js';
import { centerCrop, resampleCoefficients, resampleHorizontal, resampleRow, resizeImage, resizeShortestSide } from './resize.js';

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
