/** Building blocks of segment-everything (automatic mask generation). */
export { pointGrid, pointGridsPerLayer } from './grid.js';
export { generateCropBoxes, isBoxNearCropEdge, uncropBox, uncropMask, uncropPoints } from './crops.js';
export { stabilityScore } from './stability.js';
export { boxNms } from './nms.js';
export { cleanupSmallRegions, removeSmallRegions } from './small-regions.js';
export { createLogitUpscaler, createThresholdUpscaler, upscalerGeometry } from './upscale.js';
export { createCandidateJobRunner, createCandidateJudge } from './candidates.js';
export type { CandidateFilter, CandidateJob, CandidateJudge, CandidateOutcome, KeptCandidate } from './candidates.js';
export type { LogitUpscaler, LogitUpscalerGeometry, ModelFrame, ThresholdUpscaler, UpscaledMaskStats } from './upscale.js';
