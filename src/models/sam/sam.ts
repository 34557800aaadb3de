/**
 * SAM-family adapter: an image encoder and a prompt decoder behind the SamModel interface.
 * Preprocessing, prompt scaling and output selection follow segment-anything's SamPredictor /
 * SamOnnxModel for Meta-style exports; the other families' decoders go through their decoder
 * contract (decoder-contracts.ts). Both models are checked against the family at load, and
 * preset 'auto' names the family from the files' I/O.
 */
import type { Backend, ModelSession, ModelSource } from '../../backends/types.js';
import { carryChannelsLast } from '../graph/channels-last.js';
import { quantizeOptionsOf, quantizedBytes, sourceBytes, type QuantizeSetting } from '../graph/quantized-source.js';
import { SalipError, describeValue } from '../../core/errors.js';
import { checkDecoderIo, detectDecoderContract, type DecoderContract } from './decoder-contracts.js';
import { decoderContext } from './decoder-feeds.js';
import { checkPresetDecoder, detectSamFamily } from './detect.js';
import { dropGraphOutputs, freePromptBatch, prepareSamDecoder, readGraphIoNames } from './graph-edit.js';
import { loadSplitDecoder } from './graph-split.js';
import { MULTIMASK_MODES, planMultimask, type SamMultimaskMode } from './multimask.js';
import { makeSamModel, type SamAdapterModel } from './sam-model.js';
import { checkEmbeddingContract, resolveEncoderIo, resolveSamPreset, type SamPresetName, type SamPresetOverrides } from './sam-presets.js';

export type { SamMultimaskMode } from './multimask.js';
export type { SamAdapterInfo, SamAdapterModel } from './sam-model.js';

export interface SamConfig extends SamPresetOverrides {
  /**
   * Preprocessing/prompt conventions (default 'mobilesam'). 'auto': name the family from the
   * encoder's and decoder's input/output names and sizes (see docs/models.md).
   */
  preset?: SamPresetName | 'auto';
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
   * decoder when the graph cannot be split. Meta-style decoders only.
   */
  splitDecoder?: boolean;
  /**
   * Run int8 copies of both models (quantizeModel: MatMul/Gemm weights per channel, activations
   * at run time), made once and kept in the backend's cache (Node: ~/.cache/salip) or, on the
   * web, made in memory at each load. The decoder is quantized after its graph edits; its
   * token-side products stay float (SAM_DECODER_KEEP_FLOAT). Options pass through to
   * quantizeModel (keepFloat adds nodes to that list, keepFloatDefaults: false drops it).
   * Default false.
   */
  quantize?: QuantizeSetting;
  /**
   * Run the decoder's output upscaling channels-last (carryChannelsLast: its ConvTransposes with
   * kernel == stride as MatMuls, LayerNorm2d and GELU on the channels-last pixels, one pixel
   * shuffle at the end). Same masks (logits within float rounding, ~1e-5), faster per call, and
   * with `quantize` the upscaling's matrix products run in int8 too (docs/performance.md).
   * Default true; false loads the decoder graph as exported. Meta-style decoders only (the
   * other families load as exported); graphs without the pattern are left as they are.
   */
  channelsLastDecoder?: boolean;
}

function isBytes(source: ModelSource): source is Uint8Array | ArrayBuffer {
  return source instanceof Uint8Array || source instanceof ArrayBuffer;
}

/** The decoder contract of a graph's I/O names, read before loading (undefined when unknown). */
function contractOf(names: { inputs: string[]; outputs: string[] }): DecoderContract | undefined {
  try {
    return detectDecoderContract(names.inputs, names.outputs);
  } catch {
    return undefined;
  }
}

/** The channels-last decoder, or the bytes as they are when we cannot read them (the runtime then reports why). */
function channelsLastOrAsIs(model: Uint8Array): Uint8Array {
  try {
    return carryChannelsLast(model).bytes;
  } catch (error) {
    if (error instanceof SalipError) return model;
    throw error;
  }
}

interface LoadedDecoder {
  readonly session: ModelSession;
  readonly exposed: boolean;
  readonly exposeError?: SalipError;
  readonly bytes: Uint8Array;
}

/** Meta decoders get the multi-mask edit; every decoder loses the full-size outputs salip never reads. */
async function loadDecoder(
  backend: Backend,
  config: Pick<SamConfig, 'decoder' | 'quantize' | 'channelsLastDecoder'>,
  expose: boolean,
  mustExpose: boolean,
  sessionOptions: { intraOpThreads?: number; label: string },
): Promise<LoadedDecoder> {
  const source = config.decoder;
  const bytes = isBytes(source) ? (source instanceof Uint8Array ? source : new Uint8Array(source)) : await backend.readBytes(source);
  // The channels-last rewrite and the int8 copy come after the other graph edits (both keep
  // the edited outputs), in that order: the rewrite's MatMuls are then quantized too.
  const quantize = quantizeOptionsOf(config.quantize, 'SamConfig.quantize');
  const channelsLast = config.channelsLastDecoder ?? true;
  const load = async (model: Uint8Array, meta: boolean) => {
    // Measured on Meta's decoders only; other families' upscaling mixes in inputs (SAM 2's
    // high-res features) where the layout would have to go back early.
    const rewritten = channelsLast && meta ? channelsLastOrAsIs(model) : model;
    const final = quantize ? await quantizedBytes(backend, rewritten, quantize) : rewritten;
    return { session: await backend.loadModel(final, sessionOptions), bytes: final };
  };
  const names = readGraphIoNames(bytes);
  const contract = names ? contractOf(names) : undefined;
  if (names && contract && contract.name !== 'meta') {
    if (mustExpose) throw new SalipError('GRAPH_EDIT_FAILED', `SAM decoder: multimask: 'graph-edit' applies to Meta's decoder only, this is ${contract.title}`);
    const drop = contract.fullSizeOutputs.filter((n) => names.outputs.includes(n));
    const edited = drop.length > 0 ? dropGraphOutputs(bytes, drop) : bytes;
    return { ...(await load(edited, false)), exposed: false };
  }
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
  return { ...(await load(prepared.bytes, true)), exposed: prepared.exposed, exposeError: prepared.exposeError };
}

function checkConfig(backend: Backend, config: SamConfig): { mode: SamMultimaskMode; singleMask: 'token' | 'export' } {
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
  if (config.channelsLastDecoder !== undefined && typeof config.channelsLastDecoder !== 'boolean') {
    throw new SalipError('INVALID_ARGUMENT', `SamConfig.channelsLastDecoder: expected true or false, got ${describeValue(config.channelsLastDecoder)}`);
  }
  return { mode, singleMask };
}

/** Loads a SAM-family encoder/decoder pair and checks both against the family's contract. */
export async function createSamModel(backend: Backend, config: SamConfig): Promise<SamAdapterModel> {
  const { mode, singleMask } = checkConfig(backend, config);
  const auto = config.preset === 'auto';
  // Named presets are validated before any file is read; 'auto' resolves once both are loaded.
  const named = auto ? undefined : (config.preset as SamPresetName | undefined);
  if (!auto) resolveSamPreset(named, config);
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
    const detection = auto ? detectSamFamily(encoder, decoder) : undefined;
    const preset = resolveSamPreset(detection?.preset ?? named, config);
    const contract = checkPresetDecoder(preset, decoder);
    const encoderIo = resolveEncoderIo(encoder, preset, config);
    const decoderIo = checkDecoderIo(decoder, contract);
    checkEmbeddingContract(encoderIo.outputDims, decoderIo.embeddingDims, contract.embeddingInput);
    const ctx = decoderContext(decoder, decoderIo, encoderIo.outputDims, preset.inputSize);
    const plan = await planMultimask(ctx, mode, loaded.exposed, loaded.exposeError);
    const outputs = decoder.outputs.map((o) => o.name);
    const meta = contract.name === 'meta';
    const loadSplit =
      config.splitDecoder === false || !meta
        ? undefined
        : () => loadSplitDecoder(backend, loaded.bytes, outputs, { intraOpThreads: threads, label: 'SAM decoder' });
    // Meta's prompt-batched decoder loads at the first decodeBatch (only GPU runs ask for it);
    // SAM 2 and EfficientSAM take prompt batches as they are.
    const session = decoder;
    const loadBatched = meta
      ? () => backend.loadModel(freePromptBatch(loaded.bytes), { intraOpThreads: threads, label: 'SAM decoder (prompt batch)' })
      : decoderIo.nativePromptBatch
        ? async () => session
        : undefined;
    const presetReason = detection ? `detected: ${detection.reason}` : `preset ${preset.name} from the config`;
    return makeSamModel({ encoder, ctx, preset, presetReason, encoderIo, plan, singleMask, loadSplit, loadBatched });
  } catch (error) {
    await Promise.allSettled([encoder.dispose(), decoder?.dispose()]);
    throw error;
  }
}
