/**
 * Acceptance: the cascade with the exemplar scorer (3 exemplars drawn with seed 0) and the real
 * MobileSAM on every dev image at 256 x 256, the four evaluation modes side by side. Targets
 * (issue): mean Dice >= 0.75 on fetal head and >= 0.70 on lungs, each at least 0.20 above
 * un-prompted SAM. Brain MRI (one subject, 20 correlated slices) is reported; only what is
 * honest is asserted there (the cascade beats un-prompted SAM).
 *
 * Run with `npm run test:slow` (about 12 minutes on the 2-core dev machine).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultSamFiles } from '../../src/backends/default-models.js';
import { nodeBackend } from '../../src/backends/node.js';
import { decodeImage, decodeMask } from '../../src/io/image-codecs.js';
import { EVAL_MODES, evaluate, type EvalItem, type EvalReport } from '../../src/pipeline/evaluate.js';
import { createSalip, type Salip } from '../../src/pipeline/salip.js';
import type { TaskPresetName } from '../../src/pipeline/tasks.js';
import { readPair, taskImageNames, type DataTask } from '../helpers/data.js';

const SIZE = 256;
let salip: Salip;

beforeAll(async () => {
  salip = await createSalip({ backend: nodeBackend(), sam: defaultSamFiles() });
});
afterAll(() => salip?.dispose());

function loadItems(task: DataTask): EvalItem[] {
  return taskImageNames(task).map((name) => {
    const pair = readPair(task, name);
    return { name, image: decodeImage(pair.image, { name }).image, groundTruth: decodeMask(pair.mask, { name }) };
  });
}

/** The four-mode table as the report prints it. */
function table(report: EvalReport, seconds: number): string {
  const lines = [
    `${report.task}: ${report.count} images at ${SIZE}x${SIZE}, exemplars ${report.exemplarNames.join(', ')} (${seconds.toFixed(0)} s)`,
    `${'mode'.padEnd(12)}${'Dice'.padStart(8)}${'IoU'.padStart(8)}`,
    ...EVAL_MODES.map((m) => `${m.padEnd(12)}${report.mean[m]!.dice.toFixed(3).padStart(8)}${report.mean[m]!.iou.toFixed(3).padStart(8)}`),
  ];
  return lines.join('\n');
}

async function runTask(task: DataTask, preset: TaskPresetName): Promise<EvalReport> {
  const t0 = performance.now();
  const report = await evaluate(salip, loadItems(task), { task: preset, size: SIZE, exemplars: 3, seed: 0, modes: EVAL_MODES });
  console.log(table(report, (performance.now() - t0) / 1000));
  return report;
}

describe('cascade quality on the development data (exemplar scorer, MobileSAM, 256 x 256)', () => {
  it('fetal head: cascade Dice >= 0.75 and >= un-prompted + 0.20', async () => {
    const r = await runTask('fetal_head_us', 'fetal-head-us');
    expect(r.count).toBe(27);
    expect(r.mean.cascade!.dice).toBeGreaterThanOrEqual(0.75);
    expect(r.mean.cascade!.dice - r.mean.unprompted!.dice).toBeGreaterThanOrEqual(0.2);
    // The cascade cannot beat prompting with the true box by much; a bigger gap would mean a bug.
    expect(r.mean.cascade!.dice).toBeLessThanOrEqual(r.mean['gt-box']!.dice + 0.02);
  });

  it('lungs: cascade Dice >= 0.70 and >= un-prompted + 0.20', async () => {
    const r = await runTask('lung_xray', 'lungs-cxr');
    expect(r.count).toBe(27);
    expect(r.mean.cascade!.dice).toBeGreaterThanOrEqual(0.7);
    expect(r.mean.cascade!.dice - r.mean.unprompted!.dice).toBeGreaterThanOrEqual(0.2);
    expect(r.mean.cascade!.dice).toBeLessThanOrEqual(r.mean['gt-box']!.dice + 0.02);
  });

  it('brain MRI (one subject): the cascade beats un-prompted SAM', async () => {
    const r = await runTask('brain_mri', 'brain-mri');
    expect(r.count).toBe(17);
    expect(r.mean.cascade!.dice).toBeGreaterThan(r.mean.unprompted!.dice);
  });
});
