import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SalipError } from '../../src/core/errors.js';
import type { BinaryMask } from '../../src/core/types.js';
import {
  percentileWindow,
  sliceMask,
  sliceSize,
  stackSlices,
  volumeDice,
  volumeRange,
  volumeSlice,
  type Volume,
  type VolumeAxis,
} from '../../src/core/volume.js';
import { decodeImage, decodeMask } from '../../src/io/image-codecs.js';
import { readNifti } from '../../src/io/nifti.js';
import { dataPath } from '../helpers/data.js';

/** nx = 3, ny = 2, nz = 2 with value x + 10 y + 100 z, so every voxel says where it came from. */
function codedVolume(): Volume {
  const dims: [number, number, number] = [3, 2, 2];
  const data = new Float32Array(12);
  for (let z = 0; z < 2; z++) for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) data[x + 3 * (y + 2 * z)] = x + 10 * y + 100 * z;
  return { dims, data };
}

/** The gray value of each pixel of a slice, row by row (window 0..255 keeps values < 256 as they are). */
function grayRows(volume: Volume, axis: VolumeAxis, index: number, orientation = {}): number[][] {
  const image = volumeSlice(volume, axis, index, { min: 0, max: 255 }, orientation);
  const rows: number[][] = [];
  for (let y = 0; y < image.height; y++) {
    const row: number[] = [];
    for (let x = 0; x < image.width; x++) row.push(image.data[(y * image.width + x) * 3]);
    rows.push(row);
  }
  return rows;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SalipError);
    return (error as SalipError).code;
  }
  throw new Error('expected a SalipError');
}

describe('volumeSlice orientation', () => {
  const volume = codedVolume();

  it('axial (axis 2): columns = x, rows = y', () => {
    expect(grayRows(volume, 2, 1)).toEqual([
      [100, 101, 102],
      [110, 111, 112],
    ]);
  });

  it('coronal (axis 1): columns = x, rows = z', () => {
    expect(grayRows(volume, 1, 1)).toEqual([
      [10, 11, 12],
      [110, 111, 112],
    ]);
  });

  it('sagittal (axis 0): columns = y, rows = z', () => {
    expect(grayRows(volume, 0, 2)).toEqual([
      [2, 12],
      [102, 112],
    ]);
  });

  it('flipRows and flipColumns reverse rows and columns', () => {
    expect(grayRows(volume, 2, 0, { flipRows: true })).toEqual([
      [10, 11, 12],
      [0, 1, 2],
    ]);
    expect(grayRows(volume, 2, 0, { flipColumns: true })).toEqual([
      [2, 1, 0],
      [12, 11, 10],
    ]);
  });

  it('gives gray RGB pixels and sizes matching sliceSize', () => {
    for (const axis of [0, 1, 2] as const) {
      const image = volumeSlice(volume, axis, 0);
      expect({ width: image.width, height: image.height }).toEqual(sliceSize(volume.dims, axis));
      for (let i = 0; i < image.data.length; i += 3) {
        expect(image.data[i + 1]).toBe(image.data[i]);
        expect(image.data[i + 2]).toBe(image.data[i]);
      }
    }
  });
});

describe('volumeSlice windowing', () => {
  it('defaults to the whole volume range, so slices share one scale', () => {
    const volume: Volume = { dims: [2, 1, 2], data: Float32Array.from([-10, 0, 20, 30]) };
    // Window -10..30: 0 -> round(10 / 40 * 255) = 64; 20 -> round(30 / 40 * 255) = 191.
    const z0 = volumeSlice(volume, 2, 0);
    const z1 = volumeSlice(volume, 2, 1);
    expect([z0.data[0], z0.data[3], z1.data[0], z1.data[3]]).toEqual([0, 64, 191, 255]);
  });

  it('clamps values outside an explicit window', () => {
    const volume: Volume = { dims: [3, 1, 1], data: Float32Array.from([-5, 10, 500]) };
    // Window 0..51 scales by 5: 10 -> 50.
    const image = volumeSlice(volume, 2, 0, { min: 0, max: 51 });
    expect([image.data[0], image.data[3], image.data[6]]).toEqual([0, 50, 255]);
  });

  it('renders a constant volume black', () => {
    const image = volumeSlice({ dims: [2, 2, 1], data: new Float32Array(4).fill(7) }, 2, 0);
    expect(Array.from(image.data)).toEqual(new Array(12).fill(0));
  });

  it('rejects bad axes, indices and data lengths', () => {
    const volume = codedVolume();
    expect(codeOf(() => volumeSlice(volume, 3 as VolumeAxis, 0))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => volumeSlice(volume, 2, 2))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => volumeSlice(volume, 0, -1))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => volumeSlice(volume, 0, 0.5))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => volumeSlice({ dims: [3, 2, 3], data: volume.data }, 2, 0))).toBe('SIZE_MISMATCH');
  });
});

describe('stackSlices', () => {
  it('puts hand-made masks back along each axis', () => {
    const dims: [number, number, number] = [2, 1, 2];
    const masks: BinaryMask[] = [
      { width: 1, height: 2, data: Uint8Array.from([1, 0]) }, // x = 0: (y=0, z=0) on, (y=0, z=1) off
      { width: 1, height: 2, data: Uint8Array.from([0, 255]) }, // x = 1: (y=0, z=1) on
    ];
    expect(Array.from(stackSlices(masks, 0, dims))).toEqual([1, 0, 0, 1]);
    const axial: BinaryMask[] = [
      { width: 2, height: 1, data: Uint8Array.from([0, 1]) },
      { width: 2, height: 1, data: Uint8Array.from([1, 1]) },
    ];
    expect(Array.from(stackSlices(axial, 2, dims))).toEqual([0, 1, 1, 1]);
    expect(Array.from(stackSlices(axial, 2, dims, { flipColumns: true }))).toEqual([1, 0, 1, 1]);
  });

  it('is the exact inverse of sliceMask for every axis and orientation (property)', () => {
    fc.assert(
      fc.property(
        fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 })),
        fc.constantFrom<VolumeAxis>(0, 1, 2),
        fc.boolean(),
        fc.boolean(),
        fc.infiniteStream(fc.boolean()),
        (dims, axis, flipRows, flipColumns, bits) => {
          const volume = Uint8Array.from(bits.take(dims[0] * dims[1] * dims[2]), (b) => (b ? 1 : 0));
          const orientation = { flipRows, flipColumns };
          const masks = Array.from({ length: dims[axis] }, (_, i) => sliceMask(volume, dims, axis, i, orientation));
          expect(Array.from(stackSlices(masks, axis, dims, orientation))).toEqual(Array.from(volume));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('sliceMask uses the same mapping as volumeSlice', () => {
    const volume = codedVolume();
    const mask = Uint8Array.from(volume.data, (v) => (v % 10 === 1 ? 1 : 0)); // x == 1
    const slice = sliceMask(mask, volume.dims, 1, 0, { flipRows: true });
    const gray = grayRows(volume, 1, 0, { flipRows: true });
    gray.flat().forEach((g, i) => expect(slice.data[i]).toBe(g % 10 === 1 ? 1 : 0));
  });

  it('refuses a wrong number of masks or a wrong mask size with SIZE_MISMATCH', () => {
    const mask: BinaryMask = { width: 3, height: 2, data: new Uint8Array(6) };
    expect(codeOf(() => stackSlices([mask], 2, [3, 2, 2]))).toBe('SIZE_MISMATCH');
    expect(codeOf(() => stackSlices([mask, { width: 2, height: 3, data: new Uint8Array(6) }], 2, [3, 2, 2]))).toBe('SIZE_MISMATCH');
  });
});

describe('volumeDice, volumeRange, percentileWindow', () => {
  it('computes Dice from hand-counted voxels', () => {
    // |A| = 3, |B| = 2, |A and B| = 1 -> 2 / 5.
    expect(volumeDice(Uint8Array.from([1, 1, 1, 0, 0]), Uint8Array.from([0, 0, 1, 255, 0]))).toBeCloseTo(0.4, 12);
    expect(volumeDice(new Uint8Array(4), new Uint8Array(4))).toBe(1);
    expect(volumeDice(Uint8Array.from([1, 0]), Uint8Array.from([0, 0]))).toBe(0);
    expect(codeOf(() => volumeDice(new Uint8Array(3), new Uint8Array(4)))).toBe('SIZE_MISMATCH');
  });

  it('Dice is symmetric, within 0..1, and 1 against itself (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 60 }), fc.uint8Array({ minLength: 1, maxLength: 60 }), (a, b) => {
        const n = Math.min(a.length, b.length);
        const x = a.subarray(0, n);
        const y = b.subarray(0, n);
        const d = volumeDice(x, y);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(1);
        expect(volumeDice(y, x)).toBe(d);
        expect(volumeDice(x, x)).toBe(1);
      }),
    );
  });

  it('volumeRange ignores non-finite voxels', () => {
    expect(volumeRange({ data: Float32Array.from([3, NaN, -2, Infinity, 8]) })).toEqual({ min: -2, max: 8 });
    expect(volumeRange({ data: Float32Array.from([NaN]) })).toEqual({ min: 0, max: 0 });
  });

  it('percentileWindow takes nearest-rank percentiles of the finite values', () => {
    const data = Float32Array.from({ length: 100 }, (_, i) => 100 - i); // 1..100, unsorted
    expect(percentileWindow(data)).toEqual({ min: 1, max: 100 });
    expect(percentileWindow(data, 10, 90)).toEqual({ min: 10, max: 90 });
    expect(percentileWindow(Float32Array.from([5, NaN, 1]), 0, 100)).toEqual({ min: 1, max: 5 });
    expect(codeOf(() => percentileWindow(data, 60, 40))).toBe('INVALID_ARGUMENT');
  });
});

describe('Colin27: slices match the data set PNGs made "axial, anterior up"', () => {
  const volume = readNifti(new Uint8Array(readFileSync(dataPath('brain_mri', 'volumes', 'ch2.nii.gz'))));
  const bet = readNifti(new Uint8Array(readFileSync(dataPath('brain_mri', 'volumes', 'ch2bet.nii.gz'))));
  const brain = Uint8Array.from(bet.data, (v) => (v > 0 ? 1 : 0));

  it.each([51, 96, 146])('z = %i: image with window 0..255 and flipRows, mask = ch2bet > 0', (z) => {
    const name = `colin27_axial_z${String(z).padStart(3, '0')}.png`;
    const expectedImage = decodeImage(new Uint8Array(readFileSync(dataPath('brain_mri', 'images', name)))).image;
    const expectedMask = decodeMask(new Uint8Array(readFileSync(dataPath('brain_mri', 'masks', name))));

    const image = volumeSlice(volume, 2, z, { min: 0, max: 255 }, { flipRows: true });
    expect([image.width, image.height]).toEqual([expectedImage.width, expectedImage.height]);
    expect(Buffer.compare(Buffer.from(image.data), Buffer.from(expectedImage.data))).toBe(0);

    const mask = sliceMask(brain, bet.dims, 2, z, { flipRows: true });
    expect(Buffer.compare(Buffer.from(mask.data), Buffer.from(expectedMask.data))).toBe(0);

    // Without the flip the slice is upside down: most pixels differ.
    const unflipped = volumeSlice(volume, 2, z, { min: 0, max: 255 });
    expect(Buffer.compare(Buffer.from(unflipped.data), Buffer.from(expectedImage.data))).not.toBe(0);
  });

  it('stacking the axial brain-mask slices rebuilds the volume (Dice 1)', () => {
    const masks = Array.from({ length: bet.dims[2] }, (_, z) => sliceMask(brain, bet.dims, 2, z, { flipRows: true }));
    expect(volumeDice(stackSlices(masks, 2, bet.dims, { flipRows: true }), brain)).toBe(1);
  });
});
