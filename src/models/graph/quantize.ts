/**
 * Dynamic int8 quantization of an ONNX graph, in TypeScript (the counterpart of ONNX Runtime's
 * Python quantize_dynamic, which segment-anything uses for its quantized decoder export).
 *
 * Each MatMul / Gemm whose weight is a constant 2-D float matrix [K, N] becomes
 *   DynamicQuantizeLinear(A) -> MatMulInteger(A_u8, W_q, A_zp, W_zp) -> Cast -> Mul(A_scale * W_scale)
 * with W quantized symmetrically per output column (scale = max |W[:, n]| / 127) and stored as
 * uint8 around a zero point of 128 (default) or as int8 around 0 (weightType). Activations are
 * quantized at run time (uint8, per tensor), once per tensor even when several MatMuls read it
 * (the Q/K/V projections). These are standard ONNX ops that ONNX Runtime runs with its u8u8 or
 * u8s8 kernels and that onnxruntime-web's wasm build runs too.
 *
 * Convolutions stay float: ONNX Runtime's CPU ConvInteger takes uint8 weights only, and the
 * MobileSAM encoder's convolutions hold a sixth of its weights (measured: not where the time is).
 */
import { SalipError } from '../../core/errors.js';
import {
  FLOAT,
  INT8,
  UINT8,
  decodeOnnx,
  defaultOpset,
  encodeOnnx,
  floatOf,
  floatValues,
  intOf,
  intAttribute,
  makeNode,
  makeTensor,
  readerCounts,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './onnx.js';

/** Bumped whenever the quantized graph for the same input and options changes (cache key). */
export const QUANTIZER_VERSION = 3;

/** The node names of a Meta-style SAM decoder's products that run on the prompt and output tokens. */
function samDecoderTokenSideNames(): string[] {
  const layer = (l: string) => [
    ...['q', 'k', 'v', 'out'].map((p) => `/transformer/${l}/self_attn/${p}_proj/MatMul`),
    ...['q', 'out'].map((p) => `/transformer/${l}/cross_attn_token_to_image/${p}_proj/MatMul`),
    ...['lin1', 'lin2'].map((p) => `/transformer/${l}/mlp/${p}/MatMul`),
    ...['k', 'v'].map((p) => `/transformer/${l}/cross_attn_image_to_token/${p}_proj/MatMul`),
  ];
  return [
    ...layer('layers.0'),
    ...layer('layers.1'),
    ...['q', 'out'].map((p) => `/transformer/final_attn_token_to_image/${p}_proj/MatMul`),
    ...[0, 1, 2, 3].flatMap((m) => [0, 1, 2].map((l) => `/output_hypernetworks_mlps.${m}/layers.${l}/Gemm`)),
    ...[0, 1, 2].map((l) => `/iou_prediction_head/layers.${l}/Gemm`),
  ];
}

/**
 * Kept float by default (QuantizeOptions.keepFloatDefaults): every matrix product of a Meta-style
 * SAM decoder (segment-anything's ONNX export and MobileSAM's, which share the node names) that
 * runs on the handful of prompt and output tokens instead of the 4096 image tokens: self-attention,
 * the token MLPs, the token-side projections of the three cross-attentions, the hypernetwork MLPs
 * and the IoU head. Why: their activations are ~7 token vectors whose one per-tensor uint8 scale
 * is set by the largest of them, and every mask is read off those tokens; in int8 they moved the
 * cascade's fetal-head Dice by up to 0.1 on one image, float they keep every image within 0.01 of
 * the float model (docs/performance.md, "int8 models"). What it costs: no time measurable (a
 * product on 7 rows is microseconds; int8 pays on the image-side products, which stay int8), but
 * size: these hold most of the decoder's weights (MobileSAM's int8 decoder 15.3 MB, not 4.5 MB).
 * The names match nothing in other graphs (encoders, CLIP, other SAM families).
 */
export const SAM_DECODER_KEEP_FLOAT: readonly string[] = Object.freeze(samDecoderTokenSideNames());

export type QuantizableOp = 'MatMul' | 'Gemm';

export interface QuantizeOptions {
  /** Which ops to quantize (default both). */
  ops?: readonly QuantizableOp[];
  /** Node names to keep in float (e.g. a layer that loses accuracy), besides the defaults. */
  keepFloat?: readonly string[];
  /**
   * Keep SAM_DECODER_KEEP_FLOAT float too (default true: Meta-style SAM decoders' token-side
   * products, which cost accuracy in int8 and no time in float). false quantizes them as well.
   */
  keepFloatDefaults?: boolean;
  /**
   * Weights with fewer elements stay float (default 4096): tiny matrices cost nothing, and
   * some carry coordinates (SAM's positional-encoding projection [2, 128]) whose activations
   * would lose precision in uint8.
   */
  minWeightElements?: number;
  /**
   * How the weights are stored (default 'uint8'). 'uint8': values 1..255 around a zero point of
   * 128, so MatMulInteger runs ONNX Runtime's u8u8 kernels, exact on every CPU. 'int8': -127..127
   * with zero point 0, the u8s8 kernels, faster where the CPU has VNNI (AVX512-VNNI, AVX-VNNI)
   * but wrong on x86 CPUs with AVX2 and no VNNI, where the kernel adds two uint8 x int8 products
   * in 16 bits and saturates (ONNX Runtime's quantization docs; measured: a Gemm 34 % off on an
   * AMD EPYC without VNNI). The two give the same products where neither
   * saturates. Use 'int8' only on CPUs known to have VNNI, or with reduceRange. (`quantize` in a
   * model config leaves the choice to the backend when this is unset: Backend.int8Weights.)
   */
  weightType?: QuantizedWeightType;
  /**
   * Quantize weights to 7 bits (-63..63, or 65..191 around 128; default false): what ONNX
   * Runtime's reduce_range does, so 'int8' weights cannot saturate a 16-bit sum on AVX2. Costs
   * half the weight precision; with 'uint8' there is nothing to avoid.
   */
  reduceRange?: boolean;
}

export type QuantizedWeightType = 'uint8' | 'int8';

export interface QuantizeReport {
  /** The quantized model, serialised. */
  readonly bytes: Uint8Array;
  /** Names of the nodes that now run in int8. */
  readonly quantized: string[];
  /** Candidate nodes left in float, with the reason. */
  readonly kept: Array<{ name: string; op: string; reason: string }>;
  /** Weight bytes before / after (float32 -> int8 plus per-channel scales). */
  readonly weightBytes: { before: number; after: number };
}

const DEFAULT_OPS: readonly QuantizableOp[] = ['MatMul', 'Gemm'];
const DEFAULT_MIN_WEIGHT = 4096;

const WEIGHT_TYPES: readonly QuantizedWeightType[] = ['uint8', 'int8'];

function checkOptions(options: QuantizeOptions): Required<Omit<QuantizeOptions, 'keepFloatDefaults'>> {
  const ops = options.ops ?? DEFAULT_OPS;
  if (!Array.isArray(ops) || ops.some((op) => !DEFAULT_OPS.includes(op))) {
    throw new SalipError('INVALID_ARGUMENT', `quantizeModel: options.ops: expected a list of ${DEFAULT_OPS.join(', ')}, got ${JSON.stringify(ops)}`);
  }
  const keepFloat = options.keepFloat ?? [];
  if (!Array.isArray(keepFloat) || keepFloat.some((n) => typeof n !== 'string')) {
    throw new SalipError('INVALID_ARGUMENT', `quantizeModel: options.keepFloat: expected a list of node names, got ${JSON.stringify(keepFloat)}`);
  }
  const defaults = options.keepFloatDefaults ?? true;
  if (typeof defaults !== 'boolean') {
    throw new SalipError('INVALID_ARGUMENT', `quantizeModel: options.keepFloatDefaults: expected true or false, got ${JSON.stringify(defaults)}`);
  }
  const minWeightElements = options.minWeightElements ?? DEFAULT_MIN_WEIGHT;
  if (!Number.isInteger(minWeightElements) || minWeightElements < 1) {
    throw new SalipError('INVALID_ARGUMENT', `quantizeModel: options.minWeightElements: expected a positive integer, got ${String(minWeightElements)}`);
  }
  const weightType = options.weightType ?? 'uint8';
  if (!WEIGHT_TYPES.includes(weightType)) {
    throw new SalipError('INVALID_ARGUMENT', `quantizeModel: options.weightType: expected ${WEIGHT_TYPES.map((t) => `'${t}'`).join(' or ')}, got ${JSON.stringify(weightType)}`);
  }
  const reduceRange = options.reduceRange ?? false;
  if (typeof reduceRange !== 'boolean') {
    throw new SalipError('INVALID_ARGUMENT', `quantizeModel: options.reduceRange: expected true or false, got ${JSON.stringify(reduceRange)}`);
  }
  return { ops, keepFloat: defaults ? [...keepFloat, ...SAM_DECODER_KEEP_FLOAT] : keepFloat, minWeightElements, weightType, reduceRange };
}

/**
 * Symmetric per-column int8 quantization of a row-major [K, N] matrix: q = round(w / scale) with
 * |q| <= levels (127, or 63 for 7-bit weights) and scale = max |w[:, n]| / levels.
 */
export function quantizePerColumn(w: Float32Array, k: number, n: number, levels = 127): { q: Int8Array; scale: Float32Array } {
  if (!Number.isInteger(levels) || levels < 1 || levels > 127) {
    throw new SalipError('INVALID_ARGUMENT', `quantizePerColumn: levels: expected an integer from 1 to 127, got ${String(levels)}`);
  }
  const scale = new Float32Array(n);
  for (let r = 0; r < k; r++) {
    const row = r * n;
    for (let c = 0; c < n; c++) {
      const a = Math.abs(w[row + c]);
      if (a > scale[c]) scale[c] = a;
    }
  }
  // A zero column keeps scale 1 so dequantisation stays finite (its values are all 0 anyway).
  for (let c = 0; c < n; c++) scale[c] = scale[c] > 0 ? scale[c] / levels : 1;
  const q = new Int8Array(k * n);
  for (let r = 0; r < k; r++) {
    const row = r * n;
    for (let c = 0; c < n; c++) q[row + c] = Math.max(-levels, Math.min(levels, Math.round(w[row + c] / scale[c])));
  }
  return { q, scale };
}

/**
 * The weight and its zero point as stored: int8 as is (zero point 0 per column), or uint8 shifted
 * by 128 (one zero point of 128), which MatMulInteger subtracts again: the same integer products.
 */
function weightTensors(prefix: string, q: Int8Array, k: number, n: number, type: QuantizedWeightType): TensorProto[] {
  if (type === 'int8') return [makeTensor(`${prefix}w_q`, INT8, [k, n], q), makeTensor(`${prefix}w_zp`, INT8, [n], new Int8Array(n))];
  const shifted = Uint8Array.from(q, (v) => v + 128);
  return [makeTensor(`${prefix}w_q`, UINT8, [k, n], shifted), makeTensor(`${prefix}w_zp`, UINT8, [], Uint8Array.of(128))];
}

/** Transposes a row-major [rows, cols] matrix. */
function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c];
  return out;
}

/** The [K, N] weight a MatMul/Gemm multiplies by, with alpha folded in, or why it cannot be quantized. */
function weightOf(node: NodeProto, inits: Map<string, TensorProto>, minElements: number): { w: Float32Array; k: number; n: number } | string {
  const tensor = inits.get(node.input?.[1] ?? '');
  if (!tensor) return 'the weight is not a constant initializer';
  const dims = (tensor.dims ?? []).map(Number);
  if (dims.length !== 2) return `the weight has ${dims.length} dims, expected 2`;
  const values = floatValues(tensor);
  if (!values) return 'the weight is not float32 data stored in the model';
  if (values.length < minElements) return `the weight has ${values.length} elements (< ${minElements})`;
  if (node.opType === 'MatMul') return { w: values, k: dims[0], n: dims[1] };
  if (intOf(node, 'transA', 0) !== 0) return 'Gemm with transA';
  const alpha = floatOf(node, 'alpha', 1);
  const transB = intOf(node, 'transB', 0) !== 0;
  const w = transB ? transpose(values, dims[0], dims[1]) : values;
  if (alpha !== 1) for (let i = 0; i < w.length; i++) w[i] *= alpha;
  return transB ? { w, k: dims[1], n: dims[0] } : { w, k: dims[0], n: dims[1] };
}

/** Gemm's bias as a constant already multiplied by beta, or why not. */
function gemmBias(node: NodeProto, inits: Map<string, TensorProto>, prefix: string): { name: string; tensor?: TensorProto } | string | undefined {
  const c = node.input?.[2];
  if (!c) return undefined;
  const beta = floatOf(node, 'beta', 1);
  if (beta === 1) return { name: c };
  const tensor = inits.get(c);
  const values = tensor && floatValues(tensor);
  if (!tensor || !values) return 'Gemm with beta != 1 on a non-constant bias';
  const scaled = values.map((v) => v * beta);
  return { name: `${prefix}bias`, tensor: makeTensor(`${prefix}bias`, FLOAT, (tensor.dims ?? []).map(Number), scaled) };
}

/** Dynamically quantizes a model's MatMul/Gemm weights to int8 (see the file comment). */
export function quantizeModel(modelBytes: Uint8Array, options: QuantizeOptions = {}): QuantizeReport {
  const { ops, keepFloat, minWeightElements, weightType, reduceRange } = checkOptions(options);
  const model: ModelProto = decodeOnnx(modelBytes, 'quantizeModel');
  const opset = defaultOpset(model);
  if (opset < 11) {
    throw new SalipError('UNSUPPORTED_FORMAT', `quantizeModel: the model imports opset ${opset}; DynamicQuantizeLinear needs opset 11 or newer`);
  }
  const graph = model.graph!;
  const inits = new Map<string, TensorProto>((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const keep = new Set(keepFloat);
  const listed = new Set(options.keepFloat ?? []);
  const quantizedActivations = new Map<string, [string, string, string]>();
  const quantized: string[] = [];
  const kept: QuantizeReport['kept'] = [];
  const newInits: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  let before = 0;
  let after = 0;
  graph.node!.forEach((node, index) => {
    const op = node.opType ?? '';
    if (!(ops as readonly string[]).includes(op)) {
      nodes.push(node);
      return;
    }
    const name = node.name || `${op}_${index}`;
    const prefix = `salip_q${index}_`;
    const weight = listed.has(name) ? 'listed in keepFloat' : keep.has(name) ? 'SAM decoder token side (SAM_DECODER_KEEP_FLOAT)' : weightOf(node, inits, minWeightElements);
    const bias = op === 'Gemm' && typeof weight !== 'string' ? gemmBias(node, inits, prefix) : undefined;
    const why = typeof weight === 'string' ? weight : typeof bias === 'string' ? bias : undefined;
    if (why !== undefined || typeof weight === 'string' || typeof bias === 'string') {
      if (why !== 'the weight is not a constant initializer') kept.push({ name, op, reason: why ?? '' });
      nodes.push(node);
      return;
    }
    const input = node.input![0];
    let activation = quantizedActivations.get(input);
    if (!activation) {
      activation = [`${prefix}a_u8`, `${prefix}a_scale`, `${prefix}a_zp`];
      quantizedActivations.set(input, activation);
      nodes.push(makeNode('DynamicQuantizeLinear', `${prefix}dql`, [input], [...activation]));
    }
    const { q, scale } = quantizePerColumn(weight.w, weight.k, weight.n, reduceRange ? 63 : 127);
    newInits.push(...weightTensors(prefix, q, weight.k, weight.n, weightType), makeTensor(`${prefix}w_scale`, FLOAT, [weight.n], scale));
    before += weight.w.length * 4;
    after += q.length + weight.n * 4 + (weightType === 'int8' ? weight.n : 1);
    const output = node.output![0];
    const product = bias ? `${prefix}product` : output;
    nodes.push(
      makeNode('MatMulInteger', `${prefix}matmul`, [activation[0], `${prefix}w_q`, activation[2], `${prefix}w_zp`], [`${prefix}i32`]),
      makeNode('Cast', `${prefix}cast`, [`${prefix}i32`], [`${prefix}f32`], [intAttribute('to', FLOAT)]),
      makeNode('Mul', `${prefix}scales`, [activation[1], `${prefix}w_scale`], [`${prefix}scale`]),
      makeNode('Mul', `${prefix}dequant`, [`${prefix}f32`, `${prefix}scale`], [product]),
    );
    if (bias) {
      if (bias.tensor) newInits.push(bias.tensor);
      nodes.push(makeNode('Add', `${prefix}bias_add`, [product, bias.name], [output]));
    }
    quantized.push(name);
  });
  graph.node = nodes;
  // Float weights no node reads any more leave the file (that is where the size goes).
  // Reads inside subgraphs (If / Loop branches) count too.
  const read = readerCounts(graph);
  graph.initializer = [...(graph.initializer ?? []).filter((t) => read.has(t.name ?? '')), ...newInits];
  graph.input = (graph.input ?? []).filter((i) => !inits.has(i.name ?? '') || read.has(i.name ?? ''));
  return { bytes: encodeOnnx(model), quantized, kept, weightBytes: { before, after } };
}
