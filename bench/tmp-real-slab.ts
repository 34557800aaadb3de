// Temporary (not committed): provenance of the real test's top slab with the default options and variants.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultSamFiles } from '../src/backends/default-models.js';
import { nodeBackend } from '../src/backends/node.js';
import { decodeImage, decodeMask } from '../src/io/image-codecs.js';
import { readNifti } from '../src/io/nifti.js';
import { createSalip } from '../src/pipeline/salip.js';
import { TASK_PRESETS } from '../src/pipeline/tasks.js';
import { segmentVolume, type VolumeInput } from '../src/pipeline/volume.js';
import { DATA_DIR, now } from './harness.js';

const vol = (n: string) => readNifti(new Uint8Array(readFileSync(join(DATA_DIR, 'brain_mri', 'volumes', n))), { name: n });
function topSlab(volume: VolumeInput): VolumeInput {
  const [nx, ny, nz] = volume.dims;
  const z: number[] = [];
  for (let k = 124; k < nz; k += 2) z.push(k);
  const plane = nx * ny;
  const data = new Float32Array(plane * z.length);
  z.forEach((k, i) => data.set(volume.data.subarray(k * plane, (k + 1) * plane), i * plane));
  return { dims: [nx, ny, z.length], data };
}
const preset = TASK_PRESETS['brain-mri'];
const exemplars = ['colin27_axial_z081.png', 'colin27_axial_z111.png', 'colin27_axial_z131.png'].map((name) => ({
  image: decodeImage(new Uint8Array(readFileSync(join(DATA_DIR, 'brain_mri', 'images', name))), { name }).image,
  mask: decodeMask(new Uint8Array(readFileSync(join(DATA_DIR, 'brain_mri', 'masks', name))), { name }),
}));
const task = { ...preset, classes: [{ name: 'brain', topK: 1, exemplars }] };
const salip = await createSalip({ backend: nodeBackend(), sam: defaultSamFiles() });
const slab = topSlab(vol('ch2.nii.gz'));
await segmentVolume(salip, slab, task, { slices: [14], propagate: false });
for (const o of [{}, { maxAnchorGrowth: Infinity }, { maxAnchorGrowth: 2 }]) {
  const t = now();
  const r = await segmentVolume(salip, slab, task, { propagate: o });
  console.log(JSON.stringify({ o, ms: now() - t, cascades: r.slices.filter((s) => s.source === 'cascade').length }));
  for (const s of r.slices) console.log(JSON.stringify(s));
}
await salip.dispose();
