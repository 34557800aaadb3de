/**
 * RgbImage construction and conversions (grey, RGBA, 16-bit windowing), the normalisation
 * constants of SAM and CLIP, and the size checks every image function shares.
 */
import { SalipError, assertArgument, describeValue } from '../errors.js';
import type { RgbImage } from '../types.js';

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

export type Triple = [number, number, number];

export function checkSize(width: number, height: number, maxPixels: number, what: string): void {
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
