/**
 * Volume propagation on a synthetic volume with a SAM stand-in that looks at the pixels (a box
 * prompt gives the bright pixels in and around the box): the cascade runs on the middle slice only,
 * every other slice of the organ is carried, the slices past the organ's ends are empty without
 * any model call, a carried mask that suddenly grows makes the cascade run again, and two runs
 * give the same volume.
 */
import { describe, expect, it } from 'vitest';
import { createMask, decodeRle } from '../../src/core/mask.js';
import type { BinaryMask, RgbImage } from '../../src/core/types.js';
import type { Salip } from '../../src/pipeline/salip.js';
import type { Scorer } from '../../src/pipeline/scorers.js';
import type { SalipTask } from '../../src/pipeline/tasks.js';
import type { SamDecodeResult, SamImageEmbedding, SamModel, SamPrompt } from '../../src/pipeline/types.js';
import { carriedBox } from '../../src/pipeline/volume-propagation.js';
import { segmentVolume } from '../../src/pipeline/volume.js';

const N = 48;
const DEPTH = 40;
const TASK: SalipTask = { name: 'bright', classes: [{ name: 'organ', prompts: ['a bright organ'], topK: 1 }] };

/**
 * A bright ellipsoid over z in [8, 31] (radius largest at z = 20), grey elsewhere; `blob` adds a big
 * bright square on one slice; `cap` a disc above the organ (z > 31) that is bright enough for SAM
 * (160) but is not the organ (the stand-in scorer counts only pixels of the organ's 220).
 */
function phantom(blob?: number, cap = false): { dims: [number, number, number]; data: Float32Array; truth: Uint8Array } {
  const data = new Float32Array(N * N * DEPTH).fill(40);
  const truth = new Uint8Array(N * N * DEPTH);
  for (let z = 0; z < DEPTH; z++) {
    const r = z >= 8 && z <= 31 ? 16 * Math.sqrt(Math.max(0, 1 - ((z - 20) / 12.5) ** 2)) : 0;
    for (let y = 0; y < N; y++) {
      for (let x = 0; x < N; x++) {
        const i = z * N * N + y * N + x;
        const inside = (x - 24) ** 2 + (y - 24) ** 2 < r * r || (z === blob && x >= 4 && x < 44 && y >= 4 && y < 44);
        if (inside) {
          data[i] = 220;
          truth[i] = 1;
        } else if (cap && z > 31 && (x - 24) ** 2 + (y - 24) ** 2 < 36) data[i] = 160;
      }
    }
  }
  data[0] = 0; // keeps the window's minimum at 0 whatever the slice
  return { dims: [N, N, DEPTH], data, truth };
}

/** A SAM stand-in: box prompts give the bright pixels in and around the box; records every call. */
function pixelSam(): SamModel & { decodes: number; embeds: number } {
  const images = new WeakMap<SamImageEmbedding, RgbImage>();
  const sam = {
    decodes: 0,
    embeds: 0,
    info: { preset: 'pixels', supportsMultimask: false, supportsPoints: false },
    async embed(image: RgbImage): Promise<SamImageEmbedding> {
      sam.embeds++;
      const scale = 1024 / Math.max(image.width, image.height);
      const embedding: SamImageEmbedding = {
        data: new Float32Array(1),
        dims: [1, 1, 1, 1],
        transform: { inputSize: 1024, scaleX: scale, scaleY: scale, resizedWidth: image.width * scale, resizedHeight: image.height * scale, imageWidth: image.width, imageHeight: image.height },
      };
      images.set(embedding, image);
      return embedding;
    },
    async decode(embedding: SamImageEmbedding, prompt: SamPrompt): Promise<SamDecodeResult> {
      sam.decodes++;
      const image = images.get(embedding)!;
      const t = embedding.transform;
      // A leaky SAM: bright pixels within the box widened by half its size per side.
      const [bx0, by0, bx1, by1] = prompt.box!;
      const [x0, y0, x1, y1] = [bx0 - (bx1 - bx0) / 2, by0 - (by1 - by0) / 2, bx1 + (bx1 - bx0) / 2, by1 + (by1 - by0) / 2];
      const logits = new Float32Array(256 * 256).fill(-8);
      for (let i = 0; i < 256; i++) {
        for (let j = 0; j < 256; j++) {
          const x = ((j + 0.5) * 4) / t.scaleX;
          const y = ((i + 0.5) * 4) / t.scaleY;
          if (x < x0 || x > x1 + 1 || y < y0 || y > y1 + 1 || x >= image.width || y >= image.height) continue;
          if (image.data[(Math.floor(y) * image.width + Math.floor(x)) * 3] > 128) logits[i * 256 + j] = 8;
        }
      }
      return { lowResLogits: [logits], iouPredictions: Float32Array.of(0.95), lowResSize: 256 };
    },
    async dispose() {},
  };
  return sam;
}

/** The stand-in's score: 100 when the mask holds organ pixels (220, 255 windowed), 0 when not (the cap's 160 is 185), NaN when empty. */
function organScore(image: RgbImage, mask: BinaryMask): number {
  let n = 0;
  for (let i = 0; i < mask.data.length; i++) {
    if (!mask.data[i]) continue;
    n++;
    if (image.data[i * 3] >= 240) return 100;
  }
  return n ? 0 : NaN;
}

/** A Salip stand-in whose cascade returns the slice's bright pixels (what the real one aims at). */
function pixelSalip(): Salip & { cascades: number; tasks: unknown[]; sam: ReturnType<typeof pixelSam> } {
  const sam = pixelSam();
  const salip = {
    sam,
    cascades: 0,
    tasks: [] as unknown[],
    async segment(image: RgbImage, task: unknown) {
      salip.cascades++;
      salip.tasks.push(task);
      const mask: BinaryMask = createMask(image.width, image.height);
      for (let i = 0; i < mask.data.length; i++) mask.data[i] = image.data[i * 3] > 128 ? 1 : 0;
      return { classes: { organ: { mask, chosen: [{ score: organScore(image, mask) }], parts: [] } } };
    },
    scorerFor: (): Scorer => ({
      name: 'organ-share',
      async score(ctx) {
        const scores = Float32Array.from(ctx.candidates, (c) => organScore(ctx.image, decodeRle(c.segmentation)));
        return { classNames: ctx.classes.map((c) => c.name), candidateCount: ctx.candidates.length, scores };
      },
    }),
  };
  return salip as unknown as Salip & { cascades: number; tasks: unknown[]; sam: ReturnType<typeof pixelSam> };
}

function zRange(mask: Uint8Array): [number, number] {
  const zs: number[] = [];
  for (let z = 0; z < DEPTH; z++) if (mask.subarray(z * N * N, (z + 1) * N * N).some((v) => v > 0)) zs.push(z);
  return [Math.min(...zs), Math.max(...zs)];
}

describe('segmentVolume with propagate', () => {
  it('runs the cascade on the middle slice only, carries the mask to both ends and stops there', async () => {
    const volume = phantom();
    const salip = pixelSalip();
    const result = await segmentVolume(salip, volume, TASK, { propagate: { step: 100, stride: 1 }, blankFraction: 0, orientation: {} });
    expect(salip.cascades).toBe(1);
    expect(result.slices[20]).toMatchObject({ index: 20, skipped: false, source: 'cascade' });
    expect(result.slices[21]).toMatchObject({ skipped: false, source: 'propagation', from: 20 });
    expect(result.slices[19]).toMatchObject({ skipped: false, source: 'propagation', from: 20 });
    expect(zRange(result.mask)).toEqual(zRange(volume.truth));
    // One empty carried mask per side ends the walk; the slices beyond cost no model call.
    expect(result.slices[7]).toMatchObject({ skipped: true, reason: 'organ-ended', source: 'propagation', from: 8 });
    expect(result.slices[0]).toEqual({ index: 0, skipped: true, reason: 'organ-ended' });
    expect(result.slices[39]).toEqual({ index: 39, skipped: true, reason: 'organ-ended' });
    expect(salip.sam.decodes).toBe(24 - 1 + 2);
    let agree = 0;
    for (let i = 0; i < volume.truth.length; i++) agree += volume.truth[i] === result.mask[i] ? 1 : 0;
    expect(agree / volume.truth.length).toBeGreaterThan(0.99);
  });

  it('runs the cascade on key slices every k from the middle, and where the carried mask grows too much', async () => {
    const salip = pixelSalip();
    const result = await segmentVolume(salip, phantom(25), TASK, { propagate: { step: 8, stride: 1 }, blankFraction: 0, orientation: {} });
    const cascaded = result.slices.filter((s) => s.source === 'cascade').map((s) => [s.index, s.rerun ?? 'key']);
    expect(cascaded).toEqual([
      [12, 'key'],
      [20, 'key'],
      [25, expect.stringMatching(/^area grew \d+\.\d\dx > 1.6x$/)],
      [28, 'key'],
    ]);
    expect(result.slices[26]).toMatchObject({ source: 'propagation', from: 25 });
  });

  it('gives the same volume and provenance twice', async () => {
    const a = await segmentVolume(pixelSalip(), phantom(), TASK, { propagate: true, blankFraction: 0, orientation: {} });
    const b = await segmentVolume(pixelSalip(), phantom(), TASK, { propagate: true, blankFraction: 0, orientation: {} });
    expect(Buffer.from(a.mask).equals(Buffer.from(b.mask))).toBe(true);
    expect(a.slices).toEqual(b.slices);
  });

  it('runs its cascades without refine.peelSurroundings (carried masks keep what the peel removes); slice by slice keeps it', async () => {
    const peeling: SalipTask = { ...TASK, refine: { peelSurroundings: true, fillHoles: true } };
    const propagated = pixelSalip();
    await segmentVolume(propagated, phantom(25), peeling, { propagate: { step: 8, stride: 1 }, blankFraction: 0, orientation: {} });
    expect(propagated.tasks.length).toBeGreaterThan(1);
    for (const t of propagated.tasks) expect((t as SalipTask).refine).toMatchObject({ peelSurroundings: false, fillHoles: true });
    const perSlice = pixelSalip();
    await segmentVolume(perSlice, phantom(), peeling, { propagate: false, blankFraction: 0, orientation: {} });
    expect(perSlice.tasks.length).toBeGreaterThan(1);
    for (const t of perSlice.tasks) expect((t as SalipTask).refine?.peelSurroundings).toBe(true);
  });

  it('refuses bad propagation options by name', async () => {
    await expect(segmentVolume(pixelSalip(), phantom(), TASK, { propagate: { step: 0 } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('propagate.step') });
    await expect(segmentVolume(pixelSalip(), phantom(), TASK, { propagate: { maxGrowth: 1 } })).rejects.toMatchObject({ message: expect.stringContaining('propagate.maxGrowth') });
  });

  it('carriedBox widens the mask box and clamps it to the slice, in the working frame', () => {
    const mask = createMask(10, 10);
    for (let y = 2; y <= 5; y++) for (let x = 0; x <= 9; x++) mask.data[y * 10 + x] = 1;
    expect(carriedBox(mask, 0.1, 2, 2)).toEqual([0, expect.closeTo(3.4, 6), expect.closeTo(19.8, 6), expect.closeTo(10.6, 6)]);
  });
});

describe('segmentVolume with propagate and slices', () => {
  it('starts from the middle of the requested slices and leaves the others empty', async () => {
    const salip = pixelSalip();
    const slices = Array.from({ length: 12 }, (_, i) => 14 + i);
    const result = await segmentVolume(salip, phantom(), TASK, { propagate: { step: 100, stride: 1 }, slices, blankFraction: 0, orientation: {} });
    expect(salip.cascades).toBe(1);
    expect(result.slices[20]).toMatchObject({ source: 'cascade' });
    expect(result.slices.filter((s) => s.source === 'propagation').map((s) => s.index)).toEqual([14, 15, 16, 17, 18, 19, 21, 22, 23, 24, 25]);
    expect(result.slices[13]).toEqual({ index: 13, skipped: true, reason: 'not-requested' });
  });
});

describe('segmentVolume default', () => {
  it('propagates unless told not to; propagate: false runs the cascade on every slice', async () => {
    const propagated = pixelSalip();
    const result = await segmentVolume(propagated, phantom(), TASK, { blankFraction: 0, orientation: {} });
    expect(propagated.cascades).toBe(1);
    expect(result.slices[20]).toMatchObject({ source: 'cascade' });
    expect(result.slices.some((s) => s.source === 'propagation')).toBe(true);
    const perSlice = pixelSalip();
    const cascaded = await segmentVolume(perSlice, phantom(), TASK, { propagate: false, blankFraction: 0, orientation: {} });
    expect(perSlice.cascades).toBe(DEPTH);
    expect(perSlice.sam.decodes).toBe(0);
    expect(cascaded.slices.every((s) => s.source === 'cascade')).toBe(true);
  });
});

describe('the stability bar of a carried mask', () => {
  /** The pixel SAM with soft logits (+0.5 inside): every carried mask has stability 0. */
  function softSalip() {
    const salip = pixelSalip();
    const decode = salip.sam.decode.bind(salip.sam);
    salip.sam.decode = async (embedding, prompt, options) => {
      const result = await decode(embedding, prompt, options);
      return { ...result, lowResLogits: result.lowResLogits.map((l) => l.map((v) => (v > 0 ? 0.5 : v))) };
    };
    return salip;
  }

  it("is the task's candidate bar (everything.stabilityScoreThresh) unless given", async () => {
    const none = softSalip();
    await segmentVolume(none, phantom(), TASK, { propagate: { step: 100, stride: 1 }, blankFraction: 0, orientation: {} });
    expect(none.cascades).toBe(1);
    const strict = softSalip();
    const result = await segmentVolume(strict, phantom(), { ...TASK, everything: { stabilityScoreThresh: 0.3 } }, { propagate: { step: 100, stride: 1 }, blankFraction: 0, orientation: {} });
    expect(result.slices[21]).toMatchObject({ source: 'cascade', rerun: 'stability 0.000 < 0.3' });
    const given = softSalip();
    await segmentVolume(given, phantom(), { ...TASK, everything: { stabilityScoreThresh: 0.3 } }, { propagate: { step: 100, minStability: 0 }, blankFraction: 0, orientation: {} });
    expect(given.cascades).toBe(1);
  });
});

describe('the end of the walk by score', () => {
  it('ends where neither the carried mask nor the cascade finds anything that scores like the organ', async () => {
    const salip = pixelSalip();
    const volume = phantom(undefined, true);
    const result = await segmentVolume(salip, volume, TASK, { propagate: { step: 100, stride: 1 }, blankFraction: 0, orientation: {} });
    // Above the organ SAM finds the cap (bright enough), but it scores 0 against the organ's 100.
    expect(result.slices[32]).toMatchObject({ skipped: true, reason: 'organ-ended', source: 'cascade', rerun: expect.stringMatching(/^score 0\.0 is 100\.0 below/) });
    for (let z = 33; z < DEPTH; z++) expect(result.slices[z]).toEqual({ index: z, skipped: true, reason: 'organ-ended' });
    expect(zRange(result.mask)).toEqual(zRange(volume.truth));
    // The middle slice and the one re-run above the organ.
    expect(salip.cascades).toBe(2);
  });

  it('keeps a carried mask lost by its score when the cascade finds nothing better', async () => {
    const salip = pixelSalip();
    // Slice 22 scores lower: its carried mask 12 below the middle slice's (more than maxScoreDrop 10,
    // less than endScoreDrop 15), the cascade there lower still.
    const scorerFor = salip.scorerFor.bind(salip);
    salip.scorerFor = (task) => ({
      ...scorerFor(task),
      async score(ctx) {
        const table = await scorerFor(task).score(ctx);
        return { ...table, scores: table.scores.map((s) => (s === 100 && ctx.image === marked ? 88 : s)) };
      },
    });
    let marked: RgbImage | undefined;
    const embed = salip.sam.embed.bind(salip.sam);
    let embeds = 0;
    salip.sam.embed = async (image, options) => {
      // The walk goes up from 20: its third encoder run is slice 22's.
      if (++embeds === 2) marked = image;
      return embed(image, options);
    };
    const segment = salip.segment.bind(salip);
    salip.segment = async (image, task) => {
      const r = await segment(image, task);
      return salip.cascades === 2 ? { ...r, classes: { organ: { ...r.classes.organ, chosen: [{ ...r.classes.organ.chosen[0], score: 80 }] } } } : r;
    };
    const result = await segmentVolume(salip, phantom(), TASK, { propagate: { step: 100, stride: 1, maxScoreDrop: 10 }, blankFraction: 0, orientation: {} });
    expect(salip.cascades).toBe(2);
    expect(result.slices[22]).toMatchObject({ source: 'propagation', from: 21, score: 88, rerun: expect.stringContaining("kept, the cascade's mask scored") });
    expect(result.slices[23]).toMatchObject({ source: 'propagation', from: 22 });
  });
});

describe('propagation with a stride', () => {
  it('carries every second slice by SAM and interpolates the slices between', async () => {
    const salip = pixelSalip();
    const volume = phantom();
    const result = await segmentVolume(salip, volume, TASK, { propagate: { step: 100, stride: 2 }, blankFraction: 0, orientation: {} });
    expect(result.slices[21]).toMatchObject({ skipped: false, source: 'interpolation', from: 20, to: 22 });
    expect(result.slices[22]).toMatchObject({ skipped: false, source: 'propagation', from: 20 });
    expect(result.slices[19]).toMatchObject({ skipped: false, source: 'interpolation', from: 20, to: 18 });
    expect(zRange(result.mask)).toEqual(zRange(volume.truth));
    // Fewer encoder runs than slices of the organ (24), and the masks still agree with the truth.
    expect(salip.sam.embeds).toBeLessThan(18);
    let agree = 0;
    for (let i = 0; i < volume.truth.length; i++) agree += volume.truth[i] === result.mask[i] ? 1 : 0;
    expect(agree / volume.truth.length).toBeGreaterThan(0.99);
  });
});
