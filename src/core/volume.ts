/**
 * 3-D volumes as stacks of 2-D images: cut a slice out for SAM/CLIP, put 2-D masks back in volume
 * order, and score a volume mask. Pure functions over plain data.
 *
 * Slice orientation (data is x fastest: data[x + nx * (y + ny * z)]):
 *   axis 2 (axial, fixed z):    columns = x, rows = y  -> image nx wide, ny high
 *   axis 1 (coronal, fixed y):  columns = x, rows = z  -> image nx wide, nz high
 *   axis 0 (sagittal, fixed x): columns = y, rows = z  -> image ny wide, nz high
 * Row 0 is the lowest index of the row axis and column 0 the lowest of the column axis. For a
 * RAS-oriented volume (such as MNI-space templates) that puts posterior/inferior at the top;
 * `flipRows: true` puts anterior/superior up, which is how radiological viewers show it and how
 * the brain_mri PNG slices of the evaluation data were made ("rotated so anterior is up").
 */
import { SalipError } from './errors.js';
import { finiteRange, rgbFromGray, rgbFromGray16 } from './image.js';
import type { BinaryMask, RgbImage } from './types.js';

/** A scalar volume, x fastest. */
export interface Volume {
  readonly dims: readonly [number, number, number];
  readonly data: Float32Array;
}

/** Axis held fixed by a slice: 0 = x (sagittal), 1 = y (coronal), 2 = z (axial). */
export type VolumeAxis = 0 | 1 | 2;

/** Intensities mapped to 0 and 255 (values outside are clamped). */
export interface IntensityWindow {
  readonly min: number;
  readonly max: number;
}

/** How slice rows/columns map to volume indices (see the module comment). */
export interface SliceOrientation {
  /** Reverse the rows (row 0 = highest index of the row axis). Default false. */
  readonly flipRows?: boolean;
  /** Reverse the columns (column 0 = highest index of the column axis). Default false. */
  readonly flipColumns?: boolean;
}

/** Width and height of the slices of a volume along `axis`. */
export function sliceSize(dims: readonly [number, number, number], axis: VolumeAxis): { width: number; height: number } {
  const [nx, ny, nz] = dims;
  if (axis === 2) return { width: nx, height: ny };
  if (axis === 1) return { width: nx, height: nz };
  return { width: ny, height: nz };
}

/**
 * The 2-D slice `index` along `axis`, intensity-windowed to an 8-bit gray RgbImage.
 * `window` defaults to the whole volume's min/max (one scale for all slices keeps them
 * comparable; for a uint8 volume pass { min: 0, max: 255 } to keep the stored values). The
 * default scans the volume on every call: when slicing many times, compute it once with
 * volumeRange() or percentileWindow() and pass it.
 */
export function volumeSlice(
  volume: Volume,
  axis: VolumeAxis,
  index: number,
  window?: IntensityWindow,
  orientation: SliceOrientation = {},
): RgbImage {
  checkVolume(volume.dims, volume.data.length, 'volume');
  const geometry = sliceGeometry(volume.dims, axis, index, orientation);
  const values = new Float32Array(geometry.width * geometry.height);
  gather(volume.data, values, geometry);
  const range = window ?? volumeRange(volume);
  if (window === undefined && !(range.max > range.min)) {
    // A constant volume has no contrast to show; all black, as for a constant 2-D image.
    return rgbFromGray(geometry.width, geometry.height, new Uint8Array(values.length));
  }
  return rgbFromGray16(geometry.width, geometry.height, values, range);
}

/** The 2-D slice of a 0/1 mask volume (x fastest) as a BinaryMask, with volumeSlice's mapping. */
export function sliceMask(
  mask: Uint8Array,
  dims: readonly [number, number, number],
  axis: VolumeAxis,
  index: number,
  orientation: SliceOrientation = {},
): BinaryMask {
  checkVolume(dims, mask.length, 'mask volume');
  const geometry = sliceGeometry(dims, axis, index, orientation);
  const data = new Uint8Array(geometry.width * geometry.height);
  gather(mask, data, geometry);
  for (let i = 0; i < data.length; i++) data[i] = data[i] !== 0 ? 1 : 0;
  return { width: geometry.width, height: geometry.height, data };
}

/**
 * Puts one 2-D mask per index along `axis` back into a 0/1 volume (x fastest): the exact inverse
 * of volumeSlice / sliceMask with the same orientation. Non-zero mask values become 1.
 */
export function stackSlices(
  masks: readonly BinaryMask[],
  axis: VolumeAxis,
  dims: readonly [number, number, number],
  orientation: SliceOrientation = {},
): Uint8Array {
  checkAxis(axis);
  checkDims(dims);
  if (masks.length !== dims[axis]) {
    throw new SalipError('SIZE_MISMATCH', `stackSlices: expected ${dims[axis]} masks (dims[${axis}]), got ${masks.length}`);
  }
  const { width, height } = sliceSize(dims, axis);
  const volume = new Uint8Array(dims[0] * dims[1] * dims[2]);
  masks.forEach((mask, index) => {
    if (mask.width !== width || mask.height !== height || mask.data.length !== width * height) {
      throw new SalipError(
        'SIZE_MISMATCH',
        `stackSlices: mask ${index} is ${mask.width}x${mask.height}, expected ${width}x${height} for axis ${axis} of a ${dims.join('x')} volume`,
      );
    }
    const g = sliceGeometry(dims, axis, index, orientation);
    for (let row = 0, i = 0; row < height; row++) {
      let voxel = g.start + row * g.rowStride;
      for (let col = 0; col < width; col++, i++, voxel += g.colStride) volume[voxel] = mask.data[i] !== 0 ? 1 : 0;
    }
  });
  return volume;
}

/** Dice 2|A∩B| / (|A| + |B|) of two mask volumes (non-zero = foreground); 1 when both are empty. */
export function volumeDice(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) {
    throw new SalipError('SIZE_MISMATCH', `volumeDice: masks have ${a.length} and ${b.length} voxels, expected equal counts`);
  }
  let sizeA = 0;
  let sizeB = 0;
  let both = 0;
  for (let i = 0; i < a.length; i++) {
    const inA = a[i] !== 0;
    const inB = b[i] !== 0;
    if (inA) sizeA++;
    if (inB) sizeB++;
    if (inA && inB) both++;
  }
  return sizeA + sizeB === 0 ? 1 : (2 * both) / (sizeA + sizeB);
}

/** The min and max finite value of a volume (NaN/Infinity ignored; {0, 0} when none is finite). */
export function volumeRange(volume: { readonly data: Float32Array }): IntensityWindow {
  const range = finiteRange(volume.data);
  return Number.isNaN(range.min) ? { min: 0, max: 0 } : range;
}

/**
 * A window from the `low` and `high` percentiles (0..100) of the finite values (nearest-rank on
 * the sorted values), robust to a few extreme voxels (e.g. 0.5 / 99.5 for MRI).
 */
export function percentileWindow(data: Float32Array, low = 0.5, high = 99.5): IntensityWindow {
  if (!(low >= 0 && high <= 100 && low <= high)) {
    throw new SalipError('INVALID_ARGUMENT', `percentileWindow: expected 0 <= low <= high <= 100, got low ${low}, high ${high}`);
  }
  const finite = data.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { min: 0, max: 0 };
  finite.sort();
  const at = (p: number): number => finite[Math.min(finite.length - 1, Math.max(0, Math.ceil((p / 100) * finite.length) - 1))];
  return { min: at(low), max: at(high) };
}

interface SliceGeometry {
  readonly width: number;
  readonly height: number;
  /** Voxel index of row 0, column 0. */
  readonly start: number;
  readonly colStride: number;
  readonly rowStride: number;
}

function sliceGeometry(
  dims: readonly [number, number, number],
  axis: VolumeAxis,
  index: number,
  orientation: SliceOrientation,
): SliceGeometry {
  checkAxis(axis);
  checkDims(dims);
  if (!Number.isInteger(index) || index < 0 || index >= dims[axis]) {
    throw new SalipError('INVALID_ARGUMENT', `slice index: expected an integer in 0..${dims[axis] - 1} for axis ${axis}, got ${index}`);
  }
  const [nx, ny] = dims;
  const strides = [1, nx, nx * ny];
  const [colAxis, rowAxis] = axis === 0 ? [1, 2] : axis === 1 ? [0, 2] : [0, 1];
  const width = dims[colAxis];
  const height = dims[rowAxis];
  let colStride = strides[colAxis];
  let rowStride = strides[rowAxis];
  let start = index * strides[axis];
  if (orientation.flipColumns) {
    start += (width - 1) * colStride;
    colStride = -colStride;
  }
  if (orientation.flipRows) {
    start += (height - 1) * rowStride;
    rowStride = -rowStride;
  }
  return { width, height, start, colStride, rowStride };
}

function gather(source: ArrayLike<number>, target: Float32Array | Uint8Array, g: SliceGeometry): void {
  for (let row = 0, i = 0; row < g.height; row++) {
    let voxel = g.start + row * g.rowStride;
    for (let col = 0; col < g.width; col++, i++, voxel += g.colStride) target[i] = source[voxel];
  }
}

function checkAxis(axis: number): void {
  if (axis !== 0 && axis !== 1 && axis !== 2) {
    throw new SalipError('INVALID_ARGUMENT', `volume axis: expected 0, 1 or 2, got ${axis}`);
  }
}

function checkDims(dims: readonly number[]): void {
  if (!Array.isArray(dims) || dims.length !== 3 || !dims.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new SalipError('INVALID_ARGUMENT', `volume dims: expected [nx, ny, nz] of integers >= 1, got ${JSON.stringify(dims)}`);
  }
}

function checkVolume(dims: readonly number[], length: number, what: string): void {
  checkDims(dims);
  const expected = dims[0] * dims[1] * dims[2];
  if (length !== expected) {
    throw new SalipError('SIZE_MISMATCH', `${what}: dims ${dims.join('x')} need ${expected} voxels, data has ${length}`);
  }
}
