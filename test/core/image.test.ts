import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSalipError } from '../../src/core/errors.js';
import {
  CLIP_MEAN,
  CLIP_STD,
  DEFAULT_MAX_PIXELS,
  SAM_PIXEL_MEAN,
  SAM_PIXEL_STD,
  centerCrop,
  clipPreprocess,
  createRgbImage,
  cropImage,
  longestSideSize,
  minMaxToChw,
  normalizeToChw,
  resizeToChw,
  padImage,
  resizeImage,
  resizeShortestSide,
  rgbFromGray,
  rgbFromGray16,
  rgbFromGrayAlpha,
  rgbFromRgba,
  toGray,
} from '../../src/core/image.js';
import type { RgbImage } from '../../src/core/types.js';
import { createRandom } from '../../src/core/random.js';

function expectCode(fn: () => unknown, code: string, messagePart?: string): void {
  try {
    fn();
  } catch (error) {
    expect(isSalipError(error), String(error)).toBe(true);
    expect((error as { code: string }).code).toBe(code);
    if (messagePart !== undefined) expect((error as Error).message).toContain(messagePart);
    return;
  }
  throw new Error(`expected a SalipError ${code}`);
}

/** A one-row image whose three channels all carry `values`. */
function grayRow(values: number[]): RgbImage {
  return rgbFromGray(values.length, 1, Uint8Array.from(values));
}

function firstChannel(image: RgbImage): number[] {
  return Array.from({ length: image.width * image.height }, (_, i) => image.data[i * 3]);
}

/** Image whose pixel (x, y) is (10 * x + y, 100 + x, 200 - y). */
function patterned(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      data.set([10 * x + y, 100 + x, 200 - y], (y * width + x) * 3);
    }
  }
  return { width, height, data };
}

const arbImage = fc
  .record({ width: fc.integer({ min: 1, max: 12 }), height: fc.integer({ min: 1, max: 12 }) })
  .chain(({ width, height }) =>
    fc
      .uint8Array({ minLength: width * height * 3, maxLength: width * height * 3 })
      .map((data): RgbImage => ({ width, height, data })),
  );

describe('createRgbImage', () => {
  it('returns a zero-filled image of width * height * 3 bytes', () => {
    const image = createRgbImage(3, 2);
    expect(image.width).toBe(3);
    expect(image.height).toBe(2);
    expect(Array.from(image.data)).toEqual(new Array(18).fill(0));
  });

  it('keeps the given data', () => {
    const data = Uint8Array.from([1, 2, 3, 4, 5, 6]);
    expect(createRgbImage(2, 1, data).data).toBe(data);
  });

  it('refuses empty, negative, fractional and NaN sizes with INVALID_IMAGE', () => {
    expectCode(() => createRgbImage(0, 5), 'INVALID_IMAGE', '0 x 5');
    expectCode(() => createRgbImage(5, -1), 'INVALID_IMAGE');
    expectCode(() => createRgbImage(1.5, 2), 'INVALID_IMAGE');
    expectCode(() => createRgbImage(Number.NaN, 2), 'INVALID_IMAGE', 'NaN');
  });

  it('refuses data of the wrong length or type', () => {
    expectCode(() => createRgbImage(2, 2, new Uint8Array(11)), 'INVALID_IMAGE', 'expected 12 values, got 11');
    expectCode(() => createRgbImage(1, 1, [1, 2, 3] as unknown as Uint8Array), 'INVALID_IMAGE', 'Uint8Array');
  });

  it('refuses more pixels than maxPixels, defaulting to DEFAULT_MAX_PIXELS', () => {
    expect(DEFAULT_MAX_PIXELS).toBe(100_000_000);
    expectCode(() => createRgbImage(10, 10, undefined, { maxPixels: 99 }), 'INVALID_IMAGE', 'limit of 99');
    expect(createRgbImage(10, 10, undefined, { maxPixels: 100 }).data.length).toBe(300);
    expectCode(() => createRgbImage(20_000, 5_001), 'INVALID_IMAGE', 'limit of 100000000');
  });
});

describe('channel conversions', () => {
  it('rgbFromGray replicates gray into three channels', () => {
    expect(Array.from(rgbFromGray(2, 1, Uint8Array.from([7, 200])).data)).toEqual([7, 7, 7, 200, 200, 200]);
    expectCode(() => rgbFromGray(2, 2, new Uint8Array(3)), 'INVALID_IMAGE', 'expected 4 values');
  });

  it('rgbFromRgba drops alpha without compositing', () => {
    const rgba = Uint8Array.from([1, 2, 3, 0, 250, 251, 252, 128]);
    expect(Array.from(rgbFromRgba(2, 1, rgba).data)).toEqual([1, 2, 3, 250, 251, 252]);
    expectCode(() => rgbFromRgba(2, 1, new Uint8Array(6)), 'INVALID_IMAGE');
  });

  it('rgbFromGrayAlpha drops alpha and replicates gray', () => {
    expect(Array.from(rgbFromGrayAlpha(2, 1, Uint8Array.from([9, 0, 99, 255])).data)).toEqual([9, 9, 9, 99, 99, 99]);
  });

  it('rgbFromGray16 windows the data range to 0..255 (round half up)', () => {
    // (v - 1000) / 2000 * 255: 0, 63.75, 127.5, 255
    const image = rgbFromGray16(4, 1, Uint16Array.from([1000, 1500, 2000, 3000]));
    expect(firstChannel(image)).toEqual([0, 64, 128, 255]);
  });

  it('rgbFromGray16 clamps to an explicit window', () => {
    const image = rgbFromGray16(4, 1, Int16Array.from([-100, 0, 50, 300]), { min: 0, max: 100 });
    expect(firstChannel(image)).toEqual([0, 0, 128, 255]);
    expectCode(() => rgbFromGray16(1, 1, new Uint16Array(1), { min: 5, max: 5 }), 'INVALID_ARGUMENT', 'window');
  });

  it('rgbFromGray16 rounds exactly like integer arithmetic floor((2 (v - min) 255 + range) / (2 range))', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 65535 }), { minLength: 2, maxLength: 40 }), (values) => {
        const min = Math.min(...values);
        const range = Math.max(...values) - min;
        const out = firstChannel(rgbFromGray16(values.length, 1, Uint16Array.from(values)));
        const expected = values.map((v) => (range === 0 ? 0 : Math.floor((2 * (v - min) * 255 + range) / (2 * range))));
        expect(out).toEqual(expected);
      }),
    );
  });

  it('rgbFromGray16 maps a constant image to 0 and NaN to 0', () => {
    expect(firstChannel(rgbFromGray16(3, 1, Uint16Array.from([7, 7, 7])))).toEqual([0, 0, 0]);
    const floats = Float32Array.from([Number.NaN, -1.5, 0.5, Number.POSITIVE_INFINITY]);
    expect(firstChannel(rgbFromGray16(4, 1, floats))).toEqual([0, 0, 255, 255]);
  });

  it('toGray is ITU-R 601 luma rounded half up', () => {
    const image = createRgbImage(4, 1, Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]));
    // 76.245, 149.685, 29.07, 18.15
    expect(Array.from(toGray(image))).toEqual([76, 150, 29, 18]);
  });

  it('toGray leaves gray pixels unchanged', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 50 }), (gray) => {
        expect(Array.from(toGray(rgbFromGray(gray.length, 1, gray)))).toEqual(Array.from(gray));
      }),
    );
  });
});

describe('resizeImage (Pillow semantics)', () => {
  it('upsamples 2x1 to 4x1 bilinear with half-pixel centres: [p0, .75p0+.25p1, .25p0+.75p1, p1]', () => {
    expect(firstChannel(resizeImage(grayRow([0, 100]), 4, 1))).toEqual([0, 25, 75, 100]);
    // 12.5 and 17.5 round half up in Pillow's fixed point.
    expect(firstChannel(resizeImage(grayRow([10, 20]), 4, 1))).toEqual([10, 13, 18, 20]);
  });

  it('antialiases when shrinking (triangle widened by the scale factor)', () => {
    // Output 0: weights 3/7, 3/7, 1/7 over inputs 0..2; output 1: 1/7, 3/7, 3/7 over inputs 1..3.
    expect(firstChannel(resizeImage(grayRow([0, 70, 140, 210]), 2, 1))).toEqual([50, 160]);
  });

  it('upsamples with the Keys a = -0.5 cubic, clamping overshoot', () => {
    // Output 0: weights f(0.25) = 0.8671875 and f(1.25) = -0.0703125, normalised: 91.18.
    expect(firstChannel(resizeImage(grayRow([100, 200]), 4, 1, 'bicubic'))).toEqual([91, 121, 179, 209]);
    expect(firstChannel(resizeImage(grayRow([0, 255]), 4, 1, 'bicubic'))).toEqual([0, 53, 202, 255]);
  });

  it('resamples columns and rows (separable) in both directions', () => {
    const image = rgbFromGray(2, 2, Uint8Array.from([0, 100, 100, 200]));
    // Bilinear 2x2 -> 4x4: the first row is [0, 25, 75, 100]; the second mixes rows 0.75/0.25.
    const out = resizeImage(image, 4, 4);
    expect(firstChannel(out).slice(0, 8)).toEqual([0, 25, 75, 100, 25, 50, 100, 125]);
  });

  it('matches Pillow 9.4 Image.resize on a random 5x3 RGB image', () => {
    const src = createRgbImage(
      5,
      3,
      Uint8Array.from([
        175, 240, 136, 19, 196, 228, 50, 58, 25, 194, 168, 199, 246, 41, 168, 81, 67, 150, 59, 112, 211, 208, 108,
        250, 151, 3, 53, 185, 103, 54, 161, 116, 92, 133, 93, 250, 185, 236, 217, 78, 142, 221, 218, 137, 23,
      ]),
    );
    expect(Array.from(resizeImage(src, 2, 2).data)).toEqual([92, 145, 167, 170, 89, 134, 133, 119, 192, 157, 124, 138]);
    const bicubic = resizeImage(src, 7, 4, 'bicubic');
    expect(Array.from(bicubic.data.subarray(0, 21))).toEqual([
      189, 252, 130, 87, 232, 202, 7, 158, 178, 42, 55, 13, 155, 154, 156, 229, 123, 205, 252, 30, 172,
    ]);
    expect(Array.from(bicubic.data.subarray(63))).toEqual([
      167, 120, 80, 146, 94, 183, 150, 130, 254, 184, 243, 215, 91, 177, 241, 131, 139, 139, 228, 138, 9,
    ]);
  });

  it('resamples rows exactly as it resamples columns (the row pass against the column pass on the transposed image)', () => {
    // The row pass has its own loops (a two-row case for upscaling, a row-at-a-time sum for the
    // rest); Pillow's passes share one kernel, so the column pass on the transposed image is the
    // reference, byte for byte, up and down, both kernels.
    const transpose = (image: RgbImage): RgbImage => {
      const out = new Uint8Array(image.data.length);
      for (let y = 0; y < image.height; y++) {
        for (let x = 0; x < image.width; x++) {
          for (let c = 0; c < 3; c++) out[(x * image.height + y) * 3 + c] = image.data[(y * image.width + x) * 3 + c];
        }
      }
      return createRgbImage(image.height, image.width, out);
    };
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 90 }),
        fc.constantFrom('bilinear' as const, 'bicubic' as const),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (width, height, outHeight, kernel, seed) => {
          const data = new Uint8Array(width * height * 3);
          const next = createRandom(seed).next;
          for (let i = 0; i < data.length; i++) {
            // Mostly the extremes, where rounding and clamping differ first.
            const u = next();
            data[i] = u < 1 / 3 ? 0 : u < 2 / 3 ? 255 : Math.floor(next() * 256);
          }
          const image = createRgbImage(width, height, data);
          const byRows = resizeImage(image, width, outHeight, kernel);
          const byColumns = transpose(resizeImage(transpose(image), outHeight, width, kernel));
          expect(Array.from(byRows.data)).toEqual(Array.from(byColumns.data));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('identity resize returns equal pixels in a new buffer', () => {
    fc.assert(
      fc.property(arbImage, fc.constantFrom('bilinear' as const, 'bicubic' as const), (image, kernel) => {
        const out = resizeImage(image, image.width, image.height, kernel);
        expect(out.data).not.toBe(image.data);
        expect(Array.from(out.data)).toEqual(Array.from(image.data));
      }),
    );
  });

  it('keeps a constant image constant at any size', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 30 }),
        fc.constantFrom('bilinear' as const, 'bicubic' as const),
        (value, w, h, ow, oh, kernel) => {
          const image = createRgbImage(w, h, new Uint8Array(w * h * 3).fill(value));
          const out = resizeImage(image, ow, oh, kernel);
          expect(out.width).toBe(ow);
          expect(out.height).toBe(oh);
          expect(out.data.every((v) => v === value)).toBe(true);
        },
      ),
    );
  });

  it('refuses bad targets and kernels', () => {
    const image = createRgbImage(2, 2);
    expectCode(() => resizeImage(image, 0, 2), 'INVALID_IMAGE');
    expectCode(() => resizeImage(image, 2, 2, 'nearest' as 'bilinear'), 'INVALID_ARGUMENT', 'kernel');
  });
});

describe('sizes for SAM and CLIP', () => {
  it('longestSideSize follows get_preprocess_shape (floor(side * scale + 0.5))', () => {
    expect(longestSideSize(640, 480, 1024)).toEqual({ width: 1024, height: 768 });
    expect(longestSideSize(100, 33, 1024)).toEqual({ width: 1024, height: 338 });
    expect(longestSideSize(33, 100, 1024)).toEqual({ width: 338, height: 1024 });
    expect(longestSideSize(800, 540, 1024)).toEqual({ width: 1024, height: 691 });
    expectCode(() => longestSideSize(10, 10, 0), 'INVALID_ARGUMENT', 'target');
  });

  it('resizeShortestSide truncates the long side like torchvision Resize(int)', () => {
    const landscape = resizeShortestSide(createRgbImage(300, 200), 224, 'bicubic');
    expect([landscape.width, landscape.height]).toEqual([336, 224]);
    // 224 * 300 / 225 = 298.67 -> 298
    const portrait = resizeShortestSide(createRgbImage(225, 300), 224);
    expect([portrait.width, portrait.height]).toEqual([224, 298]);
  });
});

describe('crop, pad and centre crop', () => {
  it('cropImage copies the region', () => {
    const out = cropImage(patterned(4, 3), 1, 1, 2, 2);
    expect(Array.from(out.data)).toEqual([11, 101, 199, 21, 102, 199, 12, 101, 198, 22, 102, 198]);
  });

  it('cropImage refuses regions outside the image with INVALID_ARGUMENT', () => {
    const image = patterned(4, 3);
    expectCode(() => cropImage(image, 3, 0, 2, 1), 'INVALID_ARGUMENT', 'crop region');
    expectCode(() => cropImage(image, -1, 0, 1, 1), 'INVALID_ARGUMENT');
    expectCode(() => cropImage(image, 0, 0, 0, 1), 'INVALID_ARGUMENT');
    expectCode(() => cropImage(image, 0.5, 0, 1, 1), 'INVALID_ARGUMENT');
  });

  it('padImage pads bottom/right with the value', () => {
    const out = padImage(rgbFromGray(1, 1, Uint8Array.from([9])), 2, 2, 5);
    expect(Array.from(out.data)).toEqual([9, 9, 9, 5, 5, 5, 5, 5, 5, 5, 5, 5]);
    expect(Array.from(padImage(rgbFromGray(1, 1, Uint8Array.from([9])), 2, 1).data)).toEqual([9, 9, 9, 0, 0, 0]);
    expectCode(() => padImage(createRgbImage(3, 3), 2, 3), 'INVALID_ARGUMENT', 'padded size');
    expectCode(() => padImage(createRgbImage(3, 3), 4, 4, 256), 'INVALID_ARGUMENT', 'pad value');
  });

  it('centerCrop starts at round((size_in - size) / 2) with Python (half-even) rounding', () => {
    const row = (image: RgbImage) => firstChannel(image).slice(0, image.width);
    // (5 - 3) / 2 = 1
    expect(row(centerCrop(patterned(5, 5), 3))).toEqual([11, 21, 31]);
    // (6 - 3) / 2 = 1.5 -> 2
    expect(row(centerCrop(patterned(6, 6), 3))).toEqual([22, 32, 42]);
    // (4 - 3) / 2 = 0.5 -> 0
    expect(row(centerCrop(patterned(4, 4), 3))).toEqual([0, 10, 20]);
  });

  it('centerCrop pads with zeros when the image is smaller, left/top = (size - in) // 2', () => {
    const two = centerCrop(rgbFromGray(2, 2, Uint8Array.from([1, 2, 3, 4])), 4);
    expect(firstChannel(two)).toEqual([0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0]);
    const three = centerCrop(rgbFromGray(3, 1, Uint8Array.from([1, 2, 3])), 4);
    // Width 3 -> 4 pads 0 left, 1 right; height 1 -> 4 pads 1 top, 2 bottom.
    expect(firstChannel(three)).toEqual([0, 0, 0, 0, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe('float tensors', () => {
  it('normalizeToChw writes planar (v * scale - mean) / std and zero-pads after normalising', () => {
    const image = createRgbImage(2, 1, Uint8Array.from([10, 20, 30, 40, 50, 60]));
    const out = normalizeToChw(image, { mean: [10, 20, 30], std: [2, 4, 5], padWidth: 3, padHeight: 2 });
    expect(Array.from(out)).toEqual([
      0, 15, 0, 0, 0, 0, // R plane: (10 - 10) / 2, (40 - 10) / 2, padding
      0, 7.5, 0, 0, 0, 0, // G plane
      0, 6, 0, 0, 0, 0, // B plane
    ]);
    const scaled = normalizeToChw(image, { mean: [0, 0, 0], std: [1, 1, 1], scale: 0.5 });
    expect(Array.from(scaled)).toEqual([5, 20, 10, 25, 15, 30]);
  });

  it('normalizeToChw with the SAM constants maps the mean pixel to 0', () => {
    expect(SAM_PIXEL_MEAN).toEqual([123.675, 116.28, 103.53]);
    expect(SAM_PIXEL_STD).toEqual([58.395, 57.12, 57.375]);
    const image = createRgbImage(1, 1, Uint8Array.from([255, 0, 128]));
    const out = normalizeToChw(image, { mean: SAM_PIXEL_MEAN, std: SAM_PIXEL_STD });
    expect(out[0]).toBeCloseTo((255 - 123.675) / 58.395, 5);
    expect(out[1]).toBeCloseTo(-116.28 / 57.12, 5);
    expect(out[2]).toBeCloseTo((128 - 103.53) / 57.375, 5);
  });

  it('normalizeToChw gives every byte value exactly the float32 of (v * scale - mean) / std', () => {
    // All 256 values in each channel, in a different order per channel.
    const data = new Uint8Array(256 * 3);
    for (let v = 0; v < 256; v++) {
      data[v * 3] = v;
      data[v * 3 + 1] = 255 - v;
      data[v * 3 + 2] = (v * 7) % 256;
    }
    const image = createRgbImage(16, 16, data);
    const mean = [123.675, 116.28, 103.53] as const;
    const std = [58.395, 57.12, 57.375] as const;
    const out = normalizeToChw(image, { mean: [...mean], std: [...std], scale: 0.9 });
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < 256; i++) {
        expect(out[c * 256 + i]).toBe(Math.fround((data[i * 3 + c] * 0.9 - mean[c]) * (1 / std[c])));
      }
    }
  });

  it('normalizeToChw refuses an image whose data is not bytes', () => {
    const floats = { width: 1, height: 1, data: Float32Array.from([0.5, 0.5, 0.5]) } as unknown as RgbImage;
    expectCode(() => normalizeToChw(floats, { mean: [0, 0, 0], std: [1, 1, 1] }), 'INVALID_IMAGE', 'normalizeToChw image');
  });

  it('resizeToChw equals normalizeToChw of resizeImage, float for float, into fresh and reused buffers (property)', () => {
    fc.assert(
      fc.property(
        arbImage,
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 0, max: 5 }),
        fc.constantFrom('bilinear' as const, 'bicubic' as const),
        fc.boolean(),
        (image, width, height, extraW, extraH, kernel, reuse) => {
          const options = { mean: [123.675, 116.28, 103.53] as [number, number, number], std: [58.395, 57.12, 57.375] as [number, number, number], scale: 1.5, padWidth: width + extraW, padHeight: height + extraH };
          const expected = normalizeToChw(resizeImage(image, width, height, kernel), options);
          // A reused buffer holds stale values everywhere, padding included.
          const out = reuse ? new Float32Array(expected.length).fill(7) : undefined;
          const got = resizeToChw(image, width, height, { ...options, kernel, out });
          if (out) expect(got).toBe(out);
          expect(Array.from(got)).toEqual(Array.from(expected));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('resizeToChw refuses a bad image, size, kernel and pad, naming them', () => {
    const image = createRgbImage(4, 4);
    const options = { mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number] };
    expectCode(() => resizeToChw({ width: 2, height: 2, data: new Uint8Array(3) }, 4, 4, options), 'INVALID_IMAGE', 'resizeToChw image');
    expectCode(() => resizeToChw(image, 0, 4, options), 'INVALID_IMAGE', 'resize target');
    expectCode(() => resizeToChw(image, 4, 4, { ...options, kernel: 'nearest' as 'bilinear' }), 'INVALID_ARGUMENT', 'kernel');
    expectCode(() => resizeToChw(image, 8, 8, { ...options, padWidth: 6 }), 'INVALID_ARGUMENT', 'padWidth');
    expectCode(() => resizeToChw(image, 8, 8, { ...options, std: [1, 0, 1] }), 'INVALID_ARGUMENT', 'std');
    expectCode(() => resizeToChw(image, 8, 8, undefined as unknown as typeof options), 'INVALID_ARGUMENT', 'options');
    expectCode(() => normalizeToChw(image, null as unknown as typeof options), 'INVALID_ARGUMENT', 'options');
  });

  it('normalizeToChw refuses a zero std and a pad smaller than the image', () => {
    const image = createRgbImage(2, 2);
    expectCode(() => normalizeToChw(image, { mean: [0, 0, 0], std: [1, 0, 1] }), 'INVALID_ARGUMENT', 'std');
    expectCode(() => normalizeToChw(image, { mean: [0, 0, 0], std: [1, 1, 1], padWidth: 1 }), 'INVALID_ARGUMENT');
  });

  it('normalizeToChw and minMaxToChw write into a reused buffer exactly what they would allocate, re-zeroing the padding', () => {
    const wide = patterned(5, 2);
    const tall = patterned(2, 4);
    const opts = { mean: [10, 20, 30] as [number, number, number], std: [2, 4, 5] as [number, number, number], padWidth: 5, padHeight: 4 };
    const buffer = new Float32Array(3 * 5 * 4).fill(7);
    expect(normalizeToChw(wide, { ...opts, out: buffer })).toBe(buffer);
    expect(buffer).toEqual(normalizeToChw(wide, opts));
    // The tall image leaves the wide one's values where it now has padding: they must be zeros.
    normalizeToChw(tall, { ...opts, out: buffer });
    expect(buffer).toEqual(normalizeToChw(tall, opts));
    expect(minMaxToChw(wide, { padWidth: 5, padHeight: 4, out: buffer })).toBe(buffer);
    minMaxToChw(tall, { padWidth: 5, padHeight: 4, out: buffer });
    expect(buffer).toEqual(minMaxToChw(tall, { padWidth: 5, padHeight: 4 }));
    expectCode(() => normalizeToChw(wide, { ...opts, out: new Float32Array(10) }), 'INVALID_ARGUMENT', 'out');
    expectCode(() => minMaxToChw(wide, { padWidth: 5, padHeight: 4, out: new Float64Array(60) as never }), 'INVALID_ARGUMENT', 'out');
  });

  it('minMaxToChw scales by the whole-image range and pads with zeros', () => {
    const image = createRgbImage(2, 1, Uint8Array.from([10, 60, 110, 160, 210, 10]));
    const out = minMaxToChw(image, { padWidth: 3 });
    expect(Array.from(out)).toEqual([0, 0.75, 0, 0.25, 1, 0, 0.5, 0, 0]);
    expect(Array.from(minMaxToChw(createRgbImage(1, 1, Uint8Array.from([7, 7, 7]))))).toEqual([0, 0, 0]);
  });

  it('clipPreprocess centre-crops without resizing when the short side already fits', () => {
    // 4x2, size 2: the short side is 2 so the resize is the identity; crop columns 1..2.
    const image = patterned(4, 2);
    const out = clipPreprocess(image, { size: 2, mean: CLIP_MEAN, std: CLIP_STD });
    expect(out.length).toBe(12);
    const expected = [
      [10, 20, 11, 21],
      [101, 102, 101, 102],
      [200, 200, 199, 199],
    ].flatMap((plane, c) => plane.map((v) => (v / 255 - CLIP_MEAN[c]) / CLIP_STD[c]));
    expected.forEach((v, i) => expect(out[i]).toBeCloseTo(v, 5));
  });

  it('clipPreprocess of a constant image is the per-channel normalised constant, 3 * size * size long', () => {
    const image = createRgbImage(9, 5, new Uint8Array(9 * 5 * 3).fill(200));
    const out = clipPreprocess(image, { size: 4, mean: CLIP_MEAN, std: CLIP_STD });
    expect(out.length).toBe(48);
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < 16; i++) expect(out[c * 16 + i]).toBeCloseTo((200 / 255 - CLIP_MEAN[c]) / CLIP_STD[c], 5);
    }
  });
});
