/**
 * Segment a NIfTI volume slice by slice and write the stacked mask with the input's geometry.
 * Usage: npx tsx examples/volume.ts [volume.nii.gz] [out.nii.gz] [start:end]
 * Default: ../shared/data/brain_mri/volumes/ch2.nii.gz, slices 88:92, exemplars from the PNG slices.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  createSalip,
  defaultSamFiles,
  nodeBackend,
  readImageFile,
  readMaskFile,
  readNifti,
  resizeImage,
  resizeMaskNearest,
  segmentVolume,
  volumeDice,
  writeFileAtomic,
  writeNiftiMask,
  type SalipTask,
} from '../src/node.js';

const data = resolve(process.env.SALIP_DATA_DIR ?? resolve('..', 'shared', 'data'), 'brain_mri');
const input = process.argv[2] ?? join(data, 'volumes', 'ch2.nii.gz');
const output = process.argv[3] ?? resolve('out', `brain-${Date.now()}.nii.gz`);
const [start, end] = (process.argv[4] ?? '88:92').split(':').map(Number);

const volume = readNifti(new Uint8Array(readFileSync(input)), { name: input });
const exemplarNames = readdirSync(join(data, 'images')).sort().filter((_, i) => i % 7 === 0).slice(0, 3);
const exemplars = await Promise.all(
  exemplarNames.map(async (n) => ({
    image: resizeImage(await readImageFile(join(data, 'images', n)), 256, 256, 'bilinear'),
    mask: resizeMaskNearest(await readMaskFile(join(data, 'masks', n)), 256, 256),
  })),
);
const task: SalipTask = {
  name: 'brain',
  classes: [{ name: 'brain', topK: 1, exemplars }],
  workingSize: 256,
  maxAreaFraction: 0.76,
  everything: { pointsPerSide: 8, predIouThresh: 0.5, stabilityScoreThresh: 0.3 },
};
const salip = await createSalip({ backend: nodeBackend(), sam: defaultSamFiles() });
try {
  const slices = Array.from({ length: end - start }, (_, i) => start + i);
  const result = await segmentVolume(salip, volume, task, { slices, onProgress: (e) => process.stdout.write(`\rslice ${e.done}/${e.total}`) });
  process.stdout.write('\n');
  await writeFileAtomic(output, writeNiftiMask(volume, result.mask, { gzip: (b) => new Uint8Array(gzipSync(b)) }));
  console.log(`wrote ${output} (${volume.dims.join(' x ')})`);
  const reference = join(data, 'volumes', 'ch2bet.nii.gz');
  if (input.endsWith('ch2.nii.gz') && existsSync(reference)) {
    const bet = readNifti(new Uint8Array(readFileSync(reference)));
    const [nx, ny] = volume.dims;
    const from = start * nx * ny;
    const to = end * nx * ny;
    const gt = Uint8Array.from(bet.data.subarray(from, to), (v) => (v > 0 ? 1 : 0));
    console.log(`Dice on slices ${start}..${end - 1} vs ch2bet: ${volumeDice(result.mask.subarray(from, to), gt).toFixed(3)}`);
  }
} finally {
  await salip.dispose();
}
