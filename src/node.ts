/**
 * salip/node: the Node.js backend (onnxruntime-node), file helpers and the default MobileSAM
 * weights, plus everything from the main entry point for convenience.
 */
export * from './index.js';
export * from './backends/node.js';
export * from './backends/node-files.js';
export * from './backends/default-models.js';
export * from './backends/model-cache.js';
