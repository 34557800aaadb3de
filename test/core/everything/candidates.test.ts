import { describe, expect, it } from 'vitest';
import {
  createCandidateJobRunner,
  createCandidateJudge,
  createLogitUpscaler,
  isBoxNearCropEdge,
  stabilityScore,
  type CandidateFilter,
  type LogitUpscalerGeometry,
} from '../../../src/core/everything/index.js';
import { encodeRle, encodeRleInBox, maskArea, maskFromLogits, maskToBox } from '../../../src/core/mask.js';
import { createRandom } from '../../../src/core/random.js';
import type { BoxXYXY } from '../../../src/core/types.js';

/** Blobs of positive logits on a negative background, inside the image part of the 64 x 64 grid (rows < 43). */
function blobLogits(n: number, seed: number): Float32Array {
  const rng = createRandom(seed);
  const blobs = Array.from({ length: 1 + Math.floor(rng.next() * 2) }, () => ({
    x: rng.next() * n,
    y: rng.next() * 42,
    r: 2 + rng.next() * 10,
    // Low peaks make unstable masks.
    h: rng.next() < 0.3 ? 0.3 + rng.next() * 0.7 : 8 + rng.next() * 30,
  }));
  const out = new Float32Array(n * n);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      let v = -8;
      for (const b of blobs) v = Math.max(v, b.h * (1 - Math.hypot(x - b.x, y - b.y) / b.r));
      out[y * n + x] = v + (rng.next() - 0.5) * 0.05;
    }
  }
  return out;
}

/** The plain path: full-size logits, then threshold, stability, edge filter and RLE one by one. */
function reference(lowRes: Float32Array, g: LogitUpscalerGeometry, f: CandidateFilter) {
  const logits = createLogitUpscaler(g)(lowRes);
  const mask = maskFromLogits(logits, g.outWidth, g.outHeight, f.maskThreshold);
  const stability = stabilityScore(logits, f.maskThreshold, f.stabilityScoreOffset);
  if (!(stability >= f.stabilityScoreThresh)) return { kept: false, droppedBy: 'stability' };
  const box = maskToBox(mask);
  if (isBoxNearCropEdge(box, f.cropBox, f.imageBox)) return { kept: false, droppedBy: 'edge' };
  return { kept: true, rle: encodeRle(mask), area: maskArea(mask), box, stability };
}

const geometry: LogitUpscalerGeometry = { lowResSize: 64, inputSize: 256, resizedWidth: 256, resizedHeight: 170, outWidth: 120, outHeight: 80 };
const filter = (cropBox: BoxXYXY, stabilityScoreThresh = 0.8): CandidateFilter => ({
  maskThreshold: 0,
  stabilityScoreOffset: 0.5,
  stabilityScoreThresh,
  cropBox,
  imageBox: [0, 0, 240, 160],
});

describe('createCandidateJudge', () => {
  it('gives the plain path’s outcome for every mask: kept (RLE, area, box, stability) or the filter that dropped it', () => {
    // The top-left crop of a larger image: masks near its right or bottom edge are dropped.
    const f = filter([0, 0, 120, 80], 0.7);
    const judge = createCandidateJudge(geometry, f);
    const seen = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const lowRes = blobLogits(64, seed);
      const outcome = judge(lowRes);
      expect(outcome).toEqual(reference(lowRes, geometry, f));
      seen.add(outcome.kept ? 'kept' : outcome.droppedBy);
    }
    // Every branch was exercised.
    expect([...seen].sort()).toEqual(['edge', 'kept', 'stability']);
  });

  it('reuses its buffer without leaking one mask into the next', () => {
    const f = filter([0, 0, 120, 80], 0);
    const judge = createCandidateJudge(geometry, f);
    const big = blobLogits(64, 3).map(() => 5);
    const small = new Float32Array(64 * 64).fill(-5);
    small[20 * 64 + 20] = 5;
    expect(judge(big)).toEqual(reference(big, geometry, f));
    expect(judge(small)).toEqual(reference(small, geometry, f));
  });
});

describe('createCandidateJobRunner', () => {
  it('judges a job’s masks in order, and switches judges when the crop or filters change', () => {
    const run = createCandidateJobRunner();
    const other: LogitUpscalerGeometry = { ...geometry, outWidth: 60, outHeight: 40 };
    const jobs = [
      { geometry, filter: filter([0, 0, 120, 80], 0.5) },
      { geometry: other, filter: filter([0, 0, 60, 40], 0.5) },
      { geometry, filter: filter([0, 0, 120, 80], 0.95) },
      { geometry, filter: filter([0, 0, 120, 80], 0.5) },
    ];
    jobs.forEach((job, k) => {
      const logits = [blobLogits(64, 10 + k), blobLogits(64, 20 + k), blobLogits(64, 30 + k)];
      expect(run({ ...job, logits })).toEqual(logits.map((l) => reference(l, job.geometry, job.filter)));
    });
    expect(run({ geometry, filter: filter([0, 0, 120, 80]), logits: [] })).toEqual([]);
  });
});

describe('encodeRleInBox', () => {
  it('equals encodeRle for masks inside their box, empty masks included', () => {
    const rng = createRandom(7);
    for (let t = 0; t < 30; t++) {
      const width = 1 + Math.floor(rng.next() * 20);
      const height = 1 + Math.floor(rng.next() * 20);
      const data = new Uint8Array(width * height);
      const density = rng.next();
      for (let i = 0; i < data.length; i++) data[i] = rng.next() < density * 0.5 ? 1 : 0;
      const mask = { width, height, data };
      expect(encodeRleInBox(data, width, height, maskToBox(mask), maskArea(mask))).toEqual(encodeRle(mask));
    }
  });
});
