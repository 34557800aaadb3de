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
  type MaskRecord,
} from '../../../src/index.js';
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
