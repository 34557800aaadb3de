/**
 * Small raster primitives shared by the visual prompts (prompts.ts) and the overlays (overlay.ts).
 * Functions named *InPlace write into `image.data`; callers own the image they pass (a copy).
 */
import { SalipError, assertArgument } from './errors.js';
import type { BinaryMask, RgbImage } from './types.js';

export type Rgb = [number, number, number];

/** A copy of `image` that can be drawn on. */
export function copyImage(image: RgbImage): RgbImage {
  return { width: image.width, height: image.height, data: image.data.slice() };
}

/** Throws INVALID_ARGUMENT unless `color` is three integers 0..255. */
export function checkColor(color: unknown, what = 'color'): Rgb {
  const ok =
    Array.isArray(color) &&
    color.length === 3 &&
    color.every((v) => Number.isInteger(v) && v >= 0 && v <= 255);
  assertArgument(ok, what, 'three integers 0..255', color);
  return color as Rgb;
}

/** Throws SIZE_MISMATCH unless mask and image have the same size. */
export function checkMaskFitsImage(mask: BinaryMask, image: RgbImage, what = 'mask'): void {
  if (mask.width !== image.width || mask.height !== image.height) {
    throw new SalipError(
      'SIZE_MISMATCH',
      `${what}: expected the image size ${image.width} x ${image.height}, got ${mask.width} x ${mask.height}`,
      { details: { image: [image.width, image.height], mask: [mask.width, mask.height] } },
    );
  }
}

/** Fills the inclusive rectangle x0..x1, y0..y1 (clipped to the image) with `color`. */
export function fillRectInPlace(image: RgbImage, x0: number, y0: number, x1: number, y1: number, color: Rgb): void {
  const left = Math.max(x0, 0);
  const right = Math.min(x1, image.width - 1);
  const top = Math.max(y0, 0);
  const bottom = Math.min(y1, image.height - 1);
  const data = image.data;
  for (let y = top; y <= bottom; y++) {
    for (let o = (y * image.width + left) * 3, end = (y * image.width + right) * 3; o <= end; o += 3) {
      data[o] = color[0];
      data[o + 1] = color[1];
      data[o + 2] = color[2];
    }
  }
}

/** Fills the disc of pixels with dx^2 + dy^2 <= radius^2 around (cx, cy), clipped. */
export function fillDiscInPlace(image: RgbImage, cx: number, cy: number, radius: number, color: Rgb): void {
  const r2 = radius * radius;
  for (let dy = -radius; dy <= radius; dy++) {
    const half = Math.floor(Math.sqrt(r2 - dy * dy));
    fillRectInPlace(image, cx - half, cy + dy, cx + half, cy + dy, color);
  }
}

/**
 * Strokes the rectangle with corners (x0, y0) and (x1, y1) `thickness` pixels wide, centred on
 * its edges (odd widths exactly centred, even ones one pixel more outside), square corners.
 */
export function strokeRectInPlace(
  image: RgbImage,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  color: Rgb,
  thickness: number,
): void {
  const outside = Math.floor(thickness / 2);
  const inside = thickness - 1 - outside;
  fillRectInPlace(image, x0 - outside, y0 - outside, x1 + outside, y0 + inside, color);
  fillRectInPlace(image, x0 - outside, y1 - inside, x1 + outside, y1 + outside, color);
  fillRectInPlace(image, x0 - outside, y0 - outside, x0 + inside, y1 + outside, color);
  fillRectInPlace(image, x1 - inside, y0 - outside, x1 + outside, y1 + outside, color);
}

/**
 * The rectangle OpenCV's cv2.rectangle(img, (x0, y0), (x1, y1), color, thickness) draws (8-connected
 * lines): edges widened by floor((thickness + 1) / 2) on both sides (so a nominal 5 px line is 7
 * px wide) and rounded outer corners (discs of that radius).
 */
export function strokeRectOpenCvInPlace(
  image: RgbImage,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  color: Rgb,
  thickness: number,
): void {
  if (thickness <= 1) {
    strokeRectInPlace(image, x0, y0, x1, y1, color, 1);
    return;
  }
  const half = Math.floor((thickness + 1) / 2);
  fillRectInPlace(image, x0, y0 - half, x1, y0 + half, color);
  fillRectInPlace(image, x0, y1 - half, x1, y1 + half, color);
  fillRectInPlace(image, x0 - half, y0, x0 + half, y1, color);
  fillRectInPlace(image, x1 - half, y0, x1 + half, y1, color);
  fillDiscInPlace(image, x0, y0, half, color);
  fillDiscInPlace(image, x1, y0, half, color);
  fillDiscInPlace(image, x0, y1, half, color);
  fillDiscInPlace(image, x1, y1, half, color);
}

/** Blends `color` over the pixels where `where` is non-zero: round(base * (1 - alpha) + color * alpha). */
export function blendWhereInPlace(image: RgbImage, where: Uint8Array, color: Rgb, alpha: number): void {
  const data = image.data;
  const keep = 1 - alpha;
  const add0 = color[0] * alpha;
  const add1 = color[1] * alpha;
  const add2 = color[2] * alpha;
  for (let i = 0, o = 0; i < where.length; i++, o += 3) {
    if (where[i] === 0) continue;
    data[o] = Math.round(data[o] * keep + add0);
    data[o + 1] = Math.round(data[o + 1] * keep + add1);
    data[o + 2] = Math.round(data[o + 2] * keep + add2);
  }
}

/**
 * Mask pixels with a 4-neighbour outside the mask (pixels past the image edge count as outside,
 * unless `frameIsOutside` is false: then a mask pixel on the image's edge is outline only where
 * a neighbour inside the image is outside).
 * With `outerOnly`, only background connected to the image frame counts, so holes are ignored:
 * these are the pixels of OpenCV's external contours (8-connected foreground, 4-connected
 * background).
 */
export function maskBoundary(mask: BinaryMask, options?: { outerOnly?: boolean; frameIsOutside?: boolean }): Uint8Array {
  const { width, height, data } = mask;
  const outside = options?.outerOnly ? frameConnectedBackground(mask) : undefined;
  const isOut = (i: number): boolean => (outside ? outside[i] === 1 : data[i] === 0);
  const frame = options?.frameIsOutside !== false;
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (data[i] === 0) continue;
      const left = x === 0 ? frame : isOut(i - 1);
      const right = x === width - 1 ? frame : isOut(i + 1);
      const up = y === 0 ? frame : isOut(i - width);
      const down = y === height - 1 ? frame : isOut(i + width);
      if (left || right || up || down) out[i] = 1;
    }
  }
  return out;
}

/** Background pixels 4-connected to the image frame (1), everything else 0. */
export function frameConnectedBackground(mask: BinaryMask): Uint8Array {
  const { width, height, data } = mask;
  const seen = new Uint8Array(width * height);
  const stack = new Int32Array(width * height);
  let top = 0;
  const push = (i: number): void => {
    if (data[i] === 0 && seen[i] === 0) {
      seen[i] = 1;
      stack[top++] = i;
    }
  };
  for (let x = 0; x < width; x++) {
    push(x);
    push((height - 1) * width + x);
  }
  for (let y = 0; y < height; y++) {
    push(y * width);
    push(y * width + width - 1);
  }
  while (top > 0) {
    const i = stack[--top];
    const x = i % width;
    if (x > 0) push(i - 1);
    if (x < width - 1) push(i + 1);
    if (i >= width) push(i - width);
    if (i + width < width * height) push(i + width);
  }
  return seen;
}

/** Marks every pixel within Euclidean distance `radius` (dx^2 + dy^2 <= r^2) of a set pixel. */
export function dilateDisc(data: Uint8Array, width: number, height: number, radius: number): Uint8Array {
  if (radius <= 0) return data.slice();
  const r2 = radius * radius;
  const halfWidths = new Int32Array(2 * radius + 1);
  for (let dy = -radius; dy <= radius; dy++) halfWidths[dy + radius] = Math.floor(Math.sqrt(r2 - dy * dy));
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[y * width + x] === 0) continue;
      for (let dy = -radius; dy <= radius; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        const half = halfWidths[dy + radius];
        const from = yy * width + Math.max(x - half, 0);
        const to = yy * width + Math.min(x + half, width - 1);
        out.fill(1, from, to + 1);
      }
    }
  }
  return out;
}

/** Marks every pixel within Chebyshev distance `radius` of a set pixel (separable box max). */
export function dilateSquare(data: Uint8Array, width: number, height: number, radius: number): Uint8Array {
  if (radius <= 0) return data.slice();
  const rows = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const base = y * width;
    let last = -Infinity;
    // Forward sweep remembers the last set pixel to the left; backward sweep the next one to the right.
    for (let x = 0; x < width; x++) {
      if (data[base + x] !== 0) last = x;
      if (x - last <= radius) rows[base + x] = 1;
    }
    let next = Infinity;
    for (let x = width - 1; x >= 0; x--) {
      if (data[base + x] !== 0) next = x;
      if (next - x <= radius) rows[base + x] = 1;
    }
  }
  const out = new Uint8Array(width * height);
  for (let x = 0; x < width; x++) {
    let last = -Infinity;
    for (let y = 0; y < height; y++) {
      if (rows[y * width + x] !== 0) last = y;
      if (y - last <= radius) out[y * width + x] = 1;
    }
    let next = Infinity;
    for (let y = height - 1; y >= 0; y--) {
      if (rows[y * width + x] !== 0) next = y;
      if (next - y <= radius) out[y * width + x] = 1;
    }
  }
  return out;
}
