/**
 * The fast mode of segment-everything replayed over the study cache (cache.ts) with a task's
 * preset, against the exact mode's pool, on every dev image: points prompted, and the change of
 * the cascade's final Dice (exemplar scorer as createSalip builds it, 3 exemplars, seed 0). The
 * bench (npm run bench) measures the same on a subset with the real code path; this covers the
 * whole dev sets in minutes.
 *
 *   npx tsx bench/study/fast-replay.ts [task,...] [--seed 0] [--settings '<json array of FastEverythingOptions>']
 *
 * A setting may also carry `dup`: the box IoU above which the early-stop rule counts a candidate
 * as already found (collectFast uses the task's boxNmsThresh; this tries another value), and
 * `unguided: true` to replay fast mode without the exemplar scorer's guide (createSalip adds the
 * guide whenever the scorer has one, as the exemplar scorer does).
 */
import { parseArgs } from 'node:util';
import { pointGrid } from '../../src/core/everything/index.js';
import { maskDice } from '../../src/core/mask.js';
import { topK } from '../../src/core/similarity.js';
import { collectFast, guidedPoints, resolveFastOptions, type FastEverythingOptions } from '../../src/pipeline/stages/everything-fast.js';
import { SEGMENT_EVERYTHING_DEFAULTS, type CropCandidate } from '../../src/pipeline/stages/segment-everything.js';
import { resolveTask } from '../../src/pipeline/tasks.js';
import type { MaskRecord } from '../../src/pipeline/types.js';
import { DEV_TASKS, PRESET_OF, mean, poolFromCandidates, type DevTask } from '../harness.js';
import { loadMobileSam } from './common.js';
import { passingCandidates, stabilityIndex } from './pool.js';
import { loadStudy, refinedUnion, saveRefined } from './simulate.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { seed: { type: 'string', default: '0' }, settings: { type: 'string', default: '[{}]' } } });
const settings = JSON.parse(values.settings!) as Array<FastEverythingOptions & { dup?: number; unguided?: boolean }>;
const tasks = (positionals[0]?.split(',') ?? DEV_TASKS) as DevTask[];
const model = await loadMobileSam();
// The study caches similarity scores without the stability prior (its records carry no
// stability); the prior is added here exactly as createExemplarScorer adds it (default weight).
const STABILITY_WEIGHT = 10;

for (const task of tasks) {
  const preset = resolveTask(PRESET_OF[task]);
  const params = { ...SEGMENT_EVERYTHING_DEFAULTS, ...preset.everything };
  const side = params.pointsPerSide!;
  const offsetIndex = stabilityIndex(params.stabilityScoreOffset!);
  const study = await loadStudy(task, [side], { seed: Number(values.seed), model, stabilityWeight: 0, tag: 'exemplar-default-nostab' });
  const grid = pointGrid(side);
  const exactDice: number[] = [];
  const fastDice = settings.map(() => [] as number[]);
  const prompted = settings.map(() => [] as number[]);
  for (const img of study.images) {
    const raw = img.raw.get(side)!;
    const perPoint = new Map<string, CropCandidate[]>();
    for (const c of passingCandidates(raw, params)) {
      const k = `${c.xy[0]},${c.xy[1]}`;
      const list = perPoint.get(k) ?? [];
      list.push({ rle: { size: [raw.height, raw.width], counts: c.counts }, area: c.area, box: c.box, predictedIou: c.predictedIou, stabilityScore: c.stability[offsetIndex], point: c.xy, maskIndex: c.maskIndex });
      perPoint.set(k, list);
    }
    const toPool = (cands: CropCandidate[]) => poolFromCandidates(cands, params.boxNmsThresh!, raw.width, raw.height);
    const cascade = async (pool: MaskRecord[]) => {
      const kept = pool.filter((r) => r.bbox[2] > 0 && r.bbox[3] > 0 && r.area < preset.maxAreaFraction! * raw.width * raw.height);
      if (kept.length === 0) return 0;
      const scores = kept.map((r) => img.scoreOf.get(r.segmentation.counts.join(','))! + STABILITY_WEIGHT * r.stabilityScore);
      const chosen = topK(scores, study.topK).map((i) => kept[i]);
      return maskDice(await refinedUnion(study, img, chosen.map((r) => r.bbox)), img.item.groundTruth);
    };
    const all: CropCandidate[] = [];
    for (let p = 0; p < grid.length / 2; p++) all.push(...(perPoint.get(`${grid[2 * p] * raw.width},${grid[2 * p + 1] * raw.height}`) ?? []));
    exactDice.push(await cascade(toPool(all)));
    for (const [s, setting] of settings.entries()) {
      let calls = 0;
      const { dup, unguided, ...fastOptions } = setting;
      const guide = unguided ? undefined : (points: Float32Array) => study.scorer.pointAffinity!({ classes: [{ name: 'target', exemplars: study.exemplars }], embedding: img.embedding }, points);
      const resolved = resolveFastOptions({ ...fastOptions, guide });
      const must = guide ? await guidedPoints(guide, resolved.guideFraction, grid, [0, 0, raw.width, raw.height]) : undefined;
      const fast = await collectFast(grid, raw.width, raw.height, async (x, y) => perPoint.get(`${x},${y}`) ?? [], { ...resolved, boxNmsThresh: dup ?? params.boxNmsThresh! }, () => calls++, must);
      fastDice[s].push(await cascade(toPool(fast)));
      prompted[s].push(calls / (grid.length / 2));
    }
  }
  saveRefined(study);
  console.log(`${task} (${side} x ${side}, ${study.images.length} images): exact mode ${mean(exactDice).toFixed(4)}`);
  for (const [s, setting] of settings.entries()) {
    const changes = fastDice[s].map((d, i) => d - exactDice[i]);
    console.log(
      `  fast ${JSON.stringify(setting)}: ${mean(fastDice[s]).toFixed(4)}, change ${mean(changes) >= 0 ? '+' : ''}${mean(changes).toFixed(4)}, ` +
        `worst image ${Math.min(...changes).toFixed(3)}, points prompted ${(100 * mean(prompted[s])).toFixed(0)} %`,
    );
  }
}
await model.dispose();
