/**
 * How the fast mode's defaults were chosen: every dev image's 16 x 16 decoder outputs are
 * computed once and cached (outside the repository: the lung set may not be redistributed),
 * then the fast mode is replayed over the cache for each setting and the cascade's retrieval
 * (exemplar scorer, 3 exemplars drawn as evaluate() draws them) and refinement run on each pool.
 *
 *   tsx bench/fast-study.ts [--tasks lung_xray,fetal_head_us,brain_mri] [--settings '<json array of FastEverythingOptions>']
 *
 * The first run fills the cache (~256 decoder calls per image); later runs take minutes.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultSamFiles } from '../src/backends/default-models.js';
import { nodeBackend } from '../src/backends/node.js';
import { pointGrid } from '../src/core/everything/index.js';
import { boxIoU, boxXywhToXyxy, maskDice } from '../src/core/mask.js';
import type { RgbImage } from '../src/core/types.js';
import { drawExemplars, prepareEvalItem } from '../src/pipeline/evaluate.js';
import { createSamModel } from '../src/models/sam/sam.js';
import { createExemplarScorer, type Scorer } from '../src/pipeline/scorers.js';
import { collectFast, resolveFastOptions, type FastEverythingOptions } from '../src/pipeline/stages/everything-fast.js';
import { refine } from '../src/pipeline/stages/refine.js';
import { retrieve } from '../src/pipeline/stages/retrieve.js';
import { SEGMENT_EVERYTHING_DEFAULTS, segmentEverything, type CropCandidate } from '../src/pipeline/stages/segment-everything.js';
import { resolveTask } from '../src/pipeline/tasks.js';
import type { MaskRecord, SamImageEmbedding } from '../src/pipeline/types.js';
import { DEV_TASKS, PRESET_OF, devNames, loadDevItem, mean, poolFromCandidates, type DevTask } from './harness.js';

const { values: args } = parseArgs({ options: { tasks: { type: 'string' }, settings: { type: 'string' } } });
const tasks = (args.tasks?.split(',') ?? DEV_TASKS) as DevTask[];
const settings: FastEverythingOptions[] = args.settings ? JSON.parse(args.settings) : [{}, { patience: 16 }, { patience: 0 }, { patience: 8, cover: 'all', coverStability: 0.5 }];
const CACHE = process.env.SALIP_BENCH_CACHE ?? join(tmpdir(), 'salip-bench-cache');
const SIDE = 16;
const grid = pointGrid(SIDE);

const sam = await createSamModel(nodeBackend(), defaultSamFiles());

/** Every candidate of every grid point that passes the filters (no NMS), cached per image. */
async function candidatesPerPoint(task: DevTask, name: string, image: RgbImage, params: typeof SEGMENT_EVERYTHING_DEFAULTS, embedding: SamImageEmbedding): Promise<CropCandidate[][]> {
  const file = join(CACHE, task, `${name}.${params.predIouThresh}-${params.stabilityScoreThresh}-${params.stabilityScoreOffset}.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  const perPoint: CropCandidate[][] = [];
  for (let p = 0; p < SIDE * SIDE; p++) {
    // One point through the library's exact path, NMS off: exactly that point's candidates.
    const r = await segmentEverything(sam, image, { ...params, pointGrids: [grid.slice(2 * p, 2 * p + 2)], boxNmsThresh: 1, embedding });
    perPoint.push(
      r.records.map((m) => ({
        rle: m.segmentation,
        area: m.area,
        box: boxXywhToXyxy(m.bbox),
        predictedIou: m.predictedIou,
        stabilityScore: m.stabilityScore,
        point: m.pointCoords[0],
        maskIndex: m.maskIndex,
      })),
    );
  }
  mkdirSync(join(CACHE, task), { recursive: true });
  writeFileSync(file, JSON.stringify(perPoint));
  return perPoint;
}

for (const task of tasks) {
  const preset = resolveTask(PRESET_OF[task]);
  const params = { ...SEGMENT_EVERYTHING_DEFAULTS, ...preset.everything } as typeof SEGMENT_EVERYTHING_DEFAULTS;
  const items = devNames(task).map((name) => prepareEvalItem(loadDevItem(task, name), 256));
  // The exemplars evaluate() draws with seed 0, excluded from scoring.
  const { exemplars, scored } = drawExemplars(items, 3, 0);
  const cls = { name: 'target', exemplars, topK: preset.classes[0].topK };
  const inner = createExemplarScorer(sam, { target: exemplars });
  const scores = new Map<string, number>();
  const scorer: Scorer = {
    name: 'memoised exemplar',
    async score(ctx) {
      const keys = ctx.candidates.map((c) => c.segmentation.counts.join(','));
      const todo = ctx.candidates.filter((_, i) => !scores.has(keys[i]));
      if (todo.length > 0) {
        const table = await inner.score({ ...ctx, candidates: todo });
        todo.forEach((c, i) => scores.set(c.segmentation.counts.join(','), table.scores[i]));
      }
      return { classNames: ['target'], candidateCount: keys.length, scores: Float32Array.from(keys, (k) => scores.get(k)!) };
    },
  };
  const rows = new Map<string, { dice: number[]; calls: number[]; recall: number[] }>();
  const exactDice: number[] = [];
  for (const item of scored) {
    scores.clear();
    const embedding = await sam.embed(item.image);
    const perPoint = await candidatesPerPoint(task, item.name, item.image, params, embedding);
    const byPoint = new Map(perPoint.map((list, p) => [`${grid[2 * p] * 256},${grid[2 * p + 1] * 256}`, list]));
    const toPool = (cands: CropCandidate[]) => poolFromCandidates(cands, params.boxNmsThresh, 256, 256);
    const cascadeDice = async (pool: MaskRecord[]) => {
      const retrieval = await retrieve(scorer, item.image, pool, [cls], { maxArea: preset.maxArea, maxAreaFraction: preset.maxAreaFraction, embedding }).catch(() => undefined);
      if (!retrieval) return 0;
      const refined = await refine(sam, item.image, retrieval.chosen, { embedding });
      return maskDice(refined.target.mask, item.groundTruth);
    };
    const exactPool = toPool(perPoint.flat());
    const exact = await cascadeDice(exactPool);
    exactDice.push(exact);
    for (const setting of settings) {
      let calls = 0;
      const cands = await collectFast(grid, 256, 256, async (x, y) => byPoint.get(`${x},${y}`)!, { ...resolveFastOptions(setting), boxNmsThresh: params.boxNmsThresh }, () => calls++);
      const pool = toPool(cands);
      const row = rows.get(JSON.stringify(setting)) ?? { dice: [], calls: [], recall: [] };
      rows.set(JSON.stringify(setting), row);
      row.dice.push(await cascadeDice(pool));
      row.calls.push(calls / (SIDE * SIDE));
      row.recall.push(exactPool.filter((r) => pool.some((q) => boxIoU(boxXywhToXyxy(r.bbox), boxXywhToXyxy(q.bbox)) > 0.85)).length / Math.max(1, exactPool.length));
    }
    process.stderr.write(`${task} ${item.name}\n`);
  }
  console.log(`\n${task}: ${exactDice.length} images, exact mode mean Dice ${mean(exactDice).toFixed(4)}`);
  console.log('setting | points prompted | mean Dice | change | worst image | pool recall');
  for (const [setting, row] of rows) {
    const changes = row.dice.map((d, i) => d - exactDice[i]);
    console.log(
      `${setting} | ${(100 * mean(row.calls)).toFixed(0)} % | ${mean(row.dice).toFixed(4)} | ${mean(changes) >= 0 ? '+' : ''}${mean(changes).toFixed(4)} | ${Math.min(...changes).toFixed(3)} | ${mean(row.recall).toFixed(2)}`,
    );
  }
}
await sam.dispose();
