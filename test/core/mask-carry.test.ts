/**
 * The pure rules of carrying a mask from slice to slice: the bounded box, the multi-mask choice,
 * the verdict on a carried mask, and shape interpolation (with the distance transform under it).
 */
import { describe, expect, it } from 'vitest';
import { carriedVerdict, carryBox, closestMaskIndex, interpolateMasks, widenBox, type CarryRules } from '../../src/core/mask-carry.js';
import { createMask, maskArea } from '../../src/core/mask.js';
import { signedDistance, squaredDistanceTo } from '../../src/core/mask/distance.js';
import { discMask } from '../helpers/masks.js';
import type { BinaryMask } from '../../src/core/types.js';

/** A w x h mask with the pixels of [x0, x1) x [y0, y1) set. */
function rect(w: number, h: number, x0: number, y0: number, x1: number, y1: number): BinaryMask {
  const m = createMask(w, h);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m.data[y * w + x] = 1;
  return m;
}

const disc = discMask;

describe('carryBox', () => {
  it('widens the neighbour box by the margin and clamps it to the slice', () => {
    expect(widenBox([10, 20, 30, 60], 0.1)).toEqual([8, 16, 32, 64]);
    expect(carryBox([10, 20, 30, 60], undefined, 0.1, Infinity, 100, 100)).toEqual([8, 16, 32, 64]);
    expect(carryBox([2, 20, 98, 60], undefined, 0.1, Infinity, 100, 100)).toEqual([0, 16, 100, 64]);
  });

  it("cuts the box to the anchor's widened box, so a creeping mask cannot widen the prompt", () => {
    // The neighbour has crept past the anchor on the left and the bottom.
    expect(carryBox([5, 20, 30, 80], [10, 20, 30, 60], 0, 0.05, 100, 100)).toEqual([9, 20, 30, 62]);
    // A neighbour inside the bound is left as it is.
    expect(carryBox([12, 25, 28, 55], [10, 20, 30, 60], 0, 0.05, 100, 100)).toEqual([12, 25, 28, 55]);
    // Infinity: no bound.
    expect(carryBox([5, 20, 30, 80], [10, 20, 30, 60], 0, Infinity, 100, 100)).toEqual([5, 20, 30, 80]);
  });

  it('stays a valid box when the neighbour lies outside the bound', () => {
    const box = carryBox([60, 60, 70, 70], [10, 10, 20, 20], 0, 0, 100, 100);
    expect(box).toEqual([10, 10, 20, 20]);
  });
});

describe('closestMaskIndex', () => {
  it("keeps the output that overlaps the neighbour's mask most, not the largest", () => {
    const neighbour = rect(20, 20, 5, 5, 15, 15);
    const part = rect(20, 20, 5, 5, 10, 10);
    const close = rect(20, 20, 5, 5, 15, 16);
    const whole = rect(20, 20, 0, 0, 20, 20);
    expect(closestMaskIndex([part, close, whole], neighbour)).toBe(1);
    expect(closestMaskIndex([whole, part, close], neighbour)).toBe(2);
  });

  it('gives ties to the earlier output and -1 for no outputs', () => {
    const neighbour = rect(10, 10, 0, 0, 4, 4);
    expect(closestMaskIndex([rect(10, 10, 0, 0, 4, 4), rect(10, 10, 0, 0, 4, 4)], neighbour)).toBe(0);
    expect(closestMaskIndex([], neighbour)).toBe(-1);
  });
});

describe('carriedVerdict', () => {
  const rules: CarryRules = { minAreaFraction: 0.01, minStability: 0.3, maxGrowth: 1.6, maxAnchorGrowth: 1.3, maxScoreDrop: 10 };
  const ref = { sliceArea: 10000, neighbourArea: 1000, anchorArea: 1000, anchorScore: 150 };
  const good = { area: 1050, stability: 0.9, score: 148 };

  it('keeps a mask like its neighbour and anchor', () => {
    expect(carriedVerdict(good, ref, rules)).toEqual({ kind: 'keep' });
  });

  it('ends the walk on a tiny mask, before any other rule', () => {
    expect(carriedVerdict({ area: 99, stability: 0, score: 0 }, ref, rules)).toMatchObject({ kind: 'ended', rule: 'area' });
  });

  it('finds a mask lost by stability, growth over the neighbour, growth over the anchor, or score', () => {
    expect(carriedVerdict({ ...good, stability: 0.2 }, ref, rules)).toMatchObject({ kind: 'lost', rule: 'stability' });
    expect(carriedVerdict({ ...good, area: 1700 }, ref, rules)).toMatchObject({ kind: 'lost', rule: 'growth', reason: 'area grew 1.70x > 1.6x' });
    // A slow creep: 1.2x its neighbour, but 1.4x the last cascade mask.
    expect(carriedVerdict({ ...good, area: 1400 }, { ...ref, neighbourArea: 1170 }, rules)).toMatchObject({ kind: 'lost', rule: 'anchor-growth' });
    expect(carriedVerdict({ ...good, score: 139 }, ref, rules)).toMatchObject({ kind: 'lost', rule: 'score', reason: "score 139.0 is 11.0 below the last cascade mask's > 10" });
  });

  it('skips the score rule when either score is unknown', () => {
    expect(carriedVerdict({ ...good, score: NaN }, ref, rules)).toEqual({ kind: 'keep' });
    expect(carriedVerdict({ ...good, score: 0 }, { ...ref, anchorScore: undefined }, rules)).toEqual({ kind: 'keep' });
  });
});

describe('distance transforms', () => {
  it('gives exact squared Euclidean distances to the nearest set pixel', () => {
    const m = createMask(5, 4);
    m.data[0] = 1;
    const d = squaredDistanceTo(m, 1);
    expect(Array.from(d.subarray(0, 5))).toEqual([0, 1, 4, 9, 16]);
    expect(d[3 * 5 + 4]).toBe(9 + 16);
    expect(Array.from(squaredDistanceTo(createMask(3, 3), 1)).every((v) => v === Infinity)).toBe(true);
  });

  it('is negative inside and positive outside', () => {
    const sd = signedDistance(rect(7, 7, 2, 2, 5, 5));
    expect(sd[3 * 7 + 3]).toBe(-2);
    expect(sd[2 * 7 + 2]).toBe(-1);
    expect(sd[3 * 7 + 0]).toBe(2);
  });
});

describe('interpolateMasks', () => {
  it('gives each mask at its end and a mask between the two halfway', () => {
    const a = disc(41, 41, 20, 20, 6);
    const b = disc(41, 41, 20, 20, 14);
    expect(interpolateMasks(a, b, 0)).toEqual(a);
    expect(interpolateMasks(a, b, 1)).toEqual(b);
    const mid = interpolateMasks(a, b, 0.5);
    // Radius about 10: between the two areas, and a disc again.
    expect(maskArea(mid)).toBeGreaterThan(Math.PI * 9.5 ** 2);
    expect(maskArea(mid)).toBeLessThan(Math.PI * 10.5 ** 2);
    expect(mid.data[20 * 41 + 30]).toBe(1);
    expect(mid.data[20 * 41 + 31]).toBe(0);
  });

  it('moves a shape halfway between two places', () => {
    // Columns 2..7 and 6..11: halfway is 4..9.
    const mid = interpolateMasks(rect(30, 10, 2, 2, 8, 8), rect(30, 10, 6, 2, 12, 8), 0.5);
    const row = Array.from(mid.data.subarray(5 * 30, 6 * 30));
    expect(row.slice(0, 14)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]);
  });

  it('is empty when either mask is, and refuses masks of different sizes or t outside [0, 1]', () => {
    expect(maskArea(interpolateMasks(rect(10, 10, 2, 2, 8, 8), createMask(10, 10), 0.5))).toBe(0);
    expect(() => interpolateMasks(createMask(10, 10), createMask(10, 11), 0.5)).toThrow(/same size/);
    expect(() => interpolateMasks(createMask(10, 10), createMask(10, 10), 1.5)).toThrow(/\[0, 1\]/);
  });
});
