/**
 * A custom cascade built from salip's stage functions instead of createSalip():
 *   segment everything -> area filter + retrieval with the exemplar scorer ->
 *   refine with the candidate's box AND a point at its centre (instead of the box alone) ->
 *   a second refinement pass prompted with the box of the first pass's mask.
 * Usage: npx tsx examples/custom-cascade.ts [task-folder] (default ../shared/data/fetal_head_us)
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  createExemplarScorer,
  createSamModel,
  decodeRle,
  defaultSamFiles,
  maskDice,
  maskToBox,
  nodeBackend,
  readImageFile,
  readMaskFile,
  resizeImage,
  resizeMaskNearest,
  retrieve,
  segmentEverything,
  segmentWithPrompts,
  type SamPrompt,
} from '../src/node.js';

const SIZE = 256;
const folder = process.argv[2] ?? resolve(process.env.SALIP_DATA_DIR ?? resolve('..', 'shared', 'data'), 'fetal_head_us');
const names = readdirSync(join(folder, 'images')).sort();
const load = async (name: string) => ({
  image: resizeImage(await readImageFile(join(folder, 'images', name)), SIZE, SIZE, 'bilinear'),
  mask: resizeMaskNearest(await readMaskFile(join(folder, 'masks', name)), SIZE, SIZE),
});

const sam = await createSamModel(nodeBackend(), defaultSamFiles());
try {
  // Three labelled exemplars describe the class; the next image is segmented.
  const exemplars = await Promise.all(names.slice(0, 3).map(load));
  const target = await load(names[3]);
  const scorer = createExemplarScorer(sam, { organ: exemplars });

  const { records, embedding } = await segmentEverything(sam, target.image, { pointsPerSide: 12, predIouThresh: 0.5, stabilityScoreThresh: 0.3 });
  const retrieval = await retrieve(scorer, target.image, records, [{ name: 'organ', topK: 1, exemplars }], { maxAreaFraction: 0.6, embedding });
  const best = retrieval.chosen.organ[0];

  // Variant: box plus a foreground point at the centre of the candidate's mask.
  const candidate = decodeRle(best.record.segmentation);
  let sx = 0, sy = 0, n = 0;
  for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) if (candidate.data[y * SIZE + x]) { sx += x; sy += y; n++; }
  const [x, y, w, h] = best.record.bbox;
  const prompt: SamPrompt = { box: [x, y, x + w, y + h], points: [{ x: sx / n, y: sy / n, label: 1 }] };
  const first = await segmentWithPrompts(sam, target.image, [prompt], { embedding });

  // Second pass: prompt again with the box of the first pass's mask.
  const second = await segmentWithPrompts(sam, target.image, [{ box: maskToBox(first.union) }], { embedding });

  console.log(`image ${names[3]}: ${records.length} candidates, best score ${best.score.toFixed(2)} (margin ${best.margin.toFixed(2)})`);
  console.log(`Dice vs ground truth: candidate ${maskDice(candidate, target.mask).toFixed(3)}, box+point ${maskDice(first.union, target.mask).toFixed(3)}, second pass ${maskDice(second.union, target.mask).toFixed(3)}`);
} finally {
  await sam.dispose();
}
