/**
 * SAM-family adapter: an image encoder and a Meta-style prompt decoder behind the SamModel
 * interface. Preprocessing, prompt scaling and output selection follow segment-anything's
 * SamPredictor / SamOnnxModel; the decoder is checked against the Meta ONNX contract at load.
 */
import type { Backend, Dim, ModelSession, ModelSource, TensorData } from '../backends/types.js';
import { SalipError, describeValue } from '../core/errors.js';
import { throwIfAborted } from './stages/options.js';
import { assertRgbImage, longestSideSize, minMaxToChw, resizeImage, resizeToChw } from '../core/image.js';
import type { RgbImage } from '../core/types.js';
import { ALL_IOU_OUTPUT, ALL_MASKS_OUTPUT, detectDecoderKind, freePromptBatch, prepareSamDecoder } from './graph-edit.js';
import { loadSplitDecoder, type SplitDecoderRunner } from './graph-split.js';
import {
  checkDecoderContract,
  checkEmbeddingContract,
  resolveEncoderIo,
  resolveSamPreset,
  type DecoderIo,
  type EncoderIo,
  type NumberFeedType,
  type SamPreset,
  type SamPresetName,
  type SamPresetOverrides,
} from './sam-presets.js';
import type {
  SamDecodeOptions,
  SamDecodeResult,
  SamImageEmbedding,
  SamInputTransform,
  SamModel,
  SamModelInfo,
  SamPrompt,
} from './types.js';
import { checkSamPrompt } from './prompt-checks.js';
import { quantizeOptionsOf, quantizedBytes, sourceBytes, type QuantizeSetting } from '../models/graph/quantized-source.js';

export type SamMultimaskMode = 'auto' | 'native' | 'graph-edit' | 'off';

export interface SamConfig extends SamPresetOverrides {
  /** Preprocessing/prompt conventions (default 'mobilesam'). */
  preset?: SamPresetName;
  encoder: ModelSource;
  decoder: ModelSource;
  /**
   * How to get three masks per point: 'auto' (native, else graph edit, else single-mask),
   * 'native' (the decoder must return several masks), 'graph-edit' (edit or throw), 'off'.
   */
  multimask?: SamMultimaskMode;
  /** Intra-op threads for both sessions (undefined = the runtime's choice). */
  intraOpThreads?: number;
  /**
   * Which mask decode({ multimask: false }) returns. 'token' (default): mask 0, the decoder's
   * single-mask token, as segment-anything's SamPredictor.predict(multimask_output=False) (what
   * the SaLIP reference refines boxes with). 'export': the mask the ONNX export selects (Meta's
   * SamOnnxModel: best-IoU of masks 1..3 for up to two points, i.e. a lone box or a lone point,
   * mask 0 otherwise). 'token' needs all masks (native or graph edit), else 'export' applies.
   */
  singleMask?: 'token' | 'export';
  /**
   * Run the decoder's image-only part once per embedding and only the prompt-dependent part per
   * prompt (same values, about 1.6x faster per prompt on MobileSAM). Default true; it engages
   * from the third decode on one embedding, where it starts to pay, and falls back to the whole
   * decoder when the graph cannot be split.
   */
  splitDecoder?: boolean;
  /**
   * Run int8 copies of both models (quantizeModel: MatMul/Gemm weights per channel, activations
   * at run time), made once and kept in the backend's cache (Node: ~/.cache/salip) or, on the
   * web, made in memory at each load. The decoder is quantized after its graph edits. Options
   * pass through to quantizeModel (e.g. keepFloat). Default false.
   */
  quantize?: QuantizeSetting;
}

/** Decodes on one embedding before the split decoder engages (its image part costs ~half a decode). */
const SPLIT_AFTER_DECODES = 2;

/** SamModelInfo plus how multi-mask output is obtained and why. */
export interface SamAdapterInfo extends SamModelInfo {
  /** 'native': the decoder returns several masks; 'graph-edit': salip_all_* outputs; 'none'. */
  readonly multimaskSource: 'native' | 'graph-edit' | 'none';
  /** Human-readable reason for multimaskSource (e.g. why the graph edit was not possible). */
  readonly multimaskNote: string;
  /** The single-mask rule in effect (see SamConfig.singleMask). */
  readonly singleMask: 'token' | 'export';
  readonly inputSize: number;
  readonly lowResSize: number;
  readonly encoderInput: string;
  readonly encoderOutput: string;
}

export interface SamAdapterModel extends SamModel {
  readonly info: SamAdapterInfo;
}

const MULTIMASK_MODES: readonly SamMultimaskMode[] = ['auto', 'native', 'graph-edit', 'off'];

/** Masks the decoder computes per prompt: where they come from and how many. */
interface MultimaskPlan {
  /** Where decode({ multimask: true }) reads its masks ('none': not offered). */
  readonly source: 'native' | 'graph-edit' | 'none';
  readonly note: string;
  /** Outputs holding every mask of a prompt (single-mask token included), when reachable. */
  readonly allMasks: { readonly outputs: [string, string]; readonly count: number } | null;
}

function isBytes(source: ModelSource): source is Uint8Array | ArrayBuffer {
  return source instanceof Uint8Array || source instanceof ArrayBuffer;
}

function numberTensor(type: NumberFeedType, dims: number[], values: ArrayLike<number>): TensorData {
  if (type === 'int64') return { type, dims, data: BigInt64Array.from(Array.from(values, (v) => BigInt(Math.round(v)))) };
  if (type === 'int32') return { type, dims, data: Int32Array.from(values) };
  return { type, dims, data: Float32Array.from(values) };
}


/** Reorders planar CHW to interleaved HWC (for encoders declared [1, S, S, 3]). */
function chwToHwc(chw: Float32Array, size: number): Float32Array {
  const plane = size * size;
  const out = new Float32Array(plane * 3);
  for (let c = 0; c < 3; c++) {
    for (let i = 0, o = c; i < plane; i++, o += 3) out[o] = chw[c * plane + i];
  }
  return out;
}

/** Makes the encoder input and the coordinate transform for one image. */
function preprocess(image: RgbImage, preset: SamPreset, reuse?: Float32Array): { input: Float32Array; transform: SamInputTransform } {
  const size = preset.inputSize;
  const target = preset.resize === 'stretch' ? { width: size, height: size } : longestSideSize(image.width, image.height, size);
  // The NHWC layout makes its own array from the CHW one, so only CHW reuses a buffer.
  const out = preset.encoderLayout === 'nhwc' || reuse?.length !== 3 * size * size ? undefined : reuse;
  const pad = { padWidth: size, padHeight: size, out };
  // Min-max needs the range of the resized image first; mean/std resizes and normalises row by row.
  const chw =
    preset.normalize === 'min-max'
      ? minMaxToChw(target.width === image.width && target.height === image.height ? image : resizeImage(image, target.width, target.height, 'bilinear'), pad)
      : resizeToChw(image, target.width, target.height, { kernel: 'bilinear', mean: [...preset.pixelMean], std: [...preset.pixelStd], ...pad });
  return {
    input: preset.encoderLayout === 'nhwc' ? chwToHwc(chw, size) : chw,
    // Per-axis ratios of the rounded resized size, as segment-anything's ResizeLongestSide.apply_coords.
    transform: {
      inputSize: size,
      scaleX: target.width / image.width,
      scaleY: target.height / image.height,
      resizedWidth: target.width,
      resizedHeight: target.height,
      imageWidth: image.width,
      imageHeight: image.height,
    },
  };
}

async function loadDecoder(
  backend: Backend,
  config: SamConfig,
  expose: boolean,
  mustExpose: boolean,
  sessionOptions: { intraOpThreads?: number; label: string },
): Promise<{ session: ModelSession; exposed: boolean; exposeError?: SalipError; bytes: Uint8Array }> {
  const source = config.decoder;
  const bytes = isBytes(source) ? (source instanceof Uint8Array ? source : new Uint8Array(source)) : await backend.readBytes(source);
  let prepared;
  try {
    // The full-size `masks` output is never fetched (we upscale ourselves); dropping it spares its Resize.
    prepared = prepareSamDecoder(bytes, { exposeMultimask: expose, dropOutputs: ['masks'] });
  } catch (error) {
    if (mustExpose) throw error;
    // Not parseable by us: let the runtime load it and report its own MODEL_LOAD_FAILED.
    prepared = { bytes, exposed: false, exposeError: error instanceof SalipError ? error : undefined };
  }
  if (mustExpose && !prepared.exposed) throw prepared.exposeError;
  const quantize = quantizeOptionsOf(config.quantize, 'SamConfig.quantize');
  const final = quantize ? await quantizedBytes(backend, prepared.bytes, quantize) : prepared.bytes;
  const session = await backend.loadModel(final, sessionOptions);
  return { session, exposed: prepared.exposed, exposeError: prepared.exposeError, bytes: final };
}

/** Loads a SAM-family encoder/decoder pair and checks both against the preset's contract. */
export async function createSamModel(backend: Backend, config: SamConfig): Promise<SamAdapterModel> {
  if (!backend || typeof backend.loadModel !== 'function') {
    throw new SalipError('INVALID_ARGUMENT', `createSamModel: backend: expected a Backend, got ${describeValue(backend)}`);
  }
  if (!config || typeof config !== 'object' || config.encoder === undefined || config.decoder === undefined) {
    throw new SalipError('INVALID_ARGUMENT', 'createSamModel: config: expected { encoder, decoder, preset?, ... } with both model sources');
  }
  const mode = config.multimask ?? 'auto';
  if (!MULTIMASK_MODES.includes(mode)) {
    throw new SalipError('INVALID_ARGUMENT', `SamConfig.multimask: expected one of ${MULTIMASK_MODES.join(', ')}, got ${describeValue(mode)}`);
  }
  const singleMask = config.singleMask ?? 'token';
  if (singleMask !== 'token' && singleMask !== 'export') {
    throw new SalipError('INVALID_ARGUMENT', `SamConfig.singleMask: expected 'token' or 'export', got ${describeValue(singleMask)}`);
  }
  const preset = resolveSamPreset(config.preset, config);
  // The edit serves multi-mask output and, with 'token', the single-mask token of export decoders.
  const expose = mode === 'auto' || mode === 'graph-edit' || (mode === 'off' && singleMask === 'token');
  const threads = config.intraOpThreads;
  const quantize = quantizeOptionsOf(config.quantize, 'SamConfig.quantize');
  const encoderSource = quantize ? await quantizedBytes(backend, await sourceBytes(backend, config.encoder), quantize) : config.encoder;
  const encoder = await backend.loadModel(encoderSource, { intraOpThreads: threads, label: quantize ? 'SAM encoder (int8)' : 'SAM encoder' });
  let decoder: ModelSession | undefined;
  try {
    const loaded = await loadDecoder(backend, config, expose, mode === 'graph-edit', { intraOpThreads: threads, label: 'SAM decoder' });
    decoder = loaded.session;
    const encoderIo = resolveEncoderIo(encoder, preset, config);
    const decoderIo = checkDecoderContract(decoder);
    checkEmbeddingContract(encoderIo.outputDims, decoderIo.embeddingDims);
    const ctx = decoderContext(decoder, decoderIo, encoderIo, preset);
    const plan = await planMultimask(ctx, mode, loaded.exposed, loaded.exposeError);
    const outputs = decoder.outputs.map((o) => o.name);
    const loadSplit =
      config.splitDecoder === false
        ? undefined
        : () => loadSplitDecoder(backend, loaded.bytes, outputs, { intraOpThreads: threads, label: 'SAM decoder' });
    // The prompt-batched decoder loads at the first decodeBatch (only GPU runs ask for it).
    const loadBatched = () => backend.loadModel(freePromptBatch(loaded.bytes), { intraOpThreads: threads, label: 'SAM decoder (prompt batch)' });
    return makeSamModel(encoder, ctx, preset, encoderIo, plan, singleMask, loadSplit, loadBatched);
  } catch (error) {
    await Promise.allSettled([encoder.dispose(), decoder?.dispose()]);
    throw error;
  }
}

/** Everything decode needs about the decoder, resolved once at load (buffers included). */
interface DecoderContext {
  readonly session: ModelSession;
  readonly io: DecoderIo;
  /** Embedding dims for probe runs ([1, 256, 64, 64] where the models leave a dim free). */
  readonly embeddingDims: readonly [number, number, number, number];
  /** Dims fixed by the decoder or encoder declarations (undefined where free). */
  readonly fixedEmbeddingDims: readonly (number | undefined)[];
  readonly lowResSize: number;
  /** Zero mask_input and has_mask_input = 0, shared by every call (never written). */
  readonly maskInput: TensorData;
  readonly hasMaskInput: TensorData;
  /** has_mask_input = 1, for prompts that carry a previous mask. */
  readonly hasMaskInputOn: TensorData;
}

const META_EMBEDDING_DIMS = [1, 256, 64, 64] as const;

function decoderContext(session: ModelSession, io: DecoderIo, encoderIo: EncoderIo, preset: SamPreset): DecoderContext {
  const fixed = (dims: readonly Dim[] | undefined, i: number): number | undefined => (typeof dims?.[i] === 'number' ? (dims[i] as number) : undefined);
  const fixedEmbeddingDims = [0, 1, 2, 3].map((i) => fixed(io.embeddingDims, i) ?? fixed(encoderIo.outputDims, i));
  const embeddingDims = fixedEmbeddingDims.map((d, i) => d ?? META_EMBEDDING_DIMS[i]) as unknown as [number, number, number, number];
  const lowResSize = fixed(io.maskInputDims, 2) ?? Math.round(preset.inputSize / 4);
  const maskDims = [1, 1, lowResSize, fixed(io.maskInputDims, 3) ?? lowResSize];
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

/** Decoder feeds for one prompt, or a prompt batch (decodeBatch), coordinates mapped into the model frame. */
function decoderFeeds(
  ctx: DecoderContext,
  embedding: { data: Float32Array; dims: readonly number[] },
  prompts: readonly SamPrompt[],
  t: SamInputTransform,
): { feeds: Record<string, TensorData>; pointCount: number } {
  // Meta's convention: points, then the box as two corners labelled 2 and 3; without a box a
  // padding point (0, 0) labelled -1 is appended. Prompts run together (the prompt batch) must
  // come to the same number of points.
  const n = (prompts[0].points?.length ?? 0) + (prompts[0].box ? 2 : 1);
  // mask_input is [1, 1, s, s]: a previous mask can only go with a single prompt.
  const maskInput = prompts.length === 1 ? prompts[0].maskInput : undefined;
  const coords = new Float32Array(prompts.length * n * 2);
  const labels = new Array<number>(prompts.length * n);
  prompts.forEach((prompt, b) => {
    const points = prompt.points ?? [];
    const first = b * n;
    points.forEach((p, i) => {
      coords[2 * (first + i)] = p.x * t.scaleX;
      coords[2 * (first + i) + 1] = p.y * t.scaleY;
      labels[first + i] = p.label;
    });
    const k = first + points.length;
    if (prompt.box) {
      const [x0, y0, x1, y1] = prompt.box;
      coords.set([x0 * t.scaleX, y0 * t.scaleY, x1 * t.scaleX, y1 * t.scaleY], 2 * k);
      labels[k] = 2;
      labels[k + 1] = 3;
    } else {
      coords.set([0, 0], 2 * k);
      labels[k] = -1;
    }
  });
  return {
    pointCount: n,
    feeds: {
      image_embeddings: { type: 'float32', dims: embedding.dims, data: embedding.data },
      point_coords: { type: 'float32', dims: [prompts.length, n, 2], data: coords },
      point_labels: numberTensor(ctx.io.labelType, [prompts.length, n], labels),
      mask_input: maskInput === undefined ? ctx.maskInput : { type: 'float32', dims: ctx.maskInput.dims, data: maskInput },
      has_mask_input: maskInput === undefined ? ctx.hasMaskInput : ctx.hasMaskInputOn,
      orig_im_size: numberTensor(ctx.io.origSizeType, [2], [t.imageHeight, t.imageWidth]),
    },
  };
}

/** Reads a [batch, M, h, w] mask tensor and its [batch, M] IoUs, checking shape and type. */
function readMasks(
  masks: TensorData,
  iou: TensorData,
  names: [string, string],
  batch = 1,
): { data: Float32Array; count: number; side: number; iou: Float32Array } {
  const d = masks.dims;
  if (masks.type !== 'float32' || d.length !== 4 || d[0] !== batch || d[2] !== d[3]) {
    throw new SalipError('MODEL_CONTRACT', `SAM decoder: output "${names[0]}": expected float32 [${batch}, M, s, s], found ${masks.type} [${d.join(', ')}]`);
  }
  if (iou.type !== 'float32' || iou.data.length !== batch * d[1]) {
    throw new SalipError(
      'MODEL_CONTRACT',
      `SAM decoder: output "${names[1]}": expected ${batch * d[1]} float32 IoU predictions (one per mask), found ${iou.type} [${iou.dims.join(', ')}]`,
    );
  }
  return { data: masks.data as Float32Array, count: d[1], side: d[2], iou: iou.data as Float32Array };
}

/** Runs the decoder once with a centre point on zero embeddings: how many masks come back? */
async function probeMaskCount(ctx: DecoderContext, outputs: [string, string], size: number): Promise<number> {
  const dims = ctx.embeddingDims;
  const data = new Float32Array(dims[0] * dims[1] * dims[2] * dims[3]);
  const t: SamInputTransform = { inputSize: size, scaleX: 1, scaleY: 1, resizedWidth: size, resizedHeight: size, imageWidth: size, imageHeight: size };
  const { feeds } = decoderFeeds(ctx, { data, dims }, [{ points: [{ x: size / 2, y: size / 2, label: 1 }] }], t);
  const out = await ctx.session.run(feeds, outputs);
  return readMasks(out[outputs[0]], out[outputs[1]], outputs).count;
}

/** Decides where multi-mask output (and the single-mask token) come from, per the configured mode. */
async function planMultimask(
  ctx: DecoderContext,
  mode: SamMultimaskMode,
  exposed: boolean,
  exposeError: SalipError | undefined,
): Promise<MultimaskPlan> {
  const size = ctx.lowResSize * 4;
  const off = (plan: MultimaskPlan): MultimaskPlan =>
    mode === 'off' ? { ...plan, source: 'none', note: `multimask: 'off' in the config (${plan.note})` } : plan;
  if (exposed) {
    const outputs: [string, string] = [ALL_MASKS_OUTPUT, ALL_IOU_OUTPUT];
    const count = await probeMaskCount(ctx, outputs, size);
    if (count >= 2) return off({ source: 'graph-edit', note: `graph edit exposed the decoder's ${count} masks per prompt`, allMasks: { outputs, count } });
    const why = `the exposed ${ALL_MASKS_OUTPUT} output holds ${count} mask(s) per prompt, expected several`;
    if (mode === 'graph-edit') throw new SalipError('GRAPH_EDIT_FAILED', `SAM decoder: ${why}`);
    return off({ source: 'none', note: why, allMasks: null });
  }
  const kind = detectDecoderKind(ctx.session);
  let count = kind.kind === 'native-multimask' ? kind.maskCount : 1;
  if (kind.kind === 'undetermined') count = await probeMaskCount(ctx, ['low_res_masks', 'iou_predictions'], size);
  if (count >= 2) {
    const note = `the decoder returns ${count} masks per prompt (${kind.reason})`;
    return off({ source: 'native', note, allMasks: { outputs: ['low_res_masks', 'iou_predictions'], count } });
  }
  if (mode === 'native') {
    throw new SalipError(
      'MODEL_CONTRACT',
      `SAM decoder: output "low_res_masks": expected several masks per prompt (multimask: 'native'), found one (${kind.reason})`,
    );
  }
  const why = exposeError ? exposeError.message : 'the decoder was not edited';
  return off({ source: 'none', note: `single-mask decoder (${kind.reason}); graph edit not possible: ${why}`, allMasks: null });
}

/** Mask indices decode returns, per segment-anything's conventions. */
function selectMasks(count: number, iou: Float32Array, multimask: boolean, pointCount: number, token: boolean): number[] {
  if (count === 1) return [0];
  // With 4 masks, index 0 is the single-mask token and 1..3 the multi-mask outputs.
  const first = count >= 4 ? 1 : 0;
  if (multimask) return Array.from({ length: Math.min(count - first, 3) }, (_, i) => first + i);
  if (token && first === 1) return [0];
  // Single mask from an all-masks decoder: as Meta's SamOnnxModel.select_masks, several points
  // (more than 2.5 including padding) choose mask 0, otherwise the best-IoU multi-mask output.
  if (first === 1 && pointCount > 2.5) return [0];
  let best = first;
  for (let i = first + 1; i < count; i++) if (iou[i] > iou[best]) best = i;
  return [best];
}

function checkMaskInput(mask: Float32Array | undefined, side: number): void {
  if (mask === undefined) return;
  if (!(mask instanceof Float32Array) || mask.length !== side * side) {
    throw new SalipError(
      'INVALID_ARGUMENT',
      `SAM decode: prompt.maskInput: expected ${side} x ${side} low-res logits (a Float32Array of ${side * side}, as decode returns them), got ${describeValue(mask)}${mask instanceof Float32Array ? ` of length ${mask.length}` : ''}`,
    );
  }
  for (let i = 0; i < mask.length; i++) {
    if (!Number.isFinite(mask[i])) throw new SalipError('INVALID_ARGUMENT', `SAM decode: prompt.maskInput: value ${mask[i]} at ${i} is not finite`);
  }
}

function checkEmbedding(embedding: SamImageEmbedding, ctx: DecoderContext): void {
  const dims = embedding?.dims;
  const ok =
    embedding?.data instanceof Float32Array &&
    Array.isArray(dims) &&
    dims.length === 4 &&
    embedding.data.length === dims[0] * dims[1] * dims[2] * dims[3] &&
    typeof embedding.transform === 'object';
  if (!ok) {
    throw new SalipError('INVALID_ARGUMENT', `SAM decode: embedding: expected a SamImageEmbedding from embed(), got dims ${describeValue(dims)} and ${describeValue(embedding?.data)}`);
  }
  if (dims.some((d, i) => ctx.fixedEmbeddingDims[i] !== undefined && d !== ctx.fixedEmbeddingDims[i])) {
    const expected = ctx.fixedEmbeddingDims.map((d) => d ?? '?').join(', ');
    throw new SalipError(
      'INVALID_ARGUMENT',
      `SAM decode: embedding: expected dims [${expected}] (this decoder), got [${dims.join(', ')}] (an embedding from another model?)`,
    );
  }
}

function makeSamModel(
  encoder: ModelSession,
  ctx: DecoderContext,
  preset: SamPreset,
  encoderIo: EncoderIo,
  plan: MultimaskPlan,
  singleMaskWanted: 'token' | 'export',
  loadSplit: (() => Promise<SplitDecoderRunner>) | undefined,
  loadBatched: () => Promise<ModelSession>,
): SamAdapterModel {
  const singleMask = singleMaskWanted === 'token' && plan.allMasks !== null && plan.allMasks.count >= 4 ? 'token' : 'export';
  let disposed = false;
  const assertLive = (what: string): void => {
    if (disposed) throw new SalipError('DISPOSED', `SAM model: ${what} after dispose()`);
  };
  const info: SamAdapterInfo = {
    preset: preset.name,
    supportsMultimask: plan.source !== 'none',
    supportsPoints: preset.supportsPoints,
    multimaskSource: plan.source,
    multimaskNote: plan.note,
    singleMask,
    inputSize: preset.inputSize,
    lowResSize: ctx.lowResSize,
    encoderInput: encoderIo.input,
    encoderOutput: encoderIo.output,
  };
  const size = preset.inputSize;
  const inputDims = preset.encoderLayout === 'nchw' ? [1, 3, size, size] : [1, size, size, 3];
  // The split decoder loads lazily (only many-prompt work pays for it); a failure means the
  // whole decoder serves every prompt.
  let split: Promise<SplitDecoderRunner | undefined> | undefined;
  let spareInput: Float32Array | undefined;
  let batched: Promise<ModelSession> | undefined;
  const checkMultimask = (options: SamDecodeOptions, what: string): boolean => {
    const multimask = options?.multimask === true;
    if (multimask && plan.source === 'none') {
      throw new SalipError('INVALID_ARGUMENT', `${what}: multimask: true, but this decoder gives one mask per prompt (${plan.note})`);
    }
    return multimask;
  };
  /** Only the outputs needed: every mask for multimask/token, else the export's own choice. */
  const outputsFor = (multimask: boolean): { token: boolean; names: [string, string] } => {
    const token = !multimask && singleMask === 'token';
    const names: [string, string] = (multimask || token) && plan.allMasks ? plan.allMasks.outputs : ['low_res_masks', 'iou_predictions'];
    return { token, names };
  };
  let lastEmbedding: SamImageEmbedding | undefined;
  let decodesOnLast = 0;
  const runDecoder = async (embedding: SamImageEmbedding, feeds: Record<string, TensorData>, names: readonly string[], withMask: boolean) => {
    // The split decoder computes mask_input's branch once per image: a prompt's own mask needs the whole graph.
    if (withMask) return ctx.session.run(feeds, names);
    if (embedding === lastEmbedding) decodesOnLast++;
    else {
      lastEmbedding = embedding;
      decodesOnLast = 1;
    }
    if (loadSplit && decodesOnLast > SPLIT_AFTER_DECODES) {
      split ??= loadSplit().catch((error: unknown) => {
        if (error instanceof SalipError) return undefined;
        throw error;
      });
      const runner = await split;
      if (runner) return runner.run(feeds, names);
    }
    return ctx.session.run(feeds, names);
  };

  return {
    info,
    async embed(image, options = {}) {
      assertLive('embed()');
      assertRgbImage(image, 'SAM embed: image');
      throwIfAborted(options.signal, 'SAM embed');
      // One input buffer (12 MB at 1024) serves every embed: a fresh one costs page faults and
      // garbage collection per image. A concurrent embed finds it taken and allocates its own.
      const spare = spareInput;
      spareInput = undefined;
      const { input, transform } = preprocess(image, preset, spare);
      let out;
      try {
        out = await encoder.run({ [encoderIo.input]: { type: 'float32', dims: inputDims, data: input } }, [encoderIo.output]);
      } finally {
        spareInput = input;
      }
      throwIfAborted(options.signal, 'SAM embed');
      const emb = out[encoderIo.output];
      if (emb.type !== 'float32' || emb.dims.length !== 4) {
        throw new SalipError('MODEL_CONTRACT', `SAM encoder: output "${encoderIo.output}": expected float32 [1, C, h, w], found ${emb.type} [${emb.dims.join(', ')}]`);
      }
      const [b, c, h, w] = emb.dims;
      return { data: emb.data as Float32Array, dims: [b, c, h, w], transform };
    },
    async decode(embedding, prompt, options: SamDecodeOptions): Promise<SamDecodeResult> {
      assertLive('decode()');
      checkEmbedding(embedding, ctx);
      checkSamPrompt(prompt, embedding.transform.imageWidth, embedding.transform.imageHeight, preset.supportsPoints);
      const multimask = checkMultimask(options, 'SAM decode');
      const { token, names } = outputsFor(multimask);
      checkMaskInput(prompt.maskInput, ctx.lowResSize);
      const { feeds, pointCount } = decoderFeeds(ctx, embedding, [prompt], embedding.transform);
      const out = await runDecoder(embedding, feeds, names, prompt.maskInput !== undefined);
      const masks = readMasks(out[names[0]], out[names[1]], names);
      const plane = masks.side * masks.side;
      const chosen = selectMasks(masks.count, masks.iou, multimask, pointCount, token);
      return {
        lowResLogits: chosen.map((i) => masks.data.subarray(i * plane, (i + 1) * plane)),
        iouPredictions: Float32Array.from(chosen, (i) => masks.iou[i]),
        lowResSize: masks.side,
      };
    },
    async decodeBatch(embedding, points, options: SamDecodeOptions): Promise<SamDecodeResult[]> {
      assertLive('decodeBatch()');
      checkEmbedding(embedding, ctx);
      if (!Array.isArray(points) || points.length === 0) {
        throw new SalipError('INVALID_ARGUMENT', `SAM decodeBatch: points: expected a non-empty array of points, got ${describeValue(points)}`);
      }
      const t = embedding.transform;
      points.forEach((p, i) => checkSamPrompt({ points: [p] }, t.imageWidth, t.imageHeight, preset.supportsPoints, `points[${i}]`));
      const multimask = checkMultimask(options, 'SAM decodeBatch');
      const { token, names } = outputsFor(multimask);
      const session = await (batched ??= loadBatched());
      // One single-point prompt per point, fed as decode feeds it (with Meta's padding point).
      const n = points.length;
      const { feeds, pointCount } = decoderFeeds(ctx, embedding, points.map((p) => ({ points: [p] })), t);
      const out = await session.run(feeds, names);
      const masks = readMasks(out[names[0]], out[names[1]], names, n);
      const plane = masks.side * masks.side;
      return Array.from({ length: n }, (_, b) => {
        const iou = masks.iou.subarray(b * masks.count, (b + 1) * masks.count);
        const chosen = selectMasks(masks.count, iou, multimask, pointCount, token);
        const base = b * masks.count;
        return {
          lowResLogits: chosen.map((i) => masks.data.subarray((base + i) * plane, (base + i + 1) * plane)),
          iouPredictions: Float32Array.from(chosen, (i) => iou[i]),
          lowResSize: masks.side,
        };
      });
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      lastEmbedding = undefined;
      const runner = split ? await split : undefined;
      const batchSession = batched ? await batched.catch(() => undefined) : undefined;
      await Promise.all([encoder.dispose(), ctx.session.dispose(), runner?.dispose(), batchSession?.dispose()]);
    },
  };
}
