import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/backends/node.js';
import { fromOrtTensor, prefersBatchedPrompts, readValueInfos, toOrtTensor } from '../../src/backends/ort-shared.js';
import { isSalipError } from '../../src/core/errors.js';

describe('ort-shared tensor conversion', () => {
  it('keeps the data array of supported types (no copy) both ways', () => {
    const data = Float32Array.from([1, 2, 3, 4]);
    const t = toOrtTensor(ort, 'x', { type: 'float32', dims: [2, 2], data });
    expect(t.data).toBe(data);
    const back = fromOrtTensor('m', 'x', t);
    expect(back).toEqual({ type: 'float32', dims: [2, 2], data });
    expect(back.data).toBe(data);
  });

  it('widens float64 to float32 and small integer types to int32', () => {
    const f64 = fromOrtTensor('m', 'd', new ort.Tensor('float64', Float64Array.from([0.5, -2]), [2]));
    expect(f64.type).toBe('float32');
    expect(Array.from(f64.data as Float32Array)).toEqual([0.5, -2]);
    const i8 = fromOrtTensor('m', 'i', new ort.Tensor('int8', Int8Array.from([-3, 7]), [1, 2]));
    expect(i8).toEqual({ type: 'int32', dims: [1, 2], data: Int32Array.from([-3, 7]) });
  });

  it('refuses string outputs as MODEL_RUN_FAILED naming model and output', () => {
    let error: unknown;
    try {
      fromOrtTensor('tok', 'words', new ort.Tensor('string', ['a'], [1]));
    } catch (e) {
      error = e;
    }
    expect(isSalipError(error, 'MODEL_RUN_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/tok.*words.*string/);
  });

  it('refuses data whose length does not match the dims', () => {
    expect(() => toOrtTensor(ort, 'x', { type: 'float32', dims: [3, 2], data: new Float32Array(5) })).toThrow(/feed "x".*\(6\)/);
    expect(() => toOrtTensor(ort, 'x', { type: 'float32', dims: [-1], data: new Float32Array(1) })).toThrow(/feed "x"/);
  });

  it('reads metadata by name and marks non-tensor or unknown element types', () => {
    const infos = readValueInfos(
      ['a', 'b', 'c'],
      [
        { name: 'a', isTensor: true, type: 'float32', shape: ['n', 3] },
        { name: 'b', isTensor: true, type: 'string', shape: [1] },
        { name: 'c', isTensor: false },
      ],
    );
    expect(infos).toEqual([
      { name: 'a', type: 'float32', dims: ['n', 3] },
      { name: 'b', type: 'unknown', dims: [1] },
      { name: 'c', type: 'unknown' },
    ]);
  });
});

describe('prefersBatchedPrompts', () => {
  it('is true when a GPU provider comes first, so createSalip batches prompts there and not on CPU', () => {
    expect(prefersBatchedPrompts(['webgpu', 'wasm'])).toBe(true);
    expect(prefersBatchedPrompts(['CUDA', 'cpu'])).toBe(true);
    expect(prefersBatchedPrompts(['wasm', 'webgpu'])).toBe(false);
    expect(prefersBatchedPrompts(['cpu'])).toBe(false);
    expect(prefersBatchedPrompts(undefined)).toBe(false);
    expect(prefersBatchedPrompts([])).toBe(false);
    expect(nodeBackend().batchedPrompts).toBe(false);
    expect(nodeBackend({ executionProviders: ['cuda', 'cpu'] }).batchedPrompts).toBe(true);
  });
});
