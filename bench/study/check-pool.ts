/**
 * Checks that the offline pool (pool.ts simulatePool over the cache) equals what the real
 * segmentEverything returns for the same parameters on one image: same count, same masks, same
 * order, same scores.
 *
 *   npx tsx bench/study/check-pool.ts <task> <image name> <pointsPerSide> [minMaskRegionArea]
 */
import { segmentEverything } from '../../src/pipeline/stages/segment-everything.js';
import type { DevTask } from '../harness.js';
import { cachedEmbedding, loadMobileSam, loadTaskItems } from './common.js';
import { readRawPool, simulatePool, type PoolParams } from './pool.js';

const [task, name, sideArg, minRegArg] = process.argv.slice(2);
const side = Number(sideArg ?? 16);
const params: PoolParams = {
  predIouThresh: 0.5,
  stabilityScoreThresh: 0.5,
  stabilityScoreOffset: 1,
  boxNmsThresh: 0.7,
  minMaskRegionArea: Number(minRegArg ?? 0),
};
const sam = await loadMobileSam();
try {
  const item = loadTaskItems(task as DevTask).find((it) => it.name === name);
  if (!item) throw new Error(`${name} is not an image of ${task}`);
  const embedding = await cachedEmbedding(sam, item.image);
  const real = await segmentEverything(sam, item.image, { ...params, pointsPerSide: side, embedding });
  const simulated = simulatePool(readRawPool(task as DevTask, side, name), params);
  let same = real.records.length === simulated.length;
  real.records.forEach((r, i) => {
    const s = simulated[i];
    const ok =
      s !== undefined &&
      r.segmentation.counts.join() === s.segmentation.counts.join() &&
      r.bbox.join() === s.bbox.join() &&
      Math.abs(r.predictedIou - s.predictedIou) < 1e-6 &&
      Math.abs(r.stabilityScore - s.stabilityScore) < 1e-6;
    if (!ok) {
      same = false;
      console.log(`record ${i} differs`);
    }
  });
  console.log(`real ${real.records.length} records, simulated ${simulated.length}: ${same ? 'identical' : 'DIFFERENT'}`);
  process.exitCode = same ? 0 : 1;
} finally {
  await sam.dispose();
}
