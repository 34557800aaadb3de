/**
 * SAM low-resolution logits -> logits at the original image size, exactly as segment-anything's
 * postprocess_masks: bilinear upscale to the square model input, crop off the padding, bilinear
 * resize to the image. Both steps are linear and separable, so each axis is one small sparse
 * matrix (the composition of the two 1-D interpolations) and the model-input-sized intermediate
 * is never built.
 */
import { assertArgument } from '../errors.js';
import type { BoxXYXY } from '../types.js';

/** Geometry of one upscaler: which low-res grid, which model frame, which output. */
export interface LogitUpscalerGeometry {
  /** Side of the square low-res logit grid (256 for Meta-style decoders). */
  readonly lowResSize: number;
  /** Side of the square model input the low-res grid spans (1024 for SAM). */
  readonly inputSize: number;
  /** Size of the image inside the model input; the rest (right/bottom) is padding. */
  readonly resizedWidth: number;
  readonly resizedHeight: number;
  /** Size of the wanted output (the original image). */
  readonly outWidth: number;
  readonly outHeight: number;
}

/** Where an image sits in the square model input (the fields of a SAM input transform used here). */
export interface ModelFrame {
  readonly inputSize: number;
  readonly resizedWidth: number;
  readonly resizedHeight: number;
  readonly imageWidth: number;
  readonly imageHeight: number;
}

/** The geometry that maps a decoder's low-res logits back to the frame's image (or to outWidth x outHeight). */
export function upscalerGeometry(lowResSize: number, frame: ModelFrame, outWidth = frame.imageWidth, outHeight = frame.imageHeight): LogitUpscalerGeometry {
  return { lowResSize, inputSize: frame.inputSize, resizedWidth: frame.resizedWidth, resizedHeight: frame.resizedHeight, outWidth, outHeight };
}

/** Maps a low-res logit grid to out-sized logits; writes into `out` when given. */
export type LogitUpscaler = (lowRes: Float32Array, out?: Float32Array) => Float32Array;

/** Per-axis composed interpolation: output o reads taps input[start[o] + t] with weight weights[o * taps + t]. */
export interface AxisWeights {
  readonly start: Int32Array;
  readonly taps: number;
  readonly weights: Float64Array;
}

/**
 * torch F.interpolate(mode='bilinear', align_corners=False) along one axis: output d samples
 * source (d + 0.5) * in / out - 0.5, clamped below at 0; the upper neighbour is clamped to the
 * last index.
 */
function bilinearTaps(inSize: number, outSize: number): { lo: Int32Array; hi: Int32Array; wHi: Float64Array } {
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const wHi = new Float64Array(outSize);
  const scale = inSize / outSize;
  for (let d = 0; d < outSize; d++) {
    const src = Math.max(0, scale * (d + 0.5) - 0.5);
    const i0 = Math.floor(src);
    lo[d] = i0;
    hi[d] = i0 < inSize - 1 ? i0 + 1 : i0;
    wHi[d] = src - i0;
  }
  return { lo, hi, wHi };
}

/**
 * Composes lowRes -> inputSize (kept: the first `resized` entries) -> outSize along one axis.
 * Exported for bench/upscale.ts only (not part of the package's API: core/everything/index.ts
 * does not re-export it).
 */
export function composeAxis(lowResSize: number, inputSize: number, resized: number, outSize: number): AxisWeights {
  const up = bilinearTaps(lowResSize, inputSize);
  const down = bilinearTaps(resized, outSize);
  const start = new Int32Array(outSize);
  const end = new Int32Array(outSize);
  let taps = 1;
  for (let o = 0; o < outSize; o++) {
    const rLo = down.lo[o];
    const rHi = down.hi[o];
    // Low-res indices grow with the model-frame index, so the span is [up.lo[rLo], up.hi[rHi]].
    start[o] = up.lo[rLo];
    end[o] = up.hi[rHi];
    taps = Math.max(taps, end[o] - start[o] + 1);
  }
  const weights = new Float64Array(outSize * taps);
  for (let o = 0; o < outSize; o++) {
    // Every output reads `taps` entries; near the end shift the window left (extra weights are 0)
    // so that it never reads past the grid.
    start[o] = Math.min(start[o], lowResSize - taps);
    const base = o * taps - start[o];
    const rWeights = [1 - down.wHi[o], down.wHi[o]];
    const rIndices = [down.lo[o], down.hi[o]];
    for (let k = 0; k < 2; k++) {
      const r = rIndices[k];
      weights[base + up.lo[r]] += rWeights[k] * (1 - up.wHi[r]);
      weights[base + up.hi[r]] += rWeights[k] * up.wHi[r];
    }
  }
  return { start, taps, weights };
}

function positiveInteger(value: number, what: string): void {
  assertArgument(Number.isInteger(value) && value > 0, what, 'a positive integer', value);
}

/**
 * Builds the upscaler for one geometry (precomputes both axes once). The returned function
 * allocates nothing per call except the output when `out` is not given; it keeps one scratch
 * buffer, so it is not re-entrant (fine: it is synchronous).
 */
function checkGeometry(p: LogitUpscalerGeometry): void {
  assertArgument(p !== null && typeof p === 'object', 'geometry', 'an object', p);
  const { lowResSize, inputSize, resizedWidth, resizedHeight, outWidth, outHeight } = p;
  positiveInteger(lowResSize, 'lowResSize');
  positiveInteger(inputSize, 'inputSize');
  positiveInteger(resizedWidth, 'resizedWidth');
  positiveInteger(resizedHeight, 'resizedHeight');
  positiveInteger(outWidth, 'outWidth');
  positiveInteger(outHeight, 'outHeight');
  assertArgument(resizedWidth <= inputSize, 'resizedWidth', `at most inputSize (${inputSize})`, resizedWidth);
  assertArgument(resizedHeight <= inputSize, 'resizedHeight', `at most inputSize (${inputSize})`, resizedHeight);
}

export function createLogitUpscaler(p: LogitUpscalerGeometry): LogitUpscaler {
  checkGeometry(p);
  const { lowResSize, inputSize, resizedWidth, resizedHeight, outWidth, outHeight } = p;
  const xAxis = composeAxis(lowResSize, inputSize, resizedWidth, outWidth);
  const yAxis = composeAxis(lowResSize, inputSize, resizedHeight, outHeight);
  const lowLength = lowResSize * lowResSize;
  const outLength = outWidth * outHeight;
  // Rows of the low-res grid resampled to the output width.
  const rowsResampled = new Float64Array(lowResSize * outWidth);
  const accumulator = new Float64Array(outWidth);
  const { start: xStart, taps: xTaps, weights: xWeights } = xAxis;
  const { start: yStart, taps: yTaps, weights: yWeights } = yAxis;

  return (lowRes: Float32Array, out?: Float32Array): Float32Array => {
    assertArgument(
      lowRes instanceof Float32Array && lowRes.length === lowLength,
      'lowRes',
      `a Float32Array of lowResSize^2 = ${lowLength} logits`,
      lowRes,
    );
    if (out === undefined) out = new Float32Array(outLength);
    else assertArgument(out instanceof Float32Array && out.length === outLength, 'out', `a Float32Array of ${outLength}`, out);

    for (let ly = 0; ly < lowResSize; ly++) {
      const inRow = ly * lowResSize;
      const tmpRow = ly * outWidth;
      for (let ox = 0; ox < outWidth; ox++) {
        const src = inRow + xStart[ox];
        const w = ox * xTaps;
        let sum = 0;
        for (let t = 0; t < xTaps; t++) sum += xWeights[w + t] * lowRes[src + t];
        rowsResampled[tmpRow + ox] = sum;
      }
    }
    for (let oy = 0; oy < outHeight; oy++) {
      accumulator.fill(0);
      for (let t = 0; t < yTaps; t++) {
        const weight = yWeights[oy * yTaps + t];
        if (weight === 0) continue;
        const tmpRow = (yStart[oy] + t) * outWidth;
        for (let ox = 0; ox < outWidth; ox++) accumulator[ox] += weight * rowsResampled[tmpRow + ox];
      }
      const outRow = oy * outWidth;
      for (let ox = 0; ox < outWidth; ox++) out[outRow + ox] = accumulator[ox];
    }
    return out;
  };
}

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
function nextSetBit(words: Int32Array, base: number, count: number, from: number): number {
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
function nextClearBit(words: Int32Array, base: number, count: number, from: number): number {
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
function setBits(words: Int32Array, base: number, from: number, to: number): void {
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
function windowAnd(bits: Int32Array, count: number, taps: number): void {
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
