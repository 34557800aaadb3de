/** Mask shapes the core tests draw. */
import { createMask } from '../../src/core/mask.js';
import type { BinaryMask } from '../../src/core/types.js';

/** A width x height mask with a disc of radius r around (cx, cy). */
export function discMask(width: number, height: number, cx: number, cy: number, r: number): BinaryMask {
  const m = createMask(width, height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) m.data[y * width + x] = 1;
  return m;
}
