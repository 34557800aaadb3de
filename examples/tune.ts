/**
 * Test-time adaptation: the labelled random search (the authors') and the label-free one side by
 * side on a few fetal-head images, then the tuned task evaluated on the rest.
 * Usage: npx tsx examples/tune.ts [iterations] [sample-size]  (defaults 3 and 3: a few minutes)
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  createSalip,
  defaultSamFiles,
  evaluate,
  nodeBackend,
  readImageFile,
  readMaskFile,
  resizeImage,
  resizeMaskNearest,
  tune,
  type SalipTask,
} from '../src/node.js';

const iterations = Number(process.argv[2] ?? 3);
const sampleSize = Number(process.argv[3] ?? 3);
const folder = resolve(process.env.SALIP_DATA_DIR ?? resolve('..', 'shared', 'data'), 'fetal_head_us');
const names = readdirSync(join(folder, 'images')).sort();
const items = await Promise.all(
  names.slice(0, 3 + sampleSize + 2).map(async (name) => ({
    name,
    image: resizeImage(await readImageFile(join(folder, 'images', name)), 256, 256, 'bilinear'),
    groundTruth: resizeMaskNearest(await readMaskFile(join(folder, 'masks', name)), 256, 256),
  })),
);
const [exemplarItems, tuneItems, testItems] = [items.slice(0, 3), items.slice(3, 3 + sampleSize), items.slice(3 + sampleSize)];
const task: SalipTask = {
  name: 'fetal-head',
  classes: [{ name: 'fetal-head', topK: 1, exemplars: exemplarItems.map((i) => ({ image: i.image, mask: i.groundTruth })) }],
  everything: { pointsPerSide: 8, predIouThresh: 0.5, stabilityScoreThresh: 0.3 },
};
const space = { pointsPerSide: [4, 8] };

const salip = await createSalip({ backend: nodeBackend(), sam: defaultSamFiles() });
try {
  for (const objective of ['labelled', 'label-free'] as const) {
    const images = tuneItems.map((i) => ({ image: i.image, groundTruth: objective === 'labelled' ? i.groundTruth : undefined }));
    const result = await tune(salip, images, { task, objective, iterations, sampleSize, seed: 1, space });
    const report = await evaluate(salip, testItems, { task: result.task, modes: ['cascade'] });
    console.log(
      `${objective.padEnd(10)} best ${JSON.stringify(result.best.params)} objective ${result.best.score.toFixed(3)}; Dice on ${report.count} held-out images ${report.mean.cascade!.dice.toFixed(3)}`,
    );
  }
} finally {
  await salip.dispose();
}
