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
 * Low-res logits this far beyond both stability cut-offs decide an output pixel without
 * interpolating: the weights are non-negative and sum to 1, so the output lies within its taps
 * up to a relative rounding of ~1e-15, far inside this margin.
 */
const DECISION_MARGIN = 1e-3;

/**
 * Builds a threshold upscaler for one geometry. Its decisions equal thresholding the output of
 * createLogitUpscaler (same float64 sums in the same order, rounded to float32): an output pixel
 * whose taps all lie above threshold + offset (or all at or below threshold - offset) is decided
 * without interpolating, and output rows and columns whose taps are all below are never visited,
 * so the work grows with the mask's box, not the output size. Not re-entrant.
 */
export function createThresholdUpscaler(p: LogitUpscalerGeometry): ThresholdUpscaler {
  checkGeometry(p);
  const { lowResSize: n, inputSize, resizedWidth, resizedHeight, outWidth, outHeight } = p;
  const { start: xStart, taps: xTaps, weights: xWeights } = composeAxis(n, inputSize, resizedWidth, outWidth);
  const { start: yStart, taps: yTaps, weights: yWeights } = composeAxis(n, inputSize, resizedHeight, outHeight);
  const lowLength = n * n;
  const outLength = outWidth * outHeight;
  // Output columns whose taps reach low-res column c: firstReaching[c] .. lastStarting[c] (starts grow with ox).
  const firstReaching = new Int32Array(n).fill(outWidth);
  const lastStarting = new Int32Array(n).fill(-1);
  for (let ox = outWidth - 1; ox >= 0; ox--) {
    for (let c = xStart[ox]; c < xStart[ox] + xTaps; c++) firstReaching[c] = ox;
  }
  for (let ox = 0; ox < outWidth; ox++) lastStarting[xStart[ox]] = ox;
  for (let c = 1; c < n; c++) if (lastStarting[c] < lastStarting[c - 1]) lastStarting[c] = lastStarting[c - 1];
  for (let c = n - 2; c >= 0; c--) if (firstReaching[c] > firstReaching[c + 1]) firstReaching[c] = firstReaching[c + 1];
  // Per low-res pixel: 0 = surely below both cut-offs, 2 = surely above both, 1 = near one.
  const level = new Uint8Array(lowLength);
  // Per low-res row: first and last column that is not surely below (first > last: none).
  const rowFirst = new Int32Array(n);
  const rowLast = new Int32Array(n);
  // For the current window of low-res rows: the first column at or after c that is not
  // uniformly 0 (resp. 2) over those rows.
  const nextNotLow = new Int32Array(n + 1);
  const nextNotHigh = new Int32Array(n + 1);

  return (lowRes, threshold, offset, out) => {
    assertArgument(lowRes instanceof Float32Array && lowRes.length === lowLength, 'lowRes', `a Float32Array of lowResSize^2 = ${lowLength} logits`, lowRes);
    assertArgument(out instanceof Uint8Array && out.length === outLength, 'out', `a Uint8Array of ${outLength}`, out);
    assertArgument(Number.isFinite(threshold) && Number.isFinite(offset), 'threshold and offset', 'finite numbers', [threshold, offset]);
    const high = threshold + offset;
    const low = threshold - offset;
    const sureHigh = Math.max(high, low) + DECISION_MARGIN;
    const sureLow = Math.min(high, low) - DECISION_MARGIN;
    for (let r = 0, i = 0; r < n; r++) {
      let first = n;
      let last = -1;
      for (let c = 0; c < n; c++, i++) {
        const v = lowRes[i];
        // NaN lands in 1 (interpolated, and then fails every comparison, as when thresholded).
        const l = v > sureHigh ? 2 : v <= sureLow ? 0 : 1;
        level[i] = l;
        if (l !== 0) {
          if (first === n) first = c;
          last = c;
        }
      }
      rowFirst[r] = first;
      rowLast[r] = last;
    }
    out.fill(0);
    let inHigh = 0;
    let inLow = 0;
    let area = 0;
    let x0 = outWidth;
    let y0 = -1;
    let x1 = -1;
    let y1 = -1;
    let windowStart = -1;
    let spanLo = n;
    let spanHi = -1;
    for (let oy = 0; oy < outHeight; oy++) {
      const ys = yStart[oy];
      if (ys !== windowStart) {
        windowStart = ys;
        spanLo = n;
        spanHi = -1;
        for (let k = 0; k < yTaps; k++) {
          if (rowFirst[ys + k] < spanLo) spanLo = rowFirst[ys + k];
          if (rowLast[ys + k] > spanHi) spanHi = rowLast[ys + k];
        }
        if (spanLo > spanHi) continue;
        // Beyond the span every column is uniformly 0 over the window.
        nextNotLow[spanHi + 1] = n;
        nextNotHigh[spanHi + 1] = spanHi + 1;
        for (let c = spanHi; c >= spanLo; c--) {
          let allLow = true;
          let allHigh = true;
          for (let k = 0, i = ys * n + c; k < yTaps; k++, i += n) {
            const l = level[i];
            if (l !== 0) allLow = false;
            if (l !== 2) allHigh = false;
          }
          nextNotLow[c] = allLow ? nextNotLow[c + 1] : c;
          nextNotHigh[c] = allHigh ? nextNotHigh[c + 1] : c;
        }
      }
      if (spanLo > spanHi) continue;
      const row = oy * outWidth;
      const oxEnd = lastStarting[spanHi];
      let first = -1;
      let last = -1;
      for (let ox = firstReaching[spanLo]; ox <= oxEnd; ox++) {
        // Columns before spanLo are uniformly 0 too, so start the look-up inside the span.
        const xs = xStart[ox];
        const xe = xs + xTaps;
        const from = xs < spanLo ? spanLo : xs;
        if (nextNotLow[from] >= xe) continue;
        if (xs >= spanLo && nextNotHigh[xs] >= xe) {
          inHigh++;
          inLow++;
        } else {
          // Same sums, same order as createLogitUpscaler: x taps, then y taps skipping zero weights.
          let acc = 0;
          for (let k = 0; k < yTaps; k++) {
            const weight = yWeights[oy * yTaps + k];
            if (weight === 0) continue;
            const src = (ys + k) * n + xs;
            const w = ox * xTaps;
            let sum = 0;
            for (let t = 0; t < xTaps; t++) sum += xWeights[w + t] * lowRes[src + t];
            acc += weight * sum;
          }
          const v = Math.fround(acc);
          if (v > high) inHigh++;
          if (v > low) inLow++;
          if (!(v > threshold)) continue;
        }
        out[row + ox] = 1;
        area++;
        if (first < 0) first = ox;
        last = ox;
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
