/**
 * Robustness of a few settings and scorer variants to the exemplar draw: the cascade replayed
 * (simulate.ts) with exemplars drawn by several seeds, mean and spread of the mean Dice.
 *
 *   npx tsx bench/study/seeds.ts <task> <seeds, e.g. 0,1,2,3,4>
 *
 * The settings and variants compared are listed below (edit them for another question).
 */
import { mean, type DevTask } from '../harness.js';
import { loadMobileSam } from './common.js';
import { describe, loadStudy, runSetting, saveRefined, type Setting, type StudyOptions } from './simulate.js';
import { edgeScorer } from './variant-scorers.js';

const [task, seedArg] = process.argv.slice(2) as [DevTask, string];
const seeds = (seedArg ?? '0,1,2,3,4').split(',').map(Number);
const only = process.argv[4]?.split(',');
const base = { predIouThresh: 0, minMaskRegionArea: Number(process.env.MIN_REGION ?? 0) } as const;
const SETTINGS: Record<DevTask, Setting[]> = {
  fetal_head_us: [
    { ...base, side: 16, predIouThresh: 0.5, stabilityScoreThresh: 0, stabilityScoreOffset: 1, boxNmsThresh: 0.8, maxAreaFraction: 0.61 },
    { ...base, side: 16, stabilityScoreThresh: 0.5, stabilityScoreOffset: 0.5, boxNmsThresh: 0.8, maxAreaFraction: 0.61 },
    { ...base, side: 12, stabilityScoreThresh: 0.5, stabilityScoreOffset: 1, boxNmsThresh: 0.9, maxAreaFraction: 0.61 },
    { ...base, side: 12, stabilityScoreThresh: 0.5, stabilityScoreOffset: 0.5, boxNmsThresh: 0.8, maxAreaFraction: 0.61 },
  ],
  lung_xray: [
    { ...base, side: 16, predIouThresh: 0.5, stabilityScoreThresh: 0, stabilityScoreOffset: 1, boxNmsThresh: 0.25, maxAreaFraction: 0.4 },
    { ...base, side: 16, stabilityScoreThresh: 0, stabilityScoreOffset: 1, boxNmsThresh: 0.25, maxAreaFraction: 0.4 },
    { ...base, side: 16, stabilityScoreThresh: 0.5, stabilityScoreOffset: 0.5, boxNmsThresh: 0.3, maxAreaFraction: 0.4 },
  ],
  brain_mri: [
    { ...base, side: 16, predIouThresh: 0.5, stabilityScoreThresh: 0, stabilityScoreOffset: 1, boxNmsThresh: 0.8, maxAreaFraction: 0.76 },
    { ...base, side: 16, predIouThresh: 0.5, stabilityScoreThresh: 0.5, stabilityScoreOffset: 1, boxNmsThresh: 0.7, maxAreaFraction: 0.76 },
    { ...base, side: 8, stabilityScoreThresh: 0.3, stabilityScoreOffset: 1, boxNmsThresh: 0.7, maxAreaFraction: 0.76 },
  ],
};
const VARIANTS: Array<[string, StudyOptions]> = [
  ['edge image-mean', { makeScorer: (sam) => edgeScorer(sam, 'image-mean'), tag: 'edge-image-mean-3' }],
  ['edge ring', { makeScorer: (sam) => edgeScorer(sam, 'ring'), tag: 'edge-ring-3' }],
  ['region+context', { similarity: 'region+context', contrast: 'none' }],
  ['region+context image-mean', { similarity: 'region+context', contrast: 'image-mean' }],
  ['region image-mean', { similarity: 'region', contrast: 'image-mean' }],
];

const settings = SETTINGS[task];
const sides = [...new Set(settings.map((s) => s.side))];
const model = await loadMobileSam();
const results = new Map<string, number[]>();
for (const seed of seeds) {
  for (const [name, options] of VARIANTS.filter(([n]) => !only || only.includes(n))) {
    const study = await loadStudy(task, sides, { ...options, seed, model });
    for (const s of settings) {
      const r = await runSetting(study, s, true);
      const k = `${name.padEnd(27)} | ${describe(s)}`;
      results.set(k, [...(results.get(k) ?? []), r.cascade]);
    }
    saveRefined(study);
    console.log(`seed ${seed} ${name} done (exemplars ${study.exemplarNames.join(', ')})`);
  }
}
console.log(`${task}: cascade Dice over exemplar seeds ${seeds.join(',')}: mean [min, max] per seed`);
for (const [k, v] of results) {
  console.log(`${mean(v).toFixed(3)} [${Math.min(...v).toFixed(3)}, ${Math.max(...v).toFixed(3)}] ${v.map((x) => x.toFixed(2)).join(' ')} | ${k}`);
}
await model.dispose();
