import { describe, expect, it } from 'vitest';
import {
  SalipError,
  boxIoU,
  boxXywhToXyxy,
  decodeRle,
  generateCropBoxes,
  maskArea,
  maskToBox,
  rleArea,
  segmentEverything,
  FAST_EVERYTHING_DEFAULTS,
  pointGrid,
  type MaskRecord,
} from '../../../src/index.js';
import { coarseToFineOrder } from '../../../src/pipeline/stages/everything-fast.js';
import { createFakeSam, testImage } from '../../helpers/fake-sam.js';

function checkInvariants(records: MaskRecord[], width: number, height: number, opts: { predIouThresh: number; stabilityScoreThresh: number; boxNmsThresh: number }) {
  for (const r of records) {
    const mask = decodeRle(r.segmentation);
    expect([mask.width, mask.height]).toEqual([width, height]);
    expect(r.area).toBe(maskArea(mask));
    expect(r.area).toBe(rleArea(r.segmentation));
    expect(boxXywhToXyxy(r.bbox)).toEqual(maskToBox(mask));
    expect(r.predictedIou).toBeGreaterThan(opts.predIouThresh);
    expect(r.stabilityScore).toBeGreaterThanOrEqual(opts.stabilityScoreThresh);
    const [px, py] = r.pointCoords[0];
    expect(px).toBeGreaterThanOrEqual(0);
    expect(px).toBeLessThanOrEqual(width);
    expect(py).toBeGreaterThanOrEqual(0);
    expect(py).toBeLessThanOrEqual(height);
  }
}

describe('segmentEverything', () => {
  it('keeps masks that pass the IoU and stability filters, de-duplicated by box NMS', async () => {
    const sam = createFakeSam();
    const image = testImage(96, 64);
    const opts = { pointsPerSide: 4, predIouThresh: 0.8, stabilityScoreThresh: 0.5, boxNmsThresh: 0.7 };
    const { records, stats } = await segmentEverything(sam, image, opts);
    // 16 points x 3 masks; mask 1 (IoU 0.5) never passes predIouThresh 0.8.
    expect(stats.decoderCalls).toBe(16);
    expect(stats.rawMasks).toBe(48);
    expect(stats.afterIou).toBe(32);
    expect(sam.embedCalls).toBe(1);
    expect(records.length).toBeGreaterThan(0);
    expect(records.every((r) => r.maskIndex !== 1)).toBe(true);
    checkInvariants(records, 96, 64, opts);
    for (let i = 0; i < records.length; i++) {
      for (let j = i + 1; j < records.length; j++) {
        expect(boxIoU(boxXywhToXyxy(records[i].bbox), boxXywhToXyxy(records[j].bbox))).toBeLessThanOrEqual(0.7);
      }
    }
    // Ranked by predicted IoU within the crop (one crop here).
    for (let i = 1; i < records.length; i++) expect(records[i - 1].predictedIou).toBeGreaterThanOrEqual(records[i].predictedIou);
  });

  it('reproduces the disk of a known point exactly', async () => {
    const sam = createFakeSam();
    const image = testImage(64, 64);
    // One point at the centre of a 1x1 grid: (32, 32); mask 2 has radius 10.
    const { records } = await segmentEverything(sam, image, { pointsPerSide: 1, predIouThresh: 0.85, stabilityScoreThresh: 0, boxNmsThresh: 1 });
    const big = records.find((r) => r.maskIndex === 2)!;
    expect(big.pointCoords).toEqual([[32, 32]]);
    const mask = decodeRle(big.segmentation);
    // Pixel centres within radius 10 of (32, 32) (the fake evaluates logits at low-res cell centres).
    expect(mask.data[32 * 64 + 32]).toBe(1);
    expect(mask.data[32 * 64 + 45]).toBe(0);
    expect(big.area).toBeGreaterThan(Math.PI * 9 * 9);
    expect(big.area).toBeLessThan(Math.PI * 11 * 11);
  });

  it('gives one candidate per point with a single-mask decoder', async () => {
    const sam = createFakeSam({ multimask: false });
    const { stats, options } = await segmentEverything(sam, testImage(32, 32), { pointsPerSide: 2, predIouThresh: 0, stabilityScoreThresh: 0 });
    expect(options.multimask).toBe(false);
    expect(stats.rawMasks).toBe(4);
  });

  it('refuses multimask on a decoder without multi-mask outputs', async () => {
    const sam = createFakeSam({ multimask: false });
    await expect(segmentEverything(sam, testImage(32, 32), { multimask: true })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('processes crop layers with their own embeddings and records the crop box', async () => {
    const sam = createFakeSam();
    const image = testImage(80, 60);
    const opts = { pointsPerSide: 2, cropNLayers: 1, predIouThresh: 0.8, stabilityScoreThresh: 0.3, boxNmsThresh: 0.7 };
    const { records } = await segmentEverything(sam, image, opts);
    expect(sam.embedCalls).toBe(5);
    const crops = generateCropBoxes(80, 60, 1, 512 / 1500).boxes.map((b) => JSON.stringify([b[0], b[1], b[2] - b[0], b[3] - b[1]]));
    for (const r of records) expect(crops).toContain(JSON.stringify(r.cropBox));
    checkInvariants(records, 80, 60, opts);
  });

  it('reuses a given embedding instead of running the encoder', async () => {
    const sam = createFakeSam();
    const image = testImage(40, 40);
    const embedding = await sam.embed(image);
    await segmentEverything(sam, image, { pointsPerSide: 2, embedding });
    expect(sam.embedCalls).toBe(1);
    await expect(segmentEverything(sam, testImage(41, 40), { embedding })).rejects.toMatchObject({ code: 'SIZE_MISMATCH' });
  });

  it('removes small regions when minMaskRegionArea is set', async () => {
    const sam = createFakeSam();
    const image = testImage(64, 64);
    const all = await segmentEverything(sam, image, { pointsPerSide: 3, predIouThresh: 0.8, stabilityScoreThresh: 0, boxNmsThresh: 1 });
    const cleaned = await segmentEverything(sam, image, { pointsPerSide: 3, predIouThresh: 0.8, stabilityScoreThresh: 0, boxNmsThresh: 1, minMaskRegionArea: 100 });
    // Radius-3 disks (area < 100) are islands below the minimum, but a lone island is kept as the
    // largest; masks are unchanged otherwise, so the count cannot grow.
    expect(cleaned.records.length).toBeLessThanOrEqual(all.records.length);
    for (const r of cleaned.records) expect(r.area).toBe(rleArea(r.segmentation));
  });

  it('reports progress up to the total and honours an abort signal', async () => {
    const sam = createFakeSam();
    const events: number[] = [];
    await segmentEverything(sam, testImage(32, 32), { pointsPerSide: 4, pointsPerBatch: 4, onProgress: (e) => events.push(e.done) });
    expect(events[events.length - 1]).toBe(16);
    expect([...events].sort((a, b) => a - b)).toEqual(events);
    const controller = new AbortController();
    controller.abort();
    const err = await segmentEverything(sam, testImage(32, 32), { signal: controller.signal }).catch((e) => e);
    expect(err).toBeInstanceOf(SalipError);
    expect(err.code).toBe('ABORTED');
  });

  it.each([
    [{ pointsPerSide: 0 }, 'pointsPerSide'],
    [{ pointsPerSide: 2.5 }, 'pointsPerSide'],
    [{ predIouThresh: Number.NaN }, 'predIouThresh'],
    [{ stabilityScoreThresh: 1.5 }, 'stabilityScoreThresh'],
    [{ cropNLayers: -1 }, 'cropNLayers'],
    [{ pointGrids: [new Float32Array(2), new Float32Array(2)] }, 'pointGrids'],
  ])('rejects bad option %j naming it', async (opts, name) => {
    const err = await segmentEverything(createFakeSam(), testImage(16, 16), opts).catch((e) => e);
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain(name);
  });
});

describe('segmentEverything modes', () => {
  const keyOf = (r: MaskRecord) => `${r.pointCoords[0].join(',')}#${r.maskIndex}`;

  it("defaults to 'exact' and rejects an unknown mode or bad fast options, naming them", async () => {
    const sam = createFakeSam();
    const { options } = await segmentEverything(sam, testImage(16, 16), { pointsPerSide: 1 });
    expect(options.mode).toBe('exact');
    expect(options.fast).toEqual(FAST_EVERYTHING_DEFAULTS);
    for (const [opts, name] of [
      [{ mode: 'quick' }, 'mode'],
      [{ mode: 'fast', fast: { coverStability: 2 } }, 'fast.coverStability'],
      [{ mode: 'fast', fast: { coverMaxArea: -0.1 } }, 'fast.coverMaxArea'],
      [{ mode: 'fast', fast: { patience: 1.5 } }, 'fast.patience'],
      [{ mode: 'fast', fast: { minCoverage: Number.NaN } }, 'fast.minCoverage'],
    ] as const) {
      const err = await segmentEverything(sam, testImage(16, 16), opts as never).catch((e) => e);
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toContain(name);
    }
  });

  it('fast mode with skipping and early stop off keeps exactly the exact-mode records', async () => {
    const image = testImage(80, 64);
    const opts = { pointsPerSide: 6, predIouThresh: 0.8, stabilityScoreThresh: 0.3, boxNmsThresh: 0.7 };
    const exact = await segmentEverything(createFakeSam(), image, opts);
    const fast = await segmentEverything(createFakeSam(), image, { ...opts, mode: 'fast', fast: { coverStability: 1, coverMaxArea: 0, patience: 0 } });
    expect(fast.stats.decoderCalls).toBe(36);
    expect(fast.stats.skippedPoints).toBe(0);
    const byKey = (records: MaskRecord[]) => new Map(records.map((r) => [keyOf(r), r]));
    expect(byKey(fast.records)).toEqual(byKey(exact.records));
  });

  it('fast mode skips points inside stable candidates: fewer calls, every record one the exact loop computes', async () => {
    const image = testImage(64, 64);
    // 8 x 8 grid, spacing 8 px; the radius-10 disks (stability ~0.82, 4.9 % of the image) cover
    // the neighbouring points, so those are not prompted.
    const opts = { pointsPerSide: 8, predIouThresh: 0.8, stabilityScoreThresh: 0, boxNmsThresh: 0.7 };
    const sam = createFakeSam();
    const fast = await segmentEverything(sam, image, { ...opts, mode: 'fast', fast: { coverStability: 0.8, coverMaxArea: 0.1, cover: 'all', patience: 0 } });
    expect(fast.stats.decoderCalls).toBe(sam.decodeCalls);
    expect(fast.stats.decoderCalls + fast.stats.skippedPoints).toBe(64);
    expect(fast.stats.decoderCalls).toBeLessThan(32);
    // Every fast record is a candidate of the plain loop (no NMS there, so none is hidden).
    const all = await segmentEverything(createFakeSam(), image, { ...opts, boxNmsThresh: 1 });
    const plain = new Map(all.records.map((r) => [keyOf(r), r]));
    for (const r of fast.records) expect(r).toEqual(plain.get(keyOf(r)));
    // No prompted point lies inside a covering (radius-10) disk of an earlier prompted point.
    const prompted = fast.records.filter((r) => r.maskIndex === 2).map((r) => r.pointCoords[0]);
    for (let i = 0; i < prompted.length; i++) {
      for (let j = 0; j < i; j++) expect(Math.hypot(prompted[i][0] - prompted[j][0], prompted[i][1] - prompted[j][1])).toBeGreaterThan(9);
    }
  });

  it('cover: smallest paints only the smallest qualifying candidate of a point', async () => {
    const image = testImage(64, 64);
    const opts = { pointsPerSide: 8, predIouThresh: 0, stabilityScoreThresh: 0, boxNmsThresh: 1, mode: 'fast' as const };
    // Disks of radius 3 (stability 0.5), 6 (0.71) and 10 (0.82): with coverStability 0.7 the
    // smallest qualifying disk has radius 6, which reaches no neighbour 8 px away.
    const smallest = await segmentEverything(createFakeSam(), image, { ...opts, fast: { coverStability: 0.7, coverMaxArea: 1, cover: 'smallest' } });
    const all = await segmentEverything(createFakeSam(), image, { ...opts, fast: { coverStability: 0.7, coverMaxArea: 1, cover: 'all' } });
    expect(smallest.stats.decoderCalls).toBe(64);
    expect(all.stats.decoderCalls).toBeLessThan(64);
  });

  it('fast mode stops a crop after `patience` prompted points with only duplicates, once minCoverage is reached', async () => {
    const image = testImage(64, 64);
    // Every disk of the fake is new (its box differs), so make boxes collide: NMS threshold 0
    // treats any overlap as a duplicate, and neighbouring disks overlap.
    const opts = { pointsPerSide: 8, predIouThresh: 0.8, stabilityScoreThresh: 0, boxNmsThresh: 0, mode: 'fast' as const };
    const early = await segmentEverything(createFakeSam(), image, { ...opts, fast: { coverStability: 1, coverMaxArea: 0, patience: 3, minCoverage: 0.5 } });
    expect(early.stats.decoderCalls).toBeGreaterThanOrEqual(32);
    expect(early.stats.decoderCalls).toBeLessThan(64);
    expect(early.stats.skippedPoints).toBe(64 - early.stats.decoderCalls);
    const never = await segmentEverything(createFakeSam(), image, { ...opts, fast: { coverStability: 1, coverMaxArea: 0, patience: 0 } });
    expect(never.stats.decoderCalls).toBe(64);
  });

  it('fast mode reports progress up to the total, skipped points included', async () => {
    const events: number[] = [];
    const { stats } = await segmentEverything(createFakeSam(), testImage(64, 64), {
      pointsPerSide: 8,
      pointsPerBatch: 4,
      predIouThresh: 0.8,
      stabilityScoreThresh: 0,
      mode: 'fast',
      fast: { coverStability: 0.8, coverMaxArea: 0.1, cover: 'all' },
      onProgress: (e) => events.push(e.done),
    });
    expect(stats.skippedPoints).toBeGreaterThan(0);
    expect(events[events.length - 1]).toBe(64);
    expect([...events].sort((a, b) => a - b)).toEqual(events);
  });

  it('fast mode with crop layers keeps records inside the image with their crop boxes', async () => {
    const sam = createFakeSam();
    const opts = { pointsPerSide: 4, cropNLayers: 1, predIouThresh: 0.8, stabilityScoreThresh: 0.3, boxNmsThresh: 0.7 };
    const { records } = await segmentEverything(sam, testImage(80, 60), { ...opts, mode: 'fast' });
    expect(records.length).toBeGreaterThan(0);
    checkInvariants(records, 80, 60, opts);
  });
});

describe('coarseToFineOrder', () => {
  it('is a permutation that starts at the point nearest the centre and spreads the first points', () => {
    const grid = pointGrid(16);
    const order = coarseToFineOrder(grid);
    expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: 256 }, (_, i) => i));
    const centre = (p: number) => (grid[2 * p] - 0.5) ** 2 + (grid[2 * p + 1] - 0.5) ** 2;
    for (let p = 0; p < 256; p++) expect(centre(order[0])).toBeLessThanOrEqual(centre(p));
    // The first five points: the centre and one in each quadrant's far corner region.
    const quadrants = new Set([...order.slice(1, 5)].map((p) => `${grid[2 * p] < 0.5}${grid[2 * p + 1] < 0.5}`));
    expect(quadrants.size).toBe(4);
    // Any prefix of 16 points leaves no grid point farther than ~1.5 grid cells... from a taken one.
    const taken = [...order.slice(0, 16)];
    for (let p = 0; p < 256; p++) {
      const d = Math.min(...taken.map((q) => Math.hypot(grid[2 * p] - grid[2 * q], grid[2 * p + 1] - grid[2 * q + 1])));
      expect(d).toBeLessThan(0.2);
    }
  });

  it('handles an empty and a one-point grid', () => {
    expect(coarseToFineOrder(new Float32Array(0))).toEqual(new Int32Array(0));
    expect(coarseToFineOrder(Float32Array.of(0.3, 0.7))).toEqual(Int32Array.of(0));
  });
});

describe('segmentEverything fast mode with a guide', () => {
  /** A fake SAM that records the (image-frame) point of every decoder call. */
  function recordingSam() {
    const sam = createFakeSam();
    const prompted: Array<[number, number]> = [];
    const decode = sam.decode.bind(sam);
    sam.decode = (embedding, prompt, opts) => {
      const p = prompt.points?.[0];
      if (p) prompted.push([p.x, p.y]);
      return decode(embedding, prompt, opts);
    };
    return { sam, prompted };
  }
  // Aggressive skip and stop rules: without the guide most points are never prompted.
  const opts = { pointsPerSide: 8, predIouThresh: 0.8, stabilityScoreThresh: 0, boxNmsThresh: 0, mode: 'fast' as const };
  const aggressive = { coverStability: 0.8, coverMaxArea: 0.1, cover: 'all' as const, patience: 2, minCoverage: 0.1 };
  const target: [number, number] = [52, 12];
  const nearTarget = (points: Float32Array) => Float32Array.from({ length: points.length / 2 }, (_, p) => -Math.hypot(points[2 * p] - target[0], points[2 * p + 1] - target[1]));

  it('prompts every point the guide ranks in its top fraction, whatever the skip and stop rules say', async () => {
    const unguided = recordingSam();
    await segmentEverything(unguided.sam, testImage(64, 64), { ...opts, fast: aggressive });
    const guided = recordingSam();
    const { stats, records } = await segmentEverything(guided.sam, testImage(64, 64), { ...opts, fast: { ...aggressive, guide: nearTarget, guideFraction: 0.25 } });
    // The 16 grid points nearest the target (grid spacing 8 px, centres at 4 + 8k).
    const grid = Array.from({ length: 64 }, (_, p): [number, number] => [4 + 8 * (p % 8), 4 + 8 * Math.floor(p / 8)]);
    const top16 = [...grid].sort((a, b) => Math.hypot(a[0] - target[0], a[1] - target[1]) - Math.hypot(b[0] - target[0], b[1] - target[1])).slice(0, 16);
    const key = (p: readonly number[]) => p.join(',');
    const promptedKeys = new Set(guided.prompted.map(key));
    for (const p of top16) expect(promptedKeys.has(key(p))).toBe(true);
    const unguidedKeys = new Set(unguided.prompted.map(key));
    expect(top16.filter((p) => !unguidedKeys.has(key(p))).length).toBeGreaterThan(0);
    expect(stats.decoderCalls).toBe(guided.prompted.length);
    expect(stats.decoderCalls + stats.skippedPoints).toBe(64);
    expect(records.length).toBeGreaterThan(0);
  });

  it('asks the guide once per crop, with the crop’s grid in image pixels', async () => {
    const calls: Float32Array[] = [];
    const guide = (points: Float32Array) => {
      calls.push(points.slice());
      return new Float32Array(points.length / 2);
    };
    await segmentEverything(createFakeSam(), testImage(80, 60), { pointsPerSide: 4, cropNLayers: 1, predIouThresh: 0.8, stabilityScoreThresh: 0.3, mode: 'fast', fast: { guide } });
    expect(calls.length).toBe(5);
    expect(Array.from(calls[0])).toEqual([10, 7.5, 30, 7.5, 50, 7.5, 70, 7.5, 10, 22.5, 30, 22.5, 50, 22.5, 70, 22.5, 10, 37.5, 30, 37.5, 50, 37.5, 70, 37.5, 10, 52.5, 30, 52.5, 50, 52.5, 70, 52.5]);
    // Layer-1 crops: the crop's grid moved to the crop box.
    const { boxes } = generateCropBoxes(80, 60, 1, 512 / 1500);
    const grid = pointGrid(4);
    for (let c = 1; c < 5; c++) {
      const [x0, y0, x1, y1] = boxes[c];
      const expected = Array.from(grid, (v, i) => (i % 2 === 0 ? x0 + v * (x1 - x0) : y0 + v * (y1 - y0)));
      expect(Array.from(calls[c])).toEqual(Array.from(Float32Array.from(expected)));
    }
  });

  it('waits for an async guide, and a guide of only ties takes the lowest grid indices', async () => {
    const { sam, prompted } = recordingSam();
    const flat = async (points: Float32Array) => Array.from({ length: points.length / 2 }, () => 1);
    await segmentEverything(sam, testImage(64, 64), { ...opts, fast: { ...aggressive, guide: flat, guideFraction: 0.125 } });
    const keys = new Set(prompted.map((p) => p.join(',')));
    for (let x = 4; x < 64; x += 8) expect(keys.has(`${x},4`)).toBe(true);
  });

  it('fills in guideFraction and keeps the guide in the resolved options', async () => {
    const guide = (points: Float32Array) => new Float32Array(points.length / 2);
    const { options } = await segmentEverything(createFakeSam(), testImage(16, 16), { pointsPerSide: 2, mode: 'fast', fast: { guide } });
    expect(options.fast).toEqual({ ...FAST_EVERYTHING_DEFAULTS, guide });
  });

  it('rejects a bad guide or guideFraction with INVALID_ARGUMENT naming it', async () => {
    const sam = createFakeSam();
    const run = (fast: object) => segmentEverything(sam, testImage(32, 32), { pointsPerSide: 4, mode: 'fast', fast }).catch((e) => e);
    for (const [fast, name, detail] of [
      [{ guide: 'near the head' }, 'fast.guide', 'function'],
      [{ guideFraction: 1.5 }, 'fast.guideFraction', '1.5'],
      [{ guide: () => new Float32Array(3) }, 'fast.guide', '16 finite scores'],
      [{ guide: () => Float32Array.of(...new Array(15).fill(0), Number.NaN) }, 'fast.guide', 'NaN at index 15'],
      [{ guide: async () => null }, 'fast.guide', 'null'],
    ] as const) {
      const err = await run(fast);
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toContain(name);
      expect(err.message).toContain(detail);
    }
  });

  it('a guide error reaches the caller unchanged', async () => {
    const boom = new Error('guide failed');
    const err = await segmentEverything(createFakeSam(), testImage(32, 32), { pointsPerSide: 4, mode: 'fast', fast: { guide: () => Promise.reject(boom) } }).catch((e) => e);
    expect(err).toBe(boom);
  });

  it('exact mode ignores the guide', async () => {
    let asked = 0;
    const { stats } = await segmentEverything(createFakeSam(), testImage(32, 32), { pointsPerSide: 4, fast: { guide: (p) => (asked++, new Float32Array(p.length / 2)) } });
    expect(asked).toBe(0);
    expect(stats.decoderCalls).toBe(16);
  });
});
