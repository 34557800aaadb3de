/**
 * The types segmentVolume (volume.ts) and volume propagation (volume-propagation.ts) share: the
 * options of a volume run, its result and per-slice provenance, and the prepared run both
 * strategies work on. In a module of their own so that neither of the two imports the other's
 * types (volume.ts re-exports them).
 */
import type { BinaryMask, RgbImage } from '../core/types.js';
import type { Salip } from './salip.js';
import type { StageControl } from './stages/options.js';
import type { SalipTask } from './tasks.js';

/** How segmentVolume carries masks from key slices to the slices between (SegmentVolumeOptions.propagate). */
export interface PropagationOptions {
  /**
   * Key-slice step k: the cascade runs on the middle slice and every k-th slice from it (default
   * 32). A cascade costs about five carried slices, and the carried masks no longer drift, so
   * fewer key slices pay: on ch2, step 32 (with stride 2) took 160 s against 271 s for step 16,
   * at a higher Dice (0.83 against 0.76; docs/performance.md, "Volumes").
   */
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
  /**
   * A carried mask more than this many times the area of the walk's last cascade mask is lost
   * (default 1.3). A mask that creeps outwards by a few per cent a slice never trips maxGrowth.
   * With the carried box bounded (boxBound) it never fired on ch2: a safety net.
   */
  maxAnchorGrowth?: number;
  /** A carried mask below this fraction of the slice area ends the propagation (default 0.002). */
  minAreaFraction?: number;
  /**
   * Widening of the neighbour's box on each side, as a fraction of its size (default 0). SAM fills
   * the box it is given, so any widening compounds from slice to slice: with 0.05, carried brain
   * masks on ch2 grew onto the head within a few slices.
   */
  boxMargin?: number;
  /**
   * The carried box may reach at most this fraction of the last cascade mask's box size beyond
   * that box on each side (default 0.05; Infinity = unbounded). Away from the middle slice an
   * organ mostly shrinks, and a key slice every `step` resets the bound.
   */
  boxBound?: number;
  /**
   * Ask SAM for its three multi-mask outputs and keep the one closest to the neighbour's mask (IoU),
   * instead of the single output SAM ranks first (default: true when the decoder has them).
   */
  multimask?: boolean;
  /**
   * A carried mask whose score by the task's scorer (the exemplar scorer pools it from the
   * slice's embedding, so it costs no model call) lies more than this below the last cascade
   * mask's score is lost (default 15; Infinity = never scored). On ch2, 10 re-ran the cascade on
   * 7 slices where 15 re-ran it on 3 (the others' cascade masks scored as the carried ones):
   * 97 s against 130 s, Dice 0.825 against 0.832, in one run.
   */
  maxScoreDrop?: number;
  /**
   * When a carried mask was lost by its score and the cascade run on that slice finds nothing
   * better, and the better of the two still scores more than this below the walk's last cascade
   * mask, the organ has ended on this side: the slice gets an empty mask and the walk stops
   * (default 15; Infinity = never). Otherwise the better of the two masks is kept.
   */
  endScoreDrop?: number;
  /**
   * Also feed the neighbour's low-res logits to SAM as mask_input (default false). On ch2 a carried
   * mask prompted that way was lost on every other slice (the cascade re-ran each time), while the
   * box alone carried cleanly: SAM's mask_input is made for its own previous output on the same image.
   */
  maskInput?: boolean;
  /**
   * Carry every `stride`-th slice with SAM and fill the slices between by shape interpolation of
   * the two carried masks (core/mask-carry.ts), without any model call (1: every slice by SAM).
   * A carried slice costs an encoder run, which bounds propagation's speed-up; where the
   * jump's mask is not kept (lost, or the organ may end between) the walk goes back to single steps.
   * Default 2: on ch2 (1 mm slices) the interpolated slices scored as the carried ones (Dice 0.765
   * against 0.770 for the whole volume at step 16) for 137 encoder runs instead of 184.
   */
  stride?: number;
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
