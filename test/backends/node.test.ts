import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/backends/node.js';
import type { RunRecord } from '../../src/backends/types.js';
import { isSalipError } from '../../src/core/errors.js';
import { buildModel } from '../helpers/onnx-builder.js';

/** y = x * 2 + b, with a free batch dimension; b is int64 so the dtype of a second input shows. */
function addModel(): Uint8Array {
  return buildModel({
    inputs: [
      { name: 'x', type: 'float32', dims: ['batch', 3] },
      { name: 'k', type: 'int64', dims: [1] },
    ],
    outputs: [
      { name: 'y', type: 'float32', dims: ['batch', 3] },
      { name: 'k_out', type: 'int64', dims: [1] },
    ],
    initializers: [{ name: 'two', type: 'float32', dims: [], values: [2] }],
    nodes: [
      { op: 'Mul', inputs: ['x', 'two'], outputs: ['y'] },
      { op: 'Identity', inputs: ['k'], outputs: ['k_out'] },
    ],
  });
}

/** A model whose Reshape fails at run time for feeds of the wrong size. */
function reshapeModel(): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', type: 'float32', dims: ['n'] }],
    outputs: [{ name: 'y', type: 'float32', dims: [2, 2] }],
    initializers: [{ name: 'shape', type: 'int64', dims: [2], values: [2, 2] }],
    nodes: [{ op: 'Reshape', inputs: ['x', 'shape'], outputs: ['y'] }],
  });
}

const tmp = mkdtempSync(join(tmpdir(), 'salip-node-backend-'));

async function expectCode(promise: Promise<unknown>, code: string, ...fragments: string[]): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isSalipError(error), `expected a SalipError ${code}, got ${String(error)}`).toBe(true);
  const salip = error as Error & { code: string };
  expect(salip.code).toBe(code);
  for (const fragment of fragments) expect(salip.message).toContain(fragment);
  return salip;
}

describe('nodeBackend', () => {
  it('loads from bytes and reports names, dtypes and dims from the metadata', async () => {
    const session = await nodeBackend().loadModel(addModel(), { label: 'adder' });
    expect(session.label).toBe('adder');
    expect(session.inputs).toEqual([
      { name: 'x', type: 'float32', dims: ['batch', 3] },
      { name: 'k', type: 'int64', dims: [1] },
    ]);
    expect(session.outputs).toEqual([
      { name: 'y', type: 'float32', dims: ['batch', 3] },
      { name: 'k_out', type: 'int64', dims: [1] },
    ]);
    await session.dispose();
  });

  it('runs, converting plain tensors both ways, and fetches only the requested outputs', async () => {
    const session = await nodeBackend().loadModel(new Uint8Array(addModel()).buffer);
    const feeds = {
      x: { type: 'float32' as const, dims: [2, 3], data: Float32Array.from([1, 2, 3, -1, 0.5, 10]) },
      k: { type: 'int64' as const, dims: [1], data: BigInt64Array.from([7n]) },
    };
    const all = await session.run(feeds);
    expect(Object.keys(all).sort()).toEqual(['k_out', 'y']);
    expect(all.y.type).toBe('float32');
    expect(all.y.dims).toEqual([2, 3]);
    expect(Array.from(all.y.data as Float32Array)).toEqual([2, 4, 6, -2, 1, 20]);
    expect(all.k_out).toEqual({ type: 'int64', dims: [1], data: BigInt64Array.from([7n]) });
    const onlyY = await session.run(feeds, ['y']);
    expect(Object.keys(onlyY)).toEqual(['y']);
    await session.dispose();
  });

  it('loads from a path and from a file URL, labelling the session with the file name', async () => {
    const path = join(tmp, 'adder.onnx');
    writeFileSync(path, addModel());
    const backend = nodeBackend({ intraOpThreads: 1 });
    const byPath = await backend.loadModel(path);
    expect(byPath.label).toBe('adder.onnx');
    const byUrl = await backend.loadModel(pathToFileURL(path));
    const byUrlString = await backend.loadModel(pathToFileURL(path).href);
    expect(byUrl.inputs.map((i) => i.name)).toEqual(['x', 'k']);
    expect(byUrlString.outputs.map((o) => o.name)).toEqual(['y', 'k_out']);
    await Promise.all([byPath.dispose(), byUrl.dispose(), byUrlString.dispose()]);
  });

  it('reports a missing model file as FILE_NOT_FOUND naming the path', async () => {
    const path = join(tmp, 'nope', 'missing.onnx');
    await expectCode(nodeBackend().loadModel(path), 'FILE_NOT_FOUND', path);
  });

  it('reports truncated and non-ONNX files as MODEL_LOAD_FAILED naming the path and keeping the cause', async () => {
    const bytes = addModel();
    const truncated = join(tmp, 'truncated.onnx');
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const notOnnx = join(tmp, 'text.onnx');
    writeFileSync(notOnnx, 'this is not a protobuf at all, just some text\n'.repeat(20));
    const backend = nodeBackend();
    const e1 = await expectCode(backend.loadModel(truncated), 'MODEL_LOAD_FAILED', truncated);
    expect(e1.cause).toBeInstanceOf(Error);
    expect(e1.message).toContain((e1.cause as Error).message);
    await expectCode(backend.loadModel(notOnnx), 'MODEL_LOAD_FAILED', notOnnx);
    await expectCode(backend.loadModel(bytes.subarray(0, 20), { label: 'half model' }), 'MODEL_LOAD_FAILED', 'half model');
  });

  it('refuses non-file URLs and empty sources as INVALID_ARGUMENT', async () => {
    await expectCode(nodeBackend().loadModel(new URL('https://example.com/m.onnx')), 'INVALID_ARGUMENT', 'https://example.com/m.onnx');
    await expectCode(nodeBackend().loadModel(''), 'INVALID_ARGUMENT', 'model source');
  });

  it('names a missing input, an unknown feed and an unknown output as INVALID_ARGUMENT', async () => {
    const session = await nodeBackend().loadModel(addModel(), { label: 'adder' });
    const x = { type: 'float32' as const, dims: [1, 3], data: new Float32Array(3) };
    const k = { type: 'int64' as const, dims: [1], data: new BigInt64Array(1) };
    await expectCode(session.run({ x }), 'INVALID_ARGUMENT', 'adder', 'input "k" is not fed');
    await expectCode(session.run({ x, k, z: x }), 'INVALID_ARGUMENT', 'feed "z"');
    await expectCode(session.run({ x, k }, ['w']), 'INVALID_ARGUMENT', 'output "w"');
    await expectCode(
      session.run({ x: { type: 'float32', dims: [2, 3], data: new Float32Array(3) }, k }),
      'INVALID_ARGUMENT',
      'feed "x"',
    );
    await session.dispose();
  });

  it('wraps runtime failures as MODEL_RUN_FAILED with the label and the feed shapes', async () => {
    const session = await nodeBackend().loadModel(reshapeModel(), { label: 'reshaper' });
    const ok = await session.run({ x: { type: 'float32', dims: [4], data: Float32Array.from([1, 2, 3, 4]) } });
    expect(ok.y.dims).toEqual([2, 2]);
    const error = await expectCode(
      session.run({ x: { type: 'float32', dims: [3], data: new Float32Array(3) } }),
      'MODEL_RUN_FAILED',
      'reshaper',
      'x float32[3]',
    );
    expect(error.cause).toBeDefined();
    // A feed of the wrong element type is refused by the runtime and wrapped the same way.
    await expectCode(session.run({ x: { type: 'int32', dims: [4], data: new Int32Array(4) } }), 'MODEL_RUN_FAILED', 'x int32[4]');
    await session.dispose();
  });

  it('reports every run to onRun, even when set after loading', async () => {
    const backend = nodeBackend();
    const session = await backend.loadModel(reshapeModel(), { label: 'timed' });
    const records: RunRecord[] = [];
    backend.onRun = (r) => records.push(r);
    const feeds = { x: { type: 'float32' as const, dims: [4], data: new Float32Array(4) } };
    await session.run(feeds);
    await session.run(feeds);
    expect(records.map((r) => r.label)).toEqual(['timed', 'timed']);
    for (const r of records) expect(r.ms).toBeGreaterThanOrEqual(0);
    await session.dispose();
  });

  it('refuses run after dispose with DISPOSED; dispose twice is harmless', async () => {
    const session = await nodeBackend().loadModel(reshapeModel(), { label: 'gone' });
    await session.dispose();
    await session.dispose();
    await expectCode(session.run({ x: { type: 'float32', dims: [4], data: new Float32Array(4) } }), 'DISPOSED', 'gone');
  });

  it('reads bytes from paths and file URLs; a missing file is FILE_NOT_FOUND', async () => {
    const path = join(tmp, 'bytes.bin');
    writeFileSync(path, Uint8Array.from([1, 2, 3]));
    const backend = nodeBackend();
    expect(Array.from(await backend.readBytes(path))).toEqual([1, 2, 3]);
    expect(Array.from(await backend.readBytes(pathToFileURL(path)))).toEqual([1, 2, 3]);
    await expectCode(backend.readBytes(join(tmp, 'absent.bin')), 'FILE_NOT_FOUND', 'absent.bin');
    await expectCode(backend.readBytes(tmp), 'FILE_UNREADABLE', tmp);
  });

  it('validates intraOpThreads', async () => {
    await expectCode(nodeBackend({ intraOpThreads: -1 }).loadModel(addModel()), 'INVALID_ARGUMENT', 'intraOpThreads');
  });
});
