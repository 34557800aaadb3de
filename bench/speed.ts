/**
 * npm run bench:speed: what int8 models and volume propagation buy, every figure a ratio against
 * a baseline measured in the same run (issue #17). Prints JSON lines as it goes and writes
 * bench/results-speed.json.
 *
 *   tsx bench/speed.ts [--images-per-task 4] [--runs 5] [--volume-subset 10|all] [--propagate-step k] [--parts models,cascade,rss,volume]
 *
 * 1. models: SAM encoder per image, fp32 vs int8 (quantizeModel), on real dev images; decoder per
 *    call (the whole graph and the split decoder's prompt part): fp32 and int8 as exported, and
 *    both channels-last (carryChannelsLast), each against fp32 in the same rounds; and the
 *    channels-last decoder with every product int8 (keepFloatDefaults: false).
 * 2. cascade: wall time per image in fast mode and Dice per dev task, fp32 vs int8; GT-box SAM Dice.
 * 3. rss: peak resident memory of one cascade run, fp32 vs int8, each in a process of its own.
 * 4. volume: ch2.nii.gz by propagation (the whole volume) and slice by slice on an evenly spread
 *    subset of the non-blank slices; the per-slice volume time is EXTRAPOLATED from that subset
 *    (mean time per slice x non-blank slices) and its Dice is over the subset only, compared with
 *    the propagated volume's Dice over the same slices. --volume-subset all segments the whole
 *    volume slice by slice too (about 15 minutes on the quiet machine): measured, not extrapolated.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultSamFiles } from '../src/backends/default-models.js';
import { nodeBackend } from '../src/backends/node.js';
import { prepareSamDecoder } from '../src/models/sam/graph-edit.js';
import { loadSplitDecoder, type SplitDecoderRunner } from '../src/models/sam/graph-split.js';
import { quantizeModel } from '../src/models/graph/quantize.js';
import { carryChannelsLast } from '../src/models/graph/channels-last.js';
import { createSalip } from '../src/pipeline/salip.js';
import { createSamModel, type SamAdapterModel } from '../src/models/sam/sam.js';
import { drawExemplars, evaluate, prepareEvalItem } from '../src/pipeline/evaluate.js';
import { resolveTask, type SalipTask } from '../src/pipeline/tasks.js';
import type { ModelSession, TensorData } from '../src/backends/types.js';
import { prepareVolumeRun } from '../src/pipeline/volume.js';
import { DEV_TASKS, PRESET_OF, REPO_ROOT, devNames, loadDevItem, machineInfo, mean, median, now, OrtMeter, spreadSubset } from './harness.js';
import { brainTask, loadBrainVolume, timedVolumeRun, volumeDice } from './volume-speed.js';

const { values: args } = parseArgs({
  options: {
    'images-per-task': { type: 'string', default: '4' },
    runs: { type: 'string', default: '5' },
    'volume-subset': { type: 'string', default: '10' },
    // Unset: PropagationOptions' default step.
    'propagate-step': { type: 'string' },
    parts: { type: 'string', default: 'models,cascade,rss,volume' },
    out: { type: 'string', default: join(REPO_ROOT, 'bench', 'results-speed.json') },
  },
});
const parts = new Set(args.parts!.split(','));
const imagesPerTask = Number(args['images-per-task']);
const runs = Number(args.runs);
const log = (message: string) => process.stderr.write(`${message}\n`);
const results: Record<string, unknown> = { machine: machineInfo() };
const files = defaultSamFiles();
const backend = nodeBackend();
const meter = new OrtMeter(backend);
const started = now();

// --- 1. models: encoder per image, decoder per call, fp32 vs int8 -------------------------------
async function modelTimes() {
  const fp32 = await createSamModel(backend, files);
  const int8 = await createSamModel(backend, { ...files, quantize: true });
  // int8 weights (u8s8 kernels): faster with VNNI, saturating without it (quantizeModel's weightType).
  const int8S8 = await createSamModel(backend, { ...files, quantize: { weightType: 'int8' } });
  const images = DEV_TASKS.map((task) => prepareEvalItem(loadDevItem(task, devNames(task)[0]), 256).image);
  const enc = { fp32: [] as number[], int8: [] as number[], int8S8: [] as number[] };
  let relErrS8 = 0;
  let relErr = 0;
  for (let round = 0; round <= runs; round++) {
    for (const image of images) {
      // Interleaved, so a change in machine load hits both alike; round 0 warms up.
      let t = now();
      const a = await fp32.embed(image);
      const fpMs = now() - t;
      t = now();
      const b = await int8.embed(image);
      const qMs = now() - t;
      t = now();
      const c = await int8S8.embed(image);
      const sMs = now() - t;
      if (round === 0) continue;
      enc.fp32.push(fpMs);
      enc.int8.push(qMs);
      enc.int8S8.push(sMs);
      let num = 0;
      let den = 0;
      for (let i = 0; i < a.data.length; i++) {
        num += (a.data[i] - b.data[i]) ** 2;
        den += a.data[i] ** 2;
      }
      relErr = Math.max(relErr, Math.sqrt(num / den));
      let numS8 = 0;
      for (let i = 0; i < a.data.length; i++) numS8 += (a.data[i] - c.data[i]) ** 2;
      relErrS8 = Math.max(relErrS8, Math.sqrt(numS8 / den));
    }
  }
  // The decoder alone, one point prompt per call, on a real embedding: the whole graph as the
  // adapter loads it (multi-mask edit, `masks` pruned) and the split decoder's prompt part.
  const embedding = await fp32.embed(images[0]);
  await Promise.all([fp32.dispose(), int8.dispose(), int8S8.dispose()]);
  const prepared = prepareSamDecoder(new Uint8Array(readFileSync(files.decoder)), { exposeMultimask: true, dropOutputs: ['masks'] }).bytes;
  // The decoder as exported (fp32, int8) and channels-last (carryChannelsLast, then int8).
  const channelsLast = carryChannelsLast(prepared).bytes;
  // int8 keeps the token-side products float (SAM_DECODER_KEEP_FLOAT, as --quantize does);
  // int8ChannelsLastAllInt8 quantizes those too, to show what keeping them float costs.
  const variants = {
    fp32: prepared,
    int8: quantizeModel(prepared).bytes,
    fp32ChannelsLast: channelsLast,
    int8ChannelsLast: quantizeModel(channelsLast).bytes,
    int8ChannelsLastAllInt8: quantizeModel(channelsLast, { keepFloatDefaults: false }).bytes,
    // The weight formats of quantizeModel: int8 (u8s8 kernels) and int8 in 7 bits (reduceRange).
    int8ChannelsLastS8: quantizeModel(channelsLast, { weightType: 'int8' }).bytes,
    int8ChannelsLastS7: quantizeModel(channelsLast, { weightType: 'int8', reduceRange: true }).bytes,
  };
  type Variant = keyof typeof variants;
  const names = Object.keys(variants) as Variant[];
  const feeds: Record<string, TensorData> = {
    image_embeddings: { type: 'float32', dims: [1, 256, 64, 64], data: embedding.data },
    point_coords: { type: 'float32', dims: [1, 2, 2], data: Float32Array.from([500, 420, 0, 0]) },
    point_labels: { type: 'float32', dims: [1, 2], data: Float32Array.from([1, -1]) },
    mask_input: { type: 'float32', dims: [1, 1, 256, 256], data: new Float32Array(65536) },
    has_mask_input: { type: 'float32', dims: [1], data: new Float32Array(1) },
    orig_im_size: { type: 'float32', dims: [2], data: Float32Array.from([256, 256]) },
  };
  const outputs = ['salip_all_low_res_masks', 'salip_all_iou_predictions'];
  const dec = Object.fromEntries(names.map((v) => [v, { whole: [] as number[], split: [] as number[] }])) as Record<Variant, { whole: number[]; split: number[] }>;
  const sessions = {} as Record<Variant, ModelSession>;
  const splits = {} as Record<Variant, SplitDecoderRunner>;
  for (const v of names) {
    sessions[v] = await backend.loadModel(variants[v], { label: `SAM decoder ${v}` });
    splits[v] = await loadSplitDecoder(backend, variants[v], sessions[v].outputs.map((o) => o.name), { label: `SAM decoder ${v}` });
  }
  // How far each variant's logits are from the exported fp32 graph's (largest absolute difference).
  const reference = (await sessions.fp32.run(feeds, outputs))[outputs[0]].data as Float32Array;
  const logitsMaxDifference = {} as Record<Variant, { whole: number; split: number }>;
  for (const v of names) {
    const diff = (data: Float32Array) => data.reduce((m, x, i) => Math.max(m, Math.abs(x - reference[i])), 0);
    const whole = (await sessions[v].run(feeds, outputs))[outputs[0]].data as Float32Array;
    const split = (await splits[v].run(feeds, outputs))[outputs[0]].data as Float32Array;
    logitsMaxDifference[v] = { whole: diff(whole), split: diff(split) };
  }
  const calls = 20;
  for (let round = 0; round <= runs; round++) {
    for (const v of names) {
      await splits[v].run(feeds, outputs); // the image part runs once per embedding
      let t = now();
      for (let i = 0; i < calls; i++) await sessions[v].run(feeds, outputs);
      const whole = (now() - t) / calls;
      t = now();
      for (let i = 0; i < calls; i++) await splits[v].run(feeds, outputs);
      const split = (now() - t) / calls;
      if (round > 0) {
        dec[v].whole.push(whole);
        dec[v].split.push(split);
      }
    }
  }
  for (const v of names) await Promise.all([sessions[v].dispose(), splits[v].dispose()]);
  const ms = (key: 'whole' | 'split') => Object.fromEntries(names.map((v) => [v, median(dec[v][key])]));
  const ratio = (key: 'whole' | 'split', a: Variant, b: Variant) => median(dec[a][key].map((f, i) => f / dec[b][key][i]));
  // Per call, medians of the per-round ratios, every variant against the exported fp32 graph.
  const speedups = (key: 'whole' | 'split') => Object.fromEntries(names.filter((v) => v !== 'fp32').map((v) => [v, ratio(key, 'fp32', v)]));
  const figures = {
    encoderMs: { fp32: median(enc.fp32), int8: median(enc.int8), int8S8: median(enc.int8S8) },
    encoderSpeedup: median(enc.fp32.map((f, i) => f / enc.int8[i])),
    encoderSpeedupS8: median(enc.fp32.map((f, i) => f / enc.int8S8[i])),
    embeddingRelativeError: relErr,
    embeddingRelativeErrorS8: relErrS8,
    decoderWholeMs: ms('whole'),
    decoderSplitPromptMs: ms('split'),
    decoderWholeSpeedup: speedups('whole'),
    decoderSplitSpeedup: speedups('split'),
    logitsMaxDifference,
    fileBytes: Object.fromEntries(names.map((v) => [v, variants[v].length])),
  };
  log(JSON.stringify({ models: figures }));
  return figures;
}

// --- 2. the cascade in fast mode per dev task, fp32 vs int8 -------------------------------------
// Both models loaded at once and run task by task, fp32 then int8 on the same images, so a change
// in machine load between tasks hits both alike. Decoder and encoder calls are counted: fast mode
// stops on its own, so different masks can mean a different number of decoder calls.
async function cascadeFigures() {
  const rows: Record<string, unknown> = {};
  const perImage = { fp32: [] as number[], int8: [] as number[] };
  const salips = { fp32: await createSalip({ backend, sam: files }), int8: await createSalip({ backend, sam: { ...files, quantize: true } }) };
  for (const task of DEV_TASKS) {
    const all = devNames(task).map((name) => prepareEvalItem(loadDevItem(task, name), 256));
    const drawn = drawExemplars(all, 3, 0);
    const items = spreadSubset(drawn.scored.map((i) => i.name), imagesPerTask).map((n) => drawn.scored.find((i) => i.name === n)!);
    const preset = resolveTask(PRESET_OF[task]);
    const taskObject: SalipTask = { ...preset, classes: [{ name: preset.classes[0].name, topK: preset.classes[0].topK, exemplars: drawn.exemplars }], everything: { ...preset.everything, mode: 'fast' } };
    const row = (rows[task] ??= {}) as Record<string, { msPerImage: number; cascadeDice: number; gtBoxDice: number; perImageDice: number[]; calls: { encoder: number; decoder: number }; ortMs: number }>;
    for (const variant of ['fp32', 'int8'] as const) {
      const salip = salips[variant];
      // Warm-up: the exemplar prototypes and the split decoder load here, outside the timing.
      await salip.segment(items[0].image, taskObject);
      meter.start();
      const t = now();
      const report = await evaluate(salip, items, { task: taskObject, modes: ['cascade'], size: 256 });
      const ms = (now() - t) / items.length;
      const ort = meter.read();
      perImage[variant].push(ms);
      const gt = await evaluate(salip, items, { task: taskObject, modes: ['gt-box'], size: 256 });
      row[variant] = {
        msPerImage: ms,
        cascadeDice: report.mean.cascade!.dice,
        gtBoxDice: gt.mean['gt-box']!.dice,
        perImageDice: report.images.map((i) => i.modes.cascade!.dice),
        calls: ort.countByLabel,
        ortMs: ort.ms / items.length,
      };
      log(JSON.stringify({ cascade: task, variant, ...row[variant] }));
    }
  }
  await Promise.all([salips.fp32.dispose(), salips.int8.dispose()]);
  for (const row of Object.values(rows) as Array<Record<string, { msPerImage: number; cascadeDice: number; gtBoxDice: number }>>) {
    Object.assign(row, {
      speedup: row.fp32.msPerImage / row.int8.msPerImage,
      cascadeDiceChange: row.int8.cascadeDice - row.fp32.cascadeDice,
      gtBoxDiceChange: row.int8.gtBoxDice - row.fp32.gtBoxDice,
    });
  }
  return { imagesPerTask, perTask: rows, msPerImage: { fp32: mean(perImage.fp32), int8: mean(perImage.int8) }, speedup: mean(perImage.fp32) / mean(perImage.int8) };
}

// --- 3. peak RSS, each variant in its own process -----------------------------------------------
function rssFigures() {
  const run = (variant: string) => JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench', 'speed-rss.ts'), variant], { encoding: 'utf8' }).trim().split('\n').pop()!);
  const figures = { fp32: run('fp32'), int8: run('int8') };
  log(JSON.stringify({ rss: figures }));
  return figures;
}

// --- 4. the brain volume: propagated vs slice by slice ------------------------------------------
async function volumeFigures() {
  const salip = await createSalip({ backend, sam: files });
  const task = brainTask('exact');
  const step = args['propagate-step'] ? Number(args['propagate-step']) : undefined;
  // Warm-up outside the timing (sessions, exemplar prototypes, the split decoder), so the first
  // timed run does not pay for what the second one finds ready.
  await timedVolumeRun(salip, meter, task, { slices: [90], propagate: false });
  const propagated = await timedVolumeRun(salip, meter, task, { propagate: step ? { step } : {} });
  log(JSON.stringify({ volume: 'propagated', wallMs: propagated.wallMs, dice: propagated.dice, decoderCalls: propagated.decoderCalls, sources: propagated.sources }));
  // The slices a per-slice run segments: every non-blank one.
  const { volume, truth } = loadBrainVolume();
  const run = prepareVolumeRun(volume, task, {});
  const nonBlank = Array.from({ length: run.count }, (_, i) => i).filter((i) => run.skipReason(i, run.sliceImage(i)) === undefined);
  // --volume-subset all: the per-slice run segments the whole volume too (no extrapolation).
  const whole = args['volume-subset'] === 'all';
  const subset = whole ? nonBlank : spreadSubset(nonBlank.map(String), Number(args['volume-subset'])).map(Number);
  const perSlice = await timedVolumeRun(salip, meter, task, { slices: whole ? undefined : subset, propagate: false });
  log(JSON.stringify({ volume: 'per-slice', wallMs: perSlice.wallMs, dice: perSlice.dice, decoderCalls: perSlice.decoderCalls, slices: subset.length }));
  await salip.dispose();
  const perSliceMs = perSlice.wallMs / subset.length;
  const figures = {
    dims: volume.dims,
    propagateStep: step,
    propagated: {
      wallMs: propagated.wallMs,
      dice: propagated.dice,
      decoderCalls: propagated.decoderCalls,
      encoderCalls: propagated.encoderCalls,
      sources: propagated.sources,
      reruns: propagated.result.slices.filter((s) => s.rerun).map((s) => `${s.index}: ${s.rerun}`),
    },
    perSliceSubset: { slices: whole ? 'all' : subset, wallMs: perSlice.wallMs, msPerSlice: perSliceMs, decoderCalls: perSlice.decoderCalls, encoderCalls: perSlice.encoderCalls, dice: perSlice.dice },
    ...(whole ? { wholeVolumeSpeedup: perSlice.wallMs / propagated.wallMs } : {}),
    propagatedDiceOnSubset: volumeDice(propagated.result.mask, truth, volume.dims, subset),
    nonBlankSlices: nonBlank.length,
    extrapolatedPerSliceVolumeMs: perSliceMs * nonBlank.length,
    extrapolatedPerSliceDecoderCalls: (perSlice.decoderCalls / subset.length) * nonBlank.length,
    speedupVsExtrapolated: (perSliceMs * nonBlank.length) / propagated.wallMs,
  };
  log(JSON.stringify({ volume: figures }));
  return figures;
}

// A part that fails is reported and the others still run (one lock slot, one run).
async function part(name: string, fn: () => unknown): Promise<void> {
  if (!parts.has(name)) return;
  try {
    results[name] = await fn();
  } catch (error) {
    log(`part ${name} failed: ${(error as Error).stack ?? String(error)}`);
    results[name] = { failed: String(error) };
  }
  writeFileSync(args.out!, JSON.stringify(results, null, 1) + '\n');
}
await part('models', modelTimes);
await part('cascade', cascadeFigures);
await part('rss', rssFigures);
await part('volume', volumeFigures);
results.totalSeconds = (now() - started) / 1000;
writeFileSync(args.out!, JSON.stringify(results, null, 1) + '\n');
log(`wrote ${args.out} after ${(results.totalSeconds as number).toFixed(0)} s`);
