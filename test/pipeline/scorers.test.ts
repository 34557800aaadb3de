import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/backends/node.js';
import type { Backend } from '../../src/backends/types.js';
import { isSalipError, type SalipErrorCode } from '../../src/core/errors.js';
import { createRgbImage } from '../../src/core/image.js';
import { boxXyxyToXywh, createMask, encodeRle, maskToBox } from '../../src/core/mask.js';
import { topK } from '../../src/core/similarity.js';
import { ellipseConsistency, ellipseMask } from '../../src/core/ellipse.js';
import { edgeMap, outlineEdgeStrength } from '../../src/core/edge-prior.js';
import { luminanceOf } from '../../src/core/boundary-prior.js';
import type { BinaryMask, RgbImage } from '../../src/core/types.js';
import { createClipModel, type ClipModel } from '../../src/models/clip/clip.js';
import { PROMPT_ENSEMBLES } from '../../src/pipeline/prompt-ensembles.js';
import { createClipTextScorer, createExemplarScorer, type ClassSpec, type ScoreTable, SMALL_PART_PENALTY } from '../../src/pipeline/scorers.js';
import type { MaskRecord, SamImageEmbedding, SamModel } from '../../src/pipeline/types.js';
import { fakeTextTower, fakeVisionTower } from '../helpers/clip-fake-models.js';

type Rgb = [number, number, number];
const RED: Rgb = [255, 0, 0];
const GREEN: Rgb = [0, 255, 0];
const BLUE: Rgb = [0, 0, 255];
const DARK_GREY: Rgb = [40, 40, 40];

interface Square {
  x0: number;
  y0: number;
  x1: number; // exclusive
  y1: number;
  colour: Rgb;
}

/** A black image with coloured rectangles painted on it. */
function paint(width: number, height: number, squares: Square[]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (const s of squares) for (let y = s.y0; y < s.y1; y++) for (let x = s.x0; x < s.x1; x++) data.set(s.colour, (y * width + x) * 3);
  return createRgbImage(width, height, data);
}

function rectMask(width: number, height: number, s: Pick<Square, 'x0' | 'y0' | 'x1' | 'y1'>): BinaryMask {
  const data = new Uint8Array(width * height);
  for (let y = s.y0; y < s.y1; y++) for (let x = s.x0; x < s.x1; x++) data[y * width + x] = 1;
  return createMask(width, height, data);
}

function record(mask: BinaryMask): MaskRecord {
  const rle = encodeRle(mask);
  let area = 0;
  for (let k = 1; k < rle.counts.length; k += 2) area += rle.counts[k];
  return {
    segmentation: rle,
    area,
    bbox: boxXyxyToXywh(maskToBox(mask)),
    predictedIou: 0.9,
    pointCoords: [[0, 0]],
    stabilityScore: 0.95,
    cropBox: [0, 0, mask.width, mask.height],
    maskIndex: 0,
  };
}

function classScores(table: ScoreTable, name: string): Float32Array {
  const c = table.classNames.indexOf(name);
  return table.scores.subarray(c * table.candidateCount, (c + 1) * table.candidateCount);
}

async function codeOf(promise: Promise<unknown>): Promise<{ code: SalipErrorCode | string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return isSalipError(error) ? { code: error.code, message: error.message } : { code: 'not a SalipError', message: String(error) };
  }
  return { code: 'no error', message: '' };
}

const W = 64;
const SQUARES: Square[] = [
  { x0: 4, y0: 4, x1: 20, y1: 20, colour: RED },
  { x0: 40, y0: 8, x1: 60, y1: 24, colour: GREEN },
  { x0: 10, y0: 40, x1: 30, y1: 60, colour: BLUE },
  { x0: 44, y0: 44, x1: 56, y1: 56, colour: RED },
  { x0: 30, y0: 28, x1: 40, y1: 38, colour: DARK_GREY },
];
const IMAGE = paint(W, W, SQUARES);
// Candidates: the four colour squares, the dark grey one, and a one-column line (zero-width XYWH box).
const CANDIDATES: MaskRecord[] = [...SQUARES.map((s) => record(rectMask(W, W, s))), record(rectMask(W, W, { x0: 62, y0: 30, x1: 63, y1: 40 }))];

describe('createClipTextScorer (fake CLIP towers, end to end)', () => {
  let backend: Backend;
  let clip: ClipModel;
  const runs: string[] = [];

  beforeAll(async () => {
    backend = nodeBackend();
    backend.onRun = (r) => runs.push(r.label);
    clip = await createClipModel(backend, { preset: 'hf', vision: fakeVisionTower(), text: fakeTextTower() });
  });
  afterAll(() => clip.dispose());

  const CLASSES: ClassSpec[] = [
    { name: 'red organ', prompts: ['a red organ', 'red'], topK: 2 },
    { name: 'green organ', prompts: ['a green organ'] },
    { name: 'blue organ', prompts: ['a blue organ', 'blue', 'a photo of a blue organ'] },
  ];

  it('ranks the matching colour first for every class, through batching, ensembles and top-k', async () => {
    const scorer = createClipTextScorer(clip, { batchSize: 2 });
    const table = await scorer.score({ image: IMAGE, candidates: CANDIDATES, classes: CLASSES });
    expect(table.classNames).toEqual(['red organ', 'green organ', 'blue organ']);
    expect(table.candidateCount).toBe(6);
    expect(table.scores.length).toBe(18);
    expect(topK(classScores(table, 'red organ'), 2).sort()).toEqual([0, 3]);
    expect(topK(classScores(table, 'green organ'), 1)).toEqual([1]);
    expect(topK(classScores(table, 'blue organ'), 1)).toEqual([2]);
  });

  it('scores 100 x cosine between the crop embedding and the normalised ensemble mean', async () => {
    const table = await createClipTextScorer(clip).score({ image: IMAGE, candidates: CANDIDATES.slice(0, 1), classes: CLASSES.slice(0, 1) });
    // Crop of the red square = pure red -> the fake image tower gives rgb / 255 - 0.5.
    const image = [0.5, -0.5, -0.5, 0];
    // "a red organ" -> (e0 + 0.1 e3) / 5, "red" -> e0 / 3; normalise each, average, normalise.
    const a = [1, 0, 0, 0.1].map((v) => v / Math.hypot(1, 0.1));
    const mean = a.map((v, k) => (v + (k === 0 ? 1 : 0)) / 2);
    const norm = (v: number[]) => v.map((x) => x / Math.hypot(...v));
    const expected = 100 * norm(image).reduce((s, v, k) => s + v * norm(mean)[k], 0);
    expect(table.scores[0]).toBeCloseTo(expected, 2);
  });

  it('gives NaN to a candidate with a zero-area box, which ranks last', async () => {
    const table = await createClipTextScorer(clip).score({ image: IMAGE, candidates: CANDIDATES, classes: CLASSES });
    for (const cls of CLASSES) {
      const scores = classScores(table, cls.name);
      expect(Number.isNaN(scores[5])).toBe(true);
      expect(scores.slice(0, 5).every(Number.isFinite)).toBe(true);
      expect(topK(scores, 6)[5]).toBe(5);
    }
  });

  it('embeds each prompt ensemble once (cached by its sentences)', async () => {
    const scorer = createClipTextScorer(clip, { batchSize: 16 });
    runs.length = 0;
    await scorer.score({ image: IMAGE, candidates: CANDIDATES, classes: CLASSES });
    expect(runs.filter((r) => r === 'CLIP text').length).toBe(3);
    expect(runs.filter((r) => r === 'CLIP vision').length).toBe(1);
    runs.length = 0;
    const renamed = CLASSES.map((c) => ({ ...c, name: `again ${c.name}`, prompts: [...c.prompts!] }));
    await scorer.score({ image: IMAGE, candidates: CANDIDATES, classes: renamed });
    expect(runs.filter((r) => r === 'CLIP text').length).toBe(0);
  });

  it('works with every visual prompt mode and with the built-in ensembles', async () => {
    for (const mode of ['crops', 'crop_expand', 'bbox', 'reverse_box_mask', 'contour'] as const) {
      const table = await createClipTextScorer(clip, { mode }).score({
        image: IMAGE,
        candidates: CANDIDATES.slice(0, 3),
        classes: [{ name: 'lungs', prompts: [...PROMPT_ENSEMBLES.lungs] }],
      });
      expect(table.scores.length).toBe(3);
      // The built-in ensembles contain no colour word: the fake text tower maps them to zero -> cosine 0.
      expect(Array.from(table.scores)).toEqual([0, 0, 0]);
    }
  });

  it('rejects a class without prompts, naming it', async () => {
    const result = await codeOf(createClipTextScorer(clip).score({ image: IMAGE, candidates: CANDIDATES, classes: [{ name: 'liver' }] }));
    expect(result.code).toBe('INVALID_TASK');
    expect(result.message).toMatch(/class 'liver'/);
  });

  it('stops on an aborted signal', async () => {
    const controller = new AbortController();
    controller.abort();
    const result = await codeOf(createClipTextScorer(clip).score({ image: IMAGE, candidates: CANDIDATES, classes: [{ name: 'x', prompts: ['a red organ'] }], signal: controller.signal }));
    expect(result.code).toBe('ABORTED');
  });
});

describe('PROMPT_ENSEMBLES', () => {
  it('has 5-8 distinct sentences for lungs, fetal head and brain', () => {
    for (const name of ['lungs', 'fetal-head', 'brain'] as const) {
      const ensemble = PROMPT_ENSEMBLES[name];
      expect(ensemble.length).toBeGreaterThanOrEqual(5);
      expect(ensemble.length).toBeLessThanOrEqual(8);
      expect(new Set(ensemble).size).toBe(ensemble.length);
    }
  });
});

/**
 * A SamModel stand-in whose "embedding" is the mean colour (0..1) of each 16 x 16 cell of a
 * 64 x 64 frame, for images up to 64 px at scale 1 (so pooling and contrast are easy to predict).
 */
function colourSam(): SamModel & { embedCalls: number } {
  const sam = {
    embedCalls: 0,
    info: { preset: 'custom', supportsMultimask: false, supportsPoints: true },
    async embed(image: RgbImage): Promise<SamImageEmbedding> {
      sam.embedCalls++;
      const grid = 4;
      const cell = 16;
      const data = new Float32Array(3 * grid * grid);
      for (let gy = 0; gy < grid; gy++) {
        for (let gx = 0; gx < grid; gx++) {
          for (let c = 0; c < 3; c++) {
            let sum = 0;
            for (let y = gy * cell; y < (gy + 1) * cell; y++) {
              for (let x = gx * cell; x < (gx + 1) * cell; x++) {
                if (x < image.width && y < image.height) sum += image.data[(y * image.width + x) * 3 + c] / 255;
              }
            }
            data[c * grid * grid + gy * grid + gx] = sum / (cell * cell);
          }
        }
      }
      return {
        data,
        dims: [1, 3, grid, grid],
        transform: { inputSize: 64, scaleX: 1, scaleY: 1, resizedWidth: image.width, resizedHeight: image.height, imageWidth: image.width, imageHeight: image.height },
      };
    },
    async decode(): Promise<never> {
      throw new Error('not used');
    },
    async dispose() {},
  };
  return sam;
}

describe('createExemplarScorer', () => {
  // Squares aligned to the 16 px cells of the stand-in SAM.
  const target: Square[] = [
    { x0: 0, y0: 0, x1: 16, y1: 16, colour: RED },
    { x0: 32, y0: 16, x1: 48, y1: 32, colour: GREEN },
    { x0: 16, y0: 48, x1: 32, y1: 64, colour: BLUE },
  ];
  const image = paint(64, 64, target);
  const candidates = [...target.map((s) => record(rectMask(64, 64, s))), record(rectMask(64, 64, { x0: 48, y0: 48, x1: 64, y1: 64 }))];
  const redExemplar = { image: paint(48, 48, [{ x0: 16, y0: 16, x1: 32, y1: 32, colour: RED }]), mask: rectMask(48, 48, { x0: 16, y0: 16, x1: 32, y1: 32 }) };
  const greenExemplar = { image: paint(64, 32, [{ x0: 0, y0: 16, x1: 16, y1: 32, colour: GREEN }]), mask: rectMask(64, 32, { x0: 0, y0: 16, x1: 16, y1: 32 }) };

  it.each(['region+context', 'region'] as const)('ranks the candidate that looks like the exemplars first (%s)', async (similarity) => {
    const sam = colourSam();
    const embedding = await sam.embed(image);
    // Plain features and no stability prior, so the scores are the cosines this test predicts.
    const scorer = createExemplarScorer(sam, { red: [redExemplar], green: [greenExemplar] }, { similarity, contrast: 'none', stabilityWeight: 0 });
    const table = await scorer.score({ image, embedding, candidates, classes: [{ name: 'red' }, { name: 'green' }] });
    expect(table.classNames).toEqual(['red', 'green']);
    expect(topK(classScores(table, 'red'), 1)).toEqual([0]);
    expect(topK(classScores(table, 'green'), 1)).toEqual([1]);
    // The red candidate's feature points the same way as the red exemplar's. Their context (black)
    // pools to a zero vector, whose cosine is 0, so the context half adds nothing.
    expect(classScores(table, 'red')[0]).toBeCloseTo(similarity === 'region' ? 100 : 50, 3);
  });

  it('weighs the context cosine by contextShare (0 scores the region alone)', async () => {
    const sam = colourSam();
    const embedding = await sam.embed(image);
    const exemplars = { red: [redExemplar], green: [greenExemplar] };
    const scores = async (contextShare: number) => {
      const scorer = createExemplarScorer(sam, exemplars, { contrast: 'none', stabilityWeight: 0, contextShare });
      return { name: scorer.name, red: classScores(await scorer.score({ image, embedding, candidates, classes: [{ name: 'red' }, { name: 'green' }] }), 'red') };
    };
    // Region cosine 1, context cosine 0 (see above): the score is 100 x the region's share.
    expect((await scores(0.25)).red[0]).toBeCloseTo(75, 3);
    expect((await scores(0.25)).name).toContain(':context0.25');
    expect((await scores(0.5)).name).not.toContain(':context');
    const region = createExemplarScorer(sam, exemplars, { similarity: 'region', contrast: 'none', stabilityWeight: 0 });
    const regionScores = classScores(await region.score({ image, embedding, candidates, classes: [{ name: 'red' }, { name: 'green' }] }), 'red');
    Array.from((await scores(0)).red).forEach((v, i) => expect(v).toBeCloseTo(regionScores[i], 4));
    expect(() => createExemplarScorer(sam, exemplars, { contextShare: 1.5 })).toThrow(/contextShare: expected a number 0..1, got 1.5/);
  });

  it("'image-mean' contrast subtracts the image's mean feature from region and context", async () => {
    const sam = colourSam();
    // Target: red left half, green right half (mean colour (0.5, 0.5, 0)); the red half minus the
    // mean is (0.5, -0.5, 0). Exemplar: the same layout, so the prototype is that direction too.
    const halves = paint(64, 64, [{ x0: 0, y0: 0, x1: 32, y1: 64, colour: RED }, { x0: 32, y0: 0, x1: 64, y1: 64, colour: GREEN }]);
    const leftHalf = rectMask(64, 64, { x0: 0, y0: 0, x1: 32, y1: 64 });
    const embedding = await sam.embed(halves);
    const scorer = createExemplarScorer(sam, { red: [{ image: halves, mask: leftHalf }] }, { similarity: 'region', contrast: 'image-mean', stabilityWeight: 0 });
    expect(scorer.name).toBe('exemplar:region:image-mean:stability0');
    const table = await scorer.score({ image: halves, embedding, candidates: [record(leftHalf), record(rectMask(64, 64, { x0: 32, y0: 0, x1: 64, y1: 64 }))], classes: [{ name: 'red' }] });
    // Left half: same direction (100). Right half minus the mean is (-0.5, 0.5, 0): opposite (-100).
    expect(table.scores[0]).toBeCloseTo(100, 3);
    expect(table.scores[1]).toBeCloseTo(-100, 3);
  });

  it('defaults to image-mean contrast with a stability prior of 10 points per unit of SAM stability', async () => {
    const sam = colourSam();
    const halves = paint(64, 64, [{ x0: 0, y0: 0, x1: 32, y1: 64, colour: RED }, { x0: 32, y0: 0, x1: 64, y1: 64, colour: GREEN }]);
    const leftHalf = rectMask(64, 64, { x0: 0, y0: 0, x1: 32, y1: 64 });
    const embedding = await sam.embed(halves);
    const scorer = createExemplarScorer(sam, { red: [{ image: halves, mask: leftHalf }] }, { similarity: 'region' });
    expect(scorer.name).toBe('exemplar:region:image-mean:stability10');
    // Two candidates with the same pixels: the one SAM is surer of wins by 10 x the stability gap.
    const sure = { ...record(leftHalf), stabilityScore: 0.9 };
    const unsure = { ...record(leftHalf), stabilityScore: 0.4 };
    const unknown = { ...record(leftHalf), stabilityScore: Number.NaN };
    const table = await scorer.score({ image: halves, embedding, candidates: [unsure, sure, unknown], classes: [{ name: 'red' }] });
    expect(table.scores[0]).toBeCloseTo(100 + 4, 3);
    expect(table.scores[1]).toBeCloseTo(100 + 9, 3);
    // A hand-made record without a stability score gets no prior (and no NaN).
    expect(table.scores[2]).toBeCloseTo(100, 3);
    expect(topK(table.scores, 1)).toEqual([1]);
  });

  it('adds the location prior: weight x exemplar box consistency x agreement with their mean box', async () => {
    const sam = colourSam();
    const halves = paint(64, 64, [{ x0: 0, y0: 0, x1: 32, y1: 64, colour: RED }, { x0: 32, y0: 0, x1: 64, y1: 64, colour: GREEN }]);
    const leftHalf = rectMask(64, 64, { x0: 0, y0: 0, x1: 32, y1: 64 });
    const leftTop = rectMask(64, 64, { x0: 0, y0: 0, x1: 32, y1: 32 });
    const embedding = await sam.embed(halves);
    const exemplars = { red: [{ image: halves, mask: leftHalf }, { image: halves, mask: leftTop }] };
    const plain = createExemplarScorer(sam, exemplars, { similarity: 'region', stabilityWeight: 0 });
    const located = createExemplarScorer(sam, exemplars, { similarity: 'region', stabilityWeight: 0, locationWeight: 30 });
    expect(located.name).toBe('exemplar:region:image-mean:stability0:location30');
    const candidates = [record(leftHalf), record(rectMask(64, 64, { x0: 0, y0: 48, x1: 16, y1: 64 }))];
    const a = await plain.score({ image: halves, embedding, candidates, classes: [{ name: 'red' }] });
    const b = await located.score({ image: halves, embedding, candidates, classes: [{ name: 'red' }] });
    // Exemplar boxes: [0, 0, 0.5, 1] and [0, 0, 0.5, 0.5] -> consistency 0.5, mean box [0, 0, 0.5, 0.75].
    // The left half agrees with the mean box by IoU 0.75; the corner candidate, [0, 0.75, 0.25, 1],
    // only touches it along an edge (IoU 0) and gets nothing.
    expect(b.scores[0] - a.scores[0]).toBeCloseTo(30 * 0.5 * 0.75, 4);
    expect(b.scores[1] - a.scores[1]).toBeCloseTo(0, 4);
    expect(() => createExemplarScorer(sam, {}, { locationWeight: -2 })).toThrow(/locationWeight/);
  });

  it('adds the shape prior: weight x soft IoU of the box-normalised candidate mask with the exemplar parts', async () => {
    const sam = colourSam();
    const halves = paint(64, 64, [{ x0: 0, y0: 0, x1: 32, y1: 64, colour: RED }, { x0: 32, y0: 0, x1: 64, y1: 64, colour: GREEN }]);
    const leftHalf = rectMask(64, 64, { x0: 0, y0: 0, x1: 32, y1: 64 });
    const embedding = await sam.embed(halves);
    const exemplars = { red: [{ image: halves, mask: leftHalf }] };
    const plain = createExemplarScorer(sam, exemplars, { similarity: 'region', stabilityWeight: 0 });
    const shaped = createExemplarScorer(sam, exemplars, { similarity: 'region', stabilityWeight: 0, shapeWeight: 20 });
    expect(shaped.name).toBe('exemplar:region:image-mean:stability0:shape20');
    // A filled rectangle anywhere, at any size, has the exemplar's shape (a filled box); an L of
    // two bars in its box fills only part of it, and the prior gives it that share.
    const small = rectMask(64, 64, { x0: 4, y0: 4, x1: 12, y1: 20 });
    const l = rectMask(64, 64, { x0: 0, y0: 0, x1: 8, y1: 32 });
    for (let y = 24; y < 32; y++) for (let x = 0; x < 32; x++) l.data[y * 64 + x] = 1;
    const candidates = [record(small), record(l)];
    const a = await plain.score({ image: halves, embedding, candidates, classes: [{ name: 'red' }] });
    const b = await shaped.score({ image: halves, embedding, candidates, classes: [{ name: 'red' }] });
    expect(b.scores[0] - a.scores[0]).toBeCloseTo(20, 4);
    const lFill = (8 * 32 + 24 * 8) / (32 * 32);
    expect(b.scores[1] - a.scores[1]).toBeCloseTo(20 * lFill, 1);
    expect(() => createExemplarScorer(sam, {}, { shapeWeight: Number.NaN })).toThrow(/shapeWeight/);
  });

  it('adds the boundary prior: weight x agreement of the outline contrast with the exemplars\u2019', async () => {
    const sam = colourSam();
    // A red square (luma 76) inside a green frame (luma 150) on dark grey (luma 40): the frame's
    // outline is bright inside, dark outside; the square's is dark inside, bright outside.
    const image = paint(64, 64, [
      { x0: 0, y0: 0, x1: 64, y1: 64, colour: DARK_GREY },
      { x0: 8, y0: 8, x1: 40, y1: 40, colour: GREEN },
      { x0: 12, y0: 12, x1: 36, y1: 36, colour: RED },
    ]);
    const square = rectMask(64, 64, { x0: 12, y0: 12, x1: 36, y1: 36 });
    const framed = rectMask(64, 64, { x0: 8, y0: 8, x1: 40, y1: 40 });
    const embedding = await sam.embed(image);
    const exemplars = { red: [{ image, mask: framed }] };
    const plain = createExemplarScorer(sam, exemplars, { similarity: 'region', stabilityWeight: 0 });
    const bounded = createExemplarScorer(sam, exemplars, { similarity: 'region', stabilityWeight: 0, boundaryWeight: 25 });
    expect(bounded.name).toBe('exemplar:region:image-mean:stability0:boundary25');
    const candidates = [record(framed), record(square)];
    const a = await plain.score({ image, embedding, candidates, classes: [{ name: 'red' }] });
    const b = await bounded.score({ image, embedding, candidates, classes: [{ name: 'red' }] });
    // The exemplar's own mask agrees fully; the square's edge (red inside, green outside) has the
    // opposite contrast of the exemplar's (green inside, grey outside) and gets almost nothing.
    expect(b.scores[0] - a.scores[0]).toBeCloseTo(25, 4);
    expect(b.scores[1] - a.scores[1]).toBeLessThan(1);
    expect(() => createExemplarScorer(sam, {}, { boundaryWeight: -1 })).toThrow(/boundaryWeight/);
  });

  it('adds the edge prior: weight x log2 of the outline edge strength over the exemplars\u2019, clamped', async () => {
    const sam = colourSam();
    // A red organ (20..44) on flat green: the organ's outline lies on the colour edge; a leak into
    // the green (20..44 x 20..60) has a third of its outline in flat green.
    const image = paint(64, 64, [
      { x0: 0, y0: 0, x1: 64, y1: 64, colour: GREEN },
      { x0: 20, y0: 20, x1: 44, y1: 44, colour: RED },
    ]);
    const organ = rectMask(64, 64, { x0: 20, y0: 20, x1: 44, y1: 44 });
    const leak = rectMask(64, 64, { x0: 20, y0: 20, x1: 44, y1: 60 });
    const embedding = await sam.embed(image);
    const exemplars = { red: [{ image, mask: organ }] };
    const plain = createExemplarScorer(sam, exemplars, { similarity: 'region', stabilityWeight: 0 });
    const edged = createExemplarScorer(sam, exemplars, { similarity: 'region', stabilityWeight: 0, edgeWeight: 20 });
    expect(edged.name).toBe('exemplar:region:image-mean:stability0:edge20');
    const candidates = [record(organ), record(leak)];
    const a = await plain.score({ image, embedding, candidates, classes: [{ name: 'red' }] });
    const b = await edged.score({ image, embedding, candidates, classes: [{ name: 'red' }] });
    // The exemplar's own outline: ratio 1, nothing added. The leak's: weaker, so it loses.
    expect(b.scores[0]).toBeCloseTo(a.scores[0], 4);
    expect(b.scores[1] - a.scores[1]).toBeLessThan(-5);
    expect(b.scores[1] - a.scores[1]).toBeGreaterThanOrEqual(-20);
    expect(() => createExemplarScorer(sam, {}, { edgeWeight: Number.POSITIVE_INFINITY })).toThrow(/edgeWeight/);
  });

  /** A red elliptical organ on flat green, the exemplar of itself; a leak adds a strip of green to its right. */
  async function leakedEllipseScene() {
    const sam = colourSam();
    const organ = ellipseMask({ cx: 30, cy: 32, semiMajor: 16, semiMinor: 11, angle: 0.3 }, 64, 64);
    const data = new Uint8Array(64 * 64 * 3);
    for (let i = 0; i < 64 * 64; i++) data.set(organ.data[i] ? RED : GREEN, 3 * i);
    const image: RgbImage = { width: 64, height: 64, data };
    const leak = createMask(64, 64, Uint8Array.from(organ.data));
    for (let y = 26; y < 40; y++) for (let x = 40; x < 62; x++) leak.data[y * 64 + x] = 1;
    const embedding = await sam.embed(image);
    return { sam, organ, leak, image, embedding, exemplars: { red: [{ image, mask: organ }] } };
  }

  it('ellipseWeight: a candidate less its own edge-supported ellipse than the exemplars are loses weight x the shortfall', async () => {
    const { sam, organ, leak, image, embedding, exemplars } = await leakedEllipseScene();
    const candidates = [record(organ), record(leak)];
    const plain = await createExemplarScorer(sam, exemplars, { stabilityWeight: 0 }).score({ image, embedding, candidates, classes: [{ name: 'red' }] });
    const scorer = createExemplarScorer(sam, exemplars, { stabilityWeight: 0, ellipseWeight: 100 });
    expect(scorer.name).toMatch(/:ellipse100$/);
    const b = await scorer.score({ image, embedding, candidates, classes: [{ name: 'red' }] });
    // The organ is the exemplar: no shortfall. The leak's stronger outline half is the organ's, whose ellipse leaves the strip out.
    expect(b.scores[0]).toBeCloseTo(plain.scores[0], 4);
    const edges = edgeMap(luminanceOf(image));
    const shortfall = ellipseConsistency(organ, edges) - ellipseConsistency(leak, edges);
    expect(shortfall).toBeGreaterThan(0.15);
    expect(plain.scores[1] - b.scores[1]).toBeCloseTo(100 * shortfall, 3);
    expect(() => createExemplarScorer(sam, {}, { ellipseWeight: -1 })).toThrow(/ellipseWeight/);
  });

  it('ellipseGate: the ellipse term applies on an image only when the top candidate of the other cues falls short by more than the gate', async () => {
    const { sam, organ, leak, image, embedding, exemplars } = await leakedEllipseScene();
    // Stability decides the top candidate without the ellipse term: the organ (1) over the leak (0).
    const tight = { ...record(organ), stabilityScore: 1 };
    const leaky = { ...record(leak), stabilityScore: 0 };
    const options = { stabilityWeight: 50 };
    const score = (o: object, candidates: MaskRecord[]) => createExemplarScorer(sam, exemplars, { ...options, ...o }).score({ image, embedding, candidates, classes: [{ name: 'red' }] });
    const plain = await score({}, [tight, leaky]);
    expect(plain.scores[0]).toBeGreaterThan(plain.scores[1]);
    const gatedScorer = createExemplarScorer(sam, exemplars, { ...options, ellipseWeight: 100, ellipseGate: 0.1 });
    expect(gatedScorer.name).toMatch(/:ellipse100:gate0.1$/);
    // The organ leads and is as much an ellipse as the exemplar: the term stays off for every candidate.
    const gated = await gatedScorer.score({ image, embedding, candidates: [tight, leaky], classes: [{ name: 'red' }] });
    expect(Array.from(gated.scores)).toEqual(Array.from(plain.scores));
    // Only the leak: it leads, falls short by more than 0.1, and the term applies as ungated.
    const ungatedLeak = await score({ ellipseWeight: 100 }, [leaky]);
    const gatedLeak = await score({ ellipseWeight: 100, ellipseGate: 0.1 }, [leaky]);
    expect(gatedLeak.scores[0]).toBeCloseTo(ungatedLeak.scores[0], 4);
    expect((await score({}, [leaky])).scores[0] - gatedLeak.scores[0]).toBeGreaterThan(15);
    // A gate wider than the leak's shortfall keeps the term off for it too.
    expect((await score({ ellipseWeight: 100, ellipseGate: 0.9 }, [leaky])).scores[0]).toBeCloseTo((await score({}, [leaky])).scores[0], 4);
    expect(() => createExemplarScorer(sam, {}, { ellipseGate: 2 })).toThrow(/ellipseGate/);
  });

  it('peerEdgeWeight: an outline weaker than the share of the image\'s strongest candidate outline costs weight x the gap', async () => {
    const { sam, organ, leak, image, embedding, exemplars } = await leakedEllipseScene();
    const candidates = [record(organ), record(leak)];
    const plain = await createExemplarScorer(sam, exemplars, { stabilityWeight: 0 }).score({ image, embedding, candidates, classes: [{ name: 'red' }] });
    const scorer = createExemplarScorer(sam, exemplars, { stabilityWeight: 0, peerEdgeWeight: 100, peerEdgeShare: 0.9 });
    expect(scorer.name).toMatch(/:peeredge100:0.9$/);
    const b = await scorer.score({ image, embedding, candidates, classes: [{ name: 'red' }] });
    // The organ's outline is all on its edge: the strongest, no cost. The leak's strip runs over flat green.
    const edges = edgeMap(luminanceOf(image));
    const ratio = outlineEdgeStrength(leak, edges) / outlineEdgeStrength(organ, edges);
    expect(ratio).toBeLessThan(0.8);
    expect(b.scores[0]).toBeCloseTo(plain.scores[0], 4);
    expect(plain.scores[1] - b.scores[1]).toBeCloseTo(100 * (0.9 - ratio), 3);
    // Alone in the image the leak is its own strongest outline: nothing to compare with.
    const alone = await scorer.score({ image, embedding, candidates: [record(leak)], classes: [{ name: 'red' }] });
    expect(alone.scores[0]).toBeCloseTo(plain.scores[1], 4);
    expect(() => createExemplarScorer(sam, {}, { peerEdgeWeight: -1 })).toThrow(/peerEdgeWeight/);
    expect(() => createExemplarScorer(sam, {}, { peerEdgeShare: 1.5 })).toThrow(/peerEdgeShare/);
  });

  it('minPartRatio: a candidate under that fraction of the smallest exemplar part loses SMALL_PART_PENALTY', async () => {
    const sam = colourSam();
    const image = paint(64, 64, [
      { x0: 0, y0: 0, x1: 64, y1: 64, colour: GREEN },
      { x0: 16, y0: 16, x1: 48, y1: 48, colour: RED },
    ]);
    const organ = rectMask(64, 64, { x0: 16, y0: 16, x1: 48, y1: 48 }); // 1024 px
    const speck = rectMask(64, 64, { x0: 30, y0: 30, x1: 38, y1: 38 }); // 64 px: 1/16 of the organ
    const part = rectMask(64, 64, { x0: 16, y0: 16, x1: 48, y1: 32 }); // 512 px: half
    const embedding = await sam.embed(image);
    const exemplars = { red: [{ image, mask: organ }] };
    const candidates = [record(organ), record(speck), record(part)];
    const plain = await createExemplarScorer(sam, exemplars, { stabilityWeight: 0 }).score({ image, embedding, candidates, classes: [{ name: 'red' }] });
    const floored = createExemplarScorer(sam, exemplars, { stabilityWeight: 0, minPartRatio: 0.125 });
    expect(floored.name).toMatch(/:minpart0.125$/);
    const b = await floored.score({ image, embedding, candidates, classes: [{ name: 'red' }] });
    expect(b.scores[0]).toBeCloseTo(plain.scores[0], 4);
    expect(plain.scores[1] - b.scores[1]).toBeCloseTo(SMALL_PART_PENALTY, 4);
    expect(b.scores[2]).toBeCloseTo(plain.scores[2], 4);
    expect(() => createExemplarScorer(sam, {}, { minPartRatio: 2 })).toThrow(/minPartRatio/);
  });

  it('the context term prefers the whole organ to a part of it', async () => {
    const sam = colourSam();
    // Exemplar: a red 2 x 2-cell organ on blue. Target: a red 3 x 3-cell organ on blue; candidates are
    // the whole organ and its centre cell, which look the same inside (pure red).
    const exemplar = { image: paint(64, 64, [{ x0: 0, y0: 0, x1: 64, y1: 64, colour: BLUE }, { x0: 0, y0: 0, x1: 32, y1: 32, colour: RED }]), mask: rectMask(64, 64, { x0: 0, y0: 0, x1: 32, y1: 32 }) };
    const target = paint(64, 64, [{ x0: 0, y0: 0, x1: 64, y1: 64, colour: BLUE }, { x0: 0, y0: 0, x1: 48, y1: 48, colour: RED }]);
    const embedding = await sam.embed(target);
    const candidates = [record(rectMask(64, 64, { x0: 16, y0: 16, x1: 32, y1: 32 })), record(rectMask(64, 64, { x0: 0, y0: 0, x1: 48, y1: 48 }))];
    const withContext = await createExemplarScorer(sam, { organ: [exemplar] }, { contextCells: 1, contrast: 'none', stabilityWeight: 0 }).score({ image: target, embedding, candidates, classes: [{ name: 'organ' }] });
    // Whole organ: red inside, blue around, like the exemplar -> 50 * (1 + 1). Part: red around -> 50 * (1 + 0).
    expect(withContext.scores[1]).toBeCloseTo(100, 3);
    expect(withContext.scores[0]).toBeCloseTo(50, 3);
    const regionOnly = await createExemplarScorer(sam, { organ: [exemplar] }, { similarity: 'region', contrast: 'none', stabilityWeight: 0 }).score({ image: target, embedding, candidates, classes: [{ name: 'organ' }] });
    expect(Array.from(regionOnly.scores).map((v) => Math.round(v))).toEqual([100, 100]);
  });

  it('takes exemplars from the class spec too, and embeds each exemplar image once', async () => {
    const sam = colourSam();
    const embedding = await sam.embed(image);
    sam.embedCalls = 0;
    const blueExemplars = [
      { image: paint(32, 32, [{ x0: 0, y0: 0, x1: 16, y1: 16, colour: BLUE }]), mask: rectMask(32, 32, { x0: 0, y0: 0, x1: 16, y1: 16 }) },
      { image: paint(32, 32, [{ x0: 16, y0: 16, x1: 32, y1: 32, colour: BLUE }]), mask: rectMask(32, 32, { x0: 16, y0: 16, x1: 32, y1: 32 }) },
    ];
    const classes: ClassSpec[] = [{ name: 'blue', exemplars: blueExemplars }];
    const scorer = createExemplarScorer(sam);
    const first = await scorer.score({ image, embedding, candidates, classes });
    await scorer.score({ image, embedding, candidates, classes });
    expect(sam.embedCalls).toBe(2);
    expect(topK(first.scores, 1)).toEqual([2]);
  });

  it('needs the image embedding, exemplars for every class, and non-empty exemplar masks', async () => {
    const sam = colourSam();
    const embedding = await sam.embed(image);
    const scorer = createExemplarScorer(sam, { red: [redExemplar] });
    expect((await codeOf(scorer.score({ image, candidates, classes: [{ name: 'red' }] }))).code).toBe('INVALID_ARGUMENT');
    expect(() => createExemplarScorer(sam, {}, { contextCells: 0 })).toThrow(/contextCells/);
    expect(() => createExemplarScorer(sam, {}, { contextCells: 17 })).toThrow(/contextCells: expected an integer >= 1 <= 16, got 17/);
    expect(() => createExemplarScorer(sam, {}, { contrast: 'mean' as 'none' })).toThrow(/contrast/);
    expect(() => createExemplarScorer(sam, {}, { stabilityWeight: -1 })).toThrow(/stabilityWeight/);
    expect(() => createExemplarScorer(sam, {}, { stabilityWeight: Number.NaN })).toThrow(/stabilityWeight/);
    const missing = await codeOf(scorer.score({ image, embedding, candidates, classes: [{ name: 'liver' }] }));
    expect(missing.code).toBe('INVALID_TASK');
    expect(missing.message).toMatch(/class 'liver'/);
    const empty = [{ image: redExemplar.image, mask: createMask(48, 48) }];
    expect((await codeOf(scorer.score({ image, embedding, candidates, classes: [{ name: 'e', exemplars: empty }] }))).code).toBe('INVALID_TASK');
    const wrongSize = [{ image: redExemplar.image, mask: createMask(10, 10) }];
    expect((await codeOf(scorer.score({ image, embedding, candidates, classes: [{ name: 'w', exemplars: wrongSize }] }))).code).toBe('SIZE_MISMATCH');
  });

  describe('pointAffinity', () => {
    // Left half red, right half green; the stand-in grid has 4 x 4 cells of 16 px, and a point's
    // window is its cell and the neighbours (3 x 3, clipped).
    const halves = paint(64, 64, [{ x0: 0, y0: 0, x1: 32, y1: 64, colour: RED }, { x0: 32, y0: 0, x1: 64, y1: 64, colour: GREEN }]);
    const points = Float32Array.of(8, 32, 56, 32, 32, 8);

    it('is the cosine between the window around each point and the closest class prototype', async () => {
      const sam = colourSam();
      const embedding = await sam.embed(halves);
      const scorer = createExemplarScorer(sam, { red: [redExemplar], green: [greenExemplar] }, { contrast: 'none' });
      const red = await scorer.pointAffinity!({ embedding, classes: [{ name: 'red' }] }, points);
      // Left point: columns 0-1, all red -> 1. Right point: columns 2-3, all green -> 0. Top
      // middle point (cell column 2): columns 1-3 -> 1/3 red, 2/3 green -> cos = 1 / sqrt(5).
      expect(Array.from(red).map((v) => +v.toFixed(5))).toEqual([1, 0, +(1 / Math.sqrt(5)).toFixed(5)]);
      const both = await scorer.pointAffinity!({ embedding, classes: [{ name: 'red' }, { name: 'green' }] }, points);
      expect(Array.from(both).map((v) => +v.toFixed(5))).toEqual([1, 1, +(2 / Math.sqrt(5)).toFixed(5)]);
    });

    it("under 'image-mean' contrast, ranks the points on the class above the others and shares the prototypes with score()", async () => {
      const sam = colourSam();
      const embedding = await sam.embed(halves);
      const leftHalf = rectMask(64, 64, { x0: 0, y0: 0, x1: 32, y1: 64 });
      const scorer = createExemplarScorer(sam, {}, { contrast: 'image-mean' });
      const classes = [{ name: 'red', exemplars: [{ image: halves, mask: leftHalf }] }];
      const affinity = await scorer.pointAffinity!({ embedding, classes }, points);
      expect(affinity[0]).toBeCloseTo(1, 5);
      expect(affinity[1]).toBeCloseTo(-1, 5);
      const embeds = sam.embedCalls;
      await scorer.score({ image: halves, embedding, candidates: [record(leftHalf)], classes });
      expect(sam.embedCalls).toBe(embeds);
    });

    it('needs the embedding, x/y pairs and exemplars for every class', async () => {
      const sam = colourSam();
      const embedding = await sam.embed(halves);
      const scorer = createExemplarScorer(sam, { red: [redExemplar] });
      expect((await codeOf(scorer.pointAffinity!({ classes: [{ name: 'red' }] } as never, points))).code).toBe('INVALID_ARGUMENT');
      const odd = await codeOf(scorer.pointAffinity!({ embedding, classes: [{ name: 'red' }] }, Float32Array.of(1, 2, 3)));
      expect(odd.code).toBe('INVALID_ARGUMENT');
      expect(odd.message).toContain('x, y pairs');
      const missing = await codeOf(scorer.pointAffinity!({ embedding, classes: [{ name: 'liver' }] }, points));
      expect(missing.code).toBe('INVALID_TASK');
      expect(missing.message).toContain('liver');
    });
  });
});
