/**
 * Builds small ONNX models in tests, with the exact input/output names, dtypes and shapes of
 * real exports but simple deterministic behaviour, so adapters can be tested without weights.
 */
import { onnx } from 'onnx-proto';

export type ElemType = 'float32' | 'int64' | 'int32' | 'uint8' | 'bool';
const ELEM: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  uint8: onnx.TensorProto.DataType.UINT8,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
};

export interface IoSpec {
  name: string;
  type: ElemType;
  /** Numbers are fixed sizes, strings are symbolic (free) dimensions. */
  dims: Array<number | string>;
}

export type AttrValue = number | number[] | string | { floats: number[] } | { tensor: InitSpec } | { int: number } | { float: number };

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, AttrValue>;
  domain?: string;
}

export interface InitSpec {
  name: string;
  type: 'float32' | 'int64' | 'int32';
  dims: number[];
  values: ArrayLike<number>;
}

export interface ModelSpec {
  inputs: IoSpec[];
  outputs: IoSpec[];
  nodes: NodeSpec[];
  initializers?: InitSpec[];
  opset?: number;
  name?: string;
}

function valueInfo(spec: IoSpec): onnx.IValueInfoProto {
  return {
    name: spec.name,
    type: {
      tensorType: {
        elemType: ELEM[spec.type],
        shape: { dim: spec.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function tensor(spec: InitSpec): onnx.ITensorProto {
  const t: onnx.ITensorProto = { name: spec.name, dims: spec.dims, dataType: ELEM[spec.type] };
  if (spec.type === 'float32') t.rawData = new Uint8Array(Float32Array.from(spec.values).buffer);
  else if (spec.type === 'int32') t.rawData = new Uint8Array(Int32Array.from(spec.values).buffer);
  else t.rawData = new Uint8Array(BigInt64Array.from(Array.from(spec.values, (v) => BigInt(Math.trunc(v)))).buffer);
  return t;
}

function attribute(name: string, value: AttrValue): onnx.IAttributeProto {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') {
    return Number.isInteger(value) ? { name, type: A.INT, i: value } : { name, type: A.FLOAT, f: value };
  }
  if (Array.isArray(value)) return { name, type: A.INTS, ints: value };
  if ('floats' in value) return { name, type: A.FLOATS, floats: value.floats };
  if ('int' in value) return { name, type: A.INT, i: value.int };
  if ('float' in value) return { name, type: A.FLOAT, f: value.float };
  return { name, type: A.TENSOR, t: tensor(value.tensor) };
}

/** Serialises a model to ONNX bytes. */
export function buildModel(spec: ModelSpec): Uint8Array {
  const model: onnx.IModelProto = {
    irVersion: 8,
    producerName: 'salip-tests',
    opsetImport: [{ domain: '', version: spec.opset ?? 17 }],
    graph: {
      name: spec.name ?? 'test',
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
      initializer: (spec.initializers ?? []).map(tensor),
      node: spec.nodes.map((n, i) => ({
        opType: n.op,
        domain: n.domain ?? '',
        name: `${n.op}_${i}`,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      })),
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}
