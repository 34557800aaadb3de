/**
 * DICOM reading and SEG writing against independent tools: series written by pydicom become
 * volumes whose affine nibabel reads back from our NIfTI masks; SEGs of images and volumes pass
 * dciodvfy without errors and pydicom reads back our masks bit for bit; bad inputs give typed
 * errors. Pixel semantics (MONOCHROME1, rescale, window, VOI LUT, YBR) as pure functions.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SalipError } from '../../../src/core/errors.js';
import { writeNiftiMask } from '../../../src/io/nifti.js';
import {
  grayTo8Bit,
  isDicomInput,
  readDicom,
  readDicomSeries,
  segSourceFromImage,
  segSourceFromVolume,
  windowFromCenterWidth,
  writeDicomSeg,
  ybrFullToRgb,
  type DicomFileBytes,
} from '../../../src/dicom.js';
import { dciodvfyErrors, img2dcm, pyTool, pydicomCorpusDir } from './tools.js';
import { decodeImage } from '../../../src/io/image-codecs.js';
import { dataPath, taskImageNames } from '../../helpers/data.js';

let dir: string;
const DIMS: [number, number, number] = [12, 10, 6];
const ORIENTATION = [0, 1, 0, 0, 0, -1]; // sagittal: rows along +y (A->P in LPS), columns down
const SPACING = [0.8, 0.6, 2.5];
const ORIGIN = [-30, -20, 40];

function volumeData(): Float32Array {
  const [nx, ny, nz] = DIMS;
  const data = new Float32Array(nx * ny * nz);
  for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) data[x + nx * (y + ny * z)] = x * 8 + y * 4 + z * 50 - 100; // even: exact after slope 2
  return data;
}

function writeSeries(name: string, extra: Record<string, unknown> = {}): string {
  const out = join(dir, name);
  mkdirSync(out);
  writeFileSync(join(dir, `${name}.f32`), volumeData());
  writeFileSync(join(dir, `${name}.json`), JSON.stringify({ dims: DIMS, data: join(dir, `${name}.f32`), orientation: ORIENTATION, spacing: SPACING, origin: ORIGIN, seriesUid: '1.2.3.4.5', slope: 2, intercept: -100, ...extra }));
  pyTool('series', out, join(dir, `${name}.json`));
  return out;
}

function filesOf(folder: string): DicomFileBytes[] {
  return readdirSync(folder).sort().map((f) => ({ name: join(folder, f), bytes: new Uint8Array(readFileSync(join(folder, f))) }));
}

async function expectSalipError(promise: Promise<unknown>, code: string, text?: RegExp): Promise<void> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(SalipError);
  expect((error as SalipError).code).toBe(code);
  if (text) expect((error as Error).message).toMatch(text);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'salip-dicom-'));
});

describe('DICOM series as a volume', () => {
  it('sorts shuffled slices along the normal and carries spacing and orientation into the affine nibabel reads', async () => {
    const volume = await readDicomSeries(filesOf(writeSeries('shuffled', { shuffle: true })));
    expect(volume.dims).toEqual(DIMS);
    expect(Array.from(volume.data)).toEqual(Array.from(volumeData()));
    // LPS affine: columns along the row direction at the column spacing, etc.; RAS negates x and y.
    const normal = [ORIENTATION[1] * ORIENTATION[5] - ORIENTATION[2] * ORIENTATION[4], ORIENTATION[2] * ORIENTATION[3] - ORIENTATION[0] * ORIENTATION[5], ORIENTATION[0] * ORIENTATION[4] - ORIENTATION[1] * ORIENTATION[3]];
    const lps = [0, 1, 2].map((r) => [ORIENTATION[r] * SPACING[1], ORIENTATION[3 + r] * SPACING[0], normal[r] * SPACING[2], ORIGIN[r]]);
    const expected = [lps[0].map((v) => -v), lps[1].map((v) => -v), lps[2], [0, 0, 0, 1]];
    const mask = new Uint8Array(DIMS[0] * DIMS[1] * DIMS[2]).map((_, i) => i % 3 === 0 ? 1 : 0);
    const path = join(dir, 'mask.nii');
    writeFileSync(path, writeNiftiMask(volume, mask));
    const read = JSON.parse(pyTool('affine', path)) as number[][];
    read.forEach((row, r) => row.forEach((v, c) => expect(v).toBeCloseTo(expected[r][c] + 0, 4)));
    expect(volume.source.slices.map((s) => s.position![0])).toEqual([...Array(DIMS[2]).keys()].map((z) => ORIGIN[0] + normal[0] * SPACING[2] * z));
  });

  it('reads an enhanced multi-frame object (per-frame positions) as the same volume', async () => {
    const series = await readDicomSeries(filesOf(join(dir, 'shuffled')));
    const path = join(dir, 'multiframe.dcm');
    pyTool('multiframe', path, join(dir, 'shuffled.json'));
    const volume = await readDicomSeries([{ name: path, bytes: new Uint8Array(readFileSync(path)) }]);
    expect(volume.dims).toEqual(series.dims);
    expect(Array.from(volume.data)).toEqual(Array.from(series.data));
    volume.affine.forEach((row, r) => row.forEach((v, c) => expect(v).toBeCloseTo(series.affine[r][c], 5)));
    expect(volume.source.slices.map((s) => s.frame)).toEqual([...Array(DIMS[2]).keys()]);
    const frame = await readDicom(new Uint8Array(readFileSync(path)), { frame: 2 });
    expect(frame.frameCount).toBe(DIMS[2]);
    const mask = new Uint8Array(volume.data.length).fill(1);
    const seg = join(dir, 'multiframe-seg.dcm');
    writeFileSync(seg, writeDicomSeg(segSourceFromVolume(volume), [{ label: 'brain', mask }]));
    const { errors, report } = dciodvfyErrors(seg);
    expect(errors, report).toEqual([]);
  });

  it('refuses mixed series, zero slices and uneven gaps with typed errors', async () => {
    await expectSalipError(readDicomSeries(filesOf(writeSeries('mixed', { mixed: true }))), 'INVALID_ARGUMENT', /series/);
    await expectSalipError(readDicomSeries([]), 'INVALID_ARGUMENT', /zero slices/);
    const files = filesOf(join(dir, 'shuffled'));
    const missing = files.filter((f) => !readDicomSliceIsThird(f));
    await expectSalipError(readDicomSeries(missing), 'INVALID_IMAGE', /evenly spaced/);
  });
});

/** The file holding the volume's third slice (InstanceNumber 3). */
function readDicomSliceIsThird(file: DicomFileBytes): boolean {
  const text = new TextDecoder('latin1').decode(file.bytes);
  return /\x20\x00\x13\x00IS\x02\x003 /.test(text);
}

describe('DICOM SEG', () => {
  it('of a volume: dciodvfy reports no errors; pydicom reads our mask, positions and references back', async () => {
    const volume = await readDicomSeries(filesOf(join(dir, 'shuffled')));
    const [nx, ny, nz] = DIMS;
    const mask = new Uint8Array(nx * ny * nz);
    for (let i = 0; i < mask.length; i++) mask[i] = (i * 7919) % 5 < 2 ? 1 : 0;
    const path = join(dir, 'volume-seg.dcm');
    writeFileSync(path, writeDicomSeg(segSourceFromVolume(volume), [{ label: 'brain', mask }]));
    const { errors, report } = dciodvfyErrors(path);
    expect(errors, report).toEqual([]);
    const back = JSON.parse(pyTool('seg', path));
    expect(back.shape).toEqual([nz, ny, nx]);
    expect(Array.from(readFileSync(`${path}.bin`))).toEqual(Array.from(mask));
    expect(back.labels).toEqual(['brain']);
    expect(back.algorithm).toEqual(['AUTOMATIC salip']);
    expect(back.frameOfReference).toBe(volume.source.identity.frameOfReferenceUid);
    expect(back.studyUid).toBe(volume.source.identity.studyInstanceUid);
    expect(back.referencedSeries).toBe(volume.source.identity.seriesInstanceUid);
    expect(back.frames.map((f: [number, number[], string]) => f[2])).toEqual(volume.source.slices.map((s) => s.sopInstanceUid));
    back.frames.forEach((f: [number, number[], string], z: number) => f[1].forEach((v, k) => expect(v).toBeCloseTo(volume.source.slices[z].position![k], 4)));
    // New UIDs per output.
    writeFileSync(`${path}.2`, writeDicomSeg(segSourceFromVolume(volume), [{ label: 'brain', mask }]));
    const again = JSON.parse(pyTool('seg', `${path}.2`));
    expect(again.sopUid).not.toBe(back.sopUid);
    expect(again.seriesUid).not.toBe(back.seriesUid);
  });

  it('of a single image with three classes: one segment each with its code, valid and read back', async () => {
    const image = await readDicom(new Uint8Array(readFileSync(join(pydicomCorpusDir(), 'CT_small.dcm'))), { name: 'CT_small' });
    const a = new Uint8Array(128 * 128).map((_, i) => (i % 128 < 40 ? 1 : 0));
    const b = new Uint8Array(128 * 128).map((_, i) => (i > 9000 ? 1 : 0));
    const path = join(dir, 'image-seg.dcm');
    writeFileSync(path, writeDicomSeg(segSourceFromImage(image), [{ label: 'lungs', mask: a }, { label: 'heart', mask: b }, { label: 'custom thing', mask: b }]));
    const { errors, report } = dciodvfyErrors(path);
    expect(errors, report).toEqual([]);
    const back = JSON.parse(pyTool('seg', path));
    expect(back.labels).toEqual(['lungs', 'heart', 'custom thing']);
    // The presets' classes carry their SNOMED CT structure; other classes the generic tissue code.
    expect(back.types).toEqual(['39607008 Lung', '80891009 Heart', '85756007 Tissue']);
    expect(Array.from(readFileSync(`${path}.bin`))).toEqual([...a, ...b, ...b]);
    expect(back.frames.map((f: [number]) => f[0])).toEqual([1, 2, 3]);
  });

  it('refuses masks of the wrong size', async () => {
    const image = await readDicom(new Uint8Array(readFileSync(join(pydicomCorpusDir(), 'MR_small.dcm'))));
    expect(() => writeDicomSeg(segSourceFromImage(image), [{ label: 'x', mask: new Uint8Array(10) }])).toThrow(/expected 64 x 64 x 1/);
  });
});

describe('dev images through img2dcm (DX, US)', () => {
  for (const [task, modality] of [['lung_xray', 'DX'], ['fetal_head_us', 'US']] as const) {
    it(`${modality}: the DICOM image is the PNG's pixels; its SEG (no frame of reference) is valid`, async () => {
      const png = dataPath(task, 'images', taskImageNames(task)[0]);
      const bmp = join(dir, `${modality}.bmp`);
      const dcm = join(dir, `${modality}.dcm`);
      pyTool('tobmp', png, bmp);
      img2dcm(bmp, dcm, ['-i', 'BMP', '-k', `Modality=${modality}`]);
      const image = await readDicom(new Uint8Array(readFileSync(dcm)), { name: dcm });
      const expected = decodeImage(new Uint8Array(readFileSync(png))).image;
      expect([image.image.width, image.image.height]).toEqual([expected.width, expected.height]);
      expect(Buffer.compare(Buffer.from(image.image.data), Buffer.from(expected.data))).toBe(0);
      const mask = new Uint8Array(expected.width * expected.height).map((_, i) => (i % 97 < 30 ? 1 : 0));
      const seg = join(dir, `${modality}-seg.dcm`);
      writeFileSync(seg, writeDicomSeg(segSourceFromImage(image), [{ label: task === 'lung_xray' ? 'lungs' : 'fetal-head', mask }]));
      const { errors, report } = dciodvfyErrors(seg);
      expect(errors, report).toEqual([]);
      pyTool('seg', seg);
      expect(Buffer.compare(readFileSync(`${seg}.bin`), Buffer.from(mask))).toBe(0);
    });
  }
});

describe('bad DICOM input', () => {
  const mr = () => new Uint8Array(readFileSync(join(pydicomCorpusDir(), 'MR_small.dcm')));

  it('truncated files, a wrong preamble, missing pixel data and inconsistent rows/columns give typed errors', async () => {
    const bytes = mr();
    await expectSalipError(readDicom(bytes.slice(0, bytes.length - 500), { name: 'cut.dcm' }), 'DECODE_FAILED', /cut.dcm/);
    await expectSalipError(readDicom(bytes.slice(0, 300), { name: 'cut-header.dcm' }), 'DECODE_FAILED');
    const wrong = bytes.slice();
    wrong.set([0x58, 0x58, 0x58, 0x58], 128);
    await expectSalipError(readDicom(wrong, { name: 'wrong.dcm' }), 'DECODE_FAILED', /DICM/);
    await expectSalipError(readDicom(new Uint8Array(readFileSync(join(pydicomCorpusDir(), 'rtplan.dcm')))), 'INVALID_IMAGE', /Pixel Data/);
    // Rows (0028,0010) = 64 -> 80: the pixel data is too short for the header.
    const rows = bytes.slice();
    const at = findTag(rows, 0x0028, 0x0010);
    rows[at + 8] = 80;
    await expectSalipError(readDicom(rows, { name: 'rows.dcm' }), 'DECODE_FAILED', /Rows\/Columns/);
  });

  it('detects DICOM by magic bytes or extension', () => {
    expect(isDicomInput('x.bin', mr().subarray(0, 132))).toBe(true);
    expect(isDicomInput('IMG0001.DCM')).toBe(true);
    expect(isDicomInput('x.png', new Uint8Array(132))).toBe(false);
  });
});

function findTag(bytes: Uint8Array, group: number, element: number): number {
  for (let i = 132; i + 4 < bytes.length; i++) {
    if (bytes[i] === (group & 0xff) && bytes[i + 1] === group >> 8 && bytes[i + 2] === (element & 0xff) && bytes[i + 3] === element >> 8) return i;
  }
  throw new Error('tag not found');
}

describe('intensities to 8 bits', () => {
  const mapping = { rescaleSlope: 1, rescaleIntercept: 0 };
  it('uses the first window, inverts MONOCHROME1, else the stored range', () => {
    const values = new Float32Array([0, 50, 100, 200]);
    expect(Array.from(grayTo8Bit(4, 1, values, mapping, 'MONOCHROME2').data.filter((_, i) => i % 3 === 0))).toEqual([0, 64, 128, 255]);
    expect(Array.from(grayTo8Bit(4, 1, values, mapping, 'MONOCHROME1').data.filter((_, i) => i % 3 === 0))).toEqual([255, 191, 127, 0]);
    const windowed = grayTo8Bit(4, 1, values, { ...mapping, windowCenter: 50.5, windowWidth: 101 }, 'MONOCHROME2');
    expect(Array.from(windowed.data.filter((_, i) => i % 3 === 0))).toEqual([0, 128, 255, 255]);
    expect(windowFromCenterWidth(50.5, 101)).toEqual({ min: 0, max: 100 });
  });
  it('applies a VOI LUT before the window', () => {
    const lut = { firstMapped: 10, data: [0, 100, 1000] };
    const out = grayTo8Bit(4, 1, new Float32Array([5, 10, 11, 30]), { ...mapping, voiLut: lut, windowCenter: 1, windowWidth: 1 }, 'MONOCHROME2');
    expect(Array.from(out.data.filter((_, i) => i % 3 === 0))).toEqual([0, 0, 26, 255]);
  });
  it('converts YBR_FULL to RGB', () => {
    expect(Array.from(ybrFullToRgb([128, 128, 128, 76, 85, 255]))).toEqual([128, 128, 128, 254, 0, 0]);
  });
});
