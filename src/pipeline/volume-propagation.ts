/**
 * Volumes without the cascade on every slice: the full cascade runs on key slices (the middle
 * slice, of options.slices when given, and every k-th from it); each slice between takes its mask
 * from its neighbour's, by one SAM prompt (the neighbour's box, bounded by the last cascade
 * mask's), going outwards from the middle in both directions. Where a carried mask looks lost
 * (core/mask-carry.ts: low stability, grown over its neighbour or the last cascade mask, or
 * scored by the task's scorer well below the last cascade mask) the cascade runs on that slice
 * instead.
 * The organ has ended on a side when a carried mask is empty or tiny, or when the cascade run
 * on a lost slice finds nothing that scores near the last cascade mask: the slices beyond get
 * empty masks without any model call, instead of the cascade forcing a mask onto them.
 */
import { stabilityScore } from '../core/everything/stability.js';
import { createLogitUpscaler, upscalerGeometry } from '../core/everything/upscale.js';
import { SalipError, describeValue } from '../core/errors.js';
import { resizeImage } from '../core/image.js';
import { carriedVerdict, carryBox, closestMaskIndex, interpolateMasks, scoreDrop } from '../core/mask-carry.js';
import { boxXyxyToXywh, createMask, encodeRle, maskArea, maskFromLogits, maskToBox } from '../core/mask.js';
import type { BinaryMask, BoxXYXY, RgbImage } from '../core/types.js';
import type { Salip } from './salip.js';
import { throwIfAborted } from './stages/options.js';
import { resolveTask, type SalipTask } from './tasks.js';
import type { SamImageEmbedding } from './types.js';
import type { PropagationOptions, SegmentVolumeOptions, VolumeResult, VolumeRun, VolumeSliceRecord } from './volume-types.js';

type ResolvedOptions = Required<PropagationOptions>;

const DEFAULTS: Omit<ResolvedOptions, 'minStability' | 'multimask'> = {
  step: 32,
  maxGrowth: 1.6,
  maxAnchorGrowth: 1.3,
  minAreaFraction: 0.002,
  boxMargin: 0,
  boxBound: 0.05,
  maxScoreDrop: 15,
  endScoreDrop: 15,
  maskInput: false,
  stride: 2,
};

/** The options with their defaults; minStability's comes from the task, multimask's from the decoder. */
function resolveOptions(o: PropagationOptions, task: SalipTask, multimaskAvailable: boolean): ResolvedOptions {
  if (typeof o !== 'object' || o === null) throw new SalipError('INVALID_ARGUMENT', `propagate: expected true or propagation options, got ${describeValue(o)}`);
  const r = { ...DEFAULTS, minStability: task.everything?.stabilityScoreThresh ?? 0, multimask: multimaskAvailable, ...o };
  const bad = (key: string, expected: string) => {
    throw new SalipError('INVALID_ARGUMENT', `propagate.${key}: expected ${expected}, got ${describeValue((o as Record<string, unknown>)[key])}`);
  };
  const atLeast = (v: number, min: number) => typeof v === 'number' && v >= min;
  if (!Number.isInteger(r.step) || r.step < 1) bad('step', 'a positive integer');
  if (!Number.isInteger(r.stride) || r.stride < 1) bad('stride', 'a positive integer');
  if (!(r.minStability >= 0 && r.minStability <= 1)) bad('minStability', 'a number in [0, 1]');
  if (!(r.maxGrowth > 1)) bad('maxGrowth', 'a number above 1');
  if (!(r.maxAnchorGrowth > 1)) bad('maxAnchorGrowth', 'a number above 1');
  if (!(r.minAreaFraction >= 0 && r.minAreaFraction < 1)) bad('minAreaFraction', 'a number in [0, 1)');
  if (!(r.boxMargin >= 0 && r.boxMargin <= 1)) bad('boxMargin', 'a number in [0, 1]');
  if (!atLeast(r.boxBound, 0)) bad('boxBound', 'a number >= 0 (Infinity: unbounded)');
  if (!atLeast(r.maxScoreDrop, 0)) bad('maxScoreDrop', 'a number >= 0 (Infinity: never)');
  if (!atLeast(r.endScoreDrop, 0)) bad('endScoreDrop', 'a number >= 0 (Infinity: never)');
  if (typeof r.maskInput !== 'boolean') bad('maskInput', 'true or false');
  if (typeof r.multimask !== 'boolean') bad('multimask', 'true or false');
  if (r.multimask && !multimaskAvailable) bad('multimask', 'false: the SAM decoder has no multi-mask outputs');
  return r;
}

/** A slice's mask as the walk carries it: logits only when it came from a prompt, score when known. */
interface Carried {
  readonly index: number;
  readonly mask: BinaryMask;
  readonly logits?: Float32Array;
  readonly score?: number;
}

/** The neighbour's box widened by `margin` of its size per side, cut to the anchor's box widened by `bound` and to the slice (core/mask-carry.ts carryBox), in the working frame. */
export function carriedBox(mask: BinaryMask, margin: number, scaleX: number, scaleY: number, anchor?: BinaryMask, bound = Infinity): BoxXYXY {
  const box = carryBox(maskToBox(mask), anchor && maskToBox(anchor), margin, bound, mask.width, mask.height);
  return [box[0] * scaleX, box[1] * scaleY, box[2] * scaleX, box[3] * scaleY];
}

/** The task's scorer's score of one mask on the slice, pooled from the slice's embedding (NaN when not wanted). */
async function scoreMask(salip: Salip, task: SalipTask, className: string, working: RgbImage, embedding: SamImageEmbedding, mask: BinaryMask, stability: number, predictedIou: number, signal?: AbortSignal): Promise<number> {
  const area = maskArea(mask);
  if (area === 0) return NaN;
  const cls = task.classes.find((c) => c.name === className)!;
  const record = {
    segmentation: encodeRle(mask),
    area,
    bbox: boxXyxyToXywh(maskToBox(mask)),
    predictedIou,
    pointCoords: [],
    stabilityScore: stability,
    cropBox: [0, 0, working.width, working.height] as [number, number, number, number],
    maskIndex: 0,
  };
  const table = await salip.scorerFor(task).score({ image: working, candidates: [record], classes: [cls], embedding, signal });
  return table.scores[0];
}

/** What a carried prompt gave: the slice's mask, its logits, stability, predicted IoU and score. */
interface CarryResult {
  mask: BinaryMask;
  logits: Float32Array;
  stability: number;
  predictedIou: number;
  score: number;
}

/** One prompt from the neighbour's mask (bounded by the anchor's box), the closest output kept and scored. */
async function carry(salip: Salip, image: RgbImage, from: Carried, anchor: Carried, task: SalipTask, className: string, o: ResolvedOptions, signal?: AbortSignal): Promise<CarryResult> {
  const workingSize = task.workingSize;
  const working = workingSize ? resizeImage(image, workingSize, workingSize, 'bilinear') : image;
  const embedding = await salip.sam.embed(working, { signal });
  const box = carriedBox(from.mask, o.boxMargin, working.width / image.width, working.height / image.height, anchor.mask, o.boxBound);
  const result = await salip.sam.decode(embedding, { box, maskInput: o.maskInput ? from.logits : undefined }, { multimask: o.multimask });
  const toImage = createLogitUpscaler(upscalerGeometry(result.lowResSize, embedding.transform, image.width, image.height));
  const masks = result.lowResLogits.map((l) => maskFromLogits(toImage(l), image.width, image.height));
  const chosen = masks.length > 1 ? closestMaskIndex(masks, from.mask) : 0;
  const logits = result.lowResLogits[chosen];
  const stability = stabilityScore(logits, 0, 1);
  const predictedIou = result.iouPredictions[chosen];
  let score = NaN;
  if (Number.isFinite(o.maxScoreDrop)) {
    const toWorking = createLogitUpscaler(upscalerGeometry(result.lowResSize, embedding.transform, working.width, working.height));
    const workingMask = maskFromLogits(toWorking(logits), working.width, working.height);
    score = await scoreMask(salip, task, className, working, embedding, workingMask, stability, predictedIou, signal);
  }
  // A copy: the decoder may reuse its output buffers on the next call.
  return { mask: masks[chosen], logits: Float32Array.from(logits), stability, predictedIou, score };
}

/** Segments a volume by propagation (see the file comment); called by segmentVolume with options.propagate. */
export async function propagateVolume(
  salip: Salip,
  run: VolumeRun,
  task: SalipTask | string,
  propagation: PropagationOptions,
  options: SegmentVolumeOptions,
): Promise<VolumeResult> {
  // The walk compares each carried SAM mask with the last cascade mask (growth, area, score). A
  // cascade mask with the organ's surroundings peeled off (refine.peelSurroundings) would make the
  // carried masks, which keep them, look grown, and the walk ran past the brain's end on ch2
  // (test/pipeline/volume-propagation.slow.test.ts): propagation runs the cascade unpeeled.
  const given = resolveTask(task);
  const resolved: SalipTask = given.refine?.peelSurroundings ? { ...given, refine: { ...given.refine, peelSurroundings: false } } : given;
  const o = resolveOptions(propagation, resolved, salip.sam.info.supportsMultimask);
  const rules = { minAreaFraction: o.minAreaFraction, minStability: o.minStability, maxGrowth: o.maxGrowth, maxAnchorGrowth: o.maxAnchorGrowth, maxScoreDrop: o.maxScoreDrop };
  const masks: BinaryMask[] = new Array(run.count);
  const records: VolumeSliceRecord[] = new Array(run.count);
  const middle = run.middle;
  let done = 0;
  const finish = (index: number, mask: BinaryMask, record: VolumeSliceRecord) => {
    masks[index] = mask;
    records[index] = record;
    options.onProgress?.({ stage: 'volume', done: ++done, total: run.count });
  };

  const isKey = (index: number) => Math.abs(index - middle) % o.step === 0;
  const verdictOf = (next: CarryResult, sliceArea: number, from: Carried, anchor: Carried) =>
    carriedVerdict(
      { area: maskArea(next.mask), stability: next.stability, score: next.score },
      { sliceArea, neighbourArea: maskArea(from.mask), anchorArea: maskArea(anchor.mask), anchorScore: anchor.score },
      rules,
    );

  /**
   * Carries `from`'s mask stride - 1 slices on, to `target`, and fills the slices between by
   * interpolation, when every one of them is to be segmented, none is a key slice and the carried
   * mask at the target is kept. Returns the target's mask then; undefined leaves `index` to the
   * single step.
   */
  const jump = async (index: number, dir: 1 | -1, from: Carried, anchor: Carried): Promise<Carried | undefined> => {
    const target = index + (o.stride - 1) * dir;
    if (target < 0 || target >= run.count) return undefined;
    for (let j = index; j !== target + dir; j += dir) {
      if ((j !== index && isKey(j)) || run.skipReason(j, run.sliceImage(j))) return undefined;
    }
    const image = run.sliceImage(target);
    const next = await carry(salip, image, from, anchor, resolved, run.className, o, options.signal);
    if (verdictOf(next, image.width * image.height, from, anchor).kind !== 'keep') return undefined;
    const span = Math.abs(target - from.index);
    for (let j = index; j !== target; j += dir) {
      finish(j, interpolateMasks(from.mask, next.mask, Math.abs(j - from.index) / span), { index: j, skipped: false, source: 'interpolation', from: from.index, to: target });
    }
    finish(target, next.mask, { index: target, skipped: false, source: 'propagation', from: from.index, stability: next.stability, predictedIou: next.predictedIou, ...scoreField(next.score) });
    return { index: target, mask: next.mask, logits: next.logits, score: next.score };
  };

  /**
   * Walks from `start` in direction `dir`, carrying `initial` (the slice before start's mask, if
   * any, which is also the first anchor). Returns the walk's first cascade or carried mask.
   */
  const walk = async (start: number, dir: 1 | -1, initial: Carried | undefined): Promise<Carried | undefined> => {
    let carried = initial;
    // The walk's last cascade mask: bounds the carried box and the area, and sets the score bar.
    let anchor = initial;
    let ended = false;
    let first: Carried | undefined;
    for (let index = start; index >= 0 && index < run.count; index += dir) {
      throwIfAborted(options.signal, 'segmentVolume');
      const image = run.sliceImage(index);
      const empty = createMask(image.width, image.height);
      const skip = run.skipReason(index, image);
      if (ended && skip !== 'not-requested') {
        finish(index, empty, { index, skipped: true, reason: 'organ-ended' });
        continue;
      }
      if (skip) {
        finish(index, empty, { index, skipped: true, reason: skip });
        // A blank slice inside the organ's run means the organ has ended on this side.
        if (carried && skip === 'blank') ended = true;
        carried = undefined;
        continue;
      }
      const key = isKey(index);
      if (carried && anchor && o.stride > 1 && !key) {
        const landed = await jump(index, dir, carried, anchor);
        if (landed) {
          carried = landed;
          index = landed.index;
          continue;
        }
      }
      let rerun: string | undefined;
      let lost: (CarryResult & { provenance: VolumeSliceRecord }) | undefined;
      if (carried && anchor) {
        const next = await carry(salip, image, carried, anchor, resolved, run.className, o, options.signal);
        const provenance = { source: 'propagation' as const, from: carried.index, stability: next.stability, predictedIou: next.predictedIou, ...scoreField(next.score) };
        const verdict = verdictOf(next, image.width * image.height, carried, anchor);
        if (verdict.kind === 'ended') {
          finish(index, empty, { index, skipped: true, reason: 'organ-ended', ...provenance });
          ended = true;
          continue;
        }
        if (verdict.kind === 'lost') {
          rerun = verdict.reason;
          // Only a mask lost by its score may still beat what the cascade finds (below).
          if (verdict.rule === 'score') lost = { ...next, provenance: { index, skipped: false, ...provenance } };
        } else if (!key) {
          finish(index, next.mask, { index, skipped: false, ...provenance });
          carried = { index, mask: next.mask, logits: next.logits, score: next.score };
          first ??= carried;
          continue;
        }
      }
      // Key slices, slices before the organ was found on this side, and lost carried masks.
      const result = await run.cascade(salip, image, resolved, options.signal);
      const why = rerun ? { rerun } : {};
      if (!result || maskArea(result.mask) === 0) {
        finish(index, empty, { index, skipped: true, reason: 'no-candidates', ...why });
        if (carried) ended = true;
        carried = undefined;
        continue;
      }
      // A carried mask lost by its score is measured against what the cascade found instead: when
      // neither comes near the last cascade mask's score, nothing on this slice looks like the
      // organ did, and it has ended here; otherwise the better of the two is kept.
      if (lost && anchor) {
        const best = Math.max(lost.score, result.score ?? -Infinity);
        if (scoreDrop(best, anchor.score) > o.endScoreDrop) {
          finish(index, empty, { index, skipped: true, reason: 'organ-ended', source: 'cascade', score: result.score, ...why });
          ended = true;
          continue;
        }
        if (!(result.score !== undefined && result.score > lost.score)) {
          finish(index, lost.mask, { ...lost.provenance, rerun: `${rerun}; kept, the cascade's mask scored ${result.score?.toFixed(1)}` });
          carried = { index, mask: lost.mask, logits: lost.logits, score: lost.score };
          continue;
        }
      }
      finish(index, result.mask, { index, skipped: false, source: 'cascade', score: result.score, ...why });
      carried = anchor = { index, mask: result.mask, score: result.score };
      first ??= carried;
    }
    return first;
  };

  // Upwards from the middle first; downwards then starts from the middle slice's mask.
  const middleResult = await walk(middle, 1, undefined);
  await walk(middle - 1, -1, middleResult && middleResult.index === middle ? middleResult : undefined);
  return { mask: run.stack(masks), dims: run.dims, slices: records };
}

/** The record's score field, left out when the mask was not scored. */
function scoreField(score: number): { score?: number } {
  return Number.isFinite(score) ? { score } : {};
}
