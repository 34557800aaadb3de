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

/**
 * A T1-like axial slice, size x size, centred: brain tissue (luma 120) of radius 0.31 x size with
 * a dark sulcus (a 2-pixel strip from its top edge a third of the way in) and a dark ventricle
 * enclosed by tissue; a dark CSF gap (20) out to 0.39 x size; a bright scalp (200) out to
 * 0.45 x size; black outside. `brain` is the reference (tissue and ventricle, no sulcus);
 * `withGap` is what SAM returns for it (brain, sulcus and gap). `scale` multiplies every luma
 * (another scan's intensity scale); `inverted` gives 255 - luma (an organ darker than its
 * surroundings).
 */
export function brainSlice(size: number, options: { scale?: number; inverted?: boolean } = {}): { image: RgbImage; brain: BinaryMask; withGap: BinaryMask } {
  const c = (size - 1) / 2;
  const rBrain = 0.31 * size;
  const rGap = 0.39 * size;
  const rScalp = 0.45 * size;
  const image: RgbImage = { width: size, height: size, data: new Uint8Array(size * size * 3) };
  const brain = createMask(size, size);
  const withGap = createMask(size, size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const r = Math.hypot(x - c, y - c);
      const sulcus = Math.abs(x - c) <= 1 && y - (c - rBrain) < rBrain / 3;
      const ventricle = Math.hypot(x - c, y - c - 2) <= 3;
      let luma = 0;
      if (r <= rBrain) luma = sulcus || ventricle ? 20 : 120;
      else if (r <= rGap) luma = 20;
      else if (r <= rScalp) luma = 200;
      luma *= options.scale ?? 1;
      if (options.inverted) luma = 255 - luma;
      image.data.fill(Math.round(luma), 3 * (y * size + x), 3 * (y * size + x) + 3);
      if (r <= rBrain && !sulcus) brain.data[y * size + x] = 1;
      if (r <= rGap) withGap.data[y * size + x] = 1;
    }
  }
  return { image, brain, withGap };
}
