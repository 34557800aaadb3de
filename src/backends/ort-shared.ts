/**
 * Logic shared by the onnxruntime-node and onnxruntime-web adapters: TensorData <-> ort.Tensor
 * conversion, session metadata, feed validation, timing and error wrapping. The ort module is
 * passed in as a parameter, so this file imports only onnxruntime-common *types* and both
 * adapters stay thin.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { SalipError, describeValue } from '../core/errors.js';
import type { Backend, ModelSession, TensorData, TensorElementType, ValueInfo } from './types.js';

/** The parts of an onnxruntime module (node or web) that salip uses. */
export interface OrtModule {
  readonly Tensor: typeof Tensor;
  readonly InferenceSession: typeof InferenceSession;
}

const ELEMENT_TYPES: ReadonlySet<string> = new Set<TensorElementType>([
  'float32',
  'int64',
  'int32',
  'uint8',
  'bool',
  'float16',
]);

function isElementType(type: string): type is TensorElementType {
  return ELEMENT_TYPES.has(type);
}

/** Number of elements a shape holds (1 for a scalar). */
export function elementCount(dims: readonly number[]): number {
  let count = 1;
  for (const d of dims) count *= d;
  return count;
}

/** Renders feed shapes for error messages, e.g. `point_coords float32[1,2,2]`. */
export function describeFeeds(feeds: Record<string, TensorData>): string {
  return Object.entries(feeds)
    .map(([name, t]) => `${name} ${t?.type}[${t?.dims?.join(',')}]`)
    .join(', ');
}

/** Converts a plain tensor to an ort.Tensor without copying its data. */
export function toOrtTensor(ort: OrtModule, name: string, tensor: TensorData): Tensor {
  const count = Array.isArray(tensor.dims) && tensor.dims.every((d) => Number.isInteger(d) && d >= 0)
    ? elementCount(tensor.dims)
    : -1;
  if (count < 0 || tensor.data?.length !== count) {
    throw new SalipError(
      'INVALID_ARGUMENT',
      `feed "${name}": expected data of length equal to the product of dims ${describeValue(tensor.dims)} (${count}), got ${describeValue(tensor.data)}`,
    );
  }
  return new ort.Tensor(tensor.type, tensor.data as Tensor.DataTypeMap[typeof tensor.type], tensor.dims);
}

/** Converts an ort.Tensor output to plain data; exotic element types are widened to a supported one. */
export function fromOrtTensor(label: string, name: string, tensor: Tensor): TensorData {
  const dims = tensor.dims.slice();
  const data = tensor.data as unknown;
  switch (tensor.type) {
    case 'float32':
    case 'int64':
    case 'int32':
    case 'uint8':
    case 'bool':
      return { type: tensor.type, dims, data: data as TensorData['data'] };
    case 'float16': {
      // Runtimes that have Float16Array may hand one back; keep the raw half-float bits.
      const view = data as ArrayBufferView;
      const bits = view instanceof Uint16Array ? view : new Uint16Array(view.buffer, view.byteOffset, view.byteLength / 2);
      return { type: 'float16', dims, data: bits };
    }
    case 'float64':
      return { type: 'float32', dims, data: Float32Array.from(data as Float64Array) };
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'uint32':
      return { type: 'int32', dims, data: Int32Array.from(data as ArrayLike<number>) };
    case 'uint64':
      return { type: 'int64', dims, data: BigInt64Array.from(data as BigUint64Array, (v) => BigInt.asIntN(64, v)) };
    default:
      throw new SalipError(
        'MODEL_RUN_FAILED',
        `${label}: output "${name}" has element type ${tensor.type}, which salip cannot represent (expected a numeric tensor)`,
      );
  }
}

/** Reads input or output descriptions from an ORT session (onnxruntime >= 1.22 metadata API). */
export function readValueInfos(
  names: readonly string[],
  metadata: readonly InferenceSession.ValueMetadata[] | undefined,
): ValueInfo[] {
  return names.map((name, i) => {
    const meta = metadata?.find((m) => m.name === name) ?? metadata?.[i];
    if (!meta || meta.name !== name || !meta.isTensor) return { name, type: 'unknown' };
    const type = isElementType(meta.type) ? meta.type : 'unknown';
    return { name, type, dims: meta.shape.slice() };
  });
}

/** A short description of an unknown thrown value, for wrapped error messages. */
export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : describeValue(error);
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

/**
 * Wraps a created ORT session as a ModelSession: validates feeds and output names, converts
 * tensors, times each run (reported through `backend.onRun`, read at run time so a caller may
 * set it later) and turns runtime failures into MODEL_RUN_FAILED.
 */
export function wrapSession(
  ort: OrtModule,
  session: InferenceSession,
  label: string,
  backend: Pick<Backend, 'onRun'>,
): ModelSession {
  const inputs = readValueInfos(session.inputNames, session.inputMetadata);
  const outputs = readValueInfos(session.outputNames, session.outputMetadata);
  const inputNames = new Set(session.inputNames);
  const outputNames = new Set(session.outputNames);
  let disposed = false;

  const assertLive = (what: string): void => {
    if (disposed) throw new SalipError('DISPOSED', `${label}: ${what} after dispose() (the session was released)`);
  };

  return {
    label,
    inputs,
    outputs,
    async run(feeds, requested) {
      assertLive('run()');
      if (feeds === null || typeof feeds !== 'object') {
        throw new SalipError('INVALID_ARGUMENT', `${label}: feeds: expected an object of tensors, got ${describeValue(feeds)}`);
      }
      for (const name of inputNames) {
        if (!(name in feeds)) {
          throw new SalipError(
            'INVALID_ARGUMENT',
            `${label}: input "${name}" is not fed (model inputs: ${session.inputNames.join(', ')}; fed: ${Object.keys(feeds).join(', ') || 'none'})`,
          );
        }
      }
      const ortFeeds: Record<string, Tensor> = {};
      for (const [name, tensor] of Object.entries(feeds)) {
        if (!inputNames.has(name)) {
          throw new SalipError(
            'INVALID_ARGUMENT',
            `${label}: feed "${name}" is not an input of the model (inputs: ${session.inputNames.join(', ')})`,
          );
        }
        ortFeeds[name] = toOrtTensor(ort, name, tensor);
      }
      const fetches = requested ? [...requested] : [...session.outputNames];
      for (const name of fetches) {
        if (!outputNames.has(name)) {
          throw new SalipError(
            'INVALID_ARGUMENT',
            `${label}: requested output "${name}" is not an output of the model (outputs: ${session.outputNames.join(', ')})`,
          );
        }
      }
      const start = now();
      let results: InferenceSession.OnnxValueMapType;
      try {
        results = await session.run(ortFeeds, fetches);
      } catch (error) {
        throw new SalipError(
          'MODEL_RUN_FAILED',
          `${label}: running the model failed with feeds ${describeFeeds(feeds)}: ${errorText(error)}`,
          { cause: error, details: { label, feeds: describeFeeds(feeds) } },
        );
      }
      backend.onRun?.({ label, ms: now() - start });
      const plain: Record<string, TensorData> = {};
      for (const name of fetches) plain[name] = fromOrtTensor(label, name, results[name] as Tensor);
      return plain;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      await session.release();
    },
  };
}

/** Execution providers that run on a GPU (or NPU): batches of prompts pay there. */
const GPU_PROVIDERS = new Set(['webgpu', 'webnn', 'cuda', 'tensorrt', 'dml', 'coreml', 'rocm', 'migraphx', 'qnn']);

/** Whether the first provider asked for is a GPU one (ORT falls back in order, CPU last). */
export function prefersBatchedPrompts(executionProviders: readonly string[] | undefined): boolean {
  const first = executionProviders?.[0];
  return typeof first === 'string' && GPU_PROVIDERS.has(first.toLowerCase());
}

/** Builds ORT session options from salip's options and the adapter's defaults. */
export function sessionOptions(
  intraOpThreads: number | undefined,
  executionProviders: readonly string[] | undefined,
): InferenceSession.SessionOptions {
  const options: InferenceSession.SessionOptions = { graphOptimizationLevel: 'all' };
  if (intraOpThreads !== undefined) {
    if (!Number.isInteger(intraOpThreads) || intraOpThreads < 0) {
      throw new SalipError('INVALID_ARGUMENT', `intraOpThreads: expected a non-negative integer, got ${describeValue(intraOpThreads)}`);
    }
    options.intraOpNumThreads = intraOpThreads;
  }
  if (executionProviders && executionProviders.length > 0) options.executionProviders = [...executionProviders];
  return options;
}

/** Creates an ORT session, turning any runtime refusal into MODEL_LOAD_FAILED naming the model. */
export async function createSession(
  ort: OrtModule,
  model: string | Uint8Array,
  options: InferenceSession.SessionOptions,
  where: string,
): Promise<InferenceSession> {
  try {
    return typeof model === 'string'
      ? await ort.InferenceSession.create(model, options)
      : await ort.InferenceSession.create(model, options);
  } catch (error) {
    throw new SalipError('MODEL_LOAD_FAILED', `could not load ONNX model ${where}: ${errorText(error)}`, {
      cause: error,
      details: { model: where },
    });
  }
}

/** Normalises in-memory model bytes to a Uint8Array (no copy). */
export function bytesOf(source: Uint8Array | ArrayBuffer): Uint8Array {
  return source instanceof Uint8Array ? source : new Uint8Array(source);
}
