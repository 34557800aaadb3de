/**
 * Tiny SAM-shaped ONNX models for adapter tests: the exact input/output names, dtypes and shapes
 * of Meta-style exports, with outputs that are known functions of the inputs.
 *
 * Fake decoder logits: mask k is a disk of radius FAKE_MASK_RADII[k] (low-res pixels) around the
 * FIRST prompt point, logit(i, j) = r_k^2 - ((j + 0.5 - px / 4)^2 + (i + 0.5 - py / 4)^2), where
 * (px, py) is that point in the 1024 model frame and (i, j) a row/column of the 256 x 256 grid.
 * IoU of mask k = FAKE_IOU_BASE[k] + mean(image_embeddings). The single-mask variant selects as
 * Meta's export does: score = iou + (numPoints - 2.5) * [1000, 0, 0, 0], best = ArgMax(score),
 * then Gather(Flatten(all), best) -> Reshape -> Reshape -> Unsqueeze for masks and IoU alike.
 */
import { buildModel, type InitSpec, type IoSpec, type NodeSpec } from './onnx-builder.js';

export const FAKE_LOW_RES = 256;
export const FAKE_MASK_RADII = [6, 12, 20, 30] as const;
export const FAKE_IOU_BASE = [0.5, 0.9, 0.7, 0.8] as const;

/** Expected logits of fake mask k for a first point (px, py) given in the 1024 model frame. */
export function fakeMaskLogits(k: number, px: number, py: number): Float32Array {
  const out = new Float32Array(FAKE_LOW_RES * FAKE_LOW_RES);
  const r2 = FAKE_MASK_RADII[k] ** 2;
  const cx = px / 4;
  const cy = py / 4;
  for (let i = 0; i < FAKE_LOW_RES; i++) {
    for (let j = 0; j < FAKE_LOW_RES; j++) out[i * FAKE_LOW_RES + j] = r2 - ((j + 0.5 - cx) ** 2 + (i + 0.5 - cy) ** 2);
  }
  return out;
}

export interface FakeEncoderOptions {
  inputName?: string;
  outputName?: string;
  /** Declared input dims (default [1, 3, 1024, 1024]); only the declaration changes. */
  inputDims?: Array<number | string>;
  /** Declared output dims (default [1, 256, 64, 64]). */
  outputDims?: Array<number | string>;
}

/**
 * Fake encoder: 16 x 16 average pooling of the NCHW input, then a 1x1 conv whose output channel
 * c copies input channel c % 3. So embedding[c, y, x] = mean of channel c % 3 over block (y, x).
 */
export function fakeSamEncoder(options: FakeEncoderOptions = {}): Uint8Array {
  const input = options.inputName ?? 'input';
  const output = options.outputName ?? 'output';
  const weights = new Float32Array(256 * 3);
  for (let c = 0; c < 256; c++) weights[c * 3 + (c % 3)] = 1;
  return buildModel({
    name: 'fake_sam_encoder',
    inputs: [{ name: input, type: 'float32', dims: options.inputDims ?? [1, 3, 1024, 1024] }],
    outputs: [{ name: output, type: 'float32', dims: options.outputDims ?? [1, 256, 64, 64] }],
    initializers: [{ name: 'mix', type: 'float32', dims: [256, 3, 1, 1], values: weights }],
    nodes: [
      { op: 'AveragePool', inputs: [input], outputs: ['pooled'], attrs: { kernel_shape: [16, 16], strides: [16, 16] } },
      { op: 'Conv', inputs: ['pooled', 'mix'], outputs: [output], attrs: { kernel_shape: [1, 1] } },
    ],
  });
}

/**
 * An encoder that only *declares* the given input/output shapes (its output is zeros plus the
 * input's mean), for contract checks on layouts the real fake encoder cannot compute.
 */
export function fakeEncoderDeclaring(inputDims: Array<number | string>, outputDims: Array<number | string> = [1, 256, 64, 64], names: string[] = ['input']): Uint8Array {
  const fixedOut = outputDims.map((d) => (typeof d === 'number' ? d : 1));
  return buildModel({
    name: 'fake_declaring_encoder',
    inputs: names.map((name) => ({ name, type: 'float32' as const, dims: inputDims })),
    outputs: [{ name: 'output', type: 'float32', dims: outputDims }],
    initializers: [{ name: 'zeros', type: 'float32', dims: fixedOut, values: new Float32Array(fixedOut.reduce((a, b) => a * b, 1)) }],
    nodes: [
      { op: 'ReduceMean', inputs: [names[0]], outputs: ['m'], attrs: { keepdims: 0 } },
      { op: 'Add', inputs: ['zeros', 'm'], outputs: ['output'] },
    ],
  });
}

export interface FakeDecoderOptions {
  /** Renames graph inputs/outputs (e.g. { point_coords: 'point_coord' } for a contract error). */
  rename?: Record<string, string>;
  /** Declared image_embeddings dims (default [1, 256, 64, 64]). */
  embeddingDims?: Array<number | string>;
  /** Element type of orig_im_size (default float32, as Meta exports). */
  origImSizeType?: 'float32' | 'int64';
}

const grid = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 0.5);

/** Nodes and constants computing all masks [1,4,256,256] and all IoU [1,4] from the inputs. */
function candidateNodes(n: (name: string) => string): { nodes: NodeSpec[]; initializers: InitSpec[] } {
  const initializers: InitSpec[] = [
    { name: 'gx', type: 'float32', dims: [1, 1, 1, FAKE_LOW_RES], values: grid(FAKE_LOW_RES) },
    { name: 'gy', type: 'float32', dims: [1, 1, FAKE_LOW_RES, 1], values: grid(FAKE_LOW_RES) },
    { name: 'r2', type: 'float32', dims: [1, 4, 1, 1], values: FAKE_MASK_RADII.map((r) => r * r) },
    { name: 'iou_base', type: 'float32', dims: [1, 4], values: [...FAKE_IOU_BASE] },
    { name: 'quarter', type: 'float32', dims: [], values: [0.25] },
    { name: 'i0', type: 'int64', dims: [1], values: [0] },
    { name: 'i1', type: 'int64', dims: [1], values: [1] },
    { name: 'i2', type: 'int64', dims: [1], values: [2] },
    { name: 'shape_1111', type: 'int64', dims: [4], values: [1, 1, 1, 1] },
  ];
  const nodes: NodeSpec[] = [
    // First point's x and y, as [1,1,1,1] tensors in the low-res frame.
    { op: 'Slice', inputs: [n('point_coords'), 'i0', 'i1', 'i1'], outputs: ['p0'] },
    { op: 'Slice', inputs: ['p0', 'i0', 'i1', 'i2'], outputs: ['px_raw'] },
    { op: 'Slice', inputs: ['p0', 'i1', 'i2', 'i2'], outputs: ['py_raw'] },
    { op: 'Reshape', inputs: ['px_raw', 'shape_1111'], outputs: ['px4'] },
    { op: 'Reshape', inputs: ['py_raw', 'shape_1111'], outputs: ['py4'] },
    { op: 'Mul', inputs: ['px4', 'quarter'], outputs: ['cx'] },
    { op: 'Mul', inputs: ['py4', 'quarter'], outputs: ['cy'] },
    { op: 'Sub', inputs: ['gx', 'cx'], outputs: ['dx'] },
    { op: 'Sub', inputs: ['gy', 'cy'], outputs: ['dy'] },
    { op: 'Mul', inputs: ['dx', 'dx'], outputs: ['dx2'] },
    { op: 'Mul', inputs: ['dy', 'dy'], outputs: ['dy2'] },
    { op: 'Add', inputs: ['dx2', 'dy2'], outputs: ['d2'] },
    { op: 'Sub', inputs: ['r2', 'd2'], outputs: ['all_masks'] },
    { op: 'ReduceMean', inputs: [n('image_embeddings')], outputs: ['emb_mean'], attrs: { keepdims: 0 } },
    { op: 'Add', inputs: ['iou_base', 'emb_mean'], outputs: ['all_iou'] },
  ];
  return { nodes, initializers };
}

/** The full-size `masks` output: bilinear resize of `source` to orig_im_size, as exports end. */
function fullSizeNodes(n: (name: string) => string, source: string, origType: 'float32' | 'int64'): NodeSpec[] {
  const size: NodeSpec[] =
    origType === 'float32'
      ? [{ op: 'Cast', inputs: [n('orig_im_size')], outputs: ['orig_i64'], attrs: { to: 7 } }]
      : [{ op: 'Identity', inputs: [n('orig_im_size')], outputs: ['orig_i64'] }];
  return [
    ...size,
    { op: 'Shape', inputs: [source], outputs: ['src_shape'] },
    { op: 'Slice', inputs: ['src_shape', 'i0', 'i2', 'i0'], outputs: ['src_nc'] },
    { op: 'Concat', inputs: ['src_nc', 'orig_i64'], outputs: ['full_size'], attrs: { axis: 0 } },
    { op: 'Resize', inputs: [source, '', '', 'full_size'], outputs: [n('masks')], attrs: { mode: 'linear' } },
  ];
}

function decoderInputs(n: (name: string) => string, options: FakeDecoderOptions): IoSpec[] {
  return [
    { name: n('image_embeddings'), type: 'float32', dims: options.embeddingDims ?? [1, 256, 64, 64] },
    { name: n('point_coords'), type: 'float32', dims: [1, 'num_points', 2] },
    { name: n('point_labels'), type: 'float32', dims: [1, 'num_points'] },
    { name: n('mask_input'), type: 'float32', dims: [1, 1, 256, 256] },
    { name: n('has_mask_input'), type: 'float32', dims: [1] },
    { name: n('orig_im_size'), type: options.origImSizeType ?? 'float32', dims: [2] },
  ];
}

/** Fake decoder exported with return_single_mask: Meta's ArgMax/Flatten/Gather selection. */
export function fakeSingleMaskDecoder(options: FakeDecoderOptions = {}): Uint8Array {
  const n = (name: string): string => options.rename?.[name] ?? name;
  const { nodes, initializers } = candidateNodes(n);
  initializers.push(
    { name: 'reweight', type: 'float32', dims: [1, 4], values: [1000, 0, 0, 0] },
    { name: 'two_and_half', type: 'float32', dims: [], values: [2.5] },
    { name: 'batch_offset', type: 'int64', dims: [1], values: [0] },
    { name: 'shape_b_hw', type: 'int64', dims: [3], values: [-1, FAKE_LOW_RES, FAKE_LOW_RES] },
    { name: 'shape_1_hw', type: 'int64', dims: [3], values: [1, FAKE_LOW_RES, FAKE_LOW_RES] },
    { name: 'shape_b', type: 'int64', dims: [1], values: [-1] },
    { name: 'shape_1', type: 'int64', dims: [1], values: [1] },
    { name: 'axes_1', type: 'int64', dims: [1], values: [1] },
  );
  nodes.push(
    // score = iou + (numPoints - 2.5) * [1000, 0, 0, 0]; best = argmax over the 4 masks.
    { op: 'Shape', inputs: [n('point_coords')], outputs: ['pc_shape'] },
    { op: 'Gather', inputs: ['pc_shape', 'i1'], outputs: ['num_points_i64'], attrs: { axis: 0 } },
    { op: 'Cast', inputs: ['num_points_i64'], outputs: ['num_points'], attrs: { to: 1 } },
    { op: 'Sub', inputs: ['num_points', 'two_and_half'], outputs: ['np_offset'] },
    { op: 'Mul', inputs: ['np_offset', 'reweight'], outputs: ['bonus'] },
    { op: 'Add', inputs: ['all_iou', 'bonus'], outputs: ['score'] },
    { op: 'ArgMax', inputs: ['score'], outputs: ['best'], attrs: { axis: 1, keepdims: 0 } },
    { op: 'Add', inputs: ['best', 'batch_offset'], outputs: ['flat_index'] },
    // Masks: Gather(Flatten(all)) -> Reshape -> Reshape -> Unsqueeze, as the Meta export.
    { op: 'Flatten', inputs: ['all_masks'], outputs: ['masks_flat'], attrs: { axis: 2 } },
    { op: 'Gather', inputs: ['masks_flat', 'flat_index'], outputs: ['mask_picked'], attrs: { axis: 0 } },
    { op: 'Reshape', inputs: ['mask_picked', 'shape_b_hw'], outputs: ['mask_r1'] },
    { op: 'Reshape', inputs: ['mask_r1', 'shape_1_hw'], outputs: ['mask_r2'] },
    { op: 'Unsqueeze', inputs: ['mask_r2', 'axes_1'], outputs: [n('low_res_masks')] },
    { op: 'Flatten', inputs: ['all_iou'], outputs: ['iou_flat'], attrs: { axis: 2 } },
    { op: 'Gather', inputs: ['iou_flat', 'flat_index'], outputs: ['iou_picked'], attrs: { axis: 0 } },
    { op: 'Reshape', inputs: ['iou_picked', 'shape_b'], outputs: ['iou_r1'] },
    { op: 'Reshape', inputs: ['iou_r1', 'shape_1'], outputs: ['iou_r2'] },
    { op: 'Unsqueeze', inputs: ['iou_r2', 'axes_1'], outputs: [n('iou_predictions')] },
    ...fullSizeNodes(n, n('low_res_masks'), options.origImSizeType ?? 'float32'),
  );
  return buildModel({
    name: 'fake_sam_single_mask_decoder',
    inputs: decoderInputs(n, options),
    outputs: [
      { name: n('masks'), type: 'float32', dims: ['m0', 'm1', 'm2', 'm3'] },
      { name: n('iou_predictions'), type: 'float32', dims: ['b', 1] },
      { name: n('low_res_masks'), type: 'float32', dims: ['b', 1, 'h', 'w'] },
    ],
    nodes,
    initializers,
  });
}

/**
 * Fake decoder exported without the selection: all four masks and IoUs come out. `maskDim`
 * is what low_res_masks declares in dim 1 (4, or a free name such as 'num_masks'); 1 makes a
 * single-mask decoder returning mask 0 through a plain Slice (no Gather/Flatten to edit).
 */
export function fakeMultiMaskDecoder(options: FakeDecoderOptions & { maskDim?: number | string } = {}): Uint8Array {
  const n = (name: string): string => options.rename?.[name] ?? name;
  const { nodes, initializers } = candidateNodes(n);
  const maskDim = options.maskDim ?? 4;
  if (maskDim === 1) {
    // A single-mask decoder without Meta's selection structure (the graph edit cannot apply).
    nodes.push(
      { op: 'Slice', inputs: ['all_masks', 'i0', 'i1', 'i1'], outputs: [n('low_res_masks')] },
      { op: 'Slice', inputs: ['all_iou', 'i0', 'i1', 'i1'], outputs: [n('iou_predictions')] },
    );
  } else if (typeof maskDim === 'number') {
    nodes.push(
      { op: 'Identity', inputs: ['all_masks'], outputs: [n('low_res_masks')] },
      { op: 'Identity', inputs: ['all_iou'], outputs: [n('iou_predictions')] },
    );
  } else {
    // Slice to a runtime-computed end (4 + 0 * has_mask_input) so that ORT's shape inference
    // cannot resolve dim 1 and the declared free dimension is what the session reports.
    initializers.push(
      { name: 'four', type: 'float32', dims: [1], values: [4] },
      { name: 'zero', type: 'float32', dims: [], values: [0] },
    );
    nodes.push(
      { op: 'Mul', inputs: [n('has_mask_input'), 'zero'], outputs: ['no_mask'] },
      { op: 'Add', inputs: ['no_mask', 'four'], outputs: ['mask_count_f'] },
      { op: 'Cast', inputs: ['mask_count_f'], outputs: ['mask_count'], attrs: { to: 7 } },
      { op: 'Slice', inputs: ['all_masks', 'i0', 'mask_count', 'i1'], outputs: [n('low_res_masks')] },
      { op: 'Slice', inputs: ['all_iou', 'i0', 'mask_count', 'i1'], outputs: [n('iou_predictions')] },
    );
  }
  nodes.push(...fullSizeNodes(n, n('low_res_masks'), options.origImSizeType ?? 'float32'));
  return buildModel({
    name: 'fake_sam_multi_mask_decoder',
    inputs: decoderInputs(n, options),
    outputs: [
      { name: n('masks'), type: 'float32', dims: ['m0', 'm1', 'm2', 'm3'] },
      { name: n('iou_predictions'), type: 'float32', dims: [1, maskDim] },
      { name: n('low_res_masks'), type: 'float32', dims: [1, maskDim, 256, 256] },
    ],
    nodes,
    initializers,
  });
}

/** The Meta single-mask decoder with one input misnamed (`point_coord`), for contract errors. */
export function fakeDecoderWithWrongInput(): Uint8Array {
  return fakeSingleMaskDecoder({ rename: { point_coords: 'point_coord' } });
}
