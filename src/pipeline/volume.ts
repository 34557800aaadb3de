/**
 * 3-D scans, slice by slice: each slice along an axis is windowed to 8 bits, segmented by the
 * cascade, and the masks are stacked back into a volume with the input's geometry.
 */
import { SalipError, isSalipError } from '../core/errors.js';
import { createMask } from '../core/mask.js';
import { stackSlices, volumeRange, volumeSlice } from '../core/volume.js';
import type { BinaryMask, RgbImage } from '../core/types.js';
import { propagateVolume, type PropagationOptions } from './volume-propagation.js';
import type { Salip, SalipResult } from './salip.js';
import { throwIfAborted, type StageControl } from './stages/options.js';
import { resolveTask, type SalipTask } from './tasks.js';

export interface VolumeInput {
  readonly dims: readonly [number, number, number];
  readonly data: Float32Array;
}

export interface SegmentVolumeOptions extends StageControl {
  /** Slicing axis: 0 = x (sagittal), 1 = y (coronal), 2 = z (axial, default). */
  axis?: 0 | 1 | 2;
  /** Intensity window for 8-bit conversion (default: the volume's own range, see volumeSlice). */
  window?: { min: number; max: number };
  /**
   * Slices whose windowed image is nearly black (fewer than this fraction of pixels above 5 % of
   * full scale) are not segmented and get an empty mask; 0 segments every slice. Default 0.02.
   */
  blankFraction?: number;
  /** Only these slice indices are segmented; the others get empty masks (default: all). */
  slices?: readonly number[];
  /** Which class's mask goes into the volume (default: the task's first class). */
  className?: string;
  /**
   * Flips applied to each slice image (and undone when stacking). Default { flipRows: true }:
   * for volumes stored with y running posterior to anterior (RAS/LAS, as most NIfTI files), axial
   * slices then show anterior up, as radiologists view them and as the development PNGs are.
   */
  orientation?: { flipRows?: boolean; flipColumns?: boolean };
  /**
   * Run the cascade on key slices only and carry the mask to the slices between with one SAM
   * prompt each (see volume-propagation.ts). Default true (the default PropagationOptions): on
   * ch2 it is about 6x faster than the cascade on every slice at a higher Dice (0.83 against
   * 0.77; docs/performance.md, "Volumes"). false runs the cascade on every slice.
   */
  propagate?: boolean | PropagationOptions;
}

export interface VolumeResult {
  /** 0/1 voxels in the input's layout (x fastest). */
  readonly mask: Uint8Array;
  readonly dims: readonly [number, number, number];
  /**
   * Per slice: skipped (with the reason: blank, not asked for, or no candidate survived stage 1
   * and the area filter, which gives an empty mask instead of failing the whole volume), or the
   * cascade's score of its chosen candidate.
   */
  readonly slices: VolumeSliceRecord[];
}

/** Provenance of one slice's mask. */
export interface VolumeSliceRecord {
  readonly index: number;
  readonly skipped: boolean;
  /** blank, not asked for, no candidate survived the cascade, or past the organ's end (propagation). */
  readonly reason?: 'blank' | 'not-requested' | 'no-candidates' | 'organ-ended';
  /**
   * The task scorer's score: of the cascade's chosen candidate (cascade slices), or of the carried
   * mask (propagation slices, when propagate.maxScoreDrop is finite).
   */
  readonly score?: number;
  /**
   * Where the mask came from (absent when skipped): the full cascade, carried from slice `from`,
   * or interpolated between the carried masks of slices `from` and `to` (propagate.stride).
   */
  readonly source?: 'cascade' | 'propagation' | 'interpolation';
  readonly from?: number;
  readonly to?: number;
  /** Why the cascade ran on a slice between key slices: the carried mask looked lost. */
  readonly rerun?: string;
  /** The carried mask's stability score and SAM IoU prediction (propagation slices). */
  readonly stability?: number;
  readonly predictedIou?: number;
}

/** What both volume strategies need, checked once before the first slice. */
export interface VolumeRun {
  readonly axis: 0 | 1 | 2;
  readonly dims: readonly [number, number, number];
  readonly count: number;
  /** The middle of the slices to segment (of options.slices when given). */
  readonly middle: number;
  readonly className: string;
  readonly orientation: { flipRows?: boolean; flipColumns?: boolean };
  /** The 8-bit slice image. */
  sliceImage(index: number): RgbImage;
  /** Why a slice is not segmented at all, if it is not. */
  skipReason(index: number, image: RgbImage): 'blank' | 'not-requested' | undefined;
  /** Runs the cascade on a slice: its mask and score, or undefined when no candidate survived. */
  cascade(salip: Salip, image: RgbImage, task: SalipTask | string, signal?: AbortSignal): Promise<{ mask: BinaryMask; score?: number } | undefined>;
  stack(masks: readonly BinaryMask[]): Uint8Array;
}

/** Validates the options and the class name; the slice helpers for both strategies. */
export function prepareVolumeRun(volume: VolumeInput, task: SalipTask | string, options: SegmentVolumeOptions): VolumeRun {
  const axis = options.axis ?? 2;
  if (![0, 1, 2].includes(axis)) throw new SalipError('INVALID_ARGUMENT', `axis: expected 0, 1 or 2, got ${String(axis)}`);
  const count = volume.dims[axis];
  const blankFraction = options.blankFraction ?? 0.02;
  // One window for every slice keeps slices comparable; volumeRange skips non-finite voxels.
  const window = options.window ?? volumeRange(volume);
  const orientation = options.orientation ?? { flipRows: true };
  const wanted = options.slices ? new Set(options.slices) : undefined;
  for (const i of options.slices ?? []) {
    if (!Number.isInteger(i) || i < 0 || i >= count) throw new SalipError('INVALID_ARGUMENT', `slices: index ${i} is outside 0..${count - 1} along axis ${axis}`);
  }
  // Checked before the first slice, so a typo does not cost a slice's worth of work.
  const classes = resolveTask(task).classes;
  const name = options.className ?? classes[0].name;
  if (!classes.some((c) => c.name === name)) {
    throw new SalipError('INVALID_ARGUMENT', `className: the task has no class '${name}' (classes: ${classes.map((c) => c.name).join(', ')})`);
  }
  return {
    axis,
    dims: volume.dims,
    count,
    middle: options.slices?.length ? [...options.slices].sort((a, b) => a - b)[options.slices.length >> 1] : Math.floor(count / 2),
    className: name,
    orientation,
    sliceImage: (index) => volumeSlice(volume, axis, index, window.max > window.min ? window : undefined, orientation),
    skipReason: (index, image) => (wanted && !wanted.has(index) ? 'not-requested' : isBlank(image.data, blankFraction) ? 'blank' : undefined),
    async cascade(salip, image, t, signal) {
      let result: SalipResult;
      try {
        result = await salip.segment(image, t, { signal });
      } catch (error) {
        // A slice with no candidate (e.g. the skull cap above the brain) has no object to find;
        // failing here would throw away every slice segmented so far.
        if (!isSalipError(error, 'EMPTY_CANDIDATE_POOL')) throw error;
        return undefined;
      }
      const cls = result.classes[name];
      return { mask: cls.mask, score: cls.chosen[0]?.score };
    },
    stack: (masks) => stackSlices(masks, axis, volume.dims as [number, number, number], orientation),
  };
}

/** Segments a volume along an axis, by propagation (options.propagate, the default) or slice by slice, and stacks the masks. */
export async function segmentVolume(salip: Salip, volume: VolumeInput, task: SalipTask | string, options: SegmentVolumeOptions = {}): Promise<VolumeResult> {
  const run = prepareVolumeRun(volume, task, options);
  const propagate = options.propagate ?? true;
  if (propagate) return propagateVolume(salip, run, task, propagate === true ? {} : propagate, options);
  const masks: BinaryMask[] = [];
  const slices: VolumeSliceRecord[] = [];
  for (let index = 0; index < run.count; index++) {
    throwIfAborted(options.signal, 'segmentVolume');
    const image = run.sliceImage(index);
    const skipReason = run.skipReason(index, image);
    const result = skipReason ? undefined : await run.cascade(salip, image, task, options.signal);
    masks.push(result?.mask ?? createMask(image.width, image.height));
    slices.push(result ? { index, skipped: false, score: result.score, source: 'cascade' } : { index, skipped: true, reason: skipReason ?? 'no-candidates' });
    options.onProgress?.({ stage: 'volume', done: index + 1, total: run.count });
  }
  return { mask: run.stack(masks), dims: volume.dims, slices };
}

function isBlank(rgb: Uint8Array, fraction: number): boolean {
  if (fraction <= 0) return false;
  let bright = 0;
  const pixels = rgb.length / 3;
  for (let i = 0; i < rgb.length; i += 3) if (rgb[i] > 13) bright++;
  return bright < fraction * pixels;
}
