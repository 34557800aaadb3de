/**
 * Browser image helpers for salip/web: RgbImage from ImageData, canvases, <img> elements and
 * Blobs, and ImageData from masks and overlays for drawing results on a canvas. They need the
 * DOM (or a worker's OffscreenCanvas); everything they return is plain salip data.
 */
import { SalipError, describeValue } from './core/errors.js';
import { rgbFromRgba } from './core/image.js';
import { assertMask } from './core/mask.js';
import type { BinaryMask, RgbImage } from './core/types.js';

/** An RGB or RGBA colour, each channel an integer 0..255 (alpha defaults to 255). */
export type MaskColor = readonly [number, number, number] | readonly [number, number, number, number];

type Context2D = CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D;

function requireGlobal<T>(value: T | undefined, name: string, what: string): T {
  if (value === undefined) {
    throw new SalipError('INVALID_ARGUMENT', `${what}: needs ${name}, which this environment lacks (run it in a browser or a worker)`);
  }
  return value;
}

/** A 2-D context on a fresh canvas: OffscreenCanvas where available (workers too), else a <canvas>. */
function scratchContext(width: number, height: number, what: string): Context2D {
  let context: Context2D | null = null;
  if (typeof OffscreenCanvas !== 'undefined') {
    context = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true });
  } else if (typeof document !== 'undefined') {
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    context = canvas.getContext('2d', { willReadFrequently: true });
  } else {
    requireGlobal(undefined, 'OffscreenCanvas or document', what);
  }
  if (!context) throw new SalipError('INVALID_ARGUMENT', `${what}: the browser refused a 2-D canvas context of ${width} x ${height}`);
  return context;
}

/** Reads pixels back, turning a tainted canvas (cross-origin image without CORS) into a clear error. */
function readPixels(context: Context2D, width: number, height: number, what: string): RgbImage {
  let data: ImageData;
  try {
    data = context.getImageData(0, 0, width, height);
  } catch (error) {
    throw new SalipError(
      'INVALID_IMAGE',
      `${what}: its pixels cannot be read (${error instanceof Error ? error.message : String(error)}); a cross-origin image needs CORS headers and crossOrigin="anonymous"`,
      { cause: error },
    );
  }
  return imageFromImageData(data);
}

function checkSize(width: unknown, height: unknown, what: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || (width as number) < 1 || (height as number) < 1) {
    throw new SalipError('INVALID_IMAGE', `${what}: expected a size of at least 1 x 1 pixels, got ${describeValue(width)} x ${describeValue(height)}`);
  }
}

/** RgbImage from ImageData (alpha is dropped, not composited: transparent pixels keep their RGB). */
export function imageFromImageData(imageData: ImageData): RgbImage {
  if (!imageData || typeof imageData !== 'object' || !(imageData.data instanceof Uint8ClampedArray)) {
    throw new SalipError('INVALID_IMAGE', `imageFromImageData: expected an ImageData, got ${describeValue(imageData)}`);
  }
  checkSize(imageData.width, imageData.height, 'imageFromImageData');
  return rgbFromRgba(imageData.width, imageData.height, imageData.data);
}

/** RgbImage of a canvas's current pixels (2-D, WebGL or WebGPU canvases alike). */
export function imageFromCanvas(canvas: HTMLCanvasElement | OffscreenCanvas): RgbImage {
  const what = 'imageFromCanvas';
  if (!canvas || typeof canvas !== 'object' || typeof (canvas as HTMLCanvasElement).getContext !== 'function') {
    throw new SalipError('INVALID_IMAGE', `${what}: expected an HTMLCanvasElement or OffscreenCanvas, got ${describeValue(canvas)}`);
  }
  const { width, height } = canvas;
  checkSize(width, height, what);
  // getContext('2d') returns null on a canvas that already has a WebGL/WebGPU context; copying it
  // onto a scratch 2-D canvas works for every kind.
  const own = (canvas as HTMLCanvasElement).getContext('2d', { willReadFrequently: true }) as Context2D | null;
  if (own) return readPixels(own, width, height, what);
  const scratch = scratchContext(width, height, what);
  scratch.drawImage(canvas, 0, 0);
  return readPixels(scratch, width, height, what);
}

/** RgbImage of a loaded <img> at its natural size (await img.decode() first), as the browser draws it. */
export function imageFromElement(element: HTMLImageElement): RgbImage {
  const what = 'imageFromElement';
  if (!element || typeof element !== 'object' || typeof element.naturalWidth !== 'number') {
    throw new SalipError('INVALID_IMAGE', `${what}: expected an HTMLImageElement, got ${describeValue(element)}`);
  }
  const src = element.currentSrc || element.src || '(no src)';
  if (!element.complete || element.naturalWidth === 0 || element.naturalHeight === 0) {
    throw new SalipError(
      'INVALID_IMAGE',
      `${what}: the image "${src.slice(0, 120)}" is not loaded (or failed to load); await img.decode() before calling`,
    );
  }
  const width = element.naturalWidth;
  const height = element.naturalHeight;
  const context = scratchContext(width, height, what);
  context.drawImage(element, 0, 0, width, height);
  return readPixels(context, width, height, `${what} "${src.slice(0, 120)}"`);
}

/**
 * RgbImage of an image file's Blob (PNG, JPEG, WebP, ... whatever the browser decodes), through
 * createImageBitmap without colour-space conversion, so an 8-bit PNG gives its stored values.
 */
export async function imageFromBlob(blob: Blob): Promise<RgbImage> {
  const what = 'imageFromBlob';
  if (typeof Blob === 'undefined' || !(blob instanceof Blob)) {
    throw new SalipError('INVALID_IMAGE', `${what}: expected a Blob or File, got ${describeValue(blob)}`);
  }
  const create = requireGlobal(typeof createImageBitmap === 'undefined' ? undefined : createImageBitmap, 'createImageBitmap', what);
  const name = `${what}: ${blob instanceof File ? `file "${blob.name}"` : 'blob'} (${blob.type || 'no type'}, ${blob.size} bytes)`;
  let bitmap: ImageBitmap;
  try {
    bitmap = await create(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none', imageOrientation: 'from-image' });
  } catch (error) {
    throw new SalipError(
      'DECODE_FAILED',
      `${name} could not be decoded as an image by the browser: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  try {
    const { width, height } = bitmap;
    checkSize(width, height, name);
    const context = scratchContext(width, height, what);
    context.drawImage(bitmap, 0, 0);
    return readPixels(context, width, height, name);
  } finally {
    bitmap.close();
  }
}

function checkMaskColor(color: unknown, what: string): [number, number, number, number] {
  const ok =
    Array.isArray(color) &&
    (color.length === 3 || color.length === 4) &&
    color.every((v) => Number.isInteger(v) && v >= 0 && v <= 255);
  if (!ok) throw new SalipError('INVALID_ARGUMENT', `${what}: expected 3 or 4 integers 0..255 (RGB or RGBA), got ${describeValue(color)}`);
  return [color[0], color[1], color[2], color.length === 4 ? color[3] : 255];
}

function newImageData(data: Uint8ClampedArray<ArrayBuffer>, width: number, height: number, what: string): ImageData {
  const ImageDataClass = requireGlobal(typeof ImageData === 'undefined' ? undefined : ImageData, 'ImageData', what);
  return new ImageDataClass(data, width, height);
}

/**
 * ImageData of a mask: `color` (default opaque white) on foreground, `background` (default
 * fully transparent) elsewhere; draw it over the image or save it as a mask picture.
 */
export function maskToImageData(mask: BinaryMask, color: MaskColor = [255, 255, 255, 255], background: MaskColor = [0, 0, 0, 0]): ImageData {
  assertMask(mask, 'maskToImageData: mask');
  const fg = checkMaskColor(color, 'maskToImageData: color');
  const bg = checkMaskColor(background, 'maskToImageData: background');
  const pixels = new Uint8ClampedArray(mask.width * mask.height * 4);
  const src = mask.data;
  for (let p = 0, o = 0; p < src.length; p++, o += 4) {
    const c = src[p] !== 0 ? fg : bg;
    pixels[o] = c[0];
    pixels[o + 1] = c[1];
    pixels[o + 2] = c[2];
    pixels[o + 3] = c[3];
  }
  return newImageData(pixels, mask.width, mask.height, 'maskToImageData');
}

/** Opaque ImageData of an RgbImage (e.g. renderOverlay's output), ready for putImageData. */
export function overlayToImageData(image: RgbImage): ImageData {
  const what = 'overlayToImageData';
  if (!image || typeof image !== 'object' || !(image.data instanceof Uint8Array)) {
    throw new SalipError('INVALID_IMAGE', `${what}: expected an RgbImage { width, height, data: Uint8Array }, got ${describeValue(image)}`);
  }
  checkSize(image.width, image.height, what);
  if (image.data.length !== image.width * image.height * 3) {
    throw new SalipError(
      'INVALID_IMAGE',
      `${what}: expected ${image.width * image.height * 3} RGB values for ${image.width} x ${image.height}, got ${image.data.length}`,
    );
  }
  const pixels = new Uint8ClampedArray(image.width * image.height * 4);
  const src = image.data;
  for (let i = 0, o = 0; i < src.length; i += 3, o += 4) {
    pixels[o] = src[i];
    pixels[o + 1] = src[i + 1];
    pixels[o + 2] = src[i + 2];
    pixels[o + 3] = 255;
  }
  return newImageData(pixels, image.width, image.height, what);
}
