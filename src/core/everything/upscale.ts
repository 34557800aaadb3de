/**
 * SAM low-resolution logits -> logits at the original image size, exactly as segment-anything's
 * postprocess_masks: bilinear upscale to the square model input, crop off the padding, bilinear
 * resize to the image. Both steps are linear and separable, so each axis is one small sparse
 * matrix (the composition of the two 1-D interpolations) and the model-input-sized intermediate
 * is never built. The thresholding variant lives in threshold-upscale.ts.
 */
import { assertArgument } from '../errors.js';

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
export function checkGeometry(p: LogitUpscalerGeometry): void {
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
