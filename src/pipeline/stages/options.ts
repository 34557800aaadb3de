/**
 * Shared option plumbing for stage functions: progress events and cancellation.
 */
import { SalipError } from '../../core/errors.js';

/** A progress event: `done` of `total` units of `stage` finished. */
export interface ProgressEvent {
  readonly stage: string;
  readonly done: number;
  readonly total: number;
  readonly message?: string;
}

export type ProgressListener = (event: ProgressEvent) => void;

export interface StageControl {
  /** Called as work advances (at most once per decoder call or image). */
  onProgress?: ProgressListener;
  /** Aborts the work between model calls; the promise rejects with SalipError ABORTED. */
  signal?: AbortSignal;
}

export { throwIfAborted } from '../../core/errors.js';

/** Validates a number option and returns it (or its default). */
export function numberOption(
  value: number | undefined,
  fallback: number,
  name: string,
  check: { min?: number; max?: number; integer?: boolean; minExclusive?: boolean } = {},
): number {
  const v = value ?? fallback;
  const bad =
    typeof v !== 'number' ||
    !Number.isFinite(v) ||
    (check.integer === true && !Number.isInteger(v)) ||
    (check.min !== undefined && (check.minExclusive ? v <= check.min : v < check.min)) ||
    (check.max !== undefined && v > check.max);
  if (bad) {
    const range = [
      check.integer ? 'an integer' : 'a number',
      check.min !== undefined ? `${check.minExclusive ? '>' : '>='} ${check.min}` : '',
      check.max !== undefined ? `<= ${check.max}` : '',
    ]
      .filter(Boolean)
      .join(' ');
    throw new SalipError('INVALID_ARGUMENT', `${name}: expected ${range}, got ${String(v)}`);
  }
  return v;
}
