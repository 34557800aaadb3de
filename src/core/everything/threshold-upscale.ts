/**
 * Upscaled SAM logits thresholded into a mask with its area, box and stability score in one pass,
 * without the image-sized logits: output pixels whose low-res taps are all surely above or below
 * both stability cut-offs are decided without interpolating.
 */
import { assertArgument } from '../errors.js';
import type { BoxXYXY } from '../types.js';
import { nextClearBit, nextSetBit, setBits, windowAnd } from './bitset.js';
import { type LogitUpscalerGeometry, checkGeometry, composeAxis } from './upscale.js';

/** What a threshold upscaler found: the mask's area and inclusive box, and its stability score. */
export interface UpscaledMaskStats {
  readonly area: number;
  /** maskToBox's box of the mask; [0, 0, 0, 0] when empty. */
  readonly box: BoxXYXY;
  /** |logits > threshold + offset| / |logits > threshold - offset| (0 when the latter is 0). */
  readonly stability: number;
}

/**
 * Upscales low-res logits, thresholds them into `out` (1 where logit > threshold) and scores
 * their stability, in one pass and without the out-sized logits.
 */
export type ThresholdUpscaler = (lowRes: Float32Array, threshold: number, offset: number, out: Uint8Array) => UpscaledMaskStats;

/**
 * Low-res logits this far below (above) both stability cut-offs make an output pixel surely
 * below (above) them too: the weights are non-negative and sum to 1, so an output lies within
 * its taps up to a relative rounding of ~1e-15, far inside this margin.
 */
export const DECISION_MARGIN = 1e-3;

/**
 * Sets, per low-res cell, its bit in `below` when it is surely below both cut-offs and in
 * `above` when it is surely above them. NaN is in neither, nor is +Infinity: a zero weight on it
 * makes the sum NaN. -Infinity is surely below: the sums it enters are -Infinity or NaN, below
 * either way. rowLive[r] is 1 when row r has a cell not surely below. Logits are smooth, so a
 * row is walked in runs of one class (few mispredicted branches), each set as a range.
 */
function classifyCells(
  lowRes: Float32Array,
  n: number,
  count: number,
  sureLow: number,
  sureHigh: number,
  below: Int32Array,
  above: Int32Array,
  rowLive: Uint8Array,
): void {
  below.fill(0);
  above.fill(0);
  for (let r = 0; r < n; r++) {
    const row = r * n;
    const base = r * count;
    let live = 0;
    for (let c = 0; c < n; ) {
      const from = c;
      const v = lowRes[row + c];
      if (v <= sureLow) {
        while (++c < n && lowRes[row + c] <= sureLow);
        setBits(below, base, from, c);
        continue;
      }
      live = 1;
      let u: number;
      if (v > sureHigh && v < Infinity) {
        while (++c < n && (u = lowRes[row + c]) > sureHigh && u < Infinity);
        setBits(above, base, from, c);
      } else {
        while (++c < n && !((u = lowRes[row + c]) <= sureLow) && !(u > sureHigh && u < Infinity));
      }
    }
    rowLive[r] = live;
  }
}

/** Where the interpolating runs of an output row add up what they found, in a threshold upscaler's `tally`. */
const IN_HIGH = 0;
const IN_LOW = 1;
const AREA = 2;
const FIRST = 3;
const LAST = 4;

/**
 * Output pixels from..to of the output row at outRow, interpolated straight from the low-res
 * logits with three y taps (low-res rows at a, b, c) and three x taps, and thresholded at
 * cuts = [high, low, threshold]. The sums are createLogitUpscaler's: each x sum over its taps in
 * order, then the y sum over the taps in order (from the first product rather than from 0: that
 * changes at most the sign of a zero, which decides alike). The stability counts and the area
 * are added to `tally`, its FIRST set pixel kept once there is one and its LAST one moved on.
 * Branch-free: near the cut-offs the decisions flip often.
 */
function thresholdRun3x3(
  lowRes: Float32Array,
  a: number,
  b: number,
  c: number,
  wA: number,
  wB: number,
  wC: number,
  xStart: Int32Array,
  xWeights: Float64Array,
  from: number,
  to: number,
  out: Uint8Array,
  outRow: number,
  cuts: Float64Array,
  tally: Int32Array,
): void {
  const high = cuts[0];
  const low = cuts[1];
  const threshold = cuts[2];
  let inHigh = 0;
  let inLow = 0;
  let area = 0;
  let first = tally[FIRST];
  let last = tally[LAST];
  for (let ox = from; ox <= to; ox++) {
    const s = xStart[ox];
    const x0 = xWeights[3 * ox];
    const x1 = xWeights[3 * ox + 1];
    const x2 = xWeights[3 * ox + 2];
    const sumA = x0 * lowRes[a + s] + x1 * lowRes[a + s + 1] + x2 * lowRes[a + s + 2];
    const sumB = x0 * lowRes[b + s] + x1 * lowRes[b + s + 1] + x2 * lowRes[b + s + 2];
    const sumC = x0 * lowRes[c + s] + x1 * lowRes[c + s + 1] + x2 * lowRes[c + s + 2];
    const v = Math.fround(wA * sumA + wB * sumB + wC * sumC);
    const bit = +(v > threshold);
    inHigh += +(v > high);
    inLow += +(v > low);
    out[outRow + ox] = bit;
    area += bit;
    last += (ox - last) & -bit;
    if (first < 0 && bit !== 0) first = ox;
  }
  tally[IN_HIGH] += inHigh;
  tally[IN_LOW] += inLow;
  tally[AREA] += area;
  tally[FIRST] = first;
  tally[LAST] = last;
}

/**
 * thresholdRun3x3 for any taps, with createLogitUpscaler's sums to the letter: `taps` y taps at
 * low-res row offsets rows[k] with weights[k], xTaps x taps.
 */
function thresholdRun(
  lowRes: Float32Array,
  rows: Int32Array,
  weights: Float64Array,
  taps: number,
  xStart: Int32Array,
  xTaps: number,
  xWeights: Float64Array,
  from: number,
  to: number,
  out: Uint8Array,
  outRow: number,
  cuts: Float64Array,
  tally: Int32Array,
): void {
  const high = cuts[0];
  const low = cuts[1];
  const threshold = cuts[2];
  let inHigh = 0;
  let inLow = 0;
  let area = 0;
  let first = tally[FIRST];
  let last = tally[LAST];
  for (let ox = from; ox <= to; ox++) {
    const s = xStart[ox];
    const w = ox * xTaps;
    let acc = 0;
    for (let k = 0; k < taps; k++) {
      const src = rows[k] + s;
      let sum = 0;
      for (let t = 0; t < xTaps; t++) sum += xWeights[w + t] * lowRes[src + t];
      acc += weights[k] * sum;
    }
    const v = Math.fround(acc);
    const bit = +(v > threshold);
    inHigh += +(v > high);
    inLow += +(v > low);
    out[outRow + ox] = bit;
    area += bit;
    last += (ox - last) & -bit;
    if (first < 0 && bit !== 0) first = ox;
  }
  tally[IN_HIGH] += inHigh;
  tally[IN_LOW] += inLow;
  tally[AREA] += area;
  tally[FIRST] = first;
  tally[LAST] = last;
}

/** Below this many pixels a surely-above run is set in a loop rather than by out.fill (a call). */
const FILL_CALL_MIN = 32;

/**
 * Builds a threshold upscaler for one geometry. Its decisions equal thresholding the output of
 * createLogitUpscaler: the same float64 sums in the same order, rounded to float32. Each low-res
 * cell is surely below both cut-offs (by DECISION_MARGIN), surely above them, or neither. An
 * output pixel whose whole tap window (yTaps x xTaps cells) is surely below is 0 and counts
 * nowhere; one whose window is surely above is 1 and counts in the area and both stability
 * counts; only a pixel whose window mixes classes is interpolated, straight from the low-res
 * logits. The classes are bitsets of 32 cells a word, so the window test is a few word
 * operations per output row and runs of one class are skipped 32 columns at a time: the work
 * follows the soft band around the mask's boundary, not the output size (on MobileSAM's logits
 * at 256 x 256, 24 % of the pixels, where a bound per low-res row left 37 %). Not re-entrant.
 */
export function createThresholdUpscaler(p: LogitUpscalerGeometry): ThresholdUpscaler {
  checkGeometry(p);
  const { lowResSize: n, inputSize, resizedWidth, resizedHeight, outWidth, outHeight } = p;
  const { start: xStart, taps: xTaps, weights: xWeights } = composeAxis(n, inputSize, resizedWidth, outWidth);
  const { start: yStart, taps: yTaps, weights: yWeights } = composeAxis(n, inputSize, resizedHeight, outHeight);
  const lowLength = n * n;
  const outLength = outWidth * outHeight;
  const count = (n + 31) >>> 5;
  // Output columns whose window starts at low-res column c or later: from firstStartingAt[c]; at
  // c or before: up to lastStartingAt[c] (starts grow with ox, so a run of starts is a run of ox).
  const firstStartingAt = new Int32Array(n + 1).fill(outWidth);
  const lastStartingAt = new Int32Array(n).fill(-1);
  for (let ox = outWidth - 1; ox >= 0; ox--) firstStartingAt[xStart[ox]] = ox;
  for (let c = n - 1; c >= 0; c--) if (firstStartingAt[c] > firstStartingAt[c + 1]) firstStartingAt[c] = firstStartingAt[c + 1];
  for (let ox = 0; ox < outWidth; ox++) lastStartingAt[xStart[ox]] = ox;
  for (let c = 1; c < n; c++) if (lastStartingAt[c] < lastStartingAt[c - 1]) lastStartingAt[c] = lastStartingAt[c - 1];
  // The window starts of some output column (0 .. xStart[outWidth - 1]).
  const startLimit = xStart[outWidth - 1] + 1;
  const usedStarts = new Int32Array(count);
  for (let c = 0; c < startLimit; c++) usedStarts[c >>> 5] |= 1 << (c & 31);
  const cellsBelow = new Int32Array(n * count);
  const cellsAbove = new Int32Array(n * count);
  const rowLive = new Uint8Array(n);
  // Of the output rows being decided: the window starts whose window is surely below, surely
  // above, or mixes classes.
  const windowBelow = new Int32Array(count);
  const windowAbove = new Int32Array(count);
  const windowMixed = new Int32Array(count);
  const tapRows = new Int32Array(yTaps);
  const tapWeights = new Float64Array(yTaps);
  const cuts = new Float64Array(3);
  const tally = new Int32Array(5);

  /** The window classes of the output rows whose windows start at low-res row ys. */
  function classifyWindows(ys: number): void {
    for (let w = 0; w < count; w++) {
      let below = cellsBelow[ys * count + w];
      let above = cellsAbove[ys * count + w];
      for (let k = 1; k < yTaps; k++) {
        below &= cellsBelow[(ys + k) * count + w];
        above &= cellsAbove[(ys + k) * count + w];
      }
      windowBelow[w] = below;
      windowAbove[w] = above;
    }
    windowAnd(windowBelow, count, xTaps);
    windowAnd(windowAbove, count, xTaps);
    for (let w = 0; w < count; w++) {
      windowAbove[w] &= usedStarts[w];
      windowMixed[w] = usedStarts[w] & ~windowBelow[w] & ~windowAbove[w];
    }
  }

  return (lowRes, threshold, offset, out) => {
    assertArgument(lowRes instanceof Float32Array && lowRes.length === lowLength, 'lowRes', `a Float32Array of lowResSize^2 = ${lowLength} logits`, lowRes);
    assertArgument(out instanceof Uint8Array && out.length === outLength, 'out', `a Uint8Array of ${outLength}`, out);
    assertArgument(Number.isFinite(threshold) && Number.isFinite(offset), 'threshold and offset', 'finite numbers', [threshold, offset]);
    const high = threshold + offset;
    const low = threshold - offset;
    cuts[0] = high;
    cuts[1] = low;
    cuts[2] = threshold;
    classifyCells(lowRes, n, count, Math.min(high, low) - DECISION_MARGIN, Math.max(high, low) + DECISION_MARGIN, cellsBelow, cellsAbove, rowLive);
    out.fill(0);
    let inHigh = 0;
    let inLow = 0;
    let area = 0;
    let x0 = outWidth;
    let y0 = -1;
    let x1 = -1;
    let y1 = -1;
    let classified = -1;
    for (let oy = 0; oy < outHeight; oy++) {
      const ys = yStart[oy];
      let live = 0;
      for (let k = 0; k < yTaps; k++) live |= rowLive[ys + k];
      if (live === 0) continue;
      // Output rows reading the same low-res rows have the same windows.
      if (ys !== classified) classifyWindows(ys);
      classified = ys;
      const row = oy * outWidth;
      let first = outWidth;
      let last = -1;
      for (let c = nextSetBit(windowAbove, 0, count, 0); c < startLimit; ) {
        const end = nextClearBit(windowAbove, 0, count, c);
        const from = firstStartingAt[c];
        const to = lastStartingAt[end - 1];
        c = nextSetBit(windowAbove, 0, count, end);
        if (from > to) continue;
        const run = to - from + 1;
        if (run >= FILL_CALL_MIN) out.fill(1, row + from, row + to + 1);
        else for (let i = row + from; i <= row + to; i++) out[i] = 1;
        inHigh += run;
        inLow += run;
        area += run;
        if (from < first) first = from;
        last = to;
      }
      // The y taps of non-zero weight in order, as createLogitUpscaler adds them.
      let taps = 0;
      for (let k = 0; k < yTaps; k++) {
        const weight = yWeights[oy * yTaps + k];
        if (weight === 0) continue;
        tapRows[taps] = (ys + k) * n;
        tapWeights[taps] = weight;
        taps++;
      }
      // Per row: its counts stay far inside int32.
      tally[IN_HIGH] = 0;
      tally[IN_LOW] = 0;
      tally[AREA] = 0;
      tally[FIRST] = -1;
      tally[LAST] = -1;
      for (let c = nextSetBit(windowMixed, 0, count, 0); c < startLimit; ) {
        const end = nextClearBit(windowMixed, 0, count, c);
        const from = firstStartingAt[c];
        const to = lastStartingAt[end - 1];
        c = nextSetBit(windowMixed, 0, count, end);
        if (taps === 3 && xTaps === 3) {
          thresholdRun3x3(lowRes, tapRows[0], tapRows[1], tapRows[2], tapWeights[0], tapWeights[1], tapWeights[2], xStart, xWeights, from, to, out, row, cuts, tally);
        } else thresholdRun(lowRes, tapRows, tapWeights, taps, xStart, xTaps, xWeights, from, to, out, row, cuts, tally);
      }
      inHigh += tally[IN_HIGH];
      inLow += tally[IN_LOW];
      area += tally[AREA];
      if (tally[FIRST] >= 0) {
        if (tally[FIRST] < first) first = tally[FIRST];
        if (tally[LAST] > last) last = tally[LAST];
      }
      if (last < 0) continue;
      if (y0 < 0) y0 = oy;
      y1 = oy;
      if (first < x0) x0 = first;
      if (last > x1) x1 = last;
    }
    return { area, box: x1 < 0 ? [0, 0, 0, 0] : [x0, y0, x1, y1], stability: inLow === 0 ? 0 : inHigh / inLow };
  };
}
