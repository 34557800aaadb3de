/**
 * Backend over onnxruntime-node: models from file paths, file URLs or bytes; readBytes from
 * the file system.
 */
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { SalipError, describeValue } from '../core/errors.js';
import { bytesOf, createSession, errorText, prefersBatchedPrompts, sessionOptions, wrapSession } from './ort-shared.js';
import { fileModelCache } from './model-cache.js';
import { WORKER_DISPATCH, requestReplyWorker } from './script-worker.js';
import type { Backend, ModelSource, ScriptWorker } from './types.js';

export interface NodeBackendOptions {
  /** Default intra-op thread count for every session (a session's own option wins). */
  intraOpThreads?: number;
  /** ORT execution providers, e.g. ['cpu'] (default: the runtime's choice). */
  executionProviders?: string[];
  /**
   * Folder for derived models (int8 copies from `quantize: true`), default $XDG_CACHE_HOME/salip
   * or ~/.cache/salip; false: keep them in memory only.
   */
  modelCacheDir?: string | false;
  /**
   * How int8 copies store weights when the quantize options do not say (Backend.int8Weights).
   * Default 'auto': 'int8' on x86 CPUs whose flags in /proc/cpuinfo include avx512_vnni or
   * avx_vnni, where ONNX Runtime's u8s8 kernels are exact and fastest, else 'uint8'.
   */
  int8Weights?: 'uint8' | 'int8' | 'auto';
}

/**
 * The int8 weight format for a CPU, from the text of /proc/cpuinfo and process.arch: 'int8' only
 * on x86-64 with a VNNI flag (AVX512-VNNI or AVX-VNNI: the dot product sums in 32 bits), else
 * 'uint8' (AVX2 alone adds pairs of uint8 x int8 products in 16 bits and saturates; elsewhere we
 * have not measured, and uint8 is exact everywhere).
 */
export function int8WeightsForCpu(cpuinfo: string, arch: string): 'uint8' | 'int8' {
  if (arch !== 'x64') return 'uint8';
  const flags = /^flags\s*:(.*)$/m.exec(cpuinfo)?.[1].split(/\s+/) ?? [];
  return flags.includes('avx512_vnni') || flags.includes('avx_vnni') ? 'int8' : 'uint8';
}

let machineInt8Weights: 'uint8' | 'int8' | undefined;

/**
 * This machine's int8 weight format (uint8 when /proc/cpuinfo cannot be read: not Linux). Read
 * once per process: the CPU does not change, and every nodeBackend() asks.
 */
export function detectInt8Weights(): 'uint8' | 'int8' {
  if (machineInt8Weights === undefined) {
    try {
      machineInt8Weights = int8WeightsForCpu(readFileSync('/proc/cpuinfo', 'utf8'), process.arch);
    } catch {
      machineInt8Weights = 'uint8';
    }
  }
  return machineInt8Weights;
}

/** Turns a path string, file: URL string or file URL into a file-system path. */
function toPath(source: string | URL, what: string): string {
  if (source instanceof URL) {
    if (source.protocol !== 'file:') {
      throw new SalipError('INVALID_ARGUMENT', `${what}: expected a file path or file: URL on Node, got ${source.href}`);
    }
    return fileURLToPath(source);
  }
  if (typeof source !== 'string' || source.length === 0) {
    throw new SalipError('INVALID_ARGUMENT', `${what}: expected a non-empty path, file: URL or bytes, got ${describeValue(source)}`);
  }
  return source.startsWith('file:') ? fileURLToPath(source) : source;
}

function fileError(error: unknown, path: string, what: string): SalipError {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new SalipError('FILE_NOT_FOUND', `${what} "${path}" does not exist`, { cause: error, details: { path } });
  }
  return new SalipError('FILE_UNREADABLE', `${what} "${path}" cannot be read: ${errorText(error)}`, {
    cause: error,
    details: { path },
  });
}

/** Checks that a path names a readable regular file, with salip's file errors. */
async function assertFile(path: string, what: string): Promise<void> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    throw fileError(error, path, what);
  }
  if (!info.isFile()) throw new SalipError('FILE_UNREADABLE', `${what} "${path}" is not a regular file`, { details: { path } });
}

/** The preamble of a Node worker script: `post` and the message listener over worker_threads. */
const NODE_WORKER_PREAMBLE = `
const { parentPort } = require('node:worker_threads');
const post = (message, transfer) => parentPort.postMessage(message, transfer);
parentPort.on('message', (message) => __salipDispatch(message));
`;

/**
 * Starts a worker_threads Worker running `script`. The thread holds the process open only while
 * requests are pending, so a forgotten worker never keeps a CLI or test run from exiting.
 */
export function startNodeWorker(script: string): ScriptWorker {
  if (typeof script !== 'string' || script.length === 0) {
    throw new SalipError('INVALID_ARGUMENT', `startWorker: script: expected non-empty JavaScript source, got ${describeValue(script)}`);
  }
  // No inherited flags: `--input-type=module` (or a loader) in the parent would turn this
  // CommonJS script into a module without `require`.
  const thread = new Worker(`${NODE_WORKER_PREAMBLE}${WORKER_DISPATCH}${script}`, { eval: true, execArgv: [] });
  thread.unref();
  const { worker, receive, fail } = requestReplyWorker({
    post: (message, transfer) => thread.postMessage(message, transfer),
    setBusy: (busy) => (busy ? thread.ref() : thread.unref()),
    terminate: async () => {
      await thread.terminate();
    },
  });
  thread.on('message', receive);
  thread.on('error', fail);
  thread.on('exit', (code) => fail(new Error(`the worker thread exited (code ${code})`)));
  return worker;
}

/** Creates a Backend over onnxruntime-node. */
export function nodeBackend(options: NodeBackendOptions = {}): Backend {
  const int8Weights = options.int8Weights ?? 'auto';
  if (!['uint8', 'int8', 'auto'].includes(int8Weights)) {
    throw new SalipError('INVALID_ARGUMENT', `nodeBackend: options.int8Weights: expected 'uint8', 'int8' or 'auto', got ${describeValue(int8Weights)}`);
  }
  const backend: Backend = {
    name: 'node',
    int8Weights: int8Weights === 'auto' ? detectInt8Weights() : int8Weights,
    batchedPrompts: prefersBatchedPrompts(options.executionProviders),
    derivedModels: options.modelCacheDir === false ? undefined : fileModelCache(options.modelCacheDir),
    async loadModel(source: ModelSource, sessionOpts = {}) {
      const opts = sessionOptions(sessionOpts.intraOpThreads ?? options.intraOpThreads, options.executionProviders);
      if (source instanceof Uint8Array || source instanceof ArrayBuffer) {
        const label = sessionOpts.label ?? 'model';
        const session = await createSession(ort, bytesOf(source), opts, `"${label}" (from ${source.byteLength} bytes)`);
        return wrapSession(ort, session, label, backend);
      }
      const path = toPath(source, 'model source');
      await assertFile(path, 'model file');
      const label = sessionOpts.label ?? basename(path);
      // Loading by path lets ORT read the file natively (and find external-data files beside it).
      const session = await createSession(ort, path, opts, `"${path}"`);
      return wrapSession(ort, session, label, backend);
    },
    startWorker: startNodeWorker,
    async readBytes(source: string | URL) {
      const path = toPath(source, 'readBytes source');
      try {
        const buffer = await readFile(path);
        return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
      } catch (error) {
        throw fileError(error, path, 'file');
      }
    },
  };
  return backend;
}
