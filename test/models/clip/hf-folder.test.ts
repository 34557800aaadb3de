import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../../src/backends/node.js';
import { isSalipError } from '../../../src/core/errors.js';
import { CLIP_MEAN, CLIP_STD, createRgbImage } from '../../../src/core/image.js';
import { createClipModel } from '../../../src/models/clip/clip.js';
import { parseHfClipConfig, parsePreprocessorConfig } from '../../../src/models/clip/hf-folder.js';
import { loadTokenizerJson } from '../../../src/models/clip/tokenizer.js';
import { fakeTextTower, fakeVisionTower } from '../../helpers/clip-fake-models.js';
import { REPO_ROOT } from '../../helpers/data.js';
import { ReferenceClipBpe } from '../../helpers/reference-clip-bpe.js';

/** The real companion files of openai/clip-vit-base-patch32 (../shared/models, as CI lays it out). */
const CLIP_FILES = process.env.SALIP_CLIP_FILES_DIR ?? resolve(REPO_ROOT, '..', 'shared', 'models', 'clip-vit-base-patch32');
const read = (name: string): string => readFileSync(join(CLIP_FILES, name), 'utf8');

let tokenizerJson: { model: { vocab: Record<string, number>; merges: Array<[string, string]> } };
let reference: ReferenceClipBpe;

beforeAll(() => {
  tokenizerJson = JSON.parse(read('tokenizer.json'));
  reference = new ReferenceClipBpe(tokenizerJson.model.vocab, tokenizerJson.model.merges);
});

describe("the real tokenizer.json of openai/clip-vit-base-patch32", () => {
  it('encodes "a photo of a cat" to 49406 320 1125 539 320 2368 49407, padded with 49407', () => {
    const tokenizer = loadTokenizerJson(tokenizerJson, { contextLength: 77, padId: 49407 });
    const row = Array.from(tokenizer.encode(['a photo of a cat']).ids);
    expect(row.slice(0, 7)).toEqual([49406, 320, 1125, 539, 320, 2368, 49407]);
    expect(row.slice(7)).toEqual(new Array(70).fill(49407));
    // The independent reference agrees on the sentence the numbers above come from.
    expect(reference.row('a photo of a cat')).toEqual(row);
  });

  const texts = [
    // Long: more than 75 tokens, so both truncate to 75 and end with 49407.
    'a chest x-ray of the lungs with a clearly visible heart shadow, the ribs, the clavicles and the diaphragm; '.repeat(4),
    // Non-ASCII: accents, German sharp s, Greek, Cyrillic, CJK, emoji, a non-breaking space and numbers.
    'Échographie fœtale: tête du fœtus à 20 semaines, périmètre céphalique normal',
    'Straße über Größe — ß ü ö ä',
    'μικρός εγκέφαλος and мозг in the MRI',
    '胸部X線写真 の 肺 と 心臓',
    'an ultrasound 🙂 of the head\u00a0(fetal) 12.5 mm 3rd trimester!!',
    "it's the patient's lung, isn't it? we'll see; they've done it",
  ];
  for (const text of texts) {
    it(`matches the reference BPE on ${JSON.stringify(text.slice(0, 40))}${text.length > 40 ? '...' : ''}`, () => {
      const tokenizer = loadTokenizerJson(tokenizerJson, { contextLength: 77, padId: 49407 });
      expect(Array.from(tokenizer.encode([text]).ids)).toEqual(reference.row(text));
    });
  }

  it('the long text really is truncated (more than 75 tokens before truncation)', () => {
    expect(reference.tokens(texts[0]).length).toBeGreaterThan(75);
  });
});

describe('preprocessor_config.json and config.json', () => {
  it('reads the real files: shortest edge 224, centre crop 224, bicubic, CLIP mean/std, 1/255; context 77', () => {
    expect(parsePreprocessorConfig(read('preprocessor_config.json'))).toEqual({
      size: 224,
      shortestEdge: 224,
      centerCrop: true,
      kernel: 'bicubic',
      mean: [...CLIP_MEAN],
      std: [...CLIP_STD],
      scale: 1 / 255,
    });
    expect(parseHfClipConfig(read('config.json'))).toEqual({ contextLength: 77, imageSize: 224 });
  });

  it('follows other processors (bilinear, a larger shortest edge, no crop) and refuses what it cannot do', () => {
    const base = JSON.parse(read('preprocessor_config.json'));
    expect(parsePreprocessorConfig({ ...base, resample: 2, size: { shortest_edge: 256 } })).toMatchObject({ kernel: 'bilinear', shortestEdge: 256, size: 224 });
    expect(parsePreprocessorConfig({ ...base, do_center_crop: false, size: { height: 224, width: 224 } })).toMatchObject({ centerCrop: false, size: 224 });
    for (const [change, fragment] of [
      [{ resample: 0 }, 'resample'],
      [{ size: { height: 224, width: 200 } }, 'size'],
      [{ image_mean: [0.5, 0.5] }, 'image_mean'],
      [{ do_center_crop: false }, 'do_center_crop is false'],
    ] as const) {
      expect(() => parsePreprocessorConfig({ ...base, ...change })).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_FORMAT', message: expect.stringContaining(fragment) }));
    }
  });
});

describe("createClipModel({ preset: 'hf', folder }) on a transformers.js folder", () => {
  let dir: string;
  const folderWith = (name: string, preprocessor?: object): string => {
    const folder = join(dir, name);
    mkdirSync(join(folder, 'onnx'), { recursive: true });
    for (const file of ['tokenizer.json', 'config.json', 'tokenizer_config.json', 'special_tokens_map.json']) symlinkSync(join(CLIP_FILES, file), join(folder, file));
    if (preprocessor) writeFileSync(join(folder, 'preprocessor_config.json'), JSON.stringify(preprocessor));
    else symlinkSync(join(CLIP_FILES, 'preprocessor_config.json'), join(folder, 'preprocessor_config.json'));
    writeFileSync(join(folder, 'onnx', 'vision_model.onnx'), fakeVisionTower());
    writeFileSync(join(folder, 'onnx', 'text_model.onnx'), fakeTextTower());
    return folder;
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'salip-clip-folder-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads the towers from onnx/, the tokenizer and the preprocessing from the files', async () => {
    const folder = folderWith('real');
    const model = await createClipModel(nodeBackend({ intraOpThreads: 1 }), { preset: 'hf', folder });
    try {
      expect(model.info.tokenizer).toBe(`tokenizer.json at ${join(folder, 'tokenizer.json')}`);
      expect(model.info.imageProcessingSource).toBe(`preprocessor_config.json at ${join(folder, 'preprocessor_config.json')}`);
      expect(model.info.contextLength).toBe(77);
      expect(Array.from(model.tokenizer.encode(['a photo of a cat']).ids.slice(0, 8))).toEqual([49406, 320, 1125, 539, 320, 2368, 49407, 49407]);
      // The fake text tower maps the real ids of the colour words: the folder's tokenizer is in use.
      const texts = await model.embedTexts(['a red organ', 'a blue organ']);
      expect(texts.data[0]).toBeGreaterThan(0);
      expect(texts.data[texts.dim + 2]).toBeGreaterThan(0);
      const red = createRgbImage(10, 10);
      for (let i = 0; i < 100; i++) red.data[i * 3] = 255;
      const image = await model.embedImages([red]);
      expect(image.data[0]).toBeCloseTo(0.5, 3);
    } finally {
      await model.dispose();
    }
  });

  it("uses the folder's mean/std: a processor with mean 0.5 / std 0.5 shifts the fake tower's output", async () => {
    const base = JSON.parse(read('preprocessor_config.json'));
    const folder = folderWith('half', { ...base, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] });
    const model = await createClipModel(nodeBackend({ intraOpThreads: 1 }), { preset: 'hf', folder });
    try {
      expect(model.info.imageProcessing.mean).toEqual([0.5, 0.5, 0.5]);
      const grey = createRgbImage(8, 8);
      grey.data.fill(255);
      // White normalised with 0.5/0.5 is 1; the fake tower un-normalises with CLIP's statistics: 1 * std + mean - 0.5.
      const e = await model.embedImages([grey]);
      expect(e.data[0]).toBeCloseTo(CLIP_STD[0] + CLIP_MEAN[0] - 0.5, 3);
    } finally {
      await model.dispose();
    }
  });

  it('names a missing companion file, and keeps folders to preset hf', async () => {
    const folder = folderWith('missing');
    rmSync(join(folder, 'tokenizer.json'));
    const error = await createClipModel(nodeBackend(), { preset: 'hf', folder }).catch((e: unknown) => e);
    expect(isSalipError(error) && error.code).toBe('FILE_NOT_FOUND');
    expect((error as Error).message).toContain('expected tokenizer.json');
    const other = await createClipModel(nodeBackend(), { preset: 'openai', folder }).catch((e: unknown) => e);
    expect(isSalipError(other) && other.code).toBe('INVALID_ARGUMENT');
  });
});
