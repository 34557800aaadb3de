/**
 * The paper's evaluation protocol: images (and ground truth) resized to size x size, Dice and
 * IoU per image, averaged; the cascade side by side with the baselines (un-prompted SAM,
 * GT-box SAM, oracle retrieval). One encoder pass and one candidate pool per image serve every
 * mode.
 */
import { SalipError } from '../core/errors.js';
import { resizeImage } from '../core/image.js';
import { maskDice, maskIoU, resizeMaskNearest } from '../core/mask.js';
import { createRandom } from '../core/random.js';
import type { BinaryMask, RgbImage } from '../core/types.js';
import { gtBoxSam, oracleRetrieval, unpromptedSam } from './baselines.js';
import type { Salip } from './salip.js';
import type { Exemplar } from './scorers.js';
import { refine } from './stages/refine.js';
import { retrieve } from './stages/retrieve.js';
import { segmentEverything } from './stages/segment-everything.js';
import { throwIfAborted, type StageControl } from './stages/options.js';
import { everythingRunOptions, guidedFastOptions, resolveTask, type SalipTask } from './tasks.js';

export type EvalMode = 'cascade' | 'unprompted' | 'gt-box' | 'oracle';
export const EVAL_MODES: readonly EvalMode[] = ['cascade', 'unprompted', 'gt-box', 'oracle'];

export interface EvalItem {
  readonly name: string;
  readonly image: RgbImage;
  readonly groundTruth: BinaryMask;
}

export interface EvalOptions extends StageControl {
  /** Task preset or object; its first class is the evaluated one. */
  task: SalipTask | string;
  /** Modes to run (default: all four). */
  modes?: readonly EvalMode[];
  /** Images and masks are resized to size x size (the paper: 256). undefined = native size. */
  size?: number;
  /**
   * Describe the class by this many exemplars drawn from the items with `seed`; those items are
   * excluded from scoring. 0 / undefined = use the task's own class description.
   */
  exemplars?: number;
  /** Seed for drawing exemplars (default 0). */
  seed?: number;
  /** Called with each image's masks (e.g. to save them). */
  onImage?: (result: EvalImageResult) => void | Promise<void>;
}

export interface EvalImageResult {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  /** Per mode: Dice, IoU and the predicted mask (at the evaluation size). */
  readonly modes: Partial<Record<EvalMode, { dice: number; iou: number; mask: BinaryMask }>>;
  /** Size of the stage-1 pool (for cascade/oracle). */
  readonly poolSize?: number;
}

export interface EvalReport {
  readonly task: string;
  readonly size?: number;
  readonly modes: EvalMode[];
  /** Names of the items used as exemplars (excluded from the means). */
  readonly exemplarNames: string[];
  readonly images: Array<Omit<EvalImageResult, 'modes'> & { modes: Partial<Record<EvalMode, { dice: number; iou: number }>> }>;
  /** Mean Dice / IoU per mode over the scored images. */
  readonly mean: Partial<Record<EvalMode, { dice: number; iou: number }>>;
  readonly count: number;
}

/** Brings an item to the evaluation size (bilinear image, nearest mask). */
export function prepareEvalItem(item: EvalItem, size: number | undefined): EvalItem {
  if (item.image.width !== item.groundTruth.width || item.image.height !== item.groundTruth.height) {
    throw new SalipError(
      'SIZE_MISMATCH',
      `${item.name}: mask is ${item.groundTruth.width}x${item.groundTruth.height} but the image is ${item.image.width}x${item.image.height}`,
    );
  }
  if (!size) return item;
  return { name: item.name, image: resizeImage(item.image, size, size, 'bilinear'), groundTruth: resizeMaskNearest(item.groundTruth, size, size) };
}

/** Evaluates the cascade and baselines on labelled items. */
/**
 * Draws `count` of the items as exemplars with `seed` (the draw evaluate() makes), and returns
 * them with their names and the items left to score.
 */
export function drawExemplars(items: readonly EvalItem[], count: number, seed: number): { exemplars: Exemplar[]; names: string[]; scored: EvalItem[] } {
  const picked = createRandom(seed).sample([...items.keys()], count);
  const pickedSet = new Set(picked);
  return {
    exemplars: picked.map((i) => ({ image: items[i].image, mask: items[i].groundTruth })),
    names: picked.map((i) => items[i].name),
    scored: items.filter((_, i) => !pickedSet.has(i)),
  };
}

export async function evaluate(salip: Salip, items: readonly EvalItem[], options: EvalOptions): Promise<EvalReport> {
  const modes = [...(options.modes ?? EVAL_MODES)];
  for (const m of modes) if (!EVAL_MODES.includes(m)) throw new SalipError('INVALID_ARGUMENT', `modes: unknown mode '${m}', expected one of ${EVAL_MODES.join(', ')}`);
  if (items.length === 0) throw new SalipError('INVALID_ARGUMENT', 'evaluate: no items to evaluate');
  let task = resolveTask(options.task);
  const prepared = items.map((it) => prepareEvalItem(it, options.size));
  const exemplarCount = options.exemplars ?? 0;
  let exemplarNames: string[] = [];
  let scored = prepared;
  if (exemplarCount > 0) {
    if (exemplarCount > 5) throw new SalipError('INVALID_ARGUMENT', `exemplars: expected 1 to 5, got ${exemplarCount}`);
    if (prepared.length <= exemplarCount) {
      throw new SalipError('INVALID_ARGUMENT', `exemplars: ${exemplarCount} exemplars leave no image to score among ${prepared.length}`);
    }
    const drawn = drawExemplars(prepared, exemplarCount, options.seed ?? 0);
    const exemplars = drawn.exemplars;
    exemplarNames = drawn.names;
    scored = drawn.scored;
    const [first, ...rest] = task.classes;
    task = { ...task, classes: [{ name: first.name, topK: first.topK, exemplars }, ...rest] };
  }
  const cls = task.classes[0];
  const topK = cls.topK ?? 1;
  const needsPool = modes.includes('cascade') || modes.includes('oracle');
  const scorer = modes.includes('cascade') ? salip.scorerFor(task) : undefined;
  const sam = salip.sam;
  const images: EvalReport['images'] = [];
  for (let n = 0; n < scored.length; n++) {
    throwIfAborted(options.signal, 'evaluate');
    const { name, image, groundTruth } = scored[n];
    const embedding = await sam.embed(image, { signal: options.signal });
    const results: EvalImageResult['modes'] = {};
    const record = (mode: EvalMode, mask: BinaryMask) => {
      results[mode] = { dice: maskDice(mask, groundTruth), iou: maskIoU(mask, groundTruth), mask };
    };
    let poolSize: number | undefined;
    if (needsPool) {
      const fast = guidedFastOptions(task, scorer, embedding, options.signal);
      const everything = await segmentEverything(sam, image, {
        ...everythingRunOptions(task.everything, salip),
        fast,
        embedding,
        signal: options.signal,
      });
      poolSize = everything.records.length;
      if (modes.includes('cascade')) {
        try {
          const retrieval = await retrieve(scorer!, image, everything.records, [cls], {
            maxArea: task.maxArea,
            maxAreaFraction: task.maxAreaFraction,
            embedding,
          });
          const refined = await refine(sam, image, retrieval.chosen, { embedding });
          record('cascade', refined[cls.name].mask);
        } catch (err) {
          // An image where every candidate was filtered scores 0, as an empty prediction would.
          if (!(err instanceof SalipError && err.code === 'EMPTY_CANDIDATE_POOL')) throw err;
          record('cascade', { width: image.width, height: image.height, data: new Uint8Array(image.width * image.height) });
        }
      }
      if (modes.includes('oracle')) {
        const oracle = await oracleRetrieval(sam, image, everything.records, groundTruth, {
          embedding,
          topK,
          maxArea: task.maxArea,
          maxAreaFraction: task.maxAreaFraction,
        });
        record('oracle', oracle.mask);
      }
    }
    if (modes.includes('unprompted')) record('unprompted', (await unpromptedSam(sam, image, { embedding })).mask);
    if (modes.includes('gt-box')) record('gt-box', (await gtBoxSam(sam, image, groundTruth, { embedding })).union);
    const result: EvalImageResult = { name, width: image.width, height: image.height, modes: results, poolSize };
    await options.onImage?.(result);
    images.push({
      name,
      width: image.width,
      height: image.height,
      poolSize,
      modes: Object.fromEntries(Object.entries(results).map(([m, r]) => [m, { dice: r!.dice, iou: r!.iou }])),
    });
    options.onProgress?.({ stage: 'evaluate', done: n + 1, total: scored.length, message: name });
  }
  const mean: EvalReport['mean'] = {};
  for (const m of modes) {
    const rows = images.map((r) => r.modes[m]).filter((r): r is { dice: number; iou: number } => r !== undefined);
    mean[m] = { dice: average(rows.map((r) => r.dice)), iou: average(rows.map((r) => r.iou)) };
  }
  return { task: task.name, size: options.size, modes, exemplarNames, images, mean, count: images.length };
}

function average(values: number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}
