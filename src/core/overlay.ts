/**
 * Pictures a person can look at: masks blended and outlined over an image, boxes, and panels put
 * side by side for reports.
 */
import {
  blendWhereInPlace,
  checkColor,
  checkMaskFitsImage,
  copyImage,
  dilateSquare,
  maskBoundary,
  strokeRectInPlace,
  type Rgb,
} from './draw.js';
import { assertArgument } from './errors.js';
import { createRgbImage } from './image.js';
import type { BinaryMask, BoxXYXY, RgbImage } from './types.js';

/** One mask drawn by renderOverlay. */
export interface OverlayLayer {
  mask: BinaryMask;
  /** Colour of fill, outline and box. */
  color: [number, number, number];
  /** Opacity of the fill over mask pixels, 0..1 (default 0: no fill). */
  fillAlpha?: number;
  /** Outline thickness in pixels, drawn just inside the mask edge (default 0: none). */
  outline?: number;
  /** A box drawn in the same colour (1 px, 2 px on images whose short side is 512 or more). */
  box?: BoxXYXY;
}

/** Ten distinct colours that stay readable on gray medical images (candidate outlines). */
export const PALETTE: readonly Rgb[] = [
  [230, 25, 75],
  [60, 180, 75],
  [255, 225, 25],
  [0, 130, 200],
  [245, 130, 48],
  [145, 30, 180],
  [70, 240, 240],
  [240, 50, 230],
  [210, 245, 60],
  [250, 190, 212],
];

/**
 * The mask's boundary band `thickness` pixels wide, inside the mask: pixels with a 4-neighbour
 * outside the mask (or on the image edge), grown by thickness - 1 in Chebyshev distance.
 */
export function maskOutline(mask: BinaryMask, thickness: number): BinaryMask {
  assertArgument(Number.isInteger(thickness) && thickness >= 0, 'thickness', 'an integer >= 0', thickness);
  const { width, height } = mask;
  if (thickness === 0) return { width, height, data: new Uint8Array(width * height) };
  const band = dilateSquare(maskBoundary(mask), width, height, thickness - 1);
  for (let i = 0; i < band.length; i++) if (mask.data[i] === 0) band[i] = 0;
  return { width, height, data: band };
}

/** Copy of `image` with the rectangle x0..x1, y0..y1 (inclusive) stroked `thickness` px, centred on its edges. */
export function drawRectangle(image: RgbImage, box: BoxXYXY, color: [number, number, number], thickness: number): RgbImage {
  const rgb = checkColor(color);
  assertArgument(Number.isInteger(thickness) && thickness >= 1, 'thickness', 'an integer >= 1', thickness);
  const out = copyImage(image);
  strokeBox(out, box, rgb, thickness, 'box');
  return out;
}

function strokeBox(image: RgbImage, box: BoxXYXY, color: Rgb, thickness: number, what: string): void {
  assertArgument(
    Array.isArray(box) && box.length === 4 && box.every(Number.isFinite) && box[2] >= box[0] && box[3] >= box[1],
    what,
    '[x0, y0, x1, y1] finite with x1 >= x0 and y1 >= y0',
    box,
  );
  // User boxes may be fractional; pixels are drawn at the nearest whole coordinates.
  const [x0, y0, x1, y1] = box.map(Math.round);
  strokeRectInPlace(image, x0, y0, x1, y1, color, thickness);
}

/**
 * Draws the layers in order over a copy of `image`: fill (alpha blend), then outline and box in
 * solid colour.
 */
export function renderOverlay(image: RgbImage, layers: OverlayLayer[]): RgbImage {
  const out = copyImage(image);
  layers.forEach((layer, index) => {
    const what = `layers[${index}]`;
    checkMaskFitsImage(layer.mask, image, `${what}.mask`);
    const color = checkColor(layer.color, `${what}.color`);
    const alpha = layer.fillAlpha ?? 0;
    assertArgument(alpha >= 0 && alpha <= 1, `${what}.fillAlpha`, 'a number 0..1', alpha);
    if (alpha > 0) blendWhereInPlace(out, layer.mask.data, color, alpha);
    const thickness = layer.outline ?? 0;
    assertArgument(Number.isInteger(thickness) && thickness >= 0, `${what}.outline`, 'an integer >= 0', thickness);
    if (thickness > 0) blendWhereInPlace(out, maskOutline(layer.mask, thickness).data, color, 1);
    if (layer.box !== undefined) {
      const boxThickness = Math.min(image.width, image.height) >= 512 ? 2 : 1;
      strokeBox(out, layer.box, color, boxThickness, `${what}.box`);
    }
  });
  return out;
}

/** Panels in a row, top-aligned on black, `gap` black pixels between neighbours. */
export function sideBySide(images: RgbImage[], gap = 4): RgbImage {
  assertArgument(Array.isArray(images) && images.length > 0, 'images', 'at least one image', images);
  assertArgument(Number.isInteger(gap) && gap >= 0, 'gap', 'an integer >= 0', gap);
  const width = images.reduce((sum, im) => sum + im.width, 0) + gap * (images.length - 1);
  const height = Math.max(...images.map((im) => im.height));
  const out = createRgbImage(width, height);
  let left = 0;
  for (const panel of images) {
    for (let y = 0; y < panel.height; y++) {
      const src = y * panel.width * 3;
      out.data.set(panel.data.subarray(src, src + panel.width * 3), (y * width + left) * 3);
    }
    left += panel.width + gap;
  }
  return out;
}
