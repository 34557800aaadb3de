/**
 * The onnx-proto namespace and a checked model decode for the graph tools in this folder
 * (quantizer, decoder clean-up).
 */
import * as onnxProto from 'onnx-proto';
import { SalipError } from '../../core/errors.js';

// onnx-proto is CommonJS (`module.exports = $root`): Node's ESM loader only exposes it as the
// default export, bundlers expose the named one. Accept both.
export const onnx: typeof onnxProto.onnx =
  (onnxProto as { onnx?: typeof onnxProto.onnx }).onnx ??
  (onnxProto as unknown as { default: { onnx: typeof onnxProto.onnx } }).default.onnx;

export type ModelProto = onnxProto.onnx.ModelProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;

export const FLOAT = 1;
export const UINT8 = 2;
export const INT8 = 3;
export const INT32 = 6;
export const INT64 = 7;

/** Decodes ONNX bytes; INVALID_ARGUMENT for non-bytes, DECODE_FAILED for unreadable or empty graphs. */
export function decodeOnnx(bytes: Uint8Array, who: string): ModelProto {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
    throw new SalipError('INVALID_ARGUMENT', `${who}: expected the non-empty bytes of an ONNX model`);
  }
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new SalipError('DECODE_FAILED', `${who}: the bytes are not a readable ONNX model: ${(error as Error).message}`, { cause: error });
  }
  if (!model.graph || !model.graph.node || model.graph.node.length === 0) {
    throw new SalipError('DECODE_FAILED', `${who}: the bytes hold no ONNX graph`);
  }
  return model;
}

export function encodeOnnx(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

/** The default-domain opset a model imports (0 when none is declared). */
export function defaultOpset(model: ModelProto): number {
  const entry = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  return entry ? Number(entry.version ?? 0) : 0;
}

/** The float32 values of an initializer (raw little-endian bytes or float_data), or undefined for other types / external data. */
export function floatValues(tensor: TensorProto): Float32Array | undefined {
  if (tensor.dataType !== FLOAT || tensor.dataLocation === 1) return undefined;
  const count = (tensor.dims ?? []).reduce((a: number, d) => a * Number(d), 1);
  if (tensor.rawData && tensor.rawData.length > 0) {
    if (tensor.rawData.length !== count * 4) return undefined;
    // Copy: rawData may sit at an unaligned offset in the decoded buffer.
    const copy = new Uint8Array(tensor.rawData);
    return new Float32Array(copy.buffer, 0, count);
  }
  if (tensor.floatData && tensor.floatData.length === count) return Float32Array.from(tensor.floatData);
  return undefined;
}

/** An initializer from typed values (raw data). */
export function makeTensor(name: string, dataType: number, dims: readonly number[], values: Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array): TensorProto {
  return onnx.TensorProto.create({
    name,
    dataType,
    dims: [...dims],
    rawData: new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)),
  });
}

export function makeNode(opType: string, name: string, input: string[], output: string[], attribute: onnxProto.onnx.IAttributeProto[] = []): NodeProto {
  return onnx.NodeProto.create({ opType, name, input, output, attribute });
}

export function intAttribute(name: string, value: number): onnxProto.onnx.IAttributeProto {
  return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: value });
}

export function intsAttribute(name: string, values: readonly number[]): onnxProto.onnx.IAttributeProto {
  return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: [...values] });
}

/** A node's attribute by name (undefined when absent). */
export function attributeOf(node: NodeProto, name: string): onnxProto.onnx.IAttributeProto | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

/** An INT attribute's value, or `fallback` when absent. */
export function intOf(node: NodeProto, name: string, fallback: number): number {
  const a = attributeOf(node, name);
  return a?.i === undefined || a.i === null ? fallback : Number(a.i);
}

/** A FLOAT attribute's value, or `fallback` when absent. */
export function floatOf(node: NodeProto, name: string, fallback: number): number {
  const a = attributeOf(node, name);
  return a?.f === undefined || a.f === null ? fallback : a.f;
}

/** An INTS attribute's values, or undefined when absent. */
export function intsOf(node: NodeProto, name: string): number[] | undefined {
  const a = attributeOf(node, name);
  return a ? (a.ints ?? []).map(Number) : undefined;
}

/** Constant tensors of a graph by name: initializers and the outputs of Constant nodes with a tensor value. */
export function constantTensors(graph: onnxProto.onnx.IGraphProto): Map<string, TensorProto> {
  const constants = new Map<string, TensorProto>();
  for (const t of graph.initializer ?? []) constants.set(t.name ?? '', t);
  // An initializer listed as a graph input can be overridden by a feed: not a constant.
  for (const input of graph.input ?? []) constants.delete(input.name ?? '');
  for (const node of graph.node ?? []) {
    const value = node.opType === 'Constant' ? attributeOf(node, 'value')?.t : undefined;
    if (value && node.output?.[0]) constants.set(node.output[0], value);
  }
  return constants;
}

/** The number of elements of a tensor's declared dims. */
export function elementCount(tensor: TensorProto): number {
  return (tensor.dims ?? []).reduce((a: number, d) => a * Number(d), 1);
}

/** How many nodes read each tensor (graph outputs count as readers). */
export function readerCounts(graph: onnxProto.onnx.IGraphProto): Map<string, number> {
  const counts = new Map<string, number>();
  const add = (name: string) => counts.set(name, (counts.get(name) ?? 0) + 1);
  const visit = (nodes: readonly NodeProto[]) => {
    for (const node of nodes) {
      for (const name of node.input ?? []) if (name) add(name);
      for (const a of node.attribute ?? []) for (const g of [a.g, ...(a.graphs ?? [])]) if (g) visit(g.node ?? []);
    }
  };
  visit(graph.node ?? []);
  for (const o of graph.output ?? []) add(o.name ?? '');
  return counts;
}

/** The nodes minus those none of whose outputs is read (by a node, a subgraph or a graph output), repeatedly. */
export function withoutUnreadNodes(nodes: NodeProto[], outputs: readonly onnxProto.onnx.IValueInfoProto[]): NodeProto[] {
  let kept = nodes;
  for (;;) {
    const read = readerCounts({ node: kept, output: [...outputs] });
    const next = kept.filter((node) => (node.output ?? []).some((name) => read.has(name)));
    if (next.length === kept.length) return kept;
    kept = next;
  }
}

/** Drops initializers no node reads any more (after a rewrite replaced their readers). */
export function pruneInitializers(graph: onnxProto.onnx.IGraphProto): void {
  const counts = readerCounts(graph);
  graph.initializer = (graph.initializer ?? []).filter((t) => counts.has(t.name ?? ''));
}

export function stringAttribute(name: string, value: string): onnxProto.onnx.IAttributeProto {
  return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(value) });
}
