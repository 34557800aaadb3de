/**
 * Where SAM's upscaling starts: the transformer's image tokens [N, HW, C] go back to NCHW,
 * x = Reshape(Transpose(tokens, [0, 2, 1]), [a, b, h, w]), and carryChannelsLast would turn x
 * channels-last again: two transposes of the tokens that cancel when a = N and b = C. The
 * export's shape arithmetic does not show that statically (a and b are read from another
 * tensor's shape), so an If checks it at run time: the tokens themselves when it holds, the
 * original way otherwise. Either way the result is the channels-last pixels [N, HW, C].
 */
import type { SymbolicShapes } from './symbolic-shape.js';
import { FLOAT, INT64, intAttribute, intOf, intsAttribute, intsOf, makeNode, makeTensor, onnx, type NodeProto, type TensorProto } from './onnx.js';

export interface TokenEntry {
  /** Nodes that compute the channels-last pixels (run-time check and If). */
  readonly nodes: NodeProto[];
  readonly initializers: TensorProto[];
  /** The [N, HW, C] tensor. */
  readonly pixels: string;
  /** [N] and [H, W] of x, from the Reshape's target (x itself is no longer computed). */
  readonly n: string;
  readonly hw: string;
}

const int64 = (name: string, values: number[], dims = [values.length]) => makeTensor(name, INT64, dims, BigInt64Array.from(values.map(BigInt)));

/**
 * The channels-last pixels of `x` straight from the tokens, or undefined when x is not such a
 * Reshape of a Transpose read by nothing else (then the caller transposes x itself).
 */
export function tokenEntry(
  x: string,
  channels: number,
  p: string,
  graph: { producerOf: Map<string, NodeProto>; readers: Map<string, number>; shapes: SymbolicShapes },
): TokenEntry | undefined {
  const reshape = graph.producerOf.get(x);
  const transpose = reshape?.opType === 'Reshape' ? graph.producerOf.get(reshape.input?.[0] ?? '') : undefined;
  if (!reshape || !transpose || transpose.opType !== 'Transpose' || intsOf(transpose, 'perm')?.join() !== '0,2,1') return undefined;
  if (intOf(reshape, 'allowzero', 0) !== 0 || graph.readers.get(x) !== 1 || graph.readers.get(transpose.output![0]) !== 1) return undefined;
  // The target must be 4 sizes read at run time or positive numbers (no 0 = copy, no -1 = infer).
  const target = graph.shapes.vector(reshape.input![1]);
  if (target?.length !== 4 || target.some((d) => typeof d === 'number' && d <= 0)) return undefined;
  const tokens = transpose.input![0];
  const s4 = reshape.input![1];
  const initializers: TensorProto[] = [];
  const pick = (from: string, index: number, out: string) => {
    initializers.push(int64(`${out}_index`, [index], []));
    return makeNode('Gather', out, [from, `${out}_index`], [out], [intAttribute('axis', 0)]);
  };
  const slice = (from: string, start: number, end: number, out: string) => {
    initializers.push(int64(`${out}_start`, [start]), int64(`${out}_end`, [end]));
    return makeNode('Slice', out, [from, `${out}_start`, `${out}_end`], [out]);
  };
  const output = (name: string) => onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: FLOAT } } });
  const then = onnx.GraphProto.create({ name: `${p}tokens`, node: [makeNode('Identity', `${p}tokens_as_pixels`, [tokens], [`${p}then_out`])], output: [output(`${p}then_out`)] });
  const otherwise = onnx.GraphProto.create({
    name: `${p}as_exported`,
    node: [
      makeNode('Transpose', `${p}else_t`, [tokens], [`${p}else_t`], [intsAttribute('perm', [0, 2, 1])]),
      makeNode('Reshape', `${p}else_x`, [`${p}else_t`, s4], [`${p}else_x`]),
      makeNode('Transpose', `${p}else_nhwc`, [`${p}else_x`], [`${p}else_nhwc`], [intsAttribute('perm', [0, 2, 3, 1])]),
      // A constant of the branch's own, so no initializer pruning misses its reader.
      makeNode('Constant', `${p}else_rows_shape`, [], [`${p}else_rows_shape`], [
        onnx.AttributeProto.create({ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: int64(`${p}else_rows_shape`, [0, -1, channels]) }),
      ]),
      makeNode('Reshape', `${p}else_rows`, [`${p}else_nhwc`, `${p}else_rows_shape`], [`${p}else_out`]),
    ],
    output: [output(`${p}else_out`)],
  });
  const nodes = [
    makeNode('Shape', `${p}tokens_shape`, [tokens], [`${p}tokens_shape`]),
    pick(`${p}tokens_shape`, 0, `${p}tokens_n`),
    pick(`${p}tokens_shape`, 2, `${p}tokens_c`),
    pick(s4, 0, `${p}target_n`),
    pick(s4, 1, `${p}target_c`),
    makeNode('Equal', `${p}same_n`, [`${p}tokens_n`, `${p}target_n`], [`${p}same_n`]),
    makeNode('Equal', `${p}same_c`, [`${p}tokens_c`, `${p}target_c`], [`${p}same_c`]),
    makeNode('And', `${p}tokens_are_pixels`, [`${p}same_n`, `${p}same_c`], [`${p}tokens_are_pixels`]),
    makeNode('If', `${p}entry`, [`${p}tokens_are_pixels`], [`${p}pixels`], [
      onnx.AttributeProto.create({ name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: then }),
      onnx.AttributeProto.create({ name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: otherwise }),
    ]),
    slice(s4, 0, 1, `${p}entry_n`),
    slice(s4, 2, 4, `${p}entry_hw`),
  ];
  return { nodes, initializers, pixels: `${p}pixels`, n: `${p}entry_n`, hw: `${p}entry_hw` };
}
