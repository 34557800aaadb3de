/**
 * Stored DICOM samples -> values and 8-bit images. Pure functions over plain arrays:
 *   gray:   stored -> RescaleSlope/Intercept (modality values) -> VOI LUT, else the first
 *           WindowCenter/Width, else the values' own range -> 0..255, inverted for MONOCHROME1;
 *   colour: YBR_FULL / YBR_FULL_422 -> RGB (ITU-R BT.601 full range, PS3.3 C.7.6.3.1.2),
 *           8-bit samples kept, deeper ones scaled by their range.
 */
import { finiteRange, windowTo8Bit } from '../../core/image.js';
import type { RgbImage } from '../../core/types.js';
import type { DicomValueMapping } from './parse.js';

/** A window as the 8-bit conversion takes it: values <= min -> 0, >= max -> 255. */
export interface ValueWindow {
  readonly min: number;
  readonly max: number;
}

/** Modality values: stored * RescaleSlope + RescaleIntercept. */
export function modalityValues(samples: ArrayLike<number>, mapping: Pick<DicomValueMapping, 'rescaleSlope' | 'rescaleIntercept'>): Float32Array {
  const out = new Float32Array(samples.length);
  const { rescaleSlope: slope, rescaleIntercept: intercept } = mapping;
  for (let i = 0; i < samples.length; i++) out[i] = samples[i] * slope + intercept;
  return out;
}

/**
 * The window DICOM's linear VOI function describes (PS3.3 C.11.2.1.2.1): values at or below
 * c - 0.5 - (w - 1) / 2 are black, at or above c - 0.5 + (w - 1) / 2 white. For w = 1 that is a
 * threshold; it is widened by a tiny step so the window keeps max > min.
 */
export function windowFromCenterWidth(center: number, width: number): ValueWindow {
  const min = center - 0.5 - (width - 1) / 2;
  const max = center - 0.5 + (width - 1) / 2;
  return max > min ? { min, max } : { min, max: min + 1e-3 };
}

/** Values through a VOI LUT (inputs outside the table take its first/last entry). */
export function applyVoiLut(values: Float32Array, lut: { firstMapped: number; data: readonly number[] }): Float32Array {
  const out = new Float32Array(values.length);
  const last = lut.data.length - 1;
  for (let i = 0; i < values.length; i++) {
    const index = Math.round(values[i]) - lut.firstMapped;
    out[i] = lut.data[index < 0 ? 0 : index > last ? last : index];
  }
  return out;
}

/**
 * Gray modality values as an 8-bit RGB image: the VOI LUT when the file has one, else its first
 * window, else `fallback` (e.g. a whole series' range), else the values' own range.
 */
export function grayTo8Bit(width: number, height: number, values: Float32Array, mapping: DicomValueMapping, photometric: string, fallback?: ValueWindow): RgbImage {
  let shown = values;
  let window: ValueWindow | undefined;
  if (mapping.voiLut !== undefined) {
    shown = applyVoiLut(values, mapping.voiLut);
    window = finiteRange(mapping.voiLut.data);
  } else if (mapping.windowCenter !== undefined && mapping.windowWidth !== undefined) {
    window = windowFromCenterWidth(mapping.windowCenter, mapping.windowWidth);
  } else {
    window = fallback ?? finiteRange(values);
  }
  const gray = window.max > window.min ? windowTo8Bit(shown, window) : new Uint8Array(values.length);
  if (photometric === 'MONOCHROME1') for (let i = 0; i < gray.length; i++) gray[i] = 255 - gray[i];
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0, o = 0; p < gray.length; p++, o += 3) rgb[o] = rgb[o + 1] = rgb[o + 2] = gray[p];
  return { width, height, data: rgb };
}

/**
 * Interleaved colour samples as an 8-bit RGB image. `photometric` is what the samples are now
 * (codecs that undo the YCbCr transform themselves report RGB); `bitsStored` sets the full scale.
 */
export function colourTo8Bit(width: number, height: number, samples: ArrayLike<number>, photometric: string, bitsStored: number): RgbImage {
  const full = 2 ** bitsStored - 1;
  const rgb = photometric.startsWith('YBR_FULL') ? ybrFullToRgb(samples, full) : samples;
  const data = new Uint8Array(width * height * 3);
  if (bitsStored === 8) {
    for (let i = 0; i < data.length; i++) data[i] = rgb[i];
  } else {
    for (let i = 0; i < data.length; i++) data[i] = Math.round((Math.min(full, Math.max(0, rgb[i])) * 255) / full);
  }
  return { width, height, data };
}

/** YBR_FULL (BT.601, full range, chroma centred at half scale) to RGB, clamped and rounded. */
export function ybrFullToRgb(samples: ArrayLike<number>, full = 255): Float32Array {
  const out = new Float32Array(samples.length);
  const half = (full + 1) / 2;
  const clamp = (v: number) => Math.round(v < 0 ? 0 : v > full ? full : v);
  for (let i = 0; i + 2 < samples.length; i += 3) {
    const y = samples[i];
    const cb = samples[i + 1] - half;
    const cr = samples[i + 2] - half;
    out[i] = clamp(y + 1.402 * cr);
    out[i + 1] = clamp(y - 0.344136 * cb - 0.714136 * cr);
    out[i + 2] = clamp(y + 1.772 * cb);
  }
  return out;
}

/**
 * Native YBR_FULL_422 data stores Y1 Y2 Cb Cr for each pair of pixels along a row; this expands
 * it to Y Cb Cr per pixel (each pair shares its chroma).
 */
export function expandYbr422(packed: ArrayLike<number>, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  const pairsPerRow = Math.ceil(width / 2);
  for (let y = 0; y < height; y++) {
    for (let pair = 0; pair < pairsPerRow; pair++) {
      const at = (y * pairsPerRow + pair) * 4;
      for (let k = 0; k < 2 && pair * 2 + k < width; k++) {
        const o = (y * width + pair * 2 + k) * 3;
        out[o] = packed[at + k];
        out[o + 1] = packed[at + 2];
        out[o + 2] = packed[at + 3];
      }
    }
  }
  return out;
}
