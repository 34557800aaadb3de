import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../../src/backends/node.js';
import type { Backend } from '../../../src/backends/types.js';
import { isSalipError, type SalipErrorCode } from '../../../src/core/errors.js';
import { CLIP_MEAN, CLIP_STD, createRgbImage } from '../../../src/core/image.js';
import type { RgbImage } from '../../../src/core/types.js';
import { createClipModel, type ClipConfig, type ClipModel } from '../../../src/models/clip/clip.js';
import {
  WORDPIECE_TOKENIZER_JSON,
  fakeBiomedClipTowers,
  fakeCombinedClip,
  fakeOpenClipTowers,
  fakeTextTower,
  fakeVisionTower,
} from '../../helpers/clip-fake-models.js';

function solid(width: number, height: number, rgb: [number, number, number]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(rgb, i * 3);
  return createRgbImage(width, height, data);
}

/** The fake image tower's output for a solid image (see clip-fake-models.ts): rgb / 255 - 0.5 on axes 0..2. */
function normalisedColour(rgb: [number, number, number], dim = 4): number[] {
  const v = new Array(dim).fill(0);
  for (let c = 0; c < 3; c++) v[c] = rgb[c] / 255 - 0.5;
  return v;
}

function rows(e: { data: Float32Array; count: number; dim: number }): number[][] {
  return Array.from({ length: e.count }, (_, r) => Array.from(e.data.subarray(r * e.dim, (r + 1) * e.dim)));
}

function expectRowsClose(actual: number[][], expected: number[][], digits = 5): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, r) => row.forEach((v, k) => expect(v).toBeCloseTo(expected[r][k], digits)));
}

async function codeOf(promise: Promise<unknown>): Promise<{ code: SalipErrorCode | string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return isSalipError(error) ? { code: error.code, message: error.message } : { code: 'not a SalipError', message: String(error) };
  }
  return { code: 'no error', message: '' };
}

const RED: [number, number, number] = [255, 0, 0];
const GREEN: [number, number, number] = [0, 255, 0];
const BLUE: [number, number, number] = [0, 0, 255];

describe('createClipModel (hf preset, separate towers)', () => {
  let backend: Backend;
  let model: ClipModel;
  const runs: string[] = [];

  beforeAll(async () => {
    backend = nodeBackend();
    backend.onRun = (record) => runs.push(record.label);
    model = await createClipModel(backend, { preset: 'hf', vision: fakeVisionTower(), text: fakeTextTower() });
  });
  afterAll(() => model.dispose());

  it('reads the contract from the sessions', () => {
    expect(model.info).toEqual({
      preset: 'hf',
      dim: 4,
      contextLength: 77,
      imageSize: 224,
      tokenizer: 'clip-bpe (built in)',
      imageBatch: 'free',
      textBatch: 'free',
      tokenType: 'int64',
      combined: false,
      imageProcessing: { size: 224, shortestEdge: 224, centerCrop: true, kernel: 'bicubic', mean: [...CLIP_MEAN], std: [...CLIP_STD], scale: 1 / 255 },
      imageProcessingSource: 'preset hf',
    });
    // HF CLIP exports pad with <|endoftext|>.
    expect(model.tokenizer.padId).toBe(49407);
  });

  it('embeds images with CLIP preprocessing (normalised mean colour, whatever the input size)', async () => {
    const e = await model.embedImages([solid(40, 30, RED), solid(300, 500, GREEN), solid(7, 7, BLUE)]);
    expect(e.count).toBe(3);
    expect(e.dim).toBe(4);
    expectRowsClose(rows(e), [normalisedColour(RED), normalisedColour(GREEN), normalisedColour(BLUE)], 4);
  });

  it('batches: 5 images in batches of 2 give 3 runs and the same rows as one batch', async () => {
    const images = [RED, GREEN, BLUE, RED, GREEN].map((c) => solid(16, 16, c));
    runs.length = 0;
    const batched = await model.embedImages(images, { batchSize: 2 });
    expect(runs).toEqual(['CLIP vision', 'CLIP vision', 'CLIP vision']);
    const whole = await model.embedImages(images);
    expect(Array.from(batched.data)).toEqual(Array.from(whole.data));
    expect(batched.count).toBe(5);
  });

  it('embeds texts through the tokenizer and the attention mask', async () => {
    const e = await model.embedTexts(['a red organ', 'blue', 'a green organ']);
    // "a red organ" = 5 real tokens (start, a, red, organ, end): (e0 + 0.1 e3) / 5.
    // "blue" = 3 real tokens: e2 / 3.
    expectRowsClose(rows(e), [
      [0.2, 0, 0, 0.02],
      [0, 0, 1 / 3, 0],
      [0, 0.2, 0, 0.02],
    ]);
  });

  it('returns an empty result for no inputs', async () => {
    const e = await model.embedTexts([]);
    expect(e).toEqual({ data: new Float32Array(0), count: 0, dim: 4 });
  });

  it('rejects a bad batch size and honours an aborted signal', async () => {
    expect((await codeOf(model.embedImages([solid(4, 4, RED)], { batchSize: 0 }))).code).toBe('INVALID_ARGUMENT');
    const controller = new AbortController();
    controller.abort();
    expect((await codeOf(model.embedTexts(['red'], { signal: controller.signal }))).code).toBe('ABORTED');
  });
});

describe('createClipModel (other families)', () => {
  const backend = nodeBackend();
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'salip-clip-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each(['int32', 'int64'] as const)('openai split graphs with %s tokens: names and dtype read from the session', async (tokenType) => {
    const towers = fakeOpenClipTowers({ tokenType });
    const model = await createClipModel(backend, { preset: 'openai', vision: towers.visual, text: towers.textual });
    try {
      expect(model.info.tokenType).toBe(tokenType);
      expect(model.tokenizer.padId).toBe(0);
      const e = await model.embedTexts(['a red organ']);
      // No attention mask in this graph: mean over all 77 positions.
      expectRowsClose(rows(e), [[1 / 77, 0, 0, 0.1 / 77]]);
      expectRowsClose(rows(await model.embedImages([solid(8, 8, GREEN)])), [normalisedColour(GREEN)], 4);
    } finally {
      await model.dispose();
    }
  });

  it('a graph with its batch fixed to 1 runs one row at a time', async () => {
    const towers = fakeOpenClipTowers({ batch: 1 });
    const model = await createClipModel(backend, { preset: 'openclip', vision: towers.visual, text: towers.textual });
    const runs: string[] = [];
    backend.onRun = (r) => runs.push(r.label);
    try {
      expect(model.info.imageBatch).toBe(1);
      expect(model.info.textBatch).toBe(1);
      const e = await model.embedImages([solid(8, 8, RED), solid(8, 8, BLUE), solid(8, 8, GREEN)], { batchSize: 16 });
      expect(runs.length).toBe(3);
      expectRowsClose(rows(e), [normalisedColour(RED), normalisedColour(BLUE), normalisedColour(GREEN)], 4);
      const t = await model.embedTexts(['red', 'green']);
      expectRowsClose(rows(t), [
        [1 / 77, 0, 0, 0],
        [0, 1 / 77, 0, 0],
      ]);
    } finally {
      backend.onRun = undefined;
      await model.dispose();
    }
  });

  it('biomedclip: WordPiece tokenizer.json with context 256', async () => {
    const towers = fakeBiomedClipTowers();
    const model = await createClipModel(backend, { preset: 'biomedclip', vision: towers.visual, text: towers.textual, tokenizer: WORDPIECE_TOKENIZER_JSON });
    try {
      expect(model.info.contextLength).toBe(256);
      expect(model.tokenizer.padId).toBe(0);
      const e = await model.embedTexts(['A red organ']);
      expectRowsClose(rows(e), [[1 / 256, 0, 0, 0.1 / 256]], 6);
    } finally {
      await model.dispose();
    }
  });

  it('biomedclip finds tokenizer.json beside the text model, or one folder up', async () => {
    const towers = fakeBiomedClipTowers({ attentionMask: true });
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(WORDPIECE_TOKENIZER_JSON));
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'onnx'), { recursive: true });
    await writeFile(join(dir, 'onnx', 'visual.onnx'), towers.visual);
    await writeFile(join(dir, 'onnx', 'textual.onnx'), towers.textual);
    const model = await createClipModel(backend, { preset: 'biomedclip', vision: join(dir, 'onnx', 'visual.onnx'), text: join(dir, 'onnx', 'textual.onnx') });
    try {
      expect(model.info.tokenizer).toBe(`tokenizer.json at ${join(dir, 'onnx')}/../tokenizer.json`);
      // With the attention mask: [CLS] red [SEP] -> e0 / 3.
      expectRowsClose(rows(await model.embedTexts(['red'])), [[1 / 3, 0, 0, 0]]);
    } finally {
      await model.dispose();
    }
  });

  it('biomedclip without a tokenizer.json fails naming what it needs', async () => {
    const towers = fakeBiomedClipTowers();
    const result = await codeOf(createClipModel(backend, { preset: 'biomedclip', vision: towers.visual, text: towers.textual }));
    expect(result.code).toBe('FILE_NOT_FOUND');
    expect(result.message).toMatch(/tokenizer\.json/);
  });

  it('a combined HF graph (both towers in model.onnx) gives the same embeddings as separate towers', async () => {
    const combined = await createClipModel(backend, { preset: 'hf', combined: fakeCombinedClip() });
    const separate = await createClipModel(backend, { preset: 'hf', vision: fakeVisionTower(), text: fakeTextTower() });
    try {
      expect(combined.info.combined).toBe(true);
      const images = [solid(9, 9, RED), solid(9, 9, BLUE)];
      const texts = ['a red organ', 'green', 'a blue organ'];
      expect(Array.from((await combined.embedImages(images)).data)).toEqual(Array.from((await separate.embedImages(images)).data));
      expect(Array.from((await combined.embedTexts(texts)).data)).toEqual(Array.from((await separate.embedTexts(texts)).data));
    } finally {
      await combined.dispose();
      await separate.dispose();
    }
  });

  it('probes the embedding width when the graphs leave it symbolic', async () => {
    const model = await createClipModel(backend, {
      preset: 'hf',
      vision: fakeVisionTower({ symbolicDim: true, dim: 6 }),
      text: fakeTextTower({ symbolicDim: true, dim: 6 }),
    });
    try {
      expect(model.info.dim).toBe(6);
    } finally {
      await model.dispose();
    }
  });
});

describe('createClipModel contract errors', () => {
  const backend = nodeBackend();
  const cases: Array<[string, ClipConfig, SalipErrorCode, RegExp]> = [
    [
      'wrong image input name',
      { preset: 'hf', vision: fakeVisionTower({ inputName: 'images' }), text: fakeTextTower() },
      'MODEL_CONTRACT',
      /CLIP vision: image input: expected input 'pixel_values', found inputs 'images'/,
    ],
    [
      'wrong text input name',
      { preset: 'hf', vision: fakeVisionTower(), text: fakeTextTower({ inputName: 'tokens' }) },
      'MODEL_CONTRACT',
      /CLIP text: token ids input: expected input 'input_ids', found inputs 'tokens'/,
    ],
    [
      'image input of rank 3',
      { preset: 'hf', vision: fakeVisionTower({ rank: 3 }), text: fakeTextTower() },
      'MODEL_CONTRACT',
      /input 'pixel_values' rank: expected rank 4 \[batch, 3, height, width\], found rank 3/,
    ],
    [
      'different embedding widths (from metadata)',
      { preset: 'hf', vision: fakeVisionTower({ dim: 4 }), text: fakeTextTower({ dim: 5 }) },
      'MODEL_CONTRACT',
      /expected the same width in both towers \(image 4\), found text 5/,
    ],
    [
      'different embedding widths (from a probe run)',
      { preset: 'openai', vision: fakeVisionTower({ dim: 4, symbolicDim: true, inputName: 'image' }), text: fakeTextTower({ dim: 5, symbolicDim: true, attentionMaskName: undefined }) },
      'MODEL_CONTRACT',
      /found text 5/,
    ],
    [
      'a context length that contradicts the graph',
      { preset: 'openai', vision: fakeOpenClipTowers().visual, text: fakeOpenClipTowers().textual, contextLength: 64 },
      'MODEL_CONTRACT',
      /sequence length: expected 64 \(config.contextLength\), found 77/,
    ],
    ['an unknown preset', { preset: 'nope' as 'hf', vision: fakeVisionTower(), text: fakeTextTower() }, 'INVALID_ARGUMENT', /preset/],
    ['both combined and split sources', { preset: 'hf', vision: fakeVisionTower(), text: fakeTextTower(), combined: fakeCombinedClip() }, 'INVALID_ARGUMENT', /either/],
  ];
  it.each(cases)('%s', async (_, config, code, message) => {
    const result = await codeOf(createClipModel(backend, config));
    expect(result.code).toBe(code);
    expect(result.message).toMatch(message);
  });

  it('refuses calls after dispose()', async () => {
    const model = await createClipModel(backend, { preset: 'hf', vision: fakeVisionTower(), text: fakeTextTower() });
    await model.dispose();
    expect((await codeOf(model.embedTexts(['red']))).code).toBe('DISPOSED');
    expect((await codeOf(model.embedImages([solid(2, 2, RED)]))).code).toBe('DISPOSED');
  });
});
