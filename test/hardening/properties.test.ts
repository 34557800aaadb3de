/**
 * Property tests the unit suites lack (RLE round trip, maskToBox enclosure and NMS invariants
 * already live in test/core/mask.test.ts and test/core/everything/nms.test.ts):
 * - resize bounds: bilinear output stays within each channel's input range; the SAM logit
 *   upscaler stays within the low-res range; nearest mask resize by k and back is the identity;
 * - the threshold upscaler (segment-everything's fast path) decides exactly as thresholding the
 *   logit upscaler, with the same area, box and stability score;
 * - box/mask consistency of segment-everything records and of prompted masks;
 * - prompt validation accepts exactly the finite, non-inverted boxes inside the image;
 * - crop boxes lie inside the image and each layer covers it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  boxXywhToXyxy,
  boxXyxyToXywh,
  createLogitUpscaler,
  createRgbImage,
  createSalip,
  createThresholdUpscaler,
  generateCropBoxes,
  isSalipError,
  maskArea,
  maskFromLogits,
  maskToBox,
  resizeImage,
  resizeMaskNearest,
  rleArea,
  rleToBox,
  stabilityScore,
  type Backend,
  type BinaryMask,
  type BoxXYXY,
  type LogitUpscalerGeometry,
} from '../../src/index.js';
import { createFakeSam, testImage } from '../helpers/fake-sam.js';

const noBackend: Backend = {
  name: 'none',
  async loadModel() {
    throw new Error('no models in this test');
  },
  async readBytes() {
    throw new Error('no files in this test');
  },
};

const arbImage = fc
  .record({ width: fc.integer({ min: 1, max: 14 }), height: fc.integer({ min: 1, max: 14 }) })
  .chain(({ width, height }) =>
    fc.uint8Array({ minLength: width * height * 3, maxLength: width * height * 3 }).map((data) => createRgbImage(width, height, data)),
  );

function channelRange(data: Uint8Array, channel: number): [number, number] {
  let min = 255;
  let max = 0;
  for (let i = channel; i < data.length; i += 3) {
    min = Math.min(min, data[i]);
    max = Math.max(max, data[i]);
  }
  return [min, max];
}

describe('resize bounds', () => {
  it('bilinear resize keeps every output channel within the input channel range', () => {
    fc.assert(
      fc.property(arbImage, fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 30 }), (image, width, height) => {
        const out = resizeImage(image, width, height, 'bilinear');
        expect([out.width, out.height, out.data.length]).toEqual([width, height, width * height * 3]);
        for (let c = 0; c < 3; c++) {
          const [min, max] = channelRange(image.data, c);
          const [outMin, outMax] = channelRange(out.data, c);
          expect(outMin).toBeGreaterThanOrEqual(min);
          expect(outMax).toBeLessThanOrEqual(max);
        }
      }),
    );
  });

  it('nearest mask resize by an integer factor and back is the identity', () => {
    const arbMask = fc
      .record({ width: fc.integer({ min: 1, max: 10 }), height: fc.integer({ min: 1, max: 10 }) })
      .chain(({ width, height }) =>
        fc.array(fc.integer({ min: 0, max: 1 }), { minLength: width * height, maxLength: width * height }).map((v): BinaryMask => ({ width, height, data: Uint8Array.from(v) })),
      );
    fc.assert(
      fc.property(arbMask, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), (mask, kx, ky) => {
        const up = resizeMaskNearest(mask, mask.width * kx, mask.height * ky);
        expect(maskArea(up)).toBe(maskArea(mask) * kx * ky);
        expect(resizeMaskNearest(up, mask.width, mask.height)).toEqual(mask);
      }),
    );
  });
});

/** Geometries like SAM's (a square low-res grid over a padded square model input), small. */
const arbGeometry: fc.Arbitrary<LogitUpscalerGeometry> = fc
  .record({ lowResSize: fc.integer({ min: 2, max: 20 }), factor: fc.integer({ min: 1, max: 4 }) })
  .chain(({ lowResSize, factor }) => {
    const inputSize = lowResSize * factor;
    return fc.record({
      lowResSize: fc.constant(lowResSize),
      inputSize: fc.constant(inputSize),
      resizedWidth: fc.integer({ min: 1, max: inputSize }),
      resizedHeight: fc.integer({ min: 1, max: inputSize }),
      outWidth: fc.integer({ min: 1, max: 40 }),
      outHeight: fc.integer({ min: 1, max: 40 }),
    });
  });

/** Low-res logits mixing far values, values on and next to the cut-offs, and arbitrary ones. */
const arbLogits = (n: number): fc.Arbitrary<Float32Array> =>
  fc
    .array(fc.oneof(fc.constantFrom(-20, -1, -0.5, -0.0004, 0, 0.0004, 0.5, 1, 1.0004, 20), fc.float({ min: -8, max: 8, noNaN: true })), {
      minLength: n * n,
      maxLength: n * n,
    })
    .map((v) => Float32Array.from(v));

const arbUpscaleCase = arbGeometry.chain((geometry) => fc.tuple(fc.constant(geometry), arbLogits(geometry.lowResSize)));

describe('SAM logit upscaling', () => {
  it('keeps upscaled logits within the low-res min..max (bilinear weights are convex)', () => {
    fc.assert(
      fc.property(arbUpscaleCase, ([geometry, lowRes]) => {
        const out = createLogitUpscaler(geometry)(lowRes);
        expect(out.length).toBe(geometry.outWidth * geometry.outHeight);
        const min = Math.min(...lowRes);
        const max = Math.max(...lowRes);
        for (const v of out) {
          expect(v).toBeGreaterThanOrEqual(min);
          expect(v).toBeLessThanOrEqual(max);
        }
      }),
    );
  });

  it('threshold upscaler = thresholded logit upscaler, with the same area, box and stability', () => {
    fc.assert(
      fc.property(arbUpscaleCase, fc.constantFrom(0, 0.5, -1), fc.constantFrom(1, 0.5, 0), ([geometry, lowRes], threshold, offset) => {
        const logits = createLogitUpscaler(geometry)(lowRes);
        const expected = maskFromLogits(logits, geometry.outWidth, geometry.outHeight, threshold);
        const out = new Uint8Array(geometry.outWidth * geometry.outHeight);
        const stats = createThresholdUpscaler(geometry)(lowRes, threshold, offset, out);
        expect(Array.from(out)).toEqual(Array.from(expected.data));
        expect(stats.area).toBe(maskArea(expected));
        expect(stats.box).toEqual(maskToBox(expected));
        expect(stats.stability).toBeCloseTo(stabilityScore(logits, threshold, offset), 12);
      }),
      { numRuns: 300 },
    );
  });
});

describe('box / mask consistency', () => {
  it('XYXY <-> XYWH conversion round-trips integer boxes', () => {
    const arbBox = fc
      .tuple(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 0, max: 500 }), fc.integer({ min: 0, max: 500 }), fc.integer({ min: 0, max: 500 }))
      .map(([x0, y0, w, h]): BoxXYXY => [x0, y0, x0 + w, y0 + h]);
    fc.assert(
      fc.property(arbBox, (box) => {
        expect(boxXywhToXyxy(boxXyxyToXywh(box))).toEqual(box);
      }),
    );
  });

  it('every segment-everything record has bbox = box of its RLE, area = RLE area > 0, and lies in the image', async () => {
    const salip = await createSalip({ backend: noBackend, sam: createFakeSam() });
    await fc.assert(
      fc.asyncProperty(
        // Sizes down to 1 px: crop layers on tiny images once produced empty crops and failed.
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom(0, 1, 2),
        fc.integer({ min: 0, max: 20 }),
        async (width, height, pointsPerSide, cropNLayers, minMaskRegionArea) => {
          const image = testImage(width, height, [1, 1, Math.ceil(width / 2), Math.ceil(height / 2)]);
          const { records } = await salip.segmentEverything(image, {
            pointsPerSide,
            cropNLayers,
            minMaskRegionArea,
            predIouThresh: 0,
            stabilityScoreThresh: 0,
          });
          for (const r of records) {
            expect(r.segmentation.size).toEqual([height, width]);
            expect(r.area).toBe(rleArea(r.segmentation));
            expect(r.area).toBeGreaterThan(0);
            expect(r.bbox).toEqual(boxXyxyToXywh(rleToBox(r.segmentation)));
            const [cx, cy, cw, ch] = r.cropBox;
            expect(cx >= 0 && cy >= 0 && cx + cw <= width && cy + ch <= height).toBe(true);
            for (const [x, y] of r.pointCoords) expect(x >= 0 && y >= 0 && x <= width && y <= height).toBe(true);
          }
        },
      ),
      { numRuns: 25 },
    );
    await salip.dispose();
  });
});

describe('prompt validation', () => {
  const W = 24;
  const H = 16;
  const coordinate = (side: number) =>
    fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: -4, max: side + 4 }) },
      { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -1.5, side + 1.5) },
    );

  it('accepts exactly the finite, non-inverted boxes within 1 px of the image; masks match the output size', async () => {
    const salip = await createSalip({ backend: noBackend, sam: createFakeSam() });
    const image = testImage(W, H);
    const embedding = (await salip.segmentWithBoxes(image, [])).embedding;
    const within = (v: number, side: number) => v >= -1 && v <= side + 1;
    await fc.assert(
      fc.asyncProperty(fc.tuple(coordinate(W), coordinate(H), coordinate(W), coordinate(H)), async (box) => {
        const [x0, y0, x1, y1] = box;
        const valid = box.every(Number.isFinite) && x1 >= x0 && y1 >= y0 && within(x0, W) && within(x1, W) && within(y0, H) && within(y1, H);
        let outcome: unknown;
        try {
          outcome = await salip.segmentWithBoxes(image, [box as BoxXYXY], { embedding });
        } catch (error) {
          outcome = error;
        }
        if (valid) {
          const result = outcome as Awaited<ReturnType<typeof salip.segmentWithBoxes>>;
          expect(result.masks).toHaveLength(1);
          expect([result.union.width, result.union.height]).toEqual([W, H]);
        } else {
          expect(isSalipError(outcome, 'INVALID_PROMPT'), String(outcome)).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
    await salip.dispose();
  });
});

describe('crop boxes', () => {
  it('lie inside the image and every layer covers every pixel', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 120 }),
        fc.integer({ min: 1, max: 120 }),
        fc.integer({ min: 0, max: 2 }),
        fc.double({ min: 0, max: 0.6, noNaN: true }),
        (width, height, nLayers, overlap) => {
          const { boxes, layers } = generateCropBoxes(width, height, nLayers, overlap);
          expect(boxes[0]).toEqual([0, 0, width, height]);
          for (let layer = 0; layer <= nLayers; layer++) {
            const covered = new Uint8Array(width * height);
            boxes.forEach(([x0, y0, x1, y1], k) => {
              expect(x0 >= 0 && y0 >= 0 && x1 <= width && y1 <= height && x0 < x1 && y0 < y1).toBe(true);
              if (layers[k] !== layer) return;
              for (let y = y0; y < y1; y++) covered.fill(1, y * width + x0, y * width + x1);
            });
            expect(covered.every((v) => v === 1)).toBe(true);
          }
        },
      ),
    );
  });
});
