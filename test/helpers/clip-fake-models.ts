/**
 * Small CLIP-shaped ONNX models with the input/output names, dtypes and shapes of real exports
 * (HF/transformers.js separate towers and combined graph, OpenAI/OpenCLIP split graphs with int32
 * or int64 tokens, BiomedCLIP with context 256) and behaviour chosen so rankings are known:
 *
 * - image tower: per-channel mean of the input pixels, un-normalised with CLIP's mean/std back to
 *   0..1 and shifted by -0.5 (so a colour is a signed direction and mid-grey is ~0), projected onto
 *   the first three embedding axes (R -> e0, G -> e1, B -> e2). A solid (r, g, b) image thus embeds
 *   to (r/255 - 0.5, g/255 - 0.5, b/255 - 0.5, 0, ...) only if the adapter normalised it with CLIP's
 *   statistics;
 * - text tower: a Gather on a constant embedding table, averaged over the sequence (over the
 *   attention mask when the graph has one). The table maps the real token ids of "red" / "green"
 *   / "blue" to e0 / e1 / e2 and "organ" to a small e3; every other id (specials, padding,
 *   "a", ...) to zero.
 *
 * So a red crop is closest to "a red organ", a green crop to "a green organ", and so on.
 */
import { CLIP_MEAN, CLIP_STD } from '../../src/core/image.js';
import { buildModel, type IoSpec, type InitSpec, type NodeSpec } from './onnx-builder.js';

/** Real CLIP BPE ids of the colour words (vocabulary entries 'red</w>', 'green</w>', 'blue</w>', 'organ</w>'). */
export const CLIP_COLOR_IDS = { red: 736, green: 1901, blue: 1746, organ: 13213 } as const;
export const CLIP_VOCAB_SIZE = 49408;

/**
 * A hand-made BERT WordPiece tokenizer.json (the shape of BiomedCLIP's PubMedBERT export) with a
 * vocabulary of a dozen words.
 */
export const WORDPIECE_VOCAB: Record<string, number> = {
  '[PAD]': 0,
  '[UNK]': 1,
  '[CLS]': 2,
  '[SEP]': 3,
  a: 4,
  red: 5,
  green: 6,
  blue: 7,
  organ: 8,
  brain: 9,
  mri: 10,
  '##s': 11,
  scan: 12,
  of: 13,
  the: 14,
  lung: 15,
};
export const WORDPIECE_COLOR_IDS = { red: 5, green: 6, blue: 7, organ: 8 } as const;

const special = (id: number, content: string) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
});

export const WORDPIECE_TOKENIZER_JSON = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [special(0, '[PAD]'), special(1, '[UNK]'), special(2, '[CLS]'), special(3, '[SEP]')],
  normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
  pre_tokenizer: { type: 'BertPreTokenizer' },
  post_processor: {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
    pair: [
      { SpecialToken: { id: '[CLS]', type_id: 0 } },
      { Sequence: { id: 'A', type_id: 0 } },
      { SpecialToken: { id: '[SEP]', type_id: 0 } },
      { Sequence: { id: 'B', type_id: 1 } },
      { SpecialToken: { id: '[SEP]', type_id: 1 } },
    ],
    special_tokens: {
      '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] },
      '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] },
    },
  },
  decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
  model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: WORDPIECE_VOCAB },
};

export interface FakeVisionOptions {
  inputName?: string;
  outputName?: string;
  /** 'free' (symbolic batch) or a fixed batch size (1 for batch-fixed exports). */
  batch?: 'free' | number;
  imageSize?: number;
  dim?: number;
  /** Declare the embedding width symbolically, so a loader must probe it. */
  symbolicDim?: boolean;
  /** Rank of the image input (4 is right; 3 makes a broken model). */
  rank?: 3 | 4;
}

export interface FakeTextOptions {
  inputName?: string;
  outputName?: string;
  /** Name of the attention-mask input; undefined = the graph has none. */
  attentionMaskName?: string;
  tokenType?: 'int64' | 'int32';
  batch?: 'free' | number;
  contextLength?: number;
  dim?: number;
  symbolicDim?: boolean;
  vocabSize?: number;
  colorIds?: { red: number; green: number; blue: number; organ: number };
}

function embeddingTable(vocabSize: number, dim: number, ids: { red: number; green: number; blue: number; organ: number }): InitSpec {
  const values = new Float32Array(vocabSize * dim);
  values[ids.red * dim + 0] = 1;
  values[ids.green * dim + 1] = 1;
  values[ids.blue * dim + 2] = 1;
  if (dim > 3) values[ids.organ * dim + 3] = 0.1;
  return { name: 'token_table', type: 'float32', dims: [vocabSize, dim], values };
}

function colorProjection(dim: number): InitSpec {
  const values = new Float32Array(3 * dim);
  for (let c = 0; c < 3; c++) values[c * dim + c] = 1;
  return { name: 'color_projection', type: 'float32', dims: [3, dim], values };
}

/** Nodes/initialisers/io of the image tower, for use alone or inside a combined graph. */
function visionParts(o: Required<Omit<FakeVisionOptions, 'symbolicDim' | 'rank'>> & { symbolicDim: boolean; rank: 3 | 4 }) {
  const batch = o.batch === 'free' ? 'image_batch' : o.batch;
  const input: IoSpec =
    o.rank === 4
      ? { name: o.inputName, type: 'float32', dims: [batch, 3, o.imageSize, o.imageSize] }
      : { name: o.inputName, type: 'float32', dims: [3, o.imageSize, o.imageSize] };
  const output: IoSpec = { name: o.outputName, type: 'float32', dims: [batch, o.symbolicDim ? 'embed_dim' : o.dim] };
  const nodes: NodeSpec[] = [
    { op: 'ReduceMean', inputs: [o.inputName], outputs: ['mean_colour'], attrs: { axes: o.rank === 4 ? [2, 3] : [1, 2], keepdims: 0 } },
    // Averaging commutes with the affine normalisation, so undoing it on the mean is exact.
    { op: 'Mul', inputs: ['mean_colour', 'clip_std'], outputs: ['colour_scaled'] },
    { op: 'Add', inputs: ['colour_scaled', 'colour_offset'], outputs: ['colour_centred'] },
    { op: 'MatMul', inputs: ['colour_centred', 'color_projection'], outputs: [o.outputName] },
  ];
  const initializers: InitSpec[] = [
    colorProjection(o.dim),
    { name: 'clip_std', type: 'float32', dims: [3], values: CLIP_STD },
    { name: 'colour_offset', type: 'float32', dims: [3], values: CLIP_MEAN.map((m) => m - 0.5) },
  ];
  return { input, output, nodes, initializers };
}

function textParts(o: Required<Omit<FakeTextOptions, 'attentionMaskName' | 'symbolicDim'>> & { attentionMaskName?: string; symbolicDim: boolean }) {
  const batch = o.batch === 'free' ? 'text_batch' : o.batch;
  const inputs: IoSpec[] = [{ name: o.inputName, type: o.tokenType, dims: [batch, o.contextLength] }];
  const initializers: InitSpec[] = [embeddingTable(o.vocabSize, o.dim, o.colorIds)];
  const nodes: NodeSpec[] = [{ op: 'Gather', inputs: ['token_table', o.inputName], outputs: ['token_vectors'], attrs: { axis: 0 } }];
  if (o.attentionMaskName) {
    inputs.push({ name: o.attentionMaskName, type: o.tokenType, dims: [batch, o.contextLength] });
    initializers.push({ name: 'axis_1', type: 'int64', dims: [1], values: [1] });
    initializers.push({ name: 'axis_2', type: 'int64', dims: [1], values: [2] });
    // Masked mean: a wrong or all-zero mask gives NaN/inf, so tests see it.
    nodes.push(
      { op: 'Cast', inputs: [o.attentionMaskName], outputs: ['mask_f'], attrs: { to: 1 } },
      { op: 'Unsqueeze', inputs: ['mask_f', 'axis_2'], outputs: ['mask_3d'] },
      { op: 'Mul', inputs: ['token_vectors', 'mask_3d'], outputs: ['masked_vectors'] },
      { op: 'ReduceSum', inputs: ['masked_vectors', 'axis_1'], outputs: ['vector_sum'], attrs: { keepdims: 0 } },
      { op: 'ReduceSum', inputs: ['mask_f', 'axis_1'], outputs: ['token_count'], attrs: { keepdims: 1 } },
      { op: 'Div', inputs: ['vector_sum', 'token_count'], outputs: [o.outputName] },
    );
  } else {
    nodes.push({ op: 'ReduceMean', inputs: ['token_vectors'], outputs: [o.outputName], attrs: { axes: [1], keepdims: 0 } });
  }
  const output: IoSpec = { name: o.outputName, type: 'float32', dims: [batch, o.symbolicDim ? 'embed_dim' : o.dim] };
  return { inputs, output, nodes, initializers };
}

function visionDefaults(o: FakeVisionOptions, names: { input: string; output: string }) {
  return {
    inputName: o.inputName ?? names.input,
    outputName: o.outputName ?? names.output,
    batch: o.batch ?? 'free',
    imageSize: o.imageSize ?? 224,
    dim: o.dim ?? 4,
    symbolicDim: o.symbolicDim ?? false,
    rank: o.rank ?? 4,
  } as const;
}

function textDefaults(o: FakeTextOptions, names: { input: string; output: string; mask?: string }) {
  return {
    inputName: o.inputName ?? names.input,
    outputName: o.outputName ?? names.output,
    attentionMaskName: 'attentionMaskName' in o ? o.attentionMaskName : names.mask,
    tokenType: o.tokenType ?? 'int64',
    batch: o.batch ?? 'free',
    contextLength: o.contextLength ?? 77,
    dim: o.dim ?? 4,
    symbolicDim: o.symbolicDim ?? false,
    vocabSize: o.vocabSize ?? CLIP_VOCAB_SIZE,
    colorIds: o.colorIds ?? CLIP_COLOR_IDS,
  } as const;
}

/** A vision tower; defaults to the HF/transformers.js names pixel_values -> image_embeds. */
export function fakeVisionTower(options: FakeVisionOptions = {}): Uint8Array {
  const p = visionParts(visionDefaults(options, { input: 'pixel_values', output: 'image_embeds' }));
  return buildModel({ name: 'fake_clip_vision', inputs: [p.input], outputs: [p.output], nodes: p.nodes, initializers: p.initializers });
}

/** A text tower; defaults to the HF names input_ids (+ attention_mask) -> text_embeds. */
export function fakeTextTower(options: FakeTextOptions = {}): Uint8Array {
  const p = textParts(textDefaults(options, { input: 'input_ids', output: 'text_embeds', mask: 'attention_mask' }));
  return buildModel({ name: 'fake_clip_text', inputs: p.inputs, outputs: [p.output], nodes: p.nodes, initializers: p.initializers });
}

/** An HF `model.onnx`-style single graph with both towers and logits_per_image. */
export function fakeCombinedClip(options: { dim?: number } = {}): Uint8Array {
  const v = visionParts(visionDefaults({ dim: options.dim }, { input: 'pixel_values', output: 'image_embeds' }));
  const t = textParts(textDefaults({ dim: options.dim }, { input: 'input_ids', output: 'text_embeds', mask: 'attention_mask' }));
  const nodes: NodeSpec[] = [
    ...t.nodes,
    ...v.nodes,
    { op: 'Transpose', inputs: ['text_embeds'], outputs: ['text_embeds_t'], attrs: { perm: [1, 0] } },
    { op: 'MatMul', inputs: ['image_embeds', 'text_embeds_t'], outputs: ['logits_per_image'] },
  ];
  return buildModel({
    name: 'fake_clip_combined',
    inputs: [t.inputs[0], v.input, t.inputs[1]],
    outputs: [
      { name: 'logits_per_image', type: 'float32', dims: ['image_batch', 'text_batch'] },
      t.output,
      v.output,
    ],
    nodes,
    initializers: [...t.initializers, ...v.initializers],
  });
}

/** OpenAI/OpenCLIP-style split graphs: one unnamed-by-convention input and one output each. */
export function fakeOpenClipTowers(options: { tokenType?: 'int64' | 'int32'; batch?: 'free' | number; dim?: number } = {}) {
  return {
    visual: fakeVisionTower({ inputName: 'image', outputName: 'image_features', batch: options.batch, dim: options.dim }),
    textual: fakeTextTower({
      inputName: 'text',
      outputName: 'text_features',
      attentionMaskName: undefined,
      tokenType: options.tokenType ?? 'int64',
      batch: options.batch,
      dim: options.dim,
    }),
  };
}

/** BiomedCLIP-style towers: ViT-B/16 at 224, PubMedBERT ids with context 256. */
export function fakeBiomedClipTowers(options: { attentionMask?: boolean } = {}) {
  return {
    visual: fakeVisionTower({ inputName: 'image', outputName: 'image_features' }),
    textual: fakeTextTower({
      inputName: 'input_ids',
      outputName: 'text_features',
      attentionMaskName: options.attentionMask ? 'attention_mask' : undefined,
      contextLength: 256,
      vocabSize: Object.keys(WORDPIECE_VOCAB).length,
      colorIds: WORDPIECE_COLOR_IDS,
    }),
  };
}
