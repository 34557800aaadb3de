/**
 * Peak resident memory of one fast-mode cascade run on a lung dev image, fp32 or int8 models,
 * in a process of its own (the int8 files come from the cache bench/speed.ts filled). Prints
 * one JSON line. Run by bench/speed.ts:  tsx bench/speed-rss.ts <fp32|int8>
 */
import { defaultSamFiles } from '../src/backends/default-models.js';
import { nodeBackend } from '../src/backends/node.js';
import { drawExemplars, prepareEvalItem } from '../src/pipeline/evaluate.js';
import { createSalip } from '../src/pipeline/salip.js';
import { resolveTask } from '../src/pipeline/tasks.js';
import { devNames, loadDevItem, now, peakRss } from './harness.js';

const quantize = process.argv[2] === 'int8';
const salip = await createSalip({ backend: nodeBackend(), sam: { ...defaultSamFiles(), quantize } });
const all = devNames('lung_xray').map((name) => prepareEvalItem(loadDevItem('lung_xray', name), 256));
const drawn = drawExemplars(all, 3, 0);
const preset = resolveTask('lungs-cxr');
const task = { ...preset, classes: [{ ...preset.classes[0], exemplars: drawn.exemplars }], everything: { ...preset.everything, mode: 'fast' as const } };
const t0 = now();
await salip.segment(drawn.scored[0].image, task);
const wallMs = now() - t0;
console.log(JSON.stringify({ variant: quantize ? 'int8' : 'fp32', peakRssMb: Math.round(peakRss()), wallMs: Math.round(wallMs) }));
await salip.dispose();
