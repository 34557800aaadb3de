/**
 * The five visual prompts of SaLIP: how a candidate mask is shown to CLIP. Geometry follows the
 * authors' code (numpy slicing and OpenCV drawing on the XYWH record box).
 */
import {
  checkMaskFitsImage,
  copyImage,
  dilateDisc,
  maskBoundary,
  strokeRectOpenCvInPlace,
  type Rgb,
} from './draw.js';
import { SalipError, assertArgument, describeValue } from './errors.js';
import type { BinaryMask, BoxXYWH, RgbImage } from './types.js';

export type VisualPromptMode = 'crops' | 'crop_expand' | 'bbox' | 'reverse_box_mask' | 'contour';

/** Every visual prompt mode, the paper's default ('crops') first. */
export const VISUAL_PROMPT_MODES: readonly VisualPromptMode[] = [
  'crops',
  'crop_expand',
  'bbox',
  'reverse_box_mask',
  'contour',
];

/** Pixels added on each side of the box in 'crop_expand'. */
export const CROP_EXPAND_MARGIN = 10;
/** Nominal OpenCV thickness of the 'bbox' rectangle (OpenCV draws it 7 px wide). */
export const BBOX_PROMPT_THICKNESS = 5;
/** Nominal OpenCV thickness of the 'contour' line (OpenCV draws it 5 px wide). */
export const CONTOUR_PROMPT_THICKNESS = 3;
/** The grey blended over everything outside the box in 'reverse_box_mask'. */
export const REVERSE_BOX_GREY: Rgb = [124, 116, 104];

const PROMPT_RED: Rgb = [255, 0, 0];

function checkBox(bbox: BoxXYWH): void {
  const ok = Array.isArray(bbox) && bbox.length === 4 && bbox.every((v) => Number.isInteger(v) && v >= 0);
  if (!ok) {
    throw new SalipError('INVALID_PROMPT', `bbox: expected [x, y, width, height] of integers >= 0, got ${describeValue(bbox)}`);
  }
}

/** Copies rows top..bottom-1, columns left..right-1 (already clamped), optionally keeping only mask pixels. */
function cropRegion(image: RgbImage, mask: BinaryMask | null, left: number, top: number, right: number, bottom: number): RgbImage {
  const width = right - left;
  const height = bottom - top;
  const out = new Uint8Array(width * height * 3);
  for (let y = top; y < bottom; y++) {
    for (let x = left; x < right; x++) {
      const i = y * image.width + x;
      if (mask !== null && mask.data[i] === 0) continue;
      const o = ((y - top) * width + (x - left)) * 3;
      out[o] = image.data[i * 3];
      out[o + 1] = image.data[i * 3 + 1];
      out[o + 2] = image.data[i * 3 + 2];
    }
  }
  return { width, height, data: out };
}

/** 50 % blend with OpenCV addWeighted's rounding: exact halves go to the even neighbour. */
function halfBlend(a: number, b: number): number {
  const sum = a + b;
  return (sum & 3) === 1 ? sum >> 1 : (sum + 1) >> 1;
}

function reverseBoxMask(image: RgbImage, x0: number, y0: number, x1: number, y1: number): RgbImage {
  const out = copyImage(image);
  const data = out.data;
  for (let y = 0; y < image.height; y++) {
    const rowInside = y >= y0 && y <= y1;
    for (let x = 0; x < image.width; x++) {
      if (rowInside && x >= x0 && x <= x1) continue;
      const o = (y * image.width + x) * 3;
      data[o] = halfBlend(data[o], REVERSE_BOX_GREY[0]);
      data[o + 1] = halfBlend(data[o + 1], REVERSE_BOX_GREY[1]);
      data[o + 2] = halfBlend(data[o + 2], REVERSE_BOX_GREY[2]);
    }
  }
  return out;
}

function outerContour(image: RgbImage, mask: BinaryMask): RgbImage {
  const boundary = maskBoundary(mask, { outerOnly: true });
  // A thick OpenCV polyline is every pixel within floor((t + 1) / 2) of the traced pixel centres.
  const radius = Math.floor((CONTOUR_PROMPT_THICKNESS + 1) / 2);
  const line = dilateDisc(boundary, mask.width, mask.height, radius);
  const out = copyImage(image);
  for (let i = 0, o = 0; i < line.length; i++, o += 3) {
    if (line[i] === 0) continue;
    out.data[o] = PROMPT_RED[0];
    out.data[o + 1] = PROMPT_RED[1];
    out.data[o + 2] = PROMPT_RED[2];
  }
  return out;
}

/**
 * Renders what CLIP sees for one candidate; null for a zero-area box (the caller drops the
 * candidate). `bbox` is the record's XYWH box: crops cover columns x..x+w-1 and rows y..y+h-1
 * (numpy's image[y:y+h, x:x+w]); drawn boxes have corners (x, y) and (x+w, y+h) as cv2 draws them.
 * - crops: image * mask, cropped to the box.
 * - crop_expand: the plain image cropped to the box grown by 10 px per side, clamped.
 * - bbox: the whole image with cv2.rectangle(thickness 5) in red.
 * - reverse_box_mask: outside the filled box, a 50 % blend with grey (124, 116, 104).
 * - contour: the mask's outer contours (holes ignored) drawn with thickness 3 in red.
 */
export function renderVisualPrompt(
  image: RgbImage,
  mask: BinaryMask,
  bbox: BoxXYWH,
  mode: VisualPromptMode,
): RgbImage | null {
  assertArgument(VISUAL_PROMPT_MODES.includes(mode), 'mode', `one of ${VISUAL_PROMPT_MODES.join(', ')}`, mode);
  checkMaskFitsImage(mask, image);
  checkBox(bbox);
  const [x, y, w, h] = bbox;
  if (w === 0 || h === 0) return null;
  const { width, height } = image;
  switch (mode) {
    case 'crops': {
      const right = Math.min(x + w, width);
      const bottom = Math.min(y + h, height);
      return right > x && bottom > y ? cropRegion(image, mask, x, y, right, bottom) : null;
    }
    case 'crop_expand': {
      const left = Math.max(0, x - CROP_EXPAND_MARGIN);
      const top = Math.max(0, y - CROP_EXPAND_MARGIN);
      const right = Math.min(width, x + w + CROP_EXPAND_MARGIN);
      const bottom = Math.min(height, y + h + CROP_EXPAND_MARGIN);
      return right > left && bottom > top ? cropRegion(image, null, left, top, right, bottom) : null;
    }
    case 'bbox': {
      const out = copyImage(image);
      strokeRectOpenCvInPlace(out, x, y, x + w, y + h, PROMPT_RED, BBOX_PROMPT_THICKNESS);
      return out;
    }
    case 'reverse_box_mask':
      return reverseBoxMask(image, x, y, x + w, y + h);
    case 'contour':
      return outerContour(image, mask);
  }
}
