import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSalipError } from '../../src/core/errors.js';
import { VISUAL_PROMPT_MODES, renderVisualPrompt, type VisualPromptMode } from '../../src/core/prompts.js';
import type { BinaryMask, BoxXYWH, RgbImage } from '../../src/core/types.js';

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

/** Image whose pixel (x, y) is (10 * x + y, 100 + x, 200 - y). */
function patterned(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set([10 * x + y, 100 + x, 200 - y], (y * width + x) * 3);
  }
  return { width, height, data };
}

function pixel(image: RgbImage, x: number, y: number): number[] {
  const o = (y * image.width + x) * 3;
  return Array.from(image.data.subarray(o, o + 3));
}

/** Mask from rows of '#' (1) and '.' (0). */
function maskFromArt(rows: string[]): BinaryMask {
  const width = rows[0].length;
  const data = Uint8Array.from(rows.join(''), (ch) => (ch === '#' ? 1 : 0));
  return { width, height: rows.length, data };
}

/** '#' where a pixel is pure red, '.' elsewhere (for drawings on a black image). */
function redArt(image: RgbImage): string[] {
  const rows: string[] = [];
  for (let y = 0; y < image.height; y++) {
    let row = '';
    for (let x = 0; x < image.width; x++) row += pixel(image, x, y).join() === '255,0,0' ? '#' : '.';
    rows.push(row);
  }
  return rows;
}

function black(width: number, height: number): RgbImage {
  return { width, height, data: new Uint8Array(width * height * 3) };
}

function emptyMask(width: number, height: number): BinaryMask {
  return { width, height, data: new Uint8Array(width * height) };
}

const SMALL_MASK = maskFromArt([
  '......',
  '.##...',
  '.#.#..',
  '..##..',
  '......',
]);
// Inclusive box x 1..3, y 1..3 as an XYWH record box (w = x1 - x0).
const SMALL_BOX: BoxXYWH = [1, 1, 2, 2];

describe('VISUAL_PROMPT_MODES', () => {
  it('lists the five modes with the default first', () => {
    expect(VISUAL_PROMPT_MODES).toEqual(['crops', 'crop_expand', 'bbox', 'reverse_box_mask', 'contour']);
  });
});

describe('renderVisualPrompt: crops', () => {
  it('crops image * mask to columns x..x+w-1 and rows y..y+h-1 (numpy image[y:y+h, x:x+w])', () => {
    const out = renderVisualPrompt(patterned(6, 5), SMALL_MASK, SMALL_BOX, 'crops')!;
    expect([out.width, out.height]).toEqual([2, 2]);
    expect(Array.from(out.data)).toEqual([11, 101, 199, 21, 102, 199, 12, 101, 198, 0, 0, 0]);
  });
});

describe('renderVisualPrompt: crop_expand', () => {
  it('crops the plain image to the box grown by 10 px per side', () => {
    const image = patterned(30, 25);
    const out = renderVisualPrompt(image, emptyMask(30, 25), [12, 11, 2, 3], 'crop_expand')!;
    // Columns 2..23 and rows 1..23 (end = x + w + 10 exclusive).
    expect([out.width, out.height]).toEqual([22, 23]);
    expect(pixel(out, 0, 0)).toEqual(pixel(image, 2, 1));
    expect(pixel(out, 21, 22)).toEqual(pixel(image, 23, 23));
  });

  it('clamps the grown box to the image', () => {
    const image = patterned(6, 5);
    const out = renderVisualPrompt(image, SMALL_MASK, SMALL_BOX, 'crop_expand')!;
    expect(out).toEqual(image);
    expect(out.data).not.toBe(image.data);
  });
});

describe('renderVisualPrompt: bbox', () => {
  it('draws cv2.rectangle((x, y), (x + w, y + h), red, 5): 7 px wide, rounded outer corners', () => {
    const out = renderVisualPrompt(black(20, 18), emptyMask(20, 18), [4, 4, 11, 9], 'bbox')!;
    expect(redArt(out)).toEqual([
      '....................',
      '....############....',
      '..################..',
      '..################..',
      '.##################.',
      '.##################.',
      '.##################.',
      '.##################.',
      '.#######....#######.',
      '.#######....#######.',
      '.##################.',
      '.##################.',
      '.##################.',
      '.##################.',
      '..################..',
      '..################..',
      '....############....',
      '....................',
    ]);
  });

  it('clips the rectangle at the image edge', () => {
    const out = renderVisualPrompt(black(9, 8), emptyMask(9, 8), [0, 0, 6, 2], 'bbox')!;
    expect(redArt(out)).toEqual([
      '#########',
      '#########',
      '#########',
      '#########',
      '#########',
      '#######..',
      '.........',
      '.........',
    ]);
  });

  it('changes only pixels it paints red', () => {
    const image = patterned(20, 18);
    const out = renderVisualPrompt(image, emptyMask(20, 18), [4, 4, 11, 9], 'bbox')!;
    expect(pixel(out, 9, 9)).toEqual(pixel(image, 9, 9));
    expect(pixel(out, 0, 0)).toEqual(pixel(image, 0, 0));
    expect(pixel(out, 4, 4)).toEqual([255, 0, 0]);
  });
});

describe('renderVisualPrompt: reverse_box_mask', () => {
  it('keeps the filled box x..x+w, y..y+h and blends the rest 50 % with (124, 116, 104)', () => {
    const image = patterned(6, 5);
    const out = renderVisualPrompt(image, SMALL_MASK, SMALL_BOX, 'reverse_box_mask')!;
    expect(pixel(out, 1, 1)).toEqual(pixel(image, 1, 1));
    expect(pixel(out, 3, 3)).toEqual([33, 103, 197]);
    // (0, 100, 200) -> (124 / 2, 216 / 2, 304 / 2)
    expect(pixel(out, 0, 0)).toEqual([62, 108, 152]);
    // (41, 104, 199): 82.5 -> 82 and 151.5 -> 152, OpenCV addWeighted's half-to-even rounding.
    expect(pixel(out, 4, 1)).toEqual([82, 110, 152]);
    // (54, 105, 196): 89, 110.5 -> 110, 150
    expect(pixel(out, 5, 4)).toEqual([89, 110, 150]);
  });
});

describe('renderVisualPrompt: contour', () => {
  it('draws the outer contour with cv2 thickness 3 (every pixel within 2 px of the boundary)', () => {
    const mask = maskFromArt([
      '####......',
      '####......',
      '####......',
      '..........',
      '..........',
      '........#.',
      '..........',
    ]);
    const out = renderVisualPrompt(black(10, 7), mask, [0, 0, 3, 2], 'contour')!;
    expect(redArt(out)).toEqual([
      '######....',
      '######....',
      '######....',
      '#####...#.',
      '####...###',
      '......####',
      '.......###',
    ]);
  });

  it('ignores holes (only external contours are drawn)', () => {
    const rows = Array.from({ length: 15 }, (_, y) =>
      Array.from({ length: 15 }, (_, x) => {
        const inSquare = x >= 1 && x <= 13 && y >= 1 && y <= 13;
        const inHole = x >= 4 && x <= 10 && y >= 4 && y <= 10;
        return inSquare && !inHole ? '#' : '.';
      }).join(''),
    );
    const out = renderVisualPrompt(black(15, 15), maskFromArt(rows), [1, 1, 12, 12], 'contour')!;
    // With hole contours (cv2.RETR_TREE) the hole would shrink to 3 x 3; here it stays 7 x 7.
    expect(redArt(out)).toEqual([
      '###############',
      '###############',
      '###############',
      '###############',
      '####.......####',
      '####.......####',
      '####.......####',
      '####.......####',
      '####.......####',
      '####.......####',
      '####.......####',
      '###############',
      '###############',
      '###############',
      '###############',
    ]);
  });
});

describe('renderVisualPrompt: validation and invariants', () => {
  it('returns null for a zero-area box in every mode', () => {
    for (const mode of VISUAL_PROMPT_MODES) {
      expect(renderVisualPrompt(patterned(6, 5), SMALL_MASK, [2, 2, 0, 3], mode)).toBeNull();
      expect(renderVisualPrompt(patterned(6, 5), SMALL_MASK, [2, 2, 3, 0], mode)).toBeNull();
    }
  });

  it('refuses a mask of another size, a bad box and an unknown mode', () => {
    const image = patterned(6, 5);
    expectCode(() => renderVisualPrompt(image, emptyMask(5, 5), SMALL_BOX, 'crops'), 'SIZE_MISMATCH', '6 x 5');
    expectCode(() => renderVisualPrompt(image, SMALL_MASK, [1, 1, -2, 2], 'crops'), 'INVALID_PROMPT', 'bbox');
    expectCode(() => renderVisualPrompt(image, SMALL_MASK, [1.5, 1, 2, 2], 'bbox'), 'INVALID_PROMPT');
    expectCode(
      () => renderVisualPrompt(image, SMALL_MASK, SMALL_BOX, 'blur' as VisualPromptMode),
      'INVALID_ARGUMENT',
      'mode',
    );
  });

  it('never modifies its input image', () => {
    const image = patterned(6, 5);
    const before = image.data.slice();
    for (const mode of VISUAL_PROMPT_MODES) renderVisualPrompt(image, SMALL_MASK, SMALL_BOX, mode);
    expect(image.data).toEqual(before);
  });

  const arbCase = fc
    .record({ width: fc.integer({ min: 1, max: 14 }), height: fc.integer({ min: 1, max: 14 }) })
    .chain(({ width, height }) =>
      fc.record({
        image: fc
          .uint8Array({ minLength: width * height * 3, maxLength: width * height * 3 })
          .map((data): RgbImage => ({ width, height, data })),
        mask: fc
          .uint8Array({ minLength: width * height, maxLength: width * height, max: 1 })
          .map((data): BinaryMask => ({ width, height, data })),
        x0: fc.integer({ min: 0, max: width - 1 }),
        y0: fc.integer({ min: 0, max: height - 1 }),
        x1: fc.integer({ min: 0, max: width - 1 }),
        y1: fc.integer({ min: 0, max: height - 1 }),
      }),
    );

  it('crops: every pixel is the source pixel under the mask, else black', () => {
    fc.assert(
      fc.property(arbCase, ({ image, mask, x0, y0, x1, y1 }) => {
        const [x, y] = [Math.min(x0, x1), Math.min(y0, y1)];
        const box: BoxXYWH = [x, y, Math.abs(x1 - x0), Math.abs(y1 - y0)];
        const out = renderVisualPrompt(image, mask, box, 'crops');
        if (box[2] === 0 || box[3] === 0) {
          expect(out).toBeNull();
          return;
        }
        expect([out!.width, out!.height]).toEqual([box[2], box[3]]);
        for (let j = 0; j < out!.height; j++) {
          for (let i = 0; i < out!.width; i++) {
            const on = mask.data[(y + j) * image.width + x + i] === 1;
            expect(pixel(out!, i, j)).toEqual(on ? pixel(image, x + i, y + j) : [0, 0, 0]);
          }
        }
      }),
    );
  });

  it('reverse_box_mask: inside unchanged, outside within 0.5 of the mean with the grey', () => {
    fc.assert(
      fc.property(arbCase, ({ image, mask, x0, y0, x1, y1 }) => {
        const box: BoxXYWH = [Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0)];
        const out = renderVisualPrompt(image, mask, box, 'reverse_box_mask');
        if (box[2] === 0 || box[3] === 0) {
          expect(out).toBeNull();
          return;
        }
        const grey = [124, 116, 104];
        for (let y = 0; y < image.height; y++) {
          for (let x = 0; x < image.width; x++) {
            const inside = x >= box[0] && x <= box[0] + box[2] && y >= box[1] && y <= box[1] + box[3];
            const src = pixel(image, x, y);
            const got = pixel(out!, x, y);
            if (inside) expect(got).toEqual(src);
            else got.forEach((v, c) => expect(Math.abs(v - (src[c] + grey[c]) / 2)).toBeLessThanOrEqual(0.5));
          }
        }
      }),
    );
  });
});
