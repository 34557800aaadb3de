import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cleanupSmallRegions, removeSmallRegions } from '../../../src/core/everything/index.js';
import { connectedComponents, createMask, maskArea } from '../../../src/core/mask.js';
import type { BinaryMask } from '../../../src/core/types.js';

function fromRows(rows: string[]): BinaryMask {
  const width = rows[0].length;
  const data = new Uint8Array(width * rows.length);
  rows.forEach((r, y) => [...r].forEach((c, x) => (data[y * width + x] = c === '1' ? 1 : 0)));
  return createMask(width, rows.length, data);
}

function toRows(mask: BinaryMask): string[] {
  const rows: string[] = [];
  for (let y = 0; y < mask.height; y++) rows.push([...mask.data.subarray(y * mask.width, (y + 1) * mask.width)].join(''));
  return rows;
}

function invert(mask: BinaryMask): BinaryMask {
  return createMask(mask.width, mask.height, mask.data.map((v) => 1 - v));
}

const arbMask = fc
  .tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 9 }))
  .chain(([w, h, density]) =>
    fc
      .array(fc.integer({ min: 0, max: 9 }), { minLength: w * h, maxLength: w * h })
      .map((v) => createMask(w, h, Uint8Array.from(v, (x) => (x < density ? 1 : 0)))),
  );

describe('removeSmallRegions', () => {
  const blob = fromRows([
    '000000', //
    '011100',
    '010100',
    '011100',
    '000001',
  ]);
  it('removes small islands (8-connectivity) and keeps big ones', () => {
    const { mask, changed } = removeSmallRegions(blob, 2, 'islands');
    expect(changed).toBe(true);
    expect(toRows(mask)).toEqual(['000000', '011100', '010100', '011100', '000000']);
  });
  it('fills small holes, counting background regions with 8-connectivity', () => {
    const { mask, changed } = removeSmallRegions(blob, 2, 'holes');
    expect(changed).toBe(true);
    expect(toRows(mask)).toEqual(['000000', '011100', '011100', '011100', '000001']);
  });
  it('fills a small background region touching the border, as the reference', () => {
    const m = fromRows(['0111', '1111', '1111']);
    expect(toRows(removeSmallRegions(m, 2, 'holes').mask)).toEqual(['1111', '1111', '1111']);
  });
  it('joins diagonal islands with 8-connectivity', () => {
    const m = fromRows(['100', '010', '001']);
    const { mask, changed } = removeSmallRegions(m, 3, 'islands');
    expect(changed).toBe(false);
    expect(mask).toBe(m);
  });
  it('keeps the largest island when every island is small', () => {
    const m = fromRows(['1100', '0000', '0011', '0001']);
    const { mask, changed } = removeSmallRegions(m, 10, 'islands');
    expect(changed).toBe(true);
    expect(toRows(mask)).toEqual(['0000', '0000', '0011', '0001']);
    // Ties go to the first island in scan order.
    const tie = fromRows(['1001']);
    expect(toRows(removeSmallRegions(tie, 5, 'islands').mask)).toEqual(['1000']);
  });
  it('reports no change and returns the input when nothing is small', () => {
    const { mask, changed } = removeSmallRegions(blob, 1, 'islands');
    expect(changed).toBe(false);
    expect(mask).toBe(blob);
    expect(removeSmallRegions(createMask(3, 3), 5, 'islands').changed).toBe(false);
  });
  it('rejects an unknown mode', () => {
    expect(() => removeSmallRegions(blob, 2, 'bumps' as never)).toThrow(/mode: expected 'holes' or 'islands'/);
  });
  it('never grows the island or hole count and only removes / only adds (property)', () => {
    fc.assert(
      fc.property(arbMask, fc.integer({ min: 0, max: 10 }), (m, minArea) => {
        const islands = removeSmallRegions(m, minArea, 'islands');
        expect(connectedComponents(islands.mask, 8).count).toBeLessThanOrEqual(connectedComponents(m, 8).count);
        for (let i = 0; i < m.data.length; i++) if (islands.mask.data[i]) expect(m.data[i]).toBe(1);
        if (maskArea(m) > 0) expect(maskArea(islands.mask)).toBeGreaterThan(0);
        expect(islands.changed).toBe(connectedComponents(m, 8).areas.some((a) => a < minArea));
        const holes = removeSmallRegions(m, minArea, 'holes');
        expect(connectedComponents(invert(holes.mask), 8).count).toBeLessThanOrEqual(connectedComponents(invert(m), 8).count);
        for (let i = 0; i < m.data.length; i++) if (m.data[i]) expect(holes.mask.data[i]).toBe(1);
      }),
    );
  });
});

describe('cleanupSmallRegions', () => {
  const square = fromRows(['00000000', '01110000', '01110000', '01110000', '00000000', '00000000']);
  const squarePlusSpeck = fromRows(['00000000', '01110000', '01110000', '01110000', '00000000', '00000001']);
  const other = fromRows(['00000000', '00000000', '00000000', '00000111', '00000111', '00000111']);
  it('prefers the unchanged mask over a cleaned duplicate', () => {
    expect(cleanupSmallRegions([squarePlusSpeck, square], 2, 0.7).keep).toEqual([1]);
    const r = cleanupSmallRegions([square, squarePlusSpeck, other], 2, 0.7);
    expect(r.keep).toEqual([0, 2]);
    expect(r.masks).toEqual([square, other]);
  });
  it('returns cleaned masks for kept changed inputs, unchanged ones first', () => {
    const r = cleanupSmallRegions([squarePlusSpeck, other], 2, 0.7);
    expect(r.keep).toEqual([1, 0]);
    expect(toRows(r.masks[1])).toEqual(toRows(square));
    expect(r.masks[0]).toBe(other);
  });
  it('handles the empty list', () => {
    expect(cleanupSmallRegions([], 100, 0.7)).toEqual({ masks: [], keep: [] });
  });
});
