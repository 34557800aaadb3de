/**
 * Symbolic values of the small shape computations exported graphs carry (Shape -> Gather ->
 * Unsqueeze -> Concat, products of dims): a graph rewrite asks what shape a Reshape will be given,
 * in terms of other tensors' dims, without running the graph. A dim is written `tensor#k`, a
 * product of dims as its factors sorted and joined by `*`, a known number as the number.
 */
import { INT64, attributeOf, intsOf, type NodeProto, type TensorProto } from './onnx.js';

export type SymbolicDim = string | number;

type Value = { vector: SymbolicDim[] } | { scalar: SymbolicDim } | { shapeOf: string };

/** A reader of symbolic shape vectors over one graph's nodes and constants. */
export interface SymbolicShapes {
  /** The tensor's value as a vector of symbolic dims, or undefined when it is not a shape computation understood here. */
  vector(name: string): SymbolicDim[] | undefined;
}

/** The dim token of `tensor`'s axis `axis`. */
export const dimOf = (tensor: string, axis: number): string => `${tensor}#${axis}`;

/** The values of a constant int64 tensor, or undefined. */
export function int64Values(tensor: TensorProto | undefined): number[] | undefined {
  if (!tensor || tensor.dataType !== INT64) return undefined;
  if (tensor.int64Data && tensor.int64Data.length > 0) return tensor.int64Data.map(Number);
  if (!tensor.rawData) return [];
  const copy = new Uint8Array(tensor.rawData);
  return Array.from(new BigInt64Array(copy.buffer, 0, copy.length / 8), Number);
}

function product(a: SymbolicDim, b: SymbolicDim): SymbolicDim {
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  if (a === 1) return b;
  if (b === 1) return a;
  return [...String(a).split('*'), ...String(b).split('*')].sort().join('*');
}

export function symbolicShapes(nodes: readonly NodeProto[], constants: Map<string, TensorProto>): SymbolicShapes {
  const producers = new Map<string, NodeProto>();
  for (const node of nodes) for (const name of node.output ?? []) if (name) producers.set(name, node);
  const memo = new Map<string, Value | undefined>();

  const axesOf = (node: NodeProto): number[] | undefined => intsOf(node, 'axes') ?? int64Values(constants.get(node.input?.[1] ?? ''));

  const evaluate = (name: string, depth: number): Value | undefined => {
    if (memo.has(name)) return memo.get(name);
    let value: Value | undefined;
    const constant = constants.get(name);
    const node = producers.get(name);
    if (constant) {
      const values = int64Values(constant);
      if (values) value = (constant.dims ?? []).length === 0 ? { scalar: values[0] } : { vector: values };
    } else if (node && depth < 64) {
      const inputs = (node.input ?? []).map((input) => evaluate(input, depth + 1));
      const [a, b] = inputs;
      switch (node.opType) {
        case 'Shape':
          if (!attributeOf(node, 'start') && !attributeOf(node, 'end')) value = { shapeOf: node.input![0] };
          break;
        case 'Gather': {
          const axis = Number(attributeOf(node, 'axis')?.i ?? 0);
          const index = b && 'scalar' in b ? b.scalar : b && 'vector' in b && b.vector.length === 1 ? b.vector[0] : undefined;
          if (axis !== 0 || typeof index !== 'number' || index < 0 || !a) break;
          const picked = 'shapeOf' in a ? dimOf(a.shapeOf, index) : 'vector' in a ? a.vector[index] : undefined;
          if (picked !== undefined) value = b && 'scalar' in b ? { scalar: picked } : { vector: [picked] };
          break;
        }
        case 'Unsqueeze': {
          const axes = axesOf(node);
          if (a && 'scalar' in a && axes?.length === 1 && axes[0] === 0) value = { vector: [a.scalar] };
          break;
        }
        case 'Concat':
          if (Number(attributeOf(node, 'axis')?.i ?? 0) === 0 && inputs.every((v) => v && 'vector' in v)) {
            value = { vector: inputs.flatMap((v) => (v as { vector: SymbolicDim[] }).vector) };
          }
          break;
        case 'Mul':
          if (a && b && 'scalar' in a && 'scalar' in b) value = { scalar: product(a.scalar, b.scalar) };
          else if (a && b && 'vector' in a && 'vector' in b && a.vector.length === 1 && b.vector.length === 1) value = { vector: [product(a.vector[0], b.vector[0])] };
          break;
        case 'Cast':
        case 'Identity':
          value = a;
          break;
        default:
          break;
      }
    }
    memo.set(name, value);
    return value;
  };

  return {
    vector(name) {
      const value = evaluate(name, 0);
      return value && 'vector' in value ? value.vector : undefined;
    },
  };
}
