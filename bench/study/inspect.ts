/**
 * Per-image view of one setting: what retrieval chose (score, Dice, area) against the best
 * candidate of the pool (its Dice, score and rank by score), to see whether a failure is the
 * pool's (no good candidate) or the scorer's (a good one ranked low).
 *
 *   npx tsx bench/study/inspect.ts <task> <side> <iou> <stab> <offset> <nms> <maxAreaFraction> [minReg]
 *     [--seed n] [--similarity region|region+context] [--contrast none|image-mean] [--tag t]
 */
import { decodeRle, maskDice, maskUnion } from '../../src/core/mask.js';
import { topK } from '../../src/core/similarity.js';
import type { ExemplarScorerOptions } from '../../src/pipeline/scorers.js';
import type { DevTask } from '../harness.js';
import { simulatePool } from './pool.js';
import { loadStudy, refinedUnion, saveRefined } from './simulate.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const at = args.indexOf(name);
  return at >= 0 ? args.splice(at, 2)[1] : undefined;
};
const tag = flag('--tag');
const seed = Number(flag('--seed') ?? 0);
const similarity = flag('--similarity') as ExemplarScorerOptions['similarity'];
const contrast = flag('--contrast') as ExemplarScorerOptions['contrast'];
const [task, side, iou, stab, offset, nms, area, minReg] = args;
const study = await loadStudy(task as DevTask, [Number(side)], { tag, seed, similarity, contrast });
const params = {
  predIouThresh: Number(iou),
  stabilityScoreThresh: Number(stab),
  stabilityScoreOffset: Number(offset) as 1,
  boxNmsThresh: Number(nms),
  minMaskRegionArea: Number(minReg ?? 0),
};
const key = (c: number[]) => c.join(',');
const total = Number(side) > 0 ? 256 * 256 : 1;
for (const img of study.images) {
  const pool = simulatePool(img.raw.get(Number(side))!, params);
  const kept = pool.filter((r) => r.bbox[2] > 0 && r.bbox[3] > 0 && r.area < Number(area) * total);
  const scores = kept.map((r) => img.scoreOf.get(key(r.segmentation.counts)) ?? NaN);
  const dices = kept.map((r) => img.diceOf.get(key(r.segmentation.counts)) ?? NaN);
  const order = topK(scores, kept.length);
  const chosen = order.slice(0, study.topK);
  const best = topK(dices, 1)[0];
  const refined = await refinedUnion(study, img, chosen.map((i) => kept[i].bbox));
  const rawUnion = chosen.length === 1 ? decodeRle(kept[chosen[0]].segmentation) : maskUnion(chosen.map((i) => decodeRle(kept[i].segmentation)));
  const gtArea = img.item.groundTruth.data.reduce((a, b) => a + b, 0) / total;
  const fmt = (i: number) => `s ${scores[i].toFixed(1)} d ${dices[i].toFixed(2)} a ${(kept[i].area / total).toFixed(2)} iou ${kept[i].predictedIou.toFixed(2)} st ${kept[i].stabilityScore.toFixed(2)}`;
  console.log(
    `${img.item.name.padEnd(22)} gtA ${gtArea.toFixed(2)} pool ${kept.length.toString().padStart(3)} | refined ${maskDice(refined, img.item.groundTruth).toFixed(2)} raw ${maskDice(rawUnion, img.item.groundTruth).toFixed(2)} | chosen ${chosen.map(fmt).join(' + ')} | best ${fmt(best)} rank ${order.indexOf(best)}`,
  );
}
saveRefined(study);
await study.sam.dispose();
