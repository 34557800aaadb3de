import { describe, expect, it } from 'vitest';
import { borderContact, borderExcess, borderPrior } from '../../src/core/border-prior.js';
import { createMask } from '../../src/core/mask.js';

function rect(w: number, h: number, x0: number, y0: number, x1: number, y1: number) {
  const m = createMask(w, h);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m.data[y * w + x] = 1;
  return m;
}

describe('border prior', () => {
  it('borderContact: the share of the outline on the image edge', () => {
    // Inside the image: no contact.
    expect(borderContact(rect(20, 20, 5, 5, 15, 15))).toBe(0);
    // A 10 x 10 square in the corner: its outline is 36 pixels, 19 of them on the edge.
    expect(borderContact(rect(20, 20, 0, 0, 10, 10))).toBeCloseTo(19 / 36, 6);
    // The whole image: every outline pixel is on the edge.
    expect(borderContact(rect(8, 8, 0, 0, 8, 8))).toBe(1);
    expect(borderContact(createMask(8, 8))).toBe(0);
  });

  it('borderPrior is the largest exemplar contact; borderExcess only counts what exceeds it', () => {
    expect(borderPrior([])).toBe(0);
    expect(borderPrior([0, 0.2, 0.1])).toBe(0.2);
    expect(borderExcess(0.2, 0.1)).toBe(0);
    expect(borderExcess(0.2, 0.5)).toBeCloseTo(0.3, 6);
  });
});
