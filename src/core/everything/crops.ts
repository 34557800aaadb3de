/**
 * Crop boxes for multi-crop segment-everything, and mapping crop-local results back to the
 * image (segment-anything's generate_crop_boxes, is_box_near_crop_edge, uncrop_*).
 */
import { SalipError, assertArgument } from '../errors.js';
import { assertMask } from '../mask.js';
import type { BinaryMask, BoxXYXY } from '../types.js';

function assertBox(box: BoxXYXY, what: string): void {
  assertArgument(
    Array.isArray(box) && box.length === 4 && box.every((v) => Number.isFinite(v)),
    what,
    '[x0, y0, x1, y1] with finite numbers',
    box,
  );
}

function assertCropBox(cropBox: BoxXYXY, what = 'cropBox'): void {
  assertBox(cropBox, what);
  assertArgument(
    cropBox.every((v) => Number.isInteger(v)) && cropBox[0] >= 0 && cropBox[1] >= 0 && cropBox[2] > cropBox[0] && cropBox[3] > cropBox[1],
    what,
    'integer [x0, y0, x1, y1] with 0 <= x0 < x1 and 0 <= y0 < y1',
    cropBox,
  );
}

/**
 * Crop boxes of every layer: boxes[0] is the whole image [0, 0, width, height] (layer 0); layer
 * i = 1..nLayers has 2^i x 2^i crops overlapping by int(overlapRatio * min(w, h) * 2 / 2^i)
 * pixels, listed column by column (x outer, y inner) as the reference. `layers[k]` is the layer
 * of boxes[k].
 *
 * Crops that would start at or beyond the image edge (images of a few pixels) are left out, so
 * every box holds at least one pixel.
 *
 * Crop boxes have an EXCLUSIVE max: [x0, y0, x1, y1] covers columns x0..x1-1 and rows
 * y0..y1-1, so x1 - x0 is the crop width. Mask boxes (maskToBox) are INCLUSIVE instead.
 */
export function generateCropBoxes(
  width: number,
  height: number,
  nLayers: number,
  overlapRatio: number,
): { boxes: BoxXYXY[]; layers: number[] } {
  assertArgument(Number.isInteger(width) && width > 0, 'width', 'a positive integer', width);
  assertArgument(Number.isInteger(height) && height > 0, 'height', 'a positive integer', height);
  assertArgument(Number.isInteger(nLayers) && nLayers >= 0, 'nLayers', 'a non-negative integer', nLayers);
  assertArgument(
    typeof overlapRatio === 'number' && overlapRatio >= 0 && overlapRatio < 1,
    'overlapRatio',
    'a number in [0, 1)',
    overlapRatio,
  );
  const boxes: BoxXYXY[] = [[0, 0, width, height]];
  const layers: number[] = [0];
  const shortSide = Math.min(width, height);
  const cropLength = (side: number, n: number, overlap: number): number => Math.ceil((overlap * (n - 1) + side) / n);
  for (let layer = 1; layer <= nLayers; layer++) {
    const nPerSide = 2 ** layer;
    // Same operation order as the reference so the float rounding (and the truncation) agree.
    const overlap = Math.trunc(overlapRatio * shortSide * (2 / nPerSide));
    const cropW = cropLength(width, nPerSide, overlap);
    const cropH = cropLength(height, nPerSide, overlap);
    for (let i = 0; i < nPerSide; i++) {
      const x0 = (cropW - overlap) * i;
      for (let j = 0; j < nPerSide; j++) {
        const y0 = (cropH - overlap) * j;
        // On images only a few pixels wide the last crops start at or past the image edge; they
        // hold no pixel (the reference would slice an empty image), and the others still cover it.
        if (x0 >= width || y0 >= height) continue;
        boxes.push([x0, y0, Math.min(x0 + cropW, width), Math.min(y0 + cropH, height)]);
        layers.push(layer);
      }
    }
  }
  return { boxes, layers };
}

/** Moves a box from crop coordinates to image coordinates. */
export function uncropBox(box: BoxXYXY, cropBox: BoxXYXY): BoxXYXY {
  assertBox(box, 'box');
  assertBox(cropBox, 'cropBox');
  return [box[0] + cropBox[0], box[1] + cropBox[1], box[2] + cropBox[0], box[3] + cropBox[1]];
}

/** Moves interleaved [x, y] points from crop coordinates to image coordinates (new array). */
export function uncropPoints(points: Float32Array, cropBox: BoxXYXY): Float32Array {
  assertArgument(
    points instanceof Float32Array && points.length % 2 === 0,
    'points',
    'a Float32Array of interleaved [x, y] pairs',
    points,
  );
  assertBox(cropBox, 'cropBox');
  const out = new Float32Array(points.length);
  for (let k = 0; k < points.length; k += 2) {
    out[k] = points[k] + cropBox[0];
    out[k + 1] = points[k + 1] + cropBox[1];
  }
  return out;
}

/**
 * Whether a box given in crop coordinates, once moved to the image, lies within `tolerance` of
 * an edge of the crop that is not also (within tolerance) an edge of the image: such masks are
 * probably cut by the crop. Coordinates are compared pairwise (x0 with x0, ..., y1 with y1).
 */
export function isBoxNearCropEdge(box: BoxXYXY, cropBox: BoxXYXY, imageBox: BoxXYXY, tolerance = 20): boolean {
  assertArgument(Number.isFinite(tolerance) && tolerance >= 0, 'tolerance', 'a non-negative number', tolerance);
  assertBox(imageBox, 'imageBox');
  const imageXyxy = uncropBox(box, cropBox);
  for (let k = 0; k < 4; k++) {
    const nearCrop = Math.abs(imageXyxy[k] - cropBox[k]) <= tolerance;
    const nearImage = Math.abs(imageXyxy[k] - imageBox[k]) <= tolerance;
    if (nearCrop && !nearImage) return true;
  }
  return false;
}

/**
 * Places a crop-sized mask into a zero mask of the image size at the crop's position. The mask
 * must be exactly (x1 - x0) x (y1 - y0) (SIZE_MISMATCH otherwise) and the crop inside the image.
 */
export function uncropMask(mask: BinaryMask, cropBox: BoxXYXY, width: number, height: number): BinaryMask {
  assertMask(mask);
  assertCropBox(cropBox);
  assertArgument(Number.isInteger(width) && width > 0, 'width', 'a positive integer', width);
  assertArgument(Number.isInteger(height) && height > 0, 'height', 'a positive integer', height);
  const [x0, y0, x1, y1] = cropBox;
  assertArgument(x1 <= width && y1 <= height, 'cropBox', `a box inside the ${width}x${height} image`, cropBox);
  if (mask.width !== x1 - x0 || mask.height !== y1 - y0) {
    throw new SalipError(
      'SIZE_MISMATCH',
      `mask: expected the crop size ${x1 - x0}x${y1 - y0} of cropBox [${cropBox.join(', ')}], got ${mask.width}x${mask.height}`,
      { details: { expected: [x1 - x0, y1 - y0], found: [mask.width, mask.height] } },
    );
  }
  const out = new Uint8Array(width * height);
  const src = mask.data;
  for (let y = 0; y < mask.height; y++) {
    const srcRow = y * mask.width;
    const outRow = (y + y0) * width + x0;
    for (let x = 0; x < mask.width; x++) out[outRow + x] = src[srcRow + x] !== 0 ? 1 : 0;
  }
  return { width, height, data: out };
}
