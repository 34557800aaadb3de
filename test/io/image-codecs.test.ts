import { encode as encodeFastPng } from 'fast-png';
import fc from 'fast-check';
import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { isSalipError } from '../../src/core/errors.js';
import type { RgbImage } from '../../src/core/types.js';
import { decodeImage, decodeMask, encodeGrayPng, encodeMaskPng, encodePng } from '../../src/io/image-codecs.js';
import { readPair } from '../helpers/data.js';

function expectCode(fn: () => unknown, code: string, messagePart?: string): unknown {
  try {
    fn();
  } catch (error) {
    expect(isSalipError(error), String(error)).toBe(true);
    expect((error as { code: string }).code).toBe(code);
    if (messagePart !== undefined) expect((error as Error).message).toContain(messagePart);
    return error;
  }
  throw new Error(`expected a SalipError ${code}`);
}

function firstChannel(image: RgbImage): number[] {
  return Array.from({ length: image.width * image.height }, (_, i) => image.data[i * 3]);
}

/** Byte offset of the first chunk of `type` (its length field). */
function chunkOffset(png: Uint8Array, type: string): number {
  let at = 8;
  while (at < png.length) {
    const length = new DataView(png.buffer, png.byteOffset + at).getUint32(0);
    if (String.fromCharCode(...png.subarray(at + 4, at + 8)) === type) return at;
    at += 12 + length;
  }
  throw new Error(`no ${type} chunk`);
}

function withIhdrSize(png: Uint8Array, width: number, height: number): Uint8Array {
  const patched = png.slice();
  const view = new DataView(patched.buffer);
  view.setUint32(16, width);
  view.setUint32(20, height);
  return patched;
}

const rgbPng = encodePng({ width: 10, height: 8, data: Uint8Array.from({ length: 240 }, (_, i) => (i * 37) % 256) });

describe('PNG round trips', () => {
  it('encodePng -> decodeImage returns the same RGB pixels', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (width, height, seed) => {
          const data = Uint8Array.from({ length: width * height * 3 }, (_, i) => (seed + i * 7919) % 256);
          const decoded = decodeImage(encodePng({ width, height, data }));
          expect(decoded).toEqual({ image: { width, height, data }, bitDepth: 8, channels: 3, format: 'png' });
        },
      ),
    );
  });

  it('encodeGrayPng -> decodeImage replicates gray and reports one channel', () => {
    const decoded = decodeImage(encodeGrayPng(3, 1, Uint8Array.from([0, 128, 255])));
    expect(decoded.channels).toBe(1);
    expect(Array.from(decoded.image.data)).toEqual([0, 0, 0, 128, 128, 128, 255, 255, 255]);
    expectCode(() => encodeGrayPng(2, 2, new Uint8Array(3)), 'INVALID_IMAGE', 'gray image');
  });

  it('encodeMaskPng writes 0/255 and decodeMask reads it back', () => {
    const mask = { width: 4, height: 2, data: Uint8Array.from([0, 1, 1, 0, 1, 0, 0, 1]) };
    const bytes = encodeMaskPng(mask);
    expect(firstChannel(decodeImage(bytes).image)).toEqual([0, 255, 255, 0, 255, 0, 0, 255]);
    expect(decodeMask(bytes)).toEqual(mask);
  });
});

describe('PNG colour types and depths', () => {
  it('windows 16-bit gray min-max to 8 bits instead of keeping the high byte', () => {
    const png = encodeFastPng({ width: 4, height: 1, data: Uint16Array.from([1000, 1500, 2000, 3000]), channels: 1, depth: 16 });
    const decoded = decodeImage(png);
    expect(decoded.bitDepth).toBe(16);
    // High bytes would be 3, 5, 7, 11.
    expect(firstChannel(decoded.image)).toEqual([0, 64, 128, 255]);
  });

  it('windows 16-bit RGB over all three channels together (keeps colour balance)', () => {
    const png = encodeFastPng({ width: 2, height: 1, data: Uint16Array.from([0, 500, 1000, 1000, 250, 0]), channels: 3, depth: 16 });
    expect(Array.from(decodeImage(png).image.data)).toEqual([0, 128, 255, 255, 64, 0]);
  });

  it('excludes alpha from the 16-bit window and drops it', () => {
    const png = encodeFastPng({ width: 2, height: 1, data: Uint16Array.from([0, 100, 200, 65535, 400, 300, 200, 0]), channels: 4, depth: 16 });
    const decoded = decodeImage(png);
    expect(decoded.channels).toBe(4);
    expect(Array.from(decoded.image.data)).toEqual([0, 64, 128, 255, 191, 128]);
  });

  it('drops alpha of 8-bit RGBA and gray+alpha', () => {
    const rgba = encodeFastPng({ width: 2, height: 1, data: Uint8Array.from([1, 2, 3, 0, 4, 5, 6, 255]), channels: 4, depth: 8 });
    expect(decodeImage(rgba)).toMatchObject({ channels: 4, bitDepth: 8, image: { data: Uint8Array.from([1, 2, 3, 4, 5, 6]) } });
    const grayAlpha = encodeFastPng({ width: 2, height: 1, data: Uint8Array.from([7, 0, 9, 128]), channels: 2, depth: 8 });
    expect(decodeImage(grayAlpha)).toMatchObject({ channels: 2, image: { data: Uint8Array.from([7, 7, 7, 9, 9, 9]) } });
  });

  it('scales 1-bit gray to 0/255 and decodeMask reads value 1 as foreground', () => {
    // Rows of 10 pixels pad to 2 bytes: 1010101011, 0101010100
    const png = encodeFastPng({ width: 10, height: 2, data: Uint8Array.from([0xaa, 0xc0, 0x55, 0x00]), channels: 1, depth: 1 });
    const decoded = decodeImage(png);
    expect(decoded.bitDepth).toBe(1);
    expect(firstChannel(decoded.image)).toEqual([255, 0, 255, 0, 255, 0, 255, 0, 255, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 0]);
    expect(Array.from(decodeMask(png).data)).toEqual([1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0]);
  });

  it('scales 4-bit gray by 17', () => {
    const png = encodeFastPng({ width: 3, height: 1, data: Uint8Array.from([0x0f, 0x70]), channels: 1, depth: 4 });
    expect(firstChannel(decodeImage(png).image)).toEqual([0, 255, 119]);
  });

  it('expands 8-bit and 2-bit palette images to RGB', () => {
    const palette = [
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
      [9, 9, 9],
    ];
    const eight = encodeFastPng({ width: 3, height: 1, data: Uint8Array.from([2, 0, 3]), channels: 1, depth: 8, palette });
    expect(decodeImage(eight)).toMatchObject({ channels: 3, bitDepth: 8 });
    expect(Array.from(decodeImage(eight).image.data)).toEqual([0, 0, 255, 255, 0, 0, 9, 9, 9]);
    // Indices 1, 3, 2, 0 packed 2 bits each: 01 11 10 00.
    const two = encodeFastPng({ width: 4, height: 1, data: Uint8Array.from([0b01111000]), channels: 1, depth: 2, palette });
    expect(decodeImage(two).bitDepth).toBe(2);
    expect(Array.from(decodeImage(two).image.data)).toEqual([0, 255, 0, 9, 9, 9, 0, 0, 255, 255, 0, 0]);
    // decodeMask thresholds the first channel of the palette colour.
    expect(Array.from(decodeMask(two).data)).toEqual([0, 0, 0, 1]);
  });

  it('drops palette transparency (tRNS) and reports four channels', () => {
    const palette = [
      [10, 20, 30, 0],
      [40, 50, 60, 255],
    ];
    const png = encodeFastPng({ width: 2, height: 1, data: Uint8Array.from([1, 0]), channels: 1, depth: 8, palette });
    const decoded = decodeImage(png);
    expect(decoded.channels).toBe(4);
    expect(Array.from(decoded.image.data)).toEqual([40, 50, 60, 10, 20, 30]);
  });

  it('decodeMask thresholds 16-bit masks at half the maximum and ignores other channels', () => {
    const png = encodeFastPng({ width: 3, height: 1, data: Uint16Array.from([32767, 32768, 65535]), channels: 1, depth: 16 });
    expect(Array.from(decodeMask(png).data)).toEqual([0, 1, 1]);
    const rgb = encodePng({ width: 3, height: 1, data: Uint8Array.from([127, 255, 255, 128, 0, 0, 255, 0, 0]) });
    expect(Array.from(decodeMask(rgb).data)).toEqual([0, 1, 1]);
  });
});

describe('real images from the evaluation data', () => {
  it('decodes an 8-bit gray chest X-ray as Pillow does', () => {
    const { image, mask } = readPair('lung_xray', 'MCUCXR_0001_0.png');
    const decoded = decodeImage(image, { name: 'MCUCXR_0001_0.png' });
    expect(decoded).toMatchObject({ bitDepth: 8, channels: 1, format: 'png' });
    expect([decoded.image.width, decoded.image.height]).toEqual([512, 512]);
    const gray = firstChannel(decoded.image);
    // Values and sum read with Pillow 9.4 (numpy index [row, column]).
    expect(gray.reduce((a, b) => a + b, 0)).toBe(30540330);
    expect([gray[0], gray[100 * 512 + 200], gray[256 * 512 + 256], gray[511 * 512 + 511]]).toEqual([0, 31, 207, 0]);
    expect(decoded.image.data[3 * 256 * 513 + 1]).toBe(207);
    // The manifest gives the mask's foreground fraction as 0.2417.
    const foreground = decodeMask(mask).data.reduce((a, b) => a + b, 0);
    expect(foreground).toBe(63367);
  });

  it('decodes the other tasks at their documented sizes', () => {
    const fetal = readPair('fetal_head_us', '000_HC.png');
    expect(decodeImage(fetal.image).image).toMatchObject({ width: 800, height: 540 });
    expect(decodeMask(fetal.mask)).toMatchObject({ width: 800, height: 540 });
    const brain = readPair('brain_mri', 'colin27_axial_z051.png');
    expect(decodeImage(brain.image).image).toMatchObject({ width: 181, height: 217 });
  });
});

describe('JPEG', () => {
  const width = 16;
  const height = 8;
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) rgba.set([200, 100, 50, 255], i * 4);
  const jpg = new Uint8Array(jpeg.encode({ width, height, data: rgba }, 95).data);

  it('decodes to RGB with the colour kept within JPEG loss', () => {
    const decoded = decodeImage(jpg);
    expect(decoded).toMatchObject({ format: 'jpeg', bitDepth: 8, channels: 3 });
    expect([decoded.image.width, decoded.image.height]).toEqual([width, height]);
    for (let i = 0; i < width * height; i++) {
      const px = Array.from(decoded.image.data.subarray(i * 3, i * 3 + 3));
      [200, 100, 50].forEach((v, c) => expect(Math.abs(px[c] - v)).toBeLessThanOrEqual(3));
    }
    expect(decodeMask(jpg).data.every((v) => v === 1)).toBe(true);
  });

  it('refuses a frame larger than maxPixels from its header', () => {
    expectCode(() => decodeImage(jpg, { maxPixels: 127, name: 'scan.jpg' }), 'INVALID_IMAGE', 'scan.jpg: 16 x 8 = 128 pixels');
  });

  it('reports truncated data as DECODE_FAILED', () => {
    expectCode(() => decodeImage(jpg.subarray(0, jpg.length >> 1), { name: 'half.jpg' }), 'DECODE_FAILED', 'half.jpg');
    expectCode(() => decodeImage(jpg.subarray(0, 20)), 'DECODE_FAILED', 'image: could not be decoded as JPEG');
  });
});

describe('bad input', () => {
  it('reports flipped IDAT bytes as DECODE_FAILED, naming the input and keeping the cause', () => {
    const corrupt = rgbPng.slice();
    const idat = chunkOffset(corrupt, 'IDAT');
    corrupt[idat + 10] ^= 0xff;
    corrupt[idat + 11] ^= 0x5a;
    const error = expectCode(() => decodeImage(corrupt, { name: 'scan.png' }), 'DECODE_FAILED', 'scan.png');
    expect((error as Error).cause).toBeInstanceOf(Error);
    expectCode(() => decodeMask(corrupt), 'DECODE_FAILED', 'image: could not be decoded as PNG');
  });

  it('reports a PNG cut in half or before its IHDR as DECODE_FAILED', () => {
    expectCode(() => decodeImage(rgbPng.subarray(0, rgbPng.length >> 1)), 'DECODE_FAILED');
    expectCode(() => decodeImage(rgbPng.subarray(0, 20)), 'DECODE_FAILED', 'IHDR');
  });

  it('refuses a zero width from the IHDR with INVALID_IMAGE', () => {
    expectCode(() => decodeImage(withIhdrSize(rgbPng, 0, 8), { name: 'flat.png' }), 'INVALID_IMAGE', 'flat.png: expected a non-empty image, the header says 0 x 8');
  });

  it('refuses more pixels than maxPixels before decoding anything', () => {
    expectCode(() => decodeImage(rgbPng, { maxPixels: 79 }), 'INVALID_IMAGE', '10 x 8 = 80 pixels');
    expect(decodeImage(rgbPng, { maxPixels: 80 }).image.width).toBe(10);
    // The header claims 100000 x 100000 over 80 pixels of data: refused by size, not by a decoder error.
    expectCode(() => decodeImage(withIhdrSize(rgbPng, 100_000, 100_000)), 'INVALID_IMAGE', 'limit of 100000000');
    expectCode(() => decodeMask(withIhdrSize(rgbPng, 100_000, 100_000)), 'INVALID_IMAGE');
  });

  it('reports unknown magic bytes as UNSUPPORTED_FORMAT', () => {
    const gif = new TextEncoder().encode('GIF89a....');
    expectCode(() => decodeImage(gif, { name: 'anim.gif' }), 'UNSUPPORTED_FORMAT', 'anim.gif: expected PNG or JPEG data, the first bytes are [47 49 46 38');
    expectCode(() => decodeImage(new Uint8Array(0)), 'UNSUPPORTED_FORMAT');
  });

  it('refuses input that is not a Uint8Array', () => {
    expectCode(() => decodeImage([137, 80] as unknown as Uint8Array), 'INVALID_ARGUMENT', 'Uint8Array');
  });
});
