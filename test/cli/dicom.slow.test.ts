/**
 * `salip segment` on DICOM made from the dev data gives the same masks as on the originals, with
 * real MobileSAM: a chest X-ray and a fetal ultrasound PNG turned into DICOM by dcmtk's img2dcm
 * (as DX and US), and the ch2 volume as an MR series of single-frame files (written by pydicom
 * so that each DICOM slice shows what the NIfTI slice shows: rows from anterior down). The SEGs
 * written pass dciodvfy and pydicom reads our masks back; `everything` and `eval` take the DICOM
 * image with the PNG's results.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { runQuietCli } from './run-cli.js';
import { decodeMask, readNifti } from '../../src/index.js';
import { dataPath, taskImageNames } from '../helpers/data.js';
import { dciodvfyErrors, img2dcm, pyTool } from '../io/dicom/tools.js';

let dir: string;

const cli = runQuietCli;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'salip-dicom-cli-'));
});

const exemplarFlags = (task: string) => ['--exemplar-images', dataPath(task, 'images'), '--exemplar-masks', dataPath(task, 'masks'), '--exemplars', '2'];

describe('segment on DICOM images from img2dcm', () => {
  for (const [task, dataTask, modality] of [['lungs-cxr', 'lung_xray', 'DX'], ['fetal-head-us', 'fetal_head_us', 'US']] as const) {
    it(`${modality}: the same mask as on the PNG, and a valid SEG with it`, async () => {
      const name = taskImageNames(dataTask).at(-1)!;
      const png = dataPath(dataTask, 'images', name);
      const bmp = join(dir, `${modality}.bmp`);
      const dcm = join(dir, `${modality}.dcm`);
      pyTool('tobmp', png, bmp);
      img2dcm(bmp, dcm, ['-i', 'BMP', '-k', `Modality=${modality}`, '-k', 'PatientID=salip-test']);
      const fromPng = join(dir, `${modality}-png.png`);
      const fromDicom = join(dir, `${modality}-dcm.png`);
      const seg = join(dir, `${modality}-seg.dcm`);
      // The exemplars exclude nothing: the query is the last image, the draw is seeded.
      expect((await cli('segment', png, '--task', task, ...exemplarFlags(dataTask), '--out', fromPng)).code).toBe(0);
      expect((await cli('segment', dcm, '--task', task, ...exemplarFlags(dataTask), '--out', fromDicom)).code).toBe(0);
      expect((await cli('segment', dcm, '--task', task, ...exemplarFlags(dataTask), '--out', seg)).code).toBe(0);
      const a = decodeMask(new Uint8Array(readFileSync(fromPng)));
      const b = decodeMask(new Uint8Array(readFileSync(fromDicom)));
      expect(Array.from(b.data)).toEqual(Array.from(a.data));
      expect(a.data.reduce((s, v) => s + v, 0)).toBeGreaterThan(1000);
      const { errors, report } = dciodvfyErrors(seg);
      expect(errors, report).toEqual([]);
      const back = JSON.parse(pyTool('seg', seg));
      expect(back.shape).toEqual([1, a.height, a.width]);
      expect(Array.from(readFileSync(`${seg}.bin`))).toEqual(Array.from(a.data));
      if (modality !== 'DX') return;
      // everything and eval take the DICOM too, with the PNG's results.
      const records = async (input: string) => {
        const json = join(dir, `${input.split('/').pop()}.json`);
        expect((await cli('everything', input, '--size', '256', '--points-per-side', '8', '--json', json)).code).toBe(0);
        return JSON.parse(readFileSync(json, 'utf8')).records;
      };
      expect(await records(dcm)).toEqual(await records(png));
      const images = join(dir, 'eval-images');
      const masks = join(dir, 'eval-masks');
      mkdirSync(images);
      mkdirSync(masks);
      copyFileSync(dcm, join(images, 'x.dcm'));
      copyFileSync(dataPath(dataTask, 'masks', name), join(masks, 'x.png'));
      const evalJson = join(dir, 'eval.json');
      expect((await cli('eval', '--images', images, '--masks', masks, '--mode', 'gt-box', '--size', '256', '--json', evalJson)).code).toBe(0);
      const evalReport = JSON.parse(readFileSync(evalJson, 'utf8'));
      expect(JSON.stringify(evalReport)).toContain('x.dcm');
      expect(evalReport.mean['gt-box'].dice).toBeGreaterThan(0.8);
    });
  }
});

describe('segment on ch2 as a DICOM MR series', () => {
  it('gives the NIfTI run’s mask, placed at the same world positions', async () => {
    const niftiPath = dataPath('brain_mri', 'volumes', 'ch2.nii.gz');
    const nifti = readNifti(new Uint8Array(gunzipSync(readFileSync(niftiPath))));
    const [nx, ny, nz] = nifti.dims;
    // DICOM voxel (c, r, z') = NIfTI voxel (c, ny-1-r, nz-1-z'): rows run anterior -> posterior.
    const dicomOrder = new Float32Array(nx * ny * nz);
    for (let z = 0; z < nz; z++) for (let r = 0; r < ny; r++) for (let c = 0; c < nx; c++) dicomOrder[c + nx * (r + ny * z)] = nifti.data[c + nx * (ny - 1 - r + ny * (nz - 1 - z))];
    const world = (i: number, j: number, k: number) => [0, 1, 2].map((row) => nifti.affine[row][0] * i + nifti.affine[row][1] * j + nifti.affine[row][2] * k + nifti.affine[row][3]);
    const originRas = world(0, ny - 1, nz - 1);
    const series = join(dir, 'ch2-series');
    mkdirSync(series);
    writeFileSync(join(dir, 'ch2.f32'), dicomOrder);
    const spec = { dims: [nx, ny, nz], data: join(dir, 'ch2.f32'), orientation: [-1, 0, 0, 0, 1, 0], spacing: [nifti.pixdim[1], nifti.pixdim[0], nifti.pixdim[2]], origin: [-originRas[0], -originRas[1], originRas[2]], seriesUid: '1.2.826.0.1.3680043.8.498.1' };
    writeFileSync(join(dir, 'ch2.json'), JSON.stringify(spec));
    pyTool('series', series, join(dir, 'ch2.json'));

    const fromNifti = join(dir, 'ch2-nifti.nii.gz');
    const fromDicom = join(dir, 'ch2-dicom.nii.gz');
    const seg = join(dir, 'ch2-seg.dcm');
    const flags = ['--task', 'brain-mri', ...exemplarFlags('brain_mri')];
    expect((await cli('segment', niftiPath, ...flags, '--slices', '90:91', '--out', fromNifti)).code).toBe(0);
    expect((await cli('segment', series, ...flags, '--slices', `${nz - 91}:${nz - 90}`, '--out', fromDicom)).code).toBe(0);
    const a = readNifti(new Uint8Array(readFileSync(fromNifti)));
    const b = readNifti(new Uint8Array(readFileSync(fromDicom)));
    let voxels = 0;
    for (let z = 0; z < nz; z++) for (let r = 0; r < ny; r++) for (let c = 0; c < nx; c++) {
      const expected = a.data[c + nx * (ny - 1 - r + ny * (nz - 1 - z))];
      if (b.data[c + nx * (r + ny * z)] !== expected) throw new Error(`voxel ${c},${r},${z} differs`);
      voxels += expected;
    }
    expect(voxels).toBeGreaterThan(2000);
    // The same voxel is at the same world position in both files (nibabel's reading of ours).
    const affine = JSON.parse(pyTool('affine', fromDicom)) as number[][];
    for (const [c, r, z] of [[0, 0, 0], [10, 20, 30], [nx - 1, ny - 1, nz - 1]]) {
      const mine = [0, 1, 2].map((row) => affine[row][0] * c + affine[row][1] * r + affine[row][2] * z + affine[row][3]);
      world(c, ny - 1 - r, nz - 1 - z).forEach((v, k) => expect(mine[k]).toBeCloseTo(v, 3));
    }
    expect((await cli('segment', series, ...flags, '--slices', `${nz - 91}:${nz - 90}`, '--out', seg)).code).toBe(0);
    const { errors, report } = dciodvfyErrors(seg);
    expect(errors, report).toEqual([]);
    expect(JSON.parse(pyTool('seg', seg)).shape).toEqual([nz, ny, nx]);
    expect(Array.from(readFileSync(`${seg}.bin`))).toEqual(Array.from(b.data, (v) => (v ? 1 : 0)));
  });
});
