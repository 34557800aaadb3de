/**
 * Builds the study cache: per dev image, the embedding and the raw decoder output of every
 * point of an n x n grid (each of the three multi-mask outputs: predicted IoU, stability at
 * several offsets, mask as COCO RLE, box, area). Filters, NMS, area maximum and scoring are then
 * simulated offline (simulate.ts) instead of re-running ~250 decoder calls per image per setting.
 *
 *   npx tsx bench/study/cache.ts <task|all> <pointsPerSide...>
 *   e.g. npx tsx bench/study/cache.ts fetal_head_us 16 12 8
 *
 * Existing entries are kept, so an interrupted run resumes.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { createLogitUpscaler, pointGrid, stabilityScore, upscalerGeometry } from '../../src/core/everything/index.js';
import { encodeRle, maskArea, maskFromLogits, maskToBox } from '../../src/core/mask.js';
import { DEV_TASKS, type DevTask } from '../harness.js';
import { SIZE, cachePath, cachedEmbedding, loadMobileSam, loadTaskItems } from './common.js';
import type { RawCandidate, RawPool } from './pool.js';
import { STABILITY_OFFSETS } from './pool.js';

const [taskArg, ...sideArgs] = process.argv.slice(2);
const tasks = taskArg === 'all' || taskArg === undefined ? DEV_TASKS : [taskArg as DevTask];
const sides = sideArgs.length > 0 ? sideArgs.map(Number) : [16];

const sam = await loadMobileSam();
try {
  for (const task of tasks) {
    const items = loadTaskItems(task);
    for (const side of sides) {
      const grid = pointGrid(side);
      let n = 0;
      for (const item of items) {
        n++;
        const file = cachePath('pools', task, String(side), `${item.name}.json`);
        if (existsSync(file)) continue;
        const t0 = performance.now();
        const embedding = await cachedEmbedding(sam, item.image);
        const t = embedding.transform;
        let upscale: ReturnType<typeof createLogitUpscaler> | undefined;
        const logits = new Float32Array(SIZE * SIZE);
        const candidates: RawCandidate[] = [];
        for (let p = 0; p < grid.length / 2; p++) {
          const x = grid[2 * p] * t.imageWidth;
          const y = grid[2 * p + 1] * t.imageHeight;
          const result = await sam.decode(embedding, { points: [{ x, y, label: 1 }] }, { multimask: true });
          upscale ??= createLogitUpscaler(upscalerGeometry(result.lowResSize, t));
          for (let m = 0; m < result.lowResLogits.length; m++) {
            upscale(result.lowResLogits[m], logits);
            const mask = maskFromLogits(logits, t.imageWidth, t.imageHeight, 0);
            candidates.push({
              point: p,
              xy: [x, y],
              maskIndex: m,
              predictedIou: result.iouPredictions[m],
              stability: STABILITY_OFFSETS.map((o) => stabilityScore(logits, 0, o)),
              area: maskArea(mask),
              box: maskToBox(mask),
              counts: encodeRle(mask).counts,
            });
          }
        }
        const pool: RawPool = { task, name: item.name, side, width: t.imageWidth, height: t.imageHeight, candidates };
        writeFileSync(file, JSON.stringify(pool));
        console.log(`${task} ${side}x${side} ${n}/${items.length} ${item.name}: ${candidates.length} masks, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      }
    }
  }
} finally {
  await sam.dispose();
}
