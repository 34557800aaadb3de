/**
 * `quantize: true` for the model adapters: the int8 copy of a model, from the backend's store
 * of derived models when it has one (Node: the user's cache folder), else made in memory.
 */
import type { Backend, ModelSource } from '../../backends/types.js';
import { SalipError, describeValue } from '../../core/errors.js';
import { QUANTIZER_VERSION, quantizeModel, type QuantizeOptions } from './quantize.js';

/** What a model config's `quantize` field accepts. */
export type QuantizeSetting = boolean | QuantizeOptions | undefined;

/** The options a `quantize` setting asks for, or undefined for none. */
export function quantizeOptionsOf(setting: QuantizeSetting, field: string): QuantizeOptions | undefined {
  if (setting === undefined || setting === false) return undefined;
  if (setting === true) return {};
  if (typeof setting === 'object' && setting !== null && !Array.isArray(setting)) return setting;
  throw new SalipError('INVALID_ARGUMENT', `${field}: expected true, false or quantize options { ops?, keepFloat?, keepFloatDefaults?, minWeightElements?, weightType?, reduceRange? }, got ${describeValue(setting)}`);
}

/** A short stable tag for the quantizer version and options (part of the cache key). */
export function quantizeTag(options: QuantizeOptions): string {
  const canonical = JSON.stringify([options.ops ?? null, [...(options.keepFloat ?? [])].sort(), options.minWeightElements ?? null, options.keepFloatDefaults ?? true, options.weightType ?? 'uint8', options.reduceRange ?? false]);
  // FNV-1a: the tag only has to tell option sets apart, the source model is hashed separately.
  let h = 0x811c9dc5;
  for (let i = 0; i < canonical.length; i++) h = Math.imul(h ^ canonical.charCodeAt(i), 0x01000193) >>> 0;
  return `int8-v${QUANTIZER_VERSION}-${h.toString(16).padStart(8, '0')}`;
}

/** The bytes of a model source (files through the backend). */
export async function sourceBytes(backend: Backend, source: ModelSource): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  return backend.readBytes(source);
}

/**
 * The int8 copy of `bytes` under `options`, cached by the backend when it can. Weights are stored
 * as the options say, else as the backend prefers for its CPU (Backend.int8Weights), else uint8.
 */
export async function quantizedBytes(backend: Backend, bytes: Uint8Array, options: QuantizeOptions): Promise<Uint8Array> {
  const resolved: QuantizeOptions = options.weightType ? options : { ...options, weightType: backend.int8Weights ?? 'uint8' };
  const make = () => quantizeModel(bytes, resolved).bytes;
  return backend.derivedModels ? backend.derivedModels.getOrCreate(bytes, quantizeTag(resolved), make) : make();
}
