/**
 * The decoder clean-up on real MobileSAM: the copy specialised to two prompt points gives the
 * same logits as the original (points and boxes), and the adapter, whose split decoder runs on
 * that copy, gives the same masks as without the split for two-point prompts and for prompts
 * of another point count (which go to the whole decoder).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultSamFiles } from '../../src/backends/default-models.js';
import { nodeBackend } from '../../src/backends/node.js';
import { specializePointCount } from '../../src/models/graph/cleanup.js';
import { decodeOnnx } from '../../src/models/graph/onnx.js';
import { prepareSamDecoder } from '../../src/pipeline/graph-edit.js';
import { createSamModel, type SamAdapterModel } from '../../src/pipeline/sam.js';
import type { SamPrompt } from '../../src/pipeline/types.js';
import { fakeSingleMaskDecoder } from '../helpers/sam-fake-models.js';
import { testImage } from '../helpers/fake-sam.js';

const backend = nodeBackend({ modelCacheDir: false });
const files = defaultSamFiles();

function maxDifference(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe('specializePointCount', () => {
  it('fixes the point dimension of both prompt inputs and refuses a decoder without them', () => {
    const graph = decodeOnnx(specializePointCount(fakeSingleMaskDecoder()), 'test').graph!;
    const dims = (name: string) => graph.input!.find((i) => i.name === name)!.type!.tensorType!.shape!.dim!.map((d) => Number(d.dimValue ?? 0));
    expect(dims('point_coords')).toEqual([1, 2, 2]);
    expect(dims('point_labels')).toEqual([1, 2]);
    expect(() => specializePointCount(specializePointCount(fakeSingleMaskDecoder()), 3)).toThrow(/fixed point count 2, not 3/);
    expect(() => specializePointCount(fakeSingleMaskDecoder(), 0)).toThrow(/count: expected a positive integer/);
  });

  it('gives the same logits as the original MobileSAM decoder for a point and a box', async () => {
    const prepared = prepareSamDecoder(new Uint8Array(readFileSync(files.decoder)), { exposeMultimask: true, dropOutputs: ['masks'] }).bytes;
    const [whole, fixed] = [await backend.loadModel(prepared, { label: 'whole' }), await backend.loadModel(specializePointCount(prepared), { label: 'fixed' })];
    const embedding = Float32Array.from({ length: 256 * 64 * 64 }, (_, i) => Math.sin(i * 0.37) * 0.5);
    for (const [coords, labels] of [[[500, 420, 0, 0], [1, -1]], [[200, 300, 700, 800], [2, 3]]]) {
      const feeds = {
        image_embeddings: { type: 'float32' as const, dims: [1, 256, 64, 64], data: embedding },
        point_coords: { type: 'float32' as const, dims: [1, 2, 2], data: Float32Array.from(coords) },
        point_labels: { type: 'float32' as const, dims: [1, 2], data: Float32Array.from(labels) },
        mask_input: { type: 'float32' as const, dims: [1, 1, 256, 256], data: new Float32Array(65536) },
        has_mask_input: { type: 'float32' as const, dims: [1], data: new Float32Array(1) },
        orig_im_size: { type: 'float32' as const, dims: [2], data: Float32Array.from([1024, 1024]) },
      };
      const names = ['salip_all_low_res_masks', 'salip_all_iou_predictions'];
      const [a, b] = [await whole.run(feeds, names), await fixed.run(feeds, names)];
      expect(maxDifference(a[names[0]].data as Float32Array, b[names[0]].data as Float32Array)).toBeLessThan(1e-3);
      expect(maxDifference(a[names[1]].data as Float32Array, b[names[1]].data as Float32Array)).toBeLessThan(1e-4);
    }
    await Promise.all([whole.dispose(), fixed.dispose()]);
  });
});

describe('the adapter with the specialised split decoder', () => {
  let split: SamAdapterModel;
  let plain: SamAdapterModel;
  beforeAll(async () => {
    split = await createSamModel(backend, files);
    plain = await createSamModel(backend, { ...files, splitDecoder: false });
  });
  afterAll(() => Promise.all([split?.dispose(), plain?.dispose()]));

  it('gives the same logits as the whole decoder for 2-point and 3-point prompts', async () => {
    const image = testImage(256, 256, [60, 80, 190, 200]);
    const [e1, e2] = [await split.embed(image), await plain.embed(image)];
    const prompts: SamPrompt[] = [
      { points: [{ x: 120, y: 140, label: 1 }] },
      { box: [60, 80, 190, 200] },
      { points: [{ x: 100, y: 120, label: 1 }] },
      // From here on the split decoder is engaged: two points (split) and three (whole decoder).
      { points: [{ x: 130, y: 150, label: 1 }] },
      { points: [{ x: 130, y: 150, label: 1 }, { x: 20, y: 20, label: 0 }] },
      { box: [60, 80, 190, 200] },
    ];
    for (const prompt of prompts) {
      const [a, b] = [await split.decode(e1, prompt, { multimask: true }), await plain.decode(e2, prompt, { multimask: true })];
      for (let k = 0; k < 3; k++) expect(maxDifference(a.lowResLogits[k], b.lowResLogits[k]), JSON.stringify(prompt)).toBeLessThan(1e-3);
    }
  });
});
