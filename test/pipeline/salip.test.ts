import { describe, expect, it } from 'vitest';
import {
  FAST_EVERYTHING_DEFAULTS,
  SalipError,
  TASK_DEFAULTS,
  TASK_PRESETS,
  createSalip,
  evaluate,
  gtBoxSam,
  maskArea,
  maskDice,
  parseTaskJson,
  resolveTask,
  tune,
  unpromptedSam,
  validateTask,
  type Backend,
  type BinaryMask,
  type SalipTask,
  type Scorer,
} from '../../src/index.js';
import { nodeBackend } from '../../src/backends/node.js';
import { createBatchingFakeSam, createFakeSam, testImage } from '../helpers/fake-sam.js';
import { skullImage } from '../helpers/masks.js';
import { ellipseMask } from '../../src/core/ellipse.js';
import { boxIoU, boxXywhToXyxy } from '../../src/core/mask.js';

const noBackend: Backend = {
  name: 'none',
  async loadModel() {
    throw new Error('no models in this test');
  },
  async readBytes() {
    throw new Error('no files in this test');
  },
};

/** Scores a candidate by the mean brightness under its box: the bright rectangle wins. */
const brightnessScorer: Scorer = {
  name: 'brightness',
  async score(ctx) {
    const n = ctx.candidates.length;
    const scores = new Float32Array(ctx.classes.length * n);
    ctx.candidates.forEach((r, i) => {
      const [x, y, w, h] = r.bbox;
      let sum = 0;
      let count = 0;
      for (let yy = y; yy <= y + h; yy++) for (let xx = x; xx <= x + w; xx++, count++) sum += ctx.image.data[(yy * ctx.image.width + xx) * 3];
      for (let c = 0; c < ctx.classes.length; c++) scores[c * n + i] = sum / count;
    });
    return { classNames: ctx.classes.map((c) => c.name), candidateCount: n, scores };
  },
};

const TASK: SalipTask = {
  name: 'bright',
  // The fake SAM's geometry is checked at the image's own size.
  workingSize: null,
  classes: [{ name: 'organ', prompts: ['a bright organ'], topK: 1 }],
  everything: { pointsPerSide: 4, predIouThresh: 0.8, stabilityScoreThresh: 0.3 },
};

describe('tasks', () => {
  it('resolves presets and rejects unknown names', () => {
    expect(resolveTask('lungs-cxr').classes[0].topK).toBe(2);
    expect(resolveTask('fetal-head-us').classes[0].topK).toBe(1);
    // A preset resolves to one object with the defaults filled in and its own settings kept.
    expect(resolveTask('brain-mri')).toBe(resolveTask('brain-mri'));
    expect(resolveTask('brain-mri').everything).toEqual({ ...TASK_DEFAULTS.everything, ...TASK_PRESETS['brain-mri'].everything });
    // The heart preset is what a task naming only the heart gets, with each refined candidate's convex hull.
    const heart = resolveTask('heart-cxr');
    expect(heart.classes[0]).toMatchObject({ name: 'heart', topK: 1 });
    expect(heart.everything).toEqual(TASK_DEFAULTS.everything);
    expect(heart.refine).toEqual({ ...TASK_DEFAULTS.refine, convexHull: true });
    expect(heart.exemplarScoring).toEqual(TASK_DEFAULTS.exemplarScoring);
    expect(() => resolveTask('liver')).toThrow(/unknown preset 'liver'.*heart-cxr/);
    expect(() => resolveTask('constructor')).toThrow(/unknown preset 'constructor'/);
  });

  it('fills TASK_DEFAULTS into a task that names only its classes, field by field', () => {
    const named = resolveTask({ name: 'heart', classes: [{ name: 'heart', prompts: ['the heart'] }] });
    expect(named.workingSize).toBe(256);
    expect(named.everything).toEqual(TASK_DEFAULTS.everything);
    expect(named.refine).toEqual(TASK_DEFAULTS.refine);
    expect(named.proposals).toEqual(TASK_DEFAULTS.proposals);
    expect(named.maxAreaFraction).toBe(TASK_DEFAULTS.maxAreaFraction);
    const own = resolveTask({ name: 'own', classes: [{ name: 'a', prompts: ['a'] }], workingSize: null, everything: { pointsPerSide: 8 }, refine: { iterations: 1 }, proposals: false, maxArea: 900 });
    expect(own.workingSize).toBeNull();
    expect(own.everything).toEqual({ ...TASK_DEFAULTS.everything, pointsPerSide: 8 });
    expect(own.refine).toEqual({ ...TASK_DEFAULTS.refine, iterations: 1 });
    expect(own.proposals).toBe(false);
    // An explicit maxArea is not shadowed by the default fraction.
    expect(own.maxAreaFraction).toBeUndefined();
  });

  it.each([
    [{ classes: [{ name: 'a', prompts: ['a'] }], refine: { iterations: 0 } }, 'task.refine.iterations'],
    [{ classes: [{ name: 'a', prompts: ['a'] }], refine: { itterations: 2 } }, 'task.refine.itterations'],
    [{ classes: [{ name: 'a', prompts: ['a'] }], proposals: 'yes' }, 'task.proposals'],
    [{ classes: [{ name: 'a', prompts: ['a'] }], proposals: { similarityLevel: 2 } }, 'task.proposals.similarityLevel'],
    [{ classes: [{ name: 'a', prompts: ['a'] }], proposals: { rings: 'yes' } }, 'task.proposals.rings'],
    [{ classes: [{ name: 'a', prompts: ['a'] }], proposals: { ringDuplicateIoU: 1.5 } }, 'task.proposals.ringDuplicateIoU'],
    [{ classes: [{ name: 'a', prompts: ['a'] }], proposals: { ringCount: 0 } }, 'task.proposals.ringCount'],
    [{ classes: [{ name: 'a', prompts: ['a'] }], proposals: { centredBoxes: 1 } }, 'task.proposals.centredBoxes'],
    [{ classes: [{ name: 'a', prompts: ['a'] }], exemplarScoring: { locationWeight: -1 } }, 'task.exemplarScoring.locationWeight'],
    [{ classes: [{ name: 'a', prompts: ['a'] }], exemplarScoring: { contrast: 'bright' } }, 'task.exemplarScoring.contrast'],
    [{ classes: [{ name: 'a', prompts: ['a'] }], workingSize: 0 }, 'task.workingSize'],
    [{ classes: [{ name: 'a', prompts: ['a'] }], everything: { pointPerSide: 8 } }, 'task.everything.pointPerSide'],
    [{ classes: [{ name: 'a', prompts: ['a'] }], everything: [16] }, 'task.everything'],
  ])('refuses bad cascade settings by field: %j', (task, field) => {
    expect(() => validateTask(task)).toThrow(field);
  });

  it('extends a preset: settings merge key by key, a class of the preset\'s name keeps its prompts', () => {
    const preset = TASK_PRESETS['fetal-head-us'];
    const exemplars = [{ image: testImage(16, 16), mask: gtRect(16, 16, [2, 2, 10, 10]) }];
    const task = validateTask({ extends: 'fetal-head-us', classes: [{ name: 'fetal-head', exemplars }], proposals: { ringCount: 1 }, refine: { ellipseBoxes: 1 } });
    expect(task).not.toHaveProperty('extends');
    expect(task.name).toBe('fetal-head-us');
    expect(task.everything).toEqual(preset.everything);
    expect(task.exemplarScoring).toEqual(preset.exemplarScoring);
    expect(task.refine).toEqual({ ...preset.refine, ellipseBoxes: 1 });
    expect(task.proposals).toEqual({ ...(preset.proposals as object), ringCount: 1 });
    expect(task.classes).toEqual([{ ...preset.classes[0], exemplars }]);
    // Resolved, the task is the preset with one ring and the exemplars.
    const resolved = resolveTask(task);
    expect(resolved.proposals).toMatchObject({ rings: true, ringCount: 1, ringDuplicateIoU: 0.8, eachExemplarBox: true });
    expect(resolved.refine).toMatchObject({ fitEllipse: true, ellipseBoxes: 1 });
    // Without classes, the preset's; a class of another name is the task's own; proposals: false turns them off.
    expect(validateTask({ extends: 'brain-mri' }).classes).toEqual(TASK_PRESETS['brain-mri'].classes);
    expect(validateTask({ extends: 'brain-mri', name: 'mine', classes: [{ name: 'skull', prompts: ['a skull'] }], proposals: false })).toMatchObject({ name: 'mine', classes: [{ name: 'skull', prompts: ['a skull'] }], proposals: false });
    expect(() => validateTask({ extends: 'liver-ct' })).toThrow(/task\.extends: expected a preset name/);
    expect(() => validateTask({ extends: 'constructor' })).toThrow(/task\.extends/);
    expect(() => validateTask({ extends: 'brain-mri', refine: { itterations: 2 } })).toThrow('task.refine.itterations');
  });

  it('accepts every segment-everything setting a task may give, and the presets as JSON', () => {
    const everything = { pointsPerSide: 8, pointsPerBatch: 16, predIouThresh: 0.5, stabilityScoreThresh: 0, stabilityScoreOffset: 1, boxNmsThresh: 0.7, cropNLayers: 0, cropNmsThresh: 0.7, cropOverlapRatio: 0.3, cropNPointsDownscaleFactor: 1, minMaskRegionArea: 0, maskThreshold: 0, multimask: true, mode: 'fast', fast: {}, promptsPerRun: 4, boxScales: [1] };
    expect(validateTask({ classes: [{ name: 'a', prompts: ['a'] }], everything }).everything).toEqual(everything);
    for (const preset of Object.values(TASK_PRESETS)) expect(() => validateTask(JSON.parse(JSON.stringify(preset)))).not.toThrow();
  });

  it.each([
    [null, 'task.'],
    [{ classes: [] }, 'task.classes'],
    [{ classes: [{ name: 'a' }] }, 'prompts or exemplars'],
    [{ classes: [{ name: 'a', prompts: [] }] }, 'empty prompt ensemble'],
    [{ classes: [{ name: 'a', prompts: [''] }] }, 'classes[0].prompts'],
    [{ classes: [{ name: 'a', prompts: ['x'], topK: 0 }] }, 'topK'],
    [{ classes: [{ name: 'a', prompts: ['x'] }, { name: 'a', prompts: ['y'] }] }, 'unique'],
    [{ classes: [{ name: 'a', prompts: ['x'] }], visualPrompt: 'halo' }, 'visualPrompt'],
    [{ classes: [{ name: 'a', prompts: ['x'] }], maxAreaFraction: 2 }, 'maxAreaFraction'],
    [{ classes: [{ name: 'a', prompts: ['x'] }], workingSize: 12.5 }, 'workingSize'],
  ])('rejects %j with INVALID_TASK naming the field', (task, field) => {
    const err = (() => {
      try {
        validateTask(task);
      } catch (e) {
        return e as SalipError;
      }
    })();
    expect(err?.code).toBe('INVALID_TASK');
    expect(err?.message).toContain(field);
  });

  it('parses task JSON and reports syntax errors as INVALID_TASK', () => {
    expect(parseTaskJson('{"classes":[{"name":"a","prompts":["x"]}]}').name).toBe('custom');
    expect(() => parseTaskJson('{"classes": [')).toThrow(SalipError);
  });
});

/** A mask that is 1 inside the rectangle [x0, y0, x1, y1) (exclusive right and bottom). */
function gtRect(w: number, h: number, r: [number, number, number, number]): BinaryMask {
  const data = new Uint8Array(w * h);
  for (let y = r[1]; y < r[3]; y++) for (let x = r[0]; x < r[2]; x++) data[y * w + x] = 1;
  return { width: w, height: h, data };
}

describe('createSalip', () => {
  it('runs the cascade and keeps provenance', async () => {
    const sam = createFakeSam();
    const salip = await createSalip({ backend: noBackend, sam, scorer: brightnessScorer });
    const image = testImage(64, 48, [30, 10, 50, 30]);
    const result = await salip.segment(image, TASK);
    const organ = result.classes.organ;
    expect(organ.mask.width).toBe(64);
    expect(organ.chosen).toHaveLength(1);
    const chosen = organ.chosen[0];
    expect(result.retrieval.pool[chosen.index]).toBe(chosen.record);
    expect(result.pool[result.retrieval.poolIndex[chosen.index]]).toBe(chosen.record);
    // The winner is a candidate inside the bright rectangle.
    const [x, y] = chosen.record.pointCoords[0];
    expect(x).toBeGreaterThanOrEqual(30);
    expect(y).toBeLessThan(30);
    expect(result.retrieval.table.scores.length).toBe(result.retrieval.pool.length);
    expect(result.timings.total).toBeGreaterThanOrEqual(0);
    expect(sam.embedCalls).toBe(1);
    await salip.dispose();
  });

  it('judges segment-everything’s masks in a worker when the backend can start one, unless workers: false; the result is the same', async () => {
    const image = testImage(64, 48, [30, 10, 50, 30]);
    const withWorker = await createSalip({ backend: nodeBackend(), sam: createFakeSam(), scorer: brightnessScorer });
    const onThread = await createSalip({ backend: nodeBackend(), sam: createFakeSam(), scorer: brightnessScorer, workers: false });
    const noStart = await createSalip({ backend: noBackend, sam: createFakeSam(), scorer: brightnessScorer });
    try {
      expect(withWorker.candidateMaker.concurrent).toBe(true);
      expect(onThread.candidateMaker.concurrent).toBe(false);
      expect(noStart.candidateMaker.concurrent).toBe(false);
      const [a, b, c] = [await withWorker.segment(image, TASK), await onThread.segment(image, TASK), await noStart.segment(image, TASK)];
      expect(a.pool).toEqual(b.pool);
      expect(a.pool).toEqual(c.pool);
      expect(a.everything.stats).toEqual(b.everything.stats);
      expect(a.classes.organ.mask).toEqual(b.classes.organ.mask);
      expect((await withWorker.segmentEverything(image, { pointsPerSide: 6 })).records).toEqual((await onThread.segmentEverything(image, { pointsPerSide: 6 })).records);
    } finally {
      await Promise.all([withWorker.dispose(), onThread.dispose(), noStart.dispose()]);
    }
    // dispose() stops the worker.
    expect(withWorker.candidateMaker.concurrent).toBe(false);
    const error = await createSalip({ backend: noBackend, sam: createFakeSam(), workers: 'yes' as never }).catch((e: unknown) => e);
    expect((error as SalipError).code).toBe('INVALID_ARGUMENT');
    expect((error as Error).message).toContain('workers');
  });

  it('decodes segment-everything in prompt batches where the backend says batches pay (a GPU provider first), else one point per run', async () => {
    const image = testImage(64, 48, [30, 10, 50, 30]);
    const batchingSam = createBatchingFakeSam;
    const gpu = batchingSam();
    const onGpu = await createSalip({ backend: { ...noBackend, batchedPrompts: true }, sam: gpu.sam, scorer: brightnessScorer });
    const cpu = batchingSam();
    const onCpu = await createSalip({ backend: noBackend, sam: cpu.sam, scorer: brightnessScorer });
    const noBatch = await createSalip({ backend: { ...noBackend, batchedPrompts: true }, sam: createFakeSam(), scorer: brightnessScorer });
    try {
      expect([onGpu.promptsPerRun, onCpu.promptsPerRun, noBatch.promptsPerRun]).toEqual([64, 1, 1]);
      const task: SalipTask = { ...TASK, everything: { ...TASK.everything, pointsPerSide: 10 } };
      const [a, b] = [await onGpu.segment(image, task), await onCpu.segment(image, task)];
      expect(gpu.sizes).toEqual([64, 36]);
      expect(cpu.sizes).toEqual([]);
      expect(a.pool).toEqual(b.pool);
      // A task's own promptsPerRun wins; segmentEverything takes the instance's.
      await onGpu.segment(image, { ...task, everything: { ...task.everything, promptsPerRun: 1 } });
      expect(gpu.sizes).toEqual([64, 36]);
      await onGpu.segmentEverything(image, { pointsPerSide: 4 });
      expect(gpu.sizes).toEqual([64, 36, 16]);
      // evaluate() and tune() run the task's segment-everything the same way: the instance's
      // batches unless the task says otherwise.
      const item = { name: 'im.png', image, groundTruth: gtRect(64, 48, [30, 10, 50, 30]) };
      const small: SalipTask = { ...TASK, everything: { ...TASK.everything, pointsPerSide: 4 } };
      await evaluate(onGpu, [item], { task: small, modes: ['cascade'] });
      await evaluate(onGpu, [item], { task: { ...small, everything: { ...small.everything, promptsPerRun: 1 } }, modes: ['cascade'] });
      expect(gpu.sizes).toEqual([64, 36, 16, 16]);
      await tune(onGpu, [item], { task: small, objective: 'labelled', iterations: 1, space: { pointsPerSide: [4] } });
      await tune(onGpu, [item], { task: { ...small, everything: { ...small.everything, promptsPerRun: 1 } }, objective: 'labelled', iterations: 1, space: { pointsPerSide: [4] } });
      expect(gpu.sizes).toEqual([64, 36, 16, 16, 16]);
    } finally {
      await Promise.all([onGpu.dispose(), onCpu.dispose(), noBatch.dispose()]);
    }
    const forced = await createSalip({ backend: noBackend, sam: batchingSam().sam, promptsPerRun: 8 });
    expect(forced.promptsPerRun).toBe(8);
    await forced.dispose();
    for (const promptsPerRun of [0, 2.5]) {
      const error = await createSalip({ backend: noBackend, sam: batchingSam().sam, promptsPerRun }).catch((e: unknown) => e);
      expect((error as SalipError).code).toBe('INVALID_ARGUMENT');
    }
    const noDecodeBatch = await createSalip({ backend: noBackend, sam: createFakeSam(), promptsPerRun: 4 }).catch((e: unknown) => e);
    expect((noDecodeBatch as Error).message).toContain('decodeBatch');
  });

  it('in fast mode, guides segment-everything with the scorer’s pointAffinity unless the task gives a guide', async () => {
    const asked: Array<{ points: number; classes: string[]; sameEmbedding: boolean }> = [];
    let embedding: unknown;
    const image = testImage(64, 48, [30, 10, 50, 30]);
    const brightness = (x: number, y: number) => image.data[(Math.floor(y) * image.width + Math.floor(x)) * 3];
    const guidedScorer: Scorer = {
      ...brightnessScorer,
      async pointAffinity(ctx, points) {
        asked.push({ points: points.length / 2, classes: ctx.classes.map((c) => c.name), sameEmbedding: ctx.embedding === embedding });
        return Float32Array.from({ length: points.length / 2 }, (_, p) => brightness(points[2 * p], points[2 * p + 1]));
      },
    };
    const sam = createFakeSam();
    const embed = sam.embed.bind(sam);
    sam.embed = async (img, o) => (embedding = await embed(img, o));
    const salip = await createSalip({ backend: noBackend, sam, scorer: guidedScorer });
    const fastTask: SalipTask = { ...TASK, everything: { ...TASK.everything, pointsPerSide: 8, mode: 'fast' } };
    const result = await salip.segment(image, fastTask);
    expect(asked).toEqual([{ points: 64, classes: ['organ'], sameEmbedding: true }]);
    expect(typeof result.everything.options.fast.guide).toBe('function');
    // The guided points (the brightest 12 %, inside the rectangle) were prompted.
    const prompted = new Set(result.pool.map((r) => r.pointCoords[0].join(',')));
    expect([...prompted].some((k) => brightness(...(k.split(',').map(Number) as [number, number])) > 200)).toBe(true);
    // Exact mode asks no guide; a task's own guide replaces the scorer's.
    await salip.segment(image, TASK);
    let own = 0;
    await salip.segment(image, { ...fastTask, everything: { ...fastTask.everything, fast: { guide: (p) => (own++, new Float32Array(p.length / 2)) } } });
    expect(asked).toHaveLength(1);
    expect(own).toBe(1);
    await salip.dispose();
  });

  it('the exemplar scorer createSalip builds guides fast mode by itself', async () => {
    const salip = await createSalip({ backend: noBackend, sam: createFakeSam() });
    const image = testImage(64, 48, [30, 10, 50, 30]);
    const mask = { width: 64, height: 48, data: new Uint8Array(64 * 48) };
    for (let y = 10; y < 30; y++) mask.data.fill(1, y * 64 + 30, y * 64 + 50);
    const task: SalipTask = { name: 'bright', classes: [{ name: 'organ', exemplars: [{ image, mask }], topK: 1 }], everything: { pointsPerSide: 8, predIouThresh: 0.8, stabilityScoreThresh: 0.3, mode: 'fast' } };
    const result = await salip.segment(image, task);
    expect(typeof result.everything.options.fast.guide).toBe('function');
    expect(result.everything.stats.decoderCalls).toBeGreaterThanOrEqual(Math.round(FAST_EVERYTHING_DEFAULTS.guideFraction * 64));
    await salip.dispose();
  });

  it("a task with proposals.rings puts the ring's box candidate in the pool, from the working image", async () => {
    const salip = await createSalip({ backend: noBackend, sam: createFakeSam() });
    const skull = { cx: 40, cy: 36, semiMajor: 20, semiMinor: 14, angle: 0 };
    // The input is twice the working size: rings are looked for on the working image.
    const image = skullImage({ ...skull, cx: 80, cy: 72, semiMajor: 40, semiMinor: 28 }, 160);
    const exemplar = { image: skullImage(skull, 80), mask: ellipseMask(skull, 80, 80) };
    const task: SalipTask = { name: 'head', classes: [{ name: 'head', exemplars: [exemplar], topK: 1 }], workingSize: 80, everything: { pointsPerSide: 4 }, proposals: { rings: true, ringCount: 1 } };
    const result = await salip.segment(image, task);
    const rings = result.pool.filter((r) => r.proposer === 'ring');
    expect(rings).toHaveLength(1);
    const [x, y, w, h] = rings[0].bbox;
    expect(Math.abs(x + w / 2 - skull.cx)).toBeLessThanOrEqual(2);
    expect(Math.abs(y + h / 2 - skull.cy)).toBeLessThanOrEqual(2);
    // The cascade checks rings against segment-everything's pool: at a duplicate IoU of 0 a grid
    // candidate overlapping the ring at all drops it.
    const strict = await salip.segment(image, { ...task, proposals: { rings: true, ringCount: 1, ringDuplicateIoU: 0 } });
    expect(strict.pool.filter((r) => r.proposer === 'grid').some((r) => boxIoU(boxXywhToXyxy(r.bbox), boxXywhToXyxy(rings[0].bbox)) > 0)).toBe(true);
    expect(strict.pool.some((r) => r.proposer === 'ring')).toBe(false);
    expect(strict.decoderCalls.proposals).toBe(result.decoderCalls.proposals);
    await salip.dispose();
  });

  it('returns masks at the input size when the task has a working size', async () => {
    const salip = await createSalip({ backend: noBackend, sam: createFakeSam(), scorer: brightnessScorer });
    const result = await salip.segment(testImage(100, 80, [40, 20, 70, 50]), { ...TASK, workingSize: 32 });
    expect(result.workingSize).toEqual({ width: 32, height: 32 });
    expect([result.classes.organ.mask.width, result.classes.organ.mask.height]).toEqual([100, 80]);
    expect(result.pool[0].segmentation.size).toEqual([32, 32]);
  });

  it('gives identical results to 8 concurrent calls and to sequential ones', async () => {
    const salip = await createSalip({ backend: noBackend, sam: createFakeSam({ delayMs: 1 }), scorer: brightnessScorer });
    const images = Array.from({ length: 8 }, (_, i) => testImage(48, 48, [i * 3, 5, i * 3 + 15, 25]));
    const sequential: Awaited<ReturnType<typeof salip.segment>>[] = [];
    for (const im of images) sequential.push(await salip.segment(im, TASK));
    const concurrent = await Promise.all(images.map((im) => salip.segment(im, TASK)));
    concurrent.forEach((r, i) => {
      expect(Array.from(r.classes.organ.mask.data)).toEqual(Array.from(sequential[i].classes.organ.mask.data));
      expect(r.pool).toEqual(sequential[i].pool);
    });
  });

  it('needs CLIP or exemplars for text classes', async () => {
    const salip = await createSalip({ backend: noBackend, sam: createFakeSam() });
    await expect(salip.segment(testImage(32, 32), TASK)).rejects.toMatchObject({ code: 'INVALID_TASK' });
  });

  it('fails cleanly after dispose and leaves injected models to their owner', async () => {
    const sam = createFakeSam();
    const salip = await createSalip({ backend: noBackend, sam, scorer: brightnessScorer });
    await salip.dispose();
    expect(sam.disposed).toBe(false);
    await expect(salip.segment(testImage(32, 32), TASK)).rejects.toMatchObject({ code: 'DISPOSED' });
    await salip.dispose();
  });

  it('validates its options and images', async () => {
    await expect(createSalip(undefined as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(createSalip({ backend: {} as Backend, sam: createFakeSam() })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const salip = await createSalip({ backend: noBackend, sam: createFakeSam(), scorer: brightnessScorer });
    await expect(salip.segment({ width: 2, height: 2, data: new Uint8Array(3) }, TASK)).rejects.toMatchObject({ code: 'INVALID_IMAGE' });
  });
});

describe('baselines, evaluate and tune', () => {
  it('GT-box SAM reproduces a rectangular ground truth; un-prompted SAM gives the padding-point mask', async () => {
    const sam = createFakeSam();
    const image = testImage(64, 48);
    const gt = gtRect(64, 48, [10, 10, 30, 20]);
    expect(maskDice((await gtBoxSam(sam, image, gt)).union, gt)).toBe(1);
    const un = await unpromptedSam(sam, image);
    expect(maskArea(un.mask)).toBeGreaterThan(Math.PI * 15 * 15);
    await expect(gtBoxSam(sam, image, gtRect(10, 10, [0, 0, 1, 1]))).rejects.toMatchObject({ code: 'SIZE_MISMATCH' });
  });

  it('evaluates all four modes side by side', async () => {
    const salip = await createSalip({ backend: noBackend, sam: createFakeSam(), scorer: brightnessScorer });
    const items = [0, 1, 2].map((i) => {
      const rect: [number, number, number, number] = [10 + i * 5, 10, 30 + i * 5, 30];
      return { name: `im${i}.png`, image: testImage(64, 64, rect), groundTruth: gtRect(64, 64, rect) };
    });
    const seen: string[] = [];
    const report = await evaluate(salip, items, { task: TASK, onImage: (r) => void seen.push(r.name) });
    expect(report.count).toBe(3);
    expect(seen).toEqual(['im0.png', 'im1.png', 'im2.png']);
    expect(report.mean['gt-box']!.dice).toBe(1);
    for (const m of ['cascade', 'unprompted', 'oracle'] as const) {
      expect(report.mean[m]!.dice).toBeGreaterThanOrEqual(0);
      expect(report.mean[m]!.dice).toBeLessThanOrEqual(1);
    }
    expect(report.mean.oracle!.dice).toBeGreaterThanOrEqual(report.mean.cascade!.dice - 1e-9);
    await expect(evaluate(salip, [{ ...items[0], groundTruth: gtRect(10, 10, [0, 0, 2, 2]) }], { task: TASK })).rejects.toMatchObject({ code: 'SIZE_MISMATCH' });
  });

  it('evaluates the exemplar-box baseline where the class has exemplars, refined like the cascade', async () => {
    const salip = await createSalip({ backend: noBackend, sam: createFakeSam(), scorer: brightnessScorer });
    const items = [0, 1, 2, 3].map((i) => {
      const rect: [number, number, number, number] = [10 + i, 12, 40 + i, 36];
      return { name: `im${i}.png`, image: testImage(64, 64, rect), groundTruth: gtRect(64, 64, rect) };
    });
    // Drawn exemplars describe the class: every mode runs by default, exemplar-box included.
    const report = await evaluate(salip, items, { task: TASK, exemplars: 2, seed: 3 });
    expect(report.modes).toEqual(['cascade', 'unprompted', 'gt-box', 'oracle', 'exemplar-box']);
    // The fake SAM fills a box prompt: the mean exemplar box nearly covers these near-identical rectangles.
    expect(report.mean['exemplar-box']!.dice).toBeGreaterThan(0.9);
    expect(report.images.every((r) => r.decoderCalls !== undefined && r.decoderCalls.refine >= 1)).toBe(true);
    expect(report.meanDecoderCalls).toBeGreaterThan(0);
    // Without exemplars the default leaves it out, and asking for it names what is missing.
    expect((await evaluate(salip, items, { task: TASK, modes: undefined })).modes).not.toContain('exemplar-box');
    await expect(evaluate(salip, items, { task: TASK, modes: ['exemplar-box'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining("'exemplar-box' needs class 'organ'") });
    await salip.dispose();
  });

  it('evaluate runs fast mode guided by the scorer, as segment() does', async () => {
    let asked = 0;
    const scorer: Scorer = { ...brightnessScorer, async pointAffinity(_ctx, points) { asked++; return new Float32Array(points.length / 2); } };
    const salip = await createSalip({ backend: noBackend, sam: createFakeSam(), scorer });
    const rect: [number, number, number, number] = [10, 10, 30, 30];
    const items = [0, 1].map((i) => ({ name: `im${i}.png`, image: testImage(64, 64, rect), groundTruth: gtRect(64, 64, rect) }));
    const fastTask: SalipTask = { ...TASK, everything: { ...TASK.everything, mode: 'fast' } };
    await evaluate(salip, items, { task: fastTask, modes: ['cascade'] });
    expect(asked).toBe(2);
    await evaluate(salip, items, { task: TASK, modes: ['cascade'] });
    expect(asked).toBe(2);
    await salip.dispose();
  });

  it('tunes with both objectives, deterministically for a seed', async () => {
    const salip = await createSalip({ backend: noBackend, sam: createFakeSam(), scorer: brightnessScorer });
    const images = [0, 1].map((i) => ({ image: testImage(48, 48, [5 + i * 10, 5, 25 + i * 10, 25]), groundTruth: gtRect(48, 48, [5 + i * 10, 5, 25 + i * 10, 25]) }));
    const space = { pointsPerSide: [2, 4] };
    const a = await tune(salip, images, { task: TASK, objective: 'labelled', iterations: 3, seed: 7, space });
    const b = await tune(salip, images, { task: TASK, objective: 'labelled', iterations: 3, seed: 7, space });
    expect(a.trials.map((t) => t.params)).toEqual(b.trials.map((t) => t.params));
    expect(a.best.score).toBe(Math.max(...a.trials.map((t) => t.score)));
    expect(a.task.everything?.pointsPerSide).toBe(a.best.params.pointsPerSide);
    // The tuned task carries the cascade settings of the best trial and its classes as given.
    expect(a.task.refine).toMatchObject({ iterations: a.best.params.refineIterations, candidates: a.best.params.refineCandidates });
    expect(a.task.exemplarScoring?.locationWeight).toBe(a.best.params.locationWeight);
    expect(a.task.exemplarScoring?.shapeWeight).toBe(a.best.params.shapeWeight);
    expect(a.task.refine?.boxMargin).toBe(a.best.params.boxMargin);
    expect(a.task.refine?.consensus).toBe(a.best.params.consensus);
    expect(a.task.refine?.fitEllipse).toBe(a.best.params.fitEllipse);
    expect(a.task.refine?.peelSurroundings).toBe(a.best.params.peelSurroundings);
    expect(a.task.refine?.convexHull).toBe(a.best.params.convexHull);
    expect(a.task.refine?.ellipseBoxes).toBe(a.best.params.ellipseBoxes);
    expect(a.task.refine?.maskThreshold).toBe(a.best.params.maskThreshold);
    expect(a.task.exemplarScoring).toMatchObject({ ellipseWeight: a.best.params.ellipseWeight, ellipseGate: a.best.params.ellipseWeight > 0 ? 0.1 : 0 });
    expect(a.task.exemplarScoring).toMatchObject({ boundaryWeight: a.best.params.boundaryWeight, edgeWeight: a.best.params.edgeWeight });
    expect(a.task.proposals === false).toBe(!a.best.params.proposals);
    // The ring proposals are searched with the proposals on, and written into the tuned task.
    const ringed = await tune(salip, images, { task: TASK, objective: 'labelled', iterations: 1, seed: 7, space: { ...space, proposals: [true], rings: [true] } });
    expect(ringed.task.proposals && ringed.task.proposals.rings).toBe(true);
    const plainRings = await tune(salip, images, { task: TASK, objective: 'labelled', iterations: 1, seed: 7, space: { ...space, proposals: [true], rings: [false] } });
    expect(plainRings.task.proposals && plainRings.task.proposals.rings).toBe(false);
    expect(a.task.classes).toEqual(TASK.classes);
    expect(new Set(a.trials.map((t) => `${t.params.refineIterations}/${t.params.refineCandidates}`)).size).toBeGreaterThan(1);
    const free = await tune(salip, images.map((i) => ({ image: i.image })), { task: TASK, objective: 'label-free', iterations: 2, seed: 1, space });
    expect(free.best.labelled).toBeUndefined();
    expect(free.best.labelFree).toBeGreaterThan(0);
    await expect(tune(salip, images.map((i) => ({ image: i.image })), { task: TASK, objective: 'labelled' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
