/**
 * PNG and JPEG bytes <-> RgbImage / BinaryMask, in Node and browsers alike (no fs, no Buffer).
 * Sizes are read from the PNG IHDR / JPEG frame header before decoding, so an oversized image is
 * refused without being allocated.
 */
import { decode as decodePngBytes, encode as encodePngBytes } from 'fast-png';
import jpeg from 'jpeg-js';
import { SalipError, describeValue } from '../core/errors.js';
import { DEFAULT_MAX_PIXELS, windowTo8Bit } from '../core/image.js';
import type { BinaryMask, RgbImage } from '../core/types.js';

export type ImageFormat = 'png' | 'jpeg';

export interface DecodeOptions {
  /** Refuse images with more pixels than this (default DEFAULT_MAX_PIXELS). */
  maxPixels?: number;
  /** Names the input in error messages (e.g. a file path); default "image". */
  name?: string;
}

export interface DecodedImage {
  image: RgbImage;
  /** Bits per sample in the file (for palette PNGs: bits per index). */
  bitDepth: number;
  /** Channels in the file: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA (palette PNGs: 3, or 4 with tRNS). */
  channels: number;
  format: ImageFormat;
}

/** Samples unpacked one per channel, row-major, at the file's own depth. */
interface RawSamples {
  width: number;
  height: number;
  format: ImageFormat;
  /** Bits per sample in the file (for palette PNGs: bits per index). */
  bitDepth: number;
  /** Channels as the file declares them (reported to callers). */
  fileChannels: number;
  /** Interleaved channels of `data` (jpeg-js always gives 3). */
  channels: number;
  /** Bits per sample of `data` (8 for palette colours and JPEG, else the file's depth). */
  sampleDepth: number;
  data: Uint8Array | Uint16Array;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

/** A file cut inside its signature: the start of a PNG or JPEG signature and nothing more. */
function truncatedSignature(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 2 && bytes.length < 8 && bytes.every((b, i) => b === PNG_SIGNATURE[i])) return 'png';
  if (bytes.length === 2 && bytes[0] === 0xff && bytes[1] === 0xd8) return 'jpeg';
  return null;
}

/** The decoder's reason, with a hint when it ran off the end of the data (a cut-off file). */
function decoderReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return error instanceof RangeError ? `${message}; the data ends early, is the file truncated?` : message;
}

function decodeFailed(name: string, format: ImageFormat, reason: string, cause?: unknown): SalipError {
  return new SalipError('DECODE_FAILED', `${name}: could not be decoded as ${format.toUpperCase()} (${reason})`, {
    cause,
    details: { name, format },
  });
}

function checkHeaderSize(name: string, width: number, height: number, maxPixels: number): void {
  if (width <= 0 || height <= 0) {
    throw new SalipError('INVALID_IMAGE', `${name}: expected a non-empty image, the header says ${width} x ${height}`, {
      details: { name, width, height },
    });
  }
  if (width * height > maxPixels) {
    throw new SalipError(
      'INVALID_IMAGE',
      `${name}: ${width} x ${height} = ${width * height} pixels is more than the limit of ${maxPixels}`,
      { details: { name, width, height, maxPixels } },
    );
  }
}

function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) >>> 0) + (bytes[at + 1] << 16) + (bytes[at + 2] << 8) + bytes[at + 3];
}

/** Width and height from the IHDR chunk, which the PNG standard requires to come first. */
function pngHeaderSize(bytes: Uint8Array, name: string): { width: number; height: number } {
  const isIhdr = bytes.length >= 33 && String.fromCharCode(...bytes.subarray(12, 16)) === 'IHDR';
  if (!isIhdr) throw decodeFailed(name, 'png', 'no IHDR chunk after the signature; truncated?');
  return { width: readUint32(bytes, 16), height: readUint32(bytes, 20) };
}

/** Width, height and component count from the first SOFn marker. */
function jpegHeaderSize(bytes: Uint8Array, name: string): { width: number; height: number; components: number } {
  let at = 2;
  while (at + 3 < bytes.length) {
    if (bytes[at] !== 0xff) throw decodeFailed(name, 'jpeg', `expected a marker at byte ${at}`);
    const marker = bytes[at + 1];
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      at += 2; // markers without a length field
      continue;
    }
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) {
      if (at + 9 >= bytes.length) break;
      const height = (bytes[at + 5] << 8) | bytes[at + 6];
      const width = (bytes[at + 7] << 8) | bytes[at + 8];
      return { width, height, components: bytes[at + 9] };
    }
    if (marker === 0xda || marker === 0xd9) throw decodeFailed(name, 'jpeg', 'no frame header before the scan data');
    at += 2 + length;
  }
  throw decodeFailed(name, 'jpeg', 'no frame header found; truncated?');
}

/** Unpacks 1/2/4-bit samples (rows padded to whole bytes) to one byte per sample. */
function unpackLowDepth(packed: ArrayLike<number>, width: number, height: number, depth: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const rowBytes = Math.ceil((width * depth) / 8);
  const perByte = 8 / depth;
  const valueMask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const byte = packed[y * rowBytes + Math.floor(x / perByte)];
      const shift = 8 - depth * ((x % perByte) + 1);
      out[y * width + x] = (byte >> shift) & valueMask;
    }
  }
  return out;
}

function decodePngSamples(bytes: Uint8Array, name: string, maxPixels: number): RawSamples {
  const { width, height } = pngHeaderSize(bytes, name);
  checkHeaderSize(name, width, height, maxPixels);
  let png;
  try {
    png = decodePngBytes(bytes, { checkCrc: true });
  } catch (error) {
    throw decodeFailed(name, 'png', decoderReason(error), error);
  }
  const { depth, channels, palette } = png;
  const expected = width * height * channels;
  if (depth < 8 && png.data.length < Math.ceil((width * depth) / 8) * height * channels) {
    throw decodeFailed(name, 'png', 'image data is shorter than the header promises');
  }
  if (palette !== undefined && palette.length > 0) {
    const indices = depth === 8 ? png.data : unpackLowDepth(png.data, width, height, depth);
    const entry = palette[0].length;
    const colours = new Uint8Array(width * height * entry);
    for (let i = 0; i < width * height; i++) {
      const colour = palette[indices[i]];
      if (colour === undefined) throw decodeFailed(name, 'png', `palette index ${indices[i]} is out of range`);
      for (let c = 0; c < entry; c++) colours[i * entry + c] = colour[c];
    }
    return { width, height, format: 'png', bitDepth: depth, fileChannels: entry, channels: entry, sampleDepth: 8, data: colours };
  }
  const data = depth < 8 ? unpackLowDepth(png.data, width, height, depth) : png.data;
  if (data.length !== expected) throw decodeFailed(name, 'png', `expected ${expected} samples, decoded ${data.length}`);
  return {
    width,
    height,
    format: 'png',
    bitDepth: depth,
    fileChannels: channels,
    channels,
    sampleDepth: depth,
    data: data as Uint8Array | Uint16Array,
  };
}

function decodeJpegSamples(bytes: Uint8Array, name: string, maxPixels: number): RawSamples {
  const { width, height, components } = jpegHeaderSize(bytes, name);
  checkHeaderSize(name, width, height, maxPixels);
  let decoded;
  try {
    decoded = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      maxResolutionInMP: maxPixels / 1e6,
      // jpeg-js holds about 4 bytes per sample per component in DCT blocks, plus its output.
      maxMemoryUsageInMB: Math.ceil((maxPixels * 32) / (1024 * 1024)) + 64,
    });
  } catch (error) {
    throw decodeFailed(name, 'jpeg', decoderReason(error), error);
  }
  if (decoded.width !== width || decoded.height !== height) {
    throw decodeFailed(name, 'jpeg', `decoded ${decoded.width} x ${decoded.height}, header says ${width} x ${height}`);
  }
  return { width, height, format: 'jpeg', bitDepth: 8, fileChannels: components, channels: 3, sampleDepth: 8, data: decoded.data };
}

function decodeSamples(bytes: Uint8Array, options: DecodeOptions | undefined): RawSamples {
  const name = options?.name ?? 'image';
  if (!(bytes instanceof Uint8Array)) {
    throw new SalipError('INVALID_ARGUMENT', `${name}: expected the file's bytes as a Uint8Array, got ${describeValue(bytes)}`);
  }
  const maxPixels = options?.maxPixels ?? DEFAULT_MAX_PIXELS;
  const format = sniffFormat(bytes);
  if (format === 'png') return decodePngSamples(bytes, name, maxPixels);
  if (format === 'jpeg') return decodeJpegSamples(bytes, name, maxPixels);
  const cut = truncatedSignature(bytes);
  if (cut !== null) throw decodeFailed(name, cut, `only ${bytes.length} bytes, the start of the signature; truncated?`);
  const head = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new SalipError('UNSUPPORTED_FORMAT', `${name}: expected PNG or JPEG data, the first bytes are [${head}]`, {
    details: { name },
  });
}

/** The colour channels of `data` (gray or RGB, alpha dropped), same sample type. */
function colourSamples(raw: RawSamples, keep: number): Uint8Array | Uint16Array {
  const { data, channels } = raw;
  if (channels === keep) return data;
  const pixels = raw.width * raw.height;
  const out = raw.sampleDepth === 16 ? new Uint16Array(pixels * keep) : new Uint8Array(pixels * keep);
  for (let p = 0; p < pixels; p++) for (let c = 0; c < keep; c++) out[p * keep + c] = data[p * channels + c];
  return out;
}

/** 8-bit samples: low depths scaled to 0..255, 16-bit windowed min-max over all given samples. */
function to8Bit(samples: Uint8Array | Uint16Array, sampleDepth: number): Uint8Array {
  if (sampleDepth === 8) return samples as Uint8Array;
  if (sampleDepth === 16) return windowTo8Bit(samples);
  const scale = 255 / ((1 << sampleDepth) - 1);
  const out = new Uint8Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = samples[i] * scale;
  return out;
}

function toRgb(raw: RawSamples): RgbImage {
  const { width, height } = raw;
  const colourChannels = raw.channels >= 3 ? 3 : 1;
  // Alpha is dropped before windowing so that it cannot widen the 16-bit window.
  const samples = to8Bit(colourSamples(raw, colourChannels), raw.sampleDepth);
  if (colourChannels === 3) return { width, height, data: samples };
  // Expanded here rather than by rgbFromGray, whose default pixel limit the caller may have raised.
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0, o = 0; p < samples.length; p++, o += 3) rgb[o] = rgb[o + 1] = rgb[o + 2] = samples[p];
  return { width, height, data: rgb };
}

/**
 * Decodes PNG (any colour type, depths 1..16; 16-bit windowed min-max to 8 bits; alpha dropped)
 * or JPEG bytes, detected by their magic bytes.
 */
export function decodeImage(bytes: Uint8Array, options?: DecodeOptions): DecodedImage {
  const raw = decodeSamples(bytes, options);
  return { image: toRgb(raw), bitDepth: raw.bitDepth, channels: raw.fileChannels, format: raw.format };
}

/**
 * Decodes a mask image of any layout: foreground where the first channel is above half its
 * maximum (> 127 for 8-bit, > 32767 for 16-bit, 1 for 1-bit).
 */
export function decodeMask(bytes: Uint8Array, options?: DecodeOptions): BinaryMask {
  const raw = decodeSamples(bytes, options);
  const { width, height, data, sampleDepth, channels } = raw;
  const threshold = ((1 << sampleDepth) - 1) / 2;
  const mask = new Uint8Array(width * height);
  for (let p = 0; p < mask.length; p++) mask[p] = data[p * channels] > threshold ? 1 : 0;
  return { width, height, data: mask };
}

/** 8-bit RGB PNG bytes of `image`. */
export function encodePng(image: RgbImage): Uint8Array {
  return encodePngBytes({ width: image.width, height: image.height, data: image.data, channels: 3, depth: 8 });
}

/** 8-bit gray PNG bytes of one byte per pixel. */
export function encodeGrayPng(width: number, height: number, gray: Uint8Array): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0 || gray.length !== width * height) {
    throw new SalipError(
      'INVALID_IMAGE',
      `gray image: expected positive integer sizes and width * height values, got ${describeValue(width)} x ${describeValue(height)} with ${gray.length} values`,
    );
  }
  return encodePngBytes({ width, height, data: gray, channels: 1, depth: 8 });
}

/** 8-bit gray PNG of a mask: 255 foreground, 0 background. */
export function encodeMaskPng(mask: BinaryMask): Uint8Array {
  const gray = new Uint8Array(mask.width * mask.height);
  for (let i = 0; i < gray.length; i++) gray[i] = mask.data[i] !== 0 ? 255 : 0;
  return encodeGrayPng(mask.width, mask.height, gray);
}
