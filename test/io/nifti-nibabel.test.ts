/**
 * nibabel (python3-nibabel, an independent reader) reads the NIfTI masks salip writes with the
 * input volume's affine and our voxels.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readNifti, writeNiftiMask } from '../../src/io/nifti.js';
import { dataPath } from '../helpers/data.js';
import { PYTHON } from './dicom/tools.js';

describe('NIfTI masks read by nibabel', () => {
  it("carry ch2's affine and our voxels", () => {
    const input = dataPath('brain_mri', 'volumes', 'ch2.nii.gz');
    const volume = readNifti(new Uint8Array(readFileSync(input)));
    const mask = new Uint8Array(volume.data.length);
    for (let i = 0; i < mask.length; i++) mask[i] = volume.data[i] > 100 ? 1 : 0;
    const out = join(mkdtempSync(join(tmpdir(), 'salip-nibabel-')), 'mask.nii.gz');
    writeFileSync(out, writeNiftiMask(volume, mask, { gzip: (b) => new Uint8Array(gzipSync(b)) }));
    const code = `import json, sys, nibabel, numpy as np
a, b = nibabel.load(sys.argv[1]), nibabel.load(sys.argv[2])
data = np.asarray(b.dataobj)
print(json.dumps({"same": bool(np.allclose(a.affine, b.affine, atol=1e-4)), "shape": list(data.shape), "sum": int(data.sum()), "first": data.ravel(order="F")[:2000].tolist()}))`;
    const result = JSON.parse(execFileSync(PYTHON, ['-c', code, input, out], { encoding: 'utf8' }));
    expect(result.same).toBe(true);
    expect(result.shape).toEqual([...volume.dims]);
    expect(result.sum).toBe(mask.reduce((s, v) => s + v, 0));
    expect(result.first).toEqual(Array.from(mask.subarray(0, 2000)));
  });
});
