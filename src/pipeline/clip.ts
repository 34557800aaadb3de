/**
 * CLIP-family adapter: loads an image tower and a text tower (two graphs, or one combined graph),
 * checks them against the preset's contract, and embeds images and sentences in batches.
 * Tensor names, token dtypes, fixed batch sizes, the context length and the embedding width are
 * read from the sessions; the preset (clip-presets.ts) supplies only what a graph cannot say.
 */
import type { Backend, Dim, ModelSession, ModelSource, TensorData, ValueInfo } from '../backends/types.js';
import { SalipError } from '../core/errors.js';
import { throwIfAborted } from './stages/options.js';
import { assertRgbImage, clipPreprocess } from '../core/image.js';
import type { RgbImage } from '../core/types.js';
import { getClipPreset, type ClipPreset, type ClipPresetName } from './clip-presets.js';
import { resolveTokenizer, type TextTokenizer, type TokenizerSpec } from './tokenizer.js';
import { quantizeOptionsOf, quantizedBytes, sourceBytes, type QuantizeSetting } from '../models/graph/quantized-source.js';

export interface ClipConfig {
  /** Export family: 'hf' (transformers.js/optimum), 'openai', 'openclip', 'biomedclip'. */
  preset: ClipPresetName;
  /** Image tower graph (vision_model.onnx, visual.onnx, ...). */
  vision?: ModelSource;
  /** Text tower graph (text_model.onnx, textual.onnx, ...). */
  text?: ModelSource;
  /** One graph holding both towers (HF model.onnx), instead of vision + text. */
  combined?: ModelSource;
  /**
   * A ready tokenizer, a parsed tokenizer.json, its text, or its path/URL. Default per preset:
   * tokenizer.json beside the text graph (or one folder up) for hf/biomedclip, CLIP BPE otherwise.
   */
  tokenizer?: TokenizerSpec;
  /** Run int8 copies of the towers (see SamConfig.quantize; same cache). Default false. */
  quantize?: QuantizeSetting;
  /** Token row length; default: the graph's fixed sequence length, else the preset's. */
  contextLength?: number;
  /** Padding id; default: the preset's. */
  padId?: number;
  /** Image side; default: the graph's fixed size, else the preset's (224). */
  imageSize?: number;
  mean?: [number, number, number];
  std?: [number, number, number];
  /** Tensor-name overrides for exports that name things differently. */
  imageInputName?: string;
  imageOutputName?: string;
  textInputName?: string;
  attentionMaskName?: string;
  textOutputName?: string;
  intraOpThreads?: number;
}

/** Row-major [count, dim] embeddings (not normalised: raw tower outputs). */
export interface ClipEmbeddings {
  readonly data: Float32Array;
  readonly count: number;
  readonly dim: number;
}

export interface ClipEmbedOptions {
  /** Rows per model run (default 16); graphs with a fixed batch size use theirs. */
  batchSize?: number;
  signal?: AbortSignal;
}

export interface ClipModelInfo {
  readonly preset: ClipPresetName;
  /** Embedding width shared by both towers. */
  readonly dim: number;
  readonly contextLength: number;
  readonly imageSize: number;
  /** Where the tokenizer came from (e.g. 'clip-bpe (built in)', 'tokenizer.json at <path>'). */
  readonly tokenizer: string;
  /** 'free' or the graph's fixed batch size, per tower. */
  readonly imageBatch: number | 'free';
  readonly textBatch: number | 'free';
  readonly tokenType: 'int32' | 'int64';
  /** Whether both towers live in one graph. */
  readonly combined: boolean;
}

/** A loaded CLIP-family model. */
export interface ClipModel {
  readonly info: ClipModelInfo;
  readonly tokenizer: TextTokenizer;
  embedImages(images: readonly RgbImage[], options?: ClipEmbedOptions): Promise<ClipEmbeddings>;
  embedTexts(texts: readonly string[], options?: ClipEmbedOptions): Promise<ClipEmbeddings>;
  dispose(): Promise<void>;
}

const DEFAULT_BATCH = 16;

function contractError(tower: string, what: string, expected: string, found: string): SalipError {
  return new SalipError('MODEL_CONTRACT', `${tower}: ${what}: expected ${expected}, found ${found}`, {
    details: { tower, expected, found },
  });
}

const showDims = (dims: readonly Dim[] | undefined) => (dims ? `[${dims.join(', ')}]` : '[unknown shape]');
const showValues = (values: readonly ValueInfo[]) => values.map((v) => `'${v.name}' ${v.type}${showDims(v.dims)}`).join(', ') || 'none';

/** Picks an input/output by explicit name, or by `guess` when no name is given. */
function pickValue(
  tower: string,
  kind: 'input' | 'output',
  values: readonly ValueInfo[],
  name: string | undefined,
  guess: (values: readonly ValueInfo[]) => ValueInfo[],
  what: string,
): ValueInfo {
  if (name !== undefined) {
    const found = values.find((v) => v.name === name);
    if (!found) throw contractError(tower, `${what} ${kind}`, `${kind} '${name}'`, `${kind}s ${showValues(values)}`);
    return found;
  }
  const candidates = values.length === 1 ? [...values] : guess(values);
  if (candidates.length !== 1) {
    throw contractError(tower, `${what} ${kind}`, `exactly one ${kind} that is the ${what} (or give its name in the config)`, `${kind}s ${showValues(values)}`);
  }
  return candidates[0];
}

const fixed = (d: Dim | undefined): number | undefined => (typeof d === 'number' && d > 0 ? d : undefined);

interface VisionIo {
  input: string;
  output: string;
  imageSize: number;
  batch?: number;
  dim?: number;
}

function resolveVision(session: ModelSession, tower: string, preset: ClipPreset, config: ClipConfig): VisionIo {
  const input = pickValue(tower, 'input', session.inputs, config.imageInputName ?? preset.imageInputName, (vs) => vs.filter((v) => v.type === 'float32'), 'image');
  if (input.type !== 'float32' && input.type !== 'unknown') throw contractError(tower, `input '${input.name}' element type`, 'float32', input.type);
  let imageSize = config.imageSize ?? preset.imageSize;
  let batch: number | undefined;
  if (input.dims) {
    if (input.dims.length !== 4) throw contractError(tower, `input '${input.name}' rank`, 'rank 4 [batch, 3, height, width]', `rank ${input.dims.length} ${showDims(input.dims)}`);
    const [b, c, h, w] = input.dims;
    if (fixed(c) !== undefined && c !== 3) throw contractError(tower, `input '${input.name}' channels`, '3 channels in dim 1 (NCHW)', `${c} ${showDims(input.dims)}`);
    const side = fixed(h) ?? fixed(w);
    if (fixed(h) !== undefined && fixed(w) !== undefined && h !== w) throw contractError(tower, `input '${input.name}' size`, 'a square image', showDims(input.dims));
    if (side !== undefined) {
      if (config.imageSize !== undefined && config.imageSize !== side) throw contractError(tower, `input '${input.name}' size`, `${config.imageSize} (config.imageSize)`, `${side}`);
      imageSize = side;
    }
    batch = fixed(b);
  }
  const output = pickValue(tower, 'output', session.outputs, config.imageOutputName ?? preset.imageOutputName, embeddingLike, 'image embedding');
  return { input: input.name, output: output.name, imageSize, batch, dim: embeddingWidth(tower, output) };
}

interface TextIo {
  ids: string;
  mask?: string;
  tokenTypes?: string;
  output: string;
  tokenType: 'int32' | 'int64';
  contextLength?: number;
  batch?: number;
  dim?: number;
}

const isInt = (v: ValueInfo) => v.type === 'int64' || v.type === 'int32' || v.type === 'unknown';
const MASK_NAME = /attention_mask|attn_mask|^mask$/i;
const TOKEN_TYPE_NAME = /token_type/i;

function resolveText(session: ModelSession, tower: string, preset: ClipPreset, config: ClipConfig, imageInput?: string): TextIo {
  const inputs = session.inputs.filter((v) => v.name !== imageInput);
  const ids = pickValue(tower, 'input', inputs, config.textInputName ?? preset.textInputName, (vs) => vs.filter((v) => isInt(v) && !MASK_NAME.test(v.name) && !TOKEN_TYPE_NAME.test(v.name)), 'token ids');
  if (ids.type !== 'int64' && ids.type !== 'int32' && ids.type !== 'unknown') throw contractError(tower, `input '${ids.name}' element type`, 'int64 or int32 token ids', ids.type);
  if (ids.dims && ids.dims.length !== 2) throw contractError(tower, `input '${ids.name}' rank`, 'rank 2 [batch, sequence]', `rank ${ids.dims.length} ${showDims(ids.dims)}`);
  const rest = inputs.filter((v) => v.name !== ids.name);
  let mask: ValueInfo | undefined;
  if (config.attentionMaskName !== undefined) {
    mask = pickValue(tower, 'input', rest, config.attentionMaskName, () => [], 'attention mask');
  } else {
    mask = rest.find((v) => v.name === preset.attentionMaskName) ?? rest.find((v) => MASK_NAME.test(v.name));
  }
  const tokenTypes = rest.find((v) => v !== mask && TOKEN_TYPE_NAME.test(v.name));
  const unexpected = rest.filter((v) => v !== mask && v !== tokenTypes);
  if (unexpected.length > 0) {
    throw contractError(tower, 'inputs', `token ids '${ids.name}' plus optional attention mask / token type ids`, `also ${showValues(unexpected)}`);
  }
  const output = pickValue(tower, 'output', session.outputs, config.textOutputName ?? preset.textOutputName, embeddingLike, 'text embedding');
  return {
    ids: ids.name,
    mask: mask?.name,
    tokenTypes: tokenTypes?.name,
    output: output.name,
    tokenType: ids.type === 'int32' ? 'int32' : 'int64',
    contextLength: fixed(ids.dims?.[1]),
    batch: fixed(ids.dims?.[0]),
    dim: embeddingWidth(tower, output),
  };
}

/** Outputs that look like pooled embeddings when a graph has several outputs. */
function embeddingLike(values: readonly ValueInfo[]): ValueInfo[] {
  return values.filter((v) => /embed|feature/i.test(v.name) && (!v.dims || v.dims.length === 2));
}

function embeddingWidth(tower: string, output: ValueInfo): number | undefined {
  if (!output.dims) return undefined;
  if (output.dims.length !== 2) throw contractError(tower, `output '${output.name}' rank`, 'rank 2 [batch, dim]', `rank ${output.dims.length} ${showDims(output.dims)}`);
  return fixed(output.dims[1]);
}

function intTensor(type: 'int32' | 'int64', values: Int32Array, dims: number[]): TensorData {
  if (type === 'int32') return { type, dims, data: values };
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]);
  return { type, dims, data };
}

function assertBatchSize(value: number | undefined): number {
  const size = value ?? DEFAULT_BATCH;
  if (!Number.isInteger(size) || size < 1) throw new SalipError('INVALID_ARGUMENT', `batchSize: expected a positive integer, got ${String(value)}`);
  return size;
}


/** Loads a CLIP-family model and checks it against its preset's contract. */
export async function createClipModel(backend: Backend, config: ClipConfig): Promise<ClipModel> {
  const preset = getClipPreset(config?.preset);
  if (!preset) {
    throw new SalipError('INVALID_ARGUMENT', `clip config.preset: expected one of 'hf', 'openai', 'openclip', 'biomedclip', got ${JSON.stringify(config?.preset)}`);
  }
  const combined = config.combined !== undefined;
  if (combined ? config.vision !== undefined || config.text !== undefined : config.vision === undefined || config.text === undefined) {
    throw new SalipError('INVALID_ARGUMENT', 'clip config: expected either `vision` and `text` model sources, or one `combined` source');
  }
  const sessions: ModelSession[] = [];
  const quantize = quantizeOptionsOf(config.quantize, 'ClipConfig.quantize');
  try {
    const load = async (source: ModelSource, label: string) => {
      const model = quantize ? await quantizedBytes(backend, await sourceBytes(backend, source), quantize) : source;
      const session = await backend.loadModel(model, { label: quantize ? `${label} (int8)` : label, intraOpThreads: config.intraOpThreads });
      sessions.push(session);
      return session;
    };
    const visionSession = combined ? await load(config.combined!, 'CLIP (combined)') : await load(config.vision!, 'CLIP vision');
    const textSession = combined ? visionSession : await load(config.text!, 'CLIP text');
    const vision = resolveVision(visionSession, visionSession.label, preset, config);
    const text = resolveText(textSession, textSession.label, preset, config, combined ? vision.input : undefined);
    if (text.contextLength !== undefined && config.contextLength !== undefined && config.contextLength !== text.contextLength) {
      throw contractError(textSession.label, `input '${text.ids}' sequence length`, `${config.contextLength} (config.contextLength)`, `${text.contextLength}`);
    }
    const contextLength = text.contextLength ?? config.contextLength ?? preset.contextLength;
    const { tokenizer, description } = await resolveTokenizer(backend, config.tokenizer, preset.tokenizer, {
      contextLength,
      padId: config.padId ?? preset.padId,
      besideModel: combined ? config.combined : config.text,
    });
    if (tokenizer.contextLength !== contextLength && text.contextLength !== undefined) {
      throw contractError(textSession.label, `input '${text.ids}' sequence length`, `${tokenizer.contextLength} (the tokenizer's context length)`, `${text.contextLength}`);
    }
    const model = new ClipModelImpl(preset, visionSession, textSession, vision, text, tokenizer, description, combined, config);
    await model.checkWidths();
    return model;
  } catch (error) {
    await Promise.all(sessions.map((s) => s.dispose().catch(() => undefined)));
    throw error;
  }
}

class ClipModelImpl implements ClipModel {
  info!: ClipModelInfo;
  private disposed = false;
  private readonly mean: [number, number, number];
  private readonly std: [number, number, number];
  private dummyPixels?: TensorData;
  private dummyTokens?: Record<string, TensorData>;

  constructor(
    private readonly preset: ClipPreset,
    private readonly visionSession: ModelSession,
    private readonly textSession: ModelSession,
    private readonly vision: VisionIo,
    private readonly text: TextIo,
    readonly tokenizer: TextTokenizer,
    private readonly tokenizerDescription: string,
    private readonly combined: boolean,
    config: ClipConfig,
  ) {
    this.mean = config.mean ?? [...preset.mean];
    this.std = config.std ?? [...preset.std];
  }

  /** Fixes the embedding width, probing the towers when the graphs leave it symbolic. */
  async checkWidths(): Promise<void> {
    const imageDim = this.vision.dim ?? (await this.embedImageRows([], 1)).dim;
    const textDim = this.text.dim ?? (await this.embedTextRows([''], 1)).dim;
    if (imageDim !== textDim) {
      throw contractError(
        this.combined ? this.visionSession.label : 'CLIP towers',
        `embedding width (image output '${this.vision.output}' vs text output '${this.text.output}')`,
        `the same width in both towers (image ${imageDim})`,
        `text ${textDim}`,
      );
    }
    this.info = {
      preset: this.preset.name,
      dim: imageDim,
      contextLength: this.tokenizer.contextLength,
      imageSize: this.vision.imageSize,
      tokenizer: this.tokenizerDescription,
      imageBatch: this.vision.batch ?? 'free',
      textBatch: this.text.batch ?? 'free',
      tokenType: this.text.tokenType,
      combined: this.combined,
    };
  }

  async embedImages(images: readonly RgbImage[], options: ClipEmbedOptions = {}): Promise<ClipEmbeddings> {
    this.assertLive('embedImages()');
    if (!Array.isArray(images)) throw new SalipError('INVALID_ARGUMENT', 'embedImages images: expected an array of RgbImage');
    images.forEach((image, i) => assertRgbImage(image, `embedImages images[${i}]`));
    const size = this.vision.batch ?? assertBatchSize(options.batchSize);
    return this.collect(images.length, size, options.signal, 'embedImages', (start, end) => this.embedImageRows(images.slice(start, end), size));
  }

  async embedTexts(texts: readonly string[], options: ClipEmbedOptions = {}): Promise<ClipEmbeddings> {
    this.assertLive('embedTexts()');
    if (!Array.isArray(texts)) throw new SalipError('INVALID_ARGUMENT', 'embedTexts texts: expected an array of strings');
    const size = this.text.batch ?? assertBatchSize(options.batchSize);
    return this.collect(texts.length, size, options.signal, 'embedTexts', (start, end) => this.embedTextRows(texts.slice(start, end), size));
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.visionSession.dispose();
    if (this.textSession !== this.visionSession) await this.textSession.dispose();
  }

  private assertLive(what: string): void {
    if (this.disposed) throw new SalipError('DISPOSED', `CLIP model: ${what} after dispose()`);
  }

  private async collect(
    count: number,
    batchSize: number,
    signal: AbortSignal | undefined,
    what: string,
    runBatch: (start: number, end: number) => Promise<ClipEmbeddings>,
  ): Promise<ClipEmbeddings> {
    let data = new Float32Array(0);
    let dim = this.info?.dim ?? 0;
    for (let start = 0; start < count; start += batchSize) {
      throwIfAborted(signal, what);
      const end = Math.min(count, start + batchSize);
      const batch = await runBatch(start, end);
      if (start === 0) {
        dim = batch.dim;
        data = new Float32Array(count * dim);
      }
      data.set(batch.data.subarray(0, (end - start) * dim), start * dim);
    }
    return { data, count, dim };
  }

  /** Runs the image tower once; `rows` >= images.length (extra rows are zero images, for fixed-batch graphs). */
  private async embedImageRows(images: readonly RgbImage[], minRows: number): Promise<ClipEmbeddings> {
    const s = this.vision.imageSize;
    const rows = Math.max(images.length, minRows, this.vision.batch ?? 0);
    const pixels = new Float32Array(rows * 3 * s * s);
    images.forEach((image, i) => pixels.set(clipPreprocess(image, { size: s, mean: this.mean, std: this.std }), i * 3 * s * s));
    const feeds: Record<string, TensorData> = { [this.vision.input]: { type: 'float32', dims: [rows, 3, s, s], data: pixels } };
    if (this.combined) Object.assign(feeds, this.dummyTextFeeds());
    return this.runTower(this.visionSession, feeds, this.vision.output, rows, images.length);
  }

  private async embedTextRows(texts: readonly string[], minRows: number): Promise<ClipEmbeddings> {
    const rows = Math.max(texts.length, minRows, this.text.batch ?? 0);
    const padded = texts.length === rows ? texts : [...texts, ...new Array<string>(rows - texts.length).fill('')];
    const feeds = this.tokenFeeds(padded);
    if (this.combined) {
      const s = this.vision.imageSize;
      this.dummyPixels ??= { type: 'float32', dims: [1, 3, s, s], data: new Float32Array(3 * s * s) };
      feeds[this.vision.input] = this.dummyPixels;
    }
    return this.runTower(this.textSession, feeds, this.text.output, rows, texts.length);
  }

  private tokenFeeds(texts: readonly string[]): Record<string, TensorData> {
    const batch = this.tokenizer.encode(texts);
    const dims = [batch.length, batch.contextLength];
    const feeds: Record<string, TensorData> = { [this.text.ids]: intTensor(this.text.tokenType, batch.ids, dims) };
    const maskType = this.maskType(this.text.mask);
    if (this.text.mask) feeds[this.text.mask] = intTensor(maskType, batch.attentionMask, dims);
    if (this.text.tokenTypes) feeds[this.text.tokenTypes] = intTensor(this.maskType(this.text.tokenTypes), new Int32Array(batch.ids.length), dims);
    return feeds;
  }

  private maskType(name: string | undefined): 'int32' | 'int64' {
    const info = this.textSession.inputs.find((v) => v.name === name);
    return info?.type === 'int32' ? 'int32' : 'int64';
  }

  private dummyTextFeeds(): Record<string, TensorData> {
    this.dummyTokens ??= this.tokenFeeds(['']);
    return this.dummyTokens;
  }

  private async runTower(session: ModelSession, feeds: Record<string, TensorData>, output: string, rows: number, keep: number): Promise<ClipEmbeddings> {
    const result = (await session.run(feeds, [output]))[output];
    const dims = result.dims;
    if (result.type !== 'float32' || dims.length !== 2 || dims[0] !== rows) {
      throw contractError(session.label, `output '${output}'`, `float32 [${rows}, dim]`, `${result.type} ${showDims(dims)}`);
    }
    const dim = dims[1];
    return { data: (result.data as Float32Array).subarray(0, keep * dim), count: keep, dim };
  }
}
