/**
 * From salip's prompt to a decoder's feeds, and from its outputs back to low-res logits and
 * scores, for every decoder contract (decoder-contracts.ts).
 */
import type { Dim, ModelSession, TensorData } from '../../backends/types.js';
import { SalipError } from '../../core/errors.js';
import type { SamImageEmbedding, SamInputTransform, SamPrompt } from './types.js';
import type { DecoderIo, NumberFeedType } from './decoder-contracts.js';

export function numberTensor(type: NumberFeedType, dims: number[], values: ArrayLike<number>): TensorData {
  if (type === 'int64') return { type, dims, data: BigInt64Array.from(Array.from(values, (v) => BigInt(Math.round(v)))) };
  if (type === 'int32') return { type, dims, data: Int32Array.from(values) };
  return { type, dims, data: Float32Array.from(values) };
}

/** Everything decode needs about the decoder, resolved once at load (buffers included). */
export interface DecoderContext {
  readonly session: ModelSession;
  readonly io: DecoderIo;
  /** Embedding dims for probe runs ([1, 256, 64, 64] where the models leave a dim free). */
  readonly embeddingDims: readonly [number, number, number, number];
  /** Dims fixed by the decoder or encoder declarations (undefined where free). */
  readonly fixedEmbeddingDims: readonly (number | undefined)[];
  readonly lowResSize: number;
  /** Zero mask_input and has_mask_input = 0, shared by every single-prompt call (never written). */
  readonly maskInput: TensorData;
  readonly hasMaskInput: TensorData;
  /** has_mask_input = 1, for prompts that carry a previous mask. */
  readonly hasMaskInputOn: TensorData;
}

const META_EMBEDDING_DIMS = [1, 256, 64, 64] as const;

const fixedDim = (dims: readonly Dim[] | undefined, i: number): number | undefined => (typeof dims?.[i] === 'number' ? (dims[i] as number) : undefined);

export function decoderContext(session: ModelSession, io: DecoderIo, encoderDims: readonly Dim[] | undefined, inputSize: number): DecoderContext {
  const fixedEmbeddingDims = [0, 1, 2, 3].map((i) => fixedDim(io.embeddingDims, i) ?? fixedDim(encoderDims, i));
  const embeddingDims = fixedEmbeddingDims.map((d, i) => d ?? META_EMBEDDING_DIMS[i]) as unknown as [number, number, number, number];
  // SAM decoders upscale the embedding 4x (64 -> 256, SAM-Med2D's 16 -> 64, MedSAM2's 32 -> 128).
  const lowResSize = fixedDim(io.maskInputDims, 2) ?? (fixedEmbeddingDims[2] !== undefined ? 4 * fixedEmbeddingDims[2] : Math.round(inputSize / 4));
  const maskDims = [1, 1, lowResSize, fixedDim(io.maskInputDims, 3) ?? lowResSize];
  return {
    session,
    io,
    embeddingDims,
    fixedEmbeddingDims,
    lowResSize,
    maskInput: { type: 'float32', dims: maskDims, data: new Float32Array(maskDims[2] * maskDims[3]) },
    hasMaskInput: numberTensor(io.hasMaskType, [1], [0]),
    hasMaskInputOn: numberTensor(io.hasMaskType, [1], [1]),
  };
}

/** The number of points Meta's export would see for a prompt (its single-mask rule counts them). */
export const metaPointCount = (prompt: SamPrompt): number => (prompt.points?.length ?? 0) + (prompt.box ? 2 : 1);

/** Points of a prompt batch as the contract wants them: coordinates, labels, points per prompt. */
function promptPoints(ctx: DecoderContext, prompts: readonly SamPrompt[], t: SamInputTransform): { coords: Float32Array; labels: number[]; n: number } {
  const contract = ctx.io.contract;
  // EfficientSAM rescales image-pixel prompts itself (from orig_im_size); the others take the model frame.
  const sx = contract.imageFramePrompts ? 1 : t.scaleX;
  const sy = contract.imageFramePrompts ? 1 : t.scaleY;
  // Meta's convention: points, then the box as two corners labelled 2 and 3; without a box a
  // padding point (0, 0) labelled -1. Decoders that pad inside (SAM 2, EdgeSAM, EfficientSAM)
  // get the padding point only when the prompt has nothing else (the un-prompted query).
  const count = (p: SamPrompt): number => (p.points?.length ?? 0) + (p.box ? 2 : contract.padsPrompts || !p.points?.length ? 1 : 0);
  const n = count(prompts[0]);
  const coords = new Float32Array(prompts.length * n * 2);
  const labels = new Array<number>(prompts.length * n);
  prompts.forEach((prompt, b) => {
    const points = prompt.points ?? [];
    const first = b * n;
    points.forEach((p, i) => {
      coords[2 * (first + i)] = p.x * sx;
      coords[2 * (first + i) + 1] = p.y * sy;
      labels[first + i] = p.label;
    });
    const k = first + points.length;
    if (prompt.box) {
      const [x0, y0, x1, y1] = prompt.box;
      coords.set([x0 * sx, y0 * sy, x1 * sx, y1 * sy], 2 * k);
      labels[k] = 2;
      labels[k + 1] = 3;
    } else if (k < first + n) {
      coords.set([0, 0], 2 * k);
      labels[k] = -1;
    }
  });
  return { coords, labels, n };
}

/** mask_input / has_mask_input for a prompt batch: the previous mask of a lone prompt, else zeros. */
function maskFeeds(ctx: DecoderContext, prompts: readonly SamPrompt[]): Record<string, TensorData> {
  const maskInput = prompts.length === 1 ? prompts[0].maskInput : undefined;
  if (maskInput !== undefined) {
    return { mask_input: { type: 'float32', dims: ctx.maskInput.dims, data: maskInput }, has_mask_input: ctx.hasMaskInputOn };
  }
  // Meta's exports broadcast one mask_input over the prompt batch; SAM 2 wants one per prompt.
  if (prompts.length === 1 || ctx.io.contract.name === 'meta') return { mask_input: ctx.maskInput, has_mask_input: ctx.hasMaskInput };
  const b = prompts.length;
  const [, , h, w] = ctx.maskInput.dims;
  return {
    mask_input: { type: 'float32', dims: [b, 1, h, w], data: new Float32Array(b * h * w) },
    has_mask_input: numberTensor(ctx.io.hasMaskType, [b], new Array<number>(b).fill(0)),
  };
}

/** Decoder feeds for one prompt, or a prompt batch (decodeBatch), in the contract's names and frame. */
export function decoderFeeds(
  ctx: DecoderContext,
  embedding: Pick<SamImageEmbedding, 'data' | 'dims' | 'extras'>,
  prompts: readonly SamPrompt[],
  t: SamInputTransform,
): { feeds: Record<string, TensorData>; pointCount: number } {
  const contract = ctx.io.contract;
  const types = ctx.io.inputTypes;
  const feeds: Record<string, TensorData> = { [contract.embeddingInput]: { type: 'float32', dims: embedding.dims, data: embedding.data } };
  for (const name of contract.extraEmbeddingInputs) {
    const extra = embedding.extras?.[name];
    if (!extra) throw new SalipError('INVALID_ARGUMENT', `SAM decode: embedding.extras.${name}: expected the encoder output "${name}" (${contract.title} needs it), found none`);
    feeds[name] = { type: 'float32', dims: extra.dims, data: extra.data };
  }
  const pointCount = metaPointCount(prompts[0]);
  const b = prompts.length;
  if (contract.name === 'meta-boxes') {
    // The box decoder takes [B, 1, 4] (or [B, 4]) boxes in the model frame.
    const boxes = new Float32Array(b * 4);
    prompts.forEach((p, i) => boxes.set(p.box!.map((v, j) => v * (j % 2 === 0 ? t.scaleX : t.scaleY)), 4 * i));
    feeds.boxes = { type: 'float32', dims: ctx.io.inputDims.boxes?.length === 2 ? [b, 4] : [b, 1, 4], data: boxes };
    return { feeds, pointCount };
  }
  const { coords, labels, n } = promptPoints(ctx, prompts, t);
  if (contract.name === 'efficientsam') return efficientSamFeeds(ctx, feeds, { coords, labels, n }, b, t, pointCount);
  feeds.point_coords = { type: 'float32', dims: [b, n, 2], data: coords };
  feeds.point_labels = numberTensor(types.point_labels, [b, n], labels);
  if (contract.maskInput) Object.assign(feeds, maskFeeds(ctx, prompts));
  if ('orig_im_size' in types) {
    // SAM 2 exports with orig_im_size resize their masks to it: asking for the low-res grid keeps the logits as they are.
    const size = contract.name === 'sam2' ? [ctx.lowResSize, ctx.lowResSize] : [t.imageHeight, t.imageWidth];
    feeds.orig_im_size = numberTensor(types.orig_im_size, [2], size);
  }
  return { feeds, pointCount };
}

/**
 * EfficientSAM feeds: [batch = 1, queries, points, 2], each prompt one query on the image. Exports
 * that fix the points per query (yformer's export_to_onnx.py fixes 1) get the rest padded with
 * label -1, as the model pads itself; more points than that are refused.
 */
function efficientSamFeeds(
  ctx: DecoderContext,
  feeds: Record<string, TensorData>,
  points: { coords: Float32Array; labels: number[]; n: number },
  b: number,
  t: SamInputTransform,
  pointCount: number,
): { feeds: Record<string, TensorData>; pointCount: number } {
  const types = ctx.io.inputTypes;
  const fixed = fixedDim(ctx.io.inputDims.batched_point_coords, 2);
  const { n } = points;
  if (fixed !== undefined && n > fixed) {
    throw new SalipError(
      'INVALID_PROMPT',
      `SAM decode: prompt: this EfficientSAM export takes ${fixed} point(s) per prompt (batched_point_coords dim 2), got ${n}${n - fixed >= 1 && pointCount >= 2 ? ' (a box counts as two corner points)' : ''}`,
    );
  }
  const width = fixed ?? n;
  const coords = new Float32Array(b * width * 2);
  const labels = new Array<number>(b * width).fill(-1);
  for (let q = 0; q < b; q++) {
    coords.set(points.coords.subarray(q * n * 2, (q + 1) * n * 2), q * width * 2);
    for (let i = 0; i < n; i++) labels[q * width + i] = points.labels[q * n + i];
  }
  feeds.batched_point_coords = { type: 'float32', dims: [1, b, width, 2], data: coords };
  feeds.batched_point_labels = numberTensor(types.batched_point_labels, [1, b, width], labels);
  feeds.orig_im_size = numberTensor(types.orig_im_size, [2], [t.imageHeight, t.imageWidth]);
  return { feeds, pointCount };
}

/** Decoded masks of a run: `count` masks of side x side per prompt, IoU per mask. */
export interface DecodedMasks {
  readonly data: Float32Array;
  readonly count: number;
  readonly side: number;
  readonly iou: Float32Array;
}

/**
 * Reads a mask tensor ([batch, M, s, s], or EfficientSAM's [1, batch, M, s, s]) and its batch * M
 * scores, checking shape and type.
 */
export function readMasks(masks: TensorData, iou: TensorData, names: readonly [string, string], batch = 1): DecodedMasks {
  const d = masks.dims;
  const rank5 = d.length === 5 && d[0] === 1;
  const [n, m, h, w] = rank5 ? d.slice(1) : d;
  if (masks.type !== 'float32' || (d.length !== 4 && !rank5) || n !== batch || h !== w) {
    throw new SalipError('MODEL_CONTRACT', `SAM decoder: output "${names[0]}": expected float32 [${batch}, M, s, s], found ${masks.type} [${d.join(', ')}]`);
  }
  if (iou.type !== 'float32' || iou.data.length !== batch * m) {
    throw new SalipError(
      'MODEL_CONTRACT',
      `SAM decoder: output "${names[1]}": expected ${batch * m} float32 IoU predictions (one per mask), found ${iou.type} [${iou.dims.join(', ')}]`,
    );
  }
  return { data: masks.data as Float32Array, count: m, side: h, iou: iou.data as Float32Array };
}
