/**
 * The honest protocol for quality figures: a dev task's images split into two halves by sorted
 * name (even / odd positions); settings are chosen on one half and reported on the other, in
 * both directions, over several exemplar draws. Exemplars are drawn from the choosing half (the
 * labelled images a user would have), never from the half reported on.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage, decodeMask } from '../../src/io/image-codecs.js';
import { maskDice } from '../../src/core/mask.js';
import { exemplarBoxSam, gtBoxSam, unpromptedSam } from '../../src/pipeline/baselines.js';
import { runCascade } from '../../src/pipeline/cascade.js';
import { drawExemplars, prepareEvalItem, type EvalItem } from '../../src/pipeline/evaluate.js';
import type { Salip } from '../../src/pipeline/salip.js';
import type { Exemplar } from '../../src/pipeline/scorers.js';
import { segmentEverything, type SegmentEverythingResult } from '../../src/pipeline/stages/segment-everything.js';
import type { SamImageEmbedding } from '../../src/pipeline/types.js';
import { everythingRunOptions, withTaskDefaults, type SalipTask } from '../../src/pipeline/tasks.js';
import { DATA_DIR } from '../harness.js';

/** The dev task folders under ../shared/data and the class each is about. */
export const PROTOCOL_TASKS = {
  fetal_head_us: { className: 'fetal-head', topK: 1, preset: 'fetal-head-us' },
  lung_xray: { className: 'lungs', topK: 2, preset: 'lungs-cxr' },
  brain_mri: { className: 'brain', topK: 1, preset: 'brain-mri' },
  jsrt_heart: { className: 'heart', topK: 1, preset: 'heart-cxr' },
  jsrt_clavicles: { className: 'clavicles', topK: 2, preset: undefined },
} as const;
export type ProtocolTask = keyof typeof PROTOCOL_TASKS;

export const EXEMPLARS_PER_DRAW = 3;
export const EVAL_SIZE = 256;

/** Every pair of a task folder, sorted by name, at the evaluation size. */
export function loadFolder(task: ProtocolTask): EvalItem[] {
  const dir = join(DATA_DIR, task);
  return readdirSync(join(dir, 'images'))
    .filter((f) => f.endsWith('.png'))
    .sort()
    .map((name) => {
      const image = decodeImage(new Uint8Array(readFileSync(join(dir, 'images', name))), { name }).image;
      const groundTruth = decodeMask(new Uint8Array(readFileSync(join(dir, 'masks', name))), { name });
      return prepareEvalItem({ name, image, groundTruth }, EVAL_SIZE);
    });
}

/** Half 0 = even positions of the sorted list, half 1 = odd positions. */
export function halves<T>(items: readonly T[]): [T[], T[]] {
  return [items.filter((_, i) => i % 2 === 0), items.filter((_, i) => i % 2 === 1)];
}

/** One exemplar set: drawn from half `from` with `seed`; `choose` = the rest of that half, `report` = the other half. */
export interface ExemplarSet {
  readonly from: 0 | 1;
  readonly seed: number;
  readonly exemplars: Exemplar[];
  readonly exemplarNames: string[];
  readonly choose: EvalItem[];
  readonly report: EvalItem[];
}

/** The draws of both directions: seeds 0..draws-1 from each half. */
export function exemplarSets(items: readonly EvalItem[], draws: number): ExemplarSet[] {
  const parts = halves(items);
  const sets: ExemplarSet[] = [];
  for (const from of [0, 1] as const) {
    for (let seed = 0; seed < draws; seed++) {
      const drawn = drawExemplars(parts[from], EXEMPLARS_PER_DRAW, seed);
      sets.push({ from, seed, exemplars: drawn.exemplars, exemplarNames: drawn.names, choose: drawn.scored, report: parts[1 - from] });
    }
  }
  return sets;
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Per-draw means of one task on the half it was not tuned on (exemplars from the other half). */
export interface HeldOutReport {
  readonly task: string;
  /** Images scored (the report half). */
  readonly count: number;
  /** One entry per exemplar draw: mean Dice of each mode over the report half. */
  readonly draws: Array<{ seed: number; exemplars: string[]; cascade: number; exemplarBox: number }>;
  /** Exemplar-free baselines (the same for every draw). */
  readonly unprompted: number;
  readonly gtBox: number;
  /** Mean decoder runs per image of the cascade. */
  readonly decoderCalls: number;
}

/**
 * Runs `task` (its first class described by exemplars drawn from half `tunedOn`) on the other
 * half, for seeds 0..draws-1. One encoder pass and one segment-everything pool per image serve
 * every draw (the pool does not depend on the exemplars in exact mode).
 */
export async function heldOutReport(
  salip: Salip,
  task: SalipTask,
  items: readonly EvalItem[],
  options: {
    draws: number;
    tunedOn: 0 | 1;
    onImage?: (name: string) => void;
    /** Segment-everything for an image (default: run it); the study passes its disk cache. */
    everythingFor?: (item: EvalItem, params: SalipTask['everything'], embedding: SamImageEmbedding) => Promise<Pick<SegmentEverythingResult, 'records' | 'options' | 'stats'>>;
  },
): Promise<HeldOutReport> {
  const parts = halves(items);
  const report = parts[1 - options.tunedOn];
  const base = withTaskDefaults(task);
  const cls = base.classes[0];
  const drawn = Array.from({ length: options.draws }, (_, seed) => drawExemplars(parts[options.tunedOn], EXEMPLARS_PER_DRAW, seed));
  const tasks = drawn.map((d) => withTaskDefaults({ ...base, classes: [{ ...cls, prompts: undefined, exemplars: d.exemplars }] }));
  const dice = drawn.map(() => ({ cascade: [] as number[], exemplarBox: [] as number[] }));
  const unprompted: number[] = [];
  const gtBox: number[] = [];
  const calls: number[] = [];
  for (const item of report) {
    const embedding = await salip.sam.embed(item.image);
    // Fast mode guides its grid by the exemplars: every draw runs its own segment-everything.
    const fast = base.everything?.mode === 'fast';
    const everything = fast
      ? undefined
      : options.everythingFor
        ? await options.everythingFor(item, base.everything, embedding)
        : await segmentEverything(salip.sam, item.image, { ...everythingRunOptions(base.everything, salip), embedding });
    unprompted.push(maskDice((await unpromptedSam(salip.sam, item.image, { embedding })).mask, item.groundTruth));
    gtBox.push(maskDice((await gtBoxSam(salip.sam, item.image, item.groundTruth, { embedding })).union, item.groundTruth));
    for (const [d, t] of tasks.entries()) {
      const run = await runCascade({ sam: salip.sam, scorer: salip.scorerFor(t) }, item.image, t, { embedding, everything });
      dice[d].cascade.push(maskDice(run.classes[cls.name].mask, item.groundTruth));
      dice[d].exemplarBox.push(maskDice((await exemplarBoxSam(salip.sam, item.image, t.classes[0], { ...t.refine, embedding })).mask, item.groundTruth));
      calls.push((everything?.stats.decoderCalls ?? 0) + run.decoderCalls.everything + run.decoderCalls.proposals + run.decoderCalls.refine);
    }
    options.onImage?.(item.name);
  }
  return {
    task: base.name,
    count: report.length,
    draws: drawn.map((d, seed) => ({ seed, exemplars: d.names, cascade: mean(dice[seed].cascade), exemplarBox: mean(dice[seed].exemplarBox) })),
    unprompted: mean(unprompted),
    gtBox: mean(gtBox),
    decoderCalls: mean(calls),
  };
}
