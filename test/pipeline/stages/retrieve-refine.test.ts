import { describe, expect, it } from 'vitest';
import {
  createMask,
  filterCandidates,
  maskArea,
  maskDice,
  refine,
  retrieve,
  segmentWithBoxes,
  segmentWithPoints,
  segmentWithPrompts,
  type Scorer,
} from '../../../src/index.js';
import { createLogitUpscaler, stabilityScore, upscalerGeometry } from '../../../src/core/everything/index.js';
import { maskFromLogits } from '../../../src/core/mask.js';
import { createFakeSam, embedWithFakeSam, testImage } from '../../helpers/fake-sam.js';
import { rectRecord } from '../../helpers/records.js';

/** Scores candidates by a fixed table: class c, candidate i -> table[c][i]. */
function tableScorer(table: number[][]): Scorer & { calls: number } {
  const s = {
    name: 'table',
    calls: 0,
    async score(ctx: Parameters<Scorer['score']>[0]) {
      s.calls++;
      const n = ctx.candidates.length;
      const scores = new Float32Array(ctx.classes.length * n);
      ctx.classes.forEach((_, c) => ctx.candidates.forEach((_, i) => (scores[c * n + i] = table[c][i])));
      return { classNames: ctx.classes.map((c) => c.name), candidateCount: n, scores };
    },
  };
  return s;
}

describe('filterCandidates', () => {
  const pool = [rectRecord(20, 20, [0, 0, 19, 19], { pointAtCentre: true }), rectRecord(20, 20, [2, 2, 5, 5], { pointAtCentre: true }), rectRecord(20, 20, [7, 3, 7, 9], { pointAtCentre: true })];
  it('drops areas at or above the maximum and zero-area boxes', () => {
    const f = filterCandidates(pool, 400, { maxArea: 400 });
    expect(f.keptIndex).toEqual([1]);
    expect(f.removed).toEqual([
      { index: 0, reason: 'area' },
      { index: 2, reason: 'zero-area-box' },
    ]);
    expect(filterCandidates(pool, 400, { maxAreaFraction: 0.05 }).keptIndex).toEqual([1]);
    expect(filterCandidates(pool, 400, { maxAreaFraction: 0.04 }).keptIndex).toEqual([]);
    expect(filterCandidates(pool, 400).keptIndex).toEqual([0, 1]);
  });
  it('rejects a non-positive maximum', () => {
    expect(() => filterCandidates(pool, 400, { maxArea: 0 })).toThrow(/maxArea/);
    expect(() => filterCandidates(pool, 400, { maxAreaFraction: 1.5 })).toThrow(/maxAreaFraction/);
  });
});

describe('retrieve', () => {
  const image = testImage(20, 20);
  const pool = [rectRecord(20, 20, [0, 0, 3, 3], { pointAtCentre: true }), rectRecord(20, 20, [5, 5, 9, 9], { pointAtCentre: true }), rectRecord(20, 20, [10, 10, 15, 15], { pointAtCentre: true }), rectRecord(20, 20, [0, 0, 19, 19], { pointAtCentre: true })];

  it('picks top-k per class by score, with margins over the best unchosen', async () => {
    const scorer = tableScorer([
      [1, 5, 3],
      [9, 2, 4],
    ]);
    const r = await retrieve(scorer, image, pool, [{ name: 'a', prompts: ['x'], topK: 2 }, { name: 'b', prompts: ['y'] }], { maxArea: 300 });
    expect(r.poolIndex).toEqual([0, 1, 2]);
    expect(r.chosen.a.map((c) => c.index)).toEqual([1, 2]);
    expect(r.chosen.a.map((c) => c.margin)).toEqual([4, 2]);
    expect(r.chosen.b.map((c) => [c.index, c.rank, c.score, c.margin])).toEqual([[0, 0, 9, 5]]);
    expect(Array.from(r.table.scores)).toEqual([1, 5, 3, 9, 2, 4]);
  });

  it('fails with EMPTY_CANDIDATE_POOL when every candidate is filtered, without calling the scorer', async () => {
    const scorer = tableScorer([[1]]);
    await expect(retrieve(scorer, image, pool, [{ name: 'a', prompts: ['x'] }], { maxArea: 10 })).rejects.toMatchObject({ code: 'EMPTY_CANDIDATE_POOL' });
    expect(scorer.calls).toBe(0);
  });

  it('rejects an empty class list and a bad topK', async () => {
    await expect(retrieve(tableScorer([]), image, pool, [])).rejects.toMatchObject({ code: 'INVALID_TASK' });
    await expect(retrieve(tableScorer([[1, 2, 3, 4]]), image, pool, [{ name: 'a', prompts: ['x'], topK: 0 }])).rejects.toMatchObject({ code: 'INVALID_TASK' });
  });
});

describe('prompted segmentation and refine', () => {
  it('returns one mask per box and their union', async () => {
    const sam = createFakeSam();
    const image = testImage(64, 48);
    const r = await segmentWithBoxes(sam, image, [
      [4, 4, 13, 9],
      [30, 20, 39, 29],
    ]);
    expect(r.masks).toHaveLength(2);
    expect(maskArea(r.masks[0].mask)).toBe(10 * 6);
    expect(maskArea(r.masks[1].mask)).toBe(100);
    expect(maskArea(r.union)).toBe(160);
    expect(r.masks[0].stabilityScore).toBe(1);
    // Output at another size: the same boxes, scaled.
    const big = await segmentWithBoxes(sam, image, [[4, 4, 13, 9]], { outputWidth: 128, outputHeight: 96, embedding: r.embedding });
    expect(maskArea(big.union)).toBeGreaterThan(200);
    expect(sam.embedCalls).toBe(1);
  });

  it('gives the masks and stability scores of thresholding the upscaled logits (the plain path)', async () => {
    const { sam, image, embedding } = await embedWithFakeSam(testImage(60, 44));
    const prompts = [{ points: [{ x: 20, y: 15, label: 1 as const }] }, { points: [{ x: 41.5, y: 30, label: 1 as const }] }, { box: [3, 5, 17, 31] as [number, number, number, number] }];
    for (const [outWidth, outHeight] of [[60, 44], [97, 71], [31, 23]]) {
      for (const maskThreshold of [0, 0.7, -2.5]) {
        const got = await segmentWithPrompts(sam, image, prompts, { embedding, outputWidth: outWidth, outputHeight: outHeight, maskThreshold });
        for (const [i, prompt] of prompts.entries()) {
          const decoded = await sam.decode(embedding, prompt, { multimask: false });
          const logits = createLogitUpscaler(upscalerGeometry(decoded.lowResSize, embedding.transform, outWidth, outHeight))(decoded.lowResLogits[0]);
          expect(Array.from(got.masks[i].mask.data)).toEqual(Array.from(maskFromLogits(logits, outWidth, outHeight, maskThreshold).data));
          expect(got.masks[i].stabilityScore).toBe(stabilityScore(logits, maskThreshold, 1));
        }
      }
    }
  });

  it('refuses a mask threshold that is not a finite number before running the encoder', async () => {
    const sam = createFakeSam();
    for (const maskThreshold of [NaN, Infinity, '0' as unknown as number]) {
      await expect(segmentWithPrompts(sam, testImage(16, 16), [{ box: [1, 1, 5, 5] }], { maskThreshold })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('maskThreshold') });
    }
    expect(sam.embedCalls).toBe(0);
  });

  it('segments points with the single-mask output', async () => {
    const sam = createFakeSam();
    const r = await segmentWithPoints(sam, testImage(64, 64), [{ x: 20, y: 20 }]);
    expect(maskArea(r.union)).toBeGreaterThan(Math.PI * 2 * 2);
    expect(maskArea(r.union)).toBeLessThan(Math.PI * 4 * 4);
  });

  it('refines each class with the boxes of its chosen candidates', async () => {
    const sam = createFakeSam();
    const image = testImage(40, 40);
    const a = rectRecord(40, 40, [2, 2, 11, 11], { pointAtCentre: true });
    const b = rectRecord(40, 40, [20, 20, 29, 35], { pointAtCentre: true });
    const refined = await refine(sam, image, {
      lungs: [
        { index: 0, record: a, score: 1, rank: 0, margin: 0 },
        { index: 1, record: b, score: 1, rank: 1, margin: 0 },
      ],
    });
    const expected = createMask(40, 40);
    for (const r of [a, b]) {
      const [x, y, w, h] = r.bbox;
      for (let yy = y; yy <= y + h; yy++) for (let xx = x; xx <= x + w; xx++) expected.data[yy * 40 + xx] = 1;
    }
    expect(maskDice(refined.lungs.mask, expected)).toBe(1);
    expect(refined.lungs.parts).toHaveLength(2);
  });
});
