/**
 * Volumes without the cascade on every slice: the full cascade runs on key slices (the middle
 * slice, of options.slices when given, and every k-th from it); each slice between takes its mask
 * from its neighbour's, by one SAM prompt (the neighbour's box, a little wider), going
 * outwards from the middle in both directions. Where a carried mask looks lost (stability below
 * the task's candidate bar, or it grows by more than a factor over its neighbour) the cascade
 * runs on that slice instead.
 * An empty or tiny carried mask means the organ has ended: the slices beyond get empty masks
 * without any model call, instead of the cascade forcing a mask onto them.
 */
import { stabilityScore } from '../core/everything/stability.js';
import { createLogitUpscaler, upscalerGeometry } from '../core/everything/upscale.js';
import { SalipError, describeValue } from '../core/errors.js';
import { resizeImage } from '../core/image.js';
import { createMask, maskArea, maskFromLogits, maskToBox } from '../core/mask.js';
import type { BinaryMask, BoxXYXY, RgbImage } from '../core/types.js';
import type { Salip } from './salip.js';
import { throwIfAborted } from './stages/options.js';
import { resolveTask, type SalipTask } from './tasks.js';
import type { SegmentVolumeOptions, VolumeResult, VolumeRun, VolumeSliceRecord } from './volume.js';

export interface PropagationOptions {
  /** Key-slice step k: the cascade runs on the middle slice and every k-th slice from it (default 16). */
  step?: number;
  /**
   * A carried mask with a lower stability score (logit offset 1, as segment-anything) is lost.
   * Default: the task's own bar for segment-everything's candidates (everything.stabilityScoreThresh,
   * 0.3 for brain-mri), since how stable a good mask is depends on the organ: the brain's carried
   * masks score about 0.8 (its sulci), so segment-anything's 0.85-0.95 re-ran the cascade on
   * nearly every slice of ch2.
   */
  minStability?: number;
  /** A carried mask more than this many times its neighbour's area is lost (default 1.6). */
  maxGrowth?: number;
  /** A carried mask below this fraction of the slice area ends the propagation (default 0.002). */
  minAreaFraction?: number;
  /** Widening of the neighbour's box on each side, as a fraction of its size (default 0.05). */
  boxMargin?: number;
  /**
   * Also feed the neighbour's low-res logits to SAM as mask_input (default false). On ch2 a carried
   * mask prompted that way was lost on every other slice (the cascade re-ran each time), while the
   * box alone carried cleanly: SAM's mask_input is made for its own previous output on the same image.
   */
  maskInput?: boolean;
}

const DEFAULTS: Omit<Required<PropagationOptions>, 'minStability'> = { step: 16, maxGrowth: 1.6, minAreaFraction: 0.002, boxMargin: 0.05, maskInput: false };

/** The options with their defaults; minStability's comes from the task (see PropagationOptions). */
function resolveOptions(o: PropagationOptions, task: SalipTask): Required<PropagationOptions> {
  if (typeof o !== 'object' || o === null) throw new SalipError('INVALID_ARGUMENT', `propagate: expected true or propagation options, got ${describeValue(o)}`);
  const r = { ...DEFAULTS, minStability: task.everything?.stabilityScoreThresh ?? 0, ...o };
  const bad = (key: string, expected: string) => {
    throw new SalipError('INVALID_ARGUMENT', `propagate.${key}: expected ${expected}, got ${describeValue((o as Record<string, unknown>)[key])}`);
  };
  if (!Number.isInteger(r.step) || r.step < 1) bad('step', 'a positive integer');
  if (!(r.minStability >= 0 && r.minStability <= 1)) bad('minStability', 'a number in [0, 1]');
  if (!(r.maxGrowth > 1)) bad('maxGrowth', 'a number above 1');
  if (!(r.minAreaFraction >= 0 && r.minAreaFraction < 1)) bad('minAreaFraction', 'a number in [0, 1)');
  if (!(r.boxMargin >= 0 && r.boxMargin <= 1)) bad('boxMargin', 'a number in [0, 1]');
  if (typeof r.maskInput !== 'boolean') bad('maskInput', 'true or false');
  return r;
}

/** The mask a slice carries to its neighbour (logits only when it came from a prompt). */
interface Carried {
  readonly index: number;
  readonly mask: BinaryMask;
  readonly logits?: Float32Array;
}

/** The neighbour's box widened by `margin` of its size per side, in the working frame. */
export function carriedBox(mask: BinaryMask, margin: number, scaleX: number, scaleY: number): BoxXYXY {
  const [x0, y0, x1, y1] = maskToBox(mask);
  const mx = (x1 - x0) * margin;
  const my = (y1 - y0) * margin;
  const clamp = (v: number, max: number) => Math.min(max, Math.max(0, v));
  return [
    clamp((x0 - mx) * scaleX, mask.width * scaleX),
    clamp((y0 - my) * scaleY, mask.height * scaleY),
    clamp((x1 + mx) * scaleX, mask.width * scaleX),
    clamp((y1 + my) * scaleY, mask.height * scaleY),
  ];
}

/** One prompt from the neighbour's mask: the slice's mask, its logits, stability and predicted IoU. */
async function carry(salip: Salip, image: RgbImage, from: Carried, workingSize: number | null | undefined, o: Required<PropagationOptions>, signal?: AbortSignal) {
  const working = workingSize ? resizeImage(image, workingSize, workingSize, 'bilinear') : image;
  const embedding = await salip.sam.embed(working, { signal });
  const box = carriedBox(from.mask, o.boxMargin, working.width / image.width, working.height / image.height);
  const result = await salip.sam.decode(embedding, { box, maskInput: o.maskInput ? from.logits : undefined }, { multimask: false });
  const logits = result.lowResLogits[0];
  const upscale = createLogitUpscaler(upscalerGeometry(result.lowResSize, embedding.transform, image.width, image.height));
  return {
    mask: maskFromLogits(upscale(logits), image.width, image.height),
    // A copy: the decoder may reuse its output buffers on the next call.
    logits: Float32Array.from(logits),
    stability: stabilityScore(logits, 0, 1),
    predictedIou: result.iouPredictions[0],
  };
}

/** Segments a volume by propagation (see the file comment); called by segmentVolume with options.propagate. */
export async function propagateVolume(
  salip: Salip,
  run: VolumeRun,
  task: SalipTask | string,
  propagation: PropagationOptions,
  options: SegmentVolumeOptions,
): Promise<VolumeResult> {
  const resolved = resolveTask(task);
  const o = resolveOptions(propagation, resolved);
  const workingSize = resolved.workingSize;
  const masks: BinaryMask[] = new Array(run.count);
  const records: VolumeSliceRecord[] = new Array(run.count);
  const middle = run.middle;
  let done = 0;
  const finish = (index: number, mask: BinaryMask, record: VolumeSliceRecord) => {
    masks[index] = mask;
    records[index] = record;
    options.onProgress?.({ stage: 'volume', done: ++done, total: run.count });
  };

  /** Walks from `start` in direction `dir`, carrying `carried` (the slice before start's mask, if any). */
  const walk = async (start: number, dir: 1 | -1, initial: Carried | undefined): Promise<Carried | undefined> => {
    let carried = initial;
    let ended = false;
    let first: Carried | undefined;
    for (let index = start; index >= 0 && index < run.count; index += dir) {
      throwIfAborted(options.signal, 'segmentVolume');
      const image = run.sliceImage(index);
      const empty = createMask(image.width, image.height);
      if (ended) {
        finish(index, empty, { index, skipped: true, reason: 'organ-ended' });
        continue;
      }
      const skip = run.skipReason(index, image);
      if (skip) {
        finish(index, empty, { index, skipped: true, reason: skip });
        // A blank slice inside the organ's run means the organ has ended on this side.
        if (carried && skip === 'blank') ended = true;
        carried = undefined;
        continue;
      }
      const key = Math.abs(index - middle) % o.step === 0;
      let rerun: string | undefined;
      if (carried) {
        const next = await carry(salip, image, carried, workingSize, o, options.signal);
        const area = maskArea(next.mask);
        if (area < o.minAreaFraction * image.width * image.height) {
          finish(index, empty, { index, skipped: true, reason: 'organ-ended', source: 'propagation', from: carried.index, stability: next.stability, predictedIou: next.predictedIou });
          ended = true;
          continue;
        }
        const growth = area / Math.max(1, maskArea(carried.mask));
        if (next.stability < o.minStability) rerun = `stability ${next.stability.toFixed(3)} < ${o.minStability}`;
        else if (growth > o.maxGrowth) rerun = `area grew ${growth.toFixed(2)}x > ${o.maxGrowth}x`;
        else if (!key) {
          finish(index, next.mask, { index, skipped: false, source: 'propagation', from: carried.index, stability: next.stability, predictedIou: next.predictedIou });
          carried = { index, mask: next.mask, logits: next.logits };
          first ??= carried;
          continue;
        }
      }
      // Key slices, slices before the organ was found on this side, and lost carried masks.
      const result = await run.cascade(salip, image, task, options.signal);
      if (!result || maskArea(result.mask) === 0) {
        finish(index, empty, { index, skipped: true, reason: 'no-candidates' });
        if (carried) ended = true;
        carried = undefined;
        continue;
      }
      finish(index, result.mask, { index, skipped: false, source: 'cascade', score: result.score, ...(rerun ? { rerun } : {}) });
      carried = { index, mask: result.mask };
      first ??= carried;
    }
    return first;
  };

  // Upwards from the middle first; downwards then starts from the middle slice's mask.
  const middleResult = await walk(middle, 1, undefined);
  await walk(middle - 1, -1, middleResult && middleResult.index === middle ? middleResult : undefined);
  return { mask: run.stack(masks), dims: run.dims, slices: records };
}
