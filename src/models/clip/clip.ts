/**
 * CLIP-family adapter: loads an image tower and a text tower (two graphs, or one combined graph),
 * checks them against the preset's contract, and embeds images and sentences in batches.
 * Tensor names, token dtypes, fixed batch sizes, the context length and the embedding width are
 * read from the sessions; the preset (clip-presets.ts) supplies only what a graph cannot say.
 */
import type { Backend, ModelSession, ModelSource, TensorData } from '../../backends/types.js';
import { SalipError, throwIfAborted } from '../../core/errors.js';
import { assertRgbImage, clipPreprocess } from '../../core/image.js';
import type { RgbImage } from '../../core/types.js';
import { contractError, resolveText, resolveVision, showDims, type TextIo, type VisionIo } from './clip-io.js';
import { readHfClipFolder, type ClipImageProcessing, type HfClipFolder } from './hf-folder.js';
import { getClipPreset, type ClipPreset, type ClipPresetName } from './clip-presets.js';
import { resolveTokenizer, type TextTokenizer, type TokenizerSpec } from './tokenizer.js';
import { quantizeOptionsOf, quantizedBytes, sourceBytes, type QuantizeSetting } from '../graph/quantized-source.js';

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
   * preset 'hf': a Hugging Face / transformers.js CLIP folder. Its tokenizer.json,
   * preprocessor_config.json (size, crop, mean/std, resample) and config.json (context length)
   * are read instead of assumed, and its onnx/vision_model.onnx + onnx/text_model.onnx are the
   * towers unless vision/text/combined are given.
   */
  folder?: string | URL;
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
  /** The image preprocessing in effect and where it came from (the preset, or preprocessor_config.json). */
  readonly imageProcessing: ClipImageProcessing;
  readonly imageProcessingSource: string;
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

/** The image preprocessing: the folder's preprocessor_config.json, else the preset's CLIP defaults; config mean/std win. */
function imageProcessing(preset: ClipPreset, config: ClipConfig, folder: HfClipFolder | undefined): ClipImageProcessing {
  const base: ClipImageProcessing = folder?.processing ?? {
    size: config.imageSize ?? preset.imageSize,
    shortestEdge: config.imageSize ?? preset.imageSize,
    centerCrop: true,
    kernel: 'bicubic',
    mean: [...preset.mean],
    std: [...preset.std],
    scale: 1 / 255,
  };
  return { ...base, mean: config.mean ?? base.mean, std: config.std ?? base.std };
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
  if (config.folder !== undefined && preset.name !== 'hf') {
    throw new SalipError('INVALID_ARGUMENT', `clip config.folder: a Hugging Face / transformers.js folder goes with preset 'hf', got preset '${preset.name}'`);
  }
  const folder = config.folder !== undefined ? await readHfClipFolder(backend, config.folder) : undefined;
  const combined = config.combined !== undefined;
  const towers = folder && !combined && config.vision === undefined && config.text === undefined ? { vision: folder.vision, text: folder.text } : config;
  if (combined ? config.vision !== undefined || config.text !== undefined : towers.vision === undefined || towers.text === undefined) {
    throw new SalipError('INVALID_ARGUMENT', 'clip config: expected either `vision` and `text` model sources, or one `combined` source (or a `folder` with preset hf)');
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
    const visionSession = combined ? await load(config.combined!, 'CLIP (combined)') : await load(towers.vision!, 'CLIP vision');
    const textSession = combined ? visionSession : await load(towers.text!, 'CLIP text');
    const processing = imageProcessing(preset, config, folder);
    const vision = resolveVision(visionSession, visionSession.label, preset, { ...config, imageSize: config.imageSize ?? (folder ? processing.size : undefined) });
    const text = resolveText(textSession, textSession.label, preset, config, combined ? vision.input : undefined);
    if (text.contextLength !== undefined && config.contextLength !== undefined && config.contextLength !== text.contextLength) {
      throw contractError(textSession.label, `input '${text.ids}' sequence length`, `${config.contextLength} (config.contextLength)`, `${text.contextLength}`);
    }
    const contextLength = text.contextLength ?? config.contextLength ?? folder?.contextLength ?? preset.contextLength;
    const { tokenizer, description } = await resolveTokenizer(backend, config.tokenizer ?? folder?.tokenizerJson, preset.tokenizer, {
      contextLength,
      padId: config.padId ?? preset.padId,
      besideModel: combined ? config.combined : towers.text,
    });
    if (tokenizer.contextLength !== contextLength && text.contextLength !== undefined) {
      throw contractError(textSession.label, `input '${text.ids}' sequence length`, `${tokenizer.contextLength} (the tokenizer's context length)`, `${text.contextLength}`);
    }
    const tokenizerSource = config.tokenizer === undefined && folder ? folder.tokenizerSource : description;
    const model = new ClipModelImpl(preset, visionSession, textSession, vision, text, tokenizer, tokenizerSource, combined, {
      processing: { ...processing, size: vision.imageSize },
      source: folder ? folder.processingSource : `preset ${preset.name}`,
    });
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
    private readonly processing: { processing: ClipImageProcessing; source: string },
  ) {}

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
      imageProcessing: this.processing.processing,
      imageProcessingSource: this.processing.source,
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
    const p = this.processing.processing;
    images.forEach((image, i) => pixels.set(clipPreprocess(image, { ...p, shortestEdge: p.shortestEdge === p.size ? s : p.shortestEdge, size: s }), i * 3 * s * s));
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
