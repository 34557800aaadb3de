/**
 * quantizeModel on small built graphs run by ONNX Runtime: MatMul and Gemm (transB, alpha,
 * beta, bias) give the float results within int8 error, shared activations are quantized once,
 * keepFloat, a SAM decoder's token-side products (by default) and small weights stay float, and bad inputs are refused by name. Plus the file cache.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { int8WeightsForCpu, nodeBackend } from '../../src/backends/node.js';
import { runQuantize } from '../../src/cli/commands/quantize.js';
import { defaultCacheDir, derivedModelPath, fileModelCache } from '../../src/backends/model-cache.js';
import { decodeOnnx, encodeOnnx } from '../../src/models/graph/onnx.js';
import { SAM_DECODER_KEEP_FLOAT, quantizeModel, quantizePerColumn } from '../../src/models/graph/quantize.js';
import { quantizeTag, quantizedBytes } from '../../src/models/graph/quantized-source.js';
import { buildModel, type ModelSpec } from '../helpers/onnx-builder.js';

const K = 64;
const N = 96;
const M = 5;
const backend = nodeBackend({ modelCacheDir: false });

function weights(k: number, n: number, seed: number): number[] {
  return Array.from({ length: k * n }, (_, i) => Math.sin(i * 0.37 + seed) * (1 + (i % 7)) * 0.1);
}
const input = Float32Array.from({ length: M * K }, (_, i) => Math.cos(i * 0.11) * 2);

/** y1 = x @ W1, y2 = Gemm(x, W2^T, bias, alpha 0.5, beta 2), both from the same x. */
function twoLayerModel(opset = 17): Uint8Array {
  const spec: ModelSpec = {
    opset,
    inputs: [{ name: 'x', type: 'float32', dims: [M, K] }],
    outputs: [
      { name: 'y1', type: 'float32', dims: [M, N] },
      { name: 'y2', type: 'float32', dims: [M, N] },
    ],
    initializers: [
      { name: 'W1', type: 'float32', dims: [K, N], values: weights(K, N, 1) },
      { name: 'W2', type: 'float32', dims: [N, K], values: weights(N, K, 2) },
      { name: 'b2', type: 'float32', dims: [N], values: Array.from({ length: N }, (_, i) => i * 0.01) },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'W1'], outputs: ['y1'] },
      { op: 'Gemm', inputs: ['x', 'W2', 'b2'], outputs: ['y2'], attrs: { transB: 1, alpha: { float: 0.5 }, beta: { float: 2 } } },
    ],
  };
  return buildModel(spec);
}

async function run(bytes: Uint8Array): Promise<Record<string, Float32Array>> {
  const session = await backend.loadModel(bytes, { label: 'test' });
  try {
    const out = await session.run({ x: { type: 'float32', dims: [M, K], data: input } });
    return { y1: out.y1.data as Float32Array, y2: out.y2.data as Float32Array };
  } finally {
    await session.dispose();
  }
}

/** x @ W with x quantized as DynamicQuantizeLinear does (uint8, per tensor) and W per column. */
function int8Reference(x: Float32Array, w: Float32Array, k: number, n: number, levels = 127): Float32Array {
  const { q, scale } = quantizePerColumn(w, k, n, levels);
  const lo = Math.min(0, ...x);
  const hi = Math.max(0, ...x);
  const step = (hi - lo) / 255;
  const zero = Math.round(-lo / step);
  const xq = x.map((v) => (Math.max(0, Math.min(255, Math.round(v / step) + zero)) - zero) * step);
  const rows = x.length / k;
  const out = new Float32Array(rows * n);
  for (let m = 0; m < rows; m++) {
    for (let c = 0; c < n; c++) {
      let sum = 0;
      for (let i = 0; i < k; i++) sum += xq[m * k + i] * q[i * n + c];
      out[m * n + c] = sum * scale[c];
    }
  }
  return out;
}

function relativeError(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += a[i] ** 2;
  }
  return Math.sqrt(num / den);
}

describe('quantizePerColumn', () => {
  it('scales each column by its own maximum and round-trips within half a step', () => {
    const w = Float32Array.from([1, -100, 0.5, 50, -0.25, 0]);
    const { q, scale } = quantizePerColumn(w, 3, 2);
    expect(Array.from(scale)).toEqual([1 / 127, 100 / 127].map((v) => Math.fround(v)));
    expect(q[0]).toBe(127);
    expect(q[1]).toBe(-127);
    for (let i = 0; i < w.length; i++) expect(Math.abs(q[i] * scale[i % 2] - w[i])).toBeLessThanOrEqual(scale[i % 2] / 2 + 1e-7);
  });

  it('quantizes to 7 bits with levels 63, and refuses other level counts by name', () => {
    const { q, scale } = quantizePerColumn(Float32Array.from([1, -100, 0.5, 50, -0.25, 0]), 3, 2, 63);
    expect(Array.from(scale)).toEqual([1 / 63, 100 / 63].map((v) => Math.fround(v)));
    expect([q[0], q[1]]).toEqual([63, -63]);
    expect(() => quantizePerColumn(new Float32Array(4), 2, 2, 128)).toThrow(/quantizePerColumn: levels: expected an integer from 1 to 127, got 128/);
  });

  it('keeps a zero column finite', () => {
    const { q, scale } = quantizePerColumn(new Float32Array(4), 2, 2);
    expect(Array.from(scale)).toEqual([1, 1]);
    expect(Array.from(q)).toEqual([0, 0, 0, 0]);
  });
});

describe('quantizeModel', () => {
  it('gives the float results within int8 error for MatMul and Gemm (transB, alpha, beta, bias)', async () => {
    const model = twoLayerModel();
    const report = quantizeModel(model);
    expect(report.quantized.sort()).toEqual(['Gemm_1', 'MatMul_0']);
    expect(report.weightBytes.after).toBeLessThan(report.weightBytes.before / 3);
    const [fp, q] = [await run(model), await run(report.bytes)];
    // The runtime computes exactly the int8 arithmetic (uint8 activations, int8 weights)...
    expect(relativeError(int8Reference(input, Float32Array.from(weights(K, N, 1)), K, N), q.y1)).toBeLessThan(1e-5);
    // ...whose error on these cancelling sums is a few per cent of the float result. The Gemm is
    // the case that saturates int8 weights' 16-bit sums on x86 CPUs without VNNI (0.34 there):
    // the default uint8 weights must not, whatever the CPU.
    expect(relativeError(fp.y1, q.y1)).toBeLessThan(0.06);
    expect(relativeError(fp.y2, q.y2)).toBeLessThan(0.06);
    expect(relativeError(fp.y1, q.y1)).toBeGreaterThan(0);
  });

  it('stores weights as uint8 around 128 by default, as int8 on request, and in 7 bits with reduceRange', async () => {
    const model = twoLayerModel();
    const stored = (options: Parameters<typeof quantizeModel>[1]) => {
      const inits = decodeOnnx(quantizeModel(model, options).bytes, 'test').graph!.initializer!;
      const w = inits.find((t) => t.name!.endsWith('w_q'))!;
      const zp = inits.find((t) => t.name!.endsWith('w_zp'))!;
      return { type: w.dataType, values: Array.from(w.dataType === 2 ? new Uint8Array(w.rawData!) : new Int8Array(w.rawData!.buffer, w.rawData!.byteOffset, w.rawData!.length)), zp: { dims: zp.dims!.map(Number), bytes: Array.from(zp.rawData!) } };
    };
    const u8 = stored({});
    const s8 = stored({ weightType: 'int8' });
    expect(u8.type).toBe(2);
    expect(u8.zp).toEqual({ dims: [], bytes: [128] });
    expect(s8.type).toBe(3);
    expect(s8.zp).toEqual({ dims: [N], bytes: new Array(N).fill(0) });
    // The same integers, shifted by the zero point: MatMulInteger gives the same products.
    expect(u8.values).toEqual(s8.values.map((v) => v + 128));
    expect(Math.max(...s8.values.map(Math.abs))).toBe(127);
    const s7 = stored({ weightType: 'int8', reduceRange: true });
    expect(Math.max(...s7.values.map(Math.abs))).toBe(63);
    const u7 = stored({ reduceRange: true });
    expect(Math.min(...u7.values)).toBe(65);
    expect(Math.max(...u7.values)).toBe(191);
    // 7-bit int8 weights cannot saturate a 16-bit pair sum (255 x 63 x 2 < 32767), so they are
    // within int8 error on every CPU too, and computed exactly as the 7-bit reference.
    const [fp, q7] = [await run(model), await run(quantizeModel(model, { weightType: 'int8', reduceRange: true }).bytes)];
    expect(relativeError(int8Reference(input, Float32Array.from(weights(K, N, 1)), K, N, 63), q7.y1)).toBeLessThan(1e-5);
    expect(relativeError(fp.y1, q7.y1)).toBeLessThan(0.1);
    expect(relativeError(fp.y2, q7.y2)).toBeLessThan(0.1);
  });

  it('quantizes an activation read by two layers once, and drops the float weights', () => {
    const graph = decodeOnnx(quantizeModel(twoLayerModel()).bytes, 'test').graph!;
    const ops = graph.node!.map((n) => n.opType);
    expect(ops.filter((op) => op === 'DynamicQuantizeLinear')).toHaveLength(1);
    expect(ops.filter((op) => op === 'MatMulInteger')).toHaveLength(2);
    expect(ops).not.toContain('MatMul');
    const names = graph.initializer!.map((t) => t.name);
    expect(names).not.toContain('W1');
    expect(names).not.toContain('W2');
  });

  it('leaves keepFloat nodes and small weights in float, saying why', () => {
    const kept = quantizeModel(twoLayerModel(), { keepFloat: ['Gemm_1'] });
    expect(kept.quantized).toEqual(['MatMul_0']);
    expect(kept.kept).toEqual([{ name: 'Gemm_1', op: 'Gemm', reason: 'listed in keepFloat' }]);
    const small = quantizeModel(twoLayerModel(), { minWeightElements: K * N + 1 });
    expect(small.quantized).toEqual([]);
    expect(small.kept.map((k) => k.reason)).toEqual([`the weight has ${K * N} elements (< ${K * N + 1})`, `the weight has ${K * N} elements (< ${K * N + 1})`]);
  });

  it("keeps a SAM decoder's token-side products float by default, beside keepFloat, and quantizes them with keepFloatDefaults: false", () => {
    // The two-layer graph with the names of a token-side product (the first token MLP layer) and an image-side one.
    const model = decodeOnnx(twoLayerModel(), 'test');
    const [tokenSide, imageSide] = ['/transformer/layers.0/mlp/lin1/MatMul', '/transformer/layers.0/cross_attn_token_to_image/k_proj/Gemm'];
    model.graph!.node![0].name = tokenSide;
    model.graph!.node![1].name = imageSide;
    const named = encodeOnnx(model);
    expect(SAM_DECODER_KEEP_FLOAT).toContain(tokenSide);
    expect(SAM_DECODER_KEEP_FLOAT).not.toContain(imageSide);
    const byDefault = quantizeModel(named);
    expect(byDefault.quantized).toEqual([imageSide]);
    expect(byDefault.kept).toEqual([{ name: tokenSide, op: 'MatMul', reason: 'SAM decoder token side (SAM_DECODER_KEEP_FLOAT)' }]);
    expect(quantizeModel(named, { keepFloat: [imageSide] }).quantized).toEqual([]);
    expect(quantizeModel(named, { keepFloat: [imageSide] }).kept.map((k) => k.reason)).toEqual(['SAM decoder token side (SAM_DECODER_KEEP_FLOAT)', 'listed in keepFloat']);
    expect(quantizeModel(named, { keepFloatDefaults: false }).quantized).toEqual([tokenSide, imageSide]);
    expect(quantizeModel(named, { keepFloatDefaults: false, keepFloat: [tokenSide] }).quantized).toEqual([imageSide]);
  });

  it('salip quantize keeps the token side float unless --quantize-token-side, and stores int8 weights with --weight-type int8', async () => {
    const model = decodeOnnx(twoLayerModel(), 'test');
    model.graph!.node![0].name = '/transformer/layers.0/mlp/lin1/MatMul';
    const dir = mkdtempSync(join(tmpdir(), 'salip-quant-cli-'));
    try {
      const input = join(dir, 'named.onnx');
      writeFileSync(input, encodeOnnx(model));
      const lines: string[] = [];
      expect(await runQuantize([input, join(dir, 'a.onnx')], {}, (s) => lines.push(s))).toBe(0);
      expect(lines[0]).toMatch(/^quantized 1 nodes .*kept in float: 1$/);
      lines.length = 0;
      expect(await runQuantize([input, join(dir, 'b.onnx')], { quantizeTokenSide: true }, (s) => lines.push(s))).toBe(0);
      expect(lines[0]).toMatch(/^quantized 2 nodes .*kept in float: 0$/);
      expect(await runQuantize([input, join(dir, 'c.onnx')], { weightType: 'int8' }, () => {})).toBe(0);
      const weight = decodeOnnx(new Uint8Array(readFileSync(join(dir, 'c.onnx'))), 'test').graph!.initializer!.find((t) => t.name!.endsWith('w_q'))!;
      expect(weight.dataType).toBe(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses non-ONNX bytes, old opsets and bad options by name', () => {
    expect(() => quantizeModel(new Uint8Array([1, 2, 3]))).toThrow(/DECODE|not a readable ONNX model|no ONNX graph/);
    expect(() => quantizeModel(new Uint8Array())).toThrow(/quantizeModel: expected the non-empty bytes/);
    expect(() => quantizeModel(twoLayerModel(10))).toThrow(/opset 10; DynamicQuantizeLinear needs opset 11/);
    expect(() => quantizeModel(twoLayerModel(), { ops: ['Conv' as never] })).toThrow(/options.ops/);
    expect(() => quantizeModel(twoLayerModel(), { minWeightElements: 0 })).toThrow(/minWeightElements/);
    expect(() => quantizeModel(twoLayerModel(), { keepFloatDefaults: 'no' as never })).toThrow(/options.keepFloatDefaults: expected true or false/);
    expect(() => quantizeModel(twoLayerModel(), { weightType: 'int4' as never })).toThrow(/options.weightType: expected 'uint8' or 'int8', got "int4"/);
    expect(() => quantizeModel(twoLayerModel(), { reduceRange: 1 as never })).toThrow(/options.reduceRange: expected true or false, got 1/);
  });
});

describe('int8 weight format per backend', () => {
  const weightTypeOf = (bytes: Uint8Array) => decodeOnnx(bytes, 'test').graph!.initializer!.find((t) => t.name!.endsWith('w_q'))!.dataType;

  it("stores weights as the backend prefers when the options do not say, as the options say when they do, uint8 without a preference", async () => {
    const model = twoLayerModel();
    const memory = { ...backend, derivedModels: undefined };
    expect(weightTypeOf(await quantizedBytes({ ...memory, int8Weights: 'int8' }, model, {}))).toBe(3);
    expect(weightTypeOf(await quantizedBytes({ ...memory, int8Weights: 'int8' }, model, { weightType: 'uint8' }))).toBe(2);
    expect(weightTypeOf(await quantizedBytes({ ...memory, int8Weights: undefined }, model, {}))).toBe(2);
  });

  it('picks int8 only on x86-64 with a VNNI flag', () => {
    const cpuinfo = (flags: string) => `processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vme sse2 avx2 ${flags}\nbugs\t\t: spectre_v1\n`;
    expect(int8WeightsForCpu(cpuinfo('avx512f avx512_vnni'), 'x64')).toBe('int8');
    expect(int8WeightsForCpu(cpuinfo('avx_vnni'), 'x64')).toBe('int8');
    expect(int8WeightsForCpu(cpuinfo('avx512f avx512bw'), 'x64')).toBe('uint8');
    expect(int8WeightsForCpu(cpuinfo('avx512_vnni'), 'arm64')).toBe('uint8');
    expect(int8WeightsForCpu('', 'x64')).toBe('uint8');
  });

  it("nodeBackend reads this machine's CPU by default, takes a choice, and refuses a bad one by name", () => {
    let cpuinfo = '';
    try {
      cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      // not Linux: the backend falls back to uint8, as int8WeightsForCpu('') does
    }
    expect(nodeBackend({ modelCacheDir: false }).int8Weights).toBe(int8WeightsForCpu(cpuinfo, process.arch));
    expect(nodeBackend({ modelCacheDir: false, int8Weights: 'int8' }).int8Weights).toBe('int8');
    expect(nodeBackend({ modelCacheDir: false, int8Weights: 'uint8' }).int8Weights).toBe('uint8');
    expect(() => nodeBackend({ int8Weights: 'int4' as never })).toThrow(/nodeBackend: options.int8Weights: expected 'uint8', 'int8' or 'auto', got "int4"/);
  });
});

describe('derived model cache', () => {
  const dir = mkdtempSync(join(tmpdir(), 'salip-cache-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('makes a quantized copy once and reads it back the second time', async () => {
    const cache = fileModelCache(dir);
    // No CPU preference: uint8 weights, the tag of the options as given.
    const cached = { ...backend, int8Weights: undefined, derivedModels: cache };
    const model = twoLayerModel();
    const first = await quantizedBytes(cached, model, {});
    expect(readdirSync(join(dir, 'models'))).toEqual([derivedModelPath(dir, model, quantizeTag({})).split('/').pop()]);
    let made = 0;
    const second = await cache.getOrCreate(model, quantizeTag({}), () => {
      made++;
      return new Uint8Array([0]);
    });
    expect(made).toBe(0);
    expect(Buffer.from(second).equals(Buffer.from(first))).toBe(true);
  });

  it('keys by options and quantizer version, and lives under XDG_CACHE_HOME or ~/.cache', () => {
    expect(quantizeTag({})).toMatch(/^int8-v\d+-[0-9a-f]{8}$/);
    expect(quantizeTag({ keepFloat: ['a', 'b'] })).toBe(quantizeTag({ keepFloat: ['b', 'a'] }));
    expect(quantizeTag({ keepFloat: ['a'] })).not.toBe(quantizeTag({}));
    expect(quantizeTag({ keepFloatDefaults: false })).not.toBe(quantizeTag({}));
    expect(quantizeTag({ keepFloatDefaults: true })).toBe(quantizeTag({}));
    expect(quantizeTag({ weightType: 'uint8', reduceRange: false })).toBe(quantizeTag({}));
    expect(quantizeTag({ weightType: 'int8' })).not.toBe(quantizeTag({}));
    expect(quantizeTag({ reduceRange: true })).not.toBe(quantizeTag({}));
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x/cache' })).toBe('/x/cache/salip');
    expect(defaultCacheDir({})).toMatch(/\.cache\/salip$/);
  });
});

describe('salip quantize', () => {
  const dir = mkdtempSync(join(tmpdir(), 'salip-qcli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the int8 copy, lists what stayed float, and refuses to overwrite or to write over its input', async () => {
    const input = join(dir, 'model.onnx');
    const output = join(dir, 'model.int8.onnx');
    writeFileSync(input, twoLayerModel());
    const lines: string[] = [];
    const log = (s: string) => lines.push(s);
    expect(await runQuantize([input, output], { keepFloat: 'Gemm_1' }, log)).toBe(0);
    expect(lines[0]).toMatch(/^quantized 1 nodes \(weights 0\.0 MB -> 0\.0 MB\); kept in float: 1$/);
    expect(lines[1]).toBe('  Gemm Gemm_1: listed in keepFloat');
    const graph = decodeOnnx(new Uint8Array(readFileSync(output)), 'test').graph!;
    expect(graph.node!.map((n) => n.opType)).toContain('MatMulInteger');
    await expect(runQuantize([input, output], {}, log)).rejects.toMatchObject({ code: 'OUTPUT_EXISTS' });
    await expect(runQuantize([input, input], { force: true }, log)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('is the input') });
    expect(await runQuantize([input, output], { force: true }, log)).toBe(0);
  });
});
