/**
 * 3-D scans, slice by slice: each slice along an axis is windowed to 8 bits, segmented by the
 * cascade, and the masks are stacked back into a volume with the input's geometry.
 */
import { SalipError, isSalipError } from '../core/errors.js';
import { stackSlices, volumeRange, volumeSlice } from '../core/volume.js';
import type { BinaryMask } from '../core/types.js';
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
  readonly slices: Array<{ index: number; skipped: boolean; reason?: 'blank' | 'not-requested' | 'no-candidates'; score?: number }>;
}

/** Segments a volume slice by slice along an axis and stacks the masks. */
export async function segmentVolume(salip: Salip, volume: VolumeInput, task: SalipTask | string, options: SegmentVolumeOptions = {}): Promise<VolumeResult> {
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
  const masks: BinaryMask[] = [];
  const slices: VolumeResult['slices'] = [];
  for (let index = 0; index < count; index++) {
    throwIfAborted(options.signal, 'segmentVolume');
    const image = volumeSlice(volume, axis, index, window.max > window.min ? window : undefined, orientation);
    const empty = (): BinaryMask => ({ width: image.width, height: image.height, data: new Uint8Array(image.width * image.height) });
    const skipReason = wanted && !wanted.has(index) ? 'not-requested' : isBlank(image.data, blankFraction) ? 'blank' : undefined;
    if (skipReason) {
      masks.push(empty());
      slices.push({ index, skipped: true, reason: skipReason });
    } else {
      let result: SalipResult;
      try {
        result = await salip.segment(image, task, { signal: options.signal });
      } catch (error) {
        // A slice with no candidate (e.g. the skull cap above the brain) has no object to find;
        // failing here would throw away every slice segmented so far.
        if (!isSalipError(error, 'EMPTY_CANDIDATE_POOL')) throw error;
        masks.push(empty());
        slices.push({ index, skipped: true, reason: 'no-candidates' });
        options.onProgress?.({ stage: 'volume', done: index + 1, total: count });
        continue;
      }
      const cls = result.classes[name];
      masks.push(cls.mask);
      slices.push({ index, skipped: false, score: cls.chosen[0]?.score });
    }
    options.onProgress?.({ stage: 'volume', done: index + 1, total: count });
  }
  return { mask: stackSlices(masks, axis, volume.dims as [number, number, number], orientation), dims: volume.dims, slices };
}

function isBlank(rgb: Uint8Array, fraction: number): boolean {
  if (fraction <= 0) return false;
  let bright = 0;
  const pixels = rgb.length / 3;
  for (let i = 0; i < rgb.length; i += 3) if (rgb[i] > 13) bright++;
  return bright < fraction * pixels;
}
