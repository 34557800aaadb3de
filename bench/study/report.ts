/**
 * The figures of docs/results.md: the shipped settings of each dev task (its preset, or the
 * task JSON in examples/tasks with TASK_DEFAULTS) on each half with exemplars drawn from the
 * other half, 5 draws per direction; mean and worst draw, beside the exemplar-box, un-prompted
 * and GT-box baselines, and the cascade's decoder runs per image.
 *
 *   npx tsx bench/study/report.ts [task ...] [--draws 5] [--tuned-on 0,1] [--fast]
 *
 * --fast runs segment-everything in fast mode (the exemplar-guided grid), to compare with exact.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultSamFiles } from '../../src/backends/default-models.js';
import { nodeBackend } from '../../src/backends/node.js';
import { createSalip } from '../../src/pipeline/salip.js';
import { parseTaskJson, resolveTask, type SalipTask } from '../../src/pipeline/tasks.js';
import { REPO_ROOT } from '../harness.js';
import { cachePath, cachedPool } from './common.js';
import { PROTOCOL_TASKS, heldOutReport, loadFolder, mean, type HeldOutReport, type ProtocolTask } from './protocol-lib.js';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { draws: { type: 'string', default: '5' }, 'tuned-on': { type: 'string', default: '0,1' }, fast: { type: 'boolean', default: false } },
});
const directions = args['tuned-on'].split(',').map(Number) as Array<0 | 1>;
const tasks = (positionals.length > 0 ? positionals : Object.keys(PROTOCOL_TASKS)) as ProtocolTask[];
const draws = Number(args.draws);

/** The settings a user gets for a dev task: the preset, else the example task JSON. */
export function shippedTask(task: ProtocolTask): SalipTask {
  const preset = PROTOCOL_TASKS[task].preset;
  if (preset) {
    try {
      return resolveTask(preset);
    } catch {
      // Not (yet) a preset: the example JSON below.
    }
  }
  const file = { jsrt_heart: 'jsrt-heart.task.json', jsrt_clavicles: 'jsrt-clavicles.task.json' }[task as 'jsrt_heart' | 'jsrt_clavicles'];
  return parseTaskJson(readFileSync(join(REPO_ROOT, 'examples', 'tasks', file), 'utf8'), file);
}

const salip = await createSalip({ backend: nodeBackend(), sam: defaultSamFiles(), workers: false });
const results: Record<string, HeldOutReport[]> = {};
try {
  for (const task of tasks) {
    const items = loadFolder(task);
    results[task] = [];
    for (const tunedOn of directions) {
      const t0 = performance.now();
      const shipped = shippedTask(task);
      const run = args.fast ? { ...shipped, everything: { ...shipped.everything, mode: 'fast' as const } } : shipped;
      const r = await heldOutReport(salip, run, items, {
        draws,
        tunedOn,
        everythingFor: (item, params, embedding) => cachedPool(salip.sam, task, item.name, item.image, params, embedding),
      });
      results[task].push(r);
      const c = r.draws.map((d) => d.cascade);
      console.log(
        `${task} tuned on half ${tunedOn}, reported on half ${1 - tunedOn} (${r.count} images, ${((performance.now() - t0) / 1000).toFixed(0)} s): ` +
          `cascade mean ${mean(c).toFixed(3)} worst ${Math.min(...c).toFixed(3)} [${c.map((v) => v.toFixed(3)).join(' ')}]; ` +
          `exemplar-box ${mean(r.draws.map((d) => d.exemplarBox)).toFixed(3)}; un-prompted ${r.unprompted.toFixed(3)}; GT-box ${r.gtBox.toFixed(3)}; ` +
          `${r.decoderCalls.toFixed(0)} decoder runs per image`,
      );
    }
  }
} finally {
  await salip.dispose();
}
console.log('\n| task | cascade, mean of draws | worst draw | exemplar-box | un-prompted | GT-box | decoder runs per image |');
console.log('|---|---|---|---|---|---|---|');
for (const [task, reports] of Object.entries(results)) {
  const all = reports.flatMap((r) => r.draws.map((d) => d.cascade));
  const box = reports.flatMap((r) => r.draws.map((d) => d.exemplarBox));
  console.log(
    `| ${task} | ${mean(all).toFixed(3)} (${reports.map((r) => mean(r.draws.map((d) => d.cascade)).toFixed(3)).join(' / ')}) | ${Math.min(...all).toFixed(3)} | ` +
      `${mean(box).toFixed(3)} | ${mean(reports.map((r) => r.unprompted)).toFixed(3)} | ${mean(reports.map((r) => r.gtBox)).toFixed(3)} | ${mean(reports.map((r) => r.decoderCalls)).toFixed(0)} |`,
  );
}
writeFileSync(cachePath('protocol', `report${args.fast ? '-fast' : ''}-${Date.now()}.json`), JSON.stringify(results));
