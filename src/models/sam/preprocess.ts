/**
 * The encoder input for one image and the transform from image pixels to the model frame, per
 * preset: keep-aspect padded (SAM), stretched (MedSAM, SAM 2) or as is (EfficientSAM, whose
 * graph resizes inside); mean/std, min-max or / 255.
 */
import { longestSideSize, minMaxToChw, resizeImage, resizeToChw } from '../../core/image.js';
import type { RgbImage } from '../../core/types.js';
import type { SamInputTransform } from './types.js';
import type { SamPreset } from './sam-presets.js';

/** Reorders planar CHW to interleaved HWC (for encoders declared [1, S, S, 3]). */
function chwToHwc(chw: Float32Array, width: number, height: number): Float32Array {
  const plane = width * height;
  const out = new Float32Array(plane * 3);
  for (let c = 0; c < 3; c++) {
    for (let i = 0, o = c; i < plane; i++, o += 3) out[o] = chw[c * plane + i];
  }
  return out;
}

/** Size of the image inside the encoder input, before padding. */
function targetSize(image: RgbImage, preset: SamPreset): { width: number; height: number } {
  const size = preset.inputSize;
  if (preset.resize === 'none') return { width: image.width, height: image.height };
  return preset.resize === 'stretch' ? { width: size, height: size } : longestSideSize(image.width, image.height, size);
}

/** How image pixels map into the model frame (and the low-res logits that cover it). */
function inputTransform(image: RgbImage, preset: SamPreset, target: { width: number; height: number }): SamInputTransform {
  const size = preset.inputSize;
  // resize 'none': the graph stretches the image to its square frame itself.
  const resized = preset.resize === 'none' ? { width: size, height: size } : target;
  // Per-axis ratios of the rounded resized size, as segment-anything's ResizeLongestSide.apply_coords.
  return {
    inputSize: size,
    scaleX: resized.width / image.width,
    scaleY: resized.height / image.height,
    resizedWidth: resized.width,
    resizedHeight: resized.height,
    imageWidth: image.width,
    imageHeight: image.height,
  };
}

/** Makes the encoder input (its dims too) and the coordinate transform for one image. */
export function preprocess(
  image: RgbImage,
  preset: SamPreset,
  reuse?: Float32Array,
): { input: Float32Array; dims: number[]; transform: SamInputTransform } {
  const target = targetSize(image, preset);
  const padded = preset.resize === 'none' ? target : { width: preset.inputSize, height: preset.inputSize };
  const length = 3 * padded.width * padded.height;
  // The NHWC layout makes its own array from the CHW one, so only CHW reuses a buffer.
  const out = preset.encoderLayout === 'nhwc' || reuse?.length !== length ? undefined : reuse;
  const pad = { padWidth: padded.width, padHeight: padded.height, out };
  const unchanged = target.width === image.width && target.height === image.height;
  const mean: [number, number, number] = preset.normalize === 'unit' ? [0, 0, 0] : [...preset.pixelMean];
  const std: [number, number, number] = preset.normalize === 'unit' ? [255, 255, 255] : [...preset.pixelStd];
  // Min-max needs the range of the resized image first; the others resize and normalise row by row.
  const chw =
    preset.normalize === 'min-max'
      ? minMaxToChw(unchanged ? image : resizeImage(image, target.width, target.height, 'bilinear'), pad)
      : resizeToChw(image, target.width, target.height, { kernel: 'bilinear', mean, std, ...pad });
  const nhwc = preset.encoderLayout === 'nhwc';
  return {
    input: nhwc ? chwToHwc(chw, padded.width, padded.height) : chw,
    dims: nhwc ? [1, padded.height, padded.width, 3] : [1, 3, padded.height, padded.width],
    transform: inputTransform(image, preset, target),
  };
}
