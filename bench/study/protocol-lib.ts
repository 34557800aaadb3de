/**
 * The honest protocol for quality figures: a dev task's images split into two halves by sorted
 * name (even / odd positions); settings are chosen on one half and reported on the other, in
 * both directions, over several exemplar draws. Exemplars are drawn from the choosing half (the
 * labelled images a user would have), never from the half reported on.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage, decodeMask } from '../../src/io/image-codecs.js';
import { drawExemplars, prepareEvalItem, type EvalItem } from '../../src/pipeline/evaluate.js';
import type { Exemplar } from '../../src/pipeline/scorers.js';
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
