/**
 * Backend.startWorker on Node (worker_threads): request/reply in order, transfers, the script's
 * errors as WORKER_FAILED, termination, and a worker that never keeps the process alive.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { nodeBackend, startNodeWorker } from '../../src/backends/node.js';
import { startWebWorker } from '../../src/backends/web.js';
import { isSalipError } from '../../src/core/errors.js';
import { REPO_ROOT } from '../helpers/data.js';

/** Doubles `values` (transferring the result back), throws on { boom }, echoes anything else. */
const DOUBLER = `
globalThis.__salipWorker = {
  handle(message) {
    if (message.boom) throw new Error('boom: ' + message.boom);
    if (message.values) {
      const out = Float32Array.from(message.values, (v) => 2 * v);
      return { reply: { out, received: message.values.length }, transfer: [out.buffer] };
    }
    return { reply: message };
  },
};`;

async function rejection(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('startNodeWorker', () => {
  it('answers each request with the reply to its own message, in order, and transfers buffers both ways', async () => {
    const worker = nodeBackend().startWorker!(DOUBLER);
    try {
      const inputs = [new Float32Array([1, 2, 3]), new Float32Array([4]), new Float32Array([5, 6])];
      const replies = await Promise.all(inputs.map((values) => worker.request({ values }, [values.buffer])));
      expect(replies.map((r) => Array.from((r as { out: Float32Array }).out))).toEqual([[2, 4, 6], [8], [10, 12]]);
      // Transferred: the sender's buffers are detached.
      expect(inputs.map((v) => v.byteLength)).toEqual([0, 0, 0]);
      expect(await worker.request({ hello: 'there' })).toEqual({ hello: 'there' });
    } finally {
      await worker.terminate();
    }
  });

  it('turns an error thrown by the script into WORKER_FAILED with its message; the worker keeps answering', async () => {
    const worker = startNodeWorker(DOUBLER);
    try {
      const error = await rejection(worker.request({ boom: 'bad input' }));
      expect(isSalipError(error) && error.code).toBe('WORKER_FAILED');
      expect((error as Error).message).toContain('boom: bad input');
      expect(await worker.request({ n: 1 })).toEqual({ n: 1 });
    } finally {
      await worker.terminate();
    }
  });

  it('a script that does not load fails every request with WORKER_FAILED', async () => {
    const worker = startNodeWorker('this is not javascript (');
    const error = await rejection(worker.request({ n: 1 }));
    expect(isSalipError(error) && error.code).toBe('WORKER_FAILED');
    expect(isSalipError(await rejection(worker.request({ n: 2 })))).toBe(true);
    await worker.terminate();
  });

  it('terminate() rejects pending and later requests with DISPOSED', async () => {
    const worker = startNodeWorker(`globalThis.__salipWorker = { handle(m) { const end = Date.now() + 200; while (Date.now() < end); return { reply: m }; } };`);
    const pending = rejection(worker.request({ slow: true }));
    await worker.terminate();
    const error = await pending;
    expect(isSalipError(error) && error.code).toBe('DISPOSED');
    expect(isSalipError(await rejection(worker.request({})))).toBe(true);
  });

  it('rejects an empty script with INVALID_ARGUMENT', () => {
    expect(() => startNodeWorker('')).toThrow(/script/);
  });

  it('a worker keeps the process alive while a request is pending, and not once idle (no terminate needed), whatever the parent’s flags', () => {
    const program = `
      import { startNodeWorker } from './src/backends/node.ts';
      const worker = startNodeWorker(${JSON.stringify(DOUBLER)});
      const reply = await worker.request({ values: [21] });
      console.log('reply', reply.out[0]);
      // No terminate(): the process must still exit by itself. (--input-type=module is not passed on to the worker.)
    `;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(run.error).toBeUndefined();
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('reply 42');
  });
});

describe('startWebWorker outside a browser', () => {
  it('throws WORKER_FAILED where there is no Worker (callers fall back to the calling thread)', () => {
    const hasWorker = typeof (globalThis as { Worker?: unknown }).Worker !== 'undefined';
    if (hasWorker) return;
    let error: unknown;
    try {
      startWebWorker(DOUBLER);
    } catch (e) {
      error = e;
    }
    expect(isSalipError(error) && error.code).toBe('WORKER_FAILED');
  });
});
