import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SAM_PIXEL_MEAN, SAM_PIXEL_STD } from '../../../src/core/image.js';
import type { RgbImage } from '../../../src/core/types.js';
import { createSamModel, type SamConfig } from '../../../src/models/sam/sam.js';
import type { SamImageEmbedding } from '../../../src/pipeline/types.js';
import {
  FAKE_IOU_BASE,
  fakeDecoderWithWrongInput,
  fakeEncoderDeclaring,
  fakeMaskLogits,
  fakeMultiMaskDecoder,
  fakeSamEncoder,
  fakeSingleMaskDecoder,
} from '../../helpers/sam-fake-models.js';
import { expectCode, recordingBackend } from '../../helpers/recording-backend.js';

const ENCODER = fakeSamEncoder();
const SINGLE = fakeSingleMaskDecoder();

function constantImage(width: number, height: number, rgb: [number, number, number]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(rgb, i * 3);
  return { width, height, data };
}

const NORM = [0, 1, 2].map((c) => ([200, 100, 50][c] - SAM_PIXEL_MEAN[c]) / SAM_PIXEL_STD[c]);
/** Mean of the fake embedding of the 64x32 (200,100,50) image: top half channel c%3, bottom half 0. */
const EMB_MEAN = ((86 * NORM[0] + 85 * NORM[1] + 85 * NORM[2]) * 0.5) / 256;

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

async function setup(config: Partial<SamConfig> = {}) {
  const rec = recordingBackend();
  const sam = await createSamModel(rec.backend, { encoder: ENCODER, decoder: SINGLE, ...config });
  rec.runs.length = 0; // forget the load-time trial decode
  return { ...rec, sam };
}

describe('createSamModel on a Meta-style single-mask decoder (auto mode)', () => {
  it('uses the graph edit for multi-mask output and reads the encoder names from the session', async () => {
    const { sam } = await setup();
    expect(sam.info).toMatchObject({
      preset: 'mobilesam',
      supportsMultimask: true,
      supportsPoints: true,
      multimaskSource: 'graph-edit',
      singleMask: 'token',
      inputSize: 1024,
      lowResSize: 256,
      encoderInput: 'input',
      encoderOutput: 'output',
    });
    await sam.dispose();
  });

  it('embeds with longest-side resize, mean/std normalisation and bottom padding', async () => {
    const { sam, runs } = await setup();
    const emb = await sam.embed(constantImage(64, 32, [200, 100, 50]));
    expect(emb.transform).toEqual({
      inputSize: 1024,
      scaleX: 16,
      scaleY: 16,
      resizedWidth: 1024,
      resizedHeight: 512,
      imageWidth: 64,
      imageHeight: 32,
    });
    expect(emb.dims).toEqual([1, 256, 64, 64]);
    const encoderRun = runs.find((r) => r.label === 'SAM encoder')!;
    expect(encoderRun.feeds.input.dims).toEqual([1, 3, 1024, 1024]);
    expect(encoderRun.outputs).toEqual(['output']);
    // Channel c copies normalised channel c % 3 (16x16 block means); rows of blocks >= 32 are padding.
    for (const [c, y, x] of [[0, 0, 0], [1, 31, 63], [2, 10, 5], [5, 3, 3], [255, 31, 0]]) {
      expect(emb.data[c * 4096 + y * 64 + x]).toBeCloseTo(NORM[c % 3], 5);
    }
    for (const [c, y, x] of [[0, 32, 0], [4, 63, 63]]) expect(emb.data[c * 4096 + y * 64 + x]).toBe(0);
    await sam.dispose();
  });

  it('reuses one encoder input buffer across embeds (padding re-zeroed), and a concurrent embed gets its own', async () => {
    const { sam, runs } = await setup();
    const inputs: Float32Array[] = [];
    const snapshots: Float32Array[] = [];
    const record = () => {
      const run = runs[runs.length - 1];
      inputs.push(run.feeds.input.data as Float32Array);
      snapshots.push((run.feeds.input.data as Float32Array).slice());
    };
    const wide = constantImage(64, 32, [200, 100, 50]);
    const tall = constantImage(16, 48, [10, 240, 90]);
    const first = await sam.embed(wide);
    record();
    const second = await sam.embed(tall);
    record();
    expect(inputs[1]).toBe(inputs[0]);
    // What a fresh model feeds for the tall image: the wide image's rows must not show through.
    const fresh = await setup();
    const freshTall = await fresh.sam.embed(tall);
    expect(snapshots[1]).toEqual(fresh.runs[fresh.runs.length - 1].feeds.input.data);
    expect(second.data).toEqual(freshTall.data);
    const [a, b] = await Promise.all([sam.embed(tall), sam.embed(wide)]);
    const encoderRuns = runs.filter((r) => r.label === 'SAM encoder').slice(-2);
    expect(encoderRuns[0].feeds.input.data).not.toBe(encoderRuns[1].feeds.input.data);
    expect(a.data).toEqual(freshTall.data);
    expect(b.data).toEqual(first.data);
    await sam.dispose();
    await fresh.sam.dispose();
  });

  it('scales coordinates per axis by the rounded resized size, as ResizeLongestSide.apply_coords', async () => {
    const { sam, decodes } = await setup();
    const emb = await sam.embed(constantImage(800, 540, [0, 0, 0]));
    expect(emb.transform).toMatchObject({ resizedWidth: 1024, resizedHeight: 691, scaleX: 1.28, scaleY: 691 / 540 });
    await sam.decode(emb, { points: [{ x: 100, y: 270, label: 1 }] }, { multimask: false });
    const coords = decodes()[0].feeds.point_coords.data as Float32Array;
    expect(coords[0]).toBeCloseTo(128, 4);
    expect(coords[1]).toBeCloseTo(345.5, 4);
    expect(Array.from(decodes()[0].feeds.orig_im_size.data as Float32Array)).toEqual([540, 800]);
    await sam.dispose();
  });

  it('decodes a point: padding point, Meta feeds, and masks 1..3 through the edit', async () => {
    const { sam, decodes } = await setup();
    const emb = await sam.embed(constantImage(64, 32, [200, 100, 50]));
    const result = await sam.decode(emb, { points: [{ x: 10, y: 5, label: 1 }] }, { multimask: true });
    const run = decodes()[0];
    expect(run.outputs).toEqual(['salip_all_low_res_masks', 'salip_all_iou_predictions']);
    expect(run.feeds.point_coords.dims).toEqual([1, 2, 2]);
    expect(Array.from(run.feeds.point_coords.data as Float32Array)).toEqual([160, 80, 0, 0]);
    expect(Array.from(run.feeds.point_labels.data as Float32Array)).toEqual([1, -1]);
    expect(run.feeds.mask_input.dims).toEqual([1, 1, 256, 256]);
    expect((run.feeds.mask_input.data as Float32Array).every((v) => v === 0)).toBe(true);
    expect(Array.from(run.feeds.has_mask_input.data as Float32Array)).toEqual([0]);
    expect(Array.from(run.feeds.orig_im_size.data as Float32Array)).toEqual([32, 64]);
    expect(run.feeds.image_embeddings.data).toBe(emb.data);

    expect(result.lowResSize).toBe(256);
    expect(result.lowResLogits).toHaveLength(3);
    result.lowResLogits.forEach((logits, i) => expect(maxAbsDiff(logits, fakeMaskLogits(i + 1, 160, 80))).toBeLessThan(1e-3));
    expect(result.iouPredictions).toHaveLength(3);
    result.iouPredictions.forEach((v, i) => expect(v).toBeCloseTo(FAKE_IOU_BASE[i + 1] + EMB_MEAN, 4));
    await sam.dispose();
  });

  it('single-mask decode returns mask 0, the single-mask token, as SamPredictor(multimask_output=False)', async () => {
    const { sam, decodes } = await setup();
    const emb = await sam.embed(constantImage(64, 32, [200, 100, 50]));
    const one = await sam.decode(emb, { points: [{ x: 10, y: 5, label: 1 }] }, { multimask: false });
    expect(decodes()[0].outputs).toEqual(['salip_all_low_res_masks', 'salip_all_iou_predictions']);
    expect(one.lowResLogits).toHaveLength(1);
    expect(maxAbsDiff(one.lowResLogits[0], fakeMaskLogits(0, 160, 80))).toBeLessThan(1e-3);
    expect(one.iouPredictions[0]).toBeCloseTo(FAKE_IOU_BASE[0] + EMB_MEAN, 4);
    await sam.dispose();
  });

  it("singleMask 'export' fetches only low_res_masks and iou_predictions and returns the export's choice", async () => {
    const { sam, decodes } = await setup({ singleMask: 'export' });
    expect(sam.info.singleMask).toBe('export');
    const emb = await sam.embed(constantImage(64, 32, [200, 100, 50]));
    const one = await sam.decode(emb, { points: [{ x: 10, y: 5, label: 1 }] }, { multimask: false });
    expect(decodes()[0].outputs).toEqual(['low_res_masks', 'iou_predictions']);
    expect(one.lowResLogits).toHaveLength(1);
    // Two points (point + padding): Meta's reweighting excludes mask 0, best IoU is mask 1.
    expect(maxAbsDiff(one.lowResLogits[0], fakeMaskLogits(1, 160, 80))).toBeLessThan(1e-3);
    expect(one.iouPredictions[0]).toBeCloseTo(FAKE_IOU_BASE[1] + EMB_MEAN, 4);
    await sam.dispose();
  });

  it('turns a box into two corner points labelled 2 and 3, without the padding point', async () => {
    const { sam, decodes } = await setup();
    const emb = await sam.embed(constantImage(64, 32, [200, 100, 50]));
    const boxOnly = await sam.decode(emb, { box: [4, 2, 20, 10] }, { multimask: false });
    expect(Array.from(decodes()[0].feeds.point_coords.data as Float32Array)).toEqual([64, 32, 320, 160]);
    expect(Array.from(decodes()[0].feeds.point_labels.data as Float32Array)).toEqual([2, 3]);
    expect(maxAbsDiff(boxOnly.lowResLogits[0], fakeMaskLogits(0, 64, 32))).toBeLessThan(1e-3);
    const withPoint = await sam.decode(emb, { points: [{ x: 10, y: 5, label: 0 }], box: [4, 2, 20, 10] }, { multimask: false });
    expect(Array.from(decodes()[1].feeds.point_coords.data as Float32Array)).toEqual([160, 80, 64, 32, 320, 160]);
    expect(Array.from(decodes()[1].feeds.point_labels.data as Float32Array)).toEqual([0, 2, 3]);
    expect(maxAbsDiff(withPoint.lowResLogits[0], fakeMaskLogits(0, 160, 80))).toBeLessThan(1e-3);
    await sam.dispose();
  });

  it("with singleMask 'export', a lone box gets the export's best of masks 1..3, box + point gets mask 0", async () => {
    const { sam } = await setup({ singleMask: 'export' });
    const emb = await sam.embed(constantImage(64, 32, [200, 100, 50]));
    const boxOnly = await sam.decode(emb, { box: [4, 2, 20, 10] }, { multimask: false });
    expect(maxAbsDiff(boxOnly.lowResLogits[0], fakeMaskLogits(1, 64, 32))).toBeLessThan(1e-3);
    // Three points: the export's reweighting picks mask 0.
    const withPoint = await sam.decode(emb, { points: [{ x: 10, y: 5, label: 0 }], box: [4, 2, 20, 10] }, { multimask: false });
    expect(maxAbsDiff(withPoint.lowResLogits[0], fakeMaskLogits(0, 160, 80))).toBeLessThan(1e-3);
    await sam.dispose();
  });

  it('allocates mask_input and has_mask_input once per model, not per call', async () => {
    const { sam, decodes } = await setup();
    const emb = await sam.embed(constantImage(64, 32, [1, 2, 3]));
    await sam.decode(emb, { points: [{ x: 1, y: 1, label: 1 }] }, { multimask: true });
    await sam.decode(emb, { box: [0, 0, 5, 5] }, { multimask: false });
    const [a, b] = decodes();
    expect(b.feeds.mask_input.data).toBe(a.feeds.mask_input.data);
    expect(b.feeds.has_mask_input.data).toBe(a.feeds.has_mask_input.data);
    await sam.dispose();
  });

  it('feeds a prompt\'s maskInput as mask_input with has_mask_input = 1, and refuses a wrong-sized one by name', async () => {
    const { sam, decodes } = await setup();
    const emb = await sam.embed(constantImage(64, 32, [1, 2, 3]));
    const first = await sam.decode(emb, { box: [0, 0, 5, 5] }, { multimask: false });
    const previous = Float32Array.from(first.lowResLogits[0]);
    await sam.decode(emb, { box: [0, 0, 5, 5], maskInput: previous }, { multimask: false });
    await sam.decode(emb, { box: [0, 0, 5, 5] }, { multimask: false });
    const [plain, withMask, after] = decodes();
    expect(withMask.feeds.mask_input.data).toBe(previous);
    expect(withMask.feeds.mask_input.dims).toEqual(plain.feeds.mask_input.dims);
    expect(Number(withMask.feeds.has_mask_input.data[0])).toBe(1);
    // The shared zero mask is untouched and comes back for prompts without a mask.
    expect(Number(after.feeds.has_mask_input.data[0])).toBe(0);
    expect(after.feeds.mask_input.data).toBe(plain.feeds.mask_input.data);
    expect((plain.feeds.mask_input.data as Float32Array).every((v) => v === 0)).toBe(true);
    await expectCode(sam.decode(emb, { box: [0, 0, 5, 5], maskInput: new Float32Array(10) }, { multimask: false }), 'INVALID_ARGUMENT', 'prompt.maskInput', 'length 10');
    const nan = new Float32Array(previous.length);
    nan[7] = Number.NaN;
    await expectCode(sam.decode(emb, { box: [0, 0, 5, 5], maskInput: nan }, { multimask: false }), 'INVALID_ARGUMENT', 'prompt.maskInput', 'at 7');
    await sam.dispose();
  });

  it('reads a decoder given as a path through backend.readBytes and still edits it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'salip-sam-'));
    writeFileSync(join(dir, 'decoder.onnx'), SINGLE);
    writeFileSync(join(dir, 'encoder.onnx'), ENCODER);
    const rec = recordingBackend();
    const sam = await createSamModel(rec.backend, { encoder: join(dir, 'encoder.onnx'), decoder: join(dir, 'decoder.onnx') });
    expect(sam.info.multimaskSource).toBe('graph-edit');
    await sam.dispose();
  });
});

describe('createSamModel multimask modes', () => {
  it('native 4-mask decoder: masks 1..3 for multimask; single is mask 0 by default', async () => {
    const { sam, decodes } = await setup({ decoder: fakeMultiMaskDecoder() });
    expect(sam.info).toMatchObject({ supportsMultimask: true, multimaskSource: 'native', singleMask: 'token' });
    const emb = await sam.embed(constantImage(64, 32, [200, 100, 50]));
    const multi = await sam.decode(emb, { points: [{ x: 10, y: 5, label: 1 }] }, { multimask: true });
    expect(decodes()[0].outputs).toEqual(['low_res_masks', 'iou_predictions']);
    multi.lowResLogits.forEach((logits, i) => expect(maxAbsDiff(logits, fakeMaskLogits(i + 1, 160, 80))).toBeLessThan(1e-3));
    const single = await sam.decode(emb, { box: [4, 2, 20, 10] }, { multimask: false });
    expect(maxAbsDiff(single.lowResLogits[0], fakeMaskLogits(0, 64, 32))).toBeLessThan(1e-3);
    await sam.dispose();
  });

  it("native 4-mask decoder with singleMask 'export' applies Meta's selection rule", async () => {
    const { sam } = await setup({ decoder: fakeMultiMaskDecoder(), singleMask: 'export' });
    expect(sam.info).toMatchObject({ multimaskSource: 'native', singleMask: 'export' });
    const emb = await sam.embed(constantImage(64, 32, [200, 100, 50]));
    // One point + padding: best IoU among masks 1..3.
    const single = await sam.decode(emb, { points: [{ x: 10, y: 5, label: 1 }] }, { multimask: false });
    expect(maxAbsDiff(single.lowResLogits[0], fakeMaskLogits(1, 160, 80))).toBeLessThan(1e-3);
    const several = await sam.decode(
      emb,
      { points: [{ x: 10, y: 5, label: 1 }, { x: 30, y: 5, label: 1 }, { x: 50, y: 5, label: 0 }] },
      { multimask: false },
    );
    expect(maxAbsDiff(several.lowResLogits[0], fakeMaskLogits(0, 160, 80))).toBeLessThan(1e-3);
    expect(several.iouPredictions[0]).toBeCloseTo(FAKE_IOU_BASE[0] + EMB_MEAN, 4);
    await sam.dispose();
  });

  it('a free mask dimension is resolved by a trial run', async () => {
    const { sam } = await setup({ decoder: fakeMultiMaskDecoder({ maskDim: 'num_masks' }) });
    expect(sam.info).toMatchObject({ supportsMultimask: true, multimaskSource: 'native' });
    expect(sam.info.multimaskNote).toContain('4 masks');
    await sam.dispose();
  });

  it('auto mode falls back to one mask per point when the edit is impossible, and says why', async () => {
    const { sam } = await setup({ decoder: fakeMultiMaskDecoder({ maskDim: 1 }) });
    expect(sam.info).toMatchObject({ supportsMultimask: false, multimaskSource: 'none', singleMask: 'export' });
    expect(sam.info.multimaskNote).toMatch(/graph edit not possible: .*Slice/);
    const emb = await sam.embed(constantImage(64, 32, [200, 100, 50]));
    const one = await sam.decode(emb, { points: [{ x: 10, y: 5, label: 1 }] }, { multimask: false });
    expect(maxAbsDiff(one.lowResLogits[0], fakeMaskLogits(0, 160, 80))).toBeLessThan(1e-3);
    await expectCode(sam.decode(emb, { points: [{ x: 10, y: 5, label: 1 }] }, { multimask: true }), 'INVALID_ARGUMENT', 'multimask: true');
    await sam.dispose();
  });

  it("'off' never offers multi-mask output but still reaches the single-mask token", async () => {
    const { sam, decodes } = await setup({ multimask: 'off' });
    expect(sam.info).toMatchObject({ supportsMultimask: false, multimaskSource: 'none', singleMask: 'token' });
    const emb = await sam.embed(constantImage(64, 32, [200, 100, 50]));
    await expectCode(sam.decode(emb, { box: [4, 2, 20, 10] }, { multimask: true }), 'INVALID_ARGUMENT', "multimask: 'off'");
    const single = await sam.decode(emb, { box: [4, 2, 20, 10] }, { multimask: false });
    expect(maxAbsDiff(single.lowResLogits[0], fakeMaskLogits(0, 64, 32))).toBeLessThan(1e-3);
    expect(decodes()[0].outputs).toEqual(['salip_all_low_res_masks', 'salip_all_iou_predictions']);
    await sam.dispose();
    const plain = await setup({ multimask: 'off', singleMask: 'export' });
    expect(plain.sam.info).toMatchObject({ supportsMultimask: false, singleMask: 'export' });
    await plain.sam.dispose();
  });

  it("'graph-edit' throws when the edit fails; 'native' throws on a single-mask decoder", async () => {
    const rec = recordingBackend();
    await expectCode(
      createSamModel(rec.backend, { encoder: ENCODER, decoder: fakeMultiMaskDecoder({ maskDim: 1 }), multimask: 'graph-edit' }),
      'GRAPH_EDIT_FAILED',
      'Slice',
    );
    await expectCode(
      createSamModel(rec.backend, { encoder: ENCODER, decoder: SINGLE, multimask: 'native' }),
      'MODEL_CONTRACT',
      "multimask: 'native'",
    );
    // Both failures released the sessions they had opened.
    expect(rec.disposed.filter((l) => l === 'SAM encoder')).toHaveLength(2);
    expect(rec.disposed.filter((l) => l === 'SAM decoder')).toHaveLength(1);
  });

  it('refuses an unknown multimask mode, single-mask rule or channels-last setting', async () => {
    await expectCode(setup({ multimask: 'sometimes' as never }), 'INVALID_ARGUMENT', 'SamConfig.multimask');
    await expectCode(setup({ singleMask: 'best' as never }), 'INVALID_ARGUMENT', 'SamConfig.singleMask');
    await expectCode(setup({ channelsLastDecoder: 'yes' as never }), 'INVALID_ARGUMENT', 'SamConfig.channelsLastDecoder');
  });
});

describe('createSamModel contract checks', () => {
  it('names a missing decoder input', async () => {
    await expectCode(setup({ decoder: fakeDecoderWithWrongInput() }), 'MODEL_CONTRACT', 'SAM decoder', 'expected input "point_coords"', '"point_coord"');
  });

  it('names a missing decoder output', async () => {
    await expectCode(
      setup({ decoder: fakeMultiMaskDecoder({ rename: { low_res_masks: 'lowres' } }) }),
      'MODEL_CONTRACT',
      'expected output "low_res_masks"',
      '"lowres"',
    );
  });

  it('checks encoder channels, layout and size', async () => {
    await expectCode(setup({ encoder: fakeEncoderDeclaring([1, 1, 1024, 1024]) }), 'MODEL_CONTRACT', 'SAM encoder', 'expected 3 channels in dim 1', 'found [1, 1, 1024, 1024]');
    await expectCode(setup({ encoder: fakeEncoderDeclaring([1, 1024, 1024, 3]) }), 'MODEL_CONTRACT', 'set encoderLayout');
    await expectCode(setup({ encoder: fakeEncoderDeclaring([1, 3, 512, 512]) }), 'MODEL_CONTRACT', 'expected [1, 3, 1024, 1024]', 'found [1, 3, 512, 512]');
    await expectCode(setup({ encoder: fakeEncoderDeclaring([1, 3, 1024]) }), 'MODEL_CONTRACT', 'expected rank 4');
    await expectCode(setup({ encoderInputName: 'pixels' }), 'MODEL_CONTRACT', 'expected input "pixels"', 'found "input"');
  });

  it('chooses the preset input name when the encoder has several inputs', async () => {
    await expectCode(
      setup({ encoder: fakeEncoderDeclaring([1, 3, 1024, 1024], [1, 256, 64, 64], ['image', 'extra']) }),
      'MODEL_CONTRACT',
      'expected input "input" (preset default',
    );
  });

  it('feeds an NHWC encoder interleaved when encoderLayout is nhwc', async () => {
    const { sam, runs } = await setup({ encoder: fakeEncoderDeclaring([1, 1024, 1024, 3]), encoderLayout: 'nhwc' });
    await sam.embed(constantImage(64, 32, [200, 100, 50]));
    const feed = runs[runs.length - 1].feeds.input;
    expect(feed.dims).toEqual([1, 1024, 1024, 3]);
    const data = feed.data as Float32Array;
    for (let c = 0; c < 3; c++) expect(data[c]).toBeCloseTo(NORM[c], 5);
    expect(data[3 * 1024 * 1024 - 1]).toBe(0);
    await sam.dispose();
  });

  it('requires the encoder embedding shape to fit the decoder', async () => {
    await expectCode(
      setup({ decoder: fakeSingleMaskDecoder({ embeddingDims: [1, 256, 32, 32] }) }),
      'MODEL_CONTRACT',
      'image_embeddings',
      'expected the encoder\'s embedding shape [1, 256, 64, 64], found [1, 256, 32, 32]',
    );
  });

  it('refuses an embedding of the wrong shape at decode', async () => {
    const { sam } = await setup();
    const emb = await sam.embed(constantImage(8, 8, [0, 0, 0]));
    const wrong: SamImageEmbedding = { ...emb, data: new Float32Array(256 * 32 * 32), dims: [1, 256, 32, 32] };
    await expectCode(sam.decode(wrong, { box: [0, 0, 4, 4] }, { multimask: false }), 'INVALID_ARGUMENT', 'expected dims [1, 256, 64, 64]');
    await sam.dispose();
  });
});

describe('prompt validation', () => {
  it('refuses NaN/infinite coordinates, inverted boxes, far-outside prompts, bad labels and empty prompts', async () => {
    const { sam } = await setup();
    const emb = await sam.embed(constantImage(64, 32, [10, 20, 30]));
    const bad: Array<[unknown, string]> = [
      [{ points: [{ x: Number.NaN, y: 3, label: 1 }] }, 'prompt.points[0]'],
      [{ points: [{ x: 3, y: 3, label: 1 }, { x: 3, y: Infinity, label: 1 }] }, 'prompt.points[1]'],
      [{ points: [{ x: 65.5, y: 3, label: 1 }] }, 'outside the 64x32 image'],
      [{ points: [{ x: 3, y: -1.5, label: 1 }] }, 'outside'],
      [{ points: [{ x: 3, y: 3, label: 2 }] }, 'prompt.points[0].label'],
      [{ box: [10, 5, 4, 20] }, 'inverted'],
      [{ box: [10, 20, 12, 5] }, 'inverted'],
      [{ box: [0, 0, 70, 10] }, 'prompt.box'],
      [{ box: [0, 0, Number.NaN, 10] }, 'four finite numbers'],
      [{ box: [0, 0, 1] }, 'four finite numbers'],
      [{}, 'at least one point or a box'],
    ];
    for (const [prompt, fragment] of bad) {
      await expectCode(sam.decode(emb, prompt as never, { multimask: false }), 'INVALID_PROMPT', fragment);
    }
    // points: [] is the un-prompted query: only the padding point reaches the decoder.
    const unprompted = await sam.decode(emb, { points: [] }, { multimask: false });
    expect(unprompted.lowResLogits).toHaveLength(1);
    // Within 1 px of the image is accepted (edge pixels' far borders, rounding).
    await sam.decode(emb, { points: [{ x: 65, y: -1, label: 1 }], box: [-1, -0.5, 65, 33] }, { multimask: false });
    await sam.dispose();
  });
});

describe('medsam preset', () => {
  it('stretches to a square with min-max scaling and refuses point prompts', async () => {
    const { sam, decodes, runs } = await setup({ preset: 'medsam' });
    expect(sam.info).toMatchObject({ preset: 'medsam', supportsPoints: false });
    const image = constantImage(64, 32, [0, 0, 0]);
    image.data.fill(255, 0, 32 * 3); // first half-row white: min 0, max 255
    const emb = await sam.embed(image);
    expect(emb.transform).toMatchObject({ scaleX: 16, scaleY: 32, resizedWidth: 1024, resizedHeight: 1024 });
    const input = runs.find((r) => r.label === 'SAM encoder')!.feeds.input.data as Float32Array;
    expect(input[0]).toBeCloseTo(1, 6);
    expect(input[1024 * 1024 - 1]).toBeCloseTo(0, 6);
    expect(Math.min(...input.subarray(0, 4096))).toBeGreaterThanOrEqual(0);
    await expectCode(sam.decode(emb, { points: [{ x: 1, y: 1, label: 1 }] }, { multimask: false }), 'INVALID_PROMPT', 'boxes only');
    await sam.decode(emb, { box: [4, 2, 20, 10] }, { multimask: false });
    expect(Array.from(decodes()[0].feeds.point_coords.data as Float32Array)).toEqual([64, 64, 320, 320]);
    await sam.dispose();
  });
});

describe('lifecycle', () => {
  it('dispose releases both sessions; later calls are DISPOSED', async () => {
    const { sam, disposed } = await setup();
    const emb = await sam.embed(constantImage(8, 8, [0, 0, 0]));
    await sam.dispose();
    await sam.dispose();
    expect(disposed.sort()).toEqual(['SAM decoder', 'SAM encoder']);
    await expectCode(sam.embed(constantImage(8, 8, [0, 0, 0])), 'DISPOSED');
    await expectCode(sam.decode(emb, { box: [0, 0, 4, 4] }, { multimask: false }), 'DISPOSED');
  });

  it('honours an aborted signal and refuses malformed images', async () => {
    const { sam } = await setup();
    const controller = new AbortController();
    controller.abort();
    await expectCode(sam.embed(constantImage(8, 8, [0, 0, 0]), { signal: controller.signal }), 'ABORTED');
    await expectCode(sam.embed({ width: 4, height: 4, data: new Uint8Array(5) }), 'INVALID_IMAGE', 'SAM embed');
    await sam.dispose();
  });
});
