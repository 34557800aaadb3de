/**
 * ConvTranspose with kernel == stride, no padding (SAM's output upscaling: k = s = 2) writes each
 * input pixel into its own k x k output block, so it is one linear map per pixel: a MatMul of the
 * channels-last pixels [N, H*W, Cin] by the weight laid out as [Cin, k * k * Cout], then a pixel
 * shuffle. ONNX Runtime's CPU ConvTranspose runs it as a GEMM plus col2im over NCHW; the MatMul
 * form is a plain GEMM that quantizeModel can also turn into int8.
 *
 * The pixel shuffle is deferred: the result stays channels-last, [N, H*W, B, C] with the blocks of
 * every such ConvTranspose so far in B, through the per-pixel ops that follow (element-wise ops
 * with scalar or per-channel constants, means over the channels, the next such ConvTranspose, and
 * a MatMul with the flattened pixels). SAM's LayerNorm2d then normalises the last axis, which
 * ONNX Runtime fuses into its LayerNormalization kernel, and the way back (a 2-D transpose and
 * DepthToSpace per block level) happens once, where a consumer needs the original layout: on
 * SAM, only the low-res masks. Nodes that match none of this are left as they are. Where the
 * upscaling reads the transformer's tokens put back to NCHW, it reads the tokens themselves
 * (token-entry.ts).
 */
import { dimOf, int64Values, symbolicShapes } from './symbolic-shape.js';
import { tokenEntry } from './token-entry.js';
import {
  FLOAT,
  attributeOf,
  INT64,
  constantTensors,
  decodeOnnx,
  defaultOpset,
  elementCount,
  encodeOnnx,
  floatValues,
  intAttribute,
  intOf,
  intsAttribute,
  intsOf,
  makeNode,
  makeTensor,
  pruneInitializers,
  readerCounts,
  withoutUnreadNodes,
  stringAttribute,
  type NodeProto,
  type TensorProto,
} from './onnx.js';

export interface ChannelsLastReport {
  readonly bytes: Uint8Array;
  /** ConvTranspose nodes now computed as a MatMul. */
  readonly rewritten: string[];
  /** ConvTranspose nodes left as they were, with the reason. */
  readonly kept: Array<{ name: string; reason: string }>;
  /** Other nodes that now run channels-last (element-wise ops, channel means). */
  readonly carried: number;
}

/** Element-wise ops that act on each value alone: they run unchanged on the channels-last tensor. */
const UNARY_OPS = new Set(['Erf', 'Sqrt', 'Relu', 'Sigmoid', 'Tanh', 'Neg', 'Abs', 'Exp', 'Log', 'Reciprocal', 'Identity', 'Floor', 'Ceil', 'Softplus', 'LeakyRelu', 'Elu', 'HardSigmoid']);
/** Broadcasting binary ops whose inputs can be channels-last tensors, scalars or per-channel constants. */
const BINARY_OPS = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow']);

/**
 * A tensor the rewrite holds in another layout. The logical tensor is NCHW [N, C, H*K, W*K]
 * (K: the product of the block sizes so far), or [N, C, P] / [N, M, P] once its pixels are
 * flattened (P = H*K * W*K); its pixels are held block by block, (h, w, i1, j1, i2, j2, ...):
 * - 'pixels': [N, H*W, B, C], B the blocks' pixels;
 * - 'flat': [N, H*W*B, C], the logical [N, C, P] flattened channels-last;
 * - 'rows': [N, M, H*W*B], the logical [N, M, P] of a MatMul(A [N, M, C], flat).
 */
interface Layout {
  readonly kind: 'pixels' | 'flat' | 'rows';
  /** The NCHW tensor the first ConvTranspose read (its H and W size every later block). */
  readonly entry: string;
  /** Kernel (= stride) sizes of the ConvTransposes so far, in order (square kernels). */
  readonly blocks: readonly number[];
  /** C ('pixels', 'flat'): the channel count, 1 after a mean over the channels; 0 for 'rows'. */
  readonly channels: number;
  /** The name of the tensor in this layout. */
  readonly physical: string;
}

interface PixelMap {
  readonly cin: number;
  readonly cout: number;
  /** Kernel size = stride (square: DepthToSpace takes square blocks). */
  readonly k: number;
  /** The weight as [Cin, k * k * Cout], column (i * k + j) * Cout + co. */
  readonly matrix: Float32Array;
  readonly bias?: Float32Array;
}

const allEqual = (values: number[] | undefined, to: number) => values === undefined || values.every((v) => v === to);

/** The per-pixel linear map of a ConvTranspose with kernel == stride, or why it is not one. */
export function pixelMapOf(node: NodeProto, constants: Map<string, TensorProto>): PixelMap | string {
  const weight = constants.get(node.input?.[1] ?? '');
  const values = weight && floatValues(weight);
  if (!weight || !values) return 'the weight is not a constant float tensor';
  const dims = (weight.dims ?? []).map(Number);
  if (dims.length !== 4) return `the weight has ${dims.length} dims, expected 4 (a 2-D ConvTranspose)`;
  const [cin, cout, kh, kw] = dims;
  if (kh !== kw) return `a non-square kernel ${kh}x${kw}`;
  if (intOf(node, 'group', 1) !== 1) return 'group != 1';
  const kernel = intsOf(node, 'kernel_shape');
  if (kernel && (kernel[0] !== kh || kernel[1] !== kw)) return 'kernel_shape differs from the weight';
  const strides = intsOf(node, 'strides') ?? [1, 1];
  if (strides[0] !== kh || strides[1] !== kw) return `strides ${strides.join('x')} differ from the kernel ${kh}x${kw} (blocks would overlap or leave gaps)`;
  if (!allEqual(intsOf(node, 'pads'), 0) || !allEqual(intsOf(node, 'output_padding'), 0)) return 'padding';
  if (!allEqual(intsOf(node, 'dilations'), 1)) return 'dilation';
  if (intsOf(node, 'output_shape')) return 'an explicit output_shape';
  let bias: Float32Array | undefined;
  if (node.input?.[2]) {
    const b = constants.get(node.input[2]);
    bias = b && floatValues(b);
    if (!bias || bias.length !== cout) return 'the bias is not a constant float vector of the output channels';
  }
  const matrix = new Float32Array(cin * kh * kw * cout);
  for (let ci = 0; ci < cin; ci++) {
    for (let co = 0; co < cout; co++) {
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) matrix[ci * kh * kw * cout + (i * kw + j) * cout + co] = values[((ci * cout + co) * kh + i) * kw + j];
      }
    }
  }
  return { cin, cout, k: kh, matrix, bias };
}

/** How a constant input broadcasts against an NCHW tensor of `channels` channels: as a scalar, per channel, or not simply. */
function constantKind(tensor: TensorProto, channels: number): 'scalar' | 'channel' | undefined {
  const dims = (tensor.dims ?? []).map(Number);
  if (elementCount(tensor) === 1 && dims.length <= 4) return 'scalar';
  const trailing = dims.length === 4 ? dims.slice(1) : dims;
  if ((dims.length === 3 || (dims.length === 4 && dims[0] === 1)) && trailing[0] === channels && trailing[1] === 1 && trailing[2] === 1) return 'channel';
  return undefined;
}

/** Rewrites the graph (see the file comment); a graph without such a ConvTranspose comes back unchanged. */
export function carryChannelsLast(modelBytes: Uint8Array): ChannelsLastReport {
  const model = decodeOnnx(modelBytes, 'carryChannelsLast');
  const graph = model.graph!;
  const constants = constantTensors(graph);
  const shapes = symbolicShapes(graph.node ?? [], constants);
  const producerOf = new Map<string, NodeProto>();
  for (const node of graph.node ?? []) for (const name of node.output ?? []) producerOf.set(name, node);
  const readers = readerCounts(graph);
  const opset = defaultOpset(model);
  const layouts = new Map<string, Layout>();
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  const rewritten: string[] = [];
  const kept: ChannelsLastReport['kept'] = [];
  let carried = 0;
  const int64 = (name: string, values: number[]) => {
    inits.push(makeTensor(name, INT64, [values.length], BigInt64Array.from(values.map(BigInt))));
    return name;
  };
  const blockPixels = (layout: Layout) => layout.blocks.reduce((a, k) => a * k * k, 1);
  const scale = (layout: Layout) => layout.blocks.reduce((a, k) => a * k, 1);

  // Shape pieces of an entry tensor, computed once: N as [N], H and W as [H, W].
  const entryShapes = new Map<string, { n: string; hw: string }>();
  const entryShape = (entry: string) => {
    let found = entryShapes.get(entry);
    if (found) return found;
    const p = `salip_cl_entry${entryShapes.size}_`;
    nodes.push(
      makeNode('Shape', `${p}shape`, [entry], [`${p}nchw`]),
      makeNode('Slice', `${p}n`, [`${p}nchw`, int64(`${p}0`, [0]), int64(`${p}1`, [1])], [`${p}n`]),
      makeNode('Slice', `${p}hw`, [`${p}nchw`, int64(`${p}2`, [2]), int64(`${p}4`, [4])], [`${p}hw`]),
    );
    found = { n: `${p}n`, hw: `${p}hw` };
    entryShapes.set(entry, found);
    return found;
  };

  /** Emits the way back to the logical layout under the tensor's original name (once). */
  const exit = (name: string): void => {
    const layout = layouts.get(name);
    if (!layout) return;
    layouts.delete(name);
    const p = `${name}__salip_`;
    const { hw } = entryShape(layout.entry);
    // First [N, B * C, H, W] with channel index b * C + c (b the block pixel), as DepthToSpace's DCR mode reads it.
    let blocksFirst: string;
    if (layout.kind === 'rows') {
      nodes.push(
        makeNode('Reshape', `${p}split`, [layout.physical, int64(`${p}split_shape`, [0, 0, -1, blockPixels(layout)])], [`${p}split`]),
        makeNode('Transpose', `${p}blocks_first`, [`${p}split`], [`${p}blocks_first`], [intsAttribute('perm', [0, 3, 1, 2])]),
      );
      blocksFirst = `${p}blocks_first`;
    } else {
      const rows = layout.kind === 'pixels' ? [0, 0, -1] : [0, -1, blockPixels(layout) * layout.channels];
      nodes.push(
        makeNode('Reshape', `${p}rows`, [layout.physical, int64(`${p}rows_shape`, rows)], [`${p}rows`]),
        makeNode('Transpose', `${p}blocks_first`, [`${p}rows`], [`${p}blocks_first`], [intsAttribute('perm', [0, 2, 1])]),
      );
      blocksFirst = `${p}blocks_first`;
    }
    nodes.push(
      makeNode('Concat', `${p}grid_shape`, [int64(`${p}n_any`, [0, -1]), hw], [`${p}grid_shape`], [intAttribute('axis', 0)]),
      makeNode('Reshape', `${p}grid`, [blocksFirst, `${p}grid_shape`], [`${p}grid`]),
    );
    let current = `${p}grid`;
    const flat = layout.kind !== 'pixels';
    layout.blocks.forEach((k, l) => {
      const out = !flat && l === layout.blocks.length - 1 ? name : `${p}d2s${l}`;
      nodes.push(makeNode('DepthToSpace', `${p}d2s${l}`, [current], [out], [intAttribute('blocksize', k), stringAttribute('mode', 'DCR')]));
      current = out;
    });
    if (flat) nodes.push(makeNode('Reshape', `${p}flatten`, [current, int64(`${p}flat_shape`, [0, 0, -1])], [name]));
  };

  const sameRegion = (a: Layout, b: Layout) => a.entry === b.entry && a.blocks.length === b.blocks.length && a.blocks.every((k, i) => k === b.blocks[i]);

  /** The channels-last form of a ConvTranspose, or why not. */
  const convTranspose = (node: NodeProto, index: number): string | undefined => {
    const map = pixelMapOf(node, constants);
    if (typeof map === 'string') return map;
    const input = node.input![0];
    const from = layouts.get(input);
    if (from && from.kind !== 'pixels') return 'the input is a flattened tensor';
    if (from && from.channels !== map.cin) return `the input has ${from.channels} channels, the weight ${map.cin}`;
    const p = `salip_cl${index}_`;
    let source = from?.physical;
    const fromTokens = source ? undefined : tokenEntry(input, map.cin, p, { producerOf, readers, shapes });
    if (fromTokens) {
      nodes.push(...fromTokens.nodes);
      inits.push(...fromTokens.initializers);
      entryShapes.set(input, { n: fromTokens.n, hw: fromTokens.hw });
      source = fromTokens.pixels;
    } else if (!source) {
      source = `${p}nhwc`;
      nodes.push(makeNode('Transpose', `${p}to_nhwc`, [input], [source], [intsAttribute('perm', [0, 2, 3, 1])]));
    }
    inits.push(makeTensor(`${p}weight`, FLOAT, [map.cin, map.k * map.k * map.cout], map.matrix));
    // The bias is added before the reshape, where ONNX Runtime fuses it into the (int8) MatMul.
    const product = map.bias ? `${p}biased` : `${p}product`;
    nodes.push(makeNode('MatMul', `${p}matmul`, [source, `${p}weight`], [`${p}product`]));
    if (map.bias) {
      const bias = new Float32Array(map.k * map.k * map.cout);
      for (let b = 0; b < map.k * map.k; b++) bias.set(map.bias, b * map.cout);
      inits.push(makeTensor(`${p}bias`, FLOAT, [bias.length], bias));
      nodes.push(makeNode('Add', `${p}bias_add`, [`${p}product`, `${p}bias`], [product]));
    }
    // [N, H*W, B, k*k*Cout] -> [N, H*W, B*k*k, Cout]; from NCHW, [N, H, W, k*k*Cout] -> [N, H*W, k*k, Cout].
    const shape = from ? [0, 0, blockPixels(from) * map.k * map.k, map.cout] : [0, -1, map.k * map.k, map.cout];
    nodes.push(makeNode('Reshape', `${p}blocks`, [product, int64(`${p}shape`, shape)], [`${p}out`]));
    layouts.set(node.output![0], { kind: 'pixels', entry: from?.entry ?? input, blocks: [...(from?.blocks ?? []), map.k], channels: map.cout, physical: `${p}out` });
    rewritten.push(node.name || `ConvTranspose_${index}`);
    return undefined;
  };

  /** Element-wise ops and channel means on 'pixels' tensors; false when the node is not one. */
  const perPixel = (node: NodeProto, ins: Array<Layout | undefined>, region: Layout, p: string): Layout | false => {
    const op = node.opType ?? '';
    const inputs = node.input ?? [];
    if (ins.some((l) => l && (l.kind !== 'pixels' || !sameRegion(l, region)))) return false;
    const channels = Math.max(...ins.map((l) => l?.channels ?? 1));
    if (ins.some((l) => l && l.channels !== 1 && l.channels !== channels)) return false;
    const out: Layout = { ...region, channels, physical: `${p}out` };
    if (UNARY_OPS.has(op) && inputs.length === 1) {
      nodes.push(makeNode(op, `${p}${op}`, [region.physical], [out.physical], node.attribute ?? []));
      return out;
    }
    if (BINARY_OPS.has(op) && inputs.length === 2) {
      const mapped: string[] = [];
      for (const [k, name] of inputs.entries()) {
        const constant = ins[k] ? undefined : constants.get(name);
        const kind = constant && constantKind(constant, channels);
        const values = kind === 'channel' ? floatValues(constant!) : undefined;
        if (ins[k]) mapped.push(ins[k]!.physical);
        else if (kind === 'scalar' && (op !== 'Pow' || k === 1)) mapped.push(name);
        else if (values && op !== 'Pow') mapped.push(`${p}channel${k}`), inits.push(makeTensor(`${p}channel${k}`, FLOAT, [channels], values));
        else return false;
      }
      nodes.push(makeNode(op, `${p}${op}`, mapped, [out.physical], node.attribute ?? []));
      return out;
    }
    if (op === 'ReduceMean' && ins[0]) {
      // A mean over the channels (axis 1 of NCHW) is a mean over the last axis channels-last.
      const axes = opset >= 18 ? int64Values(constants.get(inputs[1] ?? '')) : intsOf(node, 'axes');
      if (axes?.length !== 1 || (axes[0] !== 1 && axes[0] !== -3) || intOf(node, 'keepdims', 1) !== 1) return false;
      nodes.push(
        opset >= 18
          ? makeNode('ReduceMean', `${p}ReduceMean`, [region.physical, int64(`${p}axes`, [-1])], [out.physical])
          : makeNode('ReduceMean', `${p}ReduceMean`, [region.physical], [out.physical], [intsAttribute('axes', [-1]), intAttribute('keepdims', 1)]),
      );
      return { ...out, channels: 1 };
    }
    return false;
  };

  /** Shape of a 'pixels' tensor, the pixel flatten before a MatMul, and that MatMul; false for anything else. */
  const shapeOps = (node: NodeProto, ins: Array<Layout | undefined>, p: string): Layout | 'shape' | false => {
    const op = node.opType ?? '';
    const inputs = node.input ?? [];
    const [first, second] = ins;
    if (op === 'Shape' && first?.kind === 'pixels' && !attributeOf(node, 'start') && !attributeOf(node, 'end')) {
      // [N, C, H*K, W*K] without leaving the layout.
      const { n, hw } = entryShape(first.entry);
      const k = scale(first);
      nodes.push(
        makeNode('Mul', `${p}hw`, [hw, int64(`${p}k`, [k, k])], [`${p}hw`]),
        makeNode('Concat', `${p}shape`, [n, int64(`${p}c`, [first.channels]), `${p}hw`], [node.output![0]], [intAttribute('axis', 0)]),
      );
      return 'shape';
    }
    if (op === 'Reshape' && first?.kind === 'pixels' && !second && intOf(node, 'allowzero', 0) === 0) {
      // Only [N, C, H*W] (the pixels flattened) is understood.
      const target = shapes.vector(inputs[1] ?? '');
      const t = inputs[0];
      const ok = target?.length === 3 && [dimOf(t, 0), 0].includes(target[0]) && [dimOf(t, 1), 0, first.channels].includes(target[1]) && [[dimOf(t, 2), dimOf(t, 3)].sort().join('*'), -1].includes(target[2]);
      if (!ok) return false;
      const out: Layout = { ...first, kind: 'flat', physical: `${p}out` };
      nodes.push(makeNode('Reshape', `${p}flat`, [first.physical, int64(`${p}shape`, [0, -1, first.channels])], [out.physical]));
      return out;
    }
    if (op === 'MatMul' && !first && second?.kind === 'flat') {
      // A [N, M, C] @ [N, C, P]: the pixels stay in block order along the last axis.
      const out: Layout = { ...second, kind: 'rows', channels: 0, physical: `${p}out` };
      nodes.push(
        makeNode('Transpose', `${p}channels_first`, [second.physical], [`${p}channels_first`], [intsAttribute('perm', [0, 2, 1])]),
        makeNode('MatMul', `${p}matmul`, [inputs[0], `${p}channels_first`], [out.physical]),
      );
      return out;
    }
    return false;
  };

  graph.node!.forEach((node, index) => {
    if (node.opType === 'ConvTranspose') {
      const why = convTranspose(node, index);
      if (why === undefined) return;
      kept.push({ name: node.name || `ConvTranspose_${index}`, reason: why });
    } else {
      const ins = (node.input ?? []).map((name) => layouts.get(name));
      const region = ins.find((l): l is Layout => l !== undefined);
      if (region && (node.output ?? []).length === 1 && (node.domain ?? '') === '') {
        const p = `salip_cl${index}_`;
        const out = region.kind === 'pixels' && ins.every((l) => !l || l.kind === 'pixels') ? perPixel(node, ins, region, p) || shapeOps(node, ins, p) : shapeOps(node, ins, p);
        if (out) {
          if (out !== 'shape') layouts.set(node.output![0], out);
          carried++;
          return;
        }
      }
    }
    // Anything else reads the logical layout: bring its inputs back first.
    for (const name of node.input ?? []) exit(name);
    for (const a of node.attribute ?? []) for (const g of [a.g, ...(a.graphs ?? [])]) for (const inner of g?.node ?? []) for (const name of inner.input ?? []) exit(name);
    nodes.push(node);
  });
  for (const output of graph.output ?? []) exit(output.name ?? '');
  if (rewritten.length === 0) return { bytes: modelBytes, rewritten, kept, carried: 0 };
  // The NCHW tensors the rewrite no longer reads (the tokens' way back to NCHW) leave the graph.
  graph.node = withoutUnreadNodes(nodes, graph.output ?? []);
  graph.initializer = [...(graph.initializer ?? []), ...inits];
  pruneInitializers(graph);
  return { bytes: encodeOnnx(model), rewritten, kept, carried };
}
