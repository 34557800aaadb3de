/**
 * Which of the int8 decoder's matrix products cost accuracy: for each group of MatMuls/Gemms
 * kept float (all others int8), the decoder's low-res logits and masks against the float
 * decoder's, on the same float embeddings (so only the decoder differs), for grid-point prompts
 * (multi-mask, as segment-everything) and the GT box. Groups follow SAM's two-way transformer:
 * "token side" products run on the ~7 prompt/output tokens, "image side" on the 4096 image tokens.
 *
 *   tsx bench/quantize-sensitivity.ts [--task fetal_head_us] [--images 8] [--grid 4] [--groups a,b]
 */
import { parseArgs } from 'node:util';
import { defaultSamFiles } from '../src/backends/default-models.js';
import { nodeBackend } from '../src/backends/node.js';
import { maskFromLogits, maskIoU, componentBoxes, resizeMaskNearest } from '../src/core/mask.js';
import { resizeImage } from '../src/core/image.js';
import { createSamModel, type SamAdapterModel } from '../src/models/sam/sam.js';
import type { SamImageEmbedding, SamPrompt } from '../src/pipeline/types.js';
import { DECODER_GROUPS, decoderProductNames, groupNames } from './decoder-groups.js';
import { DEV_TASKS, devNames, loadDevItem, mean, spreadSubset, type DevTask } from './harness.js';

const { values: args } = parseArgs({
  options: { task: { type: 'string', default: 'fetal_head_us' }, images: { type: 'string', default: '8' }, grid: { type: 'string', default: '4' }, groups: { type: 'string' } },
});
const task = args.task as DevTask;
if (!DEV_TASKS.includes(task)) throw new Error(`--task: one of ${DEV_TASKS.join(', ')}`);

const files = defaultSamFiles();
const backend = nodeBackend();
const ALL = decoderProductNames(files.decoder);

const SIZE = 256;
const names = spreadSubset(devNames(task), Number(args.images));
const fp32 = await createSamModel(backend, files);
const cases: Array<{ embedding: SamImageEmbedding; prompts: SamPrompt[] }> = [];
const g = Number(args.grid);
for (const name of names) {
  const item = loadDevItem(task, name);
  const image = resizeImage(item.image, SIZE, SIZE);
  const gt = resizeMaskNearest(item.groundTruth, SIZE, SIZE);
  const prompts: SamPrompt[] = componentBoxes(gt).map((box) => ({ box }));
  for (let y = 0; y < g; y++) for (let x = 0; x < g; x++) prompts.push({ points: [{ x: Math.round(((x + 0.5) * SIZE) / g), y: Math.round(((y + 0.5) * SIZE) / g), label: 1 }] });
  cases.push({ embedding: await fp32.embed(image), prompts });
}

async function outputsOf(model: SamAdapterModel) {
  const out: Array<{ logits: Float32Array[]; iou: Float32Array; side: number }> = [];
  for (const c of cases) {
    for (const p of c.prompts) {
      const r = await model.decode(c.embedding, p, { multimask: p.box === undefined });
      out.push({ logits: r.lowResLogits, iou: r.iouPredictions, side: r.lowResSize });
    }
  }
  return out;
}
const reference = await outputsOf(fp32);
const wanted = args.groups ? args.groups.split(',') : Object.keys(DECODER_GROUPS);
console.log(`${task}: ${names.length} images (${names.join(', ')}), ${cases[0].prompts.length - 1} grid points + GT box each, float embeddings`);
console.log('kept float | nodes | mean |dlogit| | p99-ish max |dlogit| | mask IoU mean | min | frac IoU<0.95 | mean |d predicted IoU|');
for (const group of wanted) {
  const keepFloat = groupNames(group, ALL);
  const model = await createSamModel(backend, { ...files, quantize: { keepFloat, keepFloatDefaults: false } });
  const got = await outputsOf(model);
  const diffs: number[] = [];
  const maxes: number[] = [];
  const ious: number[] = [];
  const dIou: number[] = [];
  got.forEach((o, i) => {
    const ref = reference[i];
    o.logits.forEach((l, m) => {
      const r = ref.logits[m];
      let s = 0;
      let mx = 0;
      for (let k = 0; k < l.length; k++) {
        const d = Math.abs(l[k] - r[k]);
        s += d;
        if (d > mx) mx = d;
      }
      diffs.push(s / l.length);
      maxes.push(mx);
      const side = Math.round(Math.sqrt(l.length));
      ious.push(maskIoU(maskFromLogits(l, side, side), maskFromLogits(r, side, side)));
      dIou.push(Math.abs(o.iou[m] - ref.iou[m]));
    });
  });
  maxes.sort((a, b) => a - b);
  console.log(
    `${group} | ${keepFloat.length} | ${mean(diffs).toFixed(4)} | ${maxes[Math.floor(maxes.length * 0.99)].toFixed(3)} | ${mean(ious).toFixed(4)} | ${Math.min(...ious).toFixed(3)} | ${(ious.filter((v) => v < 0.95).length / ious.length).toFixed(3)} | ${mean(dIou).toFixed(4)}`,
  );
  await model.dispose();
}
await fp32.dispose();
