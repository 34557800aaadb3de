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
import { exemplarBoxSam, gtBoxSam, oracleRetrieval, unpromptedSam } from './baselines.js';
import { runCascade, type CascadeRun } from './cascade.js';
import type { Salip } from './salip.js';
import type { Exemplar } from './scorers.js';
import { throwIfAborted, type StageControl } from './stages/options.js';
import { resolveTask, taskRefinement, type SalipTask } from './tasks.js';

/**
 * 'exemplar-box': SAM prompted with the exemplars' mean box per part (normalised, scaled to the
 * image), refined as the cascade refines: the trivial prior a cascade must beat.
 */
export type EvalMode = 'cascade' | 'unprompted' | 'gt-box' | 'oracle' | 'exemplar-box';
export const EVAL_MODES: readonly EvalMode[] = ['cascade', 'unprompted', 'gt-box', 'oracle', 'exemplar-box'];

export interface EvalItem {
  readonly name: string;
  readonly image: RgbImage;
  readonly groundTruth: BinaryMask;
}

export interface EvalOptions extends StageControl {
  /** Task preset or object; its first class is the evaluated one. */
  task: SalipTask | string;
  /** Modes to run (default: all; 'exemplar-box' only when the class is described by exemplars). */
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
  /** Size of the candidate pool (for cascade/oracle): grid records plus proposals. */
  readonly poolSize?: number;
  /** Decoder runs of the cascade on this image, per stage (cascade mode). */
  readonly decoderCalls?: CascadeRun['decoderCalls'];
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
  /** Mean decoder runs per image of the cascade (cascade mode). */
  readonly meanDecoderCalls?: number;
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
  // By default every mode that applies: exemplar-box only where the class has (or draws) exemplars.
  const hasExemplars = (options.exemplars ?? 0) > 0 || (resolveTask(options.task).classes[0]?.exemplars?.length ?? 0) > 0;
  const modes = [...(options.modes ?? EVAL_MODES.filter((m) => m !== 'exemplar-box' || hasExemplars))];
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
  task = resolveTask(task);
  const cls = task.classes[0];
  const topK = cls.topK ?? 1;
  if (modes.includes('exemplar-box') && !(cls.exemplars && cls.exemplars.length > 0)) {
    throw new SalipError(
      'INVALID_ARGUMENT',
      `modes: 'exemplar-box' needs class '${cls.name}' described by exemplars (give exemplars in the task or draw them with the exemplars option)`,
    );
  }
  const needsRun = modes.includes('cascade') || modes.includes('oracle');
  const scorer = needsRun ? salip.scorerFor(task) : undefined;
  const sam = salip.sam;
  const refinement = taskRefinement(task);
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
    let decoderCalls: CascadeRun['decoderCalls'] | undefined;
    if (needsRun) {
      // One cascade run serves both modes: the oracle ranks the same pool (grid and proposals).
      let run: CascadeRun | undefined;
      try {
        run = await runCascade({ sam, scorer: scorer!, candidateMaker: salip.candidateMaker, promptsPerRun: salip.promptsPerRun }, image, task, {
          embedding,
          signal: options.signal,
        });
      } catch (err) {
        // An image where every candidate was filtered scores 0, as an empty prediction would.
        if (!(err instanceof SalipError && err.code === 'EMPTY_CANDIDATE_POOL')) throw err;
      }
      const empty = () => ({ width: image.width, height: image.height, data: new Uint8Array(image.width * image.height) });
      poolSize = run?.pool.length ?? 0;
      decoderCalls = run?.decoderCalls;
      if (modes.includes('cascade')) record('cascade', run ? run.classes[cls.name].mask : empty());
      if (modes.includes('oracle')) {
        const oracle = run
          ? await oracleRetrieval(sam, image, run.pool, groundTruth, { ...refinement, embedding, topK, maxArea: task.maxArea, maxAreaFraction: task.maxAreaFraction, exemplars: cls.exemplars })
          : { mask: empty() };
        record('oracle', oracle.mask);
      }
    }
    if (modes.includes('unprompted')) record('unprompted', (await unpromptedSam(sam, image, { embedding })).mask);
    if (modes.includes('gt-box')) record('gt-box', (await gtBoxSam(sam, image, groundTruth, { embedding })).union);
    if (modes.includes('exemplar-box')) record('exemplar-box', (await exemplarBoxSam(sam, image, cls, { ...refinement, embedding })).mask);
    const result: EvalImageResult = { name, width: image.width, height: image.height, modes: results, poolSize, decoderCalls };
    await options.onImage?.(result);
    images.push({
      name,
      width: image.width,
      height: image.height,
      poolSize,
      decoderCalls,
      modes: Object.fromEntries(Object.entries(results).map(([m, r]) => [m, { dice: r!.dice, iou: r!.iou }])),
    });
    options.onProgress?.({ stage: 'evaluate', done: n + 1, total: scored.length, message: name });
  }
  const mean: EvalReport['mean'] = {};
  for (const m of modes) {
    const rows = images.map((r) => r.modes[m]).filter((r): r is { dice: number; iou: number } => r !== undefined);
    mean[m] = { dice: average(rows.map((r) => r.dice)), iou: average(rows.map((r) => r.iou)) };
  }
  const calls = images.filter((r) => r.decoderCalls).map((r) => r.decoderCalls!.everything + r.decoderCalls!.proposals + r.decoderCalls!.refine);
  return { task: task.name, size: options.size, modes, exemplarNames, images, mean, count: images.length, meanDecoderCalls: calls.length > 0 ? average(calls) : undefined };
}

function average(values: number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}
