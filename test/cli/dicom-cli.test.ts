/**
 * The CLI with bad DICOM input: typed errors before any model loads, and nothing written.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runQuietCli } from './run-cli.js';
import { listAnyImageFiles, maskNameFor } from '../../src/batch/dicom-input.js';
import { pydicomCorpusDir } from '../io/dicom/tools.js';

let dir: string;

const cli = runQuietCli;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'salip-dicom-cli-'));
});

describe('segment with bad DICOM input', () => {
  it('a truncated file, a wrong preamble, no pixel data: typed errors, no output', async () => {
    const mr = readFileSync(join(pydicomCorpusDir(), 'MR_small.dcm'));
    writeFileSync(join(dir, 'cut.dcm'), mr.subarray(0, mr.length - 700));
    const wrong = Buffer.from(mr);
    wrong.write('XXXX', 128, 'latin1');
    writeFileSync(join(dir, 'wrong.dcm'), wrong);
    copyFileSync(join(pydicomCorpusDir(), 'rtplan.dcm'), join(dir, 'plan.dcm'));
    for (const [file, code] of [['cut.dcm', 'DECODE_FAILED'], ['wrong.dcm', 'DECODE_FAILED'], ['plan.dcm', 'INVALID_IMAGE']]) {
      const out = join(dir, `${file}-seg.dcm`);
      const res = await cli('segment', join(dir, file), '--task', 'brain-mri', '--out', out);
      expect(res.code, res.err).not.toBe(0);
      expect(res.err).toContain(code);
      expect(existsSync(out)).toBe(false);
    }
  });

  it('an empty folder, mixed series, the wrong output kind: typed errors, no output', async () => {
    mkdirSync(join(dir, 'empty'));
    let res = await cli('segment', join(dir, 'empty'), '--task', 'brain-mri', '--out', join(dir, 'e.nii.gz'));
    expect(res.err).toMatch(/INVALID_ARGUMENT: .*zero slices/);
    mkdirSync(join(dir, 'mixed'));
    copyFileSync(join(pydicomCorpusDir(), 'MR_small.dcm'), join(dir, 'mixed', 'a.dcm'));
    copyFileSync(join(pydicomCorpusDir(), 'CT_small.dcm'), join(dir, 'mixed', 'b.dcm'));
    res = await cli('segment', join(dir, 'mixed'), '--task', 'brain-mri', '--out', join(dir, 'm.nii.gz'));
    expect(res.err).toMatch(/series/);
    expect(res.code).not.toBe(0);
    mkdirSync(join(dir, 'one'));
    copyFileSync(join(pydicomCorpusDir(), 'MR_small.dcm'), join(dir, 'one', 'a.dcm'));
    res = await cli('segment', join(dir, 'one'), '--task', 'brain-mri', '--out', join(dir, 'one.png'));
    expect(res.err).toMatch(/INVALID_ARGUMENT: --out .*\.nii or \.nii\.gz or \.dcm/);
    for (const f of ['e.nii.gz', 'm.nii.gz', 'one.png']) expect(existsSync(join(dir, f))).toBe(false);
  });

  it('eval lists DICOM images beside PNGs and finds a.dcm\u2019s mask as a.png', async () => {
    mkdirSync(join(dir, 'images'));
    copyFileSync(join(pydicomCorpusDir(), 'MR_small.dcm'), join(dir, 'images', 'b.dcm'));
    writeFileSync(join(dir, 'images', 'a.png'), new Uint8Array(0));
    writeFileSync(join(dir, 'images', 'notes.txt'), 'x');
    expect((await listAnyImageFiles(join(dir, 'images'))).map((f) => f.split('/').pop())).toEqual(['a.png', 'b.dcm']);
    expect(maskNameFor('b.dcm')).toEqual(['b.dcm', 'b.png']);
    expect(maskNameFor('a.png')).toEqual(['a.png']);
  });
});
