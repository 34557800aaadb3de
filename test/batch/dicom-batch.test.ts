/**
 * DICOM inputs in `salip batch` and the queue: kind detection (extension or DICM magic), the
 * reading path of the cascade processor (single-frame -> mask PNG, multi-frame volume -> NIfTI
 * with the volume's affine) over a stand-in Salip, and a batch over a folder where a truncated
 * DICOM fails alone with its code. Test files: pydicom's corpus and an Enhanced MR that
 * test/io/dicom/dicom-tools.py writes.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandInputs, inputKindOf, outputPathFor } from '../../src/batch/inputs.js';
import { cascadeProcessor } from '../../src/batch/cascade-processor.js';
import type { InputJob } from '../../src/batch/job.js';
import { runBatch } from '../../src/batch/run-batch.js';
import { resolveTaskSource } from '../../src/batch/task-source.js';
import { readDicom, readDicomSeries } from '../../src/dicom.js';
import { decodeMask } from '../../src/io/image-codecs.js';
import { readNifti } from '../../src/io/nifti.js';
import { pyTool, pydicomCorpusDir } from '../io/dicom/tools.js';
import { thresholdSalip } from './fixtures/threshold-salip-processor.js';

const TASK = { task: 'lungs-cxr', exemplars: [], fast: false };
const PROCESSOR = join(import.meta.dirname, 'fixtures', 'threshold-salip-processor.ts');
let dir: string;
let folder: string;

/** An Enhanced MR object (4 frames with per-frame positions) written by pydicom. */
function writeMultiframe(path: string): void {
  const dims = [8, 6, 4];
  const data = new Float32Array(dims[0] * dims[1] * dims[2]).map((_, i) => (i % 37) * 4);
  writeFileSync(`${path}.f32`, data);
  writeFileSync(`${path}.json`, JSON.stringify({ dims, data: `${path}.f32`, orientation: [1, 0, 0, 0, 1, 0], spacing: [0.5, 0.75, 2], origin: [10, -5, 3], seriesUid: '1.2.3.4.9', slope: 1, intercept: 0 }));
  pyTool('multiframe', path, `${path}.json`);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'salip-dicom-batch-'));
  folder = join(dir, 'in');
  mkdirSync(join(folder, 'export'), { recursive: true });
  copyFileSync(join(pydicomCorpusDir(), 'CT_small.dcm'), join(folder, 'ct.dcm'));
  copyFileSync(join(pydicomCorpusDir(), 'MR_small.dcm'), join(folder, 'export', 'IM0001'));
  writeMultiframe(join(dir, 'mf.dcm'));
  copyFileSync(join(dir, 'mf.dcm'), join(folder, 'mf.dcm'));
  const mr = readFileSync(join(pydicomCorpusDir(), 'MR_small.dcm'));
  writeFileSync(join(folder, 'cut.dcm'), mr.subarray(0, mr.length - 700));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function job(input: string, kind: InputJob['kind']): InputJob {
  return { input, kind, output: join(dir, 'unused'), inputHash: 'h', taskHash: 't' };
}

describe('DICOM batch inputs', () => {
  it('inputKindOf knows DICOM by extension and, without one, by the DICM magic at byte 128', () => {
    expect(['a.dcm', 'b.DCM', 'c.dicom'].map((p) => inputKindOf(p))).toEqual(['dicom', 'dicom', 'dicom']);
    const head = new Uint8Array(readFileSync(join(folder, 'export', 'IM0001')).subarray(0, 352));
    expect(inputKindOf('IM0001', head)).toBe('dicom');
    expect(inputKindOf('IM0001')).toBeUndefined();
    const noMagic = new Uint8Array(head);
    noMagic.set([0x58, 0x58, 0x58, 0x58], 128);
    expect(inputKindOf('IM0001', noMagic)).toBeUndefined();
  });

  it('a folder walk picks up .dcm and extension-less DICOM files; a multi-frame volume gets a NIfTI output', async () => {
    const inputs = await expandInputs([folder]);
    expect(inputs.map((i) => [i.relative, i.kind, outputPathFor(i, '/o')])).toEqual([
      ['ct.dcm', 'dicom', '/o/ct.png'],
      ['cut.dcm', 'dicom', '/o/cut.png'],
      ['export/IM0001', 'dicom', '/o/export/IM0001.png'],
      ['mf.dcm', 'dicom-volume', '/o/mf.nii.gz'],
    ]);
  });

  it('the cascade processor reads a single-frame DICOM into a mask PNG and a multi-frame one into NIfTI with its affine', async () => {
    const task = await resolveTaskSource(TASK);
    // The stand-in has no SAM to carry masks with: volumes slice by slice.
    const process = cascadeProcessor(thresholdSalip(task), task, { propagate: false });
    const ct = await readDicom(new Uint8Array(readFileSync(join(folder, 'ct.dcm'))));
    const mask2d = decodeMask((await process(job(join(folder, 'ct.dcm'), 'dicom'))).bytes);
    expect([mask2d.width, mask2d.height]).toEqual([ct.image.width, ct.image.height]);
    expect(new Set(Array.from(mask2d.data))).toEqual(new Set([0, 1]));

    const mfBytes = new Uint8Array(readFileSync(join(folder, 'mf.dcm')));
    const series = await readDicomSeries([{ name: 'mf.dcm', bytes: mfBytes }]);
    const out = await process(job(join(folder, 'mf.dcm'), 'dicom-volume'));
    const mask = readNifti(new Uint8Array(gunzipSync(out.bytes)));
    expect(mask.dims).toEqual([8, 6, 4]);
    mask.affine.forEach((row, r) => row.forEach((v, c) => expect(v).toBeCloseTo(series.affine[r][c], 4)));
    expect(out.stats?.area).toBeGreaterThan(0);

    await expect(process(job(join(folder, 'cut.dcm'), 'dicom'))).rejects.toMatchObject({ code: 'DECODE_FAILED' });
    await expect(process(job(join(folder, 'ct.dcm'), 'dicom-volume'))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('a batch over a folder writes each DICOM input its mask; a truncated one fails alone with DECODE_FAILED', async () => {
    const outDir = join(dir, 'out');
    const summary = await runBatch({ inputs: [folder], outDir, taskSource: TASK, models: {}, workers: 1, processorModule: PROCESSOR });
    expect(summary.counts).toEqual({ total: 4, done: 3, skipped: 0, failed: 1 });
    const failed = summary.inputs.filter((i) => i.status === 'failed').map((i) => [i.input.split('/').pop(), i.code]);
    expect(failed).toEqual([['cut.dcm', 'DECODE_FAILED']]);
    for (const out of ['ct.png', 'export/IM0001.png', 'mf.nii.gz']) expect(existsSync(join(outDir, out)), out).toBe(true);
    expect(existsSync(join(outDir, 'cut.png'))).toBe(false);
    expect(decodeMask(new Uint8Array(readFileSync(join(outDir, 'export', 'IM0001.png')))).width).toBe(64);
  });
});
