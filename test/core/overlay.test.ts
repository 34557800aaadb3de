import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSalipError } from '../../src/core/errors.js';
import { PALETTE, drawRectangle, maskOutline, renderOverlay, sideBySide } from '../../src/core/overlay.js';
import type { BinaryMask, RgbImage } from '../../src/core/types.js';

function expectCode(fn: () => unknown, code: string, messagePart?: string): void {
  try {
    fn();
  } catch (error) {
    expect(isSalipError(error), String(error)).toBe(true);
    expect((error as { code: string }).code).toBe(code);
    if (messagePart !== undefined) expect((error as Error).message).toContain(messagePart);
    return;
  }
  throw new Error(`expected a SalipError ${code}`);
}

function maskFromArt(rows: string[]): BinaryMask {
  return { width: rows[0].length, height: rows.length, data: Uint8Array.from(rows.join(''), (ch) => (ch === '#' ? 1 : 0)) };
}

function maskArt(mask: BinaryMask): string[] {
  return Array.from({ length: mask.height }, (_, y) =>
    Array.from(mask.data.subarray(y * mask.width, (y + 1) * mask.width), (v) => (v ? '#' : '.')).join(''),
  );
}

function solid(width: number, height: number, value: number): RgbImage {
  return { width, height, data: new Uint8Array(width * height * 3).fill(value) };
}

function pixel(image: RgbImage, x: number, y: number): number[] {
  const o = (y * image.width + x) * 3;
  return Array.from(image.data.subarray(o, o + 3));
}

/** '#' where the pixel has `color`, '.' elsewhere. */
function colourArt(image: RgbImage, color: number[]): string[] {
  return Array.from({ length: image.height }, (_, y) =>
    Array.from({ length: image.width }, (_, x) => (pixel(image, x, y).join() === color.join() ? '#' : '.')).join(''),
  );
}

const SQUARE = maskFromArt([
  '.......',
  '.#####.',
  '.#####.',
  '.#####.',
  '.#####.',
  '.#####.',
  '.......',
]);

describe('maskOutline', () => {
  it('thickness 1 is the mask pixels with a 4-neighbour outside the mask', () => {
    expect(maskArt(maskOutline(SQUARE, 1))).toEqual([
      '.......',
      '.#####.',
      '.#...#.',
      '.#...#.',
      '.#...#.',
      '.#####.',
      '.......',
    ]);
  });

  it('thickness 2 grows the band inwards, staying inside the mask', () => {
    expect(maskArt(maskOutline(SQUARE, 2))).toEqual([
      '.......',
      '.#####.',
      '.#####.',
      '.##.##.',
      '.#####.',
      '.#####.',
      '.......',
    ]);
  });

  it('treats the image edge as outside and thickness 0 as no outline', () => {
    const full = maskFromArt(['###', '###', '###']);
    expect(maskArt(maskOutline(full, 1))).toEqual(['###', '#.#', '###']);
    expect(maskArt(maskOutline(full, 0))).toEqual(['...', '...', '...']);
    expectCode(() => maskOutline(full, -1), 'INVALID_ARGUMENT', 'thickness');
  });

  it('is a subset of the mask and grows with thickness', () => {
    const arbMask = fc
      .record({ width: fc.integer({ min: 1, max: 12 }), height: fc.integer({ min: 1, max: 12 }) })
      .chain(({ width, height }) =>
        fc
          .uint8Array({ minLength: width * height, maxLength: width * height, max: 1 })
          .map((data): BinaryMask => ({ width, height, data })),
      );
    fc.assert(
      fc.property(arbMask, fc.integer({ min: 1, max: 4 }), (mask, t) => {
        const thin = maskOutline(mask, t).data;
        const thick = maskOutline(mask, t + 1).data;
        for (let i = 0; i < mask.data.length; i++) {
          if (thin[i]) expect(mask.data[i]).toBe(1);
          if (thin[i]) expect(thick[i]).toBe(1);
        }
      }),
    );
  });
});

describe('drawRectangle', () => {
  it('strokes the inclusive box 1 px on a copy', () => {
    const image = solid(6, 5, 0);
    const out = drawRectangle(image, [1, 1, 4, 3], [0, 255, 0], 1);
    expect(colourArt(out, [0, 255, 0])).toEqual(['......', '.####.', '.#..#.', '.####.', '......']);
    expect(image.data.every((v) => v === 0)).toBe(true);
  });

  it('centres odd thicknesses on the box edges and clips at the image edge', () => {
    const out = drawRectangle(solid(8, 7, 0), [1, 1, 6, 5], [9, 8, 7], 3);
    expect(colourArt(out, [9, 8, 7])).toEqual([
      '########',
      '########',
      '########',
      '###..###',
      '########',
      '########',
      '########',
    ]);
  });

  it('refuses inverted boxes, bad colours and thickness', () => {
    const image = solid(4, 4, 0);
    expectCode(() => drawRectangle(image, [3, 0, 1, 2], [1, 2, 3], 1), 'INVALID_ARGUMENT', 'box');
    expectCode(() => drawRectangle(image, [0, 0, 1, 1], [1, 2, 300], 1), 'INVALID_ARGUMENT', 'color');
    expectCode(() => drawRectangle(image, [0, 0, 1, 1], [1, 2, 3], 0), 'INVALID_ARGUMENT', 'thickness');
  });
});

describe('renderOverlay', () => {
  it('blends the fill: round(base * (1 - a) + color * a) on mask pixels only', () => {
    const mask = maskFromArt(['#.', '..']);
    const out = renderOverlay(solid(2, 2, 100), [{ mask, color: [200, 0, 51], fillAlpha: 0.5 }]);
    // 100 * 0.5 + 51 * 0.5 = 75.5 -> 76
    expect(pixel(out, 0, 0)).toEqual([150, 50, 76]);
    expect(pixel(out, 1, 0)).toEqual([100, 100, 100]);
  });

  it('draws the outline in solid colour over the fill, then the box', () => {
    const out = renderOverlay(solid(7, 7, 0), [
      { mask: SQUARE, color: [255, 0, 0], fillAlpha: 0.2, outline: 1 },
      { mask: maskFromArt(Array(7).fill('.......')), color: [0, 0, 255], box: [0, 0, 6, 6] },
    ]);
    expect(colourArt(out, [255, 0, 0])).toEqual([
      '.......',
      '.#####.',
      '.#...#.',
      '.#...#.',
      '.#...#.',
      '.#####.',
      '.......',
    ]);
    expect(pixel(out, 3, 3)).toEqual([51, 0, 0]);
    expect(colourArt(out, [0, 0, 255])).toEqual([
      '#######',
      '#.....#',
      '#.....#',
      '#.....#',
      '#.....#',
      '#.....#',
      '#######',
    ]);
  });

  it('draws nothing for a layer with defaults and leaves the input untouched', () => {
    const image = solid(7, 7, 42);
    const out = renderOverlay(image, [{ mask: SQUARE, color: [1, 2, 3] }]);
    expect(out).toEqual(image);
    expect(out.data).not.toBe(image.data);
  });

  it('names the bad layer in its errors', () => {
    const image = solid(7, 7, 0);
    expectCode(() => renderOverlay(image, [{ mask: maskFromArt(['#']), color: [1, 2, 3] }]), 'SIZE_MISMATCH', 'layers[0].mask');
    expectCode(() => renderOverlay(image, [{ mask: SQUARE, color: [1, 2, 3], fillAlpha: 2 }]), 'INVALID_ARGUMENT', 'fillAlpha');
    expectCode(() => renderOverlay(image, [{ mask: SQUARE, color: [1, 2, 3], outline: 1.5 }]), 'INVALID_ARGUMENT', 'outline');
    expectCode(() => renderOverlay(image, [{ mask: SQUARE, color: [1, 2] as never }]), 'INVALID_ARGUMENT', 'layers[0].color');
  });
});

describe('sideBySide', () => {
  it('places panels in a row, top-aligned, with black gaps', () => {
    const out = sideBySide([solid(2, 3, 10), solid(1, 1, 20)], 2);
    expect([out.width, out.height]).toEqual([5, 3]);
    const row = (y: number) => Array.from({ length: 5 }, (_, x) => pixel(out, x, y)[0]);
    expect(row(0)).toEqual([10, 10, 0, 0, 20]);
    expect(row(1)).toEqual([10, 10, 0, 0, 0]);
    expect(row(2)).toEqual([10, 10, 0, 0, 0]);
  });

  it('defaults to a 4 px gap and refuses an empty list', () => {
    expect(sideBySide([solid(3, 3, 1), solid(3, 3, 1)]).width).toBe(10);
    expectCode(() => sideBySide([]), 'INVALID_ARGUMENT', 'images');
  });
});

describe('PALETTE', () => {
  it('has 10 distinct valid colours', () => {
    expect(PALETTE).toHaveLength(10);
    expect(new Set(PALETTE.map((c) => c.join())).size).toBe(10);
    for (const colour of PALETTE) {
      expect(colour).toHaveLength(3);
      for (const v of colour) expect(Number.isInteger(v) && v >= 0 && v <= 255).toBe(true);
    }
  });
});
