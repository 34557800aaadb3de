/**
 * What differs between CLIP-family ONNX exports, as data: tensor names (when the family fixes
 * them), preprocessing, context length, padding id and where the tokenizer comes from. The
 * adapter (clip.ts) reads everything else from the sessions themselves.
 */
import type { TokenizerFallback } from './tokenizer.js';

export type ClipPresetName = 'hf' | 'openai' | 'openclip' | 'biomedclip';

export interface ClipPreset {
  readonly name: ClipPresetName;
  /** Side of the square image input (also read from the graph when fixed there). */
  readonly imageSize: number;
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
  /** Token row length (the graph's fixed sequence length wins when it has one). */
  readonly contextLength: number;
  /** Padding id; undefined = the tokenizer file's own ([PAD] for BERT vocabularies). */
  readonly padId?: number;
  /** Where the tokenizer comes from when the config gives none. */
  readonly tokenizer: TokenizerFallback;
  /** Tensor names the family fixes; undefined = discovered from the session. */
  readonly imageInputName?: string;
  readonly imageOutputName?: string;
  readonly textInputName?: string;
  readonly attentionMaskName?: string;
  readonly textOutputName?: string;
}

// OpenAI CLIP's image statistics (BiomedCLIP's open_clip config uses the same values).
const OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
const OPENAI_STD = [0.26862954, 0.26130258, 0.27577711] as const;

export const CLIP_PRESETS: Readonly<Record<ClipPresetName, ClipPreset>> = {
  // transformers.js / optimum exports: vision_model.onnx + text_model.onnx, or model.onnx.
  hf: {
    name: 'hf',
    imageSize: 224,
    mean: OPENAI_MEAN,
    std: OPENAI_STD,
    contextLength: 77,
    // CLIPTokenizer's pad token is <|endoftext|>.
    padId: 49407,
    tokenizer: 'json-or-clip-bpe',
    imageInputName: 'pixel_values',
    imageOutputName: 'image_embeds',
    textInputName: 'input_ids',
    attentionMaskName: 'attention_mask',
    textOutputName: 'text_embeds',
  },
  // Split encode_image / encode_text graphs exported from OpenAI's `clip` package.
  openai: {
    name: 'openai',
    imageSize: 224,
    mean: OPENAI_MEAN,
    std: OPENAI_STD,
    contextLength: 77,
    // clip.tokenize pads with zeros.
    padId: 0,
    tokenizer: 'clip-bpe',
  },
  // The same contract from open_clip exports of OpenAI-style (BPE) models.
  openclip: {
    name: 'openclip',
    imageSize: 224,
    mean: OPENAI_MEAN,
    std: OPENAI_STD,
    contextLength: 77,
    padId: 0,
    tokenizer: 'clip-bpe',
  },
  // microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224 exported per tower.
  biomedclip: {
    name: 'biomedclip',
    imageSize: 224,
    mean: OPENAI_MEAN,
    std: OPENAI_STD,
    contextLength: 256,
    tokenizer: 'json',
  },
};

/** Looks up a preset by name (undefined for unknown names). */
export function getClipPreset(name: string): ClipPreset | undefined {
  return Object.prototype.hasOwnProperty.call(CLIP_PRESETS, name) ? CLIP_PRESETS[name as ClipPresetName] : undefined;
}
