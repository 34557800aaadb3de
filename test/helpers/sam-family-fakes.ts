/**
 * Tiny ONNX graphs with the exact input/output names, dtypes and shapes of each SAM family's
 * public export script (see docs/models.md for the scripts), computing known functions of
 * their inputs so that adapter tests can follow the data:
 *
 * Encoders: output channel c of each output = the block mean of normalised input channel c % 3
 * (AveragePool to the output's side, then a 1x1 conv), after an in-graph resize to the model
 * frame when the export takes any size (EfficientSAM).
 *
 * Decoders: logit(b, k, i, j) = sum of prompt b's coordinates + k / 4 + mean of every embedding
 * input (+ 1000 * has_mask_input * mean(mask_input) where there is a mask input);
 * score(b, k) = FAMILY_IOU[k] + sum of prompt b's labels / 100.
 */
import { buildModel, type ElemType, type InitSpec, type IoSpec, type NodeSpec } from './onnx-builder.js';

export const FAMILY_IOU = [0.5, 0.9, 0.7, 0.8] as const;

export interface FakeEncoderOutput {
  readonly name: string;
  readonly channels: number;
  readonly side: number;
}

/** An encoder with one input and the given outputs (square NCHW features). */
export function familyEncoder(spec: { input: string; inputDims: Array<number | string>; frame: number; outputs: FakeEncoderOutput[]; outputBatch?: number | string }): Uint8Array {
  const nodes: NodeSpec[] = [];
  const initializers: InitSpec[] = [];
  let source = spec.input;
  if (typeof spec.inputDims[2] !== 'number') {
    // Any-size input: resize to the model frame inside, as EfficientSAM's get_image_embeddings.
    initializers.push({ name: 'frame_size', type: 'int64', dims: [4], values: [1, 3, spec.frame, spec.frame] });
    nodes.push({ op: 'Resize', inputs: [spec.input, '', '', 'frame_size'], outputs: ['framed'], attrs: { mode: 'linear' } });
    source = 'framed';
  }
  for (const out of spec.outputs) {
    const k = spec.frame / out.side;
    const weights = new Float32Array(out.channels * 3);
    for (let c = 0; c < out.channels; c++) weights[c * 3 + (c % 3)] = 1;
    initializers.push({ name: `${out.name}_mix`, type: 'float32', dims: [out.channels, 3, 1, 1], values: weights });
    nodes.push(
      { op: 'AveragePool', inputs: [source], outputs: [`${out.name}_pooled`], attrs: { kernel_shape: [k, k], strides: [k, k] } },
      { op: 'Conv', inputs: [`${out.name}_pooled`, `${out.name}_mix`], outputs: [out.name], attrs: { kernel_shape: [1, 1] } },
    );
  }
  return buildModel({
    name: 'fake_family_encoder',
    inputs: [{ name: spec.input, type: 'float32', dims: spec.inputDims }],
    outputs: spec.outputs.map((o) => ({ name: o.name, type: 'float32' as const, dims: [spec.outputBatch ?? 1, o.channels, o.side, o.side] })),
    nodes,
    initializers,
  });
}

export interface FakeDecoderSpec {
  readonly inputs: IoSpec[];
  /** Embedding inputs whose means join every logit. */
  readonly embeddings: string[];
  readonly coords: string;
  readonly labels: string;
  /** Axes of coords / labels summed per prompt (the prompt axis stays). */
  readonly coordAxes: number[];
  readonly labelAxes: number[];
  readonly maskInput?: boolean;
  readonly masks: { name: string; dims: Array<number | string> };
  readonly iou: { name: string; dims: Array<number | string> };
  readonly maskCount: number;
  readonly lowRes: number;
  /** Wrap masks/IoU in a leading batch axis of 1 (EfficientSAM's [1, Q, M]). */
  readonly leadingBatch?: { masks: boolean; iou: boolean };
  /** Extra outputs that copy the masks (full-size outputs salip should drop). */
  readonly extraOutputs?: string[];
}

/** A decoder computing the documented logits and scores from `spec`'s inputs. */
export function familyDecoder(spec: FakeDecoderSpec): Uint8Array {
  const M = spec.maskCount;
  const initializers: InitSpec[] = [
    { name: 'coord_axes', type: 'int64', dims: [spec.coordAxes.length], values: spec.coordAxes },
    { name: 'label_axes', type: 'int64', dims: [spec.labelAxes.length], values: spec.labelAxes },
    { name: 'k_offsets', type: 'float32', dims: [1, M, 1, 1], values: Array.from({ length: M }, (_, k) => k / 4) },
    { name: 'plane', type: 'float32', dims: [1, 1, spec.lowRes, spec.lowRes], values: new Float32Array(spec.lowRes * spec.lowRes) },
    { name: 'iou_base', type: 'float32', dims: [1, M], values: FAMILY_IOU.slice(0, M) },
    { name: 'hundredth', type: 'float32', dims: [], values: [0.01] },
    { name: 'thousand', type: 'float32', dims: [], values: [1000] },
    { name: 'axes_123', type: 'int64', dims: [3], values: [1, 2, 3] },
    { name: 'axes_1', type: 'int64', dims: [1], values: [1] },
    { name: 'axes_0', type: 'int64', dims: [1], values: [0] },
  ];
  const nodes: NodeSpec[] = [
    { op: 'ReduceSum', inputs: [spec.coords, 'coord_axes'], outputs: ['coord_sum'], attrs: { keepdims: 0 } },
    { op: 'Cast', inputs: [spec.labels], outputs: ['labels_f'], attrs: { to: 1 } },
    { op: 'ReduceSum', inputs: ['labels_f', 'label_axes'], outputs: ['label_sum'], attrs: { keepdims: 0 } },
  ];
  let acc = 'coord_sum';
  spec.embeddings.forEach((name, i) => {
    nodes.push(
      { op: 'ReduceMean', inputs: [name], outputs: [`emb_mean_${i}`], attrs: { keepdims: 0 } },
      { op: 'Add', inputs: [acc, `emb_mean_${i}`], outputs: [`acc_${i}`] },
    );
    acc = `acc_${i}`;
  });
  if (spec.maskInput) {
    nodes.push(
      { op: 'ReduceMean', inputs: ['mask_input'], outputs: ['mask_mean'], attrs: { keepdims: 0 } },
      { op: 'Cast', inputs: ['has_mask_input'], outputs: ['has_mask_f'], attrs: { to: 1 } },
      { op: 'ReduceMean', inputs: ['has_mask_f'], outputs: ['has_mask_mean'], attrs: { keepdims: 0 } },
      { op: 'Mul', inputs: ['mask_mean', 'has_mask_mean'], outputs: ['mask_term0'] },
      { op: 'Mul', inputs: ['mask_term0', 'thousand'], outputs: ['mask_term'] },
      { op: 'Add', inputs: [acc, 'mask_term'], outputs: ['acc_mask'] },
    );
    acc = 'acc_mask';
  }
  const masksName = spec.leadingBatch?.masks ? 'masks_inner' : spec.masks.name;
  const iouName = spec.leadingBatch?.iou ? 'iou_inner' : spec.iou.name;
  nodes.push(
    { op: 'Unsqueeze', inputs: [acc, 'axes_123'], outputs: ['value4'] },
    { op: 'Add', inputs: ['value4', 'k_offsets'], outputs: ['value_k'] },
    { op: 'Add', inputs: ['value_k', 'plane'], outputs: [masksName] },
    { op: 'Mul', inputs: ['label_sum', 'hundredth'], outputs: ['label_term'] },
    { op: 'Unsqueeze', inputs: ['label_term', 'axes_1'], outputs: ['label_term2'] },
    { op: 'Add', inputs: ['label_term2', 'iou_base'], outputs: [iouName] },
  );
  if (spec.leadingBatch?.masks) nodes.push({ op: 'Identity', inputs: [masksName], outputs: [spec.masks.name] });
  if (spec.leadingBatch?.iou) nodes.push({ op: 'Unsqueeze', inputs: [iouName, 'axes_0'], outputs: [spec.iou.name] });
  const extra = spec.extraOutputs ?? [];
  extra.forEach((name) => nodes.push({ op: 'Identity', inputs: [spec.masks.name], outputs: [name] }));
  return buildModel({
    name: 'fake_family_decoder',
    inputs: spec.inputs,
    outputs: [
      { name: spec.masks.name, type: 'float32', dims: spec.masks.dims },
      { name: spec.iou.name, type: 'float32', dims: spec.iou.dims },
      ...extra.map((name) => ({ name, type: 'float32' as const, dims: ['f0', 'f1', 'f2', 'f3'] })),
    ],
    nodes,
    initializers,
  });
}

const f32 = (name: string, dims: Array<number | string>): IoSpec => ({ name, type: 'float32', dims });
const typed = (name: string, type: ElemType, dims: Array<number | string>): IoSpec => ({ name, type, dims });

/** LiteMedSAM encoder: `input_image` [1,3,256,256] -> `image_embeddings` [1,256,64,64]. */
export const liteMedSamEncoder = (): Uint8Array =>
  familyEncoder({ input: 'input_image', inputDims: [1, 3, 256, 256], frame: 256, outputs: [{ name: 'image_embeddings', channels: 256, side: 64 }] });

/** The LiteMedSAM challenge box decoder: image_embeddings, boxes [1,1,4] -> low_res_masks [1,1,256,256], iou_predictions [1,1]. */
export const liteMedSamBoxDecoder = (): Uint8Array =>
  familyDecoder({
    inputs: [f32('image_embeddings', [1, 256, 64, 64]), f32('boxes', [1, 1, 4])],
    embeddings: ['image_embeddings'],
    coords: 'boxes',
    labels: 'boxes',
    coordAxes: [1, 2],
    labelAxes: [1, 2],
    masks: { name: 'low_res_masks', dims: [1, 1, 256, 256] },
    iou: { name: 'iou_predictions', dims: [1, 1] },
    maskCount: 1,
    lowRes: 256,
  });

/** Meta's six decoder inputs at a given embedding/low-res size (SAM-Med2D: 16 / 64; LiteMedSAM: 64 / 256). */
export const metaFamilyDecoder = (embedSide: number, lowRes: number, maskCount = 4): Uint8Array =>
  familyDecoder({
    inputs: [
      f32('image_embeddings', [1, 256, embedSide, embedSide]),
      f32('point_coords', [1, 'num_points', 2]),
      f32('point_labels', [1, 'num_points']),
      f32('mask_input', [1, 1, lowRes, lowRes]),
      f32('has_mask_input', [1]),
      f32('orig_im_size', [2]),
    ],
    embeddings: ['image_embeddings'],
    coords: 'point_coords',
    labels: 'point_labels',
    coordAxes: [1, 2],
    labelAxes: [1],
    maskInput: true,
    masks: { name: 'low_res_masks', dims: [1, maskCount, lowRes, lowRes] },
    iou: { name: 'iou_predictions', dims: [1, maskCount] },
    maskCount,
    lowRes,
  });

/** SAM-Med2D encoder: `image` [1,3,256,256] -> `image_embeddings` [1,256,16,16]. */
export const samMed2dEncoder = (): Uint8Array =>
  familyEncoder({ input: 'image', inputDims: [1, 3, 256, 256], frame: 256, outputs: [{ name: 'image_embeddings', channels: 256, side: 16 }] });

/** EfficientSAM encoder: `batched_images` [batch,3,height,width] -> `image_embeddings` [batch,256,64,64]. */
export const efficientSamEncoder = (): Uint8Array =>
  familyEncoder({
    input: 'batched_images',
    inputDims: ['batch', 3, 'height', 'width'],
    frame: 1024,
    outputs: [{ name: 'image_embeddings', channels: 256, side: 64 }],
    outputBatch: 'batch',
  });

/**
 * EfficientSAM decoder (labelme / yformer export): image_embeddings, batched_point_coords
 * [1, num_points, pointsPerQuery, 2], batched_point_labels, orig_im_size int64 ->
 * predicted_logits [1,Q,3,H,W], predicted_iou [1,Q,3], predicted_lowres_logits [Q,3,256,256].
 */
export const efficientSamDecoder = (pointsPerQuery: number | string = 'points_per_query'): Uint8Array =>
  familyDecoder({
    inputs: [
      f32('image_embeddings', ['batch', 256, 64, 64]),
      f32('batched_point_coords', [1, 'num_points', pointsPerQuery, 2]),
      f32('batched_point_labels', [1, 'num_points', pointsPerQuery]),
      typed('orig_im_size', 'int64', [2]),
    ],
    embeddings: ['image_embeddings'],
    coords: 'batched_point_coords',
    labels: 'batched_point_labels',
    coordAxes: [0, 2, 3],
    labelAxes: [0, 2],
    masks: { name: 'predicted_lowres_logits', dims: ['q', 3, 256, 256] },
    iou: { name: 'predicted_iou', dims: [1, 'q', 3] },
    maskCount: 3,
    lowRes: 256,
    leadingBatch: { masks: false, iou: true },
    extraOutputs: ['predicted_logits'],
  });

/** EdgeSAM encoder: `image` [1,3,1024,1024] -> `image_embeddings` [1,256,64,64]. */
export const edgeSamEncoder = (): Uint8Array =>
  familyEncoder({ input: 'image', inputDims: [1, 3, 1024, 1024], frame: 1024, outputs: [{ name: 'image_embeddings', channels: 256, side: 64 }] });

/** EdgeSAM decoder: image_embeddings, point_coords [1,N,2], point_labels [1,N] -> scores [1,4], masks [1,4,256,256]. */
export const edgeSamDecoder = (): Uint8Array =>
  familyDecoder({
    inputs: [f32('image_embeddings', [1, 256, 64, 64]), f32('point_coords', [1, 'num_points', 2]), f32('point_labels', [1, 'num_points'])],
    embeddings: ['image_embeddings'],
    coords: 'point_coords',
    labels: 'point_labels',
    coordAxes: [1, 2],
    labelAxes: [1],
    masks: { name: 'masks', dims: [1, 4, 256, 256] },
    iou: { name: 'scores', dims: [1, 4] },
    maskCount: 4,
    lowRes: 256,
  });

/** SAM 2 encoder at `size` (1024; MedSAM2 512): `image` -> high_res_feats_0, high_res_feats_1, image_embed. */
export const sam2Encoder = (size = 1024): Uint8Array =>
  familyEncoder({
    input: 'image',
    inputDims: [1, 3, size, size],
    frame: size,
    outputs: [
      { name: 'high_res_feats_0', channels: 32, side: size / 4 },
      { name: 'high_res_feats_1', channels: 64, side: size / 8 },
      { name: 'image_embed', channels: 256, side: size / 16 },
    ],
  });

/**
 * SAM 2 decoder as samexporter's export_sam2.py (7 inputs, `masks` low-res [n,3,s,s]); with
 * origImSize, ibaiGorordo's variant (orig_im_size int32 added).
 */
export const sam2Decoder = (size = 1024, options: { origImSize?: boolean } = {}): Uint8Array => {
  const s = size / 4;
  return familyDecoder({
    inputs: [
      f32('image_embed', [1, 256, size / 16, size / 16]),
      f32('high_res_feats_0', [1, 32, size / 4, size / 4]),
      f32('high_res_feats_1', [1, 64, size / 8, size / 8]),
      f32('point_coords', ['num_labels', 'num_points', 2]),
      f32('point_labels', ['num_labels', 'num_points']),
      f32('mask_input', ['num_labels', 1, s, s]),
      f32('has_mask_input', ['num_labels']),
      ...(options.origImSize ? [typed('orig_im_size', 'int32', [2])] : []),
    ],
    embeddings: ['image_embed', 'high_res_feats_0', 'high_res_feats_1'],
    coords: 'point_coords',
    labels: 'point_labels',
    coordAxes: [1, 2],
    labelAxes: [1],
    maskInput: true,
    masks: { name: 'masks', dims: ['n', 3, s, s] },
    iou: { name: 'iou_predictions', dims: ['n', 3] },
    maskCount: 3,
    lowRes: s,
  });
};
