/**
 * A small seeded PRNG (mulberry32) so that random searches and sampling are reproducible: the
 * same seed gives the same sequence on every platform (32-bit integer arithmetic only).
 */
import { assertArgument } from './errors.js';

/** A seeded source of random numbers and the few random operations salip needs. */
export interface Random {
  /** Uniform float in [0, 1) with 32 bits of randomness. */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** A uniformly chosen element of a non-empty array. */
  pick<T>(arr: readonly T[]): T;
  /** A shuffled copy (Fisher-Yates); the input is left as is. */
  shuffle<T>(arr: readonly T[]): T[];
  /** k distinct elements (by position) in random order, without replacement. */
  sample<T>(arr: readonly T[], k: number): T[];
}

/** Creates a mulberry32 generator; the seed is taken modulo 2^32 (fractions are dropped). */
export function createRandom(seed: number): Random {
  assertArgument(Number.isFinite(seed), 'seed', 'a finite number', seed);
  let state = Math.trunc(seed) >>> 0;
  const nextUint32 = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
  const next = (): number => nextUint32() / 4294967296;
  const int = (n: number): number => {
    assertArgument(Number.isInteger(n) && n > 0 && n <= 4294967296, 'n', 'a positive integer up to 2^32', n);
    return Math.floor(next() * n);
  };
  const shuffleInPlace = <T>(items: T[], count: number): void => {
    // Partial Fisher-Yates: positions 0..count-1 end up a uniform sample in random order.
    for (let i = 0; i < count; i++) {
      const j = i + Math.floor(next() * (items.length - i));
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
  };
  return {
    next,
    int,
    pick<T>(arr: readonly T[]): T {
      assertArgument(Array.isArray(arr) && arr.length > 0, 'arr', 'a non-empty array', arr);
      return arr[Math.floor(next() * arr.length)];
    },
    shuffle<T>(arr: readonly T[]): T[] {
      assertArgument(Array.isArray(arr), 'arr', 'an array', arr);
      const copy = arr.slice();
      shuffleInPlace(copy, copy.length);
      return copy;
    },
    sample<T>(arr: readonly T[], k: number): T[] {
      assertArgument(Array.isArray(arr), 'arr', 'an array', arr);
      assertArgument(Number.isInteger(k) && k >= 0 && k <= arr.length, 'k', `an integer in [0, ${arr.length}]`, k);
      const copy = arr.slice();
      shuffleInPlace(copy, k);
      return copy.slice(0, k);
    },
  };
}
