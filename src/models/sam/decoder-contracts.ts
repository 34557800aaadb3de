/**
 * Decoder contracts: the prompt decoders of the SAM exports users download do not share Meta's
 * input names. Each contract says which inputs a family's decoder takes, how salip's prompt
 * (points, a box, a previous mask) becomes its feeds, and where its low-res logits and scores
 * come back. Which export script each contract follows is recorded in docs/models.md.
 */
import type { Dim, ValueInfo } from '../../backends/types.js';
import { SalipError } from '../../core/errors.js';

export type DecoderContractName = 'meta' | 'meta-boxes' | 'efficientsam' | 'edgesam' | 'sam2';

export interface DecoderContract {
  readonly name: DecoderContractName;
  /** What a user would call the decoder (for messages). */
  readonly title: string;
  /** The decoder input carrying the encoder's main embedding. */
  readonly embeddingInput: string;
  /** Further encoder outputs the decoder takes under the same names (SAM 2's high-res features). */
  readonly extraEmbeddingInputs: readonly string[];
  /** Inputs that identify the contract (all must be present). */
  readonly requiredInputs: readonly string[];
  /** Inputs the contract feeds when present (and tolerates). */
  readonly optionalInputs: readonly string[];
  /** Candidate names of the low-res logits output, first found wins. */
  readonly masksOutputs: readonly string[];
  /** Candidate names of the score output. */
  readonly iouOutputs: readonly string[];
  /** Full-size mask outputs salip never reads (dropped from the graph so they are not computed). */
  readonly fullSizeOutputs: readonly string[];
  /** Whether the decoder takes a previous mask (mask_input / has_mask_input). */
  readonly maskInput: boolean;
  /** Whether the decoder takes point prompts (false: boxes only). */
  readonly points: boolean;
  /** Whether point prompts are given in image pixels with orig_im_size (EfficientSAM), not the model frame. */
  readonly imageFramePrompts: boolean;
  /** Whether salip appends Meta's padding point (0, 0, -1) to prompts without a box. */
  readonly padsPrompts: boolean;
  /** The input whose leading dimension batches prompts natively (undefined: none). */
  readonly promptBatchInput?: string;
}

const META_INPUTS = ['image_embeddings', 'point_coords', 'point_labels', 'mask_input', 'has_mask_input', 'orig_im_size'] as const;

/** The contracts, in detection order (the most specific input sets first). */
export const DECODER_CONTRACTS: Readonly<Record<DecoderContractName, DecoderContract>> = {
  // segment-anything's SamOnnxModel (scripts/export_onnx_model.py): MobileSAM, SAM, MedSAM, SAM-Med2D, LiteMedSAM.
  meta: {
    name: 'meta',
    title: "Meta's SAM decoder",
    embeddingInput: 'image_embeddings',
    extraEmbeddingInputs: [],
    requiredInputs: META_INPUTS,
    optionalInputs: [],
    masksOutputs: ['low_res_masks'],
    iouOutputs: ['iou_predictions'],
    fullSizeOutputs: ['masks'],
    maskInput: true,
    points: true,
    imageFramePrompts: false,
    padsPrompts: true,
  },
  // The CVPR 2024 LiteMedSAM challenge decoders (DecoderOnnxModel(image_embeddings, boxes)).
  'meta-boxes': {
    name: 'meta-boxes',
    title: 'the LiteMedSAM box decoder',
    embeddingInput: 'image_embeddings',
    extraEmbeddingInputs: [],
    requiredInputs: ['image_embeddings', 'boxes'],
    optionalInputs: [],
    masksOutputs: ['low_res_masks', 'low_res_logits'],
    iouOutputs: ['iou_predictions'],
    fullSizeOutputs: [],
    maskInput: false,
    points: false,
    imageFramePrompts: false,
    padsPrompts: false,
  },
  // yformer/EfficientSAM export_to_onnx.py / onnx_models.py (labelme's efficient-sam export).
  efficientsam: {
    name: 'efficientsam',
    title: 'the EfficientSAM decoder',
    embeddingInput: 'image_embeddings',
    extraEmbeddingInputs: [],
    requiredInputs: ['image_embeddings', 'batched_point_coords', 'batched_point_labels', 'orig_im_size'],
    optionalInputs: [],
    masksOutputs: ['predicted_lowres_logits', 'low_res_masks'],
    iouOutputs: ['predicted_iou', 'iou_predictions'],
    fullSizeOutputs: ['predicted_logits', 'output_masks'],
    maskInput: false,
    points: true,
    imageFramePrompts: true,
    padsPrompts: false,
    promptBatchInput: 'batched_point_coords',
  },
  // chongzhou96/EdgeSAM scripts/export_onnx_model.py (SamCoreMLModel): no mask input, no orig size.
  edgesam: {
    name: 'edgesam',
    title: 'the EdgeSAM decoder',
    embeddingInput: 'image_embeddings',
    extraEmbeddingInputs: [],
    requiredInputs: ['image_embeddings', 'point_coords', 'point_labels'],
    optionalInputs: [],
    masksOutputs: ['masks'],
    iouOutputs: ['scores'],
    fullSizeOutputs: [],
    maskInput: false,
    points: true,
    imageFramePrompts: false,
    padsPrompts: false,
  },
  // vietanhdev/samexporter export_sam2.py (no orig_im_size, `masks` low-res) and the
  // ibaiGorordo/ONNX-SAM2 exports (with orig_im_size; salip asks for the low-res grid).
  sam2: {
    name: 'sam2',
    title: 'the SAM 2 decoder',
    embeddingInput: 'image_embed',
    extraEmbeddingInputs: ['high_res_feats_0', 'high_res_feats_1'],
    requiredInputs: ['image_embed', 'high_res_feats_0', 'high_res_feats_1', 'point_coords', 'point_labels', 'mask_input', 'has_mask_input'],
    optionalInputs: ['orig_im_size'],
    masksOutputs: ['low_res_masks', 'masks'],
    iouOutputs: ['iou_predictions'],
    fullSizeOutputs: [],
    maskInput: true,
    points: true,
    imageFramePrompts: false,
    padsPrompts: false,
    promptBatchInput: 'point_coords',
  },
};

const CONTRACT_ORDER: readonly DecoderContractName[] = ['meta', 'sam2', 'efficientsam', 'meta-boxes', 'edgesam'];

const quoted = (names: readonly string[]): string => names.map((n) => `"${n}"`).join(', ') || 'none';

/** One line per contract: what its decoder takes and returns (for detection failures). */
export function describeDecoderContracts(): string {
  return CONTRACT_ORDER.map((name) => {
    const c = DECODER_CONTRACTS[name];
    const optional = c.optionalInputs.length ? ` (optional ${quoted(c.optionalInputs)})` : '';
    return `${c.title}: inputs ${quoted(c.requiredInputs)}${optional} -> ${quoted([c.masksOutputs[0], c.iouOutputs[0]])}`;
  }).join('; ');
}

/** Whether a decoder's inputs satisfy a contract exactly (required present, nothing unknown). */
function matchesContract(inputs: ReadonlySet<string>, contract: DecoderContract): boolean {
  if (!contract.requiredInputs.every((n) => inputs.has(n))) return false;
  const known = new Set([...contract.requiredInputs, ...contract.optionalInputs]);
  return [...inputs].every((n) => known.has(n));
}

/**
 * Names the decoder contract from the input names, or MODEL_CONTRACT listing what was found and
 * what each contract expects.
 */
export function detectDecoderContract(inputNames: readonly string[], outputNames: readonly string[]): DecoderContract {
  const inputs = new Set(inputNames);
  for (const name of CONTRACT_ORDER) {
    if (matchesContract(inputs, DECODER_CONTRACTS[name])) return DECODER_CONTRACTS[name];
  }
  throw new SalipError(
    'MODEL_CONTRACT',
    `SAM decoder: inputs ${quoted(inputNames)} (outputs ${quoted(outputNames)}) match no known decoder contract; expected one of: ${describeDecoderContracts()}`,
    { details: { inputs: [...inputNames], outputs: [...outputNames] } },
  );
}

/** Element types salip can feed for the decoder's small numeric inputs. */
export type NumberFeedType = 'float32' | 'int64' | 'int32';

/** What the contract checks need from a ModelSession. */
export interface SessionShape {
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
}

/** A decoder checked against its contract: the names and types decode feeds and reads. */
export interface DecoderIo {
  readonly contract: DecoderContract;
  readonly embeddingDims?: readonly Dim[];
  /** Declared dims of mask_input (contracts with a mask input). */
  readonly maskInputDims?: readonly Dim[];
  /** Element type of every numeric input (labels, has_mask_input, orig_im_size). */
  readonly inputTypes: Readonly<Record<string, NumberFeedType>>;
  /** Declared dims of every input. */
  readonly inputDims: Readonly<Record<string, readonly Dim[] | undefined>>;
  readonly masksOutput: string;
  readonly iouOutput: string;
  /** Whether one run can decode several prompts without a graph edit. */
  readonly nativePromptBatch: boolean;
  /** Element types of Meta's numeric inputs (as before the contracts; float32 where absent). */
  readonly labelType: NumberFeedType;
  readonly hasMaskType: NumberFeedType;
  readonly origSizeType: NumberFeedType;
}

const FLOAT_ONLY = new Set(['image_embeddings', 'image_embed', 'high_res_feats_0', 'high_res_feats_1', 'point_coords', 'mask_input', 'batched_point_coords', 'boxes']);

function contractError(message: string): SalipError {
  return new SalipError('MODEL_CONTRACT', `SAM decoder: ${message}`);
}

const dimsText = (dims: readonly Dim[] | undefined): string => (dims ? `[${dims.join(', ')}]` : 'no declared shape');

/** Checks a loaded decoder against `contract`: input types, ranks, and the two outputs salip reads. */
export function checkDecoderIo(decoder: SessionShape, contract: DecoderContract): DecoderIo {
  const byName = new Map(decoder.inputs.map((i) => [i.name, i]));
  const inputTypes: Record<string, NumberFeedType> = {};
  const inputDims: Record<string, readonly Dim[] | undefined> = {};
  for (const name of [...contract.requiredInputs, ...contract.optionalInputs]) {
    const info = byName.get(name);
    if (!info) {
      if (contract.requiredInputs.includes(name)) throw contractError(`expected input "${name}", found inputs ${quoted(decoder.inputs.map((i) => i.name))} (${contract.title})`);
      continue;
    }
    const allowed = FLOAT_ONLY.has(name) ? ['float32'] : ['float32', 'int64', 'int32'];
    if (info.type !== 'unknown' && !allowed.includes(info.type)) {
      throw contractError(`input "${name}": expected ${allowed.join(' or ')}, found ${info.type}`);
    }
    inputTypes[name] = info.type === 'unknown' ? 'float32' : (info.type as NumberFeedType);
    inputDims[name] = info.dims;
  }
  const known = new Set([...contract.requiredInputs, ...contract.optionalInputs]);
  const extra = decoder.inputs.filter((i) => !known.has(i.name));
  if (extra.length > 0) {
    throw contractError(`expected only the inputs ${quoted([...contract.requiredInputs, ...contract.optionalInputs])} (${contract.title}), found also ${quoted(extra.map((i) => i.name))}`);
  }
  const outputNames = decoder.outputs.map((o) => o.name);
  const pick = (candidates: readonly string[], what: string): string => {
    const found = candidates.find((n) => outputNames.includes(n));
    if (!found) throw contractError(`expected output ${candidates.map((n) => `"${n}"`).join(' or ')} (${what}, ${contract.title}), found outputs ${quoted(outputNames)}`);
    return found;
  };
  const embeddingDims = inputDims[contract.embeddingInput];
  if (embeddingDims && embeddingDims.length !== 4) {
    throw contractError(`input "${contract.embeddingInput}": expected rank 4 [1, 256, 64, 64], found ${dimsText(embeddingDims)}`);
  }
  const maskInputDims = inputDims.mask_input;
  if (contract.maskInput && maskInputDims && maskInputDims.length !== 4) {
    throw contractError(`input "mask_input": expected rank 4 [1, 1, 256, 256], found ${dimsText(maskInputDims)}`);
  }
  const batchDim = contract.promptBatchInput ? inputDims[contract.promptBatchInput]?.[contract.name === 'efficientsam' ? 1 : 0] : undefined;
  return {
    contract,
    embeddingDims,
    maskInputDims: contract.maskInput ? maskInputDims : undefined,
    inputTypes,
    inputDims,
    masksOutput: pick(contract.masksOutputs, 'low-res masks'),
    iouOutput: pick(contract.iouOutputs, 'scores'),
    nativePromptBatch: contract.promptBatchInput !== undefined && (batchDim === undefined || typeof batchDim === 'string'),
    labelType: inputTypes.point_labels ?? inputTypes.batched_point_labels ?? 'float32',
    hasMaskType: inputTypes.has_mask_input ?? 'float32',
    origSizeType: inputTypes.orig_im_size ?? 'float32',
  };
}

/** Checks the Meta decoder contract (kept for callers of the former sam-presets export). */
export function checkDecoderContract(decoder: SessionShape): DecoderIo {
  return checkDecoderIo(decoder, DECODER_CONTRACTS.meta);
}
