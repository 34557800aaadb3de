import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSalipError } from '../../src/core/errors.js';
import {
  boxIoU,
  boxXywhToXyxy,
  boxXyxyToXywh,
  componentBoxes,
  connectedComponents,
  createMask,
  decodeRle,
  encodeRle,
  fillHoles,
  convexHull,
  maskHullVertices,
  maskArea,
  maskDice,
  maskFromLogits,
  maskIntersectionArea,
  maskIoU,
  maskToBox,
  maskUnion,
  resizeMaskNearest,
  rleArea,
  rleToBox,
} from '../../src/core/mask.js';
import type { BinaryMask } from '../../src/core/types.js';

/** Builds a mask from rows of '0'/'1' characters (readable hand-written fixtures). */
function fromRows(rows: string[]): BinaryMask {
  const height = rows.length;
  const width = rows[0].length;
  const data = new Uint8Array(width * height);
  rows.forEach((r, y) => [...r].forEach((c, x) => (data[y * width + x] = c === '1' ? 1 : 0)));
  return createMask(width, height, data);
}

function toRows(mask: BinaryMask): string[] {
  const rows: string[] = [];
  for (let y = 0; y < mask.height; y++) rows.push([...mask.data.subarray(y * mask.width, (y + 1) * mask.width)].join(''));
  return rows;
}

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    expect(isSalipError(e), String(e)).toBe(true);
    expect((e as { code: string }).code).toBe(code);
    return;
  }
  throw new Error(`expected a SalipError ${code}`);
}

/** Arbitrary small mask; `density` biases towards sparse or dense masks so components vary. */
const arbMask = (maxSide = 12): fc.Arbitrary<BinaryMask> =>
  fc
    .tuple(fc.integer({ min: 1, max: maxSide }), fc.integer({ min: 1, max: maxSide }), fc.integer({ min: 1, max: 9 }))
    .chain(([w, h, density]) =>
      fc
        .array(fc.integer({ min: 0, max: 9 }), { minLength: w * h, maxLength: w * h })
        .map((v) => createMask(w, h, Uint8Array.from(v, (x) => (x < density ? 1 : 0)))),
    );

/** Naive BFS labelling, in row-major order of first pixels: the oracle for connectedComponents. */
function naiveLabels(mask: BinaryMask, connectivity: 4 | 8, target = 1): { labels: Int32Array; count: number } {
  const { width, height, data } = mask;
  const labels = new Int32Array(width * height);
  let count = 0;
  for (let start = 0; start < labels.length; start++) {
    if (data[start] !== target || labels[start] !== 0) continue;
    count++;
    labels[start] = count;
    const stack = [start];
    while (stack.length > 0) {
      const i = stack.pop()!;
      const x = i % width;
      const y = (i - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          if ((dx === 0 && dy === 0) || (connectivity === 4 && dx !== 0 && dy !== 0)) continue;
          const nx = x + dx;
          const ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          const j = ny * width + nx;
          if (data[j] === target && labels[j] === 0) {
            labels[j] = count;
            stack.push(j);
          }
        }
      }
    }
  }
  return { labels, count };
}

describe('createMask', () => {
  it('makes a zero mask or wraps valid data', () => {
    const m = createMask(3, 2);
    expect(m.width).toBe(3);
    expect(m.height).toBe(2);
    expect([...m.data]).toEqual([0, 0, 0, 0, 0, 0]);
    const data = Uint8Array.of(1, 0, 1, 0, 0, 1);
    expect(createMask(3, 2, data).data).toBe(data);
  });
  it('rejects bad sizes, lengths and values', () => {
    expectCode(() => createMask(0, 2), 'INVALID_ARGUMENT');
    expectCode(() => createMask(2.5, 2), 'INVALID_ARGUMENT');
    expectCode(() => createMask(3, 2, new Uint8Array(5)), 'INVALID_ARGUMENT');
    expectCode(() => createMask(1, 2, Uint8Array.of(0, 255)), 'INVALID_ARGUMENT');
    expect(() => createMask(1, 2, Uint8Array.of(0, 2))).toThrow(/data\[1\]: expected 0 or 1, got 2/);
  });
});

describe('maskArea and maskToBox', () => {
  it('computes the inclusive box of a hand-made mask', () => {
    const m = fromRows(['00000', '00100', '01100', '00000']);
    expect(maskArea(m)).toBe(3);
    expect(maskToBox(m)).toEqual([1, 1, 2, 2]);
  });
  it('gives a one-pixel mask a zero-size inclusive box', () => {
    const m = createMask(8, 9);
    m.data[5 * 8 + 3] = 1;
    expect(maskToBox(m)).toEqual([3, 5, 3, 5]);
  });
  it('handles empty, full and 1x1 masks', () => {
    expect(maskToBox(createMask(4, 3))).toEqual([0, 0, 0, 0]);
    expect(maskArea(createMask(4, 3))).toBe(0);
    const full = createMask(4, 3, new Uint8Array(12).fill(1));
    expect(maskToBox(full)).toEqual([0, 0, 3, 2]);
    expect(maskArea(full)).toBe(12);
    expect(maskToBox(createMask(1, 1, Uint8Array.of(1)))).toEqual([0, 0, 0, 0]);
    expect(maskArea(createMask(1, 1, Uint8Array.of(1)))).toBe(1);
  });
  it('encloses every pixel and touches each side (property)', () => {
    fc.assert(
      fc.property(arbMask(), (m) => {
        const [x0, y0, x1, y1] = maskToBox(m);
        const touched = [false, false, false, false];
        for (let y = 0; y < m.height; y++) {
          for (let x = 0; x < m.width; x++) {
            if (!m.data[y * m.width + x]) continue;
            expect(x >= x0 && x <= x1 && y >= y0 && y <= y1).toBe(true);
            if (x === x0) touched[0] = true;
            if (y === y0) touched[1] = true;
            if (x === x1) touched[2] = true;
            if (y === y1) touched[3] = true;
          }
        }
        if (maskArea(m) > 0) expect(touched).toEqual([true, true, true, true]);
      }),
    );
  });
});

describe('box conversions', () => {
  it('converts XYXY <-> XYWH as the reference (w = x1 - x0)', () => {
    expect(boxXyxyToXywh([3, 5, 3, 5])).toEqual([3, 5, 0, 0]);
    expect(boxXyxyToXywh([1, 2, 10, 7])).toEqual([1, 2, 9, 5]);
    expect(boxXywhToXyxy([1, 2, 9, 5])).toEqual([1, 2, 10, 7]);
  });
  it('computes torchvision box IoU', () => {
    expect(boxIoU([0, 0, 2, 2], [1, 1, 3, 3])).toBeCloseTo(1 / 7, 12);
    expect(boxIoU([0, 0, 2, 2], [0, 0, 2, 2])).toBe(1);
    expect(boxIoU([0, 0, 2, 2], [2, 0, 4, 2])).toBe(0);
    expect(boxIoU([0, 0, 4, 4], [1, 1, 2, 2])).toBeCloseTo(1 / 16, 12);
    // Degenerate boxes: torchvision gives 0/0; we give 0.
    expect(boxIoU([3, 5, 3, 5], [3, 5, 3, 5])).toBe(0);
  });
});

describe('COCO RLE', () => {
  it('encodes a 3x2 mask column by column', () => {
    // rows: 0 0 1 / 0 1 1 -> columns (0,0) (0,1) (1,1) -> 0 0 0 1 1 1
    const m = fromRows(['001', '011']);
    expect(encodeRle(m)).toEqual({ size: [2, 3], counts: [3, 3] });
  });
  it('encodes a 2x3 mask where row-major order would differ', () => {
    // rows: 1 0 / 1 1 / 0 0 -> columns (1,1,0) (0,1,0) -> counts 0,2,2,1,1
    const m = fromRows(['10', '11', '00']);
    const rle = encodeRle(m);
    expect(rle).toEqual({ size: [3, 2], counts: [0, 2, 2, 1, 1] });
    expect(toRows(decodeRle(rle))).toEqual(['10', '11', '00']);
  });
  it('matches pycocotools on the empty, full and single-pixel masks', () => {
    // pycocotools: encode(zeros) -> counts [h*w]; ones -> [0, h*w].
    expect(encodeRle(createMask(4, 3)).counts).toEqual([12]);
    expect(encodeRle(createMask(4, 3, new Uint8Array(12).fill(1))).counts).toEqual([0, 12]);
    expect(encodeRle(createMask(1, 1, Uint8Array.of(1)))).toEqual({ size: [1, 1], counts: [0, 1] });
    // Pixel (x = 2, y = 1) in a 4 wide, 3 high mask: column-major index 2 * 3 + 1 = 7.
    const m = createMask(4, 3);
    m.data[1 * 4 + 2] = 1;
    expect(encodeRle(m).counts).toEqual([7, 1, 4]);
  });
  it('decodes pycocotools-style counts (including zero-length runs)', () => {
    const m = decodeRle({ size: [2, 2], counts: [1, 0, 1, 2] });
    expect(toRows(m)).toEqual(['01', '01']);
  });
  it('rejects malformed RLE with a message naming the problem', () => {
    expect(() => decodeRle({ size: [2, 3], counts: [3, 2] })).toThrow(/counts: expected run lengths summing to height \* width = 6, got a sum of 5/);
    expectCode(() => decodeRle({ size: [2, 3], counts: [3, -1, 4] }), 'INVALID_ARGUMENT');
    expectCode(() => decodeRle({ size: [2, 3], counts: [3, 1.5, 1.5] }), 'INVALID_ARGUMENT');
    expectCode(() => decodeRle({ size: [0, 3], counts: [] }), 'INVALID_ARGUMENT');
    expectCode(() => decodeRle({ size: [2, 3], counts: 'abc' } as never), 'INVALID_ARGUMENT');
    expectCode(() => rleArea({ size: [2, 3], counts: [7] }), 'INVALID_ARGUMENT');
  });
  it('computes the box of runs crossing column boundaries without decoding', () => {
    // Run of 1s from column-major index 2 to 4 in a 3 high mask: (x0, y2), (x1, y0), (x1, y1).
    expect(rleToBox({ size: [3, 3], counts: [2, 3, 4] })).toEqual([0, 0, 1, 2]);
    expect(rleToBox({ size: [3, 3], counts: [9] })).toEqual([0, 0, 0, 0]);
    expect(rleToBox({ size: [3, 3], counts: [4, 1, 4] })).toEqual([1, 1, 1, 1]);
  });
  it('round-trips and agrees with the mask functions (property)', () => {
    fc.assert(
      fc.property(arbMask(), (m) => {
        const rle = encodeRle(m);
        expect(rle.counts.reduce((a, b) => a + b, 0)).toBe(m.width * m.height);
        expect(rle.counts.slice(1).every((c) => c > 0)).toBe(true);
        expect(decodeRle(rle)).toEqual(m);
        expect(rleArea(rle)).toBe(maskArea(m));
        expect(rleToBox(rle)).toEqual(maskToBox(m));
      }),
    );
  });
});

describe('union, intersection, IoU and Dice', () => {
  const a = fromRows(['110', '100']);
  const b = fromRows(['011', '000']);
  it('computes hand-checked values', () => {
    expect(toRows(maskUnion([a, b]))).toEqual(['111', '100']);
    expect(maskIntersectionArea(a, b)).toBe(1);
    expect(maskIoU(a, b)).toBeCloseTo(1 / 4, 12);
    expect(maskDice(a, b)).toBeCloseTo(2 / 5, 12);
    expect(maskIoU(a, a)).toBe(1);
    expect(maskDice(a, createMask(3, 2))).toBe(0);
  });
  it('treats two empty masks as a perfect match', () => {
    expect(maskIoU(createMask(3, 2), createMask(3, 2))).toBe(1);
    expect(maskDice(createMask(3, 2), createMask(3, 2))).toBe(1);
  });
  it('rejects size mismatches and an empty list', () => {
    expectCode(() => maskUnion([a, createMask(2, 3)]), 'SIZE_MISMATCH');
    expectCode(() => maskIoU(a, createMask(3, 3)), 'SIZE_MISMATCH');
    expectCode(() => maskDice(a, createMask(2, 2)), 'SIZE_MISMATCH');
    expectCode(() => maskIntersectionArea(a, createMask(2, 2)), 'SIZE_MISMATCH');
    expectCode(() => maskUnion([]), 'INVALID_ARGUMENT');
  });
  it('relates Dice and IoU as D = 2J / (1 + J) (property)', () => {
    fc.assert(
      fc.property(arbMask(6), fc.integer({ min: 0, max: 2 ** 31 }), (m, seed) => {
        const other = createMask(m.width, m.height, m.data.map((_, i) => ((seed >> i % 31) & 1) as number));
        const j = maskIoU(m, other);
        expect(maskDice(m, other)).toBeCloseTo((2 * j) / (1 + j), 10);
        expect(maskArea(maskUnion([m, other]))).toBe(maskArea(m) + maskArea(other) - maskIntersectionArea(m, other));
      }),
    );
  });
});

describe('resizeMaskNearest', () => {
  it('doubles each pixel when upscaling by 2', () => {
    expect(toRows(resizeMaskNearest(fromRows(['10', '01']), 4, 4))).toEqual(['1100', '1100', '0011', '0011']);
  });
  it('samples pixel centres when downscaling', () => {
    // 4x4 -> 2x2: output x (and y) samples source floor((x + 0.5) * 2) = 1 and 3.
    expect(toRows(resizeMaskNearest(fromRows(['1010', '0101', '1111', '0100']), 2, 2))).toEqual(['11', '10']);
  });
  it('is the identity at the same size (property)', () => {
    fc.assert(
      fc.property(arbMask(), (m) => {
        expect(resizeMaskNearest(m, m.width, m.height)).toEqual(m);
      }),
    );
  });
});

describe('maskFromLogits', () => {
  it('thresholds strictly above the threshold', () => {
    const logits = Float32Array.of(-1, 0, 0.5, 2);
    expect([...maskFromLogits(logits, 2, 2).data]).toEqual([0, 0, 1, 1]);
    expect([...maskFromLogits(logits, 2, 2, 0.5).data]).toEqual([0, 0, 0, 1]);
    expect([...maskFromLogits(logits, 4, 1, -2).data]).toEqual([1, 1, 1, 1]);
  });
  it('rejects a length that does not match the size', () => {
    expectCode(() => maskFromLogits(new Float32Array(5), 2, 2), 'INVALID_ARGUMENT');
  });
});

describe('connectedComponents', () => {
  const m = fromRows(['1100', '0010', '0001', '1000']);
  it('joins diagonals with 8-connectivity only', () => {
    const c8 = connectedComponents(m, 8);
    expect(c8.count).toBe(2);
    expect(c8.areas).toEqual([4, 1]);
    expect(c8.boxes).toEqual([
      [0, 0, 3, 2],
      [0, 3, 0, 3],
    ]);
    const c4 = connectedComponents(m, 4);
    expect(c4.count).toBe(4);
    expect(c4.areas).toEqual([2, 1, 1, 1]);
    expect([...c4.labels]).toEqual([1, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3, 4, 0, 0, 0]);
    expect(componentBoxes(m, 4)).toEqual([
      [0, 0, 1, 0],
      [2, 1, 2, 1],
      [3, 2, 3, 2],
      [0, 3, 0, 3],
    ]);
  });
  it('merges a U shape whose arms meet late in the scan', () => {
    const u = fromRows(['1010', '1010', '1110']);
    const c = connectedComponents(u, 4);
    expect(c.count).toBe(1);
    expect(c.areas).toEqual([7]);
    expect(c.boxes).toEqual([[0, 0, 2, 2]]);
  });
  it('handles empty and full masks', () => {
    expect(connectedComponents(createMask(3, 3)).count).toBe(0);
    const full = connectedComponents(createMask(3, 2, new Uint8Array(6).fill(1)));
    expect(full.count).toBe(1);
    expect(full.areas).toEqual([6]);
  });
  it('matches a naive flood fill (property)', () => {
    fc.assert(
      fc.property(arbMask(), fc.constantFrom(4 as const, 8 as const), (mask, conn) => {
        const got = connectedComponents(mask, conn);
        const want = naiveLabels(mask, conn);
        expect(got.count).toBe(want.count);
        expect(got.labels).toEqual(want.labels);
        expect(got.areas.reduce((a, b) => a + b, 0)).toBe(maskArea(mask));
      }),
    );
  });
});

describe('fillHoles', () => {
  it('fills enclosed background but not background open to the border', () => {
    const m = fromRows(['11111', '10001', '10101', '11111', '00100']);
    expect(toRows(fillHoles(m))).toEqual(['11111', '11111', '11111', '11111', '00100']);
  });
  it('does not fill a diagonal leak (holes are 4-connected to the border)', () => {
    const m = fromRows(['0100', '1010', '0100']);
    // (1, 1) has four foreground 4-neighbours; its diagonal neighbours reach the border, which
    // does not count.
    expect(toRows(fillHoles(m))).toEqual(['0100', '1110', '0100']);
  });
  it('grows the mask, is idempotent, and leaves only border-connected background (property)', () => {
    fc.assert(
      fc.property(arbMask(), (m) => {
        const f = fillHoles(m);
        for (let i = 0; i < m.data.length; i++) if (m.data[i]) expect(f.data[i]).toBe(1);
        expect(fillHoles(f)).toEqual(f);
        const bg = naiveLabels(f, 4, 0);
        const touching = new Set<number>();
        for (let y = 0; y < f.height; y++) {
          for (let x = 0; x < f.width; x++) {
            if (x === 0 || y === 0 || x === f.width - 1 || y === f.height - 1) touching.add(bg.labels[y * f.width + x]);
          }
        }
        for (let l = 1; l <= bg.count; l++) expect(touching.has(l)).toBe(true);
      }),
    );
  });
});

describe('convexHull', () => {
  it('fills a ring and the notch of a crescent, and contains the mask', () => {
    const ring = fromRows(['0000000', '0111110', '0100010', '0100010', '0111110', '0000000']);
    expect(toRows(convexHull(ring))).toEqual(['0000000', '0111110', '0111110', '0111110', '0111110', '0000000']);
    // A C shape: its hull closes the opening on the right.
    const c = fromRows(['11111', '10000', '10000', '11111']);
    expect(toRows(convexHull(c))).toEqual(['11111', '11111', '11111', '11111']);
  });

  it('fills a triangle by pixel centres, diagonal edges included', () => {
    const corners = fromRows(['10000', '00000', '00000', '00000', '10001']);
    expect(maskHullVertices(corners)).toEqual([[0, 0], [4, 4], [0, 4]]);
    expect(toRows(convexHull(corners))).toEqual(['10000', '11000', '11100', '11110', '11111']);
  });

  it('keeps degenerate masks: empty, one pixel, a line', () => {
    expect(toRows(convexHull(fromRows(['000', '000'])))).toEqual(['000', '000']);
    expect(toRows(convexHull(fromRows(['000', '010'])))).toEqual(['000', '010']);
    expect(toRows(convexHull(fromRows(['100', '010', '001'])))).toEqual(['100', '010', '001']);
    expect(toRows(convexHull(fromRows(['1001'])))).toEqual(['1111']);
  });

  it('is convex and contains its input on random blobs (every row and column one run)', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let trial = 0; trial < 20; trial++) {
      const m = createMask(24, 18);
      for (let k = 0; k < 6; k++) m.data[Math.floor(rand() * 18) * 24 + Math.floor(rand() * 24)] = 1;
      const hull = convexHull(m);
      for (let i = 0; i < m.data.length; i++) if (m.data[i]) expect(hull.data[i]).toBe(1);
      for (const lines of [toRows(hull), Array.from({ length: 24 }, (_, x) => toRows(hull).map((r) => r[x]).join(''))]) {
        for (const line of lines) expect(line.replace(/^0*/, '').replace(/0*$/, '')).not.toContain('0');
      }
    }
  });
});
