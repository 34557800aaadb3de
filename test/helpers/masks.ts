/** Mask shapes (and images of them) the tests draw. */
import { ellipseMask, type Ellipse } from '../../src/core/ellipse.js';
import { createMask } from '../../src/core/mask.js';
import type { BinaryMask, RgbImage } from '../../src/core/types.js';

/** A width x height mask with a disc of radius r around (cx, cy). */
export function discMask(width: number, height: number, cx: number, cy: number, r: number): BinaryMask {
  const m = createMask(width, height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) m.data[y * width + x] = 1;
  return m;
}

/** A skull: the ellipse as a bright ring 3 pixels wide (luma 230) on flat tissue (luma 60), size x size. */
export function skullImage(skull: Ellipse, size: number): RgbImage {
  const data = new Uint8Array(size * size * 3).fill(60);
  const outer = ellipseMask({ ...skull, semiMajor: skull.semiMajor + 1.5, semiMinor: skull.semiMinor + 1.5 }, size, size);
  const inner = ellipseMask({ ...skull, semiMajor: skull.semiMajor - 1.5, semiMinor: skull.semiMinor - 1.5 }, size, size);
  for (let i = 0; i < size * size; i++) if (outer.data[i] && !inner.data[i]) data.fill(230, 3 * i, 3 * i + 3);
  return { width: size, height: size, data };
}
