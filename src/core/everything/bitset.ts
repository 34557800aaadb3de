/**
 * Word-packed bit rows (Int32Array, 32 cells a word) for the threshold upscaler: find the next
 * set or clear bit, set a range, and AND a sliding window.
 */


/** Index of the lowest set bit of a non-zero 32-bit word. */
function lowestBit(word: number): number {
  return 31 - Math.clz32(word & -word);
}

/*
 * The bitsets below hold one bit per low-res column (or per window start): bit c & 31 of word
 * c >>> 5 of the `count` words from `base`. Scanning them a word at a time skips 32 columns with
 * nothing to do in one step.
 */

/** The first set bit at or after `from`, or count * 32 when there is none. */
export function nextSetBit(words: Int32Array, base: number, count: number, from: number): number {
  let w = from >>> 5;
  if (w >= count) return count << 5;
  let bits = words[base + w] & (-1 << (from & 31));
  while (bits === 0) {
    if (++w === count) return count << 5;
    bits = words[base + w];
  }
  return (w << 5) + lowestBit(bits);
}

/** The first clear bit at or after `from`, or count * 32 when there is none. */
export function nextClearBit(words: Int32Array, base: number, count: number, from: number): number {
  let w = from >>> 5;
  if (w >= count) return count << 5;
  let bits = ~words[base + w] & (-1 << (from & 31));
  while (bits === 0) {
    if (++w === count) return count << 5;
    bits = ~words[base + w];
  }
  return (w << 5) + lowestBit(bits);
}

/** Sets bits from .. to - 1 (from < to). */
export function setBits(words: Int32Array, base: number, from: number, to: number): void {
  let w = from >>> 5;
  const last = (to - 1) >>> 5;
  const head = -1 << (from & 31);
  const tail = -1 >>> (31 - ((to - 1) & 31));
  if (w === last) {
    words[base + w] |= head & tail;
    return;
  }
  words[base + w] |= head;
  while (++w < last) words[base + w] = -1;
  words[base + last] |= tail;
}

/**
 * The window AND along a row, in place: bit c becomes set when all of bits c .. c + taps - 1
 * were (bits past the end read as clear), i.e. when the window of `taps` columns starting at c
 * lies wholly in the set.
 */
export function windowAnd(bits: Int32Array, count: number, taps: number): void {
  for (let w = 0; w < count; w++) {
    let all = bits[w];
    for (let t = 1; t < taps && all !== 0; t++) {
      const at = w + (t >>> 5);
      const shift = t & 31;
      const lo = at < count ? bits[at] : 0;
      const hi = at + 1 < count ? bits[at + 1] : 0;
      all &= shift === 0 ? lo : (lo >>> shift) | (hi << (32 - shift));
    }
    bits[w] = all;
  }
}
