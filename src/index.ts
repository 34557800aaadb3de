/**
 * salip: zero-shot medical image segmentation with a cascade of SAM and CLIP (SaLIP).
 * This entry point is backend-agnostic: pair it with nodeBackend() from 'salip/node' or
 * webBackend() from 'salip/web'.
 */
export * from './core/errors.js';
export type * from './core/types.js';
export * from './core/image.js';
export * from './core/mask.js';
export * from './core/everything/index.js';
export * from './core/prompts.js';
export * from './core/overlay.js';
export * from './core/similarity.js';
export * from './core/random.js';
export * from './core/pooling.js';
export * from './core/volume.js';
export * from './core/exemplar-prior.js';
export * from './core/ellipse.js';
export * from './core/rings.js';
export * from './core/peel.js';
export * from './io/image-codecs.js';
export * from './io/nifti.js';
export type * from './backends/types.js';
export type * from './pipeline/types.js';
export * from './models/sam/graph-edit.js';
export * from './models/sam/sam.js';
export * from './models/sam/sam-presets.js';
export * from './models/sam/decoder-contracts.js';
export * from './models/sam/detect.js';
export * from './models/clip/clip.js';
export * from './models/clip/clip-presets.js';
export * from './models/clip/tokenizer.js';
export * from './models/clip/hf-folder.js';
export { quantizeModel, quantizePerColumn, QUANTIZER_VERSION, SAM_DECODER_KEEP_FLOAT, type QuantizeOptions, type QuantizeReport, type QuantizableOp, type QuantizedWeightType } from './models/graph/quantize.js';
export { carryChannelsLast, type ChannelsLastReport } from './models/graph/channels-last.js';
export { quantizeTag, type QuantizeSetting } from './models/graph/quantized-source.js';
export * from './pipeline/scorers.js';
export * from './pipeline/prompt-ensembles.js';
export * from './pipeline/stages/options.js';
export * from './pipeline/stages/segment-everything.js';
export * from './pipeline/stages/candidate-makers.js';
export * from './pipeline/stages/prompted.js';
export * from './pipeline/stages/retrieve.js';
export * from './pipeline/stages/refine.js';
export * from './pipeline/stages/proposals.js';
export * from './pipeline/stages/rescore.js';
export * from './pipeline/cascade.js';
export * from './pipeline/baselines.js';
export * from './pipeline/tasks.js';
export * from './pipeline/salip.js';
export * from './pipeline/evaluate.js';
export * from './pipeline/tune.js';
export * from './pipeline/volume.js';
