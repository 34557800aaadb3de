/**
 * Chooses cascade settings under the honest protocol (protocol-lib.ts) and reports them: for
 * each named configuration, the cascade's Dice on every image of both halves under every
 * exemplar draw; then, per direction, the configuration with the best mean on the choosing half
 * and its Dice on the other half (mean over draws and the worst draw), beside the exemplar-box,
 * un-prompted and GT-box baselines. Decoder outputs are memoised per image, so configurations
 * that share prompts share decoder runs.
 *
 *   npx tsx bench/study/protocol.ts <task> [--draws 5] [--configs a,b,...] [--side N]
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { maskDice } from '../../src/core/mask.js';
import { exemplarBoxSam, gtBoxSam, unpromptedSam } from '../../src/pipeline/baselines.js';
import { runCascade } from '../../src/pipeline/cascade.js';
import { createExemplarScorer, type Scorer } from '../../src/pipeline/scorers.js';
import { TASK_PRESETS, withTaskDefaults, type SalipTask } from '../../src/pipeline/tasks.js';
import type { SamDecodeResult, SamImageEmbedding, SamModel } from '../../src/pipeline/types.js';
import type { RgbImage } from '../../src/core/types.js';
import { cachePath, cachedEmbedding, cachedPool, loadMobileSam } from './common.js';
import { PROTOCOL_TASKS, exemplarSets, loadFolder, mean, type ProtocolTask } from './protocol-lib.js';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { draws: { type: 'string', default: '5' }, configs: { type: 'string' }, side: { type: 'string' } },
});
const task = positionals[0] as ProtocolTask;
if (!(task in PROTOCOL_TASKS)) throw new Error(`task: one of ${Object.keys(PROTOCOL_TASKS).join(', ')}`);
const info = PROTOCOL_TASKS[task];
const draws = Number(args.draws);

type Config = Partial<SalipTask>;
/** The base: the task's preset where it has one, else what a task naming only its class gets. */
const base: Config = info.preset && info.preset in TASK_PRESETS ? { ...(TASK_PRESETS as Record<string, SalipTask>)[info.preset] } : {};
if (args.side) base.everything = { ...base.everything, pointsPerSide: Number(args.side) };

const CONFIGS: Record<string, Config> = {
  paper: { proposals: false, refine: { iterations: 1, candidates: 1 }, exemplarScoring: { locationWeight: 0 } },
  'it2-c3-loc20': { refine: { iterations: 2, candidates: 3 }, exemplarScoring: { locationWeight: 20 } },
  'it1-c5-loc20-alt': { refine: { iterations: 1, candidates: 5, multimaskAlternatives: true }, exemplarScoring: { locationWeight: 20 } },
  'it2-c3-loc60': { refine: { iterations: 2, candidates: 3 }, exemplarScoring: { locationWeight: 60 } },
  'it3-c5-loc20-clean': { refine: { iterations: 3, candidates: 5, largestComponent: true, fillHoles: true }, exemplarScoring: { locationWeight: 20 } },
  'it1-c5-alt-loc0': { refine: { iterations: 1, candidates: 5, multimaskAlternatives: true }, exemplarScoring: { locationWeight: 0 } },
  'it1-c5-alt-loc40': { refine: { iterations: 1, candidates: 5, multimaskAlternatives: true }, exemplarScoring: { locationWeight: 40 } },
  'it1-c8-alt-loc20': { refine: { iterations: 1, candidates: 8, multimaskAlternatives: true }, exemplarScoring: { locationWeight: 20 } },
  'it1-c5-alt-loc20-each': { proposals: { eachExemplarBox: true }, refine: { iterations: 1, candidates: 5, multimaskAlternatives: true }, exemplarScoring: { locationWeight: 20 } },
  'it1-c5-alt-loc20-stab0': { refine: { iterations: 1, candidates: 5, multimaskAlternatives: true }, exemplarScoring: { locationWeight: 20, stabilityWeight: 0 } },
  'it1-c5-alt-loc20-nosim': { proposals: { similarity: false }, refine: { iterations: 1, candidates: 5, multimaskAlternatives: true }, exemplarScoring: { locationWeight: 20 } },
  'it1-c5-alt-loc20-t1': { refine: { iterations: 1, candidates: 5, multimaskAlternatives: true, maskThreshold: 1 }, exemplarScoring: { locationWeight: 20 } },
  'it1-c5-alt-loc20-t2': { refine: { iterations: 1, candidates: 5, multimaskAlternatives: true, maskThreshold: 2 }, exemplarScoring: { locationWeight: 20 } },
  'each-t1': { proposals: { eachExemplarBox: true }, refine: { iterations: 1, candidates: 5, multimaskAlternatives: true, maskThreshold: 1 }, exemplarScoring: { locationWeight: 20 } },
  'each-t2': { proposals: { eachExemplarBox: true }, refine: { iterations: 1, candidates: 5, multimaskAlternatives: true, maskThreshold: 2 }, exemplarScoring: { locationWeight: 20 } },
  'each-loc40': { proposals: { eachExemplarBox: true }, refine: { iterations: 1, candidates: 5, multimaskAlternatives: true }, exemplarScoring: { locationWeight: 40 } },
  'each-it2': { proposals: { eachExemplarBox: true }, refine: { iterations: 2, candidates: 5, multimaskAlternatives: true }, exemplarScoring: { locationWeight: 20 } },
  defaults: {},
  hull: { refine: { convexHull: true } },
  'hull-keep': { refine: { convexHull: true, keepRetrieved: true } },
  'fill-hull': { refine: { fillHoles: true, convexHull: true } },
  'lc-fill': { refine: { largestComponent: true, fillHoles: true } },
  shape10: { exemplarScoring: { shapeWeight: 10 } },
  shape20: { exemplarScoring: { shapeWeight: 20 } },
  shape40: { exemplarScoring: { shapeWeight: 40 } },
  'shape20-hull': { refine: { convexHull: true }, exemplarScoring: { shapeWeight: 20 } },
  shape60: { exemplarScoring: { shapeWeight: 60 } },
  shape100: { exemplarScoring: { shapeWeight: 100 } },
  'shape40-hull': { refine: { convexHull: true }, exemplarScoring: { shapeWeight: 40 } },
  'shape60-hull': { refine: { convexHull: true }, exemplarScoring: { shapeWeight: 60 } },
  'shape100-hull': { refine: { convexHull: true }, exemplarScoring: { shapeWeight: 100 } },
  m20: { refine: { boxMargin: 0.2 } },
  b10: { exemplarScoring: { boundaryWeight: 10 } },
  b20: { exemplarScoring: { boundaryWeight: 20 } },
  b40: { exemplarScoring: { boundaryWeight: 40 } },
  b80: { exemplarScoring: { boundaryWeight: 80 } },
  keep: { refine: { keepRetrieved: true } },
  v50: { refine: { consensus: 0.5 } },
  t1: { refine: { maskThreshold: 1 } },
  t2: { refine: { maskThreshold: 2 } },
  't1-v50': { refine: { maskThreshold: 1, consensus: 0.5 } },
  reg: { exemplarScoring: { similarity: 'region' } },
  'reg-b10': { exemplarScoring: { similarity: 'region', boundaryWeight: 10 } },
  'reg-v50': { refine: { consensus: 0.5 }, exemplarScoring: { similarity: 'region' } },
  'reg-b10-v50': { refine: { consensus: 0.5 }, exemplarScoring: { similarity: 'region', boundaryWeight: 10 } },
  v30: { refine: { consensus: 0.3 } },
  v70: { refine: { consensus: 0.7 } },
  'b10-v50': { refine: { consensus: 0.5 }, exemplarScoring: { boundaryWeight: 10 } },
  'b10-keep': { refine: { keepRetrieved: true }, exemplarScoring: { boundaryWeight: 10 } },
  'b20-keep': { refine: { keepRetrieved: true }, exemplarScoring: { boundaryWeight: 20 } },
  'shape40-m10': { refine: { boxMargin: 0.1 }, exemplarScoring: { shapeWeight: 40 } },
  'shape40-m20': { refine: { boxMargin: 0.2 }, exemplarScoring: { shapeWeight: 40 } },
  'shape40-m30': { refine: { boxMargin: 0.3 }, exemplarScoring: { shapeWeight: 40 } },
  'shape40-hull-m20': { refine: { boxMargin: 0.2, convexHull: true }, exemplarScoring: { shapeWeight: 40 } },
  'shape100-m20': { refine: { boxMargin: 0.2 }, exemplarScoring: { shapeWeight: 100 } },
  e20: { exemplarScoring: { edgeWeight: 20 } },
  e40: { exemplarScoring: { edgeWeight: 40 } },
  e80: { exemplarScoring: { edgeWeight: 80 } },
  'e40-b0': { exemplarScoring: { edgeWeight: 40, boundaryWeight: 0 } },
  f8: { exemplarScoring: { minPartRatio: 0.125 } },
  f4: { exemplarScoring: { minPartRatio: 0.25 } },
  'e20-f8': { exemplarScoring: { edgeWeight: 20, minPartRatio: 0.125 } },
  'e40-f8': { exemplarScoring: { edgeWeight: 40, minPartRatio: 0.125 } },
  'e20-f4': { exemplarScoring: { edgeWeight: 20, minPartRatio: 0.25 } },
  'e40-f4': { exemplarScoring: { edgeWeight: 40, minPartRatio: 0.25 } },
  ellipse: { refine: { fitEllipse: true } },
  fill: { refine: { fillHoles: true } },
  peel: { refine: { peelSurroundings: true } },
  'peel-nofill': { refine: { peelSurroundings: true, fillHoles: false } },
  el50: { exemplarScoring: { ellipseWeight: 50 } },
  el100: { exemplarScoring: { ellipseWeight: 100 } },
  el200: { exemplarScoring: { ellipseWeight: 200 } },
  el400: { exemplarScoring: { ellipseWeight: 400 } },
  el800: { exemplarScoring: { ellipseWeight: 800 } },
  'el200-g05': { exemplarScoring: { ellipseWeight: 200, ellipseGate: 0.05 } },
  'el200-g10': { exemplarScoring: { ellipseWeight: 200, ellipseGate: 0.1 } },
  'el400-g05': { exemplarScoring: { ellipseWeight: 400, ellipseGate: 0.05 } },
  'el400-g10': { exemplarScoring: { ellipseWeight: 400, ellipseGate: 0.1 } },
  'el400-g15': { exemplarScoring: { ellipseWeight: 400, ellipseGate: 0.15 } },
  'el800-g10': { exemplarScoring: { ellipseWeight: 800, ellipseGate: 0.1 } },
  eb1: { refine: { ellipseBoxes: 1 } },
  eb2: { refine: { ellipseBoxes: 2 } },
  'eb1-el800-g10': { refine: { ellipseBoxes: 1 }, exemplarScoring: { ellipseWeight: 800, ellipseGate: 0.1 } },
  'eb2-el400-g10': { refine: { ellipseBoxes: 2 }, exemplarScoring: { ellipseWeight: 400, ellipseGate: 0.1 } },
  'eb2-el800-g10': { refine: { ellipseBoxes: 2 }, exemplarScoring: { ellipseWeight: 800, ellipseGate: 0.1 } },
  'eb2-el800-g05': { refine: { ellipseBoxes: 2 }, exemplarScoring: { ellipseWeight: 800, ellipseGate: 0.05 } },
  'eb2-el800-g15': { refine: { ellipseBoxes: 2 }, exemplarScoring: { ellipseWeight: 800, ellipseGate: 0.15 } },
  'eb2-el1600-g10': { refine: { ellipseBoxes: 2 }, exemplarScoring: { ellipseWeight: 1600, ellipseGate: 0.1 } },
  pe100s07: { exemplarScoring: { peerEdgeWeight: 100, peerEdgeShare: 0.7 } },
  pe200s06: { exemplarScoring: { peerEdgeWeight: 200, peerEdgeShare: 0.6 } },
  pe200s07: { exemplarScoring: { peerEdgeWeight: 200, peerEdgeShare: 0.7 } },
  pe400s05: { exemplarScoring: { peerEdgeWeight: 400, peerEdgeShare: 0.5 } },
  'eb3-el800-g10': { refine: { ellipseBoxes: 3 }, exemplarScoring: { ellipseWeight: 800, ellipseGate: 0.1 } },
  // The segment-everything parameters presets inherited from versions that chose them on every
  // dev image, against TASK_DEFAULTS' ones (box NMS 0.7, area maximum 0.76) and steps between.
  'g-nms25': { everything: { boxNmsThresh: 0.25 } },
  'g-nms50': { everything: { boxNmsThresh: 0.5 } },
  'g-nms70': { everything: { boxNmsThresh: 0.7 } },
  'g-nms80': { everything: { boxNmsThresh: 0.8 } },
  'g-nms90': { everything: { boxNmsThresh: 0.9 } },
  'g-side12': { everything: { pointsPerSide: 12 } },
  'g-side16': { everything: { pointsPerSide: 16 } },
  'g-area40': { maxAreaFraction: 0.4 },
  'g-area61': { maxAreaFraction: 0.61 },
  'g-area76': { maxAreaFraction: 0.76 },
  'g-defaults': { everything: { boxNmsThresh: 0.7 }, maxAreaFraction: 0.76 },
  'g-iou50': { everything: { predIouThresh: 0.5 } },
  'g-stab0': { everything: { stabilityScoreThresh: 0 } },
  'g-iou50-stab0': { everything: { predIouThresh: 0.5, stabilityScoreThresh: 0 } },
  tp05: { refine: { maskThreshold: 0.5 } },
  tm05: { refine: { maskThreshold: -0.5 } },
  tm1: { refine: { maskThreshold: -1 } },
  tm15: { refine: { maskThreshold: -1.5 } },
  tm2: { refine: { maskThreshold: -2 } },
  tm3: { refine: { maskThreshold: -3 } },
  // The fetal failures of half 1: the embedding similarity scores a leak 30 points above the tight head.
  ctx25: { exemplarScoring: { contextShare: 0.25 } },
  ctx35: { exemplarScoring: { contextShare: 0.35 } },
  'fetal-x1.5e': { exemplarScoring: { stabilityWeight: 15, locationWeight: 30, shapeWeight: 150, boundaryWeight: 15, edgeWeight: 30, ellipseWeight: 1200 } },
  'fetal-x1.5': { exemplarScoring: { stabilityWeight: 15, locationWeight: 30, shapeWeight: 150, boundaryWeight: 15, edgeWeight: 30 } },
  'fetal-x2': { exemplarScoring: { stabilityWeight: 20, locationWeight: 40, shapeWeight: 200, boundaryWeight: 20, edgeWeight: 40 } },
  'fetal-x3': { exemplarScoring: { stabilityWeight: 30, locationWeight: 60, shapeWeight: 300, boundaryWeight: 30, edgeWeight: 60 } },
  // Exemplar boxes centred on the alike region (fetal 182: no proposal lies on a small head).
  centred: { proposals: { centredBoxes: true } },
  'centred-only': { proposals: { centredBoxes: true, eachExemplarBox: false } },
  // Box prompts around the brightest elliptical rings (fetal 182: the skull is there, no grid point finds the head).
  rings: { proposals: { rings: true } },
  rings1: { proposals: { rings: true, ringCount: 1 } },
  // The fetal preset before it took the rings (2026-12-06).
  norings: { proposals: { rings: false } },
  'rings-d90': { proposals: { rings: true, ringDuplicateIoU: 0.9 } },
  'rings-d80': { proposals: { rings: true, ringDuplicateIoU: 0.8 } },
  // The lungs' half 0: MobileSAM's lung masks stop short of the bases; a box around such a mask is short too.
  lm05: { refine: { boxMargin: 0.05 } },
  lm10: { refine: { boxMargin: 0.1 } },
  lit2: { refine: { iterations: 2 } },
  // Two-part classes: five candidates dealt over two lungs leave the second lung two.
  c6: { refine: { candidates: 6 } },
  c8: { refine: { candidates: 8 } },
  lc: { refine: { largestComponent: true } },
  c10: { refine: { candidates: 10 } },
  c12: { refine: { candidates: 12 } },
  c16: { refine: { candidates: 16 } },
  'c8-lc': { refine: { candidates: 8, largestComponent: true } },
  'c12-lc': { refine: { candidates: 12, largestComponent: true } },
  // The lungs' half 0 with Shenzhen exemplars: the second lung's voted mask stops short of its lateral border.
  cv0: { refine: { consensus: 0 } },
  cv03: { refine: { consensus: 0.3 } },
  cv04: { refine: { consensus: 0.4 } },
  'lc-fill-hull': { refine: { largestComponent: true, fillHoles: true, convexHull: true } },
  'it1-c5-alt-loc20-clean': { refine: { iterations: 1, candidates: 5, multimaskAlternatives: true, largestComponent: true, fillHoles: true }, exemplarScoring: { locationWeight: 20 } },
};
const configNames = args.configs ? args.configs.split(',') : Object.keys(CONFIGS);

/** A SAM whose decodes are memoised by prompt (and mask input) until clear(). */
function memoSam(sam: SamModel) {
  const memo = new Map<string, SamDecodeResult>();
  let runs = 0;
  const key = (prompt: Parameters<SamModel['decode']>[1], multimask: boolean) => {
    const h = createHash('sha1').update(JSON.stringify({ p: prompt.points, b: prompt.box, multimask }));
    if (prompt.maskInput) h.update(new Uint8Array(prompt.maskInput.buffer, prompt.maskInput.byteOffset, prompt.maskInput.byteLength));
    return h.digest('hex');
  };
  const model: SamModel = {
    info: sam.info,
    embed: (image) => cachedEmbedding(sam, image),
    async decode(embedding, prompt, options) {
      const k = key(prompt, options.multimask);
      let hit = memo.get(k);
      if (!hit) {
        runs++;
        const r = await sam.decode(embedding, prompt, options);
        hit = { lowResLogits: r.lowResLogits.map((l) => Float32Array.from(l)), iouPredictions: Float32Array.from(r.iouPredictions), lowResSize: r.lowResSize };
        memo.set(k, hit);
      }
      return hit;
    },
    dispose: () => sam.dispose(),
  };
  return { model, clear: () => memo.clear(), runs: () => runs };
}

const real = await loadMobileSam();
const sam = memoSam(real);
const items = loadFolder(task);
const sets = exemplarSets(items, draws);
const tasks = new Map<string, SalipTask>();
const scorers = new Map<string, Scorer>();
function taskFor(config: string, set: number): SalipTask {
  const k = `${config}/${set}`;
  let t = tasks.get(k);
  if (!t) {
    const c = CONFIGS[config];
    const cls = { name: info.className, topK: info.topK, exemplars: sets[set].exemplars };
    t = withTaskDefaults({
      ...base,
      ...c,
      name: task,
      classes: [cls],
      everything: { ...base.everything, ...c.everything },
      refine: { ...base.refine, ...c.refine },
      exemplarScoring: { ...base.exemplarScoring, ...c.exemplarScoring },
    });
    tasks.set(k, t);
  }
  return t;
}
function scorerFor(t: SalipTask, set: number): Scorer {
  const k = `${set}/${JSON.stringify(t.exemplarScoring)}`;
  let s = scorers.get(k);
  if (!s) scorers.set(k, (s = createExemplarScorer(sam.model, {}, t.exemplarScoring)));
  return s;
}

interface Row {
  name: string;
  set: number;
  config: string;
  cascade: number;
  exemplarBox: number;
  calls: number;
}
const rows: Row[] = [];
const perImage: Record<string, { gtBox: number; unprompted: number }> = {};
const t0 = performance.now();
for (const [n, item] of items.entries()) {
  const embedding = await cachedEmbedding(real, item.image);
  const gt = item.groundTruth;
  perImage[item.name] = {
    gtBox: maskDice((await gtBoxSam(sam.model, item.image, gt, { embedding })).union, gt),
    unprompted: maskDice((await unpromptedSam(sam.model, item.image, { embedding })).mask, gt),
  };
  const pools = new Map<string, Awaited<ReturnType<typeof cachedPool>>>();
  for (const [s, set] of sets.entries()) {
    if (set.exemplarNames.includes(item.name)) continue;
    for (const config of configNames) {
      const t = taskFor(config, s);
      const params = JSON.stringify(t.everything);
      let pool = pools.get(params);
      if (!pool) pools.set(params, (pool = await cachedPool(real, task, item.name, item.image, t.everything, embedding)));
      const scorer = scorerFor(t, s);
      const run = await runCascade({ sam: sam.model, scorer }, item.image, t, { embedding, everything: pool });
      const box = await exemplarBoxSam(sam.model, item.image, t.classes[0], { ...t.refine, embedding });
      rows.push({
        name: item.name,
        set: s,
        config,
        cascade: maskDice(run.classes[info.className].mask, gt),
        exemplarBox: maskDice(box.mask, gt),
        calls: pool.stats.decoderCalls + run.decoderCalls.proposals + run.decoderCalls.refine,
      });
    }
  }
  sam.clear();
  console.error(`${n + 1}/${items.length} ${item.name} ${((performance.now() - t0) / 1000).toFixed(0)} s, ${sam.runs()} decoder runs`);
}
await real.dispose();

const out = cachePath('protocol', `${task}-${Date.now()}.json`);
writeFileSync(out, JSON.stringify({ task, draws, configs: configNames, base, rows, perImage, sets: sets.map((s) => ({ from: s.from, seed: s.seed, exemplars: s.exemplarNames })) }));

/** Mean over the draws of one direction of the per-draw mean over `which` items. */
function summary(config: string, from: 0 | 1, which: 'choose' | 'report', field: 'cascade' | 'exemplarBox') {
  const perDraw = sets
    .map((set, s) => ({ set, s }))
    .filter(({ set }) => set.from === from)
    .map(({ set, s }) => {
      const names = new Set(set[which].map((i) => i.name));
      return mean(rows.filter((r) => r.set === s && r.config === config && names.has(r.name)).map((r) => r[field]));
    });
  return { mean: mean(perDraw), worst: Math.min(...perDraw) };
}
const f = (v: number) => v.toFixed(3);
console.log(`\n${task}: ${items.length} images, ${draws} draws per half, 3 exemplars per draw`);
console.log('config'.padEnd(28), 'choose0', 'report1', 'choose1', 'report0', ' calls', ' exbox-report(mean both)');
for (const config of configNames) {
  const c0 = summary(config, 0, 'choose', 'cascade');
  const r1 = summary(config, 0, 'report', 'cascade');
  const c1 = summary(config, 1, 'choose', 'cascade');
  const r0 = summary(config, 1, 'report', 'cascade');
  const calls = mean(rows.filter((r) => r.config === config).map((r) => r.calls));
  const eb = (summary(config, 0, 'report', 'exemplarBox').mean + summary(config, 1, 'report', 'exemplarBox').mean) / 2;
  console.log(config.padEnd(28), f(c0.mean), ' ', f(r1.mean), ' ', f(c1.mean), ' ', f(r0.mean), ' ', calls.toFixed(0).padStart(5), '  ', f(eb));
}
for (const from of [0, 1] as const) {
  const best = configNames.reduce((a, b) => (summary(b, from, 'choose', 'cascade').mean > summary(a, from, 'choose', 'cascade').mean ? b : a));
  const r = summary(best, from, 'report', 'cascade');
  const eb = summary(best, from, 'report', 'exemplarBox');
  const reportNames = sets.find((s) => s.from === from)!.report.map((i) => i.name);
  console.log(
    `chosen on half ${from}: ${best}; on half ${1 - from}: cascade mean ${f(r.mean)} worst ${f(r.worst)}; exemplar-box ${f(eb.mean)} (worst ${f(eb.worst)}); ` +
      `un-prompted ${f(mean(reportNames.map((n) => perImage[n].unprompted)))}; GT-box ${f(mean(reportNames.map((n) => perImage[n].gtBox)))}`,
  );
}
console.log(`rows: ${out}`);
