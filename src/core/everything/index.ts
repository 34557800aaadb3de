/** Building blocks of segment-everything (automatic mask generation). */
export { pointGrid, pointGridsPerLayer } from './grid.js';
export { generateCropBoxes, isBoxNearCropEdge, uncropBox, uncropMask, uncropPoints } from './crops.js';
export { stabilityScore } from './stability.js';
export { boxNms } from './nms.js';
export { cleanupSmallRegions, removeSmallRegions } from './small-regions.js';
export { createLogitUpscaler, createThresholdUpscaler } from './upscale.js';
export type { LogitUpscaler, LogitUpscalerGeometry, ThresholdUpscaler, UpscaledMaskStats } from './upscale.js';
