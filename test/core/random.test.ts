import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRandom } from '../../src/core/random.js';

describe('createRandom (mulberry32)', () => {
  it('reproduces the mulberry32 sequence (values from an independent Python implementation)', () => {
    const want: Record<number, number[]> = {
      0: [1144304738, 1416247, 958946056, 627933444],
      42: [2581720956, 1925393290, 3661312704, 2876485805],
      0xdeadbeef: [4043151706, 1147597007, 3315858022, 1538288752],
    };
    for (const [seed, values] of Object.entries(want)) {
      const rng = createRandom(Number(seed));
      expect(values.map(() => rng.next())).toEqual(values.map((v) => v / 2 ** 32));
    }
  });
  it('gives the same stream for the same seed and a different one otherwise', () => {
    const a = createRandom(7);
    const b = createRandom(7);
    const c = createRandom(8);
    const sa = Array.from({ length: 20 }, () => a.next());
    expect(Array.from({ length: 20 }, () => b.next())).toEqual(sa);
    expect(Array.from({ length: 20 }, () => c.next())).not.toEqual(sa);
  });
  it('takes seeds modulo 2^32 and drops fractions', () => {
    expect(createRandom(2 ** 32 + 5).next()).toBe(createRandom(5).next());
    expect(createRandom(-1).next()).toBe(createRandom(0xffffffff).next());
    expect(createRandom(5.9).next()).toBe(createRandom(5).next());
    expect(() => createRandom(NaN)).toThrow(/seed: expected a finite number, got NaN/);
  });
  it('int(n) stays in [0, n) and covers every value', () => {
    const rng = createRandom(1);
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) {
      const v = rng.int(6);
      expect(Number.isInteger(v) && v >= 0 && v < 6).toBe(true);
      seen.add(v);
    }
    expect(seen.size).toBe(6);
    expect(() => rng.int(0)).toThrow(/n: expected a positive integer/);
    expect(() => rng.int(2.5)).toThrow(/n:/);
  });
  it('pick returns an element and rejects an empty array', () => {
    const rng = createRandom(3);
    const arr = ['a', 'b', 'c'];
    for (let i = 0; i < 20; i++) expect(arr).toContain(rng.pick(arr));
    expect(() => rng.pick([])).toThrow(/arr: expected a non-empty array/);
  });
  it('shuffle returns a permutation and leaves the input alone (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer()), fc.integer(), (arr, seed) => {
        const before = arr.slice();
        const shuffled = createRandom(seed).shuffle(arr);
        expect(arr).toEqual(before);
        expect(shuffled).not.toBe(arr);
        expect(shuffled.slice().sort((x, y) => x - y)).toEqual(arr.slice().sort((x, y) => x - y));
      }),
    );
  });
  it('shuffle reaches every ordering of 3 items', () => {
    const rng = createRandom(11);
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(rng.shuffle([1, 2, 3]).join(''));
    expect(seen.size).toBe(6);
  });
  it('sample draws k distinct positions (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer(), { maxLength: 30 }).chain((arr) => fc.tuple(fc.constant(arr), fc.integer({ min: 0, max: arr.length }), fc.integer())),
        ([arr, k, seed]) => {
          const indices = arr.map((_, i) => i);
          const picked = createRandom(seed).sample(indices, k);
          expect(picked).toHaveLength(k);
          expect(new Set(picked).size).toBe(k);
          for (const i of picked) expect(i >= 0 && i < arr.length).toBe(true);
        },
      ),
    );
    expect(() => createRandom(1).sample([1, 2], 3)).toThrow(/k: expected an integer in \[0, 2\], got 3/);
  });
});
