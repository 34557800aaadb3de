/**
 * Volume propagation on the real brain volume (ch2.nii.gz) with real MobileSAM and the exemplar
 * scorer (3 brain dev slices, seed 0; they are slices of this same volume): on the lower 70
 * axial slices two runs give the same volume and provenance, the walk ends at the brain's lower
 * end (empty slices marked organ-ended, no model call) within a few slices of ch2bet's, and the
 * Dice against ch2bet over those slices is that of a working segmentation.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultSamFiles } from '../../src/backends/default-models.js';
import { nodeBackend } from '../../src/backends/node.js';
import { readNifti } from '../../src/io/nifti.js';
import { drawExemplars, prepareEvalItem } from '../../src/pipeline/evaluate.js';
import { createSalip, type Salip } from '../../src/pipeline/salip.js';
import { TASK_PRESETS, type SalipTask } from '../../src/pipeline/tasks.js';
import { segmentVolume } from '../../src/pipeline/volume.js';
import { HAS_DATA, dataPath, readPair, taskImageNames } from '../helpers/data.js';
import { decodeImage, decodeMask } from '../../src/io/image-codecs.js';

const SLICES = Array.from({ length: 70 }, (_, z) => z);
let salip: Salip;

beforeAll(async () => {
  if (HAS_DATA) salip = await createSalip({ backend: nodeBackend(), sam: defaultSamFiles() });
});
afterAll(() => salip?.dispose());

function brainTask(): SalipTask {
  const items = taskImageNames('brain_mri').map((name) => {
    const pair = readPair('brain_mri', name);
    return prepareEvalItem({ name, image: decodeImage(pair.image, { name }).image, groundTruth: decodeMask(pair.mask, { name }) }, 256);
  });
  const preset = TASK_PRESETS['brain-mri'];
  return { ...preset, classes: [{ name: 'brain', topK: 1, exemplars: drawExemplars(items, 3, 0).exemplars }] };
}

function zExtent(mask: Uint8Array, dims: readonly number[]): [number, number] {
  const plane = dims[0] * dims[1];
  const zs = SLICES.filter((z) => mask.subarray(z * plane, (z + 1) * plane).some((v) => v > 0));
  return [Math.min(...zs), Math.max(...zs)];
}

describe.runIf(HAS_DATA)('volume propagation on ch2.nii.gz (lower 70 slices)', () => {
  it('is deterministic, ends at the brain and agrees with ch2bet', async () => {
    const volume = readNifti(new Uint8Array(readFileSync(dataPath('brain_mri', 'volumes', 'ch2.nii.gz'))));
    const bet = readNifti(new Uint8Array(readFileSync(dataPath('brain_mri', 'volumes', 'ch2bet.nii.gz'))));
    const truth = Uint8Array.from(bet.data, (v) => (v > 0 ? 1 : 0));
    const task = brainTask();
    const a = await segmentVolume(salip, volume, task, { slices: SLICES, propagate: true });
    const b = await segmentVolume(salip, volume, task, { slices: SLICES, propagate: true });
    expect(Buffer.from(a.mask).equals(Buffer.from(b.mask))).toBe(true);
    expect(a.slices).toEqual(b.slices);
    const carried = a.slices.filter((s) => s.source === 'propagation' && !s.skipped).length;
    const cascaded = a.slices.filter((s) => s.source === 'cascade').length;
    expect(carried).toBeGreaterThan(2 * cascaded);
    // The walk downwards ends: slices below the brain are organ-ended (or blank), not forced.
    const [low] = zExtent(a.mask, volume.dims);
    const [truthLow] = zExtent(truth, volume.dims);
    expect(a.slices.slice(0, low).every((s) => s.skipped)).toBe(true);
    expect(a.slices.slice(0, low).some((s) => s.reason === 'organ-ended' || s.reason === 'blank')).toBe(true);
    expect(Math.abs(low - truthLow), `mask starts at z ${low}, ch2bet at z ${truthLow}`).toBeLessThanOrEqual(6);
    const plane = volume.dims[0] * volume.dims[1];
    let inter = 0;
    let sum = 0;
    for (let i = 0; i < SLICES.length * plane; i++) {
      inter += a.mask[i] & truth[i];
      sum += a.mask[i] + truth[i];
    }
    expect((2 * inter) / sum).toBeGreaterThan(0.75);
  });
});
