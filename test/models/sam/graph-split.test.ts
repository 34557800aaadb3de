/**
 * splitDecoder on a small built graph: a constant tiled to the prompt batch and transposed (as
 * SAM's dense positional encoding is) is computed by the image part, not per prompt, and the
 * split decoder gives the whole graph's outputs for prompt batches of 1 and 2.
 */
import { describe, expect, it } from 'vitest';
import { nodeBackend } from '../../../src/backends/node.js';
import type { TensorData } from '../../../src/backends/types.js';
import { decodeOnnx } from '../../../src/models/graph/onnx.js';
import { loadSplitDecoder, splitDecoder } from '../../../src/models/sam/graph-split.js';
import { buildModel } from '../../helpers/onnx-builder.js';

const backend = nodeBackend({ modelCacheDir: false });
const values = (n: number, seed: number) => Array.from({ length: n }, (_, i) => Math.sin(i * 0.9 + seed));

/** out = ((tile(pe, n)^T + the prompt's coordinates) @ W) + 2 * image tokens. */
function decoderLike(): Uint8Array {
  return buildModel({
    inputs: [
      { name: 'image_embeddings', type: 'float32', dims: [1, 4, 2, 2] },
      { name: 'point_coords', type: 'float32', dims: ['n', 1, 3] },
    ],
    outputs: [{ name: 'out', type: 'float32', dims: ['n', 4, 4] }],
    initializers: [
      { name: 'pe', type: 'float32', dims: [1, 3, 4], values: values(12, 1) },
      { name: 'w', type: 'float32', dims: [3, 4], values: values(12, 2) },
      { name: 'two', type: 'float32', dims: [], values: [2] },
      { name: 'zero', type: 'int64', dims: [], values: [0] },
      { name: 'axes', type: 'int64', dims: [1], values: [0] },
      { name: 'ones', type: 'int64', dims: [2], values: [1, 1] },
      { name: 'tokens_shape', type: 'int64', dims: [3], values: [1, 4, 4] },
    ],
    nodes: [
      { op: 'Shape', inputs: ['point_coords'], outputs: ['coords_dims'] },
      { op: 'Gather', inputs: ['coords_dims', 'zero'], outputs: ['n'], attrs: { axis: 0 } },
      { op: 'Unsqueeze', inputs: ['n', 'axes'], outputs: ['n1'] },
      { op: 'Concat', inputs: ['n1', 'ones'], outputs: ['repeats'], attrs: { axis: 0 } },
      { op: 'Tile', inputs: ['pe', 'repeats'], outputs: ['tiled'] },
      { op: 'Transpose', inputs: ['tiled'], outputs: ['pos'], attrs: { perm: [0, 2, 1] } },
      { op: 'Add', inputs: ['pos', 'point_coords'], outputs: ['queries'] },
      { op: 'MatMul', inputs: ['queries', 'w'], outputs: ['projected'] },
      { op: 'Reshape', inputs: ['image_embeddings', 'tokens_shape'], outputs: ['tokens'] },
      { op: 'Mul', inputs: ['tokens', 'two'], outputs: ['scaled'] },
      { op: 'Add', inputs: ['projected', 'scaled'], outputs: ['out'] },
    ],
  });
}

describe('splitDecoder', () => {
  const model = decoderLike();

  it('computes a constant tiled to the prompt batch in the image part', () => {
    const split = splitDecoder(model, ['out']);
    expect(split.boundary).toEqual(['pos', 'scaled']);
    const promptOps = decodeOnnx(split.promptBytes(new Map([['pos', 1], ['scaled', 1]])), 'test').graph!.node!.map((n) => n.opType);
    expect(promptOps).not.toContain('Tile');
    expect(promptOps).not.toContain('Transpose');
  });

  it('gives the whole graph outputs for prompt batches of 1 and 2', async () => {
    const whole = await backend.loadModel(model, { label: 'whole' });
    const split = await loadSplitDecoder(backend, model, ['out'], { label: 'split' });
    const image: TensorData = { type: 'float32', dims: [1, 4, 2, 2], data: Float32Array.from(values(16, 3)) };
    for (const n of [1, 2, 1]) {
      const feeds: Record<string, TensorData> = { image_embeddings: image, point_coords: { type: 'float32', dims: [n, 1, 3], data: Float32Array.from(values(3 * n, n)) } };
      const [a, b] = [await whole.run(feeds, ['out']), await split.run(feeds, ['out'])];
      expect(b.out.dims).toEqual([n, 4, 4]);
      expect(Array.from(b.out.data as Float32Array)).toEqual(Array.from(a.out.data as Float32Array));
    }
    await Promise.all([whole.dispose(), split.dispose()]);
  });
});
