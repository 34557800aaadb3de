/**
 * Volume propagation with its defaults on the whole of ch2.nii.gz (real MobileSAM), as
 * bench/volume-probe.ts runs it: 3 brain dev slices as exemplars (seed 0, as the bench draws
 * them), exact mode. Checked: the walk ends at the brain's ends, so the slices of the head
 * without brain (0-3 below, 161 and up above; ch2bet's brain spans 4-155) get no mask, without
 * a model call beyond the first slice past the end; and the volume's Dice against ch2bet stays
 * near what docs/performance.md reports (0.825 when this was written). 280 s on the 2-core
 * machine with another job beside it.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultSamFiles } from '../../src/backends/default-models.js';
import { nodeBackend } from '../../src/backends/node.js';
import { decodeImage, decodeMask } from '../../src/io/image-codecs.js';
import { readNifti } from '../../src/io/nifti.js';
import { drawExemplars, prepareEvalItem } from '../../src/pipeline/evaluate.js';
import { createSalip, type Salip } from '../../src/pipeline/salip.js';
import { TASK_PRESETS, type SalipTask } from '../../src/pipeline/tasks.js';
import { segmentVolume, type VolumeResult } from '../../src/pipeline/volume.js';
import { dataPath, readPair, taskImageNames } from '../helpers/data.js';

function brainTask(): SalipTask {
  const preset = TASK_PRESETS['brain-mri'];
  const items = taskImageNames('brain_mri').map((name) => {
    const pair = readPair('brain_mri', name);
    return prepareEvalItem({ name, image: decodeImage(pair.image, { name }).image, groundTruth: decodeMask(pair.mask, { name }) }, 256);
  });
  const exemplars = drawExemplars(items, 3, 0).exemplars;
  return { ...preset, classes: [{ name: 'brain', topK: 1, exemplars }], everything: { ...preset.everything, mode: 'exact' } };
}

const volumeOf = (name: string) => readNifti(new Uint8Array(readFileSync(dataPath('brain_mri', 'volumes', name))), { name });

describe('segmentVolume with propagation on the whole of ch2', () => {
  let salip: Salip;
  let result: VolumeResult;
  let truth: Uint8Array;
  let plane: number;

  beforeAll(async () => {
    salip = await createSalip({ backend: nodeBackend(), sam: defaultSamFiles() });
    const volume = volumeOf('ch2.nii.gz');
    truth = Uint8Array.from(volumeOf('ch2bet.nii.gz').data, (v) => (v > 0 ? 1 : 0));
    plane = volume.dims[0] * volume.dims[1];
    result = await segmentVolume(salip, volume, brainTask(), { propagate: true });
  }, 900_000);
  afterAll(() => salip?.dispose());

  const areaOf = (z: number) => result.mask.subarray(z * plane, (z + 1) * plane).reduce((a, b) => a + b, 0);

  it('leaves the slices without brain empty at both ends', () => {
    for (const z of [0, 1, 2, 3]) expect(areaOf(z), `z = ${z}`).toBe(0);
    for (let z = 161; z < 181; z++) expect(areaOf(z), `z = ${z}`).toBe(0);
    // Past the end the walk costs nothing: the records say so.
    expect(result.slices[170]).toEqual({ index: 170, skipped: true, reason: 'organ-ended' });
  });

  it('segments the brain as well as the measured run did', () => {
    let inter = 0;
    let sum = 0;
    for (let i = 0; i < truth.length; i++) {
      inter += result.mask[i] & truth[i];
      sum += result.mask[i] + truth[i];
    }
    expect((2 * inter) / sum).toBeGreaterThan(0.8);
  });
});
