/**
 * The cascade's Dice per image with each decoder variant on the same images and exemplars:
 * fp32 and int8, as exported and channels-last, and int8 channels-last with its upscaling kept
 * float. Tells whether a Dice change under `quantize` comes from int8 in the transformer or from
 * the channels-last upscaling (docs/performance.md).
 *
 *   tsx bench/cascade-variants.ts [--task fetal_head_us] [--images 3] [--variants 'int8 channels-last;keep float: token side, all']
 *
 * `keep float: GROUP` variants are int8 channels-last with one of bench/decoder-groups.ts's groups
 * of decoder products kept float instead of the default list.
 *
 * Exemplars and images as bench/speed.ts's cascade part (seed 0, evenly spread), fast mode, 256 px.
 */
import { parseArgs } from 'node:util';
import { defaultSamFiles } from '../src/backends/default-models.js';
import { nodeBackend } from '../src/backends/node.js';
import type { SamConfig } from '../src/models/sam/sam.js';
import { drawExemplars, evaluate, prepareEvalItem } from '../src/pipeline/evaluate.js';
import { createSalip } from '../src/pipeline/salip.js';
import { resolveTask, type SalipTask } from '../src/pipeline/tasks.js';
import { DECODER_GROUPS, decoderProductNames, groupNames } from './decoder-groups.js';
import { DEV_TASKS, PRESET_OF, devNames, loadDevItem, spreadSubset, type DevTask } from './harness.js';

const { values: args } = parseArgs({ options: { task: { type: 'string', default: 'fetal_head_us' }, images: { type: 'string', default: '3' }, variants: { type: 'string' } } });
const task = args.task as DevTask;
if (!DEV_TASKS.includes(task)) throw new Error(`--task: one of ${DEV_TASKS.join(', ')}`);
const VARIANTS: Record<string, Partial<SamConfig>> = {
  'fp32 as exported': { channelsLastDecoder: false },
  'fp32 channels-last': {},
  'int8 as exported': { quantize: { keepFloatDefaults: false }, channelsLastDecoder: false },
  'int8 channels-last, all int8 (before SAM_DECODER_KEEP_FLOAT)': { quantize: { keepFloatDefaults: false } },
  'int8 channels-last (--quantize)': { quantize: true },
  // The two MatMuls carryChannelsLast makes of MobileSAM's upscaling ConvTransposes.
  'int8 channels-last, upscaling float': { quantize: { keepFloat: ['salip_cl999_matmul', 'salip_cl1019_matmul'], keepFloatDefaults: false } },
};
const files = defaultSamFiles();
const products = decoderProductNames(files.decoder);
for (const group of Object.keys(DECODER_GROUPS)) VARIANTS[`keep float: ${group}`] = { quantize: { keepFloat: groupNames(group, products), keepFloatDefaults: false } };
const wanted = args.variants ? args.variants.split(';') : Object.keys(VARIANTS).slice(0, 5);
for (const w of wanted) if (!VARIANTS[w]) throw new Error(`--variants: unknown '${w}'; one of ${Object.keys(VARIANTS).join('; ')}`);
const backend = nodeBackend();
const all = devNames(task).map((name) => prepareEvalItem(loadDevItem(task, name), 256));
const drawn = drawExemplars(all, 3, 0);
const items = spreadSubset(drawn.scored.map((i) => i.name), Number(args.images)).map((name) => drawn.scored.find((i) => i.name === name)!);
const preset = resolveTask(PRESET_OF[task]);
const taskObject: SalipTask = { ...preset, classes: [{ name: preset.classes[0].name, topK: preset.classes[0].topK, exemplars: drawn.exemplars }], everything: { ...preset.everything, mode: 'fast' } };
console.log(`${task}: ${items.map((i) => i.name).join(', ')}`);
for (const name of wanted) {
  const config = VARIANTS[name];
  const salip = await createSalip({ backend, sam: { ...files, ...config } });
  const report = await evaluate(salip, items, { task: taskObject, modes: ['cascade'], size: 256 });
  console.log(`${name}: ${report.mean.cascade!.dice.toFixed(4)} (${report.images.map((i) => i.modes.cascade?.dice.toFixed(3)).join(', ')})`);
  await salip.dispose();
}
