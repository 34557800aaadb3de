/**
 * Backend over onnxruntime-web (wasm, optionally WebGPU): models from URLs or bytes; readBytes
 * through fetch.
 */
import * as ort from 'onnxruntime-web';
import { SalipError, describeValue } from '../core/errors.js';
import { bytesOf, createSession, errorText, prefersBatchedPrompts, sessionOptions, wrapSession } from './ort-shared.js';
import { WORKER_DISPATCH, requestReplyWorker } from './script-worker.js';
import type { Backend, ModelSession, ModelSource, ScriptWorker, TensorData } from './types.js';

export interface WebBackendOptions {
  /** Where the ort-wasm*.wasm/.mjs files are served (ort.env.wasm.wasmPaths). */
  wasmPaths?: string | Record<string, string>;
  /** Wasm threads (ort.env.wasm.numThreads); needs cross-origin isolation for more than 1. */
  numThreads?: number;
  /** ORT execution providers in order of preference (default: ['wasm']). */
  executionProviders?: ('wasm' | 'webgpu')[];
  /**
   * Run the wasm runtime in a worker (ort.env.wasm.proxy), so model calls do not block the page;
   * wasm provider only. Like the other wasm settings it is global and fixed once ort starts.
   */
  proxy?: boolean;
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

/**
 * In proxy mode onnxruntime-web transfers the feeds' ArrayBuffers to its worker, which detaches
 * them in the caller (a SAM embedding reused for the next prompt would become empty). Runs then
 * get copies; malformed feeds pass through untouched so the shared validation reports them.
 */
function copyingFeedsInProxyMode(session: ModelSession): ModelSession {
  const run = session.run.bind(session);
  return {
    ...session,
    run(feeds: Record<string, TensorData>, outputNames?: readonly string[]) {
      if (!ort.env.wasm.proxy || feeds === null || typeof feeds !== 'object') return run(feeds, outputNames);
      const copies: Record<string, TensorData> = {};
      for (const [name, tensor] of Object.entries(feeds)) {
        copies[name] = ArrayBuffer.isView(tensor?.data) ? { type: tensor.type, dims: tensor.dims, data: tensor.data.slice() } : tensor;
      }
      return run(copies, outputNames);
    },
  };
}

/** The preamble of a web worker script: `post` and the message listener of a dedicated worker. */
const WEB_WORKER_PREAMBLE = `
const post = (message, transfer) => self.postMessage(message, transfer);
self.onmessage = (event) => __salipDispatch(event.data);
`;

/**
 * Starts a dedicated Worker running `script` from a Blob URL. Throws where workers or blob:
 * URLs are not allowed (a content security policy without worker-src blob:); callers fall back
 * to the calling thread.
 */
export function startWebWorker(script: string): ScriptWorker {
  if (typeof script !== 'string' || script.length === 0) {
    throw new SalipError('INVALID_ARGUMENT', `startWorker: script: expected non-empty JavaScript source, got ${describeValue(script)}`);
  }
  if (typeof Worker === 'undefined' || typeof Blob === 'undefined' || typeof URL.createObjectURL !== 'function') {
    throw new SalipError('WORKER_FAILED', 'startWorker: this environment has no Worker, Blob or URL.createObjectURL');
  }
  const url = URL.createObjectURL(new Blob([WEB_WORKER_PREAMBLE, WORKER_DISPATCH, script], { type: 'text/javascript' }));
  let thread: Worker;
  try {
    thread = new Worker(url);
  } catch (error) {
    URL.revokeObjectURL(url);
    throw error;
  }
  const { worker, receive, fail } = requestReplyWorker({
    post: (message, transfer) => thread.postMessage(message, transfer),
    terminate: () => {
      thread.terminate();
      // Kept until now: some browsers fetch a worker's script after the constructor returns.
      URL.revokeObjectURL(url);
    },
  });
  thread.onmessage = (event) => receive(event.data);
  thread.onerror = (event) => {
    event.preventDefault();
    fail(new Error(event.message || 'the worker script failed to load'));
  };
  return worker;
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
  if (options.proxy !== undefined) ort.env.wasm.proxy = options.proxy;
  const providers = options.executionProviders ?? ['wasm'];

  const backend: Backend = {
    name: 'web',
    // WebGPU first: segment-everything decodes many grid points per run (the batched path).
    batchedPrompts: prefersBatchedPrompts(providers),
    async loadModel(source: ModelSource, sessionOpts = {}) {
      // Thread count is a global wasm setting on the web; per-session intraOpThreads is ignored.
      const opts = sessionOptions(undefined, providers);
      if (source instanceof Uint8Array || source instanceof ArrayBuffer) {
        const label = sessionOpts.label ?? 'model';
        const session = await createSession(ort, bytesOf(source), opts, `"${label}" (from ${source.byteLength} bytes)`);
        return copyingFeedsInProxyMode(wrapSession(ort, session, label, backend));
      }
      // Fetch ourselves so a missing model is FILE_NOT_FOUND rather than an opaque runtime error.
      const href = toHref(source, 'model source');
      const bytes = await fetchBytes(href, 'model');
      const label = sessionOpts.label ?? (href.split('/').pop() || href);
      const session = await createSession(ort, bytes, opts, `"${href}"`);
      return copyingFeedsInProxyMode(wrapSession(ort, session, label, backend));
    },
    startWorker: startWebWorker,
    readBytes(source: string | URL) {
      return fetchBytes(toHref(source, 'readBytes source'), 'file');
    },
  };
  return backend;
}
