/**
 * Offline preset search over the cache (cache.ts): for every combination of segment-everything
 * filters, NMS and area maximum, the cascade's retrieval is replayed on cached candidates with
 * the real exemplar scorer (3 exemplars drawn with seed 0 exactly as evaluate() draws them) and
 * the chosen boxes are refined with the real decoder (memoised on disk per image and box).
 *
 *   npx tsx bench/study/simulate.ts <task> [--sides 8,12,16] [--contrast image-mean|none] [--top 25]
 *
 * Prints the best settings by mean refined Dice, with the oracle (best candidate by Dice,
 * refined) and the mean pool size, so that a setting is judged by both retrieval and pool.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { boxXywhToXyxy, decodeRle, encodeRle, maskDice, maskUnion } from '../../src/core/mask.js';
import { topK } from '../../src/core/similarity.js';
import type { BinaryMask, CocoRle } from '../../src/core/types.js';
import { drawExemplars, type EvalItem } from '../../src/pipeline/evaluate.js';
import { createExemplarScorer, type Exemplar, type ExemplarScorerOptions, type Scorer } from '../../src/pipeline/scorers.js';
import { segmentWithBoxes } from '../../src/pipeline/stages/prompted.js';
import { resolveTask } from '../../src/pipeline/tasks.js';
import type { MaskRecord, SamImageEmbedding, SamModel } from '../../src/pipeline/types.js';
import { PRESET_OF, REPO_ROOT, mean, type DevTask } from '../harness.js';
import { cachePath, cachedEmbedding, cachingSam, loadMobileSam, loadTaskItems } from './common.js';
import { STABILITY_OFFSETS, readRawPool, simulatePool, type PoolParams, type RawPool } from './pool.js';

export interface StudyImage {
  item: EvalItem;
  embedding: SamImageEmbedding;
  raw: Map<number, RawPool>;
  /** Exemplar score and Dice per mask, keyed by its RLE counts. */
  scoreOf: Map<string, number>;
  diceOf: Map<string, number>;
  /** Refined mask per box key (persisted). */
  refined: Map<string, CocoRle>;
  refinedFile: string;
  refinedDirty: boolean;
}

export interface Study {
  task: DevTask;
  topK: number;
  exemplarNames: string[];
  images: StudyImage[];
  sam: SamModel;
  scorer: Scorer;
  exemplars: Exemplar[];
}

const key = (counts: number[]) => counts.join(',');

/** Score caches are keyed by the scorer code too, so an edit of the scorer never reuses stale scores. */
const SCORER_SOURCE_HASH = createHash('sha1')
  .update(readFileSync(join(REPO_ROOT, 'src/pipeline/scorers.ts')))
  .update(readFileSync(join(REPO_ROOT, 'src/core/pooling.ts')))
  .digest('hex')
  .slice(0, 8);

/** Loads the cached pools of a task and precomputes per-mask scores and Dice. */
export interface StudyOptions extends ExemplarScorerOptions {
  /** Builds the scorer instead of createExemplarScorer(sam, {}, options). */
  makeScorer?: (sam: SamModel) => Scorer;
  /** Skip images whose pools are not cached yet. */
  partial?: boolean;
  /** Score-cache tag (default: scorer name, options and a hash of the scorer's source). */
  tag?: string;
  /** Seed for drawing the exemplars (default 0, as the acceptance suite). */
  seed?: number;
  /** A loaded MobileSAM to reuse (loaded otherwise). */
  model?: SamModel;
}

export async function loadStudy(task: DevTask, sides: number[], scorerOptions: StudyOptions = {}): Promise<Study> {
  const real = scorerOptions.model ?? (await loadMobileSam());
  const sam = cachingSam(real);
  const items = loadTaskItems(task);
  const { exemplars, names, scored } = drawExemplars(items, 3, scorerOptions.seed ?? 0);
  const scorer = scorerOptions.makeScorer?.(sam) ?? createExemplarScorer(sam, {}, scorerOptions);
  const cls = { name: 'target', exemplars };
  const images: StudyImage[] = [];
  for (const item of scored) {
    // Exploratory runs while cache.ts is still running: images without a cached pool are skipped.
    if (scorerOptions.partial && !sides.every((side) => existsSync(cachePath('pools', task, String(side), `${item.name}.json`)))) continue;
    const embedding = await cachedEmbedding(real, item.image);
    const raw = new Map<number, RawPool>();
    for (const side of sides) raw.set(side, readRawPool(task, side, item.name));
    const refinedFile = cachePath('refined', task, `${item.name}.json`);
    const refined = new Map<string, CocoRle>(existsSync(refinedFile) ? Object.entries(JSON.parse(readFileSync(refinedFile, 'utf8'))) : []);
    const img: StudyImage = { item, embedding, raw, scoreOf: new Map(), diceOf: new Map(), refined, refinedFile, refinedDirty: false };
    const unique = new Map<string, MaskRecord>();
    for (const pool of raw.values()) {
      for (const c of pool.candidates) {
        const k = key(c.counts);
        if (!unique.has(k)) unique.set(k, toRecord(pool, c.counts, c.area));
      }
    }
    // Scores per distinct mask are cached on disk per scorer tag (the scorer's name unless a
    // --tag says which variant of the code produced them).
    const tag = scorerOptions.tag ?? `${scorer.name}-ctx${scorerOptions.contextCells ?? 'default'}`;
    const scoreFile = cachePath('scores', task, `${tag}-${SCORER_SOURCE_HASH}${scorerOptions.seed ? `-s${scorerOptions.seed}` : ''}`, `${item.name}.json`);
    if (existsSync(scoreFile)) {
      const saved = JSON.parse(readFileSync(scoreFile, 'utf8')) as { keys: string[]; scores: number[]; dices: number[] };
      saved.keys.forEach((k, i) => {
        img.scoreOf.set(k, saved.scores[i]);
        img.diceOf.set(k, saved.dices[i]);
      });
    }
    const missing = [...unique.entries()].filter(([k]) => !img.scoreOf.has(k));
    if (missing.length > 0) {
      await scoreRecords(img, scorer, cls, missing.map(([, r]) => r));
      const keys = [...img.scoreOf.keys()];
      writeFileSync(scoreFile, JSON.stringify({ keys, scores: keys.map((k) => img.scoreOf.get(k)), dices: keys.map((k) => img.diceOf.get(k)) }));
    }
    images.push(img);
  }
  return { task, topK: resolveTask(PRESET_OF[task]).classes[0].topK ?? 1, exemplarNames: names, images, sam, scorer, exemplars };
}

function toRecord(pool: RawPool, counts: number[], area: number): MaskRecord {
  return {
    segmentation: { size: [pool.height, pool.width], counts },
    area,
    bbox: [0, 0, 1, 1],
    predictedIou: 0,
    pointCoords: [],
    stabilityScore: 0,
    cropBox: [0, 0, pool.width, pool.height],
    maskIndex: 0,
  };
}

async function scoreRecords(img: StudyImage, scorer: Scorer, cls: { name: string; exemplars: Exemplar[] }, records: MaskRecord[]): Promise<void> {
  const todo = records.filter((r) => !img.scoreOf.has(key(r.segmentation.counts)));
  if (todo.length === 0) return;
  const table = await scorer.score({ image: img.item.image, candidates: todo, classes: [cls], embedding: img.embedding });
  todo.forEach((r, i) => {
    const k = key(r.segmentation.counts);
    img.scoreOf.set(k, table.scores[i]);
    img.diceOf.set(k, maskDice(decodeRle(r.segmentation), img.item.groundTruth));
  });
}

/** Union of the refined masks of the given boxes (XYWH), memoised per box. */
export async function refinedUnion(study: Study, img: StudyImage, boxes: MaskRecord['bbox'][]): Promise<BinaryMask> {
  const masks: BinaryMask[] = [];
  for (const b of boxes) {
    const k = b.join(',');
    let rle = img.refined.get(k);
    if (!rle) {
      const r = await segmentWithBoxes(study.sam, img.item.image, [boxXywhToXyxy(b)], { embedding: img.embedding });
      rle = encodeRle(r.masks[0].mask);
      img.refined.set(k, rle);
      img.refinedDirty = true;
    }
    masks.push(decodeRle(rle));
  }
  return masks.length === 1 ? masks[0] : maskUnion(masks);
}

export function saveRefined(study: Study): void {
  for (const img of study.images) {
    if (img.refinedDirty) writeFileSync(img.refinedFile, JSON.stringify(Object.fromEntries(img.refined)));
    img.refinedDirty = false;
  }
}

export interface Setting extends PoolParams {
  side: number;
  maxAreaFraction: number;
}

export interface SettingResult {
  setting: Setting;
  cascade: number;
  /** Dice of the chosen candidates' union before refinement. */
  chosenRaw: number;
  oracle: number;
  poolSize: number;
  perImage: number[];
}

/** Replays stage 1-4 of the cascade for one setting on every study image. */
export async function runSetting(study: Study, s: Setting, refine = true): Promise<SettingResult> {
  return (await runSettings(study, s, [s.maxAreaFraction], refine))[0];
}

/**
 * Replays the cascade for one pool setting and several area maxima (the pool, the expensive
 * part, is built once per image).
 */
export async function runSettings(study: Study, p: PoolParams & { side: number }, areaFractions: number[], refine = true): Promise<SettingResult[]> {
  const acc = areaFractions.map(() => ({ cascade: [] as number[], chosenRaw: [] as number[], oracle: [] as number[], poolSizes: [] as number[] }));
  const cls = { name: 'target', exemplars: study.exemplars };
  for (const img of study.images) {
    const raw = img.raw.get(p.side)!;
    const pool = simulatePool(raw, p);
    if (p.minMaskRegionArea > 0) await scoreRecords(img, study.scorer, cls, pool);
    for (const [a, fraction] of areaFractions.entries()) {
      const r = acc[a];
      r.poolSizes.push(pool.length);
      const maxArea = fraction * raw.width * raw.height;
      const kept = pool.filter((rec) => rec.bbox[2] > 0 && rec.bbox[3] > 0 && rec.area < maxArea);
      if (kept.length === 0) {
        r.cascade.push(0);
        r.chosenRaw.push(0);
        r.oracle.push(0);
        continue;
      }
      const scores = kept.map((rec) => img.scoreOf.get(key(rec.segmentation.counts))!);
      const dices = kept.map((rec) => img.diceOf.get(key(rec.segmentation.counts))!);
      const chosen = topK(scores, study.topK).map((i) => kept[i]);
      const best = topK(dices, study.topK).map((i) => kept[i]);
      const rawUnion = chosen.length === 1 ? decodeRle(chosen[0].segmentation) : maskUnion(chosen.map((rec) => decodeRle(rec.segmentation)));
      r.chosenRaw.push(maskDice(rawUnion, img.item.groundTruth));
      if (refine) {
        r.cascade.push(maskDice(await refinedUnion(study, img, chosen.map((rec) => rec.bbox)), img.item.groundTruth));
        r.oracle.push(maskDice(await refinedUnion(study, img, best.map((rec) => rec.bbox)), img.item.groundTruth));
      }
    }
  }
  return areaFractions.map((maxAreaFraction, a) => ({
    setting: { ...p, maxAreaFraction },
    cascade: mean(acc[a].cascade),
    chosenRaw: mean(acc[a].chosenRaw),
    oracle: mean(acc[a].oracle),
    poolSize: mean(acc[a].poolSizes),
    perImage: refine ? acc[a].cascade : acc[a].chosenRaw,
  }));
}

export function describe(s: Setting): string {
  return `side ${s.side} iou>${s.predIouThresh} stab>=${s.stabilityScoreThresh}@${s.stabilityScoreOffset} nms ${s.boxNmsThresh} minReg ${s.minMaskRegionArea} maxArea ${s.maxAreaFraction}`;
}

/** Every combination of the given value lists. */
export function settingsGrid(v: { [K in keyof Setting]: Setting[K][] }): Setting[] {
  const out: Setting[] = [];
  for (const side of v.side)
    for (const predIouThresh of v.predIouThresh)
      for (const stabilityScoreOffset of v.stabilityScoreOffset)
        for (const stabilityScoreThresh of v.stabilityScoreThresh)
          for (const boxNmsThresh of v.boxNmsThresh)
            for (const minMaskRegionArea of v.minMaskRegionArea)
              for (const maxAreaFraction of v.maxAreaFraction)
                out.push({ side, predIouThresh, stabilityScoreOffset, stabilityScoreThresh, boxNmsThresh, minMaskRegionArea, maxAreaFraction });
  return out;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      sides: { type: 'string', default: '16' },
      contrast: { type: 'string' },
      similarity: { type: 'string' },
      context: { type: 'string' },
      top: { type: 'string', default: '25' },
      iou: { type: 'string', default: '0,0.3,0.5,0.7' },
      stab: { type: 'string', default: '0,0.3,0.5,0.7,0.9' },
      offset: { type: 'string', default: '0.5,1,2' },
      nms: { type: 'string', default: '0.7,0.8,0.9,1' },
      minreg: { type: 'string', default: '0' },
      area: { type: 'string', default: '0.3,0.4,0.5,0.61,0.76' },
      partial: { type: 'boolean', default: false },
      all: { type: 'boolean', default: false },
      tag: { type: 'string' },
    },
  });
  const task = positionals[0] as DevTask;
  const nums = (s: string) => s.split(',').map(Number);
  const sides = nums(values.sides!);
  const t0 = performance.now();
  const study = await loadStudy(task, sides, {
    contrast: values.contrast as ExemplarScorerOptions['contrast'],
    similarity: values.similarity as ExemplarScorerOptions['similarity'],
    contextCells: values.context === undefined ? undefined : Number(values.context),
    partial: values.partial,
    tag: values.tag,
  });
  console.log(`${task}: ${study.images.length} images, exemplars ${study.exemplarNames.join(', ')}, loaded in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const grid = settingsGrid({
    side: sides,
    predIouThresh: nums(values.iou!),
    stabilityScoreThresh: nums(values.stab!),
    stabilityScoreOffset: nums(values.offset!) as Setting['stabilityScoreOffset'][],
    boxNmsThresh: nums(values.nms!),
    minMaskRegionArea: nums(values.minreg!),
    maxAreaFraction: nums(values.area!),
  });
  for (const o of grid) if (!STABILITY_OFFSETS.includes(o.stabilityScoreOffset)) throw new Error(`offset ${o.stabilityScoreOffset} not cached`);
  // Rank every setting by the unrefined Dice of the chosen candidates (no decoder), then refine the best.
  const areas = nums(values.area!);
  const quick: SettingResult[] = [];
  for (const s of grid.filter((g) => g.maxAreaFraction === areas[0])) quick.push(...(await runSettings(study, s, areas, false)));
  quick.sort((a, b) => b.chosenRaw - a.chosenRaw);
  const top = values.all ? quick.length : Number(values.top);
  const refined: SettingResult[] = [];
  for (const q of quick.slice(0, top)) refined.push(await runSetting(study, q.setting, true));
  saveRefined(study);
  refined.sort((a, b) => b.cascade - a.cascade);
  console.log(`${grid.length} settings; best ${top} by unrefined chosen Dice, then refined:`);
  for (const r of refined) {
    console.log(`cascade ${r.cascade.toFixed(3)} raw ${r.chosenRaw.toFixed(3)} oracle ${r.oracle.toFixed(3)} pool ${r.poolSize.toFixed(0).padStart(4)} | ${describe(r.setting)}`);
  }
  const best = refined[0];
  if (best) {
    console.log('per image (best):');
    console.log(study.images.map((img, i) => `${img.item.name.replace('.png', '')} ${best.perImage[i].toFixed(2)}`).join('  '));
  }
  await study.sam.dispose();
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
