import { writeFileSync } from 'node:fs';
import { decodeRle, maskDice } from '../../src/core/mask.js';
import { renderOverlay } from '../../src/core/overlay.js';
import { encodePng } from '../../src/io/image-codecs.js';
import { runCascade } from '../../src/pipeline/cascade.js';
import { createExemplarScorer } from '../../src/pipeline/scorers.js';
import { withTaskDefaults } from '../../src/pipeline/tasks.js';
import { cachedEmbedding, loadMobileSam } from './common.js';
import { exemplarSets, loadFolder } from './protocol-lib.js';
const [name, setArg] = process.argv.slice(2);
const items = loadFolder('jsrt_heart');
const sets = exemplarSets(items, 1);
const set = sets[Number(setArg)];
const sam = await loadMobileSam();
const item = items.find((i) => i.name === name)!;
const embedding = await cachedEmbedding(sam, item.image);
const t = withTaskDefaults({ name: 'h', classes: [{ name: 'heart', topK: 1, exemplars: set.exemplars }], refine: { iterations: 1, candidates: 5, multimaskAlternatives: true }, exemplarScoring: { locationWeight: 20 } });
const run = await runCascade({ sam, scorer: createExemplarScorer(sam, {}, t.exemplarScoring) }, item.image, t, { embedding });
const c = run.classes.heart;
console.log('dice', maskDice(c.mask, item.groundTruth));
for (const k of c.considered) console.log(k.source.record.proposer, k.source.score.toFixed(2), k.refinedScore.toFixed(2), k.area, JSON.stringify(k.source.record.bbox));
const layers = [
  { mask: item.groundTruth, color: [0, 220, 0] as [number, number, number], outline: 2 },
  { mask: c.mask, color: [0, 120, 255] as [number, number, number], fillAlpha: 0.3, outline: 1 },
  ...c.considered.slice(0, 5).map((k, i) => ({ mask: decodeRle(k.source.record.segmentation), color: [255, 60 * i, 0] as [number, number, number], outline: 1 })),
];
writeFileSync(`/tmp/dbg/${name}-${setArg}.png`, encodePng(renderOverlay(item.image, layers)));
await sam.dispose();
