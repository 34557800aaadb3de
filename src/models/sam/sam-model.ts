/**
 * The SamModel a loaded encoder/decoder pair becomes: embed (with the encoder's extra outputs
 * for SAM 2), decode through the decoder contract, and decodeBatch where the decoder can take a
 * prompt batch (Meta's through the graph edit, SAM 2 and EfficientSAM natively).
 */
import type { ModelSession, TensorData } from '../../backends/types.js';
import { SalipError, describeValue, throwIfAborted } from '../../core/errors.js';
import { assertRgbImage } from '../../core/image.js';
import type { SamDecodeOptions, SamDecodeResult, SamImageEmbedding, SamModel, SamModelInfo, SamPrompt } from './types.js';
import type { DecoderContract } from './decoder-contracts.js';
import { decoderFeeds, readMasks, type DecodedMasks, type DecoderContext } from './decoder-feeds.js';
import type { SplitDecoderRunner } from './graph-split.js';
import { selectMasks, type MultimaskPlan } from './multimask.js';
import { preprocess } from './preprocess.js';
import { checkSamPrompt } from './prompt-checks.js';
import type { EncoderIo, SamPreset } from './sam-presets.js';

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
  /** The decoder contract the decoder follows (decoder-contracts.ts). */
  readonly decoderContract: DecoderContract['name'];
  /** Whether prompt.maskInput (a previous mask) can be fed. */
  readonly supportsMaskInput: boolean;
  /** How the family was chosen (the preset given, or what detection saw). */
  readonly presetReason: string;
}

export interface SamAdapterModel extends SamModel {
  readonly info: SamAdapterInfo;
}

/** What makeSamModel needs beyond the sessions. */
export interface SamModelParts {
  readonly encoder: ModelSession;
  readonly ctx: DecoderContext;
  readonly preset: SamPreset;
  readonly presetReason: string;
  readonly encoderIo: EncoderIo;
  readonly plan: MultimaskPlan;
  readonly singleMask: 'token' | 'export';
  readonly loadSplit?: () => Promise<SplitDecoderRunner>;
  /** The prompt-batched decoder (undefined: this decoder decodes one prompt per run). */
  readonly loadBatched?: () => Promise<ModelSession>;
}

function checkMaskInput(mask: Float32Array | undefined, side: number, contract: DecoderContract): void {
  if (mask === undefined) return;
  if (!contract.maskInput) {
    throw new SalipError('INVALID_PROMPT', `SAM decode: prompt.maskInput: ${contract.title} takes no previous mask (no mask_input input); decode without maskInput`);
  }
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

/** Box-only decoders (the LiteMedSAM box decoder) need a box and nothing else. */
function checkContractPrompt(prompt: SamPrompt, contract: DecoderContract, what: string): void {
  if (!contract.points && (!prompt.box || (prompt.points?.length ?? 0) > 0)) {
    throw new SalipError('INVALID_PROMPT', `${what}: ${contract.title} takes exactly one box and no points, got ${prompt.points?.length ?? 0} point(s) and ${prompt.box ? 'a box' : 'no box'}`);
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

/** The chosen masks of prompt `b` in a decoded batch. */
function pickResult(masks: DecodedMasks, b: number, multimask: boolean, pointCount: number, token: boolean): SamDecodeResult {
  const plane = masks.side * masks.side;
  const iou = masks.iou.subarray(b * masks.count, (b + 1) * masks.count);
  const chosen = selectMasks(masks.count, iou, multimask, pointCount, token);
  const base = b * masks.count;
  return {
    lowResLogits: chosen.map((i) => masks.data.subarray((base + i) * plane, (base + i + 1) * plane)),
    iouPredictions: Float32Array.from(chosen, (i) => iou[i]),
    lowResSize: masks.side,
  };
}

/** Reads the encoder's outputs into an embedding, checking the main one's shape. */
function toEmbedding(out: Record<string, TensorData>, encoderIo: EncoderIo, transform: SamImageEmbedding['transform']): SamImageEmbedding {
  const emb = out[encoderIo.output];
  if (emb.type !== 'float32' || emb.dims.length !== 4) {
    throw new SalipError('MODEL_CONTRACT', `SAM encoder: output "${encoderIo.output}": expected float32 [1, C, h, w], found ${emb.type} [${emb.dims.join(', ')}]`);
  }
  const [b, c, h, w] = emb.dims;
  if (encoderIo.extraOutputs.length === 0) return { data: emb.data as Float32Array, dims: [b, c, h, w], transform };
  const extras = Object.fromEntries(encoderIo.extraOutputs.map((name) => [name, { data: out[name].data as Float32Array, dims: [...out[name].dims] }]));
  return { data: emb.data as Float32Array, dims: [b, c, h, w], transform, extras };
}

export function makeSamModel(parts: SamModelParts): SamAdapterModel {
  const { encoder, ctx, preset, encoderIo, plan, loadSplit, loadBatched } = parts;
  const contract = ctx.io.contract;
  const singleMask = parts.singleMask === 'token' && plan.allMasks !== null && plan.allMasks.count >= 4 ? 'token' : 'export';
  let disposed = false;
  const assertLive = (what: string): void => {
    if (disposed) throw new SalipError('DISPOSED', `SAM model: ${what} after dispose()`);
  };
  const supportsPoints = preset.supportsPoints && contract.points;
  const info: SamAdapterInfo = {
    preset: preset.name,
    supportsMultimask: plan.source !== 'none',
    supportsPoints,
    multimaskSource: plan.source,
    multimaskNote: plan.note,
    singleMask,
    inputSize: preset.inputSize,
    lowResSize: ctx.lowResSize,
    encoderInput: encoderIo.input,
    encoderOutput: encoderIo.output,
    decoderContract: contract.name,
    supportsMaskInput: contract.maskInput,
    presetReason: parts.presetReason,
  };
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
    const names: [string, string] = (multimask || token) && plan.allMasks ? plan.allMasks.outputs : [ctx.io.masksOutput, ctx.io.iouOutput];
    return { token, names };
  };
  let lastEmbedding: SamImageEmbedding | undefined;
  let decodesOnLast = 0;
  const runDecoder = async (embedding: SamImageEmbedding, feeds: Record<string, TensorData>, names: readonly string[], withMask: boolean) => {
    // The split decoder computes mask_input's branch once per image: a prompt's own mask needs the whole graph.
    if (withMask || !loadSplit) return ctx.session.run(feeds, names);
    if (embedding === lastEmbedding) decodesOnLast++;
    else {
      lastEmbedding = embedding;
      decodesOnLast = 1;
    }
    if (decodesOnLast > SPLIT_AFTER_DECODES) {
      split ??= loadSplit().catch((error: unknown) => {
        if (error instanceof SalipError) return undefined;
        throw error;
      });
      const runner = await split;
      if (runner) return runner.run(feeds, names);
    }
    return ctx.session.run(feeds, names);
  };

  const model: SamAdapterModel = {
    info,
    async embed(image, options = {}) {
      assertLive('embed()');
      assertRgbImage(image, 'SAM embed: image');
      throwIfAborted(options.signal, 'SAM embed');
      // One input buffer (12 MB at 1024) serves every embed: a fresh one costs page faults and
      // garbage collection per image. A concurrent embed finds it taken and allocates its own.
      const spare = spareInput;
      spareInput = undefined;
      const { input, dims, transform } = preprocess(image, preset, spare);
      let out;
      try {
        out = await encoder.run({ [encoderIo.input]: { type: 'float32', dims, data: input } }, [encoderIo.output, ...encoderIo.extraOutputs]);
      } finally {
        spareInput = input;
      }
      throwIfAborted(options.signal, 'SAM embed');
      return toEmbedding(out, encoderIo, transform);
    },
    async decode(embedding, prompt, options: SamDecodeOptions): Promise<SamDecodeResult> {
      assertLive('decode()');
      checkEmbedding(embedding, ctx);
      checkSamPrompt(prompt, embedding.transform.imageWidth, embedding.transform.imageHeight, supportsPoints);
      checkContractPrompt(prompt, contract, 'SAM decode: prompt');
      const multimask = checkMultimask(options, 'SAM decode');
      const { token, names } = outputsFor(multimask);
      checkMaskInput(prompt.maskInput, ctx.lowResSize, contract);
      const { feeds, pointCount } = decoderFeeds(ctx, embedding, [prompt], embedding.transform);
      const out = await runDecoder(embedding, feeds, names, prompt.maskInput !== undefined);
      return pickResult(readMasks(out[names[0]], out[names[1]], names), 0, multimask, pointCount, token);
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      lastEmbedding = undefined;
      const runner = split ? await split : undefined;
      const batchSession = batched ? await batched.catch(() => undefined) : undefined;
      // A native prompt batch runs on the decoder session itself.
      await Promise.all([encoder.dispose(), ctx.session.dispose(), runner?.dispose(), batchSession === ctx.session ? undefined : batchSession?.dispose()]);
    },
  };
  if (!loadBatched) return model;
  return {
    ...model,
    async decodeBatch(embedding, points, options: SamDecodeOptions): Promise<SamDecodeResult[]> {
      assertLive('decodeBatch()');
      checkEmbedding(embedding, ctx);
      if (!Array.isArray(points) || points.length === 0) {
        throw new SalipError('INVALID_ARGUMENT', `SAM decodeBatch: points: expected a non-empty array of points, got ${describeValue(points)}`);
      }
      const t = embedding.transform;
      points.forEach((p, i) => checkSamPrompt({ points: [p] }, t.imageWidth, t.imageHeight, supportsPoints, `points[${i}]`));
      const multimask = checkMultimask(options, 'SAM decodeBatch');
      const { token, names } = outputsFor(multimask);
      const session = await (batched ??= loadBatched());
      // One single-point prompt per point, fed as decode feeds it.
      const { feeds, pointCount } = decoderFeeds(ctx, embedding, points.map((p) => ({ points: [p] })), t);
      const out = await session.run(feeds, names);
      const masks = readMasks(out[names[0]], out[names[1]], names, points.length);
      return points.map((_, b) => pickResult(masks, b, multimask, pointCount, token));
    },
  };
}
