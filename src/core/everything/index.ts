/** Building blocks of segment-everything (automatic mask generation). */
export { pointGrid, pointGridsPerLayer } from './grid.js';
export { generateCropBoxes, isBoxNearCropEdge, uncropBox, uncropMask, uncropPoints } from './crops.js';
export { stabilityScore } from './stability.js';
export { boxNms } from './nms.js';
export { cleanupSmallRegions, removeSmallRegions } from './small-regions.js';
export { createLogitUpscaler, upscalerGeometry } from './upscale.js';
export { createThresholdUpscaler } from './threshold-upscale.js';
export { createCandidateJobRunner, createCandidateJudge } from './candidates.js';
export type { CandidateFilter, CandidateJob, CandidateJudge, CandidateOutcome, KeptCandidate } from './candidates.js';
export type { LogitUpscaler, LogitUpscalerGeometry, ModelFrame } from './upscale.js';
export type { ThresholdUpscaler, UpscaledMaskStats } from './threshold-upscale.js';
