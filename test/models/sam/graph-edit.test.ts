import { describe, expect, it } from 'vitest';
import { nodeBackend } from '../../../src/backends/node.js';
import type { ModelSession, TensorData } from '../../../src/backends/types.js';
import { isSalipError } from '../../../src/core/errors.js';
import {
  ALL_IOU_OUTPUT,
  ALL_MASKS_OUTPUT,
  detectDecoderKind,
  dropGraphOutputs,
  exposeMultimaskOutputs,
  freePromptBatch,
  prepareSamDecoder,
  PROMPT_BATCH_DIM,
} from '../../../src/models/sam/graph-edit.js';
import { buildModel } from '../../helpers/onnx-builder.js';
import {
  FAKE_IOU_BASE,
  fakeMaskLogits,
  fakeMultiMaskDecoder,
  fakeSingleMaskDecoder,
} from '../../helpers/sam-fake-models.js';

const backend = nodeBackend({ intraOpThreads: 1 });

function feeds(points: number[], labels: number[], embeddingValue = 0): Record<string, TensorData> {
  return {
    image_embeddings: { type: 'float32', dims: [1, 256, 64, 64], data: new Float32Array(256 * 64 * 64).fill(embeddingValue) },
    point_coords: { type: 'float32', dims: [1, labels.length, 2], data: Float32Array.from(points) },
    point_labels: { type: 'float32', dims: [1, labels.length], data: Float32Array.from(labels) },
    mask_input: { type: 'float32', dims: [1, 1, 256, 256], data: new Float32Array(256 * 256) },
    has_mask_input: { type: 'float32', dims: [1], data: new Float32Array(1) },
    orig_im_size: { type: 'float32', dims: [2], data: Float32Array.from([40, 60]) },
  };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

function expectEditError(fn: () => unknown, ...fragments: string[]): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(isSalipError(error, 'GRAPH_EDIT_FAILED'), `expected GRAPH_EDIT_FAILED, got ${String(error)}`).toBe(true);
  for (const fragment of fragments) expect((error as Error).message).toContain(fragment);
}

describe('exposeMultimaskOutputs on the fake Meta-style single-mask decoder', () => {
  it('adds the all-masks and all-IoU outputs, which hold the 4 candidates before selection', async () => {
    const edit = exposeMultimaskOutputs(fakeSingleMaskDecoder());
    expect(edit.masksOutput).toBe(ALL_MASKS_OUTPUT);
    expect(edit.iouOutput).toBe(ALL_IOU_OUTPUT);
    const session = await backend.loadModel(edit.bytes, { label: 'edited' });
    expect(session.outputs.map((o) => o.name)).toEqual(['masks', 'iou_predictions', 'low_res_masks', ALL_MASKS_OUTPUT, ALL_IOU_OUTPUT]);
    // One point + padding point: 2 points, so Meta's reweighting excludes mask 0 and picks mask 1 (IoU 0.9).
    const out = await session.run(feeds([400, 240, 0, 0], [1, -1], 0.25));
    expect(out[ALL_MASKS_OUTPUT].dims).toEqual([1, 4, 256, 256]);
    expect(out[ALL_IOU_OUTPUT].dims).toEqual([1, 4]);
    const all = out[ALL_MASKS_OUTPUT].data as Float32Array;
    for (let k = 0; k < 4; k++) {
      expect(maxAbsDiff(all.subarray(k * 65536, (k + 1) * 65536), fakeMaskLogits(k, 400, 240))).toBeLessThan(1e-3);
    }
    const iou = Array.from(out[ALL_IOU_OUTPUT].data as Float32Array);
    FAKE_IOU_BASE.forEach((base, k) => expect(iou[k]).toBeCloseTo(base + 0.25, 5));
    expect(out.low_res_masks.dims).toEqual([1, 1, 256, 256]);
    expect(maxAbsDiff(out.low_res_masks.data as Float32Array, all.subarray(65536, 2 * 65536))).toBe(0);
    expect((out.iou_predictions.data as Float32Array)[0]).toBeCloseTo(1.15, 5);
    await session.dispose();
  });

  it('leaves the original selection intact: three points pick mask 0 as the Meta export does', async () => {
    const session = await backend.loadModel(exposeMultimaskOutputs(fakeSingleMaskDecoder()).bytes);
    const out = await session.run(feeds([100, 120, 10, 10, 300, 300], [1, 2, 3]), ['low_res_masks', ALL_MASKS_OUTPUT]);
    const all = out[ALL_MASKS_OUTPUT].data as Float32Array;
    expect(maxAbsDiff(out.low_res_masks.data as Float32Array, all.subarray(0, 65536))).toBe(0);
    await session.dispose();
  });

  it('drops the full-size masks output and the nodes only it needed, keeping the rest runnable', async () => {
    const edit = exposeMultimaskOutputs(fakeSingleMaskDecoder(), { dropOutputs: ['masks'] });
    const session = await backend.loadModel(edit.bytes);
    expect(session.outputs.map((o) => o.name)).toEqual(['iou_predictions', 'low_res_masks', ALL_MASKS_OUTPUT, ALL_IOU_OUTPUT]);
    expect(session.inputs.map((i) => i.name)).toContain('orig_im_size');
    const out = await session.run(feeds([40, 80, 0, 0], [1, -1]));
    expect(maxAbsDiff((out[ALL_MASKS_OUTPUT].data as Float32Array).subarray(3 * 65536), fakeMaskLogits(3, 40, 80))).toBeLessThan(1e-3);
    await session.dispose();
    // The Resize that made `masks` is gone from the serialised graph.
    const text = new TextDecoder('latin1').decode(edit.bytes);
    expect(text).not.toContain('Resize');
    expect(new TextDecoder('latin1').decode(fakeSingleMaskDecoder())).toContain('Resize');
  });

  it('is idempotent on an already edited graph', () => {
    const once = exposeMultimaskOutputs(fakeSingleMaskDecoder()).bytes;
    expect(exposeMultimaskOutputs(once).bytes).toEqual(once);
  });
});

describe('prepareSamDecoder', () => {
  it('exposes and drops in one pass, ignoring outputs that are absent', async () => {
    const prepared = prepareSamDecoder(fakeSingleMaskDecoder(), { exposeMultimask: true, dropOutputs: ['masks', 'not_there'] });
    expect(prepared.exposed).toBe(true);
    expect(prepared.exposeError).toBeUndefined();
    const session = await backend.loadModel(prepared.bytes);
    expect(session.outputs.map((o) => o.name)).toEqual(['iou_predictions', 'low_res_masks', ALL_MASKS_OUTPUT, ALL_IOU_OUTPUT]);
    await session.dispose();
  });

  it('returns the exposure failure instead of throwing, and still prunes', async () => {
    const prepared = prepareSamDecoder(fakeMultiMaskDecoder(), { exposeMultimask: true, dropOutputs: ['masks'] });
    expect(prepared.exposed).toBe(false);
    expect(isSalipError(prepared.exposeError, 'GRAPH_EDIT_FAILED')).toBe(true);
    const session = await backend.loadModel(prepared.bytes);
    expect(session.outputs.map((o) => o.name)).toEqual(['iou_predictions', 'low_res_masks']);
    await session.dispose();
  });

  it('returns the input bytes untouched when there is nothing to do', () => {
    const bytes = fakeMultiMaskDecoder();
    const pruned = dropGraphOutputs(bytes, ['masks']);
    expect(prepareSamDecoder(pruned, { exposeMultimask: false, dropOutputs: ['masks'] }).bytes).toBe(pruned);
  });
});

describe('exposeMultimaskOutputs refusals', () => {
  it('explains that a native multi-mask decoder has no selection to undo', () => {
    expectEditError(() => exposeMultimaskOutputs(fakeMultiMaskDecoder()), '"low_res_masks"', 'Identity <- Sub', 'Gather on a Flatten');
  });

  it('names the missing outputs', () => {
    const bytes = fakeSingleMaskDecoder({ rename: { low_res_masks: 'lowres' } });
    expectEditError(() => exposeMultimaskOutputs(bytes), 'expected graph outputs "low_res_masks" and "iou_predictions"', '"lowres"');
  });

  it('refuses a Gather whose data does not come from a Flatten', () => {
    const bytes = buildModel({
      inputs: [{ name: 'x', type: 'float32', dims: [4, 3] }],
      outputs: [
        { name: 'low_res_masks', type: 'float32', dims: [1, 3] },
        { name: 'iou_predictions', type: 'float32', dims: [4, 3] },
      ],
      initializers: [{ name: 'idx', type: 'int64', dims: [1], values: [1] }],
      nodes: [
        { op: 'Relu', inputs: ['x'], outputs: ['r'] },
        { op: 'Gather', inputs: ['r', 'idx'], outputs: ['low_res_masks'], attrs: { axis: 0 } },
        { op: 'Identity', inputs: ['x'], outputs: ['iou_predictions'] },
      ],
    });
    expectEditError(() => exposeMultimaskOutputs(bytes), 'whose data input "r" is produced by a Relu node');
  });

  it('reports a walk that reaches a graph input', () => {
    const bytes = buildModel({
      inputs: [{ name: 'x', type: 'float32', dims: [1] }],
      outputs: [
        { name: 'low_res_masks', type: 'float32', dims: [1] },
        { name: 'iou_predictions', type: 'float32', dims: [1] },
      ],
      nodes: [
        { op: 'Identity', inputs: ['x'], outputs: ['low_res_masks'] },
        { op: 'Identity', inputs: ['x'], outputs: ['iou_predictions'] },
      ],
    });
    expectEditError(() => exposeMultimaskOutputs(bytes), 'reached "x", a graph input or initializer');
  });

  it('refuses bytes that are not ONNX as DECODE_FAILED', () => {
    let error: unknown;
    try {
      exposeMultimaskOutputs(new TextEncoder().encode('definitely not a protobuf model'));
    } catch (e) {
      error = e;
    }
    expect(isSalipError(error, 'DECODE_FAILED')).toBe(true);
  });

  it('refuses dropping an output that does not exist', () => {
    expectEditError(() => dropGraphOutputs(fakeSingleMaskDecoder(), ['full_masks']), 'cannot drop output "full_masks"');
  });
});

describe('detectDecoderKind', () => {
  async function kindOf(bytes: Uint8Array) {
    const session: ModelSession = await backend.loadModel(bytes);
    try {
      return detectDecoderKind(session);
    } finally {
      await session.dispose();
    }
  }

  it('classifies the fake exports from their metadata', async () => {
    expect(await kindOf(fakeSingleMaskDecoder())).toMatchObject({ kind: 'single-mask' });
    expect(await kindOf(fakeMultiMaskDecoder())).toMatchObject({ kind: 'native-multimask', maskCount: 4 });
    expect(await kindOf(fakeMultiMaskDecoder({ maskDim: 'num_masks' }))).toMatchObject({
      kind: 'undetermined',
      reason: expect.stringContaining('"num_masks"'),
    });
    expect(await kindOf(exposeMultimaskOutputs(fakeSingleMaskDecoder()).bytes)).toMatchObject({ kind: 'edited' });
  });

  it('handles declarations without dims and refuses a decoder without low_res_masks', () => {
    expect(detectDecoderKind({ outputs: [{ name: 'low_res_masks', type: 'float32' }] }).kind).toBe('undetermined');
    expect(() => detectDecoderKind({ outputs: [{ name: 'masks', type: 'float32' }] })).toThrow(/expected an output "low_res_masks"/);
  });
});

describe('freePromptBatch', () => {
  async function inputDims(bytes: Uint8Array) {
    const session = await backend.loadModel(bytes, { label: 'batched' });
    try {
      return Object.fromEntries(session.inputs.map((i) => [i.name, i.dims]));
    } finally {
      await session.dispose();
    }
  }

  it('frees the batch of point_coords and point_labels only, on a plain and an edited decoder', async () => {
    for (const bytes of [fakeSingleMaskDecoder(), prepareSamDecoder(fakeSingleMaskDecoder(), { exposeMultimask: true, dropOutputs: ['masks'] }).bytes]) {
      const before = await inputDims(bytes);
      const dims = await inputDims(freePromptBatch(bytes));
      expect(dims.point_coords?.[0]).toBe(PROMPT_BATCH_DIM);
      expect(dims.point_labels?.[0]).toBe(PROMPT_BATCH_DIM);
      expect(dims.point_coords?.slice(1)).toEqual(before.point_coords?.slice(1));
      expect(dims.image_embeddings).toEqual(before.image_embeddings);
      expect(dims.mask_input).toEqual(before.mask_input);
    }
  });

  it('refuses a decoder without the prompt inputs or with a batch other than 1, and bytes that are not ONNX', () => {
    const noPoints = buildModel({
      inputs: [{ name: 'image_embeddings', type: 'float32', dims: [1, 4] }],
      outputs: [{ name: 'low_res_masks', type: 'float32', dims: [1, 4] }],
      nodes: [{ op: 'Identity', inputs: ['image_embeddings'], outputs: ['low_res_masks'] }],
    });
    expect(() => freePromptBatch(noPoints)).toThrow(/no input "point_coords"/);
    const batchTwo = buildModel({
      inputs: [
        { name: 'point_coords', type: 'float32', dims: [2, 'n', 2] },
        { name: 'point_labels', type: 'float32', dims: [2, 'n'] },
      ],
      outputs: [{ name: 'low_res_masks', type: 'float32', dims: [2, 'n'] }],
      nodes: [{ op: 'Identity', inputs: ['point_labels'], outputs: ['low_res_masks'] }],
    });
    let error: unknown;
    try {
      freePromptBatch(batchTwo);
    } catch (e) {
      error = e;
    }
    expect(isSalipError(error) && error.code).toBe('GRAPH_EDIT_FAILED');
    expect((error as Error).message).toContain('batch 2');
    expect(() => freePromptBatch(new Uint8Array([1, 2, 3, 4]))).toThrow();
  });
});
