/**
 * Plain data types shared by every layer. Nothing here knows a model exists.
 */

/** An 8-bit RGB image, pixels interleaved row-major: data[(y * width + x) * 3 + c]. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** A binary mask, one byte per pixel (0 or 1), row-major: data[y * width + x]. */
export interface BinaryMask {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/**
 * COCO uncompressed RLE: `size` is [height, width]; `counts` alternate runs of 0 and 1 over the
 * pixels in column-major (Fortran) order, starting with a (possibly empty) run of 0s. This is
 * what pycocotools' `frPyObjects` accepts for uncompressed RLE.
 */
export interface CocoRle {
  readonly size: [number, number];
  readonly counts: number[];
}

/**
 * A box as [x0, y0, x1, y1] in pixels. Boxes derived from masks follow segment-anything's
 * `batched_mask_to_box`: x1/y1 are the last covered column/row (inclusive), so a one-pixel
 * mask at (3, 5) has box [3, 5, 3, 5]. Prompt boxes given by users are plain coordinates.
 */
export type BoxXYXY = [number, number, number, number];
/** A box as [x, y, width, height] (SAM output records: width = x1 - x0 of the inclusive XYXY box). */
export type BoxXYWH = [number, number, number, number];

/** A 2-D point in pixels. */
export interface Point {
  readonly x: number;
  readonly y: number;
}
