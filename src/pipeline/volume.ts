/**
 * 3-D scans, slice by slice: each slice along an axis is windowed to 8 bits, segmented by the
 * cascade, and the masks are stacked back into a volume with the input's geometry.
 */
import { SalipError, isSalipError } from '../core/errors.js';
import { createMask } from '../core/mask.js';
import { stackSlices, volumeRange, volumeSlice } from '../core/volume.js';
import type { BinaryMask } from '../core/types.js';
import { propagateVolume } from './volume-propagation.js';
import type { Salip, SalipResult } from './salip.js';
import { throwIfAborted } from './stages/options.js';
import { resolveTask, type SalipTask } from './tasks.js';
import type { SegmentVolumeOptions, VolumeResult, VolumeRun, VolumeSliceRecord } from './volume-types.js';

export type { PropagationOptions, SegmentVolumeOptions, VolumeResult, VolumeRun, VolumeSliceRecord } from './volume-types.js';

export interface VolumeInput {
  readonly dims: readonly [number, number, number];
  readonly data: Float32Array;
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
