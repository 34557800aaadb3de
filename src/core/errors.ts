/**
 * The one error type of salip. Every error the library can diagnose is a SalipError with a
 * stable `code` (for programs) and a message that names the offending input and what was
 * expected (for people). Errors from ONNX Runtime are wrapped with the model and input they
 * concern, keeping the original as `cause`.
 */
export type SalipErrorCode =
  /** An argument has the wrong type, range or shape (message names the argument). */
  | 'INVALID_ARGUMENT'
  /** An image is empty, too large, or has an unsupported layout/bit depth. */
  | 'INVALID_IMAGE'
  /** A file could not be decoded as the format it claims (PNG, JPEG, NIfTI, ONNX, JSON). */
  | 'DECODE_FAILED'
  /** The format is recognised but not supported (e.g. 4-D NIfTI, an unsupported datatype). */
  | 'UNSUPPORTED_FORMAT'
  /** A DICOM file's pixel data uses a transfer syntax no bundled codec decodes (message names the UID). */
  | 'UNSUPPORTED_TRANSFER_SYNTAX'
  /** An optional package a feature needs is not installed (message names the package to install). */
  | 'MISSING_DEPENDENCY'
  /** A box or point is NaN/infinite, inverted or outside the image. */
  | 'INVALID_PROMPT'
  /** A model's inputs/outputs do not match the contract its preset expects. */
  | 'MODEL_CONTRACT'
  /** A model file is missing, truncated or not an ONNX graph. */
  | 'MODEL_LOAD_FAILED'
  /** ONNX Runtime failed while running a model (wrapped; see `cause`). */
  | 'MODEL_RUN_FAILED'
  /** A graph does not have the shape a graph edit needs (e.g. no multi-mask selection). */
  | 'GRAPH_EDIT_FAILED'
  /** A task description (JSON or object) is malformed. */
  | 'INVALID_TASK'
  /** Every candidate was filtered out before retrieval. */
  | 'EMPTY_CANDIDATE_POOL'
  /** A file or directory does not exist or cannot be read. */
  | 'FILE_NOT_FOUND'
  | 'FILE_UNREADABLE'
  /** An output exists and overwriting was not allowed. */
  | 'OUTPUT_EXISTS'
  /** An output's directory does not exist. */
  | 'OUTPUT_DIR_MISSING'
  /** An output could not be written (permission denied, disk full, path is a directory). */
  | 'OUTPUT_WRITE_FAILED'
  /** Two inputs that must agree do not (e.g. mask and image of different sizes). */
  | 'SIZE_MISMATCH'
  /** The instance was disposed; no further calls are possible. */
  | 'DISPOSED'
  /** A worker thread (post-processing off the model's thread) failed or could not be reached. */
  | 'WORKER_FAILED'
  /** The work was cancelled through an AbortSignal. */
  | 'ABORTED'
  /** An optional package a feature needs is not installed (e.g. bullmq for salip queue). */
  | 'MISSING_DEPENDENCY';

export class SalipError extends Error {
  readonly code: SalipErrorCode;
  /** Extra machine-readable facts (expected/found values, file names). */
  readonly details?: Record<string, unknown>;

  constructor(
    code: SalipErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'SalipError';
    this.code = code;
    this.details = options?.details;
  }
}

export function isSalipError(value: unknown, code?: SalipErrorCode): value is SalipError {
  return value instanceof SalipError && (code === undefined || value.code === code);
}

/** Throws INVALID_ARGUMENT unless `condition` holds; `what` names the argument. */
export function assertArgument(condition: unknown, what: string, expected: string, found?: unknown): asserts condition {
  if (!condition) {
    const foundText = found === undefined ? '' : `, got ${describeValue(found)}`;
    throw new SalipError('INVALID_ARGUMENT', `${what}: expected ${expected}${foundText}`);
  }
}

/** A short, safe rendering of a value for error messages. */
export function describeValue(value: unknown): string {
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? value.slice(0, 77) + '...' : value);
  if (Array.isArray(value)) return `[${value.slice(0, 8).map(describeValue).join(', ')}${value.length > 8 ? ', ...' : ''}]`;
  if (value === null || value === undefined) return String(value);
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as unknown as ArrayLike<unknown>).length})`;
  return typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
}

/** Throws ABORTED when the signal has fired (here so model adapters and stages share it). */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new SalipError('ABORTED', `${what} was aborted`, { cause: signal.reason });
}
