/**
 * The CLIP towers' contracts: which input takes the image or the token ids (and the optional
 * attention mask / token types), which output is the embedding, and what the graphs fix (image
 * size, batch, context length, width). Read from the sessions; the preset names what they cannot.
 */
import type { Dim, ModelSession, ValueInfo } from '../../backends/types.js';
import { SalipError } from '../../core/errors.js';
import type { ClipPreset } from './clip-presets.js';

/** The tensor-name and size overrides a ClipConfig may carry. */
export interface ClipIoOverrides {
  imageSize?: number;
  imageInputName?: string;
  imageOutputName?: string;
  textInputName?: string;
  attentionMaskName?: string;
  textOutputName?: string;
}

export function contractError(tower: string, what: string, expected: string, found: string): SalipError {
  return new SalipError('MODEL_CONTRACT', `${tower}: ${what}: expected ${expected}, found ${found}`, {
    details: { tower, expected, found },
  });
}

export const showDims = (dims: readonly Dim[] | undefined) => (dims ? `[${dims.join(', ')}]` : '[unknown shape]');
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

export interface VisionIo {
  input: string;
  output: string;
  imageSize: number;
  batch?: number;
  dim?: number;
}

export function resolveVision(session: ModelSession, tower: string, preset: ClipPreset, config: ClipIoOverrides): VisionIo {
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

export interface TextIo {
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

export function resolveText(session: ModelSession, tower: string, preset: ClipPreset, config: ClipIoOverrides, imageInput?: string): TextIo {
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
