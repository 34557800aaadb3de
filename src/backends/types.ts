/**
 * The one small interface between salip and an inference runtime. Adapters (node.ts over
 * onnxruntime-node, web.ts over onnxruntime-web) implement it; everything else in salip talks
 * only to this interface, so a user injects the runtime at construction time.
 */

export type TensorElementType = 'float32' | 'int64' | 'int32' | 'uint8' | 'bool' | 'float16';

/** Typed array for each element type (int64 as BigInt64Array, float16 as raw Uint16Array). */
export type TensorDataOf<T extends TensorElementType> = T extends 'float32'
  ? Float32Array
  : T extends 'int64'
    ? BigInt64Array
    : T extends 'int32'
      ? Int32Array
      : T extends 'float16'
        ? Uint16Array
        : Uint8Array;

/** A plain tensor: runtime-independent, so core and pipeline code never see onnxruntime types. */
export interface TensorData {
  readonly type: TensorElementType;
  readonly dims: readonly number[];
  readonly data: Float32Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;
}

/** Dimension of a model input/output: a number, or a symbolic name for a free dimension. */
export type Dim = number | string;

export interface ValueInfo {
  readonly name: string;
  readonly type: TensorElementType | 'unknown';
  /** Undefined when the model does not declare a shape. */
  readonly dims?: readonly Dim[];
}

/** Where a model comes from: a file path (Node), a URL (web), or its bytes. */
export type ModelSource = string | URL | Uint8Array | ArrayBuffer;

export interface SessionOptions {
  /** Intra-op threads (Node) / wasm threads (web); undefined = the runtime's choice. */
  intraOpThreads?: number;
  /** Human-readable name used in error messages ("SAM decoder", "CLIP vision"). */
  label?: string;
}

/** One loaded model. */
export interface ModelSession {
  readonly label: string;
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  /**
   * Runs the model. `outputNames` restricts which outputs are fetched (all when omitted).
   * Errors are SalipError MODEL_RUN_FAILED naming the model and its feeds. The feeds' arrays
   * are the caller's again once the promise settles (salip reuses the encoder's input buffer).
   */
  run(feeds: Record<string, TensorData>, outputNames?: readonly string[]): Promise<Record<string, TensorData>>;
  dispose(): Promise<void>;
}

/** Timing record of one runtime call, for overhead accounting (benchmarks). */
export interface RunRecord {
  readonly label: string;
  readonly ms: number;
}

/**
 * A worker thread running a self-contained script (Backend.startWorker). The script defines
 * `globalThis.__salipWorker = { handle(message) { return { reply, transfer } } }`; each request
 * gets the reply of its own message, in order.
 */
export interface ScriptWorker {
  /** Sends a message (transferring `transfer`); resolves with the script's reply, rejects with its error. */
  request(message: unknown, transfer?: readonly ArrayBuffer[]): Promise<unknown>;
  /** Stops the worker; pending requests reject. */
  terminate(): Promise<void>;
}

export interface Backend {
  /** 'node' | 'web' | a user's own name. */
  readonly name: string;
  /** Loads a model. Errors: MODEL_LOAD_FAILED (missing, truncated, not ONNX), FILE_NOT_FOUND. */
  loadModel(source: ModelSource, options?: SessionOptions): Promise<ModelSession>;
  /** Reads a file's bytes (paths on Node, URLs on the web); used for graph edits and tokenizers. */
  readBytes(source: string | URL): Promise<Uint8Array>;
  /**
   * Optional: starts a worker thread running `script` (see ScriptWorker), so that pure
   * post-processing can run beside the model calls (Node: worker_threads; web: a Blob-URL
   * Worker). Without it everything runs on the calling thread.
   */
  startWorker?(script: string): ScriptWorker;
  /**
   * True when the runtime widens a run cheaply (a GPU execution provider): createSalip then lets
   * segment-everything's exact mode decode many grid points per run (promptsPerRun). On CPU each
   * prompt costs the same inside a batch, so CPU backends leave it unset.
   */
  readonly batchedPrompts?: boolean;
  /** When set, every ModelSession.run reports its wall time here (benchmark overhead figures). */
  onRun?: (record: RunRecord) => void;
  /**
   * Optional: a persistent store for models derived from others (int8 copies). Node keeps them
   * in the user's cache folder; without it (the web) derived models are made in memory per load.
   */
  readonly derivedModels?: DerivedModelCache;
  /**
   * Optional: how int8 copies (`quantize`) store their weights on this runtime when the quantize
   * options do not say: 'uint8' (the default when unset) is computed exactly by ONNX Runtime on
   * every CPU; 'int8' runs its faster u8s8 kernels, exact only where the CPU has VNNI (on x86
   * CPUs with AVX2 and no VNNI they saturate). Both give the same masks where they are exact.
   */
  readonly int8Weights?: 'uint8' | 'int8';
}

/** A store of derived model bytes, keyed by the source model's bytes and a tag naming the derivation. */
export interface DerivedModelCache {
  /** The cached result for (source, tag), or make()'s result, stored for next time. */
  getOrCreate(source: Uint8Array, tag: string, make: () => Uint8Array): Promise<Uint8Array>;
}
