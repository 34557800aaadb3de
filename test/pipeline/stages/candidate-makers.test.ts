/**
 * Where segment-everything judges masks: on the calling thread, in a worker, or in any
 * concurrent maker. The records and statistics must not depend on it, in exact and fast mode,
 * whatever order the judgings finish in.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generatedWorkerModule, GENERATED } from '../../../scripts/gen-worker-script.js';
import { nodeBackend } from '../../../src/backends/node.js';
import type { Backend, ScriptWorker } from '../../../src/backends/types.js';
import { createCandidateJobRunner, type CandidateJob, type LogitUpscalerGeometry } from '../../../src/core/everything/index.js';
import { isSalipError } from '../../../src/core/errors.js';
import { createRandom } from '../../../src/core/random.js';
import { segmentEverything, type SegmentEverythingOptions } from '../../../src/pipeline/stages/segment-everything.js';
import { threadCandidateMaker, workerCandidateMaker, type CandidateMaker } from '../../../src/pipeline/stages/candidate-makers.js';
import { createBatchingFakeSam, createFakeSam, testImage, watchDecodes } from '../../helpers/fake-sam.js';

const geometry: LogitUpscalerGeometry = { lowResSize: 32, inputSize: 128, resizedWidth: 128, resizedHeight: 96, outWidth: 48, outHeight: 36 };
const filter = { maskThreshold: 0, stabilityScoreOffset: 0.5, stabilityScoreThresh: 0.3, cropBox: [0, 0, 48, 36] as [number, number, number, number], imageBox: [0, 0, 48, 36] as [number, number, number, number] };

function randomJob(seed: number): CandidateJob {
  const rng = createRandom(seed);
  const logits = Array.from({ length: 3 }, () => {
    const cx = rng.next() * 32;
    const cy = rng.next() * 24;
    const r = 2 + rng.next() * 8;
    return Float32Array.from({ length: 32 * 32 }, (_, i) => 6 * (1 - Math.hypot((i % 32) - cx, Math.floor(i / 32) - cy) / r));
  });
  return { geometry, filter, logits };
}

/** A concurrent maker whose judgings finish after random delays, so out of order. */
function shuffledMaker(seed: number): CandidateMaker & { jobs: number } {
  const rng = createRandom(seed);
  const run = createCandidateJobRunner();
  const maker = {
    jobs: 0,
    concurrent: true,
    judge(job: CandidateJob) {
      maker.jobs++;
      const outcomes = run(job);
      return new Promise<ReturnType<typeof run>>((resolve) => setTimeout(() => resolve(outcomes), Math.floor(rng.next() * 4)));
    },
    dispose: async () => {},
  };
  return maker;
}

describe('the generated worker script', () => {
  it('is the bundle of the current sources (npm run gen:worker after changing the core code it bundles)', async () => {
    expect(readFileSync(GENERATED, 'utf8')).toBe(await generatedWorkerModule());
  }, 30_000);
});

describe('workerCandidateMaker', () => {
  it('judges in a worker exactly as the calling thread does, and leaves the job’s logits intact', async () => {
    const maker = workerCandidateMaker(nodeBackend());
    const local = threadCandidateMaker();
    try {
      expect(maker.concurrent).toBe(true);
      for (let seed = 0; seed < 6; seed++) {
        const job = randomJob(seed);
        const before = job.logits.map((l) => l.slice());
        const outcomes = await maker.judge(job);
        expect(outcomes).toEqual(await local.judge(job));
        expect(job.logits).toEqual(before);
      }
      expect(maker.fallbackReason).toBeUndefined();
    } finally {
      await maker.dispose();
    }
    // Disposed: later jobs run on the calling thread.
    expect(maker.concurrent).toBe(false);
    expect(await maker.judge(randomJob(1))).toEqual(await threadCandidateMaker().judge(randomJob(1)));
  });

  it('falls back to the calling thread without startWorker, when starting fails, or when the worker fails, saying why', async () => {
    const expected = await threadCandidateMaker().judge(randomJob(3));

    const none = workerCandidateMaker({});
    expect(none.concurrent).toBe(false);
    expect(none.fallbackReason).toMatch(/cannot start workers/);
    expect(await none.judge(randomJob(3))).toEqual(expected);

    const refused = workerCandidateMaker({
      startWorker() {
        throw new Error('blocked by policy');
      },
    });
    expect(await refused.judge(randomJob(3))).toEqual(expected);
    expect(refused.concurrent).toBe(false);
    expect(refused.fallbackReason).toMatch(/blocked by policy/);

    let terminated = false;
    const broken: Backend['startWorker'] = (): ScriptWorker => ({
      request: () => Promise.reject(new Error('thread crashed')),
      terminate: async () => {
        terminated = true;
      },
    });
    const failing = workerCandidateMaker({ startWorker: broken });
    expect(failing.concurrent).toBe(true);
    expect(await failing.judge(randomJob(3))).toEqual(expected);
    expect(failing.concurrent).toBe(false);
    expect(failing.fallbackReason).toMatch(/thread crashed/);
    expect(terminated).toBe(true);
  });

  it('copies the next jobs’ logits into the buffers the worker sent back, so none pile up as garbage', async () => {
    const run = createCandidateJobRunner();
    const received: ArrayBuffer[][] = [];
    const echo: ScriptWorker = {
      async request(message, transfer = []) {
        received.push([...transfer]);
        return { outcomes: run(message as CandidateJob), buffers: [...transfer] };
      },
      terminate: async () => {},
    };
    const maker = workerCandidateMaker({ startWorker: () => echo });
    const expected = await threadCandidateMaker().judge(randomJob(5));
    expect(await maker.judge(randomJob(5))).toEqual(expected);
    expect(await maker.judge(randomJob(5))).toEqual(expected);
    // The second job travelled in the first job's buffers.
    expect(received[1].every((buffer) => received[0].includes(buffer))).toBe(true);
    expect(received[1]).toHaveLength(3);
  });

  it('rejects a worker reply of the wrong shape with WORKER_FAILED', async () => {
    const maker = workerCandidateMaker({ startWorker: () => ({ request: async () => ({ outcomes: 'not a list' }), terminate: async () => {} }) });
    const error = await maker.judge(randomJob(0)).catch((e: unknown) => e);
    expect(isSalipError(error) && error.code).toBe('WORKER_FAILED');
  });
});

describe('segmentEverything with a concurrent candidate maker', () => {
  const image = testImage(72, 56);
  const base: SegmentEverythingOptions = { pointsPerSide: 8, predIouThresh: 0.6, stabilityScoreThresh: 0.3, boxNmsThresh: 0.7 };
  const target: [number, number] = [50, 14];
  const guide = (points: Float32Array) => Float32Array.from({ length: points.length / 2 }, (_, p) => -Math.hypot(points[2 * p] - target[0], points[2 * p + 1] - target[1]));
  const settings: Array<[string, SegmentEverythingOptions]> = [
    ['exact', {}],
    ['exact, one crop layer', { cropNLayers: 1, pointsPerSide: 4 }],
    ['fast, unguided', { mode: 'fast', fast: { coverStability: 0.7, coverMaxArea: 0.2, patience: 3, minCoverage: 0.1 } }],
    ['fast, guided', { mode: 'fast', fast: { coverStability: 0.7, coverMaxArea: 0.2, patience: 3, minCoverage: 0.1, guide, guideFraction: 0.3 } }],
    ['fast, guided, no early stop', { mode: 'fast', fast: { coverStability: 0.7, coverMaxArea: 0.2, patience: 0, guide, guideFraction: 0.2 } }],
  ];

  it.each(settings)('%s: the same records and statistics as on the calling thread, whatever order the judgings finish in', async (_, settings) => {
    const options = { ...base, ...settings };
    const plain = await segmentEverything(createFakeSam(), image, options);
    expect(plain.records.length).toBeGreaterThan(0);
    for (const seed of [1, 2]) {
      const maker = shuffledMaker(seed);
      const sam = createFakeSam();
      const result = await segmentEverything(sam, image, { ...options, candidateMaker: maker });
      expect(result.records).toEqual(plain.records);
      expect(result.stats).toEqual(plain.stats);
      expect(sam.decodeCalls).toBe(plain.stats.decoderCalls);
      // Unguided fast mode has nothing to decode while a worker judges, so it judges here.
      if (options.mode !== 'fast' || options.fast?.guide) expect(maker.jobs).toBeGreaterThan(0);
      else expect(maker.jobs).toBe(0);
    }
    const worker = workerCandidateMaker(nodeBackend());
    try {
      const result = await segmentEverything(createFakeSam(), image, { ...options, candidateMaker: worker });
      expect(result.records).toEqual(plain.records);
      expect(result.stats).toEqual(plain.stats);
    } finally {
      await worker.dispose();
    }
  });

  it('fast mode decodes guided points ahead of their turn while it waits, and reports progress for every prompted point', async () => {
    const order: string[] = [];
    const sam = watchDecodes(createFakeSam(), (prompt) => order.push(`${prompt.points![0].x},${prompt.points![0].y}`));
    const options: SegmentEverythingOptions = { ...base, ...settings[3][1], pointsPerBatch: 1 };
    const plainOrder: string[] = [];
    const plainSam = watchDecodes(createFakeSam(), (prompt) => plainOrder.push(`${prompt.points![0].x},${prompt.points![0].y}`));
    await segmentEverything(plainSam, image, options);
    const progress: number[] = [];
    await segmentEverything(sam, image, { ...options, candidateMaker: shuffledMaker(3), onProgress: (e) => e.message === undefined && progress.push(e.done) });
    // The same points, in another order.
    expect([...order].sort()).toEqual([...plainOrder].sort());
    expect(order).not.toEqual(plainOrder);
    expect(progress.length).toBe(order.length);
  });

  it('a judging failure rejects segmentEverything with that error (exact and fast), and none goes unhandled', async () => {
    for (const mode of ['exact', 'fast'] as const) {
      let n = 0;
      const failing: CandidateMaker = {
        concurrent: true,
        judge: async (job) => {
          if (++n === 3) throw new Error(`judge failed (${mode})`);
          return createCandidateJobRunner()(job);
        },
        dispose: async () => {},
      };
      const fast = mode === 'fast' ? settings[3][1] : {};
      const error = await segmentEverything(createFakeSam(), image, { ...base, ...fast, candidateMaker: failing }).catch((e: unknown) => e);
      expect((error as Error).message).toBe(`judge failed (${mode})`);
    }
  });

  it('an abort during exact mode with judgings in flight rejects with ABORTED', async () => {
    const controller = new AbortController();
    let calls = 0;
    const sam = watchDecodes(createFakeSam(), () => {
      if (++calls === 10) controller.abort();
    });
    const error = await segmentEverything(sam, image, { ...base, pointsPerBatch: 4, signal: controller.signal, candidateMaker: shuffledMaker(4) }).catch((e: unknown) => e);
    expect(isSalipError(error) && error.code).toBe('ABORTED');
    expect(calls).toBeLessThan(64);
  });
});

describe('segmentEverything with promptsPerRun (prompt batches)', () => {
  const image = testImage(72, 56);
  const base: SegmentEverythingOptions = { pointsPerSide: 6, predIouThresh: 0.6, stabilityScoreThresh: 0.3, boxNmsThresh: 0.7 };
  const batchingSam = createBatchingFakeSam;

  it('exact mode decodes the grid in runs of promptsPerRun points, with the records of single runs (calling thread and worker)', async () => {
    const plain = await segmentEverything(createFakeSam(), image, base);
    const { sam, sizes } = batchingSam();
    const batched = await segmentEverything(sam, image, { ...base, promptsPerRun: 8 });
    expect(sizes).toEqual([8, 8, 8, 8, 4]);
    expect(batched.records).toEqual(plain.records);
    expect(batched.stats).toEqual(plain.stats);
    expect(batched.options.promptsPerRun).toBe(8);
    const worker = workerCandidateMaker(nodeBackend());
    try {
      const inWorker = await segmentEverything(batchingSam().sam, image, { ...base, promptsPerRun: 64, candidateMaker: worker });
      expect(inWorker.records).toEqual(plain.records);
    } finally {
      await worker.dispose();
    }
  });

  it('fast mode decodes one point per run whatever promptsPerRun says', async () => {
    const { sam, sizes } = batchingSam();
    const fast = await segmentEverything(sam, image, { ...base, mode: 'fast', promptsPerRun: 8 });
    expect(sizes).toEqual([]);
    expect(fast.records).toEqual((await segmentEverything(createFakeSam(), image, { ...base, mode: 'fast' })).records);
  });

  it('refuses promptsPerRun above 1 without decodeBatch, and values that are not integers >= 1, naming the option', async () => {
    for (const [sam, value] of [[createFakeSam(), 2], [batchingSam().sam, 0], [batchingSam().sam, 1.5]] as const) {
      const error = await segmentEverything(sam, image, { ...base, promptsPerRun: value }).catch((e: unknown) => e);
      expect(isSalipError(error) && error.code).toBe('INVALID_ARGUMENT');
      expect((error as Error).message).toContain('promptsPerRun');
    }
  });
});
