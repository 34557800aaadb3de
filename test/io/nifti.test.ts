import { readFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import * as nifti from 'nifti-reader-js';
import { describe, expect, it } from 'vitest';
import { SalipError } from '../../src/core/errors.js';
import { readNifti, writeNiftiMask } from '../../src/io/nifti.js';
import { dataPath } from '../helpers/data.js';

const CH2 = dataPath('brain_mri', 'volumes', 'ch2.nii.gz');
const CH2BET = dataPath('brain_mri', 'volumes', 'ch2bet.nii.gz');
const CH2_AFFINE = [
  [1, 0, 0, -90],
  [0, 1, 0, -125],
  [0, 0, 1, -71],
  [0, 0, 0, 1],
];

interface SyntheticNifti {
  dim: number[]; // dim[0..7]
  datatype: number;
  bitpix: number;
  voxels: Uint8Array; // already encoded in the chosen byte order
  littleEndian?: boolean;
  pixdim?: number[]; // pixdim[0..3]
  sclSlope?: number;
  sclInter?: number;
  qform?: { code: number; b: number; c: number; d: number; offset: [number, number, number] };
  sform?: { code: number; rows: number[][] };
  magic?: string;
  sizeofHdr?: number;
}

/** A hand-laid NIfTI-1 file (offsets from nifti1.h), so tests do not depend on the writer. */
function makeNifti(spec: SyntheticNifti): Uint8Array {
  const le = spec.littleEndian ?? true;
  const bytes = new Uint8Array(352 + spec.voxels.length);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, spec.sizeofHdr ?? 348, le);
  spec.dim.forEach((d, i) => view.setInt16(40 + 2 * i, d, le));
  view.setInt16(70, spec.datatype, le);
  view.setInt16(72, spec.bitpix, le);
  (spec.pixdim ?? [1, 1, 1, 1]).forEach((p, i) => view.setFloat32(76 + 4 * i, p, le));
  view.setFloat32(108, 352, le);
  view.setFloat32(112, spec.sclSlope ?? 1, le);
  view.setFloat32(116, spec.sclInter ?? 0, le);
  if (spec.qform) {
    view.setInt16(252, spec.qform.code, le);
    view.setFloat32(256, spec.qform.b, le);
    view.setFloat32(260, spec.qform.c, le);
    view.setFloat32(264, spec.qform.d, le);
    spec.qform.offset.forEach((o, i) => view.setFloat32(268 + 4 * i, o, le));
  }
  if (spec.sform) {
    view.setInt16(254, spec.sform.code, le);
    spec.sform.rows.forEach((row, r) => row.forEach((v, c) => view.setFloat32(280 + (r * 4 + c) * 4, v, le)));
  }
  const magic = spec.magic ?? 'n+1';
  for (let i = 0; i < magic.length; i++) bytes[344 + i] = magic.charCodeAt(i);
  bytes.set(spec.voxels, 352);
  return bytes;
}

function uint8Nifti(dim: number[], values: number[], extra: Partial<SyntheticNifti> = {}): Uint8Array {
  return makeNifti({ dim, datatype: 2, bitpix: 8, voxels: Uint8Array.from(values), ...extra });
}

/** Byte equality without vitest's element-wise diff, which is very slow on millions of voxels. */
function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
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

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected an error');
}

describe('readNifti on the Colin27 volumes', () => {
  const gz = new Uint8Array(readFileSync(CH2));
  const volume = readNifti(gz, { name: 'ch2.nii.gz' });

  it('reads geometry, datatype and the sform affine', () => {
    expect(volume.dims).toEqual([181, 217, 181]);
    expect(volume.pixdim).toEqual([1, 1, 1]);
    expect(volume.datatype).toBe('uint8');
    expect(volume.affine).toEqual(CH2_AFFINE);
    expect(volume.header.length).toBe(348);
    expect(new DataView(volume.header.buffer, volume.header.byteOffset).getInt32(0, true)).toBe(348);
  });

  it('keeps every voxel value of the gunzipped file, x fastest', () => {
    const raw = gunzipSync(gz);
    expect(volume.data.length).toBe(181 * 217 * 181);
    let mismatches = 0;
    for (let i = 0; i < volume.data.length; i++) if (volume.data[i] !== raw[352 + i]) mismatches++;
    expect(mismatches).toBe(0);
  });

  it('reads an uncompressed .nii the same as the .nii.gz', () => {
    const plain = readNifti(new Uint8Array(gunzipSync(readFileSync(CH2BET))));
    const compressed = readNifti(new Uint8Array(readFileSync(CH2BET)));
    expect(plain.dims).toEqual(compressed.dims);
    expect(sameBytes(plain.data, compressed.data)).toBe(true);
  });

  it('round-trips a brain mask written with the volume geometry (read back by nifti-reader-js)', () => {
    const bet = readNifti(new Uint8Array(readFileSync(CH2BET)));
    const mask = new Uint8Array(bet.data.length);
    for (let i = 0; i < mask.length; i++) mask[i] = bet.data[i] > 0 ? 1 : 0;
    const written = writeNiftiMask(volume, mask, { gzip: (b) => new Uint8Array(gzipSync(b)) });
    expect([written[0], written[1]]).toEqual([0x1f, 0x8b]);

    const raw = gunzipSync(written);
    const buffer = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
    const header = nifti.readHeader(buffer) as nifti.NIFTI1;
    expect(header.dims.slice(0, 4)).toEqual([3, 181, 217, 181]);
    expect(header.datatypeCode).toBe(2);
    expect(header.numBitsPerVoxel).toBe(8);
    expect(header.vox_offset).toBe(352);
    expect(header.scl_slope).toBe(1);
    expect(header.cal_max).toBe(1);
    expect(header.sform_code).toBe(4);
    expect(header.affine).toEqual(CH2_AFFINE);
    expect(sameBytes(new Uint8Array(nifti.readImage(header, buffer)), mask)).toBe(true);

    const back = readNifti(written);
    expect(back.dims).toEqual(volume.dims);
    expect(back.affine).toEqual(volume.affine);
    expect(back.pixdim).toEqual(volume.pixdim);
    expect(back.datatype).toBe('uint8');
  });

  it('refuses a gzip stream cut in half with DECODE_FAILED naming the file', () => {
    const cut = gz.slice(0, gz.length >> 1);
    expect(codeOf(() => readNifti(cut, { name: 'half.nii.gz' }))).toBe('DECODE_FAILED');
    expect(messageOf(() => readNifti(cut, { name: 'half.nii.gz' }))).toContain('half.nii.gz');
  });
});

describe('readNifti on generated files', () => {
  it('returns x-fastest data and a 2-D file as nz = 1', () => {
    const v = readNifti(uint8Nifti([2, 3, 2, 0, 0, 0, 0, 0], [0, 1, 2, 3, 4, 5]));
    expect(v.dims).toEqual([3, 2, 1]);
    expect(Array.from(v.data)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('accepts a 4-D file with a single volume', () => {
    const v = readNifti(uint8Nifti([4, 2, 1, 1, 1, 1, 1, 1], [7, 9]));
    expect(v.dims).toEqual([2, 1, 1]);
  });

  it('refuses a 4-D file with several volumes: UNSUPPORTED_FORMAT naming file and count', () => {
    const bytes = uint8Nifti([4, 2, 1, 1, 3, 1, 1, 1], [1, 2, 3, 4, 5, 6]);
    expect(codeOf(() => readNifti(bytes, { name: 'bold.nii' }))).toBe('UNSUPPORTED_FORMAT');
    expect(messageOf(() => readNifti(bytes, { name: 'bold.nii' }))).toBe(
      'bold.nii: 4-D NIfTI with 3 volumes is not supported; extract one volume',
    );
  });

  it('refuses complex and RGB datatypes with UNSUPPORTED_FORMAT', () => {
    const complex = makeNifti({ dim: [3, 1, 1, 1, 1, 1, 1, 1], datatype: 32, bitpix: 64, voxels: new Uint8Array(8) });
    expect(codeOf(() => readNifti(complex, { name: 'c.nii' }))).toBe('UNSUPPORTED_FORMAT');
    expect(messageOf(() => readNifti(complex, { name: 'c.nii' }))).toMatch(/^c\.nii: NIfTI datatype complex64 is not supported/);
    const rgb = makeNifti({ dim: [3, 1, 1, 1, 1, 1, 1, 1], datatype: 128, bitpix: 24, voxels: new Uint8Array(3) });
    expect(codeOf(() => readNifti(rgb))).toBe('UNSUPPORTED_FORMAT');
  });

  it('decodes big-endian int16 and applies scl_slope / scl_inter', () => {
    const voxels = new Uint8Array(6);
    const view = new DataView(voxels.buffer);
    [-3, 0, 1000].forEach((v, i) => view.setInt16(2 * i, v, false));
    const v = readNifti(
      makeNifti({ dim: [3, 3, 1, 1, 1, 1, 1, 1], datatype: 4, bitpix: 16, voxels, littleEndian: false, sclSlope: 2, sclInter: -1 }),
    );
    expect(v.datatype).toBe('int16');
    expect(Array.from(v.data)).toEqual([-7, -1, 1999]);
  });

  it('decodes little-endian float64 and treats scl_slope 0 as "no scaling"', () => {
    const voxels = new Uint8Array(16);
    const view = new DataView(voxels.buffer);
    view.setFloat64(0, 0.25, true);
    view.setFloat64(8, -1.5, true);
    const v = readNifti(makeNifti({ dim: [3, 2, 1, 1, 1, 1, 1, 1], datatype: 64, bitpix: 64, voxels, sclSlope: 0, sclInter: 5 }));
    expect(v.datatype).toBe('float64');
    expect(Array.from(v.data)).toEqual([0.25, -1.5]);
  });

  it('builds the affine from the qform when sform_code is 0 (qfac from pixdim[0])', () => {
    // Quaternion (b, c, d) = (1, 0, 0) is a 180 degree turn about x: R = diag(1, -1, -1).
    const v = readNifti(
      uint8Nifti([3, 1, 1, 1, 1, 1, 1, 1], [0], {
        pixdim: [-1, 2, 3, 4],
        qform: { code: 1, b: 1, c: 0, d: 0, offset: [10, 20, 30] },
      }),
    );
    expect(v.affine).toEqual([
      [2, 0, 0, 10],
      [0, -3, 0, 20],
      [0, 0, 4, 30],
      [0, 0, 0, 1],
    ]);
  });

  it('prefers the sform when both are set, and falls back to diag(pixdim) when neither is', () => {
    const rows = [
      [0, -2, 0, 5],
      [1, 0, 0, 6],
      [0, 0, 3, 7],
    ];
    const both = readNifti(
      uint8Nifti([3, 1, 1, 1, 1, 1, 1, 1], [0], { qform: { code: 1, b: 0, c: 0, d: 0, offset: [1, 1, 1] }, sform: { code: 2, rows } }),
    );
    expect(both.affine).toEqual([...rows, [0, 0, 0, 1]]);
    const none = readNifti(uint8Nifti([3, 1, 1, 1, 1, 1, 1, 1], [0], { pixdim: [1, 0.5, 2, 3] }));
    expect(none.affine).toEqual([
      [0.5, 0, 0, 0],
      [0, 2, 0, 0],
      [0, 0, 3, 0],
      [0, 0, 0, 1],
    ]);
  });

  it('gives DECODE_FAILED for truncated voxel data, short headers and non-NIfTI bytes', () => {
    const whole = uint8Nifti([3, 4, 4, 4, 1, 1, 1, 1], new Array(64).fill(1));
    expect(codeOf(() => readNifti(whole.slice(0, 352 + 10)))).toBe('DECODE_FAILED');
    expect(messageOf(() => readNifti(whole.slice(0, 352 + 10), { name: 't.nii' }))).toContain('t.nii: truncated NIfTI');
    expect(codeOf(() => readNifti(whole.slice(0, 200)))).toBe('DECODE_FAILED');
    const png = new Uint8Array(400);
    png.set([0x89, 0x50, 0x4e, 0x47]);
    expect(codeOf(() => readNifti(png))).toBe('DECODE_FAILED');
    expect(codeOf(() => readNifti(uint8Nifti([3, 1, 1, 1, 1, 1, 1, 1], [0], { magic: '\0\0\0' })))).toBe('DECODE_FAILED');
    expect(codeOf(() => readNifti(uint8Nifti([3, 0, 1, 1, 1, 1, 1, 1], [])))).toBe('DECODE_FAILED');
  });

  it('gives UNSUPPORTED_FORMAT for NIfTI-2 and .hdr/.img pairs', () => {
    expect(codeOf(() => readNifti(uint8Nifti([3, 1, 1, 1, 1, 1, 1, 1], [0], { sizeofHdr: 540 })))).toBe('UNSUPPORTED_FORMAT');
    expect(codeOf(() => readNifti(uint8Nifti([3, 1, 1, 1, 1, 1, 1, 1], [0], { magic: 'ni1' })))).toBe('UNSUPPORTED_FORMAT');
  });
});

describe('writeNiftiMask', () => {
  const reference = readNifti(
    uint8Nifti([3, 3, 2, 2, 1, 1, 1, 1], new Array(12).fill(9), {
      littleEndian: false,
      pixdim: [1, 0.5, 0.75, 2],
      sclSlope: 3,
      sclInter: 4,
      sform: { code: 1, rows: [[0.5, 0, 0, -1], [0, 0.75, 0, -2], [0, 0, 2, -3]] },
    }),
  );

  it('writes an uncompressed single file with vox_offset 352, 0/1 voxels and the reference byte order', () => {
    const mask = Uint8Array.from([0, 1, 0, 255, 0, 0, 1, 1, 0, 0, 0, 7]);
    const written = writeNiftiMask(reference, mask);
    expect(written.length).toBe(352 + 12);
    expect(new DataView(written.buffer).getInt32(0, false)).toBe(348);
    expect(String.fromCharCode(written[344], written[345], written[346], written[347])).toBe('n+1\0');
    expect(Array.from(written.subarray(352))).toEqual([0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1]);
    const back = readNifti(written);
    expect(back.dims).toEqual([3, 2, 2]);
    expect(back.pixdim).toEqual([0.5, 0.75, 2]);
    expect(back.affine).toEqual(reference.affine);
    expect(Array.from(back.data)).toEqual([0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1]);
  });

  it('refuses a mask of the wrong size with SIZE_MISMATCH', () => {
    expect(codeOf(() => writeNiftiMask(reference, new Uint8Array(11)))).toBe('SIZE_MISMATCH');
  });

  it('round-trips any mask through write and read (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        fc.infiniteStream(fc.boolean()),
        (nx, ny, nz, littleEndian, bits) => {
          const n = nx * ny * nz;
          const ref = readNifti(uint8Nifti([3, nx, ny, nz, 1, 1, 1, 1], new Array(n).fill(0), { littleEndian }));
          const mask = Uint8Array.from(bits.take(n), (b) => (b ? 1 : 0));
          const back = readNifti(writeNiftiMask(ref, mask));
          expect(back.dims).toEqual([nx, ny, nz]);
          expect(Array.from(back.data)).toEqual(Array.from(mask));
        },
      ),
      { numRuns: 50 },
    );
  });
});
