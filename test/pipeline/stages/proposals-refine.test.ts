/**
 * The exemplar-guided proposals, iterative refinement and re-scoring on the TypeScript fake SAM
 * (exact known masks: a box prompt gives the box filled, a point gives disks).
 */
import { describe, expect, it } from 'vitest';
import { createMask, encodeRle, maskArea, maskDice, maskIoU, segmentWithBoxes, type MaskRecord, type Scorer } from '../../../src/index.js';
import { maskToBox, resizeMaskBilinear, voteMasks } from '../../../src/core/mask.js';
import { pointGrid } from '../../../src/core/everything/index.js';
import type { BinaryMask, BoxXYXY } from '../../../src/core/types.js';
import { alikeRegions, centredBoxPrompts, decodeProposals, proposeCandidates, ringPrompts, ringRadii, similarityPrompts, withoutDuplicateRings } from '../../../src/pipeline/stages/proposals.js';
import { cleanPart, ellipseBox, ellipsePart, largestComponent, refine, refineBox, resolveRefineSettings, widenBox } from '../../../src/pipeline/stages/refine.js';
import { exemplarBoxSam, oracleRetrieval } from '../../../src/pipeline/baselines.js';
import { candidatesPerPart, distinctCandidates, refineAndRescore } from '../../../src/pipeline/stages/rescore.js';
import { retrieve } from '../../../src/pipeline/stages/retrieve.js';
import type { SamPrompt } from '../../../src/pipeline/types.js';
import { exemplarPrior } from '../../../src/core/exemplar-prior.js';
import { createFakeSam, embedWithFakeSam, fakeSamWithBoxMasks, onMask, testImage, watchDecodes } from '../../helpers/fake-sam.js';
import { rectMask, rectRecord } from '../../helpers/records.js';
import { ellipseMask, type Ellipse } from '../../../src/core/ellipse.js';
import { brainSlice, skullImage } from '../../helpers/masks.js';
import { edgeMap } from '../../../src/core/edge-prior.js';
import { luminanceOf } from '../../../src/core/boundary-prior.js';
import { resolveTask } from '../../../src/pipeline/tasks.js';

/** A fake SAM that records every prompt it decodes. */
function recordingFakeSam() {
  const prompts: SamPrompt[] = [];
  const sam = watchDecodes(createFakeSam(), (prompt) => prompts.push(prompt));
  return { sam, prompts };
}

/** Scores by a function of the candidate (area, box, ...), one class. */
function fnScorer(fn: (r: MaskRecord) => number): Scorer {
  return {
    name: 'fn',
    async score(ctx) {
      const n = ctx.candidates.length;
      const scores = new Float32Array(ctx.classes.length * n);
      ctx.classes.forEach((_, c) => ctx.candidates.forEach((r, i) => (scores[c * n + i] = fn(r))));
      return { classNames: ctx.classes.map((c) => c.name), candidateCount: n, scores };
    },
  };
}

describe('refineBox', () => {
  it('feeds each later pass the box of the previous mask and its low-res logits', async () => {
    const { sam, prompts } = recordingFakeSam();
    const { embedding } = await embedWithFakeSam(testImage(64, 48), sam);
    const part = await refineBox(sam, embedding, [10, 8, 30, 20], resolveRefineSettings({ iterations: 3 }), undefined);
    expect(part.passes).toBe(3);
    expect(prompts).toHaveLength(3);
    expect(prompts[0]).toEqual({ box: [10, 8, 30, 20] });
    expect(prompts[1].maskInput).toBeInstanceOf(Float32Array);
    expect(prompts[1].box).toEqual([10, 8, 30, 20]);
    expect(prompts[2].maskInput).toBeInstanceOf(Float32Array);
    expect(prompts[2].maskInput).not.toBe(prompts[1].maskInput);
    expect(maskDice(part.working, rectMask(64, 48, [[10, 8, 30, 20]]))).toBeGreaterThan(0.97);
  });

  it('with the defaults gives exactly the masks of one box pass (the paper refine)', async () => {
    const sam = createFakeSam();
    const image = testImage(50, 40);
    const boxes: BoxXYXY[] = [[3, 4, 20, 30], [25, 2, 45, 12]];
    const chosen = { organ: boxes.map((b, rank) => ({ index: rank, record: rectRecord(50, 40, b), score: 1, rank, margin: NaN })) };
    const refined = await refine(sam, image, chosen, { outputWidth: 100, outputHeight: 80 });
    const direct = await segmentWithBoxes(sam, image, boxes, { outputWidth: 100, outputHeight: 80 });
    expect(refined.organ.parts.map((p) => p.mask.data)).toEqual(direct.masks.map((m) => m.mask.data));
    expect(refined.organ.mask.data).toEqual(direct.union.data);
  });

  it('widens the first box by boxMargin on each side, clamped to the image', async () => {
    const { sam, prompts } = recordingFakeSam();
    const embedding = await sam.embed(testImage(64, 48));
    await refineBox(sam, embedding, [10, 8, 29, 17], resolveRefineSettings({ boxMargin: 0.25 }), undefined);
    // 20 x 10 box: 5 px sideways, 2.5 px up and down.
    expect(prompts[0]).toEqual({ box: [5, 5.5, 34, 19.5] });
    expect(widenBox([2, 1, 61, 45], 0.5, 64, 48)).toEqual([0, 0, 63, 47]);
    expect(() => resolveRefineSettings({ boxMargin: -0.1 })).toThrow(/boxMargin/);
  });

  it('refuses a bad iteration count by name', () => {
    expect(() => resolveRefineSettings({ iterations: 0 })).toThrow(/refine iterations/);
    expect(() => resolveRefineSettings({ iterations: 1.5 })).toThrow(/integer/);
  });
});

describe('part clean-up', () => {
  it('keeps the largest component and fills holes', () => {
    const m = rectMask(20, 20, [[1, 1, 10, 10], [15, 15, 16, 16]]);
    m.data[5 * 20 + 5] = 0;
    const largest = largestComponent(m);
    expect(largest.data[15 * 20 + 15]).toBe(0);
    expect(largest.data[1 * 20 + 1]).toBe(1);
    const cleaned = cleanPart(m, resolveRefineSettings({ largestComponent: true, fillHoles: true }));
    expect(maskArea(cleaned)).toBe(100);
    // The hull after the rest: an L-shaped part becomes its triangle-closed hull.
    const l = rectMask(20, 20, [[2, 2, 3, 12], [2, 11, 12, 12]]);
    expect(maskArea(cleanPart(l, resolveRefineSettings({ convexHull: true })))).toBeGreaterThan(maskArea(l) + 30);
    // Off by default: the mask comes back as it was.
    expect(cleanPart(m, resolveRefineSettings({}))).toBe(m);
  });
});

describe('refineAndRescore', () => {
  const W = 64;
  const H = 64;
  const pool = [rectRecord(W, H, [2, 2, 12, 12]), rectRecord(W, H, [20, 20, 50, 50]), rectRecord(W, H, [21, 21, 50, 50]), rectRecord(W, H, [40, 2, 60, 20])];

  it('lets the scorer choose after refinement, so a bad first pick is replaced', async () => {
    const { sam, image, embedding } = await embedWithFakeSam(testImage(W, H));
    const classes = [{ name: 'organ', topK: 1 }];
    // Raw: the small box wins. Refined: the scorer prefers the larger mask.
    const rawFirst = fnScorer((r) => (r.area < 200 ? 100 : r.area / 100));
    const retrieval = await retrieve(rawFirst, image, pool, classes, { embedding });
    expect(retrieval.chosen.organ[0].record.area).toBe(121);
    const byArea = fnScorer((r) => r.area);
    const paper = await refineAndRescore(sam, byArea, image, retrieval, classes, { embedding });
    expect(paper.organ.chosen).toHaveLength(1);
    expect(Number.isNaN(paper.organ.chosen[0].refinedScore)).toBe(true);
    expect(paper.organ.decoderCalls).toBe(1);
    const rescored = await refineAndRescore(sam, byArea, image, retrieval, classes, { embedding, candidates: 3 });
    expect(rescored.organ.considered).toHaveLength(3);
    expect(rescored.organ.chosen[0].source.record.bbox).toEqual([20, 20, 30, 30]);
    expect(rescored.organ.chosen[0].refinedScore).toBe(maskArea(rescored.organ.mask));
  });

  it('skips candidates whose box repeats one already taken, and parts that refine into a chosen one', async () => {
    const { sam, image, embedding } = await embedWithFakeSam(testImage(W, H));
    const classes = [{ name: 'lungs', topK: 2 }];
    const retrieval = await retrieve(fnScorer((r) => r.area), image, pool, classes, { embedding });
    const distinct = distinctCandidates(retrieval, 0, 3);
    // [20..50] and [21..50] have box IoU > 0.9: only the larger is taken.
    expect(distinct.map((c) => c.record.bbox[0])).toEqual([20, 40, 2]);
    const out = await refineAndRescore(sam, fnScorer((r) => r.area), image, retrieval, classes, { embedding, candidates: 4 });
    expect(out.lungs.chosen).toHaveLength(2);
    expect(maskIoU(out.lungs.chosen[0].part.mask, out.lungs.chosen[1].part.mask)).toBeLessThan(0.5);
  });

  it('keepRetrieved keeps the retrieved candidates in the running, at no decoder call, resized smoothly to the output', async () => {
    const { sam, image, embedding } = await embedWithFakeSam(testImage(W, H));
    // An L-shaped candidate: the fake SAM refines its box into the filled box, which "leaks".
    const l = rectMask(W, H, [[10, 10, 20, 40], [10, 30, 40, 40]]);
    const lRecord: MaskRecord = { ...rectRecord(W, H, [10, 10, 40, 40]), segmentation: encodeRle(l), area: maskArea(l) };
    const classes = [{ name: 'organ', topK: 1 }];
    const tight = fnScorer((r) => -Math.abs(r.area - maskArea(l)));
    const retrieval = await retrieve(tight, image, [lRecord, rectRecord(W, H, [50, 50, 55, 55])], classes, { embedding });
    const refinedOnly = await refineAndRescore(sam, tight, image, retrieval, classes, { embedding, candidates: 2 });
    expect(maskArea(refinedOnly.organ.mask)).toBeGreaterThan(maskArea(l));
    const kept = await refineAndRescore(sam, tight, image, retrieval, classes, { embedding, candidates: 2, keepRetrieved: true });
    expect(kept.organ.mask.data).toEqual(l.data);
    expect(kept.organ.considered).toHaveLength(refinedOnly.organ.considered.length + 2);
    expect(kept.organ.decoderCalls).toBe(refinedOnly.organ.decoderCalls);
    // At twice the size the kept mask is the L scaled, not blocks of nearest pixels shifted.
    const big = await refineAndRescore(sam, tight, image, retrieval, classes, { embedding, candidates: 2, keepRetrieved: true, outputWidth: 2 * W, outputHeight: 2 * H });
    expect(maskDice(big.organ.mask, rectMask(2 * W, 2 * H, [[20, 20, 41, 81], [20, 60, 81, 81]]))).toBeGreaterThan(0.97);
  });
});

describe('consensus', () => {
  it('voteMasks keeps the pixels a share of the masks cover', () => {
    const a = rectMask(20, 20, [[2, 2, 10, 10], [12, 2, 14, 4]]);
    const b = rectMask(20, 20, [[2, 2, 10, 10], [2, 12, 4, 14]]);
    const c = rectMask(20, 20, [[3, 3, 10, 10]]);
    expect(voteMasks([a, b, c], 0.5).data).toEqual(rectMask(20, 20, [[2, 2, 10, 10]]).data);
    expect(voteMasks([a, b, c], 1).data).toEqual(c.data);
    expect(maskArea(voteMasks([a, b, c], 0.3))).toBe(maskArea(a) + 9);
    expect(() => voteMasks([], 0.5)).toThrow(/no masks/);
    expect(() => voteMasks([a], 0)).toThrow(/fraction/);
    expect(() => voteMasks([a, createMask(5, 5)], 0.5)).toThrow(/masks\[1\]/);
  });

  it('refine.consensus replaces the chosen part by the vote of the masks overlapping it, each leak dropped', async () => {
    const [W, H] = [64, 64];
    const { sam, image, embedding } = await embedWithFakeSam(testImage(W, H));
    // One organ [20..40]^2; four boxes of it, each leaking a different way; one unrelated box.
    const boxes: BoxXYXY[] = [[20, 20, 50, 40], [20, 10, 40, 40], [12, 20, 40, 40], [20, 20, 40, 48], [2, 2, 8, 8]];
    const pool = boxes.map((b) => rectRecord(W, H, b));
    const classes = [{ name: 'organ', topK: 1 }];
    const byArea = fnScorer((r) => r.area);
    const retrieval = await retrieve(byArea, image, pool, classes, { embedding });
    const plain = await refineAndRescore(sam, byArea, image, retrieval, classes, { embedding, candidates: 5 });
    const voted = await refineAndRescore(sam, byArea, image, retrieval, classes, { embedding, candidates: 5, consensus: 0.5 });
    const organ = rectMask(W, H, [[20, 20, 40, 40]]);
    expect(maskDice(plain.organ.mask, organ)).toBeLessThan(0.85);
    expect(voted.organ.mask.data).toEqual(organ.data);
    expect(voted.organ.decoderCalls).toBe(plain.organ.decoderCalls);
    expect(() => resolveRefineSettings({ consensus: 2 })).toThrow(/consensus/);
  });
});

describe('resizeMaskBilinear', () => {
  it('scales a square by 2 to the square twice as large, and back', () => {
    const small = rectMask(16, 16, [[4, 4, 7, 7]]);
    const big = resizeMaskBilinear(small, 32, 32);
    expect(big.data).toEqual(rectMask(32, 32, [[8, 8, 15, 15]]).data);
    expect(resizeMaskBilinear(big, 16, 16).data).toEqual(small.data);
    expect(() => resizeMaskBilinear(small, 0, 16)).toThrow(/width/);
  });
});

describe('candidatesPerPart', () => {
  it('deals the retrieval order out over the exemplar parts, so every part reaches the re-scoring', async () => {
    const W = 64;
    const H = 64;
    const { sam, image, embedding } = await embedWithFakeSam(testImage(W, H));
    // Left lung candidates outscore the right lung's: the five best are all left.
    // The left ones overlap each other by mask IoU > 0.5: one left lung, seen six times.
    const left = [[4, 8, 26, 56], [5, 9, 25, 55], [4, 20, 26, 56], [4, 10, 24, 56], [5, 12, 26, 54], [4, 8, 26, 50]] as BoxXYXY[];
    const right = [[36, 8, 58, 56], [38, 10, 58, 50]] as BoxXYXY[];
    const stray = rectRecord(W, H, [28, 0, 34, 3]);
    const pool = [...left.map((b) => rectRecord(W, H, b)), ...right.map((b) => rectRecord(W, H, b)), stray];
    const score = (r: MaskRecord) => (r === stray ? 50 : r.bbox[0] < 30 ? 200 - r.bbox[1] : 100 - r.bbox[1]);
    const classes = [{ name: 'lungs', topK: 2 }];
    const retrieval = await retrieve(fnScorer(score), image, pool, classes, { embedding });
    expect(distinctCandidates(retrieval, 0, 5).every((c) => c.record.bbox[0] < 30)).toBe(true);
    const exemplarMask = rectMask(W, H, [[4, 8, 26, 56], [36, 8, 58, 56]]);
    const prior = exemplarPrior([exemplarMask], 2);
    const dealt = candidatesPerPart(retrieval, 0, 5, prior, W, H);
    expect(dealt.map((c) => (c.record.bbox[0] < 30 ? 'L' : 'R'))).toEqual(['L', 'R', 'L', 'R', 'L']);
    expect(dealt.map((c) => c.rank)).toEqual([0, 1, 2, 3, 4]);
    // When the parts run out, the rest of the order follows (here the stray candidate last).
    expect(candidatesPerPart(retrieval, 0, 9, prior, W, H).at(-1)!.record).toBe(stray);

    // In the cascade's refinement: exemplars with two parts, so both lungs are chosen.
    const classWithExemplars = [{ name: 'lungs', topK: 2, exemplars: [{ image, mask: exemplarMask }] }];
    const out = await refineAndRescore(sam, fnScorer(score), image, retrieval, classWithExemplars, { embedding, candidates: 4 });
    expect(out.lungs.chosen.map((p) => (p.source.record.bbox[0] < 30 ? 'L' : 'R')).sort()).toEqual(['L', 'R']);
  });
});

describe('similarity proposals', () => {
  const side = 8;
  const unit = pointGrid(side);
  const points = Float32Array.from(unit, (v) => v * 80);
  /** Affinity high in two blobs: around grid (1,1)-(2,2) and (5,5)-(6,6); lowest at (7,0). */
  const affinity = new Float32Array(side * side).fill(0.1);
  for (const [x, y, v] of [[1, 1, 0.9], [2, 1, 0.8], [1, 2, 0.8], [2, 2, 0.85], [5, 5, 0.7], [6, 5, 0.65], [6, 6, 0.6], [7, 0, -0.5]]) affinity[y * side + x] = v;

  it('takes the peak as a positive point, the lowest point as a negative one, and the alike region as a box', () => {
    const prompts = similarityPrompts(affinity, points, side, 1, 0.5, true);
    expect(prompts).toHaveLength(2);
    expect(prompts[0].prompt.points).toEqual([{ x: 15, y: 15, label: 1 }, { x: 75, y: 5, label: 0 }]);
    expect(prompts[0].multimask).toBe(true);
    // Region (1,1)-(2,2): centres 15..25, grown by half a step (5 px).
    expect(prompts[1].prompt.box).toEqual([10, 10, 30, 30]);
    expect(prompts[1].multimask).toBe(false);
    expect(prompts.every((p) => p.proposer === 'similarity')).toBe(true);
  });

  it('finds a second part outside the first region', () => {
    const prompts = similarityPrompts(affinity, points, side, 2, 0.5, true);
    expect(prompts).toHaveLength(4);
    expect(prompts[2].prompt.points![0]).toEqual({ x: 55, y: 55, label: 1 });
    expect(prompts[3].prompt.box).toEqual([50, 50, 70, 70]);
  });

  it('centres each exemplar box on the nearest alike region, keeping its size, inside the image', () => {
    const regions = alikeRegions(affinity, points, side, 2, 0.5);
    expect(regions.map((r) => r.box)).toEqual([[10, 10, 30, 30], [50, 50, 70, 70]]);
    // Two exemplars of one part each: [0, 0, 15, 7] in pixels, nearest the first region's centre
    // (20, 20), and [40, 40, 79, 79], nearer the second (60, 60), which would cross the right and
    // bottom edges there.
    const parts = [[[0, 0, 0.2, 0.1]], [[0.5, 0.5, 1, 1]]] as Array<Array<[number, number, number, number]>>;
    const prompts = centredBoxPrompts(parts, regions, 80, 80, true);
    expect(prompts.map((p) => p.prompt.box)).toEqual([[13, 17, 28, 24], [40, 40, 79, 79]]);
    expect(prompts.every((p) => p.proposer === 'exemplar-centred-box' && p.multimask)).toBe(true);
    expect(centredBoxPrompts(parts, [], 80, 80, true)).toEqual([]);
  });

  it('decodes prompts into records tagged with their proposer, every mask of a multi-mask prompt', async () => {
    const { sam, embedding } = await embedWithFakeSam(testImage(80, 80));
    const records = await decodeProposals(
      sam,
      [
        { proposer: 'exemplar-box', prompt: { box: [10, 10, 40, 30] }, multimask: false },
        { proposer: 'similarity', prompt: { points: [{ x: 40, y: 40, label: 1 }] }, multimask: true },
      ],
      { embedding },
    );
    expect(records.map((r) => r.proposer)).toEqual(['exemplar-box', 'similarity', 'similarity', 'similarity']);
    expect(records[0].bbox).toEqual([10, 10, 30, 20]);
    expect(records[1].pointCoords).toEqual([[40, 40]]);
    expect(records.map((r) => r.maskIndex)).toEqual([0, 0, 1, 2]);
  });

  it('proposes the exemplars\' mean box and similarity prompts for a class with exemplars, nothing for one without', async () => {
    const { sam, embedding } = await embedWithFakeSam(testImage(80, 80));
    const exemplars = [
      { image: testImage(80, 80), mask: rectMask(80, 80, [[10, 20, 39, 59]]) },
      { image: testImage(40, 40), mask: rectMask(40, 40, [[10, 10, 29, 29]]) },
    ];
    const affinityScorer: Scorer = {
      name: 'affinity',
      score: () => Promise.reject(new Error('not used')),
      pointAffinity: async (_ctx, pts) => Float32Array.from({ length: pts.length / 2 }, (_, i) => -Math.hypot(pts[2 * i] - 50, pts[2 * i + 1] - 50)),
    };
    const out = await proposeCandidates(sam, [{ name: 'organ', exemplars }, { name: 'text-only', prompts: ['a heart'] }], { embedding, scorer: affinityScorer, similarityGrid: 16 });
    expect(out.decoderCalls).toBe(3);
    const box = out.records.find((r) => r.proposer === 'exemplar-box')!;
    // Mean of [0.125, 0.25, 0.5, 0.75] and [0.25, 0.25, 0.75, 0.75] of an 80 x 80 image.
    expect(box.bbox).toEqual([15, 20, 34, 39]);
    const positive = out.records.find((r) => r.proposer === 'similarity')!.pointCoords[0];
    expect(Math.hypot(positive[0] - 50, positive[1] - 50)).toBeLessThan(4);
    // centredBoxes: each exemplar's box (30 x 40 and 40 x 40 px of 80) centred on the alike region around (50, 50).
    const centred = await proposeCandidates(sam, [{ name: 'organ', exemplars }], { embedding, scorer: affinityScorer, similarityGrid: 16, centredBoxes: true });
    expect(centred.decoderCalls).toBe(5);
    const boxes = centred.records.filter((r) => r.proposer === 'exemplar-centred-box').map((r) => r.bbox);
    expect(boxes.map((b) => [b[2], b[3]])).toEqual([[29, 39], [39, 39]]);
    for (const b of boxes) expect(Math.hypot(b[0] + b[2] / 2 - 50, b[1] + b[3] / 2 - 50)).toBeLessThan(4);
    const none = await proposeCandidates(sam, [{ name: 'organ', exemplars }], { embedding, scorer: affinityScorer, exemplarBox: false, similarity: false });
    expect(none.decoderCalls).toBe(0);
  });
});

describe('ring proposals', () => {
  const skull = { cx: 40, cy: 36, semiMajor: 20, semiMinor: 14, angle: 0 };

  it('bounds the ring size by the exemplars: half the smallest half side to 1.5 x the largest', () => {
    // Boxes of 20 x 10 and 40 x 30 pixels in an 80 x 80 image: half sides 10, 5, 20 and 15.
    const parts = [[[0, 0, 0.25, 0.125]], [[0.5, 0.5, 1, 0.875]]] as Array<Array<[number, number, number, number]>>;
    expect(ringRadii(parts, 80, 80)).toEqual({ minRadius: 2.5, maxRadius: 30 });
    // Never beyond half the image.
    expect(ringRadii([[[0, 0, 1, 1]]], 80, 80).maxRadius).toBe(40);
  });

  it("boxes the image's ring as a prompt tagged 'ring'", () => {
    const prompts = ringPrompts(skullImage(skull, 80), { minRadius: 8, maxRadius: 30 }, 1);
    expect(prompts).toHaveLength(1);
    expect(prompts[0].proposer).toBe('ring');
    expect(prompts[0].multimask).toBe(false);
    const box = prompts[0].prompt.box!;
    for (const [got, want] of box.map((v, i) => [v, [20, 22, 60, 50][i]])) expect(Math.abs(got - want)).toBeLessThanOrEqual(2);
  });

  it('proposes ring boxes from the image passed with the embedding, and needs that image', async () => {
    const { sam, image, embedding } = await embedWithFakeSam(skullImage(skull, 80));
    const exemplars = [{ image: skullImage(skull, 80), mask: ellipseMask(skull, 80, 80) }];
    const classes = [{ name: 'head', exemplars }];
    const out = await proposeCandidates(sam, classes, { embedding, image, exemplarBox: false, similarity: false, rings: true, ringCount: 2 });
    expect(out.decoderCalls).toBeGreaterThanOrEqual(1);
    const ring = out.records.find((r) => r.proposer === 'ring')!;
    const [x, y, w, h] = ring.bbox;
    expect(Math.abs(x + w / 2 - skull.cx)).toBeLessThanOrEqual(2);
    expect(Math.abs(y + h / 2 - skull.cy)).toBeLessThanOrEqual(2);
    await expect(proposeCandidates(sam, classes, { embedding, exemplarBox: false, similarity: false, rings: true })).rejects.toThrow(/proposals: rings needs options.image/);
  });

  it('ringDuplicateIoU drops the rings whose box repeats a candidate already in the pool or another proposer\'s', () => {
    const ring = { ...rectRecord(80, 80, [20, 22, 60, 50]), proposer: 'ring' };
    const otherRing = { ...rectRecord(80, 80, [5, 5, 25, 25]), proposer: 'ring' };
    const box = { ...rectRecord(80, 80, [20, 22, 60, 52]), proposer: 'exemplar-box' };
    const grid = rectRecord(80, 80, [21, 22, 60, 50]);
    // Box IoU with the exemplar box: 41 x 29 / (41 x 31) = 0.935.
    expect(withoutDuplicateRings([box, ring, otherRing], [], 0.9)).toEqual([box, otherRing]);
    expect(withoutDuplicateRings([box, ring, otherRing], [], 0.95)).toEqual([box, ring, otherRing]);
    // Against segment-everything's records: IoU 40 / 41.
    expect(withoutDuplicateRings([ring, otherRing], [grid], 0.9)).toEqual([otherRing]);
    // Two rings never drop each other.
    expect(withoutDuplicateRings([ring, { ...ring }], [], 0.5)).toHaveLength(2);
  });

  it('proposeCandidates applies ringDuplicateIoU against the pool it is given, and still counts the decoder calls', async () => {
    const { sam, image, embedding } = await embedWithFakeSam(skullImage(skull, 80));
    const classes = [{ name: 'head', exemplars: [{ image: skullImage(skull, 80), mask: ellipseMask(skull, 80, 80) }] }];
    const options = { embedding, image, exemplarBox: false, similarity: false, rings: true, ringCount: 1 };
    const all = await proposeCandidates(sam, classes, options);
    const ring = all.records.find((r) => r.proposer === 'ring')!;
    const copy = { ...ring, proposer: 'grid' };
    const kept = await proposeCandidates(sam, classes, { ...options, existing: [copy] });
    expect(kept.records.some((r) => r.proposer === 'ring')).toBe(true);
    const deduped = await proposeCandidates(sam, classes, { ...options, existing: [copy], ringDuplicateIoU: 0.9 });
    expect(deduped.records.some((r) => r.proposer === 'ring')).toBe(false);
    expect(deduped.decoderCalls).toBe(all.decoderCalls);
    await expect(proposeCandidates(sam, classes, { ...options, ringDuplicateIoU: 2 })).rejects.toThrow(/ringDuplicateIoU/);
  });
});

describe('refineAndRescore keeps topK parts', () => {
  it('fills up with the best of the rest when every other part overlaps the first chosen', async () => {
    const W = 64;
    const { sam, image, embedding } = await embedWithFakeSam(testImage(W, W));
    const classes = [{ name: 'lungs', topK: 2 }];
    // The largest mask (both lungs) wins; each single lung overlaps it by IoU > 0.5.
    const pool = [rectRecord(W, W, [2, 2, 60, 60]), rectRecord(W, W, [2, 2, 40, 60]), rectRecord(W, W, [20, 2, 60, 60])];
    const byArea = fnScorer((r) => r.area);
    const retrieval = await retrieve(byArea, image, pool, classes, { embedding });
    const out = await refineAndRescore(sam, byArea, image, retrieval, classes, { embedding, candidates: 3 });
    expect(out.lungs.chosen).toHaveLength(2);
    expect(out.lungs.chosen.map((c) => c.source.record.bbox[2])).toEqual([58, 40]);
  });

  it('does not take a mask holding a chosen part (and as much beside it) as the second part', async () => {
    const W = 64;
    const { sam, image, embedding } = await embedWithFakeSam(testImage(W, W));
    const classes = [{ name: 'lungs', topK: 2 }];
    // One lung, the same lung with as much tissue beside it (IoU with it under 0.5), the other lung.
    const [lung, spread, other] = [rectRecord(W, W, [2, 2, 20, 60]), rectRecord(W, W, [2, 2, 40, 60]), rectRecord(W, W, [44, 2, 60, 60])];
    expect(maskIoU(rectMask(W, W, [[2, 2, 20, 60]]), rectMask(W, W, [[2, 2, 40, 60]]))).toBeLessThan(0.5);
    const rank = new Map([[lung.area, 3], [spread.area, 2], [other.area, 1]]);
    const scorer = fnScorer((r) => rank.get(r.area) ?? 0);
    const retrieval = await retrieve(scorer, image, [lung, spread, other], classes, { embedding });
    const out = await refineAndRescore(sam, scorer, image, retrieval, classes, { embedding, candidates: 3 });
    expect(out.lungs.chosen.map((c) => c.source.record.bbox[0])).toEqual([2, 44]);
  });
});

describe('refine.fitEllipse', () => {
  const S = 128;
  /** A skull: a bright elliptical ring on flat tissue. */
  const skull: Ellipse = { cx: 60, cy: 66, semiMajor: 40, semiMinor: 28, angle: 0.3 };
  const head = ellipseMask(skull, S, S);
  /** The fake SAM, except that every box gives the head leaked into the flat tissue on its right. */
  function leakingSam() {
    const inHead = onMask(head);
    return fakeSamWithBoxMasks(() => (x, y) => inHead(x, y) || (x >= 90 && x < 124 && y >= 50 && y < 80));
  }

  it('replaces the chosen part by the ellipse on the skull, reports it at the output size, at no decoder call', async () => {
    const { sam, image, embedding } = await embedWithFakeSam(skullImage(skull, S), leakingSam());
    const classes = [{ name: 'head', topK: 1 }];
    const retrieval = await retrieve(fnScorer((r) => r.area), image, [rectRecord(S, S, [20, 38, 100, 94])], classes, { embedding });
    const plain = await refineAndRescore(sam, fnScorer((r) => r.area), image, retrieval, classes, { embedding });
    const fitted = await refineAndRescore(sam, fnScorer((r) => r.area), image, retrieval, classes, { embedding, fitEllipse: true });
    expect(maskDice(plain.head.mask, head)).toBeLessThan(0.9);
    expect(plain.head.chosen[0].part.ellipse).toBeUndefined();
    expect(maskDice(fitted.head.mask, head)).toBeGreaterThan(0.95);
    const ellipse = fitted.head.chosen[0].part.ellipse!;
    expect(Math.abs(ellipse.cx - skull.cx)).toBeLessThan(2);
    expect(fitted.head.mask.data).toEqual(ellipseMask(ellipse, S, S).data);
    expect(fitted.head.decoderCalls).toBe(plain.head.decoderCalls);
    // At twice the size the ellipse is reported in the output's pixels.
    const big = await refineAndRescore(sam, fnScorer((r) => r.area), image, retrieval, classes, { embedding, fitEllipse: true, outputWidth: 2 * S, outputHeight: 2 * S });
    const bigEllipse = big.head.chosen[0].part.ellipse!;
    expect(bigEllipse.cx).toBeCloseTo((ellipse.cx + 0.5) * 2 - 0.5, 6);
    expect(bigEllipse.semiMajor).toBeCloseTo(2 * ellipse.semiMajor, 6);
    expect(big.head.mask.data).toEqual(ellipseMask(bigEllipse, 2 * S, 2 * S).data);
    // The paper's refine stage and the exemplar-box baseline clean their parts the same way.
    const paper = await refine(sam, image, retrieval.chosen, { embedding, fitEllipse: true });
    expect(paper.head.parts[0].ellipse).toEqual(ellipse);
  });

  it('keeps the part when no ellipse fits it or the ellipse is far from its size', () => {
    const edges = edgeMap(luminanceOf(skullImage(skull, S)));
    const part = (mask: BinaryMask) => ({ prompt: { box: [0, 0, 1, 1] as BoxXYXY }, mask, predictedIou: 0.9, stabilityScore: 0.9 });
    // A ring (the skull without its inside): the ellipse on it has five times its area.
    const ring = ellipseMask(skull, S, S);
    const inside = ellipseMask({ ...skull, semiMajor: skull.semiMajor - 3, semiMinor: skull.semiMinor - 3 }, S, S);
    for (let i = 0; i < ring.data.length; i++) if (inside.data[i]) ring.data[i] = 0;
    expect(ellipsePart(part(ring), ring, edges)).toEqual(part(ring));
    // A speck has no outline to fit; an empty part stays empty.
    const speck = createMask(S, S);
    speck.data[5 * S + 5] = 1;
    expect(ellipsePart(part(speck), speck, edges).ellipse).toBeUndefined();
    expect(ellipsePart(part(createMask(S, S)), createMask(S, S), edges).ellipse).toBeUndefined();
    // The head itself fits.
    expect(ellipsePart(part(head), head, edges).ellipse).toBeDefined();
    expect(() => resolveTask({ name: 't', classes: [{ name: 'head', prompts: ['a head'] }], refine: { fitEllipse: 1 as unknown as boolean } })).toThrow(/fitEllipse/);
  });
});

describe('refine.ellipseBoxes', () => {
  const S = 128;
  const skull: Ellipse = { cx: 60, cy: 66, semiMajor: 40, semiMinor: 28, angle: 0.3 };
  const head = ellipseMask(skull, S, S);
  const headBox = maskToBox(head);
  /**
   * The fake SAM, except that a box reaching past the skull's right side gives the head leaked
   * into the flat tissue there (x 90-123, y 42-89), and any other box the head: SAM stops at the skull
   * when the box does. Records every box it is given.
   */
  function leakUnlessTightSam() {
    const inHead = onMask(head);
    const boxes: BoxXYXY[] = [];
    const sam = fakeSamWithBoxMasks((box) => {
      boxes.push(box);
      const leaks = box[2] > headBox[2] + 4;
      return (x, y) => inHead(x, y) || (leaks && x >= 90 && x < 124 && y >= 42 && y < 90);
    });
    return { sam, boxes };
  }
  /** Prefers the smaller mask: the tight head over its leak, once both are in the running. */
  const smaller = fnScorer((r) => -r.area);
  const classes = [{ name: 'head', topK: 1 }];

  it('refines each candidate again from its ellipse box, re-scores every mask, and decodes a repeated box once', async () => {
    const { sam, boxes } = leakUnlessTightSam();
    const { image, embedding } = await embedWithFakeSam(skullImage(skull, S), sam);
    // Two retrieved candidates whose boxes both leak, into the same mask.
    const retrieval = await retrieve(fnScorer((r) => r.area), image, [rectRecord(S, S, [20, 38, 124, 94]), rectRecord(S, S, [18, 30, 126, 100])], classes, { embedding });
    const plain = await refineAndRescore(sam, smaller, image, retrieval, classes, { embedding, candidates: 2 });
    expect(maskDice(plain.head.mask, head)).toBeLessThan(0.85);
    expect(plain.head.decoderCalls).toBe(2);
    boxes.length = 0;
    const events: string[] = [];
    const boxed = await refineAndRescore(sam, smaller, image, retrieval, classes, { embedding, candidates: 2, ellipseBoxes: 1, onProgress: (e) => events.push(`${e.stage} ${e.done}/${e.total}`) });
    expect(events).toEqual(['refine 1/2', 'refine 2/2', 'ellipse-boxes 1/2', 'ellipse-boxes 2/2']);
    expect(maskDice(boxed.head.mask, head)).toBeGreaterThan(0.97);
    // Both leaks have the skull's ellipse: one box, decoded once, its mask in the running twice.
    expect(boxed.head.considered).toHaveLength(4);
    expect(boxed.head.decoderCalls).toBe(3);
    expect(boxes).toHaveLength(3);
    const ellipseBoxUsed = boxes[2];
    for (const k of [0, 1, 2, 3]) expect(Math.abs(ellipseBoxUsed[k] - headBox[k])).toBeLessThanOrEqual(2);
    // Without re-scoring (candidates = topK) there is nothing to choose among: no ellipse boxes.
    const single = await refineAndRescore(sam, smaller, image, retrieval, classes, { embedding, candidates: 1, ellipseBoxes: 2 });
    expect(single.head.decoderCalls).toBe(1);
  });

  it('stops where no ellipse fits, and the task checks the setting', () => {
    const edges = edgeMap(luminanceOf(skullImage(skull, S)));
    const speck = createMask(S, S);
    speck.data[5 * S + 5] = 1;
    expect(ellipseBox(speck, edges)).toBeUndefined();
    expect(ellipseBox(createMask(S, S), edges)).toBeUndefined();
    const box = ellipseBox(head, edges)!;
    for (const k of [0, 1, 2, 3]) expect(Math.abs(box[k] - headBox[k])).toBeLessThanOrEqual(2);
    const task = (ellipseBoxes: number) => resolveTask({ name: 't', classes: [{ name: 'head', prompts: ['a head'] }], refine: { ellipseBoxes } });
    expect(() => task(5)).toThrow(/ellipseBoxes/);
    expect(() => task(1.5)).toThrow(/ellipseBoxes/);
    expect(task(2).refine?.ellipseBoxes).toBe(2);
  });
});

describe('refine.peelSurroundings', () => {
  const S = 64;
  const slice = brainSlice(S);
  /** The fake SAM, except that every box gives the brain with its CSF gap (as MobileSAM does on T1 slices). */
  function gapSam() {
    return fakeSamWithBoxMasks(() => onMask(slice.withGap));
  }
  const exemplar = brainSlice(S, { scale: 0.8 });

  it('peels the gap off the chosen part with the exemplars\' threshold, at no decoder call, at any output size', async () => {
    const { sam, embedding } = await embedWithFakeSam(slice.image, gapSam());
    const withExemplars = [{ name: 'brain', topK: 1, exemplars: [{ image: exemplar.image, mask: exemplar.brain }] }];
    const retrieval = await retrieve(fnScorer((r) => r.area), slice.image, [rectRecord(S, S, [10, 10, 50, 50])], withExemplars, { embedding });
    const plain = await refineAndRescore(sam, fnScorer((r) => r.area), slice.image, retrieval, withExemplars, { embedding });
    const peeled = await refineAndRescore(sam, fnScorer((r) => r.area), slice.image, retrieval, withExemplars, { embedding, peelSurroundings: true });
    expect(plain.brain.mask.data).toEqual(slice.withGap.data);
    expect(peeled.brain.mask.data).toEqual(slice.brain.data);
    expect(peeled.brain.decoderCalls).toBe(plain.brain.decoderCalls);
    // At twice the size the part keeps what the peeled working mask covers.
    const big = await refineAndRescore(sam, fnScorer((r) => r.area), slice.image, retrieval, withExemplars, { embedding, peelSurroundings: true, outputWidth: 2 * S, outputHeight: 2 * S });
    expect(maskDice(big.brain.mask, resizeMaskBilinear(slice.brain, 2 * S, 2 * S))).toBeGreaterThan(0.97);
    // The clean-ups run after the peel: filling holes keeps the brain (the peel left the ventricle in it).
    const filled = await refineAndRescore(sam, fnScorer((r) => r.area), slice.image, retrieval, withExemplars, { embedding, peelSurroundings: true, fillHoles: true });
    expect(filled.brain.mask.data).toEqual(slice.brain.data);
    // A class of text prompts alone has nothing to learn the surroundings from: not peeled.
    const textOnly = [{ name: 'brain', topK: 1, prompts: ['a brain'] }];
    const unpeeled = await refineAndRescore(sam, fnScorer((r) => r.area), slice.image, retrieval, textOnly, { embedding, peelSurroundings: true });
    expect(unpeeled.brain.mask.data).toEqual(slice.withGap.data);
    // The paper's refine stage (exemplars by class name), the oracle and the exemplar-box baseline peel alike.
    const paper = await refine(sam, slice.image, retrieval.chosen, { embedding, peelSurroundings: true, exemplars: { brain: withExemplars[0].exemplars } });
    expect(paper.brain.mask.data).toEqual(slice.brain.data);
    const oracle = await oracleRetrieval(sam, slice.image, [rectRecord(S, S, [10, 10, 50, 50])], slice.brain, { embedding, peelSurroundings: true, exemplars: withExemplars[0].exemplars });
    expect(oracle.mask.data).toEqual(slice.brain.data);
    const box = await exemplarBoxSam(sam, slice.image, withExemplars[0], { embedding, peelSurroundings: true });
    expect(box.mask.data).toEqual(slice.brain.data);
    expect(() => resolveTask({ name: 't', classes: withExemplars, refine: { peelSurroundings: 'yes' as unknown as boolean } })).toThrow(/peelSurroundings/);
  });
});
