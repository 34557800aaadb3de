/**
 * The volume part of npm run bench:speed: the brain volume ch2.nii.gz segmented slice by slice
 * and by propagation (volume-propagation.ts), in the same process: wall time, decoder calls and
 * Dice against ch2bet (> 0). Exemplars: 3 of the brain dev slices (seed 0), which are slices of
 * this same volume, so the Dice figures are optimistic for other volumes; both runs share them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNifti } from '../src/io/nifti.js';
import type { Salip } from '../src/pipeline/salip.js';
import { drawExemplars, prepareEvalItem } from '../src/pipeline/evaluate.js';
import { resolveTask, type SalipTask } from '../src/pipeline/tasks.js';
import { segmentVolume, type PropagationOptions, type VolumeResult } from '../src/pipeline/volume.js';
import { DATA_DIR, devNames, loadDevItem, now, type OrtMeter } from './harness.js';

export function brainTask(mode: 'exact' | 'fast' = 'exact'): SalipTask {
  const preset = resolveTask('brain-mri');
  const all = devNames('brain_mri').map((name) => prepareEvalItem(loadDevItem('brain_mri', name), 256));
  const exemplars = drawExemplars(all, 3, 0).exemplars;
  return { ...preset, classes: [{ name: 'brain', topK: 1, exemplars }], everything: { ...preset.everything, mode } };
}

/** Dice of two 0/1 volumes, optionally only over the given slices along z. */
export function volumeDice(a: Uint8Array, b: Uint8Array, dims: readonly number[], zSlices?: readonly number[]): number {
  const plane = dims[0] * dims[1];
  const zs = zSlices ?? Array.from({ length: dims[2] }, (_, z) => z);
  let inter = 0;
  let sum = 0;
  for (const z of zs) {
    for (let i = z * plane; i < (z + 1) * plane; i++) {
      inter += a[i] & b[i];
      sum += a[i] + b[i];
    }
  }
  return sum === 0 ? 1 : (2 * inter) / sum;
}

export function loadBrainVolume() {
  const volume = readNifti(new Uint8Array(readFileSync(join(DATA_DIR, 'brain_mri', 'volumes', 'ch2.nii.gz'))), { name: 'ch2.nii.gz' });
  const bet = readNifti(new Uint8Array(readFileSync(join(DATA_DIR, 'brain_mri', 'volumes', 'ch2bet.nii.gz'))), { name: 'ch2bet.nii.gz' });
  const truth = Uint8Array.from(bet.data, (v) => (v > 0 ? 1 : 0));
  return { volume, truth };
}

export interface VolumeRunFigures {
  wallMs: number;
  decoderCalls: number;
  encoderCalls: number;
  dice: number;
  sources: Record<string, number>;
  result: VolumeResult;
}

export async function timedVolumeRun(
  salip: Salip,
  meter: OrtMeter,
  task: SalipTask,
  options: { slices?: number[]; propagate?: PropagationOptions | false },
): Promise<VolumeRunFigures> {
  const { volume, truth } = loadBrainVolume();
  meter.start();
  const t0 = now();
  const result = await segmentVolume(salip, volume, task, { slices: options.slices, propagate: options.propagate || false });
  const wallMs = now() - t0;
  const runs = meter.read();
  const sources: Record<string, number> = {};
  for (const s of result.slices) {
    const key = s.skipped ? `skipped:${s.reason}` : `${s.source}${s.rerun ? ':rerun' : ''}`;
    sources[key] = (sources[key] ?? 0) + 1;
  }
  return {
    wallMs,
    decoderCalls: runs.countByLabel?.decoder ?? 0,
    encoderCalls: runs.countByLabel?.encoder ?? 0,
    dice: volumeDice(result.mask, truth, volume.dims, options.slices),
    sources,
    result,
  };
}
