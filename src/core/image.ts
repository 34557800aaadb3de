/**
 * RgbImage construction, conversions, resizing, cropping, padding and the float tensors that SAM,
 * MedSAM and CLIP image encoders expect. Pure functions over plain data (browser-safe); the parts
 * live in image/ (convert, resize, tensor).
 */
export { CLIP_MEAN, CLIP_STD, DEFAULT_MAX_PIXELS, SAM_PIXEL_MEAN, SAM_PIXEL_STD, assertRgbImage, createRgbImage, finiteRange, rgbFromGray, rgbFromGray16, rgbFromGrayAlpha, rgbFromRgba, toGray, windowTo8Bit } from './image/convert.js';
export type { ResizeKernel } from './image/convert.js';
export { centerCrop, cropImage, longestSideSize, padImage, resizeImage, resizeShortestSide } from './image/resize.js';
export { clipPreprocess, minMaxToChw, normalizeToChw, resizeToChw } from './image/tensor.js';
