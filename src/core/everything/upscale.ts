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
interface AxisWeights {
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

/** Composes lowRes -> inputSize (kept: the first `resized` entries) -> outSize along one axis. */
function composeAxis(lowResSize: number, inputSize: number, resized: number, outSize: number): AxisWeights {
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
 * One low-res row resampled to output columns from..to: sum over taps in order from 0, as
 * createLogitUpscaler's x pass (2 and 3 taps written out, the same left-to-right additions).
 */
function resampleRow(
  lowRes: Float32Array,
  inRow: number,
  rows: Float64Array,
  outRow: number,
  from: number,
  to: number,
  xStart: Int32Array,
  xTaps: number,
  xWeights: Float64Array,
): void {
  if (xTaps === 3) {
    for (let ox = from; ox <= to; ox++) {
      const src = inRow + xStart[ox];
      const w = ox * 3;
      rows[outRow + ox] = xWeights[w] * lowRes[src] + xWeights[w + 1] * lowRes[src + 1] + xWeights[w + 2] * lowRes[src + 2];
    }
  } else if (xTaps === 2) {
    for (let ox = from; ox <= to; ox++) {
      const src = inRow + xStart[ox];
      const w = ox * 2;
      rows[outRow + ox] = xWeights[w] * lowRes[src] + xWeights[w + 1] * lowRes[src + 1];
    }
  } else {
    for (let ox = from; ox <= to; ox++) {
      const src = inRow + xStart[ox];
      const w = ox * xTaps;
      let sum = 0;
      for (let t = 0; t < xTaps; t++) sum += xWeights[w + t] * lowRes[src + t];
      rows[outRow + ox] = sum;
    }
  }
}

/**
 * Low-res logits this far below both stability cut-offs make an output pixel surely below too:
 * the weights are non-negative and sum to 1, so an output lies within its taps up to a relative
 * rounding of ~1e-15, far inside this margin.
 */
const DECISION_MARGIN = 1e-3;

/** Index of the lowest set bit of a non-zero 32-bit word. */
function lowestBit(word: number): number {
  return 31 - Math.clz32(word & -word);
}

/*
 * The bitsets below hold one bit per low-res column (or per window start): bit c & 31 of word
 * c >>> 5, `count` words from `base`. Scanning them a word at a time skips 32 columns with
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
 * `above` when it is surely above them; NaN is in neither, nor is +Infinity (a zero weight on it
 * makes the sum NaN). -Infinity is surely below: the sums it enters are -Infinity or NaN, below
 * either way. rowLive[r] is 1 when row r has a cell not surely below.
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
  const lastBits = n - ((count - 1) << 5);
  const lastFull = lastBits === 32 ? -1 : (1 << lastBits) - 1;
  for (let r = 0; r < n; r++) {
    let live = 0;
    for (let w = 0; w < count; w++) {
      const cell = r * n + (w << 5);
      const bits = w === count - 1 ? lastBits : 32;
      let b = 0;
      let a = 0;
      for (let k = 0; k < bits; k++) {
        const v = lowRes[cell + k];
        b |= +(v <= sureLow) << k;
        a |= (+(v > sureHigh) & +(v < Infinity)) << k;
      }
      below[r * count + w] = b;
      above[r * count + w] = a;
      live |= b ^ (w === count - 1 ? lastFull : -1);
    }
    rowLive[r] = live === 0 ? 0 : 1;
  }
}

/**
 * Builds a threshold upscaler for one geometry. Its decisions equal thresholding the output of
 * createLogitUpscaler: the same float64 sums in the same order, rounded to float32. Each low-res
 * cell is surely below both cut-offs (by DECISION_MARGIN), surely above them, or neither (NaN and
 * +Infinity included). An output pixel whose whole tap window (yTaps x xTaps cells) is surely
 * below is 0 and counts nowhere; one whose window is surely above is 1 and counts in the area and
 * both stability counts; only pixels whose window mixes classes are interpolated, and the x pass
 * computes only the row sums those pixels read. The classes are bitsets of 32 cells a word, so
 * the window test is a few word operations per output row and all-below stretches are skipped 32
 * columns at a time: the work follows the soft band around the mask's boundary, not the output
 * size (on MobileSAM's logits ~25 % of the pixels, where a per-row span left ~75 %). Not
 * re-entrant.
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
  // Window starts of some output column (0 .. xStart[outWidth - 1]): their windows lie in the grid.
  const startLimit = xStart[outWidth - 1] + 1;
  const usedStarts = new Int32Array(count);
  for (let c = 0; c < startLimit; c++) usedStarts[c >>> 5] |= 1 << (c & 31);
  const cellsBelow = new Int32Array(n * count);
  const cellsAbove = new Int32Array(n * count);
  const rowLive = new Uint8Array(n);
  // Per output row, the window starts whose window mixes classes / is surely above (when live).
  const mixedStarts = new Int32Array(outHeight * count);
  const aboveStarts = new Int32Array(outHeight * count);
  const outRowLive = new Uint8Array(outHeight);
  // Per low-res row, the window starts whose x sums some mixed pixel reads.
  const neededStarts = new Int32Array(n * count);
  const windowBelow = new Int32Array(count);
  const windowAbove = new Int32Array(count);
  const rowsResampled = new Float64Array(n * outWidth);

  /** mixedStarts and aboveStarts of output row oy, whose window rows start at low-res row ys. */
  function classifyWindows(oy: number, ys: number): void {
    windowBelow.set(cellsBelow.subarray(ys * count, (ys + 1) * count));
    windowAbove.set(cellsAbove.subarray(ys * count, (ys + 1) * count));
    for (let k = 1; k < yTaps; k++) {
      const base = (ys + k) * count;
      for (let w = 0; w < count; w++) {
        windowBelow[w] &= cellsBelow[base + w];
        windowAbove[w] &= cellsAbove[base + w];
      }
    }
    windowAnd(windowBelow, count, xTaps);
    windowAnd(windowAbove, count, xTaps);
    const base = oy * count;
    for (let w = 0; w < count; w++) {
      mixedStarts[base + w] = usedStarts[w] & ~windowBelow[w] & ~windowAbove[w];
      aboveStarts[base + w] = usedStarts[w] & windowAbove[w];
    }
  }

  /** Marks the x sums output row oy's mixed pixels read (its window rows of non-zero weight). */
  function markNeeded(oy: number, ys: number): void {
    const base = oy * count;
    let any = 0;
    for (let w = 0; w < count; w++) any |= mixedStarts[base + w];
    if (any === 0) return;
    for (let k = 0; k < yTaps; k++) {
      if (yWeights[oy * yTaps + k] === 0) continue;
      const needed = (ys + k) * count;
      for (let w = 0; w < count; w++) neededStarts[needed + w] |= mixedStarts[base + w];
    }
  }

  return (lowRes, threshold, offset, out) => {
    assertArgument(lowRes instanceof Float32Array && lowRes.length === lowLength, 'lowRes', `a Float32Array of lowResSize^2 = ${lowLength} logits`, lowRes);
    assertArgument(out instanceof Uint8Array && out.length === outLength, 'out', `a Uint8Array of ${outLength}`, out);
    assertArgument(Number.isFinite(threshold) && Number.isFinite(offset), 'threshold and offset', 'finite numbers', [threshold, offset]);
    const high = threshold + offset;
    const low = threshold - offset;
    classifyCells(lowRes, n, count, Math.min(high, low) - DECISION_MARGIN, Math.max(high, low) + DECISION_MARGIN, cellsBelow, cellsAbove, rowLive);
    neededStarts.fill(0);
    for (let oy = 0; oy < outHeight; oy++) {
      const ys = yStart[oy];
      let live = 0;
      for (let k = 0; k < yTaps; k++) live |= rowLive[ys + k];
      outRowLive[oy] = live;
      if (live === 0) continue;
      // Output rows reading the same low-res rows have the same window classes.
      if (oy > 0 && ys === yStart[oy - 1] && outRowLive[oy - 1] !== 0) {
        mixedStarts.copyWithin(oy * count, (oy - 1) * count, oy * count);
        aboveStarts.copyWithin(oy * count, (oy - 1) * count, oy * count);
      } else classifyWindows(oy, ys);
      markNeeded(oy, ys);
    }
    // x pass, as createLogitUpscaler's, over the needed columns only.
    for (let r = 0; r < n; r++) {
      const base = r * count;
      for (let c = nextSetBit(neededStarts, base, count, 0); c < startLimit; ) {
        const end = nextClearBit(neededStarts, base, count, c);
        resampleRow(lowRes, r * n, rowsResampled, r * outWidth, firstStartingAt[c], lastStartingAt[end - 1], xStart, xTaps, xWeights);
        c = nextSetBit(neededStarts, base, count, end);
      }
    }
    out.fill(0);
    let inHigh = 0;
    let inLow = 0;
    let area = 0;
    let x0 = outWidth;
    let y0 = -1;
    let x1 = -1;
    let y1 = -1;
    for (let oy = 0; oy < outHeight; oy++) {
      if (outRowLive[oy] === 0) continue;
      const ys = yStart[oy];
      const base = oy * count;
      const row = oy * outWidth;
      let first = outWidth;
      let last = -1;
      for (let c = nextSetBit(aboveStarts, base, count, 0); c < startLimit; ) {
        const end = nextClearBit(aboveStarts, base, count, c);
        const from = firstStartingAt[c];
        const to = lastStartingAt[end - 1];
        if (from <= to) {
          const run = to - from + 1;
          out.fill(1, row + from, row + to + 1);
          inHigh += run;
          inLow += run;
          area += run;
          if (from < first) first = from;
          last = to;
        }
        c = nextSetBit(aboveStarts, base, count, end);
      }
      // y pass as createLogitUpscaler: the taps added in order from 0, zero weights skipped
      // (written out for up to three taps: 0 + x is x, and a signed zero decides alike).
      let taps = 0;
      let wA = 0;
      let wB = 0;
      let wC = 0;
      let rA = 0;
      let rB = 0;
      let rC = 0;
      for (let k = 0; k < yTaps; k++) {
        const weight = yWeights[oy * yTaps + k];
        if (weight === 0) continue;
        const offset = (ys + k) * outWidth;
        if (taps === 0) {
          wA = weight;
          rA = offset;
        } else if (taps === 1) {
          wB = weight;
          rB = offset;
        } else if (taps === 2) {
          wC = weight;
          rC = offset;
        }
        taps++;
      }
      for (let c = nextSetBit(mixedStarts, base, count, 0); c < startLimit; ) {
        const end = nextClearBit(mixedStarts, base, count, c);
        for (let ox = firstStartingAt[c], to = lastStartingAt[end - 1]; ox <= to; ox++) {
          let acc: number;
          if (taps === 3) acc = wA * rowsResampled[rA + ox] + wB * rowsResampled[rB + ox] + wC * rowsResampled[rC + ox];
          else if (taps === 2) acc = wA * rowsResampled[rA + ox] + wB * rowsResampled[rB + ox];
          else if (taps === 1) acc = wA * rowsResampled[rA + ox];
          else {
            acc = 0;
            for (let k = 0; k < yTaps; k++) {
              const weight = yWeights[oy * yTaps + k];
              if (weight !== 0) acc += weight * rowsResampled[(ys + k) * outWidth + ox];
            }
          }
          const v = Math.fround(acc);
          if (v > high) inHigh++;
          if (v > low) inLow++;
          if (v > threshold) {
            out[row + ox] = 1;
            area++;
            if (ox < first) first = ox;
            if (ox > last) last = ox;
          }
        }
        c = nextSetBit(mixedStarts, base, count, end);
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
