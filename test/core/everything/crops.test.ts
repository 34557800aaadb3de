import { describe, expect, it } from 'vitest';
import { isSalipError } from '../../../src/core/errors.js';
import {
  generateCropBoxes,
  isBoxNearCropEdge,
  uncropBox,
  uncropMask,
  uncropPoints,
} from '../../../src/core/everything/index.js';
import { createMask } from '../../../src/core/mask.js';
import type { BoxXYXY } from '../../../src/core/types.js';

describe('generateCropBoxes', () => {
  it('returns only the whole image for 0 layers', () => {
    expect(generateCropBoxes(100, 60, 0, 512 / 1500)).toEqual({ boxes: [[0, 0, 100, 60]], layers: [0] });
  });
  it('computes layer 1 by hand (100 x 60, ratio 512/1500)', () => {
    // overlap = int(0.3413 * 60 * 1) = 20; cropW = ceil((20 + 100) / 2) = 60; cropH = ceil((20 + 60) / 2) = 40
    const { boxes, layers } = generateCropBoxes(100, 60, 1, 512 / 1500);
    expect(boxes).toEqual([
      [0, 0, 100, 60],
      [0, 0, 60, 40],
      [0, 20, 60, 60],
      [40, 0, 100, 40],
      [40, 20, 100, 60],
    ]);
    expect(layers).toEqual([0, 1, 1, 1, 1]);
  });
  it('computes layer 2 by hand and clamps the last crops to the image', () => {
    // overlap = int(0.3413 * 60 * 0.5) = 10; cropW = ceil((30 + 100) / 4) = 33; cropH = ceil((30 + 60) / 4) = 23
    const { boxes, layers } = generateCropBoxes(100, 60, 2, 512 / 1500);
    expect(boxes).toHaveLength(1 + 4 + 16);
    expect(layers.filter((l) => l === 2)).toHaveLength(16);
    const layer2 = boxes.slice(5);
    const xs = [0, 23, 46, 69];
    const x1s = [33, 56, 79, 100];
    const ys = [0, 13, 26, 39];
    const y1s = [23, 36, 49, 60];
    const want: BoxXYXY[] = [];
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) want.push([xs[i], ys[j], x1s[i], y1s[j]]);
    expect(layer2).toEqual(want);
  });
  it('covers the whole image with every layer', () => {
    const [w, h] = [1024, 683];
    const { boxes, layers } = generateCropBoxes(w, h, 3, 512 / 1500);
    for (let layer = 1; layer <= 3; layer++) {
      const covered = new Uint8Array(w * h);
      boxes.forEach((b, k) => {
        if (layers[k] !== layer) return;
        for (let y = b[1]; y < b[3]; y++) covered.fill(1, y * w + b[0], y * w + b[2]);
      });
      expect(covered.every((v) => v === 1)).toBe(true);
    }
  });
  it('rejects bad arguments', () => {
    expect(() => generateCropBoxes(0, 10, 1, 0.3)).toThrow(/width/);
    expect(() => generateCropBoxes(10, 10, -1, 0.3)).toThrow(/nLayers/);
    expect(() => generateCropBoxes(10, 10, 1, 1.5)).toThrow(/overlapRatio/);
  });
});

describe('uncrop', () => {
  it('shifts boxes and points by the crop origin', () => {
    expect(uncropBox([1, 2, 3, 4], [40, 20, 100, 60])).toEqual([41, 22, 43, 24]);
    expect([...uncropPoints(Float32Array.of(1, 2, 3.5, 4), [40, 20, 100, 60])]).toEqual([41, 22, 43.5, 24]);
  });
  it('pads a crop mask back into the image', () => {
    const m = createMask(2, 2, Uint8Array.of(1, 0, 0, 1));
    const out = uncropMask(m, [1, 2, 3, 4], 4, 5);
    expect(out.width).toBe(4);
    expect(out.height).toBe(5);
    const ones: number[] = [];
    out.data.forEach((v, i) => v && ones.push(i));
    expect(ones).toEqual([2 * 4 + 1, 3 * 4 + 2]);
  });
  it('returns an equal mask for the whole-image crop', () => {
    const m = createMask(3, 2, Uint8Array.of(1, 0, 1, 0, 1, 0));
    expect(uncropMask(m, [0, 0, 3, 2], 3, 2)).toEqual(m);
  });
  it('rejects a mask that is not crop-sized', () => {
    try {
      uncropMask(createMask(3, 2), [1, 2, 3, 4], 4, 5);
      throw new Error('no error');
    } catch (e) {
      expect(isSalipError(e, 'SIZE_MISMATCH')).toBe(true);
      expect(String(e)).toMatch(/expected the crop size 2x2/);
    }
    expect(() => uncropMask(createMask(2, 2), [3, 3, 5, 5], 4, 4)).toThrow(/cropBox: expected a box inside the 4x4 image/);
  });
});

describe('isBoxNearCropEdge', () => {
  const image: BoxXYXY = [0, 0, 100, 60];
  it('flags a box touching an inner crop edge', () => {
    // x1 = 59 is 1 px from the crop's right edge (60), which is 41 px from the image's (100).
    expect(isBoxNearCropEdge([10, 10, 59, 30], [0, 0, 60, 40], image)).toBe(true);
  });
  it('ignores crop edges that are image edges', () => {
    expect(isBoxNearCropEdge([10, 10, 30, 15], [0, 0, 60, 40], image)).toBe(false);
    expect(isBoxNearCropEdge([5, 5, 95, 55], image, image)).toBe(false);
  });
  it('uncrops the box first', () => {
    // In image coordinates [40, 20, 50, 30]: x0 and y0 sit on the crop's inner left/top edges.
    expect(isBoxNearCropEdge([0, 0, 10, 10], [40, 20, 100, 60], image)).toBe(true);
    expect(isBoxNearCropEdge([25, 25, 30, 30], [40, 20, 100, 60], image)).toBe(false);
  });
  it('uses an inclusive tolerance', () => {
    expect(isBoxNearCropEdge([10, 10, 40, 15], [0, 0, 60, 40], image)).toBe(true);
    expect(isBoxNearCropEdge([10, 10, 39, 15], [0, 0, 60, 40], image)).toBe(false);
    expect(isBoxNearCropEdge([10, 10, 39, 15], [0, 0, 60, 40], image, 21)).toBe(true);
  });
});
