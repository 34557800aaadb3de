/**
 * npm run bench: segment-everything and the cascade on the real MobileSAM weights and the dev
 * images. Every figure is a ratio against a baseline measured in the same run (medians over
 * several runs after a warm-up); prints a table and writes bench/results.json.
 *
 *   tsx bench/run.ts [--speed-runs 3] [--images-per-task 5] [--rss-mode fast|exact|skip] [--out bench/results.json]
 *
 * About 9 minutes on the idle 2-core dev machine with the defaults (--rss-mode exact adds ~4).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultSamFiles } from '../src/backends/default-models.js';
import { nodeBackend } from '../src/backends/node.js';
import { createSalip, type Salip } from '../src/pipeline/salip.js';
import { workerCandidateMaker } from '../src/pipeline/stages/candidate-makers.js';
import { createSamModel } from '../src/models/sam/sam.js';
import { createExemplarScorer } from '../src/pipeline/scorers.js';
import { drawExemplars, evaluate, prepareEvalItem } from '../src/pipeline/evaluate.js';
import { segmentEverything, type SegmentEverythingOptions } from '../src/pipeline/stages/segment-everything.js';
import { resolveTask, type SalipTask } from '../src/pipeline/tasks.js';
import { DEV_TASKS, PRESET_OF, REPO_ROOT, devNames, loadDevItem, machineInfo, mean, median, now, OrtMeter, spreadSubset, type DevTask } from './harness.js';
import { loadNaiveDecoder, naiveSegmentEverything } from './naive.js';

const { values: args } = parseArgs({
  options: {
    'speed-runs': { type: 'string', default: '3' },
    'images-per-task': { type: 'string', default: '5' },
    // fast by default: the exact run makes 5120 decoder calls at 1024 x 1024 (~8 min here).
    'rss-mode': { type: 'string', default: 'fast' },
    out: { type: 'string', default: join(REPO_ROOT, 'bench', 'results.json') },
  },
});
const speedRuns = Number(args['speed-runs']);
const imagesPerTask = Number(args['images-per-task']);
const rssMode = args['rss-mode'] as 'exact' | 'fast' | 'skip';
const log = (message: string) => process.stderr.write(`${message}\n`);

const started = now();
const machine = machineInfo();
const cores = availableParallelism();
log(`bench on ${machine.cpu}, ${cores} cores, node ${machine.node}, onnxruntime-node ${machine.onnxruntimeNode}, load ${machine.loadAverage.join(' ')}`);
const files = defaultSamFiles();
// Both sides leave the thread count to ONNX Runtime, which sizes its pool from the machine's
// physical cores; forcing 2 intra-op threads on the shared 2-core machine was 2x slower per
// decode (docs/performance.md).
const backend = nodeBackend();
const meter = new OrtMeter(backend);
const naiveBackend = nodeBackend();
const naiveMeter = new OrtMeter(naiveBackend);
const sam = await createSamModel(backend, files);
const naiveDecoder = await loadNaiveDecoder(naiveBackend, files.decoder);

// 1. Speed of segment-everything: naive loop vs exact mode vs fast mode, same image, same parameters.
const speedTask: DevTask = 'lung_xray';
const speedItem = prepareEvalItem(loadDevItem(speedTask, devNames(speedTask)[0]), 256);
// The targets are stated at 16 x 16 points, whatever grid the task preset uses.
const params: SegmentEverythingOptions = { ...resolveTask(PRESET_OF[speedTask]).everything, pointsPerSide: 16 };
const embedding = await sam.embed(speedItem.image);
// Fast mode as the cascade runs it: guided by the exemplar scorer's point affinity (exemplars
// drawn as in part 2). The scorer caches the exemplar prototypes, so the warm-up round pays for
// embedding the exemplars; the timed rounds include scoring the grid points.
const speedScorer = createExemplarScorer(sam);
const speedClasses = [{ name: 'target', exemplars: drawExemplars(devNames(speedTask).map((name) => prepareEvalItem(loadDevItem(speedTask, name), 256)), 3, 0).exemplars }];
const speedGuide = (points: Float32Array) => speedScorer.pointAffinity!({ classes: speedClasses, embedding, signal: undefined }, points);
// Masks judged in a worker, as createSalip does.
const speedWorker = workerCandidateMaker(backend);
const times = { naive: [] as number[], exact: [] as number[], fast: [] as number[], batched: [] as number[] };
const ort = { naive: [] as number[], exact: [] as number[], fast: [] as number[], batched: [] as number[] };
let batchedIdentical = true;
let calls = { naive: 0, exact: 0, fast: 0 };
let identical = true;
for (let round = 0; round <= speedRuns; round++) {
  // Interleaved, so that a change in machine load hits all three alike; round 0 is the warm-up.
  naiveMeter.start();
  let t = now();
  const naive = await naiveSegmentEverything(sam, naiveDecoder, speedItem.image, { ...params, embedding });
  const naiveMs = now() - t;
  const naiveOrt = naiveMeter.read().ms;
  meter.start();
  t = now();
  const exact = await segmentEverything(sam, speedItem.image, { ...params, mode: 'exact', embedding, candidateMaker: speedWorker });
  const exactMs = now() - t;
  const exactOrt = meter.read().ms;
  meter.start();
  t = now();
  const fast = await segmentEverything(sam, speedItem.image, { ...params, mode: 'fast', fast: { guide: speedGuide }, embedding, candidateMaker: speedWorker });
  const fastMs = now() - t;
  const fastOrt = meter.read().ms;
  // The batched-prompt path (64 points per run), as createSalip uses it where a GPU provider
  // comes first; measured here on CPU, where each prompt costs the same inside a batch.
  meter.start();
  t = now();
  const batched = await segmentEverything(sam, speedItem.image, { ...params, mode: 'exact', embedding, candidateMaker: speedWorker, promptsPerRun: 64 });
  const batchedMs = now() - t;
  const batchedOrt = meter.read().ms;
  batchedIdentical &&= JSON.stringify(batched.records) === JSON.stringify(exact.records);
  identical &&= JSON.stringify(naive.records) === JSON.stringify(exact.records);
  calls = { naive: naive.decoderCalls, exact: exact.stats.decoderCalls, fast: fast.stats.decoderCalls };
  log(`speed round ${round}${round === 0 ? ' (warm-up)' : ''}: naive ${naiveMs.toFixed(0)} ms, exact ${exactMs.toFixed(0)} ms, fast ${fastMs.toFixed(0)} ms (${fast.stats.decoderCalls} calls), exact in batches of 64 ${batchedMs.toFixed(0)} ms`);
  if (round === 0) continue;
  times.naive.push(naiveMs);
  times.exact.push(exactMs);
  times.fast.push(fastMs);
  times.batched.push(batchedMs);
  ort.batched.push(batchedOrt);
  ort.naive.push(naiveOrt);
  ort.exact.push(exactOrt);
  ort.fast.push(fastOrt);
}
const speed = {
  image: `${speedTask}/${speedItem.name} at 256 x 256`,
  params,
  runs: speedRuns,
  naiveMs: median(times.naive),
  exactMs: median(times.exact),
  fastMs: median(times.fast),
  naiveOrtMs: median(ort.naive),
  exactOrtMs: median(ort.exact),
  fastOrtMs: median(ort.fast),
  decoderCalls: calls,
  // Medians of the ratios within each round: the three loops of a round run back to back, so a
  // drift of the machine's speed between rounds does not reach the ratio (a ratio of medians
  // once took the naive median from slow rounds and the fast one from quick rounds).
  exactSpeedup: median(times.naive.map((n, i) => n / times.exact[i])),
  speedup: median(times.naive.map((n, i) => n / times.fast[i])),
  exactIdenticalToNaive: identical,
  batchedMs: median(times.batched),
  batchedOrtMs: median(ort.batched),
  // Per-prompt exact mode over exact mode in batches of 64 (same run; below 1 = batches slower).
  batchedSpeedupCpu: median(times.batched.map((b, i) => times.exact[i] / b)),
  batchedIdenticalToExact: batchedIdentical,
};

// 2. The cascade on dev subsets, exact vs fast: final Dice and overhead (wall / ONNX Runtime time).
// Twice: as createSalip runs it (masks judged in a worker beside the decoder calls) and with
// `workers: false` (everything on the calling thread), to show what the worker saves in wall time.
type Mode = 'exact' | 'fast';
async function cascadePass(salip: Salip) {
  const rows: Record<string, Record<string, unknown>> = {};
  const ratios: Record<Mode, number[]> = { exact: [], fast: [] };
  const wall = { exact: 0, fast: 0 };
  const ortMs = { exact: 0, fast: 0 };
  const dice: Record<Mode, number[]> = { exact: [], fast: [] };
  const masks: Uint8Array[] = [];
  for (const task of DEV_TASKS) {
    // Exemplars as the acceptance suite draws them (3 of the whole dev set, seed 0), so that a
    // bench image's Dice is the one docs/results.md reports; the images scored are spread over the rest.
    const all = devNames(task).map((name) => prepareEvalItem(loadDevItem(task, name), 256));
    const drawn = drawExemplars(all, 3, 0);
    const exemplars = drawn.exemplars;
    const byName = new Map(drawn.scored.map((item) => [item.name, item]));
    const names = spreadSubset([...byName.keys()], imagesPerTask);
    const items = names.map((name) => byName.get(name)!);
    const preset = resolveTask(PRESET_OF[task]);
    const row: Record<string, unknown> = { images: names, exemplars: drawn.names };
    for (const mode of ['exact', 'fast'] as const) {
      const cls = preset.classes[0];
      const taskObject: SalipTask = { ...preset, classes: [{ name: cls.name, topK: cls.topK, exemplars }], everything: { ...preset.everything, mode } };
      let last = now();
      meter.start();
      let lastOrt = 0;
      const report = await evaluate(salip, items, {
        task: taskObject,
        modes: ['cascade'],
        size: 256,
        onImage: (result) => {
          masks.push(result.modes.cascade!.mask.data);
          const t = now();
          const o = meter.read().ms;
          ratios[mode].push((t - last) / (o - lastOrt));
          wall[mode] += t - last;
          ortMs[mode] += o - lastOrt;
          last = t;
          lastOrt = o;
        },
      });
      const perImage = report.images.map((r) => r.modes.cascade!.dice);
      dice[mode].push(...perImage);
      row[mode] = { meanDice: report.mean.cascade!.dice, dice: perImage };
      log(`cascade ${task} ${mode} (${salip.candidateMaker.concurrent ? 'worker' : 'calling thread'}): mean Dice ${report.mean.cascade!.dice.toFixed(4)} over ${report.count} images`);
    }
    row.diceChange = (row.fast as { meanDice: number }).meanDice - (row.exact as { meanDice: number }).meanDice;
    rows[task] = row;
  }
  return { rows, ratios, wall, ortMs, dice, masks };
}
const salip = await createSalip({ backend, sam });
const pass = await cascadePass(salip);
const threadSalip = await createSalip({ backend, sam, workers: false });
const threadPass = await cascadePass(threadSalip);
const cascade = pass.rows;
const diceByMode = pass.dice;
const sameMasksWithoutWorker = pass.masks.length === threadPass.masks.length && pass.masks.every((m, i) => m.length === threadPass.masks[i].length && m.every((v, k) => v === threadPass.masks[i][k]));
const overhead = {
  exact: median(pass.ratios.exact),
  fast: median(pass.ratios.fast),
  exactAggregate: pass.wall.exact / pass.ortMs.exact,
  fastAggregate: pass.wall.fast / pass.ortMs.fast,
  withoutWorker: {
    exact: median(threadPass.ratios.exact),
    fast: median(threadPass.ratios.fast),
    exactAggregate: threadPass.wall.exact / threadPass.ortMs.exact,
    fastAggregate: threadPass.wall.fast / threadPass.ortMs.fast,
  },
  // Wall time of the whole pass with the worker over without (ORT time differs run to run, so
  // this is the absolute check that the ratio's gain is real time saved).
  wallWorkerOverThread: {
    exact: pass.wall.exact / threadPass.wall.exact,
    fast: pass.wall.fast / threadPass.wall.fast,
  },
  sameMasksWithoutWorker,
};
const diceChange = mean(diceByMode.fast) - mean(diceByMode.exact);
const diceAbsChange = mean(diceByMode.fast.map((d, i) => Math.abs(d - diceByMode.exact[i])));

// 3. Peak RSS in a process of its own.
let rss: unknown = { skipped: true };
if (rssMode !== 'skip') {
  log(`peak RSS run (${rssMode} mode, 32 x 32 points, one crop layer, 1024 x 1024)...`);
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench', 'rss.ts'), rssMode], { cwd: REPO_ROOT, encoding: 'utf8' });
  rss = JSON.parse(out.trim().split('\n').pop()!);
}

await salip.dispose();
await threadSalip.dispose();
await speedWorker.dispose();
await naiveDecoder.dispose();

const results = {
  date: new Date().toISOString(),
  machine: { ...machine, loadAverageAtEnd: machineInfo().loadAverage, intraOpThreads: 'runtime default' },
  speed,
  cascade: { imagesPerTask, exemplars: 3, seed: 0, size: 256, perTask: cascade, diceChange, diceAbsChange },
  overhead,
  rss,
  gpu: {
    measured: false,
    reason: 'no GPU on this machine: onnxruntime-web WebGPU (and CUDA) never start here, so the batched path is measured on CPU only (speed.batchedSpeedupCpu)',
  },
  benchMinutes: (now() - started) / 60000,
};
writeFileSync(args.out!, `${JSON.stringify(results, null, 2)}\n`);

const f = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
const rssRow = rss as { peakRssMb?: number; rssAfterModelLoadMb?: number; decoderCalls?: number; wallMs?: number; mode?: string };
const table = [
  ['figure', 'value', 'target', 'baseline (same run)'],
  ['overhead (exact)', f(overhead.exact, 3), '<= 1.05', `cascade wall / summed ONNX Runtime time, median per image (aggregate ${f(overhead.exactAggregate, 3)})`],
  ['overhead (fast)', f(overhead.fast, 3), '<= 1.05', `same, fast mode (aggregate ${f(overhead.fastAggregate, 3)})`],
  ['overhead, workers: false', `${f(overhead.withoutWorker.exact, 3)} / ${f(overhead.withoutWorker.fast, 3)}`, '', `exact / fast, all work on the calling thread; wall time with the worker / without: ${f(overhead.wallWorkerOverThread.exact, 3)} / ${f(overhead.wallWorkerOverThread.fast, 3)}; same masks: ${sameMasksWithoutWorker}`],
  ['speedup (fast)', f(speed.speedup), '>= 4', `naive loop ${f(speed.naiveMs, 0)} ms vs fast ${f(speed.fastMs, 0)} ms (${speed.decoderCalls.fast}/${speed.decoderCalls.naive} decoder calls)`],
  ['Dice change (fast - exact)', f(diceChange, 4), '|.| <= 0.01', `mean over ${diceByMode.exact.length} dev images; mean |per-image change| ${f(diceAbsChange, 4)}`],
  ['exactSpeedup', f(speed.exactSpeedup), '>= 1.3', `naive loop ${f(speed.naiveMs, 0)} ms vs exact ${f(speed.exactMs, 0)} ms; identical masks: ${speed.exactIdenticalToNaive}`],
  ['batched prompts (CPU)', f(speed.batchedSpeedupCpu), 'GPU only', `exact per prompt vs exact in batches of 64 (${f(speed.batchedMs, 0)} ms); same records: ${speed.batchedIdenticalToExact}; no GPU here, see gpu in results.json`],
  ['peak RSS (MB)', rssRow.peakRssMb === undefined ? 'skipped' : String(rssRow.peakRssMb), '<= 1536', rssRow.peakRssMb === undefined ? '' : `${rssRow.mode} mode; ${rssRow.rssAfterModelLoadMb} MB after model load; ${rssRow.decoderCalls} decoder calls in ${f((rssRow.wallMs ?? NaN) / 1000, 0)} s`],
];
const widths = table[0].map((_, c) => Math.max(...table.map((r) => r[c].length)));
for (const r of table) console.log(r.map((cell, c) => cell.padEnd(widths[c])).join(' | '));
console.log(`\nmachine: ${machine.cpu}, ${cores} cores, ${machine.memoryGb} GB, node ${machine.node}, onnxruntime-node ${machine.onnxruntimeNode}; load ${machine.loadAverage.join(' ')} -> ${results.machine.loadAverageAtEnd.join(' ')}`);
console.log(`bench took ${f(results.benchMinutes, 1)} min; results in ${args.out}`);
