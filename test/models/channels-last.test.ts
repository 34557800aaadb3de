/**
 * carryChannelsLast on small built graphs run by ONNX Runtime: SAM's output upscaling in
 * miniature (ConvTranspose k = s = 2, LayerNorm2d and GELU spelled out, a second ConvTranspose,
 * the mask product through a Shape-computed flatten) gives the original's outputs within float
 * rounding, for batch 1 and 2 and non-square grids, also after int8 quantization of its MatMuls;
 * ConvTransposes that are not a per-pixel map, and consumers the rewrite does not know, keep
 * their values; a graph without the pattern comes back unchanged.
 */
import { describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/backends/node.js';
import { carryChannelsLast } from '../../src/models/graph/channels-last.js';
import { decodeOnnx } from '../../src/models/graph/onnx.js';
import { quantizeModel } from '../../src/models/graph/quantize.js';
import { buildModel, type InitSpec, type ModelSpec, type NodeSpec } from '../helpers/onnx-builder.js';

const backend = nodeBackend({ modelCacheDir: false });
const wave = (n: number, seed: number, amp = 0.5) => Array.from({ length: n }, (_, i) => Math.sin(i * 0.713 + seed) * amp + Math.cos(i * 0.1 * seed) * 0.1);
const scalar = (name: string, value: number): InitSpec => ({ name, type: 'float32', dims: [], values: [value] });
const ints = (name: string, values: number[], dims = [values.length]): InitSpec => ({ name, type: 'int64', dims, values });

/** LayerNorm2d as segment-anything's export spells it, x -> out, over the channels of NCHW. */
function layerNorm2d(x: string, out: string, channels: number, p: string): { nodes: NodeSpec[]; inits: InitSpec[] } {
  return {
    inits: [
      { name: `${p}w`, type: 'float32', dims: [channels, 1, 1], values: wave(channels, 3, 1).map((v) => v + 1) },
      { name: `${p}b`, type: 'float32', dims: [channels, 1, 1], values: wave(channels, 4) },
      scalar(`${p}two`, 2),
      scalar(`${p}eps`, 1e-6),
    ],
    nodes: [
      { op: 'ReduceMean', inputs: [x], outputs: [`${p}u`], attrs: { axes: [1], keepdims: 1 } },
      { op: 'Sub', inputs: [x, `${p}u`], outputs: [`${p}d`] },
      { op: 'Pow', inputs: [`${p}d`, `${p}two`], outputs: [`${p}p`] },
      { op: 'ReduceMean', inputs: [`${p}p`], outputs: [`${p}s`], attrs: { axes: [1], keepdims: 1 } },
      { op: 'Add', inputs: [`${p}s`, `${p}eps`], outputs: [`${p}e`] },
      { op: 'Sqrt', inputs: [`${p}e`], outputs: [`${p}r`] },
      { op: 'Div', inputs: [`${p}d`, `${p}r`], outputs: [`${p}n`] },
      { op: 'Mul', inputs: [`${p}w`, `${p}n`], outputs: [`${p}m`] },
      { op: 'Add', inputs: [`${p}m`, `${p}b`], outputs: [out] },
    ],
  };
}

/** GELU as the export spells it: x * 0.5 * (1 + erf(x / sqrt 2)). */
function gelu(x: string, out: string, p: string): { nodes: NodeSpec[]; inits: InitSpec[] } {
  return {
    inits: [scalar(`${p}sqrt2`, Math.SQRT2), scalar(`${p}one`, 1), scalar(`${p}half`, 0.5)],
    nodes: [
      { op: 'Div', inputs: [x, `${p}sqrt2`], outputs: [`${p}q`] },
      { op: 'Erf', inputs: [`${p}q`], outputs: [`${p}erf`] },
      { op: 'Add', inputs: [`${p}erf`, `${p}one`], outputs: [`${p}a`] },
      { op: 'Mul', inputs: [x, `${p}a`], outputs: [`${p}m`] },
      { op: 'Mul', inputs: [`${p}m`, `${p}half`], outputs: [out] },
    ],
  };
}

const convT = (x: string, out: string, w: string, b: string | undefined, k: number, extra: NodeSpec['attrs'] = {}): NodeSpec => ({
  op: 'ConvTranspose',
  inputs: b ? [x, w, b] : [x, w],
  outputs: [out],
  attrs: { kernel_shape: [k, k], strides: [k, k], pads: [0, 0, 0, 0], dilations: [1, 1], group: 1, ...extra },
});

/** The shape computation of `reshape(t, [b, c, h * w])` as torch.onnx exports it. */
function flattenShape(t: string, out: string, p: string): { nodes: NodeSpec[]; inits: InitSpec[] } {
  const dim = (k: number): NodeSpec[] => [
    { op: 'Shape', inputs: [t], outputs: [`${p}shape${k}`] },
    { op: 'Gather', inputs: [`${p}shape${k}`, `${p}i${k}`], outputs: [`${p}d${k}`], attrs: { axis: 0 } },
  ];
  return {
    inits: [0, 1, 2, 3].map((k) => ints(`${p}i${k}`, [k], [])).concat([ints(`${p}axes`, [0])]),
    nodes: [
      ...[0, 1, 2, 3].flatMap(dim),
      { op: 'Mul', inputs: [`${p}d2`, `${p}d3`], outputs: [`${p}hw`] },
      { op: 'Unsqueeze', inputs: [`${p}d0`, `${p}axes`], outputs: [`${p}u0`] },
      { op: 'Unsqueeze', inputs: [`${p}d1`, `${p}axes`], outputs: [`${p}u1`] },
      { op: 'Unsqueeze', inputs: [`${p}hw`, `${p}axes`], outputs: [`${p}u2`] },
      { op: 'Concat', inputs: [`${p}u0`, `${p}u1`, `${p}u2`], outputs: [out], attrs: { axis: 0 } },
    ],
  };
}

const CIN = 8;
const C1 = 6;
const C2 = 4;
const MASKS = 3;

/** x [N, 8, H, W] -> ConvT -> LayerNorm2d -> GELU -> ConvT -> GELU -> masks = hyper [N, 3, 4] @ flatten -> [N, 3, 4H, 4W]; plus the Shape-read size. */
function upscalingModel(): Uint8Array {
  const ln = layerNorm2d('up1', 'ln', C1, 'ln_');
  const g1 = gelu('ln', 'g1', 'g1_');
  const g2 = gelu('up2', 'g2', 'g2_');
  const flat = flattenShape('g2', 'flat_shape', 'f_');
  const spec: ModelSpec = {
    inputs: [
      { name: 'x', type: 'float32', dims: ['n', CIN, 'h', 'w'] },
      { name: 'hyper', type: 'float32', dims: ['n', MASKS, C2] },
    ],
    outputs: [
      { name: 'masks', type: 'float32', dims: ['n', MASKS, 'h4', 'w4'] },
      { name: 'size', type: 'int64', dims: [4] },
    ],
    initializers: [
      { name: 'w1', type: 'float32', dims: [CIN, C1, 2, 2], values: wave(CIN * C1 * 4, 1) },
      { name: 'b1', type: 'float32', dims: [C1], values: wave(C1, 2) },
      { name: 'w2', type: 'float32', dims: [C1, C2, 2, 2], values: wave(C1 * C2 * 4, 5) },
      { name: 'b2', type: 'float32', dims: [C2], values: wave(C2, 6) },
      ints('minus1', [-1]),
      ...ln.inits,
      ...g1.inits,
      ...g2.inits,
      ...flat.inits,
    ],
    nodes: [
      convT('x', 'up1', 'w1', 'b1', 2),
      ...ln.nodes,
      ...g1.nodes,
      convT('g1', 'up2', 'w2', 'b2', 2),
      ...g2.nodes,
      { op: 'Shape', inputs: ['g2'], outputs: ['size'] },
      ...flat.nodes,
      { op: 'Reshape', inputs: ['g2', 'flat_shape'], outputs: ['flat'] },
      { op: 'MatMul', inputs: ['hyper', 'flat'], outputs: ['product'] },
      // [N, M, 4H * 4W] -> [N, M, 4H, 4W] from the upscaled tensor's own shape.
      { op: 'Slice', inputs: ['size', 'f_i2_1d', 'f_i4_1d'], outputs: ['hw4'] },
      { op: 'Slice', inputs: ['size', 'f_i0_1d', 'f_i1_1d'], outputs: ['n1'] },
      { op: 'Concat', inputs: ['n1', 'minus1', 'hw4'], outputs: ['mask_shape'], attrs: { axis: 0 } },
      { op: 'Reshape', inputs: ['product', 'mask_shape'], outputs: ['masks'] },
    ],
  };
  spec.initializers!.push(ints('f_i0_1d', [0]), ints('f_i1_1d', [1]), ints('f_i2_1d', [2]), ints('f_i4_1d', [4]));
  return buildModel(spec);
}

type Feeds = Record<string, { dims: number[]; data: Float32Array }>;

async function run(bytes: Uint8Array, feeds: Feeds): Promise<Record<string, { dims: readonly number[]; data: ArrayLike<number | bigint> }>> {
  const session = await backend.loadModel(bytes, { label: 'test' });
  try {
    const input = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, { type: 'float32' as const, ...v }]));
    return await session.run(input);
  } finally {
    await session.dispose();
  }
}

function feedsFor(n: number, h: number, w: number): Feeds {
  return {
    x: { dims: [n, CIN, h, w], data: Float32Array.from(wave(n * CIN * h * w, 7, 2)) },
    hyper: { dims: [n, MASKS, C2], data: Float32Array.from(wave(n * MASKS * C2, 8, 1)) },
  };
}

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

const opsOf = (bytes: Uint8Array) => decodeOnnx(bytes, 'test').graph!.node!.map((n) => n.opType);

describe('carryChannelsLast', () => {
  const model = upscalingModel();

  it('computes SAM-style upscaling as MatMuls channels-last, one pixel shuffle at the end, with the same outputs', async () => {
    const report = carryChannelsLast(model);
    expect(report.rewritten).toEqual(['ConvTranspose_0', `ConvTranspose_${1 + 9 + 5}`]);
    expect(report.kept).toEqual([]);
    const ops = opsOf(report.bytes);
    expect(ops).not.toContain('ConvTranspose');
    // Nothing of the big tensor is transposed back: only the masks go through DepthToSpace.
    expect(ops.filter((op) => op === 'DepthToSpace')).toHaveLength(2);
    expect(ops.filter((op) => op === 'ReduceMean')).toHaveLength(2);
    for (const [n, h, w] of [
      [1, 3, 5],
      [2, 4, 2],
    ]) {
      const feeds = feedsFor(n, h, w);
      const [a, b] = [await run(model, feeds), await run(report.bytes, feeds)];
      expect(b.masks.dims).toEqual([n, MASKS, 4 * h, 4 * w]);
      expect(maxDifference(a.masks.data as Float32Array, b.masks.data as Float32Array)).toBeLessThan(1e-5);
      expect(Array.from(b.size.data as BigInt64Array, Number)).toEqual([n, C2, 4 * h, 4 * w]);
    }
  });

  it('leaves MatMuls that quantizeModel turns into int8', async () => {
    const report = quantizeModel(carryChannelsLast(model).bytes, { minWeightElements: 1 });
    expect(report.quantized.filter((name) => name.startsWith('salip_cl'))).toHaveLength(2);
    const feeds = feedsFor(1, 3, 5);
    const [a, b] = [await run(model, feeds), await run(report.bytes, feeds)];
    const scale = Math.max(...Array.from(a.masks.data as Float32Array, Math.abs));
    expect(maxDifference(a.masks.data as Float32Array, b.masks.data as Float32Array)).toBeLessThan(0.05 * scale);
  });

  it('brings the layout back where a consumer needs NCHW: a graph output, a Conv, a Reshape it does not know', async () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', type: 'float32', dims: [1, CIN, 3, 4] }],
      outputs: [
        { name: 'up', type: 'float32', dims: [1, C1, 6, 8] },
        { name: 'conv', type: 'float32', dims: [1, 2, 6, 8] },
        { name: 'rows', type: 'float32', dims: [1, C1 * 6, 8] },
      ],
      initializers: [
        { name: 'w1', type: 'float32', dims: [CIN, C1, 2, 2], values: wave(CIN * C1 * 4, 1) },
        { name: 'wc', type: 'float32', dims: [2, C1, 1, 1], values: wave(2 * C1, 9) },
        ints('rows_shape', [1, C1 * 6, 8]),
        scalar('half', 0.5),
      ],
      nodes: [
        convT('x', 'up', 'w1', undefined, 2),
        { op: 'Mul', inputs: ['up', 'half'], outputs: ['scaled'] },
        { op: 'Conv', inputs: ['scaled', 'wc'], outputs: ['conv'] },
        { op: 'Reshape', inputs: ['scaled', 'rows_shape'], outputs: ['rows'] },
      ],
    };
    const bytes = buildModel(spec);
    const report = carryChannelsLast(bytes);
    expect(report.rewritten).toEqual(['ConvTranspose_0']);
    const feeds = { x: { dims: [1, CIN, 3, 4], data: Float32Array.from(wave(CIN * 12, 3, 2)) } };
    const [a, b] = [await run(bytes, feeds), await run(report.bytes, feeds)];
    for (const name of ['up', 'conv', 'rows']) {
      expect(b[name].dims).toEqual(a[name].dims);
      expect(maxDifference(a[name].data as Float32Array, b[name].data as Float32Array), name).toBeLessThan(1e-5);
    }
  });

  it('reads tokens put back to NCHW as the pixels, checked at run time (then the same outputs, else the original way)', async () => {
    // x = Reshape(Transpose(tokens, [0, 2, 1]), Shape(src)) -> ConvTranspose, as SAM's upscaling starts.
    const dims = flattenShape('src', 'unused', 's_').nodes.slice(0, 8);
    const spec = (cin: number): Uint8Array =>
      buildModel({
        inputs: [
          { name: 'tokens', type: 'float32', dims: ['n', 'hw', 'c'] },
          { name: 'src', type: 'float32', dims: ['a', 'b', 'h', 'w'] },
        ],
        outputs: [{ name: 'y', type: 'float32', dims: ['a', C1, 'h2', 'w2'] }],
        initializers: [
          { name: 'w1', type: 'float32', dims: [cin, C1, 2, 2], values: wave(cin * C1 * 4, 1) },
          { name: 'b1', type: 'float32', dims: [C1], values: wave(C1, 2) },
          ...[0, 1, 2, 3].map((k) => ints(`s_i${k}`, [k], [])),
          ints('s_axes', [0]),
        ],
        nodes: [
          ...dims,
          ...[0, 1, 2, 3].map((k): NodeSpec => ({ op: 'Unsqueeze', inputs: [`s_d${k}`, 's_axes'], outputs: [`s_u${k}`] })),
          { op: 'Concat', inputs: ['s_u0', 's_u1', 's_u2', 's_u3'], outputs: ['target'], attrs: { axis: 0 } },
          { op: 'Transpose', inputs: ['tokens'], outputs: ['channels_first'], attrs: { perm: [0, 2, 1] } },
          { op: 'Reshape', inputs: ['channels_first', 'target'], outputs: ['x'] },
          convT('x', 'y', 'w1', 'b1', 2),
        ],
      });
    const cases: Array<{ cin: number; tokens: number[]; src: number[] }> = [
      { cin: 3, tokens: [2, 6, 3], src: [2, 3, 2, 3] }, // a = N, b = C: the tokens are the pixels
      { cin: 6, tokens: [2, 4, 3], src: [1, 6, 2, 2] }, // same element count, other layout: the original way
    ];
    for (const { cin, tokens, src } of cases) {
      const bytes = spec(cin);
      const report = carryChannelsLast(bytes);
      const ops = opsOf(report.bytes);
      expect(ops).toContain('If');
      expect(ops.filter((op) => op === 'Transpose')).toHaveLength(1); // the exit's; the tokens' own is gone
      const count = (d: number[]) => d.reduce((a, b) => a * b, 1);
      const feeds = { tokens: { dims: tokens, data: Float32Array.from(wave(count(tokens), 4, 2)) }, src: { dims: src, data: new Float32Array(count(src)) } };
      const [a, b] = [await run(bytes, feeds), await run(report.bytes, feeds)];
      expect(b.y.dims).toEqual(a.y.dims);
      expect(maxDifference(a.y.data as Float32Array, b.y.data as Float32Array)).toBeLessThan(1e-5);
    }
    const q = quantizeModel(carryChannelsLast(spec(3)).bytes, { minWeightElements: 1 });
    expect(q.quantized.filter((name) => name.startsWith('salip_cl'))).toHaveLength(1);
    await run(q.bytes, { tokens: { dims: [1, 4, 3], data: new Float32Array(12) }, src: { dims: [1, 3, 2, 2], data: new Float32Array(12) } });
  });

  it('keeps ConvTransposes that are not one linear map per pixel, saying why, and a graph without one unchanged', () => {
    const single = (attrs: NodeSpec['attrs'], k = 2): Uint8Array =>
      buildModel({
        inputs: [{ name: 'x', type: 'float32', dims: [1, CIN, 3, 3] }],
        outputs: [{ name: 'y', type: 'float32', dims: [1, C1, 'h', 'w'] }],
        initializers: [{ name: 'w', type: 'float32', dims: [CIN, C1, k, k], values: wave(CIN * C1 * k * k, 1) }],
        nodes: [convT('x', 'y', 'w', undefined, k, attrs)],
      });
    const reasons = [single({ strides: [1, 1] }), single({ pads: [1, 1, 1, 1] }, 3), single({ dilations: [2, 2] }), single({ output_padding: [1, 1] })].map(
      (bytes) => carryChannelsLast(bytes).kept[0]?.reason,
    );
    expect(reasons).toEqual(['strides 1x1 differ from the kernel 2x2 (blocks would overlap or leave gaps)', 'padding', 'dilation', 'padding']);
    const untouched = single({ strides: [1, 1] });
    expect(carryChannelsLast(untouched).bytes).toBe(untouched);
    const noConv = buildModel({
      inputs: [{ name: 'x', type: 'float32', dims: [2] }],
      outputs: [{ name: 'y', type: 'float32', dims: [2] }],
      nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
    });
    expect(carryChannelsLast(noConv)).toEqual({ bytes: noConv, rewritten: [], kept: [], carried: 0 });
  });

  it('refuses bytes that are not ONNX by name', () => {
    expect(() => carryChannelsLast(new Uint8Array([1, 2, 3]))).toThrow(/carryChannelsLast/);
  });
});
