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

/**
 * Builds a threshold upscaler for one geometry. Its decisions equal thresholding the output of
 * createLogitUpscaler: the same float64 sums in the same order, rounded to float32. Output rows
 * and columns whose taps all lie surely below both cut-offs are never computed, so the work
 * follows the mask's box (plus the soft margin around it), not the output size; the rest is
 * createLogitUpscaler's two passes restricted to that box, with the threshold, the stability
 * counts, the area and the box taken in the second pass; inside the mask, output pixels whose
 * taps all lie surely above both cut-offs are set without interpolating. Not re-entrant.
 */
export function createThresholdUpscaler(p: LogitUpscalerGeometry): ThresholdUpscaler {
  checkGeometry(p);
  const { lowResSize: n, inputSize, resizedWidth, resizedHeight, outWidth, outHeight } = p;
  const { start: xStart, taps: xTaps, weights: xWeights } = composeAxis(n, inputSize, resizedWidth, outWidth);
  const { start: yStart, taps: yTaps, weights: yWeights } = composeAxis(n, inputSize, resizedHeight, outHeight);
  const lowLength = n * n;
  const outLength = outWidth * outHeight;
  // Output columns whose taps reach low-res column c or beyond: from firstReaching[c]; whose taps
  // start at or before c: up to lastStarting[c] (starts grow with ox).
  const firstReaching = new Int32Array(n).fill(outWidth);
  const lastStarting = new Int32Array(n).fill(-1);
  for (let ox = outWidth - 1; ox >= 0; ox--) {
    for (let c = xStart[ox]; c < xStart[ox] + xTaps; c++) firstReaching[c] = ox;
  }
  for (let ox = 0; ox < outWidth; ox++) lastStarting[xStart[ox]] = ox;
  for (let c = 1; c < n; c++) if (lastStarting[c] < lastStarting[c - 1]) lastStarting[c] = lastStarting[c - 1];
  for (let c = n - 2; c >= 0; c--) if (firstReaching[c] > firstReaching[c + 1]) firstReaching[c] = firstReaching[c + 1];
  // Per low-res row: first and last column not surely below (first > last: none).
  const rowFirst = new Int32Array(n);
  const rowLast = new Int32Array(n);
  // Per low-res row: the longest run of columns surely above both cut-offs.
  const highFirst = new Int32Array(n);
  const highLast = new Int32Array(n);
  // Output columns whose taps all lie in low-res columns >= c: from firstStartingAt[c]; <= c: up to lastEndingAt[c].
  const firstStartingAt = new Int32Array(n + 1).fill(outWidth);
  const lastEndingAt = new Int32Array(n).fill(-1);
  for (let ox = outWidth - 1; ox >= 0; ox--) firstStartingAt[xStart[ox]] = ox;
  for (let c = n - 1; c >= 0; c--) if (firstStartingAt[c] > firstStartingAt[c + 1]) firstStartingAt[c] = firstStartingAt[c + 1];
  for (let ox = 0; ox < outWidth; ox++) lastEndingAt[xStart[ox] + xTaps - 1] = ox;
  for (let c = 1; c < n; c++) if (lastEndingAt[c] < lastEndingAt[c - 1]) lastEndingAt[c] = lastEndingAt[c - 1];
  const rowsResampled = new Float64Array(n * outWidth);
  const reach = yTaps - 1;

  return (lowRes, threshold, offset, out) => {
    assertArgument(lowRes instanceof Float32Array && lowRes.length === lowLength, 'lowRes', `a Float32Array of lowResSize^2 = ${lowLength} logits`, lowRes);
    assertArgument(out instanceof Uint8Array && out.length === outLength, 'out', `a Uint8Array of ${outLength}`, out);
    assertArgument(Number.isFinite(threshold) && Number.isFinite(offset), 'threshold and offset', 'finite numbers', [threshold, offset]);
    const high = threshold + offset;
    const low = threshold - offset;
    const sureLow = Math.min(high, low) - DECISION_MARGIN;
    const sureHigh = Math.max(high, low) + DECISION_MARGIN;
    // One pass per low-res row: the span not surely below, and the longest run surely above.
    for (let r = 0; r < n; r++) {
      const row = r * n;
      let first = n;
      let last = -1;
      let bestFirst = 0;
      let bestLength = 0;
      let runStart = -1;
      for (let c = 0; c < n; c++) {
        const v = lowRes[row + c];
        // `!(v <= sureLow)` keeps NaN in the span, where it is interpolated like any value.
        if (!(v <= sureLow)) {
          if (first === n) first = c;
          last = c;
        }
        if (v > sureHigh) {
          if (runStart < 0) runStart = c;
        } else if (runStart >= 0) {
          if (c - runStart > bestLength) {
            bestLength = c - runStart;
            bestFirst = runStart;
          }
          runStart = -1;
        }
      }
      if (runStart >= 0 && n - runStart > bestLength) {
        bestLength = n - runStart;
        bestFirst = runStart;
      }
      rowFirst[r] = first;
      rowLast[r] = last;
      highFirst[r] = bestFirst;
      highLast[r] = bestFirst + bestLength - 1;
    }
    // x pass: row r serves the windows of output rows whose taps start in r - reach .. r, so it
    // is resampled over the output columns reaching the union of the spans of r - reach .. r + reach.
    for (let r = 0; r < n; r++) {
      let lo = n;
      let hi = -1;
      // Columns surely above in every row of the neighbourhood are inside every window that
      // reads row r: the y pass never interpolates there, so neither does the x pass.
      let h0 = 0;
      let h1 = n - 1;
      for (let q = Math.max(0, r - reach), qEnd = Math.min(n - 1, r + reach); q <= qEnd; q++) {
        if (rowFirst[q] < lo) lo = rowFirst[q];
        if (rowLast[q] > hi) hi = rowLast[q];
        if (highFirst[q] > h0) h0 = highFirst[q];
        if (highLast[q] < h1) h1 = highLast[q];
      }
      if (lo > hi) continue;
      const from = firstReaching[lo];
      const to = lastStarting[hi];
      const skipFrom = h0 <= h1 ? Math.max(from, firstStartingAt[h0]) : to + 1;
      const skipTo = h0 <= h1 ? Math.min(to, lastEndingAt[h1]) : to;
      if (skipFrom > skipTo) resampleRow(lowRes, r * n, rowsResampled, r * outWidth, from, to, xStart, xTaps, xWeights);
      else {
        resampleRow(lowRes, r * n, rowsResampled, r * outWidth, from, skipFrom - 1, xStart, xTaps, xWeights);
        resampleRow(lowRes, r * n, rowsResampled, r * outWidth, skipTo + 1, to, xStart, xTaps, xWeights);
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
      const ys = yStart[oy];
      let spanLo = n;
      let spanHi = -1;
      for (let k = 0; k < yTaps; k++) {
        if (rowFirst[ys + k] < spanLo) spanLo = rowFirst[ys + k];
        if (rowLast[ys + k] > spanHi) spanHi = rowLast[ys + k];
      }
      if (spanLo > spanHi) continue;
      const from = firstReaching[spanLo];
      const to = lastStarting[spanHi];
      // Output columns whose taps all lie in a run surely above in every row of the window are
      // above all three cut-offs: no interpolation needed there.
      let innerFrom = to + 1;
      let innerTo = to;
      let h0 = 0;
      let h1 = n - 1;
      for (let k = 0; k < yTaps; k++) {
        if (highFirst[ys + k] > h0) h0 = highFirst[ys + k];
        if (highLast[ys + k] < h1) h1 = highLast[ys + k];
      }
      if (h0 <= h1 && firstStartingAt[h0] <= lastEndingAt[h1]) {
        innerFrom = firstStartingAt[h0];
        innerTo = lastEndingAt[h1];
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
      const row = oy * outWidth;
      let first = -1;
      let last = -1;
      for (let ox = from; ox <= to; ox++) {
        if (ox === innerFrom) {
          const count = innerTo - innerFrom + 1;
          out.fill(1, row + innerFrom, row + innerTo + 1);
          inHigh += count;
          inLow += count;
          area += count;
          if (first < 0) first = innerFrom;
          last = innerTo;
          ox = innerTo;
          continue;
        }
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
          if (first < 0) first = ox;
          last = ox;
        }
      }
      if (first < 0) continue;
      if (y0 < 0) y0 = oy;
      y1 = oy;
      if (first < x0) x0 = first;
      if (last > x1) x1 = last;
    }
    return { area, box: x1 < 0 ? [0, 0, 0, 0] : [x0, y0, x1, y1], stability: inLow === 0 ? 0 : inHigh / inLow };
  };
}
