/**
 * Backend over onnxruntime-web (wasm, optionally WebGPU): models from URLs or bytes; readBytes
 * through fetch.
 */
import * as ort from 'onnxruntime-web';
import { SalipError, describeValue } from '../core/errors.js';
import { bytesOf, createSession, errorText, sessionOptions, wrapSession } from './ort-shared.js';
import type { Backend, ModelSource } from './types.js';

export interface WebBackendOptions {
  /** Where the ort-wasm*.wasm/.mjs files are served (ort.env.wasm.wasmPaths). */
  wasmPaths?: string | Record<string, string>;
  /** Wasm threads (ort.env.wasm.numThreads); needs cross-origin isolation for more than 1. */
  numThreads?: number;
  /** ORT execution providers in order of preference (default: ['wasm']). */
  executionProviders?: ('wasm' | 'webgpu')[];
}

function toHref(source: string | URL, what: string): string {
  if (source instanceof URL) return source.href;
  if (typeof source !== 'string' || source.length === 0) {
    throw new SalipError('INVALID_ARGUMENT', `${what}: expected a non-empty URL or bytes, got ${describeValue(source)}`);
  }
  return source;
}

async function fetchBytes(href: string, what: string): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(href);
  } catch (error) {
    throw new SalipError('FILE_UNREADABLE', `${what} "${href}" could not be fetched: ${errorText(error)}`, {
      cause: error,
      details: { url: href },
    });
  }
  if (response.status === 404 || response.status === 410) {
    throw new SalipError('FILE_NOT_FOUND', `${what} "${href}" does not exist (HTTP ${response.status})`, { details: { url: href } });
  }
  if (!response.ok) {
    throw new SalipError('FILE_UNREADABLE', `${what} "${href}" cannot be read (HTTP ${response.status})`, { details: { url: href } });
  }
  return new Uint8Array(await response.arrayBuffer());
}

/** Creates a Backend over onnxruntime-web; the wasm options are global to ort and set here. */
export function webBackend(options: WebBackendOptions = {}): Backend {
  if (options.wasmPaths !== undefined) ort.env.wasm.wasmPaths = options.wasmPaths;
  if (options.numThreads !== undefined) {
    if (!Number.isInteger(options.numThreads) || options.numThreads < 0) {
      throw new SalipError('INVALID_ARGUMENT', `numThreads: expected a non-negative integer, got ${describeValue(options.numThreads)}`);
    }
    ort.env.wasm.numThreads = options.numThreads;
  }
  const providers = options.executionProviders ?? ['wasm'];

  const backend: Backend = {
    name: 'web',
    async loadModel(source: ModelSource, sessionOpts = {}) {
      // Thread count is a global wasm setting on the web; per-session intraOpThreads is ignored.
      const opts = sessionOptions(undefined, providers);
      if (source instanceof Uint8Array || source instanceof ArrayBuffer) {
        const label = sessionOpts.label ?? 'model';
        const session = await createSession(ort, bytesOf(source), opts, `"${label}" (from ${source.byteLength} bytes)`);
        return wrapSession(ort, session, label, backend);
      }
      // Fetch ourselves so a missing model is FILE_NOT_FOUND rather than an opaque runtime error.
      const href = toHref(source, 'model source');
      const bytes = await fetchBytes(href, 'model');
      const label = sessionOpts.label ?? (href.split('/').pop() || href);
      const session = await createSession(ort, bytes, opts, `"${href}"`);
      return wrapSession(ort, session, label, backend);
    },
    readBytes(source: string | URL) {
      return fetchBytes(toHref(source, 'readBytes source'), 'file');
    },
  };
  return backend;
}
