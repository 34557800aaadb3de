/**
 * onnxruntime-web runs in Node too (wasm), so the web adapter's contract is checked here with a
 * local HTTP server; the browser run itself is tested elsewhere.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../src/backends/types.js';
import { webBackend } from '../../src/backends/web.js';
import { expectCode } from '../helpers/recording-backend.js';
import { buildModel } from '../helpers/onnx-builder.js';

function negModel(): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', type: 'float32', dims: ['n'] }],
    outputs: [
      { name: 'y', type: 'float32', dims: ['n'] },
      { name: 'z', type: 'float32', dims: ['n'] },
    ],
    nodes: [
      { op: 'Neg', inputs: ['x'], outputs: ['y'] },
      { op: 'Abs', inputs: ['x'], outputs: ['z'] },
    ],
  });
}

let server: Server;
let base = '';
const files: Record<string, Uint8Array> = {};

beforeAll(async () => {
  files['/neg.onnx'] = negModel();
  files['/broken.onnx'] = negModel().subarray(0, 10);
  server = createServer((req, res) => {
    if (req.url === '/forbidden') {
      res.statusCode = 403;
      res.end();
      return;
    }
    const body = files[req.url ?? ''];
    res.statusCode = body ? 200 : 404;
    res.end(body ? Buffer.from(body) : undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('webBackend (onnxruntime-web wasm, run under Node)', () => {
  const backend = webBackend({ numThreads: 1 });

  it('loads from bytes, exposes metadata and runs with output selection and timing', async () => {
    const session = await backend.loadModel(negModel(), { label: 'neg' });
    expect(session.inputs).toEqual([{ name: 'x', type: 'float32', dims: ['n'] }]);
    expect(session.outputs.map((o) => o.name)).toEqual(['y', 'z']);
    const records: RunRecord[] = [];
    backend.onRun = (r) => records.push(r);
    const out = await session.run({ x: { type: 'float32', dims: [3], data: Float32Array.from([1, -2, 0.5]) } }, ['y']);
    backend.onRun = undefined;
    expect(Object.keys(out)).toEqual(['y']);
    expect(Array.from(out.y.data as Float32Array)).toEqual([-1, 2, -0.5]);
    expect(records.map((r) => r.label)).toEqual(['neg']);
    await session.dispose();
    await expectCode(session.run({ x: { type: 'float32', dims: [1], data: new Float32Array(1) } }), 'DISPOSED', 'neg');
  });

  it('loads from a URL string and a URL object, labelled by the file name', async () => {
    const a = await backend.loadModel(`${base}/neg.onnx`);
    const b = await backend.loadModel(new URL('/neg.onnx', base));
    expect(a.label).toBe('neg.onnx');
    expect(b.outputs.map((o) => o.name)).toEqual(['y', 'z']);
    await Promise.all([a.dispose(), b.dispose()]);
  });

  it('maps HTTP 404 to FILE_NOT_FOUND, other HTTP errors to FILE_UNREADABLE, bad bytes to MODEL_LOAD_FAILED', async () => {
    await expectCode(backend.loadModel(`${base}/missing.onnx`), 'FILE_NOT_FOUND', '/missing.onnx', '404');
    await expectCode(backend.readBytes(`${base}/forbidden`), 'FILE_UNREADABLE', '403');
    await expectCode(backend.loadModel(`${base}/broken.onnx`), 'MODEL_LOAD_FAILED', '/broken.onnx');
  });

  it('names a missing input as INVALID_ARGUMENT', async () => {
    const session = await backend.loadModel(negModel(), { label: 'neg' });
    await expectCode(session.run({}), 'INVALID_ARGUMENT', 'input "x" is not fed');
    await session.dispose();
  });

  it('reads bytes through fetch', async () => {
    expect(await backend.readBytes(`${base}/neg.onnx`)).toEqual(new Uint8Array(files['/neg.onnx']));
  });
});
