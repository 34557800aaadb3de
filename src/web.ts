/**
 * salip/web: the browser backend (onnxruntime-web, wasm or WebGPU) and browser image helpers,
 * plus everything from the main entry point for convenience.
 */
export * from './index.js';
export * from './backends/web.js';
export * from './web-image.js';
